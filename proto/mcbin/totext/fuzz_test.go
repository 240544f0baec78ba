package totext

import (
	"bytes"
	"math"
	"testing"

	"github.com/fae-sidecar/fae/proto/mcbin"
	"github.com/fae-sidecar/fae/proto/memcache"
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

// FuzzTranslateRequest: every binary request faed accepts translates into
// a text-protocol request that memcached's parser (ours, which follows it)
// reads back as the same command, flags and item key.
func FuzzTranslateRequest(f *testing.F) {
	f.Add(byte(mcbin.OpSet), []byte("k"), uint32(7), uint32(3600), uint64(5), uint64(0), uint64(0), []byte("v"))
	f.Add(byte(mcbin.OpGAT), []byte("a b"), uint32(0), uint32(9), uint64(0), uint64(0), uint64(0), []byte(nil))
	f.Add(byte(mcbin.OpDecrement), []byte("k\x00k"), uint32(0), uint32(0xffffffff), uint64(4), uint64(2), uint64(9), []byte(nil))
	f.Add(byte(mcbin.OpPrependQ), []byte("\xff\xfe"), uint32(0), uint32(0), uint64(1), uint64(0), uint64(0), []byte("x y"))
	f.Add(byte(mcbin.OpFlush), []byte(nil), uint32(0), uint32(10), uint64(0), uint64(0), uint64(0), []byte(nil))
	keyed := []mcbin.Opcode{
		mcbin.OpGet, mcbin.OpGetK, mcbin.OpGetQ, mcbin.OpGetKQ, mcbin.OpGAT, mcbin.OpGATK, mcbin.OpGATQ,
		mcbin.OpGATKQ, mcbin.OpTouch, mcbin.OpSet, mcbin.OpSetQ, mcbin.OpAdd, mcbin.OpAddQ, mcbin.OpReplace,
		mcbin.OpReplaceQ, mcbin.OpAppend, mcbin.OpAppendQ, mcbin.OpPrepend, mcbin.OpPrependQ, mcbin.OpDelete,
		mcbin.OpDeleteQ, mcbin.OpIncrement, mcbin.OpIncrementQ, mcbin.OpDecrement, mcbin.OpDecrementQ,
	}
	f.Fuzz(func(t *testing.T, opc byte, key []byte, flags, exptime uint32, cas, delta, initial uint64, value []byte) {
		op := mcbin.Opcode(opc)
		if op != mcbin.OpFlush && op != mcbin.OpFlushQ {
			op = keyed[int(opc)%len(keyed)]
			if len(key) == 0 || len(key) > 250 || !Sendable(key) {
				return // refused before translation (Invalid arguments)
			}
		} else {
			key = nil
		}
		r := mcbin.Request{Opcode: op, Key: key, Flags: flags, Exptime: exptime, Cas: cas,
			Delta: delta, Initial: initial, Value: value}
		var tr Translation
		tr.Translate(&r)
		enc := memcache.AppendRequest(nil, &tr.Req)
		var p memcache.Parser
		var back memcache.Request
		n, err := p.Parse(enc, &back)
		if err != nil || n != len(enc) {
			t.Fatalf("%v: %q parses as %d of %d bytes, %v", op, enc, n, len(enc), err)
		}
		if back.Cmd != tr.Req.Cmd {
			t.Fatalf("%q: command %v, built %v", enc, back.Cmd, tr.Req.Cmd)
		}
		if key == nil {
			return
		}
		m, b := &tr.Req.Meta, &back.Meta
		if m.Set != b.Set || string(m.Tokens) != string(b.Tokens) || m.TTL != b.TTL || m.Vivify != b.Vivify ||
			m.Flags != b.Flags || m.Cas != b.Cas || m.Delta != b.Delta || m.Initial != b.Initial || m.Mode != b.Mode {
			t.Fatalf("%q parses back as %+v, built %+v", enc, *b, *m)
		}
		if !bytes.Equal(back.Data, tr.Req.Data) {
			t.Fatalf("%q: data %q, built %q", enc, back.Data, tr.Req.Data)
		}
		var kb [memcache.MaxMetaKey]byte
		if k, _ := back.ItemKey(kb[:]); !bytes.Equal(k, key) {
			t.Fatalf("%q: item key %q, want %q", enc, k, key)
		}
	})
}

// FuzzAppendStats feeds any reply to the stats translation: it must answer
// with well-formed responses to the stat request, either one "Not found"
// or a packet per stat closed by an empty one, and never panic.
func FuzzAppendStats(f *testing.F) {
	for _, s := range []string{
		"STAT pid 12\r\nSTAT version 1.6.18 x\r\nEND\r\n", "ERROR\r\n", "RESET\r\n", "END\r\n",
		"STAT \r\n", "STAT a\nSTAT b c d", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		if len(text) > math.MaxUint16 {
			return // a stat's name must fit a packet's key; faed's own are short
		}
		out := AppendStats(nil, mcbin.OpStat, 3, text)
		if len(out) == 0 {
			t.Fatalf("%q: no response", text)
		}
		var r mcbin.Response
		for i := 0; len(out) > 0; i++ {
			n, err := mcbin.ParseResponse(out, &r)
			if err != nil {
				t.Fatalf("%q → %q: packet %d: %v", text, out, i, err)
			}
			out = out[n:]
			if r.Opcode != mcbin.OpStat || r.Opaque != 3 {
				t.Fatalf("%q: packet %d answers %v opaque %d", text, i, r.Opcode, r.Opaque)
			}
			if r.Status != mcbin.StatusOK && (i > 0 || len(out) > 0 || r.Status != mcbin.StatusKeyNotFound) {
				t.Fatalf("%q: packet %d has status %v", text, i, r.Status)
			}
		}
		if r.Status == mcbin.StatusOK && len(r.Key)+len(r.Value) > 0 {
			t.Fatalf("%q: the last packet is not empty: %q %q", text, r.Key, r.Value)
		}
	})
}
