package spool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
)

var discard = slog.New(slog.DiscardHandler)

func openTest(t *testing.T, cfg Config) *Spool {
	t.Helper()
	if cfg.Path == "" {
		cfg.Path = filepath.Join(t.TempDir(), "spool.db")
	}
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// set, del and other build Ops as the router would: set and delete
// supersede, other commands queue.
func set(server, key, value string) Op {
	return Op{Pool: "default", Server: server, Key: []byte(key), Supersedes: true,
		Request: fmt.Appendf(nil, "set %s 0 0 %d\r\n%s\r\n", key, len(value), value)}
}

func del(server, key string) Op {
	return Op{Pool: "default", Server: server, Key: []byte(key), Supersedes: true,
		Request: fmt.Appendf(nil, "delete %s\r\n", key)}
}

func other(server, cmd, key, arg string) Op {
	return Op{Pool: "default", Server: server, Key: []byte(key),
		Request: fmt.Appendf(nil, "%s %s %s\r\n", cmd, key, arg)}
}

func mustAppend(t *testing.T, s *Spool, op Op) uint64 {
	t.Helper()
	id, err := s.Append(context.Background(), op)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// drain takes every entry of server in order, acking each, and returns
// their requests' first lines.
func drain(t *testing.T, s *Spool, server string) []string {
	t.Helper()
	var got []string
	for {
		e, ok, err := s.Next(server)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return got
		}
		got = append(got, strings.SplitN(string(e.Request), "\r\n", 2)[0])
		if err := s.Ack(server, e.ID); err != nil {
			t.Fatal(err)
		}
	}
}

const s1, s2 = "127.0.0.1:11211", "127.0.0.2:11211"

func TestOrderAndSupersede(t *testing.T) {
	tests := []struct {
		name       string
		ops        []Op
		want       map[string][]string // per server, first lines in replay order
		superseded uint64
	}{
		{
			name: "a server's entries come back in append order",
			ops:  []Op{set(s1, "a", "1"), set(s1, "b", "2"), other(s1, "append", "a", "0 0 1"), other(s1, "incr", "c", "5")},
			want: map[string][]string{s1: {"set a 0 0 1", "set b 0 0 1", "append a 0 0 1", "incr c 5"}},
		},
		{
			name:       "a set supersedes the older writes of its key",
			ops:        []Op{set(s1, "a", "1"), other(s1, "append", "a", "0 0 1"), set(s1, "b", "2"), set(s1, "a", "22")},
			want:       map[string][]string{s1: {"set b 0 0 1", "set a 0 0 2"}},
			superseded: 2,
		},
		{
			name:       "a delete supersedes",
			ops:        []Op{set(s1, "a", "1"), other(s1, "incr", "a", "1"), del(s1, "a")},
			want:       map[string][]string{s1: {"delete a"}},
			superseded: 2,
		},
		{
			name: "append, prepend, incr, add queue behind a set",
			ops: []Op{set(s1, "a", "1"), other(s1, "append", "a", "0 0 1"), other(s1, "prepend", "a", "0 0 1"),
				other(s1, "incr", "a", "3"), other(s1, "add", "a", "0 0 1")},
			want: map[string][]string{s1: {"set a 0 0 1", "append a 0 0 1", "prepend a 0 0 1", "incr a 3", "add a 0 0 1"}},
		},
		{
			name: "superseding is per server",
			ops:  []Op{set(s1, "a", "1"), set(s2, "a", "2")},
			want: map[string][]string{s1: {"set a 0 0 1"}, s2: {"set a 0 0 1"}},
		},
		{
			name: "a key that is a prefix of another supersedes only itself",
			ops:  []Op{set(s1, "ab", "1"), set(s1, "a", "2"), set(s1, "a", "3")},
			want: map[string][]string{s1: {"set ab 0 0 1", "set a 0 0 1"}}, superseded: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t, Config{})
			last := uint64(0)
			for _, op := range tt.ops {
				id := mustAppend(t, s, op)
				if id <= last {
					t.Fatalf("id %d after %d: not increasing", id, last)
				}
				last = id
			}
			for server, want := range tt.want {
				if n := s.Len(server); n != len(want) {
					t.Errorf("Len(%s) = %d, want %d", server, n, len(want))
				}
				if got := drain(t, s, server); !slices.Equal(got, want) {
					t.Errorf("%s replays %q, want %q", server, got, want)
				}
				if n := s.Len(server); n != 0 {
					t.Errorf("Len(%s) = %d after draining", server, n)
				}
			}
			st := s.Stats()
			if st.Superseded != tt.superseded || st.Appended != uint64(len(tt.ops)) || st.Acked != st.Appended-st.Superseded {
				t.Errorf("stats %+v, want %d appended, %d superseded", st, len(tt.ops), tt.superseded)
			}
		})
	}
}

func TestEntryRoundTrip(t *testing.T) {
	s := openTest(t, Config{})
	op := Op{Pool: "p", Server: s1, Key: []byte("k\x00\xff"), Request: []byte("ms k 2 T0\r\nhi\r\n"), Supersedes: true}
	id := mustAppend(t, s, op)
	e, ok, err := s.Next(s1)
	if err != nil || !ok {
		t.Fatalf("Next = %v, %v", ok, err)
	}
	want := Entry{Op: op, ID: id}
	if e.ID != want.ID || e.Pool != op.Pool || e.Server != op.Server || !bytes.Equal(e.Key, op.Key) ||
		!bytes.Equal(e.Request, op.Request) || e.Supersedes != op.Supersedes || e.Tries != 0 || e.LastError != "" {
		t.Fatalf("Next = %+v, want %+v", e, want)
	}
	var bad Entry
	for _, v := range [][]byte{nil, {2, 0}, {formatV1, 0}, {formatV1, 0, 0, 5, 'a'}} {
		if err := decode(s1, idKey(1), v, &bad); !errors.Is(err, ErrCorrupt) {
			t.Errorf("decode(%q) = %v, want ErrCorrupt", v, err)
		}
	}
}

func TestFailAndDeadLetters(t *testing.T) {
	var logged bytes.Buffer
	s := openTest(t, Config{MaxTries: 3, Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	id := mustAppend(t, s, other(s1, "incr", "n", "1"))
	next := mustAppend(t, s, set(s1, "m", "1"))
	cause := errors.New("SERVER_ERROR out of memory")
	for try := 1; try <= 3; try++ {
		dead, err := s.Fail(s1, id, cause)
		if err != nil {
			t.Fatal(err)
		}
		if dead != (try == 3) {
			t.Fatalf("try %d: dead %v", try, dead)
		}
		if try < 3 {
			e, _, _ := s.Next(s1)
			if e.ID != id || e.Tries != try || e.LastError != cause.Error() {
				t.Fatalf("try %d: head %+v", try, e)
			}
		}
	}
	if e, _, _ := s.Next(s1); e.ID != next {
		t.Fatalf("head after dead-lettering is #%d, want #%d", e.ID, next)
	}
	dl, err := s.DeadLetters(s1)
	if err != nil || len(dl) != 1 || dl[0].ID != id || dl[0].Tries != 3 || string(dl[0].Key) != "n" {
		t.Fatalf("DeadLetters = %+v, %v", dl, err)
	}
	if st := s.Stats(); st.DeadLettered != 1 || st.Servers[s1] != (ServerStats{Pending: 1, Dead: 1}) {
		t.Fatalf("stats %+v", st)
	}
	if line := logged.String(); !strings.Contains(line, "dead letters") || !strings.Contains(line, "key=n") ||
		!strings.Contains(line, "out of memory") {
		t.Fatalf("log %q", line)
	}
	// Entries gone (dead, acked, superseded) are not errors.
	if dead, err := s.Fail(s1, id, cause); dead || err != nil {
		t.Fatalf("Fail of a dead entry = %v, %v", dead, err)
	}
	if err := s.Ack(s1, id); err != nil {
		t.Fatal(err)
	}
	if err := s.Ack("127.0.0.9:1", 77); err != nil {
		t.Fatal(err)
	}
	if n := s.Len(s1); n != 1 {
		t.Fatalf("Len = %d, want 1", n)
	}
}

func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.db")
	s, err := Open(Config{Path: path, MaxTries: 2, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, set(s1, "a", "1"))
	last := mustAppend(t, s, set(s2, "b", "2"))
	dead := mustAppend(t, s, other(s2, "incr", "c", "1"))
	s.Fail(s2, dead, errors.New("x"))
	s.Fail(s2, dead, errors.New("x"))
	// A second Open of the same file waits for the lock, then fails.
	if _, err := Open(Config{Path: path, LockTimeout: 50e6}); err == nil {
		t.Fatal("a second Open of a spool in use succeeded")
	}
	s.Close()

	s = openTest(t, Config{Path: path})
	if got := s.Servers(); !slices.Equal(got, []string{s1, s2}) {
		t.Fatalf("Servers = %q", got)
	}
	if st := s.Stats(); st.Servers[s1] != (ServerStats{Pending: 1}) || st.Servers[s2] != (ServerStats{Pending: 1, Dead: 1}) {
		t.Fatalf("stats after reopening %+v", st)
	}
	if id := mustAppend(t, s, set(s1, "z", "1")); id <= dead || id <= last {
		t.Fatalf("id %d after reopening, not above %d", id, dead)
	}
	if got := drain(t, s, s1); !slices.Equal(got, []string{"set a 0 0 1", "set z 0 0 1"}) {
		t.Fatalf("%s replays %q", s1, got)
	}
}

func TestAppendRefused(t *testing.T) {
	s := openTest(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Append(ctx, set(s1, "a", "1")); !errors.Is(err, context.Canceled) {
		t.Errorf("Append with a done context = %v", err)
	}
	if _, err := s.Append(context.Background(), Op{Server: s1}); !errors.Is(err, ErrInvalidOp) {
		t.Errorf("Append without a request = %v", err)
	}
	s.Close()
	if _, err := s.Append(context.Background(), set(s1, "a", "1")); err == nil {
		t.Error("Append on a closed spool succeeded")
	}
	if s.Len(s1) != 0 || s.Stats().Appended != 0 {
		t.Errorf("refused appends were counted: %+v", s.Stats())
	}
}

// TestUnwritable opens a spool where the file cannot be created: under a
// path whose parent is a regular file (any machine), and in a directory
// mounted read-only (root only: chmod does not stop root).
func TestUnwritable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(Config{Path: filepath.Join(file, "spool.db")}); err == nil {
		t.Error("Open under a regular file succeeded")
	}
	dir := readOnlyDir(t)
	if _, err := Open(Config{Path: filepath.Join(dir, "spool.db")}); !errors.Is(err, syscall.EROFS) {
		t.Errorf("Open in a read-only directory = %v, want EROFS", err)
	}
}

// TestConcurrentAppend appends from several goroutines (group commit under
// -race): every acknowledged entry is there once, in id order, with the
// superseded ones of a shared key gone.
func TestConcurrentAppend(t *testing.T) {
	s := openTest(t, Config{})
	const writers, each = 8, 40
	ids := make([][]uint64, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				op := other(s1, "append", fmt.Sprintf("w%d", w), fmt.Sprint(i))
				if i%4 == 0 {
					op = set(s1, "hot", fmt.Sprint(w, i)) // supersedes every older "hot"
				}
				id, err := s.Append(context.Background(), op)
				if err != nil {
					t.Error(err)
					return
				}
				if i%4 != 0 {
					ids[w] = append(ids[w], id)
				}
			}
		})
	}
	wg.Wait()
	st := s.Stats()
	if st.Appended != writers*each || st.Superseded != writers*each/4-1 {
		t.Fatalf("stats %+v: want %d appended, %d superseded", st, writers*each, writers*each/4-1)
	}
	var got []uint64
	hot := 0
	last := uint64(0)
	for {
		e, ok, err := s.Next(s1)
		if err != nil || !ok {
			break
		}
		if e.ID <= last {
			t.Fatalf("#%d after #%d", e.ID, last)
		}
		last = e.ID
		if string(e.Key) == "hot" {
			hot++
		} else {
			got = append(got, e.ID)
		}
		s.Ack(s1, e.ID)
	}
	var want []uint64
	for _, w := range ids {
		want = append(want, w...)
	}
	slices.Sort(want)
	if hot != 1 || !slices.Equal(got, want) {
		t.Fatalf("%d entries of the hot key (want 1); %d others, want %d", hot, len(got), len(want))
	}
}

// TestEntries lists a server's queue in order, superseded entries gone.
func TestEntries(t *testing.T) {
	s := openTest(t, Config{})
	mustAppend(t, s, set(s1, "a", "1"))
	mustAppend(t, s, other(s1, "incr", "n", "1"))
	mustAppend(t, s, set(s2, "b", "1"))
	mustAppend(t, s, set(s1, "a", "22")) // supersedes a's first
	entries, err := s.Entries(s1)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, strings.SplitN(string(e.Request), "\r\n", 2)[0])
	}
	if want := []string{"incr n 1", "set a 0 0 2"}; !slices.Equal(got, want) {
		t.Fatalf("entries %q, want %q", got, want)
	}
	if entries, err := s.Entries("nowhere:1"); err != nil || len(entries) != 0 {
		t.Fatalf("entries of an unknown server: %v %v", entries, err)
	}
}
