package lcache

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
)

func TestSetGetDel(t *testing.T) {
	type op struct {
		do    string // set, get, del
		key   string
		value string
		want  string // get: the value; "" with ok false is a miss
		ok    bool   // get: hit; del: was there
	}
	cases := []struct {
		name string
		ops  []op
	}{
		{name: "miss", ops: []op{{do: "get", key: "a"}}},
		{name: "set then get", ops: []op{{do: "set", key: "a", value: "1"}, {do: "get", key: "a", want: "1", ok: true}}},
		{name: "replace", ops: []op{
			{do: "set", key: "a", value: "1"}, {do: "set", key: "a", value: "22"},
			{do: "get", key: "a", want: "22", ok: true},
		}},
		{name: "empty value is a hit", ops: []op{{do: "set", key: "a"}, {do: "get", key: "a", want: "", ok: true}}},
		{name: "empty key", ops: []op{{do: "set", key: "", value: "v"}, {do: "get", key: "", want: "v", ok: true}}},
		{name: "del", ops: []op{
			{do: "set", key: "a", value: "1"}, {do: "del", key: "a", ok: true},
			{do: "get", key: "a"}, {do: "del", key: "a", ok: false},
		}},
		{name: "binary value", ops: []op{{do: "set", key: "k", value: "\x00\r\n\xff"}, {do: "get", key: "k", want: "\x00\r\n\xff", ok: true}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := New(1 << 20)
			for i, o := range tc.ops {
				switch o.do {
				case "set":
					if err := c.Set(o.key, []byte(o.value)); err != nil {
						t.Fatalf("op %d: %v", i, err)
					}
				case "get":
					v, ok := c.Get(o.key)
					if ok != o.ok || string(v) != o.want {
						t.Errorf("op %d: get %q = %q %v, want %q %v", i, o.key, v, ok, o.want, o.ok)
					}
				case "del":
					if ok := c.Del(o.key); ok != o.ok {
						t.Errorf("op %d: del %q = %v, want %v", i, o.key, ok, o.ok)
					}
				}
			}
		})
	}
}

// Set copies: the caller's buffer may change afterwards; a value once
// returned by Get never changes, even when its key is set again.
func TestCopies(t *testing.T) {
	c := New(1 << 20)
	key, value := []byte("key"), []byte("value")
	if err := c.Set(string(key), value); err != nil {
		t.Fatal(err)
	}
	copy(value, "XXXXX")
	key[0] = 'X'
	got, _ := c.Get("key")
	if string(got) != "value" {
		t.Fatalf("stored value changed with the caller's buffer: %q", got)
	}
	if err := c.Set("key", []byte("other")); err != nil {
		t.Fatal(err)
	}
	if string(got) != "value" {
		t.Errorf("a returned value changed after a later Set: %q", got)
	}
	// The value's capacity ends at its length: an append by a careless
	// caller cannot write into the cache.
	if cap(got) != len(got) {
		t.Errorf("cap %d, len %d", cap(got), len(got))
	}
}

// The cache holds at most its budget, counted as key+value+EntryOverhead,
// evicting the least recently used entries first.
func TestEvictionByBytes(t *testing.T) {
	const budget = 1 << 20 // one shard
	c := New(budget)
	value := bytes.Repeat([]byte("v"), 1000)
	per := size("key-0000", value)
	fits := int(budget / per)
	for i := range fits {
		if err := c.Set(fmt.Sprintf("key-%04d", i), value); err != nil {
			t.Fatal(err)
		}
	}
	st := c.Stats()
	if st.Entries != fits || st.Evictions != 0 || st.Bytes != int64(fits)*per {
		t.Fatalf("full: %+v, want %d entries of %d bytes", st, fits, per)
	}
	c.Get("key-0000") // now the most recently used
	for i := fits; i < fits+3; i++ {
		if err := c.Set(fmt.Sprintf("key-%04d", i), value); err != nil {
			t.Fatal(err)
		}
	}
	st = c.Stats()
	if st.Bytes > budget || st.Evictions != 3 || st.Entries != fits {
		t.Errorf("after 3 more: %+v", st)
	}
	for _, tc := range []struct {
		key  string
		want bool
	}{
		{key: "key-0000", want: true}, // used recently
		{key: "key-0001", want: false},
		{key: "key-0002", want: false},
		{key: "key-0003", want: false},
		{key: "key-0004", want: true},
		{key: fmt.Sprintf("key-%04d", fits+2), want: true},
	} {
		if _, ok := c.Get(tc.key); ok != tc.want {
			t.Errorf("%s present: %v, want %v", tc.key, ok, tc.want)
		}
	}
	// One large entry evicts as many small ones as it needs.
	big := bytes.Repeat([]byte("b"), budget/2)
	if err := c.Set("big", big); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.Bytes > budget {
		t.Errorf("after a large entry: %d bytes held, budget %d", st.Bytes, budget)
	}
	if v, ok := c.Get("big"); !ok || len(v) != len(big) {
		t.Errorf("large entry: %d bytes, %v", len(v), ok)
	}
}

// Replacing or deleting an entry gives its bytes back.
func TestBytesAccounting(t *testing.T) {
	c := New(4 << 20)
	for _, tc := range []struct {
		name string
		do   func()
		want int64
	}{
		{name: "set", do: func() { c.Set("a", make([]byte, 100)) }, want: size("a", make([]byte, 100))},
		{name: "replace larger", do: func() { c.Set("a", make([]byte, 500)) }, want: size("a", make([]byte, 500))},
		{name: "replace smaller", do: func() { c.Set("a", make([]byte, 10)) }, want: size("a", make([]byte, 10))},
		{name: "second key", do: func() { c.Set("bb", nil) }, want: size("a", make([]byte, 10)) + size("bb", nil)},
		{name: "del", do: func() { c.Del("a") }, want: size("bb", nil)},
		{name: "del missing", do: func() { c.Del("zz") }, want: size("bb", nil)},
		{name: "del last", do: func() { c.Del("bb") }, want: 0},
	} {
		tc.do()
		if got := c.Stats().Bytes; got != tc.want {
			t.Errorf("%s: %d bytes, want %d", tc.name, got, tc.want)
		}
	}
}

func TestTooLarge(t *testing.T) {
	for _, tc := range []struct {
		name     string
		budget   int64
		valueLen int
		want     error
	}{
		{name: "fits the smallest cache", budget: MinBytes, valueLen: MinBytes - EntryOverhead - 1},
		{name: "too large for the smallest", budget: MinBytes, valueLen: MinBytes, want: ErrTooLarge},
		{name: "below MinBytes means MinBytes", budget: 1, valueLen: 1000},
		{name: "a shard's share of 64MiB", budget: 64 << 20, valueLen: 4<<20 - EntryOverhead - 1},
		{name: "more than a shard's share", budget: 64 << 20, valueLen: 4 << 20, want: ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := New(tc.budget)
			err := c.Set("k", make([]byte, tc.valueLen))
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if _, ok := c.Get("k"); ok != (err == nil) {
				t.Errorf("stored: %v after %v", ok, err)
			}
		})
	}
}

// Many clients at once: every value read is one that was written for its
// key, and the budget holds.
func TestConcurrent(t *testing.T) {
	const budget = 2 << 20
	c := New(budget)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 20000 {
				k := strconv.Itoa((g*7919 + i) % 3000)
				switch i % 4 {
				case 0:
					c.Set(k, []byte("v"+k))
				case 1:
					c.Del(k)
				default:
					if v, ok := c.Get(k); ok && string(v) != "v"+k {
						t.Errorf("key %s read %q", k, v)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if st := c.Stats(); st.Bytes > budget {
		t.Errorf("%d bytes held, budget %d", st.Bytes, budget)
	}
}

// Get allocates nothing; Set two: key and value together, and the LRU's element.
func TestAllocs(t *testing.T) {
	c := New(64 << 20)
	value := make([]byte, 100)
	c.Set("user:1234", value)
	if n := testing.AllocsPerRun(1000, func() { c.Get("user:1234") }); n != 0 {
		t.Errorf("Get: %v allocations, want 0", n)
	}
	if n := testing.AllocsPerRun(1000, func() { c.Get("missing") }); n != 0 {
		t.Errorf("Get of a miss: %v allocations, want 0", n)
	}
	if n := testing.AllocsPerRun(1000, func() { c.Set("user:1234", value) }); n != 2 {
		t.Errorf("Set: %v allocations, want 2", n)
	}
}

func benchKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "user:" + strconv.Itoa(i)
	}
	return keys
}

func BenchmarkGet(b *testing.B) {
	c := New(64 << 20)
	keys := benchKeys(10000)
	for _, k := range keys {
		c.Set(k, make([]byte, 100))
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, ok := c.Get(keys[i%len(keys)]); !ok {
				b.Error("miss")
				return
			}
			i++
		}
	})
}

func BenchmarkSet(b *testing.B) {
	c := New(64 << 20)
	keys := benchKeys(10000)
	value := make([]byte, 100)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if err := c.Set(keys[i%len(keys)], value); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}
