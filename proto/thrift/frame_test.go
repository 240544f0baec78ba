package thrift

import (
	"bytes"
	"errors"
	"testing"

	apache "github.com/apache/thrift/lib/go/thrift"

	"github.com/fae-sidecar/fae/proto/thrift/fae"
)

// hdr builds a message: a version word, a name length, the name, a seqid
// and the rest.
func hdr(version uint32, name string, seqID int32, rest ...byte) []byte {
	b := be32(nil, version)
	b = be32(b, uint32(len(name)))
	b = append(b, name...)
	b = be32(b, uint32(seqID))
	return append(b, rest...)
}

func be32(b []byte, v uint32) []byte {
	return append(b, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

func TestParseFrame(t *testing.T) {
	noop := hdr(0x80010001, "noop", 1, 0)
	cases := []struct {
		name    string
		in      []byte
		max     int
		wantMsg []byte
		wantN   int
		wantErr error
	}{
		{name: "empty", in: nil, wantErr: ErrIncomplete},
		{name: "three length bytes", in: []byte{0, 0, 0}, wantErr: ErrIncomplete},
		{name: "length only", in: frameOf(noop)[:4], wantErr: ErrIncomplete},
		{name: "one byte short", in: frameOf(noop)[:4+len(noop)-1], wantErr: ErrIncomplete},
		{name: "whole", in: frameOf(noop), wantMsg: noop, wantN: 4 + len(noop)},
		{name: "trailing bytes stay", in: append(frameOf(noop), 0, 0, 0), wantMsg: noop, wantN: 4 + len(noop)},
		{name: "two frames: the first", in: append(frameOf(noop), frameOf(noop)...), wantMsg: noop, wantN: 4 + len(noop)},
		{name: "at the limit", in: frameOf(noop), max: len(noop), wantMsg: noop, wantN: 4 + len(noop)},
		{name: "over the limit", in: frameOf(noop), max: len(noop) - 1, wantErr: ErrFrameSize},
		{name: "over the limit before the body", in: []byte{0, 0, 1, 0}, max: 255, wantErr: ErrFrameSize},
		{name: "over the default limit", in: []byte{0x01, 0, 0, 1}, wantErr: ErrFrameSize},
		{name: "at the default limit", in: []byte{0x01, 0, 0, 0}, wantErr: ErrIncomplete},
		{name: "negative length", in: []byte{0x80, 0, 0, 20}, wantErr: ErrFrameSize},
		{name: "zero length", in: []byte{0, 0, 0, 0}, wantErr: ErrFrameSize},
		{name: "shorter than any message", in: frameOf(make([]byte, minMessage-1)), wantErr: ErrFrameSize},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg, n, err := ParseFrame(tc.in, tc.max)
			if !errors.Is(err, tc.wantErr) || n != tc.wantN || !bytes.Equal(msg, tc.wantMsg) {
				t.Fatalf("ParseFrame = % x, %d, %v; want % x, %d, %v", msg, n, err, tc.wantMsg, tc.wantN, tc.wantErr)
			}
			if err == nil && cap(msg) != len(msg) {
				t.Fatalf("msg has room past the frame: cap %d, len %d", cap(msg), len(msg))
			}
		})
	}
}

func TestParseHeader(t *testing.T) {
	cases := []struct {
		name    string
		in      []byte
		want    Header
		wantErr error
	}{
		{
			name: "call",
			in:   hdr(0x80010001, "lc_get", 9, 1, 2, 3),
			want: Header{Type: TypeCall, Name: []byte("lc_get"), Method: MethodLcGet, SeqID: 9, Args: []byte{1, 2, 3}},
		},
		{
			name: "oneway",
			in:   hdr(0x80010004, "noop", -1, 0),
			want: Header{Type: TypeOneway, Name: []byte("noop"), Method: MethodNoop, SeqID: -1, Args: []byte{0}},
		},
		{
			name: "unknown method",
			in:   hdr(0x80010001, "nope", 3, 0),
			want: Header{Type: TypeCall, Name: []byte("nope"), Method: MethodUnknown, SeqID: 3, Args: []byte{0}},
		},
		{
			name: "empty name and args",
			in:   hdr(0x80010001, "", 1),
			want: Header{Type: TypeCall, Name: []byte{}, Method: MethodUnknown, SeqID: 1, Args: []byte{}},
		},
		{
			name: "unused version byte ignored, as apache does",
			in:   hdr(0x8001ff01, "ping", 5, 0),
			want: Header{Type: TypeCall, Name: []byte("ping"), Method: MethodPing, SeqID: 5, Args: []byte{0}},
		},
		{name: "reply", in: hdr(0x80010002, "ping", 1, 0), wantErr: ErrBadMessage},
		{name: "exception", in: hdr(0x80010003, "ping", 1, 0), wantErr: ErrBadMessage},
		{name: "type 0", in: hdr(0x80010000, "ping", 1, 0), wantErr: ErrBadMessage},
		{name: "type 5", in: hdr(0x80010005, "ping", 1, 0), wantErr: ErrBadMessage},
		{name: "version 2", in: hdr(0x80020001, "ping", 1, 0), wantErr: ErrBadMessage},
		{name: "not strict (old format)", in: append(be32(nil, 4), "ping\x01\x00\x00\x00\x01\x00"...), wantErr: ErrBadMessage},
		{name: "name past the end", in: append(be32(be32(nil, 0x80010001), 100), "ping\x00\x00\x00\x01"...), wantErr: ErrBadMessage},
		{name: "name leaves no seqid", in: append(be32(be32(nil, 0x80010001), 4), "ping\x00\x00\x00"...), wantErr: ErrBadMessage},
		{name: "negative name length", in: append(be32(be32(nil, 0x80010001), 0xffffffff), "ping\x00\x00\x00\x01"...), wantErr: ErrBadMessage},
		{name: "too short", in: []byte{0x80, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0}, wantErr: ErrBadMessage},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var h Header
			err := ParseHeader(tc.in, &h)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if h.Type != tc.want.Type || !bytes.Equal(h.Name, tc.want.Name) || h.Method != tc.want.Method ||
				h.SeqID != tc.want.SeqID || !bytes.Equal(h.Args, tc.want.Args) {
				t.Fatalf("header = %+v, want %+v", h, tc.want)
			}
		})
	}
}

// TestParseHeaderApache checks ParseHeader against headers written by
// apache's TBinaryProtocol.
func TestParseHeaderApache(t *testing.T) {
	for m := MethodUnknown + 1; m < NumMethods; m++ {
		frame := encodeCall(t, m.String(), apache.CALL, int32(m)*1000, &fae.FunServantPingArgs{C: testCtx()})
		msg, n, err := ParseFrame(frame, 0)
		if err != nil || n != len(frame) {
			t.Fatalf("%s: ParseFrame = %d, %v", m, n, err)
		}
		var h Header
		if err := ParseHeader(msg, &h); err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		if h.Method != m || string(h.Name) != m.String() || h.SeqID != int32(m)*1000 || h.Type != TypeCall {
			t.Fatalf("%s: header %+v", m, h)
		}
	}
}

func TestMethodNames(t *testing.T) {
	seen := map[string]bool{}
	for m := MethodUnknown + 1; m < NumMethods; m++ {
		name := m.String()
		if name == "" || seen[name] {
			t.Fatalf("method %d: name %q empty or repeated", m, name)
		}
		seen[name] = true
		if got := MethodOf([]byte(name)); got != m {
			t.Fatalf("MethodOf(%q) = %d, want %d", name, got, m)
		}
	}
	for _, name := range []string{"", "Ping", "ping ", "FunServant:ping", "lc_get\x00"} {
		if got := MethodOf([]byte(name)); got != MethodUnknown {
			t.Fatalf("MethodOf(%q) = %s, want MethodUnknown", name, got)
		}
	}
	if NumMethods.String() != "" || MethodUnknown.String() != "" {
		t.Fatal("out-of-range methods have a name")
	}
}

// TestAppendException checks the encoder against apache's decoder.
func TestAppendException(t *testing.T) {
	cases := []struct {
		name    string
		method  string
		seqID   int32
		typ     ExceptionType
		message string
	}{
		{name: "unknown method", method: "nope", seqID: 1, typ: ExceptionUnknownMethod, message: "Unknown function nope"},
		{name: "protocol error", method: "lc_get", seqID: -5, typ: ExceptionProtocolError, message: "bad"},
		{name: "internal error, empty message", method: "ping", seqID: 1 << 30, typ: ExceptionInternalError},
		{name: "empty name", method: "", seqID: 0, typ: ExceptionUnknown, message: "x"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			prefix := []byte("keep")
			out := AppendException(prefix, []byte(tc.method), tc.seqID, tc.typ, tc.message)
			if string(out[:4]) != "keep" {
				t.Fatalf("prefix overwritten: %q", out[:4])
			}
			r := decodeReply(t, out[4:], nil)
			if r.name != tc.method || r.seqID != tc.seqID || r.typ != apache.EXCEPTION ||
				r.exc.TypeId() != int32(tc.typ) || r.exc.Error() != tc.message && tc.message != "" {
				t.Fatalf("decoded %+v (type %d, %q)", r, r.exc.TypeId(), r.exc.Error())
			}
		})
	}
}

func TestExceptionTypesMatchApache(t *testing.T) {
	pairs := map[ExceptionType]int32{
		ExceptionUnknown:            apache.UNKNOWN_APPLICATION_EXCEPTION,
		ExceptionUnknownMethod:      apache.UNKNOWN_METHOD,
		ExceptionInvalidMessageType: apache.INVALID_MESSAGE_TYPE_EXCEPTION,
		ExceptionInternalError:      apache.INTERNAL_ERROR,
		ExceptionProtocolError:      apache.PROTOCOL_ERROR,
	}
	for ours, theirs := range pairs {
		if int32(ours) != theirs {
			t.Fatalf("ExceptionType %d, apache %d", ours, theirs)
		}
	}
	if TypeCall != MessageType(apache.CALL) || TypeReply != MessageType(apache.REPLY) ||
		TypeException != MessageType(apache.EXCEPTION) || TypeOneway != MessageType(apache.ONEWAY) {
		t.Fatal("message types differ from apache's")
	}
}
