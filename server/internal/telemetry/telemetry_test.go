package telemetry_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/flowhook/flowhook/server/internal/telemetry"
	"github.com/flowhook/flowhook/server/internal/testlog"
)

func TestSetupFromEnvironment(t *testing.T) {
	// Not parallel: Setup installs the global tracer provider.
	cases := []struct {
		name      string
		env       map[string]string
		exporting bool
		noop      bool
	}{
		{"no endpoint: spans made, not recorded or exported", nil, false, false},
		{"endpoint: OTLP over HTTP", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, true, false},
		{"traces endpoint", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, true, false},
		{"exporter none wins", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_TRACES_EXPORTER": "none"}, false, false},
		{"sdk disabled", map[string]string{"OTEL_SDK_DISABLED": "true"}, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v) // the OTLP exporter reads the process environment itself
			}
			tel, err := telemetry.Setup(context.Background(), "test", func(k string) string { return tc.env[k] }, slog.New(slog.DiscardHandler))
			require.NoError(t, err)
			require.Equal(t, tc.exporting, tel.Exporting)
			if tc.noop {
				require.IsType(t, noop.NewTracerProvider(), tel.TracerProvider)
			} else {
				require.IsType(t, &sdktrace.TracerProvider{}, tel.TracerProvider)
				_, span := tel.TracerProvider.Tracer("t").Start(context.Background(), "s")
				require.True(t, span.SpanContext().IsValid(), "spans carry trace ids for the logs")
				require.Equal(t, tc.exporting, span.IsRecording(), "recorded only when they are exported")
				span.End()
				// A caller that asks for its trace to be sampled has its spans recorded.
				parent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2},
					TraceFlags: trace.FlagsSampled, Remote: true})
				_, child := tel.TracerProvider.Tracer("t").Start(trace.ContextWithRemoteSpanContext(context.Background(), parent), "s")
				require.True(t, child.IsRecording())
				require.Equal(t, parent.TraceID(), child.SpanContext().TraceID())
				child.End()
			}
			require.NoError(t, tel.Shutdown(context.Background()))
		})
	}
}

// TestExporterErrorsGoThroughTheLogger: a collector that refuses the spans makes the OTLP
// exporter fail; the failure is a WARN record of the JSON logger, not plain text on stderr.
func TestExporterErrorsGoThroughTheLogger(t *testing.T) {
	// Not parallel: Setup installs the global tracer provider and error handler.
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no spans today", http.StatusBadRequest)
	}))
	defer collector.Close()
	env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL}
	for k, v := range env {
		t.Setenv(k, v) // the OTLP exporter reads the process environment itself
	}
	var logs testlog.Buffer // the exporter's goroutine writes it
	tel, err := telemetry.Setup(context.Background(), "test", func(k string) string { return env[k] }, slog.New(slog.NewJSONHandler(&logs, nil)))
	require.NoError(t, err)
	require.True(t, tel.Exporting)
	_, span := tel.TracerProvider.Tracer("t").Start(context.Background(), "refused")
	span.End()
	_ = tel.Shutdown(context.Background()) // drains the batch: the export fails

	var rec struct {
		Level string `json:"level"`
		Msg   string `json:"msg"`
		Error string `json:"error"`
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	require.NotEmpty(t, lines[0], "the exporter's error was not logged")
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &rec), "not a JSON record: %s", lines[0])
	require.Equal(t, "WARN", rec.Level)
	require.Equal(t, "OpenTelemetry error", rec.Msg)
	require.Contains(t, rec.Error, "400")
	otel.SetErrorHandler(telemetry.ErrorHandler(slog.New(slog.DiscardHandler)))
}

// TestSetupRefusesWhatItWouldMisread: export settings this build would ignore or misread at its
// first export (long after start-up) stop Setup with the variable's name instead.
func TestSetupRefusesWhatItWouldMisread(t *testing.T) {
	for _, env := range []map[string]string{
		{"OTEL_TRACES_EXPORTER": "console"},
		{"OTEL_TRACES_EXPORTER": "zipkin", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"},
		{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317"},
		{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "127.0.0.1:4318"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"},
		{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "ftp://collector/v1/traces"},
	} {
		_, err := telemetry.Setup(context.Background(), "test", func(k string) string { return env[k] }, slog.New(slog.DiscardHandler))
		require.Error(t, err, "%v", env)
		named := false
		for k := range env {
			named = named || strings.Contains(err.Error(), k)
		}
		require.True(t, named, "the error names the variable: %v", err)
	}
	ok := map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_TRACES_EXPORTER": "none"}
	tel, err := telemetry.Setup(context.Background(), "test", func(k string) string { return ok[k] }, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.NoError(t, tel.Shutdown(context.Background()))
}

// TestShutdownIsBounded: a collector that takes the connection and never answers does not hold
// Shutdown for the exporter's own timeout (set here to ten minutes): a context without a
// deadline gets telemetry.FlushTimeout. The bound below is the test's liveness limit only.
func TestShutdownIsBounded(t *testing.T) {
	// Not parallel: Setup installs the global tracer provider.
	hold := make(chan struct{})
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hold }))
	defer collector.Close()
	defer close(hold)
	env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL, "OTEL_EXPORTER_OTLP_TIMEOUT": "600000", "OTEL_BSP_EXPORT_TIMEOUT": "600000"}
	for k, v := range env {
		t.Setenv(k, v)
	}
	tel, err := telemetry.Setup(context.Background(), "test", func(k string) string { return env[k] }, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	_, span := tel.TracerProvider.Tracer("t").Start(context.Background(), "held")
	span.End()
	done := make(chan error, 1)
	go func() { done <- tel.Shutdown(context.Background()) }()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.DeadlineExceeded, "the flush was cut at FlushTimeout")
	case <-time.After(time.Minute):
		t.Fatal("Shutdown waits for a collector that never answers")
	}
	otel.SetErrorHandler(telemetry.ErrorHandler(slog.New(slog.DiscardHandler)))
}
