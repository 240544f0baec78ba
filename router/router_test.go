package router

import (
	"strings"
	"sync"
	"testing"

	"github.com/fae-sidecar/fae/proto/memcache"
	"github.com/fae-sidecar/fae/upstream"
)

// fakePool answers gets from a map, at once or (async) from a goroutine.
type fakePool struct {
	name  string
	vals  map[string]string
	async bool
	fail  bool
	wg    *sync.WaitGroup
}

func (p *fakePool) reply(req *memcache.Request, out []byte) []byte {
	if p.fail {
		return append(out, "SERVER_ERROR down\r\n"...)
	}
	if !req.Cmd.IsRetrieval() {
		return append(out, p.name+"\r\n"...)
	}
	for _, k := range req.Keys {
		if v, ok := p.vals[string(k)]; ok {
			out = memcache.AppendValue(out, k, 0, []byte(v), 0, false)
		}
	}
	return append(out, memcache.ReplyEnd...)
}

func (p *fakePool) Serve(req *memcache.Request, out []byte, w upstream.Waiter) ([]byte, bool) {
	if !p.async {
		return p.reply(req, out), false
	}
	r := p.reply(req, nil)
	p.wg.Add(1)
	go func() { defer p.wg.Done(); w.Done(r) }()
	return out, true
}
func (p *fakePool) Stats(add func(string, uint64)) { add("curr_items", uint64(len(p.vals))) }
func (p *fakePool) Close() error                   { return nil }

type recorder struct {
	mu    sync.Mutex
	reply string
	n     int
}

func (r *recorder) Done(b []byte) { r.mu.Lock(); r.reply += string(b); r.n++; r.mu.Unlock() }

func get(keys ...string) *memcache.Request {
	r := &memcache.Request{Cmd: memcache.CmdGet}
	for _, k := range keys {
		r.Keys = append(r.Keys, []byte(k))
	}
	return r
}

func TestPickLongestPrefix(t *testing.T) {
	pools := map[string]upstream.Pool{
		"default": &fakePool{name: "default"},
		"u":       &fakePool{name: "u"},
		"uv":      &fakePool{name: "uv"},
	}
	r, err := New(pools, "default", []Route{{Prefix: "u:", Pool: "u"}, {Prefix: "u:vip:", Pool: "uv"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ key, pool string }{
		{key: "u:1", pool: "u"},
		{key: "u:vip:1", pool: "uv"},
		{key: "u", pool: "default"},
		{key: "x:1", pool: "default"},
	} {
		t.Run(tc.key, func(t *testing.T) {
			if got := r.Pick([]byte(tc.key)).(*pool).name; got != tc.pool {
				t.Errorf("got %s want %s", got, tc.pool)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(map[string]upstream.Pool{}, "default", nil); err == nil {
		t.Error("missing default pool accepted")
	}
	if _, err := New(map[string]upstream.Pool{"default": &fakePool{}}, "default", []Route{{Prefix: "a", Pool: "b"}}); err == nil {
		t.Error("route to unknown pool accepted")
	}
}

func TestSplitGet(t *testing.T) {
	for _, tc := range []struct {
		name        string
		async, fail bool
		keys        []string
		want        string
	}{
		{name: "sync", keys: []string{"a", "u:1", "b", "u:2", "a"},
			want: "VALUE a 0 1\r\nA\r\nVALUE u:1 0 2\r\nU1\r\nVALUE b 0 1\r\nB\r\nVALUE a 0 1\r\nA\r\nEND\r\n"},
		{name: "async", async: true, keys: []string{"u:2", "missing", "b"},
			want: "VALUE b 0 1\r\nB\r\nEND\r\n"},
		{name: "one pool fails", fail: true, keys: []string{"a", "u:1"},
			want: "VALUE a 0 1\r\nA\r\nEND\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var wg sync.WaitGroup
			def := &fakePool{name: "default", vals: map[string]string{"a": "A", "b": "B"}, async: tc.async, wg: &wg}
			u := &fakePool{name: "u", vals: map[string]string{"u:1": "U1"}, async: tc.async, fail: tc.fail, wg: &wg}
			r, err := New(map[string]upstream.Pool{"default": def, "u": u}, "default", []Route{{Prefix: "u:", Pool: "u"}})
			if err != nil {
				t.Fatal(err)
			}
			rec := &recorder{}
			out, async := r.Serve(get(tc.keys...), nil, rec)
			wg.Wait()
			got := string(out)
			if async {
				if rec.n != 1 {
					t.Fatalf("Done called %d times", rec.n)
				}
				got = rec.reply
			}
			if got != tc.want {
				t.Errorf("got %q want %q", got, tc.want)
			}
		})
	}
}

func TestSplitAllFail(t *testing.T) {
	def := &fakePool{name: "default", fail: true}
	u := &fakePool{name: "u", fail: true}
	r, _ := New(map[string]upstream.Pool{"default": def, "u": u}, "default", []Route{{Prefix: "u:", Pool: "u"}})
	out, _ := r.Serve(get("a", "u:1"), nil, &recorder{})
	if !strings.HasPrefix(string(out), "SERVER_ERROR") {
		t.Errorf("got %q", out)
	}
}

// parse parses one text-protocol request.
func parse(t testing.TB, in string) *memcache.Request {
	t.Helper()
	var p memcache.Parser
	req := &memcache.Request{}
	if _, err := p.Parse([]byte(in), req); err != nil {
		t.Fatalf("%q: %v", in, err)
	}
	return req
}

// A meta command's base64 key is routed by its decoded bytes.
func TestRouteBase64Key(t *testing.T) {
	pools := map[string]upstream.Pool{"default": &fakePool{name: "default"}, "u": &fakePool{name: "u"}}
	r, err := New(pools, "default", []Route{{Prefix: "u:", Pool: "u"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ in, pool string }{
		{in: "md dTox b\r\n", pool: "u"}, // u:1
		{in: "md dTox\r\n", pool: "default"},
		{in: "ms dTogMQ== 1 b\r\nv\r\n", pool: "u"}, // "u: 1"
		{in: "mg eDox b v\r\n", pool: "default"},    // x:1
	} {
		if out, _ := r.Serve(parse(t, tc.in), nil, nil); string(out) != tc.pool+"\r\n" {
			t.Errorf("%q went to %q, want %s", tc.in, out, tc.pool)
		}
	}
}

func TestRoute(t *testing.T) {
	pools := map[string]upstream.Pool{"default": &fakePool{}, "u": &fakePool{}, "uv": &fakePool{}}
	r, err := New(pools, "default", []Route{{Prefix: "u:", Pool: "u"}, {Prefix: "u:vip:", Pool: "uv"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ key, pool, prefix string }{
		{key: "u:1", pool: "u", prefix: "u:"},
		{key: "u:vip:1", pool: "uv", prefix: "u:vip:"},
		{key: "x", pool: "default", prefix: ""},
	} {
		if p, pre := r.Route([]byte(tc.key)); p != tc.pool || pre != tc.prefix {
			t.Errorf("Route(%q) = %q, %q; want %q, %q", tc.key, p, pre, tc.pool, tc.prefix)
		}
	}
}
