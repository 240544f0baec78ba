package local

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/fae-sidecar/fae/internal/metascript"
	"github.com/fae-sidecar/fae/proto/memcache"
)

// TestMetaDifferential plays metascript.Script against memcached and the store.
func TestMetaDifferential(t *testing.T) {
	mc := startMemcached(t)
	s := New(Config{})
	var p memcache.Parser
	for i, line := range metascript.Script() {
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

// sameMetaReply compares replies, allowing seconds fields to differ by one
// (a second boundary between the two servers).
func sameMetaReply(a, b []byte) bool { return metascript.SameReply(string(a), string(b)) }

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
				wire := metascript.Random(r, i)
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
