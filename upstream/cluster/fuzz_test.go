package cluster

import (
	"strconv"
	"testing"
)

// FuzzParseVA: a peer's reply to mg v f t c, whatever it holds, never
// panics the reader; one it accepts has exactly the data its size says,
// and gives one well-formed get reply.
func FuzzParseVA(f *testing.F) {
	for _, s := range []string{
		"VA 3 f5 t-1 c9\r\nabc\r\n",
		"VA 0 f0 t10 c1\r\n\r\n",
		"VA 3 f5\r\nab\r\n",
		"VA -1\r\n\r\n",
		"VA 3 x\r\nabc\r\n",
		"EN\r\n",
		"SERVER_ERROR upstream 127.0.0.1:1 timeout\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, r []byte) {
		v, ok := parseVA(r)
		if !ok {
			return
		}
		want := "VALUE k " + strconv.FormatUint(uint64(v.flags), 10) + " " + strconv.Itoa(len(v.data)) + "\r\n" + string(v.data) + "\r\nEND\r\n"
		if got := string(v.appendGet(nil, []byte("k"), false)); got != want {
			t.Fatalf("reply %q: get answers %q, want %q", r, got, want)
		}
	})
}
