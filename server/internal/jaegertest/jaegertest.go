// Package jaegertest gives tests a real Jaeger to export traces to and query back: a Jaeger v2
// all-in-one process with in-memory storage, private to the test, listening only on loopback
// ports picked at start, so any number of test binaries can run one at the same time.
//
// The binary is the one `make jaeger` builds (and `make test` builds through it), found through
// the environment variable FLOWHOOK_JAEGER_BIN; without it Start fails the test — it never
// skips it.
//
// Jaeger receives OTLP over HTTP (OTLPEndpoint, OTLPTracesURL); FindTraces and GetTrace read
// its query API (/api/traces), which reports traces in Jaeger's own model, not OpenTelemetry's.
// What Jaeger v1.76.0 makes of an OTLP span there, as observed:
//
//   - The parent becomes a reference {"refType":"CHILD_OF","traceID","spanID"}, listed first;
//     a root span has "references": []. A span link becomes a reference
//     {"refType":"FOLLOWS_FROM","traceID","spanID"} to the linked span, in another trace too.
//     The link's attributes are dropped: neither shown nor searchable.
//   - Attributes become "tags": [{"key","type","value"}], type "string", "bool", "int64",
//     "float64" or "binary" and value a JSON string, bool, number or base64 string to match;
//     arrays and maps become type "string" holding their JSON ("[\"x\",3]"). Jaeger adds
//     "otel.scope.name" (and "otel.scope.version" when set), "span.kind" (always, "internal"
//     too) and, for an error status, "otel.status_code":"ERROR", "error":true and
//     "otel.status_description". [Span.Tag] renders any value as a string.
//   - A span event becomes a log {"timestamp": µs since the epoch, "fields": [...]}: first
//     {"key":"event","type":"string","value":<the event's name>}, then the event's attributes
//     as further fields. [Span.Events] turns logs back into named events.
//   - The resource becomes the trace's "processes" entry named by the span's "processID" ("p1",
//     …): "serviceName" from service.name, the other resource attributes as its tags.
//   - "startTime" and "duration" are microseconds.
//   - The traces search's tags filter (AND of all pairs, values compared as strings) matches
//     span, resource and event attributes, but not link attributes nor the tags Jaeger derives
//     (span.kind, error, otel.status_code, otel.scope.*).
//   - An unknown trace ID is a 404 with {"errors":[{"code":404,"msg":"trace not found"}]}
//     (GetTrace: ErrTraceNotFound); a search without matches is a 200 with "data": [].
//
// Jaeger here has no batch processor, so a flushed span is queryable within milliseconds —
// but not necessarily at once: assertions poll (require.EventuallyWithT) rather than query once.
package jaegertest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowhook/flowhook/server/internal/testlog"
)

// BinEnv names the environment variable holding the path of the Jaeger binary.
const BinEnv = "FLOWHOOK_JAEGER_BIN"

const (
	// startTimeout bounds the wait for a started Jaeger to report healthy.
	startTimeout = 30 * time.Second
	// stopTimeout is how long Jaeger gets to exit after SIGTERM before it is killed.
	stopTimeout = 10 * time.Second
	// startAttempts is how often Start tries with fresh ports when one was taken meanwhile.
	startAttempts = 3
)

// Jaeger is a running Jaeger, stopped when the test that started it ends.
type Jaeger struct {
	otlpPort, queryPort, healthPort int
	client                          *http.Client
	out                             *testlog.Buffer // the process writes it while the test reads
}

// config is the collector configuration Jaeger runs with: memory storage, OTLP over HTTP in,
// the query HTTP API and the health check out, each on a loopback port given through the
// environment; everything else that would listen is left out or on an ephemeral loopback port.
const config = `# Written by flowhook's server/internal/jaegertest.
service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: info

extensions:
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
  jaeger_query:
    storage:
      traces: memstore
    enable_tracing: false
    http:
      endpoint: "127.0.0.1:${env:JAEGERTEST_QUERY_PORT}"
    grpc:
      endpoint: "127.0.0.1:0"
  healthcheckv2:
    use_v2: true
    http:
      endpoint: "127.0.0.1:${env:JAEGERTEST_HEALTH_PORT}"

receivers:
  otlp:
    protocols:
      http:
        endpoint: "127.0.0.1:${env:JAEGERTEST_OTLP_PORT}"

exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`

// Start starts a Jaeger for the test and waits until it is healthy; it stops when the test
// ends. It fails the test when Jaeger is not built (FLOWHOOK_JAEGER_BIN) or does not come up.
func Start(t testing.TB) *Jaeger {
	t.Helper()
	bin := os.Getenv(BinEnv)
	if bin == "" {
		t.Fatalf("jaegertest: %s is not set: run the tests with `make test`, or build Jaeger with "+
			"`make jaeger` and set %s to the path it prints", BinEnv, BinEnv)
	}
	if fi, err := os.Stat(bin); err != nil || fi.IsDir() {
		t.Fatalf("jaegertest: %s=%s is not a Jaeger binary (%v): run `make jaeger` (or `make test`) "+
			"to build it", BinEnv, bin, err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "jaeger.yaml")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatalf("jaegertest: write config: %v", err)
	}
	var lastErr error
	for attempt := 1; attempt <= startAttempts; attempt++ {
		j, retry, err := start(t, bin, cfg)
		if err == nil {
			return j
		}
		lastErr = err
		if !retry {
			break
		}
		t.Logf("jaegertest: attempt %d: %v; retrying with other ports", attempt, err)
	}
	t.Fatalf("jaegertest: %v", lastErr)
	return nil
}

// start runs Jaeger once on fresh ports. retry reports that it failed because a port was taken.
func start(t testing.TB, bin, cfg string) (j *Jaeger, retry bool, err error) {
	t.Helper()
	ports, err := freePorts(3)
	if err != nil {
		return nil, false, err
	}
	j = &Jaeger{
		otlpPort: ports[0], queryPort: ports[1], healthPort: ports[2],
		client: &http.Client{Timeout: 10 * time.Second},
		out:    &testlog.Buffer{},
	}

	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--config", cfg)
	cmd.Env = append(environ(),
		"JAEGERTEST_OTLP_PORT="+strconv.Itoa(j.otlpPort),
		"JAEGERTEST_QUERY_PORT="+strconv.Itoa(j.queryPort),
		"JAEGERTEST_HEALTH_PORT="+strconv.Itoa(j.healthPort),
	)
	cmd.Stdout, cmd.Stderr = j.out, j.out
	cmd.SysProcAttr = sysProcAttr()
	// Cancelling asks Jaeger to shut down; Wait kills it when it has not exited in time.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = stopTimeout
	began := time.Now()
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, false, fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	stop := func() {
		cancel()
		<-exited
	}

	if err := j.waitReady(exited, began); err != nil {
		stop()
		out := j.out.String()
		return nil, strings.Contains(out, "address already in use"),
			fmt.Errorf("Jaeger did not come up: %w\n--- Jaeger output ---\n%s", err, out)
	}
	t.Logf("jaegertest: Jaeger healthy after %v (OTLP %s, query %s)",
		time.Since(began).Round(time.Millisecond), j.OTLPEndpoint(), j.QueryURL())

	t.Cleanup(func() {
		select {
		case <-exited:
			t.Errorf("jaegertest: Jaeger exited while the test ran: %v\n--- Jaeger output ---\n%s",
				waitErr, j.out.String())
			return
		default:
		}
		stop()
		// Wait reports a clean exit after SIGTERM (status 0) as the cancelled context's error;
		// anything else (a failed shutdown, a kill after stopTimeout) is worth seeing.
		if waitErr != nil && !errors.Is(waitErr, context.Canceled) {
			t.Errorf("jaegertest: Jaeger did not stop cleanly: %v\n--- Jaeger output ---\n%s",
				waitErr, j.out.String())
		} else if t.Failed() {
			t.Logf("jaegertest: Jaeger output:\n%s", j.out.String())
		}
	})
	return j, false, nil
}

// waitReady polls until the health check reports healthy, the query API answers and the OTLP
// receiver accepts connections; it gives up when Jaeger exits or startTimeout passes.
func (j *Jaeger) waitReady(exited <-chan struct{}, began time.Time) error {
	deadline := time.NewTimer(startTimeout - time.Since(began))
	defer deadline.Stop()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if last = j.ready(); last == nil {
			return nil
		}
		select {
		case <-exited:
			return errors.New("Jaeger exited")
		case <-deadline.C:
			return fmt.Errorf("not healthy after %v: %w", startTimeout, last)
		case <-tick.C:
		}
	}
}

func (j *Jaeger) ready() error {
	for _, u := range []string{
		fmt.Sprintf("http://127.0.0.1:%d/status", j.healthPort),
		j.QueryURL() + "/api/services",
	} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			cancel()
			return err
		}
		resp, err := j.client.Do(req)
		if err != nil {
			cancel()
			return err
		}
		resp.Body.Close()
		cancel()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", u, resp.Status)
		}
	}
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(j.otlpPort)), time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

// OTLPEndpoint is the base URL of Jaeger's OTLP/HTTP receiver, as OTEL_EXPORTER_OTLP_ENDPOINT
// takes it (the SDK appends /v1/traces). otlptracehttp.WithEndpointURL and
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT take the full URL, with its path: OTLPTracesURL.
func (j *Jaeger) OTLPEndpoint() string { return fmt.Sprintf("http://127.0.0.1:%d", j.otlpPort) }

// OTLPTracesURL is the URL Jaeger receives OTLP/HTTP traces at, as otlptracehttp.WithEndpointURL
// and OTEL_EXPORTER_OTLP_TRACES_ENDPOINT take it (they use the URL's path as it is, so the bare
// OTLPEndpoint would send to "/" and get 404s).
func (j *Jaeger) OTLPTracesURL() string { return j.OTLPEndpoint() + "/v1/traces" }

// QueryURL is the base URL of Jaeger's query HTTP API (/api/services, /api/traces, …).
func (j *Jaeger) QueryURL() string { return fmt.Sprintf("http://127.0.0.1:%d", j.queryPort) }

// Output is what Jaeger has logged so far.
func (j *Jaeger) Output() string { return j.out.String() }

// freePorts returns n distinct loopback ports that were free a moment ago. It holds them all
// open at once so that they differ; Start retries when one was taken before Jaeger bound it.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("pick a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// environ is the test's environment without the OpenTelemetry SDK's variables, which a test
// may set for the code it tests and which must not point Jaeger's own telemetry anywhere.
func environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OTEL_") && !strings.HasPrefix(kv, "JAEGERTEST_") {
			env = append(env, kv)
		}
	}
	return env
}
