package mcbin

import (
	"bytes"
	"testing"
)

var responseCases = []struct {
	name string
	resp Response
	want string // the packet, as raw header fields + body
}{
	{
		name: "get hit",
		resp: Response{Opcode: OpGet, Opaque: 0, Cas: 1, Extras: []byte("\xde\xad\xbe\xef"), Value: []byte("World")},
		want: "\x81\x00\x00\x00\x04\x00\x00\x00\x00\x00\x00\x09\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\xde\xad\xbe\xefWorld",
	},
	{
		name: "getk hit",
		resp: Response{Opcode: OpGetK, Cas: 1, Extras: []byte("\xde\xad\xbe\xef"), Key: []byte("Hello"), Value: []byte("World")},
		want: "\x81\x0c\x00\x05\x04\x00\x00\x00\x00\x00\x00\x0e\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\xde\xad\xbe\xefHelloWorld",
	},
	{
		name: "incr",
		resp: Response{Opcode: OpIncrement, Cas: 5, Value: []byte("\x00\x00\x00\x00\x00\x00\x00\x00")},
		want: "\x81\x05\x00\x00\x00\x00\x00\x00\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\x00",
	},
	{
		name: "not found",
		resp: Response{Opcode: OpGet, Status: StatusKeyNotFound, Opaque: 0xdeadbeef, Value: []byte("Not found")},
		want: "\x81\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x09\xde\xad\xbe\xef\x00\x00\x00\x00\x00\x00\x00\x00Not found",
	},
}

// TestAppendResponse checks the encoder against the packets of the
// protocol's examples (draft-stone-memcache-binary-01, 4.2.1 and 4.5.1).
func TestAppendResponse(t *testing.T) {
	for _, tc := range responseCases {
		t.Run(tc.name, func(t *testing.T) {
			got := AppendResponse(nil, &tc.resp)
			if string(got) != tc.want {
				t.Fatalf("AppendResponse\n got %q\nwant %q", got, tc.want)
			}
			var r Response
			n, err := ParseResponse(got, &r)
			if err != nil || n != len(got) {
				t.Fatalf("ParseResponse = %d, %v", n, err)
			}
			if !bytes.Equal(AppendResponse(nil, &r), got) {
				t.Fatalf("round trip: %+v", r)
			}
		})
	}
}

func TestAppendError(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  []byte
		want Response
	}{
		{name: "not found", got: AppendError(nil, OpGet, 7, StatusKeyNotFound),
			want: Response{Opcode: OpGet, Status: StatusKeyNotFound, Opaque: 7, Value: []byte("Not found")}},
		{name: "exists", got: AppendError(nil, OpAddQ, 7, StatusKeyExists),
			want: Response{Opcode: OpAddQ, Status: StatusKeyExists, Opaque: 7, Value: []byte("Data exists for key.")}},
		{name: "custom", got: AppendErrorMessage(nil, OpSet, 1, StatusInternalError, []byte("upstream timeout")),
			want: Response{Opcode: OpSet, Status: StatusInternalError, Opaque: 1, Value: []byte("upstream timeout")}},
		{name: "getk miss", got: AppendKeyMiss(nil, OpGetK, 1, []byte("nokey")),
			want: Response{Opcode: OpGetK, Status: StatusKeyNotFound, Opaque: 1, Key: []byte("nokey")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if want := AppendResponse(nil, &tc.want); !bytes.Equal(tc.got, want) {
				t.Fatalf("\n got %q\nwant %q", tc.got, want)
			}
		})
	}
}

func TestParseResponseIncomplete(t *testing.T) {
	full := AppendError(nil, OpGet, 1, StatusKeyNotFound)
	var r Response
	for i := 0; i < len(full); i++ {
		if n, err := ParseResponse(full[:i], &r); n != 0 || err != ErrIncomplete {
			t.Fatalf("ParseResponse(first %d bytes) = %d, %v", i, n, err)
		}
	}
	if _, err := ParseResponse([]byte("END\r\n"), &r); err != ErrBadResponse {
		t.Fatalf("text reply: %v, want ErrBadResponse", err)
	}
}
