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

	"github.com/fae-sidecar/fae/internal/metascript"
	"github.com/fae-sidecar/fae/internal/testproc"
)

// metaProxyCases are requests whose refusal happens in faed's parser rather
// than a store: bad data chunks and a too-large ms, whose data is swallowed
// and whose key's item is unlinked (the decoded key, for a base64 one).
var metaProxyCases = []string{
	"ms foo 3|abcd", "ms x 2 q|abcd",
	"ms big1 3|abc", "ms big1 1100000 MA|" + strings.Repeat("x", 1100000), "mg big1 v",
	"ms big2 3|abc", "ms YmlnMg== 1100000 b|" + strings.Repeat("x", 1100000), "mg big2 v",
}

// metaTargets are faed's ways to serve meta commands: its embedded store,
// and a memcached behind each transport of a memcache pool.
func metaTargets() []target {
	return []target{
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

// TestMetaDiff plays metascript.Script and metaProxyCases, one request and its reply at a time, to
// memcached and through faed.
func TestMetaDiff(t *testing.T) {
	script := append(metascript.Script(), metaProxyCases...)
	diffMeta(t, script)
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
	diffMeta(t, script)
}

// diffMeta plays script, one step at a time, to memcached and to each of
// metaTargets, and compares each target's replies with memcached's.
func diffMeta(t *testing.T, script []string) {
	want := playMeta(t, startMetaMemcached(t), script)
	for _, tg := range metaTargets() {
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

var casField = regexp.MustCompile(`( c|cas=)([0-9]+)`)

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
		if !metascript.SameReply(w, g) {
			t.Errorf("step %d %.80q:\nfaed      %q\nmemcached %q", i, script[i], g, w)
			if bad++; bad == 10 {
				t.FailNow()
			}
		}
	}
}

// TestMetaRandom plays random meta sequences (random flags in random order,
// q included, CAS values near the live ones) to memcached and through faed.
func TestMetaRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(42, 7))
	var script []string
	for i := range 800 {
		script = append(script, strings.TrimSuffix(metascript.Random(r, i), "\r\n"))
	}
	diffMeta(t, script)
}
