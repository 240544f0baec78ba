package main_test

// Stress: a reply that belongs to another request is the worst thing a
// cache proxy can do, so faed is loaded the way an adversarial user would
// load it while its memcached servers stall. Every value written holds its
// own key ("key|writer|seq|" and the key again as padding), so a reply, or
// bytes of one, that belong to another request show.
//
// One faed serves four memcache pools over the same three memcached
// servers, one per way a request can travel: transport loop and goroutine,
// each bare (no coalescing, no L1) and with L1 and coalescing on; keys
// are routed to a pool by their prefix. Pipelined text clients (sets, gets,
// multi-gets spread over the servers), pipelined binary clients (getk,
// getkq, set, setq, noop) and set-then-get clients load every pool while
// each memcached in turn is SIGSTOPped, until every pool has failed
// requests on it (timeout: 200ms: the stall cuts connections with requests
// and writes in flight), and SIGCONTed, until every pool has it up again
// and has served more requests.
//
// Pass/fail does not depend on timings:
//   - every reply is the request's own: a get of k answers a miss, a value
//     naming k or SERVER_ERROR; a multi-get, values of its keys in its
//     order; a set, STORED or SERVER_ERROR; a binary response has its
//     request's opaque, opcode and key;
//   - a set-then-get client reads its own write: the value it just stored,
//     or one of a set of the key whose outcome it does not know;
//   - after the load, memcached itself (read directly) holds for every key
//     what setHeld allows.

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/internal/testproc"
)

// The load: clients of each kind, keys each writer owns per pool, and
// the memcached stalls.
const (
	stressTextClients = 8
	stressBinClients  = 16
	stressSyncClients = 20
	stressKeys        = 8  // keys a writer owns in each pool
	stressBatch       = 32 // requests per pipelined batch
	// stressWindow bounds the batches a pipelining client has in flight:
	// it keeps sending while a stalled server holds some of its requests,
	// so that requests keep reaching the stalled server's connections
	// until they are cut.
	stressWindow = 8
	stressStalls = 6
	// stressProgress is how many good replies every pool must serve after
	// a stalled server is back, before the next stall.
	stressProgress = 300
	// stressIOTimeout guards one client read or write and each phase of
	// the run: faed answers every request within its 200ms timeout, so
	// this only ends a test that hangs. It is never a pass criterion.
	stressIOTimeout = 60 * time.Second
)

// stressPool is one of faed's pools in the test: its keys start with
// prefix.
type stressPool struct {
	name   string
	prefix string
	conf   []string // the pool's YAML lines, besides kind, servers and timeout
}

var stressPools = []stressPool{
	{"loop", "lp:", []string{"transport: loop", "coalesce: false"}},
	{"goroutine", "gp:", []string{"transport: goroutine", "coalesce: false"}},
	{"loop+l1", "lr:", []string{"transport: loop", "coalesce: true", "l1: {max_bytes: 16MiB, ttl: 1s}"}},
	{"goroutine+l1", "gr:", []string{"transport: goroutine", "coalesce: true", "l1: {max_bytes: 16MiB, ttl: 1s}"}},
}

func TestStressStalledServers(t *testing.T) {
	servers := []*killableMemcached{startKillableMemcached(t), startKillableMemcached(t), startKillableMemcached(t)}
	var addrs []string
	for _, m := range servers {
		addrs = append(addrs, m.addr)
	}
	r := &stressRun{t: t, faed: startStressFaed(t, addrs), tallies: make([]poolTally, len(stressPools))}
	for i := range r.tallies {
		r.tallies[i].failed = map[string]int{}
	}
	t.Cleanup(func() { // before faed stops: never leave a server stopped
		for _, m := range servers {
			m.signal(syscall.SIGCONT)
		}
	})
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)

	admin := dialHC(t, r.faed)
	clients := []struct {
		n   int
		run func(id int, rng *rand.Rand)
	}{{stressTextClients, r.textClient}, {stressBinClients, r.binClient}, {stressSyncClients, r.syncClient}}
	for k, c := range clients {
		for id := range c.n {
			rng := rand.New(rand.NewPCG(seed, uint64(k<<16|id)))
			r.clients.Go(func() { c.run(id, rng) })
		}
	}
	t.Cleanup(r.stopClients) // first, should the test end early

	up := len(stressPools) * len(servers)
	start := r.goodCounts()
	r.waitPhase("every pool to serve", func() bool { return r.progressed(start) })
	for i := range stressStalls {
		m := servers[i%len(servers)]
		before := r.failedOn(m.addr)
		m.signal(syscall.SIGSTOP)
		// Stopped until every pool failed requests on it and has it
		// down: its connections were cut with requests (and writes) in
		// flight.
		r.waitPhase("every pool to fail requests on the stopped "+m.addr, func() bool {
			now := r.failedOn(m.addr)
			for p := range now {
				if now[p] == before[p] {
					return false
				}
			}
			return stressStat(t, admin, "servers_up") == up-len(stressPools)
		})
		m.signal(syscall.SIGCONT)
		r.waitPhase("every pool to have its servers up", func() bool { return stressStat(t, admin, "servers_up") == up })
		good := r.goodCounts()
		r.waitPhase("every pool to serve again", func() bool { return r.progressed(good) })
	}
	r.stopClients()

	r.report()
	r.checkHeld(addrs)
}

// startStressFaed starts faed with the four pools of stressPools over
// servers, each taking the keys of its prefix.
func startStressFaed(t *testing.T, servers []string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("pools:\n  default: {kind: local}\n")
	for _, p := range stressPools {
		fmt.Fprintf(&b, "  %s:\n    kind: memcache\n    timeout: 200ms\n    servers: [%q, %q, %q]\n", p.name, servers[0], servers[1], servers[2])
		for _, l := range p.conf {
			b.WriteString("    " + l + "\n")
		}
	}
	b.WriteString("routes:\n")
	for _, p := range stressPools {
		fmt.Fprintf(&b, "  - {prefix: %q, pool: %q}\n", p.prefix, p.name)
	}
	path := filepath.Join(t.TempDir(), "faed.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return testproc.StartFaed(t, "-config", path)
}

// signal sends sig to memcached, unless it has exited.
func (m *killableMemcached) signal(sig syscall.Signal) {
	select {
	case <-m.exited:
	default:
		_ = m.cmd.Process.Signal(sig)
	}
}

// stressStat reads one of faed's stats (-1 when faed has none of that name).
func stressStat(t *testing.T, c *hcClient, name string) int {
	t.Helper()
	v, err := strconv.Atoi(statsOn(t, c, "stats")[name])
	if err != nil {
		return -1
	}
	return v
}

// stressRun is the shared state of the clients and the checks.
type stressRun struct {
	t       *testing.T
	faed    string
	stop    atomic.Bool
	clients sync.WaitGroup
	tallies []poolTally  // per stressPools entry
	stray   atomic.Int64 // wrong replies paired with no request

	mu      sync.Mutex
	samples []string             // the first wrong replies paired with no request
	sets    map[string][]*setRec // every writer's sets, once it is done
}

// poolTally counts the replies to requests for one pool's keys.
type poolTally struct {
	good  atomic.Int64 // the request's own answer
	wrong atomic.Int64 // a reply that is not the request's own
	stale atomic.Int64 // a set-then-get client's read missed its write

	mu      sync.Mutex
	failed  map[string]int // SERVER_ERROR replies per memcached address
	samples []string       // the first wrong replies, for the log
}

// maxSamples bounds the wrong replies quoted in the log.
const maxSamples = 8

// verdict is what a reply says about the request it answers.
type verdict struct {
	wrong  string // why the reply is not the request's own; "" if it is
	failed string // the memcached address of a SERVER_ERROR reply
}

// tally counts one reply to a request for key; a reply paired with no
// request has no key.
func (r *stressRun) tally(key string, v verdict) {
	p := poolOf(key)
	if p < 0 {
		r.stray.Add(1)
		r.mu.Lock()
		r.samples = keepSample(r.samples, v.wrong)
		r.mu.Unlock()
		return
	}
	pt := &r.tallies[p]
	switch {
	case v.wrong != "":
		pt.wrong.Add(1)
		pt.mu.Lock()
		pt.samples = keepSample(pt.samples, v.wrong)
		pt.mu.Unlock()
	case v.failed != "":
		pt.mu.Lock()
		pt.failed[v.failed]++
		pt.mu.Unlock()
	default:
		pt.good.Add(1)
	}
}

func keepSample(samples []string, msg string) []string {
	if len(samples) < maxSamples {
		samples = append(samples, msg)
	}
	return samples
}

// failedOn returns each pool's count of SERVER_ERROR replies naming addr.
func (r *stressRun) failedOn(addr string) []int {
	n := make([]int, len(r.tallies))
	for i := range r.tallies {
		pt := &r.tallies[i]
		pt.mu.Lock()
		n[i] = pt.failed[addr]
		pt.mu.Unlock()
	}
	return n
}

func (r *stressRun) goodCounts() []int64 {
	n := make([]int64, len(r.tallies))
	for i := range r.tallies {
		n[i] = r.tallies[i].good.Load()
	}
	return n
}

// progressed reports whether every pool served stressProgress good
// replies since before was taken.
func (r *stressRun) progressed(before []int64) bool {
	for i, n := range r.goodCounts() {
		if n-before[i] < stressProgress {
			return false
		}
	}
	return true
}

// waitPhase polls cond until it holds; a run that does not get there
// within stressIOTimeout is broken.
func (r *stressRun) waitPhase(what string, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(stressIOTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			r.stopClients()
			r.report()
			r.t.Fatalf("waited %v for %s", stressIOTimeout, what)
		}
		time.Sleep(5 * time.Millisecond) // polling the clients' tallies and faed's stats
	}
}

// ioFailed reports a client's connection that broke: faed must never
// close one, nor stop answering.
func (r *stressRun) ioFailed(who string, err error) { r.t.Errorf("%s: %v", who, err) }

// stopClients ends the load and waits for every client to finish.
func (r *stressRun) stopClients() {
	r.stop.Store(true)
	r.clients.Wait()
}

// keep records a writer's sets once it is done.
func (r *stressRun) keep(sets setLog) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sets == nil {
		r.sets = map[string][]*setRec{}
	}
	for k, s := range sets {
		r.sets[k] = s // each key has one writer
	}
}

func (r *stressRun) report() {
	for i, p := range stressPools {
		pt := &r.tallies[i]
		pt.mu.Lock()
		failed := 0
		for _, n := range pt.failed {
			failed += n
		}
		samples := pt.samples
		pt.mu.Unlock()
		r.t.Logf("pool %-13s good %7d  SERVER_ERROR %5d  wrong %4d  stale reads %d", p.name, pt.good.Load(), failed, pt.wrong.Load(), pt.stale.Load())
		for _, s := range samples {
			r.t.Logf("  %s: %s", p.name, s)
		}
		if n := pt.wrong.Load(); n > 0 {
			r.t.Errorf("pool %s: %d replies that belong to another request", p.name, n)
		}
		if n := pt.stale.Load(); n > 0 {
			r.t.Errorf("pool %s: %d reads that missed the client's own acknowledged write", p.name, n)
		}
	}
	if n := r.stray.Load(); n > 0 {
		r.t.Errorf("%d replies paired with no request", n)
	}
	r.mu.Lock()
	for _, s := range r.samples {
		r.t.Log("  unpaired: " + s)
	}
	r.mu.Unlock()
}

// Keys and values.

// poolOf returns the stressPools index of key, or -1.
func poolOf(key string) int {
	for i, p := range stressPools {
		if strings.HasPrefix(key, p.prefix) {
			return i
		}
	}
	return -1
}

// writerID names a client that writes keys: 't' (text), 'b' (binary) or
// 's' (set-then-get) and its number.
func writerID(kind byte, id int) string { return string(kind) + strconv.Itoa(id) }

// ownKey returns one of writer's keys in pool p.
func ownKey(p int, writer string, rng *rand.Rand) string {
	return stressPools[p].prefix + writer + "." + strconv.Itoa(rng.IntN(stressKeys))
}

// anyKey returns a key of any writer in pool p.
func anyKey(p int, rng *rand.Rand) string {
	var w string
	switch n := rng.IntN(stressTextClients + stressBinClients + stressSyncClients); {
	case n < stressTextClients:
		w = writerID('t', n)
	case n < stressTextClients+stressBinClients:
		w = writerID('b', n-stressTextClients)
	default:
		w = writerID('s', n-stressTextClients-stressBinClients)
	}
	return ownKey(p, w, rng)
}

// stressValue returns a value naming key, unique to (writer, seq): mostly
// small, some of a few KiB, a few larger than the goroutine transport's
// 64KiB read buffer.
func stressValue(key, writer string, seq int, rng *rand.Rand) string {
	pad := rng.IntN(200)
	switch x := rng.IntN(100); {
	case x < 3:
		pad = 66<<10 + rng.IntN(8<<10)
	case x < 10:
		pad = 1<<10 + rng.IntN(7<<10)
	}
	return key + "|" + writer + "|" + strconv.Itoa(seq) + "|" + strings.Repeat(key+" ", pad/(len(key)+1)+1)[:pad]
}

// names reports whether value was written for key, every byte of it: its
// head names key, and its padding is key over and over.
func names(key, value string) bool {
	head, ok := strings.CutPrefix(value, key+"|")
	for i := 0; ok && i < 2; i++ { // writer|seq|
		_, head, ok = strings.Cut(head, "|")
	}
	if !ok {
		return false
	}
	for i := range len(head) {
		if j := i % (len(key) + 1); j < len(key) && head[i] != key[j] || j == len(key) && head[i] != ' ' {
			return false
		}
	}
	return true
}

// setRec is one set a writer sent; acked when faed answered STORED (or a
// quiet binary set answered nothing), else its outcome is unknown.
type setRec struct {
	value string
	acked bool
}

// setLog is a writer's sets per key, in the order it sent them. Only the
// writer's sending goroutine adds to it; whoever reads the reply marks
// the set acknowledged.
type setLog map[string][]*setRec

func (l setLog) add(key, value string) *setRec {
	s := &setRec{value: value}
	l[key] = append(l[key], s)
	return s
}

// setHeld checks what a key holds (value, or nothing when !found) against
// its sets. It must hold the last acknowledged set's value, or the value of
// a set sent after it whose outcome is unknown (it failed or timed out on
// the way). A set that timed out before it may land later too (resurrected):
// a timed-out request can still be in a dead connection's socket buffer
// that a stalled memcached reads after the next set, on a new connection,
// was answered. That is how timeouts work, not a wrong reply: counted, not
// failed. Without an acknowledged set the key may hold nothing.
func setHeld(sets []*setRec, value string, found bool) (ok, resurrected bool) {
	last := -1
	for i, s := range sets {
		if s.acked {
			last = i
		}
	}
	if !found {
		return last < 0, false
	}
	for i, s := range sets {
		switch {
		case s.value != value:
		case i == last, i > last && !s.acked:
			return true, false
		case !s.acked:
			return true, true
		}
	}
	return false, false
}

func TestSetHeld(t *testing.T) {
	sets := func(states ...string) []*setRec { // "v1:STORED", "v2:?"
		var ss []*setRec
		for _, s := range states {
			v, state, _ := strings.Cut(s, ":")
			ss = append(ss, &setRec{value: v, acked: state == "STORED"})
		}
		return ss
	}
	cases := []struct {
		name            string
		sets            []*setRec
		value           string
		found           bool
		ok, resurrected bool
	}{
		{name: "never stored, nothing", sets: sets("v1:?"), ok: true},
		{name: "never stored, a set that failed", sets: sets("v1:?", "v2:?"), value: "v1", found: true, ok: true},
		{name: "the last acknowledged", sets: sets("v1:STORED", "v2:STORED"), value: "v2", found: true, ok: true},
		{name: "a later set that failed", sets: sets("v1:STORED", "v2:?"), value: "v2", found: true, ok: true},
		{name: "an earlier set that failed", sets: sets("v1:?", "v2:STORED"), value: "v1", found: true, ok: true, resurrected: true},
		{name: "an older acknowledged", sets: sets("v1:STORED", "v2:STORED"), value: "v1", found: true},
		{name: "acknowledged, then nothing", sets: sets("v1:STORED", "v2:?")},
		{name: "no set of the key", sets: sets("v1:STORED"), value: "x", found: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ok, res := setHeld(tc.sets, tc.value, tc.found)
			if ok != tc.ok || res != tc.resurrected {
				t.Fatalf("ok %v resurrected %v, want %v %v", ok, res, tc.ok, tc.resurrected)
			}
		})
	}
}

func TestNames(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100 {
		v := stressValue("lp:t1.2", "t1", 7, rng)
		if !names("lp:t1.2", v) {
			t.Fatalf("%.60q does not name its key", v)
		}
		if names("lp:t1.3", v) {
			t.Fatalf("%.60q names another key", v)
		}
		if tampered := v[:len(v)-1] + "#"; names("lp:t1.2", tampered) {
			t.Fatalf("%.60q with a byte of something else names its key", tampered)
		}
	}
}

// checkHeld reads every key written straight from the memcached servers
// and checks it against its sets.
func (r *stressRun) checkHeld(servers []string) {
	t := r.t
	var keys []string
	for k := range r.sets {
		keys = append(keys, k)
	}
	held := valuesOn(t, servers, keys)
	acked, resurrected, bad := 0, 0, 0
	for _, k := range keys {
		sets := r.sets[k]
		if sets[len(sets)-1].acked {
			acked++
		}
		v, found := held[k]
		ok, res := setHeld(sets, v, found)
		if res {
			resurrected++
		}
		if !ok {
			bad++
			if bad <= maxSamples {
				t.Errorf("memcached holds for %s %s; its sets: %s", k, quoteValue(v, found), describeSets(sets))
			}
		}
	}
	t.Logf("after the load: %d keys written, %d with their last set acknowledged, %d holding a set that timed out before the last acknowledged one", len(keys), acked, resurrected)
	if bad > 0 {
		t.Errorf("%d keys hold what no set of theirs allows", bad)
	}
}

func quoteValue(v string, found bool) string {
	if !found {
		return "nothing"
	}
	return strconv.Quote(shorten(v))
}

// describeSets lists the last sets of a key, with their outcome.
func describeSets(sets []*setRec) string {
	var b strings.Builder
	if len(sets) > 4 {
		fmt.Fprintf(&b, "(%d earlier) ", len(sets)-4)
		sets = sets[len(sets)-4:]
	}
	for _, s := range sets {
		state := "unknown"
		if s.acked {
			state = "STORED"
		}
		fmt.Fprintf(&b, "[%s %s] ", strconv.Quote(shorten(s.value)), state)
	}
	return b.String()
}

// shorten cuts a value after its "key|writer|seq|" head.
func shorten(v string) string {
	if len(v) > 40 {
		return v[:40] + "…"
	}
	return v
}

// Text replies.

// textReply is one reply as a client reads it: its VALUE blocks, then the
// line that ends it (END, STORED, SERVER_ERROR …), without "\r\n".
type textReply struct {
	values []textValue
	last   string
}

// textValue is a VALUE block: cas is the unique of a gets reply, "" for get.
type textValue struct{ key, data, cas string }

func (rep textReply) String() string {
	var b strings.Builder
	for _, v := range rep.values {
		fmt.Fprintf(&b, "VALUE %s %q ", v.key, shorten(v.data))
	}
	return b.String() + strconv.Quote(rep.last)
}

// readTextReply reads one reply: VALUE blocks up to the first other line.
func readTextReply(br *bufio.Reader) (textReply, error) {
	var rep textReply
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return rep, err
		}
		line = strings.TrimSuffix(line, "\r\n")
		f := strings.Fields(line)
		if len(f) < 4 || f[0] != "VALUE" {
			rep.last = line
			return rep, nil
		}
		n, err := strconv.Atoi(f[3])
		if err != nil || n < 0 {
			return rep, fmt.Errorf("bad VALUE line %q", line)
		}
		data := make([]byte, n+2)
		if _, err := io.ReadFull(br, data); err != nil {
			return rep, err
		}
		v := textValue{key: f[1], data: string(data[:n])}
		if len(f) > 4 {
			v.cas = f[4]
		}
		rep.values = append(rep.values, v)
	}
}

// upstreamAddr returns the memcached address a pool's SERVER_ERROR line
// names ("SERVER_ERROR upstream ADDR why"), or "".
func upstreamAddr(line string) string {
	rest, ok := strings.CutPrefix(line, "SERVER_ERROR upstream ")
	if !ok {
		return ""
	}
	addr, _, _ := strings.Cut(rest, " ")
	return addr
}

// judgeSet judges the reply to a set of key.
func judgeSet(key string, rep textReply) verdict {
	if len(rep.values) == 0 {
		if rep.last == "STORED" {
			return verdict{}
		}
		if addr := upstreamAddr(rep.last); addr != "" {
			return verdict{failed: addr}
		}
	}
	return verdict{wrong: fmt.Sprintf("set %s: %s", key, rep)}
}

// judgeGet judges the reply to a get of keys: values of those keys, in
// their order, each naming its key.
func judgeGet(keys []string, rep textReply) verdict {
	if len(rep.values) == 0 {
		if addr := upstreamAddr(rep.last); addr != "" {
			return verdict{failed: addr}
		}
	}
	if rep.last != "END" {
		return verdict{wrong: fmt.Sprintf("get %s: %s", strings.Join(keys, " "), rep)}
	}
	i := 0
	for _, v := range rep.values {
		for i < len(keys) && keys[i] != v.key {
			i++
		}
		if i == len(keys) || !names(v.key, v.data) {
			return verdict{wrong: fmt.Sprintf("get %s: %s", strings.Join(keys, " "), rep)}
		}
		i++
	}
	return verdict{}
}

// dialStress connects a client to faed.
func (r *stressRun) dialStress(who string) (net.Conn, bool) {
	c, err := net.DialTimeout("tcp", r.faed, stressIOTimeout)
	if err != nil {
		r.t.Errorf("%s: %v", who, err)
		return nil, false
	}
	return c, true
}
