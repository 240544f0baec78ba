package main_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/internal/testproc"
)

// startMemcachedUnix runs memcached -s path (its unix socket, no TCP) until
// the test ends: the control for a client script on a socket.
func startMemcachedUnix(t *testing.T, path string) {
	t.Helper()
	args := []string{"-s", path, "-a", "0660"}
	if os.Geteuid() == 0 {
		args = append(args, "-u", "root")
	}
	cmd := exec.Command("memcached", args...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("memcached -s: %v (apt-get install memcached)", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	waitSocket(t, path)
}

// waitSocket waits until path accepts a connection.
func waitSocket(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("unix", path)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not accepting: %v", path, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// writeConfig writes a configuration file in a fresh directory.
func writeConfig(t *testing.T, dir, yaml string) string {
	t.Helper()
	p := filepath.Join(dir, "faed.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// PHP's Memcached extension with addServer(socket, 0) works against faed's
// listen_unix as against memcached -s; the socket has listen_unix_mode, a
// stale one is replaced at start, and the file goes on a clean shutdown.
func TestUnixSocketPHP(t *testing.T) {
	requirePHP(t, "memcached", "php-memcached")
	t.Run("memcached -s", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "memcached.sock")
		startMemcachedUnix(t, path)
		runClientScript(t, []string{phpBin, "testdata/php/unix_socket.php"}, []string{path})
	})
	for _, backend := range []string{"embedded", "memcached"} {
		t.Run("faed-"+backend, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "faed.sock")
			// A stale socket: bound once, its listener gone, the file left.
			l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
			if err != nil {
				t.Fatal(err)
			}
			l.SetUnlinkOnClose(false)
			l.Close()
			yaml := fmt.Sprintf("listen_unix: %s\nlisten_unix_mode: \"0640\"\n", path)
			if backend == "memcached" {
				yaml += fmt.Sprintf("pools:\n  default: {kind: memcache, servers: [%q]}\n", testproc.StartMemcached(t))
			}
			f := testproc.StartFaedProc(t, "-config", writeConfig(t, dir, yaml))
			waitSocket(t, path)
			fi, err := os.Stat(path)
			if err != nil || fi.Mode()&fs.ModeSocket == 0 || fi.Mode().Perm() != 0o640 {
				t.Errorf("socket file: %v %v, want a socket with mode 0640", fi.Mode(), err)
			}
			runClientScript(t, []string{phpBin, "testdata/php/unix_socket.php"}, []string{path})
			if err := f.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if err := f.Wait(10 * time.Second); err != nil {
				t.Fatalf("faed on SIGTERM: %v\n%s", err, f.Output())
			}
			if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("socket file after a clean shutdown: %v", err)
			}
		})
	}
}

// faed refuses to start on a listen_unix path that is no stale socket,
// and leaves what is there alone.
func TestUnixSocketRefused(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "not-a-socket")
	if err := os.WriteFile(file, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	live := filepath.Join(dir, "live.sock")
	l, err := net.Listen("unix", live)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, tc := range []struct{ path, want string }{
		{path: file, want: "exists and is not a socket"},
		{path: live, want: "is in use"},
	} {
		_, err := testproc.StartFaedErr(t, "-config", writeConfig(t, t.TempDir(), "listen_unix: "+tc.path+"\n"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("listen_unix %s: %v, want an error saying %q", tc.path, err, tc.want)
		}
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != "keep me" {
		t.Errorf("the file at listen_unix: %q %v", b, err)
	}
}

// faed -version names the version, the commit and the Go version; make
// build stamps the first two with -ldflags -X.
func TestVersion(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "faed")
	build := exec.Command("go", "build", "-ldflags", "-X main.version=v9.8.7 -X main.commit=0123abc", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "-version").CombinedOutput()
	if err != nil {
		t.Fatalf("faed -version: %v\n%s", err, out)
	}
	if want := "faed v9.8.7 (commit 0123abc, go1."; !strings.HasPrefix(string(out), want) {
		t.Errorf("faed -version: %q, want it to start with %q", out, want)
	}
}

// faed -check accepts etc/faed.yaml, the commented example, which keeps it
// valid; it refuses a bad file with exit 1 and one line per problem.
func TestCheck(t *testing.T) {
	bin := testproc.BuildFaed(t)
	out, err := exec.Command(bin, "-check", "-config", "../../etc/faed.yaml").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "../../etc/faed.yaml: ok") {
		t.Fatalf("faed -check etc/faed.yaml: %v\n%s", err, out)
	}
	bad := writeConfig(t, t.TempDir(), "listen: nowhere\nmax_conns: -1\npools:\n  default: {kind: memcache}\n")
	cmd := exec.Command(bin, "-check", "-config", bad)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("faed -check of a bad file: %v, want exit status 1\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	want := []string{bad + ": 3 problem(s):", `listen: "nowhere" is not host:port`, "max_conns: must be at least 1", "pools.default.servers: "}
	if len(lines) != len(want) {
		t.Fatalf("output:\n%s", stderr.String())
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d %q, want it to start with %q", i, lines[i], w)
		}
	}
}

// The systemd unit is one systemd accepts.
func TestSystemdUnit(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatalf("systemd-analyze not found (%v): apt-get install systemd", err)
	}
	unit, err := os.ReadFile("../../contrib/faed.service")
	if err != nil {
		t.Fatal(err)
	}
	// verify wants the binaries it names to exist.
	p := filepath.Join(t.TempDir(), "faed.service")
	if err := os.WriteFile(p, bytes.ReplaceAll(unit, []byte("/usr/local/bin/faed"), []byte(testproc.BuildFaed(t))), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(analyze, "verify", p).CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	for _, want := range []string{"ExecReload=/bin/kill -HUP $MAINPID", "NoNewPrivileges=yes", "ProtectSystem=strict", "RuntimeDirectory=faed"} {
		if !bytes.Contains(unit, []byte(want)) {
			t.Errorf("the unit lacks %s", want)
		}
	}
}

// adminGet fetches base+path with token (when set) and decodes JSON.
func adminDo(t *testing.T, method, url, token string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, b)
		}
	}
	return resp.StatusCode
}

// SIGHUP reloads the file: a new pool and route serve at once on a
// connection opened before; a bad file is refused, logged, and the
// configuration in force stays.
func TestSIGHUPReload(t *testing.T) {
	m := testproc.StartMemcached(t)
	dir := t.TempDir()
	adminAddr := testproc.FreePort(t)
	cfgPath := writeConfig(t, dir, "admin: "+adminAddr+"\nlog_format: json\n")
	f := testproc.StartFaedProc(t, "-config", cfgPath)
	c := dialFaed(t, f.Addr)
	if got := c.do(t, "set u:1 0 0 1\r\nx\r\n"); got != "STORED\r\n" {
		t.Fatalf("set: %q", got)
	}
	writeConfig(t, dir, fmt.Sprintf("admin: %s\nlog_format: json\npools:\n  users: {kind: memcache, servers: [%q]}\nroutes: [{prefix: \"u:\", pool: users}]\n", adminAddr, m))
	if err := f.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testproc.WaitFor(t, "the reload", func() bool {
		var pools []struct{ Name string }
		adminDo(t, "GET", "http://"+adminAddr+"/pools", "", &pools)
		return len(pools) == 2
	})
	if got := c.do(t, "set u:1 0 0 1\r\ny\r\n"); got != "STORED\r\n" {
		t.Fatalf("set after the reload: %q", got)
	}
	if got := dialFaed(t, m).do(t, "get u:1\r\n"); got != "VALUE u:1 0 1\r\ny\r\nEND\r\n" {
		t.Errorf("u:1 did not reach the new pool's memcached: %q", got)
	}
	writeConfig(t, dir, "admin: "+adminAddr+"\nlog_format: json\npools:\n  users: {kind: nope}\n")
	if err := f.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testproc.WaitFor(t, "the refusal in the log", func() bool { return strings.Contains(f.Output(), "reload refused") })
	if got := c.do(t, "get u:1\r\n"); got != "VALUE u:1 0 1\r\ny\r\nEND\r\n" {
		t.Errorf("after a refused reload: %q", got)
	}
	// Every log line is JSON, and the refusal names the field.
	for _, line := range strings.Split(strings.TrimSpace(f.Output()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("log line is not JSON: %q", line)
			continue
		}
		if rec["msg"] == "reload refused; the configuration in force is unchanged" && !strings.Contains(fmt.Sprint(rec["err"]), "pools.users.kind") {
			t.Errorf("refusal without the field: %v", rec)
		}
	}
}

// An admin address other hosts reach needs admin_allow_remote and a token:
// faed refuses to start without one, and then asks it of every request.
func TestAdminRemoteNeedsToken(t *testing.T) {
	_, err := testproc.StartFaedErr(t, "-config", writeConfig(t, t.TempDir(), "admin: 0.0.0.0:0\nadmin_allow_remote: true\n"))
	if err == nil || !strings.Contains(err.Error(), "admin_token: required") {
		t.Fatalf("no token: %v", err)
	}
	// 0.0.0.0 listens on loopback too: the test reaches it there.
	port := strings.Split(testproc.FreePort(t), ":")[1]
	const token = "0123456789abcdef-remote"
	testproc.StartFaed(t, "-config", writeConfig(t, t.TempDir(), "admin: 0.0.0.0:"+port+"\nadmin_allow_remote: true\nadmin_token: "+token+"\n"))
	url := "http://127.0.0.1:" + port + "/healthz"
	testproc.WaitFor(t, "the admin API", func() bool {
		c, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	if s := adminDo(t, "GET", url, "", nil); s != 401 {
		t.Errorf("GET /healthz without the token: %d", s)
	}
	if s := adminDo(t, "GET", url, token, nil); s != 200 {
		t.Errorf("GET /healthz with the token: %d", s)
	}
}

// faedConn is a text-protocol connection for these tests.
type faedConn struct {
	nc net.Conn
	r  *bytes.Buffer
}

func dialFaed(t *testing.T, addr string) *faedConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &faedConn{nc: nc, r: new(bytes.Buffer)}
}

// do sends req and reads until a whole reply: a line, or up to END.
func (c *faedConn) do(t *testing.T, req string) string {
	t.Helper()
	_ = c.nc.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.nc.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	c.r.Reset()
	buf := make([]byte, 4096)
	for {
		s := c.r.String()
		if strings.HasSuffix(s, "\r\n") && (!strings.HasPrefix(req, "get") || strings.HasSuffix(s, "END\r\n") || strings.HasPrefix(s, "SERVER_ERROR")) {
			return s
		}
		n, err := c.nc.Read(buf)
		if err != nil {
			t.Fatalf("read: %v (have %q)", err, s)
		}
		c.r.Write(buf[:n])
	}
}
