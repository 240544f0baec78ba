package local

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// memcached is a real memcached server started for a test, and one text
// protocol connection to it.
type memcached struct {
	conn net.Conn
	buf  []byte
}

// startMemcached starts the memcached binary on a free local port for
// the test's duration, or skips the test when there is none.
//
// Memcached runs without its LRU maintainer thread, whose timing would
// otherwise show through in two places. It reclaims expired and flushed
// items in the background, so a later delayed flush_all may or may not
// revive an item. And when an item is fetched a second time while in the
// COLD LRU, the thread bumps it asynchronously; until it does, the pending
// bump holds a reference, and an incr or decr in that window writes a
// fresh unpadded item ("0") instead of padding in place ("0  "). The store
// always pads, which is what memcached does when nothing else holds the
// item.
func startMemcached(t *testing.T) *memcached {
	t.Helper()
	if testing.Short() {
		t.Skip("short: not starting memcached")
	}
	bin, err := exec.LookPath("memcached")
	if err != nil {
		t.Skip("memcached not installed")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	l.Close()
	args := []string{"-U", "0", "-l", "127.0.0.1", "-p", port, "-o", "no_lru_maintainer"}
	if os.Geteuid() == 0 {
		args = append(args, "-u", "root") // memcached refuses to run as root otherwise
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	// Wait for the listener, polling the condition up to a deadline.
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		conn, err := net.Dial("tcp", addr)
		if err == nil {
			t.Cleanup(func() { conn.Close() })
			return &memcached{conn: conn}
		}
		if time.Now().After(deadline) {
			t.Fatalf("memcached did not listen on %s: %v", addr, err)
		}
		<-tick.C
	}
}

// roundTrip sends one request in wire form and returns memcached's exact
// reply. A no-op "mn" follows the request, so the reply is what precedes
// "MN\r\n": this frames replies that are empty (noreply) or of any shape.
func (m *memcached) roundTrip(t *testing.T, req string) []byte {
	t.Helper()
	return m.readUntil(t, req+"mn\r\n", "MN\r\n")
}

// stats returns memcached's general statistics.
func (m *memcached) stats(t *testing.T) map[string]uint64 {
	t.Helper()
	out := map[string]uint64{}
	for line := range bytes.SplitSeq(m.readUntil(t, "stats\r\n", "END\r\n"), []byte("\r\n")) {
		f := bytes.Fields(line)
		if len(f) == 3 && string(f[0]) == "STAT" {
			if v, err := strconv.ParseUint(string(f[2]), 10, 64); err == nil {
				out[string(f[1])] = v
			}
		}
	}
	return out
}

func (m *memcached) readUntil(t *testing.T, send, end string) []byte {
	t.Helper()
	m.conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := m.conn.Write([]byte(send)); err != nil {
		t.Fatal(err)
	}
	m.buf = m.buf[:0]
	chunk := make([]byte, 64<<10)
	for !bytes.HasSuffix(m.buf, []byte(end)) {
		n, err := m.conn.Read(chunk)
		m.buf = append(m.buf, chunk[:n]...)
		if err != nil {
			t.Fatalf("reading reply to %.60q: %v (got %.200q)", send, err, m.buf)
		}
	}
	return m.buf[:len(m.buf)-len(end)]
}
