package servant

import (
	"bytes"
	"context"
	"fmt"
	"strconv"

	"github.com/fae-sidecar/fae/proto/memcache"
	"github.com/fae-sidecar/fae/proto/thrift/fae"
	"github.com/fae-sidecar/fae/upstream"
)

// Cache is what the mc_* calls use: Serve routes a key as the text port
// does (the router: prefixes, pools, coalescing, L1), and Pool names a
// pool to use directly (nil when there is none).
type Cache interface {
	Serve(req *memcache.Request, out []byte, w upstream.Waiter) ([]byte, bool)
	Pool(name string) upstream.Pool
}

// An mc_* call is the text request a memcached client would send for it,
// parsed by the same parser as the text port's (so a key the text port
// refuses is refused here with the same words) and served through the
// same router or pool: a write through Thrift is seen by a text get and
// the reverse, flags included. The call waits for the pool's reply on the
// calling goroutine, which is a worker, never an event loop.

func (f *FunServant) McSet(ctx context.Context, _ *fae.Context, pool, key string, value *fae.TMemcacheData, exp int32) (bool, error) {
	return f.mcStore(ctx, "set", pool, key, value, exp)
}

func (f *FunServant) McAdd(ctx context.Context, _ *fae.Context, pool, key string, value *fae.TMemcacheData, exp int32) (bool, error) {
	return f.mcStore(ctx, "add", pool, key, value, exp)
}

func (f *FunServant) mcStore(ctx context.Context, cmd, pool, key string, v *fae.TMemcacheData, exp int32) (bool, error) {
	if v == nil {
		return false, servantError("%s: no value", cmd)
	}
	req := fmt.Appendf(nil, "%s %s %d %d %d\r\n", cmd, key, uint32(v.Flags), exp, len(v.Data))
	req = append(append(req, v.Data...), '\r', '\n')
	reply, err := f.mc(ctx, pool, key, req)
	if err != nil {
		return false, err
	}
	switch {
	case string(reply) == memcache.ReplyStored:
		return true, nil
	case string(reply) == memcache.ReplyNotStored:
		return false, nil
	}
	return false, replyError(reply)
}

func (f *FunServant) McGet(ctx context.Context, _ *fae.Context, pool, key string) (*fae.TMemcacheData, error) {
	reply, err := f.mc(ctx, pool, key, fmt.Appendf(nil, "get %s\r\n", key))
	if err != nil {
		return nil, err
	}
	if string(reply) == memcache.ReplyEnd {
		return nil, &fae.TCacheMissed{Message: &key}
	}
	_, block, rest, ok := memcache.NextValue(reply)
	if !ok || string(rest) != memcache.ReplyEnd {
		return nil, replyError(reply)
	}
	// block: "VALUE key flags bytes\r\ndata\r\n"
	nl := bytes.IndexByte(block, '\n')
	f3 := bytes.Fields(block[:nl])
	flags, err := strconv.ParseUint(string(f3[2]), 10, 32)
	if err != nil {
		return nil, replyError(reply)
	}
	data := bytes.Clone(block[nl+1 : len(block)-2])
	return &fae.TMemcacheData{Data: data, Flags: int32(uint32(flags))}, nil
}

func (f *FunServant) McDelete(ctx context.Context, _ *fae.Context, pool, key string) (bool, error) {
	reply, err := f.mc(ctx, pool, key, fmt.Appendf(nil, "delete %s\r\n", key))
	if err != nil {
		return false, err
	}
	switch {
	case string(reply) == memcache.ReplyDeleted:
		return true, nil
	case string(reply) == memcache.ReplyNotFound:
		return false, nil
	}
	return false, replyError(reply)
}

// McIncrement adds delta (subtracts, when negative) to the decimal counter
// at key and returns its new value. A missing counter is created, as
// memcached's ma with N does: at delta when delta > 0, else at 0 (a
// decrement stops at 0, as memcached's decr does), and never expires.
func (f *FunServant) McIncrement(ctx context.Context, _ *fae.Context, pool, key string, delta int64) (int64, error) {
	mode, d, init := "MI", uint64(delta), uint64(delta)
	if delta < 0 {
		mode, d, init = "MD", uint64(-delta), 0
	}
	reply, err := f.mc(ctx, pool, key, fmt.Appendf(nil, "ma %s N0 J%d D%d %s v\r\n", key, init, d, mode))
	if err != nil {
		return 0, err
	}
	// "VA <size>\r\n<number>\r\n"
	if !bytes.HasPrefix(reply, []byte("VA ")) {
		return 0, replyError(reply)
	}
	nl := bytes.IndexByte(reply, '\n')
	n, perr := strconv.ParseUint(string(bytes.TrimSuffix(reply[nl+1:], []byte("\r\n"))), 10, 64)
	if perr != nil {
		return 0, replyError(reply)
	}
	return int64(n), nil
}

// mc serves one text request through pool ("": the router) and returns
// the reply, a copy.
//
// A reload retires a replaced pool once every event loop has passed a
// barrier and its queues are empty, but a worker is no event loop: a call
// that took the old router just before the swap may reach the retired
// pool after it closed. Such a request was never sent ("pool closed" is
// the pool's own answer for a request it did not queue), so it is served
// once more through the router in force, which no longer holds that pool.
func (f *FunServant) mc(ctx context.Context, pool, key string, req []byte) ([]byte, error) {
	if !validKey(key) {
		return nil, servantError("CLIENT_ERROR bad command line format: a key is 1 to %d bytes with no space or control byte", f.parser.MaxKeyLen)
	}
	reply, err := f.mcOnce(ctx, pool, req)
	if err == nil && poolClosed(reply) {
		reply, err = f.mcOnce(ctx, pool, req)
	}
	return reply, err
}

// poolClosed reports whether reply is a pool's answer for a request it
// did not queue because it was closed.
func poolClosed(reply []byte) bool {
	return bytes.HasPrefix(reply, []byte("SERVER_ERROR upstream ")) && bytes.HasSuffix(reply, []byte(" pool closed\r\n"))
}

// mcOnce serves req through pool ("": the router in force).
func (f *FunServant) mcOnce(ctx context.Context, pool string, req []byte) ([]byte, error) {
	var target interface {
		Serve(*memcache.Request, []byte, upstream.Waiter) ([]byte, bool)
	} = f.cache
	if pool != "" {
		p := f.cache.Pool(pool)
		if p == nil {
			return nil, servantError("no pool %q", pool)
		}
		target = p
	}
	return f.serveText(ctx, target, req)
}

// serveText parses the text request req and serves it through target,
// waiting for its reply until ctx is done; the reply is a copy.
func (f *FunServant) serveText(ctx context.Context, target interface {
	Serve(*memcache.Request, []byte, upstream.Waiter) ([]byte, bool)
}, req []byte) ([]byte, error) {
	var r memcache.Request
	n, err := f.parser.Parse(req, &r)
	if err != nil || n != len(req) {
		if pe, ok := err.(*memcache.Error); ok && pe.Reply != "" {
			return nil, servantError("%s", pe.Reply)
		}
		return nil, servantError("CLIENT_ERROR bad command line format")
	}
	w := &waiter{ch: make(chan []byte, 1)}
	out, async := target.Serve(&r, nil, w)
	if !async {
		return out, nil
	}
	select {
	case reply := <-w.ch:
		return reply, nil
	case <-ctx.Done():
		return nil, servantError("SERVER_ERROR %v", ctx.Err())
	}
}

// waiter takes a pool's later reply to one mc call.
type waiter struct{ ch chan []byte }

// Done implements upstream.Waiter.
func (w *waiter) Done(reply []byte) { w.ch <- bytes.Clone(reply) }

// replyError is the exception for a reply an mc call does not expect:
// memcached's own line (SERVER_ERROR ..., CLIENT_ERROR ...).
func replyError(reply []byte) error {
	return servantError("%s", bytes.TrimRight(reply, "\r\n"))
}

func servantError(format string, a ...any) error {
	return &fae.TServantError{Message: fmt.Sprintf(format, a...)}
}

// validKey reports whether key can travel as one token of a text request.
func validKey(key string) bool {
	if key == "" {
		return false
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}
