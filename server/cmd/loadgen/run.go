package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/flowhook/flowhook/client"
)

// run sets flowhook up, runs the scenarios, prints a row for each to out, and writes the JSON
// and the SVG when asked. A scenario that cannot be prepared ends the run with an error; the
// rows so far are printed and written.
func run(ctx context.Context, cfg config, out, logw io.Writer) ([]row, error) {
	began := time.Now()
	logf := func(format string, args ...any) {
		if cfg.Verbose {
			fmt.Fprintf(logw, "%7.1fs  %s\n", time.Since(began).Seconds(), fmt.Sprintf(format, args...))
		}
	}
	conns := max(cfg.Workers, cfg.MaxInflight, 64)
	hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, IdleConnTimeout: time.Minute}}
	defer hc.CloseIdleConnections()

	// The fakes' control actions are as concurrent as the requests: their idle connections are
	// kept too, or each action past the second would open one.
	f, err := openFakes(ctx, cfg, &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, IdleConnTimeout: time.Minute}}, logf)
	if err != nil {
		return nil, err
	}
	defer f.Stop()
	logf("fakes: %s", f.URLs.Control)

	urls := strings.Split(cfg.URL, ",")
	b := &bench{baseURL: urls[0], urls: urls, adminKey: cfg.Key, hc: hc, admin: client.New(hc, urls[0], cfg.Key), fakes: f, suffix: runSuffix(), logf: logf, ingestSize: cfg.IngestPool, vacuumDB: cfg.VacuumDB, baseline: cfg.Baseline}
	if err := setUp(ctx, b); err != nil {
		return nil, fmt.Errorf("set up: %w", err)
	}
	logf("set up (suffix %s): providers point at the fakes, workflows published", b.suffix)

	meter := cpuMeter{serverPIDs: cfg.ServerPIDs, db: cfg.DBCPU, loadPIDs: []int{os.Getpid()}, rssEvery: cfg.RSSEvery}
	if pid := f.PID(); pid > 0 {
		meter.loadPIDs = append(meter.loadPIDs, pid)
	}
	var rows []row
	printHeader(out)
	var runErr error
	for _, name := range cfg.Scenarios {
		shapes := []shape{{open: cfg.Mode == "open", workers: cfg.Workers, rate: cfg.Rate, duration: cfg.openDuration(cfg.Rate),
			count: cfg.Count, maxInflight: cfg.MaxInflight, maxLag: cfg.MaxLag}}
		if len(cfg.Sweep) > 0 {
			shapes = shapes[:0]
			for _, r := range cfg.Sweep {
				shapes = append(shapes, shape{open: true, rate: r, duration: cfg.openDuration(r), count: cfg.Count, maxInflight: cfg.MaxInflight, maxLag: cfg.MaxLag})
			}
		}
		for _, s := range shapes {
			if ctx.Err() != nil {
				break
			}
			r, err := runScenario(ctx, b, b.scenario(name), s, cfg.PoolMax, meter)
			if err != nil {
				runErr = fmt.Errorf("%s: %w", name, err)
				break
			}
			printRow(out, r)
			rows = append(rows, r)
		}
		if runErr != nil || ctx.Err() != nil {
			break
		}
	}
	printNotes(out, rows, cfg)
	if cfg.JSON != "" {
		if err := writeJSON(cfg.JSON, rows); err != nil {
			return rows, err
		}
	}
	if cfg.SVG != "" && len(rows) > 0 {
		if err := os.WriteFile(cfg.SVG, []byte(sweepSVG(rows)), 0o644); err != nil {
			return rows, err
		}
	}
	if runErr == nil {
		runErr = ctx.Err()
	}
	return rows, runErr
}

// openDuration is how long an open-loop run at rate lasts: -duration, or long enough for
// -min-requests.
func (c config) openDuration(rate float64) time.Duration {
	if c.Mode != "open" && len(c.Sweep) == 0 || c.MinRequests == 0 || rate <= 0 {
		return c.Duration
	}
	return max(c.Duration, time.Duration(math.Ceil(float64(c.MinRequests)/rate*float64(time.Second))))
}

// runScenario prepares sc's items, runs it in shape s between two CPU samples, and checks
// the instances it moved.
func runScenario(ctx context.Context, b *bench, sc scenario, s shape, poolMax int, meter cpuMeter) (row, error) {
	// A scenario that uses one item per request gets as many as the run can use, at most
	// poolMax: the closed loop's count, or poolMax; the open loop's rate × duration.
	need := poolMax
	if s.open {
		need = min(need, int(math.Ceil(s.rate*s.duration.Seconds())))
	}
	if s.count > 0 {
		need = min(need, s.count)
	}
	// The scenario's instances are all created from here on (its items, or what it starts):
	// its check counts those alone, so that a workflow's earlier runs (tens of thousands, which
	// the server no longer counts exactly) do not enter it.
	since := time.Now()
	var items []item
	if sc.prepare != nil {
		var err error
		if items, err = sc.prepare(ctx, need); err != nil {
			return row{}, fmt.Errorf("prepare: %w", err)
		}
	}
	limit := 0
	if sc.consumes {
		limit = len(items)
	}
	do := func(ctx context.Context, i int) error {
		var it item
		if len(items) > 0 {
			it = items[i%len(items)]
		}
		return sc.do(ctx, it, i)
	}
	var before int64
	if sc.moved != nil {
		var err error
		if before, err = sc.moved(ctx, since); err != nil && !errors.Is(err, errUncounted) {
			return row{}, err
		}
	}
	var baseline float64
	if b.baseline != "" {
		var err error
		if baseline, err = runBaseline(ctx, b.baseline); err != nil {
			return row{}, err
		}
		b.logf("%s: baseline %.0f/s", sc.name, baseline)
	}
	b.logf("%s: %d items ready; running", sc.name, len(items))
	// The write lanes' counters are read outside the timed part (a scrape also counts the
	// gauges in the database); a server without metrics leaves the column empty.
	lanes0, lanesErr := b.readLanes(ctx)
	cpu0 := meter.sample()
	rss := startRSS(meter.serverPIDs, meter.rssEvery)
	var o outcome
	if s.open {
		o = openLoop(ctx, realClock{}, s, limit, do)
	} else {
		o = closedLoop(ctx, s, limit, do)
	}
	var settle time.Duration
	if sc.settles != nil {
		began := time.Now()
		if err := sc.settles(ctx); err != nil {
			return row{}, fmt.Errorf("%s: %w", sc.name, err)
		}
		settle = time.Since(began)
		o.elapsed += settle
	}
	cpu1 := meter.sample()
	r := newRow(sc, s, o)
	r.Baseline = baseline
	r.RSS = rss.end()
	if sc.settles != nil {
		r.Settle = settle.Seconds()
	}
	use := meter.perRequest(cpu0, cpu1, o.ok+o.errors)
	r.ServerCPU, r.DBCPU, r.LoadCPU = use.server, use.db, use.load
	if lanesErr == nil {
		if lanes1, err := b.readLanes(ctx); err == nil {
			r.Lanes = laneUses(lanes0, lanes1, len(b.urls))
		}
	}
	if sc.moved != nil {
		after, err := sc.moved(context.WithoutCancel(ctx), since)
		switch {
		case errors.Is(err, errUncounted):
			r.Unchecked = err.Error()
		case err != nil:
			return r, err
		default:
			moved := after - before
			r.Moved = &moved
			if moved != o.ok {
				r.Problem = fmt.Sprintf("%d answered 200 but %d instances moved", o.ok, moved)
			}
		}
	}
	return r, nil
}
