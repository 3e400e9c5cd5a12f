package docusign_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/docusign"
	"github.com/flowhook/flowhook/server/internal/provider/docusign/docusignfake"
	"github.com/flowhook/flowhook/server/internal/provider/providertest"
)

type hmacVector struct {
	Name      string `json:"name"`
	Key       string `json:"key"`
	Body      string `json:"body"`
	BodyFile  string `json:"bodyFile"`
	Signature string `json:"signature"`
}

func loadVectors(t *testing.T) []hmacVector {
	t.Helper()
	var vs []hmacVector
	require.NoError(t, json.Unmarshal(providertest.ReadTestdata(t, "hmac_vectors.json"), &vs))
	require.NotEmpty(t, vs)
	return vs
}

func (v hmacVector) body(t *testing.T) []byte {
	t.Helper()
	if v.BodyFile == "" {
		return []byte(v.Body)
	}
	return providertest.ReadTestdata(t, v.BodyFile)
}

func sigHeader(sigs ...string) http.Header {
	h := http.Header{}
	for i, s := range sigs {
		h["X-DocuSign-Signature-"+strconv.Itoa(i+1)] = []string{s}
	}
	return h
}

func TestVerifyKnownAnswers(t *testing.T) {
	t.Parallel()
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			body := v.body(t)
			require.NoError(t, docusign.Verify(body, sigHeader(v.Signature), []string{v.Key}))
			// The fake signs independently of Verify; both must agree with the recorded vector.
			require.Equal(t, v.Signature, docusignfake.Signature(body, v.Key))
		})
	}
}

func TestVerifyNegative(t *testing.T) {
	t.Parallel()
	v := loadVectors(t)[1] // a real-shaped body under a DocuSign-style key
	body := func() []byte { return v.body(t) }
	good := v.Signature
	otherKey := "c2Vjb25kLWtleS1mb3Itcm90YXRpb24tdGVzdHMtMTIzNA=="
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	manyHeaders := http.Header{}
	for n := 1; n <= docusign.MaxSignatures; n++ {
		manyHeaders.Set("X-DocuSign-Signature-"+strconv.Itoa(n), docusignfake.Signature(body(), "wrong"))
	}
	manyHeaders.Set("X-DocuSign-Signature-"+strconv.Itoa(docusign.MaxSignatures+1), good) // beyond MaxSignatures: not looked at
	// An account with many HMAC keys: flowhook's is the eleventh (refused with a cap of 10).
	eleventh := http.Header{}
	for n := 1; n <= 10; n++ {
		eleventh.Set("X-DocuSign-Signature-"+strconv.Itoa(n), docusignfake.Signature(body(), "another key "+strconv.Itoa(n)))
	}
	eleventh.Set("X-DocuSign-Signature-11", good)

	cases := []struct {
		name   string
		body   []byte
		header http.Header
		keys   []string
		want   error
	}{
		{"valid", body(), sigHeader(good), []string{v.Key}, nil},
		{"no keys configured", body(), sigHeader(good), nil, docusign.ErrNoKeys},
		{"only empty keys configured", body(), sigHeader(good), []string{""}, docusign.ErrNoKeys},
		{"missing header", body(), http.Header{}, []string{v.Key}, docusign.ErrNoSignature},
		{"empty header", body(), sigHeader(""), []string{v.Key}, docusign.ErrNoSignature},
		{"blank header", body(), sigHeader("   "), []string{v.Key}, docusign.ErrNoSignature},
		{"other header only", body(), http.Header{"X-Docusign-Signature": {good}}, []string{v.Key}, docusign.ErrNoSignature},
		{"truncated signature", body(), sigHeader(good[:len(good)-2]), []string{v.Key}, docusign.ErrBadSignature},
		{"signature without padding", body(), sigHeader(strings.TrimRight(good, "=")), []string{v.Key}, docusign.ErrBadSignature},
		{"one flipped byte in signature", body(), sigHeader(flip(good, 5)), []string{v.Key}, docusign.ErrBadSignature},
		{"one flipped byte in body", func() []byte { b := body(); b[len(b)/2] ^= 0x01; return b }(), sigHeader(good), []string{v.Key}, docusign.ErrBadSignature},
		{"body with a trailing newline", append(body(), '\n'), sigHeader(good), []string{v.Key}, docusign.ErrBadSignature},
		{"valid only in the third header", body(), sigHeader("bm9wZQ==", flip(good, 0), good), []string{v.Key}, nil},
		{"valid only under the second key", body(), sigHeader(good), []string{otherKey, v.Key}, nil},
		{"key removed from the configured set", body(), sigHeader(good), []string{otherKey}, docusign.ErrBadSignature},
		{"header name in lower case", body(), http.Header{"x-docusign-signature-1": {good}}, []string{v.Key}, nil},
		{"header name in odd case", body(), http.Header{"X-DOCUSIGN-signature-1": {good}}, []string{v.Key}, nil},
		{"header set canonically by Go", body(), func() http.Header { h := http.Header{}; h.Set("x-docusign-signature-2", good); return h }(), []string{v.Key}, nil},
		{"more than MaxSignatures headers", body(), manyHeaders, []string{v.Key}, docusign.ErrBadSignature},
		{"valid in the eleventh header", body(), eleventh, []string{v.Key}, nil},
		{"a header number with a leading zero", body(), http.Header{"X-Docusign-Signature-01": {good}}, []string{v.Key}, docusign.ErrNoSignature},
		{"header number zero", body(), http.Header{"X-Docusign-Signature-0": {good}}, []string{v.Key}, docusign.ErrNoSignature},
		{"non-base64 signature", body(), sigHeader("!!!not base64!!!"), []string{v.Key}, docusign.ErrBadSignature},
		{"hex instead of base64", body(), sigHeader(strings.Repeat("ab", 32)), []string{v.Key}, docusign.ErrBadSignature},
		{"signature of the empty body", body(), sigHeader(docusignfake.Signature(nil, v.Key)), []string{v.Key}, docusign.ErrBadSignature},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.ErrorIs(t, docusign.Verify(tc.body, tc.header, tc.keys), tc.want, "nil: it passes")
		})
	}
}

func TestParseEvent(t *testing.T) {
	t.Parallel()
	cases := []struct {
		file string
		want engine.InboundEvent
	}{
		{"envelope-sent.json", engine.InboundEvent{
			Type: "envelope-sent", ExternalID: "a1b2c3d4-e5f6-7890-abcd-ef1234567890",
			OccurredAt: providertest.Time(t, "2026-04-29T18:55:01.1234567Z"), Status: "sent", WorkItemID: "wi_01HZX3K9V7",
		}},
		{"recipient-completed.json", engine.InboundEvent{
			Type: "recipient-completed", ExternalID: "a1b2c3d4-e5f6-7890-abcd-ef1234567890",
			OccurredAt: providertest.Time(t, "2026-04-29T19:00:00Z"), Status: "delivered", WorkItemID: "wi_01HZX3K9V7",
		}},
		{"envelope-completed.json", engine.InboundEvent{
			Type: "envelope-completed", ExternalID: "a1b2c3d4-e5f6-7890-abcd-ef1234567890",
			OccurredAt: providertest.Time(t, "2026-04-29T19:00:00Z"), Status: "completed", WorkItemID: "wi_01HZX3K9V7",
		}},
		{"envelope-declined.json", engine.InboundEvent{
			Type: "envelope-declined", ExternalID: "0f9e8d7c-6b5a-4321-9876-fedcba987654",
			OccurredAt: providertest.Time(t, "2026-05-02T08:15:30.25Z"), Status: "declined",
			Reason: "The amount is wrong.", WorkItemID: "wi_decline_7",
		}},
		{"envelope-voided.json", engine.InboundEvent{
			Type: "envelope-voided", ExternalID: "11111111-2222-3333-4444-555555555555",
			OccurredAt: providertest.Time(t, "2026-05-03T10:00:00.0000001Z"), Status: "voided",
			Reason: "Workflow cancelled", WorkItemID: "wi_void_1",
		}},
		{"envelope-voided-expired.json", engine.InboundEvent{
			Type: "envelope-voided", ExternalID: "99999999-8888-7777-6666-555555555555",
			OccurredAt: providertest.Time(t, "2026-06-01T00:00:05.1234567Z"), Status: "voided",
			Reason: "Envelope has expired.", WorkItemID: "wi_exp_3",
		}},
		{"envelope-delivered-minimal.json", engine.InboundEvent{
			Type: "envelope-delivered", ExternalID: "abcdef01-2345-6789-abcd-ef0123456789", Status: "delivered",
		}},
	}
	keys := map[string]string{}
	for _, tc := range cases {
		body := providertest.ReadTestdata(t, "events", tc.file)
		ev, err := docusign.ParseEvent(body)
		require.NoError(t, err, tc.file)
		providertest.RequireEvent(t, docusign.ParseEvent, system, body, ev)
		require.NotContains(t, keys, ev.DedupeKey, "%s shares a dedupe key with %s", tc.file, keys[ev.DedupeKey])
		keys[ev.DedupeKey] = tc.file
		tc.want.System = system
		tc.want.DedupeKey = ev.DedupeKey
		require.Equal(t, tc.want, ev, tc.file)
	}
}

func TestParseEventErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		body string
		want error
	}{
		{"empty", ``, docusign.ErrMalformedEvent},
		{"not JSON", `<xml/>`, docusign.ErrMalformedEvent},
		{"truncated", `{"event":"envelope-sent","data":{"envelopeId":"x"}`, docusign.ErrMalformedEvent},
		{"array", `[{"event":"envelope-sent"}]`, docusign.ErrMalformedEvent},
		{"string", `"envelope-sent"`, docusign.ErrMalformedEvent},
		{"null", `null`, docusign.ErrMalformedEvent},
		{"trailing garbage", `{"event":"envelope-sent","data":{"envelopeId":"x"}} x`, docusign.ErrMalformedEvent},
		{"event of the wrong type", `{"event":5,"data":{"envelopeId":"x"}}`, docusign.ErrMalformedEvent},
		{"data of the wrong type", `{"event":"envelope-sent","data":"x"}`, docusign.ErrMalformedEvent},
		{"missing event", `{"data":{"envelopeId":"x"}}`, docusign.ErrMissingEvent},
		{"blank event", `{"event":"  ","data":{"envelopeId":"x"}}`, docusign.ErrMissingEvent},
		{"missing data", `{"event":"envelope-sent"}`, docusign.ErrMissingEnvelopeID},
		{"missing envelopeId", `{"event":"envelope-sent","data":{"envelopeSummary":{"status":"sent"}}}`, docusign.ErrMissingEnvelopeID},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := docusign.ParseEvent([]byte(tc.body))
			require.ErrorIs(t, err, tc.want)
		})
	}
}

func TestDedupeKey(t *testing.T) {
	t.Parallel()
	parse := func(b []byte) string {
		ev, err := docusign.ParseEvent(b)
		require.NoError(t, err)
		return ev.DedupeKey
	}
	base := providertest.ReadTestdata(t, "events", "envelope-completed.json")
	key := parse(base)

	t.Run("redeliveries share a key", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, parse(providertest.WithField(t, base, "retryCount", 0)), parse(providertest.WithField(t, base, "retryCount", 3)))
		require.Equal(t, key, parse(providertest.WithField(t, base, "retryCount", 10)))
		// The exact bytes DocuSign would resend: only the digits of retryCount change.
		resent := strings.Replace(string(base), `"retryCount": 0`, `"retryCount": 3`, 1)
		require.NotEqual(t, string(base), resent)
		require.Equal(t, key, parse([]byte(resent)))
	})
	t.Run("whitespace and key order do not matter", func(t *testing.T) {
		t.Parallel()
		var m map[string]any
		require.NoError(t, json.Unmarshal(base, &m))
		compact, err := json.Marshal(m)
		require.NoError(t, err)
		require.Equal(t, key, parse(compact))
	})
	t.Run("another event differs", func(t *testing.T) {
		t.Parallel()
		require.NotEqual(t, key, parse(providertest.WithField(t, base, "event", "envelope-delivered")))
	})
	t.Run("another envelope differs", func(t *testing.T) {
		t.Parallel()
		other := strings.ReplaceAll(string(base), "a1b2c3d4-e5f6-7890-abcd-ef1234567890", "a1b2c3d4-e5f6-7890-abcd-ef1234567891")
		require.NotEqual(t, key, parse([]byte(other)))
	})
	t.Run("another time differs", func(t *testing.T) {
		t.Parallel()
		require.NotEqual(t, key, parse(providertest.WithField(t, base, "generatedDateTime", "2026-04-29T19:00:00.0000001Z")))
	})
	t.Run("a nested retryCount counts", func(t *testing.T) {
		t.Parallel()
		a := `{"event":"envelope-sent","data":{"envelopeId":"x","retryCount":1}}`
		b := `{"event":"envelope-sent","data":{"envelopeId":"x","retryCount":2}}`
		require.NotEqual(t, parse([]byte(a)), parse([]byte(b)))
	})
}

func TestDefaultOutcome(t *testing.T) {
	t.Parallel()
	cases := []struct {
		event, reason string
		want          engine.Outcome
		terminal      bool
	}{
		{"envelope-completed", "", engine.OutcomeFinished, true},
		{"envelope-declined", "The amount is wrong.", engine.OutcomeDenied, true},
		{"envelope-voided", "Workflow cancelled", engine.OutcomeDeleted, true},
		{"envelope-voided", "", engine.OutcomeDeleted, true},
		{"envelope-voided", docusignfake.ExpiredReason, engine.OutcomeExpired, true},
		{"envelope-voided", "ENVELOPE EXPIRED by policy", engine.OutcomeExpired, true},
		{"envelope-deleted", "", engine.OutcomeDeleted, true},
		{"envelope-purge", "", engine.OutcomeDeleted, true},
		{"envelope-sent", "", engine.OutcomeUnspecified, false},
		{"envelope-delivered", "", engine.OutcomeUnspecified, false},
		{"envelope-resent", "", engine.OutcomeUnspecified, false},
		{"recipient-completed", "", engine.OutcomeUnspecified, false},
		{"recipient-declined", "expired", engine.OutcomeUnspecified, false},
		{"recipient-delivered", "", engine.OutcomeUnspecified, false},
		{"Envelope-Completed", "", engine.OutcomeUnspecified, false}, // event names are case-sensitive
		{"", "", engine.OutcomeUnspecified, false},
	}
	for _, tc := range cases {
		got, ok := docusign.DefaultOutcome(tc.event, tc.reason)
		require.Equal(t, tc.want, got, "%s %q", tc.event, tc.reason)
		require.Equal(t, tc.terminal, ok, "%s %q", tc.event, tc.reason)
	}
	for _, ev := range docusign.Events {
		_, ok := docusign.DefaultOutcome(ev, "")
		require.Equal(t, ev == "envelope-completed" || ev == "envelope-declined" || ev == "envelope-voided" ||
			ev == "envelope-deleted" || ev == "envelope-purge", ok, ev)
	}
}

func TestStatusOutcome(t *testing.T) {
	t.Parallel()
	cases := []struct {
		status, reason string
		want           engine.Outcome
	}{
		{"created", "", engine.OutcomeUnspecified},
		{"sent", "", engine.OutcomeUnspecified},
		{"delivered", "", engine.OutcomeUnspecified},
		{"signed", "", engine.OutcomeUnspecified},
		{"completed", "", engine.OutcomeFinished},
		{"declined", "no", engine.OutcomeDenied},
		{"voided", "Workflow cancelled", engine.OutcomeDeleted},
		{"voided", "Envelope has expired.", engine.OutcomeExpired},
		{"Voided", "EXPIRED", engine.OutcomeExpired},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, docusign.StatusOutcome(tc.status, tc.reason), "%s %q", tc.status, tc.reason)
	}
}
