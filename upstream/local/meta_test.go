package local

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/fae-sidecar/fae/proto/memcache"
)

// metaScript is a sequence of meta requests whose replies from memcached
// 1.6.18 and from the store must be byte-identical (up to a second of TTL
// drift). "|" stands for "\r\n" inside a request (ms data blocks).
var metaScript = []string{
	// mg misses, quiet mode, opaque and key.
	"mg foo v", "mg foo", "mg foo q", "mg foo k O123 q", "mg foo k v Oab",
	// ms and the return flags.
	"ms foo 3|bar", "ms foo 3 q|bar", "mg foo", "mg foo q", "mg foo v f t c k s O99", "mg foo v q",
	"ms foo 3 T100 F5 c|abc", "mg foo t f v", "mg foo c", "mg foo s v t k c f",
	// md.
	"md foo q", "md foo q", "md foo", "mg foo k v",
	// ms modes.
	"ms foo 3 ME|abc", "ms foo 3 ME|abc", "ms foo 3 ME q|abc", "ms foo 3 MA|def", "ms foo 3 MP|zzz",
	"mg foo v", "ms nokey 3 MR|abc", "ms nokey 3 MA|abc", "ms nokey 3 MP q|abc", "ms foo 3 MS q|abc",
	"ms foo 1 MR k c O1|r", "mg foo v",
	"ms x 2 c k Oab|hi", "ms x 2 ME c k Oab|hi",
	// CAS.
	"mg foo c", "ms foo 3 C1|abc", "ms foo 3 C1 q|abc", "ms foo 3 C17 c|abc", "ms nope 3 C5|abc",
	"ms foo 1 MA C1|x", "ms foo 1 MA C0|x", "mg foo c v", "ms foo 1 MP C20 c|y", "ms foo 1 MP C21 c|y", "mg foo v c",
	"md foo C1", "md foo C1 q", "md foo C24 k O5", "md zz q k O5",
	// ma.
	"ma cnt", "ma cnt q", "ma cnt N0 J10", "ma cnt v", "ma cnt MD D3 v t c", "ma cnt M- D100 v", "ma cnt MI D7 v",
	"ma cnt M+ v k O7 c", "ma cnt q", "ma cnt q v", "mg cnt v", "ma cnt C1", "ma cnt C1 q", "ma nope q N0",
	"ma cq N0 J5 q v", "ma cq q v", "mg cq v", "ma big N0 J18446744073709551615 v", "ma big v",
	"ms foo 3|abc", "ma foo", "ma foo q", "ms e 0|", "ma e", "ma e C9",
	"ms n 2 F7 T50|10", "ma n v t c f N0 k", "ms dd 2|10", "ma dd MD v", "mg dd v",
	// Vivify, invalidation, win tokens.
	"mg miss N30 v c t", "mg miss N30 v c t", "mg miss v c t", "ms miss 2 C7|hi", "ms miss 2 C7 I|hi", "mg miss v c",
	"ms k1 2|aa", "md k1 I T30", "mg k1 v c t", "mg k1 v c t", "ms k1 2 C11|bb", "ms k1 2 I C11|bb", "mg k1 v c",
	"ms k1 2 C99 c|cc", "mg k1 v c", "ms k2 2 T100|aa", "mg k2 R30 c", "mg k2 R200 c", "mg k2 R200 c",
	"md k2 I q", "mg k2 c", "mg k2 c", "md k2", "mg vq N0 q", "mg vq q", "mg vq N0 q v s",
	"ms n 2 F7 T50|10", "md n I", "ma n v c", "mg n c v", "ms n 2 I|11", "mg n c v",
	// h, l, u, and flags that are accepted and ignored.
	"ms y 2 T100|hi", "mg y t s f l h", "mg y t s f l h", "mg y u h", "mg y", "mg y h", "mg y P L",
	"ms z 2|hi", "mg z u h", "mg z h", "mg z T0 t", "mg z T60 t v",
	// base64 keys.
	"mg Zm8 b k", "mg Zm8= b k", "ms Zm8= 1 b k|a", "mg Zm8= b k v", "mg fo v k", "md Zm8= b k q", "mg Zm8= b k v",
	"ma Zm9v b N0 J3 k v", "mg foo k v", "mg !!! b v", "ms k1 5 b|hello",
	// Errors.
	"mg", "mg foo zz", "mg foo v v", "mg foo Tabc", "mg foo E5", "ms foo 3 E77|xyz",
	"ms foo", "ms foo abc|x", "ms foo 3 MX|abc", "ms foo 3 MZ|abc", "ms foo 3 F-1|abc", "ms foo 3 Fabc|abc",
	"ms foo -1|abc", "ms foo 3 S3|abc", "ms foo 3 MSS|abc",
	"mg foo O1234567890123456789012345678901234567890", "mg foo Oabc kz", "mg foo k k",
	"md", "md foo bar", "md foo x", "ma", "ma foo MI MD", "ma c2 MX", "ma c2 Mxx", "ma cnt Dabc",
	"ma cnt v D18446744073709551616", "ma cnt v J18446744073709551616 N0", "mg foo N", "mg foo Cx",
	"mg " + strings.Repeat("a", 251) + " v", "ms " + strings.Repeat("a", 251) + " 1|a",
	"mg foo a b c d e f g h i j k l m n o p q r s", "mg foo s t c f v O1 k q h l u P L T1 N1 R1 I",
	"md foo s t c f v O1 k q h l u P L T1 N1 R1 I C1", "mx foo", "me",
	"ms foo 3 O12345678901234567890123456789012345|abc", "ms foo 3 MX O12345678901234567890123456789012345|abc",
	"ms foo 2 T1 T2|ab", "ma foo N-1 N1",
	"ms c0 1|5", "ms c0 1 C0|6", "ma c0 C0 v", "md c0 C0", "ms c0 1 MR C0 I|7", "ms c0 1 ME C0|7", "mg c0 v",
	"ms AAEC 2 b k c|hi", "mg AAEC b k v", "mg AAECAw== b k", "ma AAEC b v", "me AAEC b",
	// me.
	"me nothere", "ms mekey 5 F3|hello", "me mekey", "me mekey b", "me Zm8= b",
}

// TestMetaDifferential plays metaScript against memcached and the store.
func TestMetaDifferential(t *testing.T) {
	mc := startMemcached(t)
	s := New(Config{})
	var p memcache.Parser
	for i, line := range metaScript {
		wire := strings.ReplaceAll(line, "|", "\r\n") + "\r\n"
		want := mc.roundTrip(t, wire)
		got := serveWire(t, &p, s, []byte(wire))
		if !sameMetaReply(got, want) {
			t.Errorf("step %d %.80q:\nstore     %q\nmemcached %q", i, wire, got, want)
		}
	}
	compareStats(t, mc, s, true)
	// A data block without its "\r\n": memcached counts it in cmd_set,
	// the parser refuses it before the store sees it (as for set).
	for i, line := range []string{"ms foo 3|abcd", "ms x 2 q|abcd"} {
		wire := strings.ReplaceAll(line, "|", "\r\n") + "\r\n"
		want := mc.roundTrip(t, wire)
		if got := serveWire(t, &p, s, []byte(wire)); !sameMetaReply(got, want) {
			t.Errorf("bad chunk %d %.80q:\nstore     %q\nmemcached %q", i, wire, got, want)
		}
	}
}

// serveWire answers every request in wire as the server does: parse,
// answer errors and swallow refused data, serve the rest.
func serveWire(t *testing.T, p *memcache.Parser, s *Store, wire []byte) []byte {
	t.Helper()
	var out []byte
	var req memcache.Request
	for len(wire) > 0 {
		n, err := p.Parse(wire, &req)
		if errors.Is(err, memcache.ErrIncomplete) {
			t.Fatalf("incomplete request %q", wire)
		}
		wire = wire[n:]
		var pe *memcache.Error
		if errors.As(err, &pe) {
			if pe.Reply != "" {
				out = append(append(out, pe.Reply...), "\r\n"...)
			}
			wire = wire[min(pe.Swallow, len(wire)):]
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		out, _ = s.Serve(&req, out, nil)
	}
	return out
}

// timeField matches the flags whose value is a number of seconds.
var timeField = regexp.MustCompile(`( t| l|la=)(\d+)`)

// sameMetaReply compares replies, allowing second fields to differ by one
// (a second boundary between the two servers).
func sameMetaReply(a, b []byte) bool {
	if string(a) == string(b) {
		return true
	}
	as, bs := timeField.FindAllSubmatch(a, -1), timeField.FindAllSubmatch(b, -1)
	if len(as) != len(bs) || timeField.ReplaceAllString(string(a), "$1") != timeField.ReplaceAllString(string(b), "$1") {
		return false
	}
	for i := range as {
		x, _ := strconv.ParseInt(string(as[i][2]), 10, 64)
		y, _ := strconv.ParseInt(string(bs[i][2]), 10, 64)
		if x-y > 1 || y-x > 1 {
			return false
		}
	}
	return true
}

// TestMetaGetAllocs: an mg hit, an mg miss and an md miss allocate nothing.
func TestMetaGetAllocs(t *testing.T) {
	s := New(Config{})
	var p memcache.Parser
	_ = serveWire(t, &p, s, []byte("ms key 5 T100 F3\r\nhello\r\n"))
	for _, in := range []string{"mg key v t c f k s O1\r\n", "mg nokey v k q\r\n", "md nokey k\r\n", "mg Zm9v b k v\r\n"} {
		var req memcache.Request
		if _, err := p.Parse([]byte(in), &req); err != nil {
			t.Fatal(err)
		}
		out := make([]byte, 0, 256)
		allocs := testing.AllocsPerRun(100, func() {
			out, _ = s.Serve(&req, out[:0], nil)
		})
		if allocs != 0 {
			t.Errorf("%q: %v allocs per Serve, want 0", in, allocs)
		}
	}
}

// TestMetaDifferentialRandom compares random meta sequences over a few
// keys: random flags in random order, CAS values near the live ones.
func TestMetaDifferentialRandom(t *testing.T) {
	for seed := range uint64(12) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			mc := startMemcached(t)
			s := New(Config{})
			var p memcache.Parser
			r := rand.New(rand.NewPCG(seed, 7))
			for i := range 1500 {
				wire := randomMeta(r, i)
				want := mc.roundTrip(t, wire)
				got := serveWire(t, &p, s, []byte(wire))
				if !sameMetaReply(got, want) {
					t.Fatalf("step %d %.120q:\nstore     %q\nmemcached %q", i, wire, got, want)
				}
			}
			compareStats(t, mc, s, true)
		})
	}
}

func randomMeta(r *rand.Rand, i int) string {
	key := []string{"a", "b", "c", "YQ== b", "Yg== b"}[r.IntN(5)]
	pick := func(flags ...string) string {
		var out []string
		for _, j := range r.Perm(len(flags)) {
			if r.IntN(3) == 0 {
				out = append(out, flags[j])
			}
		}
		return strings.Join(out, " ")
	}
	cas := fmt.Sprint("C", max(0, i-r.IntN(8)))
	if r.IntN(4) == 0 {
		cas = "C0"
	}
	ttl := fmt.Sprint("T", []int{0, 100, 1000}[r.IntN(3)])
	var line string
	switch r.IntN(4) {
	case 0:
		line = "mg " + key + " " + pick("v", "f", "t", "c", "k", "s", "O9", "q", "N100", ttl, "h", "u", "I")
	case 1:
		data := []string{"1", "22", "abc", "18446744073709551615", ""}[r.IntN(5)]
		fl := pick("c", "k", "q", "O1", "F5", ttl, "I", cas, "M"+string("SEAPR"[r.IntN(5)]))
		line = fmt.Sprintf("ms %s %d %s\r\n%s", key, len(data), fl, data)
	case 2:
		line = "md " + key + " " + pick("q", "k", "O2", "I", ttl, cas)
	default:
		line = "ma " + key + " " + pick("v", "c", "t", "k", "q", "O3", "N0", "J7", "D3", ttl, cas, "M"+string("I+D-"[r.IntN(4)]))
	}
	return strings.TrimRight(line, " ") + "\r\n"
}
