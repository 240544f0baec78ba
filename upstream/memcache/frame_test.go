package memcache

import (
	"bytes"
	"errors"
	"testing"
)

var frameCases = []struct {
	name     string
	kind     replyKind
	in       string
	wantLen  int // of the reply; -1 incomplete
	wantHits int
	wantEnd  bool
	wantErr  bool
}{
	{name: "stored", kind: kindLine, in: "STORED\r\nEND\r\n", wantLen: 8},
	{name: "number", kind: kindLine, in: "15\r\n", wantLen: 4},
	{name: "line incomplete", kind: kindLine, in: "STOR", wantLen: -1},
	{name: "line without cr", kind: kindLine, in: "STORED\n", wantErr: true},
	{name: "VALUE for a line", kind: kindLine, in: "VALUE k 0 1\r\nx\r\nEND\r\n", wantErr: true},
	{name: "END for a line", kind: kindLine, in: "END\r\n", wantErr: true},
	{name: "miss", kind: kindValues, in: "END\r\n", wantLen: 5, wantEnd: true},
	{name: "hit", kind: kindValues, in: "VALUE k 0 5\r\nhello\r\nEND\r\nSTORED\r\n", wantLen: 25, wantHits: 1, wantEnd: true},
	{name: "hit with cas", kind: kindValues, in: "VALUE k 1 2 99\r\nhi\r\nEND\r\n", wantLen: 25, wantHits: 1, wantEnd: true},
	{name: "data holding END", kind: kindValues, in: "VALUE k 0 7\r\nEND\r\n\r\n\r\nEND\r\n", wantLen: 27, wantHits: 1, wantEnd: true},
	{name: "empty value", kind: kindValues, in: "VALUE k 0 0\r\n\r\nEND\r\n", wantLen: 20, wantHits: 1, wantEnd: true},
	{name: "two values", kind: kindValues, in: "VALUE a 0 1\r\nx\r\nVALUE b 0 1\r\ny\r\nEND\r\n", wantLen: 37, wantHits: 2, wantEnd: true},
	{name: "values then error", kind: kindValues, in: "VALUE a 0 1\r\nx\r\nSERVER_ERROR out of memory\r\n", wantLen: 44, wantHits: 1},
	{name: "error", kind: kindValues, in: "CLIENT_ERROR bad command line format\r\n", wantLen: 38},
	{name: "ERROR", kind: kindValues, in: "ERROR\r\n", wantLen: 7},
	{name: "in the header", kind: kindValues, in: "VALUE k 0 5\r", wantLen: -1},
	{name: "in the data", kind: kindValues, in: "VALUE k 0 5\r\nhel", wantLen: -1},
	{name: "before END", kind: kindValues, in: "VALUE k 0 5\r\nhello\r\nEN", wantLen: -1},
	{name: "data too long", kind: kindValues, in: "VALUE k 0 2\r\nhello\r\nEND\r\n", wantErr: true},
	{name: "bad length", kind: kindValues, in: "VALUE k 0 x\r\n", wantErr: true},
	{name: "missing length", kind: kindValues, in: "VALUE k 0\r\n", wantErr: true},
	{name: "huge length", kind: kindValues, in: "VALUE k 0 99999999999\r\n", wantErr: true},
	{name: "stray line", kind: kindValues, in: "STORED\r\n", wantErr: true},
	{name: "no newline for too long", kind: kindValues, in: string(bytes.Repeat([]byte("x"), maxLine+1)), wantErr: true},
}

// scanWhole scans in, all at once, as a reply of the given kind, and
// checks that it fails if wantErr, else that it is incomplete if wantLen is
// negative. It returns the frame, and whether the reply is complete and
// left for the caller to check.
func scanWhole(t *testing.T, kind replyKind, in string, wantLen int, wantErr bool) (frame, bool) {
	t.Helper()
	f := frame{kind: kind}
	err := f.scan([]byte(in))
	if gotErr := err != nil; gotErr != wantErr {
		t.Fatalf("err %v, want error %v", err, wantErr)
	}
	if wantErr {
		return f, false
	}
	if wantLen < 0 {
		if f.done {
			t.Fatalf("done at %d, want incomplete", f.n)
		}
		return f, false
	}
	return f, true
}

// scanByteByByte scans in, a complete reply of the given kind, one byte
// more at a time: resuming must end it where scanning it whole does.
func scanByteByByte(t *testing.T, kind replyKind, in string, wantLen int) {
	t.Helper()
	f := frame{kind: kind}
	for i := 1; i <= len(in) && !f.done; i++ {
		if err := f.scan([]byte(in[:i])); err != nil {
			t.Fatalf("at %d: %v", i, err)
		}
	}
	if !f.done || f.n != wantLen {
		t.Fatalf("byte by byte: done %v n %d, want %d", f.done, f.n, wantLen)
	}
}

func TestFrameScan(t *testing.T) {
	for _, tc := range frameCases {
		t.Run(tc.name, func(t *testing.T) {
			f, complete := scanWhole(t, tc.kind, tc.in, tc.wantLen, tc.wantErr)
			if !complete {
				return
			}
			if !f.done || f.n != tc.wantLen || f.hits != tc.wantHits || f.end != tc.wantEnd {
				t.Fatalf("done %v n %d hits %d end %v, want n %d hits %d end %v", f.done, f.n, f.hits, f.end, tc.wantLen, tc.wantHits, tc.wantEnd)
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
// was given, and agrees with itself when fed in two pieces.
func FuzzFrameScan(f *testing.F) {
	for _, tc := range frameCases {
		f.Add([]byte(tc.in), tc.kind == kindValues, len(tc.in)/2)
	}
	f.Fuzz(func(t *testing.T, in []byte, values bool, cut int) {
		kind := kindLine
		if values {
			kind = kindValues
		}
		whole := frame{kind: kind}
		errWhole := whole.scan(in)
		if whole.n > len(in) {
			t.Fatalf("claims %d of %d bytes", whole.n, len(in))
		}
		if cut < 0 || cut > len(in) {
			return
		}
		split := frame{kind: kind}
		if err := split.scan(in[:cut]); err != nil {
			if !errors.Is(errWhole, errBadReply) {
				t.Fatalf("prefix fails (%v), whole does not", err)
			}
			return
		}
		errSplit := split.scan(in)
		if (errSplit == nil) != (errWhole == nil) || errWhole == nil && (split.done != whole.done || split.n != whole.n || split.hits != whole.hits) {
			t.Fatalf("split %+v %v, whole %+v %v", split, errSplit, whole, errWhole)
		}
	})
}
