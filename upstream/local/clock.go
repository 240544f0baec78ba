package local

import "time"

// Memcached keeps time in whole seconds relative to process_started, which
// it sets to its start time minus ITEM_UPDATE_INTERVAL (60) minus 2. The
// store copies that clock rather than using Unix time directly, because
// exptimes and flush_all delays are interpreted relative to it: an absolute
// time at or before process_started becomes "1" (long expired), and a
// flush_all whose moment maps to 1 disables flushing altogether.
const (
	startSlack = 60 + 2
	// maxDelta is REALTIME_MAXDELTA: larger exptimes are absolute Unix times.
	maxDelta = 60 * 60 * 24 * 30
)

// clock turns a wall clock into memcached's relative seconds.
type clock struct {
	now     func() time.Time
	started int64 // Unix seconds of relative time 0
}

func newClock(now func() time.Time) clock {
	if now == nil {
		now = time.Now
	}
	return clock{now: now, started: now().Unix() - startSlack}
}

// current returns the relative time now (memcached's current_time).
func (c *clock) current() int64 { return c.now().Unix() - c.started }

// realtime converts an exptime or flush_all delay as sent by a client into
// relative time, like memcached's realtime(EXPTIME_TO_POSITIVE_TIME(x)).
// 0 means never; a negative exptime becomes an absolute time long past.
func (c *clock) realtime(exptime, now int64) int64 {
	switch {
	case exptime == 0:
		return 0
	case exptime < 0:
		exptime = maxDelta + 1
	}
	if exptime > maxDelta {
		if exptime <= c.started {
			return 1
		}
		return exptime - c.started
	}
	return exptime + now
}
