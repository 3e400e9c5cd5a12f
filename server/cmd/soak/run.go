package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flowhook/flowhook/server/internal/fakeproc"
)

// run is one soak: it sets everything up, drives, checks, prints the table to out and tears
// everything down. The error is for a soak that could not run; what it found is in the report.
func run(ctx context.Context, cfg config, out io.Writer) (*report, error) {
	started := time.Now()
	logf := func(format string, args ...any) {
		if cfg.Verbose {
			fmt.Fprintf(out, "%7.1fs  %s\n", time.Since(started).Seconds(), fmt.Sprintf(format, args...))
		}
	}
	work, err := os.MkdirTemp("", "soak-")
	if err != nil {
		return nil, err
	}
	keep := cfg.Keep
	defer func() {
		if keep {
			fmt.Fprintln(out, "soak: logs kept in", work)
			return
		}
		_ = os.RemoveAll(work)
	}()
	fail := func(err error) (*report, error) {
		keep = true
		return nil, err
	}

	// Binaries.
	if cfg.FlowhookBin == "" || cfg.FakesBin == "" {
		logf("building flowhook and fakeproviders")
		root, err := moduleRoot()
		if err != nil {
			return fail(err)
		}
		for _, b := range []struct {
			dst  *string
			name string
		}{{&cfg.FlowhookBin, "flowhook"}, {&cfg.FakesBin, "fakeproviders"}} {
			if *b.dst != "" {
				continue
			}
			*b.dst = filepath.Join(work, b.name)
			cmd := exec.CommandContext(ctx, "go", "build", "-o", *b.dst, "./server/cmd/"+b.name)
			cmd.Dir = root
			if msg, err := cmd.CombinedOutput(); err != nil {
				return fail(fmt.Errorf("go build ./server/cmd/%s: %w\n%s", b.name, err, msg))
			}
		}
	}

	// PostgreSQL of our own, and a database on it.
	bin, err := pgBinDir(cfg.PGBin)
	if err != nil {
		return fail(err)
	}
	logf("starting PostgreSQL (%s)", bin)
	pg, err := startPostgres(ctx, bin)
	if err != nil {
		return fail(err)
	}
	// Kept (a failure, or -keep): the cluster and the database stay, the server stopped, so
	// that what the report names can be looked up.
	var dbName string
	defer func() {
		if keep {
			pg.stop("fast")
			fmt.Fprint(out, pg.keptNote(dbName))
			return
		}
		pg.close()
	}()
	dbName, err = createDatabase(ctx, pg.url)
	if err != nil {
		return fail(fmt.Errorf("create database: %w", err))
	}
	defer func() {
		if keep {
			return
		}
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := dropDatabase(dctx, pg.url, dbName); err != nil {
			fmt.Fprintln(out, "soak: drop database:", err)
		}
	}()
	dbURL := pg.url(dbName)

	// The fakes.
	fakesLog, err := os.Create(filepath.Join(work, "fakeproviders.log"))
	if err != nil {
		return fail(err)
	}
	defer fakesLog.Close()
	// Every delivery is kept, for the check to compare with what flowhook stored: the fakes'
	// default keeps the newest 10,000, fewer than a soak of some 3,400 instances posts.
	fakes, err := fakeproc.Start(ctx, cfg.FakesBin, fakesLog, &http.Client{Timeout: 2 * time.Minute}, "-keep", strconv.Itoa(fakesKeepAll))
	if err != nil {
		return fail(err)
	}
	defer fakes.Stop()
	logf("fakes at %s", fakes.URLs.Control)

	// The proxy, then the replicas behind it: their public URL is the proxy's.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	proxyURL := "http://" + ln.Addr().String()
	adminKey := "fh_soak_" + randomKey(24, base64.RawURLEncoding)
	env := []string{
		"FLOWHOOK_DATABASE_URL=" + dbURL,
		"FLOWHOOK_SECRET_KEY=" + randomKey(32, base64.StdEncoding),
		"FLOWHOOK_BOOTSTRAP_ADMIN_KEY=" + adminKey,
		"FLOWHOOK_PUBLIC_URL=" + proxyURL,
		"FLOWHOOK_LOG_FORMAT=json",
		"FLOWHOOK_LOG_LEVEL=info",
		"FLOWHOOK_DB_MAX_CONNS=20",
		"OTEL_TRACES_EXPORTER=none",
		"OTEL_METRICS_EXPORTER=none",
		"OTEL_LOGS_EXPORTER=none",
	}
	if cfg.JobTimeout > 0 {
		env = append(env, "FLOWHOOK_JOB_TIMEOUT="+cfg.JobTimeout.String())
	}
	replicas := make([]*replica, cfg.Replicas)
	backends := make([]string, cfg.Replicas)
	for i := range replicas {
		port, err := freePort()
		if err != nil {
			return fail(err)
		}
		replicas[i] = &replica{index: i, bin: cfg.FlowhookBin, port: port, env: env, log: filepath.Join(work, fmt.Sprintf("replica-%d.log", i))}
		backends[i] = replicas[i].url()
	}
	px := newProxy(backends, 30*time.Second)
	srv := &http.Server{Handler: px, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: 2 * time.Minute, IdleTimeout: time.Minute}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	// The first replica alone is set up through: the others start once the settings are
	// saved. A replica reuses a settings read for up to engine.SecurityTTL, so one that had
	// read them before the Webhook Receiver debug option was turned on would, for that long,
	// acknowledge a notification flowhook does not act on (OneSpan's DOCUMENT_SIGNED)
	// without keeping it, and the check counts every acknowledged notification as kept.
	startReplica := func(i int) error {
		if err := replicas[i].start(ctx); err != nil {
			return fmt.Errorf("replica %d: %w", i, err)
		}
		px.setLive(i, true)
		return nil
	}
	for _, r := range replicas {
		defer r.stop()
	}
	if err := startReplica(0); err != nil {
		return fail(err)
	}

	db, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return fail(err)
	}
	defer db.Close()

	d := &driver{cfg: cfg, fakes: fakes, fakesKeep: fakesKeepAll, db: db, pg: pg, proxy: px, replicas: replicas, logf: logf,
		api: newAPI(proxyURL, adminKey)}
	if err := d.setUp(ctx); err != nil {
		return fail(fmt.Errorf("set up: %w", err))
	}
	logf("providers configured, workflows published")
	for i := 1; i < len(replicas); i++ {
		if err := startReplica(i); err != nil {
			return fail(err)
		}
	}
	logf("%d replicas ready behind %s", len(replicas), proxyURL)
	if err := d.drive(ctx); err != nil {
		d.stopBackground()
		return fail(err)
	}
	logf("driving done: %d started, %d acted; waiting for quiescence", d.startedCount(), d.actedCount())
	d.settle(ctx)
	rep, err := d.check(ctx)
	if err != nil {
		return fail(fmt.Errorf("check: %w", err))
	}
	rep.elapsed = time.Since(started)
	rep.print(out)
	if !rep.ok() {
		keep = true
	}
	return rep, nil
}

// moduleRoot is the nearest directory above the working directory with a go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", errors.New("no go.mod above the working directory: run the soak from the repository")
		}
		dir = up
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// replica is one `flowhook serve` process slot: killed and started again on the same port.
type replica struct {
	index int
	bin   string
	port  int
	env   []string
	log   string

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{} // closed when the current process has exited
	starts int
}

func (r *replica) url() string { return "http://127.0.0.1:" + strconv.Itoa(r.port) }

// start runs the process and returns once /readyz answers 200 (the database reachable).
func (r *replica) start(ctx context.Context) error {
	f, err := os.OpenFile(r.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(r.bin, "serve")
	cmd.Env = append(os.Environ(), r.env...)
	cmd.Env = append(cmd.Env, "FLOWHOOK_ADDR=127.0.0.1:"+strconv.Itoa(r.port))
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return err
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(done)
	}()
	r.mu.Lock()
	r.cmd, r.done = cmd, done
	r.starts++
	r.mu.Unlock()
	return waitReady(ctx, r.url()+"/readyz", done, 2*time.Minute)
}

// pid is the current process's id.
func (r *replica) pid() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cmd.Process.Pid
}

// exited reports whether the current process has ended.
func (r *replica) exited() bool {
	r.mu.Lock()
	done := r.done
	r.mu.Unlock()
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// kill ends the process with SIGKILL and waits for it.
func (r *replica) kill() {
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	r.mu.Unlock()
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// stop ends the process gracefully (SIGTERM), then with SIGKILL after 20 s.
func (r *replica) stop() {
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
	}
}

// waitReady polls url until it answers 200, the process exits or the time is up.
func waitReady(ctx context.Context, url string, exited <-chan struct{}, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		res, err := hc.Get(url)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return errors.New("the process exited before it was ready (see its log)")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer 200 within %s", url, limit)
		}
	}
}
