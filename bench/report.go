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
	// Procs is the median over rounds of each measured process's use per
	// request, in the order of the rounds' Procs.
	Procs []ProcSummary `json:"procs,omitempty"`
}

// ProcSummary is one process's median use per request over a target's
// rounds.
type ProcSummary struct {
	Name         string  `json:"name"`
	CPUPerReq    float64 `json:"cpu_us_per_req"`
	ReadsPerReq  float64 `json:"reads_per_req"`
	WritesPerReq float64 `json:"writes_per_req"`
}

// summarizeProcs takes the median of each process's per-request figures
// over rounds.
func summarizeProcs(rounds [][]ProcUse) []ProcSummary {
	if len(rounds) == 0 {
		return nil
	}
	var out []ProcSummary
	for i, p := range rounds[0] {
		var cpu, rd, wr []float64
		for _, r := range rounds {
			if i < len(r) && r[i].Name == p.Name {
				cpu, rd, wr = append(cpu, r[i].CPUPerReq), append(rd, r[i].ReadsPerReq), append(wr, r[i].WritesPerReq)
			}
		}
		out = append(out, ProcSummary{Name: p.Name, CPUPerReq: median(cpu), ReadsPerReq: median(rd), WritesPerReq: median(wr)})
	}
	return out
}

// proc returns the summary of the process named name, if measured.
func (s *Summary) proc(name string) (ProcSummary, bool) {
	for _, p := range s.Procs {
		if p.Name == name {
			return p, true
		}
	}
	return ProcSummary{}, false
}

// Summarize computes each target's Summary from results, in target order.
func Summarize(targets []Target, results []*Result) []Summary {
	sums := make([]Summary, 0, len(targets))
	for _, t := range targets {
		s := Summary{Target: t.Name, UpstreamPerClientGet: -1}
		var rps, kps, p50, p90, p99, p999, mx, up []float64
		var pts [][]float64
		var procs [][]ProcUse
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
			if len(r.Procs) > 0 {
				procs = append(procs, r.Procs)
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
		s.Procs = summarizeProcs(procs)
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
// the upstream column appears when any target counted upstream gets; the
// process columns when processes were measured: the target's own (the
// process named after it: CPU, read and write syscalls per request), and
// the CPU per request of each process named after no target (a relay, the
// backend).
func WriteTable(w io.Writer, sums []Summary) error {
	header := []string{"target", "req/s", "keys/s", "p50 µs", "p90 µs", "p99 µs", "p99.9 µs", "max µs",
		"hit %", "errors", "req/s ratio", "p99 ratio"}
	withUp := slices.ContainsFunc(sums, func(s Summary) bool { return s.UpstreamPerClientGet >= 0 })
	if withUp {
		header = append(header, "upstream gets/client get")
	}
	withOwn, others := procColumns(sums)
	if withOwn {
		header = append(header, "cpu µs/req", "reads/req", "writes/req")
	}
	for _, o := range others {
		header = append(header, o+" cpu µs/req")
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
		if withOwn {
			if p, ok := s.proc(s.Target); ok {
				row = append(row, cpuMicros(p.CPUPerReq), perReq(p.ReadsPerReq), perReq(p.WritesPerReq))
			} else {
				row = append(row, "-", "-", "-")
			}
		}
		for _, o := range others {
			cell := "-"
			if p, ok := s.proc(o); ok {
				cell = cpuMicros(p.CPUPerReq)
			}
			row = append(row, cell)
		}
		rows = append(rows, row)
	}
	return writeRows(w, rows)
}

// procColumns says whether any target has its own process measured, and
// names the measured processes that are no target, in order.
func procColumns(sums []Summary) (withOwn bool, others []string) {
	targets := make(map[string]bool, len(sums))
	for _, s := range sums {
		targets[s.Target] = true
	}
	for _, s := range sums {
		for _, p := range s.Procs {
			switch {
			case p.Name == s.Target:
				withOwn = true
			case !targets[p.Name] && !slices.Contains(others, p.Name):
				others = append(others, p.Name)
			}
		}
	}
	return withOwn, others
}

func cpuMicros(us float64) string { return strconv.FormatFloat(us, 'f', 1, 64) }

func perReq(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

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
// median req/s, p99 and CPU per request (when its process was measured),
// the ratios of each pair of targets in ratios (req/s a/b: above 1 means
// a is faster; p99 a/b: below 1 means a is quicker; empty: the first two
// targets), the errors of all targets, and the first target's upstream
// gets per client get when counted. Targets are every target of any
// report, in order of first appearance; a report without one shows "-".
func WriteOverview(w io.Writer, reports []*Report, ratios [][2]string) error {
	if len(reports) == 0 {
		return nil
	}
	var names []string
	for _, rep := range reports {
		for _, t := range rep.Targets {
			if !slices.Contains(names, t.Name) {
				names = append(names, t.Name)
			}
		}
	}
	if len(ratios) == 0 && len(names) > 1 {
		ratios = [][2]string{{names[0], names[1]}}
	}
	withCPU := false
	for _, rep := range reports {
		if own, _ := procColumns(rep.Summary); own {
			withCPU = true
		}
	}
	header := []string{"scenario"}
	for _, n := range names {
		header = append(header, n+" req/s")
	}
	for _, n := range names {
		header = append(header, n+" p99 µs")
	}
	if withCPU {
		for _, n := range names {
			header = append(header, n+" cpu µs/req")
		}
	}
	for _, r := range ratios {
		header = append(header, r[0]+"/"+r[1]+" req/s", r[0]+"/"+r[1]+" p99")
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
		cell := func(n string, f func(Summary) string) string {
			if s, ok := by[n]; ok {
				return f(s)
			}
			return "-"
		}
		for _, n := range names {
			row = append(row, cell(n, func(s Summary) string { return strconv.FormatFloat(s.ReqPerSec, 'f', 0, 64) }))
		}
		for _, n := range names {
			row = append(row, cell(n, func(s Summary) string { return micros(s.Latency.P99) }))
		}
		if withCPU {
			for _, n := range names {
				row = append(row, cell(n, func(s Summary) string {
					if p, ok := s.proc(n); ok {
						return cpuMicros(p.CPUPerReq)
					}
					return "-"
				}))
			}
		}
		for _, r := range ratios {
			a, okA := by[r[0]]
			b, okB := by[r[1]]
			if !okA || !okB {
				row = append(row, "-", "-")
				continue
			}
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
