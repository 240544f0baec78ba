package mcbin

import (
	"bytes"
	"errors"
	"testing"
)

// fuzzParsers are the configurations fuzzed: the defaults, and small limits
// that make the too-large and too-long paths easy to reach.
var fuzzParsers = []Parser{
	{},
	{MaxKeyLen: 8, MaxItemSize: 80},
}

func FuzzParse(f *testing.F) {
	for _, tc := range parseCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, p := range fuzzParsers {
			checkParse(t, &p, data)
		}
	})
}

func checkParse(t *testing.T, p *Parser, data []byte) {
	var req Request
	n, err := p.Parse(data, &req)
	var pe *Error
	switch {
	case err == ErrIncomplete:
		if n != 0 {
			t.Fatalf("ErrIncomplete with n=%d", n)
		}
		checkNeed(t, p, data, &req)
		return
	case err != nil && !errors.As(err, &pe):
		t.Fatalf("error of type %T: %v", err, err)
	case n <= 0 || n > len(data):
		t.Fatalf("n=%d out of (0, %d], err %v", n, len(data), err)
	}
	if pe != nil && pe.Swallow < 0 {
		t.Fatalf("negative swallow: %+v", pe)
	}
	// Bytes after the request do not matter.
	var again Request
	n2, err2 := p.Parse(data[:n], &again)
	if n2 != n || !sameErr(err2, err) {
		t.Fatalf("Parse(data[:%d]) = %d, %v; Parse(data) = %d, %v", n, n2, err2, n, err)
	}
	if err != nil {
		return
	}
	if !equalRequest(&req, &again) {
		t.Fatalf("request depends on trailing bytes:\n%+v\n%+v", req, again)
	}
	if !req.Opcode.Known() {
		t.Fatalf("accepted opcode %#x", uint8(req.Opcode))
	}
	if len(req.Key) > p.maxKeyLen() {
		t.Fatalf("accepted a %d-byte key", len(req.Key))
	}
	// Round trip: the request re-encodes to the bytes it came from.
	if out := AppendRequest(nil, &req); !bytes.Equal(out, data[:n]) {
		t.Fatalf("AppendRequest(Parse(data))\n got %q\nwant %q", out, data[:n])
	}
	// No strict prefix of a request is anything but "wait".
	if n <= 1024 {
		for i := 0; i < n; i++ {
			if m, e := p.Parse(data[:i], &again); m != 0 || e != ErrIncomplete {
				t.Fatalf("Parse(first %d of %d bytes) = %d, %v", i, n, m, e)
			}
		}
	}
}

func FuzzParseResponse(f *testing.F) {
	for _, r := range responseCases {
		f.Add(AppendResponse(nil, &r.resp))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var r Response
		n, err := ParseResponse(data, &r)
		if err != nil {
			if n != 0 || (err != ErrIncomplete && err != ErrBadResponse) {
				t.Fatalf("ParseResponse = %d, %v", n, err)
			}
			return
		}
		if out := AppendResponse(nil, &r); !bytes.Equal(out, data[:n]) {
			t.Fatalf("AppendResponse(ParseResponse(data))\n got %q\nwant %q", out, data[:n])
		}
	})
}

// checkNeed checks the Need of a request Parse found incomplete: once
// that many bytes are in, Parse uses them all.
func checkNeed(t *testing.T, p *Parser, data []byte, req *Request) {
	if req.Need == 0 {
		return
	}
	if req.Need <= len(data) {
		t.Fatalf("Need %d with %d bytes in", req.Need, len(data))
	}
	var again Request
	if n, err := p.Parse(append(data[:len(data):len(data)], make([]byte, req.Need-len(data))...), &again); n != req.Need || err == ErrIncomplete {
		t.Fatalf("Need %d: with that many bytes Parse = %d, %v", req.Need, n, err)
	}
}
