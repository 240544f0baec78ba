package thrift

import (
	"context"
	"testing"
)

func BenchmarkParseHeader(b *testing.B) {
	for _, bc := range parseInputs {
		b.Run(bc.name, func(b *testing.B) {
			var h Header
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.in)))
			for b.Loop() {
				msg, _, err := ParseFrame(bc.in, 0)
				if err != nil {
					b.Fatal(err)
				}
				if err := ParseHeader(msg, &h); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkProcess(b *testing.B) {
	for _, bc := range processInputs {
		b.Run(bc.name, func(b *testing.B) {
			p := NewProcessor(benchHandler())
			ctx := context.Background()
			out := make([]byte, 0, 32<<10)
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.in)))
			for b.Loop() {
				msg, _, err := ParseFrame(bc.in, 0)
				if err != nil {
					b.Fatal(err)
				}
				if out, err = p.Process(ctx, msg, out[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
