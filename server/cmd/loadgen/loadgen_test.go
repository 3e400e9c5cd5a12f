package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/dbtest"
)

// TestLoadgen runs the tool end to end against a real flowhook (`serve` on a fresh
// PostgreSQL database) and the real fakes: a few scenarios for about a second each, in both
// modes. Every row must have answers and no error, and the transitions must have moved their
// instances.
func TestLoadgen(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin := t.TempDir()
	build := func(name string) string {
		out := filepath.Join(bin, name)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "github.com/flowhook/flowhook/server/cmd/"+name)
		msg, err := cmd.CombinedOutput()
		require.NoError(t, err, "go build %s: %s", name, msg)
		return out
	}
	var flowhook, fakesBin string
	var wg sync.WaitGroup
	wg.Go(func() { flowhook = build("flowhook") })
	wg.Go(func() { fakesBin = build("fakeproviders") })
	dbURL := dbtest.NewPostgres(t)
	wg.Wait()

	port := freePort(t)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	const key = "fh_loadgen_test_0123456789abcdef"
	srv := exec.Command(flowhook, "serve")
	srv.Env = append(os.Environ(), "FLOWHOOK_DATABASE_URL="+dbURL, "FLOWHOOK_ADDR=127.0.0.1:"+strconv.Itoa(port),
		"FLOWHOOK_BOOTSTRAP_ADMIN_KEY="+key, "FLOWHOOK_SECRET_KEY="+randomKey(32), "FLOWHOOK_LOG_LEVEL=warn",
		"OTEL_TRACES_EXPORTER=none", "OTEL_METRICS_EXPORTER=none", "OTEL_LOGS_EXPORTER=none")
	var srvLog bytes.Buffer
	srv.Stdout, srv.Stderr = &srvLog, &srvLog
	require.NoError(t, srv.Start())
	exited := make(chan struct{})
	go func() { _ = srv.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = srv.Process.Signal(syscall.SIGTERM)
		<-exited
		if t.Failed() {
			t.Log("flowhook's log:\n" + srvLog.String())
		}
	})
	require.Eventually(t, func() bool {
		select {
		case <-exited:
			return true // fails below
		default:
		}
		res, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	}, time.Minute, 50*time.Millisecond)
	select {
	case <-exited:
		t.Fatalf("flowhook exited:\n%s", srvLog.String())
	default:
	}

	jsonPath := filepath.Join(t.TempDir(), "rows.json")
	cfg := defaults()
	cfg.URL, cfg.Key, cfg.FakesBin, cfg.ServerPIDs, cfg.JSON = base, key, fakesBin, []int{srv.Process.Pid}, jsonPath
	cfg.Duration, cfg.PoolMax, cfg.IngestPool, cfg.Workers = time.Second, 60, 10, 4
	cfg.Scenarios = []string{"ingest-docusign", "transition-docusign", "transition-onespan", "take", "list-assigned"}
	cfg.VacuumDB, cfg.Verbose = dbURL, true
	cfg.Baseline = "echo 'a pgbench would say more'; echo 2468.25" // make bench's short pgbench
	var out, logs bytes.Buffer
	closed, err := run(ctx, cfg, &out, &logs)
	t.Log("\n" + out.String())
	require.NoError(t, err, logs.String())
	// -vacuum-db: the database was vacuumed and analyzed before the list, after the runs that
	// wrote it.
	require.Contains(t, logs.String(), "vacuumed and analyzed the database")
	conn, err := pgx.Connect(ctx, dbURL)
	require.NoError(t, err)
	var analyzed bool
	require.NoError(t, conn.QueryRow(ctx, `SELECT last_analyze IS NOT NULL AND last_vacuum IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'instances'`).Scan(&analyzed))
	require.NoError(t, conn.Close(ctx))
	require.True(t, analyzed, "instances was vacuumed and has statistics")
	for _, r := range closed {
		require.Equal(t, 2468.25, r.Baseline, "%s: -baseline's rate, run before its timed part", r.Scenario)
	}
	require.Contains(t, out.String(), "baseline 2468/s")
	cfg.VacuumDB, cfg.Verbose, cfg.Baseline = "", false, ""

	cfg.Mode, cfg.Rate, cfg.JSON = "open", 40, ""
	cfg.Scenarios = []string{"ingest-connector", "transition-connector", "start", "start-external", "list-instances"}
	out.Reset()
	open, err := run(ctx, cfg, &out, &logs)
	t.Log("\n" + out.String())
	require.NoError(t, err, logs.String())

	for _, r := range open {
		require.Zero(t, r.Baseline, "%s: no -baseline, none kept", r.Scenario)
	}
	rows := append(closed, open...)
	require.Len(t, rows, 10)
	for _, r := range rows {
		require.Positive(t, r.Count, r.Scenario)
		require.Zero(t, r.Errors, "%s: %s", r.Scenario, r.FirstError)
		require.Zero(t, r.Dropped, r.Scenario)
		require.Empty(t, r.Problem, r.Scenario)
		require.Positive(t, r.P99, r.Scenario)
		require.GreaterOrEqual(t, r.Max, r.P99, r.Scenario)
		require.GreaterOrEqual(t, r.ServerCPU, 0.0, "%s: the server's CPU was measured", r.Scenario)
		require.GreaterOrEqual(t, r.LoadCPU, 0.0, "%s: the load's CPU (the tool and its fakes) was measured", r.Scenario)
		// The server's write lanes: a notification that moves nothing is written by the group
		// commit, a transition, a take or a start by the pipeline.
		switch r.Scenario {
		case "ingest-docusign", "ingest-connector":
			require.Contains(t, r.Lanes, "events", r.Scenario)
		case "transition-docusign", "transition-connector", "take", "start":
			require.Contains(t, r.Lanes, "statements", r.Scenario)
		}
		for lane, u := range r.Lanes {
			require.Positive(t, u.Batches, "%s: %s", r.Scenario, lane)
			require.GreaterOrEqual(t, u.WritesPerBatch, 1.0, "%s: %s", r.Scenario, lane)
			require.True(t, u.Busy > 0 && u.Busy <= 1, "%s: %s busy %v", r.Scenario, lane, u.Busy)
		}
		switch r.Scenario {
		case "transition-docusign", "transition-onespan", "transition-connector", "take":
			require.NotNil(t, r.Moved, r.Scenario)
			require.Equal(t, r.Count, *r.Moved, "%s: every transition moved its instance", r.Scenario)
		case "start-external":
			require.NotNil(t, r.Moved, r.Scenario)
			require.Equal(t, r.Count, *r.Moved, "every start entered the EXTERNAL state")
			require.Positive(t, r.Settle, "the run waited for every ticket to be created and coupled")
		}
	}
	require.Equal(t, "open", open[0].Mode)
	require.InDelta(t, 40, open[0].Rate, 10, "the open loop keeps its pace")

	var written struct {
		Rows []row `json:"rows"`
	}
	b, err := os.ReadFile(jsonPath)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &written))
	require.Len(t, written.Rows, len(closed))
	require.Equal(t, "transition-docusign", written.Rows[1].Scenario)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// fakeClock is time that moves only when told: SleepUntil jumps to its time when that is later.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) SleepUntil(ctx context.Context, t time.Time) error {
	c.advanceTo(t)
	return ctx.Err()
}

func (c *fakeClock) advanceTo(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.now) {
		c.now = t
	}
}

// TestRealClockSleepUntil: the open loop's real clock never returns before the time it was
// given, whether the wait is all in the kernel (shorter than preciseWindow) or starts on a Go
// timer; a time already past returns at once; a cancelled context ends a long wait with its
// error (a wait that ignored it would hang the test).
func TestRealClockSleepUntil(t *testing.T) {
	clk := realClock{}
	for _, d := range []time.Duration{-time.Millisecond, 0, 300 * time.Microsecond, preciseWindow / 2, preciseWindow + 3*time.Millisecond} {
		until := time.Now().Add(d)
		require.NoError(t, clk.SleepUntil(context.Background(), until))
		require.False(t, time.Now().Before(until), "returned before the time given (%s ahead)", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, clk.SleepUntil(ctx, time.Now().Add(time.Hour)), context.Canceled)
	require.ErrorIs(t, clk.SleepUntil(ctx, time.Now().Add(preciseWindow/2)), context.Canceled)

	ctx, cancel = context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- clk.SleepUntil(ctx, time.Now().Add(time.Hour)) }()
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)
}

// TestOpenLoopCoordinatedOmission: ten sends paced 10 ms apart, one outstanding at most; the
// first stalls the server for 100 ms. The nine behind it go out late, and each one's latency
// counts from its intended time (90, 80, …, 10 ms), not from when it went out (0 ms) — what
// a closed loop would have reported and so hidden the stall.
func TestOpenLoopCoordinatedOmission(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	stall := func(clk *fakeClock) request {
		return func(_ context.Context, i int) error {
			if i == 0 {
				clk.advanceTo(start.Add(100 * time.Millisecond))
			}
			return nil
		}
	}
	s := shape{open: true, rate: 100, duration: 100 * time.Millisecond, maxInflight: 1}

	clk := &fakeClock{now: start}
	o := openLoop(context.Background(), clk, s, 0, stall(clk))
	require.EqualValues(t, 10, o.ok)
	require.Zero(t, o.errors)
	require.Zero(t, o.dropped)
	require.Equal(t, 100*time.Millisecond, o.elapsed)
	require.InDelta(t, 100_000, o.hist.Max(), 100, "the stalled send: 100 ms (to the histogram's precision)")
	require.InDelta(t, 10_000, o.hist.Min(), 10, "the last send, 10 ms late")
	require.InDelta(t, 55_000, o.hist.Mean(), 100, "100, 90, …, 10 ms")
	require.InDelta(t, 90_000, o.hist.ValueAtQuantile(90), 100)

	r := newRow(scenario{name: "stub"}, s, o)
	require.False(t, r.LowerBound, "nothing dropped nor failed: the percentiles are the requests'")

	// With -max-lag 50 ms, the sends more than 50 ms late are dropped, not sent. Each is in the
	// histogram at how late it was when dropped (60 to 90 ms), so that the percentiles are not
	// the survivors' alone (which would be better the more was dropped), and the row's
	// percentiles are lower bounds.
	s.maxLag = 50 * time.Millisecond
	clk = &fakeClock{now: start}
	o = openLoop(context.Background(), clk, s, 0, stall(clk))
	require.EqualValues(t, 4, o.dropped, "the sends intended at 10 to 40 ms")
	require.EqualValues(t, 6, o.ok)
	require.EqualValues(t, 10, o.hist.TotalCount(), "the sent and the dropped")
	require.InDelta(t, 90_000, o.hist.ValueAtQuantile(90), 100, "the send intended at 10 ms, dropped at 100 ms")
	require.InDelta(t, 55_000, o.hist.Mean(), 100, "100, 90 (dropped), …, 60 (dropped), 50, …, 10 ms")
	r = newRow(scenario{name: "stub"}, s, o)
	require.True(t, r.LowerBound)
	require.InDelta(t, 90, r.P90, 0.1)
	var out bytes.Buffer
	printRow(&out, r)
	require.Contains(t, out.String(), " ≥90.0", "the table marks lower bounds: %s", out.String())
	b, err := json.Marshal(r)
	require.NoError(t, err)
	require.Contains(t, string(b), `"percentiles_lower_bound":true`)
}

// TestOpenLoopLimitAndErrors: an open loop makes no more requests than the items prepared,
// counts failures apart from successes, and has their latencies in the histogram too (the
// row's percentiles then lower bounds).
func TestOpenLoopLimitAndErrors(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	clk := &fakeClock{now: start}
	var mu sync.Mutex
	seen := map[int]bool{}
	o := openLoop(context.Background(), clk, shape{open: true, rate: 1000, duration: time.Second, maxInflight: 8}, 25,
		func(_ context.Context, i int) error {
			mu.Lock()
			defer mu.Unlock()
			seen[i] = true
			if i%5 == 0 {
				return errors.New("boom")
			}
			return nil
		})
	require.Len(t, seen, 25)
	require.EqualValues(t, 20, o.ok)
	require.EqualValues(t, 5, o.errors)
	require.EqualError(t, o.firstErr, "boom")
	require.EqualValues(t, 25, o.hist.TotalCount(), "the failures' latencies too")
	require.True(t, newRow(scenario{name: "stub"}, shape{open: true, rate: 1000}, o).LowerBound)
}

// TestClosedLoop: workers stop at the count, every request is made once.
func TestClosedLoop(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	seen := map[int]int{}
	o := closedLoop(context.Background(), shape{workers: 4, duration: time.Minute, count: 100}, 0, func(_ context.Context, i int) error {
		mu.Lock()
		defer mu.Unlock()
		seen[i]++
		return nil
	})
	require.EqualValues(t, 100, o.ok)
	require.Len(t, seen, 100)
	for i, n := range seen {
		require.Equal(t, 1, n, "request %d", i)
	}
}

func TestLoopbackOnly(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:8080", true},
		{"http://localhost:8080", true},
		{"http://[::1]:8080", true},
		{"http://127.0.0.2", true},
		{"http://10.0.0.1:8080", false},
		{"https://example.com", false},
		{"ftp://127.0.0.1", false},
		{"127.0.0.1:8080", false},
	} {
		t.Run(tc.url, func(t *testing.T) {
			err := loopbackOnly(tc.url)
			require.Equal(t, tc.ok, err == nil, fmt.Sprint(err))
		})
	}
}

// TestLoopbackDB: -vacuum-db takes a database on this machine only, and its refusal does not
// repeat the URL (it may hold a password).
func TestLoopbackDB(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"postgres://postgres@127.0.0.1:5432/flowhook", true},
		{"postgres://u:pw@localhost/flowhook?sslmode=disable", true},
		{"postgres://u@[::1]:5432/x", true},
		{"host=/var/run/postgresql dbname=flowhook", true},
		{"postgres://u:secret@10.1.2.3:5432/flowhook", false},
		{"postgres://u:secret@db.example.com/flowhook", false},
		{"postgres://u:secret@127.0.0.1:notaport/x", false},
	} {
		t.Run(tc.url, func(t *testing.T) {
			err := loopbackDB(tc.url)
			require.Equal(t, tc.ok, err == nil, fmt.Sprint(err))
			if err != nil {
				require.NotContains(t, err.Error(), "secret")
			}
		})
	}
	var stderr bytes.Buffer
	_, err := parseFlags([]string{"-key", "k", "-vacuum-db", "postgres://u:secret@10.1.2.3/flowhook"}, &stderr)
	require.ErrorContains(t, err, "-vacuum-db")
	require.NotContains(t, err.Error(), "secret")
	cfg, err := parseFlags([]string{"-key", "k", "-vacuum-db", "postgres://postgres@127.0.0.1:5432/flowhook"}, &stderr)
	require.NoError(t, err)
	require.Equal(t, "postgres://postgres@127.0.0.1:5432/flowhook", cfg.VacuumDB)
}

func TestFlags(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	cfg, err := parseFlags([]string{"-key", "k", "-mode", "open", "-rate", "500", "-scenario", "take", "-sweep", "10,100", "-svg", "x.svg", "-server-pid", "1,2"}, &stderr)
	require.NoError(t, err)
	require.Equal(t, []float64{10, 100}, cfg.Sweep)
	require.Equal(t, []int{1, 2}, cfg.ServerPIDs)
	_, err = parseFlags([]string{"-key", "k", "-url", "http://192.168.1.1:8080"}, &stderr)
	require.ErrorContains(t, err, "loopback")
	// Replicas: every one of them must be on loopback.
	cfg, err = parseFlags([]string{"-key", "k", "-url", "http://127.0.0.1:8080,http://127.0.0.1:8081"}, &stderr)
	require.NoError(t, err)
	require.Equal(t, "http://127.0.0.1:8080,http://127.0.0.1:8081", cfg.URL)
	_, err = parseFlags([]string{"-key", "k", "-url", "http://127.0.0.1:8080,http://10.0.0.7:8080"}, &stderr)
	require.ErrorContains(t, err, "loopback")
	_, err = parseFlags([]string{"-key", "k", "-sweep", "10"}, &stderr)
	require.ErrorContains(t, err, "name one -scenario")
	_, err = parseFlags([]string{"-key", "k", "-scenario", "nope"}, &stderr)
	require.ErrorContains(t, err, "unknown")
	_, err = parseFlags([]string{"-key", "k", "-min-requests", "-1"}, &stderr)
	require.ErrorContains(t, err, "-min-requests")

	// -min-requests stretches a paced run at a low rate, not a fast one, nor a closed loop.
	cfg, err = parseFlags([]string{"-key", "k", "-scenario", "take", "-sweep", "10,1000", "-duration", "10s", "-min-requests", "300"}, &stderr)
	require.NoError(t, err)
	require.Equal(t, 30*time.Second, cfg.openDuration(10))
	require.Equal(t, 10*time.Second, cfg.openDuration(1000))
	cfg, err = parseFlags([]string{"-key", "k", "-duration", "10s", "-min-requests", "300"}, &stderr)
	require.NoError(t, err)
	require.Equal(t, 10*time.Second, cfg.openDuration(cfg.Rate), "closed loop")
}

// TestSweepSVG: the plot has both series, a point per rate and labelled axes.
func TestSweepSVG(t *testing.T) {
	t.Parallel()
	rows := []row{
		{Scenario: "transition-docusign", Mode: "open", TargetRate: 10, Rate: 10, P50: 3, P99: 8},
		{Scenario: "transition-docusign", Mode: "open", TargetRate: 100, Rate: 99, P50: 4, P99: 20},
		{Scenario: "transition-docusign", Mode: "open", TargetRate: 1000, Rate: 400, P50: 900, P99: 2400},
	}
	svg := sweepSVG(rows)
	require.Contains(t, svg, "<svg")
	require.Contains(t, svg, "offered load")
	require.Contains(t, svg, "latency (ms")
	require.Equal(t, 2, bytes.Count([]byte(svg), []byte("<polyline")))
	require.Equal(t, 6, bytes.Count([]byte(svg), []byte("<circle")))
}

// TestCPUPerRequest: each process group's CPU is divided among the requests, and one not
// measured (a process gone, or none given) is -1, never a zero that reads as free.
func TestCPUPerRequest(t *testing.T) {
	t.Parallel()
	m := cpuMeter{serverPIDs: []int{1}, db: true, loadPIDs: []int{2}}
	before := cpuSample{server: time.Second, db: 2 * time.Second, load: 3 * time.Second, serverOK: true, loadOK: true}
	after := cpuSample{server: 2 * time.Second, db: 4 * time.Second, load: 3500 * time.Millisecond, serverOK: true, loadOK: true}
	require.Equal(t, cpuUse{server: 1, db: 2, load: 0.5}, m.perRequest(before, after, 1000))

	after.loadOK = false
	require.Equal(t, cpuUse{server: 1, db: 2, load: -1}, m.perRequest(before, after, 1000), "the load's processes not read")
	require.Equal(t, cpuUse{-1, -1, -1}, m.perRequest(before, after, 0), "no requests")
	require.Equal(t, cpuUse{server: -1, db: -1, load: -1}, cpuMeter{}.perRequest(cpuSample{}, cpuSample{}, 10), "nothing to measure")

	// This process is there to read; one past the kernel's largest pid never is, and makes
	// the group unmeasured rather than partly counted.
	_, err := cpuOf([]int{os.Getpid()})
	require.NoError(t, err)
	_, err = cpuOf([]int{os.Getpid(), 1 << 30})
	require.Error(t, err)
}

// TestMovedCheck: a row's check counts the instances created since its run began (before its
// preparation), the difference over the timed part against the requests answered 200; when
// the server no longer counts them exactly (more than 10,000, an estimate), the row says so
// rather than reporting a problem it cannot know of.
func TestMovedCheck(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := &bench{logf: func(string, ...any) {}}
	run := func(moved func(context.Context, time.Time) (int64, error), prepared *time.Time) row {
		t.Helper()
		sc := scenario{name: "stub", consumes: true,
			prepare: func(context.Context, int) ([]item, error) {
				*prepared = time.Now()
				return make([]item, 5), nil
			},
			do:    func(context.Context, item, int) error { return nil },
			moved: moved}
		r, err := runScenario(ctx, b, sc, shape{workers: 2, duration: time.Minute}, 5, cpuMeter{})
		require.NoError(t, err)
		require.Equal(t, int64(5), r.Count)
		return r
	}

	var prepared time.Time
	var calls []time.Time
	var counted int64
	r := run(func(_ context.Context, since time.Time) (int64, error) {
		calls = append(calls, since)
		counted += 5 // before: 5 (say, left by a test), after: 10
		return counted, nil
	}, &prepared)
	require.Len(t, calls, 2, "counted before and after the timed part")
	require.Equal(t, calls[0], calls[1], "both counts since the same time")
	require.False(t, calls[0].After(prepared), "since the run began, before its items were prepared")
	require.NotNil(t, r.Moved)
	require.Equal(t, int64(5), *r.Moved)
	require.Empty(t, r.Problem)
	require.Empty(t, r.Unchecked)

	r = run(func(context.Context, time.Time) (int64, error) { counted += 4; return counted, nil }, &prepared)
	require.Equal(t, "5 answered 200 but 4 instances moved", r.Problem, "one missing is a problem")

	r = run(func(context.Context, time.Time) (int64, error) { return 0, errUncounted }, &prepared)
	require.Nil(t, r.Moved)
	require.Empty(t, r.Problem, "an estimate is not a problem")
	require.Equal(t, errUncounted.Error(), r.Unchecked)
	var out bytes.Buffer
	printRow(&out, r)
	require.Contains(t, out.String(), "moved: more than 10,000 instances: not counted exactly")

	_, err := runScenario(ctx, b, scenario{name: "stub", do: func(context.Context, item, int) error { return nil },
		moved: func(context.Context, time.Time) (int64, error) { return 0, errors.New("unavailable") }},
		shape{workers: 1, duration: time.Minute, count: 1}, 1, cpuMeter{})
	require.ErrorContains(t, err, "unavailable", "any other failure to count ends the run")
}
