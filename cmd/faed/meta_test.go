package main_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/internal/testproc"
)

// metaScript is a sequence of meta requests (mg, ms, md, ma, mn, me) whose
// replies through faed must match memcached 1.6.18's byte for byte, up to
// CAS values (numbered by first appearance) and a second of TTL drift. "|"
// stands for "\r\n" inside a request (ms data blocks). The same script
// checks the embedded store alone in upstream/local.
var metaScript = []string{
	// mg misses, quiet mode, opaque and key.
	"mg foo v", "mg foo", "mg foo q", "mg foo k O123 q", "mg foo k v Oab",
	// ms and the return flags.
	"ms foo 3|bar", "ms foo 3 q|bar", "mg foo", "mg foo q", "mg foo v f t c k s O99", "mg foo v q",
	"ms foo 3 T100 F5 c|abc", "mg foo t f v", "mg foo c", "mg foo s v t k c f",
	// md.
	"md foo q", "md foo q", "md foo", "mg foo k v",
	// ms modes.
	"ms foo 3 ME|abc", "ms foo 3 ME|abc", "ms foo 3 ME q|abc", "ms foo 3 MA|def", "ms foo 3 MP|zzz",
	"mg foo v", "ms nokey 3 MR|abc", "ms nokey 3 MA|abc", "ms nokey 3 MP q|abc", "ms foo 3 MS q|abc",
	"ms foo 1 MR k c O1|r", "mg foo v",
	"ms x 2 c k Oab|hi", "ms x 2 ME c k Oab|hi",
	// CAS.
	"mg foo c", "ms foo 3 C1|abc", "ms foo 3 C1 q|abc", "ms foo 3 C17 c|abc", "ms nope 3 C5|abc",
	"ms foo 1 MA C1|x", "ms foo 1 MA C0|x", "mg foo c v", "ms foo 1 MP C20 c|y", "ms foo 1 MP C21 c|y", "mg foo v c",
	"md foo C1", "md foo C1 q", "md foo C24 k O5", "md zz q k O5",
	// ma.
	"ma cnt", "ma cnt q", "ma cnt N0 J10", "ma cnt v", "ma cnt MD D3 v t c", "ma cnt M- D100 v", "ma cnt MI D7 v",
	"ma cnt M+ v k O7 c", "ma cnt q", "ma cnt q v", "mg cnt v", "ma cnt C1", "ma cnt C1 q", "ma nope q N0",
	"ma cq N0 J5 q v", "ma cq q v", "mg cq v", "ma big N0 J18446744073709551615 v", "ma big v",
	"ms foo 3|abc", "ma foo", "ma foo q", "ms e 0|", "ma e", "ma e C9",
	"ms n 2 F7 T50|10", "ma n v t c f N0 k", "ms dd 2|10", "ma dd MD v", "mg dd v",
	// Vivify, invalidation, win tokens.
	"mg miss N30 v c t", "mg miss N30 v c t", "mg miss v c t", "ms miss 2 C7|hi", "ms miss 2 C7 I|hi", "mg miss v c",
	"ms k1 2|aa", "md k1 I T30", "mg k1 v c t", "mg k1 v c t", "ms k1 2 C11|bb", "ms k1 2 I C11|bb", "mg k1 v c",
	"ms k1 2 C99 c|cc", "mg k1 v c", "ms k2 2 T100|aa", "mg k2 R30 c", "mg k2 R200 c", "mg k2 R200 c",
	"md k2 I q", "mg k2 c", "mg k2 c", "md k2", "mg vq N0 q", "mg vq q", "mg vq N0 q v s",
	"ms n 2 F7 T50|10", "md n I", "ma n v c", "mg n c v", "ms n 2 I|11", "mg n c v",
	// h, l, u, and flags that are accepted and ignored.
	"ms y 2 T100|hi", "mg y t s f l h", "mg y t s f l h", "mg y u h", "mg y", "mg y h", "mg y P L",
	"ms z 2|hi", "mg z u h", "mg z h", "mg z T0 t", "mg z T60 t v",
	// base64 keys.
	"mg Zm8 b k", "mg Zm8= b k", "ms Zm8= 1 b k|a", "mg Zm8= b k v", "mg fo v k", "md Zm8= b k q", "mg Zm8= b k v",
	"ma Zm9v b N0 J3 k v", "mg foo k v", "mg !!! b v", "ms k1 5 b|hello",
	// Errors.
	"mg", "mg foo zz", "mg foo v v", "mg foo Tabc", "mg foo E5", "ms foo 3 E77|xyz",
	"ms foo", "ms foo abc|x", "ms foo 3 MX|abc", "ms foo 3 MZ|abc", "ms foo 3 F-1|abc", "ms foo 3 Fabc|abc",
	"ms foo 3|abcd", "ms x 2 q|abcd", "ms foo -1|abc", "ms foo 3 S3|abc", "ms foo 3 MSS|abc",
	"mg foo O1234567890123456789012345678901234567890", "mg foo Oabc kz", "mg foo k k",
	"md", "md foo bar", "md foo x", "ma", "ma foo MI MD", "ma c2 MX", "ma c2 Mxx", "ma cnt Dabc",
	"ma cnt v D18446744073709551616", "ma cnt v J18446744073709551616 N0", "mg foo N", "mg foo Cx",
	"mg " + strings.Repeat("a", 251) + " v", "ms " + strings.Repeat("a", 251) + " 1|a",
	"mg foo a b c d e f g h i j k l m n o p q r s", "mg foo s t c f v O1 k q h l u P L T1 N1 R1 I",
	"md foo s t c f v O1 k q h l u P L T1 N1 R1 I C1", "mx foo", "me",
	"ms foo 3 O12345678901234567890123456789012345|abc", "ms foo 3 MX O12345678901234567890123456789012345|abc",
	"ms foo 2 T1 T2|ab", "ma foo N-1 N1",
	"ms c0 1|5", "ms c0 1 C0|6", "ma c0 C0 v", "md c0 C0", "ms c0 1 MR C0 I|7", "ms c0 1 ME C0|7", "mg c0 v",
	"ms AAEC 2 b k c|hi", "mg AAEC b k v", "mg AAECAw== b k", "ma AAEC b v", "me AAEC b",
	// Too large: refused, data swallowed, and the key's item unlinked.
	"ms big1 3|abc", "ms big1 1100000 MA|" + strings.Repeat("x", 1100000), "mg big1 v",
	// me.
	"me nothere", "ms mekey 5 F3|hello", "me mekey", "me mekey b", "me Zm8= b",
}

// metaTargets are faed's ways to serve meta commands: its embedded store,
// and a memcached behind each transport of a memcache pool.
func metaTargets(t *testing.T) []struct {
	name  string
	start func(t *testing.T) string
} {
	return []struct {
		name  string
		start func(t *testing.T) string
	}{
		{"faed-embedded", func(t *testing.T) string { return testproc.StartFaed(t) }},
		{"faed-loop", func(t *testing.T) string {
			return startFaedPool(t, []string{startMetaMemcached(t)}, "transport: loop")
		}},
		{"faed-goroutine", func(t *testing.T) string {
			return startFaedPool(t, []string{startMetaMemcached(t)}, "transport: goroutine")
		}},
	}
}

// startMetaMemcached starts a memcached without its LRU maintainer thread,
// whose asynchronous bumps make an ma sometimes write a new item (fresh
// meta flags, unpadded number) instead of updating it in place (see
// upstream/local's startMemcached).
func startMetaMemcached(t *testing.T) string {
	return testproc.StartMemcached(t, "-o", "no_lru_maintainer")
}

// TestMetaDiff plays metaScript, one request and its reply at a time, to
// memcached and through faed.
func TestMetaDiff(t *testing.T) {
	want := playMeta(t, startMetaMemcached(t), metaScript)
	for _, tg := range metaTargets(t) {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			got := playMeta(t, tg.start(t), metaScript)
			compareMeta(t, metaScript, want, got)
		})
	}
}

// TestMetaQuietPipeline sends quiet requests back to back and one mn: the
// replies (only the ones memcached does not suppress) and the final MN
// must arrive in order, in one stream.
func TestMetaQuietPipeline(t *testing.T) {
	var b strings.Builder
	for i := range 50 {
		fmt.Fprintf(&b, "ms k%d 2 q|v%d|mg k%d q v k|mg miss%d q k|md k%d q|md k%d q O%d|", i%7, i%10, i%5, i, i%3, i%4, i)
		fmt.Fprintf(&b, "ma c%d q N0 J%d|ma c%d q v|ms k%d 1 ME q|x|", i%3, i, i%3, i%7)
	}
	script := []string{strings.TrimSuffix(b.String(), "|")} // playMeta adds the mn
	want := playMeta(t, startMetaMemcached(t), script)
	for _, tg := range metaTargets(t) {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			got := playMeta(t, tg.start(t), script)
			compareMeta(t, script, want, got)
		})
	}
}

// playMeta sends each step followed by "mn" and returns what precedes that
// mn's "MN\r\n".
func playMeta(t *testing.T, addr string, script []string) [][]byte {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var replies [][]byte
	buf := make([]byte, 0, 4096)
	chunk := make([]byte, 64<<10)
	for _, step := range script {
		wire := strings.ReplaceAll(step, "|", "\r\n") + "\r\nmn\r\n"
		c.SetDeadline(time.Now().Add(20 * time.Second)) // guards against a hang only
		if _, err := c.Write([]byte(wire)); err != nil {
			t.Fatal(err)
		}
		buf = buf[:0]
		for !bytes.HasSuffix(buf, []byte("MN\r\n")) {
			n, err := c.Read(chunk)
			buf = append(buf, chunk[:n]...)
			if err != nil {
				t.Fatalf("step %.60q: %v (got %q)", step, err, buf)
			}
		}
		replies = append(replies, bytes.Clone(buf[:len(buf)-4]))
	}
	return replies
}

var (
	casField  = regexp.MustCompile(`( c|cas=)([0-9]+)`)
	timeField = regexp.MustCompile(`( t| l|la=)([0-9]+)`)
)

// metaNormalizer numbers CAS values by first appearance.
type metaNormalizer map[string]int

func (n metaNormalizer) normalize(b []byte) string {
	return casField.ReplaceAllStringFunc(string(b), func(m string) string {
		sub := casField.FindStringSubmatch(m)
		id, ok := n[sub[2]]
		if !ok {
			id = len(n) + 1
			n[sub[2]] = id
		}
		return sub[1] + "#" + strconv.Itoa(id)
	})
}

func compareMeta(t *testing.T, script []string, want, got [][]byte) {
	t.Helper()
	nw, ng := metaNormalizer{}, metaNormalizer{}
	bad := 0
	for i := range script {
		w, g := nw.normalize(want[i]), ng.normalize(got[i])
		if w != g && !closeTimes(w, g) {
			t.Errorf("step %d %.80q:\nfaed      %q\nmemcached %q", i, script[i], g, w)
			if bad++; bad == 10 {
				t.FailNow()
			}
		}
	}
}

// closeTimes reports whether a and b differ only in seconds fields, by at
// most one.
func closeTimes(a, b string) bool {
	as, bs := timeField.FindAllStringSubmatch(a, -1), timeField.FindAllStringSubmatch(b, -1)
	if len(as) != len(bs) || timeField.ReplaceAllString(a, "$1") != timeField.ReplaceAllString(b, "$1") {
		return false
	}
	for i := range as {
		x, _ := strconv.ParseInt(as[i][2], 10, 64)
		y, _ := strconv.ParseInt(bs[i][2], 10, 64)
		if x-y > 1 || y-x > 1 {
			return false
		}
	}
	return true
}

// TestMetaRandom plays random meta sequences (random flags in random order,
// q included, CAS values near the live ones) to memcached and through faed.
func TestMetaRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(42, 7))
	var script []string
	for i := range 800 {
		script = append(script, strings.TrimSuffix(randomMeta(r, i), "\r\n"))
	}
	want := playMeta(t, startMetaMemcached(t), script)
	for _, tg := range metaTargets(t) {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			got := playMeta(t, tg.start(t), script)
			compareMeta(t, script, want, got)
		})
	}
}

// randomMeta is one random meta request (as in upstream/local's
// TestMetaDifferentialRandom).
func randomMeta(r *rand.Rand, i int) string {
	key := []string{"a", "b", "c", "YQ== b", "Yg== b"}[r.IntN(5)]
	pick := func(flags ...string) string {
		var out []string
		for _, j := range r.Perm(len(flags)) {
			if r.IntN(3) == 0 {
				out = append(out, flags[j])
			}
		}
		return strings.Join(out, " ")
	}
	cas := fmt.Sprint("C", max(0, i-r.IntN(8)))
	if r.IntN(4) == 0 {
		cas = "C0"
	}
	ttl := fmt.Sprint("T", []int{0, 100, 1000}[r.IntN(3)])
	var line string
	switch r.IntN(4) {
	case 0:
		line = "mg " + key + " " + pick("v", "f", "t", "c", "k", "s", "O9", "q", "N100", ttl, "h", "u", "I")
	case 1:
		data := []string{"1", "22", "abc", "18446744073709551615", ""}[r.IntN(5)]
		fl := pick("c", "k", "q", "O1", "F5", ttl, "I", cas, "M"+string("SEAPR"[r.IntN(5)]))
		line = fmt.Sprintf("ms %s %d %s\r\n%s", key, len(data), fl, data)
	case 2:
		line = "md " + key + " " + pick("q", "k", "O2", "I", ttl, cas)
	default:
		line = "ma " + key + " " + pick("v", "c", "t", "k", "q", "O3", "N0", "J7", "D3", ttl, cas, "M"+string("I+D-"[r.IntN(4)]))
	}
	return strings.TrimRight(line, " ") + "\r\n"
}
