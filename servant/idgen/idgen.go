package idgen

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// Layout of an id (see the package doc).
const (
	// Epoch is fae's epoch in unix milliseconds: 2014-01-04T11:29:34.657Z.
	Epoch = 1388834974657

	seqBits    = 12
	workerBits = 5
	tagBits    = 5
	msBits     = 63 - tagBits - workerBits - seqBits

	workerShift = seqBits
	tagShift    = seqBits + workerBits
	msShift     = seqBits + workerBits + tagBits

	// MaxWorker is the largest worker id.
	MaxWorker = 1<<workerBits - 1
	// MaxTag is the largest tag.
	MaxTag = 1<<tagBits - 1

	maxSeq = 1<<seqBits - 1
	maxMs  = 1<<msBits - 1
)

// MaxLead is how far an id's time may run ahead of the clock (see the package doc).
const MaxLead = 10 * time.Millisecond

const leadMs = int64(MaxLead / time.Millisecond)

// Errors.
var (
	// ErrBadWorker is returned by New when the worker id is outside 0-31.
	ErrBadWorker = errors.New("idgen: worker id must be between 0 and 31")
	// ErrBadTag is returned by NextWithTag when the tag is outside 0-31.
	ErrBadTag = errors.New("idgen: tag must be between 0 and 31")
	// ErrClockBack is returned when the clock stays behind the last id
	// issued (it stepped back, or the ids ran MaxLead ahead of it) for
	// longer than the generator's maxWait.
	ErrClockBack = errors.New("idgen: clock is behind the last id issued")
	// ErrClockRange is returned when the clock is before fae's epoch (2014)
	// or past the last millisecond an id can hold (2083).
	ErrClockRange = errors.New("idgen: clock outside the range of ids (2014 to 2083)")
)

// Generator makes ids for one worker. Safe for concurrent use.
type Generator struct {
	last    atomic.Int64 // the last id issued (or the start fence)
	worker  int64
	clock   func() time.Time
	maxWait time.Duration
}

// New returns a generator for worker (0-31). clock gives the time (nil:
// time.Now); a call whose id would run more than MaxLead ahead of it waits
// up to maxWait for it (0: not at all) before failing with ErrClockBack.
func New(worker int, clock func() time.Time, maxWait time.Duration) (*Generator, error) {
	if worker < 0 || worker > MaxWorker {
		return nil, ErrBadWorker
	}
	if clock == nil {
		clock = time.Now
	}
	g := &Generator{worker: int64(worker), clock: clock, maxWait: max(maxWait, 0)}
	// The fence: the first id is past start+MaxLead, beyond any id a
	// previous run on this host may have issued ahead of the clock.
	fence := min(max(clock().UnixMilli()-Epoch+leadMs, 0), maxMs)
	g.last.Store(fence<<msShift | MaxTag<<tagShift | g.worker<<workerShift | maxSeq)
	return g, nil
}

// Worker returns the generator's worker id.
func (g *Generator) Worker() int { return int(g.worker) }

// Next returns a new id with tag 0. It blocks only when the clock is behind
// the ids (see the package doc), until ctx ends or maxWait passes.
func (g *Generator) Next(ctx context.Context) (int64, error) {
	return g.next(ctx, 0)
}

// NextWithTag returns a new id with tag (0-31), as Next.
func (g *Generator) NextWithTag(ctx context.Context, tag int16) (int64, error) {
	if tag < 0 || tag > MaxTag {
		return 0, ErrBadTag
	}
	return g.next(ctx, int64(tag))
}

func (g *Generator) next(ctx context.Context, tag int64) (int64, error) {
	var deadline time.Time // of waiting, in real time; set by the first wait
	for {
		t := g.clock()
		now := t.UnixMilli() - Epoch
		if now < 0 || now > maxMs {
			return 0, ErrClockRange
		}
		last := g.last.Load()
		lastMs, lastTag, lastSeq := last>>msShift, last>>tagShift&MaxTag, last&maxSeq
		ms, seq := now, int64(0)
		switch {
		case now > lastMs:
		case tag > lastTag:
			ms = lastMs
		case tag == lastTag && lastSeq < maxSeq:
			ms, seq = lastMs, lastSeq+1
		default:
			ms = lastMs + 1
		}
		if ms-now <= leadMs {
			if ms > maxMs {
				return 0, ErrClockRange
			}
			id := ms<<msShift | tag<<tagShift | g.worker<<workerShift | seq
			if g.last.CompareAndSwap(last, id) {
				return id, nil
			}
			continue // another caller took an id meanwhile
		}
		// The id would run too far ahead of the clock: wait until the
		// clock reaches ms-leadMs.
		if deadline.IsZero() {
			deadline = time.Now().Add(g.maxWait)
		}
		if err := wait(ctx, time.UnixMilli(Epoch+ms-leadMs).Sub(t), deadline); err != nil {
			return 0, err
		}
	}
}

// wait sleeps d (at least 50µs, so a clock that does not move is not
// spun on), or returns ErrClockBack if that would pass deadline, or ctx's
// error if it ends first.
func wait(ctx context.Context, d time.Duration, deadline time.Time) error {
	d = max(d, 50*time.Microsecond)
	if left := time.Until(deadline); left <= 0 {
		return ErrClockBack
	} else if d > left {
		d = left
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Decode splits id into its time in unix milliseconds (not fae's epoch:
// Epoch is added back), tag, worker and sequence.
func Decode(id int64) (ms, tag, worker, seq int64) {
	return id>>msShift + Epoch, id >> tagShift & MaxTag, id >> workerShift & MaxWorker, id & maxSeq
}
