package memcache

import (
	"testing"

	"github.com/fae-sidecar/fae/proto/memcache"
)

func value(key, data string) string {
	return string(memcache.AppendValue(nil, []byte(key), 0, []byte(data), 0, false))
}

func TestGatherMerge(t *testing.T) {
	const refused = "SERVER_ERROR upstream a:1 connection refused\r\n"
	type partReply struct {
		reply string
		ok    bool
	}
	cases := []struct {
		name   string
		keys   []string
		partOf []int32
		parts  []partReply
		flush  bool
		want   string
	}{
		{
			name:   "interleaved",
			keys:   []string{"a", "b", "c", "d"},
			partOf: []int32{0, 1, 0, 1},
			parts:  []partReply{{value("a", "1") + value("c", "3") + "END\r\n", true}, {value("b", "2") + value("d", "4") + "END\r\n", true}},
			want:   value("a", "1") + value("b", "2") + value("c", "3") + value("d", "4") + "END\r\n",
		},
		{
			name:   "misses left out",
			keys:   []string{"a", "b", "c", "d"},
			partOf: []int32{0, 1, 0, 1},
			parts:  []partReply{{value("c", "3") + "END\r\n", true}, {value("b", "2") + "END\r\n", true}},
			want:   value("b", "2") + value("c", "3") + "END\r\n",
		},
		{
			name:   "duplicates answered each time",
			keys:   []string{"a", "b", "a", "a"},
			partOf: []int32{0, 1, 0, 0},
			parts:  []partReply{{value("a", "1") + value("a", "1") + value("a", "1") + "END\r\n", true}, {"END\r\n", true}},
			want:   value("a", "1") + value("a", "1") + value("a", "1") + "END\r\n",
		},
		{
			name:   "failed part: its keys are misses",
			keys:   []string{"a", "b", "c"},
			partOf: []int32{0, 1, 0},
			parts:  []partReply{{refused, false}, {value("b", "2") + "END\r\n", true}},
			want:   value("b", "2") + "END\r\n",
		},
		{
			name:   "server error line: its keys are misses",
			keys:   []string{"a", "b"},
			partOf: []int32{0, 1},
			parts:  []partReply{{value("a", "1") + "END\r\n", true}, {value("b", "2") + "SERVER_ERROR out of memory\r\n", false}},
			want:   value("a", "1") + "END\r\n",
		},
		{
			name:   "all failed: the first error",
			keys:   []string{"a", "b"},
			partOf: []int32{0, 1},
			parts:  []partReply{{refused, false}, {"SERVER_ERROR upstream b:1 timeout\r\n", false}},
			want:   refused,
		},
		{
			name:  "flush all OK",
			flush: true,
			parts: []partReply{{"OK\r\n", true}, {"OK\r\n", true}},
			want:  "OK\r\n",
		},
		{
			name:  "flush one refused",
			flush: true,
			parts: []partReply{{"OK\r\n", true}, {refused, false}, {"ERROR\r\n", true}},
			want:  refused,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := &gather{flush: tc.flush, partOf: tc.partOf}
			for _, k := range tc.keys {
				g.keys = append(g.keys, []byte(k))
			}
			for _, p := range tc.parts {
				g.parts = append(g.parts, part{reply: []byte(p.reply), ok: p.ok})
			}
			if got := string(g.merge(nil)); got != tc.want {
				t.Fatalf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}
