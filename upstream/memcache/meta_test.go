package memcache

import (
	"encoding/base64"
	"fmt"
	"testing"

	"github.com/fae-sidecar/fae/proto/memcache"
)

var metaFrameCases = []struct {
	name    string
	kind    replyKind
	in      string
	wantLen int // of the reply; -1 incomplete
	wantErr bool
}{
	{name: "HD", kind: kindMeta, in: "HD\r\nEN\r\n", wantLen: 4},
	{name: "HD flags", kind: kindMeta, in: "HD c5 kfoo O1 W\r\n", wantLen: 17},
	{name: "EN", kind: kindMeta, in: "EN\r\n", wantLen: 4},
	{name: "VA", kind: kindMeta, in: "VA 3 c7 t-1\r\nabc\r\nHD\r\n", wantLen: 18},
	{name: "VA empty", kind: kindMeta, in: "VA 0 W\r\n\r\n", wantLen: 10},
	{name: "VA data holding lines", kind: kindMeta, in: "VA 8\r\nHD\r\nEN\r\n\r\n", wantLen: 16},
	{name: "ME", kind: kindMeta, in: "ME k exp=-1 la=0 cas=1 fetch=no cls=1 size=60\r\n", wantLen: 47},
	{name: "error", kind: kindMeta, in: "CLIENT_ERROR bad data chunk\r\n", wantLen: 29},
	{name: "VA incomplete", kind: kindMeta, in: "VA 3\r\nab", wantLen: -1},
	{name: "VALUE", kind: kindMeta, in: "VALUE k 0 1\r\nx\r\nEND\r\n", wantErr: true},
	{name: "END", kind: kindMeta, in: "END\r\n", wantErr: true},
	{name: "VALUE before MN", kind: kindMetaFenced, in: "VALUE k 0 1\r\nx\r\nMN\r\n", wantErr: true},
	{name: "line incomplete", kind: kindMeta, in: "VA 3", wantLen: -1},
	{name: "VA bad size", kind: kindMeta, in: "VA x\r\n", wantErr: true},
	{name: "VA data too long", kind: kindMeta, in: "VA 1\r\nabc\r\n", wantErr: true},
	{name: "no CR", kind: kindMeta, in: "HD\n", wantErr: true},
	{name: "fenced empty", kind: kindMetaFenced, in: "MN\r\nHD\r\n", wantLen: 4},
	{name: "fenced HD", kind: kindMetaFenced, in: "HD\r\nMN\r\n", wantLen: 8},
	{name: "fenced VA", kind: kindMetaFenced, in: "VA 2\r\nMN\r\nMN\r\n", wantLen: 14},
	{name: "fenced incomplete", kind: kindMetaFenced, in: "HD\r\nM", wantLen: -1},
}

func TestFrameScanMeta(t *testing.T) {
	for _, tc := range metaFrameCases {
		t.Run(tc.name, func(t *testing.T) {
			f, complete := scanWhole(t, tc.kind, tc.in, tc.wantLen, tc.wantErr)
			if !complete {
				return
			}
			if !f.done || f.n != tc.wantLen {
				t.Fatalf("done %v n %d, want %d", f.done, f.n, tc.wantLen)
			}
			scanByteByByte(t, tc.kind, tc.in, tc.wantLen)
		})
	}
}

func TestMetaKind(t *testing.T) {
	tests := []struct {
		in   string
		want replyKind
	}{
		{"mg k q v\r\n", kindMeta},
		{"mg k q N0\r\n", kindMeta},
		{"ma k q\r\n", kindMeta},
		{"ma k q N0\r\n", kindMetaFenced},
		{"ma k N0\r\n", kindMeta},
	}
	var p memcache.Parser
	for _, tc := range tests {
		var req memcache.Request
		if _, err := p.Parse([]byte(tc.in), &req); err != nil {
			t.Fatal(err)
		}
		if got := metaKind(&req); got != tc.want {
			t.Errorf("metaKind(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if got := unfence([]byte("MN\r\n")); got != nil {
		t.Errorf("unfence(MN) = %q", got)
	}
	if got := unfence([]byte("HD\r\nMN\r\n")); string(got) != "HD\r\n" {
		t.Errorf("unfence(HD MN) = %q", got)
	}
}

// A base64 key (flag b) lives on the server its decoded bytes hash to:
// where libmemcached, hashing raw key bytes, puts the same key.
func TestMetaBase64Placement(t *testing.T) {
	addrs := []string{startMemcached(t), startMemcached(t), startMemcached(t)}
	var servers []Server
	for _, a := range addrs {
		servers = append(servers, Server{Addr: a})
	}
	p := newPool(t, Config{Servers: servers})
	var parser memcache.Parser
	for i := range 12 {
		raw := fmt.Sprintf("key %d\x01", i)
		b64 := base64.StdEncoding.EncodeToString([]byte(raw))
		var req memcache.Request
		if _, err := parser.Parse([]byte("ms "+b64+" 1 b\r\nv\r\n"), &req); err != nil {
			t.Fatal(err)
		}
		if got := do(t, p, &req); string(got) != "HD\r\n" {
			t.Fatalf("ms %q: %q", raw, got)
		}
		want := p.pick.Pick([]byte(raw))
		for s, a := range addrs {
			got := dialDirect(t, a).raw([]byte("mg " + b64 + " b v\r\n"))
			if hit := string(got) == "VA 1\r\nv\r\n"; hit != (s == want) {
				t.Errorf("key %q on server %d: %q; the raw key hashes to server %d", raw, s, got, want)
			}
		}
	}
	if raceEnabled {
		return // sync.Pool drops items under -race
	}
	var req memcache.Request
	if _, err := parser.Parse([]byte("md a2V5IDA= b\r\n"), &req); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { p.metaPart(&req, path{}) }); n != 0 {
		t.Errorf("placing a base64 key allocates %v times, want 0", n)
	}
}

// The pool counts meta commands as memcached counts them (but for an ma
// without q that creates its item: the pool counts a hit).
func TestMetaStats(t *testing.T) {
	testStats(t, []string{
		"ms a 1 T0\r\n1\r\n", "ms YiBi 1 b MA\r\nx\r\n", "mg a v", "mg nokey v", "mg a T60 v", "mg nokey T60",
		"mg a q k", "mg nokey q", "ma a", "ma a MD D1", "ma nokey", "ma nokey MD", "ma a C1 v", "md a C1", "md a",
		"md a q", "mg YQ== b v",
	})
}

// An ma with q and N (sent fenced by an mn) is answered only when it
// creates its counter: memcached then counts neither a hit nor a miss, and
// a hit when it finds the counter and sends nothing.
func TestMetaStatsFenced(t *testing.T) {
	testStats(t, []string{
		"ms a 1 T0\r\n1\r\n", "ma a q N0 J5", "ma a q N0 J5 MD v", "ma new1 q N0 J5", "ma new2 q N0 J5 MD v",
		"ma a q N0 C1", "ma new3 q N0 J1 C1",
	})
}
