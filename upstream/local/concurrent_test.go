package local

import (
	"bytes"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/fae-sidecar/fae/proto/memcache"
)

// TestConcurrent runs mixed commands from many goroutines over shared
// keys and a tight memory budget; run it with -race. Each value starts
// with its key, so a reply that mixes items shows up.
func TestConcurrent(t *testing.T) {
	const (
		workers = 16
		ops     = 2000
		nkeys   = 64
	)
	cfg := Config{MaxBytes: 32 << 10, MaxItemSize: 2 << 10, Shards: 4}
	s, clk := newTestStore(cfg)
	s.Serve(set("ctr", 0, 0, "0"), nil, nil)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := make([]byte, 0, 1024)
			for i := range ops {
				key := fmt.Sprint("k", (w*7+i)%nkeys)
				var req *memcache.Request
				switch i % 10 {
				case 0, 1:
					req = set(key, uint32(w), 0, key+":"+string(bytes.Repeat([]byte{'v'}, i%500)))
				case 2:
					req = stor(memcache.CmdAppend, key, 0, 0, "+")
				case 3:
					req = del(key)
				case 4:
					req = touch(key, 100)
				case 5:
					req = gat(100, key, "k1")
				case 6:
					req = incr("ctr", 1)
				default:
					req = gets(key, "k0", "k1")
				}
				out, _ = s.Serve(req, out[:0], nil)
				checkValues(t, out)
				if w == 0 && i%500 == 0 {
					clk.Advance(1e9)
					s.Stats(func(string, uint64) {})
				}
			}
		}()
	}
	wg.Wait()
	if st := statsOf(s); st["bytes"] > uint64(cfg.MaxBytes) {
		t.Fatalf("bytes %d > MaxBytes %d", st["bytes"], cfg.MaxBytes)
	}
	got, _ := s.Serve(get("ctr"), nil, nil)
	want := strconv.Itoa(workers * ops / 10)
	if string(got) != fmt.Sprintf("VALUE ctr 0 %d\r\n%s\r\nEND\r\n", len(want), want) {
		t.Fatalf("ctr after %s incrs: %q", want, got)
	}
}

// checkValues checks that every value block in a reply starts with its key.
func checkValues(t *testing.T, reply []byte) {
	for {
		key, block, rest, ok := nextValue(reply)
		if !ok {
			return
		}
		if !bytes.HasPrefix(block, append(key, ':')) {
			t.Errorf("value of %s is %.40q", key, block)
		}
		reply = rest
	}
}

// nextValue splits the first VALUE block off a reply: its key, its data
// and the rest.
func nextValue(reply []byte) (key, data, rest []byte, ok bool) {
	line, after, found := bytes.Cut(reply, []byte("\r\n"))
	f := bytes.Fields(line)
	if !found || len(f) < 4 || string(f[0]) != "VALUE" {
		return nil, nil, reply, false
	}
	n, err := strconv.Atoi(string(f[3]))
	if err != nil || len(after) < n+2 {
		return nil, nil, reply, false
	}
	return f[1], after[:n], after[n+2:], true
}
