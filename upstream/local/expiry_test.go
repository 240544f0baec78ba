package local

import (
	"testing"
	"time"
)

func TestExpiry(t *testing.T) {
	hit := "VALUE k 0 1\r\nv\r\nEND\r\n"
	miss := "END\r\n"
	const thirtyDays = 60 * 60 * 24 * 30
	tests := []struct {
		name    string
		exptime int64
		// The item is visible until alive has passed, then gone; forever
		// when alive is negative.
		alive time.Duration
	}{
		{"0 never expires", 0, -1},
		{"relative seconds", 10, 10 * time.Second},
		{"one second", 1, time.Second},
		{"30 days is still relative", thirtyDays, thirtyDays * time.Second},
		{"absolute unix time", baseUnix + 50, 50 * time.Second},
		{"absolute, 30 days and a second", baseUnix + thirtyDays + 1, (thirtyDays + 1) * time.Second},
		{"absolute now", baseUnix, 0},
		{"absolute past", baseUnix - 5, 0},
		{"absolute before the epoch of the store", thirtyDays + 1, 0},
		{"negative", -1, 0},
		{"very negative", -1 << 40, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var steps []step
			steps = append(steps, step{req: set("k", 0, tt.exptime, "v"), want: "STORED\r\n"})
			if tt.alive < 0 {
				steps = append(steps, step{advance: 100 * 365 * 24 * time.Hour, req: get("k"), want: hit})
				runSteps(t, Config{}, steps)
				return
			}
			if tt.alive > 0 {
				steps = append(steps,
					step{req: get("k"), want: hit},
					step{advance: tt.alive - time.Nanosecond, req: get("k"), want: hit})
			}
			steps = append(steps, step{advance: time.Nanosecond, req: get("k"), want: miss})
			runSteps(t, Config{}, steps)
		})
	}
}

// TestExpiryWholeSeconds checks that expiry counts whole seconds of the
// clock, as memcached's current_time does: an item set late in a second
// with exptime 1 expires when the next second starts.
func TestExpiryWholeSeconds(t *testing.T) {
	runSteps(t, Config{}, []step{
		{advance: 900 * time.Millisecond, req: set("k", 0, 1, "v"), want: "STORED\r\n"},
		{advance: 99 * time.Millisecond, req: get("k"), want: "VALUE k 0 1\r\nv\r\nEND\r\n"},
		{advance: time.Millisecond, req: get("k"), want: "END\r\n"},
	})
}
