package connector_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/connector"
	swh "github.com/flowhook/flowhook/server/internal/provider/connector/standardwebhooks"
	"github.com/flowhook/flowhook/server/internal/provider/providertest"
)

// Credentials a connector's URLs and auth header carry; no error may quote them.
const (
	queryToken = "qt-5e1f0a77c2"
	apiKey     = "ak-3b9d21c4e8"
)

// answer is how the outside system answers one try.
type answer struct {
	status int
	header map[string]string
	body   string
}

func reply(status int, body string, header ...string) answer {
	a := answer{status: status, body: body, header: map[string]string{}}
	for i := 0; i+1 < len(header); i += 2 {
		a.header[header[i]] = header[i+1]
	}
	return a
}

// tried is one request as the outside system received it.
type tried struct {
	method string
	uri    string // as sent: path and query, escaped
	path   string
	query  url.Values
	header http.Header
	body   []byte
	at     time.Time // the client's clock when it arrived
}

// remote plays a connector's outside system: it records each try and answers it with the next
// answer of its script (the last one again once the script is used up).
type remote struct {
	url   string
	clock *providertest.Clock

	mu     sync.Mutex
	tries  []tried
	script []answer
}

func newRemote(t *testing.T, clock *providertest.Clock, script ...answer) *remote {
	t.Helper()
	r := &remote{clock: clock, script: script}
	srv := httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(srv.Close)
	r.url = srv.URL
	return r
}

func (r *remote) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	n := len(r.tries)
	r.tries = append(r.tries, tried{method: req.Method, uri: req.RequestURI, path: req.URL.Path, query: req.URL.Query(),
		header: req.Header.Clone(), body: body, at: r.clock.Now()})
	a := reply(http.StatusInternalServerError, `{"error":"no script"}`)
	if len(r.script) > 0 {
		a = r.script[min(n, len(r.script)-1)]
	}
	r.mu.Unlock()
	for k, v := range a.header {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, a.body)
}

func (r *remote) Tries() []tried {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]tried(nil), r.tries...)
}

type clientBundle struct {
	remote *remote
	clock  *providertest.Clock
	waits  *providertest.WaitLog
	cfg    connector.Config
	client *connector.Client
}

// setupClient starts an outside system answering with script and a client of a connector
// whose URLs point at it; the client's waits advance its clock instead of sleeping. edit
// changes the connector's config (its URLs are relative to the system's URL, which replaces
// "{remote}").
func setupClient(t *testing.T, edit func(*connector.Config), script ...answer) *clientBundle {
	t.Helper()
	b := &clientBundle{clock: providertest.NewClock(), waits: &providertest.WaitLog{}}
	b.remote = newRemote(t, b.clock, script...)
	b.cfg = connector.Config{
		Name:      "tickets",
		CreateURL: "{remote}/items?token=" + queryToken,
		StatusURL: "{remote}/items/{id}",
		CancelURL: "{remote}/items/{id}/cancel",
		Outcomes: map[string]engine.Outcome{
			"ticket.resolved": engine.OutcomeFinished,
			"ticket.rejected": engine.OutcomeDenied,
		},
		SigningSecret: secretCurrent,
		AuthHeader:    "X-Api-Key: " + apiKey,
	}
	if edit != nil {
		edit(&b.cfg)
	}
	for _, u := range []*string{&b.cfg.CreateURL, &b.cfg.StatusURL, &b.cfg.CancelURL} {
		*u = strings.ReplaceAll(*u, "{remote}", b.remote.url)
	}
	wait := func(ctx context.Context, d time.Duration) error {
		b.clock.Advance(d)
		return b.waits.Wait(ctx, d)
	}
	b.client = connector.NewClient(system, b.cfg, providertest.HTTPClient(t), b.clock.Now).WithWait(wait)
	return b
}

func workItem() engine.WorkItemRequest {
	return engine.WorkItemRequest{
		WorkItemID:      "wi_01HZX",
		InstanceID:      "in_01HZX",
		WorkflowID:      "wf_refunds",
		WorkflowVersion: 3,
		WorkflowName:    "Refunds",
		State:           "REVIEW",
		FormData:        map[string]any{"amount": 12.5, "customer": "Ann Lee", "rush": true},
		Subject:         "Refund for Ann Lee",
		Parties:         []engine.Party{{Name: "Ann Lee", Email: "ann@example.com"}},
		CallbackURL:     "https://flowhook.example/webhooks/c2i/tickets",
		CreatedAt:       workItemCreated,
	}
}

// workItemCreated is when workItem was created: five minutes before providertest's clock.
var workItemCreated = time.Date(2026, 4, 29, 17, 55, 0, 0, time.UTC)

// requireSigned checks a try's Standard Webhooks headers: signed with the connector's secret
// over the exact body, at the client's time of the try, and with no other secret.
func requireSigned(t *testing.T, tr tried) {
	t.Helper()
	require.NotEmpty(t, tr.header.Get(swh.HeaderID))
	require.Equal(t, strconv.FormatInt(tr.at.Unix(), 10), tr.header.Get(swh.HeaderTimestamp), "signed at the time of the try")
	require.Len(t, strings.Fields(tr.header.Get(swh.HeaderSignature)), 1)
	require.NoError(t, swh.Verify([]string{secretCurrent}, tr.header, tr.body, tr.at, time.Second))
	require.ErrorIs(t, swh.Verify([]string{secretOther}, tr.header, tr.body, tr.at, time.Second), swh.ErrNoMatch)
}

// TestClientSignsWithBothSecretsDuringGrace: after a rotation, flowhook's calls carry a
// signature by the new secret and one by the previous, until the previous one's grace ends,
// so that a system that has not taken the new secret yet still accepts them.
func TestClientSignsWithBothSecretsDuringGrace(t *testing.T) {
	t.Parallel()
	start := providertest.NewClock().Now() // the bundle's clock starts there too
	b := setupClient(t, func(c *connector.Config) {
		c.PreviousSecret, c.PreviousValidUntil = secretOther, start.Add(time.Hour)
	}, reply(http.StatusCreated, `{"id":"TCK-1"}`), reply(http.StatusCreated, `{"id":"TCK-2"}`))
	_, err := b.client.Create(t.Context(), workItem())
	require.NoError(t, err)
	tries := b.remote.Tries()
	require.Len(t, tries, 1)
	tr := tries[0]
	require.Len(t, strings.Fields(tr.header.Get(swh.HeaderSignature)), 2, "one signature for each secret")
	require.NoError(t, swh.Verify([]string{secretCurrent}, tr.header, tr.body, tr.at, time.Second))
	require.NoError(t, swh.Verify([]string{secretOther}, tr.header, tr.body, tr.at, time.Second), "a system still on the previous secret")

	b.clock.Advance(2 * time.Hour) // the grace is over
	req := workItem()
	req.WorkItemID = "wi_after_grace"
	_, err = b.client.Create(t.Context(), req)
	require.NoError(t, err)
	requireSigned(t, b.remote.Tries()[1])
}

func TestClientCreateRequest(t *testing.T) {
	t.Parallel()
	pdf := []byte("%PDF-1.7\n\x00\x01\xfe\xff binary")
	tests := []struct {
		name      string
		edit      func(*engine.WorkItemRequest)
		data      string // the expected "data" of the message
		timestamp string // the message's; empty: the work item's creation
	}{
		{
			name: "with a document",
			edit: func(r *engine.WorkItemRequest) {
				r.Document = &engine.Document{Title: "Refund form", ContentType: "application/pdf", Content: pdf}
			},
			data: `{"workItemId":"wi_01HZX","instanceId":"in_01HZX","workflowId":"wf_refunds","workflowVersion":3,"state":"REVIEW",
				"formData":{"amount":12.5,"customer":"Ann Lee","rush":true},"callbackUrl":"https://flowhook.example/webhooks/c2i/tickets",
				"document":{"title":"Refund form","contentType":"application/pdf","base64":"` + base64.StdEncoding.EncodeToString(pdf) + `"}}`,
		},
		{
			name: "without a document",
			data: `{"workItemId":"wi_01HZX","instanceId":"in_01HZX","workflowId":"wf_refunds","workflowVersion":3,"state":"REVIEW",
				"formData":{"amount":12.5,"customer":"Ann Lee","rush":true},"callbackUrl":"https://flowhook.example/webhooks/c2i/tickets"}`,
		},
		{
			name: "no form data is an empty object",
			edit: func(r *engine.WorkItemRequest) { r.FormData = nil },
			data: `{"workItemId":"wi_01HZX","instanceId":"in_01HZX","workflowId":"wf_refunds","workflowVersion":3,"state":"REVIEW",
				"formData":{},"callbackUrl":"https://flowhook.example/webhooks/c2i/tickets"}`,
		},
		{
			name: "no creation time: the time of the send",
			edit: func(r *engine.WorkItemRequest) { r.CreatedAt = time.Time{} },
			data: `{"workItemId":"wi_01HZX","instanceId":"in_01HZX","workflowId":"wf_refunds","workflowVersion":3,"state":"REVIEW",
				"formData":{"amount":12.5,"customer":"Ann Lee","rush":true},"callbackUrl":"https://flowhook.example/webhooks/c2i/tickets"}`,
			timestamp: "2026-04-29T18:00:00Z",
		},
		{
			name: "nested form data",
			edit: func(r *engine.WorkItemRequest) {
				r.FormData = map[string]any{"items": []any{map[string]any{"sku": "A-1", "qty": 2}}, "note": "<b>&</b>"}
			},
			data: `{"workItemId":"wi_01HZX","instanceId":"in_01HZX","workflowId":"wf_refunds","workflowVersion":3,"state":"REVIEW",
				"formData":{"items":[{"sku":"A-1","qty":2}],"note":"<b>&</b>"},"callbackUrl":"https://flowhook.example/webhooks/c2i/tickets"}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupClient(t, nil, reply(http.StatusCreated, `{"id":"TCK-1"}`))
			req := workItem()
			if tc.edit != nil {
				tc.edit(&req)
			}
			id, err := b.client.Create(t.Context(), req)
			require.NoError(t, err)
			require.Equal(t, "TCK-1", id)

			tries := b.remote.Tries()
			require.Len(t, tries, 1)
			tr := tries[0]
			require.Equal(t, http.MethodPost, tr.method)
			require.Equal(t, "/items", tr.path)
			require.Equal(t, url.Values{"token": {queryToken}}, tr.query, "the create_url's query is sent as it is")
			require.Equal(t, "application/json", tr.header.Get("Content-Type"))
			require.Equal(t, "application/json", tr.header.Get("Accept"))
			require.Equal(t, []string{req.WorkItemID}, tr.header.Values("Idempotency-Key"))
			require.Equal(t, []string{apiKey}, tr.header.Values("X-Api-Key"))
			requireSigned(t, tr)
			timestamp := tc.timestamp
			if timestamp == "" {
				timestamp = "2026-04-29T17:55:00Z"
			}
			require.JSONEq(t, `{"type":"workitem.create","timestamp":"`+timestamp+`","data":`+tc.data+`}`, string(tr.body))
		})
	}
}

func TestClientAuthHeader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		header string
		want   http.Header // the headers that must arrive
		absent []string
	}{
		{"none", "", nil, []string{"X-Api-Key", "Authorization"}},
		{"a key", "X-Api-Key: " + apiKey, http.Header{"X-Api-Key": {apiKey}}, []string{"Authorization"}},
		{"a bearer token", "Authorization: Bearer " + apiKey, http.Header{"Authorization": {"Bearer " + apiKey}}, []string{"X-Api-Key"}},
		{"a value with a colon", "Authorization: Basic dXNlcjpwYXNz:x", http.Header{"Authorization": {"Basic dXNlcjpwYXNz:x"}}, nil},
		{"spaces around name and value", "  x-api-key  :   " + apiKey + "  ", http.Header{"X-Api-Key": {apiKey}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupClient(t, func(c *connector.Config) { c.AuthHeader = tc.header },
				reply(http.StatusCreated, `{"id":"TCK-1"}`), reply(http.StatusOK, `{"type":"ticket.created"}`), reply(http.StatusOK, ``))
			_, err := b.client.Create(t.Context(), workItem())
			require.NoError(t, err)
			_, err = b.client.Status(t.Context(), "TCK-1")
			require.NoError(t, err)
			require.NoError(t, b.client.Cancel(t.Context(), "TCK-1", "r"))
			tries := b.remote.Tries()
			require.Len(t, tries, 3)
			for _, tr := range tries {
				for k, v := range tc.want {
					require.Equal(t, v, tr.header.Values(k), "%s on %s %s", k, tr.method, tr.path)
				}
				for _, k := range tc.absent {
					require.Empty(t, tr.header.Values(k), "%s on %s %s", k, tr.method, tr.path)
				}
			}
		})
	}
}

// TestClientCreateRetries: every try of a create carries the same webhook-id, Idempotency-Key
// and body, and is signed afresh at its own time.
func TestClientCreateRetries(t *testing.T) {
	t.Parallel()
	b := setupClient(t, nil,
		reply(http.StatusInternalServerError, `oops`),
		reply(http.StatusTooManyRequests, `{"error":"slow down"}`, "Retry-After", "3"),
		reply(http.StatusRequestTimeout, ``),
		reply(http.StatusCreated, `{"id":"TCK-7"}`))
	id, err := b.client.Create(t.Context(), workItem())
	require.NoError(t, err)
	require.Equal(t, "TCK-7", id)
	// 500 without Retry-After: 1 s; 429: its Retry-After; 408: 4 s.
	require.Equal(t, []time.Duration{time.Second, 3 * time.Second, 4 * time.Second}, b.waits.Waits())

	tries := b.remote.Tries()
	require.Len(t, tries, 4)
	start := providertest.NewClock().Now()
	require.Equal(t, []time.Time{start, start.Add(time.Second), start.Add(4 * time.Second), start.Add(8 * time.Second)},
		[]time.Time{tries[0].at, tries[1].at, tries[2].at, tries[3].at})
	sigs := map[string]bool{}
	for i, tr := range tries {
		requireSigned(t, tr)
		require.Equal(t, tries[0].header.Get(swh.HeaderID), tr.header.Get(swh.HeaderID), "try %d: the same message id", i)
		require.Equal(t, tries[0].header.Get("Idempotency-Key"), tr.header.Get("Idempotency-Key"), "try %d", i)
		require.Equal(t, string(tries[0].body), string(tr.body), "try %d: the same body", i)
		sigs[tr.header.Get(swh.HeaderSignature)] = true
		if i > 0 {
			// The signature covers this try's timestamp, not the first one's.
			h := tr.header.Clone()
			h.Set(swh.HeaderTimestamp, tries[0].header.Get(swh.HeaderTimestamp))
			require.ErrorIs(t, swh.Verify([]string{secretCurrent}, h, tr.body, tries[0].at, time.Second), swh.ErrNoMatch)
		}
	}
	require.Len(t, sigs, 4, "a fresh signature per try")

	// A second create of the same work item, an hour later (after a crash, a retried instance,
	// an abandoned create sent again), is the same message again, byte for byte: a system
	// following the Idempotency-Key draft refuses a key sent again with another payload.
	b2 := setupClient(t, nil, reply(http.StatusCreated, `{"id":"TCK-7"}`))
	b2.clock.Advance(time.Hour)
	_, err = b2.client.Create(t.Context(), workItem())
	require.NoError(t, err)
	again := b2.remote.Tries()
	require.Len(t, again, 1)
	require.Equal(t, tries[0].header.Get(swh.HeaderID), again[0].header.Get(swh.HeaderID))
	require.Equal(t, tries[0].header.Get("Idempotency-Key"), again[0].header.Get("Idempotency-Key"))
	require.Equal(t, string(tries[0].body), string(again[0].body), "an hour later: the same body")
	requireSigned(t, again[0])
}

func TestClientCreateAnswers(t *testing.T) {
	t.Parallel()
	longID := strings.Repeat("x", 256)
	longError := `{"error":"` + strings.Repeat("e", 1000) + `"}`
	tests := []struct {
		name      string
		script    []answer
		wantID    string
		tries     int
		waits     []time.Duration
		status    int  // of the error
		permanent bool // of the error
		retry     time.Duration
		quote     string // the error's message contains it
		notQuote  string // and not this
	}{
		{name: "201 with an id", script: []answer{reply(201, `{"id":"TCK-1"}`)}, wantID: "TCK-1", tries: 1},
		{name: "200 with an id and more", script: []answer{reply(200, `{"id":"TCK-2","url":"https://tickets.example/TCK-2","n":1}`)}, wantID: "TCK-2", tries: 1},
		{name: "202 with an id", script: []answer{reply(202, `{"id":"TCK-3"}`)}, wantID: "TCK-3", tries: 1},
		{name: "an id of 255 characters", script: []answer{reply(201, `{"id":"`+longID[:255]+`"}`)}, wantID: longID[:255], tries: 1},
		{name: "an id with spaces and unicode", script: []answer{reply(201, `{"id":" TCK 1 ü "}`)}, wantID: " TCK 1 ü ", tries: 1},

		{name: "a numeric id", script: []answer{reply(200, `{"id": 42}`)}, tries: 1, status: 200, permanent: true, quote: strconv.Quote(`{"id": 42}`)},
		{name: "no id", script: []answer{reply(200, `{}`)}, tries: 1, status: 200, permanent: true, quote: strconv.Quote(`{}`)},
		{name: "a null id", script: []answer{reply(201, `{"id":null}`)}, tries: 1, status: 201, permanent: true, quote: strconv.Quote(`{"id":null}`)},
		{name: "a blank id", script: []answer{reply(201, `{"id":"  "}`)}, tries: 1, status: 201, permanent: true, quote: strconv.Quote(`{"id":"  "}`)},
		{name: "an id with a line break", script: []answer{reply(201, `{"id":"TCK\r\n1"}`)}, tries: 1, status: 201, permanent: true, quote: `{\"id\":\"TCK\\r\\n1\"}`},
		{name: "an id object", script: []answer{reply(201, `{"id":{"value":"TCK-1"}}`)}, tries: 1, status: 201, permanent: true, quote: "value"},
		{name: "an array", script: []answer{reply(200, `[{"id":"TCK-1"}]`)}, tries: 1, status: 200, permanent: true, quote: strconv.Quote(`[{"id":"TCK-1"}]`)},
		{name: "not JSON", script: []answer{reply(200, `<html>created!</html>`)}, tries: 1, status: 200, permanent: true, quote: strconv.Quote(`<html>created!</html>`)},
		{name: "an empty body", script: []answer{reply(204, ``)}, tries: 1, status: 204, permanent: true, quote: "(an empty body)"},
		{name: "an id too long", script: []answer{reply(201, `{"id":"`+longID+`"}`)}, tries: 1, status: 201, permanent: true,
			quote: `"{\"id\":\"` + longID[:193] + `…"`, notQuote: longID},

		{name: "422 quoted", script: []answer{reply(422, `{"error":"unknown state REVIEW"}`)}, tries: 1, status: 422, permanent: true,
			quote: `the create was answered 422: "{\"error\":\"unknown state REVIEW\"}"`},
		{name: "400", script: []answer{reply(400, `bad request`)}, tries: 1, status: 400, permanent: true, quote: `"bad request"`},
		{name: "401", script: []answer{reply(401, `{"error":"who are you"}`)}, tries: 1, status: 401, permanent: true, quote: "who are you"},
		{name: "404 with an empty body", script: []answer{reply(404, ``)}, tries: 1, status: 404, permanent: true, quote: "the create was answered 404: (an empty body)"},
		{name: "409", script: []answer{reply(409, `{"error":"exists"}`)}, tries: 1, status: 409, permanent: true, quote: "exists"},
		{name: "a long error is quoted by its start", script: []answer{reply(400, longError)}, tries: 1, status: 400, permanent: true,
			quote: `"{\"error\":\"` + strings.Repeat("e", 190) + `…"`, notQuote: strings.Repeat("e", 191)},
		{name: "control characters are not quoted raw", script: []answer{reply(400, "bad\x1b[31m\ninput")}, tries: 1, status: 400, permanent: true,
			quote: `"bad [31m input"`},

		{name: "503 with Retry-After, then created", script: []answer{reply(503, `busy`, "Retry-After", "7"), reply(201, `{"id":"TCK-4"}`)},
			wantID: "TCK-4", tries: 2, waits: []time.Duration{7 * time.Second}},
		{name: "429, then created", script: []answer{reply(429, `{"error":"slow down"}`), reply(201, `{"id":"TCK-5"}`)},
			wantID: "TCK-5", tries: 2, waits: []time.Duration{time.Second}},
		{name: "429 with an HTTP date", script: []answer{reply(429, ``, "Retry-After", "Wed, 29 Apr 2026 18:00:09 GMT"), reply(201, `{"id":"TCK-6"}`)},
			wantID: "TCK-6", tries: 2, waits: []time.Duration{9 * time.Second}},
		{name: "408, then created", script: []answer{reply(408, ``), reply(201, `{"id":"TCK-8"}`)},
			wantID: "TCK-8", tries: 2, waits: []time.Duration{time.Second}},
		{name: "503 with Retry-After until the tries are spent", script: []answer{reply(503, `{"error":"maintenance"}`, "Retry-After", "7")},
			tries: 4, waits: []time.Duration{7 * time.Second, 7 * time.Second, 7 * time.Second},
			status: 503, retry: 7 * time.Second, quote: `the create was answered 503: "{\"error\":\"maintenance\"}"`},
		{name: "500 until the tries are spent: backoff", script: []answer{reply(500, `<html>Internal Server Error</html>`)},
			tries: 4, waits: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second},
			status: 500, retry: 8 * time.Second, quote: `"<html>Internal Server Error</html>"`},
		{name: "429 asking for longer than the client waits", script: []answer{reply(429, `{"error":"quota"}`, "Retry-After", "3600")},
			tries: 1, status: 429, retry: time.Hour, quote: "quota"},
		{name: "a 5xx then a permanent refusal", script: []answer{reply(502, `gateway`), reply(400, `{"error":"bad state"}`)},
			tries: 2, waits: []time.Duration{time.Second}, status: 400, permanent: true, quote: "bad state"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupClient(t, nil, tc.script...)
			id, err := b.client.Create(t.Context(), workItem())
			require.Len(t, b.remote.Tries(), tc.tries)
			require.Equal(t, tc.waits, b.waits.Waits())
			if tc.wantID != "" {
				require.NoError(t, err)
				require.Equal(t, tc.wantID, id)
				return
			}
			require.Empty(t, id)
			pe := providertest.RequireProviderError(t, err, system)
			require.Equal(t, tc.status, pe.HTTPStatus)
			require.Equal(t, tc.permanent, pe.Permanent)
			require.Equal(t, tc.permanent, errors.Is(err, engine.ErrProviderPermanent))
			require.Equal(t, tc.retry, pe.RetryAfter)
			require.Contains(t, pe.Message, tc.quote)
			if tc.notQuote != "" {
				require.NotContains(t, err.Error(), tc.notQuote)
			}
			providertest.RequireNoSecret(t, err.Error(), secretCurrent, apiKey, queryToken)
		})
	}
}

// TestClientTransportError: a system that cannot be reached is tried again, then reported by
// an error that names the URL without its query or user info, and no credential.
func TestClientTransportError(t *testing.T) {
	t.Parallel()
	closed := httptest.NewServer(http.NotFoundHandler())
	host := strings.TrimPrefix(closed.URL, "http://")
	closed.Close()
	b := setupClient(t, func(c *connector.Config) {
		c.CreateURL = "http://flowhook:pw-7788aa@" + host + "/items?token=" + queryToken
		c.StatusURL = "http://" + host + "/items/{id}?token=" + queryToken
		c.CancelURL = "http://" + host + "/items/{id}/cancel?token=" + queryToken
	})
	secrets := []string{secretCurrent, apiKey, queryToken, "token=", "pw-7788aa", "flowhook:"}

	_, err := b.client.Create(t.Context(), workItem())
	require.Error(t, err)
	require.NotErrorIs(t, err, engine.ErrProviderPermanent, "an unreachable system may come back")
	require.Contains(t, err.Error(), "connector:tickets: POST http://"+host+"/items: ")
	providertest.RequireNoSecret(t, err.Error(), secrets...)
	require.Equal(t, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}, b.waits.Waits(), "tried again with backoff")

	_, err = b.client.Status(t.Context(), "TCK-1")
	require.Error(t, err)
	require.Contains(t, err.Error(), "connector:tickets: GET http://"+host+"/items/TCK-1: ")
	providertest.RequireNoSecret(t, err.Error(), secrets...)

	err = b.client.Cancel(t.Context(), "TCK-1", "r")
	require.Error(t, err)
	require.Contains(t, err.Error(), "connector:tickets: POST http://"+host+"/items/TCK-1/cancel: ")
	providertest.RequireNoSecret(t, err.Error(), secrets...)
}

func TestClientCancelledContext(t *testing.T) {
	t.Parallel()
	b := setupClient(t, nil, reply(201, `{"id":"TCK-1"}`))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := b.client.Create(ctx, workItem())
	require.ErrorIs(t, err, context.Canceled)
	providertest.RequireNoSecret(t, err.Error(), queryToken)
	require.Empty(t, b.remote.Tries())

	// Cancelled while waiting between tries: no further try.
	b = setupClient(t, nil, reply(503, `busy`))
	ctx, cancel = context.WithCancel(t.Context())
	b.client.WithWait(func(context.Context, time.Duration) error { cancel(); return ctx.Err() })
	_, err = b.client.Create(ctx, workItem())
	require.ErrorIs(t, err, context.Canceled)
	require.Len(t, b.remote.Tries(), 1)
}

func TestClientStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		statusURL string
		id        string
		script    []answer
		uri       string // the request's path and query as sent
		want      engine.ExternalStatus
		tries     int
	}{
		{name: "{id} in the path", statusURL: "{remote}/items/{id}", id: "TCK-1",
			script: []answer{reply(200, `{"type":"ticket.resolved","reason":"fixed in 2.3"}`)}, uri: "/items/TCK-1",
			want: engine.ExternalStatus{Status: "ticket.resolved", Outcome: engine.OutcomeFinished, Reason: "fixed in 2.3"}, tries: 1},
		{name: "an id that needs escaping", statusURL: "{remote}/items/{id}/status", id: "a b/c",
			script: []answer{reply(200, `{"type":"ticket.rejected","reason":"duplicate"}`)}, uri: "/items/a%20b%2Fc/status",
			want: engine.ExternalStatus{Status: "ticket.rejected", Outcome: engine.OutcomeDenied, Reason: "duplicate"}, tries: 1},
		{name: "an id of other characters", statusURL: "{remote}/items/{id}", id: "ü?#%",
			script: []answer{reply(200, `{"type":"ticket.created"}`)}, uri: "/items/%C3%BC%3F%23%25",
			want: engine.ExternalStatus{Status: "ticket.created"}, tries: 1},
		{name: "{id} twice", statusURL: "{remote}/items/{id}?ref={id}", id: "TCK-1",
			script: []answer{reply(200, `{"type":"ticket.created"}`)}, uri: "/items/TCK-1?ref=TCK-1",
			want: engine.ExternalStatus{Status: "ticket.created"}, tries: 1},
		{name: "{id} in the query", statusURL: "{remote}/status?ticket={id}&token=" + queryToken, id: "TCK-1",
			script: []answer{reply(200, `{"type":"ticket.created"}`)}, uri: "/status?ticket=TCK-1&token=" + queryToken,
			want: engine.ExternalStatus{Status: "ticket.created"}, tries: 1},
		{name: "an id in the query is escaped as a query value", statusURL: "{remote}/status?ticket={id}", id: "a+b&c=d/e",
			script: []answer{reply(200, `{"type":"ticket.created"}`)}, uri: "/status?ticket=a%2Bb%26c%3Dd%2Fe",
			want: engine.ExternalStatus{Status: "ticket.created"}, tries: 1},
		{name: "no {id}: the same URL for every item", statusURL: "{remote}/status", id: "TCK-1",
			script: []answer{reply(200, `{"type":"ticket.created","extra":{"x":1}}`)}, uri: "/status",
			want: engine.ExternalStatus{Status: "ticket.created"}, tries: 1},
		{name: "an unmapped type is progress", statusURL: "{remote}/items/{id}", id: "TCK-1",
			script: []answer{reply(200, `{"type":"ticket.commented","reason":"asked a question"}`)}, uri: "/items/TCK-1",
			want: engine.ExternalStatus{Status: "ticket.commented", Reason: "asked a question"}, tries: 1},
		{name: "a long reason is cut", statusURL: "{remote}/items/{id}", id: "TCK-1",
			script: []answer{reply(200, `{"type":"ticket.rejected","reason":"`+strings.Repeat("r", 1200)+`"}`)}, uri: "/items/TCK-1",
			want: engine.ExternalStatus{Status: "ticket.rejected", Outcome: engine.OutcomeDenied, Reason: strings.Repeat("r", 1000) + "…"}, tries: 1},
		{name: "a 503 is tried again", statusURL: "{remote}/items/{id}", id: "TCK-1",
			script: []answer{reply(503, `busy`, "Retry-After", "1"), reply(200, `{"type":"ticket.resolved"}`)}, uri: "/items/TCK-1",
			want: engine.ExternalStatus{Status: "ticket.resolved", Outcome: engine.OutcomeFinished}, tries: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupClient(t, func(c *connector.Config) { c.StatusURL = tc.statusURL }, tc.script...)
			st, err := b.client.Status(t.Context(), tc.id)
			require.NoError(t, err)
			require.Equal(t, tc.want, st)
			tries := b.remote.Tries()
			require.Len(t, tries, tc.tries)
			for _, tr := range tries {
				require.Equal(t, http.MethodGet, tr.method)
				require.Equal(t, tc.uri, tr.uri)
				require.Empty(t, tr.body)
				require.Empty(t, tr.header.Get("Content-Type"), "a GET has no body")
				require.Empty(t, tr.header.Get("Idempotency-Key"))
				require.Equal(t, "application/json", tr.header.Get("Accept"))
				require.Equal(t, apiKey, tr.header.Get("X-Api-Key"))
				requireSigned(t, tr) // over the empty body
				require.Equal(t, tries[0].header.Get(swh.HeaderID), tr.header.Get(swh.HeaderID))
			}
		})
	}
}

func TestClientStatusErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		script    []answer
		status    int
		permanent bool
		quote     string
	}{
		{"no type", []answer{reply(200, `{"reason":"x"}`)}, 200, false, `the status answer has no "type": "{\"reason\":\"x\"}"`},
		{"a blank type", []answer{reply(200, `{"type":" "}`)}, 200, false, `has no "type"`},
		{"a null type", []answer{reply(200, `{"type":null}`)}, 200, false, `has no "type"`},
		{"a numeric type", []answer{reply(200, `{"type":3}`)}, 200, false, `"{\"type\":3}"`},
		{"a type too long", []answer{reply(200, `{"type":"`+strings.Repeat("t", engine.MaxEventTypeLen+1)+`"}`)}, 200, false, `has no "type"`},
		{"not JSON", []answer{reply(200, `OK`)}, 200, false, `"OK"`},
		{"an empty body", []answer{reply(200, ``)}, 200, false, "(an empty body)"},
		{"404", []answer{reply(404, `{"error":"no such ticket"}`)}, 404, true, `the status was answered 404: "{\"error\":\"no such ticket\"}"`},
		{"403", []answer{reply(403, `forbidden`)}, 403, true, `"forbidden"`},
		{"503 until the tries are spent", []answer{reply(503, `busy`)}, 503, false, `the status was answered 503: "busy"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupClient(t, nil, tc.script...)
			st, err := b.client.Status(t.Context(), "TCK-1")
			require.Equal(t, engine.ExternalStatus{}, st)
			pe := providertest.RequireProviderError(t, err, system)
			require.Equal(t, tc.status, pe.HTTPStatus)
			require.Equal(t, tc.permanent, pe.Permanent)
			require.Equal(t, tc.permanent, errors.Is(err, engine.ErrProviderPermanent))
			require.Contains(t, pe.Message, tc.quote)
		})
	}
}

func TestClientCancel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		id        string
		script    []answer
		uri       string
		tries     int
		status    int // of the error; 0: none
		permanent bool
		quote     string
	}{
		{name: "200", id: "TCK-1", script: []answer{reply(200, `{"ok":true}`)}, uri: "/items/TCK-1/cancel", tries: 1},
		{name: "204", id: "TCK-1", script: []answer{reply(204, ``)}, uri: "/items/TCK-1/cancel", tries: 1},
		{name: "an id that needs escaping", id: "TCK 1/2", script: []answer{reply(202, `{}`)}, uri: "/items/TCK%201%2F2/cancel", tries: 1},
		{name: "a 503 is tried again", id: "TCK-1", script: []answer{reply(503, ``), reply(204, ``)}, uri: "/items/TCK-1/cancel", tries: 2},
		{name: "409 is permanent", id: "TCK-1", script: []answer{reply(409, `{"error":"already closed"}`)}, uri: "/items/TCK-1/cancel", tries: 1,
			status: 409, permanent: true, quote: `the cancel was answered 409: "{\"error\":\"already closed\"}"`},
		{name: "404 is permanent", id: "TCK-1", script: []answer{reply(404, ``)}, uri: "/items/TCK-1/cancel", tries: 1,
			status: 404, permanent: true, quote: "(an empty body)"},
		{name: "500 until the tries are spent", id: "TCK-1", script: []answer{reply(500, `down`)}, uri: "/items/TCK-1/cancel", tries: 4,
			status: 500, quote: `"down"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupClient(t, nil, tc.script...)
			err := b.client.Cancel(t.Context(), tc.id, "withdrawn by the customer")
			tries := b.remote.Tries()
			require.Len(t, tries, tc.tries)
			for _, tr := range tries {
				require.Equal(t, http.MethodPost, tr.method)
				require.Equal(t, tc.uri, tr.uri)
				require.Equal(t, "application/json", tr.header.Get("Content-Type"))
				require.Equal(t, apiKey, tr.header.Get("X-Api-Key"))
				require.Empty(t, tr.header.Get("Idempotency-Key"))
				requireSigned(t, tr)
				require.Equal(t, tries[0].header.Get(swh.HeaderID), tr.header.Get(swh.HeaderID))
				require.JSONEq(t, fmt.Sprintf(`{"type":"workitem.cancel","timestamp":"2026-04-29T18:00:00Z","data":{"id":%q,"reason":"withdrawn by the customer"}}`, tc.id),
					string(tr.body))
			}
			if tc.status == 0 {
				require.NoError(t, err)
				return
			}
			pe := providertest.RequireProviderError(t, err, system)
			require.Equal(t, tc.status, pe.HTTPStatus)
			require.Equal(t, tc.permanent, pe.Permanent)
			require.Equal(t, tc.permanent, errors.Is(err, engine.ErrProviderPermanent))
			require.Contains(t, pe.Message, tc.quote)
		})
	}
}

func TestClientNotSupported(t *testing.T) {
	t.Parallel()
	b := setupClient(t, func(c *connector.Config) { c.StatusURL, c.CancelURL = "", "" }, reply(200, `{"type":"ticket.created"}`))

	st, err := b.client.Status(t.Context(), "TCK-1")
	require.ErrorIs(t, err, engine.ErrNotSupported)
	require.NotErrorIs(t, err, engine.ErrProviderPermanent)
	require.Contains(t, err.Error(), "connector tickets has no status_url")
	require.Equal(t, engine.ExternalStatus{}, st)

	err = b.client.Cancel(t.Context(), "TCK-1", "r")
	require.ErrorIs(t, err, engine.ErrNotSupported)
	require.Contains(t, err.Error(), "connector tickets has no cancel_url")

	id, found, err := b.client.FindByWorkItem(t.Context(), "wi_01HZX", time.Now())
	require.NoError(t, err, "nothing could void what a create sent again would learn: it finds nothing")
	require.False(t, found)
	require.Empty(t, id)

	doc, err := b.client.Download(t.Context(), "TCK-1")
	require.ErrorIs(t, err, engine.ErrNoDocument)
	require.Nil(t, doc)

	require.Empty(t, b.remote.Tries(), "nothing was asked of the system")
}

// TestFindByWorkItemSendsTheCreateAgain: with a cancel_url, FindByWorkItem says it cannot
// search (engine.ErrNotSupported), so that an abandoned creation is sent again under its
// Idempotency-Key and what it made voided; it asks nothing of the system itself.
func TestFindByWorkItemSendsTheCreateAgain(t *testing.T) {
	t.Parallel()
	b := setupClient(t, nil)
	id, found, err := b.client.FindByWorkItem(t.Context(), "wi_01HZX", time.Now())
	require.ErrorIs(t, err, engine.ErrNotSupported)
	require.NotErrorIs(t, err, engine.ErrProviderPermanent)
	require.Contains(t, err.Error(), "connector tickets cannot be searched; the create is sent again under its Idempotency-Key")
	require.False(t, found)
	require.Empty(t, id)
	require.Empty(t, b.remote.Tries(), "nothing was asked of the system")
}

// TestClientConcurrent: one client serves several work items at once.
func TestClientConcurrent(t *testing.T) {
	t.Parallel()
	b := setupClient(t, nil, reply(201, `{"id":"TCK-1"}`))
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			req := workItem()
			req.WorkItemID = fmt.Sprintf("wi_%d", i)
			_, errs[i] = b.client.Create(t.Context(), req)
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	keys := map[string]bool{}
	for _, tr := range b.remote.Tries() {
		requireSigned(t, tr)
		keys[tr.header.Get("Idempotency-Key")] = true
	}
	require.Len(t, keys, len(errs))
}
