package bench

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestParseLine(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		kind    Kind
		key     string
		size    int
		wantErr bool
	}{
		{name: "value", line: "VALUE k1 0 5\r\n", kind: KindValue, key: "k1", size: 5},
		{name: "value without CRLF", line: "VALUE k1 0 5", kind: KindValue, key: "k1", size: 5},
		{name: "value with cas", line: "VALUE fb:12 42 100 77\r\n", kind: KindValue, key: "fb:12", size: 100},
		{name: "value of zero bytes", line: "VALUE k 0 0\r\n", kind: KindValue, key: "k", size: 0},
		{name: "value missing bytes", line: "VALUE k 0\r\n", kind: KindValue, wantErr: true},
		{name: "value bad bytes", line: "VALUE k 0 x\r\n", kind: KindValue, wantErr: true},
		{name: "value negative bytes", line: "VALUE k 0 -1\r\n", kind: KindValue, wantErr: true},
		{name: "value bad flags", line: "VALUE k f 1\r\n", kind: KindValue, wantErr: true},
		{name: "value huge", line: "VALUE k 0 99999999999\r\n", kind: KindValue, wantErr: true},
		{name: "value too many fields", line: "VALUE k 0 1 2 3\r\n", kind: KindValue, wantErr: true},
		{name: "value empty key", line: "VALUE  0 1\r\n", kind: KindValue, wantErr: true},
		{name: "end", line: "END\r\n", kind: KindEnd},
		{name: "stored", line: "STORED\r\n", kind: KindStored},
		{name: "not stored", line: "NOT_STORED\r\n", kind: KindNotStored},
		{name: "exists", line: "EXISTS\r\n", kind: KindExists},
		{name: "not found", line: "NOT_FOUND\r\n", kind: KindNotFound},
		{name: "error", line: "ERROR\r\n", kind: KindError},
		{name: "error with text", line: "ERROR Too many open connections\r\n", kind: KindError},
		{name: "client error", line: "CLIENT_ERROR bad data chunk\r\n", kind: KindClientError},
		{name: "server error", line: "SERVER_ERROR out of memory\r\n", kind: KindServerError},
		{name: "lowercase is other", line: "end\r\n", kind: KindOther},
		{name: "empty", line: "\r\n", kind: KindOther},
		{name: "prefix of END", line: "ENDX\r\n", kind: KindOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind, key, size, err := ParseLine([]byte(tt.line))
			if kind != tt.kind {
				t.Errorf("kind = %d, want %d", kind, tt.kind)
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error: %v", err, tt.wantErr)
			}
			if err != nil {
				if !errors.Is(err, ErrProtocol) {
					t.Errorf("err = %v, want ErrProtocol", err)
				}
				return
			}
			if string(key) != tt.key || size != tt.size {
				t.Errorf("key, size = %q, %d; want %q, %d", key, size, tt.key, tt.size)
			}
		})
	}
}

// keysOf returns a KeyList of keys "k0".."k{n-1}".
func keysOf(n int) *KeyList {
	var l KeyList
	for i := range n {
		l.Append("k", uint64(i))
	}
	return &l
}

func TestReadGet(t *testing.T) {
	tests := []struct {
		name      string
		keys      int // asked for: k0..k{keys-1}
		reply     string
		hits      int
		replyErr  bool // a *ReplyError (stream in step)
		protoErr  bool // ErrProtocol
		ioErr     bool // the reply was cut short
		remaining string
	}{
		{name: "miss", keys: 1, reply: "END\r\n"},
		{name: "hit", keys: 1, reply: "VALUE k0 0 3\r\nabc\r\nEND\r\n", hits: 1},
		{name: "value containing CRLF", keys: 1, reply: "VALUE k0 0 4\r\n\r\n\r\n\r\nEND\r\n", hits: 1},
		{name: "multi all hits", keys: 3, reply: "VALUE k0 0 1\r\na\r\nVALUE k1 0 1\r\nb\r\nVALUE k2 5 1 9\r\nc\r\nEND\r\n", hits: 3},
		{name: "multi with misses", keys: 3, reply: "VALUE k1 0 1\r\nb\r\nEND\r\n", hits: 1},
		{name: "leaves next reply", keys: 1, reply: "END\r\nSTORED\r\n", remaining: "STORED\r\n"},
		{name: "out of order", keys: 2, reply: "VALUE k1 0 1\r\nb\r\nVALUE k0 0 1\r\na\r\nEND\r\n", hits: 1, protoErr: true},
		{name: "key not asked for", keys: 1, reply: "VALUE other 0 1\r\na\r\nEND\r\n", protoErr: true},
		{name: "data without CRLF", keys: 1, reply: "VALUE k0 0 1\r\nabEND\r\n", protoErr: true},
		{name: "line without CR", keys: 1, reply: "END\n", protoErr: true},
		{name: "stored instead", keys: 1, reply: "STORED\r\n", protoErr: true},
		{name: "server error", keys: 1, reply: "SERVER_ERROR backend down\r\nEND\r\n", replyErr: true, remaining: "END\r\n"},
		{name: "client error", keys: 1, reply: "CLIENT_ERROR line too long\r\n", replyErr: true},
		{name: "error", keys: 1, reply: "ERROR\r\n", replyErr: true},
		{name: "truncated data", keys: 1, reply: "VALUE k0 0 10\r\nabc", ioErr: true},
		{name: "truncated line", keys: 1, reply: "EN", ioErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := strings.NewReader(tt.reply)
			c := NewClient(r, io.Discard, 64)
			keys := keysOf(tt.keys)
			hits, err := c.ReadGet(keys, 0, keys.Len())
			checkErr(t, err, tt.replyErr, tt.protoErr, tt.ioErr)
			if hits != tt.hits {
				t.Errorf("hits = %d, want %d", hits, tt.hits)
			}
			if tt.remaining != "" {
				rest, _ := io.ReadAll(c.r)
				if string(rest) != tt.remaining {
					t.Errorf("left %q unread, want %q", rest, tt.remaining)
				}
			}
		})
	}
}

func checkErr(t *testing.T, err error, replyErr, protoErr, ioErr bool) {
	t.Helper()
	var re *ReplyError
	switch {
	case replyErr:
		if !errors.As(err, &re) {
			t.Errorf("err = %v, want a *ReplyError", err)
		}
	case protoErr:
		if !errors.Is(err, ErrProtocol) {
			t.Errorf("err = %v, want ErrProtocol", err)
		}
	case ioErr:
		if err == nil || errors.Is(err, ErrProtocol) || errors.As(err, &re) {
			t.Errorf("err = %v, want an I/O error", err)
		}
	default:
		if err != nil {
			t.Errorf("err = %v, want nil", err)
		}
	}
}

func TestReadStored(t *testing.T) {
	tests := []struct {
		name     string
		reply    string
		replyErr bool
		protoErr bool
		ioErr    bool
	}{
		{name: "stored", reply: "STORED\r\n"},
		{name: "not stored", reply: "NOT_STORED\r\n", replyErr: true},
		{name: "server error", reply: "SERVER_ERROR out of memory storing object\r\n", replyErr: true},
		{name: "client error", reply: "CLIENT_ERROR bad data chunk\r\n", replyErr: true},
		{name: "error", reply: "ERROR\r\n", replyErr: true},
		{name: "end", reply: "END\r\n", protoErr: true},
		{name: "value", reply: "VALUE k 0 1\r\n", protoErr: true},
		{name: "garbage", reply: "HELLO\r\n", protoErr: true},
		{name: "line too long", reply: strings.Repeat("x", 100) + "\r\n", protoErr: true},
		{name: "eof", reply: "", ioErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewClient(strings.NewReader(tt.reply), io.Discard, 64)
			checkErr(t, c.ReadStored(), tt.replyErr, tt.protoErr, tt.ioErr)
		})
	}
}

func TestWriteRequests(t *testing.T) {
	var out bytes.Buffer
	c := NewClient(strings.NewReader(""), &out, 64)
	keys := keysOf(3)
	c.WriteGet(keys, 0, 1)
	c.WriteGet(keys, 0, 3)
	c.WriteSet(keys.Key(2), []byte("hello"))
	c.WriteSet([]byte("e"), nil)
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "get k0\r\nget k0 k1 k2\r\nset k2 0 0 5\r\nhello\r\nset e 0 0 0\r\n\r\n"
	if out.String() != want {
		t.Errorf("wrote %q, want %q", out.String(), want)
	}
}

func TestReadStats(t *testing.T) {
	reply := "STAT pid 1\r\nSTAT cmd_get 10\r\nSTAT get_hits 7\r\nEND\r\n"
	c := NewClient(strings.NewReader(reply), io.Discard, 64)
	got := map[string]string{}
	if err := c.ReadStats(func(n, v string) { got[n] = v }); err != nil {
		t.Fatal(err)
	}
	if got["cmd_get"] != "10" || got["get_hits"] != "7" || len(got) != 3 {
		t.Errorf("stats = %v", got)
	}
}

// loopReader replays the same bytes forever, without allocating.
type loopReader struct {
	data []byte
	off  int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := copy(p, l.data[l.off:])
	l.off = (l.off + n) % len(l.data)
	return n, nil
}

// TestClientZeroAlloc pins the steady state: writing a get and a set and
// reading their replies allocates nothing.
func TestClientZeroAlloc(t *testing.T) {
	replies := "VALUE k0 0 3\r\nabc\r\nVALUE k2 0 3\r\nxyz\r\nEND\r\nSTORED\r\n"
	c := NewClient(&loopReader{data: []byte(replies)}, io.Discard, 4096)
	keys := keysOf(3)
	value := []byte("hello")
	allocs := testing.AllocsPerRun(1000, func() {
		keys.Reset()
		for i := range 3 {
			keys.Append("k", uint64(i))
		}
		c.WriteGet(keys, 0, 3)
		c.WriteSet(keys.Key(1), value)
		if err := c.Flush(); err != nil {
			t.Fatal(err)
		}
		if hits, err := c.ReadGet(keys, 0, 3); err != nil || hits != 2 {
			t.Fatalf("ReadGet = %d, %v", hits, err)
		}
		if err := c.ReadStored(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per request pair, want 0", allocs)
	}
}

func FuzzParseLine(f *testing.F) {
	for _, s := range []string{"VALUE k1 0 5\r\n", "VALUE k 0 1 2\r\n", "END\r\n", "STORED\r\n",
		"SERVER_ERROR x\r\n", "VALUE  0 1", "VALUE k 0 99999999999999999999", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		kind, key, size, err := ParseLine(line)
		if err != nil {
			if !errors.Is(err, ErrProtocol) || kind != KindValue {
				t.Fatalf("error %v for kind %d", err, kind)
			}
			return
		}
		if kind == KindValue {
			if len(key) == 0 || size < 0 || size > maxValueLen || !bytes.Contains(line, key) {
				t.Fatalf("VALUE parsed to key %q size %d", key, size)
			}
		}
	})
}

func FuzzReadGet(f *testing.F) {
	f.Add("VALUE k0 0 3\r\nabc\r\nEND\r\n", 2)
	f.Add("VALUE k1 0 1\r\nb\r\nVALUE k0 0 1\r\na\r\nEND\r\n", 2)
	f.Add("SERVER_ERROR x\r\n", 1)
	f.Fuzz(func(t *testing.T, reply string, n int) {
		n = 1 + (n&0xff)%8
		keys := keysOf(n)
		c := NewClient(strings.NewReader(reply), io.Discard, 128)
		hits, _ := c.ReadGet(keys, 0, n)
		if hits < 0 || hits > n {
			t.Fatalf("hits = %d of %d keys", hits, n)
		}
	})
}
