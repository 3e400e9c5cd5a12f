// Command soak is the chaos test of flowhook's webhook pipeline: it runs N replicas of the real
// binary on one PostgreSQL of its own behind a small round-robin proxy, drives M instances
// through DocuSign, OneSpan and connector states with the provider fakes (server/cmd/
// fakeproviders) sending every notification ×3, a share of the items' notifications newest
// first (the outcome before the progress that led to it), kills replicas with SIGKILL and crashes
// PostgreSQL (pg_ctl -m immediate) at random moments, and then checks the database against the
// fakes: every webhook stored once, every outcome applied once, one work item and one item at
// the provider per external step, every instance in the end state its outcome implies, no job
// left to run (running, available, retryable, scheduled, pending; new runs of the periodic
// ones aside) and no event left PENDING, no event taking effect on a work item after its
// outcome, and the surviving replicas' memory flat. It prints a table and exits 1 when the
// soak never became quiescent (every instance ended, no job left, no event PENDING) within
// -settle, when anything was lost, doubled or stranded, or when memory grew.
//
//	go run ./server/cmd/soak [-instances 200] [-replicas 2] [-kills 1] [-restarts 1] [-duration 30s] [-reorder 0.2]
//
// It builds ./server/cmd/flowhook and ./server/cmd/fakeproviders (or takes -flowhook-bin and
// -fakes-bin), and needs PostgreSQL's binaries (initdb, pg_ctl, pg_isready: -pg-bin, else the
// newest /usr/lib/postgresql/*/bin); as root it runs them as the postgres user. Everything
// lives in two temporary directories, the logs' and the cluster's, removed at the end, unless
// -keep or a failure: then both are left, the cluster stopped with the soak's database in it
// (the ids in the report can be looked up), and the soak prints where, and how to start the
// cluster and stop it again.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
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
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	rep, err := run(ctx, cfg, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	if !rep.ok() {
		os.Exit(1)
	}
}

// config is what one soak does.
type config struct {
	Instances   int           // M
	Replicas    int           // N
	Kills       int           // SIGKILLs of a replica, each started again
	Restarts    int           // crashes of PostgreSQL, each started again
	Duplicates  int           // every notification posted this many times
	Duration    time.Duration // the driving phase: instances are started and chaos happens within it
	Settle      time.Duration // the longest wait for quiescence after it
	Early       float64       // the share of items acted on as soon as they exist, racing the coupling
	Reorder     float64       // the share of items whose notifications the fake posts newest first (outcome before progress)
	Decline     float64       // the share of items declined (else completed)
	Concurrency int           // instances started at once
	Seed        int64
	PGBin       string
	FlowhookBin string
	FakesBin    string
	JobTimeout  time.Duration // passed to the replicas as FLOWHOOK_JOB_TIMEOUT when set
	Keep        bool
	Verbose     bool
}

func (c config) validate() error {
	var errs []error
	if c.Instances < 1 {
		errs = append(errs, errors.New("-instances: want at least 1"))
	}
	if c.Replicas < 1 {
		errs = append(errs, errors.New("-replicas: want at least 1"))
	}
	if c.Kills < 0 || c.Restarts < 0 {
		errs = append(errs, errors.New("-kills, -restarts: want 0 or more"))
	}
	if c.Kills > 0 && c.Replicas < 2 {
		errs = append(errs, errors.New("-kills: needs at least 2 replicas, so that one serves while another is down"))
	}
	if c.Duplicates < 1 || c.Duplicates > 10 {
		errs = append(errs, errors.New("-duplicates: want 1 to 10 (what the fakes take)"))
	}
	if c.Duration <= 0 || c.Settle <= 0 {
		errs = append(errs, errors.New("-duration, -settle: want more than 0"))
	}
	if c.Early < 0 || c.Early > 1 || c.Decline < 0 || c.Decline > 1 || c.Reorder < 0 || c.Reorder > 1 {
		errs = append(errs, errors.New("-early, -decline, -reorder: want a share from 0 to 1"))
	}
	if c.Concurrency < 1 {
		errs = append(errs, errors.New("-concurrency: want at least 1"))
	}
	return errors.Join(errs...)
}

func defaults() config {
	return config{Instances: 200, Replicas: 2, Kills: 1, Restarts: 1, Duplicates: 3, Duration: 30 * time.Second,
		Settle: 2 * time.Minute, Early: 0.2, Reorder: 0.2, Decline: 0.3, Concurrency: 16, Seed: time.Now().UnixNano()}
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	c := defaults()
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.Instances, "instances", c.Instances, "instances to drive (M)")
	fs.IntVar(&c.Replicas, "replicas", c.Replicas, "flowhook replicas behind the proxy (N)")
	fs.IntVar(&c.Kills, "kills", c.Kills, "times a replica is killed with SIGKILL and started again")
	fs.IntVar(&c.Restarts, "restarts", c.Restarts, "times PostgreSQL is stopped with -m immediate and started again")
	fs.IntVar(&c.Duplicates, "duplicates", c.Duplicates, "every notification is posted this many times (1 to 10)")
	fs.DurationVar(&c.Duration, "duration", c.Duration, "driving phase: instances start and chaos happens within it")
	fs.DurationVar(&c.Settle, "settle", c.Settle, "longest wait for quiescence after the driving phase")
	fs.Float64Var(&c.Early, "early", c.Early, "share of items acted on as soon as they exist, before flowhook couples them")
	fs.Float64Var(&c.Reorder, "reorder", c.Reorder, "share of items whose notifications the fake holds until the item ends, then posts newest first")
	fs.Float64Var(&c.Decline, "decline", c.Decline, "share of items declined or rejected (the others complete)")
	fs.IntVar(&c.Concurrency, "concurrency", c.Concurrency, "instances started at once")
	fs.Int64Var(&c.Seed, "seed", c.Seed, "random seed (chaos moments, outcomes)")
	fs.StringVar(&c.PGBin, "pg-bin", "", "directory of initdb and pg_ctl (default: newest /usr/lib/postgresql/*/bin)")
	fs.StringVar(&c.FlowhookBin, "flowhook-bin", os.Getenv("FLOWHOOK_BIN"), "flowhook binary (default: built; env FLOWHOOK_BIN)")
	fs.StringVar(&c.FakesBin, "fakes-bin", os.Getenv("FLOWHOOK_FAKES_BIN"), "fakeproviders binary (default: built; env FLOWHOOK_FAKES_BIN)")
	fs.DurationVar(&c.JobTimeout, "job-timeout", 0, "FLOWHOOK_JOB_TIMEOUT for the replicas (0: their default); a job of a killed replica is rescued after about 1.5× it")
	fs.BoolVar(&c.Keep, "keep", false, "keep the temporary directories (logs, and PostgreSQL's cluster with the soak's database) even when the soak passes")
	fs.BoolVar(&c.Verbose, "v", false, "print progress")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return c, c.validate()
}

// randomKey is base64 of n random bytes.
func randomKey(n int, enc *base64.Encoding) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return enc.EncodeToString(b)
}

// percentile is the p-th percentile (0 to 100) of sorted durations; 0 for none.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
