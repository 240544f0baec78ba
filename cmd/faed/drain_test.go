package main_test

// SIGTERM under load: faed answers every request it read, then closes each
// connection after its last reply. Pipelining text and binary clients keep
// sending sets of fresh keys (values naming their keys) while faed drains;
// afterwards memcached itself must hold exactly the keys whose sets were
// answered: a set with no reply was never run, and none answered is lost.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/internal/testproc"
)

// drainClient pipelines sets of fresh keys on one connection, at most
// window unanswered, until the connection ends.
type drainClient struct {
	name   string
	binary bool
	c      net.Conn

	mu       sync.Mutex
	sent     []string // keys, in the order their sets were written
	answered int      // replies read, each checked against sent
	readErr  error    // how the reply stream ended
	bad      []string // replies that were not STORED for their key
}

const drainWindow = 32

func drainValue(key string) string { return "v-of-" + key }

func (d *drainClient) run(acked *atomic.Int64) {
	window := make(chan struct{}, drainWindow)
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.read(window, acked)
	}()
	w := bufio.NewWriter(d.c)
	for seq := 0; seq < 200000; seq++ {
		select {
		case window <- struct{}{}:
		case <-done:
			return
		}
		key := fmt.Sprintf("drain:%s:%d", d.name, seq)
		d.mu.Lock()
		d.sent = append(d.sent, key)
		d.mu.Unlock()
		if d.binary {
			writeBinarySet(w, key, drainValue(key), uint32(seq))
		} else {
			fmt.Fprintf(w, "set %s 0 0 %d\r\n%s\r\n", key, len(drainValue(key)), drainValue(key))
		}
		// Flush when the window is full or nothing more is due at once,
		// so requests travel in batches as a pipelining client's do.
		if len(window) == drainWindow || seq%7 == 0 {
			if err := w.Flush(); err != nil {
				break
			}
		}
	}
	_ = w.Flush()
	<-done
}

func (d *drainClient) read(window chan struct{}, acked *atomic.Int64) {
	r := bufio.NewReader(d.c)
	for i := 0; ; i++ {
		var got string
		var err error
		if d.binary {
			got, err = readBinarySetReply(r, uint32(i))
		} else {
			got, err = r.ReadString('\n')
		}
		if err != nil {
			d.mu.Lock()
			d.readErr = err
			d.mu.Unlock()
			return
		}
		d.mu.Lock()
		if i >= len(d.sent) {
			d.bad = append(d.bad, fmt.Sprintf("reply %d %q to no request", i, got))
		} else if got != "STORED\r\n" {
			d.bad = append(d.bad, fmt.Sprintf("set %s: %q", d.sent[i], got))
		}
		d.answered++
		d.mu.Unlock()
		acked.Add(1)
		<-window
	}
}

// writeBinarySet writes a binary-protocol set with opaque.
func writeBinarySet(w io.Writer, key, value string, opaque uint32) {
	var h [32]byte
	h[0], h[1] = 0x80, 0x01
	binary.BigEndian.PutUint16(h[2:], uint16(len(key)))
	h[4] = 8
	binary.BigEndian.PutUint32(h[8:], uint32(8+len(key)+len(value)))
	binary.BigEndian.PutUint32(h[12:], opaque)
	// extras (flags, exptime) are h[24:32], zero
	w.Write(h[:])
	io.WriteString(w, key)
	io.WriteString(w, value)
}

// readBinarySetReply reads one response and says "STORED\r\n" for a
// successful set with the expected opaque, else what it was.
func readBinarySetReply(r *bufio.Reader, opaque uint32) (string, error) {
	var h [24]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return "", err
	}
	body := make([]byte, binary.BigEndian.Uint32(h[8:]))
	if _, err := io.ReadFull(r, body); err != nil {
		return "", err
	}
	status, gotOpaque := binary.BigEndian.Uint16(h[6:]), binary.BigEndian.Uint32(h[12:])
	if h[0] != 0x81 || h[1] != 0x01 || status != 0 || gotOpaque != opaque {
		return fmt.Sprintf("magic %#x opcode %#x status %#x opaque %d (want %d) body %q", h[0], h[1], status, gotOpaque, opaque, body), nil
	}
	return "STORED\r\n", nil
}

func TestSIGTERMAnswersEveryRequestRead(t *testing.T) {
	for _, transport := range []string{"loop", "goroutine"} {
		t.Run(transport, func(t *testing.T) { testSIGTERM(t, transport) })
	}
}

func testSIGTERM(t *testing.T, transport string) {
	mc := testproc.StartMemcached(t)
	cfg := filepath.Join(t.TempDir(), "faed.yaml")
	conf := fmt.Sprintf("pools:\n  default: {kind: memcache, servers: [%q], transport: %s}\n", mc, transport)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	faed := testproc.StartFaedProc(t, "-config", cfg)

	var clients []*drainClient
	for i := range 12 {
		c, err := net.Dial("tcp", faed.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients = append(clients, &drainClient{name: fmt.Sprint(i), binary: i%3 == 2, c: c})
	}
	var acked atomic.Int64
	var wg sync.WaitGroup
	for _, d := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.run(&acked)
		}()
	}
	testproc.WaitFor(t, "2000 sets answered before SIGTERM", func() bool { return acked.Load() >= 2000 })
	if err := faed.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := faed.Wait(15 * time.Second); err != nil {
		t.Fatalf("faed after SIGTERM: %v", err)
	}
	wg.Wait()
	if strings.Contains(faed.Output(), "shutdown timeout") {
		t.Errorf("faed hit its shutdown timeout:\n%s", faed.Output())
	}

	m, err := net.Dial("tcp", mc)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	mr := bufio.NewReader(m)
	total, unanswered := 0, 0
	for _, d := range clients {
		for _, b := range d.bad {
			t.Errorf("client %s: %s", d.name, b)
		}
		if !errors.Is(d.readErr, io.EOF) {
			t.Errorf("client %s: replies ended with %v, want EOF after the last reply", d.name, d.readErr)
		}
		in := inMemcached(t, m, mr, d.sent)
		for i, key := range d.sent {
			switch {
			case i < d.answered && !in[key]:
				t.Errorf("client %s: set %s answered STORED but not in memcached", d.name, key)
			case i >= d.answered && in[key]:
				t.Errorf("client %s: set %s was run but never answered", d.name, key)
			}
		}
		total += d.answered
		unanswered += len(d.sent) - d.answered
	}
	t.Logf("%d sets answered, %d sent after the cut and not run", total, unanswered)
}

// inMemcached reports which of keys memcached holds with the value naming
// them; a wrong value fails the test.
func inMemcached(t *testing.T, m net.Conn, r *bufio.Reader, keys []string) map[string]bool {
	t.Helper()
	in := map[string]bool{}
	for len(keys) > 0 {
		batch := keys[:min(100, len(keys))]
		keys = keys[len(batch):]
		if _, err := fmt.Fprintf(m, "get %s\r\n", strings.Join(batch, " ")); err != nil {
			t.Fatal(err)
		}
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if line == "END\r\n" {
				break
			}
			var key string
			var flags, n int
			if _, err := fmt.Sscanf(line, "VALUE %s %d %d", &key, &flags, &n); err != nil {
				t.Fatalf("memcached: %q", line)
			}
			data := make([]byte, n+2)
			if _, err := io.ReadFull(r, data); err != nil {
				t.Fatal(err)
			}
			if string(data[:n]) != drainValue(key) {
				t.Errorf("memcached holds %q for %s", data[:n], key)
			}
			in[key] = true
		}
	}
	return in
}
