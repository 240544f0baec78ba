package placement

import (
	"strconv"
	"strings"
	"testing"
)

// Known answers. Each want string gives, for key number i, the index of
// the server the reference placed it on (one digit per key).
//
//   - ketama: libmemcached 1.1.4 (Debian's libmemcached11, under
//     php-memcached 3.2.0): Memcached::getServerByKey after
//     setOption(OPT_LIBKETAMA_COMPATIBLE, true) and addServers with these
//     hosts, ports and weights (getServerByKey does not connect, so the
//     addresses need not exist).
//   - twemproxy: nutcracker 0.5.0 (Debian) with "hash: fnv1a_64" and
//     "distribution: ketama" in front of real memcached servers: each key
//     was set through nutcracker and then found by a get on each memcached
//     directly. Servers on 127.0.0.2-4:11211 test the default-port naming;
//     named servers make the placement independent of the ports.
//
// (Sequential keys hash close together under twemproxy's 32-bit FNV, so its
// keys put the counter first.)
var ketamaVectors = []placementVector{
	{
		name:    "libmemcached/default-port-naming",
		dist:    Ketama,
		servers: []Server{{Addr: "10.0.1.1:11211"}, {Addr: "10.0.1.2:11211"}, {Addr: "10.0.1.3:11212"}},
		key:     prefixKey("key:"),
		want:    "02121102002121121201202112002121221212212120001221110010201001222222212022202011002112201201222211010111101201102011121110112202",
	},
	{
		name:    "libmemcached/weighted",
		dist:    Ketama,
		servers: []Server{{Addr: "cache-a:11211", Weight: 1}, {Addr: "cache-b:11211", Weight: 3}, {Addr: "10.0.0.9:22122", Weight: 2}},
		key:     prefixKey("key:"),
		want:    "12221211212111222122121011202200210202112122210020221011122102121211021111122211011001110111112121121102111121021111012000001020",
	},
	{
		name: "libmemcached/five-uneven",
		dist: Ketama,
		servers: []Server{
			{Addr: "h1:11211", Weight: 7}, {Addr: "h2:11211", Weight: 1}, {Addr: "h3:11211", Weight: 1},
			{Addr: "h4:11211", Weight: 13}, {Addr: "h5:11300", Weight: 5},
		},
		key:  prefixKey("key:"),
		want: "43430030033004303134400341330033004332143030330343303100434300300042333330043403433403343323104003433331033403033034433000043043",
	},
	{
		name:    "libmemcached/two",
		dist:    Ketama,
		servers: []Server{{Addr: "x:11211"}, {Addr: "y:11211"}},
		key:     prefixKey("key:"),
		want:    "10001000010010010011100010001101000111001000101011111101101010010111110101010110111001010101001101001110000000011100001111010100",
	},
	{
		name:    "twemproxy/default-port-naming",
		dist:    Twemproxy,
		servers: []Server{{Addr: "127.0.0.2:11211", Weight: 1}, {Addr: "127.0.0.3:11211", Weight: 2}, {Addr: "127.0.0.4:11211", Weight: 1}},
		key:     suffixKey(":tw"),
		want:    "12212010110010121111110121212011020111121101210112211100101001120111122100111102110002111010110110111221010210011201002100111102",
	},
	{
		name:    "twemproxy/host-port-naming",
		dist:    Twemproxy,
		servers: []Server{{Addr: "127.0.0.1:41001"}, {Addr: "127.0.0.1:41002"}, {Addr: "127.0.0.1:41003"}},
		key:     suffixKey(":tw"),
		want:    "20221000211100210122020111001202121112022200220010221001221001110122201011220022201001100100022101021121220221001012210110122220",
	},
	{
		name: "twemproxy/named-weighted",
		dist: Twemproxy,
		servers: []Server{
			{Addr: "10.9.0.1:22122", Weight: 1, Name: "alpha"},
			{Addr: "10.9.0.2:22122", Weight: 3, Name: "beta"},
			{Addr: "10.9.0.3:22122", Weight: 2, Name: "gamma"},
		},
		key:  suffixKey(":tw"),
		want: "01102011221022202211121211221112111111121111210112111002121211211021121101111222012221111122211120212121121121011211011122112002",
	},
	{
		// Bytes >= 0x80 go through C's signed char: this case fails if
		// they are not sign-extended.
		name:    "twemproxy/high-bytes",
		dist:    Twemproxy,
		servers: []Server{{Addr: "127.0.0.2:11211"}, {Addr: "127.0.0.3:11211"}, {Addr: "127.0.0.4:11211"}},
		key: func(i int) []byte {
			return append(suffixKey(":tw")(i), byte(0x80+i%128))
		},
		want: "10122102012112120202111101111101112011222122122222111112110012121021202102022212110011110212110121212220201201201121212212221000",
	},
}

// placementVector is a known answer: the server a reference client put
// key(i) on is want[i], a digit.
type placementVector struct {
	name    string
	dist    Distribution
	servers []Server
	key     func(i int) []byte
	want    string
}

func prefixKey(p string) func(int) []byte {
	return func(i int) []byte { return []byte(p + strconv.Itoa(i)) }
}

func suffixKey(s string) func(int) []byte {
	return func(i int) []byte { return []byte(strconv.Itoa(i) + s) }
}

func TestKetamaKnownAnswers(t *testing.T) { checkKnownAnswers(t, ketamaVectors) }

// checkKnownAnswers places each vector's keys with its distribution and
// compares with the reference, reporting the first few misplaced keys.
func checkKnownAnswers(t *testing.T, vectors []placementVector) {
	for _, tc := range vectors {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.dist.Check(); err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.servers {
				if err := CheckServer(tc.dist, s); err != nil {
					t.Fatal(err)
				}
			}
			m := New(tc.dist, tc.servers)
			bad := 0
			for i := range len(tc.want) {
				want := int(tc.want[i] - '0')
				if got := m.Pick(tc.key(i)); got != want {
					if bad++; bad <= 5 {
						t.Errorf("key %q: server %d, reference says %d", tc.key(i), got, want)
					}
				}
			}
			if bad > 5 {
				t.Errorf("... %d of %d keys misplaced", bad, len(tc.want))
			}
		})
	}
}

func TestKetamaPointNames(t *testing.T) {
	cases := []struct {
		server             Server
		libmemcached, twem string
	}{
		{server: Server{Addr: "10.0.0.1:11211"}, libmemcached: "10.0.0.1", twem: "10.0.0.1"},
		{server: Server{Addr: "10.0.0.1:22122"}, libmemcached: "10.0.0.1:22122", twem: "10.0.0.1:22122"},
		{server: Server{Addr: "cache.example:11211", Name: "c1"}, libmemcached: "cache.example", twem: "c1"},
		{server: Server{Addr: "[::1]:11212"}, libmemcached: "::1:11212", twem: "::1:11212"},
		// libmemcached prints the port number; twemproxy keeps the text.
		{server: Server{Addr: "h:011212"}, libmemcached: "h:11212", twem: "h:011212"},
	}
	for _, tc := range cases {
		t.Run(tc.server.Addr, func(t *testing.T) {
			if got := ketamaName(tc.server); got != tc.libmemcached {
				t.Errorf("libmemcached name %q, want %q", got, tc.libmemcached)
			}
			if got := twemproxyName(tc.server); got != tc.twem {
				t.Errorf("twemproxy name %q, want %q", got, tc.twem)
			}
		})
	}
}

// TestKetamaPoints checks the points per server against the C expressions
// of libmemcached (hosts.cc) and twemproxy (nc_ketama.c), compiled with gcc
// on x86-64; both gave the same numbers for these (and for every weight
// 1..100 of 2..12 servers, where float32 rounding drops a name for 774
// combinations that exact arithmetic would not).
func TestKetamaPoints(t *testing.T) {
	cases := []struct {
		name       string
		w, total   uint64
		n          int
		wantPoints int
	}{
		{name: "equal of 3", w: 1, total: 3, n: 3, wantPoints: 160},
		{name: "1 of 1+2+4", w: 1, total: 7, n: 3, wantPoints: 68},
		{name: "2 of 1+2+4", w: 2, total: 7, n: 3, wantPoints: 136},
		{name: "4 of 1+2+4", w: 4, total: 7, n: 3, wantPoints: 272},
		{name: "13 of 7+1+1+13+5", w: 13, total: 27, n: 5, wantPoints: 384},
		{name: "float rounding 29 of 60", w: 29, total: 60, n: 3, wantPoints: 228},
		{name: "float rounding 58 of 120", w: 58, total: 120, n: 3, wantPoints: 228},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, twem := range []bool{false, true} {
				if got := ketamaPoints(tc.w, tc.total, tc.n, twem); got != tc.wantPoints {
					t.Errorf("twemproxy=%v: %d points, want %d", twem, got, tc.wantPoints)
				}
			}
		})
	}
}

// TestKetamaKeyHashes pins the key hashes (computed independently in
// Python: hashlib.md5, and FNV-1a with the truncated constants and
// sign-extended bytes).
func TestKetamaKeyHashes(t *testing.T) {
	cases := []struct {
		key      string
		md5, fnv uint32
	}{
		{key: "", md5: 0xd98c1dd4, fnv: 0x84222325},
		{key: "a", md5: 0xb975c10c, fnv: 0x8601ec8c},
		{key: "key:0", md5: 0x82ab86df, fnv: 0x962f5916},
		{key: "user:12345678", md5: 0x71e18f6d, fnv: 0xb5b79db0},
		{key: "\xff\x80z", md5: 0x1144203e, fnv: 0x72003830},
	}
	for _, tc := range cases {
		t.Run(strconv.Quote(tc.key), func(t *testing.T) {
			if got := md5Hash32([]byte(tc.key)); got != tc.md5 {
				t.Errorf("md5 %#x, want %#x", got, tc.md5)
			}
			if got := fnv1a64Twemproxy([]byte(tc.key)); got != tc.fnv {
				t.Errorf("fnv1a_64 %#x, want %#x", got, tc.fnv)
			}
		})
	}
}

func TestKetamaSpread(t *testing.T) {
	servers := []Server{{Addr: "a:11211"}, {Addr: "b:11211"}, {Addr: "c:11211", Weight: 2}}
	want := [3]float64{0.25, 0.25, 0.5}
	for _, d := range []Distribution{Ketama, Twemproxy} {
		t.Run(string(d), func(t *testing.T) {
			m := New(d, servers)
			var n [3]int
			const total = 40000
			for i := range total {
				n[m.Pick([]byte("user:"+strconv.Itoa(i*7919)+":profile"))]++
			}
			for i := range n {
				got := float64(n[i]) / total
				if got < want[i]*0.8 || got > want[i]*1.2 {
					t.Errorf("server %d owns %.3f of keys, want about %.2f (%v)", i, got, want[i], n)
				}
			}
		})
	}
}

func TestKetamaSingleServer(t *testing.T) {
	for _, d := range []Distribution{Ketama, Twemproxy} {
		if got := New(d, []Server{{Addr: "a:1"}}).Pick([]byte("k")); got != 0 {
			t.Errorf("%s: one server, picked %d", d, got)
		}
	}
}

func TestKetamaPickAllocs(t *testing.T) {
	servers := []Server{{Addr: "a:11211"}, {Addr: "b:11211"}, {Addr: "c:11212"}}
	key := []byte("user:12345678")
	for _, d := range []Distribution{Ketama, Twemproxy} {
		m := New(d, servers)
		if n := testing.AllocsPerRun(100, func() { m.Pick(key) }); n != 0 {
			t.Errorf("%s: pick allocates %v times per key, want 0", d, n)
		}
	}
}

func TestCheck(t *testing.T) {
	long := string(make([]byte, maxNameLen+1))
	cases := []struct {
		name    string
		dist    Distribution
		server  Server
		wantErr string
	}{
		{name: "unknown distribution", dist: "modula", server: Server{Addr: "a:1"}, wantErr: `"modula" is not one of ring, ketama`},
		{name: "weight too big", dist: Ring, server: Server{Addr: "a:1", Weight: MaxWeight + 1}, wantErr: "weight: 101 is outside 0..100"},
		{name: "negative weight", dist: Ketama, server: Server{Addr: "a:1", Weight: -1}, wantErr: "weight: -1"},
		{name: "name outside twemproxy", dist: Ketama, server: Server{Addr: "a:1", Name: "x"}, wantErr: "name: only the twemproxy distribution"},
		{name: "name under consistent", dist: ConsistentMD5, server: Server{Addr: "a:1", Name: "x"}, wantErr: "name: only"},
		{name: "name too long", dist: Twemproxy, server: Server{Addr: "a:1", Name: long}, wantErr: "name: point name"},
		{name: "host too long", dist: Twemproxy, server: Server{Addr: long + ":1"}, wantErr: "addr: point name"},
		{name: "long host, default port", dist: Twemproxy, server: Server{Addr: long[1:] + ":11211"}},
		{name: "named twemproxy", dist: Twemproxy, server: Server{Addr: "a:1", Name: "x", Weight: MaxWeight}},
		{name: "ring", dist: Ring, server: Server{Addr: "a:1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.dist.Check()
			if err == nil {
				err = CheckServer(tc.dist, tc.server)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case tc.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.wantErr)):
				t.Errorf("error %v, want one starting %q", err, tc.wantErr)
			}
		})
	}
}

func BenchmarkKetamaPick(b *testing.B) {
	servers := []Server{{Addr: "a:11211"}, {Addr: "b:11211"}, {Addr: "c:11211"}}
	key := []byte("user:12345678")
	for _, d := range []Distribution{Ring, Ketama, Twemproxy} {
		b.Run(string(d), func(b *testing.B) {
			m := New(d, servers)
			b.ReportAllocs()
			for b.Loop() {
				m.Pick(key)
			}
		})
	}
}
