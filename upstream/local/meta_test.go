package local

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/fae-sidecar/fae/proto/memcache"
)

// metaScript reads the meta-command script shared with cmd/faed (TestMetaDiff):
// one request per line, "|" standing for "\r\n", "#" lines being comments.
func metaScript(t testing.TB) []string {
	t.Helper()
	b, err := os.ReadFile("../../proto/memcache/testdata/meta_script.txt")
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, l := range strings.Split(string(b), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			steps = append(steps, l)
		}
	}
	return steps
}

// TestMetaDifferential plays metaScript against memcached and the store.
func TestMetaDifferential(t *testing.T) {
	mc := startMemcached(t)
	s := New(Config{})
	var p memcache.Parser
	for i, line := range metaScript(t) {
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

// A meta request the server sends for itself (NoReply) acts and answers
// nothing.
func TestMetaNoReply(t *testing.T) {
	s := New(Config{})
	var p memcache.Parser
	_ = serveWire(t, &p, s, []byte("ms YSBi 1 b\r\nv\r\n"))
	var req memcache.Request
	if _, err := p.Parse([]byte("md YSBi b\r\n"), &req); err != nil {
		t.Fatal(err)
	}
	req.NoReply = true
	if out, _ := s.Serve(&req, []byte("x"), nil); string(out) != "x" {
		t.Errorf("md with NoReply answered %q", out[1:])
	}
	if got := serveWire(t, &p, s, []byte("mg YSBi b v\r\n")); string(got) != "EN\r\n" {
		t.Errorf("after the md: %q", got)
	}
}
