package lock

import (
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time      { return time.Unix(0, 1_800_000_000_000_000_000+c.ns.Load()) }
func (c *fakeClock) add(d time.Duration) { c.ns.Add(int64(d)) }

// A script of Lock and Unlock calls on one table, with the clock moving
// between them. A token is named by the step that took it.
func TestLeases(t *testing.T) {
	type step struct {
		wait   time.Duration // the clock moves this much first
		lock   string        // Lock(lock, ttl) ...
		ttl    time.Duration
		wantOK bool
		unlock string // ... or Unlock(unlock, token of step tokenOf)
		of     int    // the step whose token Unlock gives; -1: a made-up token
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{name: "lock, held, unlock, lock again", steps: []step{
			{lock: "a", ttl: time.Second, wantOK: true},
			{lock: "a", ttl: time.Second, wantOK: false},
			{unlock: "a", of: 0, wantOK: true},
			{lock: "a", ttl: time.Second, wantOK: true},
		}},
		{name: "keys are independent", steps: []step{
			{lock: "a", ttl: time.Second, wantOK: true},
			{lock: "b", ttl: time.Second, wantOK: true},
			{unlock: "b", of: 0, wantOK: false}, // a's token does not unlock b
			{unlock: "a", of: 0, wantOK: true},
			{unlock: "b", of: 1, wantOK: true},
		}},
		{name: "wrong token leaves the lease held", steps: []step{
			{lock: "a", ttl: time.Second, wantOK: true},
			{unlock: "a", of: -1, wantOK: false},
			{lock: "a", ttl: time.Second, wantOK: false},
			{unlock: "a", of: 0, wantOK: true},
		}},
		{name: "unlock twice", steps: []step{
			{lock: "a", ttl: time.Second, wantOK: true},
			{unlock: "a", of: 0, wantOK: true},
			{unlock: "a", of: 0, wantOK: false},
		}},
		{name: "unlock of a key never locked", steps: []step{
			{unlock: "a", of: -1, wantOK: false},
		}},
		{name: "held until the ttl, free from then", steps: []step{
			{lock: "a", ttl: time.Second, wantOK: true},
			{wait: 999 * time.Millisecond, lock: "a", ttl: time.Second, wantOK: false},
			{wait: time.Millisecond, lock: "a", ttl: time.Second, wantOK: true},
		}},
		{name: "an expired lease's token unlocks nothing", steps: []step{
			{lock: "a", ttl: time.Second, wantOK: true},
			{wait: time.Second, unlock: "a", of: 0, wantOK: false},
			{lock: "a", ttl: time.Second, wantOK: true},
		}},
		{name: "the old holder cannot unlock the new holder", steps: []step{
			{lock: "a", ttl: time.Second, wantOK: true},
			{wait: 2 * time.Second, lock: "a", ttl: time.Second, wantOK: true},
			{unlock: "a", of: 0, wantOK: false},
			{lock: "a", ttl: time.Second, wantOK: false},
			{unlock: "a", of: 1, wantOK: true},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &fakeClock{}
			tab := New(0, c.now)
			tokens := make([]string, len(tc.steps))
			for i, s := range tc.steps {
				c.add(s.wait)
				if s.lock != "" {
					token, ok, err := tab.Lock(s.lock, s.ttl)
					if err != nil || ok != s.wantOK || (token != "") != ok {
						t.Fatalf("step %d: Lock(%q) = %q, %v, %v; want ok %v", i, s.lock, token, ok, err, s.wantOK)
					}
					tokens[i] = token
					continue
				}
				token := strings.Repeat("0", TokenLen)
				if s.of >= 0 {
					token = tokens[s.of]
				}
				if ok := tab.Unlock(s.unlock, token); ok != s.wantOK {
					t.Fatalf("step %d: Unlock(%q, token of step %d) = %v, want %v", i, s.unlock, s.of, ok, s.wantOK)
				}
			}
		})
	}
}

func TestLockArguments(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  string
		ttl  time.Duration
		want error
	}{
		{name: "ok", key: "k", ttl: time.Second},
		{name: "empty key", key: "", ttl: time.Second, want: ErrBadKey},
		{name: "longest key", key: strings.Repeat("k", MaxKeyLen), ttl: time.Second},
		{name: "key too long", key: strings.Repeat("k", MaxKeyLen+1), ttl: time.Second, want: ErrBadKey},
		{name: "zero ttl", key: "k", want: ErrBadTTL},
		{name: "negative ttl", key: "k", ttl: -time.Second, want: ErrBadTTL},
		{name: "longest ttl", key: "k", ttl: MaxTTL},
		{name: "ttl too long", key: "k", ttl: MaxTTL + 1, want: ErrBadTTL},
		{name: "binary key", key: "\x00 \n\xff", ttl: time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ok, err := New(0, nil).Lock(tc.key, tc.ttl)
			if !errors.Is(err, tc.want) || ok != (tc.want == nil) {
				t.Errorf("got %v, %v; want %v", ok, err, tc.want)
			}
		})
	}
}

// The table refuses leases past its maximum; leases that expire or are
// given back make room.
func TestBounded(t *testing.T) {
	c := &fakeClock{}
	tab := New(3, c.now)
	tokens := map[string]string{}
	for _, k := range []string{"a", "b", "c"} {
		token, ok, err := tab.Lock(k, time.Duration(len(tokens)+1)*time.Second) // a: 1s, b: 2s, c: 3s
		if !ok || err != nil {
			t.Fatalf("Lock(%s): %v %v", k, ok, err)
		}
		tokens[k] = token
	}
	steps := []struct {
		name    string
		do      func() error
		want    error
		wantLen int
	}{
		{name: "full", do: func() error { _, _, err := tab.Lock("d", time.Second); return err }, want: ErrFull, wantLen: 3},
		{name: "a held key is no error", do: func() error { _, _, err := tab.Lock("a", time.Second); return err }, wantLen: 3},
		{name: "a expires: room for d", do: func() error {
			c.add(time.Second)
			_, _, err := tab.Lock("d", 10*time.Second)
			return err
		}, wantLen: 3},
		{name: "full again", do: func() error { _, _, err := tab.Lock("e", time.Second); return err }, want: ErrFull, wantLen: 3},
		{name: "b and c expire: both collected", do: func() error {
			c.add(2 * time.Second)
			_, _, err := tab.Lock("e", time.Second)
			return err
		}, wantLen: 2},
		{name: "an unlock makes room", do: func() error {
			tab.Lock("f", time.Second)
			if _, _, err := tab.Lock("g", time.Second); !errors.Is(err, ErrFull) {
				return errors.New("not full")
			}
			token, _, _ := tab.Lock("x", time.Second) // refused: no token
			if token != "" || !tab.Unlock("f", tab.leases["f"].token) {
				return errors.New("unlock failed")
			}
			_, _, err := tab.Lock("g", time.Second)
			return err
		}, wantLen: 3},
	}
	for _, s := range steps {
		if err := s.do(); !errors.Is(err, s.want) {
			t.Fatalf("%s: %v, want %v", s.name, err, s.want)
		}
		if n := tab.Len(); n != s.wantLen {
			t.Fatalf("%s: %d leases, want %d", s.name, n, s.wantLen)
		}
	}
}

// Tokens are 32 hex digits, and distinct.
func TestTokens(t *testing.T) {
	tab := New(0, nil)
	seen := map[string]bool{}
	for i := range 10000 {
		token, ok, err := tab.Lock(strconv.Itoa(i), time.Minute)
		if !ok || err != nil {
			t.Fatal(ok, err)
		}
		if _, err := hex.DecodeString(token); err != nil || len(token) != TokenLen {
			t.Fatalf("token %q", token)
		}
		if seen[token] {
			t.Fatalf("token %q twice", token)
		}
		seen[token] = true
	}
}

// Many clients contending for one key: never two holders at once.
func TestMutualExclusion(t *testing.T) {
	tab := New(0, nil)
	var holders, taken atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 2000 {
				token, ok, err := tab.Lock("k", time.Hour)
				if err != nil {
					t.Error(err)
					return
				}
				if !ok {
					continue
				}
				if holders.Add(1) != 1 {
					t.Error("two holders at once")
				}
				taken.Add(1)
				holders.Add(-1)
				if !tab.Unlock("k", token) {
					t.Error("holder could not unlock")
				}
			}
		})
	}
	wg.Wait()
	if taken.Load() == 0 {
		t.Error("nobody took the lease")
	}
}

// BenchmarkLock: every Lock takes a lease and collects an expired one.
func BenchmarkLock(b *testing.B) {
	c := &fakeClock{}
	tab := New(0, c.now)
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = "lock:" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.add(time.Microsecond)
		if _, ok, err := tab.Lock(keys[i%len(keys)], time.Millisecond); !ok || err != nil {
			b.Fatal(ok, err)
		}
		i++
	}
}

// BenchmarkLockUnlock: a lease taken and given back.
func BenchmarkLockUnlock(b *testing.B) {
	tab := New(0, nil)
	b.ReportAllocs()
	for b.Loop() {
		token, ok, err := tab.Lock("lock:k", time.Second)
		if !ok || err != nil || !tab.Unlock("lock:k", token) {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkLockHeld: a Lock refused because the key is held.
func BenchmarkLockHeld(b *testing.B) {
	tab := New(0, nil)
	tab.Lock("lock:k", time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, _ := tab.Lock("lock:k", time.Second); ok {
			b.Fatal("taken twice")
		}
	}
}

// A Lock refused because the key is held allocates nothing; a lease taken
// costs two allocations (key and token together, and the lease).
func TestLockAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts mean nothing under -race (make test runs this without it)")
	}
	tab := New(0, nil)
	tab.Lock("held", time.Hour)
	if n := testing.AllocsPerRun(1000, func() { tab.Lock("held", time.Second) }); n != 0 {
		t.Errorf("refused Lock: %v allocations, want 0", n)
	}
	if n := testing.AllocsPerRun(1000, func() {
		token, _, _ := tab.Lock("k", time.Second)
		tab.Unlock("k", token)
	}); n != 2 {
		t.Errorf("Lock and Unlock: %v allocations, want 2", n)
	}
}
