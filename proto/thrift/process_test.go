package thrift

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	apache "github.com/apache/thrift/lib/go/thrift"

	"github.com/fae-sidecar/fae/proto/thrift/fae"
)

// processOne runs one frame through p, appending to a buffer that already
// holds bytes, and returns what it appended.
func processOne(t *testing.T, p *Processor, frame []byte) ([]byte, error) {
	t.Helper()
	msg, n, err := ParseFrame(frame, 0)
	if err != nil || n != len(frame) {
		t.Fatalf("ParseFrame = %d, %v", n, err)
	}
	const prefix = "earlier replies"
	out, err := p.Process(context.Background(), msg, []byte(prefix))
	if !bytes.HasPrefix(out, []byte(prefix)) {
		t.Fatalf("Process overwrote the buffer: %q", out)
	}
	return out[len(prefix):], err
}

// TestProcessExceptions covers the calls answered with a
// TApplicationException, and what the connection does next.
func TestProcessExceptions(t *testing.T) {
	lcGet := func(key string) apache.TStruct { return &fae.FunServantLcGetArgs{C: testCtx(), Key: key} }
	cases := []struct {
		name    string
		frame   []byte
		wantTyp int32
		wantMsg string // a substring of the exception's message
	}{
		{
			name:    "unknown method",
			frame:   encodeCall(t, "no_such_method", apache.CALL, 3, lcGet("k")),
			wantTyp: apache.UNKNOWN_METHOD,
			wantMsg: "Unknown function no_such_method",
		},
		{
			name:    "args cut short",
			frame:   cut(encodeCall(t, "lc_get", apache.CALL, 4, lcGet("k")), 3),
			wantTyp: apache.PROTOCOL_ERROR,
		},
		{
			name:    "no args at all",
			frame:   encodeCall(t, "lc_get", apache.CALL, 5, nil),
			wantTyp: apache.PROTOCOL_ERROR,
		},
		{
			name:    "missing Context",
			frame:   encodeCall(t, "lc_get", apache.CALL, 6, &fae.FunServantNoopArgs{X: 1}),
			wantTyp: apache.PROTOCOL_ERROR,
			wantMsg: "lc_get: missing argument 1: Context c",
		},
		{
			name:    "Context without its required rid",
			frame:   encodeCall(t, "ping", apache.CALL, 7, rawArgs("\x0c\x00\x01"+"\x0b\x00\x02\x00\x00\x00\x01r"+"\x0a\x00\x03\x00\x00\x00\x00\x00\x00\x00\x07"+"\x00\x00")),
			wantMsg: "Required field Rid is not set",
			wantTyp: apache.PROTOCOL_ERROR,
		},
		{
			name:    "undeclared handler error",
			frame:   encodeCall(t, "lc_get", apache.CALL, 8, lcGet(keyError)),
			wantTyp: apache.INTERNAL_ERROR,
			wantMsg: "Internal error processing lc_get: test handler asked to fail",
		},
		{
			name:    "declared exception on a method that does not declare it",
			frame:   encodeCall(t, "lc_set", apache.CALL, 9, &fae.FunServantLcSetArgs{C: testCtx(), Key: keyError}),
			wantTyp: apache.INTERNAL_ERROR,
		},
		{
			name:    "handler panic",
			frame:   encodeCall(t, "lc_get", apache.CALL, 10, lcGet(keyPanic)),
			wantTyp: apache.INTERNAL_ERROR,
			wantMsg: "Internal error processing lc_get: panic: test handler asked to panic",
		},
		{
			name:    "mc_get answering neither value nor error",
			frame:   encodeCall(t, "mc_get", apache.CALL, 11, &fae.FunServantMcGetArgs{C: testCtx(), Pool: "p", Key: "k"}),
			wantTyp: apache.INTERNAL_ERROR,
			wantMsg: "handler returned no value",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := nilHandler{newTestHandler()}
			p := NewProcessor(h)
			var panics []any
			p.OnPanic = func(m Method, v any) { panics = append(panics, v) }
			out, err := processOne(t, p, tc.frame)
			if err != nil {
				t.Fatalf("Process: %v", err)
			}
			var hd Header
			msg, _, _ := ParseFrame(tc.frame, 0)
			if err := ParseHeader(msg, &hd); err != nil {
				t.Fatal(err)
			}
			r := decodeReply(t, out, nil)
			if r.typ != apache.EXCEPTION || r.name != string(hd.Name) || r.seqID != hd.SeqID {
				t.Fatalf("reply %q type %d seq %d, want exception to %q seq %d", r.name, r.typ, r.seqID, hd.Name, hd.SeqID)
			}
			if r.exc.TypeId() != tc.wantTyp || !strings.Contains(r.exc.Error(), tc.wantMsg) {
				t.Fatalf("exception %d %q, want %d containing %q", r.exc.TypeId(), r.exc.Error(), tc.wantTyp, tc.wantMsg)
			}
			if (tc.name == "handler panic") != (len(panics) == 1) {
				t.Fatalf("OnPanic saw %v", panics)
			}
			// The processor goes on answering.
			out, err = processOne(t, p, encodeCall(t, "noop", apache.CALL, 99, &fae.FunServantNoopArgs{X: 5}))
			var res fae.FunServantNoopResult
			if r := decodeReply(t, out, &res); err != nil || r.typ != apache.REPLY || res.GetSuccess() != 5 {
				t.Fatalf("noop after: %v %+v %+v", err, r, res)
			}
		})
	}
}

// cut drops the last n bytes of a frame's message.
func cut(frame []byte, n int) []byte { return frameOf(frame[4 : len(frame)-n]) }

// nilHandler answers mc_get with neither a value nor an error.
type nilHandler struct{ *testHandler }

func (nilHandler) McGet(context.Context, *fae.Context, string, string) (*fae.TMemcacheData, error) {
	return nil, nil
}

func TestProcessCloses(t *testing.T) {
	cases := []struct {
		name string
		msg  []byte
	}{
		{name: "reply type", msg: encodeCall(t, "noop", apache.REPLY, 1, &fae.FunServantNoopArgs{X: 1})[4:]},
		{name: "not strict", msg: []byte("\x00\x00\x00\x04noop\x01\x00\x00\x00\x01\x00")},
		{name: "name past the end", msg: []byte("\x80\x01\x00\x01\x00\x00\x01\x00noop\x00\x00\x00\x01\x00")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := NewProcessor(newTestHandler()).Process(context.Background(), tc.msg, []byte("x"))
			if !errors.Is(err, ErrBadMessage) || string(out) != "x" {
				t.Fatalf("Process = %q, %v; want x, ErrBadMessage", out, err)
			}
		})
	}
}

func TestProcessOneway(t *testing.T) {
	h := newTestHandler()
	p := NewProcessor(h)
	for _, frame := range [][]byte{
		encodeCall(t, "lc_set", apache.ONEWAY, 1, &fae.FunServantLcSetArgs{C: testCtx(), Key: "k", Value: []byte("v")}),
		encodeCall(t, "no_such_method", apache.ONEWAY, 2, nil),
		encodeCall(t, "lc_get", apache.ONEWAY, 3, &fae.FunServantLcGetArgs{C: testCtx(), Key: keyPanic}),
	} {
		out, err := processOne(t, p, frame)
		if err != nil || len(out) != 0 {
			t.Fatalf("oneway answered %q, %v", out, err)
		}
	}
	if string(h.lc["k"]) != "v" {
		t.Fatal("oneway lc_set did not run")
	}
}

// TestProcessAppends checks that a reply is appended after what out holds,
// and that nothing the call read or returned stays in the Processor.
func TestProcessAppends(t *testing.T) {
	h := newTestHandler()
	p := NewProcessor(h)
	msg := encodeCall(t, "lc_set", apache.CALL, 1, &fae.FunServantLcSetArgs{C: testCtx(), Key: "k", Value: []byte("v")})[4:]
	out, err := p.Process(context.Background(), msg, []byte("before"))
	if err != nil || !bytes.HasPrefix(out, []byte("before")) {
		t.Fatalf("Process = %q, %v", out, err)
	}
	var res fae.FunServantLcSetResult
	if r := decodeReply(t, out[len("before"):], &res); r.typ != apache.REPLY || !res.GetSuccess() {
		t.Fatalf("reply %+v %+v", r, res)
	}
	if !reflect.ValueOf(p.args).IsZero() || !reflect.ValueOf(p.res).IsZero() || p.trans.r != nil || p.trans.w != nil {
		t.Fatal("the processor still holds the call's arguments, result or buffers")
	}
}

// TestProcessNilResults checks that nil slices from a handler reach the
// client as empty values, not as missing results.
func TestProcessNilResults(t *testing.T) {
	p := NewProcessor(emptyHandler{newTestHandler()})
	out, err := processOne(t, p, encodeCall(t, "lc_get", apache.CALL, 1, &fae.FunServantLcGetArgs{C: testCtx(), Key: "k"}))
	var get fae.FunServantLcGetResult
	if r := decodeReply(t, out, &get); err != nil || r.typ != apache.REPLY || get.Success == nil || len(get.Success) != 0 {
		t.Fatalf("lc_get: %v %+v %+v", err, r, get)
	}
	out, err = processOne(t, p, encodeCall(t, "id_decode", apache.CALL, 2, &fae.FunServantIDDecodeArgs{C: testCtx(), ID: 0}))
	var dec fae.FunServantIDDecodeResult
	if r := decodeReply(t, out, &dec); err != nil || r.typ != apache.REPLY || dec.Success == nil || len(dec.Success) != 0 {
		t.Fatalf("id_decode: %v %+v %+v", err, r, dec)
	}
}

// emptyHandler answers lc_get with a nil value.
type emptyHandler struct{ *testHandler }

func (emptyHandler) LcGet(context.Context, *fae.Context, string) ([]byte, error) { return nil, nil }
