package sandbox

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestControlAPI: the credentials a front-end developer enters in the settings, and clear
// answers for anything unknown, malformed or too large.
func TestControlAPI(t *testing.T) {
	t.Parallel()
	f, err := NewFakes(FakesOptions{})
	require.NoError(t, err)
	f.TicketsURL = "http://127.0.0.1:9"
	srv := httptest.NewServer(f.Control())
	t.Cleanup(srv.Close)
	call := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		return control(t, srv.URL, method, path, body)
	}

	code, account := call("GET", "/docusign/account", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, f.DocuSign.AccountID(), account["accountId"])
	require.Contains(t, account["privateKeyPem"], "-----BEGIN RSA PRIVATE KEY-----")
	require.Len(t, account["hmacKeys"], 1)
	code, oneSpan := call("GET", "/onespan/account", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, f.OneSpan.APIKey(), oneSpan["apiKey"])
	code, list := call("GET", "/onespan/packages", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, []any{}, list["packages"])
	code, tickets := call("GET", "/tickets/account", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, map[string]any{
		"signingSecret": f.Tickets.Secrets()[0],
		"createUrl":     "http://127.0.0.1:9/tickets", "statusUrl": "http://127.0.0.1:9/tickets/{id}", "cancelUrl": "http://127.0.0.1:9/tickets/{id}/cancel",
		"outcomes": map[string]any{"ticket.approved": "APPROVED", "ticket.rejected": "DENIED", "ticket.resolved": "FINISHED",
			"ticket.deleted": "DELETED", "ticket.expired": "EXPIRED"},
	}, tickets)
	code, list = call("GET", "/tickets/tickets", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, []any{}, list["tickets"])
	for _, path := range []string{"/docusign/deliveries", "/onespan/deliveries", "/tickets/deliveries"} {
		code, got := call("GET", path, "")
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, []any{}, got["deliveries"])
	}

	for _, path := range []string{"/docusign/duplicates", "/onespan/duplicates", "/tickets/duplicates"} {
		code, got := call("PUT", path, `{"count":3}`)
		require.Equal(t, http.StatusOK, code)
		require.EqualValues(t, 3, got["count"])
	}
	for _, tc := range []struct {
		method, path, body string
		code               int
		msg                string
	}{
		{"PUT", "/docusign/duplicates", `{"count":0}`, http.StatusBadRequest, "count: want 1 to 10"},
		{"PUT", "/onespan/duplicates", `{"count":11}`, http.StatusBadRequest, "count: want 1 to 10"},
		{"PUT", "/docusign/duplicates", `{"count":"3"}`, http.StatusBadRequest, "body: want"},
		{"PUT", "/onespan/duplicates", "", http.StatusBadRequest, "count: want 1 to 10"},
		{"POST", "/docusign/envelopes/4f1c0000-0000-0000-0000-000000000000/complete", "", http.StatusNotFound, "no envelope"},
		{"POST", "/onespan/packages/abc/complete", "", http.StatusNotFound, "no package"},
		{"PUT", "/tickets/duplicates", `{"count":11}`, http.StatusBadRequest, "count: want 1 to 10"},
		{"POST", "/tickets/tickets/TCK-1/approve", "", http.StatusNotFound, "no ticket TCK-1"},
		{"PUT", "/tickets/secret", `{"secret":"whsec_c2hvcnQ="}`, http.StatusBadRequest, "secret: standardwebhooks: bad secret: the key is 5 bytes"},
		{"PUT", "/tickets/secret", `{"secret":"whsec_not*base64"}`, http.StatusBadRequest, "not standard base64"},
		{"PUT", "/tickets/secret", "", http.StatusBadRequest, "the secret is empty"},
		{"PUT", "/tickets/secret", `{"secret":1}`, http.StatusBadRequest, `body: want {\"secret\"`},
		{"GET", "/tickets/secret", "", http.StatusNotFound, "no such control endpoint"},
		{"GET", "/docusign/envelopes/x/complete", "", http.StatusNotFound, "no such control endpoint"},
		{"DELETE", "/docusign/account", "", http.StatusNotFound, "no such control endpoint"},
		{"GET", "/elsewhere", "", http.StatusNotFound, "no such control endpoint"},
	} {
		req, err := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
		require.NoError(t, err)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		require.Equal(t, tc.code, res.StatusCode, "%s %s: %s", tc.method, tc.path, b)
		require.Contains(t, string(b), tc.msg)
	}
	require.NotContains(t, f.Tickets.Secrets()[0], "c2hvcnQ", "a refused secret is not taken")
}

// control calls the control API and decodes its JSON answer.
func control(t *testing.T, base, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, base+path, strings.NewReader(body))
	require.NoError(t, err)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, "application/json", res.Header.Get("Content-Type"))
	var out map[string]any
	require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
	return res.StatusCode, out
}

// TestReadReason: the optional body of an action, malformed and oversized.
func TestReadReason(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		body   string
		ok     bool
		code   int
		reason string
	}{
		{"", true, 0, "no reason given"},
		{`{"reason":"wrong amount"}`, true, 0, "wrong amount"},
		{`{"reason":`, false, http.StatusBadRequest, ""},
		{`["reason"]`, false, http.StatusBadRequest, ""},
		{`{"reason":"` + strings.Repeat("x", 70<<10) + `"}`, false, http.StatusRequestEntityTooLarge, ""},
	} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "/docusign/envelopes/x/decline", strings.NewReader(tc.body))
		reason, ok := readReason(w, r)
		require.Equal(t, tc.ok, ok)
		if ok {
			require.Equal(t, tc.reason, reason)
		} else {
			require.Equal(t, tc.code, w.Code)
		}
	}
}

// TestActionHandler: an action answers with the item's new status and the notifications it
// posted; an unknown action is 404, and one the item's state refuses is 409 with the reason.
func TestActionHandler(t *testing.T) {
	t.Parallel()
	status := "sent"
	var posted []Delivery
	h := actionHandler{
		kind: "envelope", idField: "envelopeId",
		status:     func(id string) (string, bool) { return status, id == "e1" },
		deliveries: func() []Delivery { return posted },
		actions: map[string]action{
			"decline": func(id, reason string) error {
				if status != "sent" {
					return errors.New("envelope e1 is " + status)
				}
				status = "declined"
				posted = append(posted, Delivery{ID: id, Event: "envelope-declined", StatusCode: 200, URL: reason})
				return nil
			},
		},
	}
	mux := http.NewServeMux()
	mux.Handle("POST /envelopes/{id}/{action}", h)
	do := func(path, body string) (int, string) {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest("POST", path, strings.NewReader(body)))
		return w.Code, w.Body.String()
	}
	code, body := do("/envelopes/e1/decline", `{"reason":"wrong amount"}`)
	require.Equal(t, http.StatusOK, code, body)
	require.JSONEq(t, `{"envelopeId":"e1","status":"declined","deliveries":[{"id":"e1","event":"envelope-declined","url":"wrong amount","statusCode":200}]}`, body)
	code, body = do("/envelopes/e1/decline", "")
	require.Equal(t, http.StatusConflict, code)
	require.Contains(t, body, "envelope e1 is declined")
	code, body = do("/envelopes/e1/shred", "")
	require.Equal(t, http.StatusNotFound, code)
	require.Contains(t, body, "unknown action shred")
	code, body = do("/envelopes/e2/decline", "")
	require.Equal(t, http.StatusNotFound, code)
	require.Contains(t, body, "no envelope e2")
	code, _ = do("/envelopes/e1/decline", "{")
	require.Equal(t, http.StatusBadRequest, code)
	require.Len(t, posted, 1, "refused actions posted nothing")
}
