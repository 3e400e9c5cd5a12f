package connectorfake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/provider/connector/connectorfake"
	swh "github.com/flowhook/flowhook/server/internal/provider/connector/standardwebhooks"
)

// FuzzCreate: whatever a signed create carries, the fake answers 201 with a ticket, or 400 or
// 415 with a JSON error and no ticket; it never panics. Callbacks go nowhere: the fuzzer picks
// the callbackUrl, so the fake's client may not dial at all.
func FuzzCreate(f *testing.F) {
	f.Add([]byte(`{"type":"workitem.create","timestamp":"2026-05-04T09:00:00Z","data":{"workItemId":"wi_1","instanceId":"i",`+
		`"workflowId":"w","workflowVersion":1,"state":"S","formData":{},"callbackUrl":"http://127.0.0.1:1/hook",`+
		`"document":{"title":"t","contentType":"application/pdf","base64":"JVBERg=="}}}`), "wi_1")
	f.Add([]byte(`{}`), "")
	f.Add([]byte(`{"type":"workitem.create","data":null}`), "k")
	f.Add([]byte(`{"data":{"workflowVersion":1e99,"formData":[]}}`), "k")
	f.Add([]byte(`[`), "k")
	noNetwork := &http.Client{Transport: &http.Transport{DialContext: func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("no network while fuzzing")
	}}}
	secret := swh.NewSecret()
	now := time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte, key string) {
		fake := connectorfake.New(connectorfake.Options{Secrets: []string{secret}, Now: func() time.Time { return now }, HTTPClient: noNetwork})
		req := httptest.NewRequest(http.MethodPost, "/tickets", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", key)
		require.NoError(t, swh.SetHeaders(req.Header, []string{secret}, "msg_fuzz", now, body))
		w := httptest.NewRecorder()
		fake.Handler().ServeHTTP(w, req)

		var answer map[string]any
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &answer), "the answer is JSON: %s", w.Body)
		switch w.Code {
		case http.StatusCreated:
			require.Len(t, fake.Tickets(), 1)
			require.Equal(t, "TCK-1", answer["id"])
			require.Equal(t, key, fake.Tickets()[0].WorkItemID)
		case http.StatusBadRequest, http.StatusUnsupportedMediaType:
			require.Empty(t, fake.Tickets())
			require.NotEmpty(t, answer["error"])
		default:
			t.Fatalf("answered %d: %s", w.Code, w.Body)
		}
		require.Len(t, fake.Requests(), 1)
		require.True(t, fake.Requests()[0].Verified)
	})
}
