package mcbin

import (
	"bytes"
	"errors"
	"testing"
)

// parseCase is one input and what Parse must make of it.
type parseCase struct {
	name string
	in   []byte
	p    Parser
	// n and err are Parse's results; err is nil, ErrIncomplete or an
	// *Error compared by value.
	n   int
	err error
	req Request // compared when err is nil, without Extras
}

func okCase(name string, r raw, want Request) parseCase {
	in := r.bytes()
	want.Opcode, want.Opaque, want.Cas = r.op, r.opaque, r.cas
	want.Key, want.Value = []byte(r.key), []byte(r.value)
	return parseCase{name: name, in: in, n: len(in), req: want}
}

func errCase(name string, r raw, n int, e *Error) parseCase {
	return parseCase{name: name, in: r.bytes(), n: n, err: e}
}

var parseCases = []parseCase{
	okCase("get", pkt(OpGet, "", "Hello", ""), Request{}),
	okCase("getq", pkt(OpGetQ, "", "k", ""), Request{}),
	okCase("getk", pkt(OpGetK, "", "k", ""), Request{}),
	okCase("getkq", pkt(OpGetKQ, "", "k", ""), Request{}),
	okCase("set", pkt(OpSet, storeExt(0xdeadbeef, 7200), "Hello", "World"), Request{Flags: 0xdeadbeef, Exptime: 7200}),
	okCase("setq with cas", func() raw { r := pkt(OpSetQ, storeExt(1, 2), "k", "v"); r.cas = 42; return r }(), Request{Flags: 1, Exptime: 2}),
	okCase("add empty value", pkt(OpAdd, storeExt(0, 0), "k", ""), Request{}),
	okCase("replaceq", pkt(OpReplaceQ, storeExt(0, 0xffffffff), "k", "v"), Request{Exptime: 0xffffffff}),
	okCase("delete", pkt(OpDelete, "", "k", ""), Request{}),
	okCase("deleteq", pkt(OpDeleteQ, "", "k", ""), Request{}),
	okCase("increment", pkt(OpIncrement, arithExt(1, 0, 7200), "counter", ""), Request{Delta: 1, Exptime: 7200}),
	okCase("decrementq nocreate", pkt(OpDecrementQ, arithExt(5, 9, NoCreate), "c", ""), Request{Delta: 5, Initial: 9, Exptime: NoCreate}),
	okCase("quit", pkt(OpQuit, "", "", ""), Request{}),
	okCase("quitq", pkt(OpQuitQ, "", "", ""), Request{}),
	okCase("flush", pkt(OpFlush, "", "", ""), Request{}),
	okCase("flush delay", pkt(OpFlush, be32(7200), "", ""), Request{HasExptime: true, Exptime: 7200}),
	okCase("flushq zero delay", pkt(OpFlushQ, be32(0), "", ""), Request{HasExptime: true}),
	okCase("noop", pkt(OpNoop, "", "", ""), Request{}),
	okCase("version", pkt(OpVersion, "", "", ""), Request{}),
	okCase("append", pkt(OpAppend, "", "k", " world"), Request{}),
	okCase("prependq", pkt(OpPrependQ, "", "k", "hello "), Request{}),
	okCase("stat", pkt(OpStat, "", "", ""), Request{}),
	okCase("stat settings", pkt(OpStat, "", "settings", ""), Request{}),
	okCase("verbosity", pkt(OpVerbosity, be32(1), "", ""), Request{Level: 1}),
	okCase("touch", pkt(OpTouch, be32(10), "k", ""), Request{Exptime: 10}),
	okCase("gat", pkt(OpGAT, be32(10), "k", ""), Request{Exptime: 10}),
	okCase("gatq", pkt(OpGATQ, be32(10), "k", ""), Request{Exptime: 10}),
	okCase("gatk", pkt(OpGATK, be32(10), "k", ""), Request{Exptime: 10}),
	okCase("gatkq", pkt(OpGATKQ, be32(10), "k", ""), Request{Exptime: 10}),
	okCase("key 250", pkt(OpGet, "", string(bytes.Repeat([]byte{'a'}, 250)), ""), Request{}),
	okCase("binary key", pkt(OpGet, "", "a b\r\n\x00", ""), Request{}),

	{name: "empty", in: nil, n: 0, err: ErrIncomplete},
	{name: "short header", in: pkt(OpNoop, "", "", "").bytes()[:23], n: 0, err: ErrIncomplete},
	{name: "key not in yet", in: pkt(OpGet, "", "Hello", "").bytes()[:28], n: 0, err: ErrIncomplete},
	{name: "value not in yet", in: pkt(OpSet, storeExt(0, 0), "k", "value").bytes()[:37], n: 0, err: ErrIncomplete},
	{name: "bad magic", in: []byte("get k\r\n"), n: 7, err: &Error{Close: true}},
	{name: "response magic", in: func() []byte { r := pkt(OpNoop, "", "", ""); r.magic = MagicResponse; return r.bytes() }(), n: 24, err: &Error{Close: true}},
	errCase("key longer than body", func() raw { r := pkt(OpGet, "", "kkk", ""); r.bodyLen = 2; return r }(), 27, &Error{Status: StatusUnknownCommand, Close: true}),
	errCase("key 251", pkt(OpGet, "", string(bytes.Repeat([]byte{'a'}, 251)), ""), 275, &Error{Status: StatusInvalidArgs, Close: true}),
	errCase("unknown opcode", pkt(0x30, "", "", ""), 24, &Error{Status: StatusUnknownCommand}),
	errCase("unknown opcode with body", pkt(0x30, "ex", "key", "value"), 29, &Error{Status: StatusUnknownCommand, Swallow: 5}),
	errCase("sasl list mechs", pkt(0x20, "", "", ""), 24, &Error{Status: StatusUnknownCommand}),
	errCase("verbosity without extras", pkt(OpVerbosity, "", "", ""), 24, &Error{Status: StatusUnknownCommand}),
	errCase("get with extras", pkt(OpGet, "1234", "k", ""), 29, &Error{Status: StatusInvalidArgs, Close: true}),
	errCase("get without key", pkt(OpGet, "", "", ""), 24, &Error{Status: StatusInvalidArgs, Close: true}),
	errCase("get with value", pkt(OpGet, "", "k", "v"), 25, &Error{Status: StatusInvalidArgs, Close: true}),
	errCase("set without extras", pkt(OpSet, "", "k", "v"), 25, &Error{Status: StatusInvalidArgs, Close: true}),
	errCase("set without key", pkt(OpSet, storeExt(0, 0), "", "v"), 32, &Error{Status: StatusInvalidArgs, Close: true}),
	errCase("incr with value", pkt(OpIncrement, arithExt(1, 0, 0), "k", "v"), 45, &Error{Status: StatusInvalidArgs, Close: true}),
	errCase("noop with body", pkt(OpNoop, "", "", "x"), 24, &Error{Status: StatusInvalidArgs, Close: true}),
	errCase("flush with 3 extras", pkt(OpFlush, "abc", "", ""), 27, &Error{Status: StatusInvalidArgs, Close: true}),
	errCase("stat with value", pkt(OpStat, "", "items", "x"), 29, &Error{Status: StatusInvalidArgs, Close: true}),
	errCase("touch without extras", pkt(OpTouch, "", "k", ""), 25, &Error{Status: StatusInvalidArgs, Close: true}),
	errCase("append with extras", pkt(OpAppend, storeExt(0, 0), "k", "v"), 33, &Error{Status: StatusInvalidArgs, Close: true}),
	{name: "set too large", in: pkt(OpSet, storeExt(0, 0), "big", "").bytes(), p: Parser{MaxItemSize: 61}, n: 35, err: &Error{Status: StatusValueTooLarge}},
	{name: "set too large swallows", in: func() []byte {
		r := pkt(OpSetQ, storeExt(1, 0), "k", "")
		r.bodyLen = 8 + 1 + 1<<20
		return r.bytes()
	}(), n: 33, err: &Error{Status: StatusValueTooLarge, Swallow: 1 << 20}},
	{name: "append too large", in: pkt(OpAppend, "", "k", value100).bytes(), p: Parser{MaxItemSize: 100}, n: 25, err: &Error{Status: StatusValueTooLarge, Swallow: 100}},
	{name: "short key limit", in: pkt(OpGet, "", "123456789", "").bytes(), p: Parser{MaxKeyLen: 8}, n: 33, err: &Error{Status: StatusInvalidArgs, Close: true}},
}

func TestParse(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			var req Request
			n, err := tc.p.Parse(tc.in, &req)
			if n != tc.n || !sameErr(err, tc.err) {
				t.Fatalf("Parse = %d, %v; want %d, %v", n, err, tc.n, tc.err)
			}
			if err != nil {
				if len(tc.in) >= HeaderLen && tc.in[0] == MagicRequest && req.Opcode != Opcode(tc.in[1]) {
					t.Errorf("Opcode = %#x after error, want %#x", req.Opcode, tc.in[1])
				}
				return
			}
			req.Extras = nil
			if !equalRequest(&req, &tc.req) {
				t.Errorf("request\n got %+v\nwant %+v", req, tc.req)
			}
			// Trailing bytes change nothing.
			var again Request
			n2, err2 := tc.p.Parse(append(append([]byte{}, tc.in...), pkt(OpNoop, "", "", "").bytes()...), &again)
			again.Extras = nil
			if n2 != n || err2 != nil || !equalRequest(&again, &req) {
				t.Errorf("with a request after it: %d, %v, %+v", n2, err2, again)
			}
		})
	}
}

// TestParseIncremental feeds every valid case one byte at a time: each
// strict prefix waits, consuming nothing; once the header, extras and key
// are in, Request.Need is the packet's length.
func TestParseIncremental(t *testing.T) {
	var p Parser
	for _, tc := range parseCases {
		if tc.err != nil {
			continue
		}
		var req Request
		if _, err := p.Parse(tc.in, &req); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		head := HeaderLen + len(req.Extras) + len(req.Key)
		for i := 0; i < len(tc.in); i++ {
			if n, err := p.Parse(tc.in[:i], &req); n != 0 || err != ErrIncomplete {
				t.Fatalf("%s: Parse(first %d bytes) = %d, %v; want 0, ErrIncomplete", tc.name, i, n, err)
			}
			if want := len(tc.in) * b2i(i >= head); req.Need != want {
				t.Fatalf("%s: Parse(first %d bytes): Need %d, want %d", tc.name, i, req.Need, want)
			}
		}
	}
}

func TestRequestRoundTrip(t *testing.T) {
	var p Parser
	for _, tc := range parseCases {
		if tc.err != nil {
			continue
		}
		var req Request
		if _, err := p.Parse(tc.in, &req); err != nil {
			t.Fatal(err)
		}
		if out := AppendRequest(nil, &req); !bytes.Equal(out, tc.in) {
			t.Errorf("%s: AppendRequest(Parse(in))\n got %q\nwant %q", tc.name, out, tc.in)
		}
	}
}

func TestOpcodes(t *testing.T) {
	for _, tc := range []struct {
		op    Opcode
		name  string
		base  Opcode
		quiet bool
	}{
		{op: OpGetKQ, name: "getkq", base: OpGetK, quiet: true},
		{op: OpGATQ, name: "gatq", base: OpGAT, quiet: true},
		{op: OpIncrementQ, name: "incrementq", base: OpIncrement, quiet: true},
		{op: OpSet, name: "set", base: OpSet},
		{op: OpVerbosity, name: "verbosity", base: OpVerbosity},
		{op: 0x20, name: "", base: 0x20},
	} {
		if got := tc.op.String(); got != tc.name {
			t.Errorf("%#x.String() = %q, want %q", uint8(tc.op), got, tc.name)
		}
		if got := tc.op.Base(); got != tc.base {
			t.Errorf("%v.Base() = %v, want %v", tc.op, got, tc.base)
		}
		if got := tc.op.Quiet(); got != tc.quiet {
			t.Errorf("%v.Quiet() = %v, want %v", tc.op, got, tc.quiet)
		}
	}
}

func sameErr(got, want error) bool {
	if want == nil || got == nil {
		return got == want
	}
	var ge, we *Error
	if errors.As(want, &we) {
		return errors.As(got, &ge) && *ge == *we
	}
	return errors.Is(got, want)
}

func equalRequest(a, b *Request) bool {
	return a.Opcode == b.Opcode && a.DataType == b.DataType && a.VBucket == b.VBucket &&
		a.Opaque == b.Opaque && a.Cas == b.Cas && bytes.Equal(a.Key, b.Key) && bytes.Equal(a.Value, b.Value) &&
		bytes.Equal(a.Extras, b.Extras) && a.Flags == b.Flags && a.Exptime == b.Exptime &&
		a.HasExptime == b.HasExptime && a.Delta == b.Delta && a.Initial == b.Initial && a.Level == b.Level
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// OutOfMemory answers as memcached does a store it has no memory for:
// status 0x82 with its message, the whole packet swallowed.
func TestOutOfMemory(t *testing.T) {
	in := pkt(OpSetQ, storeExt(0, 0), "k", "value").bytes()
	var p Parser
	var req Request
	if _, err := p.Parse(in[:35], &req); err != ErrIncomplete || req.Need != len(in) {
		t.Fatalf("Parse: %v, Need %d; want ErrIncomplete, Need %d", err, req.Need, len(in))
	}
	want := Error{Status: StatusOutOfMemory, Swallow: len(in), Message: "Out of memory allocating item"}
	if e := OutOfMemory(&req); *e != want {
		t.Errorf("OutOfMemory = %+v, want %+v", *e, want)
	}
}
