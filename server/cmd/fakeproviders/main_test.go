package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
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
	for _, keep := range []string{"0", "-2", "ten"} {
		var stderr strings.Builder
		err := run(context.Background(), []string{"-keep", keep}, io.Discard, &stderr)
		require.Error(t, err, "-keep %s", keep)
		require.Contains(t, err.Error()+stderr.String(), "-keep", "the error names the flag")
	}
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

	// flowhook is down for one callback: it is held until POST /tickets/redeliver posts it.
	hook.SetAnswer(func(n int) int {
		if n == 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusNoContent
	})
	create2 := bytes.Replace(create, []byte(`"wi_1"`), []byte(`"wi_2"`), 1)
	code, created = signed("POST", account["createUrl"].(string), mine, create2,
		map[string]string{"Content-Type": "application/json", "Idempotency-Key": "wi_2"})
	require.Equal(t, http.StatusCreated, code, "%v", created)
	id2 := created["id"].(string)
	code, held := control(t, urls.Control, "GET", "/tickets/held", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, []any{map[string]any{"id": id2, "event": "ticket.created", "url": hook.URL, "tried": true}}, held["held"])
	code, again := control(t, urls.Control, "POST", "/tickets/redeliver", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, map[string]any{"held": []any{}, "deliveries": []any{
		map[string]any{"id": id2, "event": "ticket.created", "url": hook.URL, "statusCode": float64(204)}}}, again)
	code, again = control(t, urls.Control, "POST", "/tickets/redeliver", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, map[string]any{"held": []any{}, "deliveries": []any{}}, again)
	posts = hook.Posts()
	require.Len(t, posts, 4, "created and approved, then the new ticket's created twice: refused, redelivered")
	require.Equal(t, posts[2].Body, posts[3].Body)
}
