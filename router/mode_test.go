package router

import (
	"testing"

	"github.com/fae-sidecar/fae/upstream"
)

// A read-only pool refuses every request that may change what it stores
// and serves the others; the default pool and routed pools each have their
// own mode.
func TestReadOnly(t *testing.T) {
	pools := map[string]upstream.Pool{
		"default": &fakePool{name: "default", vals: map[string]string{"a": "1"}},
		"u":       &fakePool{name: "u", vals: map[string]string{"u:1": "2"}},
	}
	r, err := New(pools, "default", []Route{{Prefix: "u:", Pool: "u"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SetMode("default", ReadOnly); err != nil {
		t.Fatal(err)
	}
	const refused = replyReadOnly
	for _, tc := range []struct {
		name, req, want string
	}{
		{name: "get", req: "get a\r\n", want: "VALUE a 0 1\r\n1\r\nEND\r\n"},
		{name: "gets", req: "gets a\r\n", want: "VALUE a 0 1\r\n1\r\nEND\r\n"},
		{name: "mg", req: "mg a v\r\n", want: "default\r\n"},
		{name: "set", req: "set a 0 0 1\r\nx\r\n", want: refused},
		{name: "set noreply", req: "set a 0 0 1 noreply\r\nx\r\n", want: ""},
		{name: "add", req: "add a 0 0 1\r\nx\r\n", want: refused},
		{name: "cas", req: "cas a 0 0 1 5\r\nx\r\n", want: refused},
		{name: "append", req: "append a 0 0 1\r\nx\r\n", want: refused},
		{name: "delete", req: "delete a\r\n", want: refused},
		{name: "incr", req: "incr a 1\r\n", want: refused},
		{name: "decr", req: "decr a 1\r\n", want: refused},
		{name: "touch", req: "touch a 10\r\n", want: refused},
		{name: "gat", req: "gat 10 a\r\n", want: refused},
		{name: "flush_all", req: "flush_all\r\n", want: refused},
		{name: "ms", req: "ms a 1\r\nx\r\n", want: refused},
		{name: "ms quiet", req: "ms a 1 q\r\nx\r\n", want: refused},
		{name: "md", req: "md a\r\n", want: refused},
		{name: "ma", req: "ma a\r\n", want: refused},
		{name: "mg vivify", req: "mg a N30 v\r\n", want: refused},
		{name: "mg touch", req: "mg a T30 v\r\n", want: refused},
		{name: "other pool set", req: "set u:1 0 0 1\r\nx\r\n", want: "u\r\n"},
		{name: "other pool get", req: "get u:1\r\n", want: "VALUE u:1 0 1\r\n2\r\nEND\r\n"},
		{name: "split get", req: "get a u:1\r\n", want: "VALUE a 0 1\r\n1\r\nVALUE u:1 0 1\r\n2\r\nEND\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, async := r.Serve(parse(t, tc.req), nil, &recorder{})
			if async || string(out) != tc.want {
				t.Errorf("%q: %q (async %v), want %q", tc.req, out, async, tc.want)
			}
		})
	}
	// The named pool (Thrift's mc_* with a pool) honours the mode too.
	if out, _ := r.Pool("default").Serve(parse(t, "set a 0 0 1\r\nx\r\n"), nil, &recorder{}); string(out) != refused {
		t.Errorf("set through Pool(default): %q", out)
	}
	var n uint64
	r.Pool("default").Stats(func(name string, v uint64) {
		if name == "readonly_refused" {
			n = v
		}
	})
	if n != 18 {
		t.Errorf("readonly_refused %d, want 18", n)
	}

	if err := r.SetMode("default", Normal); err != nil {
		t.Fatal(err)
	}
	if out, _ := r.Serve(parse(t, "set a 0 0 1\r\nx\r\n"), nil, &recorder{}); string(out) != "default\r\n" {
		t.Errorf("set after back to normal: %q", out)
	}
	if m, ok := r.Mode("default"); !ok || m != Normal {
		t.Errorf("Mode(default) = %v %v", m, ok)
	}
	if err := r.SetMode("nope", ReadOnly); err == nil {
		t.Error("SetMode of an unknown pool accepted")
	}
}

func TestParseMode(t *testing.T) {
	for _, m := range []Mode{Normal, ReadOnly} {
		got, err := ParseMode(m.String())
		if err != nil || got != m {
			t.Errorf("ParseMode(%q) = %v, %v", m, got, err)
		}
	}
	if _, err := ParseMode("read-only"); err == nil {
		t.Error("ParseMode(read-only) accepted")
	}
}

// The mode check allocates nothing, in either mode.
func TestModeAllocs(t *testing.T) {
	r, err := New(map[string]upstream.Pool{"default": &fakePool{name: "default"}}, "default", nil)
	if err != nil {
		t.Fatal(err)
	}
	set, get := parse(t, "set a 0 0 1\r\nx\r\n"), parse(t, "get a\r\n")
	out := make([]byte, 0, 128)
	w := &recorder{}
	for _, m := range []Mode{Normal, ReadOnly} {
		_ = r.SetMode("default", m)
		allocs := testing.AllocsPerRun(1000, func() {
			r.Serve(set, out, w)
			r.Serve(get, out, w)
		})
		if allocs != 0 {
			t.Errorf("%v: %v allocs per set and get, want 0", m, allocs)
		}
	}
}

// BenchmarkServeMode compares a set served by a pool directly with one
// served through the router in each mode.
func BenchmarkServeMode(b *testing.B) {
	fp := &fakePool{name: "default"}
	r, _ := New(map[string]upstream.Pool{"default": fp}, "default", nil)
	set := parse(b, "set a 0 0 1\r\nx\r\n")
	out := make([]byte, 0, 128)
	w := &recorder{}
	b.Run("pool", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			fp.Serve(set, out, w)
		}
	})
	for _, m := range []Mode{Normal, ReadOnly} {
		_ = r.SetMode("default", m)
		b.Run(m.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r.Serve(set, out, w)
			}
		})
	}
}
