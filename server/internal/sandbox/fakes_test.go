package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/connector/connectorfake"
	"github.com/flowhook/flowhook/server/internal/provider/connector/standardwebhooks"
	"github.com/flowhook/flowhook/server/internal/provider/docusign"
	"github.com/flowhook/flowhook/server/internal/provider/docusign/docusignfake"
	"github.com/flowhook/flowhook/server/internal/provider/onespan"
	"github.com/flowhook/flowhook/server/internal/provider/providertest"
)

// TestControlAPI: the credentials a front-end developer enters in the settings, and clear
// answers for anything unknown, malformed or too large.
func TestControlAPI(t *testing.T) {
	t.Parallel()
	f, err := NewFakes(FakesOptions{})
	require.NoError(t, err)
	f.TicketsURL, f.DocuSignURL, f.OneSpanURL = "http://127.0.0.1:9", "http://127.0.0.1:7", "http://127.0.0.1:8"
	f.OneSpanCallbackKey = "callback-key"
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
	require.Equal(t, "http://127.0.0.1:7", account["oauthBaseUrl"], "all UpdateDocuSignSettings needs")
	code, oneSpan := call("GET", "/onespan/account", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, map[string]any{"apiKey": f.OneSpan.APIKey(), "baseUrl": "http://127.0.0.1:8", "callbackKey": "callback-key"}, oneSpan,
		"all UpdateOneSpanSettings needs")
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

// controlBundle is the three fakes behind their control API, each posting to a listener of its
// own (answering 200 unless a test says otherwise), and the clients that create items at them
// as flowhook does.
type controlBundle struct {
	f        *Fakes
	hooks    map[string]*providertest.Listener // by control prefix: docusign, onespan, tickets
	hc       *http.Client
	control  string
	docuSign *docusign.Client
	oneSpan  *onespan.Client
	items    int
}

func newControlBundle(t *testing.T) *controlBundle {
	t.Helper()
	return newControlBundleWith(t, FakesOptions{})
}

// newControlBundleWith is newControlBundle with the fakes' options (its listeners' URL and
// client set on top of them).
func newControlBundleWith(t *testing.T, opts FakesOptions) *controlBundle {
	t.Helper()
	b := &controlBundle{hooks: map[string]*providertest.Listener{}, hc: providertest.HTTPClient(t)}
	for _, name := range []string{"docusign", "onespan", "tickets"} {
		b.hooks[name] = providertest.NewListener(t, "/webhooks/"+name, 0, nil)
	}
	opts.OneSpanCallbackURL, opts.HTTPClient = b.hooks["onespan"].URL, b.hc
	f, err := NewFakes(opts)
	require.NoError(t, err)
	b.f = f
	serve := func(h http.Handler) string {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		return srv.URL
	}
	docuSignURL, oneSpanURL := serve(f.DocuSign.Handler()), serve(f.OneSpan.Handler())
	f.TicketsURL = serve(f.Tickets.Handler())
	b.control = serve(f.Control())
	b.docuSign, err = docusign.NewClient(docusign.Settings{IntegrationKey: f.DocuSign.IntegrationKey(), UserID: f.DocuSign.UserID(),
		OAuthBaseURL: docuSignURL, PrivateKeyPEM: []byte(f.DocuSignPEM), HMACKeys: []string{f.DocuSignHMAC}}, b.hc, time.Now)
	require.NoError(t, err)
	b.oneSpan, err = onespan.NewClient(onespan.Settings{BaseURL: oneSpanURL, APIKey: f.OneSpanAPIKey, CallbackKeys: []string{f.OneSpanCallbackKey}}, b.hc, time.Now)
	require.NoError(t, err)
	return b
}

func (b *controlBundle) call(t *testing.T, method, path, body string) (int, map[string]any) {
	t.Helper()
	return control(t, b.control, method, path, body)
}

// request is a new work item's request for the listener of system.
func (b *controlBundle) request(system string) engine.WorkItemRequest {
	b.items++
	return engine.WorkItemRequest{WorkItemID: fmt.Sprintf("wi_%d", b.items), Subject: "Please sign", CallbackURL: b.hooks[system].URL,
		Document: &engine.Document{Title: "Contract", ContentType: "application/pdf", Content: docusignfake.PDF("sign here /sn1/")},
		Parties:  []engine.Party{{Name: "Ada Lovelace", Email: "ada@example.com", Anchor: "/sn1/"}}}
}

// envelope creates an envelope at the fake DocuSign and returns its id.
func (b *controlBundle) envelope(t *testing.T) string {
	t.Helper()
	id, err := b.docuSign.Create(t.Context(), b.request("docusign"))
	require.NoError(t, err)
	return id
}

// pkg creates a package at the fake OneSpan and returns its id.
func (b *controlBundle) pkg(t *testing.T) string {
	t.Helper()
	id, err := b.oneSpan.Create(t.Context(), b.request("onespan"))
	require.NoError(t, err)
	return id
}

// ticket creates a ticket at the fake ticketing system, as the connector does, and returns its id.
func (b *controlBundle) ticket(t *testing.T) string {
	t.Helper()
	wi := b.request("tickets").WorkItemID
	body, err := json.Marshal(map[string]any{"type": "workitem.create", "timestamp": time.Now().UTC().Format(time.RFC3339),
		"data": map[string]any{"workItemId": wi, "instanceId": "in_1", "workflowId": "wf_1", "workflowVersion": 1,
			"state": "REVIEW", "formData": map[string]any{}, "callbackUrl": b.hooks["tickets"].URL}})
	require.NoError(t, err)
	create, err := http.NewRequestWithContext(t.Context(), http.MethodPost, connectorfake.CreateURL(b.f.TicketsURL), bytes.NewReader(body))
	require.NoError(t, err)
	create.Header.Set("Content-Type", "application/json")
	create.Header.Set("Idempotency-Key", wi)
	require.NoError(t, standardwebhooks.SetHeaders(create.Header, b.f.Tickets.Secrets(), "create_"+wi, time.Now(), body))
	res, err := b.hc.Do(create)
	require.NoError(t, err)
	defer res.Body.Close()
	var ticket struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&ticket))
	require.Equal(t, http.StatusCreated, res.StatusCode)
	return ticket.ID
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

// TestControlDownloads: GET /onespan/packages/{id}/downloads counts the downloads of a
// package's documents; with wait it answers once there are atLeast of them (a waiter is woken by
// the download), or when wait has passed, with the count either way; bad parameters and
// unknown packages get clear errors.
func TestControlDownloads(t *testing.T) {
	t.Parallel()
	b := newControlBundle(t)
	pkg := b.pkg(t)
	path := "/onespan/packages/" + pkg + "/downloads"

	code, got := b.call(t, "GET", path, "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, map[string]any{"packageId": pkg, "downloads": float64(0)}, got)

	type answer struct {
		got map[string]any
		err error
	}
	waited := make(chan answer, 1)
	go func() { // require must not run outside the test's goroutine
		var a answer
		res, err := http.Get(b.control + path + "?wait=30s")
		if a.err = err; err == nil {
			a.err = json.NewDecoder(res.Body).Decode(&a.got)
			res.Body.Close()
		}
		waited <- a
	}()
	code, _ = b.call(t, "POST", "/onespan/packages/"+pkg+"/complete", "")
	require.Equal(t, http.StatusOK, code)
	zip, err := b.oneSpan.Download(t.Context(), pkg)
	require.NoError(t, err)
	require.NotEmpty(t, zip)
	a := <-waited
	require.NoError(t, a.err)
	require.Equal(t, map[string]any{"packageId": pkg, "downloads": float64(1)}, a.got, "the waiter sees the download")

	// Not reached within wait: the count as it is.
	began := time.Now()
	code, got = b.call(t, "GET", path+"?wait=50ms&atLeast=2", "")
	require.Equal(t, http.StatusOK, code)
	require.EqualValues(t, 1, got["downloads"])
	require.GreaterOrEqual(t, time.Since(began), 50*time.Millisecond, "it waited")

	for _, tc := range []struct {
		path string
		code int
		msg  string
	}{
		{path + "?wait=2m", http.StatusBadRequest, "wait: a duration from 0s to 1m"},
		{path + "?wait=soon", http.StatusBadRequest, "wait: a duration"},
		{path + "?wait=-1s", http.StatusBadRequest, "wait: a duration"},
		{path + "?atLeast=-1", http.StatusBadRequest, "atLeast: a count"},
		{path + "?atLeast=many", http.StatusBadRequest, "atLeast: a count"},
		{"/onespan/packages/nope/downloads?wait=1s", http.StatusNotFound, "no package nope"},
	} {
		code, got := b.call(t, "GET", tc.path, "")
		require.Equal(t, tc.code, code, tc.path)
		require.Contains(t, got["error"], tc.msg, tc.path)
	}
}

// TestControlActionWaitsForDownloads: an action's {"waitDownloads": …} answers once the
// package's documents were downloaded (one request where the action and GET …/downloads?wait=
// were two), or when the wait has passed, with the count either way; a bad wait, or one asked
// of a fake that counts no downloads, is a 400 before the action plays.
func TestControlActionWaitsForDownloads(t *testing.T) {
	t.Parallel()
	b := newControlBundle(t)
	pkg := b.pkg(t)

	type answer struct {
		code int
		got  map[string]any
		err  error
	}
	acted := make(chan answer, 1)
	go func() { // require must not run outside the test's goroutine
		var a answer
		res, err := http.Post(b.control+"/onespan/packages/"+pkg+"/complete", "application/json", strings.NewReader(`{"waitDownloads":"30s"}`))
		if a.err = err; err == nil {
			a.code = res.StatusCode
			a.err = json.NewDecoder(res.Body).Decode(&a.got)
			res.Body.Close()
		}
		acted <- a
	}()
	zip, err := b.oneSpan.Download(t.Context(), pkg) // what flowhook does once the completion moved
	require.NoError(t, err)
	require.NotEmpty(t, zip)
	a := <-acted
	require.NoError(t, a.err)
	require.Equal(t, http.StatusOK, a.code)
	require.EqualValues(t, 1, a.got["downloads"])
	require.Equal(t, "COMPLETED", a.got["status"])
	require.NotEmpty(t, a.got["deliveries"], "the callbacks were posted")

	// Nobody downloads: answered when the wait has passed (or at once for 0s), with the count
	// as it is.
	for _, wait := range []string{"20ms", "0s"} {
		other := b.pkg(t)
		code, got := b.call(t, "POST", "/onespan/packages/"+other+"/complete", `{"waitDownloads":"`+wait+`"}`)
		require.Equal(t, http.StatusOK, code, wait)
		require.EqualValues(t, 0, got["downloads"], wait)
		require.Equal(t, "COMPLETED", got["status"], wait)
	}

	third := b.pkg(t)
	env := b.envelope(t)
	for _, tc := range []struct {
		path, body, msg string
	}{
		{"/onespan/packages/" + third + "/complete", `{"waitDownloads":"2m"}`, "waitDownloads: a duration from 0s to 1m"},
		{"/onespan/packages/" + third + "/complete", `{"waitDownloads":"soon"}`, "waitDownloads: a duration"},
		{"/onespan/packages/" + third + "/complete", `{"waitDownloads":"-1s"}`, "waitDownloads: a duration"},
		{"/onespan/packages/" + third + "/complete", `{"waitDownloads":30}`, "body: want"},
		{"/docusign/envelopes/" + env + "/complete", `{"waitDownloads":"1s"}`, "waitDownloads: this fake does not count downloads"},
	} {
		code, got := b.call(t, "POST", tc.path, tc.body)
		require.Equal(t, http.StatusBadRequest, code, tc.body)
		require.Contains(t, got["error"], tc.msg, tc.body)
	}
	st, _ := b.f.oneSpanStatus(third)
	require.Equal(t, "SENT", st, "a refused wait plays no action")
	st, _ = b.f.DocuSign.EnvelopeStatus(env)
	require.Equal(t, "sent", st)
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
		{`{"reason":"late","reorder":true}`, false, http.StatusBadRequest, ""}, // only the control API reorders
		{`{"reorder":"yes"}`, false, http.StatusBadRequest, ""},
		{`{"waitDownloads":"1s"}`, false, http.StatusBadRequest, ""}, // only the control API waits
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
// posted (not those an action on another item posted meanwhile); an unknown action is 404, and
// one the item's state refuses is 409 with the reason.
func TestActionHandler(t *testing.T) {
	t.Parallel()
	status := "sent"
	posted := []Delivery{{ID: "e0", Event: "envelope-sent", StatusCode: 200}}
	h := actionHandler{
		kind: "envelope", idField: "envelopeId",
		status: func(id string) (string, bool) { return status, id == "e1" },
		count:  func() int { return len(posted) },
		since:  func(n int) []Delivery { return posted[n:] },
		actions: map[string]action{
			"decline": func(id, reason string) error {
				if status != "sent" {
					return errors.New("envelope e1 is " + status)
				}
				status = "declined"
				posted = append(posted, Delivery{ID: "e2", Event: "envelope-sent", StatusCode: 200}) // another action's
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
	require.JSONEq(t, `{"envelopeId":"e1","status":"declined","deliveries":[{"id":"e1","event":"envelope-declined","url":"wrong amount","statusCode":200}],"reordering":[]}`, body)
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
	code, body = do("/envelopes/e1/decline", `{"reorder":true}`)
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, body, "this fake cannot reorder")
	require.Len(t, posted, 3, "refused actions posted nothing")
}

// TestControlKeepsNewest: the fakes keep only their newest deliveries and requests (Keep), so a
// sandbox left running does not grow with its traffic: GET …/deliveries lists the newest
// Keep, the newest last; an action still answers with all of its own deliveries; the items
// themselves are all kept and listed.
func TestControlKeepsNewest(t *testing.T) {
	t.Parallel()
	const keep = 3
	b := newControlBundleWith(t, FakesOptions{Keep: keep})
	for _, tc := range []struct {
		name, items, action string
		create              func(*testing.T) string
		requests            func() int
	}{
		{"docusign", "envelopes", "complete", b.envelope, func() int { return len(b.f.DocuSign.Requests()) }},
		{"onespan", "packages", "complete", b.pkg, func() int { return len(b.f.OneSpan.Requests()) }},
		{"tickets", "tickets", "resolve", b.ticket, func() int { return len(b.f.Tickets.Requests()) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ids []string
			for range 4 {
				id := tc.create(t)
				ids = append(ids, id)
				code, got := b.call(t, "POST", "/"+tc.name+"/"+tc.items+"/"+id+"/"+tc.action, "")
				require.Equal(t, http.StatusOK, code, "%v", got)
				made := got["deliveries"].([]any)
				require.NotEmpty(t, made, "the action's own deliveries")
				for _, d := range made {
					require.Equal(t, id, d.(map[string]any)["id"])
					require.EqualValues(t, http.StatusOK, d.(map[string]any)["statusCode"])
				}
			}
			require.Greater(t, len(b.hooks[tc.name].Posts()), keep, "more were posted than are kept")
			code, got := b.call(t, "GET", "/"+tc.name+"/deliveries", "")
			require.Equal(t, http.StatusOK, code)
			kept := got["deliveries"].([]any)
			require.Len(t, kept, keep)
			require.Equal(t, ids[3], kept[keep-1].(map[string]any)["id"], "the newest is kept, last")
			require.LessOrEqual(t, tc.requests(), keep, "the requests answered are bounded too")
			code, got = b.call(t, "GET", "/"+tc.name+"/"+tc.items, "")
			require.Equal(t, http.StatusOK, code)
			require.Len(t, got[tc.items], 4, "every item is kept")
		})
	}
}

// TestFakesKeep: the fakes' bound for each FakesOptions.Keep — the default, which `flowhook
// dev` and fakeproviders run with, is DefaultKeep; a negative one keeps everything.
func TestFakesKeep(t *testing.T) {
	t.Parallel()
	for keep, want := range map[int]int{0: DefaultKeep, -1: 0, -7: 0, 1: 1, 3: 3, 50_000: 50_000} {
		require.Equal(t, want, FakesOptions{Keep: keep}.keep(), "Keep %d", keep)
	}
}

// TestControlRedeliver: each fake's listener fails its first notification and is back for the
// next. What failed (and, at DocuSign, everything queued behind it) is listed by GET …/held;
// POST …/redeliver posts all of it at once, in order, each once, answering with the deliveries
// and what is still held; a second redeliver posts nothing.
func TestControlRedeliver(t *testing.T) {
	t.Parallel()
	b := newControlBundle(t)
	for _, hook := range b.hooks {
		hook.SetAnswer(func(n int) int {
			if n == 0 {
				return http.StatusInternalServerError
			}
			return http.StatusOK
		})
	}
	// One item at each fake, created as flowhook creates it: its first notification fails.
	envelope, pkg, ticket := b.envelope(t), b.pkg(t), b.ticket(t)

	// Each item completes while its fake holds what failed.
	for _, tc := range []struct{ path, id, action string }{
		{"/docusign/envelopes/", envelope, "complete"},
		{"/onespan/packages/", pkg, "complete"},
		{"/tickets/tickets/", ticket, "resolve"},
	} {
		code, got := b.call(t, "POST", tc.path+tc.id+"/"+tc.action, "")
		require.Equal(t, http.StatusOK, code, "%v", got)
	}

	for _, tc := range []struct {
		name, id string
		// queued: DocuSign holds every later message behind the failed one; the others post
		// them and keep only the failure.
		queued bool
	}{{"docusign", envelope, true}, {"onespan", pkg, false}, {"tickets", ticket, false}} {
		t.Run(tc.name, func(t *testing.T) {
			hook := b.hooks[tc.name]
			posted := len(hook.Posts())
			code, got := b.call(t, "GET", "/"+tc.name+"/held", "")
			require.Equal(t, http.StatusOK, code)
			held := got["held"].([]any)
			if tc.queued {
				require.Equal(t, 1, posted, "held, not posted out of order")
				require.Greater(t, len(held), 1)
			} else {
				require.Greater(t, posted, 1, "later notifications went out")
				require.Len(t, held, 1)
			}
			var events []string
			for i, h := range held {
				h := h.(map[string]any)
				require.Equal(t, tc.id, h["id"])
				require.Equal(t, hook.URL, h["url"])
				require.Equal(t, i == 0 || !tc.queued, h["tried"], "%v", h)
				events = append(events, h["event"].(string))
			}

			code, got = b.call(t, "POST", "/"+tc.name+"/redeliver", "")
			require.Equal(t, http.StatusOK, code)
			require.Equal(t, []any{}, got["held"])
			made := got["deliveries"].([]any)
			require.Len(t, made, len(held))
			for i, d := range made {
				d := d.(map[string]any)
				require.Equal(t, map[string]any{"id": tc.id, "event": events[i], "url": hook.URL, "statusCode": float64(http.StatusOK)}, d)
			}
			require.Len(t, hook.Posts(), posted+len(held), "each once")

			code, got = b.call(t, "POST", "/"+tc.name+"/redeliver", "")
			require.Equal(t, http.StatusOK, code)
			require.Equal(t, map[string]any{"deliveries": []any{}, "held": []any{}}, got, "a second redeliver posts nothing")
			require.Len(t, hook.Posts(), posted+len(held))
			code, got = b.call(t, "GET", "/"+tc.name+"/held", "")
			require.Equal(t, http.StatusOK, code)
			require.Equal(t, []any{}, got["held"])
		})
	}
}

// TestControlReorder: {"reorder": true} on an action holds the item's notifications from then
// on, while other items' go out, until the item ends; then they are posted newest first, the
// outcome before the progress, each with its duplicates. At DocuSign the progress is the signer
// opening the envelope (deliver), at the ticketing system a comment; at OneSpan one action
// completes the package with every signature's events. A refused action holds nothing.
func TestControlReorder(t *testing.T) {
	t.Parallel()
	b := newControlBundle(t)
	for _, name := range []string{"docusign", "onespan", "tickets"} {
		code, _ := b.call(t, "PUT", "/"+name+"/duplicates", `{"count":2}`)
		require.Equal(t, http.StatusOK, code)
	}
	envelope, other := b.envelope(t), b.envelope(t)
	pkg, ticket := b.pkg(t), b.ticket(t)

	for _, tc := range []struct {
		name, path string
		steps      []string // actions, each with {"reorder": true}; the last ends the item
		held       [][]string
		want       []string // events posted by the last, in order
	}{
		{"docusign", "/docusign/envelopes/" + envelope, []string{"deliver", "complete"},
			[][]string{{"recipient-delivered", "envelope-delivered"}, nil},
			[]string{"envelope-completed", "recipient-completed", "envelope-delivered", "recipient-delivered"}},
		{"onespan", "/onespan/packages/" + pkg, []string{"complete"}, [][]string{nil},
			[]string{"PACKAGE_COMPLETE", "SIGNER_COMPLETE", "DOCUMENT_SIGNED"}},
		{"tickets", "/tickets/tickets/" + ticket, []string{"comment", "reject"},
			[][]string{{"ticket.commented"}, nil},
			[]string{"ticket.rejected", "ticket.commented"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hook := b.hooks[tc.name]
			posted := len(hook.Posts())
			var got map[string]any
			for i, step := range tc.steps {
				var code int
				code, got = b.call(t, "POST", tc.path+"/"+step, `{"reason":"no","reorder":true}`)
				require.Equal(t, http.StatusOK, code, "%v", got)
				if last := i == len(tc.steps)-1; !last {
					require.Equal(t, []any{}, got["deliveries"], "held")
					require.Equal(t, anys(tc.held[i]), got["reordering"])
					require.Len(t, hook.Posts(), posted, "held, not posted")
				}
			}
			require.Equal(t, []any{}, got["reordering"], "the item ended: nothing held")
			var events []string
			for _, d := range got["deliveries"].([]any) {
				events = append(events, d.(map[string]any)["event"].(string))
			}
			var want []string
			for _, e := range tc.want {
				want = append(want, e, e) // duplicates ×2
			}
			require.Equal(t, want, events, "newest first")
			var onHook []string
			for _, p := range hook.Posts()[posted:] {
				onHook = append(onHook, eventOf(t, tc.name, p.Body))
			}
			require.Equal(t, events, onHook, "as the listener received them")
		})
	}

	// A refused action holds nothing; an envelope not reordered posts at once, in order.
	hook := b.hooks["docusign"]
	posted := len(hook.Posts())
	code, got := b.call(t, "POST", "/docusign/envelopes/"+envelope+"/complete", `{"reorder":true}`)
	require.Equal(t, http.StatusConflict, code, "%v", got)
	held, on := b.f.DocuSign.HeldItem(envelope)
	require.False(t, on)
	require.Empty(t, held)
	code, got = b.call(t, "POST", "/docusign/envelopes/"+other+"/decline", `{}`)
	require.Equal(t, http.StatusOK, code, "%v", got)
	require.Len(t, got["deliveries"], 4, "recipient-declined, envelope-declined, ×2")
	require.Len(t, hook.Posts(), posted+4)
	require.Equal(t, "recipient-declined", eventOf(t, "docusign", hook.Posts()[posted].Body), "in order")
}

func anys(ss []string) []any {
	out := []any{}
	for _, s := range ss {
		out = append(out, s)
	}
	return out
}

// eventOf reads the event out of a notification's body, as each fake writes it.
func eventOf(t *testing.T, system string, body []byte) string {
	t.Helper()
	var v struct {
		Event string `json:"event"` // DocuSign Connect
		Name  string `json:"name"`  // OneSpan
		Type  string `json:"type"`  // Standard Webhooks
	}
	require.NoError(t, json.Unmarshal(body, &v), "%s: %s", system, body)
	return v.Event + v.Name + v.Type
}

// TestTicketIDsPerStart: each start of the sandbox numbers its tickets from 1 under a prefix
// of its own, so that a ticket of a new start never has the id of one flowhook coupled to a
// work item before the restart (which the coupling would refuse, failing the instance).
func TestTicketIDsPerStart(t *testing.T) {
	t.Parallel()
	first, second := newControlBundle(t), newControlBundle(t)
	a, b := first.ticket(t), second.ticket(t)
	require.Regexp(t, `^TCK-[A-HJ-NP-Z2-9]{4}-1$`, a)
	require.Regexp(t, `^TCK-[A-HJ-NP-Z2-9]{4}-1$`, b)
	require.NotEqual(t, a, b, "two starts, two prefixes")
	next := first.ticket(t)
	require.Equal(t, strings.TrimSuffix(a, "1")+"2", next, "one prefix for a start's tickets")
}
