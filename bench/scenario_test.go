package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStandardScenarios pins bench/scenarios.yaml to the scenarios the
// project's speed goals are stated in.
func TestStandardScenarios(t *testing.T) {
	all, err := LoadScenarios("scenarios.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ScenarioNames(all), " "); got != "S1 S2 S3 S4 S5 S6 S7 S8 S9 S10" {
		t.Fatalf("scenarios %q, want S1 to S10", got)
	}
	hundred := ValueSize{Min: 100, Max: 100}
	tests := []struct {
		name       string
		conns      int
		pipeline   int
		multiget   int
		keys       int
		zipf       float64
		getRatio   float64
		faedConfig string
		l1Config   string
		delay      time.Duration
		perConn    int
		unix       bool
	}{
		{name: "S1", conns: 50, pipeline: 1, multiget: 1, keys: 10000, getRatio: 0.9},
		{name: "S2", conns: 50, pipeline: 16, multiget: 1, keys: 10000, getRatio: 0.9},
		{name: "S3", conns: 50, pipeline: 1, multiget: 50, keys: 10000, getRatio: 0.9},
		{name: "S4", conns: 50, pipeline: 1, multiget: 1, keys: 100000, zipf: 0.99, getRatio: 0.9, faedConfig: "bench/faed-l1.yaml"},
		{name: "S5", conns: 200, pipeline: 1, multiget: 1, keys: 1, getRatio: 1},
		{name: "S6", conns: 50, pipeline: 1, multiget: 1, keys: 100000, zipf: 1.1, getRatio: 0.9,
			l1Config: "bench/faed-l1.yaml", delay: 100 * time.Microsecond},
		{name: "S7", conns: 50, pipeline: 1, multiget: 1, keys: 100000, zipf: 1.1, getRatio: 0.9,
			l1Config: "bench/faed-l1.yaml", delay: 100 * time.Microsecond, perConn: 5},
		{name: "S8", conns: 50, pipeline: 1, multiget: 1, keys: 10000, getRatio: 0.9, perConn: 5},
		{name: "S9", conns: 50, pipeline: 1, multiget: 1, keys: 10000, getRatio: 0.9, unix: true},
		{name: "S10", conns: 50, pipeline: 1, multiget: 1, keys: 10000, getRatio: 0.9, perConn: 5, unix: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := all[tt.name]
			w := s.Workload
			if w.Conns != tt.conns || w.Pipeline != tt.pipeline || w.MultiGet != tt.multiget || w.Keys != tt.keys ||
				w.Zipf != tt.zipf || w.GetRatio != tt.getRatio || w.ValueSize != hundred || !w.Prefill {
				t.Errorf("workload %+v", w)
			}
			if s.FaedConfig != tt.faedConfig || s.FaedL1Config != tt.l1Config {
				t.Errorf("faed_config %q, faed_l1_config %q; want %q, %q", s.FaedConfig, s.FaedL1Config, tt.faedConfig, tt.l1Config)
			}
			if s.UpstreamDelay != tt.delay || w.PerConn != tt.perConn || s.Unix != tt.unix {
				t.Errorf("upstream_delay %v, per_conn %d, unix %v; want %v, %d, %v", s.UpstreamDelay, w.PerConn, s.Unix, tt.delay, tt.perConn, tt.unix)
			}
			if w.Duration != 5*time.Second || w.Warmup != time.Second {
				t.Errorf("duration %v warmup %v, want 5s and 1s", w.Duration, w.Warmup)
			}
			for _, c := range []string{s.FaedConfig, s.FaedL1Config} {
				if c == "" {
					continue
				}
				if _, err := os.Stat(filepath.Join("..", c)); err != nil {
					t.Errorf("faed config: %v", err)
				}
			}
		})
	}
}

func TestLoadScenariosDefaults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.yaml")
	if err := os.WriteFile(path, []byte("scenarios:\n  small:\n    conns: 3\n    value_size: 10-20\n  fixed:\n    value_size: 7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	all, err := LoadScenarios(path)
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultWorkload()
	want.Conns, want.ValueSize = 3, ValueSize{Min: 10, Max: 20}
	if got := all["small"].Workload; got != want {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if got := all["fixed"].ValueSize; got != (ValueSize{Min: 7, Max: 7}) {
		t.Errorf("value_size: 7 read as %+v", got)
	}
}

func TestLoadScenariosInvalid(t *testing.T) {
	tests := []struct {
		file string
		want string // in the error
	}{
		{file: "unknown-field.yaml", want: "pipelines"},
		{file: "bad-value-size.yaml", want: "value size"},
		{file: "zipf-one.yaml", want: "zipf"},
		{file: "bad-duration.yaml", want: "duration"},
		{file: "zero-conns.yaml", want: "conns"},
		{file: "negative-upstream-delay.yaml", want: "upstream_delay"},
		{file: "negative-per-conn.yaml", want: "per-conn"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := LoadScenarios(filepath.Join("testdata", "invalid", tt.file))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "scenarios.X") {
				t.Errorf("err = %v, want one naming scenarios.X and %q", err, tt.want)
			}
		})
	}
}
