package ring

import (
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/serialx/hashring"
)

func nodes(names ...string) []Node {
	ns := make([]Node, len(names))
	for i, n := range names {
		ns[i] = Node{Name: n}
	}
	return ns
}

func peerNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("127.0.0.%d:11212", i+2)
	}
	return names
}

func mustNew(t testing.TB, ns []Node) *Ring {
	t.Helper()
	r, err := New(ns)
	if err != nil {
		t.Fatal(err)
	}
	if r.viaLib {
		t.Fatal("the flattened table disagrees with hashring.GetNodes")
	}
	return r
}

// The flattened table answers what hashring.GetNodes answers, weights
// included.
func TestOwnersMatchHashring(t *testing.T) {
	ns := []Node{{Name: "a:1", Weight: 1}, {Name: "b:1", Weight: 3}, {Name: "c:1"}, {Name: "d:1", Weight: 2}}
	r := mustNew(t, ns)
	w := map[string]int{}
	for _, n := range ns {
		w[n.Name] = max(n.Weight, 1) * PointsPerWeight
	}
	lib := hashring.NewWithWeights(w)
	var dst []string
	for i := range 5000 {
		k := "k" + strconv.Itoa(i)
		for n := 1; n <= 4; n++ {
			want, _ := lib.GetNodes(k, n)
			if dst = r.Owners([]byte(k), n, dst); !slices.Equal(dst, want) {
				t.Fatalf("Owners(%q, %d) = %v, hashring says %v", k, n, dst, want)
			}
		}
	}
}

func TestOwnersDistinct(t *testing.T) {
	for _, tc := range []struct {
		name  string
		nodes int
		n     int
		want  int
	}{
		{name: "replicas 2 of 3", nodes: 3, n: 2, want: 2},
		{name: "replicas 2 of 2", nodes: 2, n: 2, want: 2},
		{name: "replicas 3 of 10", nodes: 10, n: 3, want: 3},
		{name: "replicas 2 of 1", nodes: 1, n: 2, want: 1},
		{name: "replicas 2 of 0", nodes: 0, n: 2, want: 0},
		{name: "n 0", nodes: 3, n: 0, want: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustNew(t, nodes(peerNames(tc.nodes)...))
			var dst []string
			for i := range 10000 {
				dst = r.Owners([]byte("key:"+strconv.Itoa(i)), tc.n, dst)
				if len(dst) != tc.want {
					t.Fatalf("%d owners, want %d", len(dst), tc.want)
				}
				s := slices.Clone(dst)
				slices.Sort(s)
				if len(slices.Compact(s)) != len(dst) {
					t.Fatalf("owners %v are not distinct", dst)
				}
			}
		})
	}
}

// The ring depends on the set of nodes, not their order.
func TestOrderFree(t *testing.T) {
	a := mustNew(t, nodes("x:1", "y:1", "z:1"))
	b := mustNew(t, nodes("z:1", "x:1", "y:1"))
	var da, db []string
	for i := range 1000 {
		k := []byte(strconv.Itoa(i))
		if da, db = a.Owners(k, 2, da), b.Owners(k, 2, db); !slices.Equal(da, db) {
			t.Fatalf("key %s: %v vs %v", k, da, db)
		}
	}
}

func TestNewRefuses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		nodes []Node
	}{
		{name: "empty name", nodes: []Node{{Name: ""}}},
		{name: "duplicate", nodes: nodes("a:1", "a:1")},
		{name: "negative weight", nodes: []Node{{Name: "a:1", Weight: -1}}},
		{name: "weight too high", nodes: []Node{{Name: "a:1", Weight: MaxWeight + 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.nodes); err == nil {
				t.Error("accepted")
			}
		})
	}
}

const moveKeys = 100_000

// moved returns the fraction of moveKeys keys whose owner list (n owners)
// differs between a and b.
func moved(a, b *Ring, n int) float64 {
	var da, db []string
	diff := 0
	for i := range moveKeys {
		k := []byte("key:" + strconv.Itoa(i))
		da, db = a.Owners(k, n, da), b.Owners(k, n, db)
		if !slices.Equal(da, db) {
			diff++
		}
	}
	return float64(diff) / moveKeys
}

// A join moves about 1/(N+1) of the primaries to the newcomer and a leave
// about 1/N (the leaver's share); with replicas R about R times that of the
// owner lists change. The figures are logged for the note.
func TestJoinLeaveMovesOneNth(t *testing.T) {
	for _, size := range []int{3, 10} {
		names := peerNames(size + 1)
		small := mustNew(t, nodes(names[:size]...))
		big := mustNew(t, nodes(names...))
		for _, tc := range []struct {
			name     string
			from, to *Ring
			ideal    float64 // fraction of primaries that must move
		}{
			{name: fmt.Sprintf("join %d->%d", size, size+1), from: small, to: big, ideal: 1 / float64(size+1)},
			{name: fmt.Sprintf("leave %d->%d", size+1, size), from: big, to: small, ideal: 1 / float64(size+1)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				primary := moved(tc.from, tc.to, 1)
				lists := moved(tc.from, tc.to, 2)
				t.Logf("%d keys: primaries moved %.4f (ideal %.4f), replicas=2 owner lists changed %.4f (ideal %.4f)",
					moveKeys, primary, tc.ideal, lists, 2*tc.ideal)
				if primary < 0.7*tc.ideal || primary > 1.3*tc.ideal {
					t.Errorf("primaries moved %.4f, want close to %.4f", primary, tc.ideal)
				}
				if lists > 2*1.3*tc.ideal {
					t.Errorf("owner lists changed %.4f, want close to %.4f", lists, 2*tc.ideal)
				}
			})
		}
	}
}

// Weights scale a node's share of the keys.
func TestWeightShare(t *testing.T) {
	r := mustNew(t, []Node{{Name: "a:1", Weight: 1}, {Name: "b:1", Weight: 3}})
	var dst []string
	b := 0
	for i := range moveKeys {
		if dst = r.Owners([]byte("key:"+strconv.Itoa(i)), 1, dst); dst[0] == "b:1" {
			b++
		}
	}
	share := float64(b) / moveKeys
	if share < 0.65 || share > 0.85 {
		t.Errorf("weight 3 of 4 holds %.3f of the keys, want about 0.75", share)
	}
}

func TestOwnersAllocs(t *testing.T) {
	r := mustNew(t, nodes(peerNames(5)...))
	var tab Table
	if _, err := tab.Set(nodes(peerNames(5)...)); err != nil {
		t.Fatal(err)
	}
	dst := make([]string, 0, 3)
	key := []byte("user:12345")
	if a := testing.AllocsPerRun(1000, func() { dst = r.Owners(key, 3, dst) }); a != 0 {
		t.Errorf("Ring.Owners: %v allocs/op", a)
	}
	if a := testing.AllocsPerRun(1000, func() { dst = tab.Owners(key, 3, dst) }); a != 0 {
		t.Errorf("Table.Owners: %v allocs/op", a)
	}
}

func TestTableVersions(t *testing.T) {
	var tab Table
	if r := tab.Load(); r.Len() != 0 || r.Version() != 0 || len(tab.Owners([]byte("k"), 2, nil)) != 0 {
		t.Fatalf("zero table: %d nodes, version %d", r.Len(), r.Version())
	}
	r1, err := tab.Set(nodes("a:1", "b:1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tab.Set(nodes("a:1", "a:1")); err == nil {
		t.Fatal("duplicate accepted")
	}
	if tab.Load() != r1 || r1.Version() != 1 {
		t.Fatalf("a refused Set replaced the ring (version %d)", tab.Load().Version())
	}
	r2, _ := tab.Set(nodes("a:1", "b:1", "c:1"))
	if r2.Version() != 2 || tab.Load() != r2 {
		t.Fatalf("version %d", r2.Version())
	}
	// A lookup that loaded r1 still answers from r1's nodes.
	if got := r1.Owners([]byte("k"), 3, nil); len(got) != 2 {
		t.Errorf("old ring answered %v", got)
	}
}

// Lookups race with Sets (run with -race): every lookup sees one whole ring.
func TestTableConcurrent(t *testing.T) {
	var tab Table
	sets := [][]Node{nodes(peerNames(3)...), nodes(peerNames(4)...)}
	if _, err := tab.Set(sets[0]); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			dst := make([]string, 0, 2)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r := tab.Load()
				dst = r.Owners([]byte(strconv.Itoa(i)), 2, dst)
				if len(dst) != 2 || (r.Len() == 3 && slices.Contains(dst, peerNames(4)[3])) {
					t.Errorf("ring of %d nodes answered %v", r.Len(), dst)
					return
				}
			}
		})
	}
	for i := range 200 {
		if _, err := tab.Set(sets[i%2]); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
}

func BenchmarkOwners(b *testing.B) {
	for _, size := range []int{3, 10} {
		names := peerNames(size)
		r, _ := New(nodes(names...))
		w := map[string]int{}
		for _, n := range names {
			w[n] = PointsPerWeight
		}
		lib := hashring.NewWithWeights(w)
		key := []byte("user:12345")
		b.Run(fmt.Sprintf("ring/%d-nodes/replicas-2", size), func(b *testing.B) {
			b.ReportAllocs()
			dst := make([]string, 0, 2)
			for b.Loop() {
				dst = r.Owners(key, 2, dst)
			}
		})
		b.Run(fmt.Sprintf("hashring.GetNodes/%d-nodes/replicas-2", size), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = lib.GetNodes(string(key), 2)
			}
		})
	}
}
