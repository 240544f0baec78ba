package benchplot

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/fae-sidecar/fae/bench"
)

func TestWritePNG(t *testing.T) {
	rep := &bench.Report{Scenario: "S1", Rounds: 3, Summary: []bench.Summary{
		{Target: "faed", Percentiles: []bench.Point{{Percentile: 0, Micros: 10}, {Percentile: 50, Micros: 40}, {Percentile: 99.9, Micros: 900}, {Percentile: 100, Micros: 5000}}},
		{Target: "memcached", Percentiles: []bench.Point{{Percentile: 0, Micros: 8}, {Percentile: 50, Micros: 30}, {Percentile: 99.9, Micros: 400}, {Percentile: 100, Micros: 2000}}},
	}}
	out := filepath.Join(t.TempDir(), "latency.png")
	if err := Write(rep, out); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("%s is not a PNG (%d bytes)", out, len(data))
	}
}

func TestWriteNoData(t *testing.T) {
	if err := Write(&bench.Report{}, filepath.Join(t.TempDir(), "x.png")); err == nil {
		t.Error("Write of a report without percentiles succeeded")
	}
}
