package main_test

// A hung memcached behind a breaker (issue 11, point 4): one faed, a pool of
// two real memcached with a 200ms timeout and breakers on; clients load
// keys of both servers (gets, sets, multi-gets over both; every value names
// its key) while one memcached is SIGSTOPped, then SIGCONTed.
//
// Pass/fail is by replies and by the breaker's state in "stats pools",
// never by timings (those are logged as figures):
//   - no reply is another key's (or a miss of a key that exists);
//   - while the server is stopped its keys get SERVER_ERROR (a timeout for
//     those sent before its breaker opened, "breaker open" after) and its
//     breaker opens; it answers requests at once (breaker_rejected grows)
//     and its probe, a real request after each sleep window, fails and
//     reopens it;
//   - the other server's keys go on being served with their own values,
//     and its breaker never opens;
//   - once the server runs again its probe closes the breaker and its keys
//     are served again.

import (
	"bufio"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/internal/testproc"
)

const (
	brkClients  = 4
	brkKeys     = 32 // keys of each server
	brkProgress = 200
	// brkIOTimeout guards each client read and write: it only ends a test
	// that hangs, and is never a pass criterion.
	brkIOTimeout = 60 * time.Second
)

func TestBreakerStalledServer(t *testing.T) {
	for _, transport := range []string{"loop", "goroutine"} {
		t.Run(transport, func(t *testing.T) { testBreakerStalledServer(t, transport) })
	}
}

// brkTally counts the replies of one server's keys, by kind.
type brkTally struct {
	good        atomic.Int64 // a hit with the key's own value, STORED
	timeout     atomic.Int64 // SERVER_ERROR … timeout
	breakerOpen atomic.Int64 // SERVER_ERROR … breaker open
	otherErr    atomic.Int64 // other SERVER_ERROR lines
	multiMiss   atomic.Int64 // keys left out of a multi-get (their part failed)
	maxWait     atomic.Int64 // the longest a SERVER_ERROR reply took, in ns
	openWait    atomic.Int64 // the time "breaker open" replies took, summed, in ns
}

type brkRun struct {
	t       *testing.T
	faed    string
	addrs   [2]string   // server 0 stays up, server 1 is stopped
	keys    [2][]string // keys of each server
	tallies [2]brkTally
	wrong   atomic.Int64
	stop    atomic.Bool
	outage  atomic.Bool // between SIGSTOP and SIGCONT
	during  atomic.Int64
	wg      sync.WaitGroup
}

func testBreakerStalledServer(t *testing.T, transport string) {
	up, hung := testproc.StartMemcachedProc(t), testproc.StartMemcachedProc(t)
	r := &brkRun{t: t, addrs: [2]string{up.Addr, hung.Addr}}
	r.faed = startFaedPool(t, r.addrs[:], "timeout: 200ms", "transport: "+transport,
		"breaker: {min_requests: 20, error_percent: 50, sleep_window: 1s}")
	t.Cleanup(func() { _ = hung.Signal(syscall.SIGCONT) }) // never leave it stopped
	r.placeKeys()
	stats := dialHC(t, r.faed)
	state := func(i int) map[string]string { return poolServerStats(t, stats, r.addrs[i]) }

	for id := range brkClients {
		rng := rand.New(rand.NewPCG(uint64(id), uint64(time.Now().UnixNano())))
		r.wg.Go(func() { r.client(rng) })
	}
	t.Cleanup(r.stopClients)
	r.waitGood("both servers to serve", 0, 1)

	stopped, goodBefore := time.Now(), r.tallies[0].good.Load()
	r.outage.Store(true)
	if err := hung.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	testproc.WaitFor(r.t, "the stopped server's breaker to open", func() bool { return state(1)["breaker"] != "closed" })
	opened := time.Since(stopped)
	answeredBefore := r.tallies[1].breakerOpen.Load()
	// Open: requests for its keys are answered by the breaker, at once;
	// after the sleep window a probe goes to the stopped server, times out
	// and opens the breaker again.
	testproc.WaitFor(r.t, "the breaker to answer requests and its probe to fail", func() bool {
		st := state(1)
		return atoi(st["breaker_rejected"]) >= 100 && atoi(st["breaker_opens"]) >= 2
	})
	if r.tallies[1].breakerOpen.Load() == answeredBefore {
		t.Error("no request for the stopped server's keys got \"breaker open\" once its breaker was open")
	}
	r.waitGood("the other server to go on serving", 0)

	resumed, goodDuring := time.Now(), r.tallies[0].good.Load()-goodBefore
	r.outage.Store(false)
	outage := resumed.Sub(stopped)
	if err := hung.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	testproc.WaitFor(r.t, "the probe to close the breaker", func() bool { return state(1)["breaker"] == "closed" })
	closed := time.Since(resumed)
	r.waitGood("the resumed server's keys to be served", 1)
	r.stopClients()

	st0, st1 := state(0), state(1)
	t.Logf("%s transport: outage %v; breaker open %v after SIGSTOP, closed %v after SIGCONT (sleep_window 1s); "+
		"breaker opened %s times, answered %s requests at once",
		transport, outage.Round(time.Millisecond), opened.Round(time.Millisecond), closed.Round(time.Millisecond),
		st1["breaker_opens"], st1["breaker_rejected"])
	b, a := &r.tallies[1], &r.tallies[0]
	t.Logf("during the outage: %d replies, %d good ones for the other server's keys; over the run, the stopped "+
		"server's keys got %d timeouts (the longest SERVER_ERROR took %v), %d breaker open (%v each on average, "+
		"from the client), %d other errors, %d multi-get misses; the other server's keys %d errors",
		r.during.Load(), goodDuring, b.timeout.Load(), time.Duration(b.maxWait.Load()).Round(time.Millisecond),
		b.breakerOpen.Load(), (time.Duration(b.openWait.Load()) / time.Duration(max(b.breakerOpen.Load(), 1))).Round(time.Microsecond),
		b.otherErr.Load(), b.multiMiss.Load(), a.timeout.Load()+a.breakerOpen.Load()+a.otherErr.Load())
	t.Logf("wrong replies: %d", r.wrong.Load())
	if n := r.wrong.Load(); n != 0 {
		t.Errorf("%d wrong replies", n)
	}
	if st0["breaker_opens"] != "0" || st0["breaker"] != "closed" {
		t.Errorf("the server that stayed up: breaker %s, opened %s times; want closed, never opened", st0["breaker"], st0["breaker_opens"])
	}
	if n := r.tallies[0].breakerOpen.Load(); n != 0 {
		t.Errorf("%d requests for the live server's keys were answered \"breaker open\"", n)
	}
}

// placeKeys writes keys through faed and sorts them by the server that
// holds them, read directly, until each server has brkKeys.
func (r *brkRun) placeKeys() {
	t := r.t
	c, direct := dialHC(t, r.faed), dialHC(t, r.addrs[0])
	for i := 0; len(r.keys[0]) < brkKeys || len(r.keys[1]) < brkKeys; i++ {
		k := "brk:" + strconv.Itoa(i)
		if got := c.roundTrip(t, setReq(k, brkValue(k, -1))); got != "STORED\r\n" {
			t.Fatalf("set %s: %q", k, got)
		}
		s := 1
		if getOne(t, direct, k) != "END\r\n" {
			s = 0
		}
		if len(r.keys[s]) < brkKeys {
			r.keys[s] = append(r.keys[s], k)
		}
	}
}

// brkValue is the value a client writes to key: it names the key.
func brkValue(key string, seq int) string { return "val:" + key + ":" + strconv.Itoa(seq) }

// client loads faed until stopped: single gets and sets of either server's
// keys, and multi-gets over both.
func (r *brkRun) client(rng *rand.Rand) {
	c, err := net.Dial("tcp", r.faed)
	if err != nil {
		r.t.Error(err)
		return
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for seq := 0; !r.stop.Load(); seq++ {
		s := rng.IntN(2)
		k := r.keys[s][rng.IntN(brkKeys)]
		var req string
		var keys []string
		switch op := rng.IntN(4); op {
		case 0:
			req = setReq(k, brkValue(k, seq))
		case 1:
			keys = []string{r.keys[0][rng.IntN(brkKeys)], r.keys[1][rng.IntN(brkKeys)], r.keys[1][rng.IntN(brkKeys)], r.keys[0][rng.IntN(brkKeys)]}
			req = "get " + strings.Join(keys, " ") + "\r\n"
		default:
			keys = []string{k}
			req = "get " + k + "\r\n"
		}
		start := time.Now()
		c.SetDeadline(start.Add(brkIOTimeout))
		if _, err := c.Write([]byte(req)); err != nil {
			r.t.Error(err)
			return
		}
		if !r.check(br, s, keys, start) {
			return
		}
		if r.outage.Load() {
			r.during.Add(1)
		}
	}
}

// check reads the reply to a set of a key of server s (keys nil), or to a
// get of keys (one key, of server s, or a multi-get over both), and tallies
// it; start is when it was sent. It reports false when the connection is
// unusable.
func (r *brkRun) check(br *bufio.Reader, s int, keys []string, start time.Time) bool {
	line, err := br.ReadString('\n')
	if err != nil {
		r.t.Errorf("read: %v", err)
		return false
	}
	if strings.HasPrefix(line, "SERVER_ERROR ") {
		r.serverError(line, keys, time.Since(start))
		return true
	}
	if keys == nil {
		if line != "STORED\r\n" {
			r.wrongReply("set", line)
		} else {
			r.tallies[s].good.Add(1)
		}
		return true
	}
	// A retrieval: VALUE blocks of the asked keys, in their order, each
	// naming its key, then END.
	next := 0
	for line != "END\r\n" {
		f := strings.Fields(line)
		if len(f) != 4 || f[0] != "VALUE" {
			r.wrongReply("get "+strings.Join(keys, " "), line)
			return false
		}
		n, _ := strconv.Atoi(f[3])
		data := make([]byte, n+2)
		if _, err := io.ReadFull(br, data); err != nil {
			r.t.Errorf("read: %v", err)
			return false
		}
		i := slices.Index(keys[next:], f[1])
		if i < 0 || !strings.HasPrefix(string(data), "val:"+f[1]+":") {
			r.wrongReply("get "+strings.Join(keys, " "), line+string(data))
		} else {
			for _, skipped := range keys[next : next+i] {
				r.tallyMultiMiss(skipped, len(keys))
			}
			r.tallies[r.serverOf(f[1])].good.Add(1)
			next += i + 1
		}
		if line, err = br.ReadString('\n'); err != nil {
			r.t.Errorf("read: %v", err)
			return false
		}
	}
	for _, skipped := range keys[next:] {
		r.tallyMultiMiss(skipped, len(keys))
	}
	return true
}

// tallyMultiMiss counts a key a get left out: in a multi-get, its part
// failed; a single get must find the key, which exists.
func (r *brkRun) tallyMultiMiss(key string, n int) {
	if n == 1 {
		r.wrongReply("get "+key, "END\r\n")
		return
	}
	r.tallies[r.serverOf(key)].multiMiss.Add(1)
}

// serverError tallies a SERVER_ERROR line, which must name the server of
// the request's keys (for a multi-get, either: it failed whole).
func (r *brkRun) serverError(line string, keys []string, took time.Duration) {
	s := 1
	if strings.Contains(line, " "+r.addrs[0]+" ") {
		s = 0
	} else if !strings.Contains(line, " "+r.addrs[1]+" ") {
		r.wrongReply("request", line)
		return
	}
	if len(keys) == 1 && r.serverOf(keys[0]) != s {
		r.wrongReply("get "+keys[0], line)
		return
	}
	tl := &r.tallies[s]
	switch {
	case strings.HasSuffix(line, " breaker open\r\n"):
		tl.breakerOpen.Add(1)
		tl.openWait.Add(int64(took))
	case strings.HasSuffix(line, " timeout\r\n"):
		tl.timeout.Add(1)
	default:
		tl.otherErr.Add(1)
	}
	for {
		cur := tl.maxWait.Load()
		if int64(took) <= cur || tl.maxWait.CompareAndSwap(cur, int64(took)) {
			break
		}
	}
}

func (r *brkRun) serverOf(key string) int {
	if slices.Contains(r.keys[0], key) {
		return 0
	}
	return 1
}

func (r *brkRun) wrongReply(req, reply string) {
	if r.wrong.Add(1) <= 5 {
		r.t.Errorf("wrong reply to %q: %q", req, reply)
	}
}

// waitGood waits until each of servers has answered brkProgress more good
// replies.
func (r *brkRun) waitGood(what string, servers ...int) {
	var from [2]int64
	for _, s := range servers {
		from[s] = r.tallies[s].good.Load()
	}
	testproc.WaitFor(r.t, what, func() bool {
		for _, s := range servers {
			if r.tallies[s].good.Load()-from[s] < brkProgress {
				return false
			}
		}
		return true
	})
}

func (r *brkRun) stopClients() {
	r.stop.Store(true)
	r.wg.Wait()
}

// poolServerStats reads "stats pools" and returns the fields of the default
// pool's server addr (breaker, breaker_opens, …).
func poolServerStats(t *testing.T, c *hcClient, addr string) map[string]string {
	t.Helper()
	prefix := "pool:default:" + addr + ":"
	out := map[string]string{}
	for name, v := range statsOn(t, c, "stats pools") {
		if field, ok := strings.CutPrefix(name, prefix); ok {
			out[field] = v
		}
	}
	if out["breaker"] == "" {
		t.Fatalf("stats pools has no breaker for %s", addr)
	}
	return out
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
