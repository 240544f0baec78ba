package memcache

import (
	"bytes"
	"encoding/base64"
	"math"
	"slices"
	"strings"
	"testing"
)

// metaFlags builds the MetaFlags Parse should produce for tokens; set
// lists the flag letters, fill sets the values.
func metaFlags(tokens, set string, fill func(m *MetaFlags)) MetaFlags {
	m := MetaFlags{Tokens: []byte(tokens)}
	for i := range len(set) {
		m.set(set[i])
	}
	if fill != nil {
		fill(m.ptr())
	}
	return m
}

func (m *MetaFlags) ptr() *MetaFlags { return m }

func equalMeta(a, b *MetaFlags) bool {
	return a.Set == b.Set && sameTokens(a.Tokens, b.Tokens) && a.TTL == b.TTL && a.Vivify == b.Vivify &&
		a.Recache == b.Recache && a.Flags == b.Flags && a.Cas == b.Cas && a.Delta == b.Delta &&
		a.Initial == b.Initial && a.Mode == b.Mode && a.Fence == b.Fence
}

// sameTokens compares flag tokens, not the spaces between them.
func sameTokens(a, b []byte) bool {
	return slices.EqualFunc(bytes.Fields(a), bytes.Fields(b), bytes.Equal)
}

// metaCases were checked against memcached 1.6.18 (the replies of the
// refused ones are its exact lines; see also TestMetaDifferential in
// upstream/local, which compares whole replies with the real server).
var metaCases = []parseCase{
	{name: "mg bare", in: "mg k\r\n", req: &Request{Cmd: CmdMetaGet, Keys: keys("k"), Meta: metaFlags("", "", nil)}},
	{name: "mg flags", in: "mg  k  v  t c O12 k q \r\n", req: &Request{Cmd: CmdMetaGet, Keys: keys("k"),
		Meta: metaFlags("v t c O12 k q", "vtcOkq", nil)}},
	{name: "mg T N R", in: "mg k T30 N-1 R10\r\n", req: &Request{Cmd: CmdMetaGet, Keys: keys("k"),
		Meta: metaFlags("T30 N-1 R10", "TNR", func(m *MetaFlags) { m.TTL, m.Vivify, m.Recache = 30, -1, 10 })}},
	{name: "mg base64", in: "mg Zm9v b k\r\n", req: &Request{Cmd: CmdMetaGet, Keys: keys("Zm9v"), Meta: metaFlags("b k", "bk", nil)}},
	{name: "mg bad base64", in: "mg Zm9 b\r\n", err: &Error{Reply: errMetaDecode}},
	{name: "mg no key", in: "mg\r\n", err: errUnk},
	{name: "mg key too long", in: "mg " + long251 + " v\r\n", err: errFmt},
	{name: "mg dup", in: "mg k v v\r\n", err: &Error{Reply: errMetaDup}},
	{name: "mg invalid", in: "mg k zz\r\n", err: &Error{Reply: errMetaInvalid}},
	{name: "mg E (not in 1.6.18)", in: "mg k E5\r\n", err: &Error{Reply: errMetaInvalid}},
	{name: "mg bad T", in: "mg k Tabc\r\n", err: &Error{Reply: errMetaBadToken}},
	{name: "mg bare N", in: "mg k N\r\n", err: &Error{Reply: errMetaBadToken}},
	{name: "mg bad then invalid", in: "mg k Tx zz\r\n", err: &Error{Reply: errMetaInvalid}},
	{name: "mg opaque too long", in: "mg k O" + strings.Repeat("1", 32) + "\r\n", err: &Error{Reply: errMetaOpaque}},
	{name: "mg opaque at limit", in: "mg k O" + strings.Repeat("1", 31) + "\r\n", req: &Request{Cmd: CmdMetaGet, Keys: keys("k"),
		Meta: metaFlags("O"+strings.Repeat("1", 31), "O", nil)}},
	{name: "mg too many", in: "mg k a b c d e f g h i j k l m n o p q r s\r\n", err: &Error{Reply: errMetaTooLongMg}},
	{name: "mg 18 flags", in: "mg k s t c f v O1 k q h l u P L T1 N1 R1 I b\r\n", err: &Error{Reply: errMetaTooLongMg}},
	{name: "mg 17 flags", in: "mg Zm9v s t c f v O1 k q h l u P L T1 N1 R1 b\r\n", req: &Request{Cmd: CmdMetaGet, Keys: keys("Zm9v"),
		Meta: metaFlags("s t c f v O1 k q h l u P L T1 N1 R1 b", "stcfvOkqhluPLTNRb",
			func(m *MetaFlags) { m.TTL, m.Vivify, m.Recache = 1, 1, 1 })}},
	{name: "ms", in: "ms k 3 T5 F7 c\r\nabc\r\n", req: &Request{Cmd: CmdMetaSet, Keys: keys("k"), Data: []byte("abc"),
		Meta: metaFlags("T5 F7 c", "TFc", func(m *MetaFlags) { m.TTL, m.Flags = 5, 7 })}},
	{name: "ms modes", in: "ms k 1 MA C9 I q\r\nx\r\n", req: &Request{Cmd: CmdMetaSet, Keys: keys("k"), Data: []byte("x"),
		Meta: metaFlags("MA C9 I q", "MCIq", func(m *MetaFlags) { m.Mode, m.Cas = 'A', 9 })}},
	{name: "ms incomplete", in: "ms k 3\r\nab", incomplete: true},
	{name: "ms no size", in: "ms k\r\n", err: errFmt},
	{name: "ms bad size", in: "ms k abc\r\nx\r\n", n: 10, err: errFmt},
	{name: "ms negative size", in: "ms k -1\r\n", err: errFmt},
	{name: "ms bad mode swallows", in: "ms k 3 MX\r\nabc\r\n", n: 11, err: &Error{Reply: errMetaModeMs, Swallow: 5}},
	{name: "ms bad F swallows", in: "ms k 3 F-1\r\nabc\r\n", n: 12, err: &Error{Reply: errBadFormat, Swallow: 5}},
	{name: "ms mode length", in: "ms k 3 MSS\r\nabc\r\n", n: 12, err: &Error{Reply: errMetaModeLen, Swallow: 5}},
	{name: "ms bad chunk even quiet", in: "ms k 2 q\r\nabcd\r\n", n: 14, err: &Error{Reply: errBadChunk}},
	{name: "ms too large", in: "ms k 2000000\r\n", err: &Error{Reply: errTooLarge, Swallow: 2000002},
		req: &Request{Cmd: CmdSet, Keys: keys("k"), Meta: metaFlags("", "", nil)}},
	{name: "ms too many", in: "ms k 1 a b c d e f g h i j k l m n o p q r\r\n", err: &Error{Reply: errMetaTooLong}},
	{name: "md", in: "md k q I T30 C5 k O1\r\n", req: &Request{Cmd: CmdMetaDelete, Keys: keys("k"),
		Meta: metaFlags("q I T30 C5 k O1", "qITCkO", func(m *MetaFlags) { m.TTL, m.Cas = 30, 5 })}},
	{name: "md bad flag", in: "md k bar\r\n", err: &Error{Reply: errMetaInvalidDup}},
	{name: "md bad C", in: "md k Cx\r\n", err: &Error{Reply: errMetaInvalidDup}},
	{name: "md none", in: "md\r\n", err: errUnk},
	{name: "ma defaults", in: "ma k\r\n", req: &Request{Cmd: CmdMetaArith, Keys: keys("k"),
		Meta: metaFlags("", "", func(m *MetaFlags) { m.Delta = 1 })}},
	{name: "ma all", in: "ma k MD D5 J9 N0 v\r\n", req: &Request{Cmd: CmdMetaArith, Keys: keys("k"),
		Meta: metaFlags("MD D5 J9 N0 v", "MDJNv", func(m *MetaFlags) { m.Mode, m.Delta, m.Initial = 'D', 5, 9 })}},
	{name: "ma bad mode", in: "ma k MX\r\n", err: &Error{Reply: errMetaModeMa}},
	{name: "ma bad delta", in: "ma k D18446744073709551616\r\n", err: &Error{Reply: errMetaInvalidDup}},
	{name: "ma dup", in: "ma k MI MD\r\n", err: &Error{Reply: errMetaInvalidDup}},
	{name: "mn", in: "mn\r\n", req: &Request{Cmd: CmdMetaNoop}},
	{name: "mn args", in: "mn foo bar\r\n", req: &Request{Cmd: CmdMetaNoop}},
	{name: "me", in: "me k\r\n", req: &Request{Cmd: CmdMetaDebug, Keys: keys("k")}},
	{name: "me b", in: "me Zm9v b\r\n", req: &Request{Cmd: CmdMetaDebug, Keys: keys("Zm9v"), Meta: metaFlags("b", "b", nil)}},
	{name: "me bad b", in: "me kkk b\r\n", err: errFmt},
	{name: "me none", in: "me\r\n", err: errFmt},
	{name: "mx", in: "mx k\r\n", err: errUnk},
}

func TestMetaAppendRequest(t *testing.T) {
	tests := []struct{ in, want, loud string }{
		{"mg  k v  q O1\r\n", "mg k v q O1\r\n", "mg k v O1\r\n"},
		{"ms k 2 q T5\r\nab\r\n", "ms k 2 q T5\r\nab\r\n", "ms k 2 T5\r\nab\r\n"},
		{"md Zm9v b q\r\n", "md Zm9v b q\r\n", "md Zm9v b\r\n"},
		{"ma k q v\r\n", "ma k q v\r\n", "ma k v\r\n"},
		{"ma k q N0 J4\r\n", "ma k q N0 J4\r\n", "ma k q N0 J4\r\nmn\r\n"},
		{"mn\r\n", "mn\r\n", "mn\r\n"},
		{"me k\r\n", "me k\r\n", "me k\r\n"},
	}
	var p Parser
	for _, tc := range tests {
		var req Request
		if _, err := p.Parse([]byte(tc.in), &req); err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		if got := AppendRequest(nil, &req); string(got) != tc.want {
			t.Errorf("AppendRequest(%q) = %q, want %q", tc.in, got, tc.want)
		}
		req.Meta = req.Meta.Loud(req.Cmd)
		if got := AppendRequest(nil, &req); string(got) != tc.loud {
			t.Errorf("loud AppendRequest(%q) = %q, want %q", tc.in, got, tc.loud)
		}
	}
}

// A meta request built with AddFlag, AddMode and AddValue is the one
// Parse reads back from its encoding.
func TestMetaBuild(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cmd   Command
		key   string
		data  string
		build func(m *MetaFlags)
		want  string
	}{
		{name: "ms", cmd: CmdMetaSet, key: "k", data: "v", build: func(m *MetaFlags) {
			m.AddFlag('c')
			m.AddValue('F', math.MaxUint32)
			m.AddValue('T', math.MaxInt32)
			m.AddMode('S')
			m.AddValue('C', math.MaxUint64)
		}, want: "ms k 1 c F4294967295 T2147483647 MS C18446744073709551615\r\nv\r\n"},
		{name: "ma", cmd: CmdMetaArith, key: "YSBi", build: func(m *MetaFlags) {
			m.AddFlag('b')
			m.AddFlag('c')
			m.AddFlag('v')
			m.AddMode('D')
			m.AddValue('D', 3)
			m.AddValue('N', 60)
			m.AddValue('J', 7)
		}, want: "ma YSBi b c v MD D3 N60 J7\r\n"},
		{name: "mg", cmd: CmdMetaGet, key: "k", build: func(m *MetaFlags) {
			m.AddFlag('f')
			m.AddValue('T', 0)
			m.AddValue('R', 5)
		}, want: "mg k f T0 R5\r\n"},
		{name: "md", cmd: CmdMetaDelete, key: "k", build: func(m *MetaFlags) { m.AddValue('C', 12) }, want: "md k C12\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf [128]byte
			req := Request{Cmd: tc.cmd, Keys: keys(tc.key), Meta: MetaFlags{Tokens: buf[:0]}}
			if tc.data != "" {
				req.Data = []byte(tc.data)
			}
			tc.build(&req.Meta)
			enc := AppendRequest(nil, &req)
			if string(enc) != tc.want {
				t.Fatalf("built %q, want %q", enc, tc.want)
			}
			var p Parser
			var back Request
			if _, err := p.Parse(enc, &back); err != nil {
				t.Fatalf("Parse(%q): %v", enc, err)
			}
			if !equalMeta(&back.Meta, &req.Meta) {
				t.Errorf("parsed back %+v, built %+v", back.Meta, req.Meta)
			}
			if &req.Meta.Tokens[0] != &buf[0] {
				t.Errorf("Tokens left the caller's buffer")
			}
		})
	}
}

func TestItemKey(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		want    string
		decoded bool
	}{
		{name: "plain", in: "mg a v\r\n", want: "a"},
		{name: "base64", in: "ms YSBi 1 b\r\nv\r\n", want: "a b", decoded: true},
		{name: "base64 control byte", in: "md AWs= b\r\n", want: "\x01k", decoded: true},
		{name: "classic", in: "get Zm9v\r\n", want: "Zm9v"},
		{name: "longest", in: "mg " + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{' '}, MaxMetaKeyBytes)) + " b\r\n",
			want: strings.Repeat(" ", MaxMetaKeyBytes), decoded: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p Parser
			var req Request
			if _, err := p.Parse([]byte(tc.in), &req); err != nil {
				t.Fatal(err)
			}
			var buf [MaxMetaKey]byte
			if k, dec := req.ItemKey(buf[:]); string(k) != tc.want || dec != tc.decoded {
				t.Errorf("ItemKey = %q, %v; want %q, %v", k, dec, tc.want, tc.decoded)
			}
		})
	}
	// One byte more no longer fits memcached's key limit once encoded.
	long := "mg " + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{' '}, MaxMetaKeyBytes+1)) + " b\r\n"
	var p Parser
	var req Request
	if _, err := p.Parse([]byte(long), &req); err == nil {
		t.Errorf("a base64 key of %d bytes parsed", MaxMetaKeyBytes+1)
	}
}

func TestMetaQuietDrop(t *testing.T) {
	tests := []struct {
		in, reply string
		drop      bool
	}{
		{"mg k q\r\n", "EN\r\n", true},
		{"mg k q\r\n", "HD\r\n", false},
		{"mg k\r\n", "EN\r\n", false},
		{"ms k 1 q\r\na\r\n", "HD\r\n", true},
		{"ms k 1 q\r\na\r\n", "NS\r\n", false},
		{"md k q\r\n", "HD\r\n", true},
		{"md k q\r\n", "NF\r\n", false},
		{"ma k q v\r\n", "VA 1\r\n1\r\n", true},
		{"ma k q\r\n", "NF\r\n", false},
		{"ma k q\r\n", "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n", false},
	}
	var p Parser
	for _, tc := range tests {
		var req Request
		if _, err := p.Parse([]byte(tc.in), &req); err != nil {
			t.Fatal(err)
		}
		if got := MetaQuietDrop(&req, []byte(tc.reply)); got != tc.drop {
			t.Errorf("MetaQuietDrop(%q, %q) = %v", tc.in, tc.reply, got)
		}
		if got := MetaQuietDropCode(req.Cmd, []byte(tc.reply)); got != tc.drop && req.Meta.Quiet() {
			t.Errorf("MetaQuietDropCode(%q, %q) = %v", tc.in, tc.reply, got)
		}
	}
}

func TestMetaCopyTo(t *testing.T) {
	var p Parser
	var req, dst Request
	in := []byte("ms k 2 T5 q\r\nab\r\n")
	if _, err := p.Parse(in, &req); err != nil {
		t.Fatal(err)
	}
	_ = req.CopyTo(&dst, nil)
	clear(in)
	if string(AppendRequest(nil, &dst)) != "ms k 2 T5 q\r\nab\r\n" {
		t.Fatalf("copy = %q", AppendRequest(nil, &dst))
	}
}

func TestMetaParseAllocs(t *testing.T) {
	for _, in := range []string{
		"mg key:0123456789 v t c f k s O12345 q\r\n",
		"ms key:0123456789 5 T60 F3 MS C12 I q\r\nhello\r\n",
		"ma key:0123456789 N0 J5 D3 MD v\r\n",
		"mg Zm9vYmFy b v k\r\n",
	} {
		var p Parser
		var req Request
		b := []byte(in)
		if _, err := p.Parse(b, &req); err != nil {
			t.Fatal(err)
		}
		out := make([]byte, 0, 256)
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := p.Parse(b, &req); err != nil {
				t.Fatal(err)
			}
			out = AppendRequest(out[:0], &req)
		})
		if allocs != 0 {
			t.Errorf("%q: %v allocs per Parse+AppendRequest, want 0", in, allocs)
		}
	}
}
