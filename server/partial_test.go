package server

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net"
	"testing"

	"github.com/fae-sidecar/fae/internal/testproc"
	"github.com/fae-sidecar/fae/proto/mcbin"
	"github.com/fae-sidecar/fae/upstream/local"
)

// partialConfig is a server that takes values of up to 2 MiB.
func partialConfig(maxPartial int) Config {
	return Config{Version: "1.6.18", MaxItemSize: 2 << 20, MaxPartial: maxPartial}
}

func partialStore() Handler { return local.New(local.Config{MaxItemSize: 2 << 20}) }

// pattern returns n bytes that hold "\r\n" and every digit, but no "MN".
func pattern(n int) []byte {
	return bytes.Repeat([]byte("0123456789\r\n"), n/12+1)[:n]
}

// A set whose bytes come in many read events, 1 or 128 bytes at a time,
// before and after other requests, is stored exactly: memcached gives the
// same replies to the same bytes. Values below and above partialMin take
// the two ways an incomplete request waits (gnet's buffer, its own).
func TestPartialRoundTrip(t *testing.T) {
	mc := testproc.StartMemcached(t, "-I", "2m")
	bkey := base64.StdEncoding.EncodeToString([]byte("big key"))
	text := func(n int) []byte {
		v := pattern(n)
		return fmt.Appendf(nil, "set a 0 0 1\r\nx\r\nset k 5 0 %d\r\n%s\r\nget k a\r\nmn\r\n", n, v)
	}
	meta := func(n int) []byte {
		v := pattern(n)
		return fmt.Appendf(nil, "ms a 1\r\nx\r\nms %s %d b F7\r\n%s\r\nmg %s b v f\r\nmn\r\n", bkey, n, v, bkey)
	}
	binary := func(n int) []byte {
		var out []byte
		for _, r := range []mcbin.Request{
			{Opcode: mcbin.OpSet, Key: []byte("a"), Value: []byte("x")},
			{Opcode: mcbin.OpSet, Key: []byte("k"), Value: pattern(n), Flags: 5, Opaque: 1},
			{Opcode: mcbin.OpGet, Key: []byte("k"), Opaque: 2},
			{Opcode: mcbin.OpNoop, Opaque: 3},
		} {
			out = mcbin.AppendRequest(out, &r)
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		stream func(n int) []byte
		bin    bool
		size   int
		chunk  int
	}{
		{name: "text small 1-byte", stream: text, size: 100, chunk: 1},
		{name: "text large 1-byte", stream: text, size: partialMin + 100, chunk: 1},
		{name: "text large 128-byte", stream: text, size: 300 << 10, chunk: 128},
		{name: "meta small 1-byte", stream: meta, size: 100, chunk: 1},
		{name: "meta large 128-byte", stream: meta, size: 300 << 10, chunk: 128},
		{name: "binary small 1-byte", stream: binary, bin: true, size: 100, chunk: 1},
		{name: "binary large 1-byte", stream: binary, bin: true, size: partialMin + 100, chunk: 1},
		{name: "binary large 128-byte", stream: binary, bin: true, size: 300 << 10, chunk: 128},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stream := tc.stream(tc.size)
			want := replies(t, mc, stream, tc.bin, nil)
			s, _ := startServer(t, partialConfig(0), partialStore())
			got := replies(t, s.cfg.Addr, stream, tc.bin, func(c net.Conn) {
				// Halfway, the value is in gnet's buffer or, when large,
				// in one of its own counted in MaxPartial.
				mid := len(stream) / 2
				feed(t, s, c, stream[:mid], tc.chunk)
				if held := s.partial.Load(); (held > int64(tc.size)) != (tc.size >= partialMin) {
					t.Errorf("halfway through a %d-byte value, MaxPartial counts %d bytes", tc.size, held)
				}
				feed(t, s, c, stream[mid:], tc.chunk)
			})
			if !bytes.Equal(got, want) || !bytes.Contains(got, pattern(tc.size)) {
				t.Fatalf("replies differ from memcached's:\n got %.300q\nwant %.300q", got, want)
			}
			if n := s.partial.Load(); n != 0 {
				t.Errorf("MaxPartial budget holds %d bytes after the request was served", n)
			}
		})
	}
}

// replies sends stream to addr, all at once or with send, and returns
// the replies up to the one to its last request (mn or a binary noop),
// binary ones with their CAS zeroed.
func replies(t *testing.T, addr string, stream []byte, bin bool, send func(net.Conn)) []byte {
	t.Helper()
	c, _ := dial(t, addr)
	if send == nil {
		if _, err := c.Write(stream); err != nil {
			t.Fatal(err)
		}
	} else {
		send(c)
	}
	if bin {
		b := &binClient{t: t, c: c}
		var out []byte
		for {
			r := b.recv()
			r.Cas = 0
			out = mcbin.AppendResponse(out, &r)
			if r.Opcode == mcbin.OpNoop {
				return out
			}
		}
	}
	var out []byte
	var buf [64 << 10]byte
	for !bytes.HasSuffix(out, []byte("MN\r\n")) {
		n, err := c.Read(buf[:])
		if err != nil {
			t.Fatalf("read after %q: %v", out, err)
		}
		out = append(out, buf[:n]...)
	}
	return out
}

// Past MaxPartial, a large request still coming in is refused as memcached
// refuses a set it has no memory for, in each protocol: its bytes are
// swallowed, the key's old item of a set is unlinked, and the connection
// goes on. Once the request that held the room is served, the room is
// back; requests cut off by a close give theirs back too.
func TestPartialBudget(t *testing.T) {
	const size = 60 << 10 // two do not fit in 100 KiB
	s, _ := startServer(t, partialConfig(100<<10), partialStore())
	v := pattern(size)
	set := func(cmd string) []byte { return append(fmt.Appendf(nil, "%s\r\n", cmd), v...) }

	// a holds the room: its set is half in.
	a, ar := dial(t, s.cfg.Addr)
	aset := set(fmt.Sprintf("set held 0 0 %d", size))
	feed(t, s, a, aset[:size/2], size/2)
	if n := s.partial.Load(); n != int64(len(aset)+2) {
		t.Fatalf("MaxPartial counts %d bytes for a %d-byte request", n, len(aset)+2)
	}

	b, br := dial(t, s.cfg.Addr)
	do := func(t *testing.T, send []byte, want string) {
		t.Helper()
		if _, err := b.Write(send); err != nil {
			t.Fatal(err)
		}
		if got := readN(t, br, len(want)); got != want {
			t.Fatalf("sent %.60q: got %q, want %q", send, got, want)
		}
	}
	const oom = "SERVER_ERROR out of memory storing object\r\n"
	for _, tc := range []struct {
		name  string
		cmd   string // the refused request's line
		reply string // its answer
		after string // and what then finds the key
		found string
	}{
		{name: "set unlinks", cmd: "set k 0 0 %d", reply: oom, after: "get k\r\n", found: "END\r\n"},
		{name: "set noreply unlinks", cmd: "set k 0 0 %d noreply", after: "get k\r\n", found: "END\r\n"},
		{name: "add keeps", cmd: "add k 0 0 %d", reply: oom, after: "get k\r\n", found: "VALUE k 0 3\r\nold\r\nEND\r\n"},
		{name: "ms with q unlinks", cmd: "ms k %d q", reply: oom, after: "mg k v\r\n", found: "EN\r\n"},
		{name: "ms base64 unlinks", cmd: "ms " + base64.StdEncoding.EncodeToString([]byte("k")) + " %d b MA", reply: oom,
			after: "mg k v\r\n", found: "EN\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			do(t, []byte("set k 0 0 3\r\nold\r\n"), "STORED\r\n")
			req := set(fmt.Sprintf(tc.cmd, size))
			// The line and some data in one read, as a client sends them;
			// the rest, swallowed, in others.
			feed(t, s, b, req[:1000], 1000)
			do(t, append(req[1000:], "\r\nversion\r\n"...), tc.reply+"VERSION 1.6.18\r\n")
			do(t, []byte(tc.after), tc.found)
		})
	}

	t.Run("binary", func(t *testing.T) {
		c, _ := dial(t, s.cfg.Addr)
		bc := &binClient{t: t, c: c}
		for _, op := range []mcbin.Opcode{mcbin.OpSet, mcbin.OpSetQ} {
			bc.send(mcbin.Request{Opcode: mcbin.OpSet, Key: []byte("bk"), Value: []byte("old")})
			if r := bc.recv(); r.Status != mcbin.StatusOK {
				t.Fatalf("set: %v", r.Status)
			}
			req := mcbin.AppendRequest(nil, &mcbin.Request{Opcode: op, Key: []byte("bk"), Value: v, Opaque: 7})
			feed(t, s, c, req[:1000], 1000)
			r := bc.recv()
			if r.Opcode != op || r.Status != mcbin.StatusOutOfMemory || r.Opaque != 7 || string(r.Value) != "Out of memory allocating item" {
				t.Fatalf("%v refused with %+v; want %v, status 0x82, opaque 7, memcached's message", op, r, op)
			}
			if _, err := c.Write(req[1000:]); err != nil {
				t.Fatal(err)
			}
			bc.send(get(mcbin.OpGet, "bk", 8))
			if r := bc.recv(); r.Status != mcbin.StatusKeyNotFound || r.Opaque != 8 {
				t.Fatalf("get after a refused %v: %+v; want not found (unlinked)", op, r)
			}
		}
	})

	// a finishes: the room is back, and b's set fits now.
	if _, err := a.Write(append(aset[size/2:], "\r\n"...)); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, ar, len("STORED\r\n")); got != "STORED\r\n" {
		t.Fatalf("the set that held the room answered %q", got)
	}
	testproc.WaitFor(t, "MaxPartial room back", func() bool { return s.partial.Load() == 0 })
	req := append(set(fmt.Sprintf("set k 0 0 %d", size)), "\r\n"...)
	feed(t, s, b, req, 4096)
	if got := readN(t, br, len("STORED\r\n")); got != "STORED\r\n" {
		t.Fatalf("a set in pieces with room answered %q", got)
	}

	// Clients that close halfway give their room back.
	for i := range 3 {
		c, _ := dial(t, s.cfg.Addr)
		feed(t, s, c, set(fmt.Sprintf("set cut%d 0 0 20000", i))[:10000], 10000)
		c.Close()
	}
	testproc.WaitFor(t, "MaxPartial room back after closes", func() bool { return s.partial.Load() == 0 })
}
