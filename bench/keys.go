package bench

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// KeySpace is a key space of n ids, [0, n), drawn uniformly or with a Zipf
// skew s where id 0 is the most popular. It is immutable and safe for
// concurrent use; each goroutine draws through its own [KeyGen].
//
// math/rand/v2's Zipf needs s > 1, but the usual cache skew (YCSB's) is
// s = 0.99, so for 0 < s < 1 ids are drawn with Gray et al.'s generator,
// as YCSB does ("Quickly generating billion-record synthetic databases",
// SIGMOD 1994). s = 1 exactly is refused: neither method covers it.
type KeySpace struct {
	n    int
	s    float64
	gray *gray // 0 < s < 1 and n > 1
}

// gray holds the constants of Gray's Zipf generator for n items.
type gray struct {
	n, zetan, eta, alpha, halfPowTheta float64
}

// NewKeySpace returns the key space [0, n) with skew s (0: uniform). For
// 0 < s < 1 it sums n terms once, here.
func NewKeySpace(n int, s float64) (*KeySpace, error) {
	switch {
	case n < 1:
		return nil, fmt.Errorf("keys: %d: need at least 1", n)
	case s < 0 || s == 1 || math.IsNaN(s) || math.IsInf(s, 0):
		return nil, fmt.Errorf("zipf: %v: use 0 (uniform), 0 < s < 1 or s > 1", s)
	}
	k := &KeySpace{n: n, s: s}
	if s > 0 && s < 1 && n > 1 {
		k.gray = newGray(n, s)
	}
	return k, nil
}

func newGray(n int, theta float64) *gray {
	zetan := 0.0
	for i := 1; i <= n; i++ {
		zetan += 1 / math.Pow(float64(i), theta)
	}
	zeta2 := 1 + math.Pow(0.5, theta)
	return &gray{
		n:            float64(n),
		zetan:        zetan,
		alpha:        1 / (1 - theta),
		eta:          (1 - math.Pow(2/float64(n), 1-theta)) / (1 - zeta2/zetan),
		halfPowTheta: math.Pow(0.5, theta),
	}
}

// Gen returns a generator over k drawing from r.
func (k *KeySpace) Gen(r *rand.Rand) *KeyGen {
	g := &KeyGen{r: r, n: uint64(k.n), gray: k.gray}
	if k.s > 1 && k.n > 1 {
		g.zipf = rand.NewZipf(r, k.s, 1, uint64(k.n-1))
	}
	return g
}

// KeyGen draws ids of one KeySpace. It is not safe for concurrent use:
// each goroutine owns one, with its own source, so drawing takes no lock.
type KeyGen struct {
	r    *rand.Rand
	n    uint64
	zipf *rand.Zipf // s > 1
	gray *gray      // 0 < s < 1
}

// Next returns the next id.
func (g *KeyGen) Next() uint64 {
	switch {
	case g.zipf != nil:
		return g.zipf.Uint64()
	case g.gray != nil:
		z := g.gray
		u := g.r.Float64()
		uz := u * z.zetan
		if uz < 1 {
			return 0
		}
		if uz < 1+z.halfPowTheta {
			return 1
		}
		id := uint64(z.n * math.Pow(z.eta*u-z.eta+1, z.alpha))
		return min(id, g.n-1)
	case g.n == 1:
		return 0
	}
	return g.r.Uint64N(g.n)
}

// ValueSize is a value length: fixed (Min == Max) or drawn uniformly from
// [Min, Max]. Written "100" or "64-4096"; it is a flag.Value.
type ValueSize struct {
	Min, Max int
}

// ParseValueSize parses "N" or "A-B".
func ParseValueSize(s string) (ValueSize, error) {
	a, b, isRange := strings.Cut(strings.TrimSpace(s), "-")
	lo, err := strconv.Atoi(strings.TrimSpace(a))
	if err != nil {
		return ValueSize{}, fmt.Errorf("value size %q: want N or A-B (bytes)", s)
	}
	hi := lo
	if isRange {
		if hi, err = strconv.Atoi(strings.TrimSpace(b)); err != nil {
			return ValueSize{}, fmt.Errorf("value size %q: want N or A-B (bytes)", s)
		}
	}
	v := ValueSize{Min: lo, Max: hi}
	return v, v.validate()
}

func (v ValueSize) validate() error {
	if v.Min < 0 || v.Max < v.Min || v.Max > 1<<20 {
		return fmt.Errorf("value size %s: want 0 <= A <= B <= 1048576", v)
	}
	return nil
}

// String formats v as ParseValueSize reads it.
func (v ValueSize) String() string {
	if v.Min == v.Max {
		return strconv.Itoa(v.Min)
	}
	return strconv.Itoa(v.Min) + "-" + strconv.Itoa(v.Max)
}

// Set implements flag.Value.
func (v *ValueSize) Set(s string) error {
	p, err := ParseValueSize(s)
	if err != nil {
		return err
	}
	*v = p
	return nil
}

// UnmarshalText reads "N" or "A-B" (YAML and JSON).
func (v *ValueSize) UnmarshalText(b []byte) error { return v.Set(string(b)) }

// MarshalText writes v as "N" or "A-B".
func (v ValueSize) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// Next draws a length from r.
func (v ValueSize) Next(r *rand.Rand) int {
	if v.Min == v.Max {
		return v.Min
	}
	return v.Min + r.IntN(v.Max-v.Min+1)
}
