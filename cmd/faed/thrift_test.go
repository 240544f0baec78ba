package main_test

// The Thrift front of a running faed, with memcached clients on other
// connections of the same port at the same time: every FunServant method
// from Go and from Python (Debian's python3-thrift), writes through Thrift
// read by text gets and the reverse (flags included), fae's text verbs,
// and kvdb surviving a SIGKILL after its reply.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/internal/testproc"
	"github.com/fae-sidecar/fae/proto/thrift/fae"
)

// thriftFaed starts faed with a memcache default pool on a real memcached
// and a data directory; it returns faed, the memcached address and the
// config file (for a restart).
func thriftFaed(t *testing.T, dataDir string) (*testproc.Faed, string, string) {
	t.Helper()
	mc := testproc.StartMemcached(t)
	cfg := filepath.Join(t.TempDir(), "faed.yaml")
	conf := fmt.Sprintf("data_dir: %s\nidgen: {worker_id: 7}\npools:\n  default: {kind: memcache, servers: [%q]}\n  local: {kind: local, max_bytes: 8MiB}\nroutes:\n  - {prefix: \"loc:\", pool: local}\n", dataDir, mc)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return testproc.StartFaedProc(t, "-config", cfg), mc, cfg
}

// textLine sends one text request and returns the reply's first line.
func textLine(t *testing.T, c net.Conn, r *bufio.Reader, req string) string {
	t.Helper()
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return line
}

func TestThriftServants(t *testing.T) {
	dataDir := t.TempDir()
	faed, _, _ := thriftFaed(t, dataDir)
	c := testproc.ThriftClient(t, faed.Addr)
	ctx := context.Background()
	cx := &fae.Context{Rid: 1, Reason: "test", UID: 0}

	// memcached clients on the same port the whole time.
	stop := make(chan struct{})
	var textOps atomic.Int64
	var textErr atomic.Value
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tc, err := net.Dial("tcp", faed.Addr)
			if err != nil {
				textErr.Store(err.Error())
				return
			}
			defer tc.Close()
			r := bufio.NewReader(tc)
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				k := fmt.Sprintf("text:%d:%d", i, n%50)
				fmt.Fprintf(tc, "set %s 0 0 %d\r\n%s\r\nget %s\r\n", k, len(k), k, k)
				want := fmt.Sprintf("STORED\r\nVALUE %s 0 %d\r\n%s\r\nEND\r\n", k, len(k), k)
				got := make([]byte, len(want))
				if _, err := io.ReadFull(r, got); err != nil || string(got) != want {
					textErr.Store(fmt.Sprintf("text client: %q, %v; want %q", got, err, want))
					return
				}
				textOps.Add(1)
			}
		}()
	}

	t.Run("ping noop", func(t *testing.T) {
		if v, err := c.Ping(ctx, cx); err != nil || v != "1.6.18" {
			t.Errorf("ping = %q, %v", v, err)
		}
		if v, err := c.Noop(ctx, -5); err != nil || v != -5 {
			t.Errorf("noop = %d, %v", v, err)
		}
	})
	t.Run("id", func(t *testing.T) {
		var last int64
		for i := range 1000 {
			id, err := c.IDNextWithTag(ctx, cx, int16(i%32))
			if err != nil || id <= last {
				t.Fatalf("id %d = %d, %v (last %d)", i, id, err, last)
			}
			last = id
		}
		d, err := c.IDDecode(ctx, cx, last)
		if err != nil || len(d) != 4 || d[1] != 999%32 || d[2] != 7 {
			t.Errorf("id_decode(%d) = %v, %v; want tag %d worker 7", last, d, err, 999%32)
		}
		if ms := time.UnixMilli(d[0]); time.Since(ms).Abs() > time.Minute {
			t.Errorf("id_decode time %v is not now", ms)
		}
		var se *fae.TServantError
		if _, err := c.IDNextWithTag(ctx, cx, 32); !errors.As(err, &se) {
			t.Errorf("tag 32: %v, want TServantError", err)
		}
	})
	t.Run("lc", func(t *testing.T) {
		if ok, err := c.LcSet(ctx, cx, "k", []byte("v1")); !ok || err != nil {
			t.Fatalf("lc_set = %v, %v", ok, err)
		}
		if v, err := c.LcGet(ctx, cx, "k"); err != nil || string(v) != "v1" {
			t.Errorf("lc_get = %q, %v", v, err)
		}
		if err := c.LcDel(ctx, cx, "k"); err != nil {
			t.Fatal(err)
		}
		var miss *fae.TCacheMissed
		if _, err := c.LcGet(ctx, cx, "k"); !errors.As(err, &miss) {
			t.Errorf("lc_get after lc_del: %v, want TCacheMissed", err)
		}
	})
	t.Run("mc and text see each other", func(t *testing.T) {
		tc, err := net.Dial("tcp", faed.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer tc.Close()
		r := bufio.NewReader(tc)
		for _, pool := range []string{"", "default"} {
			k := "mc:key:" + pool
			if ok, err := c.McSet(ctx, cx, pool, k, &fae.TMemcacheData{Data: []byte("thrift-" + k), Flags: 42}, 0); !ok || err != nil {
				t.Fatalf("mc_set = %v, %v", ok, err)
			}
			if line := textLine(t, tc, r, "get "+k+"\r\n"); line != fmt.Sprintf("VALUE %s 42 %d\r\n", k, len("thrift-"+k)) {
				t.Errorf("text get after mc_set: %q", line)
			}
			r.Discard(len("thrift-"+k) + 2 + len("END\r\n"))
		}
		if line := textLine(t, tc, r, "set mc:fromtext 9 0 4\r\nabcd\r\n"); line != "STORED\r\n" {
			t.Fatalf("text set: %q", line)
		}
		d, err := c.McGet(ctx, cx, "", "mc:fromtext")
		if err != nil || string(d.Data) != "abcd" || d.Flags != 9 {
			t.Errorf("mc_get of a text set = %+v, %v", d, err)
		}
		// A key routed to the local pool: "" routes it there, and so does its name.
		if ok, err := c.McSet(ctx, cx, "", "loc:a", &fae.TMemcacheData{Data: []byte("L")}, 0); !ok || err != nil {
			t.Fatalf("mc_set loc:a = %v, %v", ok, err)
		}
		if d, err := c.McGet(ctx, cx, "local", "loc:a"); err != nil || string(d.Data) != "L" {
			t.Errorf("mc_get loc:a from pool local = %+v, %v", d, err)
		}
		var miss *fae.TCacheMissed
		if _, err := c.McGet(ctx, cx, "default", "loc:a"); !errors.As(err, &miss) {
			t.Errorf("mc_get loc:a from pool default: %v, want a miss", err)
		}
		if ok, err := c.McAdd(ctx, cx, "", "mc:fromtext", &fae.TMemcacheData{Data: []byte("x")}, 0); ok || err != nil {
			t.Errorf("mc_add of an existing key = %v, %v; want false", ok, err)
		}
		if n, err := c.McIncrement(ctx, cx, "", "mc:counter", 5); n != 5 || err != nil {
			t.Errorf("mc_increment of a new counter = %d, %v; want 5", n, err)
		}
		if n, err := c.McIncrement(ctx, cx, "", "mc:counter", -2); n != 3 || err != nil {
			t.Errorf("mc_increment -2 = %d, %v; want 3", n, err)
		}
		if line := textLine(t, tc, r, "incr mc:counter 10\r\n"); line != "13\r\n" {
			t.Errorf("text incr of the Thrift counter: %q", line)
		}
		if ok, err := c.McDelete(ctx, cx, "", "mc:counter"); !ok || err != nil {
			t.Errorf("mc_delete = %v, %v", ok, err)
		}
		if ok, err := c.McDelete(ctx, cx, "", "mc:counter"); ok || err != nil {
			t.Errorf("mc_delete again = %v, %v; want false", ok, err)
		}
		var se *fae.TServantError
		if _, err := c.McGet(ctx, cx, "", "has space"); !errors.As(err, &se) {
			t.Errorf("mc_get of a key with a space: %v, want TServantError", err)
		}
		if _, err := c.McGet(ctx, cx, "nosuchpool", "k"); !errors.As(err, &se) {
			t.Errorf("mc_get from an unknown pool: %v, want TServantError", err)
		}
	})
	t.Run("lock", func(t *testing.T) {
		tok, err := c.Lock(ctx, cx, "L1", 10000)
		if err != nil || tok == "" {
			t.Fatalf("lock = %q, %v", tok, err)
		}
		if tok2, err := c.Lock(ctx, cx, "L1", 10000); tok2 != "" || err != nil {
			t.Errorf("lock of a held key = %q, %v; want \"\"", tok2, err)
		}
		// The same table on the text port.
		tc, err := net.Dial("tcp", faed.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer tc.Close()
		r := bufio.NewReader(tc)
		if line := textLine(t, tc, r, "lock L1 1000\r\n"); line != "BUSY\r\n" {
			t.Errorf("text lock of a key held through Thrift: %q", line)
		}
		if line := textLine(t, tc, r, "unlock L1 wrongtoken\r\n"); line != "NOT_FOUND\r\n" {
			t.Errorf("text unlock with a wrong token: %q", line)
		}
		if ok, err := c.Unlock(ctx, cx, "L1", "wrong"); ok || err != nil {
			t.Errorf("unlock with a wrong token = %v, %v", ok, err)
		}
		if line := textLine(t, tc, r, "unlock L1 "+tok+"\r\n"); line != "UNLOCKED\r\n" {
			t.Errorf("text unlock of the Thrift lease: %q", line)
		}
		line := textLine(t, tc, r, "lock L2 50\r\n")
		if !strings.HasPrefix(line, "LOCKED ") {
			t.Fatalf("text lock: %q", line)
		}
		// An expired lease is anyone's.
		deadline := time.Now().Add(10 * time.Second)
		for {
			if tok, err := c.Lock(ctx, cx, "L2", 1000); err == nil && tok != "" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("an expired lease was not taken")
			}
			time.Sleep(10 * time.Millisecond)
		}
		if line := textLine(t, tc, r, "id 5\r\n"); !strings.HasPrefix(line, "ID ") {
			t.Errorf("text id: %q", line)
		}
		if line := textLine(t, tc, r, "frobnicate\r\n"); line != "ERROR\r\n" {
			t.Errorf("unknown verb: %q", line)
		}
	})
	t.Run("dlog", func(t *testing.T) {
		if err := c.Dlog(ctx, cx, "orders", "paid", `{"id":1}`); err != nil {
			t.Fatal(err)
		}
		var se *fae.TServantError
		for _, ident := range []string{"../x", "a/b", "nul\x00", ""} {
			if err := c.Dlog(ctx, cx, ident, "t", "{}"); !errors.As(err, &se) {
				t.Errorf("dlog ident %q: %v, want TServantError", ident, err)
			}
		}
		if err := c.Dlog(ctx, cx, "orders", "../t", "{}"); !errors.As(err, &se) {
			t.Errorf("dlog tag ../t: %v, want TServantError", err)
		}
		testproc.WaitFor(t, "the dlog line on disk", func() bool {
			b, _ := os.ReadFile(filepath.Join(dataDir, "dlog", "orders.log"))
			return strings.Contains(string(b), ` paid {"id":1}`)
		})
		entries, _ := os.ReadDir(filepath.Dir(dataDir))
		for _, e := range entries {
			if e.Name() == "x" || e.Name() == "x.log" {
				t.Errorf("dlog wrote outside data_dir: %s", e.Name())
			}
		}
	})
	t.Run("python client", func(t *testing.T) {
		py := "/usr/bin/python3"
		if _, err := os.Stat(py); err != nil {
			t.Fatalf("python3 not found (%v): install python3-thrift with make deps", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, py, "../../client/python/test_client.py", faed.Addr).CombinedOutput()
		if err != nil {
			t.Fatalf("test_client.py: %v\n%s", err, out)
		}
		if n := strings.Count(string(out), "\nok ") + 1; n < 25 || strings.Contains(string(out), "FAIL") {
			t.Errorf("test_client.py:\n%s", out)
		}
	})
	close(stop)
	wg.Wait()
	if e := textErr.Load(); e != nil {
		t.Errorf("%v", e)
	}
	if textOps.Load() == 0 {
		t.Error("the text clients made no request")
	}
	t.Logf("text clients: %d set+get pairs meanwhile", textOps.Load())
}

// kvdb's writes survive a SIGKILL of faed after the reply.
func TestThriftKvdbSurvivesKill(t *testing.T) {
	dataDir := t.TempDir()
	faed, _, cfg := thriftFaed(t, dataDir)
	c := testproc.ThriftClient(t, faed.Addr)
	ctx := context.Background()
	cx := &fae.Context{}
	for i := range 200 {
		k := fmt.Sprintf("kv:%d", i)
		if ok, err := c.KvdbSet(ctx, cx, []byte(k), []byte("value of "+k)); !ok || err != nil {
			t.Fatalf("kvdb_set %s = %v, %v", k, ok, err)
		}
	}
	if ok, err := c.KvdbDel(ctx, cx, []byte("kv:0")); !ok || err != nil {
		t.Fatalf("kvdb_del = %v, %v", ok, err)
	}
	if err := faed.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = faed.Wait(10 * time.Second)
	again := testproc.StartFaedProc(t, "-config", cfg)
	c = testproc.ThriftClient(t, again.Addr)
	var miss *fae.TCacheMissed
	if _, err := c.KvdbGet(ctx, cx, []byte("kv:0")); !errors.As(err, &miss) {
		t.Errorf("kvdb_get of a deleted key: %v, want TCacheMissed", err)
	}
	for i := 1; i < 200; i++ {
		k := fmt.Sprintf("kv:%d", i)
		if v, err := c.KvdbGet(ctx, cx, []byte(k)); err != nil || string(v) != "value of "+k {
			t.Fatalf("kvdb_get %s after SIGKILL = %q, %v", k, v, err)
		}
	}
}

// client/php/demo.php: the Memcached extension and the text verbs.
func TestPHPDemo(t *testing.T) {
	requirePHP(t, "memcached", "php-memcached")
	faed := testproc.StartFaed(t)
	runClientScript(t, []string{"php", "../../client/php/demo.php"}, []string{faed})
}
