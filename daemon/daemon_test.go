package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/admin"
	"github.com/fae-sidecar/fae/conf"
	"github.com/fae-sidecar/fae/internal/testproc"
)

const testToken = "0123456789abcdef0123"

// faed is a whole faed run in the test's process, its admin API on.
type faed struct {
	t     *testing.T
	addr  string // client address
	admin string // admin base URL
	next  atomic.Pointer[string]
	log   *testproc.SyncBuffer
}

// startFaed runs faed with the configuration yaml (whose listen and admin
// addresses it sets) until the test ends; a reload reads the YAML set with
// setNext.
func startFaed(t *testing.T, yaml string) *faed {
	t.Helper()
	f := &faed{t: t, addr: testproc.FreePort(t), log: new(testproc.SyncBuffer)}
	adminAddr := testproc.FreePort(t)
	f.admin = "http://" + adminAddr
	head := fmt.Sprintf("listen: %s\nadmin: %s\nadmin_token: %s\nloops: 2\n", f.addr, adminAddr, testToken)
	f.setNext(yaml)
	load := func() (*conf.Config, error) { return conf.Parse([]byte(head + *f.next.Load())) }
	cfg, err := load()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(f.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	go func() {
		done <- Run(ctx, cfg, Options{Build: admin.Build{Version: "test", Protocol: "1.6.18"}, Log: log, Load: load})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("faed did not stop")
		}
		if t.Failed() {
			t.Logf("faed's log:\n%s", f.log.String())
		}
	})
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := testproc.WaitPort(wctx, f.addr); err != nil {
		t.Fatal(err)
	}
	if err := testproc.WaitPort(wctx, adminAddr); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *faed) setNext(yaml string) { f.next.Store(&yaml) }

// api does one admin request with the token and decodes the JSON answer
// into out (when not nil); it returns the status.
func (f *faed) api(method, path, body string, out any) int {
	f.t.Helper()
	req, err := http.NewRequest(method, f.admin+path, strings.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			f.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

// client is one text-protocol connection.
type client struct {
	nc net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(60 * time.Second))
	return &client{nc: nc, br: bufio.NewReader(nc)}
}

// do sends req and reads one reply: lines up to END for a retrieval, else
// one line.
func (c *client) do(req string) (string, error) {
	if _, err := c.nc.Write([]byte(req)); err != nil {
		return "", err
	}
	return c.read(strings.HasPrefix(req, "get"))
}

func (c *client) read(retrieval bool) (string, error) {
	var b strings.Builder
	for {
		line, err := c.br.ReadString('\n')
		if err != nil {
			return b.String(), err
		}
		b.WriteString(line)
		if !retrieval || line == "END\r\n" || strings.HasPrefix(line, "SERVER_ERROR") || strings.HasPrefix(line, "ERROR") {
			return b.String(), nil
		}
	}
}
