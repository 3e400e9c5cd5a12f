package connector_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/connector"
	swh "github.com/flowhook/flowhook/server/internal/provider/connector/standardwebhooks"
	"github.com/flowhook/flowhook/server/internal/provider/providertest"
)

func TestPluginSpec(t *testing.T) {
	t.Parallel()
	spec := connector.Plugin{}.Spec()
	require.Equal(t, connector.Provider, spec.Provider)
	require.Equal(t, engine.Provider("CONNECTOR"), spec.Provider)
	require.Equal(t, "connector", spec.Name)
	require.Equal(t, "c2i", spec.Route)
	require.Equal(t, engine.ActionKind("CONNECTOR_CREATE_WORK_ITEM"), spec.Action)
	require.Nil(t, spec.Events, "the outside system names its own event types")
	require.True(t, spec.Connectors)
	require.True(t, spec.SignsBody)
	require.False(t, spec.Documents, "a ticket keeps no result document: finishing one fetches none")
	require.False(t, spec.Signers)
	require.Equal(t, 15*time.Minute, spec.ReconcileInterval)
	require.NotNil(t, spec.StatusEvent)
	for _, st := range []engine.ExternalStatus{
		{Status: "ticket.resolved", Outcome: engine.OutcomeFinished},
		{Status: "ticket.commented"},
		{Status: ""},
	} {
		require.Equal(t, st.Status, spec.StatusEvent(st), "the status is the latest event type")
	}
	// Any event type a connector's system may send can be named in outcome overrides.
	require.True(t, spec.KnowsEvent("ticket.whatever"))
	require.True(t, spec.KnowsEvent(strings.Repeat("t", engine.MaxEventTypeLen)))
	require.False(t, spec.KnowsEvent(strings.Repeat("t", engine.MaxEventTypeLen+1)))
	require.False(t, spec.KnowsEvent(""))
}

func TestPluginFacts(t *testing.T) {
	t.Parallel()
	p := connector.Plugin{}
	require.Equal(t, "connector.tickets", p.SettingsID("tickets"))
	for _, typ := range []string{"ticket.created", "anything", ""} {
		require.True(t, p.Spec().ActsOn(typ), "every type is kept: %q", typ)
	}
	lim := p.Limits()
	require.EqualValues(t, 256<<10, lim.MaxBody)
	require.Equal(t, int64(connector.MaxBody), lim.MaxBody)
	require.NotEmpty(t, lim.Unauthorized)
	require.Contains(t, lim.SafeHeaders, "Webhook-Id")
	require.Contains(t, lim.SafeHeaders, "Webhook-Timestamp")
	for _, h := range lim.SafeHeaders {
		require.NotEqual(t, http.CanonicalHeaderKey(swh.HeaderSignature), http.CanonicalHeaderKey(h), "the signature is never kept")
		require.NotEqual(t, "Authorization", http.CanonicalHeaderKey(h))
	}
}

func TestPluginNewClient(t *testing.T) {
	t.Parallel()
	full := connector.Config{Name: "tickets", CreateURL: "https://tickets.example/items", SigningSecret: secretCurrent}
	tests := []struct {
		name    string
		cfg     connector.Config
		wantErr error
	}{
		{"configured", full, nil},
		{"no create_url", connector.Config{Name: "tickets", SigningSecret: secretCurrent}, engine.ErrNotConfigured},
		{"no signing secret", connector.Config{Name: "tickets", CreateURL: full.CreateURL}, engine.ErrNotConfigured},
		{"nothing", connector.Config{Name: "tickets"}, engine.ErrNotConfigured},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := connector.Plugin{}.NewClient(system, tc.cfg.Settings(), nil, nil)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				require.Nil(t, c)
				return
			}
			require.NoError(t, err)
			require.IsType(t, &connector.Client{}, c)
		})
	}
}

func TestPluginAuthenticate(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
	body := []byte(callbackBody("ticket.resolved", "2026-05-04T09:00:00Z", "TCK-1", "fixed"))
	// good is a callback signed with the current secret, now.
	good := func() http.Header { return signed(t, []string{secretCurrent}, "msg_1", now, body) }
	edit := func(f func(h http.Header)) http.Header { h := good(); f(h); return h }
	sig := good().Get(swh.HeaderSignature)
	_, sigB64, _ := strings.Cut(sig, ",")
	flipped := []byte(sigB64)
	flipped[3] = 'A'
	if sigB64[3] == 'A' {
		flipped[3] = 'B'
	}
	other := signed(t, []string{secretOther}, "msg_1", now, body).Get(swh.HeaderSignature)

	const (
		okReason    = ""
		noSecret    = "no signing secret configured"
		missing     = "missing webhook-id, webhook-timestamp or webhook-signature"
		malformed   = "malformed webhook headers"
		badTS       = "malformed webhook-timestamp"
		stale       = "webhook-timestamp outside the 5-minute tolerance"
		mismatch    = "signature mismatch"
		matchedOne  = "the Standard Webhooks signature matches one of the 1 secret(s) accepted now"
		matchedTwo  = "the Standard Webhooks signature matches one of the 2 secret(s) accepted now"
		refusedOne  = "(1 secret(s) accepted now, 1 signature(s) sent)"
		notASecret  = "not-a-secret-at-all"
		stalePast   = 5*time.Minute + time.Second
		staleFuture = -(5*time.Minute + time.Second)
	)
	tests := []struct {
		name    string
		secrets []string
		header  http.Header
		body    []byte        // nil: body
		at      time.Duration // the verifier's clock is now+at
		reason  string
		note    string
	}{
		{name: "signed with the secret", secrets: []string{secretCurrent}, header: good(), reason: okReason, note: matchedOne},
		{name: "the right secret among several", secrets: []string{secretOther, secretPrevious, secretCurrent}, header: good(), reason: okReason,
			note: "matches one of the 3 secret(s) accepted now"},
		{name: "an unusable configured secret is skipped", secrets: []string{notASecret, secretCurrent}, header: good(), reason: okReason, note: matchedTwo},
		{name: "a sender signing with several secrets", secrets: []string{secretCurrent},
			header: signed(t, []string{secretOther, secretCurrent}, "msg_1", now, body), reason: okReason, note: matchedOne},
		{name: "the matching signature third in the header", secrets: []string{secretCurrent},
			header: edit(func(h http.Header) { h.Set(swh.HeaderSignature, "v1,AAAA "+other+" "+sig) }), reason: okReason, note: matchedOne},
		{name: "signatures of other versions are ignored", secrets: []string{secretCurrent},
			header: edit(func(h http.Header) { h.Set(swh.HeaderSignature, "v1a,"+sigB64+" "+sig) }), reason: okReason, note: matchedOne},
		{name: "headers spelled as the specification does", secrets: []string{secretCurrent},
			header: http.Header{swh.HeaderID: {"msg_1"}, swh.HeaderTimestamp: {good().Get(swh.HeaderTimestamp)}, swh.HeaderSignature: {sig}},
			reason: okReason, note: matchedOne},
		{name: "an empty body signed as such", secrets: []string{secretCurrent},
			header: signed(t, []string{secretCurrent}, "msg_1", now, []byte{}), body: []byte{}, reason: okReason, note: matchedOne},
		{name: "exactly five minutes old", secrets: []string{secretCurrent}, header: good(), at: 5 * time.Minute, reason: okReason, note: matchedOne},
		{name: "exactly five minutes ahead", secrets: []string{secretCurrent}, header: good(), at: -5 * time.Minute, reason: okReason, note: matchedOne},

		{name: "no secret configured", secrets: nil, header: good(), reason: noSecret,
			note: "Standard Webhooks: " + noSecret + " (0 secret(s) accepted now, 1 signature(s) sent)"},
		{name: "only unusable secrets configured", secrets: []string{notASecret, ""}, header: good(), reason: noSecret,
			note: "(2 secret(s) accepted now, 1 signature(s) sent)"},
		{name: "no headers", secrets: []string{secretCurrent}, header: http.Header{}, reason: missing,
			note: "(1 secret(s) accepted now, 0 signature(s) sent)"},
		{name: "no webhook-id", secrets: []string{secretCurrent}, header: edit(func(h http.Header) { h.Del(swh.HeaderID) }), reason: missing, note: refusedOne},
		{name: "no webhook-timestamp", secrets: []string{secretCurrent}, header: edit(func(h http.Header) { h.Del(swh.HeaderTimestamp) }), reason: missing, note: refusedOne},
		{name: "no webhook-signature", secrets: []string{secretCurrent}, header: edit(func(h http.Header) { h.Del(swh.HeaderSignature) }), reason: missing,
			note: "(1 secret(s) accepted now, 0 signature(s) sent)"},
		{name: "a blank webhook-id", secrets: []string{secretCurrent}, header: edit(func(h http.Header) { h.Set(swh.HeaderID, " ") }), reason: missing, note: refusedOne},
		{name: "a blank webhook-signature", secrets: []string{secretCurrent}, header: edit(func(h http.Header) { h.Set(swh.HeaderSignature, "  ") }), reason: missing,
			note: "(1 secret(s) accepted now, 0 signature(s) sent)"},
		{name: "webhook-id repeated", secrets: []string{secretCurrent}, header: edit(func(h http.Header) { h.Add(swh.HeaderID, "msg_2") }), reason: malformed, note: refusedOne},
		{name: "webhook-timestamp repeated", secrets: []string{secretCurrent}, header: edit(func(h http.Header) { h.Add(swh.HeaderTimestamp, h.Get(swh.HeaderTimestamp)) }),
			reason: malformed, note: refusedOne},
		{name: "a webhook-id too long", secrets: []string{secretCurrent}, header: edit(func(h http.Header) { h.Set(swh.HeaderID, strings.Repeat("m", swh.MaxHeaderLen+1)) }),
			reason: malformed, note: refusedOne},
		{name: "a timestamp that is not a number", secrets: []string{secretCurrent}, header: edit(func(h http.Header) { h.Set(swh.HeaderTimestamp, "yesterday") }),
			reason: badTS, note: refusedOne},
		{name: "a timestamp in RFC 3339", secrets: []string{secretCurrent}, header: edit(func(h http.Header) { h.Set(swh.HeaderTimestamp, now.Format(time.RFC3339)) }),
			reason: badTS, note: refusedOne},
		{name: "a timestamp with a fraction", secrets: []string{secretCurrent}, header: edit(func(h http.Header) { h.Set(swh.HeaderTimestamp, h.Get(swh.HeaderTimestamp)+".0") }),
			reason: badTS, note: refusedOne},
		{name: "a signed timestamp", secrets: []string{secretCurrent}, header: edit(func(h http.Header) { h.Set(swh.HeaderTimestamp, "+"+h.Get(swh.HeaderTimestamp)) }),
			reason: badTS, note: refusedOne},
		{name: "a negative timestamp", secrets: []string{secretCurrent}, header: edit(func(h http.Header) { h.Set(swh.HeaderTimestamp, "-1") }),
			reason: badTS, note: refusedOne},
		{name: "five minutes and a second old", secrets: []string{secretCurrent}, header: good(), at: stalePast, reason: stale, note: refusedOne},
		{name: "a day old", secrets: []string{secretCurrent}, header: good(), at: 24 * time.Hour, reason: stale, note: refusedOne},
		{name: "five minutes and a second ahead", secrets: []string{secretCurrent}, header: good(), at: staleFuture, reason: stale, note: refusedOne},
		{name: "stale is found before the signature is checked", secrets: []string{secretOther}, header: good(), at: stalePast, reason: stale, note: refusedOne},
		{name: "signed with another secret", secrets: []string{secretCurrent}, header: edit(func(h http.Header) { h.Set(swh.HeaderSignature, other) }),
			reason: mismatch, note: refusedOne},
		{name: "the connector holds another secret", secrets: []string{secretOther}, header: good(), reason: mismatch, note: refusedOne},
		{name: "another body", secrets: []string{secretCurrent}, header: good(), body: []byte(callbackBody("ticket.resolved", "2026-05-04T09:00:00Z", "TCK-2", "fixed")),
			reason: mismatch, note: refusedOne},
		{name: "another message id", secrets: []string{secretCurrent}, header: edit(func(h http.Header) { h.Set(swh.HeaderID, "msg_2") }), reason: mismatch, note: refusedOne},
		{name: "another timestamp", secrets: []string{secretCurrent}, header: edit(func(h http.Header) { h.Set(swh.HeaderTimestamp, "1777885201") }),
			reason: mismatch, note: refusedOne},
		{name: "one flipped byte", secrets: []string{secretCurrent}, header: edit(func(h http.Header) { h.Set(swh.HeaderSignature, "v1,"+string(flipped)) }),
			reason: mismatch, note: refusedOne},
		{name: "a truncated signature", secrets: []string{secretCurrent}, header: edit(func(h http.Header) { h.Set(swh.HeaderSignature, sig[:len(sig)-4]) }),
			reason: mismatch, note: refusedOne},
		{name: "the signature without its version", secrets: []string{secretCurrent}, header: edit(func(h http.Header) { h.Set(swh.HeaderSignature, sigB64) }),
			reason: mismatch, note: refusedOne},
		{name: "the signature under another version", secrets: []string{secretCurrent}, header: edit(func(h http.Header) { h.Set(swh.HeaderSignature, "v2,"+sigB64) }),
			reason: mismatch, note: refusedOne},
		{name: "the matching signature after the tenth", secrets: []string{secretCurrent},
			header: edit(func(h http.Header) { h.Set(swh.HeaderSignature, strings.Repeat(other+" ", swh.MaxSignatures)+sig) }),
			reason: mismatch, note: "(1 secret(s) accepted now, 11 signature(s) sent)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := body
			if tc.body != nil {
				b = tc.body
			}
			sent := tc.header.Clone()
			auth := connector.Plugin{}.Authenticate(b, tc.header, tc.secrets, now.Add(tc.at))
			require.Equal(t, sent, tc.header, "the header is left as it was")
			// The note says what was found, never a secret or a signature.
			leaks := []string{secretCurrent, secretPrevious, secretOther, notASecret, sigB64, string(flipped)}
			for _, s := range []string{secretCurrent, secretPrevious, secretOther} {
				leaks = append(leaks, strings.TrimPrefix(s, swh.SecretPrefix))
			}
			for _, e := range strings.Fields(strings.Join(tc.header.Values(swh.HeaderSignature), " ")) {
				if _, v, ok := strings.Cut(e, ","); ok && len(v) > 8 {
					leaks = append(leaks, v)
				}
			}
			providertest.RequireAuthentication(t, auth, tc.reason, tc.note, leaks...)
		})
	}
}

// TestPluginAuthenticateRotation: a callback signed with the secret a rotation replaced is
// accepted while its grace lasts, as Credentials says, and refused from the moment it ends.
func TestPluginAuthenticateRotation(t *testing.T) {
	t.Parallel()
	rolled := time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
	settings := connector.Config{Name: "tickets", CreateURL: "https://tickets.example/items", SigningSecret: secretCurrent,
		PreviousSecret: secretPrevious, PreviousValidUntil: rolled.Add(time.Hour)}.Settings()
	body := []byte(callbackBody("ticket.resolved", "", "TCK-1", ""))
	tests := []struct {
		name   string
		at     time.Duration // since the rotation; the callback is signed then
		signer string
		reason string
		note   string
	}{
		{"the new secret at once", 0, secretCurrent, "", "2 secret(s)"},
		{"the previous secret at once", 0, secretPrevious, "", "2 secret(s)"},
		{"the previous secret a second before its grace ends", time.Hour - time.Second, secretPrevious, "", "2 secret(s)"},
		{"the previous secret when its grace ends", time.Hour, secretPrevious, "signature mismatch", "(1 secret(s) accepted now"},
		{"the previous secret a day later", 25 * time.Hour, secretPrevious, "signature mismatch", "(1 secret(s) accepted now"},
		{"the new secret when the grace ends", time.Hour, secretCurrent, "", "1 secret(s)"},
		{"another secret during the grace", time.Minute, secretOther, "signature mismatch", "(2 secret(s) accepted now"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			now := rolled.Add(tc.at)
			p := connector.Plugin{}
			h := signed(t, []string{tc.signer}, "msg_1", now, body)
			auth := p.Authenticate(body, h, p.Credentials(settings, now), now)
			providertest.RequireAuthentication(t, auth, tc.reason, tc.note, secretCurrent, secretPrevious, secretOther)
		})
	}
}

func TestPluginOutcome(t *testing.T) {
	t.Parallel()
	cfg := connector.Config{Name: "tickets", Outcomes: map[string]engine.Outcome{
		"ticket.resolved": engine.OutcomeFinished,
		"ticket.approved": engine.OutcomeApproved,
		"ticket.rejected": engine.OutcomeDenied,
		"ticket.deleted":  engine.OutcomeDeleted,
		"ticket.expired":  engine.OutcomeExpired,
	}}
	stored := jsonRoundTrip(t, cfg.Settings())
	// A table stored by hand, or by an older release: entries that name no outcome are not
	// outcomes.
	handMade := engine.Settings{ID: "connector.tickets", Plain: map[string]any{connector.KeyOutcomes: map[string]any{
		"ticket.resolved": "FINISHED", "ticket.lost": "LOST", "ticket.zero": "UNSPECIFIED", "ticket.number": 3, "ticket.null": nil,
	}}}
	tests := []struct {
		name      string
		settings  engine.Settings
		eventType string
		want      engine.Outcome
		ok        bool
	}{
		{"mapped", cfg.Settings(), "ticket.resolved", engine.OutcomeFinished, true},
		{"mapped, as stored", stored, "ticket.resolved", engine.OutcomeFinished, true},
		{"approved", stored, "ticket.approved", engine.OutcomeApproved, true},
		{"denied", stored, "ticket.rejected", engine.OutcomeDenied, true},
		{"deleted", stored, "ticket.deleted", engine.OutcomeDeleted, true},
		{"expired", stored, "ticket.expired", engine.OutcomeExpired, true},
		{"unmapped: progress", stored, "ticket.commented", engine.OutcomeUnspecified, false},
		{"the type's case matters", stored, "TICKET.RESOLVED", engine.OutcomeUnspecified, false},
		{"an empty type", stored, "", engine.OutcomeUnspecified, false},
		{"no table", connector.Config{Name: "tickets"}.Settings(), "ticket.resolved", engine.OutcomeUnspecified, false},
		{"a group never saved", engine.Settings{ID: "connector.tickets"}, "ticket.resolved", engine.OutcomeUnspecified, false},
		{"hand-made, valid entry", handMade, "ticket.resolved", engine.OutcomeFinished, true},
		{"hand-made, unknown outcome", handMade, "ticket.lost", engine.OutcomeUnspecified, false},
		{"hand-made, unspecified outcome", handMade, "ticket.zero", engine.OutcomeUnspecified, false},
		{"hand-made, a number", handMade, "ticket.number", engine.OutcomeUnspecified, false},
		{"hand-made, null", handMade, "ticket.null", engine.OutcomeUnspecified, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o, ok := connector.Plugin{}.Outcome(tc.settings, tc.eventType, "some reason")
			require.Equal(t, tc.ok, ok)
			if ok {
				require.Equal(t, tc.want, o)
			}
		})
	}
}

// jsonRoundTrip is a settings group as the store gives it back: its plain values read from
// JSON.
func jsonRoundTrip(t testing.TB, s engine.Settings) engine.Settings {
	t.Helper()
	b, err := json.Marshal(s.Plain)
	require.NoError(t, err)
	out := s
	out.Plain = nil
	require.NoError(t, json.Unmarshal(b, &out.Plain))
	out.Secrets = make(map[string]string, len(s.Secrets))
	for k, v := range s.Secrets {
		out.Secrets[k] = v
	}
	return out
}

func TestConfigSettingsRoundTrip(t *testing.T) {
	t.Parallel()
	created := time.Date(2026, 5, 4, 9, 0, 0, 123456789, time.UTC)
	full := connector.Config{
		Name:        "tickets",
		DisplayName: "Ticket desk",
		CreateURL:   "https://tickets.example/items?token=q",
		StatusURL:   "https://tickets.example/items/{id}",
		CancelURL:   "https://tickets.example/items/{id}/cancel",
		Outcomes: map[string]engine.Outcome{
			"ticket.resolved": engine.OutcomeFinished,
			"ticket.rejected": engine.OutcomeDenied,
		},
		CreatedAt:          created,
		SigningSecret:      secretCurrent,
		PreviousSecret:     secretPrevious,
		PreviousValidUntil: created.Add(24 * time.Hour),
		AuthHeader:         "X-Api-Key: k-9c1d7e",
	}

	t.Run("full", func(t *testing.T) {
		t.Parallel()
		s := full.Settings()
		require.Equal(t, "connector.tickets", s.ID)
		require.Equal(t, map[string]any{
			connector.KeyDisplayName:        "Ticket desk",
			connector.KeyCreateURL:          full.CreateURL,
			connector.KeyStatusURL:          full.StatusURL,
			connector.KeyCancelURL:          full.CancelURL,
			connector.KeyOutcomes:           map[string]any{"ticket.resolved": "FINISHED", "ticket.rejected": "DENIED"},
			connector.KeyCreatedAt:          "2026-05-04T09:00:00.123456789Z",
			connector.KeyAuthHeaderName:     "X-Api-Key",
			connector.KeyPreviousValidUntil: "2026-05-05T09:00:00.123456789Z",
		}, s.Plain)
		require.Equal(t, map[string]string{
			connector.KeySigningSecret:  secretCurrent,
			connector.KeyPreviousSecret: secretPrevious,
			connector.KeyAuthHeader:     "X-Api-Key: k-9c1d7e",
		}, s.Secrets)
		providertest.RequireNoSecret(t, s.Plain, secretCurrent, secretPrevious, "k-9c1d7e")

		require.Equal(t, full, connector.ConfigFrom(s))
		require.Equal(t, full, connector.ConfigFrom(jsonRoundTrip(t, s)), "as the store gives it back")
		require.Equal(t, "X-Api-Key", connector.ConfigFrom(s).AuthHeaderName())
	})

	t.Run("minimal", func(t *testing.T) {
		t.Parallel()
		cfg := connector.Config{Name: "tickets", CreateURL: "https://tickets.example/items", CreatedAt: created, SigningSecret: secretCurrent}
		s := cfg.Settings()
		require.Equal(t, map[string]string{connector.KeySigningSecret: secretCurrent}, s.Secrets)
		require.NotContains(t, s.Plain, connector.KeyAuthHeaderName)
		require.NotContains(t, s.Plain, connector.KeyPreviousValidUntil)
		require.Equal(t, map[string]any{}, s.Plain[connector.KeyOutcomes])

		got := connector.ConfigFrom(jsonRoundTrip(t, s))
		want := cfg
		want.Outcomes = map[string]engine.Outcome{}
		require.Equal(t, want, got)
		require.Empty(t, got.AuthHeaderName())
		require.True(t, got.PreviousValidUntil.IsZero())
	})

	t.Run("times are kept in UTC", func(t *testing.T) {
		t.Parallel()
		paris := time.FixedZone("CEST", 2*60*60)
		cfg := full
		cfg.CreatedAt = created.In(paris)
		cfg.PreviousValidUntil = created.Add(time.Hour).In(paris)
		s := cfg.Settings()
		require.Equal(t, "2026-05-04T09:00:00.123456789Z", s.Plain[connector.KeyCreatedAt])
		got := connector.ConfigFrom(s)
		require.Equal(t, created, got.CreatedAt)
		require.Equal(t, created.Add(time.Hour), got.PreviousValidUntil)
	})

	t.Run("the auth header's name", func(t *testing.T) {
		t.Parallel()
		for header, name := range map[string]string{
			"X-Api-Key: k":                "X-Api-Key",
			"  Authorization :  Bearer a": "Authorization",
			"Authorization: Basic a:b":    "Authorization",
			"":                            "",
		} {
			cfg := connector.Config{Name: "tickets", AuthHeader: header}
			require.Equal(t, name, cfg.AuthHeaderName(), header)
			got := connector.ConfigFrom(cfg.Settings())
			require.Equal(t, header, got.AuthHeader)
			require.Equal(t, name, got.AuthHeaderName())
		}
	})

	t.Run("a group of unexpected values reads as empty", func(t *testing.T) {
		t.Parallel()
		s := engine.Settings{ID: "connector.tickets", Plain: map[string]any{
			connector.KeyDisplayName:        5,
			connector.KeyCreateURL:          []any{"https://x"},
			connector.KeyOutcomes:           "ticket.resolved=FINISHED",
			connector.KeyCreatedAt:          "last week",
			connector.KeyPreviousValidUntil: 1777885200,
		}}
		got := connector.ConfigFrom(s)
		require.Equal(t, connector.Config{Name: "tickets", Outcomes: map[string]engine.Outcome{}}, got)
		require.Empty(t, got.Secrets(created))
	})
}

func TestConfigCredentials(t *testing.T) {
	t.Parallel()
	rolled := time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
	until := rolled.Add(24 * time.Hour)
	both := connector.Config{Name: "tickets", SigningSecret: secretCurrent, PreviousSecret: secretPrevious, PreviousValidUntil: until}
	tests := []struct {
		name string
		cfg  connector.Config
		now  time.Time
		want []string
	}{
		{"during the grace: the new secret, then the previous one", both, rolled, []string{secretCurrent, secretPrevious}},
		{"a nanosecond before the grace ends", both, until.Add(-time.Nanosecond), []string{secretCurrent, secretPrevious}},
		{"when the grace ends", both, until, []string{secretCurrent}},
		{"after the grace", both, until.Add(time.Hour), []string{secretCurrent}},
		{"no previous secret", connector.Config{Name: "tickets", SigningSecret: secretCurrent}, rolled, []string{secretCurrent}},
		{"a previous secret with no end of grace", connector.Config{Name: "tickets", SigningSecret: secretCurrent, PreviousSecret: secretPrevious}, rolled,
			[]string{secretCurrent}},
		{"no secret at all", connector.Config{Name: "tickets"}, rolled, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, tc.cfg.Secrets(tc.now))
			// The plugin reads them from the stored group.
			got := connector.Plugin{}.Credentials(jsonRoundTrip(t, tc.cfg.Settings()), tc.now)
			require.Equal(t, tc.want, got)
			require.False(t, slices.Contains(got, ""))
		})
	}
}
