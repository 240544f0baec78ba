package testproc

import (
	"context"
	"io"
	"net"
	"testing"
	"time"
)

func TestFreePort(t *testing.T) {
	addr := FreePort(t)
	host, port, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() || ip.To4() == nil || port == "0" {
		t.Fatalf("FreePort() = %q (%v), want 127.0.0.X:PORT", addr, err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the port from FreePort cannot be bound: %v", err)
	}
	ln.Close()
}

func TestWaitPort(t *testing.T) {
	for _, tc := range []struct {
		name   string
		listen bool
		ok     bool
	}{
		{"listening", true, true},
		{"nothing listening", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := FreePort(t)
			if tc.listen {
				ln, err := net.Listen("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				defer ln.Close()
			}
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			if err := WaitPort(ctx, addr); (err == nil) != tc.ok {
				t.Fatalf("WaitPort(%s) = %v, want ok=%v", addr, err, tc.ok)
			}
		})
	}
}

func TestStartMemcached(t *testing.T) {
	addr := StartMemcached(t, "-m", "8")
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("set a 0 0 1\r\nx\r\nget a\r\n")); err != nil {
		t.Fatal(err)
	}
	want := "STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\n"
	got := make([]byte, len(want))
	if n, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read: %v after %q", err, got[:n])
	}
	if string(got) != want {
		t.Fatalf("memcached replied %q, want %q", got, want)
	}
}

func TestBuildFaedOnce(t *testing.T) {
	a := BuildFaed(t)
	b := BuildFaed(t)
	if a != b {
		t.Fatalf("BuildFaed built twice: %q then %q", a, b)
	}
}

func TestMain(m *testing.M) { Main(m) }
