package main_test

// PHP sessions kept by PHP's memcached extension (session.save_handler =
// memcached, memcached.sess_locking = 1), in its text and binary protocol
// (memcached.sess_binary_protocol), against a real memcached (the control
// that proves the scripts), faed's embedded store and faed in front of a
// real memcached. Each case checks that
//   - session data written by one PHP process is read, changed, touched and
//     destroyed by the next ones (testdata/php/session_rw.php);
//   - two PHP processes that open one session take turns: the second's
//     session_start returns only after the first released the session's
//     lock (testdata/php/session_lock.php). That is proved by order: the
//     first holds the session for 1s and marks when it lets go; the second
//     starts once the first holds it, and must see the mark.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// phpSessionArgs returns the php flags that keep sessions at addr.
func phpSessionArgs(addr string, binary bool) []string {
	bin := "0"
	if binary {
		bin = "1"
	}
	var args []string
	for _, kv := range []string{
		"session.save_handler=memcached",
		"session.save_path=" + addr,
		"session.use_cookies=0",
		"session.use_strict_mode=0", // take the session id the script sets
		"session.cache_limiter=",
		"memcached.sess_locking=1",
		"memcached.sess_binary_protocol=" + bin,
		"memcached.sess_lock_expire=30",
		// The default gives up after 5 tries 150ms apart, before the first
		// process lets the session go: wait up to about 10s instead.
		"memcached.sess_lock_retries=200",
		"memcached.sess_lock_wait_min=20",
		"memcached.sess_lock_wait_max=50",
	} {
		args = append(args, "-d", kv)
	}
	return args
}

func TestPHPSessions(t *testing.T) {
	requirePHP(t, "memcached", "php-memcached")
	for _, tg := range serverTargets("memcached") {
		for _, binary := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/binary=%v", tg.name, binary), func(t *testing.T) {
				t.Parallel()
				php := append([]string{phpBin}, phpSessionArgs(tg.start(t), binary)...)
				t.Run("round-trip", func(t *testing.T) {
					sid := sessionID(t, "rw")
					for _, step := range []string{"write", "read", "touch", "touch", "destroy", "gone"} {
						runPHP(t, append(php, "testdata/php/session_rw.php", sid, step))
					}
				})
				t.Run("locking", func(t *testing.T) { testSessionLock(t, php) })
			})
		}
	}
}

// sessionID returns a session id of PHP's alphabet, distinct per test.
func sessionID(t *testing.T, what string) string {
	r := strings.NewReplacer("/", "-", "=", "-", "_", "-")
	return "fae-" + what + "-" + r.Replace(t.Name())
}

func runPHP(t *testing.T, argv []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientRun)
	defer cancel()
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv[len(argv)-3:], " "), err, out)
	}
}

func testSessionLock(t *testing.T, php []string) {
	sid, dir := sessionID(t, "lock"), t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), clientRun)
	defer cancel()
	first := exec.CommandContext(ctx, php[0], append(php[1:], "testdata/php/session_lock.php", sid, "first", dir)...)
	stdout, err := first.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	first.Stderr = first.Stdout
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the first process holds the session: it says so.
	var firstOut strings.Builder
	lines := bufio.NewScanner(stdout)
	locked := false
	for !locked && lines.Scan() {
		firstOut.WriteString(lines.Text() + "\n")
		locked = lines.Text() == "locked"
	}
	if !locked {
		_ = first.Wait()
		t.Fatalf("first process ended before it held the session:\n%s", firstOut.String())
	}
	out, err := exec.CommandContext(ctx, php[0], append(php[1:], "testdata/php/session_lock.php", sid, "second", dir)...).CombinedOutput()
	rest, _ := io.ReadAll(stdout)
	firstOut.Write(rest)
	firstErr := first.Wait()
	if err != nil {
		t.Errorf("second process: %v\n%s", err, out)
	}
	if firstErr != nil {
		t.Errorf("first process: %v\n%s", firstErr, firstOut.String())
	}
}
