// Package benchplot draws a fae-bench report's latency distributions as
// an HDR-style percentile plot (PNG, SVG or PDF by file extension): one
// line per target, percentile on a log "nines" axis, latency on a log
// axis. Its one function is [Write].
package benchplot

import (
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/fae-sidecar/fae/bench"
)

// maxNines is where the percentile axis ends: 99.999%.
const maxNines = 5

// nines maps a percentile (0..100) to the x axis: -log10(1 - p/100), so
// 90% is 1, 99% is 2, 99.9% is 3.
func nines(p float64) float64 { return -math.Log10(1 - p/100) }

// Write draws each target's median distribution (Summary.Percentiles) of
// rep to file, whose extension picks the format.
func Write(rep *bench.Report, file string) error {
	p := plot.New()
	p.Title.Text = "latency by percentile"
	if rep.Scenario != "" {
		p.Title.Text = rep.Scenario + ": " + p.Title.Text
	}
	p.Title.Text += fmt.Sprintf(" (median of %d rounds)", rep.Rounds)
	p.X.Label.Text = "percentile"
	p.Y.Label.Text = "latency (µs)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.X.Tick.Marker = plot.ConstantTicks([]plot.Tick{
		{Value: nines(0), Label: "0%"}, {Value: nines(90), Label: "90%"}, {Value: nines(99), Label: "99%"},
		{Value: nines(99.9), Label: "99.9%"}, {Value: nines(99.99), Label: "99.99%"}, {Value: nines(99.999), Label: "99.999%"},
	})
	p.Add(plotter.NewGrid())
	p.Legend.Top = false // lines rise to the right: the bottom right is free
	p.Legend.Left = false
	var lines []any
	for _, s := range rep.Summary {
		var xys plotter.XYs
		for _, pt := range s.Percentiles {
			x := nines(pt.Percentile)
			if x > maxNines || pt.Micros <= 0 {
				continue // 100% is infinitely many nines; log axes need > 0
			}
			xys = append(xys, plotter.XY{X: x, Y: pt.Micros})
		}
		if len(xys) > 0 {
			lines = append(lines, s.Target, xys)
		}
	}
	if len(lines) == 0 {
		return fmt.Errorf("plot: the report has no latency percentiles")
	}
	if err := plotutil.AddLinePoints(p, lines...); err != nil {
		return err
	}
	p.X.Min, p.X.Max = 0, maxNines
	return p.Save(8*vg.Inch, 5*vg.Inch, file)
}
