package thrift

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/fae-sidecar/fae/proto/thrift/fae"
)

// testVersion is what testHandler's ping returns.
const testVersion = "fae-test-1"

// Keys and names that make testHandler fail, so that every way of failing
// can be asked for over the wire.
const (
	keyPanic     = "panic"    // the handler panics
	keyError     = "error"    // the handler returns an error the IDL does not declare
	poolBad      = "bad"      // a memcache pool that fails: TServantError
	reasonFail   = "stepback" // id_* fail: TServantError
	identBad     = "../etc"   // dlog refuses the ident: TServantError
	maxTestItems = 1 << 10    // testHandler forgets everything past this many items
	testWorker   = int64(7)   // the worker id_decode reports
	testEpochMS  = int64(1 << 40)
)

// testHandler is a FunServant over maps, safe for concurrent use, bounded
// so that fuzzing cannot grow it without end.
type testHandler struct {
	mu    sync.Mutex
	seq   int64
	lc    map[string][]byte
	mc    map[string]fae.TMemcacheData
	locks map[string]string
	kv    map[string][]byte
	logs  []string
}

func newTestHandler() *testHandler {
	h := &testHandler{}
	h.reset()
	return h
}

func (h *testHandler) reset() {
	h.lc = map[string][]byte{}
	h.mc = map[string]fae.TMemcacheData{}
	h.locks = map[string]string{}
	h.kv = map[string][]byte{}
	h.logs = nil
}

// bound forgets everything when a map is full; called with mu held.
func (h *testHandler) bound() {
	if len(h.lc)+len(h.mc)+len(h.locks)+len(h.kv)+len(h.logs) >= maxTestItems {
		h.reset()
	}
}

// fail panics or fails as the key asks.
func fail(key string) error {
	switch key {
	case keyPanic:
		panic("test handler asked to panic")
	case keyError:
		return errors.New("test handler asked to fail")
	}
	return nil
}

func servantError(format string, args ...any) *fae.TServantError {
	return &fae.TServantError{Message: fmt.Sprintf(format, args...)}
}

func missed(key string) *fae.TCacheMissed {
	msg := "missed " + key
	return &fae.TCacheMissed{Message: &msg}
}

func (h *testHandler) Ping(_ context.Context, c *fae.Context) (string, error) {
	return testVersion, fail(c.Reason)
}

func (h *testHandler) Noop(_ context.Context, x int32) (int32, error) { return x, nil }

func (h *testHandler) IDNext(ctx context.Context, c *fae.Context) (int64, error) {
	return h.IDNextWithTag(ctx, c, 0)
}

func (h *testHandler) IDNextWithTag(_ context.Context, c *fae.Context, tag int16) (int64, error) {
	if c.Reason == reasonFail {
		return 0, fmt.Errorf("id: %w", servantError("clock stepped back"))
	}
	if err := fail(c.Reason); err != nil {
		return 0, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	return int64(tag)<<32 | h.seq, nil
}

func (h *testHandler) IDDecode(_ context.Context, _ *fae.Context, id int64) ([]int64, error) {
	if id == 0 {
		return nil, nil // written as an empty list
	}
	return []int64{testEpochMS, id >> 32, testWorker, id & 0xffffffff}, nil
}

func (h *testHandler) LcSet(_ context.Context, _ *fae.Context, key string, value []byte) (bool, error) {
	if err := fail(key); err != nil {
		return false, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.bound()
	h.lc[key] = value
	return true, nil
}

func (h *testHandler) LcGet(_ context.Context, _ *fae.Context, key string) ([]byte, error) {
	if err := fail(key); err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.lc[key]
	if !ok {
		return nil, missed(key)
	}
	return v, nil
}

func (h *testHandler) LcDel(_ context.Context, _ *fae.Context, key string) error {
	if err := fail(key); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.lc, key)
	return nil
}

// mcKey checks the pool and returns the item's key in h.mc.
func mcKey(pool, key string) (string, error) {
	if pool == poolBad {
		return "", servantError("pool %q: upstream down", pool)
	}
	if err := fail(key); err != nil {
		return "", err
	}
	return pool + "/" + key, nil
}

func (h *testHandler) mcStore(pool, key string, value *fae.TMemcacheData, add bool) (bool, error) {
	k, err := mcKey(pool, key)
	if err != nil {
		return false, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.bound()
	if _, ok := h.mc[k]; ok && add {
		return false, nil
	}
	if value == nil {
		value = &fae.TMemcacheData{}
	}
	h.mc[k] = *value
	return true, nil
}

func (h *testHandler) McSet(_ context.Context, _ *fae.Context, pool, key string, value *fae.TMemcacheData, _ int32) (bool, error) {
	return h.mcStore(pool, key, value, false)
}

func (h *testHandler) McAdd(_ context.Context, _ *fae.Context, pool, key string, value *fae.TMemcacheData, _ int32) (bool, error) {
	return h.mcStore(pool, key, value, true)
}

func (h *testHandler) McGet(_ context.Context, _ *fae.Context, pool, key string) (*fae.TMemcacheData, error) {
	k, err := mcKey(pool, key)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.mc[k]
	if !ok {
		return nil, missed(key)
	}
	return &v, nil
}

func (h *testHandler) McDelete(_ context.Context, _ *fae.Context, pool, key string) (bool, error) {
	k, err := mcKey(pool, key)
	if err != nil {
		return false, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.mc[k]
	delete(h.mc, k)
	return ok, nil
}

func (h *testHandler) McIncrement(_ context.Context, _ *fae.Context, pool, key string, delta int64) (int64, error) {
	k, err := mcKey(pool, key)
	if err != nil {
		return 0, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.bound()
	v := h.mc[k]
	var n int64
	fmt.Sscan(string(v.Data), &n)
	n += delta
	v.Data = fmt.Appendf(nil, "%d", n)
	h.mc[k] = v
	return n, nil
}

func (h *testHandler) Lock(_ context.Context, c *fae.Context, key string, _ int32) (string, error) {
	if err := fail(key); err != nil {
		return "", err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, held := h.locks[key]; held {
		return "", nil
	}
	if len(h.locks) >= maxTestItems {
		return "", servantError("lock table full")
	}
	token := fmt.Sprintf("t%d", c.Rid)
	h.locks[key] = token
	return token, nil
}

func (h *testHandler) Unlock(_ context.Context, _ *fae.Context, key, token string) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.locks[key] != token || token == "" {
		return false, nil
	}
	delete(h.locks, key)
	return true, nil
}

func (h *testHandler) Dlog(_ context.Context, _ *fae.Context, ident, tag, json string) error {
	if ident == identBad {
		return servantError("dlog: bad ident %q", ident)
	}
	if err := fail(ident); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.bound()
	h.logs = append(h.logs, ident+" "+tag+" "+json)
	return nil
}

func (h *testHandler) KvdbSet(_ context.Context, _ *fae.Context, key, value []byte) (bool, error) {
	if err := fail(string(key)); err != nil {
		return false, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.bound()
	h.kv[string(key)] = value
	return true, nil
}

func (h *testHandler) KvdbGet(_ context.Context, _ *fae.Context, key []byte) ([]byte, error) {
	if err := fail(string(key)); err != nil {
		return nil, err
	}
	if string(key) == poolBad {
		return nil, servantError("kvdb: disk error")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.kv[string(key)]
	if !ok {
		return nil, missed(string(key))
	}
	return v, nil
}

func (h *testHandler) KvdbDel(_ context.Context, _ *fae.Context, key []byte) (bool, error) {
	if err := fail(string(key)); err != nil {
		return false, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.kv[string(key)]
	delete(h.kv, string(key))
	return ok, nil
}

var _ fae.FunServant = (*testHandler)(nil)
