package main_test

// on_failure: memory with real memcached and real faed processes: a server
// SIGKILLed and restarted empty on its address, faed itself SIGKILLed with
// writes in its spool, and a spool that cannot be written. The writers'
// values name their key and a sequence number, and every write faed
// answered STORED is looked for in memcached itself afterwards.

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/internal/testproc"
)

const (
	fbWriters    = 4
	fbKeysPerW   = 40 // keys per writer, each overwritten many times
	fbIOTimeout  = 10 * time.Second
	fbReadsEvery = 8 // a writer reads its key back through faed every n writes
)

// fbWriter writes "fb-<id>-<n>" keys through faed, each value "<key>:<seq>".
type fbWriter struct {
	id  int
	seq int
	// acked is the sequence number of the last write of each key that
	// faed answered STORED after the outage began (phase > 0).
	acked map[string]int
	// Counts by the phase the write was sent in.
	stored, failed, unanswered [3]int
	readsOK, readsBad          int
	badReads                   []string
}

// fbLoad runs the writers; phase is read before each write is sent.
type fbLoad struct {
	writers []*fbWriter
	phase   atomic.Int32
	total   atomic.Int64
}

func newFBLoad() *fbLoad {
	l := &fbLoad{}
	for i := range fbWriters {
		l.writers = append(l.writers, &fbWriter{id: i, acked: map[string]int{}})
	}
	return l
}

// run starts the writers on addr until stop is closed or their connection
// breaks; the returned wait waits for them.
func (l *fbLoad) run(t *testing.T, addr string, stop <-chan struct{}) (wait func()) {
	var wg sync.WaitGroup
	for _, w := range l.writers {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			defer c.Close()
			w.run(l, c, stop)
		})
	}
	return wg.Wait
}

func (w *fbWriter) run(l *fbLoad, c net.Conn, stop <-chan struct{}) {
	r := bufio.NewReader(c)
	for {
		select {
		case <-stop:
			return
		default:
		}
		w.seq++
		key := fmt.Sprintf("fb-%d-%d", w.id, w.seq%fbKeysPerW)
		value := fmt.Sprintf("%s:%d", key, w.seq)
		phase := l.phase.Load()
		_ = c.SetDeadline(time.Now().Add(fbIOTimeout))
		_, err := fmt.Fprintf(c, "set %s 0 0 %d\r\n%s\r\n", key, len(value), value)
		var line string
		if err == nil {
			line, err = r.ReadString('\n')
		}
		if err != nil {
			w.unanswered[phase]++
			return // faed is gone: a write without a reply was not acknowledged
		}
		l.total.Add(1)
		if line != "STORED\r\n" {
			w.failed[phase]++
			continue
		}
		w.stored[phase]++
		if phase > 0 {
			w.acked[key] = w.seq
		}
		// Read the key back, once the outage has begun (before it, the
		// server may die between the write and the read).
		if phase > 0 && w.seq%fbReadsEvery == 0 {
			_, err := fmt.Fprintf(c, "get %s\r\n", key)
			var got string
			for err == nil {
				var l string
				l, err = r.ReadString('\n')
				got += l
				if l == "END\r\n" || strings.HasPrefix(l, "SERVER_ERROR") {
					break
				}
			}
			if err != nil {
				return
			}
			if want := fmt.Sprintf("VALUE %s 0 %d\r\n%s\r\nEND\r\n", key, len(value), value); got == want {
				w.readsOK++
			} else {
				w.readsBad++
				w.badReads = append(w.badReads, fmt.Sprintf("%s: %q", key, got))
			}
		}
	}
}

// waitWrites waits until n more writes were answered.
func (l *fbLoad) waitWrites(t *testing.T, n int64) {
	t.Helper()
	target := l.total.Load() + n
	testproc.WaitFor(t, fmt.Sprintf("%d writes", target), func() bool { return l.total.Load() >= target })
}

// report logs the figures and checks that memcached itself holds every
// write acknowledged since the outage began (or a later write of its key:
// one answered SERVER_ERROR or not at all may still have reached it).
func (l *fbLoad) report(t *testing.T, faed string, servers ...string) {
	t.Helper()
	var stored, failed, unanswered [3]int
	readsOK, readsBad := 0, 0
	acked := map[string]int{}
	for _, w := range l.writers {
		for i := range 3 {
			stored[i] += w.stored[i]
			failed[i] += w.failed[i]
			unanswered[i] += w.unanswered[i]
		}
		readsOK += w.readsOK
		readsBad += w.readsBad
		for _, b := range w.badReads {
			t.Errorf("read through faed: %s", b)
		}
		for k, s := range w.acked {
			acked[k] = s
		}
	}
	keys := make([]string, 0, len(acked))
	for k := range acked {
		keys = append(keys, k)
	}
	found := valuesOn(t, servers, keys)
	lost := 0
	for k, seq := range acked {
		v, ok := found[k]
		name, n, _ := strings.Cut(v, ":")
		got, err := strconv.Atoi(n)
		if !ok || name != k || err != nil || got < seq {
			lost++
			if lost <= 10 {
				t.Errorf("%s: acknowledged %s:%d, memcached has %q (found %v)", k, k, seq, v, ok)
			}
		}
	}
	t.Logf("writes answered before/during/after the outage: STORED %v, SERVER_ERROR %v, no reply %v", stored, failed, unanswered)
	t.Logf("reads through faed of the key just written, from the outage on: %d right, %d wrong", readsOK, readsBad)
	t.Logf("spool of this faed: appended %d, superseded by a newer write of their key %d, replayed %d, dead-lettered %d, errors %d, pending %d",
		statOf(t, faed, "spool_appended"), statOf(t, faed, "spool_superseded"), statOf(t, faed, "spool_replayed"), statOf(t, faed, "spool_dead_lettered"),
		statOf(t, faed, "spool_errors"), statOf(t, faed, "spool_pending"))
	t.Logf("keys acknowledged since the outage began: %d; lost: %d", len(acked), lost)
	if readsBad > 0 {
		t.Errorf("%d reads through faed did not see the write just acknowledged", readsBad)
	}
}

// fbConfig writes a configuration with one memcache pool over servers,
// on_failure: memory, spooling under dataDir, and a breaker per server,
// so a write refused at once by an open breaker is kept like one that
// timed out.
func fbConfig(t *testing.T, dataDir string, servers ...string) string {
	t.Helper()
	return writeConfig(t, t.TempDir(), fmt.Sprintf(`data_dir: %s
pools:
  default:
    kind: memcache
    servers: ["%s"]
    timeout: 500ms
    breaker: {min_requests: 5, error_percent: 50, sleep_window: 300ms}
    on_failure: memory
`, dataDir, strings.Join(servers, `", "`)))
}

// waitDrained waits until faed's spool is empty.
func waitDrained(t *testing.T, faed string) {
	t.Helper()
	testproc.WaitFor(t, "the spool to drain", func() bool { return statOf(t, faed, "spool_pending") == 0 })
}

// A memcached SIGKILLed under load and restarted empty on its address:
// faed keeps answering STORED for its keys, reads through faed see them,
// and after the restart every acknowledged write is in memcached itself.
func TestFallbackServerKilled(t *testing.T) {
	m1, m2 := testproc.StartMemcachedProc(t), testproc.StartMemcachedProc(t)
	faed := testproc.StartFaed(t, "-config", fbConfig(t, t.TempDir(), m1.Addr, m2.Addr))
	l := newFBLoad()
	stop := make(chan struct{})
	wait := l.run(t, faed, stop)

	l.waitWrites(t, 300)
	m1.Kill(t)
	l.phase.Store(1)
	l.waitWrites(t, 1000)
	if n := statOf(t, faed, "spool_pending"); n == 0 {
		t.Errorf("spool empty during the outage")
	}
	// Once a server's spool holds a write, its writes go to the spool
	// without trying it, so its breaker may see too few to open: a figure.
	t.Logf("breaker opens during the outage: %d, requests it answered at once: %d",
		statOf(t, faed, "breaker_opens"), statOf(t, faed, "breaker_rejected"))
	testproc.StartMemcachedAt(t, m1.Addr) // empty
	l.phase.Store(2)
	l.waitWrites(t, 300)
	close(stop)
	wait()
	waitDrained(t, faed)
	l.report(t, faed, m1.Addr, m2.Addr)
}

// faed SIGKILLed while its spool holds writes for a dead server, and
// restarted: it loads the spool, goes on (reads see the spooled writes),
// and replays them once the server is back.
func TestFallbackFaedKilled(t *testing.T) {
	m1, m2 := testproc.StartMemcachedProc(t), testproc.StartMemcachedProc(t)
	cfg := fbConfig(t, t.TempDir(), m1.Addr, m2.Addr)
	f := testproc.StartFaedProc(t, "-config", cfg)
	l := newFBLoad()
	stop := make(chan struct{})
	wait := l.run(t, f.Addr, stop)

	l.waitWrites(t, 300)
	m1.Kill(t)
	l.phase.Store(1)
	l.waitWrites(t, 800)
	pending := statOf(t, f.Addr, "spool_pending")
	if pending == 0 {
		t.Fatal("spool empty during the outage")
	}
	f.Kill(t) // writers see their connections break
	wait()
	t.Logf("faed SIGKILLed with %d writes or more in its spool", pending)

	f = testproc.StartFaedProc(t, "-config", cfg)
	stop = make(chan struct{})
	wait = l.run(t, f.Addr, stop)
	l.waitWrites(t, 300) // still in the outage: on the reloaded spool
	testproc.StartMemcachedAt(t, m1.Addr)
	l.phase.Store(2)
	l.waitWrites(t, 300)
	close(stop)
	wait()
	waitDrained(t, f.Addr)
	l.report(t, f.Addr, m1.Addr, m2.Addr)
}

// A spool that cannot be written: its directory is a regular file, which
// no one can create a directory in, root included (chmod would not stop
// root). faed serves, the live server's keys are STORED by it, and the dead
// server's writes are answered SERVER_ERROR: nothing is acknowledged that
// is not on disk.
func TestFallbackSpoolUnwritable(t *testing.T) {
	m1, m2 := testproc.StartMemcachedProc(t), testproc.StartMemcachedProc(t)
	dataDir := t.TempDir()
	// The spool's directory, <data_dir>/spool, is a file.
	if err := os.WriteFile(filepath.Join(dataDir, "spool"), []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	faed := testproc.StartFaed(t, "-config", fbConfig(t, dataDir, m1.Addr, m2.Addr))
	l := newFBLoad()
	l.phase.Store(1)
	m1.Kill(t)
	stop := make(chan struct{})
	wait := l.run(t, faed, stop)
	l.waitWrites(t, 1000)
	close(stop)
	wait()
	testproc.StartMemcachedAt(t, m1.Addr)
	if n := statOf(t, faed, "spool_appended"); n != 0 {
		t.Errorf("%d writes spooled into an unwritable data_dir", n)
	}
	if statOf(t, faed, "spool_errors") == 0 {
		t.Errorf("no write was refused for the spool")
	}
	failed := 0
	for _, w := range l.writers {
		failed += w.failed[1]
	}
	if failed == 0 {
		t.Errorf("no write answered SERVER_ERROR while a server was down and the spool unwritable")
	}
	l.report(t, faed, m1.Addr, m2.Addr)
}
