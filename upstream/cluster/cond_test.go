package cluster

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/fae-sidecar/fae/peers/ring"
)

// storeReq is the text of storage command cmd ("set 5 0", "cas 5 0 ...")
// of value v under key.
func storeReq(cmd, key, args, v string) string {
	return fmt.Sprintf("%s %s %s %d\r\n%s\r\n", cmd, key, args, len(v), v)
}

func hitOf(key string, flags int, v string) string {
	return fmt.Sprintf("VALUE %s %d %d\r\n%s\r\nEND\r\n", key, flags, len(v), v)
}

// keyOwned returns a key named prefix<i> whose owners (replicas 2) pass ok.
func keyOwned(tc *testCluster, prefix string, ok func(owners []string) bool) string {
	for i := 0; ; i++ {
		k := fmt.Sprintf("%s%d", prefix, i)
		if ok(tc.ring.Owners([]byte(k), 2, nil)) {
			return k
		}
	}
}

// ownersHold fails unless every owner of key holds want (a get's reply).
func ownersHold(t *testing.T, tc *testCluster, key, want string) {
	t.Helper()
	tc.wg.Wait()
	for _, o := range tc.ring.Owners([]byte(key), 2, nil) {
		if got := do(t, tc.stores[o], "get "+key+"\r\n"); got != want {
			t.Fatalf("%s at owner %s: %q, want %q", key, o, got, want)
		}
	}
}

// TestCasReachesReplicas: a cas whose unique came from gets (the primary's)
// is stored at every owner, so with the primary down its replica answers
// the cas'ed value; a cas with a stale unique changes no owner.
func TestCasReachesReplicas(t *testing.T) {
	tc := newTestCluster(t, 2)
	// The stores' cas counters apart, so a unique is the primary's only.
	for i := range 7 {
		do(t, tc.stores["b"], setReq(fmt.Sprintf("bump%d", i)))
	}
	for i := range 13 {
		do(t, tc.stores["c"], setReq(fmt.Sprintf("bump%d", i)))
	}
	for _, tt := range []struct {
		name, prefix string
		primary      func(string) bool
	}{
		{"primary a peer", "casp", func(o string) bool { return o != "a" }},
		{"primary this sidecar", "cass", func(o string) bool { return o == "a" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			k := keyOwned(tc, tt.prefix, func(o []string) bool { return tt.primary(o[0]) })
			do(t, tc.p, setReq(k))
			tc.wg.Wait()
			got := do(t, tc.p, "gets "+k+"\r\n")
			line, _, _ := strings.Cut(got, "\r\n")
			f := strings.Fields(line)
			if len(f) != 5 {
				t.Fatalf("gets %s: %q", k, got)
			}
			unique := f[4]
			v := "val:" + k + ":cas"
			if got := do(t, tc.p, fmt.Sprintf("cas %s 5 0 %d %s\r\n%s\r\n", k, len(v), unique, v)); got != "STORED\r\n" {
				t.Fatalf("cas %s %s: %q", k, unique, got)
			}
			ownersHold(t, tc, k, hitOf(k, 5, v))
			stale := "val:" + k + ":stale"
			if got := do(t, tc.p, fmt.Sprintf("cas %s 5 0 %d %s\r\n%s\r\n", k, len(stale), unique, stale)); got != "EXISTS\r\n" {
				t.Fatalf("cas %s with a stale unique: %q", k, got)
			}
			ownersHold(t, tc, k, hitOf(k, 5, v))
			if primary := tc.ring.Owners([]byte(k), 2, nil)[0]; primary != "a" {
				tc.links[primary].down = true
				defer func() { tc.links[primary].down = false }()
				if got := do(t, tc.p, "get "+k+"\r\n"); got != hitOf(k, 5, v) {
					t.Fatalf("get %s with its primary %s down: %q", k, primary, got)
				}
			}
		})
	}
}

// TestAddReplaceDecidedByPrimary: with the key at its primary only (the
// replica restarted empty), add answers NOT_STORED and the replica stays
// empty; replace is stored at both; add of a new key at both.
func TestAddReplaceDecidedByPrimary(t *testing.T) {
	tc := newTestCluster(t, 2)
	for i := range 20 {
		k := fmt.Sprintf("ar%d", i)
		owners := tc.ring.Owners([]byte(k), 2, nil)
		do(t, tc.stores[owners[0]], setReq(k))
		added := "val:" + k + ":added"
		if got := do(t, tc.p, storeReq("add", k, "5 0", added)); got != "NOT_STORED\r\n" {
			t.Fatalf("add %s (owners %v): %q", k, owners, got)
		}
		tc.wg.Wait()
		if got := do(t, tc.stores[owners[1]], "get "+k+"\r\n"); got != "END\r\n" {
			t.Fatalf("add %s refused by the primary, stored at %s: %q", k, owners[1], got)
		}
		replaced := "val:" + k + ":replaced"
		if got := do(t, tc.p, storeReq("replace", k, "6 0", replaced)); got != "STORED\r\n" {
			t.Fatalf("replace %s: %q", k, got)
		}
		ownersHold(t, tc, k, hitOf(k, 6, replaced))
		nk := "new" + k
		if got := do(t, tc.p, storeReq("add", nk, "7 0", "val:"+nk)); got != "STORED\r\n" {
			t.Fatalf("add %s: %q", nk, got)
		}
		ownersHold(t, tc, nk, hitOf(nk, 7, "val:"+nk))
	}
}

// TestRelativeSameAtEveryOwner: incr, decr, append, prepend and ma leave
// every owner with the number or value the primary made, flags and ttl
// included, whatever a replica held before (an older value, nothing).
func TestRelativeSameAtEveryOwner(t *testing.T) {
	tc := newTestCluster(t, 2)
	for i := range 20 {
		k := fmt.Sprintf("n%d", i)
		owners := tc.ring.Owners([]byte(k), 2, nil)
		do(t, tc.p, storeReq("set", k, "9 1000", "10"))
		tc.wg.Wait()
		if i%2 == 0 {
			do(t, tc.stores[owners[1]], storeReq("set", k, "9 0", "3")) // an older value
		} else {
			do(t, tc.stores[owners[1]], "delete "+k+"\r\n") // restarted empty
		}
		for _, step := range []struct{ req, reply, value string }{
			{"incr " + k + " 5\r\n", "15\r\n", "15"},
			{"decr " + k + " 2\r\n", "13\r\n", "13"},
			{"ma " + k + " D4 v\r\n", "VA 2\r\n17\r\n", "17"},
			{storeReq("append", k, "0 0", "x"), "STORED\r\n", "17x"},
			{storeReq("prepend", k, "0 0", "y"), "STORED\r\n", "y17x"},
			{"ms " + k + " 1 MA\r\nz\r\n", "HD\r\n", "y17xz"},
		} {
			if got := do(t, tc.p, step.req); got != step.reply {
				t.Fatalf("%q (owners %v): %q, want %q", step.req, owners, got, step.reply)
			}
			ownersHold(t, tc, k, hitOf(k, 9, step.value))
		}
		for _, o := range owners {
			if got := do(t, tc.stores[o], "mg "+k+" t\r\n"); got == "HD t-1\r\n" || !strings.HasPrefix(got, "HD t") {
				t.Fatalf("%s at owner %s: %q, want its ttl", k, o, got)
			}
		}
		if got := do(t, tc.p, "incr missing"+k+" 1\r\n"); got != "NOT_FOUND\r\n" {
			t.Fatalf("incr of a missing key: %q", got)
		}
	}
}

// TestMetaCas: ms with C and md with C, in base64 too, are decided by the
// primary (its cas) and reach the replica; a stale C changes nothing.
func TestMetaCas(t *testing.T) {
	tc := newTestCluster(t, 2)
	do(t, tc.stores["b"], setReq("bump"))
	for i := range 10 {
		k := fmt.Sprintf("mc%d", i)
		key, b := k, ""
		if i%2 == 1 {
			key, b = base64.StdEncoding.EncodeToString([]byte(k)), " b"
		}
		owners := tc.ring.Owners([]byte(k), 2, nil)
		do(t, tc.p, setReq(k))
		tc.wg.Wait()
		got := do(t, tc.stores[owners[0]], "mg "+k+" c\r\n")
		unique, ok := strings.CutPrefix(strings.TrimSuffix(got, "\r\n"), "HD c")
		if _, err := strconv.ParseUint(unique, 10, 64); !ok || err != nil {
			t.Fatalf("mg %s c: %q", k, got)
		}
		v := "val:" + k + ":ms"
		if got := do(t, tc.p, fmt.Sprintf("ms %s %d%s C%s F4 T1000\r\n%s\r\n", key, len(v), b, unique, v)); got != "HD\r\n" {
			t.Fatalf("ms %s C%s: %q", key, unique, got)
		}
		ownersHold(t, tc, k, hitOf(k, 4, v))
		if got := do(t, tc.p, fmt.Sprintf("ms %s 1%s C%s q\r\nx\r\n", key, b, unique)); got != "EX\r\n" {
			t.Fatalf("ms %s with a stale C: %q", key, got)
		}
		ownersHold(t, tc, k, hitOf(k, 4, v))
		if got := do(t, tc.p, fmt.Sprintf("md %s%s C%s\r\n", key, b, unique)); got != "EX\r\n" {
			t.Fatalf("md %s with a stale C: %q", key, got)
		}
		ownersHold(t, tc, k, hitOf(k, 4, v))
		got = do(t, tc.stores[owners[0]], "mg "+k+" c\r\n")
		unique = strings.TrimSuffix(strings.TrimPrefix(got, "HD c"), "\r\n")
		if got := do(t, tc.p, fmt.Sprintf("md %s%s C%s q\r\n", key, b, unique)); got != "" {
			t.Fatalf("md %s C%s q: %q", key, unique, got)
		}
		ownersHold(t, tc, k, "END\r\n")
	}
}

// TestCondPrimaryDown: with the primary failing while still on the ring, a
// conditional write answers its failure and reaches no owner; with it off
// the ring, the next owner decides conditional and relative writes, and
// noreply is applied to its answer.
func TestCondPrimaryDown(t *testing.T) {
	tc := newTestCluster(t, 2)
	k := keyOwned(tc, "pd", func(o []string) bool { return o[0] != "a" })
	primary := tc.ring.Owners([]byte(k), 2, nil)[0]
	tc.links[primary].down = true
	// On the ring, the primary decides: its failure is the answer, and no
	// other owner takes the write.
	if got := do(t, tc.p, storeReq("add", k, "5 0", "1")); !strings.HasPrefix(got, "SERVER_ERROR ") {
		t.Fatalf("add with the primary %s down, on the ring: %q", primary, got)
	}
	tc.wg.Wait()
	for n, s := range tc.stores {
		if got := do(t, s, "get "+k+"\r\n"); got != "END\r\n" {
			t.Fatalf("%s at %s after a refused add: %q", k, n, got)
		}
	}
	// Off the ring, the next owner decides.
	var nodes []ring.Node
	for _, n := range []string{"a", "b", "c"} {
		if n != primary {
			nodes = append(nodes, ring.Node{Name: n})
		}
	}
	if _, err := tc.ring.Set(nodes); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct{ req, reply string }{
		{storeReq("add", k, "5 0", "1"), "STORED\r\n"},
		{storeReq("add", k, "5 0", "2"), "NOT_STORED\r\n"},
		{"incr " + k + " 4\r\n", "5\r\n"},
		{"incr " + k + " 4 noreply\r\n", ""},
		{"get " + k + "\r\n", hitOf(k, 5, "9")},
	} {
		if got := do(t, tc.p, step.req); got != step.reply {
			t.Fatalf("%q: %q, want %q", step.req, got, step.reply)
		}
	}
	tc.wg.Wait()
}
