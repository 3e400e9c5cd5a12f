// Package telemetry sets up OpenTelemetry from the standard OTEL_* environment. Traces: with an
// OTLP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) spans are
// exported over OTLP/HTTP in batches; without one they are still created (trace ids reach the
// logs and the Event Log) but exported nowhere. Metrics: always on, read by Prometheus at
// GET /metrics. OTEL_SDK_DISABLED=true turns both off.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// ServiceName is the default service.name of flowhook's spans (OTEL_SERVICE_NAME wins).
const ServiceName = "flowhook"

// Telemetry is the configured tracer and meter providers, the /metrics handler, and how to
// flush them.
type Telemetry struct {
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
	// Metrics serves the meter provider's instruments in Prometheus' text format (GET /metrics).
	Metrics http.Handler
	// Exporting says whether spans leave the process.
	Exporting bool
	shutdown  func(context.Context) error
}

// Setup builds the tracer provider from getenv and installs it, with the W3C trace-context
// and baggage propagators, as the global one. The SDK's own errors (an exporter that cannot
// reach its collector, …) go to log as WARN records rather than to stderr as plain text.
func Setup(ctx context.Context, version string, getenv func(string) string, log *slog.Logger) (*Telemetry, error) {
	otel.SetErrorHandler(ErrorHandler(log))
	t := &Telemetry{shutdown: func(context.Context) error { return nil }}
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") {
		t.TracerProvider = noop.NewTracerProvider()
		t.MeterProvider = metricnoop.NewMeterProvider()
		return t, nil
	}
	res, err := resource.Merge(resource.Default(), resource.NewWithAttributes(semconv.SchemaURL,
		semconv.ServiceName(ServiceName), semconv.ServiceVersion(version)))
	if err != nil {
		return nil, fmt.Errorf("telemetry resource: %w", err)
	}
	// resource.Default already read OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES; let them win.
	if env, err := resource.New(ctx, resource.WithFromEnv()); err == nil {
		if merged, err := resource.Merge(res, env); err == nil {
			res = merged
		}
	}
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	exporter := getenv("OTEL_TRACES_EXPORTER")
	endpoint := getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") + getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
	if err := checkExport(getenv); err != nil {
		return nil, err
	}
	if exporter != "none" && (endpoint != "" || exporter == "otlp") {
		exp, err := otlptracehttp.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("OTLP trace exporter: %w", err)
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
		t.Exporting = true
	} else {
		// Spans that leave nothing behind are not recorded: their attributes, events and links
		// were built for nobody (5% of the server's CPU under webhooks). Their contexts are
		// still made, so events keep their trace ids, and a caller that asks for its trace to
		// be sampled (a sampled traceparent) still has its spans recorded.
		opts = append(opts, sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample())))
	}
	tp := sdktrace.NewTracerProvider(opts...)
	mp, handler, err := newMetrics(res)
	if err != nil {
		return nil, err
	}
	t.TracerProvider, t.MeterProvider, t.Metrics = tp, mp, handler
	t.shutdown = func(ctx context.Context) error { return errors.Join(tp.Shutdown(ctx), mp.Shutdown(ctx)) }
	otel.SetTracerProvider(tp)
	otel.SetMeterProvider(mp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return t, nil
}

// checkExport refuses, at start-up, trace-export settings this build would otherwise ignore or
// misread at its first export, long after: an exporter other than OTLP, OTLP over gRPC, and an
// endpoint that is not an absolute http(s) URL (the SDK reads "127.0.0.1:4318" as a URL
// without a scheme and exports to https://localhost:4318).
func checkExport(getenv func(string) string) error {
	switch e := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")); e {
	case "", "otlp", "none":
	default:
		return fmt.Errorf("OTEL_TRACES_EXPORTER=%q: flowhook exports traces over OTLP only (otlp, or none to export nothing)", e)
	}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if p := strings.TrimSpace(getenv(name)); p != "" && p != "http/protobuf" {
			return fmt.Errorf("%s=%q: flowhook exports over OTLP/HTTP with protobuf only (http/protobuf; a collector's port 4318)", name, p)
		}
	}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"} {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			continue
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%s=%q: not an absolute http(s) URL, such as http://127.0.0.1:4318", name, v)
		}
	}
	return nil
}

// ErrorHandler logs OpenTelemetry's errors as WARN records of log.
func ErrorHandler(log *slog.Logger) otel.ErrorHandler {
	return otel.ErrorHandlerFunc(func(err error) {
		log.Warn("OpenTelemetry error", "error", err.Error())
	})
}

// New returns telemetry with the tracer provider and a Prometheus-read meter provider of its
// own, installing nothing globally (tests run several servers in one process).
func New(tp trace.TracerProvider) (*Telemetry, error) {
	mp, handler, err := newMetrics(resource.Default())
	if err != nil {
		return nil, err
	}
	return &Telemetry{TracerProvider: tp, MeterProvider: mp, Metrics: handler, shutdown: mp.Shutdown}, nil
}

// FlushTimeout bounds Shutdown when its context has no deadline of its own: a collector that
// takes connections and never answers would otherwise hold the process for the exporter's own
// timeout (30 s) after the server has drained.
const FlushTimeout = 5 * time.Second

// Shutdown flushes pending spans, for FlushTimeout at most unless ctx sets its own deadline.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, FlushTimeout)
		defer cancel()
	}
	if err := t.shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("telemetry shutdown: %w", err)
	}
	return nil
}
