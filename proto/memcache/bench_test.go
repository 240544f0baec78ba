package memcache

import (
	"strings"
	"testing"
)

func benchParse(b *testing.B, in []byte) {
	var p Parser
	var req Request
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := p.Parse(in, &req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseGet(b *testing.B)    { benchParse(b, inGet) }
func BenchmarkParseGet100(b *testing.B) { benchParse(b, inGet100) }
func BenchmarkParseSet(b *testing.B)    { benchParse(b, inSet) }

func BenchmarkAppendValue(b *testing.B) {
	out := make([]byte, 0, 256)
	key, data := []byte("key:0123456789"), []byte(strings.Repeat("v", 100))
	b.ReportAllocs()
	for b.Loop() {
		out = AppendValue(out[:0], key, 42, data, 1234567, true)
	}
}

func BenchmarkAppendRequest(b *testing.B) {
	var p Parser
	var req Request
	if _, err := p.Parse(inSet, &req); err != nil {
		b.Fatal(err)
	}
	out := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		out = AppendRequest(out[:0], &req)
	}
}
