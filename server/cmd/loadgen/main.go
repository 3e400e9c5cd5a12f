// Command loadgen measures a running flowhook from outside its process, through its real
// endpoints: signed DocuSign, OneSpan and connector webhooks for real coupled work items,
// StartInstance and TakeTransition, and the list calls. It drives either a closed loop (N
// workers, each sending its next request when the last one answered) or an open loop (sends
// paced at a target rate; latency counts from each send's intended time, so that a server
// that stalls the sender cannot hide its latency: no coordinated omission), records latency in
// HDR histograms, and prints one row per scenario: count, rate, errors, p50…max, and the CPU
// milliseconds per request that the server process(es), PostgreSQL and the load itself (this
// tool and the fakes it started, which share the machine) spent.
//
//	go run ./server/cmd/loadgen -url http://127.0.0.1:18080 -key fh_… [-server-pid 1234]
//	    [-scenario ingest-docusign,transition-docusign,…] [-mode closed -workers 16 | -mode open -rate 500]
//	    [-duration 10s] [-sweep 10,100,500,1000 -svg sweep.svg] [-json out.json]
//
// Scenarios: ingest-docusign, ingest-onespan, ingest-connector (a signed notification stored
// for a coupled work item, the instance left waiting), transition-docusign, transition-onespan,
// transition-connector (the outcome that moves a waiting instance to its END state, checked
// by counting the completed instances), start, start-external (StartInstance into an
// EXTERNAL state: the instance, its work item and the job that creates it at the provider;
// the row's time includes creating and coupling every work item), take (TakeTransition as
// the assignee), list-assigned and list-instances. The items a scenario needs are prepared
// before its timed part; a scenario that uses one per request (transition-*, ingest-onespan,
// take) gets at most -pool-max and stops early when they run out. The notes under the table say, for each
// scenario, when flowhook answers (DocuSign and connector notifications are applied inline,
// the 200 after the transition commits; OneSpan's callbacks are processed once stored).
//
// It does not start flowhook. It starts the provider fakes (server/cmd/fakeproviders, built
// with `go build` unless -fakes-bin names it) unless -fakes names running ones, and points
// flowhook's DocuSign, OneSpan and a new connector at them through the settings API (the
// settings of a flowhook used for anything else are overwritten: use a flowhook of its own).
// Setup names everything with a suffix of its own, so the tool can run again on the same
// server. Everything it talks to must be on the loopback interface. -fakes takes the JSON line
// a running fakeproviders printed, or its control URL with -fakes-docusign and -fakes-onespan.
// -vacuum-db names flowhook's database (on this machine), which the tool then vacuums and
// analyzes before each list scenario, as autovacuum would have (vacuum.go). -baseline runs a
// shell command right before each timed part and keeps the rate its output ends with in the
// row (baseline.go): make bench runs a short pgbench there, PostgreSQL's own rate seconds
// before each row.
//
// Exit status: 0; 1 when the run failed (the rows so far are printed and written); 2 for
// wrong flags; 3 when every scenario ran but a row's check failed (PROBLEM in the table,
// problem in the JSON: say, fewer instances moved than requests answered 200), after the
// rows are printed and written.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	rows, err := run(ctx, cfg, os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	if err := problems(rows); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(exitProblem)
	}
}

// exitProblem is loadgen's exit status when every scenario ran, and its rows were printed and
// written, but a row's check failed (its problem): the rows are there to read, yet not to be
// taken as a result. 1 is a run that failed; 2, flags that are wrong.
const exitProblem = 3

// problems names the rows whose check failed (nil: none).
func problems(rows []row) error {
	var errs []error
	for _, r := range rows {
		if r.Problem != "" {
			errs = append(errs, fmt.Errorf("%s (%s): %s", r.Scenario, r.load(), r.Problem))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%d rows with a problem (not a result): %w", len(errs), errors.Join(errs...))
}

// Scenario names, in the order they run by default.
var allScenarios = []string{
	"ingest-docusign", "ingest-onespan", "ingest-connector",
	"transition-docusign", "transition-onespan", "transition-connector",
	"start", "start-external", "take", "list-assigned", "list-instances",
}

// config is what one run does.
type config struct {
	URL         string
	Key         string
	Fakes       string // the fakes' control URL, or the JSON line fakeproviders prints; "" starts them
	FakesBin    string
	FakesDS     string // the DocuSign fake's URL, with a plain -fakes control URL
	FakesOS     string // the OneSpan fake's URL, with a plain -fakes control URL
	ServerPIDs  []int
	DBCPU       bool
	RSSEvery    time.Duration // how often the servers' resident memory is read during a timed part (0: never)
	Scenarios   []string
	Mode        string // closed or open
	Workers     int
	Rate        float64
	Duration    time.Duration
	Count       int // requests per scenario (0: as many as the duration allows)
	MaxInflight int
	MaxLag      time.Duration // open loop: a send this late is dropped
	Sweep       []float64
	// MinRequests stretches an open-loop run at a low rate to at least this many requests
	// (the 99th percentile of 100 is one request: a few hundred make it a percentile).
	MinRequests int
	SVG         string
	JSON        string
	PoolMax     int    // items prepared for a scenario that uses one per request
	IngestPool  int    // coupled items an ingest scenario sends its progress events for, round robin
	VacuumDB    string // a PostgreSQL URL: VACUUM ANALYZE it before each list scenario (vacuum.go)
	// Baseline is a shell command run right before each timed part, whose output's last line
	// is a rate (baseline.go): make bench's short pgbench, so that each row has PostgreSQL's
	// own rate beside it, measured seconds before it.
	Baseline string
	Verbose  bool
}

func (c config) validate() error {
	var errs []error
	for _, u := range strings.Split(c.URL, ",") {
		if err := loopbackOnly(u); err != nil {
			errs = append(errs, fmt.Errorf("-url: %w", err))
		}
	}
	for _, u := range []struct{ flag, url string }{{"-fakes", c.Fakes}, {"-fakes-docusign", c.FakesDS}, {"-fakes-onespan", c.FakesOS}} {
		if u.url == "" || strings.HasPrefix(u.url, "{") {
			continue
		}
		if err := loopbackOnly(u.url); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", u.flag, err))
		}
	}
	if c.Key == "" {
		errs = append(errs, errors.New("-key: an admin API key is required (or $FLOWHOOK_API_KEY)"))
	}
	for _, s := range c.Scenarios {
		if !slices.Contains(allScenarios, s) {
			errs = append(errs, fmt.Errorf("-scenario: unknown %q (known: %s)", s, strings.Join(allScenarios, ", ")))
		}
	}
	switch c.Mode {
	case "closed":
		if c.Workers < 1 || c.Workers > 1024 {
			errs = append(errs, errors.New("-workers: want 1 to 1024"))
		}
	case "open":
		if c.Rate <= 0 || c.Rate > 20000 {
			errs = append(errs, errors.New("-rate: want more than 0, at most 20000 a second"))
		}
	default:
		errs = append(errs, fmt.Errorf("-mode: want closed or open, not %q", c.Mode))
	}
	if c.Duration <= 0 || c.Duration > 10*time.Minute {
		errs = append(errs, errors.New("-duration: want more than 0, at most 10m"))
	}
	if c.Count < 0 || c.Count > 1_000_000 {
		errs = append(errs, errors.New("-count: want 0 to 1000000"))
	}
	if c.MaxInflight < 1 || c.MaxInflight > 4096 {
		errs = append(errs, errors.New("-max-inflight: want 1 to 4096"))
	}
	if c.PoolMax < 1 || c.PoolMax > 50000 || c.IngestPool < 1 || c.IngestPool > c.PoolMax {
		errs = append(errs, errors.New("-pool-max: want 1 to 50000; -ingest-pool: 1 to -pool-max"))
	}
	for _, r := range c.Sweep {
		if r <= 0 || r > 20000 {
			errs = append(errs, errors.New("-sweep: each rate more than 0, at most 20000"))
			break
		}
	}
	if len(c.Sweep) > 0 && len(c.Scenarios) != 1 {
		errs = append(errs, errors.New("-sweep: name one -scenario"))
	}
	if c.MinRequests < 0 || c.MinRequests > 100000 {
		errs = append(errs, errors.New("-min-requests: want 0 to 100000"))
	}
	if c.RSSEvery < 0 {
		errs = append(errs, errors.New("-rss-every: want 0 (never) or an interval"))
	}
	if c.SVG != "" && len(c.Sweep) == 0 {
		errs = append(errs, errors.New("-svg: needs -sweep"))
	}
	if c.VacuumDB != "" {
		if err := loopbackDB(c.VacuumDB); err != nil {
			errs = append(errs, fmt.Errorf("-vacuum-db: %w", err))
		}
	}
	return errors.Join(errs...)
}

// loopbackOnly refuses a URL whose host is not the loopback interface: the tool sends load.
func loopbackOnly(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http URL", raw)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%s is not on the loopback interface (127.0.0.1): refused", host)
}

func defaults() config {
	return config{URL: "http://127.0.0.1:8080", Key: os.Getenv("FLOWHOOK_API_KEY"), DBCPU: true, Scenarios: allScenarios,
		Mode: "closed", Workers: 16, Rate: 100, Duration: 10 * time.Second, MaxInflight: 512, MaxLag: 2 * time.Second,
		PoolMax: 3000, IngestPool: 200, RSSEvery: 10 * time.Second}
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	c := defaults()
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var scenarios, pids, sweep string
	fs.StringVar(&c.URL, "url", c.URL, "flowhook's base URL (loopback only); several replicas of one database comma separated: the set-up goes to the first, the timed requests round robin")
	fs.StringVar(&c.Key, "key", c.Key, "an admin API key (default $FLOWHOOK_API_KEY)")
	fs.StringVar(&c.Fakes, "fakes", "", "running fakes: their control URL (with -fakes-docusign and -fakes-onespan), or the JSON line fakeproviders printed; empty: start fakeproviders")
	fs.StringVar(&c.FakesBin, "fakes-bin", os.Getenv("FLOWHOOK_FAKES_BIN"), "fakeproviders binary to start (default: go build ./server/cmd/fakeproviders)")
	fs.StringVar(&c.FakesDS, "fakes-docusign", "", "the DocuSign fake's URL, with a control URL as -fakes")
	fs.StringVar(&c.FakesOS, "fakes-onespan", "", "the OneSpan fake's URL, with a control URL as -fakes")
	fs.StringVar(&pids, "server-pid", "", "flowhook process id(s), comma separated, whose CPU time to report")
	fs.BoolVar(&c.DBCPU, "db-cpu", c.DBCPU, "report the CPU time of every process named postgres on this machine")
	fs.DurationVar(&c.RSSEvery, "rss-every", c.RSSEvery, "read the -server-pid processes' resident memory this often during a timed part (JSON server_rss; 0: never)")
	fs.StringVar(&scenarios, "scenario", strings.Join(allScenarios, ","), "scenarios to run, comma separated")
	fs.StringVar(&c.Mode, "mode", c.Mode, "closed (N workers) or open (paced at -rate)")
	fs.IntVar(&c.Workers, "workers", c.Workers, "closed loop: concurrent workers")
	fs.Float64Var(&c.Rate, "rate", c.Rate, "open loop: requests a second")
	fs.DurationVar(&c.Duration, "duration", c.Duration, "time per scenario (and per sweep rate)")
	fs.IntVar(&c.Count, "count", 0, "requests per scenario (0: as many as -duration allows)")
	fs.IntVar(&c.MaxInflight, "max-inflight", c.MaxInflight, "open loop: requests outstanding at most; a send waits for a slot, its wait counted as latency")
	fs.DurationVar(&c.MaxLag, "max-lag", c.MaxLag, "open loop: a send that could not start this long after its intended time is dropped")
	fs.StringVar(&sweep, "sweep", "", "open loop at each rate (comma separated, per second) for one -scenario")
	fs.IntVar(&c.MinRequests, "min-requests", 0, "open loop: run each rate at least long enough for this many requests (a p99 of 100 requests is one request)")
	fs.StringVar(&c.SVG, "svg", "", "with -sweep: write a plot of p50 and p99 latency against offered load")
	fs.StringVar(&c.JSON, "json", "", "write every row to this file as JSON")
	fs.IntVar(&c.PoolMax, "pool-max", c.PoolMax, "at most this many items prepared for a scenario that uses one per request (transition, take)")
	fs.IntVar(&c.IngestPool, "ingest-pool", c.IngestPool, "coupled items an ingest scenario posts its events for, round robin")
	fs.StringVar(&c.VacuumDB, "vacuum-db", "", "flowhook's PostgreSQL database (URL, loopback only): VACUUM ANALYZE it before each list scenario, outside the timed part, as autovacuum would have (where it is off, the lists are planned on guesses)")
	fs.StringVar(&c.Baseline, "baseline", "", "a shell command run right before each timed part (its items prepared), whose output's last line is a rate, such as a short pgbench's tps: each row keeps it (JSON baseline_rate), so that the row can be set against the machine's speed at that moment")
	fs.BoolVar(&c.Verbose, "v", false, "print progress to stderr")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	c.Scenarios = splitList(scenarios)
	for _, p := range splitList(pids) {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 {
			return c, fmt.Errorf("-server-pid: %q is not a process id", p)
		}
		c.ServerPIDs = append(c.ServerPIDs, n)
	}
	for _, r := range splitList(sweep) {
		f, err := strconv.ParseFloat(r, 64)
		if err != nil {
			return c, fmt.Errorf("-sweep: %q is not a rate", r)
		}
		c.Sweep = append(c.Sweep, f)
	}
	return c, c.validate()
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
