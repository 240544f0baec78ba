package main_test

// Real client libraries against faed: PHP's memcached and memcache
// extensions and Python's pymemcache, each driven by a script in testdata
// that asserts every result ("ok N" lines, non-zero exit on the first
// failure). Every script runs against:
//   - memcached: one real memcached, the control that proves the script;
//   - memcached-x2: two real memcached, distributed by the client itself;
//   - faed-embedded: faed with its embedded store;
//   - faed-servers: faed in front of two real memcached (-servers a,b).

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/internal/testproc"
)

const (
	phpBin    = "/usr/bin/php"
	pythonBin = "/usr/bin/python3" // Debian's, whose dist-packages hold python3-pymemcache
	clientRun = 3 * time.Minute    // guards against a hang; never a pass criterion
)

// clientTarget starts what a client script talks to and returns the
// addresses to give it.
type clientTarget struct {
	name  string
	start func(t *testing.T) []string
}

func clientTargets() []clientTarget {
	return []clientTarget{
		{"memcached", func(t *testing.T) []string { return []string{testproc.StartMemcached(t)} }},
		{"memcached-x2", func(t *testing.T) []string {
			return []string{testproc.StartMemcached(t), testproc.StartMemcached(t)}
		}},
		{"faed-embedded", func(t *testing.T) []string { return []string{testproc.StartFaed(t)} }},
		{"faed-servers", func(t *testing.T) []string {
			a, b := testproc.StartMemcached(t), testproc.StartMemcached(t)
			return []string{testproc.StartFaed(t, "-servers", a+","+b)}
		}},
	}
}

// runClientScript runs argv + addrs and fails the test, showing the
// output, unless it exits 0.
func runClientScript(t *testing.T, argv []string, addrs []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientRun)
	defer cancel()
	args := append(append([]string{}, argv[1:]...), addrs...)
	cmd := exec.CommandContext(ctx, argv[0], args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", argv[0], strings.Join(args, " "), err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	t.Log(lines[len(lines)-1])
}

// requirePHP fails the test unless Debian's PHP CLI has ext loaded.
// Debian loads the extensions from /etc/php/*/cli/conf.d/ (20-memcache.ini,
// 25-memcached.ini), so no -d extension=... is passed: loading one twice
// makes PHP warn.
func requirePHP(t *testing.T, ext, pkg string) {
	t.Helper()
	out, err := exec.Command(phpBin, "-m").CombinedOutput()
	if err != nil {
		t.Fatalf("%s -m: %v\n%s\ninstall PHP with `apt-get install php-cli %s` (or `make deps`)", phpBin, err, out, pkg)
	}
	for _, m := range strings.Fields(string(out)) {
		if m == ext {
			return
		}
	}
	t.Fatalf("PHP extension %q is not loaded (php -m:\n%s)\ninstall it with `apt-get install %s` (or `make deps`)", ext, out, pkg)
}

func TestPHPMemcached(t *testing.T) {
	requirePHP(t, "memcached", "php-memcached")
	for _, tg := range clientTargets() {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			runClientScript(t, []string{phpBin, "testdata/php/memcached_ext.php"}, tg.start(t))
		})
	}
}

func TestPHPMemcache(t *testing.T) {
	requirePHP(t, "memcache", "php-memcache")
	for _, tg := range clientTargets() {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			runClientScript(t, []string{phpBin, "testdata/php/memcache_ext.php"}, tg.start(t))
		})
	}
}

func TestPythonPymemcache(t *testing.T) {
	if out, err := exec.Command(pythonBin, "-c", "import pymemcache").CombinedOutput(); err != nil {
		t.Fatalf("%s cannot import pymemcache: %v\n%s\ninstall it with `apt-get install python3-pymemcache` (or `make deps`)", pythonBin, err, out)
	}
	for _, tg := range clientTargets() {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			runClientScript(t, []string{pythonBin, "testdata/py/pymemcache_test.py"}, tg.start(t))
		})
	}
}
