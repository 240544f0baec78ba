package memcache

import (
	"bytes"
	"errors"
	"testing"
)

var frameCases = []struct {
	name     string
	kind     FrameKind
	in       string
	wantLen  int // of the reply; -1 incomplete
	wantHits int
	wantEnd  bool
	wantErr  bool
}{
	{name: "stored", kind: FrameLine, in: "STORED\r\nEND\r\n", wantLen: 8},
	{name: "number", kind: FrameLine, in: "15\r\n", wantLen: 4},
	{name: "line incomplete", kind: FrameLine, in: "STOR", wantLen: -1},
	{name: "line without cr", kind: FrameLine, in: "STORED\n", wantErr: true},
	{name: "VALUE for a line", kind: FrameLine, in: "VALUE k 0 1\r\nx\r\nEND\r\n", wantErr: true},
	{name: "END for a line", kind: FrameLine, in: "END\r\n", wantErr: true},
	{name: "miss", kind: FrameValues, in: "END\r\n", wantLen: 5, wantEnd: true},
	{name: "hit", kind: FrameValues, in: "VALUE k 0 5\r\nhello\r\nEND\r\nSTORED\r\n", wantLen: 25, wantHits: 1, wantEnd: true},
	{name: "hit with cas", kind: FrameValues, in: "VALUE k 1 2 99\r\nhi\r\nEND\r\n", wantLen: 25, wantHits: 1, wantEnd: true},
	{name: "data holding END", kind: FrameValues, in: "VALUE k 0 7\r\nEND\r\n\r\n\r\nEND\r\n", wantLen: 27, wantHits: 1, wantEnd: true},
	{name: "empty value", kind: FrameValues, in: "VALUE k 0 0\r\n\r\nEND\r\n", wantLen: 20, wantHits: 1, wantEnd: true},
	{name: "two values", kind: FrameValues, in: "VALUE a 0 1\r\nx\r\nVALUE b 0 1\r\ny\r\nEND\r\n", wantLen: 37, wantHits: 2, wantEnd: true},
	{name: "values then error", kind: FrameValues, in: "VALUE a 0 1\r\nx\r\nSERVER_ERROR out of memory\r\n", wantLen: 44, wantHits: 1},
	{name: "error", kind: FrameValues, in: "CLIENT_ERROR bad command line format\r\n", wantLen: 38},
	{name: "ERROR", kind: FrameValues, in: "ERROR\r\n", wantLen: 7},
	{name: "in the header", kind: FrameValues, in: "VALUE k 0 5\r", wantLen: -1},
	{name: "in the data", kind: FrameValues, in: "VALUE k 0 5\r\nhel", wantLen: -1},
	{name: "before END", kind: FrameValues, in: "VALUE k 0 5\r\nhello\r\nEN", wantLen: -1},
	{name: "data too long", kind: FrameValues, in: "VALUE k 0 2\r\nhello\r\nEND\r\n", wantErr: true},
	{name: "bad length", kind: FrameValues, in: "VALUE k 0 x\r\n", wantErr: true},
	{name: "missing length", kind: FrameValues, in: "VALUE k 0\r\n", wantErr: true},
	{name: "huge length", kind: FrameValues, in: "VALUE k 0 99999999999\r\n", wantErr: true},
	{name: "stray line", kind: FrameValues, in: "STORED\r\n", wantErr: true},
	{name: "no newline for too long", kind: FrameValues, in: string(bytes.Repeat([]byte("x"), maxLine+1)), wantErr: true},
}

// scanWhole scans in, all at once, as a reply of the given kind, and
// checks that it fails if wantErr, else that it is incomplete if wantLen is
// negative. It returns the frame, and whether the reply is complete and
// left for the caller to check.
func scanWhole(t *testing.T, kind FrameKind, in string, wantLen int, wantErr bool) (Frame, bool) {
	t.Helper()
	f := Frame{Kind: kind}
	err := f.Scan([]byte(in))
	if gotErr := err != nil; gotErr != wantErr {
		t.Fatalf("err %v, want error %v", err, wantErr)
	}
	if wantErr {
		return f, false
	}
	if wantLen < 0 {
		if f.Done {
			t.Fatalf("done at %d, want incomplete", f.N)
		}
		return f, false
	}
	return f, true
}

// scanByteByByte scans in, a complete reply of the given kind, one byte
// more at a time: resuming must end it where scanning it whole does.
func scanByteByByte(t *testing.T, kind FrameKind, in string, wantLen int) {
	t.Helper()
	f := Frame{Kind: kind}
	for i := 1; i <= len(in) && !f.Done; i++ {
		if err := f.Scan([]byte(in[:i])); err != nil {
			t.Fatalf("at %d: %v", i, err)
		}
	}
	if !f.Done || f.N != wantLen {
		t.Fatalf("byte by byte: done %v n %d, want %d", f.Done, f.N, wantLen)
	}
}

func TestFrameScan(t *testing.T) {
	for _, tc := range frameCases {
		t.Run(tc.name, func(t *testing.T) {
			f, complete := scanWhole(t, tc.kind, tc.in, tc.wantLen, tc.wantErr)
			if !complete {
				return
			}
			if !f.Done || f.N != tc.wantLen || f.Hits != tc.wantHits || f.End != tc.wantEnd {
				t.Fatalf("done %v n %d hits %d end %v, want n %d hits %d end %v", f.Done, f.N, f.Hits, f.End, tc.wantLen, tc.wantHits, tc.wantEnd)
			}
		})
	}
}

// TestFrameScanByteByByte feeds every reply one byte at a time: resuming
// must give the same answer as scanning it whole.
func TestFrameScanByteByByte(t *testing.T) {
	for _, tc := range frameCases {
		if tc.wantErr || tc.wantLen < 0 {
			continue
		}
		t.Run(tc.name, func(t *testing.T) { scanByteByByte(t, tc.kind, tc.in, tc.wantLen) })
	}
}

// FuzzFrameScan: the scanner never panics, never claims more bytes than it
// was given, and agrees with itself when fed in two pieces, for every kind
// of reply.
func FuzzFrameScan(f *testing.F) {
	for _, tc := range frameCases {
		f.Add([]byte(tc.in), uint8(tc.kind), len(tc.in)/2)
	}
	for _, tc := range metaFrameCases {
		f.Add([]byte(tc.in), uint8(tc.kind), len(tc.in)/2)
	}
	f.Fuzz(func(t *testing.T, in []byte, k uint8, cut int) {
		kind := FrameKind(k % (uint8(FrameMetaFenced) + 1))
		whole := Frame{Kind: kind}
		errWhole := whole.Scan(in)
		if whole.N > len(in) {
			t.Fatalf("claims %d of %d bytes", whole.N, len(in))
		}
		if cut < 0 || cut > len(in) {
			return
		}
		split := Frame{Kind: kind}
		if err := split.Scan(in[:cut]); err != nil {
			if !errors.Is(errWhole, ErrBadReply) {
				t.Fatalf("prefix fails (%v), whole does not", err)
			}
			return
		}
		errSplit := split.Scan(in)
		if (errSplit == nil) != (errWhole == nil) || errWhole == nil && (split.Done != whole.Done || split.N != whole.N || split.Hits != whole.Hits) {
			t.Fatalf("split %+v %v, whole %+v %v", split, errSplit, whole, errWhole)
		}
	})
}

var metaFrameCases = []struct {
	name    string
	kind    FrameKind
	in      string
	wantLen int // of the reply; -1 incomplete
	wantErr bool
}{
	{name: "HD", kind: FrameMeta, in: "HD\r\nEN\r\n", wantLen: 4},
	{name: "HD flags", kind: FrameMeta, in: "HD c5 kfoo O1 W\r\n", wantLen: 17},
	{name: "EN", kind: FrameMeta, in: "EN\r\n", wantLen: 4},
	{name: "VA", kind: FrameMeta, in: "VA 3 c7 t-1\r\nabc\r\nHD\r\n", wantLen: 18},
	{name: "VA empty", kind: FrameMeta, in: "VA 0 W\r\n\r\n", wantLen: 10},
	{name: "VA data holding lines", kind: FrameMeta, in: "VA 8\r\nHD\r\nEN\r\n\r\n", wantLen: 16},
	{name: "ME", kind: FrameMeta, in: "ME k exp=-1 la=0 cas=1 fetch=no cls=1 size=60\r\n", wantLen: 47},
	{name: "error", kind: FrameMeta, in: "CLIENT_ERROR bad data chunk\r\n", wantLen: 29},
	{name: "VA incomplete", kind: FrameMeta, in: "VA 3\r\nab", wantLen: -1},
	{name: "VALUE", kind: FrameMeta, in: "VALUE k 0 1\r\nx\r\nEND\r\n", wantErr: true},
	{name: "END", kind: FrameMeta, in: "END\r\n", wantErr: true},
	{name: "VALUE before MN", kind: FrameMetaFenced, in: "VALUE k 0 1\r\nx\r\nMN\r\n", wantErr: true},
	{name: "line incomplete", kind: FrameMeta, in: "VA 3", wantLen: -1},
	{name: "VA bad size", kind: FrameMeta, in: "VA x\r\n", wantErr: true},
	{name: "VA data too long", kind: FrameMeta, in: "VA 1\r\nabc\r\n", wantErr: true},
	{name: "no CR", kind: FrameMeta, in: "HD\n", wantErr: true},
	{name: "fenced empty", kind: FrameMetaFenced, in: "MN\r\nHD\r\n", wantLen: 4},
	{name: "fenced HD", kind: FrameMetaFenced, in: "HD\r\nMN\r\n", wantLen: 8},
	{name: "fenced VA", kind: FrameMetaFenced, in: "VA 2\r\nMN\r\nMN\r\n", wantLen: 14},
	{name: "fenced incomplete", kind: FrameMetaFenced, in: "HD\r\nM", wantLen: -1},
}

func TestFrameScanMeta(t *testing.T) {
	for _, tc := range metaFrameCases {
		t.Run(tc.name, func(t *testing.T) {
			f, complete := scanWhole(t, tc.kind, tc.in, tc.wantLen, tc.wantErr)
			if !complete {
				return
			}
			if !f.Done || f.N != tc.wantLen {
				t.Fatalf("done %v n %d, want %d", f.Done, f.N, tc.wantLen)
			}
			scanByteByByte(t, tc.kind, tc.in, tc.wantLen)
		})
	}
}

func TestUnfence(t *testing.T) {
	if got := Unfence([]byte("MN\r\n")); got != nil {
		t.Errorf("Unfence(MN) = %q", got)
	}
	if got := Unfence([]byte("HD\r\nMN\r\n")); string(got) != "HD\r\n" {
		t.Errorf("Unfence(HD MN) = %q", got)
	}
}

// Framing a reply allocates nothing, whatever its kind.
func TestFrameScanAllocs(t *testing.T) {
	type reply struct {
		kind FrameKind
		in   []byte
	}
	var replies []reply
	for _, tc := range frameCases {
		replies = append(replies, reply{tc.kind, []byte(tc.in)})
	}
	for _, tc := range metaFrameCases {
		replies = append(replies, reply{tc.kind, []byte(tc.in)})
	}
	for _, r := range replies {
		if n := testing.AllocsPerRun(50, func() {
			f := Frame{Kind: r.kind}
			_ = f.Scan(r.in)
		}); n != 0 {
			t.Errorf("%q: Scan allocates %v times, want 0", r.in, n)
		}
	}
}

// BenchmarkFrameScan: framing a reply as it arrives, for the classic and
// the meta reply shapes.
func BenchmarkFrameScan(b *testing.B) {
	for _, tc := range []struct {
		name  string
		kind  FrameKind
		reply string
	}{
		{"value", FrameValues, "VALUE user:12345678 0 100 77\r\n" + string(bytes.Repeat([]byte("x"), 100)) + "\r\nEND\r\n"},
		{"line", FrameLine, "STORED\r\n"},
		{"va", FrameMeta, "VA 100 c77 f0\r\n" + string(bytes.Repeat([]byte("x"), 100)) + "\r\n"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			reply := []byte(tc.reply)
			b.ReportAllocs()
			for b.Loop() {
				f := Frame{Kind: tc.kind}
				if err := f.Scan(reply); err != nil || !f.Done {
					b.Fatal(err, f.Done)
				}
			}
		})
	}
}
