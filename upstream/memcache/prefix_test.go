package memcache

import (
	"encoding/base64"
	"strconv"
	"strings"
	"testing"

	"github.com/fae-sidecar/fae/internal/testproc"
	"github.com/fae-sidecar/fae/proto/memcache"
	"github.com/fae-sidecar/fae/upstream/memcache/placement"
)

// Config.HashSkipPrefix on a pool: keys are placed as PHP's memcached extension with
// OPT_PREFIX_KEY places them, by the hash of the key without the prefix.

var allDistributions = []Distribution{DistRing, DistKetama, DistTwemproxy, DistConsistent, DistConsistentMD5}

// skipped is the prefix of these tests.
const skipped = "app:"

// phpFleet is three memcached servers and the keys a prefixed client wrote
// to them straight, each on the server of the key without the prefix.
type phpFleet struct {
	addrs   []string
	servers []Server
}

func startPHPFleet(t *testing.T) phpFleet {
	t.Helper()
	var f phpFleet
	for range 3 {
		a := startMemcached(t)
		f.addrs = append(f.addrs, a)
		f.servers = append(f.servers, Server{Addr: a})
	}
	return f
}

// write stores each key, with the value "v-"+key, on the server plain
// places the key without the prefix.
func (f phpFleet) write(t *testing.T, plain *placement.Map, keys []string) {
	t.Helper()
	conns := make([]*direct, len(f.addrs))
	for i, a := range f.addrs {
		conns[i] = dialDirect(t, a)
	}
	for _, k := range keys {
		if got := conns[plain.Pick([]byte(strings.TrimPrefix(k, skipped)))].do(set(k, "v-"+k)); string(got) != memcache.ReplyStored {
			t.Fatalf("set %s: %q", k, got)
		}
	}
}

// holder returns the index of the one server that holds key, or -1.
func (f phpFleet) holder(t *testing.T, key, data string) int {
	t.Helper()
	at := -1
	for i, a := range f.addrs {
		if string(dialDirect(t, a).do(get(key))) == hit(key, data) {
			if at >= 0 {
				t.Fatalf("%s on servers %d and %d", key, at, i)
			}
			at = i
		}
	}
	return at
}

// Every path that places a key skips the prefix: single-key commands,
// multi-gets split per server, and meta commands with base64 keys (placed
// by their decoded bytes). A pool without the option misses keys, so the
// fleet really tells the two apart.
func TestHashSkipPrefixPool(t *testing.T) {
	f := startPHPFleet(t)
	for _, d := range allDistributions {
		t.Run(string(d), func(t *testing.T) {
			p := newPool(t, Config{Servers: f.servers, Distribution: d, HashSkipPrefix: skipped})
			plain := placement.New(d, f.servers)
			// Counter first: twemproxy's 32-bit FNV puts keys that differ
			// only at their end next to each other on the ring.
			var keys []string
			for i := range 90 {
				keys = append(keys, skipped+strconv.Itoa(i)+":"+string(d))
			}
			f.write(t, plain, keys)

			var want strings.Builder
			for _, k := range keys {
				if got := do(t, p, get(k)); string(got) != hit(k, "v-"+k) {
					t.Fatalf("get %s: %q", k, got)
				}
				want.WriteString(value(k, "v-"+k))
			}
			want.WriteString(hit(keys[0], "v-"+keys[0])) // asked twice, then END
			mget := get(append(append([]string{}, keys...), keys[0])...)
			if got := do(t, p, mget); string(got) != want.String() {
				t.Fatalf("multi-get of %d keys:\n%q\nwant\n%q", len(mget.Keys), clip(got), clip([]byte(want.String())))
			}

			whole := newPool(t, Config{Servers: f.servers, Distribution: d})
			found := strings.Count(string(do(t, whole, get(keys...))), "VALUE ")
			t.Logf("control: without hash_skip_prefix %d of %d keys found", found, len(keys))
			if found >= len(keys)*3/4 {
				t.Errorf("control: without hash_skip_prefix %d of %d keys found; want clearly fewer", found, len(keys))
			}

			for i := range 30 {
				k := skipped + strconv.Itoa(i) + ":set:" + string(d)
				if got := do(t, p, set(k, "s")); string(got) != memcache.ReplyStored {
					t.Fatalf("set %s: %q", k, got)
				}
				if at, want := f.holder(t, k, "s"), plain.Pick([]byte(k[len(skipped):])); at != want {
					t.Fatalf("set %s stored on server %d, want %d", k, at, want)
				}
			}

			for i := range 30 {
				raw := "bin " + string(d) + " " + strconv.Itoa(i) + "\x01"
				b64 := base64.StdEncoding.EncodeToString([]byte(skipped + raw))
				if got := do(t, p, metaReq(t, "ms "+b64+" 1 b\r\nm\r\n")); string(got) != "HD\r\n" {
					t.Fatalf("ms %q: %q", skipped+raw, got)
				}
				want := plain.Pick([]byte(raw))
				for s, a := range f.addrs {
					got := dialDirect(t, a).raw([]byte("mg " + b64 + " b v\r\n"))
					if on := string(got) == "VA 1\r\nm\r\n"; on != (s == want) {
						t.Fatalf("base64 key %q on server %d: %q; without the prefix it hashes to server %d", skipped+raw, s, got, want)
					}
				}
			}
		})
	}
}

// The failover picker skips the prefix too: the keys of a down server go
// to the failover server of the key without the prefix.
func TestHashSkipPrefixFailover(t *testing.T) {
	f := startPHPFleet(t)
	for _, d := range allDistributions {
		t.Run(string(d), func(t *testing.T) {
			p := newPool(t, Config{Servers: []Server{{Addr: freeAddr(t)}}, Failover: f.servers, Distribution: d, HashSkipPrefix: skipped})
			plain := placement.New(d, f.servers)
			first := []byte(skipped + "first")
			testproc.WaitFor(t, "the server to be down", func() bool {
				return p.partOf(first, path{})/p.cfg.ConnsPerServer != 0
			})
			moved := 0
			for i := range 100 {
				k := strconv.Itoa(i) + ":fo" // counter first, for twemproxy's FNV
				want := 1 + plain.Pick([]byte(k))
				if got := p.partOf([]byte(skipped+k), path{}) / p.cfg.ConnsPerServer; got != want {
					t.Fatalf("%s%s on server %d, want %d", skipped, k, got, want)
				}
				if 1+plain.Pick([]byte(skipped+k)) != want {
					moved++
				}
			}
			if moved < 30 {
				t.Errorf("only %d of 100 keys move when the prefix is hashed: the test cannot tell", moved)
			}
			k := skipped + "fo:stored:" + string(d)
			if got := do(t, p, set(k, "f")); string(got) != memcache.ReplyStored {
				t.Fatalf("set %s: %q", k, got)
			}
			if at, want := f.holder(t, k, "f"), plain.Pick([]byte(k[len(skipped):])); at != want {
				t.Fatalf("set %s stored on failover server %d, want %d", k, at, want)
			}
			if n := testing.AllocsPerRun(100, func() { p.partOf(first, path{}) }); n != 0 {
				t.Errorf("placing a key on a failover server allocates %v times, want 0", n)
			}
		})
	}
}

// A prefixed base64 meta key is placed without an allocation (the
// placement itself allocates nothing: placement.TestSkipPrefixAllocs).
func TestHashSkipPrefixAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under -race")
	}
	servers := []Server{{Addr: "a:11211"}, {Addr: "b:11211"}, {Addr: "c:11212"}}
	p := newPool(t, Config{Servers: servers, Distribution: DistKetama, HashSkipPrefix: skipped})
	req := metaReq(t, "md "+base64.StdEncoding.EncodeToString([]byte("app:user:1"))+" b\r\n")
	if n := testing.AllocsPerRun(100, func() { p.metaPart(req, path{}) }); n != 0 {
		t.Errorf("placing a prefixed base64 key allocates %v times, want 0", n)
	}
}

func TestHashSkipPrefixValidate(t *testing.T) {
	cases := []struct {
		name    string
		prefix  string
		wantErr string
	}{
		{name: "empty", prefix: ""},
		{name: "as long as a key", prefix: strings.Repeat("p", memcache.DefaultMaxKeyLen)},
		{name: "longer than a key", prefix: strings.Repeat("p", memcache.DefaultMaxKeyLen+1), wantErr: "hash_skip_prefix"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkValidate(t, Config{Servers: []Server{{Addr: "a:1"}}, HashSkipPrefix: tc.prefix}, tc.wantErr)
		})
	}
}
