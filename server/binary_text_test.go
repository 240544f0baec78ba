package server

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/fae-sidecar/fae/proto/mcbin"
	"github.com/fae-sidecar/fae/proto/memcache"
)

// translate runs one binary request's first step against a text reply.
func translate(r mcbin.Request, text string) (resp []byte, more bool, op *binOp) {
	op = &binOp{}
	op.start(&r)
	resp, more = op.advance(nil, []byte(text))
	return resp, more, op
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
		{name: "set", req: mcbin.Request{Opcode: mcbin.OpSetQ, Key: []byte("k"), Flags: 5, Exptime: 0xffffffff, Value: []byte("v")},
			want: "set k 5 2147483647 1\r\nv\r\n"},
		{name: "add with cas", req: mcbin.Request{Opcode: mcbin.OpAdd, Key: []byte("k"), Cas: 77, Value: []byte("v")},
			want: "cas k 0 0 1 77\r\nv\r\n"},
		{name: "prepend", req: mcbin.Request{Opcode: mcbin.OpPrependQ, Key: []byte("k"), Value: []byte("v")}, want: "prepend k 0 0 1\r\nv\r\n"},
		{name: "delete", req: mcbin.Request{Opcode: mcbin.OpDeleteQ, Key: []byte("k")}, want: "delete k\r\n"},
		{name: "decrement", req: mcbin.Request{Opcode: mcbin.OpDecrement, Key: []byte("k"), Delta: 3, Initial: 1}, want: "decr k 3\r\n"},
		{name: "flush", req: mcbin.Request{Opcode: mcbin.OpFlushQ}, want: "flush_all\r\n"},
		{name: "flush delay", req: mcbin.Request{Opcode: mcbin.OpFlush, HasExptime: true, Exptime: 60}, want: "flush_all 60\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var op binOp
			op.start(&tc.req)
			if got := memcache.AppendRequest(nil, &op.req); string(got) != tc.want {
				t.Errorf("text request %q, want %q", got, tc.want)
			}
		})
	}
}

func TestTranslateReply(t *testing.T) {
	resp := func(r mcbin.Response) string { return string(mcbin.AppendResponse(nil, &r)) }
	miss := func(op mcbin.Opcode, st mcbin.Status) string { return string(mcbin.AppendError(nil, op, 1, st)) }
	withMsg := func(op mcbin.Opcode, st mcbin.Status, msg string) string {
		return string(mcbin.AppendErrorMessage(nil, op, 1, st, []byte(msg)))
	}
	flags := []byte{0, 0, 0, 5}
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
		{name: "setq stored", req: mcbin.Request{Opcode: mcbin.OpSetQ, Key: []byte("k")}, text: "STORED\r\n", want: ""},
		{name: "add not stored", req: mcbin.Request{Opcode: mcbin.OpAdd, Key: []byte("k")}, text: "NOT_STORED\r\n",
			want: miss(mcbin.OpAdd, mcbin.StatusKeyExists)},
		{name: "replaceq not stored", req: mcbin.Request{Opcode: mcbin.OpReplaceQ, Key: []byte("k")}, text: "NOT_STORED\r\n",
			want: miss(mcbin.OpReplaceQ, mcbin.StatusKeyNotFound)},
		{name: "append not stored", req: mcbin.Request{Opcode: mcbin.OpAppend, Key: []byte("k")}, text: "NOT_STORED\r\n",
			want: miss(mcbin.OpAppend, mcbin.StatusNotStored)},
		{name: "cas exists", req: mcbin.Request{Opcode: mcbin.OpSet, Key: []byte("k"), Cas: 3}, text: "EXISTS\r\n",
			want: miss(mcbin.OpSet, mcbin.StatusKeyExists)},
		{name: "cas not found", req: mcbin.Request{Opcode: mcbin.OpSet, Key: []byte("k"), Cas: 3}, text: "NOT_FOUND\r\n",
			want: miss(mcbin.OpSet, mcbin.StatusKeyNotFound)},
		{name: "too large", req: mcbin.Request{Opcode: mcbin.OpSet, Key: []byte("k")}, text: memcache.ReplyTooLarge,
			want: miss(mcbin.OpSet, mcbin.StatusValueTooLarge)},
		{name: "out of memory", req: mcbin.Request{Opcode: mcbin.OpSetQ, Key: []byte("k")}, text: memcache.ReplyOutOfMemory,
			want: miss(mcbin.OpSetQ, mcbin.StatusOutOfMemory)},
		{name: "bad chunk", req: mcbin.Request{Opcode: mcbin.OpSet, Key: []byte("k")}, text: memcache.ReplyBadChunk,
			want: withMsg(mcbin.OpSet, mcbin.StatusInvalidArgs, "bad data chunk")},
		{name: "deleteq deleted", req: mcbin.Request{Opcode: mcbin.OpDeleteQ, Key: []byte("k")}, text: "DELETED\r\n", want: ""},
		{name: "delete not found", req: mcbin.Request{Opcode: mcbin.OpDelete, Key: []byte("k")}, text: "NOT_FOUND\r\n",
			want: miss(mcbin.OpDelete, mcbin.StatusKeyNotFound)},
		{name: "flush ok", req: mcbin.Request{Opcode: mcbin.OpFlush}, text: "OK\r\n",
			want: resp(mcbin.Response{Opcode: mcbin.OpFlush, Opaque: 1})},
		{name: "flush refused", req: mcbin.Request{Opcode: mcbin.OpFlush}, text: "SERVER_ERROR flush_all disabled for this pool\r\n",
			want: withMsg(mcbin.OpFlush, mcbin.StatusInternalError, "flush_all disabled for this pool")},
		{name: "incr", req: mcbin.Request{Opcode: mcbin.OpIncrement, Key: []byte("k")}, text: "42\r\n",
			want: resp(mcbin.Response{Opcode: mcbin.OpIncrement, Opaque: 1, Value: binary.BigEndian.AppendUint64(nil, 42)})},
		{name: "incr non-numeric", req: mcbin.Request{Opcode: mcbin.OpIncrementQ, Key: []byte("k")}, text: memcache.ReplyNonNumeric,
			want: miss(mcbin.OpIncrementQ, mcbin.StatusNonNumeric)},
		{name: "incr no create", req: mcbin.Request{Opcode: mcbin.OpIncrement, Key: []byte("k"), Exptime: mcbin.NoCreate},
			text: "NOT_FOUND\r\n", want: miss(mcbin.OpIncrement, mcbin.StatusKeyNotFound)},
		{name: "unknown", req: mcbin.Request{Opcode: mcbin.OpGet, Key: []byte("k")}, text: "ERROR\r\n",
			want: miss(mcbin.OpGet, mcbin.StatusUnknownCommand)},
		{name: "garbage", req: mcbin.Request{Opcode: mcbin.OpGet, Key: []byte("k")}, text: "VALUE k x 2\r\nab\r\nEND\r\n",
			want: withMsg(mcbin.OpGet, mcbin.StatusInternalError, "unexpected reply from upstream")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Opaque = 1
			got, more, _ := translate(tc.req, tc.text)
			if more || string(got) != tc.want {
				t.Errorf("%q → %q (more %v), want %q", tc.text, got, more, tc.want)
			}
		})
	}
}

// A miss of an increment that may create asks for the add of the initial
// value.
func TestTranslateIncrementMiss(t *testing.T) {
	_, more, op := translate(mcbin.Request{Opcode: mcbin.OpIncrementQ, Key: []byte("c"), Delta: 1, Initial: 7, Exptime: 60}, "NOT_FOUND\r\n")
	if got := memcache.AppendRequest(nil, &op.req); !more || string(got) != "add c 0 60 1\r\n7\r\n" {
		t.Fatalf("more %v, next %q", more, got)
	}
	op.cas = 12
	resp, more := op.advance(nil, []byte("STORED\r\n"))
	if more || len(resp) != 0 {
		t.Fatalf("quiet success: %q, more %v", resp, more)
	}
}

func TestBinaryStats(t *testing.T) {
	got := appendBinaryStats(nil, mcbin.OpStat, 3, []byte("STAT pid 12\r\nSTAT version 1.6.18 x\r\nEND\r\n"))
	var want []byte
	for _, kv := range [][2]string{{"pid", "12"}, {"version", "1.6.18 x"}, {"", ""}} {
		want = mcbin.AppendResponse(want, &mcbin.Response{Opcode: mcbin.OpStat, Opaque: 3, Key: []byte(kv[0]), Value: []byte(kv[1])})
	}
	if !bytes.Equal(got, want) {
		t.Errorf("stats\n got %q\nwant %q", got, want)
	}
	if got := appendBinaryStats(nil, mcbin.OpStat, 3, []byte("ERROR\r\n")); !bytes.Equal(got, mcbin.AppendError(nil, mcbin.OpStat, 3, mcbin.StatusKeyNotFound)) {
		t.Errorf("unknown sub-command: %q", got)
	}
	if got := appendBinaryStats(nil, mcbin.OpStat, 3, []byte("RESET\r\n")); !bytes.Equal(got, mcbin.AppendResponse(nil, &mcbin.Response{Opcode: mcbin.OpStat, Opaque: 3})) {
		t.Errorf("reset: %q", got)
	}
}

var (
	benchGetK  = mcbin.Request{Opcode: mcbin.OpGetK, Key: []byte("key:0123456789"), Opaque: 1}
	benchReply = []byte("VALUE key:0123456789 0 100 12345\r\n" + string(bytes.Repeat([]byte("v"), 100)) + "\r\nEND\r\n")
)

// The translation of a hit, both ways, does not allocate.
func TestTranslateAllocs(t *testing.T) {
	op := &binOp{}
	out := make([]byte, 0, 512)
	allocs := testing.AllocsPerRun(100, func() {
		op.start(&benchGetK)
		out, _ = op.advance(out[:0], benchReply)
	})
	if allocs != 0 {
		t.Fatalf("%v allocs per getk translation, want 0", allocs)
	}
}

func BenchmarkTranslateGetK(b *testing.B) {
	op := &binOp{}
	out := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		op.start(&benchGetK)
		out, _ = op.advance(out[:0], benchReply)
	}
}
