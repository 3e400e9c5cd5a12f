package main

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"strings"
	"time"
)

// row is one scenario run: what the table prints and the JSON holds.
type row struct {
	Scenario   string  `json:"scenario"`
	Mode       string  `json:"mode"`
	TargetRate float64 `json:"target_rate,omitempty"` // open loop: offered, a second
	Workers    int     `json:"workers,omitempty"`     // closed loop
	Count      int64   `json:"count"`                 // successful requests
	Seconds    float64 `json:"seconds"`
	Rate       float64 `json:"rate"` // successful requests a second
	Errors     int64   `json:"errors"`
	Dropped    int64   `json:"dropped"` // open loop: not sent, too late
	P50        float64 `json:"p50_ms"`
	P90        float64 `json:"p90_ms"`
	P99        float64 `json:"p99_ms"`
	P999       float64 `json:"p999_ms"`
	Max        float64 `json:"max_ms"`
	// LowerBound: some requests failed or (open loop) were dropped. They are in the
	// percentiles, a failure at the time it took, a dropped send at how late it was when
	// dropped, so that the percentiles do not describe the survivors alone; what those
	// requests would have taken to succeed is more, so the percentiles are lower bounds (the
	// table's ≥).
	LowerBound bool `json:"percentiles_lower_bound"`
	// CPU milliseconds per request (-1: not measured).
	ServerCPU float64 `json:"server_cpu_ms_per_req"`
	DBCPU     float64 `json:"db_cpu_ms_per_req"`
	// LoadCPU is the load's own: this tool's and the fakes' it started (the fakes sign and
	// send the OneSpan callbacks and serve the documents and read-backs the server asks for).
	LoadCPU float64 `json:"load_cpu_ms_per_req"`
	// Lanes are the server's write lanes over the timed part (flowhook_group_commit_*), by
	// lane: "events" (the group commit of notifications), "statements" (the pipeline of
	// one-statement writes) and "verdicts" (verdicts alone); none when the server has no
	// metrics.
	Lanes map[string]laneUse `json:"lanes,omitempty"`
	// RSS is the servers' resident memory (every -server-pid's together) at the start of the
	// timed part, every -rss-every during it and at its end; none without -server-pid.
	RSS   []rssSample `json:"server_rss,omitempty"`
	Moved *int64      `json:"moved,omitempty"` // instances the scenario moved, checked against count
	// Unchecked says why the instances moved could not be counted (more than 10,000).
	Unchecked string `json:"unchecked,omitempty"`
	// Settle is the seconds after the last request until the server finished the scenario's
	// background work (signed documents fetched, new work items created and coupled); Seconds
	// includes it.
	Settle float64 `json:"settle_seconds,omitempty"`
	// Baseline is what -baseline's command reported right before the timed part (make bench:
	// pgbench's tps on the same PostgreSQL); 0 without -baseline.
	Baseline   float64 `json:"baseline_rate,omitempty"`
	Problem    string  `json:"problem,omitempty"`
	FirstError string  `json:"first_error,omitempty"`
	Note       string  `json:"note"`
}

func newRow(sc scenario, s shape, o outcome) row {
	ms := func(q float64) float64 { return float64(o.hist.ValueAtQuantile(q)) / 1000 }
	r := row{Scenario: sc.name, Mode: "closed", Workers: s.workers, Count: o.ok, Seconds: o.elapsed.Seconds(),
		Errors: o.errors, Dropped: o.dropped, P50: ms(50), P90: ms(90), P99: ms(99), P999: ms(99.9),
		Max: float64(o.hist.Max()) / 1000, LowerBound: o.errors+o.dropped > 0, Note: sc.note}
	if s.open {
		r.Mode, r.Workers, r.TargetRate = "open", 0, s.rate
	}
	if o.elapsed > 0 {
		r.Rate = float64(o.ok) / o.elapsed.Seconds()
	}
	if o.firstErr != nil {
		r.FirstError = o.firstErr.Error()
	}
	return r
}

const rowFormat = "%-21s %-12s %8s %7s %9s %6s %7s %8s %8s %8s %8s %8s %8s %8s %8s  %-21s %s\n"

func printHeader(w io.Writer) {
	fmt.Fprintf(w, rowFormat, "scenario", "load", "count", "secs", "rate/s", "errors", "dropped",
		"p50 ms", "p90 ms", "p99 ms", "p99.9", "max ms", "srv cpu", "db cpu", "load cpu", "write lanes", "check")
}

// load is how the row's requests were sent: "closed ×8", "open 100/s".
func (r row) load() string {
	if r.Mode == "open" {
		return fmt.Sprintf("open %g/s", r.TargetRate)
	}
	return fmt.Sprintf("closed ×%d", r.Workers)
}

func printRow(w io.Writer, r row) {
	load := r.load()
	check := ""
	if r.Moved != nil {
		check = fmt.Sprintf("%d moved", *r.Moved)
	}
	if r.Unchecked != "" {
		check = "moved: " + r.Unchecked
	}
	if r.Settle > 0 {
		check += fmt.Sprintf(", settled %.2fs after", r.Settle)
	}
	if r.Baseline > 0 {
		check = strings.TrimPrefix(check+fmt.Sprintf(", baseline %.0f/s", r.Baseline), ", ")
	}
	if n := len(r.RSS); n > 0 && r.Seconds >= 60 {
		// Over a minute or more, whether the server's memory kept growing.
		check = strings.TrimPrefix(check+fmt.Sprintf(", rss %.0f → %.0f MB (max %.0f)", r.RSS[0].MB, r.RSS[n-1].MB, maxRSS(r.RSS)), ", ")
	}
	if r.Problem != "" {
		check += " PROBLEM: " + r.Problem
	}
	if r.FirstError != "" {
		check += " first error: " + r.FirstError
	}
	lat := msText
	if r.LowerBound {
		lat = func(v float64) string { return "≥" + msText(v) }
	}
	fmt.Fprintf(w, rowFormat, r.Scenario, load, fmt.Sprint(r.Count), fmt.Sprintf("%.1f", r.Seconds), fmt.Sprintf("%.1f", r.Rate),
		fmt.Sprint(r.Errors), fmt.Sprint(r.Dropped), lat(r.P50), lat(r.P90), lat(r.P99), lat(r.P999), lat(r.Max),
		cpuText(r.ServerCPU), cpuText(r.DBCPU), cpuText(r.LoadCPU), lanesText(r.Lanes), check)
}

func maxRSS(s []rssSample) float64 {
	m := 0.0
	for _, x := range s {
		m = max(m, x.MB)
	}
	return m
}

func msText(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func cpuText(v float64) string {
	if v < 0 {
		return "-"
	}
	return fmt.Sprintf("%.3f", v)
}

// printNotes says, under the table, how each scenario that ran is measured.
func printNotes(w io.Writer, rows []row, cfg config) {
	seen := map[string]bool{}
	fmt.Fprintln(w)
	for _, r := range rows {
		if !seen[r.Scenario] {
			seen[r.Scenario] = true
			fmt.Fprintf(w, "%-21s %s\n", r.Scenario, r.Note)
		}
	}
	fmt.Fprintln(w, "Latency: closed loop, from send to answer; open loop, from each send's intended time (sends wait for a slot past -max-inflight; one more than -max-lag late is dropped).")
	fmt.Fprintln(w, "     A failed request counts at the time it took, a dropped send at how late it was when dropped: with any, the row's latencies are lower bounds (≥).")
	fmt.Fprintln(w, "     A webhook counts as answered only with 200 {\"status\":\"accepted\"} (not duplicate, not ignored).")
	fmt.Fprintln(w, "CPU: ms per request, of the -server-pid process(es), of every process named postgres on the machine, and of the load (this tool and the fakes it started;")
	fmt.Fprintln(w, "     on one machine that is CPU the server and PostgreSQL do not get) (utime+stime, and ended children's),")
	fmt.Fprintln(w, "     over the timed part: background work then (jobs left by the preparation, idle CPU) is divided among its requests, which weighs at low rates.")
	fmt.Fprintln(w, "write lanes: the server's, over the timed part (flowhook_group_commit_*): ev, the group commit of notifications; st, the pipeline of one-statement writes")
	fmt.Fprintln(w, "     (transitions, starts, takes); vd, verdicts alone (unconfirmed, stale, duplicate); for each, the writes a batch (one round trip and one commit)")
	fmt.Fprintln(w, "     and the share of the time its one writer was writing.")
	if len(cfg.ServerPIDs) == 0 {
		fmt.Fprintln(w, "srv cpu: not measured (no -server-pid).")
	}
}

func writeJSON(path string, rows []row) error {
	b, err := json.MarshalIndent(map[string]any{"generated": time.Now().UTC().Format(time.RFC3339), "rows": rows}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// sweepSVG plots p50 and p99 latency against offered load, both axes logarithmic, with the
// achieved rate written at each point.
func sweepSVG(rows []row) string {
	const (
		width, height          = 720, 440
		left, right, top, base = 80, 30, 50, 380 // the plot area's edges
	)
	minX, maxX := math.Inf(1), math.Inf(-1)
	minY, maxY := math.Inf(1), math.Inf(-1)
	for _, r := range rows {
		minX, maxX = math.Min(minX, r.TargetRate), math.Max(maxX, r.TargetRate)
		for _, v := range []float64{r.P50, r.P99} {
			v = math.Max(v, 0.01)
			minY, maxY = math.Min(minY, v), math.Max(maxY, v)
		}
	}
	// Whole decades around the data.
	x0, x1 := math.Floor(math.Log10(minX)), math.Ceil(math.Log10(maxX))
	y0, y1 := math.Floor(math.Log10(minY)), math.Ceil(math.Log10(maxY))
	if x1 == x0 {
		x1++
	}
	if y1 == y0 {
		y1++
	}
	px := func(v float64) float64 { return left + (math.Log10(v)-x0)/(x1-x0)*(width-left-right) }
	py := func(v float64) float64 { return base - (math.Log10(math.Max(v, 0.01))-y0)/(y1-y0)*(base-top) }

	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&sb, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&sb, `<text x="%d" y="24" font-size="15">%s: latency against offered load (open loop)</text>`+"\n", left, html.EscapeString(rows[0].Scenario))
	for d := x0; d <= x1; d++ {
		x := px(math.Pow(10, d))
		fmt.Fprintf(&sb, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`+"\n", x, top, x, base)
		fmt.Fprintf(&sb, `<text x="%.1f" y="%d" text-anchor="middle">%g</text>`+"\n", x, base+18, math.Pow(10, d))
	}
	for d := y0; d <= y1; d++ {
		y := py(math.Pow(10, d))
		fmt.Fprintf(&sb, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`+"\n", left, y, width-right, y)
		fmt.Fprintf(&sb, `<text x="%d" y="%.1f" text-anchor="end">%g</text>`+"\n", left-6, y+4, math.Pow(10, d))
	}
	fmt.Fprintf(&sb, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", left, base, width-right, base)
	fmt.Fprintf(&sb, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", left, top, left, base)
	fmt.Fprintf(&sb, `<text x="%d" y="%d" text-anchor="middle">offered load (requests/s, log scale)</text>`+"\n", (left+width-right)/2, base+40)
	fmt.Fprintf(&sb, `<text transform="translate(22 %d) rotate(-90)" text-anchor="middle">latency (ms, log scale)</text>`+"\n", (top+base)/2)
	for _, line := range []struct {
		name, color string
		at          func(row) float64
	}{{"p50", "#1f77b4", func(r row) float64 { return r.P50 }}, {"p99", "#d62728", func(r row) float64 { return r.P99 }}} {
		var pts []string
		for _, r := range rows {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(r.TargetRate), py(line.at(r))))
		}
		fmt.Fprintf(&sb, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", line.color, strings.Join(pts, " "))
		for _, r := range rows {
			fmt.Fprintf(&sb, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s %g/s: %.2f ms</title></circle>`+"\n",
				px(r.TargetRate), py(line.at(r)), line.color, line.name, r.TargetRate, line.at(r))
		}
	}
	for _, r := range rows {
		fmt.Fprintf(&sb, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="10" fill="#555">%.0f/s</text>`+"\n", px(r.TargetRate), py(r.P99)-8, r.Rate)
	}
	fmt.Fprintf(&sb, `<text x="%d" y="%d" fill="#1f77b4">— p50</text><text x="%d" y="%d" fill="#d62728">— p99</text><text x="%d" y="%d" fill="#555">(n/s above a point: achieved rate)</text>`+"\n",
		width-right-300, top-10, width-right-250, top-10, width-right-200, top-10)
	sb.WriteString("</svg>\n")
	return sb.String()
}
