package bench

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestNewKeySpaceRejects(t *testing.T) {
	tests := []struct {
		name string
		n    int
		s    float64
	}{
		{name: "no keys", n: 0, s: 0},
		{name: "negative skew", n: 10, s: -0.5},
		{name: "skew of exactly 1", n: 10, s: 1},
		{name: "NaN skew", n: 10, s: math.NaN()},
		{name: "infinite skew", n: 10, s: math.Inf(1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewKeySpace(tt.n, tt.s); err == nil {
				t.Errorf("NewKeySpace(%d, %v) accepted", tt.n, tt.s)
			}
		})
	}
}

// draw returns how often each id came up in draws draws.
func draw(t *testing.T, n int, s float64, seed uint64, draws int) []int {
	t.Helper()
	ks, err := NewKeySpace(n, s)
	if err != nil {
		t.Fatal(err)
	}
	g := ks.Gen(rand.New(rand.NewPCG(seed, 0)))
	counts := make([]int, n)
	for range draws {
		id := g.Next()
		if id >= uint64(n) {
			t.Fatalf("id %d out of [0, %d)", id, n)
		}
		counts[id]++
	}
	return counts
}

func TestKeyGen(t *testing.T) {
	const draws = 200000
	tests := []struct {
		name string
		n    int
		s    float64
		// wantTop is the expected share of id 0, and wantRatio the
		// expected count(id 0) / count(id 1); tol is relative.
		wantTop, wantRatio, tol float64
	}{
		{name: "uniform", n: 100, s: 0, wantTop: 0.01, wantRatio: 1, tol: 0.15},
		{name: "single key", n: 1, s: 0, wantTop: 1, tol: 0},
		{name: "single key skewed", n: 1, s: 0.99, wantTop: 1, tol: 0},
		{name: "ycsb zipf 0.99 (Gray)", n: 1000, s: 0.99, wantTop: 1 / zeta(1000, 0.99), wantRatio: math.Pow(2, 0.99), tol: 0.1},
		{name: "zipf 0.5 (Gray)", n: 1000, s: 0.5, wantTop: 1 / zeta(1000, 0.5), wantRatio: math.Pow(2, 0.5), tol: 0.15},
		{name: "zipf 1.5 (math/rand/v2)", n: 1000, s: 1.5, wantTop: 1 / zeta(1000, 1.5), wantRatio: math.Pow(2, 1.5), tol: 0.1},
		{name: "zipf 1.1 over 100,000 keys (S6, S7)", n: 100000, s: 1.1, wantTop: 1 / zeta(100000, 1.1), wantRatio: math.Pow(2, 1.1), tol: 0.1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			counts := draw(t, tt.n, tt.s, 7, draws)
			top := float64(counts[0]) / draws
			if math.Abs(top-tt.wantTop) > tt.tol*tt.wantTop+1e-12 {
				t.Errorf("share of id 0 = %.4f, want %.4f ± %.0f%%", top, tt.wantTop, 100*tt.tol)
			}
			if tt.n > 1 {
				r := float64(counts[0]) / float64(counts[1])
				if math.Abs(r-tt.wantRatio) > tt.tol*tt.wantRatio {
					t.Errorf("count(0)/count(1) = %.3f, want %.3f ± %.0f%%", r, tt.wantRatio, 100*tt.tol)
				}
			}
			again := draw(t, tt.n, tt.s, 7, draws)
			for i := range counts {
				if counts[i] != again[i] {
					t.Fatalf("same seed drew differently at id %d", i)
				}
			}
		})
	}
}

// zeta is sum_{i=1..n} 1/i^s, the normalizer of a Zipf distribution.
func zeta(n int, s float64) float64 {
	z := 0.0
	for i := 1; i <= n; i++ {
		z += 1 / math.Pow(float64(i), s)
	}
	return z
}

func TestKeyGenSkewedIsMonotone(t *testing.T) {
	counts := draw(t, 100000, 0.99, 3, 500000)
	// Bucket ids by decade: each decade must be drawn less per id than
	// the one before.
	prev := math.Inf(1)
	for lo := 1; lo < 100000; lo *= 10 {
		sum := 0
		for i := lo; i < 10*lo; i++ {
			sum += counts[i]
		}
		perID := float64(sum) / float64(9*lo)
		if perID >= prev {
			t.Errorf("ids [%d, %d) drawn %.3f times each, not fewer than the decade before (%.3f)", lo, 10*lo, perID, prev)
		}
		prev = perID
	}
}

func TestParseValueSize(t *testing.T) {
	tests := []struct {
		in      string
		want    ValueSize
		wantErr bool
	}{
		{in: "100", want: ValueSize{100, 100}},
		{in: "0", want: ValueSize{0, 0}},
		{in: "64-4096", want: ValueSize{64, 4096}},
		{in: " 1 - 2 ", want: ValueSize{1, 2}},
		{in: "1048576", want: ValueSize{1 << 20, 1 << 20}},
		{in: "1048577", wantErr: true},
		{in: "10-5", wantErr: true},
		{in: "-5", wantErr: true},
		{in: "abc", wantErr: true},
		{in: "1-x", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseValueSize(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error: %v", err, tt.wantErr)
			}
			if err == nil && got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if err == nil {
				back, err := ParseValueSize(got.String())
				if err != nil || back != got {
					t.Errorf("round trip of %q: %+v, %v", got.String(), back, err)
				}
			}
		})
	}
}

func TestValueSizeNext(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	v := ValueSize{Min: 10, Max: 12}
	seen := map[int]bool{}
	for range 1000 {
		n := v.Next(r)
		if n < 10 || n > 12 {
			t.Fatalf("Next = %d, outside [10, 12]", n)
		}
		seen[n] = true
	}
	if len(seen) != 3 {
		t.Errorf("drew %v, want every length of [10, 12]", seen)
	}
}

func TestKeyListZeroAlloc(t *testing.T) {
	var l KeyList
	l.Append("warm:", 123456789)
	allocs := testing.AllocsPerRun(100, func() {
		l.Reset()
		l.Append("warm:", 123456789)
		if string(l.Key(0)) != "warm:123456789" {
			t.Fatalf("key %q", l.Key(0))
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations, want 0", allocs)
	}
}
