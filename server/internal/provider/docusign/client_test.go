package docusign_test

import (
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/docusign"
	"github.com/flowhook/flowhook/server/internal/provider/docusign/docusignfake"
	"github.com/flowhook/flowhook/server/internal/provider/providertest"
)

const (
	tokenPath    = "/oauth/token"
	userinfoPath = "/oauth/userinfo"
)

func TestCreateSendsTheEnvelopeShape(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req := b.request("wi_shape",
		engine.Party{Name: "Ada Lovelace", Email: "ada@example.com", Anchor: "/sn1/"},
		engine.Party{Name: "Bob Babbage", Email: "bob@example.com", Anchor: "/sn2/"},
	)
	id, err := b.client.Create(t.Context(), req)
	require.NoError(t, err)
	require.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`, id)

	creates := b.fake.Envelopes()
	require.Len(t, creates, 1)
	require.Equal(t, id, creates[0].EnvelopeID)
	var got map[string]any
	require.NoError(t, json.Unmarshal(creates[0].Raw, &got))
	signer := func(name, email, n, anchor string) map[string]any {
		return map[string]any{
			"email": email, "name": name, "recipientId": n, "routingOrder": n,
			"tabs": map[string]any{"signHereTabs": []any{map[string]any{
				"anchorString": anchor, "anchorUnits": "pixels", "anchorXOffset": "0", "anchorYOffset": "0",
				"anchorIgnoreIfNotPresent": "false",
			}}},
		}
	}
	want := map[string]any{
		"emailSubject": "Please sign: wi_shape",
		"status":       "sent",
		"documents": []any{map[string]any{
			"documentBase64": base64.StdEncoding.EncodeToString(req.Document.Content),
			"documentId":     "1",
			"fileExtension":  "pdf",
			"name":           "Contract wi_shape",
		}},
		"recipients": map[string]any{"signers": []any{
			signer("Ada Lovelace", "ada@example.com", "1", "/sn1/"),
			signer("Bob Babbage", "bob@example.com", "2", "/sn2/"),
		}},
		"customFields": map[string]any{"textCustomFields": []any{map[string]any{
			"name": "flowhookWorkItemId", "value": "wi_shape", "show": "false", "required": "false",
		}}},
		"eventNotification": map[string]any{
			"url":                       b.hook.URL,
			"requireAcknowledgment":     "true",
			"loggingEnabled":            "true",
			"includeHMAC":               "true",
			"includeEnvelopeVoidReason": "true",
			"deliveryMode":              "SIM",
			"events": []any{
				"envelope-sent", "envelope-delivered", "envelope-completed", "envelope-declined",
				"envelope-voided", "envelope-deleted", "envelope-purge",
				"recipient-completed", "recipient-declined", "recipient-delivered",
			},
			"eventData": map[string]any{
				"version": "restv2.1", "format": "json", "includeData": []any{"custom_fields", "recipients"},
			},
		},
	}
	require.Equal(t, want, got)

	// The fake sent the envelope and its envelope-sent reached the receiver, signed and
	// carrying the work item id back.
	status, ok := b.fake.EnvelopeStatus(id)
	require.True(t, ok)
	require.Equal(t, "sent", status)
	evs, errs := b.hook.Received()
	require.Empty(t, errs)
	require.Len(t, evs, 1)
	require.Equal(t, "envelope-sent", evs[0].Type)
	require.Equal(t, id, evs[0].ExternalID)
	require.Equal(t, "wi_shape", evs[0].WorkItemID)
	require.Equal(t, b.clock.Now(), evs[0].OccurredAt)
}

func TestCreateValidatesBeforeSending(t *testing.T) {
	t.Parallel()
	b := setup(t)
	good := b.request("wi_valid")
	providertest.RequireInvalidRequests(t, b.client, good, []providertest.RequestCase{
		{Name: "no work item id", Edit: func(r *engine.WorkItemRequest) { r.WorkItemID = "" }, Paths: []string{"work_item_id"}},
		{Name: "no subject", Edit: func(r *engine.WorkItemRequest) { r.Subject = " " }, Paths: []string{"email_subject"}},
		{Name: "subject of 101 characters", Edit: func(r *engine.WorkItemRequest) { r.Subject = strings.Repeat("é", 101) }, Paths: []string{"email_subject"}},
		{Name: "no document", Edit: func(r *engine.WorkItemRequest) { r.Document = nil }, Paths: []string{"document"}},
		{Name: "an empty document", Edit: func(r *engine.WorkItemRequest) { r.Document = &engine.Document{Title: "Empty"} }, Paths: []string{"document"}},
		{Name: "no signers", Edit: func(r *engine.WorkItemRequest) { r.Parties = nil }, Paths: []string{"signers"}},
		{Name: "a signer without anything", Edit: func(r *engine.WorkItemRequest) { r.Parties = []engine.Party{{}} },
			Paths: []string{"signers[0].name", "signers[0].email", "signers[0].anchor"}},
		{Name: "relative callback", Edit: func(r *engine.WorkItemRequest) { r.CallbackURL = "/webhooks/docusign" }, Paths: []string{"callback_url"}},
	})
	require.Empty(t, b.fake.Envelopes(), "nothing reaches DocuSign")
	// A subject of exactly 100 characters (not bytes) is fine.
	req := good
	req.Subject = strings.Repeat("é", 100)
	_, err := b.client.Create(t.Context(), req)
	require.NoError(t, err)
}

func TestTokenIsCachedAndRefreshedBeforeExpiry(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.create(t, "wi_token")
	for range 3 {
		_, err := b.client.Status(t.Context(), id)
		require.NoError(t, err)
	}
	require.Equal(t, 1, b.fake.CountRequests(http.MethodPost, tokenPath))
	require.Equal(t, 1, b.fake.CountRequests(http.MethodGet, userinfoPath), "userinfo is cached with the token")

	b.clock.Advance(54 * time.Minute) // the token lives an hour; it is renewed 5 minutes early
	_, err := b.client.Status(t.Context(), id)
	require.NoError(t, err)
	require.Equal(t, 1, b.fake.CountRequests(http.MethodPost, tokenPath))

	b.clock.Advance(2 * time.Minute)
	_, err = b.client.Status(t.Context(), id)
	require.NoError(t, err)
	require.Equal(t, 2, b.fake.CountRequests(http.MethodPost, tokenPath))
	require.Equal(t, 2, b.fake.CountRequests(http.MethodGet, userinfoPath))

	// Past the old token's expiry the fake refuses it; the client never sends it.
	b.clock.Advance(10 * time.Minute)
	_, err = b.client.Status(t.Context(), id)
	require.NoError(t, err)
	for _, r := range b.fake.Requests() {
		require.NotEqual(t, http.StatusUnauthorized, r.Status, "%s %s", r.Method, r.Path)
	}
}

func TestShortLivedTokenIsUsedForHalfItsLife(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *setupConfig) {
		c.fake = func(o *docusignfake.Options) { o.TokenLifetime = 4 * time.Minute }
	})
	id := b.create(t, "wi_short")
	b.clock.Advance(119 * time.Second)
	_, err := b.client.Status(t.Context(), id)
	require.NoError(t, err)
	require.Equal(t, 1, b.fake.CountRequests(http.MethodPost, tokenPath))
	b.clock.Advance(2 * time.Second)
	_, err = b.client.Status(t.Context(), id)
	require.NoError(t, err)
	require.Equal(t, 2, b.fake.CountRequests(http.MethodPost, tokenPath))
}

func TestConcurrentCallersShareOneSignIn(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.create(t, "wi_concurrent")
	b.clock.Advance(2 * time.Hour) // every caller finds the token stale
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			_, err := b.client.Status(t.Context(), id)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, 2, b.fake.CountRequests(http.MethodPost, tokenPath))
}

func TestUnauthorizedGetsOneNewToken(t *testing.T) {
	t.Parallel()
	t.Run("revoked token", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id := b.create(t, "wi_revoked")
		b.fake.RevokeTokens()
		st, err := b.client.Status(t.Context(), id)
		require.NoError(t, err)
		require.Equal(t, "sent", st.Status)
		require.Equal(t, 2, b.fake.CountRequests(http.MethodPost, tokenPath))
	})
	t.Run("refused twice", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id := b.create(t, "wi_refused")
		b.fake.FailNext(2, docusignfake.Failure{Status: http.StatusUnauthorized, Code: "USER_AUTHENTICATION_FAILED", Message: "Invalid access token"})
		_, err := b.client.Status(t.Context(), id)
		pe := providerErr(t, err)
		require.True(t, pe.Permanent)
		require.ErrorIs(t, err, engine.ErrProviderPermanent)
		require.Equal(t, http.StatusUnauthorized, pe.HTTPStatus)
		require.Equal(t, "USER_AUTHENTICATION_FAILED", pe.Code)
		require.Equal(t, 2, b.fake.CountRequests(http.MethodPost, tokenPath), "exactly one new token")
		require.Empty(t, b.waits.Waits(), "a 401 is not backed off")
	})
}

func TestBadRequestIsPermanentWithItsCode(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.client.Status(t.Context(), "00000000-0000-0000-0000-000000000000")
	pe := providerErr(t, err)
	require.ErrorIs(t, err, engine.ErrProviderPermanent)
	require.Equal(t, http.StatusBadRequest, pe.HTTPStatus)
	require.Equal(t, "ENVELOPE_DOES_NOT_EXIST", pe.Code)
	require.Contains(t, pe.Message, "does not exist")
	require.Zero(t, pe.RetryAfter)
	require.Equal(t, "DOCUSIGN: HTTP 400 ENVELOPE_DOES_NOT_EXIST: "+pe.Message, err.Error())
	require.Empty(t, b.waits.Waits())

	// An id that is not a GUID never reaches a URL.
	n := len(b.fake.Requests())
	for _, bad := range []string{"", "../../accounts", "a1b2c3d4-e5f6-7890-abcd-ef123456789g"} {
		_, err := b.client.Status(t.Context(), bad)
		require.ErrorIs(t, err, engine.ErrProviderPermanent)
		require.ErrorIs(t, b.client.Cancel(t.Context(), bad, "x"), engine.ErrProviderPermanent)
		_, err = b.client.Download(t.Context(), bad)
		require.ErrorIs(t, err, engine.ErrProviderPermanent)
	}
	require.Len(t, b.fake.Requests(), n)
}

// TestClient runs the client tests every REST provider shares against the fake: retries of
// 429 (a create's too) and of idempotent 5xx, the retry cap, the context, a lost create answer
// and FindByWorkItem.
func TestClient(t *testing.T) {
	t.Parallel()
	providertest.RunClient(t, providertest.ClientHarness{
		System:     system,
		MaxRetries: docusign.MaxRetries,
		OpenStatus: "sent",
		Codes: map[int]string{
			http.StatusTooManyRequests:     "Burst_APIInvocation_Envelope_Limit_Exceeded",
			http.StatusInternalServerError: "UNSPECIFIED_ERROR",
		},
		Open: func(t *testing.T, clock *providertest.Clock, wait providertest.WaitFunc) providertest.ClientAccount {
			b := setup(t, func(c *setupConfig) {
				c.clock = clock
				c.options = []docusign.Option{docusign.WithWait(wait)}
			})
			return providertest.ClientAccount{
				Client:  b.client,
				Request: func(id string) engine.WorkItemRequest { return b.request(id) },
				Fail: func(n, status int, retryAfter time.Duration) {
					b.fake.FailNext(n, docusignfake.Failure{Status: status, RetryAfter: retryAfter})
				},
				DropNextCreateResponse: b.fake.DropNextCreateResponse,
				Created: func() []string {
					var ids []string
					for _, e := range b.fake.Envelopes() {
						if e.EnvelopeID != "" {
							ids = append(ids, e.EnvelopeID)
						}
					}
					return ids
				},
			}
		},
	})
}

// A 429 from the fake carries X-BurstLimit-Remaining: 0 as well as Retry-After: Retry-After
// wins, and an hourly limit DocuSign says is exhausted is reported, not waited for.
func TestRateLimitHeadersThroughTheFake(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.create(t, "wi_hourly")
	b.fake.FailNext(1, docusignfake.Failure{Status: http.StatusTooManyRequests, Code: "HOURLY_APIINVOCATION_LIMIT_EXCEEDED", RetryAfter: 20 * time.Minute})
	_, err := b.client.Status(t.Context(), id)
	pe := providerErr(t, err)
	require.False(t, pe.Permanent)
	require.Equal(t, "HOURLY_APIINVOCATION_LIMIT_EXCEEDED", pe.Code)
	require.Equal(t, 20*time.Minute, pe.RetryAfter, "Retry-After, not the 30 s burst window")
	require.Empty(t, b.waits.Waits())

	b.fake.FailNext(1, docusignfake.Failure{Status: http.StatusTooManyRequests, RetryAfter: 2 * time.Second})
	_, err = b.client.Status(t.Context(), id)
	require.NoError(t, err)
	require.Equal(t, []time.Duration{2 * time.Second}, b.waits.Waits())
}

func TestRetryDelayHeaders(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 4, 29, 18, 0, 0, 0, time.UTC)
	cases := []struct {
		name   string
		header map[string]string
		want   time.Duration
	}{
		{"hourly limit exhausted: until the reset", map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": fmt.Sprint(now.Add(12 * time.Second).Unix())}, 12 * time.Second},
		{"hourly limit left: reset ignored", map[string]string{"X-RateLimit-Remaining": "10", "X-RateLimit-Reset": fmt.Sprint(now.Add(12 * time.Second).Unix())}, time.Second},
		{"burst exhausted: the burst window", map[string]string{"X-BurstLimit-Remaining": "0"}, 30 * time.Second},
		{"hourly limit exhausted, reset passed: backoff", map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": fmt.Sprint(now.Add(-time.Minute).Unix())}, time.Second},
		{"hourly limit exhausted and burst: the reset", map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": fmt.Sprint(now.Add(time.Hour).Unix()), "X-BurstLimit-Remaining": "0"}, time.Hour},
		{"a reset days away: a day at most", map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": fmt.Sprint(now.Add(72 * time.Hour).Unix())}, 24 * time.Hour},
		{"Retry-After wins over the burst window", map[string]string{"Retry-After": "4", "X-BurstLimit-Remaining": "0"}, 4 * time.Second},
		{"Retry-After wins over the hourly reset", map[string]string{"Retry-After": "4", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": fmt.Sprint(now.Add(time.Hour).Unix())}, 4 * time.Second},
		{"garbage: backoff", map[string]string{"Retry-After": "soon", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "later"}, time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			for k, v := range tc.header {
				h.Set(k, v)
			}
			require.Equal(t, tc.want, docusign.RetryDelay(h, now, 0))
		})
	}
}

// The envelope listing FindByWorkItem reads is filtered by our custom field and starts five
// minutes before since (clock skew). RunClient checks what it finds.
func TestFindByWorkItemQuery(t *testing.T) {
	t.Parallel()
	b := setup(t)
	start := b.clock.Now()
	b.clock.Advance(time.Minute)
	id := b.create(t, "wi_find")
	got, found, err := b.client.FindByWorkItem(t.Context(), "wi_find", start)
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, id, got)

	var list []docusignfake.Request
	for _, r := range b.fake.Requests() {
		if r.Method == http.MethodGet && strings.HasSuffix(r.Path, "/envelopes") {
			list = append(list, r)
		}
	}
	require.Len(t, list, 1)
	require.Contains(t, list[0].Query, "custom_field=flowhookWorkItemId%3Dwi_find")
	require.Contains(t, list[0].Query, "from_date=2026-04-29T17%3A55%3A00Z", "since less five minutes of clock skew")
}

func TestStatusMapsOutcomes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		drive   func(f *docusignfake.Fake, id string) error
		status  string
		outcome engine.Outcome
		reason  string
		event   string
	}{
		{"sent", func(*docusignfake.Fake, string) error { return nil }, "sent", engine.OutcomeUnspecified, "", "envelope-sent"},
		{"delivered", func(f *docusignfake.Fake, id string) error { return f.Deliver(id) }, "delivered", engine.OutcomeUnspecified, "", "envelope-delivered"},
		{"completed", func(f *docusignfake.Fake, id string) error { return f.Complete(id) }, "completed", engine.OutcomeFinished, "", "envelope-completed"},
		{"declined", func(f *docusignfake.Fake, id string) error { return f.Decline(id, "Wrong amount") }, "declined", engine.OutcomeDenied, "Wrong amount", "envelope-declined"},
		{"voided", func(f *docusignfake.Fake, id string) error { return f.Void(id, "Sender changed their mind") }, "voided", engine.OutcomeDeleted, "Sender changed their mind", "envelope-voided"},
		{"expired", func(f *docusignfake.Fake, id string) error { return f.Expire(id) }, "voided", engine.OutcomeExpired, docusignfake.ExpiredReason, "envelope-voided"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			id := b.create(t, "wi_"+tc.name)
			changed := b.clock.Now()
			b.clock.Advance(3 * time.Hour)
			require.NoError(t, tc.drive(b.fake, id))
			if tc.name != "sent" {
				changed = b.clock.Now()
			}
			st, err := b.client.Status(t.Context(), id)
			require.NoError(t, err)
			require.Equal(t, engine.ExternalStatus{Status: tc.status, Outcome: tc.outcome, Reason: tc.reason, ChangedAt: changed}, st)

			// The webhook said the same, and DefaultOutcome agrees with Status.
			evs, errs := b.hook.Received()
			require.Empty(t, errs)
			last := evs[len(evs)-1]
			require.Equal(t, tc.event, last.Type)
			require.Equal(t, tc.status, last.Status)
			require.Equal(t, tc.reason, last.Reason)
			require.Equal(t, "wi_"+tc.name, last.WorkItemID)
			outcome, terminal := docusign.DefaultOutcome(last.Type, last.Reason)
			require.Equal(t, tc.outcome, outcome)
			require.Equal(t, tc.outcome != engine.OutcomeUnspecified, terminal)
		})
	}
}

func TestCompleteSendsRecipientThenEnvelopeEvents(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.create(t, "wi_two",
		engine.Party{Name: "A", Email: "a@example.com", Anchor: "/sn1/"},
		engine.Party{Name: "B", Email: "b@example.com", Anchor: "/sn2/"})
	require.NoError(t, b.fake.Deliver(id))
	require.NoError(t, b.fake.Complete(id))
	require.Equal(t, []string{
		"envelope-sent", "recipient-delivered", "envelope-delivered",
		"recipient-completed", "recipient-completed", "envelope-completed",
	}, b.hook.Types())
}

func TestCancel(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.create(t, "wi_cancel")
	require.NoError(t, b.client.Cancel(t.Context(), id, "Workflow cancelled"))
	st, err := b.client.Status(t.Context(), id)
	require.NoError(t, err)
	require.Equal(t, "voided", st.Status)
	require.Equal(t, engine.OutcomeDeleted, st.Outcome)
	require.Equal(t, "Workflow cancelled", st.Reason)
	require.Equal(t, []string{"envelope-sent", "envelope-voided"}, b.hook.Types())

	// Voiding again succeeds (a retried cancel job) and changes nothing; voiding a finished
	// envelope is refused for good.
	require.NoError(t, b.client.Cancel(t.Context(), id, "again"))
	st, err = b.client.Status(t.Context(), id)
	require.NoError(t, err)
	require.Equal(t, "Workflow cancelled", st.Reason)
	require.Equal(t, []string{"envelope-sent", "envelope-voided"}, b.hook.Types())
	for _, finish := range []func(string) error{
		b.fake.Complete,
		func(id string) error { return b.fake.Decline(id, "no") },
	} {
		id := b.create(t, "wi_cancel_finished")
		require.NoError(t, finish(id))
		err := b.client.Cancel(t.Context(), id, "too late")
		require.ErrorIs(t, err, engine.ErrProviderPermanent)
		require.Equal(t, "ENVELOPE_CANNOT_VOID_INVALID_STATE", providerErr(t, err).Code)
	}

	// An empty reason gets a default; a long one is cut to DocuSign's 200 characters.
	id = b.create(t, "wi_cancel_reason")
	require.NoError(t, b.client.Cancel(t.Context(), id, ""))
	st, err = b.client.Status(t.Context(), id)
	require.NoError(t, err)
	require.Equal(t, "Cancelled", st.Reason)
	id = b.create(t, "wi_cancel_long")
	require.NoError(t, b.client.Cancel(t.Context(), id, strings.Repeat("x", 300)))
	st, err = b.client.Status(t.Context(), id)
	require.NoError(t, err)
	require.Len(t, st.Reason, 200)
}

func TestDownload(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.create(t, "wi_download")
	require.NoError(t, b.fake.Complete(id))
	pdf, err := b.client.Download(t.Context(), id)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(pdf), "%PDF-"))
	require.True(t, strings.HasSuffix(string(pdf), "%%EOF\n"))
	require.Contains(t, string(pdf), "Contract wi_download")
	require.NotContains(t, string(pdf), "Certificate of Completion", "certificate=false")

	var last docusignfake.Request
	for _, r := range b.fake.Requests() {
		if strings.HasSuffix(r.Path, "/documents/combined") {
			last = r
		}
	}
	require.Equal(t, "certificate=false", last.Query)

	small := setup(t, func(c *setupConfig) { c.options = []docusign.Option{docusign.WithMaxDocumentSize(100)} })
	id = small.create(t, "wi_download_big")
	_, err = small.client.Download(t.Context(), id)
	pe := providerErr(t, err)
	require.True(t, pe.Permanent)
	require.Contains(t, pe.Message, "larger than 100 bytes")
}

func TestTestConnection(t *testing.T) {
	t.Parallel()
	b := setup(t)
	info, err := b.client.TestConnection(t.Context())
	require.NoError(t, err)
	require.Equal(t, docusign.UserInfo{
		UserID: b.fake.UserID(), Name: "Fake User", Email: "fake.user@example.com",
		AccountID: b.fake.AccountID(), AccountName: "Fake Account", BaseURI: b.url,
	}, info)
	// It always signs in afresh, and the session it made serves the next call.
	_, err = b.client.TestConnection(t.Context())
	require.NoError(t, err)
	require.Equal(t, 2, b.fake.CountRequests(http.MethodPost, tokenPath))
	b.create(t, "wi_after_test")
	require.Equal(t, 2, b.fake.CountRequests(http.MethodPost, tokenPath))
}

func TestSignInFailures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		settings func(*docusign.Settings)
		fake     func(*docusignfake.Fake)
		code     string
		message  string
	}{
		{"consent missing", nil, func(f *docusignfake.Fake) { f.SetConsentRequired(true) }, "consent_required", "has not granted consent"},
		{"key of another app", func(s *docusign.Settings) { s.PrivateKeyPEM = pkcs1PEM(otherKey()) }, nil, "invalid_grant", "no_valid_keys_or_signatures"},
		{"unknown integration key", func(s *docusign.Settings) { s.IntegrationKey = "00000000-0000-0000-0000-000000000001" }, nil, "invalid_grant", "issuer_not_found"},
		{"unknown user", func(s *docusign.Settings) { s.UserID = "00000000-0000-0000-0000-000000000002" }, nil, "invalid_grant", "user_not_found"},
		{"account the user lacks", func(s *docusign.Settings) { s.AccountID = "00000000-0000-0000-0000-000000000003" }, nil, "", "no access to account 00000000-0000-0000-0000-000000000003"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(c *setupConfig) { c.settings = tc.settings })
			if tc.fake != nil {
				tc.fake(b.fake)
			}
			_, err := b.client.TestConnection(t.Context())
			pe := providerErr(t, err)
			require.True(t, pe.Permanent)
			require.Equal(t, tc.code, pe.Code)
			require.Contains(t, pe.Message, tc.message)
			_, err = b.client.Create(t.Context(), b.request("wi_"+tc.name))
			require.ErrorIs(t, err, engine.ErrProviderPermanent)
		})
	}
}

func TestPKCS8KeyAndDefaultAccount(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *setupConfig) {
		c.settings = func(s *docusign.Settings) {
			s.PrivateKeyPEM = pkcs8PEM(t, testKey())
			s.AccountID = "" // the user's default account
		}
	})
	info, err := b.client.TestConnection(t.Context())
	require.NoError(t, err)
	require.Equal(t, b.fake.AccountID(), info.AccountID)
	b.create(t, "wi_pkcs8")
}

func TestNoSecretInErrorsOrFormatting(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var errs []error
	id := b.create(t, "wi_secret")
	b.fake.FailNext(2, docusignfake.Failure{Status: http.StatusUnauthorized, Code: "USER_AUTHENTICATION_FAILED"})
	_, err := b.client.Status(t.Context(), id)
	errs = append(errs, err)
	b.fake.FailNext(4, docusignfake.Failure{Status: http.StatusTooManyRequests})
	_, err = b.client.Download(t.Context(), id)
	errs = append(errs, err)
	b.fake.SetConsentRequired(true)
	_, err = b.client.TestConnection(t.Context())
	errs = append(errs, err)
	errs = append(errs, docusign.Verify([]byte("{}"), http.Header{"X-DocuSign-Signature-1": {"eA=="}}, []string{hmacKey}))

	pemBody := strings.Split(string(b.settings.PrivateKeyPEM), "\n")[1]
	secrets := []string{hmacKey, pemBody, "eyJ0eXAiOiJNVCJ9."}
	texts := []string{
		fmt.Sprint(b.settings), fmt.Sprintf("%+v", b.settings), fmt.Sprintf("%#v", b.settings),
	}
	for _, err := range errs {
		require.Error(t, err)
		texts = append(texts, err.Error(), fmt.Sprintf("%+v", err))
	}
	for _, s := range texts {
		for _, secret := range secrets {
			require.NotContains(t, s, secret)
		}
	}
	require.Contains(t, fmt.Sprint(b.settings), "[redacted]")
}

func TestSettingsValidate(t *testing.T) {
	t.Parallel()
	valid := docusign.Settings{
		AccountID:      "fe0b61a3-3b9b-4ce1-8d5c-2a7e1b6f4d11",
		IntegrationKey: "7d2b6a4c-1111-4222-8333-944455556666",
		UserID:         "4799e5e9-1559-4915-9862-cf4713bbcacc",
		OAuthBaseURL:   docusign.DemoOAuthBaseURL,
		PrivateKeyPEM:  pkcs1PEM(testKey()),
		HMACKeys:       []string{hmacKey},
	}
	require.NoError(t, valid.Validate())
	for _, u := range []string{docusign.ProductionOAuthBaseURL, "http://127.0.0.1:8080", "https://account-d.docusign.com/"} {
		s := valid
		s.OAuthBaseURL = u
		require.NoError(t, s.Validate(), u)
	}
	s := valid
	s.AccountID = ""
	s.HMACKeys = nil
	require.NoError(t, s.Validate(), "account and HMAC keys are optional")

	paths := func(err error) []string { t.Helper(); return providertest.ProblemPaths(t, err) }
	require.Equal(t, []string{"integration_key", "user_id", "oauth_base_url", "private_key_pem"}, paths(docusign.Settings{}.Validate()))
	bad := docusign.Settings{
		AccountID:      "acct",
		IntegrationKey: "ik",
		UserID:         "4799e5e9-1559-4915-9862-cf4713bbcaczz",
		OAuthBaseURL:   "account-d.docusign.com",
		PrivateKeyPEM:  []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
		HMACKeys:       []string{hmacKey, " "},
	}
	require.Equal(t, []string{"account_id", "integration_key", "user_id", "oauth_base_url", "private_key_pem", "hmac_keys[1]"}, paths(bad.Validate()))

	for name, pemBytes := range map[string][]byte{
		"not PEM":   []byte("MIIEowIBAAKCAQEA"),
		"garbage":   pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte("nope")}),
		"encrypted": pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte("nope")}),
	} {
		s := valid
		s.PrivateKeyPEM = pemBytes
		require.Equal(t, []string{"private_key_pem"}, paths(s.Validate()), name)
	}
	for _, u := range []string{"ftp://account-d.docusign.com", "https://", "https://u:p@host", "https://host?x=1", "::"} {
		s := valid
		s.OAuthBaseURL = u
		require.Equal(t, []string{"oauth_base_url"}, paths(s.Validate()), u)
	}
	_, err := docusign.NewClient(bad, nil, nil)
	require.Error(t, err)
	require.True(t, errors.As(err, new(*engine.ValidationError)))
}
