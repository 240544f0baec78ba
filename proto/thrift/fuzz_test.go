package thrift

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	apache "github.com/apache/thrift/lib/go/thrift"

	"github.com/fae-sidecar/fae/proto/thrift/fae"
)

var writeCorpus = flag.Bool("write-corpus", false, "write the seed calls to testdata/fuzz")

// seedCalls are whole frames: a call of every method, and calls that fail
// in each way, the fuzzers' seeds.
func seedCalls(t testing.TB) map[string][]byte {
	c := testCtx()
	sticky := &fae.Context{Rid: -1, Reason: "", UID: 1 << 40, Sticky: apache.BoolPtr(true)}
	data := &fae.TMemcacheData{Data: []byte("v"), Flags: 1}
	call := func(name string, args apache.TStruct) []byte { return encodeCall(t, name, apache.CALL, 17, args) }
	return map[string][]byte{
		"ping":               call("ping", &fae.FunServantPingArgs{C: sticky}),
		"noop":               call("noop", &fae.FunServantNoopArgs{X: -1}),
		"id_next":            call("id_next", &fae.FunServantIDNextArgs{C: c}),
		"id_next_with_tag":   call("id_next_with_tag", &fae.FunServantIDNextWithTagArgs{C: c, Tag: 9}),
		"id_decode":          call("id_decode", &fae.FunServantIDDecodeArgs{C: c, ID: 1 << 33}),
		"lc_set":             call("lc_set", &fae.FunServantLcSetArgs{C: c, Key: "k", Value: []byte("v")}),
		"lc_get":             call("lc_get", &fae.FunServantLcGetArgs{C: c, Key: "k"}),
		"lc_del":             call("lc_del", &fae.FunServantLcDelArgs{C: c, Key: "k"}),
		"mc_set":             call("mc_set", &fae.FunServantMcSetArgs{C: c, Pool: "p", Key: "k", Value: data, Expiration: 10}),
		"mc_add":             call("mc_add", &fae.FunServantMcAddArgs{C: c, Pool: "p", Key: "k", Value: data}),
		"mc_get":             call("mc_get", &fae.FunServantMcGetArgs{C: c, Pool: "p", Key: "k"}),
		"mc_delete":          call("mc_delete", &fae.FunServantMcDeleteArgs{C: c, Pool: poolBad, Key: "k"}),
		"mc_increment":       call("mc_increment", &fae.FunServantMcIncrementArgs{C: c, Pool: "p", Key: "k", Delta: -3}),
		"lock":               call("lock", &fae.FunServantLockArgs{C: c, Key: "k", TTLMs: 100}),
		"unlock":             call("unlock", &fae.FunServantUnlockArgs{C: c, Key: "k", Token: "t42"}),
		"dlog":               call("dlog", &fae.FunServantDlogArgs{C: c, Ident: "app", Tag: "t", JSON: "{}"}),
		"kvdb_set":           call("kvdb_set", &fae.FunServantKvdbSetArgs{C: c, Key: []byte("k"), Value: []byte("v")}),
		"kvdb_get":           call("kvdb_get", &fae.FunServantKvdbGetArgs{C: c, Key: []byte("k")}),
		"kvdb_del":           call("kvdb_del", &fae.FunServantKvdbDelArgs{C: c, Key: []byte("k")}),
		"mg_find_one":        call("mg_find_one", &fae.FunServantMgFindOneArgs{C: c, Pool: "p", Table: "t", ShardId: 3, Query: []byte("\x05\x00\x00\x00\x00"), Fields: []byte("f")}),
		"mg_find_all":        call("mg_find_all", &fae.FunServantMgFindAllArgs{C: c, Pool: "p", Table: "t", Limit: 2, Skip: 1, OrderBy: []string{"-a", "b"}}),
		"mg_find_id":         call("mg_find_id", &fae.FunServantMgFindIDArgs{C: c, Pool: "p", Table: tableNone, ID: []byte("i")}),
		"mg_count":           call("mg_count", &fae.FunServantMgCountArgs{C: c, Pool: poolMongoErr, Table: "t"}),
		"mg_update":          call("mg_update", &fae.FunServantMgUpdateArgs{C: c, Pool: "p", Table: "t", Query: []byte("q"), Change: []byte("c")}),
		"mg_upsert":          call("mg_upsert", &fae.FunServantMgUpsertArgs{C: c, Pool: poolBad, Table: "t", Change: []byte("c")}),
		"mg_insert":          call("mg_insert", &fae.FunServantMgInsertArgs{C: c, Pool: "p", Table: "t", Doc: []byte("d")}),
		"mg_inserts":         call("mg_inserts", &fae.FunServantMgInsertsArgs{C: c, Pool: "p", Table: "t", Docs: [][]byte{[]byte("d"), {}}}),
		"mg_delete":          call("mg_delete", &fae.FunServantMgDeleteArgs{C: c, Pool: "p", Table: "t", Query: []byte("q")}),
		"mg_find_and_modify": call("mg_find_and_modify", &fae.FunServantMgFindAndModifyArgs{C: c, Pool: "p", Table: "t", Upsert: true, ReturnNew: true}),
		"mg_transaction": call("mg_transaction", &fae.FunServantMgTransactionArgs{C: c, Pool: "p", Ops: []*fae.TMongoOp{
			{Kind: fae.TMongoOpKind_UPSERT, Table: "t", Query: []byte("q"), Doc: []byte("d")}}}),
		"panic":           call("lc_get", &fae.FunServantLcGetArgs{C: c, Key: keyPanic}),
		"unknown_method":  call("no_such_method", nil),
		"missing_context": call("lc_get", &fae.FunServantNoopArgs{X: 1}),
		"oneway":          encodeCall(t, "noop", apache.ONEWAY, 1, &fae.FunServantNoopArgs{X: 1}),
		"reply_type":      encodeCall(t, "noop", apache.REPLY, 1, &fae.FunServantNoopArgs{X: 1}),
		"args_cut":        cut(call("lc_set", &fae.FunServantLcSetArgs{C: c, Key: "k", Value: []byte("v")}), 4),
		"list_in_args":    call("lc_get", rawArgs("\x0f\x00\x07\x0a\x7f\xff\xff\xff\x00")),
		"two_frames":      append(call("noop", &fae.FunServantNoopArgs{X: 1}), call("ping", &fae.FunServantPingArgs{C: c})...),
	}
}

// TestWriteCorpus writes the seed calls to testdata/fuzz, with -write-corpus.
func TestWriteCorpus(t *testing.T) {
	if !*writeCorpus {
		t.Skip("run with -write-corpus to rewrite testdata/fuzz")
	}
	for _, target := range []string{"FuzzParse", "FuzzProcess"} {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, frame := range seedCalls(t) {
			in := frame
			if target == "FuzzProcess" {
				in = frame[4:] // Process takes a frame's message
			}
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", in)
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, frame := range seedCalls(f) {
		f.Add(frame)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, maxFrame := range []int{0, 64} {
			checkParse(t, data, maxFrame)
		}
	})
}

func checkParse(t *testing.T, data []byte, maxFrame int) {
	msg, n, err := ParseFrame(data, maxFrame)
	switch {
	case errors.Is(err, ErrIncomplete):
		if n != 0 || msg != nil {
			t.Fatalf("ErrIncomplete with n=%d", n)
		}
		if len(data) >= 4 && len(data) >= 4+int(binary.BigEndian.Uint32(data)) {
			t.Fatalf("ErrIncomplete on a whole frame")
		}
		return
	case errors.Is(err, ErrFrameSize):
		return
	case err != nil:
		t.Fatalf("ParseFrame: %v", err)
	}
	if n != 4+len(msg) || n > len(data) || (maxFrame > 0 && len(msg) > maxFrame) || len(msg) < minMessage {
		t.Fatalf("n=%d, msg %d bytes, data %d bytes, max %d", n, len(msg), len(data), maxFrame)
	}
	if again, n2, err := ParseFrame(data[:n], maxFrame); err != nil || n2 != n || !bytes.Equal(again, msg) {
		t.Fatalf("frame depends on the bytes after it")
	}
	var h Header
	if err := ParseHeader(msg, &h); err != nil {
		if !errors.Is(err, ErrBadMessage) {
			t.Fatalf("ParseHeader: %v", err)
		}
		return
	}
	if h.Type != TypeCall && h.Type != TypeOneway {
		t.Fatalf("accepted type %d", h.Type)
	}
	if h.Method.String() != "" && h.Method.String() != string(h.Name) || h.Method == MethodUnknown && MethodOf(h.Name) != MethodUnknown {
		t.Fatalf("method %s for name %q", h.Method, h.Name)
	}
	// Round trip: the header re-encoded is the message's front, but for the
	// version word's unused byte.
	enc := AppendMessageHeader(nil, h.Name, h.Type, h.SeqID)
	front := append([]byte(nil), msg[:len(msg)-len(h.Args)]...)
	front[2] = 0
	if !bytes.Equal(enc, front) {
		t.Fatalf("re-encoded header % x, message front % x", enc, front)
	}
}

func FuzzProcess(f *testing.F) {
	for _, frame := range seedCalls(f) {
		f.Add(frame[4:])
	}
	h := newTestHandler()
	f.Fuzz(func(t *testing.T, msg []byte) {
		p := NewProcessor(h)
		p.OnPanic = func(Method, any) {}
		out, err := p.Process(context.Background(), msg, []byte("x"))
		if err != nil {
			if !errors.Is(err, ErrBadMessage) || string(out) != "x" {
				t.Fatalf("Process = %q, %v", out, err)
			}
			return
		}
		var hd Header
		if err := ParseHeader(msg, &hd); err != nil {
			t.Fatalf("Process answered a message ParseHeader refuses: %v", err)
		}
		if hd.Type == TypeOneway {
			if string(out) != "x" {
				t.Fatalf("oneway answered %q", out)
			}
			return
		}
		checkReply(t, out[1:], &hd)
	})
}

// checkReply checks that b is one frame answering the call hd, a REPLY or
// an EXCEPTION with one struct, as apache's decoder reads it.
func checkReply(t *testing.T, b []byte, hd *Header) {
	msg, n, err := ParseFrame(b, len(b))
	if err != nil || n != len(b) {
		t.Fatalf("reply is not one frame: %d of %d bytes, %v", n, len(b), err)
	}
	ctx := context.Background()
	buf := apache.NewTMemoryBuffer()
	buf.Write(msg)
	prot := apache.NewTBinaryProtocolConf(buf, &apache.TConfiguration{TBinaryStrictRead: apache.BoolPtr(true)})
	name, typ, seqID, err := prot.ReadMessageBegin(ctx)
	if err != nil || name != string(hd.Name) || seqID != hd.SeqID || (typ != apache.REPLY && typ != apache.EXCEPTION) {
		t.Fatalf("reply header %q %d %d, %v; call %q %d", name, typ, seqID, err, hd.Name, hd.SeqID)
	}
	if hd.Method == MethodUnknown && typ != apache.EXCEPTION {
		t.Fatalf("unknown method %q answered with a reply", hd.Name)
	}
	if err := prot.Skip(ctx, apache.STRUCT); err != nil || buf.Len() != 0 {
		t.Fatalf("reply body: %v, %d bytes left", err, buf.Len())
	}
}
