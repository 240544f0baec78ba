package placement

import (
	"strconv"
	"testing"
)

// Known answers of libmemcached's MEMCACHED_DISTRIBUTION_CONSISTENT: from
// libmemcached 1.1.4 (Debian's libmemcached11, under php-memcached 3.2.0),
// Memcached::getServerByKey after addServers with these hosts, ports and
// weights (weight 0 where none is given), the options set first:
//
//   - md5: setOption(OPT_LIBKETAMA_COMPATIBLE, true), then
//     setOption(OPT_DISTRIBUTION, DISTRIBUTION_CONSISTENT) (OPT_HASH =
//     HASH_MD5 then DISTRIBUTION_CONSISTENT gave the same answers);
//   - oaat: setOption(OPT_DISTRIBUTION, DISTRIBUTION_CONSISTENT) alone.
//
// With a weight above 1 libmemcached builds the ketama continuum: the md5
// answers are then those of ketama_test.go's libmemcached cases.
var consistentVectors = []placementVector{
	{
		name:    "md5/default-port-naming",
		dist:    ConsistentMD5,
		servers: []Server{{Addr: "10.0.1.1:11211"}, {Addr: "10.0.1.2:11211"}, {Addr: "10.0.1.3:11212"}},
		key:     prefixKey("key:"),
		want:    "20021102001021011210001022011202110020102210012022010201220002020121022001121111200111100001222112102211001202222111021220210021",
	},
	{
		// Weight 1 is not "above 1": still 100 points each.
		name:    "md5/two",
		dist:    ConsistentMD5,
		servers: []Server{{Addr: "x:11211", Weight: 1}, {Addr: "y:11211", Weight: 1}},
		key:     prefixKey("key:"),
		want:    "00101110101110101010011110001000111111111011000011111101010111010100000111001111110011011000001010010000000011111111101011100001",
	},
	{
		name: "md5/four",
		dist: ConsistentMD5,
		servers: []Server{
			{Addr: "cache-a:11211", Weight: 1}, {Addr: "cache-b:11211", Weight: 1},
			{Addr: "cache-c:11211", Weight: 1}, {Addr: "cache-d:22122", Weight: 1},
		},
		key:  prefixKey("key:"),
		want: "10321301330311313211130302320002322233220132100003001322101323131012233121122300020012103113230000321122210032000202222032000030",
	},
	{
		name:    "md5/high-bytes",
		dist:    ConsistentMD5,
		servers: []Server{{Addr: "10.0.1.1:11211"}, {Addr: "10.0.1.2:11211"}, {Addr: "10.0.1.3:11212"}},
		key:     highKey,
		want:    "11110221111110211012221211112101002011000221211101121101202212112002221112110020001122102001111010112021201222120111202001211010",
	},
	{
		name:    "md5/weighted-is-ketama",
		dist:    ConsistentMD5,
		servers: []Server{{Addr: "cache-a:11211", Weight: 1}, {Addr: "cache-b:11211", Weight: 3}, {Addr: "10.0.0.9:22122", Weight: 2}},
		key:     prefixKey("key:"),
		want:    "12221211212111222122121011202200210202112122210020221011122102121211021111122211011001110111112121121102111121021111012000001020",
	},
	{
		name: "md5/five-uneven-is-ketama",
		dist: ConsistentMD5,
		servers: []Server{
			{Addr: "h1:11211", Weight: 7}, {Addr: "h2:11211", Weight: 1}, {Addr: "h3:11211", Weight: 1},
			{Addr: "h4:11211", Weight: 13}, {Addr: "h5:11300", Weight: 5},
		},
		key:  prefixKey("key:"),
		want: "43430030033004303134400341330033004332143030330343303100434300300042333330043403433403343323104003433331033403033034433000043043",
	},
	{
		name:    "oaat/default-port-naming",
		dist:    Consistent,
		servers: []Server{{Addr: "10.0.1.1:11211"}, {Addr: "10.0.1.2:11211"}, {Addr: "10.0.1.3:11212"}},
		key:     prefixKey("key:"),
		want:    "21110000001220112221001122012201112222212210221010221020001111001210002110000122200100110202121211212120100212111010002101100222",
	},
	{
		name:    "oaat/two",
		dist:    Consistent,
		servers: []Server{{Addr: "x:11211", Weight: 1}, {Addr: "y:11211", Weight: 1}},
		key:     prefixKey("key:"),
		want:    "11001110010111100111010111110011011110111110100101000110000010111111110111100000001101101111111101101011011111101101011100000010",
	},
	{
		name: "oaat/four",
		dist: Consistent,
		servers: []Server{
			{Addr: "cache-a:11211", Weight: 1}, {Addr: "cache-b:11211", Weight: 1},
			{Addr: "cache-c:11211", Weight: 1}, {Addr: "cache-d:22122", Weight: 1},
		},
		key:  prefixKey("key:"),
		want: "23220000302122103103321120131211302320332013001110020333331223200030033032330303210313320200031002032010022303122133120210310321",
	},
	{
		// Bytes >= 0x80 go through C's signed char: this case fails if
		// they are not sign-extended.
		name:    "oaat/high-bytes",
		dist:    Consistent,
		servers: []Server{{Addr: "10.0.1.1:11211"}, {Addr: "10.0.1.2:11211"}, {Addr: "10.0.1.3:11212"}},
		key:     highKey,
		want:    "01101102201012012101202210002122010010021112110221022011211001220210212001112011100010200101110022112000021110112001111020011210",
	},
	{
		// The ketama continuum (MD5 points), one_at_a_time keys.
		name:    "oaat/weighted",
		dist:    Consistent,
		servers: []Server{{Addr: "cache-a:11211", Weight: 1}, {Addr: "cache-b:11211", Weight: 3}, {Addr: "10.0.0.9:22122", Weight: 2}},
		key:     prefixKey("key:"),
		want:    "12101120100121111121111002111020111121222201221211101221112222102211110122210211111122101111122211111010101211101212112012112001",
	},
	{
		name: "oaat/five-uneven",
		dist: Consistent,
		servers: []Server{
			{Addr: "h1:11211", Weight: 7}, {Addr: "h2:11211", Weight: 1}, {Addr: "h3:11211", Weight: 1},
			{Addr: "h4:11211", Weight: 13}, {Addr: "h5:11300", Weight: 5},
		},
		key:  prefixKey("key:"),
		want: "43333330433433200333443134340301420330233314300330334130333444334343443330300334443333333233331233333043001433300334343333404332",
	},
}

// highKey is "key:i" and one byte >= 0x80.
func highKey(i int) []byte { return append(prefixKey("key:")(i), byte(0x80+i%128)) }

func TestConsistentKnownAnswers(t *testing.T) { checkKnownAnswers(t, consistentVectors) }

// TestConsistentContinuum checks the continuum's size: 100 points a server
// at any weight up to 1, ketama's weighted continuum past it.
func TestConsistentContinuum(t *testing.T) {
	cases := []struct {
		name       string
		servers    []Server
		wantPoints int
	}{
		{name: "unweighted", servers: []Server{{Addr: "a:11211"}, {Addr: "b:11211"}, {Addr: "c:11212"}}, wantPoints: 300},
		{name: "weights of 1", servers: []Server{{Addr: "a:11211", Weight: 1}, {Addr: "b:11211", Weight: 1}}, wantPoints: 200},
		{name: "one weight of 2", servers: []Server{{Addr: "a:11211"}, {Addr: "b:11211", Weight: 2}}, wantPoints: 104 + 212},
		{name: "1+2+4", servers: []Server{{Addr: "a:11211", Weight: 1}, {Addr: "b:11211", Weight: 2}, {Addr: "c:11211", Weight: 4}}, wantPoints: 68 + 136 + 272},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, h := range []func([]byte) uint32{md5Hash32, oneAtATime} {
				c := newConsistentContinuum(tc.servers, h)
				if len(c.points) != tc.wantPoints {
					t.Errorf("%d points, want %d", len(c.points), tc.wantPoints)
				}
			}
		})
	}
}

// TestOneAtATime pins the key hash ("a" is the published value; the others
// computed independently in Python, bytes >= 0x80 sign-extended).
func TestOneAtATime(t *testing.T) {
	cases := []struct {
		key  string
		want uint32
	}{
		{key: "", want: 0},
		{key: "a", want: 0xca2e9442},
		{key: "key:0", want: 0xc0d4cec1},
		{key: "user:12345678", want: 0x6bc52279},
		{key: "\xff\x80z", want: 0xa7e6bb0a},
		{key: "10.0.1.3:11212-99", want: 0xbbbe94d7},
	}
	for _, tc := range cases {
		t.Run(strconv.Quote(tc.key), func(t *testing.T) {
			if got := oneAtATime([]byte(tc.key)); got != tc.want {
				t.Errorf("one_at_a_time %#x, want %#x", got, tc.want)
			}
		})
	}
}

func TestConsistentSpread(t *testing.T) {
	servers := []Server{{Addr: "a:11211"}, {Addr: "b:11211"}, {Addr: "c:11211"}}
	for _, d := range []Distribution{Consistent, ConsistentMD5} {
		t.Run(string(d), func(t *testing.T) {
			m := New(d, servers)
			var n [3]int
			const total = 30000
			for i := range total {
				n[m.Pick([]byte("user:"+strconv.Itoa(i*7919)+":profile"))]++
			}
			// 100 points a server spread less evenly than ketama's 160.
			for i := range n {
				if got := float64(n[i]) / total; got < 0.2 || got > 0.47 {
					t.Errorf("server %d owns %.3f of keys, want about 1/3 (%v)", i, got, n)
				}
			}
		})
	}
}

func TestConsistentSingleServer(t *testing.T) {
	for _, d := range []Distribution{Consistent, ConsistentMD5} {
		if got := New(d, []Server{{Addr: "a:1"}}).Pick([]byte("k")); got != 0 {
			t.Errorf("%s: one server, picked %d", d, got)
		}
	}
}

func TestConsistentPickAllocs(t *testing.T) {
	key := []byte("user:12345678")
	for _, servers := range [][]Server{
		{{Addr: "a:11211"}, {Addr: "b:11211"}, {Addr: "c:11212"}},
		{{Addr: "a:11211"}, {Addr: "b:11211", Weight: 2}},
	} {
		for _, d := range []Distribution{Consistent, ConsistentMD5} {
			m := New(d, servers)
			if n := testing.AllocsPerRun(100, func() { m.Pick(key) }); n != 0 {
				t.Errorf("%s over %v: pick allocates %v times per key, want 0", d, servers, n)
			}
		}
	}
}

func BenchmarkConsistentPick(b *testing.B) {
	servers := []Server{{Addr: "a:11211"}, {Addr: "b:11211"}, {Addr: "c:11211"}}
	key := []byte("user:12345678")
	for _, d := range []Distribution{Consistent, ConsistentMD5} {
		b.Run(string(d), func(b *testing.B) {
			m := New(d, servers)
			b.ReportAllocs()
			for b.Loop() {
				m.Pick(key)
			}
		})
	}
}
