package server

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/internal/testproc"
	"github.com/fae-sidecar/fae/proto/mcbin"
	"github.com/fae-sidecar/fae/upstream/local"
	"github.com/fae-sidecar/fae/upstream/memcache"
)

// The server's stats count what memcached counts for the same clients'
// requests, in front of a memcached pool (both transports) and of the
// embedded store, where the server sends something else than the client
// did: the unlink after a set refused as too large, text or binary, counts
// nothing, as memcached counts nothing for that set; a binary delete or
// increment refused for its CAS (sent as md or ma) counts nothing either.
func TestStatsAsMemcached(t *testing.T) {
	big := strings.Repeat("b", 1<<20+10)
	text := []string{
		"set a 0 0 1\r\nx\r\n", "set a 0 0 " + fmt.Sprint(len(big)) + "\r\n" + big + "\r\n",
		"set nokey 0 0 " + fmt.Sprint(len(big)) + "\r\n" + big + "\r\n", "get a",
		"set b 0 0 1\r\nx\r\n", "ms Yg== " + fmt.Sprint(len(big)) + " b\r\n" + big + "\r\n", "mg Yg== b v",
		"set c 0 0 1\r\n5\r\n", "gat 60 c nokey", "gats 60 c",
		"md c C999999", "md nokey C999999", "ma c C999999", "ma c MD C999999", "ma c", "md c",
	}
	const stale = 999999
	binary := []mcbin.Request{
		{Opcode: mcbin.OpSet, Key: []byte("e"), Value: []byte("x")},
		{Opcode: mcbin.OpSet, Key: []byte("e"), Value: []byte(big)},
		{Opcode: mcbin.OpSet, Key: []byte("nokey"), Value: []byte(big)},
		{Opcode: mcbin.OpGet, Key: []byte("e")},
		{Opcode: mcbin.OpSet, Key: []byte("k y"), Value: []byte("x")},
		{Opcode: mcbin.OpSet, Key: []byte("k y"), Value: []byte(big)},
		{Opcode: mcbin.OpGet, Key: []byte("k y")},
		{Opcode: mcbin.OpSet, Key: []byte("d"), Value: []byte("5")},
		{Opcode: mcbin.OpDelete, Key: []byte("d"), Cas: stale},
		{Opcode: mcbin.OpDelete, Key: []byte("nokey"), Cas: stale},
		{Opcode: mcbin.OpIncrement, Key: []byte("d"), Delta: 1, Exptime: mcbin.NoCreate, Cas: stale},
		{Opcode: mcbin.OpDecrement, Key: []byte("d"), Delta: 1, Exptime: mcbin.NoCreate, Cas: stale},
		{Opcode: mcbin.OpIncrement, Key: []byte("nokey"), Delta: 1, Exptime: mcbin.NoCreate, Cas: stale},
		{Opcode: mcbin.OpSet, Key: []byte("d y"), Value: []byte("5")},
		{Opcode: mcbin.OpDelete, Key: []byte("d y"), Cas: stale},
		{Opcode: mcbin.OpGAT, Key: []byte("d"), Exptime: 60},
		{Opcode: mcbin.OpGAT, Key: []byte("nokey"), Exptime: 60},
		{Opcode: mcbin.OpDelete, Key: []byte("d")},
		{Opcode: mcbin.OpDelete, Key: []byte("d y")},
	}
	play := func(addr string) map[string]uint64 {
		tc := dialText(t, addr)
		for _, in := range text {
			tc.do(in)
		}
		bc := dialBinary(t, addr)
		for _, r := range binary {
			bc.send(r)
			bc.recv()
		}
		return tc.stats()
	}
	want := play(testproc.StartMemcached(t))
	for _, tc := range []struct {
		name string
		h    func() Handler
	}{
		{name: "local", h: func() Handler { return local.New(local.Config{}) }},
		{name: "pool", h: func() Handler { return newPool(t, memcache.TransportGoroutine) }},
		{name: "pool-loop", h: func() Handler { return newPool(t, memcache.TransportLoop) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, _ := start(t, Config{Version: "1.6.18", MaxKeyLen: 250, MaxItemSize: 1 << 20}, tc.h())
			got := play(addr)
			for _, name := range []string{"cmd_get", "cmd_set", "cmd_touch", "get_hits", "get_misses",
				"delete_hits", "delete_misses", "incr_hits", "incr_misses", "decr_hits", "decr_misses",
				"touch_hits", "touch_misses"} {
				if got[name] != want[name] {
					t.Errorf("%s = %d, memcached counts %d", name, got[name], want[name])
				}
			}
		})
	}
}

// newPool is a memcached pool on a memcached of its own.
func newPool(t *testing.T, tr memcache.Transport) *memcache.Pool {
	t.Helper()
	p, err := memcache.New(memcache.Config{
		Servers:   []memcache.Server{{Addr: testproc.StartMemcached(t)}},
		Transport: tr,
		Timeout:   5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// textClient is a test client of the text protocol that knows where each
// reply ends: it follows each request with "mn" and reads up to its "MN".
type textClient struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialText(t *testing.T, addr string) *textClient {
	t.Helper()
	c, br := dial(t, addr)
	return &textClient{t: t, c: c, br: br}
}

// do sends one request (a line without its "\r\n", or a whole request)
// and returns its reply.
func (tc *textClient) do(in string) []byte {
	tc.t.Helper()
	if !strings.HasSuffix(in, "\n") {
		in += "\r\n"
	}
	if _, err := tc.c.Write([]byte(in + "mn\r\n")); err != nil {
		tc.t.Fatal(err)
	}
	var reply []byte
	for !bytes.HasSuffix(reply, []byte("MN\r\n")) {
		line, err := tc.br.ReadSlice('\n')
		if err != nil && err != bufio.ErrBufferFull {
			tc.t.Fatalf("%.40q: read: %v (have %q)", in, err, reply)
		}
		reply = append(reply, line...)
	}
	return reply[:len(reply)-len("MN\r\n")]
}

// stats returns the numeric counters of "stats".
func (tc *textClient) stats() map[string]uint64 {
	tc.t.Helper()
	stats := map[string]uint64{}
	for _, line := range strings.Split(string(tc.do("stats")), "\r\n") {
		var name string
		var v uint64
		if _, err := fmt.Sscanf(line, "STAT %s %d", &name, &v); err == nil {
			stats[name] = v
		}
	}
	return stats
}
