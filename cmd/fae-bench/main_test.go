package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/bench"
	"github.com/fae-sidecar/fae/internal/testproc"
)

// TestRunPlotOverview drives the CLI as compare.sh does: a scenario with
// flags overriding it, then plot and overview of its JSON.
func TestRunPlotOverview(t *testing.T) {
	addr := testproc.StartMemcached(t)
	dir := t.TempDir()
	js := filepath.Join(dir, "s1.json")
	md := filepath.Join(dir, "s1.md")
	var out, log bytes.Buffer
	args := []string{"run", "--scenarios", "../../bench/scenarios.yaml", "--scenario", "S3",
		"--target", "a=" + addr, "--target", "b=" + addr, "--count-upstream", addr,
		"--conns", "2", "--keys", "200", "--requests", "300", "--warmup", "0", "--rounds", "2",
		"--per-conn", "7", "--pid", "self=" + strconv.Itoa(os.Getpid()),
		"--json", js, "--markdown", md}
	if err := run(context.Background(), args, &out, &log); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	data, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var rep bench.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	w := rep.Workload
	// Flags given win; the rest is S3's.
	if w.Conns != 2 || w.Keys != 200 || w.Requests != 300 || w.PerConn != 7 || w.MultiGet != 50 || w.Pipeline != 1 {
		t.Errorf("workload %+v: want conns 2, keys 200, 300 requests, 7 per conn from flags, multiget 50 from S3", w)
	}
	if p := rep.Results[0].Procs; len(p) != 1 || p[0].Name != "self" || p[0].PID != os.Getpid() || rep.Results[0].Dials == 0 {
		t.Errorf("procs %+v, dials %d: want this process measured, connections dialled", p, rep.Results[0].Dials)
	}
	if len(rep.Results) != 4 || rep.Results[0].Requests != 300 || rep.Results[0].Errors != 0 {
		t.Errorf("results: %d, first %+v", len(rep.Results), rep.Results[0])
	}
	table, err := os.ReadFile(md)
	if err != nil || !strings.Contains(out.String(), string(table)) || !strings.Contains(string(table), "| a ") {
		t.Errorf("markdown file %q (%v) is not the table printed:\n%s", table, err, out.String())
	}

	png := filepath.Join(dir, "s1.png")
	if err := run(context.Background(), []string{"plot", "--json", js, "--out", png}, &out, &log); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(png); err != nil || st.Size() == 0 {
		t.Errorf("plot: %v", err)
	}
	out.Reset()
	if err := run(context.Background(), []string{"overview", js, js}, &out, &log); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "\n| S3 "); n != 2 {
		t.Errorf("overview has %d S3 rows, want 2:\n%s", n, out.String())
	}
}

func TestBadArguments(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "unknown command", args: []string{"frobnicate"}, want: "unknown command"},
		{name: "no target", args: []string{"run", "--duration", "1ms"}, want: "target"},
		{name: "bad target", args: []string{"run", "--target", "nohostport"}, want: "name=host:port"},
		{name: "same name twice", args: []string{"run", "--target", "a=127.0.0.1:1", "--target", "a=127.0.0.1:2"}, want: "twice"},
		{name: "unknown scenario", args: []string{"run", "--scenarios", "../../bench/scenarios.yaml", "--scenario", "S99", "--target", "a=127.0.0.1:1"}, want: "S1, S2"},
		{name: "bad workload", args: []string{"run", "--target", "a=127.0.0.1:1", "--zipf", "1"}, want: "zipf"},
		{name: "idle without pid", args: []string{"idle", "--target", "a=127.0.0.1:1"}, want: "pid"},
		{name: "plot without files", args: []string{"plot"}, want: "--json and --out"},
		{name: "negative per-conn", args: []string{"run", "--target", "a=127.0.0.1:1", "--per-conn", "-1"}, want: "per-conn"},
		{name: "bad pid", args: []string{"run", "--target", "a=127.0.0.1:1", "--pid", "a"}, want: "name=PID"},
		{name: "relay without upstream", args: []string{"relay"}, want: "--upstream"},
		{name: "bad ratio", args: []string{"overview", "--ratio", "faed"}, want: "a/b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, log bytes.Buffer
			err := run(context.Background(), tt.args, &out, &log)
			if err == nil || !strings.Contains(err.Error()+log.String(), tt.want) {
				t.Errorf("err = %v (log %q), want one mentioning %q", err, log.String(), tt.want)
			}
		})
	}
}

func TestScenariosList(t *testing.T) {
	var out, log bytes.Buffer
	if err := run(context.Background(), []string{"scenarios", "--scenarios", "../../bench/scenarios.yaml"}, &out, &log); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 10 || !strings.HasPrefix(lines[3], "S4\tbench/faed-l1.yaml\t-\t-\t-\t") || !strings.HasPrefix(lines[0], "S1\t-\t-\t-\t-\t") ||
		!strings.HasPrefix(lines[5], "S6\t-\tbench/faed-l1.yaml\t100µs\t-\t") || !strings.HasPrefix(lines[9], "S10\t-\t-\t-\tunix\t") {
		t.Errorf("scenarios:\n%s", out.String())
	}
}

// TestRelayCommand runs fae-bench relay in front of memcached until its
// context ends, as compare.sh does until SIGTERM, and reads its summary.
func TestRelayCommand(t *testing.T) {
	mc := testproc.StartMemcached(t)
	listen := testproc.FreePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, log bytes.Buffer
	js := filepath.Join(t.TempDir(), "relay.json")
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"relay", "--listen", listen, "--upstream", mc, "--delay", "1ms", "--json", js}, &out, &log)
	}()
	if err := testproc.WaitPort(ctx, listen); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("version\r\n")); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "VERSION ") {
		t.Fatalf("version through the relay: %q, %v", line, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if !strings.Contains(out.String(), "1ms each way") || !strings.Contains(out.String(), "µs per chunk") {
		t.Errorf("summary %q", out.String())
	}
	data, err := os.ReadFile(js)
	if err != nil || !bytes.Contains(data, []byte(`"chunks"`)) {
		t.Errorf("json %s: %v", data, err)
	}
}
