package spool

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/internal/testproc"
)

// fakeServer is a Send whose answers are scripted per request: each
// request's errors are returned in turn, then nil. It also is the Wait,
// recording each backoff and returning at once.
type fakeServer struct {
	mu     sync.Mutex
	script map[string][]error // first line of a request → errors to return before nil
	sent   []string           // first lines, in the order sent
	waits  []time.Duration
	calls  chan string
}

func newFakeServer(script map[string][]error) *fakeServer {
	return &fakeServer{script: script, calls: make(chan string, 100)}
}

func (f *fakeServer) send(ctx context.Context, e Entry) error {
	line := strings.SplitN(string(e.Request), "\r\n", 2)[0]
	f.mu.Lock()
	f.sent = append(f.sent, line)
	var err error
	if errs := f.script[line]; len(errs) > 0 {
		err, f.script[line] = errs[0], errs[1:]
	}
	f.mu.Unlock()
	f.calls <- line
	return err
}

func (f *fakeServer) wait(ctx context.Context, d time.Duration) error {
	f.mu.Lock()
	f.waits = append(f.waits, d)
	f.mu.Unlock()
	return ctx.Err()
}

// expectCalls waits for n sends.
func (f *fakeServer) expectCalls(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		select {
		case <-f.calls:
		case <-time.After(10 * time.Second):
			f.mu.Lock()
			defer f.mu.Unlock()
			t.Fatalf("%d sends of %d came; sent %q", i, n, f.sent)
		}
	}
}

var (
	errDown   = fmt.Errorf("dial: connection refused: %w", ErrUnavailable)
	errServer = errors.New("SERVER_ERROR out of memory storing object")
)

func TestReplay(t *testing.T) {
	const ms = time.Millisecond
	tests := []struct {
		name      string
		maxTries  int
		backoff   [2]time.Duration // min, max; zero: the defaults
		ops       []Op
		script    map[string][]error
		wantSent  []string
		wantWaits []time.Duration
		wantDead  int
	}{
		{
			name:      "delivers in order",
			ops:       []Op{set(s1, "a", "1"), other(s1, "append", "a", "0 0 1"), set(s1, "b", "2")},
			wantSent:  []string{"set a 0 0 1", "append a 0 0 1", "set b 0 0 1"},
			wantWaits: nil,
		},
		{
			name: "an unreachable server is retried after a growing backoff, without counting tries",
			ops:  []Op{set(s1, "a", "1"), other(s1, "incr", "a", "1")},
			script: map[string][]error{"set a 0 0 1": {errDown, errDown, errDown},
				"incr a 1": {errDown}},
			maxTries:  2,
			wantSent:  []string{"set a 0 0 1", "set a 0 0 1", "set a 0 0 1", "set a 0 0 1", "incr a 1", "incr a 1"},
			wantWaits: []time.Duration{100 * ms, 200 * ms, 400 * ms, 100 * ms},
		},
		{
			name:      "the backoff stops at its maximum",
			backoff:   [2]time.Duration{10 * ms, 30 * ms},
			ops:       []Op{set(s1, "a", "1")},
			script:    map[string][]error{"set a 0 0 1": {errDown, errDown, errDown, errDown}},
			wantSent:  slices.Repeat([]string{"set a 0 0 1"}, 5),
			wantWaits: []time.Duration{10 * ms, 20 * ms, 30 * ms, 30 * ms},
		},
		{
			name:      "a refused entry counts tries, then goes to the dead letters and the next goes at once",
			maxTries:  3,
			ops:       []Op{other(s1, "incr", "n", "1"), set(s1, "b", "2")},
			script:    map[string][]error{"incr n 1": {errServer, errServer, errServer}},
			wantSent:  []string{"incr n 1", "incr n 1", "incr n 1", "set b 0 0 1"},
			wantWaits: []time.Duration{100 * ms, 200 * ms},
			wantDead:  1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t, Config{MaxTries: tt.maxTries, Logger: discard})
			for _, op := range tt.ops {
				mustAppend(t, s, op)
			}
			f := newFakeServer(tt.script)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			var settledAcked, settledDead int // only the replayer's goroutine writes them
			settled := func(e Entry, dead bool) {
				if dead {
					settledDead++
				} else {
					settledAcked++
				}
			}
			go func() {
				defer close(done)
				s.Replay(ctx, s1, ReplayConfig{Send: f.send, Wait: f.wait, MinBackoff: tt.backoff[0], MaxBackoff: tt.backoff[1], Settled: settled})
			}()
			f.expectCalls(t, len(tt.wantSent))
			testproc.WaitFor(t, "the queue to drain", func() bool { return s.Len(s1) == 0 })
			cancel()
			<-done
			if !slices.Equal(f.sent, tt.wantSent) {
				t.Errorf("sent %q, want %q", f.sent, tt.wantSent)
			}
			if !slices.Equal(f.waits, tt.wantWaits) {
				t.Errorf("backoffs %v, want %v", f.waits, tt.wantWaits)
			}
			if st := s.Stats(); st.Servers[s1].Dead != tt.wantDead || st.Acked != uint64(len(tt.ops)-tt.wantDead) {
				t.Errorf("stats %+v, want %d dead", st, tt.wantDead)
			}
			if settledAcked != len(tt.ops)-tt.wantDead || settledDead != tt.wantDead {
				t.Errorf("Settled reported %d acked and %d dead, want %d and %d", settledAcked, settledDead, len(tt.ops)-tt.wantDead, tt.wantDead)
			}
		})
	}
}

// TestReplayAll checks that the replayers wake on Append, serve servers
// left in the spool by an earlier run, and stop with their context.
func TestReplayAll(t *testing.T) {
	s := openTest(t, Config{})
	mustAppend(t, s, set(s2, "left", "1")) // s2 is not in the configuration
	f := newFakeServer(nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.ReplayAll(ctx, []string{s1}, ReplayConfig{Send: f.send, Wait: f.wait})
	}()
	f.expectCalls(t, 1)
	mustAppend(t, s, set(s1, "new", "1"))
	f.expectCalls(t, 1)
	testproc.WaitFor(t, "both queues to drain", func() bool { return s.Len(s1) == 0 && s.Len(s2) == 0 })
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("ReplayAll did not return after its context was canceled")
	}
	if st := s.Stats(); st.Acked != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// TestReplaySupersededInFlight: a set that supersedes the entry being sent
// leaves the replayer's Ack of it harmless, and the newer write follows.
func TestReplaySupersededInFlight(t *testing.T) {
	s := openTest(t, Config{})
	mustAppend(t, s, set(s1, "a", "1"))
	release := make(chan struct{})
	var sent []string
	var mu sync.Mutex
	first := make(chan struct{})
	send := func(ctx context.Context, e Entry) error {
		mu.Lock()
		sent = append(sent, strings.SplitN(string(e.Request), "\r\n", 2)[0])
		n := len(sent)
		mu.Unlock()
		if n == 1 {
			close(first)
			<-release
		}
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Replay(ctx, s1, ReplayConfig{Send: send})
	}()
	<-first
	mustAppend(t, s, set(s1, "a", "22")) // supersedes the entry being sent
	close(release)
	testproc.WaitFor(t, "the queue to drain", func() bool { return s.Len(s1) == 0 })
	cancel()
	<-done
	if want := []string{"set a 0 0 1", "set a 0 0 2"}; !slices.Equal(sent, want) {
		t.Fatalf("sent %q, want %q", sent, want)
	}
	if st := s.Stats(); st.Acked != 1 || st.Superseded != 1 {
		t.Fatalf("stats %+v", st)
	}
}
