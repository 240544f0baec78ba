package totext

import (
	"bytes"
	"encoding/binary"
	"math"
	"strings"
	"testing"

	"github.com/fae-sidecar/fae/proto/mcbin"
	"github.com/fae-sidecar/fae/proto/memcache"
)

// translate runs one binary request's translation against a text reply.
func translate(r mcbin.Request, text string) []byte {
	var tr Translation
	tr.Translate(&r)
	return tr.AppendResponse(nil, []byte(text))
}

func TestTranslateRequest(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  mcbin.Request
		want string // the text request
	}{
		{name: "get", req: mcbin.Request{Opcode: mcbin.OpGetQ, Key: []byte("k")}, want: "gets k\r\n"},
		{name: "getk", req: mcbin.Request{Opcode: mcbin.OpGetK, Key: []byte("k")}, want: "gets k\r\n"},
		{name: "touch", req: mcbin.Request{Opcode: mcbin.OpTouch, Key: []byte("k"), Exptime: 9}, want: "gats 9 k\r\n"},
		{name: "gatkq", req: mcbin.Request{Opcode: mcbin.OpGATKQ, Key: []byte("k"), Exptime: 9}, want: "gats 9 k\r\n"},
		{name: "get spaced key", req: mcbin.Request{Opcode: mcbin.OpGetK, Key: []byte("a b")}, want: "mg YSBi b v f c\r\n"},
		{name: "gat control byte", req: mcbin.Request{Opcode: mcbin.OpGAT, Key: []byte("\x01"), Exptime: 9},
			want: "mg AQ== b v f c T9\r\n"},
		{name: "touch spaced key", req: mcbin.Request{Opcode: mcbin.OpTouch, Key: []byte("a b"), Exptime: 0xffffffff},
			want: "mg YSBi b f c T2147483647\r\n"},
		{name: "set", req: mcbin.Request{Opcode: mcbin.OpSetQ, Key: []byte("k"), Flags: 5, Exptime: 0xffffffff, Value: []byte("v")},
			want: "ms k 1 c F5 T2147483647 MS\r\nv\r\n"},
		{name: "add", req: mcbin.Request{Opcode: mcbin.OpAdd, Key: []byte("k"), Value: []byte("v")}, want: "ms k 1 c F0 T0 ME\r\nv\r\n"},
		{name: "replace", req: mcbin.Request{Opcode: mcbin.OpReplaceQ, Key: []byte("k"), Exptime: 60, Value: []byte("v")},
			want: "ms k 1 c F0 T60 MR\r\nv\r\n"},
		{name: "add with cas", req: mcbin.Request{Opcode: mcbin.OpAdd, Key: []byte("k"), Cas: 77, Value: []byte("v")},
			want: "ms k 1 c F0 T0 MS C77\r\nv\r\n"},
		{name: "set spaced key", req: mcbin.Request{Opcode: mcbin.OpSet, Key: []byte("a b"), Value: []byte("v")},
			want: "ms YSBi 1 b c F0 T0 MS\r\nv\r\n"},
		{name: "append", req: mcbin.Request{Opcode: mcbin.OpAppend, Key: []byte("k"), Value: []byte("v")}, want: "ms k 1 c MA\r\nv\r\n"},
		{name: "prepend with cas", req: mcbin.Request{Opcode: mcbin.OpPrependQ, Key: []byte("k"), Cas: 3, Value: []byte("v")},
			want: "ms k 1 c MP C3\r\nv\r\n"},
		{name: "delete", req: mcbin.Request{Opcode: mcbin.OpDeleteQ, Key: []byte("k")}, want: "md k\r\n"},
		{name: "delete with cas", req: mcbin.Request{Opcode: mcbin.OpDelete, Key: []byte("k"), Cas: 12}, want: "md k C12\r\n"},
		{name: "increment", req: mcbin.Request{Opcode: mcbin.OpIncrement, Key: []byte("k"), Delta: 3, Initial: 1, Exptime: 60},
			want: "ma k c v MI D3 N60 J1\r\n"},
		{name: "decrement no create", req: mcbin.Request{Opcode: mcbin.OpDecrementQ, Key: []byte("k"), Delta: 3, Initial: 1,
			Exptime: mcbin.NoCreate}, want: "ma k c v MD D3\r\n"},
		{name: "increment widest", req: mcbin.Request{Opcode: mcbin.OpIncrement, Key: []byte("a b"), Delta: math.MaxUint64,
			Initial: math.MaxUint64, Exptime: math.MaxInt32, Cas: math.MaxUint64},
			want: "ma YSBi b c v MI D18446744073709551615 N2147483647 J18446744073709551615 C18446744073709551615\r\n"},
		{name: "flush", req: mcbin.Request{Opcode: mcbin.OpFlushQ}, want: "flush_all\r\n"},
		{name: "flush delay", req: mcbin.Request{Opcode: mcbin.OpFlush, HasExptime: true, Exptime: 60}, want: "flush_all 60\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tr Translation
			tr.Translate(&tc.req)
			if got := memcache.AppendRequest(nil, &tr.Req); string(got) != tc.want {
				t.Errorf("text request %q, want %q", got, tc.want)
			}
			if m := &tr.Req.Meta; len(m.Tokens) > 0 && &m.Tokens[0] != &tr.tokens[0] {
				t.Errorf("flag tokens outgrew their buffer")
			}
		})
	}
}

// The unlink that follows a set refused as too large answers nobody.
func TestTranslateUnlink(t *testing.T) {
	for key, want := range map[string]string{"k": "delete k noreply\r\n", "a b": "md YSBi b\r\n"} {
		var tr Translation
		tr.Unlink([]byte(key))
		if got := memcache.AppendRequest(nil, &tr.Req); string(got) != want || !tr.Req.NoReply {
			t.Errorf("unlink %q: %q (NoReply %v), want %q", key, got, tr.Req.NoReply, want)
		}
	}
}

// The requests the translation builds are the ones the parser reads back
// from their encoding: the embedded store, served the request itself,
// sees what memcached sees.
func TestTranslateParsesBack(t *testing.T) {
	for _, r := range []mcbin.Request{
		{Opcode: mcbin.OpGAT, Key: []byte("a b"), Exptime: 9},
		{Opcode: mcbin.OpSet, Key: []byte("k"), Flags: 7, Exptime: 3600, Cas: 5, Value: []byte("v")},
		{Opcode: mcbin.OpPrepend, Key: []byte("\x00"), Cas: 5, Value: []byte("v")},
		{Opcode: mcbin.OpDelete, Key: []byte("k"), Cas: 5},
		{Opcode: mcbin.OpDecrement, Key: []byte("k k"), Delta: 2, Initial: 9, Exptime: 0, Cas: 4},
	} {
		var tr Translation
		tr.Translate(&r)
		enc := memcache.AppendRequest(nil, &tr.Req)
		var p memcache.Parser
		var back memcache.Request
		if _, err := p.Parse(enc, &back); err != nil {
			t.Fatalf("%q: %v", enc, err)
		}
		m, b := &tr.Req.Meta, &back.Meta
		if m.Set != b.Set || string(m.Tokens) != string(b.Tokens) || m.TTL != b.TTL || m.Vivify != b.Vivify ||
			m.Flags != b.Flags || m.Cas != b.Cas || m.Delta != b.Delta || m.Initial != b.Initial || m.Mode != b.Mode {
			t.Errorf("%q parses back as %+v, built %+v", enc, *b, *m)
		}
		var kb1, kb2 [memcache.MaxMetaKey]byte
		k1, _ := tr.Req.ItemKey(kb1[:])
		k2, _ := back.ItemKey(kb2[:])
		if !bytes.Equal(k1, r.Key) || !bytes.Equal(k2, r.Key) {
			t.Errorf("%q: item keys %q and %q, want %q", enc, k1, k2, r.Key)
		}
	}
}

func TestTranslateReply(t *testing.T) {
	resp := func(r mcbin.Response) string { return string(mcbin.AppendResponse(nil, &r)) }
	miss := func(op mcbin.Opcode, st mcbin.Status) string { return string(mcbin.AppendError(nil, op, 1, st)) }
	withMsg := func(op mcbin.Opcode, st mcbin.Status, msg string) string {
		return string(mcbin.AppendErrorMessage(nil, op, 1, st, []byte(msg)))
	}
	counter := func(op mcbin.Opcode, cas, v uint64) string {
		return resp(mcbin.Response{Opcode: op, Opaque: 1, Cas: cas, Value: binary.BigEndian.AppendUint64(nil, v)})
	}
	flags := []byte{0, 0, 0, 5}
	spaced := []byte("a b")
	unexpected := "unexpected reply from upstream"
	for _, tc := range []struct {
		name string
		req  mcbin.Request
		text string
		want string
	}{
		{name: "getk hit", req: mcbin.Request{Opcode: mcbin.OpGetK, Key: []byte("k")}, text: "VALUE k 5 2 99\r\nab\r\nEND\r\n",
			want: resp(mcbin.Response{Opcode: mcbin.OpGetK, Opaque: 1, Cas: 99, Extras: flags, Key: []byte("k"), Value: []byte("ab")})},
		{name: "get hit without cas", req: mcbin.Request{Opcode: mcbin.OpGet, Key: []byte("k")}, text: "VALUE k 5 2\r\nab\r\nEND\r\n",
			want: resp(mcbin.Response{Opcode: mcbin.OpGet, Opaque: 1, Extras: flags, Value: []byte("ab")})},
		{name: "touch hit", req: mcbin.Request{Opcode: mcbin.OpTouch, Key: []byte("k")}, text: "VALUE k 5 2 99\r\nab\r\nEND\r\n",
			want: resp(mcbin.Response{Opcode: mcbin.OpTouch, Opaque: 1, Cas: 99, Extras: flags})},
		{name: "getq miss", req: mcbin.Request{Opcode: mcbin.OpGetQ, Key: []byte("k")}, text: "END\r\n", want: ""},
		{name: "gatk miss", req: mcbin.Request{Opcode: mcbin.OpGATK, Key: []byte("k")}, text: "END\r\n",
			want: string(mcbin.AppendKeyMiss(nil, mcbin.OpGATK, 1, []byte("k")))},
		{name: "getq upstream error", req: mcbin.Request{Opcode: mcbin.OpGetQ, Key: []byte("k")},
			text: "SERVER_ERROR upstream 10.0.0.1:11211 timeout\r\n",
			want: withMsg(mcbin.OpGetQ, mcbin.StatusInternalError, "upstream 10.0.0.1:11211 timeout")},
		{name: "mg getk hit", req: mcbin.Request{Opcode: mcbin.OpGetK, Key: spaced}, text: "VA 2 f5 c99\r\nab\r\n",
			want: resp(mcbin.Response{Opcode: mcbin.OpGetK, Opaque: 1, Cas: 99, Extras: flags, Key: spaced, Value: []byte("ab")})},
		{name: "mg touch hit", req: mcbin.Request{Opcode: mcbin.OpTouch, Key: spaced}, text: "HD f5 c99\r\n",
			want: resp(mcbin.Response{Opcode: mcbin.OpTouch, Opaque: 1, Cas: 99, Extras: flags})},
		{name: "mg getkq miss", req: mcbin.Request{Opcode: mcbin.OpGetKQ, Key: spaced}, text: "EN\r\n", want: ""},
		{name: "mg gat miss", req: mcbin.Request{Opcode: mcbin.OpGAT, Key: spaced}, text: "EN\r\n",
			want: miss(mcbin.OpGAT, mcbin.StatusKeyNotFound)},
		{name: "mg short value", req: mcbin.Request{Opcode: mcbin.OpGet, Key: spaced}, text: "VA 3 f5 c99\r\nab\r\n",
			want: withMsg(mcbin.OpGet, mcbin.StatusInternalError, unexpected)},
		{name: "mg bad flags", req: mcbin.Request{Opcode: mcbin.OpGet, Key: spaced}, text: "VA 2 f4294967296 c1\r\nab\r\n",
			want: withMsg(mcbin.OpGet, mcbin.StatusInternalError, unexpected)},
		{name: "set stored", req: mcbin.Request{Opcode: mcbin.OpSet, Key: []byte("k")}, text: "HD c42\r\n",
			want: resp(mcbin.Response{Opcode: mcbin.OpSet, Opaque: 1, Cas: 42})},
		{name: "setq stored", req: mcbin.Request{Opcode: mcbin.OpSetQ, Key: []byte("k")}, text: "HD c42\r\n", want: ""},
		{name: "add not stored", req: mcbin.Request{Opcode: mcbin.OpAdd, Key: []byte("k")}, text: "NS c0\r\n",
			want: miss(mcbin.OpAdd, mcbin.StatusKeyExists)},
		{name: "replaceq not stored", req: mcbin.Request{Opcode: mcbin.OpReplaceQ, Key: []byte("k")}, text: "NS c0\r\n",
			want: miss(mcbin.OpReplaceQ, mcbin.StatusKeyNotFound)},
		{name: "append not stored", req: mcbin.Request{Opcode: mcbin.OpAppend, Key: []byte("k")}, text: "NS c0\r\n",
			want: miss(mcbin.OpAppend, mcbin.StatusNotStored)},
		{name: "appendq stored", req: mcbin.Request{Opcode: mcbin.OpAppendQ, Key: []byte("k")}, text: "HD c7\r\n", want: ""},
		{name: "cas exists", req: mcbin.Request{Opcode: mcbin.OpSet, Key: []byte("k"), Cas: 3}, text: "EX c0\r\n",
			want: miss(mcbin.OpSet, mcbin.StatusKeyExists)},
		{name: "cas not found", req: mcbin.Request{Opcode: mcbin.OpSet, Key: []byte("k"), Cas: 3}, text: "NF c0\r\n",
			want: miss(mcbin.OpSet, mcbin.StatusKeyNotFound)},
		{name: "too large", req: mcbin.Request{Opcode: mcbin.OpSet, Key: []byte("k")}, text: memcache.ReplyTooLarge,
			want: miss(mcbin.OpSet, mcbin.StatusValueTooLarge)},
		{name: "out of memory", req: mcbin.Request{Opcode: mcbin.OpSetQ, Key: []byte("k")}, text: memcache.ReplyOutOfMemory,
			want: miss(mcbin.OpSetQ, mcbin.StatusOutOfMemory)},
		{name: "bad chunk", req: mcbin.Request{Opcode: mcbin.OpSet, Key: []byte("k")}, text: memcache.ReplyBadChunk,
			want: withMsg(mcbin.OpSet, mcbin.StatusInvalidArgs, "bad data chunk")},
		{name: "deleteq deleted", req: mcbin.Request{Opcode: mcbin.OpDeleteQ, Key: []byte("k")}, text: "HD\r\n", want: ""},
		{name: "delete deleted", req: mcbin.Request{Opcode: mcbin.OpDelete, Key: []byte("k")}, text: "HD\r\n",
			want: resp(mcbin.Response{Opcode: mcbin.OpDelete, Opaque: 1})},
		{name: "delete not found", req: mcbin.Request{Opcode: mcbin.OpDelete, Key: []byte("k")}, text: "NF\r\n",
			want: miss(mcbin.OpDelete, mcbin.StatusKeyNotFound)},
		{name: "delete exists", req: mcbin.Request{Opcode: mcbin.OpDeleteQ, Key: []byte("k"), Cas: 1}, text: "EX\r\n",
			want: miss(mcbin.OpDeleteQ, mcbin.StatusKeyExists)},
		{name: "flush ok", req: mcbin.Request{Opcode: mcbin.OpFlush}, text: "OK\r\n",
			want: resp(mcbin.Response{Opcode: mcbin.OpFlush, Opaque: 1})},
		{name: "flush refused", req: mcbin.Request{Opcode: mcbin.OpFlush}, text: "SERVER_ERROR flush_all disabled for this pool\r\n",
			want: withMsg(mcbin.OpFlush, mcbin.StatusInternalError, "flush_all disabled for this pool")},
		{name: "incr", req: mcbin.Request{Opcode: mcbin.OpIncrement, Key: []byte("k")}, text: "VA 2 c8\r\n42\r\n",
			want: counter(mcbin.OpIncrement, 8, 42)},
		{name: "incrq", req: mcbin.Request{Opcode: mcbin.OpIncrementQ, Key: []byte("k")}, text: "VA 2 c8\r\n42\r\n", want: ""},
		{name: "decr max", req: mcbin.Request{Opcode: mcbin.OpDecrement, Key: spaced}, text: "VA 20 c1\r\n18446744073709551615\r\n",
			want: counter(mcbin.OpDecrement, 1, math.MaxUint64)},
		{name: "incr not a number", req: mcbin.Request{Opcode: mcbin.OpIncrement, Key: []byte("k")}, text: "VA 2 c8\r\n9 \r\n",
			want: withMsg(mcbin.OpIncrement, mcbin.StatusInternalError, unexpected)},
		{name: "incr non-numeric", req: mcbin.Request{Opcode: mcbin.OpIncrementQ, Key: []byte("k")}, text: memcache.ReplyNonNumeric,
			want: miss(mcbin.OpIncrementQ, mcbin.StatusNonNumeric)},
		{name: "incr no create", req: mcbin.Request{Opcode: mcbin.OpIncrement, Key: []byte("k"), Exptime: mcbin.NoCreate},
			text: "NF\r\n", want: miss(mcbin.OpIncrement, mcbin.StatusKeyNotFound)},
		{name: "incr not stored", req: mcbin.Request{Opcode: mcbin.OpIncrement, Key: []byte("k")}, text: "NS\r\n",
			want: miss(mcbin.OpIncrement, mcbin.StatusNotStored)},
		{name: "incr exists", req: mcbin.Request{Opcode: mcbin.OpDecrementQ, Key: []byte("k"), Cas: 2}, text: "EX\r\n",
			want: miss(mcbin.OpDecrementQ, mcbin.StatusKeyExists)},
		{name: "incr HD", req: mcbin.Request{Opcode: mcbin.OpIncrement, Key: []byte("k")}, text: "HD c8\r\n",
			want: withMsg(mcbin.OpIncrement, mcbin.StatusInternalError, unexpected)},
		{name: "set VA", req: mcbin.Request{Opcode: mcbin.OpSet, Key: []byte("k")}, text: "VA 1 c8\r\n1\r\n",
			want: withMsg(mcbin.OpSet, mcbin.StatusInternalError, unexpected)},
		{name: "set EN", req: mcbin.Request{Opcode: mcbin.OpSet, Key: []byte("k")}, text: "EN\r\n",
			want: withMsg(mcbin.OpSet, mcbin.StatusInternalError, unexpected)},
		{name: "unknown", req: mcbin.Request{Opcode: mcbin.OpGet, Key: []byte("k")}, text: "ERROR\r\n",
			want: miss(mcbin.OpGet, mcbin.StatusUnknownCommand)},
		{name: "meta unknown", req: mcbin.Request{Opcode: mcbin.OpDelete, Key: []byte("k")}, text: "ERROR\r\n",
			want: miss(mcbin.OpDelete, mcbin.StatusUnknownCommand)},
		{name: "garbage", req: mcbin.Request{Opcode: mcbin.OpGet, Key: []byte("k")}, text: "VALUE k x 2\r\nab\r\nEND\r\n",
			want: withMsg(mcbin.OpGet, mcbin.StatusInternalError, unexpected)},
		{name: "meta garbage", req: mcbin.Request{Opcode: mcbin.OpSet, Key: []byte("k")}, text: "HD c5\r\nHD\r\n",
			want: withMsg(mcbin.OpSet, mcbin.StatusInternalError, unexpected)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Opaque = 1
			if got := translate(tc.req, tc.text); string(got) != tc.want {
				t.Errorf("%q → %q, want %q", tc.text, got, tc.want)
			}
		})
	}
}

func TestAppendStats(t *testing.T) {
	got := AppendStats(nil, mcbin.OpStat, 3, []byte("STAT pid 12\r\nSTAT version 1.6.18 x\r\nEND\r\n"))
	var want []byte
	for _, kv := range [][2]string{{"pid", "12"}, {"version", "1.6.18 x"}, {"", ""}} {
		want = mcbin.AppendResponse(want, &mcbin.Response{Opcode: mcbin.OpStat, Opaque: 3, Key: []byte(kv[0]), Value: []byte(kv[1])})
	}
	if !bytes.Equal(got, want) {
		t.Errorf("stats\n got %q\nwant %q", got, want)
	}
	if got := AppendStats(nil, mcbin.OpStat, 3, []byte("ERROR\r\n")); !bytes.Equal(got, mcbin.AppendError(nil, mcbin.OpStat, 3, mcbin.StatusKeyNotFound)) {
		t.Errorf("unknown sub-command: %q", got)
	}
	if got := AppendStats(nil, mcbin.OpStat, 3, []byte("RESET\r\n")); !bytes.Equal(got, mcbin.AppendResponse(nil, &mcbin.Response{Opcode: mcbin.OpStat, Opaque: 3})) {
		t.Errorf("reset: %q", got)
	}
}

// benchTranslations are binary requests with a text reply to each, for
// the allocation test and the benchmark.
var benchTranslations = []struct {
	name  string
	req   mcbin.Request
	reply string
}{
	{name: "getk", req: mcbin.Request{Opcode: mcbin.OpGetK, Key: []byte("key:0123456789"), Opaque: 1},
		reply: "VALUE key:0123456789 0 100 12345\r\n" + strings.Repeat("v", 100) + "\r\nEND\r\n"},
	{name: "getk-b64", req: mcbin.Request{Opcode: mcbin.OpGetK, Key: []byte("key 0123456789"), Opaque: 1},
		reply: "VA 100 f0 c12345\r\n" + strings.Repeat("v", 100) + "\r\n"},
	{name: "set", req: mcbin.Request{Opcode: mcbin.OpSet, Key: []byte("key:0123456789"), Flags: 3, Exptime: 3600,
		Value: bytes.Repeat([]byte("v"), 100), Opaque: 1}, reply: "HD c12345\r\n"},
	{name: "incr", req: mcbin.Request{Opcode: mcbin.OpIncrement, Key: []byte("key:0123456789"), Delta: 1, Initial: 5, Opaque: 1},
		reply: "VA 3 c12345\r\n100\r\n"},
	{name: "delete-cas", req: mcbin.Request{Opcode: mcbin.OpDelete, Key: []byte("key:0123456789"), Cas: 12345, Opaque: 1},
		reply: "HD\r\n"},
}

// The translation, both ways, does not allocate once an op is warm.
func TestTranslateAllocs(t *testing.T) {
	for _, tc := range benchTranslations {
		tr := &Translation{}
		out := make([]byte, 0, 512)
		wire := make([]byte, 0, 512)
		reply := []byte(tc.reply)
		allocs := testing.AllocsPerRun(100, func() {
			tr.Translate(&tc.req)
			wire = memcache.AppendRequest(wire[:0], &tr.Req)
			out = tr.AppendResponse(out[:0], reply)
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocs per translation, want 0", tc.name, allocs)
		}
	}
}

// BenchmarkTranslate measures a request's translation, its encoding as a
// pool would send it, and the translation of the reply.
func BenchmarkTranslate(b *testing.B) {
	for _, tc := range benchTranslations {
		b.Run(tc.name, func(b *testing.B) {
			tr := &Translation{}
			out := make([]byte, 0, 512)
			wire := make([]byte, 0, 512)
			reply := []byte(tc.reply)
			b.ReportAllocs()
			for b.Loop() {
				tr.Translate(&tc.req)
				wire = memcache.AppendRequest(wire[:0], &tr.Req)
				out = tr.AppendResponse(out[:0], reply)
			}
		})
	}
}
