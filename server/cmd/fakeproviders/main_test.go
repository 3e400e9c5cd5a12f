package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/provider/connector/connectorfake"
	"github.com/flowhook/flowhook/server/internal/provider/connector/standardwebhooks"
	"github.com/flowhook/flowhook/server/internal/provider/providertest"
)

// TestRunPrintsURLsAndStops: the one JSON line names four servers that answer, and the
// command returns cleanly when its context ends.
func TestRunPrintsURLsAndStops(t *testing.T) {
	t.Parallel()
	urls, stop := start(t)

	// DocuSign answers with its own error shape, OneSpan's API wants its key, the ticketing
	// system a signature, control lists.
	res, err := http.Get(urls.DocuSign + "/restapi/v2.1/nothing")
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	res.Body.Close()
	res, err = http.Get(urls.OneSpan + "/api/packages")
	require.NoError(t, err)
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	res.Body.Close()
	res, err = http.Get(urls.Tickets + "/tickets/TCK-1")
	require.NoError(t, err)
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	res.Body.Close()
	res, err = http.Get(urls.Control + "/docusign/envelopes")
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.JSONEq(t, `{"envelopes":[]}`, string(body))

	require.NoError(t, stop())
}

// start runs the command and returns the URLs it printed, and stop, which ends it and returns
// what run returned; the test's end stops it too.
func start(t *testing.T) (URLs, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, pw, io.Discard) }()
	var once sync.Once
	var err error
	stop := func() error {
		once.Do(func() {
			cancel()
			err = <-done
			pr.Close()
		})
		return err
	}
	t.Cleanup(func() { require.NoError(t, stop()) })
	line, rerr := bufio.NewReader(pr).ReadString('\n')
	require.NoError(t, rerr)
	var urls URLs
	require.NoError(t, json.Unmarshal([]byte(line), &urls))
	return urls, stop
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
	f.ticketsURL = "http://127.0.0.1:9"
	srv := httptest.NewServer(f.control())
	t.Cleanup(srv.Close)
	call := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		return control(t, srv.URL, method, path, body)
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
	code, tickets := call("GET", "/tickets/account", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, map[string]any{
		"signingSecret": f.tickets.Secrets()[0],
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
	require.NotContains(t, f.tickets.Secrets()[0], "c2hvcnQ", "a refused secret is not taken")
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

// TestTicketsEndToEnd: with nothing configured anywhere, a create signed with the account's
// secret makes a ticket; actions post signed events to the create's callbackUrl; a secret
// flowhook generated replaces the fake's.
func TestTicketsEndToEnd(t *testing.T) {
	t.Parallel()
	urls, _ := start(t)

	code, account := control(t, urls.Control, "GET", "/tickets/account", "")
	require.Equal(t, http.StatusOK, code)
	secret := account["signingSecret"].(string)
	require.Equal(t, urls.Tickets+"/tickets", account["createUrl"])
	require.Equal(t, urls.Tickets+"/tickets/{id}", account["statusUrl"])
	require.Equal(t, urls.Tickets+"/tickets/{id}/cancel", account["cancelUrl"])

	// flowhook's webhook endpoint.
	hook := providertest.NewListener(t, "/webhooks/connector/tickets", 0, nil)
	hook.SetStatus(http.StatusNoContent)

	// signed makes a call as flowhook's connector client does.
	signed := func(method, target, secret string, body []byte, header map[string]string) (int, map[string]any) {
		// One message id for every call: the fake keeps no replay list, as flowhook's retries
		// reuse theirs.
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, target, bytes.NewReader(body))
		require.NoError(t, err)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		require.NoError(t, standardwebhooks.SetHeaders(req.Header, []string{secret}, "create_wi_1", time.Now(), body))
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		var out map[string]any
		require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
		return res.StatusCode, out
	}
	create, err := json.Marshal(map[string]any{"type": "workitem.create", "timestamp": time.Now().UTC().Format(time.RFC3339),
		"data": map[string]any{"workItemId": "wi_1", "instanceId": "in_1", "workflowId": "wf_1", "workflowVersion": 1,
			"state": "REVIEW", "formData": map[string]any{"amount": 10}, "callbackUrl": hook.URL}})
	require.NoError(t, err)
	code, created := signed("POST", account["createUrl"].(string), secret, create,
		map[string]string{"Content-Type": "application/json", "Idempotency-Key": "wi_1"})
	require.Equal(t, http.StatusCreated, code, "%v", created)
	id := created["id"].(string)

	code, approved := control(t, urls.Control, "POST", "/tickets/tickets/"+id+"/approve", `{"reason":"looks right"}`)
	require.Equal(t, http.StatusOK, code, "%v", approved)
	require.Equal(t, id, approved["id"])
	require.Equal(t, "ticket.approved", approved["status"])
	require.Equal(t, []any{map[string]any{"id": id, "event": "ticket.approved", "url": hook.URL, "statusCode": float64(204)}},
		approved["deliveries"])

	posts := hook.Posts()
	require.Len(t, posts, 2, "ticket.created, then ticket.approved")
	for i, want := range []string{"ticket.created", "ticket.approved"} {
		require.NoError(t, standardwebhooks.Verify([]string{secret}, posts[i].Header, posts[i].Body, time.Now(), 0))
		var ev connectorfake.Event
		require.NoError(t, json.Unmarshal(posts[i].Body, &ev))
		require.Equal(t, want, ev.Type)
		require.Equal(t, id, ev.Data.ID)
	}

	code, list := control(t, urls.Control, "GET", "/tickets/tickets", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, []any{map[string]any{"id": id, "workItemId": "wi_1", "state": "REVIEW", "latestType": "ticket.approved", "reason": "looks right"}},
		list["tickets"])
	code, got := control(t, urls.Control, "GET", "/tickets/deliveries", "")
	require.Equal(t, http.StatusOK, code)
	require.Len(t, got["deliveries"], 2)
	code, refused := control(t, urls.Control, "POST", "/tickets/tickets/"+id+"/comment", `{"reason":"late"}`)
	require.Equal(t, http.StatusConflict, code)
	require.Contains(t, refused["error"], "is already ticket.approved")
	code, refused = control(t, urls.Control, "POST", "/tickets/tickets/"+id+"/shred", "")
	require.Equal(t, http.StatusNotFound, code)
	require.Contains(t, refused["error"], "unknown action shred")

	// A secret flowhook generated replaces the fake's.
	mine := standardwebhooks.NewSecret()
	code, set := control(t, urls.Control, "PUT", "/tickets/secret", `{"secret":"`+mine+`"}`)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, mine, set["signingSecret"])
	code, _ = signed("GET", urls.Tickets+"/tickets/"+id, secret, nil, nil)
	require.Equal(t, http.StatusUnauthorized, code, "the old secret is gone")
	code, status := signed("GET", urls.Tickets+"/tickets/"+id, mine, nil, nil)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, map[string]any{"type": "ticket.approved", "reason": "looks right"}, status)
	_, account = control(t, urls.Control, "GET", "/tickets/account", "")
	require.Equal(t, mine, account["signingSecret"])
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
