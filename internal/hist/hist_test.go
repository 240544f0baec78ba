package hist

import (
	"testing"
	"time"
)

func TestBuckets(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want int
	}{
		{d: 0, want: 0},
		{d: time.Microsecond, want: 0},
		{d: 16 * time.Microsecond, want: 0},
		{d: 16*time.Microsecond + 1, want: 1},
		{d: 32 * time.Microsecond, want: 1},
		{d: 33 * time.Microsecond, want: 2},
		{d: time.Millisecond, want: 6}, // 1024µs
		{d: 1048576 * time.Microsecond, want: 16},
		{d: 2 * time.Second, want: 17},
		{d: time.Hour, want: 17},
	} {
		t.Run(tc.d.String(), func(t *testing.T) {
			got := index(int64(tc.d))
			if got != tc.want {
				t.Fatalf("bucket %d, want %d", got, tc.want)
			}
			if b := Bound(got); b != 0 && tc.d > b || got > 0 && tc.d <= Bound(got-1) {
				t.Errorf("%v outside (%v, %v]", tc.d, Bound(got-1), b)
			}
		})
	}
}

func TestSnapshot(t *testing.T) {
	var h H
	for range 90 {
		h.Observe(int64(10 * time.Microsecond)) // bucket 0: (0, 16µs]
	}
	for range 10 {
		h.Observe(int64(100 * time.Microsecond)) // bucket 3: (64µs, 128µs]
	}
	h.Observe(-5)
	var s Snapshot
	h.AddTo(&s)
	if s.Count() != 101 || s.Counts[0] != 91 || s.Counts[3] != 10 {
		t.Fatalf("counts %v", s.Counts)
	}
	if s.Sum != 1900*time.Microsecond {
		t.Errorf("sum %v", s.Sum)
	}
	if q := s.Quantile(0.5); q <= 0 || q > 16*time.Microsecond {
		t.Errorf("p50 %v, want within (0, 16µs]", q)
	}
	if q := s.Quantile(0.99); q <= 64*time.Microsecond || q > 128*time.Microsecond {
		t.Errorf("p99 %v, want within (64µs, 128µs]", q)
	}
	var empty Snapshot
	if q := empty.Quantile(0.99); q != 0 {
		t.Errorf("p99 of nothing %v", q)
	}
}

func TestObserveAllocs(t *testing.T) {
	var h H
	if n := testing.AllocsPerRun(1000, func() { h.Observe(12345) }); n != 0 {
		t.Errorf("%v allocs", n)
	}
}

func BenchmarkObserve(b *testing.B) {
	var h H
	for i := 0; b.Loop(); i++ {
		h.Observe(int64(i) * 997)
	}
}
