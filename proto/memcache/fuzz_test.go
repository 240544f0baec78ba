package memcache

import (
	"bytes"
	"errors"
	"testing"
	"unsafe"
)

// fuzzParsers are the configurations fuzzed: the defaults, and small limits
// that make the too-large and too-long paths easy to reach.
var fuzzParsers = []Parser{
	{},
	{MaxKeyLen: 8, MaxItemSize: 128, MaxGetLine: 1},
}

func addTableSeeds(f *testing.F) {
	for _, group := range allParseCases {
		for _, tc := range group {
			if len(tc.in) <= 1<<14 {
				f.Add([]byte(tc.in))
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	addTableSeeds(f)
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
	if err == nil {
		checkRequest(t, p, data, &req)
	}
	// Bytes after the request must not matter, and no prefix of it may
	// give an answer other than "wait" (or memcached's early close).
	var again Request
	if n2, err2 := p.Parse(data[:n], &again); !sameOutcome(n2, err2, n, err) {
		t.Fatalf("Parse(data[:%d]) = %d, %v; Parse(data) = %d, %v", n, n2, err2, n, err)
	}
	if err == nil && !equalRequest(&req, &again) {
		t.Fatalf("request depends on bytes after it: %s vs %s", describe(&req), describe(&again))
	}
	for _, k := range prefixLengths(n) {
		n2, err2 := p.Parse(data[:k], &again)
		if err2 == ErrIncomplete && again.Need != 0 && again.Need != n {
			t.Fatalf("prefix %d of %d: Need %d", k, n, again.Need)
		}
		if err2 == ErrIncomplete || allowedEarlyClose(data[:k], err2) || sameOutcome(n2, err2, n, err) && pe != nil && pe.Close {
			continue
		}
		t.Fatalf("prefix %d of %d: Parse = %d, %v; want ErrIncomplete", k, n, n2, err2)
	}
}

// prefixLengths lists the prefix lengths of an n-byte request to check: all
// of them for a short request; for a long one, the first and last 256 and
// 64 spread between, which keeps each input fast to run and minimise.
func prefixLengths(n int) []int {
	const edge, spread = 256, 64
	var ks []int
	for k := 0; k < n; k++ {
		if k < edge || k >= n-edge || k%(n/spread) == 0 {
			ks = append(ks, k)
		}
	}
	return ks
}

// checkRequest checks the invariants of a parsed request.
func checkRequest(t *testing.T, p *Parser, data []byte, req *Request) {
	if req.Cmd == CmdUnknown || req.Cmd >= numCommands {
		t.Fatalf("bad command %d", req.Cmd)
	}
	if req.Cmd.HasKey() && len(req.Keys) == 0 {
		t.Fatalf("%v without key", req.Cmd)
	}
	for _, k := range req.Keys {
		if len(k) == 0 || len(k) > p.maxKeyLen() || bytes.IndexByte(k, ' ') >= 0 || bytes.IndexByte(k, '\n') >= 0 ||
			bytes.IndexByte(k, 0) >= 0 {
			t.Fatalf("bad key %q", k)
		}
		if !within(data, k) {
			t.Fatalf("key %q is not a view into the buffer", k)
		}
	}
	if (req.Cmd.IsStorage() || req.Cmd == CmdMetaSet) != (req.Data != nil) || req.Data != nil && !within(data, req.Data) {
		t.Fatalf("%v with data %q", req.Cmd, req.Data)
	}
}

func within(buf, s []byte) bool {
	if len(s) == 0 {
		return true
	}
	b0 := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	s0 := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	return s0 >= b0 && s0+uintptr(len(s)) <= b0+uintptr(len(buf))
}

func FuzzRoundTrip(f *testing.F) {
	addTableSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, p := range fuzzParsers {
			var req, again Request
			if _, err := p.Parse(data, &req); err != nil {
				continue
			}
			enc := AppendRequest(nil, &req)
			n, err := p.Parse(enc, &again)
			var pe *Error
			if errors.As(err, &pe) && pe.Close && bytes.IndexByte(enc, '\n') >= readBufSize-1 {
				// The canonical line can be a little longer than the
				// original (a bare "\n" becomes "\r\n", exptime
				// 2147483648 becomes -2147483648): one that was just
				// short enough may no longer fit the line limits.
				continue
			}
			if err != nil || n != len(enc) || !equalRequest(&req, &again) {
				t.Fatalf("%q -> %q -> %d, %v, %s; want %s", data, enc, n, err, describe(&again), describe(&req))
			}
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
