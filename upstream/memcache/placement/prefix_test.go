package placement

import (
	"strconv"
	"testing"
)

// Map.SkipPrefix: keys are placed as PHP's memcached extension with
// OPT_PREFIX_KEY places them, by the hash of the key without the prefix.

var allDistributions = []Distribution{Ring, Ketama, Twemproxy, Consistent, ConsistentMD5}

// skipped is the prefix of these tests.
const skipped = "app:"

// Each key is placed where the plain distribution places the key it is
// hashed as; and the prefix matters: without it being skipped, most
// prefixed keys would land elsewhere.
func TestSkipPrefixPlacement(t *testing.T) {
	servers := []Server{{Addr: "a:11211"}, {Addr: "b:11211"}, {Addr: "c:11212", Weight: 2}}
	cases := []struct {
		name     string
		key      string
		hashedAs string
	}{
		{name: "prefixed", key: "app:user:1", hashedAs: "user:1"},
		{name: "no prefix", key: "user:1", hashedAs: "user:1"},
		{name: "equal to the prefix", key: "app:", hashedAs: "app:"},
		{name: "shorter than the prefix", key: "ap", hashedAs: "ap"},
		{name: "prefix inside", key: "x:app:1", hashedAs: "x:app:1"},
		{name: "prefix twice: skipped once", key: "app:app:1", hashedAs: "app:1"},
		{name: "other case", key: "APP:1", hashedAs: "APP:1"},
		{name: "one byte after the prefix", key: "app:z", hashedAs: "z"},
	}
	for _, d := range allDistributions {
		plain := New(d, servers)
		m := plain.SkipPrefix(skipped)
		for _, tc := range cases {
			t.Run(string(d)+"/"+tc.name, func(t *testing.T) {
				if got, want := m.Pick([]byte(tc.key)), plain.Pick([]byte(tc.hashedAs)); got != want {
					t.Errorf("%q on server %d, want %d (where %q is)", tc.key, got, want, tc.hashedAs)
				}
			})
		}
		t.Run(string(d)+"/many", func(t *testing.T) {
			moved := 0
			for i := range 300 {
				k := strconv.Itoa(i) + ":user" // counter first, for twemproxy's FNV
				if got, want := m.Pick([]byte(skipped+k)), plain.Pick([]byte(k)); got != want {
					t.Fatalf("%q on server %d, want %d", skipped+k, got, want)
				}
				if plain.Pick([]byte(skipped+k)) != plain.Pick([]byte(k)) {
					moved++
				}
			}
			if moved < 100 {
				t.Errorf("only %d of 300 keys move when the prefix is hashed: the test cannot tell", moved)
			}
		})
	}
	plain := New(Ketama, servers)
	if m := plain.SkipPrefix(""); m != plain {
		t.Errorf("an empty prefix made a new Map")
	}
}

// Skipping the prefix costs no allocation, whether the key has it or not.
func TestSkipPrefixAllocs(t *testing.T) {
	servers := []Server{{Addr: "a:11211"}, {Addr: "b:11211"}, {Addr: "c:11212"}}
	for _, d := range allDistributions {
		m := New(d, servers).SkipPrefix(skipped)
		for _, k := range []string{"app:user:12345678", "user:12345678", "app:", "ap"} {
			key := []byte(k)
			if n := testing.AllocsPerRun(100, func() { m.Pick(key) }); n != 0 {
				t.Errorf("%s: Pick(%q) allocates %v times, want 0", d, key, n)
			}
		}
	}
}

func BenchmarkSkipPrefixPick(b *testing.B) {
	servers := []Server{{Addr: "a:11211"}, {Addr: "b:11211"}, {Addr: "c:11211"}}
	key := []byte("app:user:12345678")
	for _, d := range allDistributions {
		b.Run(string(d), func(b *testing.B) {
			m := New(d, servers).SkipPrefix(skipped)
			b.ReportAllocs()
			for b.Loop() {
				m.Pick(key)
			}
		})
	}
}
