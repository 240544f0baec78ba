package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// IdleResult is what HoldIdle measured.
type IdleResult struct {
	Target string `json:"target"`
	Addr   string `json:"addr"`
	PID    int    `json:"pid"`
	Conns  int    `json:"conns"`  // asked for
	Opened int    `json:"opened"` // that connected and answered one get
	// RSS of the server, in KiB: before opening, with the connections
	// open (after settling), and after closing them again.
	RSSBeforeKiB int64 `json:"rss_before_kib"`
	RSSOpenKiB   int64 `json:"rss_open_kib"`
	RSSClosedKiB int64 `json:"rss_closed_kib"`
	// BytesPerConn is (open - before) / opened.
	BytesPerConn float64 `json:"bytes_per_conn"`
	FirstError   string  `json:"first_error,omitempty"`
}

// ReadRSS returns VmRSS of process pid, in KiB, from /proc/PID/status.
func ReadRSS(pid int) (int64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for line := range bytes.Lines(data) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := bytes.Fields(rest)
			if len(f) == 2 && string(f[1]) == "kB" {
				return strconv.ParseInt(string(f[0]), 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no VmRSS line", pid)
}

// idleProbe is the request each idle connection sends once, so the server
// has fully accepted it: a get of a key nobody sets (every memcached
// proxy forwards get; not all answer "version").
const idleProbe = "get fae-bench:idle-probe\r\n"

// HoldIdle opens n connections to t, sends each one get, and measures the
// RSS of process pid before, after settle with all of them open, and after
// closing them and settling again. Connections are opened by 32
// goroutines, all stopped before HoldIdle returns.
func HoldIdle(ctx context.Context, t Target, n, pid int, settle time.Duration) (*IdleResult, error) {
	res := &IdleResult{Target: t.Name, Addr: t.Addr, PID: pid, Conns: n}
	var err error
	if res.RSSBeforeKiB, err = ReadRSS(pid); err != nil {
		return nil, err
	}
	conns, firstErr := openConns(ctx, n, func(ctx context.Context) (net.Conn, error) { return openIdle(ctx, t.Addr) })
	defer closeConns(conns)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, c := range conns {
		if c != nil {
			res.Opened++
		}
	}
	if firstErr != nil {
		res.FirstError = firstErr.Error()
	}
	if err := wait(ctx, settle); err != nil {
		return nil, err
	}
	if res.RSSOpenKiB, err = ReadRSS(pid); err != nil {
		return nil, err
	}
	for i, c := range conns {
		if c != nil {
			c.Close()
			conns[i] = nil
		}
	}
	if err := wait(ctx, settle); err != nil {
		return nil, err
	}
	if res.RSSClosedKiB, err = ReadRSS(pid); err != nil {
		return nil, err
	}
	if res.Opened > 0 {
		res.BytesPerConn = float64(res.RSSOpenKiB-res.RSSBeforeKiB) * 1024 / float64(res.Opened)
	}
	return res, nil
}

// openIdle dials addr and makes one get round trip.
func openIdle(ctx context.Context, addr string) (net.Conn, error) {
	c, err := dial(ctx, &net.Dialer{Timeout: 5 * time.Second}, addr)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(idleProbe)); err != nil {
		c.Close()
		return nil, err
	}
	line, err := bufio.NewReaderSize(c, 256).ReadSlice('\n')
	if err == nil && string(line) != "END\r\n" {
		err = fmt.Errorf("probe get answered %q", line)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	if err := c.SetDeadline(time.Time{}); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// wait waits d or until ctx is done.
func wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// openConns opens n connections with open, 32 at a time, and returns them
// (nil where open failed) and the first error. The caller closes them
// (closeConns), also when ctx ended early.
func openConns(ctx context.Context, n int, open func(context.Context) (net.Conn, error)) ([]net.Conn, error) {
	conns := make([]net.Conn, n)
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for range min(32, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				c, err := open(ctx)
				if err != nil {
					mu.Lock()
					firstErr = firstOf(firstErr, err)
					mu.Unlock()
					continue
				}
				conns[i] = c
			}
		})
	}
	wg.Wait()
	return conns, firstErr
}

// closeConns closes the connections openConns opened.
func closeConns(conns []net.Conn) {
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}
