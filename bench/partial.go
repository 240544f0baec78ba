package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"
)

// userHZ is the unit of the CPU times in /proc/PID/stat: USER_HZ, 100 on
// every Linux architecture.
const userHZ = 100

// ReadCPU returns the CPU time, user plus system, that process pid has
// used so far, from /proc/PID/stat (to 10ms).
func ReadCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// "pid (comm) state ...": comm may hold spaces and parentheses, so
	// count from the last ')'. utime and stime are fields 14 and 15.
	i := bytes.LastIndexByte(data, ')')
	f := bytes.Fields(data[i+1:])
	if i < 0 || len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	utime, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	stime, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return time.Duration(utime+stime) * time.Second / userHZ, nil
}

// ChunkedResult is what SendChunked measured.
type ChunkedResult struct {
	Target string        `json:"target"`
	Addr   string        `json:"addr"`
	PID    int           `json:"pid"`
	Sets   int           `json:"sets"`
	Size   int           `json:"size"`   // value bytes
	Chunk  int           `json:"chunk"`  // bytes per write
	Gap    time.Duration `json:"gap_ns"` // pause between writes
	// CPU is the server's CPU time (user + system) over all the sets.
	CPU  time.Duration `json:"cpu_ns"`
	Wall time.Duration `json:"wall_ns"`
}

// SendChunked sends sets sets of a size-byte value to t on one connection,
// each in writes of chunk bytes with a pause of gap between them (0: none),
// as a client on a slow link does, and waits for STORED after each. It
// measures the CPU time process pid used meanwhile.
func SendChunked(ctx context.Context, t Target, pid, sets, size, chunk int, gap time.Duration) (*ChunkedResult, error) {
	res := &ChunkedResult{Target: t.Name, Addr: t.Addr, PID: pid, Sets: sets, Size: size, Chunk: chunk, Gap: gap}
	c, err := dial(ctx, &net.Dialer{Timeout: 5 * time.Second}, t.Addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	req := setRequest("fae-bench:chunked", size, size+2)
	r := bufio.NewReader(c)
	cpu0, err := ReadCPU(pid)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	for range sets {
		if err := writeChunks(ctx, c, req, chunk, gap); err != nil {
			return nil, err
		}
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		if line != "STORED\r\n" {
			return nil, fmt.Errorf("%s: set of %d bytes answered %q", t.Name, size, line)
		}
	}
	res.Wall = time.Since(start)
	cpu1, err := ReadCPU(pid)
	if err != nil {
		return nil, err
	}
	res.CPU = cpu1 - cpu0
	return res, nil
}

// setRequest returns "set key 0 0 size\r\n" and the first n bytes of the
// data block that follows (n <= size+2).
func setRequest(key string, size, n int) []byte {
	req := fmt.Appendf(nil, "set %s 0 0 %d\r\n", key, size)
	req = append(req, bytes.Repeat([]byte{'v'}, size)...)
	req = append(req, "\r\n"...)
	return req[:len(req)-(size+2-n)]
}

// writeChunks writes b to c in writes of chunk bytes, pausing gap between
// them.
func writeChunks(ctx context.Context, c net.Conn, b []byte, chunk int, gap time.Duration) error {
	for i := 0; i < len(b); i += chunk {
		if gap > 0 && i > 0 {
			if err := wait(ctx, gap); err != nil {
				return err
			}
		}
		if _, err := c.Write(b[i:min(i+chunk, len(b))]); err != nil {
			return err
		}
	}
	return nil
}

// PartialResult is what HoldPartial measured.
type PartialResult struct {
	Target string `json:"target"`
	Addr   string `json:"addr"`
	PID    int    `json:"pid"`
	Conns  int    `json:"conns"`  // asked for
	Opened int    `json:"opened"` // that connected and sent their part
	Size   int    `json:"size"`   // value bytes of each set
	Chunk  int    `json:"chunk"`  // bytes per write
	// Sent is the bytes all connections sent: each a whole set but the
	// last byte of its data block.
	Sent int64 `json:"sent"`
	// Refused counts connections answered before their value was whole
	// (faed past max_partial: "SERVER_ERROR out of memory storing
	// object"); FirstReply is one such answer.
	Refused    int    `json:"refused"`
	FirstReply string `json:"first_reply,omitempty"`
	// RSS of the server, in KiB: before, with every connection holding
	// its part (after settling), and after closing them and settling.
	RSSBeforeKiB int64 `json:"rss_before_kib"`
	RSSHeldKiB   int64 `json:"rss_held_kib"`
	RSSClosedKiB int64 `json:"rss_closed_kib"`
	// CPU is the server's CPU time from the first connection until the
	// RSS with every part held was read.
	CPU time.Duration `json:"cpu_ns"`
	// Probes are "version" round trips on another connection, one every
	// 10ms while the others sent and until they settled; ProbeHeld is one
	// on a new connection once they had.
	Probes      int           `json:"probes"`
	ProbeMedian time.Duration `json:"probe_median_ns"`
	ProbeMax    time.Duration `json:"probe_max_ns"`
	ProbeHeld   time.Duration `json:"probe_held_ns"`
	FirstError  string        `json:"first_error,omitempty"`
}

// probeEvery is the pause between two probes of HoldPartial.
const probeEvery = 10 * time.Millisecond

// HoldPartial opens conns connections to t (32 at a time), each of which
// sends a set of a size-byte value but for the last byte of its data
// block, in writes of chunk bytes, and then holds it unfinished, as slow
// clients do. Meanwhile another connection times a "version" round trip
// every 10ms. Once the server has read all they sent (its bytes_read
// stat), it waits settle, times one more "version" and reads the RSS of
// process pid, counts the connections that were answered (a server that
// refuses a value answers at once), closes them and reads RSS again after
// settle. Every goroutine it starts has stopped when it returns.
func HoldPartial(ctx context.Context, t Target, pid, conns, size, chunk int, settle time.Duration) (*PartialResult, error) {
	res := &PartialResult{Target: t.Name, Addr: t.Addr, PID: pid, Conns: conns, Size: size, Chunk: chunk}
	var err error
	if res.RSSBeforeKiB, err = ReadRSS(pid); err != nil {
		return nil, err
	}
	cpu0, err := ReadCPU(pid)
	if err != nil {
		return nil, err
	}
	st0, err := ReadStats(ctx, t.Addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	pctx, stopProbe := context.WithCancel(ctx)
	defer stopProbe()
	probec := make(chan probeResult, 1)
	go func() { probec <- probe(pctx, t.Addr, 0) }()

	part := setRequest("fae-bench:partial", size, size+1)
	cs, firstErr := openConns(ctx, conns, func(ctx context.Context) (net.Conn, error) { return sendPart(ctx, t.Addr, part, chunk) })
	defer closeConns(cs)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, c := range cs {
		if c != nil {
			res.Opened++
			res.Sent += int64(len(part))
		}
	}
	// The writes are done once the bytes are in the kernel's buffers:
	// wait until the server has read them.
	if err := readAll(ctx, t.Addr, st0.BytesRead+uint64(res.Sent)); err != nil {
		firstErr = firstOf(firstErr, err)
	}
	if firstErr != nil {
		res.FirstError = firstErr.Error()
	}
	if err := wait(ctx, settle); err != nil {
		return nil, err
	}
	stopProbe()
	if res.RSSHeldKiB, err = ReadRSS(pid); err != nil {
		return nil, err
	}
	cpu1, err := ReadCPU(pid)
	if err != nil {
		return nil, err
	}
	res.CPU = cpu1 - cpu0
	pr := <-probec
	if pr.err != nil && res.FirstError == "" {
		res.FirstError = "probe: " + pr.err.Error()
	}
	res.Probes = len(pr.rtts)
	if len(pr.rtts) > 0 {
		slices.Sort(pr.rtts)
		res.ProbeMedian, res.ProbeMax = pr.rtts[len(pr.rtts)/2], pr.rtts[len(pr.rtts)-1]
	}
	held := probe(ctx, t.Addr, 1)
	if held.err != nil && res.FirstError == "" {
		res.FirstError = "probe: " + held.err.Error()
	}
	if len(held.rtts) > 0 {
		res.ProbeHeld = held.rtts[0]
	}
	res.Refused, res.FirstReply = answered(cs)
	for i, c := range cs {
		if c != nil {
			c.Close()
			cs[i] = nil
		}
	}
	if err := wait(ctx, settle); err != nil {
		return nil, err
	}
	if res.RSSClosedKiB, err = ReadRSS(pid); err != nil {
		return nil, err
	}
	return res, nil
}

// firstOf returns the first error of a and b that is not nil.
func firstOf(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// readAll waits until the server at addr has read n bytes in all (its
// bytes_read stat), for at most two minutes.
func readAll(ctx context.Context, addr string, n uint64) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		st, err := ReadStats(ctx, addr, 5*time.Second)
		if err != nil {
			return err
		}
		if st.BytesRead >= n {
			return nil
		}
		if err := wait(ctx, 20*time.Millisecond); err != nil {
			return fmt.Errorf("the server read %d of %d bytes: %w", st.BytesRead, n, err)
		}
	}
}

// sendPart dials addr and writes part in writes of chunk bytes.
func sendPart(ctx context.Context, addr string, part []byte, chunk int) (net.Conn, error) {
	c, err := dial(ctx, &net.Dialer{Timeout: 5 * time.Second}, addr)
	if err != nil {
		return nil, err
	}
	c.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if err := writeChunks(ctx, c, part, chunk, 0); err != nil {
		c.Close()
		return nil, err
	}
	return c, c.SetWriteDeadline(time.Time{})
}

// answered counts the connections of cs (nil: none) that have something
// to read within 200ms, and returns the first line of one of them.
func answered(cs []net.Conn) (n int, first string) {
	var (
		wg sync.WaitGroup
		mu sync.Mutex
	)
	deadline := time.Now().Add(200 * time.Millisecond)
	for _, c := range cs {
		if c == nil {
			continue
		}
		wg.Go(func() {
			c.SetReadDeadline(deadline)
			line, err := bufio.NewReaderSize(c, 256).ReadSlice('\n')
			if len(line) == 0 && err != nil {
				return
			}
			mu.Lock()
			n++
			if first == "" {
				first = string(bytes.TrimSpace(line))
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	return n, first
}

// probeResult is what probe measured: one round trip per probe.
type probeResult struct {
	rtts []time.Duration
	err  error
}

// probe sends "version" to addr every probeEvery until ctx is done or it
// has sent n (0: no limit), and times each answer.
func probe(ctx context.Context, addr string, n int) probeResult {
	var pr probeResult
	c, err := dial(ctx, &net.Dialer{Timeout: 5 * time.Second}, addr)
	if err != nil {
		pr.err = err
		return pr
	}
	defer c.Close()
	r := bufio.NewReaderSize(c, 256)
	for ctx.Err() == nil {
		c.SetDeadline(time.Now().Add(30 * time.Second))
		start := time.Now()
		if _, err := c.Write([]byte("version\r\n")); err != nil {
			pr.err = err
			return pr
		}
		line, err := r.ReadSlice('\n')
		if err != nil {
			pr.err = err
			return pr
		}
		if !bytes.HasPrefix(line, []byte("VERSION ")) {
			pr.err = fmt.Errorf("version answered %q", line)
			return pr
		}
		pr.rtts = append(pr.rtts, time.Since(start))
		if len(pr.rtts) == n || wait(ctx, probeEvery) != nil {
			break
		}
	}
	return pr
}
