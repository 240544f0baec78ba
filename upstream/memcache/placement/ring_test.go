package placement

import (
	"strconv"
	"testing"

	"github.com/serialx/hashring"
)

// TestRingMatchesHashring pins the flattened table to serialx/hashring's own
// placement, for equal and unequal weights.
func TestRingMatchesHashring(t *testing.T) {
	cases := []struct {
		name    string
		servers []Server
	}{
		{"two", []Server{{Addr: "10.0.0.1:11211"}, {Addr: "10.0.0.2:11211"}}},
		{"three-weighted", []Server{{Addr: "a:1", Weight: 1}, {Addr: "b:1", Weight: 3}, {Addr: "c:1", Weight: 2}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			weights := map[string]int{}
			for i, s := range tc.servers {
				w := max(s.Weight, 1)
				weights[s.Addr+"#"+strconv.Itoa(i)] = w * pointsPerWeight
			}
			lib := hashring.NewWithWeights(weights)
			pick := newRingPicker(tc.servers)
			for i := range 20000 {
				key := "k" + strconv.Itoa(i)
				node, _ := lib.GetNode(key)
				i := pick([]byte(key))
				if got := tc.servers[i].Addr + "#" + strconv.Itoa(i); got != node {
					t.Fatalf("key %q: table says %s, hashring says %s", key, got, node)
				}
			}
		})
	}
}

func TestRingSpread(t *testing.T) {
	servers := []Server{{Addr: "a:1"}, {Addr: "b:1"}, {Addr: "c:1", Weight: 2}}
	pick := newRingPicker(servers)
	var n [3]int
	const total = 40000
	for i := range total {
		n[pick([]byte("key:"+strconv.Itoa(i)))]++
	}
	// Expect 1/4, 1/4, 1/2 within 20%.
	want := [3]float64{0.25, 0.25, 0.5}
	for i := range n {
		got := float64(n[i]) / total
		if got < want[i]*0.8 || got > want[i]*1.2 {
			t.Errorf("server %d owns %.3f of keys, want about %.2f (%v)", i, got, want[i], n)
		}
	}
}

func TestRingPickAllocs(t *testing.T) {
	pick := newRingPicker([]Server{{Addr: "a:1"}, {Addr: "b:1"}})
	key := []byte("user:12345678")
	if n := testing.AllocsPerRun(100, func() { pick(key) }); n != 0 {
		t.Errorf("pick allocates %v times per key, want 0", n)
	}
}

func BenchmarkRingPick(b *testing.B) {
	pick := newRingPicker([]Server{{Addr: "a:1"}, {Addr: "b:1"}, {Addr: "c:1"}})
	key := []byte("user:12345678")
	b.ReportAllocs()
	for b.Loop() {
		pick(key)
	}
}
