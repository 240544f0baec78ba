package pipeline

import (
	"testing"
	"time"
)

// The loop transport holds new requests behind unanswered ones only
// within HoldFor of its last write (the clock is lastUse, set when a
// request is queued).
func TestLoopHold(t *testing.T) {
	const us = int64(time.Microsecond)
	cases := []struct {
		name      string
		holdFor   time.Duration
		inFlight  int // requests written, unanswered
		unsent    int
		out       int // bytes buffered
		flushNow  bool
		sinceLast int64 // lastUse - lastWrite
		want      bool
	}{
		{"nothing in flight: leave at once", 0, 0, 1, 10, false, 1 * us, false},
		{"in flight, written just now: hold", 0, 1, 1, 10, false, 5 * us, true},
		{"in flight, last write older than the default bound: leave", 0, 1, 1, 10, false, 20 * us, false},
		{"the server's bytes arrived: leave", 0, 1, 1, 10, true, 1 * us, false},
		{"holdMax bytes waiting: leave", 0, 1, 50, holdMax, false, 1 * us, false},
		{"a longer bound holds longer", time.Millisecond, 1, 1, 10, false, 500 * us, true},
		{"negative: never hold", -1, 1, 1, 10, false, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{HoldFor: tc.holdFor}.WithDefaults()
			lp := &Lane{p: &Pipeline{cfg: cfg, holdFor: int64(cfg.HoldFor)}}
			lc := &lconn{lp: lp, n: tc.inFlight + tc.unsent, unsent: tc.unsent,
				out: make([]byte, tc.out), flushNow: tc.flushNow}
			lc.lastWrite = 1000 * us
			lc.lastUse = lc.lastWrite + tc.sinceLast
			if got := lc.holds(); got != tc.want {
				t.Errorf("holds() = %v, want %v", got, tc.want)
			}
		})
	}
}
