package servant

import (
	"context"
	"testing"

	"github.com/fae-sidecar/fae/proto/memcache"
	"github.com/fae-sidecar/fae/upstream"
)

// swapCache answers its first request as a pool retired by a reload just
// after the call took the old router would ("pool closed"), and later ones
// as the router in force.
type swapCache struct {
	calls int
	first string
}

func (c *swapCache) Serve(req *memcache.Request, out []byte, w upstream.Waiter) ([]byte, bool) {
	c.calls++
	if c.calls == 1 {
		return append(out, c.first...), false
	}
	return append(out, "STORED\r\n"...), false
}

func (c *swapCache) Pool(string) upstream.Pool { return nil }

// TestMcRetriesRetiredPool: an mc call whose request met a closed pool (so
// was never sent) is served again through the router in force; any other
// failure is the call's answer, not retried.
func TestMcRetriesRetiredPool(t *testing.T) {
	for _, tc := range []struct {
		first string
		calls int
		ok    bool
	}{
		{"SERVER_ERROR upstream 127.0.0.1:11211 pool closed\r\n", 2, true},
		{"SERVER_ERROR upstream 127.0.0.1:11211 timeout\r\n", 1, false},
		{"SERVER_ERROR out of memory storing object\r\n", 1, false},
	} {
		c := &swapCache{first: tc.first}
		f := New(Parts{Cache: c, MaxKeyLen: 250, MaxItemSize: 1 << 20})
		reply, err := f.mc(context.Background(), "", "k", []byte("set k 0 0 1\r\nv\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		if c.calls != tc.calls || (string(reply) == "STORED\r\n") != tc.ok {
			t.Errorf("first reply %q: %d calls, reply %q; want %d calls", tc.first, c.calls, reply, tc.calls)
		}
	}
}
