package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fae-sidecar/fae/internal/testproc"
)

const chromiumBin = "/usr/bin/chromium"

// browser starts headless Chromium (Debian's) for the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := exec.LookPath(chromiumBin); err != nil {
		t.Fatalf("%s not found (%v): apt-get install chromium, or make deps", chromiumBin, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumBin),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox, // tests run as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	return ctx
}

// pageStats is what the test compares between the page and /stats.
type pageStats struct {
	Build  struct{ Version string }
	Server map[string]uint64
	Pools  []struct {
		Name    string
		Mode    string
		Stats   map[string]uint64
		Servers []struct {
			Addr string
			Up   bool
		}
	}
}

// text reads the text of the element sel on the page ("" when there is
// none). It asks the page itself, in one evaluation: the page rebuilds its
// table at each refresh, which a node looked up first could miss.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	q, _ := json.Marshal(sel)
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%s) || {textContent: ""}).textContent`, q)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// The admin page, in headless Chromium, shows what /stats says: the pools,
// their servers' state, counters and mode; it refreshes by itself, and its
// button switches a pool to read-only with the admin token.
func TestAdminPage(t *testing.T) {
	m1, m2 := testproc.StartMemcached(t), testproc.StartMemcached(t)
	adminAddr := testproc.FreePort(t)
	const token = "page-test-token-0123456789"
	// A peer that never answers: the page lists it, down.
	_, port, _ := net.SplitHostPort(testproc.FreePort(t))
	self, peer := "127.0.0.2:"+port, "127.0.0.3:"+port
	yaml := fmt.Sprintf("admin: %s\nadmin_token: %s\npools:\n  users: {kind: memcache, servers: [%q, %q], l1: {max_bytes: 1MiB, ttl: 10s}}\nroutes: [{prefix: \"u:\", pool: users}]\n"+
		"peers: {listen: %q, secret: \"page-test-secret-0123456789\", static: [%q]}\n",
		adminAddr, token, m1, m2, self, peer)
	f := testproc.StartFaedProc(t, "-config", writeConfig(t, t.TempDir(), yaml))
	c := dialFaed(t, f.Addr)
	for i := range 10 {
		c.do(t, fmt.Sprintf("set u:%d 0 0 1\r\nv\r\n", i))
		c.do(t, fmt.Sprintf("get u:%d\r\n", i))
		c.do(t, fmt.Sprintf("get u:miss%d\r\n", i))
		c.do(t, fmt.Sprintf("set l:%d 0 0 1\r\nv\r\n", i))
	}
	base := "http://" + adminAddr + "/"
	var want pageStats
	testproc.WaitFor(t, "both servers up", func() bool {
		adminDo(t, "GET", base+"stats", "", &want)
		return len(want.Pools) == 2 && len(want.Pools[1].Servers) == 2 && want.Pools[1].Servers[0].Up && want.Pools[1].Servers[1].Up
	})

	ctx := browser(t)
	if _, err := chromedp.Run(ctx, chromedp.Steps(
		chromedp.Navigate(base+"?refresh=300"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-pool="users"]`)),
	)); err != nil {
		t.Fatal(err)
	}
	users := want.Pools[1].Stats
	for _, tc := range []struct{ sel, want string }{
		{`#version`, want.Build.Version + " · "},
		{`tr[data-pool="users"] [data-field="mode"]`, "normal"},
		{`tr[data-pool="default"] [data-field="mode"]`, "normal"},
		{`tr[data-pool="users"] [data-field="routes"]`, "u:"},
		{`tr[data-pool="users"] [data-field="gets"]`, strconv.FormatUint(users["cmd_get"], 10)},
		{`tr[data-pool="users"] [data-field="hit-ratio"]`, fmt.Sprintf("%.1f%%", 100*float64(users["get_hits"])/float64(users["get_hits"]+users["get_misses"]))},
		{`tr[data-pool="users"] [data-server="` + m1 + `"] [data-field="state"]`, "up"},
		{`tr[data-pool="users"] [data-server="` + m2 + `"] [data-field="state"]`, "up"},
		{`tr[data-pool="default"] [data-field="gets"]`, strconv.FormatUint(want.Pools[0].Stats["cmd_get"], 10)},
		{`#serving`, "serving"},
		{`#peers tbody tr td:nth-child(1)`, peer},
		{`#peers tbody tr td:nth-child(2)`, "down"},
	} {
		if got := text(t, ctx, tc.sel); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s shows %q, /stats says %q", tc.sel, got, tc.want)
		}
	}
	if got := text(t, ctx, `tr[data-pool="users"] [data-field="p50"]`); got == "–" {
		t.Errorf("users p50 %q, want a latency", got)
	}

	// Live: new traffic shows up without a reload of the page.
	for i := range 5 {
		c.do(t, fmt.Sprintf("get u:%d\r\n", i))
	}
	var now pageStats
	adminDo(t, "GET", base+"stats", "", &now)
	wantGets := strconv.FormatUint(now.Pools[1].Stats["cmd_get"], 10)
	testproc.WaitFor(t, "the page to refresh", func() bool {
		return text(t, ctx, `tr[data-pool="users"] [data-field="gets"]`) == wantGets
	})

	// The mode switch: refused without the token, done with it.
	button := `tr[data-pool="users"] button[data-action="mode"]`
	if _, err := chromedp.Run(ctx, chromedp.Click(chromedp.CSS(button))); err != nil {
		t.Fatal(err)
	}
	testproc.WaitFor(t, "the refusal on the page", func() bool { return strings.Contains(text(t, ctx, "#error"), "401") })
	if _, err := chromedp.Run(ctx, chromedp.Steps(
		chromedp.SendKeys(chromedp.CSS(`#token`), token),
		chromedp.Click(chromedp.CSS(button)),
	)); err != nil {
		t.Fatal(err)
	}
	testproc.WaitFor(t, "users read-only on the page", func() bool {
		return text(t, ctx, `tr[data-pool="users"] [data-field="mode"]`) == "readonly"
	})
	adminDo(t, "GET", base+"stats", "", &now)
	if now.Pools[1].Mode != "readonly" {
		t.Errorf("/stats says users is %q", now.Pools[1].Mode)
	}
	if got := c.do(t, "set u:1 0 0 1\r\nx\r\n"); got != "SERVER_ERROR pool is read-only\r\n" {
		t.Errorf("set on the read-only pool: %q", got)
	}
	// FAE_SCREENSHOT=file.png keeps a picture (PNG) of the page, for a person.
	if path := os.Getenv("FAE_SCREENSHOT"); path != "" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err == nil {
			err = os.WriteFile(path, png, 0o644)
		}
		if err != nil {
			t.Errorf("screenshot: %v", err)
		}
	}
}
