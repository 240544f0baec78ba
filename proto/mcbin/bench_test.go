package mcbin

import "testing"

func benchParse(b *testing.B, in []byte) {
	var p Parser
	var req Request
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		for off := 0; off < len(in); {
			n, err := p.Parse(in[off:], &req)
			if err != nil {
				b.Fatal(err)
			}
			off += n
		}
	}
}

func BenchmarkParseGet(b *testing.B)  { benchParse(b, inGet) }
func BenchmarkParseSet(b *testing.B)  { benchParse(b, inSet) }
func BenchmarkParseIncr(b *testing.B) { benchParse(b, inIncr) }
func BenchmarkParseNoop(b *testing.B) { benchParse(b, inNoop) }
func BenchmarkParsePipe(b *testing.B) { benchParse(b, inPipe10) } // 9 getkq + noop

func BenchmarkAppendResponseGetK(b *testing.B) {
	out := make([]byte, 0, 256)
	key, value := []byte("key:0123456789"), []byte(value100)
	b.ReportAllocs()
	for b.Loop() {
		flags := [4]byte{0, 0, 0, 42}
		r := Response{Opcode: OpGetK, Cas: 99, Extras: flags[:], Key: key, Value: value}
		out = AppendResponse(out[:0], &r)
	}
}
