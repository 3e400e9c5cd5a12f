package onespanfake_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/flowhook/flowhook/server/internal/provider/onespan/onespanfake"
	"github.com/flowhook/flowhook/server/internal/provider/providertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	apiKey = "dGVzdC1hcGkta2V5LWZvci10aGUtb25lc3Bhbi1mYWtl"
	cbKey  = "callback-key-for-the-fake"
)

var (
	packageID = regexp.MustCompile(`^[A-Za-z0-9_-]{27}=$`)
	eventDate = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
)

// events are the callbacks the listener received, in order.
func events(t *testing.T, l *providertest.Listener) []onespanfake.Event {
	t.Helper()
	var out []onespanfake.Event
	for _, p := range l.Posts() {
		var ev onespanfake.Event
		require.NoError(t, json.Unmarshal(p.Body, &ev))
		out = append(out, ev)
	}
	return out
}

// eventNames are the names of the callbacks' events, in order.
func eventNames(t *testing.T, l *providertest.Listener) []string {
	t.Helper()
	var out []string
	for _, ev := range events(t, l) {
		out = append(out, ev.Name)
	}
	return out
}

type testBundle struct {
	fake  *onespanfake.Fake
	url   string
	clock *providertest.Clock
	hook  *providertest.Listener
	hc    *http.Client
}

// setup starts a fake with a callback for every known event registered to a listener.
func setup(t *testing.T, mods ...func(*onespanfake.Options)) *testBundle {
	t.Helper()
	b := &testBundle{clock: providertest.NewClock(), hook: providertest.NewListener(t, "/hook", 0, nil), hc: providertest.HTTPClient(t)}
	opts := onespanfake.Options{
		APIKey: apiKey, CallbackURL: b.hook.URL, CallbackKey: cbKey, CallbackEvents: onespanfake.KnownEvents, Now: b.clock.Now,
	}
	for _, m := range mods {
		m(&opts)
	}
	b.fake = onespanfake.New(opts)
	b.url = b.fake.Start(t)
	return b
}

// do sends a request with the API key unless headers say otherwise.
func (b *testBundle) do(t *testing.T, method, path string, body []byte, header http.Header) providertest.Response {
	t.Helper()
	return providertest.Do(t, b.hc, b.request(t, method, path, body, header))
}

// request is a request with the API key unless headers say otherwise.
func (b *testBundle) request(t *testing.T, method, path string, body []byte, header http.Header) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, b.url+path, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Basic "+apiKey)
	for k, vs := range header {
		req.Header[k] = vs
	}
	return req
}

type file struct {
	name string
	data []byte
}

// multipartCreate builds a one-step create: the payload part, then the file parts.
func multipartCreate(t *testing.T, payload any, files ...file) ([]byte, http.Header) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	raw, ok := payload.([]byte)
	if !ok {
		var err error
		raw, err = json.Marshal(payload)
		require.NoError(t, err)
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="payload"`)
	h.Set("Content-Type", "text/plain; charset=UTF-8")
	w, err := mw.CreatePart(h)
	require.NoError(t, err)
	_, err = w.Write(raw)
	require.NoError(t, err)
	for _, f := range files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="file"; filename="`+f.name+`"`)
		h.Set("Content-Type", "application/pdf")
		w, err := mw.CreatePart(h)
		require.NoError(t, err)
		_, err = w.Write(f.data)
		require.NoError(t, err)
	}
	require.NoError(t, mw.Close())
	return buf.Bytes(), http.Header{"Content-Type": {mw.FormDataContentType()}}
}

// payload is a valid package of one document and the signers, each placed by a field.
func payload(signers ...string) map[string]any {
	if len(signers) == 0 {
		signers = []string{"ada@example.com"}
	}
	var roles, approvals []any
	for i, email := range signers {
		id := "Signer" + string(rune('1'+i))
		roles = append(roles, map[string]any{"id": id, "type": "SIGNER", "index": i + 1,
			"signers": []any{map[string]any{"email": email, "firstName": "First", "lastName": "Last"}}})
		approvals = append(approvals, map[string]any{"role": id, "fields": []any{map[string]any{
			"type": "SIGNATURE", "subtype": "FULLNAME", "page": 0, "left": 100, "top": 100 + 60*i, "width": 200, "height": 50}}})
	}
	return map[string]any{
		"name": "Contract", "type": "PACKAGE", "status": "SENT", "autocomplete": true, "language": "en",
		"roles": roles, "documents": []any{map[string]any{"name": "Contract", "approvals": approvals}},
		"data": map[string]any{"flowhook_work_item_id": "wi_1"},
	}
}

func (b *testBundle) create(t *testing.T, p map[string]any) string {
	t.Helper()
	body, h := multipartCreate(t, p, file{"Contract", onespanfake.PDF("Page one /sn1/", "Page two /sn2/")})
	resp := b.do(t, http.MethodPost, "/api/packages", body, h)
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	id, _ := resp.JSON(t)["id"].(string)
	require.Regexp(t, packageID, id)
	return id
}

func (b *testBundle) get(t *testing.T, id string) map[string]any {
	t.Helper()
	resp := b.do(t, http.MethodGet, "/api/packages/"+url.PathEscape(id), nil, nil)
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	return resp.JSON(t)
}

func TestAuthorization(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cases := []struct {
		name   string
		header http.Header
		want   int
	}{
		{"the key as is", http.Header{}, http.StatusOK},
		{"no header", http.Header{"Authorization": nil}, http.StatusUnauthorized},
		{"a wrong key", http.Header{"Authorization": {"Basic wrong"}}, http.StatusUnauthorized},
		{"base64 of key:", http.Header{"Authorization": {"Basic ZEdWemRDMWhjR2t0YTJWNUxXWnZjaTEwYUdVdGIyNWxjM0JoYmkxbVlXdGw6"}}, http.StatusUnauthorized},
		{"Bearer", http.Header{"Authorization": {"Bearer " + apiKey}}, http.StatusUnauthorized},
		{"lowercase scheme", http.Header{"Authorization": {"basic " + apiKey}}, http.StatusUnauthorized},
		{"two headers", http.Header{"Authorization": {"Basic " + apiKey, "Basic " + apiKey}}, http.StatusUnauthorized},
	}
	for _, tc := range cases {
		resp := b.do(t, http.MethodGet, "/api/packages?query=inbox&from=1&to=1", nil, tc.header)
		require.Equal(t, tc.want, resp.Status, tc.name)
		if tc.want == http.StatusUnauthorized {
			require.Equal(t, map[string]any{"code": float64(401), "messageKey": "error.unauthorised.noUser", "name": "Unauthorized",
				"message": "HTTP 401 Unauthorized: the API key is missing or not valid."}, resp.JSON(t), tc.name)
			require.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"))
		}
	}
	// Unknown API paths need the key too, then answer 404 in OneSpan's shape.
	require.Equal(t, http.StatusUnauthorized, b.do(t, http.MethodGet, "/api/nothing", nil, http.Header{"Authorization": nil}).Status)
	resp := b.do(t, http.MethodGet, "/api/nothing", nil, nil)
	require.Equal(t, http.StatusNotFound, resp.Status)
	require.Equal(t, "error.notFound", resp.JSON(t)["messageKey"])

	b.fake.SetAPIKey("rotated")
	require.Equal(t, http.StatusUnauthorized, b.do(t, http.MethodGet, "/api/callback", nil, nil).Status)
	require.Equal(t, http.StatusOK, b.do(t, http.MethodGet, "/api/callback", nil, http.Header{"Authorization": {"Basic rotated"}}).Status)
	require.Equal(t, "rotated", b.fake.APIKey())
}

func TestCreateValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	pdf := onespanfake.PDF("One page with /sn1/")
	edit := func(f func(p map[string]any)) map[string]any {
		p := payload()
		f(p)
		return p
	}
	field := func(p map[string]any) map[string]any {
		doc := p["documents"].([]any)[0].(map[string]any)
		return doc["approvals"].([]any)[0].(map[string]any)["fields"].([]any)[0].(map[string]any)
	}
	signer := func(p map[string]any) map[string]any {
		return p["roles"].([]any)[0].(map[string]any)["signers"].([]any)[0].(map[string]any)
	}
	cases := []struct {
		name    string
		payload any
		files   []file
		key     string
	}{
		{"payload not JSON", []byte("{nope"), []file{{"Contract", pdf}}, "error.validation.invalidJson"},
		{"a number where a string goes", edit(func(p map[string]any) { p["name"] = 5 }), []file{{"Contract", pdf}}, "error.validation.invalidJson"},
		{"no name", edit(func(p map[string]any) { p["name"] = " " }), []file{{"Contract", pdf}}, "error.validation.packageName"},
		{"a template", edit(func(p map[string]any) { p["type"] = "TEMPLATE" }), []file{{"Contract", pdf}}, "error.validation.packageType"},
		{"created COMPLETED", edit(func(p map[string]any) { p["status"] = "COMPLETED" }), []file{{"Contract", pdf}}, "error.validation.cannotChangePackageStatus"},
		{"no file", payload(), nil, "error.validation.documentFileMismatch"},
		{"two files for one document", payload(), []file{{"Contract", pdf}, {"Other", pdf}}, "error.validation.documentFileMismatch"},
		{"not a PDF", payload(), []file{{"Contract", []byte("PK\x03\x04")}}, "error.validation.invalidFileType"},
		{"a bad email", edit(func(p map[string]any) { signer(p)["email"] = "ada at example.com" }), []file{{"Contract", pdf}}, "error.validation.invalidEmail"},
		{"no last name", edit(func(p map[string]any) { signer(p)["lastName"] = "" }), []file{{"Contract", pdf}}, "error.validation.signerName"},
		{"a duplicate role id", edit(func(p map[string]any) { p["roles"] = append(p["roles"].([]any), p["roles"].([]any)[0]) }), []file{{"Contract", pdf}}, "error.validation.roleId"},
		{"an approval for no role", edit(func(p map[string]any) {
			p["documents"].([]any)[0].(map[string]any)["approvals"].([]any)[0].(map[string]any)["role"] = "Nobody"
		}), []file{{"Contract", pdf}}, "error.validation.approvalRole"},
		{"a field off the page", edit(func(p map[string]any) { field(p)["left"] = 700 }), []file{{"Contract", pdf}}, "error.validation.invalidPageLocation"},
		{"a field below the page", edit(func(p map[string]any) { field(p)["top"] = 1000 }), []file{{"Contract", pdf}}, "error.validation.invalidPageLocation"},
		{"a field on a missing page", edit(func(p map[string]any) { field(p)["page"] = 1 }), []file{{"Contract", pdf}}, "error.validation.invalidPageLocation"},
		{"a field of no size", edit(func(p map[string]any) { field(p)["width"] = 0 }), []file{{"Contract", pdf}}, "error.validation.fieldSize"},
		{"a text anchor without extraction", edit(func(p map[string]any) {
			field(p)["extractAnchor"] = map[string]any{"text": "/sn1/", "width": 200, "height": 50, "anchorPoint": "TOPLEFT"}
		}), []file{{"Contract", pdf}}, "error.validation.extractAnchor"},
		{"a text anchor not in the document", edit(func(p map[string]any) {
			p["documents"].([]any)[0].(map[string]any)["extract"] = true
			field(p)["extractAnchor"] = map[string]any{"text": "/sn2/", "width": 200, "height": 50, "anchorPoint": "TOPLEFT"}
		}), []file{{"Contract", pdf}}, "error.validation.extractAnchorNotFound"},
		{"a second occurrence that is not there", edit(func(p map[string]any) {
			p["documents"].([]any)[0].(map[string]any)["extract"] = true
			field(p)["extractAnchor"] = map[string]any{"text": "/sn1/", "index": 1, "width": 200, "height": 50, "anchorPoint": "TOPLEFT"}
		}), []file{{"Contract", pdf}}, "error.validation.extractAnchorNotFound"},
	}
	for _, tc := range cases {
		body, h := multipartCreate(t, tc.payload, tc.files...)
		resp := b.do(t, http.MethodPost, "/api/packages", body, h)
		require.Equal(t, http.StatusBadRequest, resp.Status, tc.name)
		got := resp.JSON(t)
		require.Equal(t, tc.key, got["messageKey"], tc.name)
		require.Equal(t, float64(400), got["code"], tc.name)
		require.Equal(t, "Validation Error", got["name"], tc.name)
		require.NotEmpty(t, got["message"], tc.name)
	}
	// OneSpan's own words for a field off the page.
	body, h := multipartCreate(t, edit(func(p map[string]any) { field(p)["left"] = 700 }), file{"Contract", pdf})
	require.Equal(t, "Invalid position. Object placed outside of document page boundary.", b.do(t, http.MethodPost, "/api/packages", body, h).JSON(t)["message"])

	// Neither multipart nor JSON; a multipart without payload; a JSON create to send at once.
	resp := b.do(t, http.MethodPost, "/api/packages", []byte("x"), http.Header{"Content-Type": {"text/plain"}})
	require.Equal(t, "error.validation.invalidContentType", resp.JSON(t)["messageKey"])
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("file", "Contract")
	require.NoError(t, err)
	_, err = fw.Write(pdf)
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	resp = b.do(t, http.MethodPost, "/api/packages", buf.Bytes(), http.Header{"Content-Type": {mw.FormDataContentType()}})
	require.Equal(t, "error.validation.missingPayload", resp.JSON(t)["messageKey"])
	p := payload()
	p["documents"] = []any{}
	raw, err := json.Marshal(p)
	require.NoError(t, err)
	resp = b.do(t, http.MethodPost, "/api/packages", raw, http.Header{"Content-Type": {"application/json"}})
	require.Equal(t, "error.validation.packageActivation", resp.JSON(t)["messageKey"])

	require.Empty(t, b.fake.Packages())
	creates := b.fake.Creates()
	require.Len(t, creates, len(cases)+4)
	for _, c := range creates {
		require.Empty(t, c.ID)
		require.NotEmpty(t, c.MessageKey)
	}
	require.Empty(t, b.hook.Posts(), "a refused create sends nothing")
}

func TestCreateAndRead(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := payload("ada@example.com", "bob@example.com")
	// A field flush with the corner of the 796 × 1030 px page is inside it.
	approvals := p["documents"].([]any)[0].(map[string]any)["approvals"].([]any)
	approvals[1].(map[string]any)["fields"] = []any{map[string]any{
		"type": "SIGNATURE", "subtype": "FULLNAME", "page": 1, "left": 595.6, "top": 979.6, "width": 200, "height": 50}}
	id := b.create(t, p)

	got := b.fake.Packages()
	require.Len(t, got, 1)
	require.Equal(t, id, got[0].ID)
	require.Equal(t, "text/plain; charset=UTF-8", got[0].PayloadContentType)
	require.Equal(t, "Contract", got[0].Files[0].FileName)
	require.Equal(t, map[string]any{"flowhook_work_item_id": "wi_1"}, got[0].Package.Data)

	v := b.get(t, id)
	require.Equal(t, id, v["id"])
	require.Equal(t, "SENT", v["status"])
	require.Equal(t, false, v["trashed"])
	require.Equal(t, "2026-04-29T18:00:00Z", v["updated"])
	require.Nil(t, v["completed"])
	require.Equal(t, map[string]any{"flowhook_work_item_id": "wi_1"}, v["data"])
	roles := v["roles"].([]any)
	require.Len(t, roles, 3, "OneSpan adds the owner's role")
	require.Equal(t, "SENDER", roles[0].(map[string]any)["type"])
	require.Equal(t, float64(0), roles[0].(map[string]any)["index"])
	require.Equal(t, "Signer1", roles[1].(map[string]any)["id"])
	docs := v["documents"].([]any)
	require.Len(t, docs, 1)
	require.Regexp(t, `^[0-9a-f]{40}$`, docs[0].(map[string]any)["id"])
	require.Equal(t, []any{}, v["messages"])

	st, ok := b.fake.State(id)
	require.True(t, ok)
	require.Equal(t, "SENT", st.Status)
	require.Len(t, st.SignerIDs, 2)

	// A JSON create without documents is a draft; a draft is not in the inbox.
	raw, err := json.Marshal(map[string]any{"name": "Draft", "roles": []any{}})
	require.NoError(t, err)
	resp := b.do(t, http.MethodPost, "/api/packages", raw, http.Header{"Content-Type": {"application/json"}})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	draft := resp.JSON(t)["id"].(string)
	require.Equal(t, "DRAFT", b.get(t, draft)["status"])
	require.Equal(t, http.StatusNotFound, b.do(t, http.MethodGet, "/api/packages/LWsUTvGgE4WpOvaQPT16idnxNj8=", nil, nil).Status)
}

func TestList(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var ids []string
	for range 5 {
		ids = append(ids, b.create(t, payload()))
		b.clock.Advance(time.Minute)
	}
	list := func(query string) (ids []string, count int) {
		t.Helper()
		resp := b.do(t, http.MethodGet, "/api/packages?"+query, nil, nil)
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		var out struct {
			Results []struct {
				ID   string          `json:"id"`
				Data json.RawMessage `json:"data"`
			} `json:"results"`
			Count int `json:"count"`
		}
		require.NoError(t, json.Unmarshal(resp.Body, &out))
		for _, r := range out.Results {
			ids = append(ids, r.ID)
		}
		return ids, out.Count
	}
	got, n := list("query=inbox&from=1&to=2&sort=updated&dir=desc")
	require.Equal(t, []string{ids[4], ids[3]}, got)
	require.Equal(t, 5, n)
	got, _ = list("query=inbox&from=5&to=10")
	require.Equal(t, []string{ids[0]}, got)
	got, _ = list("query=inbox&from=1&to=10&dir=asc")
	require.Equal(t, ids, got)
	got, n = list("query=inbox&from=1&to=10&lastUpdatedStartDate=2026-04-29T18:03:00Z&lastUpdatedEndDate=2026-04-29T18:03:59Z")
	require.Equal(t, []string{ids[3]}, got)
	require.Equal(t, 1, n)

	require.NoError(t, b.fake.Trash(ids[0]))
	require.NoError(t, b.fake.Complete(ids[1]))
	got, _ = list("query=trashed&from=1&to=10")
	require.Equal(t, []string{ids[0]}, got)
	got, _ = list("query=COMPLETED&from=1&to=10")
	require.Equal(t, []string{ids[1]}, got)
	_, n = list("query=inbox&from=1&to=10")
	require.Equal(t, 4, n, "trashed packages leave the inbox")

	for _, bad := range []string{"query=everything", "from=0&to=1", "from=3&to=2", "from=1&to=2000", "from=x", "lastUpdatedStartDate=yesterday", "sort=size"} {
		resp := b.do(t, http.MethodGet, "/api/packages?"+bad, nil, nil)
		require.Equal(t, http.StatusBadRequest, resp.Status, bad)
		require.Equal(t, "error.validation.invalidParameters", resp.JSON(t)["messageKey"], bad)
	}

	// Without data attributes in listings, on demand.
	b.fake.SetListOmitsData(true)
	resp := b.do(t, http.MethodGet, "/api/packages?query=inbox&from=1&to=1", nil, nil)
	require.NotContains(t, string(resp.Body), "flowhook_work_item_id")
	require.Contains(t, b.get(t, ids[4]), "data")
}

func TestCallbacksFollowTheRegistration(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *onespanfake.Options) { o.CallbackURL = "" })
	id := b.create(t, payload())
	require.NoError(t, b.fake.Complete(id))
	require.Empty(t, b.hook.Posts(), "no callback registered, nothing sent")
	require.Empty(t, b.fake.Deliveries())
	require.Equal(t, http.StatusNotFound, b.do(t, http.MethodGet, "/api/callback", nil, nil).Status)

	reg := func(cb map[string]any) providertest.Response {
		raw, err := json.Marshal(cb)
		require.NoError(t, err)
		return b.do(t, http.MethodPost, "/api/callback", raw, http.Header{"Content-Type": {"application/json"}})
	}
	require.Equal(t, "error.validation.callbackEvent", reg(map[string]any{"url": b.hook.URL, "key": cbKey, "events": []string{"PACKAGE_DELETED"}}).JSON(t)["messageKey"])
	require.Equal(t, "error.validation.callbackUrl", reg(map[string]any{"url": "/hook", "key": cbKey, "events": []string{"PACKAGE_COMPLETE"}}).JSON(t)["messageKey"])
	resp := reg(map[string]any{"url": b.hook.URL, "key": cbKey, "events": []string{"PACKAGE_DECLINE", "PACKAGE_DELETE"}})
	require.Equal(t, http.StatusOK, resp.Status)
	require.Equal(t, map[string]any{"url": b.hook.URL, "key": cbKey, "events": []any{"PACKAGE_DECLINE", "PACKAGE_DELETE"}},
		b.do(t, http.MethodGet, "/api/callback", nil, nil).JSON(t))

	id = b.create(t, payload())
	require.NoError(t, b.fake.Decline(id, "No thanks"))
	other := b.create(t, payload())
	require.NoError(t, b.fake.Complete(other))
	require.Equal(t, http.StatusOK, b.do(t, http.MethodDelete, "/api/packages/"+url.PathEscape(other), nil, nil).Status)
	require.Equal(t, []string{"PACKAGE_DECLINE", "PACKAGE_DELETE"}, eventNames(t, b.hook), "only the registered events")

	posts := b.hook.Posts()
	require.Equal(t, "Basic "+cbKey, posts[0].Header.Get("Authorization"), "the key as is")
	require.Equal(t, "application/json; charset=utf-8", posts[0].Header.Get("Content-Type"))
	st, _ := b.fake.State(id)
	// The body: OneSpan's field order, @class, null message and documentId, a UTC millisecond date.
	require.Equal(t, `{"@class":"com.silanis.esl.packages.event.ESLProcessEvent","name":"PACKAGE_DECLINE","sessionUser":"`+
		st.SignerIDs[0]+`","packageId":"`+id+`","message":null,"documentId":null,"createdDate":"2026-04-29T18:00:00.000Z"}`,
		string(posts[0].Body))
	require.Regexp(t, eventDate, events(t, b.hook)[1].CreatedDate)
	require.Equal(t, b.fake.SenderID(), events(t, b.hook)[1].SessionUser, "a sender's action")

	// The decline's reason is in the package's messages, not in the callback.
	msgs := b.get(t, id)["messages"].([]any)
	require.Len(t, msgs, 1)
	require.Equal(t, "No thanks", msgs[0].(map[string]any)["content"])
	require.Equal(t, "DECLINED", b.get(t, id)["status"])
}

func TestNoKeyNoAuthorizationHeader(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *onespanfake.Options) { o.CallbackKey = "" })
	b.create(t, payload())
	posts := b.hook.Posts()
	require.Len(t, posts, 2)
	require.Empty(t, posts[0].Header.Values("Authorization"))
}

func TestCompleteSendsSignerThenPackageEvents(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.create(t, payload("ada@example.com", "bob@example.com"))
	b.clock.Advance(time.Hour)
	require.NoError(t, b.fake.Sign(id))
	b.clock.Advance(time.Hour)
	require.NoError(t, b.fake.Complete(id))
	require.Equal(t, []string{"PACKAGE_CREATE", "PACKAGE_ACTIVATE",
		"DOCUMENT_SIGNED", "SIGNER_COMPLETE", "DOCUMENT_SIGNED", "SIGNER_COMPLETE", "PACKAGE_COMPLETE"}, eventNames(t, b.hook))
	st, _ := b.fake.State(id)
	evs := events(t, b.hook)
	require.Equal(t, st.SignerIDs[0], evs[2].SessionUser)
	require.Equal(t, st.DocumentIDs[0], *evs[2].DocumentID)
	require.Nil(t, evs[3].DocumentID)
	require.Equal(t, st.SignerIDs[1], evs[6].SessionUser, "PACKAGE_COMPLETE names the last signer")
	require.Equal(t, "2026-04-29T20:00:00.000Z", evs[6].CreatedDate)

	v := b.get(t, id)
	require.Equal(t, "COMPLETED", v["status"])
	require.Equal(t, "2026-04-29T20:00:00Z", v["completed"])
	approvals := v["documents"].([]any)[0].(map[string]any)["approvals"].([]any)
	require.Equal(t, "2026-04-29T19:00:00Z", approvals[0].(map[string]any)["signed"])

	// What cannot happen to a completed package.
	require.Error(t, b.fake.Sign(id))
	require.Error(t, b.fake.Decline(id, "late"))
	require.Error(t, b.fake.Expire(id))
	require.Error(t, b.fake.Activate(id))
	require.Error(t, b.fake.Complete("LWsUTvGgE4WpOvaQPT16idnxNj8="))
}

func TestHooksAndStatuses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		drive   func(f *onespanfake.Fake, id string) error
		status  string
		trashed bool
		event   string
	}{
		{"opt out", func(f *onespanfake.Fake, id string) error { return f.OptOut(id, "Paper please") }, "OPTED_OUT", false, "PACKAGE_OPT_OUT"},
		{"expire", func(f *onespanfake.Fake, id string) error { return f.Expire(id) }, "EXPIRED", false, "PACKAGE_EXPIRE"},
		{"archive", func(f *onespanfake.Fake, id string) error { return f.Archive(id) }, "ARCHIVED", false, "PACKAGE_ARCHIVE"},
		{"trash", func(f *onespanfake.Fake, id string) error { return f.Trash(id) }, "SENT", true, "PACKAGE_TRASH"},
		{"trash and restore", func(f *onespanfake.Fake, id string) error {
			if err := f.Trash(id); err != nil {
				return err
			}
			return f.Restore(id)
		}, "SENT", false, "PACKAGE_RESTORE"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			id := b.create(t, payload())
			require.NoError(t, tc.drive(b.fake, id))
			v := b.get(t, id)
			require.Equal(t, tc.status, v["status"])
			require.Equal(t, tc.trashed, v["trashed"])
			names := eventNames(t, b.hook)
			require.Equal(t, tc.event, names[len(names)-1])
		})
	}

	b := setup(t)
	id := b.create(t, payload())
	require.NoError(t, b.fake.Trash(id))
	require.Error(t, b.fake.Complete(id), "a trashed package is not signed")
	require.Error(t, b.fake.Trash(id))
	require.NoError(t, b.fake.Delete(id))
	require.Equal(t, http.StatusNotFound, b.do(t, http.MethodGet, "/api/packages/"+url.PathEscape(id), nil, nil).Status)
	require.Error(t, b.fake.Delete(id))
	st, known := b.fake.State(id)
	require.True(t, known)
	require.True(t, st.Deleted)
	require.Equal(t, "PACKAGE_DELETE", eventNames(t, b.hook)[len(eventNames(t, b.hook))-1])

	draft := b.create(t, func() map[string]any { p := payload(); p["status"] = "DRAFT"; return p }())
	require.Error(t, b.fake.Complete(draft))
	require.NoError(t, b.fake.Activate(draft))
	require.Equal(t, "SENT", b.get(t, draft)["status"])
}

func TestUpdateAndDeleteEndpoints(t *testing.T) {
	t.Parallel()
	b := setup(t)
	jsonType := http.Header{"Content-Type": {"application/json"}}
	draft := b.create(t, func() map[string]any { p := payload(); p["status"] = "DRAFT"; return p }())
	path := "/api/packages/" + url.PathEscape(draft)
	require.Equal(t, http.StatusOK, b.do(t, http.MethodPut, path, []byte(`{"status":"SENT"}`), jsonType).Status)
	require.Equal(t, http.StatusOK, b.do(t, http.MethodPost, path, []byte(`{"status":"DRAFT"}`), jsonType).Status)
	require.Equal(t, http.StatusOK, b.do(t, http.MethodPost, path, []byte(`{"trashed":true}`), jsonType).Status)
	require.Equal(t, true, b.get(t, draft)["trashed"])
	resp := b.do(t, http.MethodPost, path, []byte(`{"status":"DECLINED"}`), jsonType)
	require.Equal(t, http.StatusBadRequest, resp.Status)
	require.Equal(t, "error.validation.cannotChangePackageStatus", resp.JSON(t)["messageKey"])
	names := eventNames(t, b.hook)
	require.Equal(t, []string{"PACKAGE_CREATE", "PACKAGE_ACTIVATE", "PACKAGE_DEACTIVATE", "PACKAGE_TRASH"}, names)

	require.Equal(t, http.StatusOK, b.do(t, http.MethodDelete, path, nil, nil).Status)
	require.Equal(t, http.StatusNotFound, b.do(t, http.MethodDelete, path, nil, nil).Status)
	require.Equal(t, http.StatusNotFound, b.do(t, http.MethodGet, path, nil, nil).Status)
	require.Equal(t, "PACKAGE_DELETE", eventNames(t, b.hook)[4])
}

func TestDocuments(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.create(t, payload())
	pdf := onespanfake.PDF("Page one /sn1/", "Page two /sn2/")
	path := "/api/packages/" + url.PathEscape(id)

	read := func() []byte {
		resp := b.do(t, http.MethodGet, path+"/documents/zip", nil, http.Header{"Accept": {"*/*"}})
		require.Equal(t, http.StatusOK, resp.Status)
		require.Equal(t, "application/zip", resp.Header.Get("Content-Type"))
		zr, err := zip.NewReader(bytes.NewReader(resp.Body), int64(len(resp.Body)))
		require.NoError(t, err)
		require.Len(t, zr.File, 1)
		require.Equal(t, "Contract.pdf", zr.File[0].Name)
		require.Equal(t, zip.Deflate, zr.File[0].Method, "deflated, as OneSpan's zips are")
		rc, err := zr.File[0].Open()
		require.NoError(t, err)
		defer rc.Close()
		data, err := io.ReadAll(rc)
		require.NoError(t, err)
		return data
	}
	require.Equal(t, pdf, read(), "unsigned: the upload as is")
	require.Equal(t, map[string]any{"status": "SIGNING_PENDING"}, b.do(t, http.MethodGet, path+"/signingStatus", nil, nil).JSON(t))
	require.NoError(t, b.fake.Complete(id))
	signed := read()
	require.True(t, bytes.HasPrefix(signed, pdf))
	require.Contains(t, string(signed), "signed by ada@example.com at 2026-04-29T18:00:00Z")
	require.Equal(t, map[string]any{"status": "COMPLETED"}, b.do(t, http.MethodGet, path+"/signingStatus", nil, nil).JSON(t))

	st, _ := b.fake.State(id)
	resp := b.do(t, http.MethodGet, path+"/documents/"+st.DocumentIDs[0]+"/pdf", nil, nil)
	require.Equal(t, http.StatusOK, resp.Status)
	require.Equal(t, signed, resp.Body)
	require.Equal(t, http.StatusNotFound, b.do(t, http.MethodGet, path+"/documents/nope/pdf", nil, nil).Status)
	require.Equal(t, http.StatusNotFound, b.do(t, http.MethodGet, "/api/packages/x=/documents/zip", nil, nil).Status)
}

func TestNoRetryFailureEmailAndReplay(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.hook.SetStatus(http.StatusServiceUnavailable)
	id := b.create(t, payload())
	require.Len(t, b.hook.Posts(), 2, "each event tried once: OneSpan does not retry")
	failed := b.fake.FailedDeliveries()
	require.Len(t, failed, 2)
	require.Equal(t, []string{"PACKAGE_CREATE", "PACKAGE_ACTIVATE"}, []string{failed[0].Event, failed[1].Event})
	require.Equal(t, http.StatusServiceUnavailable, failed[0].StatusCode)
	require.Equal(t, id, failed[0].PackageID)
	require.Empty(t, b.fake.DeliveredEvents())

	b.hook.SetStatus(http.StatusOK)
	d, err := b.fake.Replay(1)
	require.NoError(t, err)
	require.True(t, d.OK())
	require.True(t, d.Replay)
	posts := b.hook.Posts()
	require.Len(t, posts, 3)
	require.Equal(t, posts[1].Body, posts[2].Body, "the failure email's payload, byte for byte")
	require.Equal(t, "Basic "+cbKey, posts[2].Header.Get("Authorization"))
	require.Equal(t, []string{"PACKAGE_ACTIVATE"}, b.fake.DeliveredEvents())
	require.Len(t, b.fake.Deliveries(), 3)
	require.Len(t, b.fake.FailedDeliveries(), 2, "an email stays an email")
	_, err = b.fake.Replay(2)
	require.Error(t, err)

	// A listener that cannot be reached.
	dead := setup(t, func(o *onespanfake.Options) { o.CallbackURL = "http://127.0.0.1:1/hook" })
	dead.create(t, payload())
	failed = dead.fake.FailedDeliveries()
	require.Len(t, failed, 2)
	require.Zero(t, failed[0].StatusCode)
	require.NotEmpty(t, failed[0].Err)
}

// TestRedeliver: callbacks that failed wait for a resend while later ones go out (OneSpan
// holds nothing back); Redeliver resends the failed ones at once, in order, each once, with the
// bytes of their first try, and a second Redeliver posts nothing.
func TestRedeliver(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.hook.SetAnswer(func(n int) int {
		if n < 2 {
			return http.StatusInternalServerError // down for the create's two callbacks
		}
		return http.StatusOK
	})
	id := b.create(t, payload())
	require.NoError(t, b.fake.Complete(id))
	require.Equal(t, []string{"DOCUMENT_SIGNED", "SIGNER_COMPLETE", "PACKAGE_COMPLETE"}, b.fake.DeliveredEvents())
	require.Equal(t, []onespanfake.Waiting{
		{PackageID: id, Event: "PACKAGE_CREATE", URL: b.hook.URL},
		{PackageID: id, Event: "PACKAGE_ACTIVATE", URL: b.hook.URL},
	}, b.fake.Backlog())

	ds := b.fake.Redeliver()
	require.Len(t, ds, 2)
	require.Equal(t, []string{"PACKAGE_CREATE", "PACKAGE_ACTIVATE"}, []string{ds[0].Event, ds[1].Event})
	posts := b.hook.Posts()
	require.Len(t, posts, 7)
	for i, d := range ds {
		require.True(t, d.OK())
		require.True(t, d.Resent)
		require.False(t, d.Replay)
		require.Equal(t, posts[i].Body, posts[5+i].Body, "the same payload")
		require.Equal(t, "Basic "+cbKey, posts[5+i].Header.Get("Authorization"))
	}
	require.Empty(t, b.fake.Backlog())
	require.Empty(t, b.fake.Redeliver(), "a second redeliver posts nothing")
	require.Len(t, b.hook.Posts(), 7)
	require.Len(t, b.fake.FailedDeliveries(), 2, "the emails stay")

	// A failed callback replayed by hand is not resent.
	b.hook.SetStatus(http.StatusServiceUnavailable)
	require.NoError(t, b.fake.Archive(id))
	require.Len(t, b.fake.Backlog(), 1)
	b.hook.SetStatus(http.StatusOK)
	_, err := b.fake.Replay(2)
	require.NoError(t, err)
	require.Empty(t, b.fake.Backlog())
	require.Empty(t, b.fake.Redeliver())
}

func TestDuplicatesAndReordering(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.fake.SetDuplicates(3)
	b.create(t, payload())
	posts := b.hook.Posts()
	require.Len(t, posts, 6)
	require.Equal(t, posts[0].Body, posts[2].Body)
	require.NotEqual(t, posts[2].Body, posts[3].Body)

	b2 := setup(t)
	b2.fake.HoldDeliveries(true)
	id := b2.create(t, payload("ada@example.com", "bob@example.com"))
	require.NoError(t, b2.fake.Complete(id))
	require.Empty(t, b2.hook.Posts())
	held := b2.fake.Held()
	require.Equal(t, []string{"PACKAGE_CREATE", "PACKAGE_ACTIVATE", "DOCUMENT_SIGNED", "SIGNER_COMPLETE", "DOCUMENT_SIGNED", "SIGNER_COMPLETE", "PACKAGE_COMPLETE"}, held)
	require.Error(t, b2.fake.Flush(0, 1))
	require.Error(t, b2.fake.Flush(0, 0, 1, 2, 3, 4, 5))
	require.NoError(t, b2.fake.FlushReverse())
	require.Equal(t, []string{"PACKAGE_COMPLETE", "SIGNER_COMPLETE", "DOCUMENT_SIGNED", "SIGNER_COMPLETE", "DOCUMENT_SIGNED", "PACKAGE_ACTIVATE", "PACKAGE_CREATE"}, eventNames(t, b2.hook))
	require.Empty(t, b2.fake.Held())

	// Still holding: a new event waits; a chosen order; then holding off sends at once.
	require.NoError(t, b2.fake.Archive(id))
	other := b2.create(t, payload())
	require.Equal(t, []string{"PACKAGE_ARCHIVE", "PACKAGE_CREATE", "PACKAGE_ACTIVATE"}, b2.fake.Held())
	require.NoError(t, b2.fake.Flush(2, 0, 1))
	names := eventNames(t, b2.hook)
	require.Equal(t, []string{"PACKAGE_ACTIVATE", "PACKAGE_ARCHIVE", "PACKAGE_CREATE"}, names[7:])
	b2.fake.HoldDeliveries(false)
	require.NoError(t, b2.fake.Trash(other))
	require.Equal(t, "PACKAGE_TRASH", eventNames(t, b2.hook)[10])
}

func TestFailuresAndDroppedAnswers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.fake.FailNextWith(1, onespanfake.Failure{Status: http.StatusTooManyRequests, RetryAfter: 3 * time.Second})
	b.fake.FailNext(1, http.StatusInternalServerError)
	resp := b.do(t, http.MethodGet, "/api/callback", nil, nil)
	require.Equal(t, http.StatusTooManyRequests, resp.Status)
	require.Equal(t, "3", resp.Header.Get("Retry-After"))
	require.Equal(t, "error.tooManyRequests", resp.JSON(t)["messageKey"])
	resp = b.do(t, http.MethodGet, "/api/callback", nil, nil)
	require.Equal(t, http.StatusInternalServerError, resp.Status)
	require.Equal(t, "error.internal.default", resp.JSON(t)["messageKey"])
	require.Equal(t, http.StatusOK, b.do(t, http.MethodGet, "/api/callback", nil, nil).Status)

	b.fake.DropNextCreateResponse()
	body, h := multipartCreate(t, payload(), file{"Contract", onespanfake.PDF("x")})
	require.Error(t, providertest.Try(b.hc, b.request(t, http.MethodPost, "/api/packages", body, h)).Err, "the answer is lost")
	require.Len(t, b.fake.Packages(), 1, "but the package exists")
	require.Equal(t, []string{"PACKAGE_CREATE", "PACKAGE_ACTIVATE"}, eventNames(t, b.hook), "and its callbacks went out")
	b.create(t, payload()) // only the next create is dropped

	// SetStatus: GET disagrees with what was sent, and no event says so.
	id := b.fake.Packages()[0].ID
	require.NoError(t, b.fake.SetStatus(id, "COMPLETED"))
	require.Equal(t, "COMPLETED", b.get(t, id)["status"])
	require.Len(t, b.hook.Posts(), 4)
	require.Error(t, b.fake.SetStatus("nope=", "COMPLETED"))
}

func TestRequestsAreRecorded(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.do(t, http.MethodGet, "/api/packages/"+url.PathEscape("a_b-c=")+"?x=1", nil, nil)
	reqs := b.fake.Requests()
	require.Len(t, reqs, 1)
	require.Equal(t, onespanfake.Request{
		Method: http.MethodGet, Path: "/api/packages/a_b-c=", EscapedPath: "/api/packages/a_b-c=", Query: "x=1",
		Header: reqs[0].Header, Status: http.StatusNotFound,
	}, reqs[0])
	require.Equal(t, "Basic "+apiKey, reqs[0].Header.Get("Authorization"))
	require.Equal(t, 1, b.fake.CountRequests(http.MethodGet, "/api/packages/a_b-c="))
}

func TestPDFPositionsNeedReadablePages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// A PDF whose pages cannot be read (a compressed object stream): positions are not checked.
	opaque := []byte("%PDF-1.7\n% compressed objects only\n%%EOF\n")
	p := payload()
	field := p["documents"].([]any)[0].(map[string]any)["approvals"].([]any)[0].(map[string]any)["fields"].([]any)[0].(map[string]any)
	field["left"] = 5000
	body, h := multipartCreate(t, p, file{"Contract", opaque})
	require.Equal(t, http.StatusOK, b.do(t, http.MethodPost, "/api/packages", body, h).Status)
	// Letter pages in OneSpan's pixels: 795.6 wide.
	field["left"] = 595.7
	body, h = multipartCreate(t, p, file{"Contract", onespanfake.PDF("x")})
	require.Equal(t, http.StatusBadRequest, b.do(t, http.MethodPost, "/api/packages", body, h).Status)
	field["left"] = 595.6
	body, h = multipartCreate(t, p, file{"Contract", onespanfake.PDF("x")})
	require.Equal(t, http.StatusOK, b.do(t, http.MethodPost, "/api/packages", body, h).Status)
	require.True(t, strings.HasPrefix(string(onespanfake.PDF()), "%PDF-1.4"))
}

// TestHoldLookups: a held package listing answers only after the release; other requests pass
// meanwhile.
func TestHoldLookups(t *testing.T) {
	t.Parallel()
	b := setup(t)
	release := b.fake.HoldLookups()
	t.Cleanup(release)
	listed := providertest.Send(b.hc, b.request(t, http.MethodGet, "/api/packages?query=inbox&from=1&to=1", nil, nil))
	require.Eventually(t, func() bool { return b.fake.HeldLookups() == 1 }, 10*time.Second, time.Millisecond)
	require.Equal(t, http.StatusNotFound, b.do(t, http.MethodGet, "/api/packages/no-such-package", nil, nil).Status, "a package read is not held")
	require.Empty(t, listed, "the listing waits")
	release()
	require.Equal(t, providertest.Answer{Status: http.StatusOK}, <-listed)
	require.Zero(t, b.fake.HeldLookups())
	require.Equal(t, http.StatusOK, b.do(t, http.MethodGet, "/api/packages?query=inbox&from=1&to=1", nil, nil).Status, "not held after the release")
}
