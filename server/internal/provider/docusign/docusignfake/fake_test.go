package docusignfake_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/flowhook/flowhook/server/internal/provider/docusign"
	"github.com/flowhook/flowhook/server/internal/provider/docusign/docusignfake"
	"github.com/flowhook/flowhook/server/internal/provider/providertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	keyA = "a2V5LUEtZm9yLXRoZS1mYWtlLWRvY3VzaWduLXRlc3Rz"
	keyB = "a2V5LUItZm9yLXRoZS1mYWtlLWRvY3VzaWduLXRlc3Rz"
)

var guid = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
var dsTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$`)

// events are the events of the Connect messages the listener received, in order.
func events(t *testing.T, l *providertest.Listener) []string {
	t.Helper()
	var out []string
	for _, p := range l.Posts() {
		var m struct {
			Event string `json:"event"`
		}
		require.NoError(t, json.Unmarshal(p.Body, &m))
		out = append(out, m.Event)
	}
	return out
}

type testBundle struct {
	fake  *docusignfake.Fake
	url   string
	clock *providertest.Clock
	hook  *providertest.Listener
	hc    *http.Client
	token string
}

// setup starts a fake with a listener and, unless the options set a public key, signs in (no
// public key: any signature passes, the claims are still checked).
func setup(t *testing.T, mods ...func(*docusignfake.Options)) *testBundle {
	t.Helper()
	b := &testBundle{clock: providertest.NewClock(), hook: providertest.NewListener(t, "/hook", 0, nil), hc: providertest.HTTPClient(t)}
	opts := docusignfake.Options{HMACKeys: []string{keyA, keyB}, Now: b.clock.Now}
	for _, m := range mods {
		m(&opts)
	}
	b.fake = docusignfake.New(opts)
	b.url = b.fake.Start(t)
	if opts.PublicKey != nil {
		return b // the test signs its own assertions
	}
	status, body := b.tokenRequest(t, "urn:ietf:params:oauth:grant-type:jwt-bearer", b.assertion(t, nil, nil))
	require.Equal(t, http.StatusOK, status, "%v", body)
	b.token = body["access_token"].(string)
	return b
}

func (b *testBundle) claims() map[string]any {
	u, _ := url.Parse(b.url)
	now := b.clock.Now()
	return map[string]any{
		"iss": b.fake.IntegrationKey(), "sub": b.fake.UserID(), "aud": u.Hostname(),
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "scope": "signature impersonation",
	}
}

// assertion builds a JWT with the edits applied to the good claims, signed with key (or with
// a dummy signature when key is nil).
func (b *testBundle) assertion(t *testing.T, edit func(map[string]any), key *rsa.PrivateKey) string {
	t.Helper()
	c := b.claims()
	if edit != nil {
		edit(c)
	}
	cb, err := json.Marshal(c)
	require.NoError(t, err)
	input := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + base64.RawURLEncoding.EncodeToString(cb)
	sig := []byte("not checked")
	if key != nil {
		d := sha256.Sum256([]byte(input))
		sig, err = rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, d[:])
		require.NoError(t, err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func (b *testBundle) tokenRequest(t *testing.T, grant, assertion string) (int, map[string]any) {
	t.Helper()
	form := url.Values{"grant_type": {grant}, "assertion": {assertion}}
	resp, err := b.hc.PostForm(b.url+"/oauth/token", form)
	require.NoError(t, err)
	defer resp.Body.Close()
	var m map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&m))
	return resp.StatusCode, m
}

// do sends a REST request under the fake's account with the bundle's token.
func (b *testBundle) do(t *testing.T, method, path string, body any) (int, http.Header, []byte) {
	t.Helper()
	return b.doAs(t, b.token, method, "/restapi/v2.1/accounts/"+b.fake.AccountID()+path, body)
}

func (b *testBundle) doAs(t *testing.T, token, method, path string, body any) (int, http.Header, []byte) {
	t.Helper()
	resp := providertest.Do(t, b.hc, b.request(t, token, method, path, body))
	return resp.Status, resp.Header, resp.Body
}

// request is a REST request with the token (none when it is empty): body as JSON, or as is
// when it is a string.
func (b *testBundle) request(t *testing.T, token, method, path string, body any) *http.Request {
	t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(v)
	default:
		j, err := json.Marshal(v)
		require.NoError(t, err)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, b.url+path, rd)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	return req
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m), string(b))
	return m
}

func requireError(t *testing.T, status int, body []byte, wantStatus int, code string) {
	t.Helper()
	require.Equal(t, wantStatus, status, string(body))
	m := decode(t, body)
	require.Equal(t, code, m["errorCode"], string(body))
	require.NotEmpty(t, m["message"])
}

// definition is a valid create request in DocuSign's shape, subscribed to every event the fake
// sends, with HMAC.
func (b *testBundle) definition(signers int) map[string]any {
	var ss []any
	for i := 1; i <= signers; i++ {
		n := strconv.Itoa(i)
		ss = append(ss, map[string]any{
			"email": "s" + n + "@example.com", "name": "Signer " + n, "recipientId": n, "routingOrder": n,
			"tabs": map[string]any{"signHereTabs": []any{map[string]any{"anchorString": "/sn" + n + "/", "anchorUnits": "pixels"}}},
		})
	}
	return map[string]any{
		"emailSubject": "Please sign",
		"status":       "sent",
		"documents": []any{map[string]any{
			"documentBase64": base64.StdEncoding.EncodeToString(docusignfake.PDF("the contract")),
			"name":           "Contract", "fileExtension": "pdf", "documentId": "1",
		}},
		"recipients":   map[string]any{"signers": ss},
		"customFields": map[string]any{"textCustomFields": []any{map[string]any{"name": "flowhookWorkItemId", "value": "wi_1", "show": "false"}}},
		"eventNotification": map[string]any{
			"url": b.hook.URL, "requireAcknowledgment": "true", "includeHMAC": "true", "includeEnvelopeVoidReason": "true",
			"deliveryMode": "SIM",
			"events": []any{"envelope-sent", "envelope-delivered", "envelope-completed", "envelope-declined", "envelope-voided",
				"recipient-sent", "recipient-delivered", "recipient-completed", "recipient-declined"},
			"eventData": map[string]any{"version": "restv2.1", "format": "json", "includeData": []any{"custom_fields", "recipients"}},
		},
	}
}

func (b *testBundle) create(t *testing.T, def map[string]any) string {
	t.Helper()
	status, _, body := b.do(t, http.MethodPost, "/envelopes", def)
	require.Equal(t, http.StatusCreated, status, string(body))
	return decode(t, body)["envelopeId"].(string)
}

func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	b := setup(t, func(o *docusignfake.Options) { o.PublicKey = &key.PublicKey })
	edit := func(k string, v any) func(map[string]any) { return func(m map[string]any) { m[k] = v } }
	cases := []struct {
		name  string
		grant string
		jwt   string
		code  string
		desc  string
	}{
		{"wrong grant", "client_credentials", b.assertion(t, nil, key), "unsupported_grant_type", ""},
		{"not a JWT", "", "abc", "invalid_grant", "invalid assertion: not a JWT"},
		{"unsigned", "", b.assertion(t, nil, nil), "invalid_grant", "no_valid_keys_or_signatures"},
		{"signed by another key", "", b.assertion(t, nil, other), "invalid_grant", "no_valid_keys_or_signatures"},
		{"other issuer", "", b.assertion(t, edit("iss", "00000000-0000-0000-0000-000000000000"), key), "invalid_grant", "issuer_not_found"},
		{"other user", "", b.assertion(t, edit("sub", "00000000-0000-0000-0000-000000000000"), key), "invalid_grant", "user_not_found"},
		{"aud with scheme", "", b.assertion(t, edit("aud", b.url), key), "invalid_grant", "aud must be 127.0.0.1"},
		{"expired", "", b.assertion(t, edit("exp", b.clock.Now().Add(-time.Second).Unix()), key), "invalid_grant", "invalid assertion: expired"},
		{"no scope", "", b.assertion(t, edit("scope", "impersonation"), key), "invalid_grant", "invalid_scope"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			grant := tc.grant
			if grant == "" {
				grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
			}
			status, body := b.tokenRequest(t, grant, tc.jwt)
			require.Equal(t, http.StatusBadRequest, status)
			require.Equal(t, tc.code, body["error"])
			if tc.desc != "" {
				require.Contains(t, body["error_description"], tc.desc)
			}
		})
	}
	status, body := b.tokenRequest(t, "urn:ietf:params:oauth:grant-type:jwt-bearer", b.assertion(t, nil, key))
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "Bearer", body["token_type"])
	require.Equal(t, float64(3600), body["expires_in"], "a JSON number")
	require.NotEmpty(t, body["access_token"])
}

func TestUserInfo(t *testing.T) {
	t.Parallel()
	b := setup(t)
	status, _, body := b.doAs(t, b.token, http.MethodGet, "/oauth/userinfo", nil)
	require.Equal(t, http.StatusOK, status)
	m := decode(t, body)
	require.Equal(t, b.fake.UserID(), m["sub"])
	accounts := m["accounts"].([]any)
	require.Len(t, accounts, 1)
	require.Equal(t, map[string]any{
		"account_id": b.fake.AccountID(), "is_default": true, "account_name": "Fake Account", "base_uri": b.url,
	}, accounts[0])
}

func TestAPIRequiresAnIssuedToken(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *docusignfake.Options) { o.TokenLifetime = 10 * time.Minute })
	path := "/restapi/v2.1/accounts/" + b.fake.AccountID() + "/envelopes?from_date=2026-01-01"
	status, _, body := b.doAs(t, b.token, http.MethodGet, path, nil)
	require.Equal(t, http.StatusOK, status, string(body))
	for name, tok := range map[string]string{"no token": "", "unknown token": "made-up"} {
		status, _, body := b.doAs(t, tok, http.MethodGet, path, nil)
		requireError(t, status, body, http.StatusUnauthorized, "USER_AUTHENTICATION_FAILED")
		_ = name
	}
	status, _, body = b.doAs(t, "", http.MethodGet, "/oauth/userinfo", nil)
	requireError(t, status, body, http.StatusUnauthorized, "USER_AUTHENTICATION_FAILED")

	b.clock.Advance(10 * time.Minute)
	status, _, body = b.doAs(t, b.token, http.MethodGet, path, nil)
	requireError(t, status, body, http.StatusUnauthorized, "USER_AUTHENTICATION_FAILED")

	b2 := setup(t)
	b2.fake.RevokeTokens()
	status, _, body = b2.do(t, http.MethodGet, "/envelopes?from_date=2026-01-01", nil)
	requireError(t, status, body, http.StatusUnauthorized, "USER_AUTHENTICATION_FAILED")
}

func TestOtherAccountIsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	status, _, body := b.doAs(t, b.token, http.MethodGet, "/restapi/v2.1/accounts/00000000-0000-0000-0000-000000000000/envelopes?from_date=2026-01-01", nil)
	requireError(t, status, body, http.StatusBadRequest, "USER_LACKS_MEMBERSHIP")
}

func TestCreateValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	edit := func(f func(d map[string]any)) any {
		d := b.definition(1)
		f(d)
		return d
	}
	signer := func(d map[string]any) map[string]any {
		return d["recipients"].(map[string]any)["signers"].([]any)[0].(map[string]any)
	}
	cases := []struct {
		name string
		body any
		code string
	}{
		{"not JSON", "{", "INVALID_REQUEST_BODY"},
		{"a number where a string goes", edit(func(d map[string]any) { signer(d)["recipientId"] = 1 }), "INVALID_REQUEST_BODY"},
		{"bad status", edit(func(d map[string]any) { d["status"] = "completed" }), "INVALID_REQUEST_PARAMETER"},
		{"no subject", edit(func(d map[string]any) { delete(d, "emailSubject") }), "ENVELOPE_IS_INCOMPLETE"},
		{"subject of 101 characters", edit(func(d map[string]any) { d["emailSubject"] = strings.Repeat("ü", 101) }), "INVALID_REQUEST_PARAMETER"},
		{"no documents", edit(func(d map[string]any) { d["documents"] = []any{} }), "ENVELOPE_IS_INCOMPLETE"},
		{"document not base64", edit(func(d map[string]any) {
			d["documents"].([]any)[0].(map[string]any)["documentBase64"] = "%%%"
		}), "INVALID_REQUEST_PARAMETER"},
		{"document without id", edit(func(d map[string]any) {
			delete(d["documents"].([]any)[0].(map[string]any), "documentId")
		}), "INVALID_REQUEST_PARAMETER"},
		{"no recipients", edit(func(d map[string]any) { delete(d, "recipients") }), "ENVELOPE_IS_INCOMPLETE"},
		{"no signers", edit(func(d map[string]any) { d["recipients"] = map[string]any{"signers": []any{}} }), "ENVELOPE_IS_INCOMPLETE"},
		{"signer without email", edit(func(d map[string]any) { delete(signer(d), "email") }), "INVALID_EMAIL_ADDRESS_FOR_RECIPIENT"},
		{"signer with a bad email", edit(func(d map[string]any) { signer(d)["email"] = "not-an-email" }), "INVALID_EMAIL_ADDRESS_FOR_RECIPIENT"},
		{"signer without name", edit(func(d map[string]any) { signer(d)["name"] = " " }), "INVALID_USERNAME_FOR_RECIPIENT"},
		{"tab without anchor or position", edit(func(d map[string]any) {
			signer(d)["tabs"] = map[string]any{"signHereTabs": []any{map[string]any{"anchorUnits": "pixels"}}}
		}), "INVALID_REQUEST_PARAMETER"},
		{"relative webhook URL", edit(func(d map[string]any) { d["eventNotification"].(map[string]any)["url"] = "/hook" }), "INVALID_REQUEST_PARAMETER"},
	}
	t.Run("cases", func(t *testing.T) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				status, _, body := b.do(t, http.MethodPost, "/envelopes", tc.body)
				requireError(t, status, body, http.StatusBadRequest, tc.code)
			})
		}
	})
	creates := b.fake.Envelopes()
	require.Len(t, creates, len(cases), "refused requests are recorded too")
	for _, c := range creates {
		require.Empty(t, c.EnvelopeID)
		require.NotEmpty(t, c.ErrorCode)
		require.NotEmpty(t, c.Raw)
	}
	require.Empty(t, b.hook.Posts())
}

func TestEnvelopeLifecycleOverREST(t *testing.T) {
	t.Parallel()
	b := setup(t)
	status, _, body := b.do(t, http.MethodPost, "/envelopes", b.definition(1))
	require.Equal(t, http.StatusCreated, status)
	sum := decode(t, body)
	id := sum["envelopeId"].(string)
	require.Regexp(t, guid, id)
	require.Equal(t, "/envelopes/"+id, sum["uri"])
	require.Regexp(t, dsTime, sum["statusDateTime"])
	require.Equal(t, "sent", sum["status"])
	require.Equal(t, "Please sign", b.fake.Envelopes()[0].Definition.EmailSubject)
	require.Equal(t, "wi_1", b.fake.Envelopes()[0].Definition.CustomFields.TextCustomFields[0].Value)

	status, _, body = b.do(t, http.MethodGet, "/envelopes/"+id, nil)
	require.Equal(t, http.StatusOK, status)
	env := decode(t, body)
	require.Equal(t, "sent", env["status"])
	require.Regexp(t, dsTime, env["sentDateTime"])
	require.Equal(t, "/envelopes/"+id+"/documents/combined", env["documentsCombinedUri"])
	require.NotContains(t, env, "recipients", "only with include=recipients")
	status, _, body = b.do(t, http.MethodGet, "/envelopes/"+id+"?include=recipients,custom_fields", nil)
	require.Equal(t, http.StatusOK, status)
	env = decode(t, body)
	require.Equal(t, "sent", env["recipients"].(map[string]any)["signers"].([]any)[0].(map[string]any)["status"])
	require.Equal(t, "wi_1", env["customFields"].(map[string]any)["textCustomFields"].([]any)[0].(map[string]any)["value"])

	// listStatusChanges: sizes are strings; an empty result has no envelopes at all.
	status, _, body = b.do(t, http.MethodGet, "/envelopes?from_date=2026-04-29T17:00:00Z&custom_field=flowhookWorkItemId%3Dwi_1", nil)
	require.Equal(t, http.StatusOK, status)
	list := decode(t, body)
	require.Equal(t, "1", list["resultSetSize"])
	require.Equal(t, "1", list["totalSetSize"])
	require.Equal(t, id, list["envelopes"].([]any)[0].(map[string]any)["envelopeId"])
	for _, q := range []string{"from_date=2026-04-29T19:00:00Z", "from_date=2026-04-29&custom_field=flowhookWorkItemId%3Dwi_2", "envelope_ids=" + "00000000-0000-0000-0000-000000000000"} {
		status, _, body = b.do(t, http.MethodGet, "/envelopes?"+q, nil)
		require.Equal(t, http.StatusOK, status)
		list = decode(t, body)
		require.Equal(t, "0", list["resultSetSize"], q)
		require.NotContains(t, list, "envelopes", q)
	}
	status, _, body = b.do(t, http.MethodGet, "/envelopes", nil)
	requireError(t, status, body, http.StatusBadRequest, "INVALID_REQUEST_PARAMETER")
	status, _, body = b.do(t, http.MethodGet, "/envelopes?from_date=yesterday", nil)
	requireError(t, status, body, http.StatusBadRequest, "INVALID_REQUEST_PARAMETER")

	// Void: a reason is required; a voided envelope cannot be voided again.
	status, _, body = b.do(t, http.MethodPut, "/envelopes/"+id, map[string]string{"status": "voided"})
	requireError(t, status, body, http.StatusBadRequest, "INVALID_REQUEST_PARAMETER")
	status, _, body = b.do(t, http.MethodPut, "/envelopes/"+id, map[string]string{"status": "voided", "voidedReason": "Cancelled"})
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, map[string]any{"envelopeId": id}, decode(t, body))
	status, _, body = b.do(t, http.MethodPut, "/envelopes/"+id, map[string]string{"status": "voided", "voidedReason": "Cancelled"})
	requireError(t, status, body, http.StatusBadRequest, "ENVELOPE_CANNOT_VOID_INVALID_STATE")

	// A completed envelope cannot be voided either.
	id2 := b.create(t, b.definition(1))
	require.NoError(t, b.fake.Complete(id2))
	status, _, body = b.do(t, http.MethodPut, "/envelopes/"+id2, map[string]string{"status": "voided", "voidedReason": "x"})
	requireError(t, status, body, http.StatusBadRequest, "ENVELOPE_CANNOT_VOID_INVALID_STATE")

	// A draft is sent with PUT status=sent.
	draft := b.definition(1)
	draft["status"] = "created"
	id3 := b.create(t, draft)
	st, _ := b.fake.EnvelopeStatus(id3)
	require.Equal(t, "created", st)
	status, _, _ = b.do(t, http.MethodPut, "/envelopes/"+id3, map[string]string{"status": "sent"})
	require.Equal(t, http.StatusOK, status)
	st, _ = b.fake.EnvelopeStatus(id3)
	require.Equal(t, "sent", st)

	// Unknown envelopes.
	unknown := "/envelopes/00000000-0000-0000-0000-000000000000"
	for _, r := range []struct{ method, path string }{
		{http.MethodGet, unknown}, {http.MethodPut, unknown}, {http.MethodGet, unknown + "/documents/combined"},
	} {
		status, _, body := b.do(t, r.method, r.path, map[string]string{"status": "voided", "voidedReason": "x"})
		requireError(t, status, body, http.StatusBadRequest, "ENVELOPE_DOES_NOT_EXIST")
	}
}

func TestDocuments(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := b.definition(1)
	id := b.create(t, def)
	original, err := base64.StdEncoding.DecodeString(def["documents"].([]any)[0].(map[string]any)["documentBase64"].(string))
	require.NoError(t, err)

	get := func(path string) (int, http.Header, []byte) {
		return b.do(t, http.MethodGet, "/envelopes/"+id+"/documents/"+path, nil)
	}
	status, h, pdf := get("combined?certificate=false")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "application/pdf", h.Get("Content-Type"))
	requireValidPDF(t, pdf, 1)
	require.NotContains(t, string(pdf), "Certificate of Completion")
	_, _, pdf = get("combined?certificate=true")
	requireValidPDF(t, pdf, 2)
	require.Contains(t, string(pdf), "Certificate of Completion")
	_, _, pdf = get("certificate")
	requireValidPDF(t, pdf, 1)
	_, _, doc := get("1")
	require.Equal(t, original, doc)
	status, _, body := get("7")
	requireError(t, status, body, http.StatusBadRequest, "DOCUMENT_DOES_NOT_EXIST")
}

// requireValidPDF checks the header, the trailer and that every xref offset points at its object.
func requireValidPDF(t *testing.T, pdf []byte, pages int) {
	t.Helper()
	s := string(pdf)
	require.True(t, strings.HasPrefix(s, "%PDF-1."))
	require.True(t, strings.HasSuffix(s, "%%EOF\n"))
	require.Contains(t, s, "/Count "+strconv.Itoa(pages)+" >>")
	m := regexp.MustCompile(`startxref\n(\d+)\n`).FindStringSubmatch(s)
	require.NotNil(t, m)
	xref, _ := strconv.Atoi(m[1])
	require.True(t, strings.HasPrefix(s[xref:], "xref\n0 "))
	for i, line := range regexp.MustCompile(`(\d{10}) 00000 n `).FindAllStringSubmatch(s[xref:], -1) {
		off, _ := strconv.Atoi(line[1])
		require.True(t, strings.HasPrefix(s[off:], strconv.Itoa(i+1)+" 0 obj"), "object %d at %d", i+1, off)
	}
}

func TestInjectedFailures(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.fake.FailNext(1, docusignfake.Failure{Status: http.StatusTooManyRequests, RetryAfter: 1500 * time.Millisecond})
	b.fake.FailNext(1, docusignfake.Failure{Status: http.StatusBadGateway})
	status, h, body := b.do(t, http.MethodGet, "/envelopes?from_date=2026-01-01", nil)
	requireError(t, status, body, http.StatusTooManyRequests, "Burst_APIInvocation_Envelope_Limit_Exceeded")
	require.Equal(t, "2", h.Get("Retry-After"), "whole seconds, rounded up")
	require.Equal(t, "0", h.Get("X-BurstLimit-Remaining"))
	require.Equal(t, "500", h.Get("X-BurstLimit-Limit"))
	require.Equal(t, "3000", h.Get("X-RateLimit-Limit"))
	require.Equal(t, strconv.FormatInt(time.Date(2026, 4, 29, 19, 0, 0, 0, time.UTC).Unix(), 10), h.Get("X-RateLimit-Reset"))
	status, _, body = b.do(t, http.MethodGet, "/envelopes?from_date=2026-01-01", nil)
	requireError(t, status, body, http.StatusBadGateway, "UNSPECIFIED_ERROR")
	status, h, _ = b.do(t, http.MethodGet, "/envelopes?from_date=2026-01-01", nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "2997", h.Get("X-RateLimit-Remaining"), "every API request counts")
	require.Empty(t, h.Get("Retry-After"))
}

func TestDropNextCreateResponse(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.fake.DropNextCreateResponse()
	req := b.request(t, b.token, http.MethodPost, "/restapi/v2.1/accounts/"+b.fake.AccountID()+"/envelopes", b.definition(1))
	require.Error(t, providertest.Try(b.hc, req).Err, "the answer is lost")
	creates := b.fake.Envelopes()
	require.Len(t, creates, 1)
	st, ok := b.fake.EnvelopeStatus(creates[0].EnvelopeID)
	require.True(t, ok, "the envelope exists all the same")
	require.Equal(t, "sent", st)
	require.Equal(t, []string{"envelope-sent", "recipient-sent"}, events(t, b.hook))
	b.create(t, b.definition(1)) // only the next create is dropped
}

func TestConnectMessagesAreSignedAndShaped(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.create(t, b.definition(2))
	require.NoError(t, b.fake.Deliver(id))
	require.NoError(t, b.fake.Complete(id))
	require.Equal(t, []string{
		"envelope-sent", "recipient-sent", "recipient-delivered", "envelope-delivered",
		"recipient-completed", "recipient-completed", "envelope-completed",
	}, events(t, b.hook))

	deliveries := b.fake.Deliveries()
	posts := b.hook.Posts()
	require.Len(t, deliveries, len(posts))
	for i, p := range posts {
		require.True(t, deliveries[i].OK())
		require.Equal(t, p.Body, deliveries[i].Body)
		require.Equal(t, "application/json", p.Header.Get("Content-Type"))
		require.Equal(t, "HMACSHA256", p.Header.Get("X-Authorization-Digest"))
		require.Equal(t, b.fake.AccountID(), p.Header.Get("X-DocuSign-AccountId"))
		// One header per key, each valid alone under its own key, and not under the other.
		for n, k := range []string{keyA, keyB} {
			h := http.Header{}
			h.Set("X-DocuSign-Signature-1", p.Header.Get("X-DocuSign-Signature-"+strconv.Itoa(n+1)))
			require.NoError(t, docusign.Verify(p.Body, h, []string{k}))
		}
		require.Empty(t, p.Header.Get("X-DocuSign-Signature-3"))
		require.NoError(t, docusign.Verify(p.Body, p.Header, []string{keyB}))
		require.ErrorIs(t, docusign.Verify(p.Body, p.Header, []string{"another"}), docusign.ErrBadSignature)

		var m map[string]any
		require.NoError(t, json.Unmarshal(p.Body, &m))
		require.Equal(t, float64(0), m["retryCount"], "a JSON number")
		require.Equal(t, float64(1), m["configurationId"], "a JSON number")
		require.Equal(t, "v2.1", m["apiVersion"])
		require.Equal(t, "/restapi/v2.1/accounts/"+b.fake.AccountID()+"/envelopes/"+id, m["uri"])
		require.Regexp(t, dsTime, m["generatedDateTime"])
		data := m["data"].(map[string]any)
		require.Equal(t, b.fake.AccountID(), data["accountId"])
		require.Equal(t, b.fake.UserID(), data["userId"])
		require.Equal(t, id, data["envelopeId"])
		if strings.HasPrefix(m["event"].(string), "recipient-") {
			require.Contains(t, data, "recipientId")
		} else {
			require.NotContains(t, data, "recipientId")
		}
		ev, err := docusign.ParseEvent(p.Body)
		require.NoError(t, err)
		require.Equal(t, "wi_1", ev.WorkItemID)
	}
	// recipientIds follow the signers; the summary's status is the envelope's at that moment.
	var last []map[string]any
	for _, p := range posts[4:] {
		last = append(last, decode(t, p.Body))
	}
	require.Equal(t, "1", last[0]["data"].(map[string]any)["recipientId"])
	require.Equal(t, "2", last[1]["data"].(map[string]any)["recipientId"])
	require.Equal(t, "delivered", last[1]["data"].(map[string]any)["envelopeSummary"].(map[string]any)["status"])
	require.Equal(t, "completed", last[2]["data"].(map[string]any)["envelopeSummary"].(map[string]any)["status"])
}

func TestConnectHonoursTheEventNotification(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cases := []struct {
		name   string
		edit   func(n map[string]any)
		events []string
		check  func(t *testing.T, p providertest.Post)
	}{
		{"only subscribed events", func(n map[string]any) { n["events"] = []any{"envelope-voided"} }, []string{"envelope-voided"}, nil},
		{"no HMAC unless asked", func(n map[string]any) { n["includeHMAC"] = "false"; n["events"] = []any{"envelope-voided"} }, []string{"envelope-voided"},
			func(t *testing.T, p providertest.Post) {
				require.Empty(t, p.Header.Get("X-DocuSign-Signature-1"))
				require.Empty(t, p.Header.Get("X-Authorization-Digest"))
			}},
		{"no void reason unless asked", func(n map[string]any) { delete(n, "includeEnvelopeVoidReason"); n["events"] = []any{"envelope-voided"} }, []string{"envelope-voided"},
			func(t *testing.T, p providertest.Post) {
				ev, err := docusign.ParseEvent(p.Body)
				require.NoError(t, err)
				require.Empty(t, ev.Reason)
			}},
		{"no JSON SIM without eventData version", func(n map[string]any) { delete(n, "eventData") }, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hook := providertest.NewListener(t, "/hook", 0, nil)
			def := b.definition(1)
			n := def["eventNotification"].(map[string]any)
			n["url"] = hook.URL
			tc.edit(n)
			id := b.create(t, def)
			require.NoError(t, b.fake.Void(id, "Stop"))
			require.Equal(t, tc.events, events(t, hook))
			if tc.check != nil {
				tc.check(t, hook.Posts()[0])
			}
		})
	}
}

func TestDuplicates(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.fake.SetDuplicates(3)
	id := b.create(t, b.definition(1))
	require.NoError(t, b.fake.Expire(id))
	posts := b.hook.Posts()
	require.Len(t, posts, 9, "envelope-sent, recipient-sent and envelope-voided three times each")
	keys := map[string]int{}
	for _, p := range posts {
		ev, err := docusign.ParseEvent(p.Body)
		require.NoError(t, err)
		keys[ev.DedupeKey]++
	}
	require.Len(t, keys, 3)
	for _, n := range keys {
		require.Equal(t, 3, n)
	}
	require.Equal(t, posts[6].Body, posts[8].Body)
}

func TestHoldAndReorder(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.create(t, b.definition(1))
	b.fake.HoldDeliveries(true)
	require.NoError(t, b.fake.Complete(id))
	require.Equal(t, []string{"recipient-completed", "envelope-completed"}, b.fake.Held())
	require.Equal(t, []string{"envelope-sent", "recipient-sent"}, events(t, b.hook), "held, not sent")
	require.NoError(t, b.fake.FlushReverse())
	require.Equal(t, []string{"envelope-sent", "recipient-sent", "envelope-completed", "recipient-completed"}, events(t, b.hook))
	require.Empty(t, b.fake.Held())

	id2 := b.create(t, b.definition(1)) // still holding
	require.NoError(t, b.fake.Deliver(id2))
	require.Equal(t, []string{"envelope-sent", "recipient-sent", "recipient-delivered", "envelope-delivered"}, b.fake.Held())
	require.Error(t, b.fake.Flush(0, 1))
	require.Error(t, b.fake.Flush(0, 0, 1, 2))
	require.NoError(t, b.fake.Flush(3, 0, 2, 1))
	require.Equal(t, []string{"envelope-delivered", "envelope-sent", "recipient-delivered", "recipient-sent"}, events(t, b.hook)[4:])
	b.fake.HoldDeliveries(false)
	require.NoError(t, b.fake.Void(id2, "x"))
	require.Equal(t, "envelope-voided", events(t, b.hook)[8])
}

func TestDailyRetries(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.hook.SetAnswer(func(int) int { return http.StatusServiceUnavailable })
	def := b.definition(1)
	def["eventNotification"].(map[string]any)["events"] = []any{"envelope-sent", "envelope-delivered", "recipient-delivered"}
	id := b.create(t, def)
	require.Equal(t, []string{"envelope-sent"}, b.fake.Pending())
	require.NoError(t, b.fake.Deliver(id))
	require.Len(t, b.fake.Deliveries(), 1, "while the listener is down, new messages wait untried")
	require.Equal(t, []string{"envelope-sent", "recipient-delivered", "envelope-delivered"}, b.fake.Pending())

	b.fake.RetryPending() // still down
	ds := b.fake.Deliveries()
	require.Len(t, ds, 2)
	require.Equal(t, 1, ds[1].RetryCount)
	require.Equal(t, http.StatusServiceUnavailable, ds[1].StatusCode)
	require.Len(t, b.fake.Pending(), 3)

	b.hook.SetAnswer(func(int) int { return http.StatusAccepted }) // any 2xx acknowledges
	b.fake.RetryPending()
	ds = b.fake.Deliveries()[2:]
	require.Len(t, ds, 3)
	require.Equal(t, []string{"envelope-sent", "recipient-delivered", "envelope-delivered"}, []string{ds[0].Event, ds[1].Event, ds[2].Event})
	require.Equal(t, []int{2, 0, 0}, []int{ds[0].RetryCount, ds[1].RetryCount, ds[2].RetryCount})
	require.Empty(t, b.fake.Pending())

	// Every delivery of envelope-sent shares one dedupe key, whatever its retryCount.
	keys := map[string]bool{}
	for _, p := range b.hook.Posts() {
		ev, err := docusign.ParseEvent(p.Body)
		require.NoError(t, err)
		if ev.Type == "envelope-sent" {
			keys[ev.DedupeKey] = true
		}
	}
	require.Len(t, keys, 1)

	// Up again: the next message goes at once.
	require.NoError(t, b.fake.Complete(id))
	require.Empty(t, b.fake.Pending())
}

// TestRedeliver: after one failed delivery the listener is down and later messages are
// queued, untried; Redeliver (Connect's republish) posts every one at once, in order, each
// once, even while the listener would answer the daily retry only tomorrow; a second Redeliver
// posts nothing, and the next message goes at once.
func TestRedeliver(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.hook.SetAnswer(func(n int) int {
		if n == 0 {
			return http.StatusInternalServerError // fails once, then is back
		}
		return http.StatusOK
	})
	id := b.create(t, b.definition(2))
	require.NoError(t, b.fake.Deliver(id))
	require.NoError(t, b.fake.Sign(id))
	want := []string{"envelope-sent", "recipient-sent", "recipient-delivered", "envelope-delivered", "recipient-completed"}
	require.Equal(t, want[:1], events(t, b.hook), "held, not posted out of order")
	backlog := b.fake.Backlog()
	require.Len(t, backlog, len(want))
	for i, w := range backlog {
		require.Equal(t, want[i], w.Event)
		require.Equal(t, id, w.EnvelopeID)
		require.Equal(t, b.hook.URL, w.URL)
		require.Equal(t, i == 0, w.Tried, "only the first was tried")
		require.Zero(t, w.RetryCount)
	}
	require.Equal(t, want, b.fake.Pending())

	ds := b.fake.Redeliver()
	require.Len(t, ds, len(want))
	for i, d := range ds {
		require.Equal(t, want[i], d.Event)
		require.True(t, d.OK())
		require.Equal(t, map[bool]int{true: 1, false: 0}[i == 0], d.RetryCount, "retryCount+1 for the one tried before")
	}
	require.Equal(t, append([]string{"envelope-sent"}, want...), events(t, b.hook))
	require.Empty(t, b.fake.Backlog())
	require.Empty(t, b.fake.Pending())
	require.Empty(t, b.fake.Redeliver(), "a second redeliver posts nothing")
	require.Len(t, b.hook.Posts(), 1+len(want))

	require.NoError(t, b.fake.Sign(id)) // up again: at once
	require.Equal(t, []string{"recipient-completed", "envelope-completed"}, events(t, b.hook)[1+len(want):])
	require.Empty(t, b.fake.Backlog())
}

// TestRedeliverWhileStillDown: a republish keeps order per listener: the first message fails
// again and the others stay queued untried; it also republishes what the automatic retries
// gave up on and what was never retried (requireAcknowledgment off), oldest first.
func TestRedeliverWhileStillDown(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.fake.SetRetryPolicy(docusignfake.RetryPolicy{Max: 1})
	b.hook.SetStatus(http.StatusServiceUnavailable)
	one := b.definition(1)
	one["eventNotification"].(map[string]any)["events"] = []any{"envelope-sent", "envelope-voided"}
	id := b.create(t, one)
	b.fake.RetryPending() // the one retry: it gives up
	require.Equal(t, []string{"envelope-sent"}, b.fake.Dropped())

	noAck := b.definition(1)
	noAck["eventNotification"].(map[string]any)["requireAcknowledgment"] = "false"
	noAck["eventNotification"].(map[string]any)["events"] = []any{"envelope-sent"}
	b.create(t, noAck) // still down, but not queued: tried once and failed
	require.NoError(t, b.fake.Void(id, "x"))
	require.Equal(t, []string{"envelope-voided"}, b.fake.Pending())
	require.Len(t, b.fake.Deliveries(), 3)
	order := []string{"envelope-sent", "envelope-sent", "envelope-voided"}
	var got []string
	for _, w := range b.fake.Backlog() {
		got = append(got, w.Event)
	}
	require.Equal(t, order, got)

	ds := b.fake.Redeliver()
	require.Len(t, ds, 1, "the first fails again: the rest wait behind it")
	require.Equal(t, 2, ds[0].RetryCount, "a republish is not bound by Max")
	require.Equal(t, []string{"envelope-sent"}, b.fake.Dropped(), "back where it was")
	require.Len(t, b.fake.Backlog(), 3)

	b.hook.SetStatus(http.StatusOK)
	ds = b.fake.Redeliver()
	require.Len(t, ds, 3)
	for i, d := range ds {
		require.Equal(t, order[i], d.Event)
		require.True(t, d.OK())
	}
	require.Equal(t, []int{3, 1, 0}, []int{ds[0].RetryCount, ds[1].RetryCount, ds[2].RetryCount})
	require.Empty(t, b.fake.Backlog())
	require.Empty(t, b.fake.Dropped())
	require.Empty(t, b.fake.Pending())
	require.Empty(t, b.fake.Redeliver())
}

func TestImmediateRetries(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.fake.SetRetryPolicy(docusignfake.RetryPolicy{Max: 3, Immediate: true})
	b.hook.SetAnswer(func(n int) int {
		if n < 2 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	def := b.definition(1)
	def["eventNotification"].(map[string]any)["events"] = []any{"envelope-sent", "envelope-voided"}
	id := b.create(t, def)
	var counts []int
	for _, d := range b.fake.Deliveries() {
		counts = append(counts, d.RetryCount)
	}
	require.Equal(t, []int{0, 1, 2}, counts)

	b.hook.SetAnswer(func(int) int { return http.StatusInternalServerError })
	require.NoError(t, b.fake.Void(id, "x"))
	require.Len(t, b.fake.Deliveries(), 3+4, "the first try and three retries")
	require.Equal(t, []string{"envelope-voided"}, b.fake.Dropped())
	require.Empty(t, b.fake.Pending())
}

func TestRetriesGiveUpAfterMax(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.fake.SetRetryPolicy(docusignfake.RetryPolicy{Max: 2})
	b.hook.SetAnswer(func(int) int { return http.StatusInternalServerError })
	def := b.definition(1)
	def["eventNotification"].(map[string]any)["events"] = []any{"envelope-sent"}
	b.create(t, def)
	b.fake.RetryPending()
	b.fake.RetryPending()
	require.Equal(t, []string{"envelope-sent"}, b.fake.Dropped())
	require.Empty(t, b.fake.Pending())
	require.Len(t, b.fake.Deliveries(), 3)
}

func TestNoRetryWithoutAcknowledgment(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.hook.SetAnswer(func(int) int { return http.StatusNotFound })
	def := b.definition(1)
	def["eventNotification"].(map[string]any)["requireAcknowledgment"] = "false"
	def["eventNotification"].(map[string]any)["events"] = []any{"envelope-sent"}
	b.create(t, def)
	require.Len(t, b.fake.Deliveries(), 1)
	require.Equal(t, http.StatusNotFound, b.fake.Deliveries()[0].StatusCode)
	require.Empty(t, b.fake.Pending())
	b.fake.RetryPending()
	require.Len(t, b.fake.Deliveries(), 1)
}

func TestUnreachableListenerIsRecorded(t *testing.T) {
	t.Parallel()
	b := setup(t)
	srv := httptest.NewServer(http.NotFoundHandler())
	dead := srv.URL
	srv.Close()
	def := b.definition(1)
	def["eventNotification"].(map[string]any)["url"] = dead
	def["eventNotification"].(map[string]any)["events"] = []any{"envelope-sent"}
	b.create(t, def)
	ds := b.fake.Deliveries()
	require.Len(t, ds, 1)
	require.Zero(t, ds[0].StatusCode)
	require.NotEmpty(t, ds[0].Err)
	require.False(t, ds[0].OK())
	require.Equal(t, []string{"envelope-sent"}, b.fake.Pending())
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.fake.SetHMACKeys("old-key", keyB)
	b.create(t, b.definition(1))
	p := b.hook.Posts()[0]
	require.NoError(t, docusign.Verify(p.Body, p.Header, []string{keyB}), "the new key is in header 2")
	require.NoError(t, docusign.Verify(p.Body, p.Header, []string{"old-key"}))
	require.ErrorIs(t, docusign.Verify(p.Body, p.Header, []string{keyA}), docusign.ErrBadSignature)
}

func TestHooksCheckTheState(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.create(t, b.definition(1))
	require.NoError(t, b.fake.Decline(id, "no"))
	st, _ := b.fake.EnvelopeStatus(id)
	require.Equal(t, "declined", st)
	require.Error(t, b.fake.Complete(id))
	require.Error(t, b.fake.Void(id, "x"))
	require.Error(t, b.fake.Deliver(id))
	require.Error(t, b.fake.Sign("00000000-0000-0000-0000-000000000000"))

	id2 := b.create(t, b.definition(2))
	require.NoError(t, b.fake.Sign(id2))
	st, _ = b.fake.EnvelopeStatus(id2)
	require.Equal(t, "sent", st, "one of two signers signed")
	require.NoError(t, b.fake.Sign(strings.ToUpper(id2)))
	st, _ = b.fake.EnvelopeStatus(id2)
	require.Equal(t, "completed", st)
}

// TestHoldLookups: a held envelope listing answers only after the release; other requests
// pass meanwhile.
func TestHoldLookups(t *testing.T) {
	t.Parallel()
	b := setup(t)
	release := b.fake.HoldLookups()
	t.Cleanup(release)
	listed := providertest.Send(b.hc, b.request(t, b.token, http.MethodGet, "/restapi/v2.1/accounts/"+b.fake.AccountID()+"/envelopes?from_date=2026-01-01", nil))
	require.Eventually(t, func() bool { return b.fake.HeldLookups() == 1 }, 10*time.Second, time.Millisecond)
	status, _, _ := b.do(t, http.MethodGet, "/envelopes/3f2504e0-4f89-41d3-9a0c-0305e82c3301", nil)
	require.Equal(t, http.StatusBadRequest, status, "an envelope read is not held: ENVELOPE_DOES_NOT_EXIST")
	require.Empty(t, listed, "the listing waits")
	release()
	require.Equal(t, providertest.Answer{Status: http.StatusOK}, <-listed)
	require.Zero(t, b.fake.HeldLookups())
	status, _, _ = b.do(t, http.MethodGet, "/envelopes?from_date=2026-01-01", nil)
	require.Equal(t, http.StatusOK, status, "not held after the release")
}
