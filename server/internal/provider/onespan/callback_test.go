package onespan_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/onespan"
	"github.com/flowhook/flowhook/server/internal/provider/providertest"
)

func authHeader(values ...string) http.Header {
	h := http.Header{}
	for _, v := range values {
		h.Add("Authorization", v)
	}
	return h
}

func TestVerify(t *testing.T) {
	t.Parallel()
	keys := []string{callbackKey, callbackKeyOld}
	cases := []struct {
		name   string
		header http.Header
		keys   []string
		want   error
	}{
		{"the key", authHeader("Basic " + callbackKey), keys, nil},
		{"the second key (rotation)", authHeader("Basic " + callbackKeyOld), keys, nil},
		{"the only key", authHeader("Basic " + callbackKeyOld), []string{callbackKeyOld}, nil},
		{"a removed key", authHeader("Basic " + callbackKeyOld), []string{callbackKey}, onespan.ErrMismatch},
		{"a wrong key", authHeader("Basic wrong"), keys, onespan.ErrMismatch},
		{"a prefix of the key", authHeader("Basic " + callbackKey[:len(callbackKey)-1]), keys, onespan.ErrMismatch},
		{"the key and more", authHeader("Basic " + callbackKey + "x"), keys, onespan.ErrMismatch},
		{"the key in another case", authHeader("Basic " + strings.ToUpper(callbackKey)), keys, onespan.ErrMismatch},
		{"base64 of the key", authHeader("Basic Y2Ita2V5LTdmM2E5YzJlNDFkOA=="), keys, onespan.ErrMismatch},
		{"user:key pair", authHeader("Basic user:" + callbackKey), keys, onespan.ErrMismatch},
		{"a huge credential", authHeader("Basic " + strings.Repeat("k", 10000)), keys, onespan.ErrMismatch},
		{"no header", http.Header{}, keys, onespan.ErrNoCredentials},
		{"an empty header", authHeader(""), keys, onespan.ErrNoCredentials},
		{"the scheme alone", authHeader("Basic"), keys, onespan.ErrNoCredentials},
		{"the scheme and spaces", authHeader("Basic    "), keys, onespan.ErrNoCredentials},
		{"the key without a scheme", authHeader(callbackKey), keys, onespan.ErrNoCredentials},
		{"Bearer", authHeader("Bearer " + callbackKey), keys, onespan.ErrNoCredentials},
		{"Bearer x", authHeader("Bearer x"), keys, onespan.ErrNoCredentials},
		{"Basicx", authHeader("Basic" + callbackKey), keys, onespan.ErrNoCredentials},
		// RFC 7235: the scheme is case-insensitive, and spaces around the credential are not part of it.
		{"lowercase basic", authHeader("basic " + callbackKey), keys, nil},
		{"BASIC", authHeader("BASIC " + callbackKey), keys, nil},
		{"extra spaces", authHeader("Basic   " + callbackKey + "  "), keys, nil},
		{"a tab", authHeader("Basic\t" + callbackKey), keys, nil},
		{"only the first header counts", authHeader("Basic wrong", "Basic "+callbackKey), keys, onespan.ErrMismatch},
		{"header name in lower case", http.Header{"authorization": {"Basic " + callbackKey}}, keys, nil},
		{"no keys configured", authHeader("Basic " + callbackKey), nil, onespan.ErrNoKeys},
		{"only empty keys configured", authHeader("Basic "), []string{""}, onespan.ErrNoKeys},
		{"an empty key is skipped, not matched", authHeader("Basic " + callbackKey), []string{"", callbackKey}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.ErrorIs(t, onespan.Verify(tc.header, tc.keys), tc.want, "nil: it passes")
		})
	}
}

func TestParseEvent(t *testing.T) {
	t.Parallel()
	cases := []struct {
		file string
		want engine.InboundEvent
	}{
		{"package-complete.json", engine.InboundEvent{Type: "PACKAGE_COMPLETE", ExternalID: "LWsUTvGgE4WpOvaQPT16idnxNj8=",
			OccurredAt: providertest.Time(t, "2020-08-21T14:12:34.544Z")}},
		{"package-decline.json", engine.InboundEvent{Type: "PACKAGE_DECLINE", ExternalID: "xT9OeZ-j2jIynQBaLeLdgp9CtZk=",
			OccurredAt: providertest.Time(t, "2026-05-02T08:15:30.25Z")}},
		{"document-signed.json", engine.InboundEvent{Type: "DOCUMENT_SIGNED", ExternalID: "xT9OeZ-j2jIynQBaLeLdgp9CtZk=",
			OccurredAt: providertest.Time(t, "2026-05-02T08:10:00.001Z")}},
		{"email-bounce.json", engine.InboundEvent{Type: "EMAIL_BOUNCE", ExternalID: "LWsUTvGgE4WpOvaQPT16idnxNj8=",
			OccurredAt: providertest.Time(t, "2026-05-01T09:00:00Z"), Reason: "BOUNCE"}},
		{"package-trash-minimal.json", engine.InboundEvent{Type: "PACKAGE_TRASH", ExternalID: "LWsUTvGgE4WpOvaQPT16idnxNj8=",
			OccurredAt: providertest.Time(t, "2026-05-03T10:00:00Z")}},
		{"cobrowse-request.json", engine.InboundEvent{Type: "COBROWSE_REQUEST", ExternalID: "LWsUTvGgE4WpOvaQPT16idnxNj8=",
			OccurredAt: providertest.Time(t, "2026-05-04T11:22:33.456Z")}},
	}
	keys := map[string]string{}
	for _, tc := range cases {
		body := providertest.ReadTestdata(t, "events", tc.file)
		ev, err := onespan.ParseEvent(body)
		require.NoError(t, err, tc.file)
		providertest.RequireEvent(t, onespan.ParseEvent, system, body, ev)
		require.Regexp(t, `^[0-9a-f]{64}$`, ev.DedupeKey, tc.file)
		require.NotContains(t, keys, ev.DedupeKey, "%s shares a dedupe key with %s", tc.file, keys[ev.DedupeKey])
		keys[ev.DedupeKey] = tc.file
		tc.want.System = system
		tc.want.DedupeKey = ev.DedupeKey
		require.Equal(t, tc.want, ev, tc.file)
		require.Equal(t, time.UTC, ev.OccurredAt.Location(), tc.file)
	}
}

func TestParseEventErrors(t *testing.T) {
	t.Parallel()
	const ok = `"name":"PACKAGE_COMPLETE","packageId":"LWsUTvGgE4WpOvaQPT16idnxNj8=","createdDate":"2020-08-21T14:12:34.544Z"`
	cases := []struct {
		name string
		body string
		want error
	}{
		{"empty", ``, onespan.ErrMalformedEvent},
		{"not JSON", `<xml/>`, onespan.ErrMalformedEvent},
		{"truncated", `{` + ok, onespan.ErrMalformedEvent},
		{"array", `[{` + ok + `}]`, onespan.ErrMalformedEvent},
		{"string", `"PACKAGE_COMPLETE"`, onespan.ErrMalformedEvent},
		{"null", `null`, onespan.ErrMalformedEvent},
		{"trailing garbage", `{` + ok + `} x`, onespan.ErrMalformedEvent},
		{"two objects", `{` + ok + `}{` + ok + `}`, onespan.ErrMalformedEvent},
		{"invalid UTF-8", "{" + ok + `,"x":"` + "\xff\xfe" + `"}`, onespan.ErrMalformedEvent},
		{"name of the wrong type", `{"name":5,"packageId":"p","createdDate":"2020-08-21T14:12:34.544Z"}`, onespan.ErrMalformedEvent},
		{"message of the wrong type", `{` + ok + `,"message":{"a":1}}`, onespan.ErrMalformedEvent},
		{"deep nesting", `{` + ok + `,"x":` + strings.Repeat("[", 20) + strings.Repeat("]", 20) + `}`, onespan.ErrMalformedEvent},
		{"too large", `{` + ok + `,"x":"` + strings.Repeat("a", onespan.MaxEventSize) + `"}`, onespan.ErrMalformedEvent},
		{"missing name", `{"packageId":"p","createdDate":"2020-08-21T14:12:34.544Z"}`, onespan.ErrMissingName},
		{"null name", `{"name":null,"packageId":"p","createdDate":"2020-08-21T14:12:34.544Z"}`, onespan.ErrMissingName},
		{"blank name", `{"name":"  ","packageId":"p","createdDate":"2020-08-21T14:12:34.544Z"}`, onespan.ErrMissingName},
		{"name with a newline", `{"name":"PACKAGE_COMPLETE\n","packageId":"p","createdDate":"2020-08-21T14:12:34.544Z"}`, onespan.ErrMissingName},
		{"name of 256 characters", `{"name":"` + strings.Repeat("N", 256) + `","packageId":"p","createdDate":"2020-08-21T14:12:34.544Z"}`, onespan.ErrMissingName},
		{"missing packageId", `{"name":"PACKAGE_COMPLETE","createdDate":"2020-08-21T14:12:34.544Z"}`, onespan.ErrMissingPackageID},
		{"empty packageId", `{"name":"PACKAGE_COMPLETE","packageId":"","createdDate":"2020-08-21T14:12:34.544Z"}`, onespan.ErrMissingPackageID},
		{"packageId of 256 characters", `{"name":"PACKAGE_COMPLETE","packageId":"` + strings.Repeat("p", 256) + `","createdDate":"2020-08-21T14:12:34.544Z"}`, onespan.ErrMissingPackageID},
		{"missing createdDate", `{"name":"PACKAGE_COMPLETE","packageId":"p"}`, onespan.ErrBadCreatedDate},
		{"createdDate of another form", `{"name":"PACKAGE_COMPLETE","packageId":"p","createdDate":"21/08/2020 14:12"}`, onespan.ErrBadCreatedDate},
		{"createdDate as a number", `{"name":"PACKAGE_COMPLETE","packageId":"p","createdDate":1598019154544}`, onespan.ErrMalformedEvent},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := onespan.ParseEvent([]byte(tc.body))
			require.ErrorIs(t, err, tc.want)
			require.ErrorIs(t, err, onespan.ErrMalformedEvent, "every ParseEvent error is ErrMalformedEvent")
		})
	}
	// Exactly at the limits is fine.
	_, err := onespan.ParseEvent([]byte(`{"name":"` + strings.Repeat("N", 255) + `","packageId":"` + strings.Repeat("p", 255) + `","createdDate":"2020-08-21T14:12:34.544Z"}`))
	require.NoError(t, err)
}

func TestDedupeKey(t *testing.T) {
	t.Parallel()
	parse := func(b []byte) string {
		ev, err := onespan.ParseEvent(b)
		require.NoError(t, err)
		return ev.DedupeKey
	}
	base := providertest.ReadTestdata(t, "events", "document-signed.json")
	key := parse(base)

	t.Run("identical redeliveries share a key", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, key, parse(base))
		require.Equal(t, key, parse(append([]byte(" \n"), base...)))
	})
	t.Run("format, @class and the message do not matter", func(t *testing.T) {
		t.Parallel()
		var m map[string]any
		require.NoError(t, json.Unmarshal(base, &m))
		compact, err := json.Marshal(m) // keys sorted, spacing changed
		require.NoError(t, err)
		require.Equal(t, key, parse(compact))
		require.Equal(t, key, parse(providertest.WithField(t, base, "@class", "something.Else")))
		require.Equal(t, key, parse(providertest.WithField(t, base, "message", "x")))
		require.Equal(t, key, parse(providertest.WithField(t, base, "createdDate", "2026-05-02T08:10:00.001000Z")), "the same instant")
		require.Equal(t, key, parse(providertest.WithField(t, base, "createdDate", "2026-05-02T10:10:00.001+02:00")), "the same instant in another zone")
	})
	t.Run("each of the five fields counts", func(t *testing.T) {
		t.Parallel()
		for field, value := range map[string]any{
			"packageId":   "xT9OeZ-j2jIynQBaLeLdgp9CtZk_",
			"name":        "DOCUMENT_VIEWED",
			"sessionUser": "someone-else",
			"documentId":  "another-document",
			"createdDate": "2026-05-02T08:10:00.002Z",
		} {
			require.NotEqual(t, key, parse(providertest.WithField(t, base, field, value)), field)
		}
		require.NotEqual(t, key, parse(providertest.WithField(t, base, "documentId", nil)), "documentId null")
		require.NotEqual(t, key, parse(providertest.WithField(t, base, "sessionUser", nil)), "sessionUser null")
	})
	t.Run("fields do not run into each other", func(t *testing.T) {
		t.Parallel()
		a := providertest.WithField(t, providertest.WithField(t, base, "sessionUser", "ab"), "documentId", "c")
		b := providertest.WithField(t, providertest.WithField(t, base, "sessionUser", "a"), "documentId", "bc")
		require.NotEqual(t, parse(a), parse(b))
	})
}

func TestDefaultOutcome(t *testing.T) {
	t.Parallel()
	cases := []struct {
		event string
		want  engine.Outcome
	}{
		{"PACKAGE_COMPLETE", engine.OutcomeFinished},
		{"PACKAGE_DECLINE", engine.OutcomeDenied},
		{"PACKAGE_OPT_OUT", engine.OutcomeDenied},
		{"PACKAGE_EXPIRE", engine.OutcomeExpired},
		{"PACKAGE_TRASH", engine.OutcomeDeleted},
		{"PACKAGE_DELETE", engine.OutcomeDeleted},
		{"PACKAGE_DELETED", engine.OutcomeDeleted},
		{"PACKAGE_ARCHIVE", engine.OutcomeDeleted},
		{"PACKAGE_ACTIVATE", engine.OutcomeUnspecified},
		{"PACKAGE_CREATE", engine.OutcomeUnspecified},
		{"PACKAGE_RESTORE", engine.OutcomeUnspecified},
		{"PACKAGE_READY_FOR_COMPLETE", engine.OutcomeUnspecified},
		{"SIGNER_COMPLETE", engine.OutcomeUnspecified},
		{"DOCUMENT_SIGNED", engine.OutcomeUnspecified},
		{"EMAIL_BOUNCE", engine.OutcomeUnspecified},
		{"package_complete", engine.OutcomeUnspecified}, // names are case-sensitive
		{"", engine.OutcomeUnspecified},
	}
	for _, tc := range cases {
		got, ok := onespan.DefaultOutcome(tc.event, "some reason")
		require.Equal(t, tc.want, got, tc.event)
		require.Equal(t, tc.want != engine.OutcomeUnspecified, ok, tc.event)
		require.Equal(t, ok, onespan.Plugin{}.Spec().ActsOn(tc.event), "flowhook acts on %q exactly when it ends a package", tc.event)
	}
	// HandledEvents is exactly what DefaultOutcome ends on, and every one of them is an event
	// the engine lets a state override.
	var handled []string
	for _, ev := range onespan.Events {
		if _, ok := onespan.DefaultOutcome(ev, ""); ok {
			handled = append(handled, ev)
		}
	}
	require.ElementsMatch(t, onespan.HandledEvents, handled)
	// Every event flowhook registers is one OneSpan knows; PACKAGE_DELETED is not registered.
	for _, ev := range onespan.CallbackEvents {
		require.Contains(t, onespan.Events, ev)
	}
	require.NotContains(t, onespan.CallbackEvents, "PACKAGE_DELETED")
}

func TestStatusOutcome(t *testing.T) {
	t.Parallel()
	cases := []struct {
		status  string
		trashed bool
		want    engine.Outcome
	}{
		{"DRAFT", false, engine.OutcomeUnspecified},
		{"SENT", false, engine.OutcomeUnspecified},
		{"COMPLETED", false, engine.OutcomeFinished},
		{"DECLINED", false, engine.OutcomeDenied},
		{"OPTED_OUT", false, engine.OutcomeDenied},
		{"EXPIRED", false, engine.OutcomeExpired},
		{"ARCHIVED", false, engine.OutcomeDeleted},
		{"DRAFT", true, engine.OutcomeDeleted},
		{"SENT", true, engine.OutcomeDeleted},
		{"COMPLETED", true, engine.OutcomeFinished}, // its own status wins over the trash
		{"DECLINED", true, engine.OutcomeDenied},
		{"completed", false, engine.OutcomeFinished},
		{" Sent ", true, engine.OutcomeDeleted},
		{"SOMETHING_NEW", false, engine.OutcomeUnspecified},
		{"", false, engine.OutcomeUnspecified},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, onespan.StatusOutcome(tc.status, tc.trashed), "%s trashed=%v", tc.status, tc.trashed)
	}
}

// TestCallbacksEndToEnd: the fake's callbacks pass Verify and ParseEvent; a duplicate delivery
// keeps its dedupe key; a key the receiver does not know is refused before the body is parsed.
func TestCallbacksEndToEnd(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.fake.SetDuplicates(2)
	id := b.create(t, "wi_e2e")
	require.NoError(t, b.fake.Decline(id, "No."))
	evs, errs := b.hook.Received()
	require.Empty(t, errs)
	require.Equal(t, []string{"PACKAGE_CREATE", "PACKAGE_CREATE", "PACKAGE_ACTIVATE", "PACKAGE_ACTIVATE", "PACKAGE_DECLINE", "PACKAGE_DECLINE"}, b.hook.Types())
	for i := 0; i < len(evs); i += 2 {
		require.Equal(t, evs[i], evs[i+1], "a duplicate parses the same, dedupe key included")
	}
	require.NotEqual(t, evs[0].DedupeKey, evs[2].DedupeKey)
	require.NotEqual(t, evs[2].DedupeKey, evs[4].DedupeKey)

	// The receiver rotates to a key OneSpan does not send yet: every callback is refused and
	// kept in OneSpan's failure emails, never retried.
	b.hook.SetReceive(receive("a-new-key"))
	b.fake.SetDuplicates(1)
	b.create(t, "wi_e2e_refused")
	_, errs = b.hook.Received()
	require.Len(t, errs, 2)
	for _, err := range errs {
		require.True(t, errors.Is(err, onespan.ErrMismatch), err)
	}
	require.Len(t, b.fake.FailedDeliveries(), 2)
}

// TestReplayKeepsTheDedupeKey: a callback the receiver could not take (a 503 while its
// database is down) is not resent by OneSpan; replayed from the failure email, it parses to
// the same event, dedupe key included, so a receiver that did store it the first time sees a
// duplicate.
func TestReplayKeepsTheDedupeKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.create(t, "wi_replay")
	b.hook.SetStatus(http.StatusServiceUnavailable)
	require.NoError(t, b.fake.Complete(id))
	first, _ := b.hook.Received()
	require.Len(t, first, 5)
	failed := b.fake.FailedDeliveries()
	require.Len(t, failed, 3, "DOCUMENT_SIGNED, SIGNER_COMPLETE, PACKAGE_COMPLETE: each tried once")
	require.Len(t, b.fake.Deliveries(), 5)

	b.hook.SetStatus(http.StatusOK)
	d, err := b.fake.Replay(2)
	require.NoError(t, err)
	require.True(t, d.OK())
	all, errs := b.hook.Received()
	require.Empty(t, errs)
	require.Len(t, all, 6)
	replayed, original := all[5], all[4]
	require.Equal(t, "PACKAGE_COMPLETE", replayed.Type)
	require.Equal(t, original, replayed)
	outcome, ok := onespan.DefaultOutcome(replayed.Type, replayed.Reason)
	require.True(t, ok)
	require.Equal(t, engine.OutcomeFinished, outcome)
}
