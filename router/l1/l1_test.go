package l1

import (
	"fmt"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (f *fakeClock) now() time.Time { return f.t }

func TestGetSetDeleteTTL(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	c := New(Config{MaxBytes: 1 << 20, TTL: 2 * time.Second, Now: clk.now})
	if _, ok := c.Get([]byte("k"), nil); ok {
		t.Fatal("hit on empty cache")
	}
	c.Set([]byte("k"), []byte("VALUE k 0 1\r\nv\r\n"))
	got, ok := c.Get([]byte("k"), []byte("x"))
	if !ok || string(got) != "xVALUE k 0 1\r\nv\r\n" {
		t.Fatalf("got %q %v", got, ok)
	}
	clk.t = clk.t.Add(2 * time.Second)
	if _, ok := c.Get([]byte("k"), nil); ok {
		t.Error("entry outlived its TTL")
	}
	c.Set([]byte("k"), []byte("b"))
	c.Delete([]byte("k"))
	if _, ok := c.Get([]byte("k"), nil); ok {
		t.Error("deleted entry hit")
	}
	if c.Bytes() != 0 {
		t.Errorf("bytes %d after all removed", c.Bytes())
	}
	h, m, _ := c.Stats()
	if h != 1 || m != 3 {
		t.Errorf("hits %d misses %d", h, m)
	}
}

func TestBoundedInBytes(t *testing.T) {
	c := New(Config{MaxBytes: 64 << 10, TTL: time.Minute, Shards: 4})
	block := make([]byte, 1000)
	for i := 0; i < 1000; i++ {
		c.Set([]byte(fmt.Sprint("key", i)), block)
		if c.Bytes() > 64<<10 {
			t.Fatalf("bytes %d over bound after %d sets", c.Bytes(), i)
		}
	}
	if _, _, ev := c.Stats(); ev == 0 {
		t.Error("no evictions")
	}
}

func TestGetAllocs(t *testing.T) {
	c := New(Config{MaxBytes: 1 << 20, TTL: time.Minute})
	c.Set([]byte("key"), []byte("VALUE key 0 1\r\nv\r\n"))
	key, out := []byte("key"), make([]byte, 0, 128)
	if n := testing.AllocsPerRun(100, func() { out, _ = c.Get(key, out[:0]) }); n != 0 {
		t.Errorf("Get allocates %v per call", n)
	}
}

func BenchmarkGet(b *testing.B) {
	c := New(Config{MaxBytes: 1 << 20, TTL: time.Minute})
	c.Set([]byte("key"), []byte("VALUE key 0 100\r\n"+string(make([]byte, 100))+"\r\n"))
	key, out := []byte("key"), make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		out, _ = c.Get(key, out[:0])
	}
}
