package main_test

// Hashing compatible with clients: keys written by another placement
// (PHP's memcached extension in its consistent modes, or twemproxy) straight to
// real memcached servers must all be found through faed configured with the
// matching `distribution:`. Every key is also looked up on each memcached
// directly, to prove the keys really are spread (each on exactly one
// server), so that 100% hits through faed cannot come from luck or from
// one server holding everything.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/internal/testproc"
)

const (
	hashCompatKeys = 1000
	hcIOTimeout    = 10 * time.Second // guards one client round trip; never a pass criterion
	nutcrackerBin  = "nutcracker"
)

// weightedServer is a memcached and the weight the writer gave it.
type weightedServer struct {
	addr   string
	weight int
}

// yamlServer is the server as faed's config lists it: "host:port [weight]".
func (s weightedServer) yamlServer() string {
	if s.weight > 1 {
		return s.addr + " " + strconv.Itoa(s.weight)
	}
	return s.addr
}

func startWeighted(t *testing.T, weights ...int) []weightedServer {
	t.Helper()
	var ss []weightedServer
	for _, w := range weights {
		ss = append(ss, weightedServer{addr: testproc.StartMemcached(t), weight: w})
	}
	return ss
}

// startFaedPool starts faed with a config file whose default pool is kind
// memcache over servers, plus the given extra pool lines (YAML, indented
// under the pool).
func startFaedPool(t *testing.T, servers []string, extra ...string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("pools:\n  default:\n    kind: memcache\n    servers:\n")
	for _, s := range servers {
		fmt.Fprintf(&b, "      - %q\n", s)
	}
	for _, l := range extra {
		b.WriteString("    " + l + "\n")
	}
	path := filepath.Join(t.TempDir(), "faed.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return testproc.StartFaed(t, "-config", path)
}

// TestHashCompatPHP: for each order of PHP options, the keys the memcached
// extension wrote are all found by faed with the matching distribution.
// Controls read them through other distributions, and without
// hash_skip_prefix: those that place keys differently must miss many (else
// the test could not tell them apart); some place them the same way, by
// libmemcached's rules, and must find all.
func TestHashCompatPHP(t *testing.T) {
	requirePHP(t, "memcached", "php-memcached")
	type control struct {
		dist string
		all  bool // it too finds every key
	}
	cases := []struct {
		name     string
		mode     string // libmemcached_write.php's MODE: the options and their order
		prefix   string // OPT_PREFIX_KEY, and faed's hash_skip_prefix; empty: none
		weights  []int
		dist     string
		controls []control
	}{
		{
			name: "ketama/equal", mode: "ketama", weights: []int{1, 1, 1}, dist: "ketama",
			controls: []control{{dist: "ring"}, {dist: "libmemcached-consistent-md5"}},
		},
		{
			name: "ketama/weighted", mode: "ketama", weights: []int{1, 3, 2}, dist: "ketama",
			controls: []control{{dist: "ring"}},
		},
		{
			// The order that turns libketama's weighting off again.
			name: "ketama-then-consistent/equal", mode: "ketama-then-consistent", weights: []int{1, 1, 1}, dist: "libmemcached-consistent-md5",
			controls: []control{{dist: "ketama"}, {dist: "ring"}},
		},
		{
			// A weight above 1 turns it back on: ketama's continuum.
			name: "ketama-then-consistent/weighted", mode: "ketama-then-consistent", weights: []int{1, 3, 2}, dist: "libmemcached-consistent-md5",
			controls: []control{{dist: "ketama", all: true}, {dist: "ring"}},
		},
		{
			// OPT_PREFIX_KEY: libmemcached stores "app:" + key, placed by
			// the hash of the key alone; the control hashes the whole key.
			name: "ketama-prefix/equal", mode: "ketama", prefix: "app:", weights: []int{1, 1, 1}, dist: "ketama",
			controls: []control{{dist: "ketama"}},
		},
		{
			name: "consistent/equal", mode: "consistent", weights: []int{1, 1, 1}, dist: "libmemcached-consistent",
			controls: []control{{dist: "libmemcached-consistent-md5"}, {dist: "ketama"}},
		},
		{
			// Ketama's continuum, one_at_a_time keys.
			name: "consistent/weighted", mode: "consistent", weights: []int{1, 3, 2}, dist: "libmemcached-consistent",
			controls: []control{{dist: "ketama"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			servers := startWeighted(t, tc.weights...)
			var phpArgs, yaml []string
			for _, s := range servers {
				phpArgs = append(phpArgs, s.addr+":"+strconv.Itoa(s.weight))
				yaml = append(yaml, s.yamlServer())
			}
			argv := []string{phpBin, "testdata/php/libmemcached_write.php"}
			pool := []string{"distribution: " + tc.dist}
			if tc.prefix != "" {
				argv = append(argv, "--prefix="+tc.prefix)
				pool = append(pool, fmt.Sprintf("hash_skip_prefix: %q", tc.prefix))
			}
			runClientScript(t, append(argv, tc.mode, strconv.Itoa(hashCompatKeys)), phpArgs)

			// The keys as memcached holds them, prefix and all: a client
			// behind faed asks for those.
			keys, want := numberedKeys(tc.prefix+"php-"+tc.mode+":%d", "value-%d")
			requireSpread(t, servers, keys)
			faed := startFaedPool(t, yaml, pool...)
			if hits := countHits(t, faed, keys, want); hits != len(keys) {
				t.Fatalf("faed with %s found %d of the %d keys PHP wrote", strings.Join(pool, ", "), hits, len(keys))
			}
			for _, c := range tc.controls {
				hits := countHits(t, startFaedPool(t, yaml, "distribution: "+c.dist), keys, want)
				t.Logf("control: distribution: %s finds %d of %d", c.dist, hits, len(keys))
				switch {
				case c.all && hits != len(keys):
					t.Errorf("control: distribution: %s found %d of %d keys; libmemcached places them as it does", c.dist, hits, len(keys))
				case !c.all && hits >= len(keys)*3/4:
					t.Errorf("control: distribution: %s found %d of %d keys; the test cannot tell placements apart", c.dist, hits, len(keys))
				}
			}
		})
	}
}

func TestHashCompatTwemproxy(t *testing.T) {
	servers := startWeighted(t, 1, 2, 1)
	var yaml []string
	for _, s := range servers {
		yaml = append(yaml, s.yamlServer())
	}
	nc := startNutcracker(t, servers)
	// Counter first: twemproxy's 32-bit FNV puts keys that differ only at
	// their end next to each other on the ring.
	keys, want := numberedKeys("%d:twemproxy-key", "value-%d")
	c := dialHC(t, nc)
	for i, k := range keys {
		if got := c.roundTrip(t, fmt.Sprintf("set %s 0 0 %d\r\n%s\r\n", k, len(want[i]), want[i])); got != "STORED\r\n" {
			t.Fatalf("set %s through nutcracker: %q", k, got)
		}
	}
	requireSpread(t, servers, keys)
	faed := startFaedPool(t, yaml, "distribution: twemproxy")
	if hits := countHits(t, faed, keys, want); hits != len(keys) {
		t.Fatalf("faed with distribution: twemproxy found %d of the %d keys nutcracker wrote", hits, len(keys))
	}
}

// startNutcracker runs twemproxy in front of servers with "distribution:
// ketama" and "hash: fnv1a_64", waits until it accepts connections and
// returns its address; it is killed when the test ends. A missing
// nutcracker fails the test.
func startNutcracker(t *testing.T, servers []weightedServer) string {
	t.Helper()
	bin, err := exec.LookPath(nutcrackerBin)
	if err != nil {
		t.Fatalf("%s not found (%v): install it with `apt-get install nutcracker`", nutcrackerBin, err)
	}
	dir := t.TempDir()
	for try := 0; ; try++ {
		addr := testproc.FreePort(t)
		statsHost, statsPort, _ := net.SplitHostPort(testproc.FreePort(t))
		var b strings.Builder
		fmt.Fprintf(&b, "fae:\n  listen: %s\n  hash: fnv1a_64\n  distribution: ketama\n  timeout: 5000\n  servers:\n", addr)
		for _, s := range servers {
			fmt.Fprintf(&b, "    - %s:%d\n", s.addr, s.weight)
		}
		confPath, logPath := filepath.Join(dir, "nutcracker.yml"), filepath.Join(dir, "nutcracker.log")
		if err := os.WriteFile(confPath, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "-c", confPath, "-o", logPath, "-a", statsHost, "-s", statsPort)
		if err := cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", bin, err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		stop := func() {
			cmd.Process.Kill()
			<-exited
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := waitListening(ctx, addr, exited)
		cancel()
		if err == nil {
			t.Cleanup(stop)
			return addr
		}
		stop()
		log, _ := os.ReadFile(logPath)
		if try < 3 && strings.Contains(string(log), "in use") {
			continue
		}
		t.Fatalf("nutcracker on %s: %v\nconfig:\n%s\nlog:\n%s", addr, err, b.String(), log)
	}
}

// waitListening is testproc.WaitPort that gives up when the process exits.
func waitListening(ctx context.Context, addr string, exited <-chan struct{}) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-exited:
			cancel()
		case <-ctx.Done():
		}
	}()
	return testproc.WaitPort(ctx, addr)
}

// numberedKeys returns hashCompatKeys keys and their values from the
// formats, numbered from 0.
func numberedKeys(keyFormat, valueFormat string) (keys, values []string) {
	for i := range hashCompatKeys {
		keys = append(keys, fmt.Sprintf(keyFormat, i))
		values = append(values, fmt.Sprintf(valueFormat, i))
	}
	return keys, values
}

// requireSpread asks each server directly for every key: each key must be
// on exactly one server, and each server must hold some of them.
func requireSpread(t *testing.T, servers []weightedServer, keys []string) {
	t.Helper()
	where := map[string]int{}
	var per []int
	for i, s := range servers {
		found := getValues(t, dialHC(t, s.addr), keys)
		for k := range found {
			if j, dup := where[k]; dup {
				t.Fatalf("key %s is on %s and on %s", k, servers[j].addr, s.addr)
			}
			where[k] = i
		}
		per = append(per, len(found))
	}
	if len(where) != len(keys) {
		t.Fatalf("only %d of %d keys are on any server", len(where), len(keys))
	}
	for i, n := range per {
		if n < len(keys)/20 {
			t.Fatalf("server %d holds %d of %d keys (per server: %v): not spread", i, n, len(keys), per)
		}
	}
	t.Logf("keys per server: %v", per)
}

// countHits reads keys through addr and counts those holding their value.
func countHits(t *testing.T, addr string, keys, want []string) int {
	t.Helper()
	got := getValues(t, dialHC(t, addr), keys)
	hits := 0
	for i, k := range keys {
		if v, ok := got[k]; ok {
			if v != want[i] {
				t.Fatalf("key %s holds %q, want %q", k, v, want[i])
			}
			hits++
		}
	}
	return hits
}

// hcClient is a minimal memcached text-protocol client for these tests.
type hcClient struct {
	nc net.Conn
	br *bufio.Reader
}

func dialHC(t *testing.T, addr string) *hcClient {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, hcIOTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &hcClient{nc: nc, br: bufio.NewReader(nc)}
}

// roundTrip sends req and returns the one-line reply.
func (c *hcClient) roundTrip(t *testing.T, req string) string {
	t.Helper()
	c.nc.SetDeadline(time.Now().Add(hcIOTimeout))
	if _, err := c.nc.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	line, err := c.br.ReadString('\n')
	if err != nil {
		t.Fatalf("%q: %v", req, err)
	}
	return line
}

// valuesOn reads keys straight from each memcached of servers and returns
// the values found, failing the test for a key found on two of them.
func valuesOn(t *testing.T, servers []string, keys []string) map[string]string {
	t.Helper()
	held := map[string]string{}
	for _, s := range servers {
		for k, v := range getValues(t, dialHC(t, s), keys) {
			if _, dup := held[k]; dup {
				t.Errorf("key %s is on more than one server", k)
			}
			held[k] = v
		}
	}
	return held
}

// getValues multi-gets keys, 100 at a time, and returns the values found.
func getValues(t *testing.T, c *hcClient, keys []string) map[string]string {
	t.Helper()
	found := map[string]string{}
	for len(keys) > 0 {
		batch := keys[:min(100, len(keys))]
		keys = keys[len(batch):]
		c.nc.SetDeadline(time.Now().Add(hcIOTimeout))
		if _, err := c.nc.Write([]byte("get " + strings.Join(batch, " ") + "\r\n")); err != nil {
			t.Fatal(err)
		}
		for {
			line, err := c.br.ReadString('\n')
			if err != nil {
				t.Fatalf("get: %v", err)
			}
			if line == "END\r\n" {
				break
			}
			f := strings.Fields(line)
			if len(f) != 4 || f[0] != "VALUE" {
				t.Fatalf("get: unexpected line %q", line)
			}
			n, err := strconv.Atoi(f[3])
			if err != nil {
				t.Fatalf("get: bad length in %q", line)
			}
			data := make([]byte, n+2)
			if _, err := io.ReadFull(c.br, data); err != nil {
				t.Fatalf("get: %v", err)
			}
			found[f[1]] = string(data[:n])
		}
	}
	return found
}
