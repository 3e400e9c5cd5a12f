package webhook_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/webhook"
)

// acceptAll is a system's webhook side that takes any JSON object as an event of its own.
type acceptAll struct{ sys engine.System }

func (a acceptAll) System() engine.System { return a.sys }
func (a acceptAll) Route() string         { return webhook.Pattern }
func (a acceptAll) Limits() engine.InboundLimits {
	return engine.InboundLimits{MaxBody: 1 << 10, MaxBodyText: "1 KiB", Sender: "the test", Noun: "test notifications", One: "notification", Item: "item"}
}
func (a acceptAll) Credentials(context.Context) ([]string, error) { return nil, nil }
func (a acceptAll) Authenticate([]byte, http.Header, []string) engine.Authentication {
	return engine.Authentication{OK: true, Note: "anything goes"}
}
func (a acceptAll) Parse(_ []byte, _ http.Header) (engine.InboundEvent, error) {
	return engine.InboundEvent{Type: "test", ExternalID: "x", DedupeKey: uuid.NewString()}, nil
}
func (a acceptAll) Handles(string) bool { return true }

// storeAll stores every event as applied.
type storeAll struct{}

func (storeAll) Receive(ctx context.Context, ev engine.StoredEvent) (engine.StoredEvent, bool, error) {
	ev.ID, ev.Verdict = uuid.NewString(), engine.VerdictApplied
	return ev, true, nil
}

func TestRouter(t *testing.T) {
	t.Parallel()
	var got []string
	sys := engine.System{Provider: "TEST"}
	rt, err := webhook.NewRouter(webhook.Options{
		Lookup: func(_ context.Context, route, connector string) (engine.Receiving, bool, error) {
			got = append(got, route+"|"+connector)
			return acceptAll{sys: sys}, strings.EqualFold(route, "DocuSign") && connector == "", nil
		},
		Ingest:         storeAll{},
		TracerProvider: tracenoop.NewTracerProvider(), MeterProvider: metricnoop.NewMeterProvider()})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle(webhook.Pattern, rt)
	mux.Handle(webhook.ConnectorPattern, rt)

	cases := []struct {
		method, path string
		status       int
		errText      string
	}{
		{http.MethodPost, "/webhooks/DocuSign", http.StatusOK, ""},
		{http.MethodPost, "/webhooks/docusign", http.StatusOK, ""},
		{http.MethodPost, "/webhooks/DOCUSIGN", http.StatusOK, ""},
		{http.MethodGet, "/webhooks/DocuSign", http.StatusMethodNotAllowed, "webhooks accept POST only"},
		{http.MethodPut, "/webhooks/DocuSign", http.StatusMethodNotAllowed, "webhooks accept POST only"},
		{http.MethodPost, "/webhooks/Unknown", http.StatusNotFound, "no such webhook provider"},
		{http.MethodPost, "/webhooks/c2i/nobody", http.StatusNotFound, "no such webhook provider or connector"},
	}
	for _, tc := range cases {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/json")
		mux.ServeHTTP(rec, req)
		require.Equal(t, tc.status, rec.Code, "%s %s", tc.method, tc.path)
		if tc.errText != "" {
			var body map[string]string
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
			require.Equal(t, tc.errText, body["error"])
			require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
		}
		if tc.status == http.StatusMethodNotAllowed {
			require.Equal(t, http.MethodPost, rec.Header().Get("Allow"))
		}
	}
	require.Equal(t, []string{"DocuSign|", "docusign|", "DOCUSIGN|", "DocuSign|", "DocuSign|", "Unknown|", "c2i|nobody"}, got)
}
