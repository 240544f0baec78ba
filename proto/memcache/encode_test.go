package memcache

import "testing"

func TestAppendRequest(t *testing.T) {
	tests := []struct {
		name string
		req  Request
		want string
	}{
		{name: "get", req: Request{Cmd: CmdGet, Keys: keys("a", "b")}, want: "get a b\r\n"},
		{name: "gets", req: Request{Cmd: CmdGets, Keys: keys("a")}, want: "gets a\r\n"},
		{name: "gat", req: Request{Cmd: CmdGat, Exptime: -1, Keys: keys("a")}, want: "gat -1 a\r\n"},
		{name: "gats no keys", req: Request{Cmd: CmdGats, Exptime: 5}, want: "gats 5\r\n"},
		{name: "set", req: Request{Cmd: CmdSet, Keys: keys("k"), Flags: 3, Exptime: 60, Data: []byte("hello")},
			want: "set k 3 60 5\r\nhello\r\n"},
		{name: "set empty noreply", req: Request{Cmd: CmdSet, Keys: keys("k"), NoReply: true}, want: "set k 0 0 0 noreply\r\n\r\n"},
		{name: "add", req: Request{Cmd: CmdAdd, Keys: keys("k"), Data: []byte("x")}, want: "add k 0 0 1\r\nx\r\n"},
		{name: "replace", req: Request{Cmd: CmdReplace, Keys: keys("k"), Data: []byte("x")}, want: "replace k 0 0 1\r\nx\r\n"},
		{name: "append", req: Request{Cmd: CmdAppend, Keys: keys("k"), Data: []byte("x")}, want: "append k 0 0 1\r\nx\r\n"},
		{name: "prepend", req: Request{Cmd: CmdPrepend, Keys: keys("k"), Data: []byte("x")}, want: "prepend k 0 0 1\r\nx\r\n"},
		{name: "cas", req: Request{Cmd: CmdCas, Keys: keys("k"), Cas: 99, Data: []byte("x"), NoReply: true},
			want: "cas k 0 0 1 99 noreply\r\nx\r\n"},
		{name: "delete", req: Request{Cmd: CmdDelete, Keys: keys("k")}, want: "delete k\r\n"},
		{name: "delete noreply", req: Request{Cmd: CmdDelete, Keys: keys("k"), NoReply: true}, want: "delete k noreply\r\n"},
		{name: "incr", req: Request{Cmd: CmdIncr, Keys: keys("k"), Delta: 18446744073709551615}, want: "incr k 18446744073709551615\r\n"},
		{name: "decr noreply", req: Request{Cmd: CmdDecr, Keys: keys("k"), Delta: 1, NoReply: true}, want: "decr k 1 noreply\r\n"},
		{name: "touch", req: Request{Cmd: CmdTouch, Keys: keys("k"), Exptime: 10}, want: "touch k 10\r\n"},
		{name: "flush_all", req: Request{Cmd: CmdFlushAll}, want: "flush_all\r\n"},
		{name: "flush_all delay noreply", req: Request{Cmd: CmdFlushAll, HasArg: true, Exptime: 30, NoReply: true},
			want: "flush_all 30 noreply\r\n"},
		{name: "verbosity", req: Request{Cmd: CmdVerbosity, Level: 1}, want: "verbosity 1\r\n"},
		{name: "version", req: Request{Cmd: CmdVersion}, want: "version\r\n"},
		{name: "quit", req: Request{Cmd: CmdQuit}, want: "quit\r\n"},
		{name: "stats", req: Request{Cmd: CmdStats, Args: keys("slabs")}, want: "stats slabs\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := AppendRequest([]byte("prefix:"), &tc.req)
			if string(got) != "prefix:"+tc.want {
				t.Fatalf("got %q, want %q", got, "prefix:"+tc.want)
			}
		})
	}
}

// TestRoundTrip re-parses the encoding of every request the table parses.
func TestRoundTrip(t *testing.T) {
	for _, group := range allParseCases {
		for _, tc := range group {
			t.Run(tc.name, func(t *testing.T) {
				var req, again Request
				_, err := tc.p.Parse([]byte(tc.in), &req)
				if err != nil {
					return
				}
				enc := AppendRequest(nil, &req)
				n, err := tc.p.Parse(enc, &again)
				if err != nil || n != len(enc) || !equalRequest(&req, &again) {
					t.Fatalf("%q -> %q -> %d, %v, %s; want %s", tc.in, enc, n, err, describe(&again), describe(&req))
				}
			})
		}
	}
}

// TestRoundTripNoReplyCleared checks what the proxy relies on: clearing
// NoReply on a copy makes the upstream answer.
func TestRoundTripNoReplyCleared(t *testing.T) {
	var p Parser
	var req, cp Request
	if _, err := p.Parse([]byte("set k 0 0 1 noreply\r\na\r\n"), &req); err != nil {
		t.Fatal(err)
	}
	req.CopyTo(&cp, nil)
	cp.NoReply = false
	if got := string(AppendRequest(nil, &cp)); got != "set k 0 0 1\r\na\r\n" {
		t.Fatalf("got %q", got)
	}
	if !req.NoReply {
		t.Fatal("original request changed")
	}
}
