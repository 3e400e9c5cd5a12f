package connectorfake_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/flowhook/flowhook/server/internal/provider/connector/connectorfake"
	swh "github.com/flowhook/flowhook/server/internal/provider/connector/standardwebhooks"
	"github.com/flowhook/flowhook/server/internal/provider/providertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// callbacks decodes every post, checking that it is signed with secret for now and that its
// body has the protocol's shape and nothing else.
func callbacks(t *testing.T, l *providertest.Listener, secret string, now time.Time) []connectorfake.Event {
	t.Helper()
	var out []connectorfake.Event
	for _, p := range l.Posts() {
		require.Equal(t, "application/json", p.Header.Get("Content-Type"))
		require.NoError(t, swh.Verify([]string{secret}, p.Header, p.Body, now, 0))
		require.Regexp(t, `^msg_[0-9a-f]{24}$`, p.Header.Get(swh.HeaderID))
		var raw map[string]any
		require.NoError(t, json.Unmarshal(p.Body, &raw))
		require.Len(t, raw, 3, "type, timestamp and data only: %s", p.Body)
		require.Len(t, raw["data"], 2, "id and reason only: %s", p.Body)
		var c connectorfake.Event
		dec := json.NewDecoder(bytes.NewReader(p.Body))
		dec.DisallowUnknownFields()
		require.NoError(t, dec.Decode(&c))
		_, err := time.Parse(time.RFC3339, c.Timestamp)
		require.NoError(t, err)
		out = append(out, c)
	}
	return out
}

// types are the types of the callbacks, checked as callbacks does.
func types(t *testing.T, l *providertest.Listener, secret string, now time.Time) []string {
	t.Helper()
	var out []string
	for _, c := range callbacks(t, l, secret, now) {
		out = append(out, c.Type)
	}
	return out
}

type testBundle struct {
	fake   *connectorfake.Fake
	url    string
	clock  *providertest.Clock
	hook   *providertest.Listener
	hc     *http.Client
	secret string
}

func setup(t *testing.T, mods ...func(*connectorfake.Options)) *testBundle {
	t.Helper()
	b := &testBundle{
		clock:  providertest.NewClockAt(time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)),
		hook:   providertest.NewListener(t, "/webhooks/connector/tickets", 0, nil),
		hc:     providertest.HTTPClient(t),
		secret: swh.NewSecret(),
	}
	opts := connectorfake.Options{Secrets: []string{b.secret}, Now: b.clock.Now}
	for _, m := range mods {
		m(&opts)
	}
	b.fake = connectorfake.New(opts)
	b.url = b.fake.Start(t)
	return b
}

func msgID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "msg_" + hex.EncodeToString(b)
}

// call makes a call as flowhook does (see request).
func (b *testBundle) call(t *testing.T, method, path string, body []byte, edit ...func(r *http.Request)) providertest.Response {
	t.Helper()
	return providertest.Do(t, b.hc, b.request(t.Context(), t, method, path, body, edit...))
}

// request is a call as flowhook makes it: signed with the bundle's secret at the fake's time,
// JSON when it has a body. edit may change the request after signing.
func (b *testBundle) request(ctx context.Context, t *testing.T, method, path string, body []byte, edit ...func(r *http.Request)) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, b.url+path, bytes.NewReader(body))
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	require.NoError(t, swh.SetHeaders(req.Header, []string{b.secret}, msgID(), b.clock.Now(), body))
	for _, e := range edit {
		e(req)
	}
	return req
}

var pdf = []byte("%PDF-1.4 a form")

// createBody is a create as flowhook sends it; edit changes the decoded form first.
func (b *testBundle) createBody(t *testing.T, workItemID string, edit ...func(m map[string]any)) []byte {
	t.Helper()
	m := map[string]any{
		"type": "workitem.create", "timestamp": b.clock.Now().Format(time.RFC3339),
		"data": map[string]any{
			"workItemId": workItemID, "instanceId": "in_1", "workflowId": "wf_1", "workflowVersion": 3,
			"state": "APPROVAL", "formData": map[string]any{"amount": 120.5, "requester": "ada"},
			"callbackUrl": b.hook.URL,
			"document":    map[string]any{"title": "Request", "contentType": "application/pdf", "base64": base64.StdEncoding.EncodeToString(pdf)},
		},
	}
	for _, e := range edit {
		e(m)
	}
	j, err := json.Marshal(m)
	require.NoError(t, err)
	return j
}

func idempotencyKey(key string) func(r *http.Request) {
	return func(r *http.Request) { r.Header.Set("Idempotency-Key", key) }
}

// create creates a ticket for the work item and returns its id.
func (b *testBundle) create(t *testing.T, workItemID string) string {
	t.Helper()
	resp := b.call(t, http.MethodPost, "/tickets", b.createBody(t, workItemID), idempotencyKey(workItemID))
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
	return resp.JSON(t)["id"].(string)
}

func cancelBody(t *testing.T, id, workItemID, reason string) []byte {
	t.Helper()
	data := map[string]any{"id": id, "reason": reason}
	if workItemID != "" {
		data["workItemId"] = workItemID
	}
	j, err := json.Marshal(map[string]any{"type": "workitem.cancel", "timestamp": "2026-05-04T09:00:00Z", "data": data})
	require.NoError(t, err)
	return j
}

func TestURLs(t *testing.T) {
	t.Parallel()
	require.Equal(t, "http://x/tickets", connectorfake.CreateURL("http://x"))
	require.Equal(t, "http://x/tickets/{id}", connectorfake.StatusURL("http://x"))
	require.Equal(t, "http://x/tickets/{id}/cancel", connectorfake.CancelURL("http://x"))
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	f := connectorfake.New(connectorfake.Options{})
	secrets := f.Secrets()
	require.Len(t, secrets, 1)
	_, err := swh.ParseSecret(secrets[0])
	require.NoError(t, err)
	require.NotEqual(t, secrets, connectorfake.New(connectorfake.Options{}).Secrets())
}

// TestCreateIsIdempotent: a signed create makes a ticket with what it carried and posts
// ticket.created; the same Idempotency-Key again answers the same id and makes nothing.
func TestCreateIsIdempotent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp := b.call(t, http.MethodPost, "/tickets", b.createBody(t, "wi_1"), idempotencyKey("wi_1"))
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	require.Equal(t, map[string]any{"id": "TCK-1", "type": connectorfake.TypeCreated}, resp.JSON(t))

	tk, ok := b.fake.Ticket("TCK-1")
	require.True(t, ok)
	require.Equal(t, "wi_1", tk.WorkItemID)
	require.Equal(t, "in_1", tk.InstanceID)
	require.Equal(t, "wf_1", tk.WorkflowID)
	require.Equal(t, 3, tk.WorkflowVersion)
	require.Equal(t, "APPROVAL", tk.State)
	require.Equal(t, b.hook.URL, tk.CallbackURL)
	require.Equal(t, map[string]any{"amount": 120.5, "requester": "ada"}, tk.FormData)
	require.Equal(t, pdf, tk.Document)
	require.Equal(t, "Request", tk.DocumentTitle)
	require.Equal(t, "application/pdf", tk.DocumentContentType)
	require.Equal(t, connectorfake.TypeCreated, tk.LatestType)
	require.Equal(t, []string{connectorfake.TypeCreated}, tk.History)
	require.Equal(t, b.clock.Now(), tk.Created)
	require.False(t, tk.Final())

	cbs := callbacks(t, b.hook, b.secret, b.clock.Now())
	require.Len(t, cbs, 1)
	require.Equal(t, connectorfake.TypeCreated, cbs[0].Type)
	require.Equal(t, "TCK-1", cbs[0].Data.ID)
	require.Equal(t, "2026-05-04T09:00:00Z", cbs[0].Timestamp)

	b.clock.Advance(time.Minute)
	resp = b.call(t, http.MethodPost, "/tickets", b.createBody(t, "wi_1"), idempotencyKey("wi_1"))
	require.Equal(t, http.StatusOK, resp.Status, "a retry is answered with the ticket made before")
	require.Equal(t, "TCK-1", resp.JSON(t)["id"])
	require.Len(t, b.fake.Tickets(), 1)
	require.Len(t, b.hook.Posts(), 1, "and posts nothing")

	require.Equal(t, "TCK-2", b.create(t, "wi_2"))
	tickets := b.fake.Tickets()
	require.Equal(t, []string{"TCK-1", "TCK-2"}, []string{tickets[0].ID, tickets[1].ID})

	// Without a document.
	resp = b.call(t, http.MethodPost, "/tickets", b.createBody(t, "wi_3", func(m map[string]any) {
		delete(m["data"].(map[string]any), "document")
	}), idempotencyKey("wi_3"))
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
	tk, _ = b.fake.Ticket("TCK-3")
	require.Nil(t, tk.Document)

	reqs := b.fake.Requests()
	require.Len(t, reqs, 4)
	for _, r := range reqs {
		require.True(t, r.Verified, r.VerifyError)
		require.Empty(t, r.VerifyError)
		require.Equal(t, http.MethodPost, r.Method)
		require.Equal(t, "/tickets", r.Path)
		require.NotEmpty(t, r.Header.Get(swh.HeaderSignature))
	}
	require.Equal(t, []int{201, 200, 201, 201}, []int{reqs[0].Status, reqs[1].Status, reqs[2].Status, reqs[3].Status})
	require.Contains(t, string(reqs[0].Body), `"workItemId":"wi_1"`, "the body as sent")

	_, ok = b.fake.Ticket("TCK-9")
	require.False(t, ok)
}

// TestCreateValidation: a create that does not follow the protocol is refused with every
// problem named, and creates nothing.
func TestCreateValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	data := func(f func(d map[string]any)) func(m map[string]any) {
		return func(m map[string]any) { f(m["data"].(map[string]any)) }
	}
	t.Run("cases", func(cases *testing.T) {
		for _, tc := range []struct {
			name   string
			body   []byte // nil: the create below
			edit   func(m map[string]any)
			header func(r *http.Request)
			status int
			msg    string
		}{
			{name: "not JSON", body: []byte("{"), status: http.StatusBadRequest, msg: "body: "},
			{name: "another content type", header: func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") },
				status: http.StatusUnsupportedMediaType, msg: "Content-Type"},
			{name: "no Idempotency-Key", header: func(r *http.Request) { r.Header.Del("Idempotency-Key") }, status: http.StatusBadRequest, msg: "Idempotency-Key header: required"},
			{name: "Idempotency-Key is another work item", header: idempotencyKey("wi_other"), status: http.StatusBadRequest, msg: "data.workItemId: want the Idempotency-Key"},
			{name: "another type", edit: func(m map[string]any) { m["type"] = "ticket.create" }, status: http.StatusBadRequest, msg: `type: want "workitem.create"`},
			{name: "timestamp not RFC 3339", edit: func(m map[string]any) { m["timestamp"] = "1614265330" }, status: http.StatusBadRequest, msg: "timestamp: want RFC 3339"},
			{name: "no data", edit: func(m map[string]any) { delete(m, "data") }, status: http.StatusBadRequest, msg: "data: required"},
			{name: "workflowVersion a string", edit: data(func(d map[string]any) { d["workflowVersion"] = "3" }), status: http.StatusBadRequest, msg: "body: "},
			{name: "no workflowVersion", edit: data(func(d map[string]any) { delete(d, "workflowVersion") }), status: http.StatusBadRequest, msg: "data.workflowVersion"},
			{name: "formData null", edit: data(func(d map[string]any) { d["formData"] = nil }), status: http.StatusBadRequest, msg: "data.formData: want an object"},
			{name: "formData a list", edit: data(func(d map[string]any) { d["formData"] = []any{} }), status: http.StatusBadRequest, msg: "data.formData: want an object"},
			{name: "callbackUrl relative", edit: data(func(d map[string]any) { d["callbackUrl"] = "/webhooks" }), status: http.StatusBadRequest, msg: "data.callbackUrl"},
			{name: "document not a PDF", edit: data(func(d map[string]any) { d["document"].(map[string]any)["contentType"] = "text/html" }),
				status: http.StatusBadRequest, msg: "data.document.contentType"},
			{name: "document not base64", edit: data(func(d map[string]any) { d["document"].(map[string]any)["base64"] = "%%%" }),
				status: http.StatusBadRequest, msg: "data.document.base64"},
			{name: "every problem at once", edit: data(func(d map[string]any) {
				delete(d, "instanceId")
				delete(d, "workflowId")
				delete(d, "state")
			}), status: http.StatusBadRequest, msg: "data.instanceId: required; data.workflowId: required; data.state: required"},
		} {
			cases.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				body := tc.body
				if body == nil {
					var edits []func(map[string]any)
					if tc.edit != nil {
						edits = append(edits, tc.edit)
					}
					body = b.createBody(t, "wi_1", edits...)
				}
				edits := []func(*http.Request){idempotencyKey("wi_1")}
				if tc.header != nil {
					edits = append(edits, tc.header)
				}
				resp := b.call(t, http.MethodPost, "/tickets", body, edits...)
				require.Equal(t, tc.status, resp.Status, string(resp.Body))
				require.Contains(t, resp.JSON(t)["error"], tc.msg)
			})
		}
	})
	require.Len(t, b.fake.Requests(), 15)
	require.Empty(t, b.fake.Tickets())
	require.Empty(t, b.hook.Posts())
}

// TestCallsAreVerified: a call without a valid signature, or without the configured auth
// header, is refused with 401 and recorded with the reason; it changes nothing.
func TestCallsAreVerified(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *connectorfake.Options) {
		o.AuthHeader = connectorfake.AuthHeader{Name: "Authorization", Value: "Bearer s3cret"}
	})
	bearer := func(v string) func(r *http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", v) }
	}
	resign := func(secret string, at time.Time) func(r *http.Request) {
		return func(r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			require.NoError(t, swh.SetHeaders(r.Header, []string{secret}, msgID(), at, body))
		}
	}
	for _, tc := range []struct {
		name  string
		edits []func(r *http.Request)
		why   string // "": accepted
	}{
		{"signed, with the auth header", []func(*http.Request){bearer("Bearer s3cret")}, ""},
		{"no auth header", nil, "auth header missing or wrong"},
		{"another bearer", []func(*http.Request){bearer("Bearer guess")}, "auth header missing or wrong"},
		{"no signature headers", []func(*http.Request){bearer("Bearer s3cret"), func(r *http.Request) {
			r.Header.Del(swh.HeaderSignature)
		}}, "missing webhook headers"},
		{"another secret", []func(*http.Request){bearer("Bearer s3cret"), resign(swh.NewSecret(), time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC))}, "no matching signature"},
		{"signed six minutes ago", []func(*http.Request){bearer("Bearer s3cret"), resign(b.secret, time.Date(2026, 5, 4, 8, 54, 0, 0, time.UTC))}, "outside the tolerance"},
		{"a byte more in the body", []func(*http.Request){bearer("Bearer s3cret"), func(r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			body = append(body, ' ')
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		}}, "no matching signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			wi := "wi_" + strings.ReplaceAll(tc.name, " ", "_")
			edits := append([]func(*http.Request){idempotencyKey(wi)}, tc.edits...)
			resp := b.call(t, http.MethodPost, "/tickets", b.createBody(t, wi), edits...)
			var rec *connectorfake.Request
			for _, r := range b.fake.Requests() {
				if r.Header.Get("Idempotency-Key") == wi {
					rec = &r
				}
			}
			require.NotNil(t, rec)
			require.Equal(t, resp.Status, rec.Status)
			if tc.why == "" {
				require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
				require.True(t, rec.Verified)
				return
			}
			require.Equal(t, http.StatusUnauthorized, resp.Status)
			require.Contains(t, resp.JSON(t)["error"], tc.why)
			require.False(t, rec.Verified)
			require.Contains(t, rec.VerifyError, tc.why)
			require.NotContains(t, rec.VerifyError, strings.TrimPrefix(b.secret, swh.SecretPrefix))
			for _, tk := range b.fake.Tickets() {
				require.NotEqual(t, wi, tk.WorkItemID, "a refused create made a ticket")
			}
		})
	}
}

func TestStatus(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.create(t, "wi_1")
	resp := b.call(t, http.MethodGet, "/tickets/"+id, nil)
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	require.Equal(t, map[string]any{"type": connectorfake.TypeCreated, "reason": ""}, resp.JSON(t))

	require.NoError(t, b.fake.Reject(id, "over budget"))
	resp = b.call(t, http.MethodGet, "/tickets/"+id, nil)
	require.Equal(t, map[string]any{"type": connectorfake.TypeRejected, "reason": "over budget"}, resp.JSON(t))

	resp = b.call(t, http.MethodGet, "/tickets/TCK-404", nil)
	require.Equal(t, http.StatusNotFound, resp.Status)
	require.Equal(t, "no ticket TCK-404", resp.JSON(t)["error"])

	resp = b.call(t, http.MethodGet, "/tickets/"+id, nil, func(r *http.Request) { r.Header.Del(swh.HeaderID) })
	require.Equal(t, http.StatusUnauthorized, resp.Status)

	resp = b.call(t, http.MethodDelete, "/tickets/"+id, nil)
	require.Equal(t, http.StatusNotFound, resp.Status)
	require.Contains(t, resp.JSON(t)["error"], "no such endpoint: DELETE /tickets/TCK-1")
}

func TestCancel(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.create(t, "wi_1")
	resp := b.call(t, http.MethodPost, "/tickets/"+id+"/cancel", cancelBody(t, id, "wi_1", "instance cancelled"))
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	require.Equal(t, map[string]any{"id": id, "type": connectorfake.TypeCancelled}, resp.JSON(t))
	tk, _ := b.fake.Ticket(id)
	require.Equal(t, connectorfake.TypeCancelled, tk.LatestType)
	require.Equal(t, "instance cancelled", tk.Reason)
	require.True(t, tk.Final())
	cbs := callbacks(t, b.hook, b.secret, b.clock.Now())
	require.Len(t, cbs, 2)
	require.Equal(t, connectorfake.TypeCancelled, cbs[1].Type)
	require.Equal(t, "instance cancelled", cbs[1].Data.Reason)

	resp = b.call(t, http.MethodPost, "/tickets/"+id+"/cancel", cancelBody(t, id, "", "again"))
	require.Equal(t, http.StatusOK, resp.Status, "cancelling again is fine")
	tk, _ = b.fake.Ticket(id)
	require.Equal(t, "instance cancelled", tk.Reason, "and changes nothing")
	require.Len(t, b.hook.Posts(), 2)
	require.Error(t, b.fake.Approve(id, "late"), "a cancelled ticket is final")

	approved := b.create(t, "wi_2")
	require.NoError(t, b.fake.Approve(approved, "ok"))
	for _, tc := range []struct {
		name   string
		path   string
		body   []byte
		status int
		msg    string
	}{
		{"a ticket already final", "/tickets/" + approved + "/cancel", cancelBody(t, approved, "wi_2", "x"), http.StatusConflict, "is already ticket.approved"},
		{"an unknown ticket", "/tickets/TCK-404/cancel", cancelBody(t, "TCK-404", "", "x"), http.StatusNotFound, "no ticket TCK-404"},
		{"another id in the body", "/tickets/" + approved + "/cancel", cancelBody(t, "TCK-1", "", "x"), http.StatusBadRequest, "data.id: want the id in the URL"},
		{"another work item", "/tickets/" + approved + "/cancel", cancelBody(t, approved, "wi_1", "x"), http.StatusBadRequest, "belongs to another work item"},
		{"another type", "/tickets/" + approved + "/cancel", bytes.Replace(cancelBody(t, approved, "", "x"), []byte("workitem.cancel"), []byte("cancel"), 1),
			http.StatusBadRequest, `type: want "workitem.cancel"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := b.call(t, http.MethodPost, tc.path, tc.body)
			require.Equal(t, tc.status, resp.Status, string(resp.Body))
			require.Contains(t, resp.JSON(t)["error"], tc.msg)
		})
	}
	tk, _ = b.fake.Ticket(approved)
	require.Equal(t, connectorfake.TypeApproved, tk.LatestType)
}

// TestHooks: each hook posts its event, signed, before it returns, and leaves the ticket with
// that type; a final type ends the ticket.
func TestHooks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		do      func(f *connectorfake.Fake, id string) error
		typ     string
		reason  string
		outcome string // "": progress
	}{
		{"approve", func(f *connectorfake.Fake, id string) error { return f.Approve(id, "fine") }, connectorfake.TypeApproved, "fine", "APPROVED"},
		{"reject", func(f *connectorfake.Fake, id string) error { return f.Reject(id, "no budget") }, connectorfake.TypeRejected, "no budget", "DENIED"},
		{"resolve", func(f *connectorfake.Fake, id string) error { return f.Resolve(id) }, connectorfake.TypeResolved, "", "FINISHED"},
		{"delete", func(f *connectorfake.Fake, id string) error { return f.Delete(id) }, connectorfake.TypeDeleted, "", "DELETED"},
		{"expire", func(f *connectorfake.Fake, id string) error { return f.Expire(id) }, connectorfake.TypeExpired, "", "EXPIRED"},
		{"comment", func(f *connectorfake.Fake, id string) error { return f.Comment(id, "looking") }, connectorfake.TypeCommented, "looking", ""},
		{"send any type", func(f *connectorfake.Fake, id string) error { return f.Send(id, "ticket.assigned", "to bob") }, "ticket.assigned", "to bob", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			id := b.create(t, "wi_1")
			require.NoError(t, tc.do(b.fake, id))
			cbs := callbacks(t, b.hook, b.secret, b.clock.Now())
			require.Len(t, cbs, 2)
			require.Equal(t, tc.typ, cbs[1].Type)
			require.Equal(t, id, cbs[1].Data.ID)
			require.Equal(t, tc.reason, cbs[1].Data.Reason)
			tk, _ := b.fake.Ticket(id)
			require.Equal(t, tc.typ, tk.LatestType)
			require.Equal(t, tc.reason, tk.Reason)
			require.Equal(t, []string{connectorfake.TypeCreated, tc.typ}, tk.History)
			require.Equal(t, tc.outcome, connectorfake.Outcomes[tc.typ])
			require.Equal(t, tc.outcome != "", tk.Final())
			require.Equal(t, tc.outcome != "", connectorfake.IsFinal(tc.typ))

			err := b.fake.Comment(id, "more")
			if tc.outcome != "" {
				require.ErrorContains(t, err, "is already "+tc.typ)
				require.Len(t, b.hook.Posts(), 2, "a refused hook posts nothing")
			} else {
				require.NoError(t, err, "progress leaves the ticket open")
			}
			ds := b.fake.Deliveries()
			require.Equal(t, id, ds[1].TicketID)
			require.Equal(t, tc.typ, ds[1].Type)
			require.Equal(t, b.hook.URL, ds[1].URL)
			require.Equal(t, b.hook.Posts()[1].Header.Get(swh.HeaderID), ds[1].WebhookID)
			require.True(t, ds[1].OK())
			require.False(t, ds[1].Redelivery)
		})
	}
	b := setup(t)
	require.ErrorContains(t, b.fake.Approve("TCK-404", ""), "no ticket TCK-404")
	id := b.create(t, "wi_1")
	require.ErrorContains(t, b.fake.Send(id, "", ""), "needs a type")
}

// TestFailNext: injected answers, whatever the call, create nothing; the call after them is
// served.
func TestFailNext(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		fl          connectorfake.Failure
		status      int
		body        string
		contentType string
		retryAfter  string
	}{
		{"503 with Retry-After", connectorfake.Failure{RetryAfter: 1500 * time.Millisecond}, 503, `{"error":"Service Unavailable"}`, "application/json", "2"},
		{"422 with a JSON body", connectorfake.Failure{Status: 422, Body: `{"error":"state unknown","field":"data.state"}`}, 422, `{"error":"state unknown","field":"data.state"}`, "application/json", ""},
		{"200 without an id", connectorfake.Failure{Status: 200, Body: `{"status":"queued"}`}, 200, `{"status":"queued"}`, "application/json", ""},
		{"a 200 that is not JSON", connectorfake.Failure{Status: 200, Body: "<html>OK</html>"}, 200, "<html>OK</html>", "text/plain; charset=utf-8", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.fake.FailNext(1, tc.fl)
			resp := b.call(t, http.MethodPost, "/tickets", b.createBody(t, "wi_1"), idempotencyKey("wi_1"))
			require.Equal(t, tc.status, resp.Status)
			require.Equal(t, tc.body, string(resp.Body))
			require.Equal(t, tc.contentType, resp.Header.Get("Content-Type"))
			require.Equal(t, tc.retryAfter, resp.Header.Get("Retry-After"))
			require.Empty(t, b.fake.Tickets())
			require.Empty(t, b.hook.Posts())
			require.True(t, b.fake.Requests()[0].Verified, "a failed call is still checked and recorded")
			b.create(t, "wi_1")
		})
	}

	b := setup(t)
	id := b.create(t, "wi_1")
	b.fake.FailNext(2, connectorfake.Failure{Status: http.StatusBadGateway})
	require.Equal(t, http.StatusBadGateway, b.call(t, http.MethodGet, "/tickets/"+id, nil).Status)
	require.Equal(t, http.StatusBadGateway, b.call(t, http.MethodPost, "/tickets/"+id+"/cancel", cancelBody(t, id, "", "x")).Status)
	require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, "/tickets/"+id, nil).Status)
}

// TestHoldRequests: a held call ends when its caller gives up, unserved; a released one is
// served.
func TestHoldRequests(t *testing.T) {
	t.Parallel()
	b := setup(t)
	release := b.fake.HoldRequests()
	t.Cleanup(release)
	body := b.createBody(t, "wi_1")
	send := func(ctx context.Context) <-chan providertest.Answer {
		return providertest.Send(b.hc, b.request(ctx, t, http.MethodPost, "/tickets", body, idempotencyKey("wi_1")))
	}

	ctx, cancel := context.WithCancel(t.Context())
	gaveUp := send(ctx)
	require.Eventually(t, func() bool { return b.fake.HeldRequests() == 1 }, 10*time.Second, time.Millisecond)
	cancel() // flowhook's client timing out
	require.ErrorIs(t, (<-gaveUp).Err, context.Canceled)
	require.Eventually(t, func() bool { return b.fake.HeldRequests() == 0 && len(b.fake.Requests()) == 1 }, 10*time.Second, time.Millisecond)
	rec := b.fake.Requests()[0]
	require.Zero(t, rec.Status, "no answer")
	require.Contains(t, rec.VerifyError, "gave up")
	require.Empty(t, b.fake.Tickets(), "not served")

	served := send(t.Context())
	require.Eventually(t, func() bool { return b.fake.HeldRequests() == 1 }, 10*time.Second, time.Millisecond)
	release()
	require.Equal(t, providertest.Answer{Status: http.StatusCreated}, <-served)
	require.Len(t, b.fake.Tickets(), 1)
}

func TestDropNextCreateResponse(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.fake.DropNextCreateResponse()
	body := b.createBody(t, "wi_1")
	req := b.request(t.Context(), t, http.MethodPost, "/tickets", body, idempotencyKey("wi_1"))
	require.Error(t, providertest.Try(b.hc, req).Err, "the answer is lost")
	require.Len(t, b.fake.Tickets(), 1, "the ticket exists all the same")
	require.Equal(t, []string{connectorfake.TypeCreated}, types(t, b.hook, b.secret, b.clock.Now()))
	require.Zero(t, b.fake.Requests()[0].Status)

	require.Equal(t, "TCK-1", b.call(t, http.MethodPost, "/tickets", body, idempotencyKey("wi_1")).JSON(t)["id"], "the retry finds it")
	require.Equal(t, "TCK-2", b.create(t, "wi_2"), "only the next create is dropped")
}

func TestDuplicates(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.create(t, "wi_1")
	b.fake.SetDuplicates(3)
	require.NoError(t, b.fake.Approve(id, "ok"))
	posts := b.hook.Posts()[1:]
	require.Len(t, posts, 3)
	for _, p := range posts[1:] {
		require.Equal(t, posts[0].Body, p.Body)
		require.Equal(t, posts[0].Header.Get(swh.HeaderID), p.Header.Get(swh.HeaderID), "a duplicate keeps its webhook-id")
	}
	require.Equal(t, []string{connectorfake.TypeCreated, connectorfake.TypeApproved, connectorfake.TypeApproved, connectorfake.TypeApproved},
		types(t, b.hook, b.secret, b.clock.Now()))
}

func TestHoldAndReorder(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.create(t, "wi_1")
	b.fake.HoldDeliveries(true)
	require.NoError(t, b.fake.Comment(id, "first"))
	require.NoError(t, b.fake.Approve(id, "then"))
	require.Equal(t, []string{connectorfake.TypeCommented, connectorfake.TypeApproved}, b.fake.Held())
	require.Len(t, b.hook.Posts(), 1, "held, not sent")
	require.Error(t, b.fake.Flush(0))
	require.Error(t, b.fake.Flush(1, 1))
	require.NoError(t, b.fake.FlushReverse())
	require.Equal(t, []string{connectorfake.TypeCreated, connectorfake.TypeApproved, connectorfake.TypeCommented}, types(t, b.hook, b.secret, b.clock.Now()))
	require.Empty(t, b.fake.Held())

	id2 := b.create(t, "wi_2") // still holding: its ticket.created waits too
	require.NoError(t, b.fake.Resolve(id2))
	require.Equal(t, []string{connectorfake.TypeCreated, connectorfake.TypeResolved}, b.fake.Held())
	require.NoError(t, b.fake.Flush(1, 0))
	b.fake.HoldDeliveries(false)
	require.Equal(t, []string{connectorfake.TypeResolved, connectorfake.TypeCreated}, types(t, b.hook, b.secret, b.clock.Now())[3:])
}

// TestRedelivery: a callback the listener did not take waits; Redeliver sends it again with
// the same webhook-id and body, signed anew for the time of sending.
func TestRedelivery(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.create(t, "wi_1")
	b.hook.SetStatus(http.StatusServiceUnavailable)
	require.NoError(t, b.fake.Approve(id, "ok"))
	require.Equal(t, []string{connectorfake.TypeApproved}, b.fake.Undelivered())

	b.clock.Advance(10 * time.Minute) // the first signature is stale by now
	ds := b.fake.Redeliver()
	require.Len(t, ds, 1)
	require.False(t, ds[0].OK())
	require.Equal(t, []string{connectorfake.TypeApproved}, b.fake.Undelivered(), "failed again, waits again")

	b.hook.SetStatus(http.StatusNoContent)
	ds = b.fake.Redeliver()
	require.Len(t, ds, 1)
	require.True(t, ds[0].OK())
	require.True(t, ds[0].Redelivery)
	require.Empty(t, b.fake.Undelivered())
	require.Empty(t, b.fake.Redeliver())

	posts := b.hook.Posts()
	first, last := posts[1], posts[3]
	require.Equal(t, first.Body, last.Body)
	require.Equal(t, first.Header.Get(swh.HeaderID), last.Header.Get(swh.HeaderID))
	require.NotEqual(t, first.Header.Get(swh.HeaderTimestamp), last.Header.Get(swh.HeaderTimestamp))
	require.NoError(t, swh.Verify([]string{b.secret}, last.Header, last.Body, b.clock.Now(), 0))
	require.ErrorIs(t, swh.Verify([]string{b.secret}, first.Header, first.Body, b.clock.Now(), 0), swh.ErrStale)

	// A listener that cannot be reached.
	srv := httptest.NewServer(http.NotFoundHandler())
	dead := srv.URL
	srv.Close()
	resp := b.call(t, http.MethodPost, "/tickets", b.createBody(t, "wi_2", func(m map[string]any) {
		m["data"].(map[string]any)["callbackUrl"] = dead
	}), idempotencyKey("wi_2"))
	require.Equal(t, http.StatusCreated, resp.Status)
	all := b.fake.Deliveries()
	require.Zero(t, all[len(all)-1].StatusCode)
	require.NotEmpty(t, all[len(all)-1].Err)
	require.Equal(t, []string{connectorfake.TypeCreated}, b.fake.Undelivered())
}

// TestRedeliverAll: while the listener is down every callback waits (Backlog); once it is back
// Redeliver sends all of them at once, in order, each once, and a second one posts nothing.
func TestRedeliverAll(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.create(t, "wi_1")
	b.hook.SetStatus(http.StatusInternalServerError)
	require.NoError(t, b.fake.Comment(id, "first"))
	require.NoError(t, b.fake.Comment(id, "second"))
	require.NoError(t, b.fake.Approve(id, "ok"))
	backlog := b.fake.Backlog()
	require.Len(t, backlog, 3)
	want := []string{connectorfake.TypeCommented, connectorfake.TypeCommented, connectorfake.TypeApproved}
	for i, w := range backlog {
		require.Equal(t, want[i], w.Type)
		require.Equal(t, id, w.TicketID)
		require.Equal(t, b.hook.URL, w.URL)
		require.Zero(t, w.Redeliveries)
	}
	failed := b.fake.Deliveries()[1:]

	b.hook.SetStatus(http.StatusOK)
	ds := b.fake.Redeliver()
	require.Len(t, ds, 3)
	for i, d := range ds {
		require.Equal(t, want[i], d.Type)
		require.True(t, d.OK())
		require.True(t, d.Redelivery)
		require.Equal(t, failed[i].WebhookID, d.WebhookID)
		require.Equal(t, failed[i].Body, d.Body)
	}
	require.Equal(t, append([]string{connectorfake.TypeCreated}, append(want, want...)...), types(t, b.hook, b.secret, b.clock.Now()))
	require.Empty(t, b.fake.Backlog())
	require.Empty(t, b.fake.Redeliver(), "a second redeliver posts nothing")
	require.Len(t, b.hook.Posts(), 7)
}

// TestCallbackKnobs: callbacks flowhook must refuse — stale or future timestamps, the wrong
// secret, no signature — and a secret that cannot sign at all.
func TestCallbackKnobs(t *testing.T) {
	t.Parallel()
	wrong := swh.NewSecret()
	for _, tc := range []struct {
		name  string
		knob  func(f *connectorfake.Fake)
		check func(t *testing.T, b *testBundle, p providertest.Post)
	}{
		{"stale timestamp", func(f *connectorfake.Fake) { f.SetCallbackTimestampSkew(-6 * time.Minute) }, func(t *testing.T, b *testBundle, p providertest.Post) {
			require.ErrorIs(t, swh.Verify([]string{b.secret}, p.Header, p.Body, b.clock.Now(), 0), swh.ErrStale)
			require.NoError(t, swh.Verify([]string{b.secret}, p.Header, p.Body, b.clock.Now().Add(-6*time.Minute), 0))
		}},
		{"timestamp from the future", func(f *connectorfake.Fake) { f.SetCallbackTimestampSkew(6 * time.Minute) }, func(t *testing.T, b *testBundle, p providertest.Post) {
			require.ErrorIs(t, swh.Verify([]string{b.secret}, p.Header, p.Body, b.clock.Now(), 0), swh.ErrStale)
		}},
		{"wrong secret", func(f *connectorfake.Fake) { f.SignCallbacksWith(wrong) }, func(t *testing.T, b *testBundle, p providertest.Post) {
			require.ErrorIs(t, swh.Verify([]string{b.secret}, p.Header, p.Body, b.clock.Now(), 0), swh.ErrNoMatch)
			require.NoError(t, swh.Verify([]string{wrong}, p.Header, p.Body, b.clock.Now(), 0))
		}},
		{"no signature headers", func(f *connectorfake.Fake) { f.OmitSignatureHeaders(true) }, func(t *testing.T, b *testBundle, p providertest.Post) {
			require.ErrorIs(t, swh.Verify([]string{b.secret}, p.Header, p.Body, b.clock.Now(), 0), swh.ErrMissingHeaders)
			require.Empty(t, p.Header.Get(swh.HeaderID))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			id := b.create(t, "wi_1")
			tc.knob(b.fake)
			require.NoError(t, b.fake.Approve(id, "ok"))
			posts := b.hook.Posts()
			require.Len(t, posts, 2)
			tc.check(t, b, posts[1])
		})
	}

	b := setup(t)
	id := b.create(t, "wi_1")
	b.fake.SignCallbacksWith("whsec_short")
	require.NoError(t, b.fake.Comment(id, "x"))
	ds := b.fake.Deliveries()
	require.Contains(t, ds[1].Err, "bad secret")
	require.Len(t, b.hook.Posts(), 1, "a callback that cannot be signed is not posted")
	b.fake.SignCallbacksWith("")
	require.Len(t, b.fake.Redeliver(), 1)
	require.Equal(t, []string{connectorfake.TypeCreated, connectorfake.TypeCommented}, types(t, b.hook, b.secret, b.clock.Now()))
}

// TestSecretRotation: during a rotation calls signed with either secret verify; callbacks are
// signed with the first.
func TestSecretRotation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	oldSecret, newSecret := b.secret, swh.NewSecret()
	require.NoError(t, b.fake.SetSecrets(newSecret, oldSecret))
	require.Equal(t, []string{newSecret, oldSecret}, b.fake.Secrets())
	id := b.create(t, "wi_1") // signed with the old one
	b.secret = newSecret
	require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, "/tickets/"+id, nil).Status)
	require.Equal(t, []string{connectorfake.TypeCreated}, types(t, b.hook, newSecret, b.clock.Now()))

	require.NoError(t, b.fake.SetSecrets(newSecret))
	b.secret = oldSecret
	require.Equal(t, http.StatusUnauthorized, b.call(t, http.MethodGet, "/tickets/"+id, nil).Status, "the old secret is gone")

	require.Error(t, b.fake.SetSecrets())
	err := b.fake.SetSecrets(newSecret, "whsec_c2hvcnQ=")
	require.ErrorIs(t, err, swh.ErrBadSecret)
	require.Equal(t, []string{newSecret}, b.fake.Secrets(), "a refused rotation changes nothing")
}

func TestOversizedBody(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp := b.call(t, http.MethodGet, "/tickets/TCK-1", bytes.Repeat([]byte("x"), 1<<20+1))
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.Status)
	require.Contains(t, resp.JSON(t)["error"], "larger than")
}
