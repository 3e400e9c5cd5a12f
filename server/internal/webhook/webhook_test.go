package webhook_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/webhook"
)

func TestRouter(t *testing.T) {
	t.Parallel()
	rt := webhook.NewRouter()
	var got []string
	rt.Handle("DocuSign", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.URL.Path)
		w.WriteHeader(http.StatusOK)
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
