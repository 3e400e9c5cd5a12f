package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/testlog"
)

// TestReadBackErrorCodes: a notification its system could not confirm is answered with the
// system's readable words and a code that says whether to try again (Unavailable) or to fix
// something first (FailedPrecondition), never a bare internal error; a driver's text stays out.
func TestReadBackErrorCodes(t *testing.T) {
	t.Parallel()
	sys := engine.System{Provider: engine.Provider("ONESPAN")}
	for _, tc := range []struct {
		name  string
		cause error
		code  connect.Code
		text  string
	}{
		{"unreachable", errors.New("onespan: get package: dial tcp 10.0.0.7:443: connect: connection refused"), connect.CodeUnavailable,
			"ONESPAN pkg-1 could not be read back to confirm the notification: the system could not be reached (unavailable); the event is unchanged"},
		{"a 503", &engine.ProviderError{System: sys, HTTPStatus: 503, Message: "Service Unavailable"}, connect.CodeUnavailable,
			"ONESPAN pkg-1 could not be read back to confirm the notification: ONESPAN: HTTP 503: Service Unavailable; the event is unchanged"},
		{"the key refused", &engine.ProviderError{System: sys, HTTPStatus: 401, Code: "error.unauthorised", Message: "Invalid API key", Permanent: true},
			connect.CodeFailedPrecondition,
			"ONESPAN pkg-1 could not be read back to confirm the notification: ONESPAN: HTTP 401 error.unauthorised: Invalid API key; the event is unchanged"},
		{"not configured", fmt.Errorf("ONESPAN: %w", engine.ErrNotConfigured), connect.CodeFailedPrecondition,
			"ONESPAN pkg-1 could not be read back to confirm the notification: ONESPAN: the provider is not configured"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs testlog.Buffer
			err := toConnect(context.Background(), slog.New(slog.NewJSONHandler(&logs, nil)),
				fmt.Errorf("replaying: %w", &engine.ReadBackError{System: sys, ExternalID: "pkg-1", Err: tc.cause}))
			var cerr *connect.Error
			require.ErrorAs(t, err, &cerr)
			require.Equal(t, tc.code, cerr.Code())
			require.Contains(t, cerr.Message(), tc.text)
			require.NotContains(t, cerr.Message(), "10.0.0.7", "a driver's text stays out")
			require.NotContains(t, logs.String(), "internal error")
		})
	}
}
