package testproc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Timeouts for the waits below. They bound how long a broken process can
// hang a test; none of them decides whether a test passes.
const (
	startTimeout = 30 * time.Second // from exec to accepting connections
	stopTimeout  = 10 * time.Second // from SIGTERM to exit
	bindRetries  = 5                // new ports to try when one was taken
)

// FreePort returns "127.0.0.X:PORT" for a TCP port that was free a moment
// ago on a loopback address X picked at random (2-254): the kernel picks
// the port, and the listener is closed again. Another process may take it
// before the caller binds it; StartMemcached and StartFaed retry with a new
// port when that happens. The random address keeps test processes running
// side by side (go test runs packages in parallel) from being handed the
// same port, and keeps it clear of the local ports of outgoing loopback
// connections, which come from 127.0.0.1.
func FreePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:0", 2+rand.IntN(253)))
	if err != nil {
		t.Fatalf("testproc: find a free port: %v", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatalf("testproc: close probe listener: %v", err)
	}
	return addr
}

// WaitPort polls addr until it accepts a TCP connection or ctx is done.
func WaitPort(ctx context.Context, addr string) error {
	return waitPort(ctx, addr, nil)
}

// waitPort is WaitPort that also gives up when exited is closed (the process
// that should listen has died).
func waitPort(ctx context.Context, addr string, exited <-chan struct{}) error {
	delay := 2 * time.Millisecond
	var d net.Dialer
	for {
		dctx, cancel := context.WithTimeout(ctx, time.Second)
		c, err := d.DialContext(dctx, "tcp", addr)
		cancel()
		if err == nil {
			return c.Close()
		}
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("%s not accepting: %w (last dial error: %v)", addr, ctx.Err(), err)
		case <-exited:
			timer.Stop()
			return fmt.Errorf("process exited before %s accepted connections", addr)
		case <-timer.C:
		}
		delay = min(2*delay, 100*time.Millisecond)
	}
}

// lookTool returns the path of a required program or fails the test with
// how to install it.
func lookTool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("testproc: %s not found (%v): install it with `apt-get install %s` or `make deps`", name, err, pkg)
	}
	return p
}

// StartMemcached starts a real memcached, `memcached -U 0 -l 127.0.0.1 -p
// PORT` plus args, on a free port, waits until it accepts connections and
// returns its address. The server is killed in t.Cleanup.
func StartMemcached(t testing.TB, args ...string) (addr string) {
	t.Helper()
	return StartMemcachedProc(t, args...).Addr
}

// Memcached is a memcached started by StartMemcachedProc, for tests that
// signal it (SIGSTOP, SIGCONT).
type Memcached struct {
	Addr string
	p    *proc
}

// Signal sends sig to the process.
func (m *Memcached) Signal(sig os.Signal) error { return m.p.cmd.Process.Signal(sig) }

// StartMemcachedProc is StartMemcached returning the process too. It is
// killed (after a SIGCONT, in case the test stopped it) in t.Cleanup.
func StartMemcachedProc(t testing.TB, args ...string) *Memcached {
	t.Helper()
	for try := 0; ; try++ {
		m, err := runMemcached(t, FreePort(t), args, try < bindRetries)
		if err == nil {
			return m
		}
	}
}

// StartMemcachedAt starts memcached as StartMemcachedProc does, on addr
// (host:port): a test restarts a server it killed on the same address.
func StartMemcachedAt(t testing.TB, addr string, args ...string) *Memcached {
	t.Helper()
	for try := 0; ; try++ {
		m, err := runMemcached(t, addr, args, try < bindRetries)
		if err == nil {
			return m
		}
	}
}

// runMemcached runs memcached on addr and waits until it accepts
// connections. When it exits first because the address was taken and
// retry is set, it returns an error (the caller tries again); any other
// failure fails the test.
func runMemcached(t testing.TB, addr string, args []string, retry bool) (*Memcached, error) {
	t.Helper()
	bin := lookTool(t, "memcached", "memcached")
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("testproc: %v", err)
	}
	argv := []string{"-U", "0", "-l", host, "-p", port}
	if os.Geteuid() == 0 && !hasArg(args, "-u") {
		argv = append(argv, "-u", "root") // memcached refuses root without -u
	}
	argv = append(argv, args...)
	p := start(t, bin, argv)
	err = p.waitReady(addr)
	if err == nil {
		t.Cleanup(func() {
			_ = p.cmd.Process.Signal(syscall.SIGCONT)
			p.kill(t)
		})
		return &Memcached{Addr: addr, p: p}, nil
	}
	p.kill(t)
	if retry && p.bindFailed() {
		return nil, err
	}
	t.Fatalf("testproc: memcached %s: %v\noutput:\n%s", strings.Join(argv, " "), err, p.out.String())
	return nil, err
}

// Kill sends SIGKILL and waits for the process to exit.
func (m *Memcached) Kill(t testing.TB) { m.p.kill(t) }

// Kill sends SIGKILL and waits for the process to exit.
func (f *Faed) Kill(t testing.TB) { f.p.kill(t) }

// StartFaed builds faed (see BuildFaed), runs it with `-listen ADDR` on a
// free port plus args (and `-loops 3` unless args set -loops: with one
// loop per two CPUs by default, a 2-core machine would run one loop and
// never show what crosses loops), waits until it accepts connections and returns ADDR.
// In t.Cleanup it sends SIGTERM and fails the test unless faed exits with
// status 0 within 10s; its output is logged when the test failed.
func StartFaed(t testing.TB, args ...string) (addr string) {
	t.Helper()
	addr, err := StartFaedErr(t, args...)
	if err != nil {
		t.Fatalf("testproc: %v", err)
	}
	return addr
}

// StartFaedErr is StartFaed for callers that must tell "faed refused these
// arguments" from a broken test: when faed exits before accepting
// connections it returns an error holding faed's output instead of failing
// the test.
func StartFaedErr(t testing.TB, args ...string) (addr string, err error) {
	t.Helper()
	p, addr, err := startFaed(t, args)
	if err != nil {
		return "", err
	}
	t.Cleanup(func() { p.stop(t) })
	return addr, nil
}

// Faed is a faed process started by StartFaedProc, for tests that signal
// it themselves.
type Faed struct {
	Addr string
	p    *proc
}

// StartFaedProc starts faed as StartFaed does, for a test that stops it
// itself (Signal, Wait); t.Cleanup kills it if it still runs.
func StartFaedProc(t testing.TB, args ...string) *Faed {
	t.Helper()
	p, addr, err := startFaed(t, args)
	if err != nil {
		t.Fatalf("testproc: %v", err)
	}
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			p.kill(t)
		}
		if t.Failed() {
			t.Logf("testproc: output of %s:\n%s", strings.Join(p.argv, " "), p.out.String())
		}
	})
	return &Faed{Addr: addr, p: p}
}

// Signal sends sig to the process.
func (f *Faed) Signal(sig os.Signal) error { return f.p.cmd.Process.Signal(sig) }

// Wait waits up to timeout for the process to exit and returns how it
// exited (nil: status 0).
func (f *Faed) Wait(timeout time.Duration) error {
	select {
	case <-f.p.exited:
		return f.p.waitErr
	case <-time.After(timeout):
		return fmt.Errorf("testproc: %s still running after %v", f.p.argv[0], timeout)
	}
}

// Output is what the process printed so far.
func (f *Faed) Output() string { return f.p.out.String() }

// startFaed runs faed on a free port (see StartFaed) and waits until it
// accepts connections; on failure the process is reaped.
func startFaed(t testing.TB, args []string) (*proc, string, error) {
	t.Helper()
	bin := BuildFaed(t)
	for try := 0; ; try++ {
		addr := FreePort(t)
		argv := append([]string{"-listen", addr}, args...)
		if !hasArg(args, "-loops") {
			argv = append(argv, "-loops", "3")
		}
		p := start(t, bin, argv)
		err := p.waitReady(addr)
		if err == nil {
			return p, addr, nil
		}
		p.kill(t)
		if try < bindRetries && p.bindFailed() {
			continue
		}
		return nil, "", fmt.Errorf("faed %s: %v\noutput:\n%s", strings.Join(argv, " "), err, p.out.String())
	}
}

func hasArg(args []string, a string) bool {
	for _, x := range args {
		if x == a {
			return true
		}
	}
	return false
}

// proc is one started process.
type proc struct {
	argv    []string
	cmd     *exec.Cmd
	out     *SyncBuffer
	exited  chan struct{} // closed when Wait returned
	waitErr error         // set before exited is closed
}

func start(t testing.TB, bin string, argv []string) *proc {
	t.Helper()
	p := &proc{argv: append([]string{bin}, argv...), out: new(SyncBuffer), exited: make(chan struct{})}
	p.cmd = exec.Command(bin, argv...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("testproc: start %s: %v", bin, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	return p
}

func (p *proc) waitReady(addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	return waitPort(ctx, addr, p.exited)
}

// bindFailed reports whether the process died because its port was taken.
func (p *proc) bindFailed() bool {
	s := strings.ToLower(p.out.String())
	return strings.Contains(s, "address already in use") || strings.Contains(s, "failed to listen")
}

// kill ends the process with SIGKILL and reaps it.
func (p *proc) kill(t testing.TB) {
	_ = p.cmd.Process.Kill()
	select {
	case <-p.exited:
	case <-time.After(stopTimeout):
		t.Errorf("testproc: %s did not exit after SIGKILL", p.argv[0])
	}
}

// stop sends SIGTERM and requires exit status 0 within stopTimeout.
func (p *proc) stop(t testing.TB) {
	select {
	case <-p.exited:
		t.Errorf("testproc: %s exited before the test ended: %v\noutput:\n%s", strings.Join(p.argv, " "), p.waitErr, p.out.String())
		return
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Errorf("testproc: SIGTERM %s: %v", p.argv[0], err)
	}
	select {
	case <-p.exited:
		if p.waitErr != nil {
			t.Errorf("testproc: %s did not exit cleanly on SIGTERM: %v\noutput:\n%s", strings.Join(p.argv, " "), p.waitErr, p.out.String())
			return
		}
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.exited
		t.Errorf("testproc: %s did not exit within %v of SIGTERM; killed\noutput:\n%s", strings.Join(p.argv, " "), stopTimeout, p.out.String())
		return
	}
	if t.Failed() {
		t.Logf("testproc: output of %s:\n%s", strings.Join(p.argv, " "), p.out.String())
	}
}

// SyncBuffer is a bytes.Buffer safe for concurrent writes and reads: a
// process's stdout and stderr copiers, or a logger, and the test's reads.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// BuildFaed builds ./cmd/faed once per test binary and returns the path of
// the executable. Under `go test -race` faed is built with -race too, so a
// data race in faed fails the test (faed then exits non-zero on SIGTERM).
//
// "Once per test binary" needs state shared by all tests of the binary. It
// is kept in the file system rather than in a package variable: the binary
// goes to a directory named after the test process's id, so a later call
// (from any test, serial or parallel) finds it there, and a file lock makes
// concurrent first calls build it only once. Use [Main] in TestMain to
// remove that directory when the tests end.
func BuildFaed(t testing.TB) (binPath string) {
	t.Helper()
	goBin := lookTool(t, "go", "golang-go (or a Go toolchain from go.dev)")
	dir := buildDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("testproc: %v", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatalf("testproc: %v", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("testproc: lock %s: %v", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck // closing unlocks too
	binPath = filepath.Join(dir, "faed")
	if _, err := os.Stat(binPath); err == nil {
		return binPath
	}
	args := []string{"build", "-o", binPath + ".tmp"}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "github.com/fae-sidecar/fae/cmd/faed")
	cmd := exec.Command(goBin, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("testproc: go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	if err := os.Rename(binPath+".tmp", binPath); err != nil {
		t.Fatalf("testproc: %v", err)
	}
	return binPath
}

func buildDir() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("fae-testproc-%d", os.Getpid()))
}

// Main runs the tests and removes what BuildFaed built, then exits with the
// tests' status. Call it from TestMain:
//
//	func TestMain(m *testing.M) { testproc.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	if err := os.RemoveAll(buildDir()); err != nil && !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintln(os.Stderr, "testproc:", err)
	}
	os.Exit(code)
}
