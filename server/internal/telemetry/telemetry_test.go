package telemetry_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/flowhook/flowhook/server/internal/telemetry"
)

func TestSetupFromEnvironment(t *testing.T) {
	// Not parallel: Setup installs the global tracer provider.
	cases := []struct {
		name      string
		env       map[string]string
		exporting bool
		noop      bool
	}{
		{"no endpoint: spans made, not exported", nil, false, false},
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
			tel, err := telemetry.Setup(context.Background(), "test", func(k string) string { return tc.env[k] })
			require.NoError(t, err)
			require.Equal(t, tc.exporting, tel.Exporting)
			if tc.noop {
				require.IsType(t, noop.NewTracerProvider(), tel.TracerProvider)
			} else {
				require.IsType(t, &sdktrace.TracerProvider{}, tel.TracerProvider)
				_, span := tel.TracerProvider.Tracer("t").Start(context.Background(), "s")
				require.True(t, span.SpanContext().IsValid(), "spans carry trace ids for the logs")
				span.End()
			}
			require.NoError(t, tel.Shutdown(context.Background()))
		})
	}
}
