package server

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/fae-sidecar/fae/upstream/local"
)

// The parse loop end to end over loopback, against the embedded store:
// each op is one get of a batch of 64 pipelined in one write (hits, one
// reply write per batch). allocs/op counts the whole process, client
// included, which allocates nothing per batch: what it shows is the
// server's parse loop, front and handler.
func BenchmarkServe(b *testing.B) {
	const batch = 64
	store := local.New(local.Config{MaxBytes: 64 << 20, MaxItemSize: 1 << 20})
	addr, _ := start(b, Config{}, store)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	var set, gets, binGets strings.Builder
	var want, binWant int
	for i := range batch {
		k := fmt.Sprintf("key:%02d", i)
		fmt.Fprintf(&set, "set %s 0 0 5\r\nvalue\r\n", k)
		fmt.Fprintf(&gets, "get %s\r\n", k)
		want += len(fmt.Sprintf("VALUE %s 0 5\r\nvalue\r\nEND\r\n", k))
		binGets.Write(binaryGetK(k, uint32(i)))
		binWant += 24 + 4 + len(k) + 5
	}
	roundTrip(b, c, []byte(set.String()), batch*len("STORED\r\n"))
	run := func(b *testing.B, c net.Conn, req []byte, n int) {
		buf := make([]byte, n)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i += batch {
			if _, err := c.Write(req); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(c, buf); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("text-get", func(b *testing.B) { run(b, c, []byte(gets.String()), want) })
	bc, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer bc.Close()
	b.Run("binary-getk", func(b *testing.B) { run(b, bc, []byte(binGets.String()), binWant) })
}

func roundTrip(b *testing.B, c net.Conn, req []byte, n int) {
	if _, err := c.Write(req); err != nil {
		b.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, n)); err != nil {
		b.Fatal(err)
	}
}

// binaryGetK is a binary-protocol getk request.
func binaryGetK(key string, opaque uint32) []byte {
	h := make([]byte, 24, 24+len(key))
	h[0], h[1] = 0x80, 0x0c
	binary.BigEndian.PutUint16(h[2:], uint16(len(key)))
	binary.BigEndian.PutUint32(h[8:], uint32(len(key)))
	binary.BigEndian.PutUint32(h[12:], opaque)
	return append(h, key...)
}
