package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRunPrintsURLsAndStops: the one JSON line names three servers that answer, and the
// command returns cleanly when its context ends.
func TestRunPrintsURLsAndStops(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, pw, io.Discard) }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	require.NoError(t, err)
	var urls URLs
	require.NoError(t, json.Unmarshal([]byte(line), &urls))

	// DocuSign answers with its own error shape, OneSpan's API wants its key, control lists.
	res, err := http.Get(urls.DocuSign + "/restapi/v2.1/nothing")
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	res.Body.Close()
	res, err = http.Get(urls.OneSpan + "/api/packages")
	require.NoError(t, err)
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	res.Body.Close()
	res, err = http.Get(urls.Control + "/docusign/envelopes")
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.JSONEq(t, `{"envelopes":[]}`, string(body))

	cancel()
	require.NoError(t, <-done)
	pr.Close()
}

func TestRunRejectsBadFlags(t *testing.T) {
	t.Parallel()
	require.Error(t, run(context.Background(), []string{"-nope"}, io.Discard, io.Discard))
	require.Error(t, run(context.Background(), []string{"-addr", "256.0.0.1"}, io.Discard, io.Discard))
}

// TestControlAPI: the credentials a front-end developer enters in the settings, and clear
// answers for anything unknown, malformed or too large.
func TestControlAPI(t *testing.T) {
	t.Parallel()
	f, err := newFakes()
	require.NoError(t, err)
	srv := httptest.NewServer(f.control())
	t.Cleanup(srv.Close)

	call := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		require.Equal(t, "application/json", res.Header.Get("Content-Type"))
		var out map[string]any
		require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
		return res.StatusCode, out
	}

	code, account := call("GET", "/docusign/account", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, f.docuSign.AccountID(), account["accountId"])
	require.Contains(t, account["privateKeyPem"], "-----BEGIN RSA PRIVATE KEY-----")
	require.Len(t, account["hmacKeys"], 1)
	code, oneSpan := call("GET", "/onespan/account", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, f.oneSpan.APIKey(), oneSpan["apiKey"])
	code, list := call("GET", "/onespan/packages", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, []any{}, list["packages"])
	for _, path := range []string{"/docusign/deliveries", "/onespan/deliveries"} {
		code, got := call("GET", path, "")
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, []any{}, got["deliveries"])
	}

	for _, path := range []string{"/docusign/duplicates", "/onespan/duplicates"} {
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
		actions: func(id, reason string) map[string]func() error {
			return map[string]func() error{
				"decline": func() error {
					if status != "sent" {
						return errors.New("envelope e1 is " + status)
					}
					status = "declined"
					posted = append(posted, Delivery{ID: id, Event: "envelope-declined", StatusCode: 200, URL: reason})
					return nil
				},
			}
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
