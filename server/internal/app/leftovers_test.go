package app_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/flowhook/flowhook/server/internal/app"
	"github.com/flowhook/flowhook/server/internal/config"
	"github.com/flowhook/flowhook/server/internal/telemetry"
)

// TestServeWarnsOfSandboxLeftovers: a server started without the sandbox, on a database a
// sandbox start configured, warns of each system still pointing at the sandbox (its work items
// would fail), naming it; with the sandbox, nothing of the kind is said.
func TestServeWarnsOfSandboxLeftovers(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.PublicURL = "http://127.0.0.1:8080"
	start := func(withSandbox bool) string {
		var logs bytes.Buffer
		c := cfg
		c.Sandbox = withSandbox
		a, err := app.New(context.Background(), c, slog.New(slog.NewJSONHandler(&logs, nil)), &telemetry.Telemetry{TracerProvider: noop.NewTracerProvider()})
		require.NoError(t, err)
		require.NoError(t, a.Close())
		return logs.String()
	}
	fresh := start(false)
	require.NotContains(t, fresh, "points at a sandbox", "nothing configured: nothing to warn of")
	sandboxed := start(true)
	require.NotContains(t, sandboxed, "points at a sandbox this server does not serve")

	logs := start(false)
	var warned []string
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		if strings.Contains(line, "points at a sandbox this server does not serve") {
			require.Contains(t, line, `"level":"WARN"`)
			warned = append(warned, line)
		}
	}
	require.Len(t, warned, 3, logs)
	for i, system := range []string{`"system":"DOCUSIGN"`, `"system":"ONESPAN"`, `"system":"connector:sandbox"`} {
		require.Contains(t, warned[i], system)
	}
}
