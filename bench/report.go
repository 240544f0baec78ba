package bench

import (
	"io"
	"slices"
	"strconv"
	"strings"
)

// Summary is one target's figures over all its rounds: the median of each
// per-round figure, and sums of the counts.
type Summary struct {
	Target      string  `json:"target"`
	Rounds      int     `json:"rounds"`
	ReqPerSec   float64 `json:"req_per_s"`
	KeysPerSec  float64 `json:"keys_per_s"`
	Latency     Latency `json:"latency"`
	Counts      Counts  `json:"counts"` // summed over rounds
	HitRatio    float64 `json:"hit_ratio"`
	ErrorSample string  `json:"error_sample,omitempty"`
	// ThroughputRatio is ReqPerSec over the first target's; P99Ratio the
	// same for p99 latency (below 1 is better).
	ThroughputRatio float64 `json:"throughput_ratio"`
	P99Ratio        float64 `json:"p99_ratio"`
	// UpstreamPerClientGet is the median of the rounds' Upstream.PerClientGet,
	// or -1 when upstream gets were not counted.
	UpstreamPerClientGet float64 `json:"upstream_per_client_get"`
	// Percentiles is the median of the rounds' latency distributions,
	// point by point.
	Percentiles []Point `json:"percentiles"`
}

// Summarize computes each target's Summary from results, in target order.
func Summarize(targets []Target, results []*Result) []Summary {
	sums := make([]Summary, 0, len(targets))
	for _, t := range targets {
		s := Summary{Target: t.Name, UpstreamPerClientGet: -1}
		var rps, kps, p50, p90, p99, p999, mx, up []float64
		var pts [][]float64
		for _, r := range results {
			if r.Target != t.Name {
				continue
			}
			s.Rounds++
			s.Counts.add(r.Counts)
			if s.ErrorSample == "" {
				s.ErrorSample = r.ErrorSample
			}
			rps, kps = append(rps, r.ReqPerSec), append(kps, r.KeysPerSec)
			p50, p90, p99 = append(p50, r.Latency.P50), append(p90, r.Latency.P90), append(p99, r.Latency.P99)
			p999, mx = append(p999, r.Latency.P999), append(mx, r.Latency.Max)
			if r.Upstream != nil {
				up = append(up, r.Upstream.PerClientGet)
			}
			for i, p := range r.Percentiles {
				if i == len(pts) {
					pts = append(pts, nil)
				}
				pts[i] = append(pts[i], p.Micros)
			}
		}
		if s.Rounds == 0 {
			sums = append(sums, s)
			continue
		}
		s.ReqPerSec, s.KeysPerSec = median(rps), median(kps)
		s.Latency = Latency{P50: median(p50), P90: median(p90), P99: median(p99), P999: median(p999), Max: median(mx)}
		if s.Counts.GetKeys > 0 {
			s.HitRatio = float64(s.Counts.Hits) / float64(s.Counts.GetKeys)
		}
		if len(up) > 0 {
			s.UpstreamPerClientGet = median(up)
		}
		first := firstResult(results, t.Name)
		for i, v := range pts {
			if i < len(first.Percentiles) {
				s.Percentiles = append(s.Percentiles, Point{Percentile: first.Percentiles[i].Percentile, Micros: median(v)})
			}
		}
		sums = append(sums, s)
	}
	if len(sums) > 0 {
		base := sums[0]
		for i := range sums {
			sums[i].ThroughputRatio = ratio(sums[i].ReqPerSec, base.ReqPerSec)
			sums[i].P99Ratio = ratio(sums[i].Latency.P99, base.Latency.P99)
		}
	}
	return sums
}

func firstResult(results []*Result, target string) *Result {
	for _, r := range results {
		if r.Target == target {
			return r
		}
	}
	return nil
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// median returns the median of v (the mean of the middle two for an even
// count), leaving v unchanged.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// micros formats a latency in microseconds with 3 significant digits or
// as a whole number.
func micros(us float64) string {
	switch {
	case us < 10:
		return strconv.FormatFloat(us, 'f', 2, 64)
	case us < 100:
		return strconv.FormatFloat(us, 'f', 1, 64)
	}
	return strconv.FormatFloat(us, 'f', 0, 64)
}

// WriteTable writes sums as a Markdown table, columns padded so it also
// reads as plain text. The ratio columns compare with the first target;
// the upstream column appears when any target counted upstream gets.
func WriteTable(w io.Writer, sums []Summary) error {
	header := []string{"target", "req/s", "keys/s", "p50 µs", "p90 µs", "p99 µs", "p99.9 µs", "max µs",
		"hit %", "errors", "req/s ratio", "p99 ratio"}
	withUp := slices.ContainsFunc(sums, func(s Summary) bool { return s.UpstreamPerClientGet >= 0 })
	if withUp {
		header = append(header, "upstream gets/client get")
	}
	rows := [][]string{header}
	for _, s := range sums {
		row := []string{
			s.Target,
			strconv.FormatFloat(s.ReqPerSec, 'f', 0, 64),
			strconv.FormatFloat(s.KeysPerSec, 'f', 0, 64),
			micros(s.Latency.P50), micros(s.Latency.P90), micros(s.Latency.P99),
			micros(s.Latency.P999), micros(s.Latency.Max),
			strconv.FormatFloat(100*s.HitRatio, 'f', 1, 64),
			strconv.FormatInt(s.Counts.Errors, 10),
			strconv.FormatFloat(s.ThroughputRatio, 'f', 2, 64) + "x",
			strconv.FormatFloat(s.P99Ratio, 'f', 2, 64) + "x",
		}
		if withUp {
			up := "-"
			if s.UpstreamPerClientGet >= 0 {
				up = strconv.FormatFloat(s.UpstreamPerClientGet, 'f', 3, 64)
			}
			row = append(row, up)
		}
		rows = append(rows, row)
	}
	return writeRows(w, rows)
}

// writeRows writes rows (the first is the header) as a Markdown table,
// padded: the first column left-aligned, the others right-aligned.
func writeRows(w io.Writer, rows [][]string) error {
	widths := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, c := range row {
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	var b strings.Builder
	line := func(cells []string) {
		b.WriteString("|")
		for i, c := range cells {
			pad := strings.Repeat(" ", widths[i]-len([]rune(c)))
			if i == 0 {
				b.WriteString(" " + c + pad + " |")
			} else {
				b.WriteString(" " + pad + c + " |")
			}
		}
		b.WriteString("\n")
	}
	line(rows[0])
	sep := make([]string, len(widths))
	for i := range sep {
		sep[i] = strings.Repeat("-", widths[i]-1) + ":"
		if i == 0 {
			sep[i] = strings.Repeat("-", widths[i])
		}
	}
	line(sep)
	for _, row := range rows[1:] {
		line(row)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteOverview writes one row per report (scenario): each target's
// median req/s and p99, the first target's ratios to the second (req/s
// first/second: above 1 means the first is faster; p99 first/second:
// below 1 means the first is quicker), the errors of all targets, and
// the first target's upstream gets per client get when counted. The
// targets are taken from the first report, by name.
func WriteOverview(w io.Writer, reports []*Report) error {
	if len(reports) == 0 {
		return nil
	}
	names := make([]string, 0, len(reports[0].Targets))
	for _, t := range reports[0].Targets {
		names = append(names, t.Name)
	}
	header := []string{"scenario"}
	for _, n := range names {
		header = append(header, n+" req/s")
	}
	for _, n := range names {
		header = append(header, n+" p99 µs")
	}
	if len(names) > 1 {
		header = append(header, names[0]+"/"+names[1]+" req/s", names[0]+"/"+names[1]+" p99")
	}
	header = append(header, "errors", names[0]+" upstream gets/client get")
	rows := [][]string{header}
	for _, rep := range reports {
		by := make(map[string]Summary, len(rep.Summary))
		var errs int64
		for _, s := range rep.Summary {
			by[s.Target] = s
			errs += s.Counts.Errors
		}
		row := []string{rep.Scenario}
		for _, n := range names {
			row = append(row, strconv.FormatFloat(by[n].ReqPerSec, 'f', 0, 64))
		}
		for _, n := range names {
			row = append(row, micros(by[n].Latency.P99))
		}
		if len(names) > 1 {
			a, b := by[names[0]], by[names[1]]
			row = append(row,
				strconv.FormatFloat(ratio(a.ReqPerSec, b.ReqPerSec), 'f', 2, 64)+"x",
				strconv.FormatFloat(ratio(a.Latency.P99, b.Latency.P99), 'f', 2, 64)+"x")
		}
		up := "-"
		if s, ok := by[names[0]]; ok && s.UpstreamPerClientGet >= 0 {
			up = strconv.FormatFloat(s.UpstreamPerClientGet, 'f', 3, 64)
		}
		row = append(row, strconv.FormatInt(errs, 10), up)
		rows = append(rows, row)
	}
	return writeRows(w, rows)
}
