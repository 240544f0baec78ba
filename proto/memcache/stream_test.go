package memcache

import (
	"errors"
	"strings"
	"testing"
)

// transcript parses a byte stream the way a connection loop would and says
// what happens, one entry per request: the command name for a request, the
// reply line for an error ("-" when memcached stays silent), "<close>",
// "<incomplete>" when the stream ends inside a request and "<swallowing>"
// when it ends inside bytes being swallowed.
func transcript(p *Parser, stream []byte) []string {
	var out []string
	var req Request
	for len(stream) > 0 {
		n, err := p.Parse(stream, &req)
		if err == ErrIncomplete {
			return append(out, "<incomplete>")
		}
		var pe *Error
		switch {
		case errors.As(err, &pe) && pe.Close:
			return append(out, pe.Reply+"<close>")
		case pe != nil && pe.Reply == "":
			out = append(out, "-")
		case pe != nil:
			out = append(out, pe.Reply)
		case req.NoReply:
			out = append(out, req.Cmd.String()+" noreply")
		default:
			out = append(out, req.Cmd.String())
		}
		stream = stream[n:]
		if pe != nil && pe.Swallow > 0 {
			if pe.Swallow > len(stream) {
				return append(out, "<swallowing>")
			}
			stream = stream[pe.Swallow:]
		}
		if req.Cmd == CmdQuit {
			return append(out, "<close>")
		}
	}
	return out
}

// TestStreamAfterError pins what memcached does with the bytes after an
// error: each case mirrors a transcript taken from memcached 1.6.18, where
// a "version" after the request shows whether parsing resynchronised.
func TestStreamAfterError(t *testing.T) {
	const v = "version\r\n"
	big := strings.Repeat("x", 2000000)
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{name: "tab in set line", in: "set\tk 0 0 1\r\na\r\n" + v, want: []string{"ERROR", "ERROR", "version"}},
		{name: "data ends in LF", in: "set k1 0 0 1\r\na\n" + v, want: []string{errBadChunk, "ERROR"}},
		{name: "data too long", in: "set k1 0 0 1\r\nabc\r\n" + v, want: []string{errBadChunk, "ERROR", "version"}},
		{name: "data much too long", in: "set k1 0 0 1\r\nabcdef\r\n" + v, want: []string{errBadChunk, "ERROR", "version"}},
		{name: "data too short", in: "set k1 0 0 3\r\na\r\n" + v, want: []string{errBadChunk, "ERROR"}},
		{name: "too many tokens", in: "set k1 0 0 1 noreply x\r\na\r\n" + v, want: []string{"ERROR", "ERROR", "version"}},
		{name: "cas without unique", in: "cas k1 0 0 1\r\na\r\n" + v, want: []string{"ERROR", "ERROR", "version"}},
		{name: "noreply set", in: "set k1 0 0 1 noreply\r\na\r\n" + v, want: []string{"set noreply", "version"}},
		{name: "bad chunk noreply", in: "set k1 0 0 1 noreply\r\nabc\r\n" + v, want: []string{"-", "ERROR", "version"}},
		{name: "negative bytes", in: "set k1 0 0 -1\r\na\r\n" + v, want: []string{errBadFormat, "ERROR", "version"}},
		{name: "negative bytes noreply", in: "set k1 0 0 -1 noreply\r\na\r\n" + v, want: []string{"-", "ERROR", "version"}},
		{name: "long key", in: "set " + long251 + " 0 0 1\r\na\r\n" + v, want: []string{errBadFormat, "ERROR", "version"}},
		{name: "too large swallows", in: "set big 0 0 1\r\nx\r\nset big 0 0 2000000\r\n" + big + "\r\nget big\r\n",
			want: []string{"set", errTooLarge, "get"}},
		{name: "too large swallows any terminator", in: "set k 0 0 1048517\r\n" + strings.Repeat("x", 1048517) + "zz" + v,
			want: []string{errTooLarge, "version"}},
		{name: "too large noreply", in: "set k 0 0 1048517 noreply\r\n" + strings.Repeat("x", 1048519) + v, want: []string{"-", "version"}},
		{name: "too large waits for its bytes", in: "set k 0 0 1048517\r\n" + v + v, want: []string{errTooLarge, "<swallowing>"}},
		{name: "quit", in: "quit\r\n" + v, want: []string{"quit", "<close>"}},
		{name: "HTTP request", in: "GET / HTTP/1.1\r\n" + v, want: []string{"<close>"}},
		{name: "get after failed get", in: "get a\r\nget b " + long251 + "\r\n" + v, want: []string{"get", errBadFormat, "version"}},
		{name: "delete usage", in: "delete zz 1\r\n" + v, want: []string{errDeleteUsage, "version"}},
		{name: "2048 bytes then LF", in: strings.Repeat("x", 2048) + "\r\n" + v, want: []string{"ERROR", "version"}},
		{name: "set waits for data", in: "set k 0 0 10\r\nabc", want: []string{"<incomplete>"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p Parser
			got := transcript(&p, []byte(tc.in))
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}
