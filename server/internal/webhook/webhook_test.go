package webhook_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/webhook"
)

type receiverFunc func(r *http.Request, d *webhook.Delivery) webhook.Reply

func (f receiverFunc) Receive(r *http.Request, d *webhook.Delivery) webhook.Reply { return f(r, d) }

func TestRouter(t *testing.T) {
	t.Parallel()
	rt, err := webhook.NewRouter(webhook.Options{TracerProvider: tracenoop.NewTracerProvider(), MeterProvider: metricnoop.NewMeterProvider()})
	require.NoError(t, err)
	var got []string
	rt.Handle(engine.ProviderDocuSign, "DocuSign", receiverFunc(func(r *http.Request, _ *webhook.Delivery) webhook.Reply {
		got = append(got, r.URL.Path)
		return webhook.Reply{Status: http.StatusOK, Result: "accepted"}
	}))
	mux := http.NewServeMux()
	mux.Handle(webhook.Pattern, rt)

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
	}
	for _, tc := range cases {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, strings.NewReader(`{}`)))
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
	require.Equal(t, []string{"/webhooks/DocuSign", "/webhooks/docusign", "/webhooks/DOCUSIGN"}, got)
}
