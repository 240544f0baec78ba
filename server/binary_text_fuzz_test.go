package server

import (
	"testing"

	"github.com/fae-sidecar/fae/proto/mcbin"
)

// FuzzTranslateReply feeds any reply to the translation of each kind of
// request: it must answer with exactly one well-formed response (or none,
// for a quiet success or miss), never panic.
func FuzzTranslateReply(f *testing.F) {
	for _, s := range []string{
		"VA 2 f5 c99\r\nab\r\n", "HD f5 c99\r\n", "EN\r\n", "HD c42\r\n", "NS c0\r\n", "EX\r\n", "NF\r\n",
		"VA 2 c8\r\n42\r\n", "VA 3 c1\r\nab\r\n", "VALUE k 5 2 99\r\nab\r\nEND\r\n", "END\r\n", "OK\r\n",
		"ERROR\r\n", "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n", "HD c\r\n", "VA  \r\n",
	} {
		f.Add([]byte(s))
	}
	reqs := []mcbin.Request{
		{Opcode: mcbin.OpGetK, Key: []byte("k")}, {Opcode: mcbin.OpGetK, Key: []byte("a b")},
		{Opcode: mcbin.OpTouch, Key: []byte("a b")}, {Opcode: mcbin.OpAdd, Key: []byte("k")},
		{Opcode: mcbin.OpAppendQ, Key: []byte("k")}, {Opcode: mcbin.OpDelete, Key: []byte("k")},
		{Opcode: mcbin.OpIncrement, Key: []byte("k")}, {Opcode: mcbin.OpFlush},
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		for i := range reqs {
			out := translate(reqs[i], string(text))
			if len(out) == 0 {
				if !reqs[i].Opcode.Quiet() {
					t.Fatalf("%v: no response to %q", reqs[i].Opcode, text)
				}
				continue
			}
			var r mcbin.Response
			n, err := mcbin.ParseResponse(out, &r)
			if err != nil || n != len(out) {
				t.Fatalf("%v: %q → %q: %v (%d of %d bytes)", reqs[i].Opcode, text, out, err, n, len(out))
			}
		}
	})
}
