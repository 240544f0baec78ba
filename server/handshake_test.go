package server

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/upstream/local"
)

// testHandshake accepts "HELLO\n", answers "WELCOME\n", and refuses
// anything else that does not start like it.
func testHandshake(buf []byte) ([]byte, int, error) {
	const hello = "HELLO\n"
	switch {
	case len(buf) < len(hello) && bytes.HasPrefix([]byte(hello), buf):
		return nil, 0, nil
	case bytes.HasPrefix(buf, []byte(hello)):
		return []byte("WELCOME\n"), len(hello), nil
	}
	return nil, 0, errors.New("not a hello")
}

func TestHandshakeFront(t *testing.T) {
	addr, _ := start(t, Config{Handshake: testHandshake, HandshakeTimeout: 100 * time.Millisecond}, local.New(local.Config{}))
	for _, tc := range []struct {
		name, send, want string
	}{
		// A handshake in pieces, then text requests (a binary magic or a
		// Thrift length would be text now too).
		{"proven", "HEL", "WELCOME\nSTORED\r\nVALUE k 0 1\r\nv\r\nEND\r\n"},
		{"garbage", "get k\r\n", ""},
		{"silent", "", ""}, // closed by the ticker after HandshakeTimeout
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := dial(t, addr)
			_ = c.SetDeadline(time.Now().Add(20 * time.Second))
			if _, err := c.Write([]byte(tc.send)); err != nil {
				t.Fatal(err)
			}
			if tc.name == "proven" {
				if _, err := c.Write([]byte("LO\nset k 0 0 1\r\nv\r\nget k\r\n")); err != nil {
					t.Fatal(err)
				}
				got := make([]byte, len(tc.want))
				if _, err := io.ReadFull(c, got); err != nil || string(got) != tc.want {
					t.Fatalf("read %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			got, err := io.ReadAll(c)
			if err != nil || len(got) > 0 {
				t.Fatalf("read %q, %v; want closed with nothing", got, err)
			}
		})
	}
}
