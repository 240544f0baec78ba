package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/fae-sidecar/fae/bench"
	"github.com/fae-sidecar/fae/bench/lagrelay"
)

// relayReport is what fae-bench relay says when it stops (--json).
type relayReport struct {
	Addr      string         `json:"addr"`
	Upstream  string         `json:"upstream"`
	Delay     time.Duration  `json:"delay_ns"`
	Handshake bool           `json:"handshake"`
	CPU       time.Duration  `json:"cpu_ns"` // the relay's own, from its start
	Stats     lagrelay.Stats `json:"stats"`
}

// runRelay runs a lag relay until SIGINT or SIGTERM, then prints its
// counters and its own CPU time per chunk.
func runRelay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fae-bench relay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := lagrelay.Config{}
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:0", "`host:port` to accept on")
	fs.StringVar(&cfg.Upstream, "upstream", "", "`host:port` every connection is relayed to")
	fs.DurationVar(&cfg.Delay, "delay", 100*time.Microsecond, "one-way delay: each chunk is held this long, in both directions")
	fs.BoolVar(&cfg.Handshake, "handshake", true, "hold a connection's first client bytes until 3 delays after its accept, the round trip TCP's handshake takes over a real hop")
	fs.IntVar(&cfg.MaxQueued, "max-queued", lagrelay.DefaultMaxQueued, "`bytes` held per direction of a connection before the relay stops reading its source")
	jsonOut := fs.String("json", "", "write the counters, when stopped, as JSON to `file`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.Upstream == "" {
		return errors.New("relay: give --upstream host:port")
	}
	r, err := lagrelay.Listen(cfg)
	if err != nil {
		return err
	}
	cpu0, err := bench.ReadCPU(os.Getpid())
	if err != nil {
		r.Close()
		return err
	}
	fmt.Fprintf(stderr, "relay: %s -> %s, %v each way, handshake %v\n", r.Addr(), cfg.Upstream, cfg.Delay, cfg.Handshake)
	if err := r.Serve(ctx); !errors.Is(err, context.Canceled) {
		return err
	}
	cpu1, err := bench.ReadCPU(os.Getpid())
	if err != nil {
		return err
	}
	rep := relayReport{Addr: r.Addr(), Upstream: cfg.Upstream, Delay: cfg.Delay, Handshake: cfg.Handshake, CPU: cpu1 - cpu0, Stats: r.Stats()}
	fmt.Fprintln(stdout, describeRelay(&rep))
	if *jsonOut != "" {
		return writeJSON(*jsonOut, &rep)
	}
	return nil
}

// describeRelay says in one line what the relay did and what it cost.
func describeRelay(r *relayReport) string {
	st := &r.Stats
	perChunk := 0.0
	if st.Chunks > 0 {
		perChunk = float64(r.CPU.Microseconds()) / float64(st.Chunks)
	}
	return fmt.Sprintf("relay %s -> %s, %v each way (handshake %v): %d connections (%d refused), %d chunks, %.1f MiB; "+
		"held mean %v (min %v, max %v); written past due: p50 < %v, p99 < %v, p99.9 < %v; "+
		"its own CPU %.2fs: %.1f µs per chunk",
		r.Addr, r.Upstream, r.Delay, r.Handshake, st.Accepted, st.Refused, st.Chunks, float64(st.Bytes)/(1<<20),
		st.HoldMean().Round(time.Microsecond), st.HoldMin.Round(time.Microsecond), st.HoldMax.Round(time.Microsecond),
		st.LateQuantile(0.5), st.LateQuantile(0.99), st.LateQuantile(0.999), r.CPU.Seconds(), perChunk)
}
