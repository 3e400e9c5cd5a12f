package webhook_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/eventlog"
	"github.com/flowhook/flowhook/server/internal/provider/onespan"
	"github.com/flowhook/flowhook/server/internal/webhook"
)

// The OneSpan receiver through the router: the callback key in "Authorization: Basic {key}" is
// the only credential, checked before the body is parsed; handled events go to the Ingester
// (which, for OneSpan, stores them PENDING for the job that reads the package back); events
// flowhook does not act on are answered 200 and kept only while debugging.

const (
	// osKeyCurrent and osKeyPrevious are the callback keys accepted now (the previous one
	// within its grace period); osKeyWrong is one flowhook never had.
	osKeyCurrent  = "onespan-callback-key-current-7d1f5a"
	osKeyPrevious = "onespan-callback-key-previous-9c2e4b"
	osKeyWrong    = "onespan-callback-key-wrong-31a8c0"

	osPackage1 = "LWsUTvGgE4WpOvaQPT16idnxNj8="
	osPackage2 = "xT9OeZ-j2jIynQBaLeLdgp9CtZk="
	osPackage3 = "q3kP0vJb7yX1mZ2nW4tR6sU8aCe="
	osPackage4 = "Hn5dR2wQ8zL0kV7bT3yM1pX9cFg="

	osCreated  = "2026-11-27T14:12:34.544Z"
	osUserAgnt = "Apache-HttpClient/4.5.13 (Java/11.0.20)"
)

// osBody is a OneSpan ESLProcessEvent callback body, in OneSpan's field order.
func osBody(name, packageID, createdDate string) []byte {
	return fmt.Appendf(nil, `{"@class":"com.silanis.esl.packages.event.ESLProcessEvent","name":%q,"sessionUser":"8c2rHEy0wjE=","packageId":%q,"message":null,"documentId":null,"createdDate":%q}`,
		name, packageID, createdDate)
}

// pendingIngester stands in for engine.External with OneSpan's Confirm func: an event that
// comes without a verdict is stored PENDING (its job reads the package back before anything
// moves). It records what the receiver handed over.
type pendingIngester struct {
	next *fakeIngester

	mu    sync.Mutex
	given []engine.StoredEvent
}

func (p *pendingIngester) Receive(ctx context.Context, ev engine.StoredEvent) (engine.StoredEvent, bool, error) {
	p.mu.Lock()
	p.given = append(p.given, ev)
	p.mu.Unlock()
	if ev.Verdict == "" {
		ev.Verdict = engine.VerdictPending
	}
	return p.next.Receive(ctx, ev)
}

func (p *pendingIngester) snapshot() []engine.StoredEvent {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]engine.StoredEvent(nil), p.given...)
}

// osKeys is the receiver's keys func, changeable by a case.
type osKeys struct {
	mu   sync.Mutex
	keys []string
	err  error
}

func (k *osKeys) get(context.Context) ([]string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.keys...), k.err
}

func (k *osKeys) set(keys []string, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.keys, k.err = keys, err
}

// osFixture is a router with the OneSpan receiver only, recording everything it does (the
// DocuSign fixture's recorders, the same serve).
type osFixture struct {
	*fixture
	pending *pendingIngester
	keys    *osKeys
}

func newOneSpanFixture(t *testing.T) *osFixture {
	t.Helper()
	f := baseFixture(t)
	pending := &pendingIngester{next: f.ingest}
	keys := &osKeys{keys: []string{osKeyCurrent, osKeyPrevious}}
	f.route(t, onespan.Plugin{}, keys.get, pending)
	return &osFixture{fixture: f, pending: pending, keys: keys}
}

// osRequest builds a callback as OneSpan posts it; authorization is the whole header value
// ("" for none).
func osRequest(method, path, contentType string, body []byte, authorization string) *http.Request {
	r := httptest.NewRequest(method, path, bytes.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	r.Header.Set("User-Agent", osUserAgnt)
	if authorization != "" {
		r.Header.Set("Authorization", authorization)
	}
	return r
}

// osCallback is a POST to /webhooks/OneSpan as OneSpan makes it, with the key given.
func osCallback(body []byte, key string) *http.Request {
	return osRequest(http.MethodPost, "/webhooks/OneSpan", "application/json; charset=utf-8", body, "Basic "+key)
}

// requireOneSpanSpan checks what every OneSpan request's span has.
func requireOneSpanSpan(t *testing.T, r result, status int) {
	t.Helper()
	require.NotNil(t, r.span)
	require.Equal(t, webhook.SpanName, r.span.Name())
	require.Equal(t, trace.SpanKindServer, r.span.SpanKind())
	require.Equal(t, "ONESPAN", spanAttr(t, r.span, "flowhook.provider"))
	require.Equal(t, webhook.Pattern, spanAttr(t, r.span, "http.route"))
	require.Equal(t, r.req.Method, spanAttr(t, r.span, "http.request.method"))
	require.Equal(t, fmt.Sprint(status), spanAttr(t, r.span, "http.response.status_code"))
	require.False(t, r.span.Parent().IsValid(), "a webhook request is the root of its trace")
	if status < 500 {
		require.Equal(t, codes.Unset, r.span.Status().Code)
	}
}

// requireNoAuthorization asserts that no kept header authenticates the callback.
func requireNoAuthorization(t *testing.T, headers map[string]string) {
	t.Helper()
	for name, v := range headers {
		require.NotEqual(t, "authorization", strings.ToLower(name), "kept %s: %s", name, v)
		require.NotContains(t, strings.ToLower(v), "basic ", "kept %s", name)
	}
}

// requireOneSpanRefused checks a callback refused with the debug option off: nothing ingested,
// nothing logged to the Event Log, the reason on the span and in the log.
func requireOneSpanRefused(t *testing.T, f *osFixture, r result, status int, reason string) {
	t.Helper()
	errorBody(t, r.rec)
	requireOneSpanSpan(t, r, status)
	require.Zero(t, r.calls, "nothing ingested")
	require.Empty(t, r.stored)
	require.Empty(t, r.logged)
	require.Empty(t, r.span.Events(), "debug option off: no steps")
	require.Contains(t, spanAttr(t, r.span, "flowhook.webhook.reject_reason"), reason)
	_, ok := attrOf(r.span.Attributes(), "flowhook.event.id")
	require.False(t, ok)
	if status == http.StatusUnauthorized {
		require.Equal(t, "the callback does not carry a configured callback key", errorBody(t, r.rec))
		require.Contains(t, f.logs.String(), "onespan webhook rejected")
	}
}

// requireOneSpanRejectedStored checks the REJECTED event a refused callback left (debug
// option on), and returns it.
func requireOneSpanRejectedStored(t *testing.T, r result, reason string) engine.StoredEvent {
	t.Helper()
	require.Len(t, r.stored, 1)
	ev := r.stored[0]
	require.Equal(t, engine.VerdictRejected, ev.Verdict)
	require.Equal(t, onespan.Provider, ev.Event.System.Provider)
	require.True(t, strings.HasPrefix(ev.Event.DedupeKey, "rejected:"), ev.Event.DedupeKey)
	require.Empty(t, ev.Event.Type, "a rejected callback is never parsed")
	require.Empty(t, ev.Event.ExternalID)
	require.Contains(t, ev.Reason, reason)
	require.Equal(t, r.span.SpanContext().TraceID().String(), ev.TraceID)
	require.Equal(t, r.req.RemoteAddr, ev.RemoteAddr)
	require.False(t, ev.ReceivedAt.IsZero())
	requireNoAuthorization(t, ev.Headers)
	require.Equal(t, osUserAgnt, ev.Headers["User-Agent"])
	require.Equal(t, ev.ID, spanAttr(t, r.span, "flowhook.event.id"))
	require.Contains(t, spanAttr(t, r.span, "flowhook.webhook.reject_reason"), reason)

	require.Len(t, r.logged, 1, "the steps are written once, for the rejected event")
	require.Equal(t, ev.ID, r.logged[0].eventID)
	require.False(t, r.logged[0].responded, "the steps are written before the response")
	require.Equal(t, []eventlog.Step{eventlog.StepReceived, eventlog.StepRejected}, steps(r.logged[0].entries))
	require.Contains(t, r.logged[0].entries[1].Message, reason)
	for _, e := range r.logged[0].entries {
		require.Equal(t, ev.TraceID, e.TraceID)
	}
	require.Equal(t, []string{"webhook.received", "webhook.rejected"}, eventNames(r.span))
	return ev
}

// requireHandedOver checks the one event the receiver gave the Ingester for an authentic,
// handled callback: parsed, OneSpan's, no verdict of its own (the engine decides), and no
// credential kept.
func requireHandedOver(t *testing.T, f *osFixture, r result, given int, eventType, packageID string) engine.StoredEvent {
	t.Helper()
	all := f.pending.snapshot()
	require.Len(t, all, given+1, "one event handed over")
	ev := all[given]
	require.Empty(t, ev.Verdict, "a handled event is left to the engine (which reads the package back)")
	require.Equal(t, onespan.Provider, ev.Event.System.Provider)
	require.Equal(t, eventType, ev.Event.Type)
	require.Equal(t, packageID, ev.Event.ExternalID)
	require.Regexp(t, `^[0-9a-f]{64}$`, ev.Event.DedupeKey)
	require.Equal(t, r.sent, ev.Body)
	require.Equal(t, int64(len(r.sent)), ev.Size)
	require.Equal(t, r.req.RemoteAddr, ev.RemoteAddr)
	require.Equal(t, r.span.SpanContext().TraceID().String(), ev.TraceID)
	sc := r.span.SpanContext()
	require.Equal(t, "00-"+sc.TraceID().String()+"-"+sc.SpanID().String()+"-01", ev.Traceparent)
	requireNoAuthorization(t, ev.Headers)
	require.Equal(t, map[string]string{"Content-Type": r.req.Header.Get("Content-Type"), "User-Agent": osUserAgnt}, ev.Headers)
	return ev
}

func TestOneSpanReceiver(t *testing.T) {
	t.Parallel()
	f := newOneSpanFixture(t)
	var firstID string   // the event of the first accepted callback
	var ignoredID string // the IGNORED event kept with the debug option on

	cases := []struct {
		name  string
		debug bool
		fail  error // the Ingester's
		keys  []string
		// keysErr makes the keys func fail (the settings cannot be read).
		keysErr error
		req     func() *http.Request
		// verdict is the delivery's flowhook.webhooks attribute.
		verdict string
		status  int
		check   func(t *testing.T, r result, given int)
	}{
		{
			name: "current key, PACKAGE_COMPLETE; the caller's trace context is only linked",
			req: func() *http.Request {
				r := osCallback(osBody("PACKAGE_COMPLETE", osPackage1, osCreated), osKeyCurrent)
				r.Header.Set("Traceparent", callerParent)
				r.Header.Set("X-Forwarded-For", "203.0.113.7")
				return r
			},
			verdict: "pending", status: http.StatusOK,
			check: func(t *testing.T, r result, given int) {
				require.Equal(t, "accepted", statusBody(t, r.rec))
				requireOneSpanSpan(t, r, http.StatusOK)
				all := f.pending.snapshot()
				require.Len(t, all, given+1)
				ev := all[given]
				require.Empty(t, ev.Verdict)
				require.Equal(t, onespan.Provider, ev.Event.System.Provider)
				require.Equal(t, "PACKAGE_COMPLETE", ev.Event.Type)
				require.Equal(t, osPackage1, ev.Event.ExternalID)
				require.Equal(t, time.Date(2026, 11, 27, 14, 12, 34, 544e6, time.UTC), ev.Event.OccurredAt.UTC())
				require.Regexp(t, `^[0-9a-f]{64}$`, ev.Event.DedupeKey)
				require.Equal(t, map[string]string{"Content-Type": "application/json; charset=utf-8", "User-Agent": osUserAgnt, "X-Forwarded-For": "203.0.113.7"}, ev.Headers)
				require.Equal(t, r.sent, ev.Body)
				require.Equal(t, int64(len(r.sent)), ev.Size)

				require.Len(t, r.stored, 1)
				stored := r.stored[0]
				firstID = stored.ID
				require.Equal(t, engine.VerdictPending, stored.Verdict)
				require.Equal(t, "PACKAGE_COMPLETE", spanAttr(t, r.span, "flowhook.event.type"))
				require.Equal(t, osPackage1, spanAttr(t, r.span, "flowhook.external_id"))
				require.Equal(t, stored.ID, spanAttr(t, r.span, "flowhook.event.id"))
				require.Equal(t, "PENDING", spanAttr(t, r.span, "flowhook.webhook.verdict"))
				require.Equal(t, "PENDING", spanAttr(t, r.span, "flowhook.event.verdict"))
				require.Equal(t, "false", spanAttr(t, r.span, "flowhook.webhook.redelivery"))
				require.Equal(t, fmt.Sprint(len(r.sent)), spanAttr(t, r.span, "http.request.body.size"))
				_, ok := attrOf(r.span.Attributes(), "flowhook.instance_id")
				require.False(t, ok, "not matched yet: the job reads the package back first")

				// A new root: not the caller's trace, which is only linked.
				sc := r.span.SpanContext()
				require.NotEqual(t, callerTraceID, sc.TraceID().String())
				links := r.span.Links()
				require.Len(t, links, 1)
				require.Equal(t, callerTraceID, links[0].SpanContext.TraceID().String())
				require.Equal(t, callerSpanID, links[0].SpanContext.SpanID().String())
				require.Equal(t, sc.TraceID().String(), stored.TraceID)
				require.Equal(t, "00-"+sc.TraceID().String()+"-"+sc.SpanID().String()+"-01", stored.Traceparent)

				// Debug option off: no steps anywhere.
				require.Empty(t, r.span.Events())
				require.Empty(t, r.logged)
			},
		},
		{
			name: "the previous key, within its grace period",
			req: func() *http.Request {
				return osCallback(osBody("PACKAGE_DECLINE", osPackage2, osCreated), osKeyPrevious)
			},
			verdict: "pending", status: http.StatusOK,
			check: func(t *testing.T, r result, given int) {
				require.Equal(t, "accepted", statusBody(t, r.rec))
				requireOneSpanSpan(t, r, http.StatusOK)
				requireHandedOver(t, f, r, given, "PACKAGE_DECLINE", osPackage2)
				require.Len(t, r.stored, 1)
			},
		},
		{
			name: "a replay of the first callback (same payload), path in upper case",
			req: func() *http.Request {
				r := osCallback(osBody("PACKAGE_COMPLETE", osPackage1, osCreated), osKeyCurrent)
				r.URL.Path = "/webhooks/ONESPAN"
				return r
			},
			verdict: "duplicate", status: http.StatusOK,
			check: func(t *testing.T, r result, given int) {
				require.Equal(t, "duplicate", statusBody(t, r.rec))
				requireOneSpanSpan(t, r, http.StatusOK)
				require.Equal(t, 1, r.calls)
				require.Empty(t, r.stored, "nothing new is stored")
				require.Equal(t, firstID, spanAttr(t, r.span, "flowhook.event.id"))
				require.Equal(t, "true", spanAttr(t, r.span, "flowhook.webhook.redelivery"))
				require.Equal(t, "DUPLICATE", spanAttr(t, r.span, "flowhook.webhook.verdict"))
				require.Equal(t, "PENDING", spanAttr(t, r.span, "flowhook.event.verdict"), "the first delivery keeps its verdict")
			},
		},
		{
			name: "PACKAGE_DELETED, the spelling accepted on receipt",
			req: func() *http.Request {
				return osCallback(osBody("PACKAGE_DELETED", osPackage3, osCreated), osKeyCurrent)
			},
			verdict: "pending", status: http.StatusOK,
			check: func(t *testing.T, r result, given int) {
				require.Equal(t, "accepted", statusBody(t, r.rec))
				requireHandedOver(t, f, r, given, "PACKAGE_DELETED", osPackage3)
			},
		},
		{
			name: "scheme in lower case (RFC 7235: case-insensitive)",
			req: func() *http.Request {
				return osRequest(http.MethodPost, "/webhooks/onespan", "application/json", osBody("PACKAGE_EXPIRE", osPackage3, osCreated), "basic "+osKeyCurrent)
			},
			verdict: "pending", status: http.StatusOK,
			check: func(t *testing.T, r result, given int) {
				require.Equal(t, "accepted", statusBody(t, r.rec))
				requireHandedOver(t, f, r, given, "PACKAGE_EXPIRE", osPackage3)
			},
		},
		{
			name: "header name in lower case, spaces around the key",
			req: func() *http.Request {
				r := osRequest(http.MethodPost, "/webhooks/OneSpan", "application/json", osBody("PACKAGE_OPT_OUT", osPackage4, osCreated), "")
				r.Header["authorization"] = []string{"BASIC   " + osKeyPrevious + " \t"}
				return r
			},
			verdict: "pending", status: http.StatusOK,
			check: func(t *testing.T, r result, given int) {
				require.Equal(t, "accepted", statusBody(t, r.rec))
				requireHandedOver(t, f, r, given, "PACKAGE_OPT_OUT", osPackage4)
			},
		},
		{
			name:  "the current key, debug option on",
			debug: true,
			req: func() *http.Request {
				return osCallback(osBody("PACKAGE_ARCHIVE", osPackage4, osCreated), osKeyCurrent)
			},
			verdict: "pending", status: http.StatusOK,
			check: func(t *testing.T, r result, given int) {
				require.Equal(t, "accepted", statusBody(t, r.rec))
				requireOneSpanSpan(t, r, http.StatusOK)
				requireHandedOver(t, f, r, given, "PACKAGE_ARCHIVE", osPackage4)
				require.Len(t, r.stored, 1)
				ev := r.stored[0]
				require.Equal(t, []string{"webhook.received", "webhook.authenticated", "webhook.parsed"}, eventNames(r.span))
				for _, e := range r.span.Events() {
					step, ok := attrOf(e.Attributes, "flowhook.step")
					require.True(t, ok)
					require.Equal(t, e.Name, eventlog.EventName(eventlog.Step(step)))
				}
				require.Len(t, r.logged, 1, "one Event Log write per delivery")
				require.Equal(t, ev.ID, r.logged[0].eventID)
				require.False(t, r.logged[0].responded, "the steps are written before the response")
				entries := r.logged[0].entries
				require.Equal(t, []eventlog.Step{eventlog.StepReceived, eventlog.StepAuthenticated, eventlog.StepParsed}, steps(entries))
				require.Contains(t, entries[0].Message, fmt.Sprintf("%d bytes of JSON", len(r.sent)))
				require.Contains(t, entries[1].Message, "2 accepted now")
				require.Contains(t, entries[1].Message, "read back")
				require.Contains(t, entries[2].Message, "PACKAGE_ARCHIVE for package "+osPackage4)
				require.Contains(t, entries[2].Message, "2026-11-27T14:12:34.544Z")
				for _, e := range entries {
					require.Equal(t, ev.TraceID, e.TraceID)
					require.Equal(t, r.span.SpanContext().SpanID().String(), e.SpanID)
				}
			},
		},
		{
			name: "a wrong key",
			req: func() *http.Request {
				return osCallback(osBody("PACKAGE_COMPLETE", osPackage2, osCreated), osKeyWrong)
			},
			verdict: "rejected", status: http.StatusUnauthorized,
			check: func(t *testing.T, r result, _ int) {
				requireOneSpanRefused(t, f, r, http.StatusUnauthorized, "callback key: key mismatch (2 key(s) accepted now)")
			},
		},
		{
			name:  "a wrong key, debug option on",
			debug: true,
			req: func() *http.Request {
				return osCallback(osBody("PACKAGE_COMPLETE", osPackage2, osCreated), osKeyWrong)
			},
			verdict: "rejected", status: http.StatusUnauthorized,
			check: func(t *testing.T, r result, _ int) {
				require.Equal(t, "the callback does not carry a configured callback key", errorBody(t, r.rec))
				requireOneSpanSpan(t, r, http.StatusUnauthorized)
				ev := requireOneSpanRejectedStored(t, r, "key mismatch")
				require.Equal(t, r.sent, ev.Body, "the rejected body is kept as sent")
				require.Equal(t, int64(len(r.sent)), ev.Size)
				require.Equal(t, "application/json; charset=utf-8", ev.Headers["Content-Type"])
			},
		},
		{
			name:  "no Authorization header, debug option on",
			debug: true,
			req: func() *http.Request {
				return osRequest(http.MethodPost, "/webhooks/OneSpan", "application/json", osBody("PACKAGE_COMPLETE", osPackage2, osCreated), "")
			},
			verdict: "rejected", status: http.StatusUnauthorized,
			check: func(t *testing.T, r result, _ int) {
				errorBody(t, r.rec)
				requireOneSpanRejectedStored(t, r, "no Basic credentials")
			},
		},
		{
			name: "Bearer with the right key",
			req: func() *http.Request {
				return osRequest(http.MethodPost, "/webhooks/OneSpan", "application/json", osBody("PACKAGE_COMPLETE", osPackage2, osCreated), "Bearer "+osKeyCurrent)
			},
			verdict: "rejected", status: http.StatusUnauthorized,
			check: func(t *testing.T, r result, _ int) {
				requireOneSpanRefused(t, f, r, http.StatusUnauthorized, "no Basic credentials")
			},
		},
		{
			name: "Basic with nothing after it",
			req: func() *http.Request {
				return osRequest(http.MethodPost, "/webhooks/OneSpan", "application/json", osBody("PACKAGE_COMPLETE", osPackage2, osCreated), "Basic    ")
			},
			verdict: "rejected", status: http.StatusUnauthorized,
			check: func(t *testing.T, r result, _ int) {
				requireOneSpanRefused(t, f, r, http.StatusUnauthorized, "no Basic credentials")
			},
		},
		{
			name: "the right key as base64 user:password (OneSpan sends the key as is)",
			req: func() *http.Request {
				return osCallback(osBody("PACKAGE_COMPLETE", osPackage2, osCreated), base64.StdEncoding.EncodeToString([]byte(osKeyCurrent+":")))
			},
			verdict: "rejected", status: http.StatusUnauthorized,
			check: func(t *testing.T, r result, _ int) {
				requireOneSpanRefused(t, f, r, http.StatusUnauthorized, "key mismatch")
			},
		},
		{
			name: "the right key with a different case",
			req: func() *http.Request {
				return osCallback(osBody("PACKAGE_COMPLETE", osPackage2, osCreated), strings.ToUpper(osKeyCurrent))
			},
			verdict: "rejected", status: http.StatusUnauthorized,
			check: func(t *testing.T, r result, _ int) {
				requireOneSpanRefused(t, f, r, http.StatusUnauthorized, "key mismatch")
			},
		},
		{
			name: "no callback key configured",
			keys: []string{},
			req: func() *http.Request {
				return osCallback(osBody("PACKAGE_COMPLETE", osPackage2, osCreated), osKeyCurrent)
			},
			verdict: "rejected", status: http.StatusUnauthorized,
			check: func(t *testing.T, r result, _ int) {
				requireOneSpanRefused(t, f, r, http.StatusUnauthorized, "no callback key configured (0 key(s) accepted now)")
			},
		},
		{
			name: "only the current key accepted: the previous one after its grace period",
			keys: []string{osKeyCurrent},
			req: func() *http.Request {
				return osCallback(osBody("PACKAGE_COMPLETE", osPackage2, osCreated), osKeyPrevious)
			},
			verdict: "rejected", status: http.StatusUnauthorized,
			check: func(t *testing.T, r result, _ int) {
				requireOneSpanRefused(t, f, r, http.StatusUnauthorized, "key mismatch (1 key(s) accepted now)")
			},
		},
		{
			name:  "wrong content type, debug option on",
			debug: true,
			req: func() *http.Request {
				return osRequest(http.MethodPost, "/webhooks/OneSpan", "text/plain", osBody("PACKAGE_COMPLETE", osPackage2, osCreated), "Basic "+osKeyCurrent)
			},
			verdict: "rejected", status: http.StatusUnsupportedMediaType,
			check: func(t *testing.T, r result, _ int) {
				require.Contains(t, errorBody(t, r.rec), "application/json")
				requireOneSpanSpan(t, r, http.StatusUnsupportedMediaType)
				ev := requireOneSpanRejectedStored(t, r, "unsupported content type")
				require.Empty(t, ev.Body, "refused before the body was read")
				require.Equal(t, 1, r.calls, "only the REJECTED event")
			},
		},
		{
			name: "no content type",
			req: func() *http.Request {
				return osRequest(http.MethodPost, "/webhooks/OneSpan", "", osBody("PACKAGE_COMPLETE", osPackage2, osCreated), "Basic "+osKeyCurrent)
			},
			verdict: "rejected", status: http.StatusUnsupportedMediaType,
			check: func(t *testing.T, r result, _ int) {
				requireOneSpanRefused(t, f, r, http.StatusUnsupportedMediaType, "unsupported content type")
			},
		},
		{
			name:  "a 65 KiB body with the right key, debug option on",
			debug: true,
			req: func() *http.Request {
				pad := strings.Repeat("x", 65<<10)
				body := fmt.Appendf(nil, `{"name":"PACKAGE_COMPLETE","packageId":%q,"createdDate":%q,"pad":%q}`, osPackage2, osCreated, pad)
				return osCallback(body, osKeyCurrent)
			},
			verdict: "rejected", status: http.StatusRequestEntityTooLarge,
			check: func(t *testing.T, r result, _ int) {
				require.Greater(t, len(r.sent), 65<<10)
				require.Contains(t, errorBody(t, r.rec), "64 KiB")
				requireOneSpanSpan(t, r, http.StatusRequestEntityTooLarge)
				ev := requireOneSpanRejectedStored(t, r, "larger than 64 KiB")
				require.Len(t, ev.Body, onespan.MaxBody, "what was read: the limit")
				require.LessOrEqual(t, len(ev.Body), webhook.MaxRejectedBody)
				require.Equal(t, r.sent[:len(ev.Body)], ev.Body, "the start of what was sent")
				require.Equal(t, int64(len(r.sent)), ev.Size, "the size sent, not the part kept")
				require.Equal(t, 1, r.calls, "only the REJECTED event: the key was right, the body too large")
				require.Equal(t, fmt.Sprint(len(r.sent)), spanAttr(t, r.span, "http.request.body.size"))
			},
		},
		{
			name: "a 65 KiB body without the key: 401, not 413",
			req: func() *http.Request {
				pad := strings.Repeat("x", 65<<10)
				body := fmt.Appendf(nil, `{"name":"PACKAGE_COMPLETE","packageId":%q,"createdDate":%q,"pad":%q}`, osPackage2, osCreated, pad)
				return osRequest(http.MethodPost, "/webhooks/OneSpan", "application/json", body, "")
			},
			verdict: "rejected", status: http.StatusUnauthorized,
			check: func(t *testing.T, r result, _ int) {
				requireOneSpanRefused(t, f, r, http.StatusUnauthorized, "no Basic credentials")
				require.Equal(t, fmt.Sprint(len(r.sent)), spanAttr(t, r.span, "http.request.body.size"), "the size declared")
			},
		},
		{
			name:  "a 65 KiB body of another content type with a wrong key, debug option on: 401, not 413 or 415",
			debug: true,
			req: func() *http.Request {
				pad := strings.Repeat("x", 65<<10)
				body := fmt.Appendf(nil, `{"name":"PACKAGE_COMPLETE","packageId":%q,"createdDate":%q,"pad":%q}`, osPackage2, osCreated, pad)
				return osRequest(http.MethodPost, "/webhooks/OneSpan", "text/plain", body, "Basic "+osKeyWrong)
			},
			verdict: "rejected", status: http.StatusUnauthorized,
			check: func(t *testing.T, r result, _ int) {
				require.Equal(t, "the callback does not carry a configured callback key", errorBody(t, r.rec))
				ev := requireOneSpanRejectedStored(t, r, "key mismatch")
				require.Contains(t, r.logged[0].entries[0].Message, fmt.Sprintf("%d bytes declared", len(r.sent)))
				require.Len(t, ev.Body, onespan.MaxBody, "kept while debugging, up to the limit")
				require.Equal(t, r.sent[:len(ev.Body)], ev.Body)
				require.Equal(t, int64(len(r.sent)), ev.Size, "the size sent")
				require.Contains(t, f.logs.String(), "onespan webhook rejected")
			},
		},
		{
			name: "a body of exactly 64 KiB is read",
			req: func() *http.Request {
				head := fmt.Sprintf(`{"name":"PACKAGE_COMPLETE","packageId":%q,"createdDate":"2026-11-27T15:00:00.000Z","pad":"`, osPackage2)
				body := head + strings.Repeat("x", onespan.MaxBody-len(head)-2) + `"}`
				return osCallback([]byte(body), osKeyCurrent)
			},
			verdict: "pending", status: http.StatusOK,
			check: func(t *testing.T, r result, given int) {
				require.Len(t, r.sent, onespan.MaxBody)
				require.Equal(t, "accepted", statusBody(t, r.rec))
				requireHandedOver(t, f, r, given, "PACKAGE_COMPLETE", osPackage2)
			},
		},
		{
			name: "authentic but not JSON",
			req: func() *http.Request {
				return osCallback([]byte(`{"name":"PACKAGE_COMPLETE","packageId":`), osKeyCurrent)
			},
			verdict: "unparseable", status: http.StatusOK,
			check: func(t *testing.T, r result, given int) {
				require.Equal(t, "accepted", statusBody(t, r.rec))
				requireOneSpanSpan(t, r, http.StatusOK)
				all := f.pending.snapshot()
				require.Len(t, all, given+1)
				require.Equal(t, engine.VerdictUnparseable, all[given].Verdict)
				require.Len(t, r.stored, 1)
				ev := r.stored[0]
				require.Equal(t, engine.VerdictUnparseable, ev.Verdict)
				require.Equal(t, onespan.Provider, ev.Event.System.Provider)
				require.Equal(t, "unparseable", ev.Event.Type)
				require.Empty(t, ev.Event.ExternalID)
				sum := sha256.Sum256(r.sent)
				require.Equal(t, hex.EncodeToString(sum[:]), ev.Event.DedupeKey)
				require.Contains(t, ev.Reason, "malformed")
				require.Equal(t, r.sent, ev.Body)
				requireNoAuthorization(t, ev.Headers)
				require.Equal(t, "UNPARSEABLE", spanAttr(t, r.span, "flowhook.webhook.verdict"))
				require.Empty(t, r.logged, "debug option off")
			},
		},
		{
			name:  "authentic, no packageId, debug option on",
			debug: true,
			req: func() *http.Request {
				return osCallback([]byte(`{"@class":"com.silanis.esl.packages.event.ESLProcessEvent","name":"PACKAGE_COMPLETE","packageId":null,"createdDate":"2026-11-27T14:12:34.544Z"}`), osKeyCurrent)
			},
			verdict: "unparseable", status: http.StatusOK,
			check: func(t *testing.T, r result, _ int) {
				require.Equal(t, "accepted", statusBody(t, r.rec))
				require.Len(t, r.stored, 1)
				ev := r.stored[0]
				require.Equal(t, engine.VerdictUnparseable, ev.Verdict)
				require.Contains(t, ev.Reason, "no packageId")
				require.Equal(t, []string{"webhook.received", "webhook.authenticated", "webhook.parsed"}, eventNames(r.span))
				require.Len(t, r.logged, 1)
				require.Equal(t, ev.ID, r.logged[0].eventID)
				entries := r.logged[0].entries
				require.Equal(t, []eventlog.Step{eventlog.StepReceived, eventlog.StepAuthenticated, eventlog.StepParsed}, steps(entries))
				require.Contains(t, entries[2].Message, "unparseable")
				require.Contains(t, entries[2].Message, "no packageId")
			},
		},
		{
			name: "unparseable with a wrong key: refused before parsing",
			req: func() *http.Request {
				return osCallback([]byte(`not json at all`), osKeyWrong)
			},
			verdict: "rejected", status: http.StatusUnauthorized,
			check: func(t *testing.T, r result, _ int) {
				requireOneSpanRefused(t, f, r, http.StatusUnauthorized, "key mismatch")
			},
		},
		{
			name: "SIGNER_COMPLETE, debug option off: answered, not kept",
			req: func() *http.Request {
				return osCallback(osBody("SIGNER_COMPLETE", osPackage1, osCreated), osKeyCurrent)
			},
			verdict: "ignored", status: http.StatusOK,
			check: func(t *testing.T, r result, _ int) {
				require.Equal(t, "ignored", statusBody(t, r.rec))
				requireOneSpanSpan(t, r, http.StatusOK)
				require.Zero(t, r.calls, "not ingested")
				require.Empty(t, r.stored)
				require.Empty(t, r.logged)
				require.Equal(t, "SIGNER_COMPLETE", spanAttr(t, r.span, "flowhook.event.type"))
				require.Equal(t, osPackage1, spanAttr(t, r.span, "flowhook.external_id"))
				require.Equal(t, "IGNORED", spanAttr(t, r.span, "flowhook.webhook.verdict"))
				_, ok := attrOf(r.span.Attributes(), "flowhook.event.id")
				require.False(t, ok, "no event was stored")
				require.Empty(t, r.span.Events())
			},
		},
		{
			name: "DOCUMENT_SIGNED, debug option off",
			req: func() *http.Request {
				return osCallback(osBody("DOCUMENT_SIGNED", osPackage1, osCreated), osKeyPrevious)
			},
			verdict: "ignored", status: http.StatusOK,
			check: func(t *testing.T, r result, _ int) {
				require.Equal(t, "ignored", statusBody(t, r.rec))
				require.Zero(t, r.calls, "not ingested")
				require.Equal(t, "DOCUMENT_SIGNED", spanAttr(t, r.span, "flowhook.event.type"))
			},
		},
		{
			name: "an event name OneSpan may add one day, debug option off",
			req: func() *http.Request {
				return osCallback(osBody("PACKAGE_TELEPORTED", osPackage1, osCreated), osKeyCurrent)
			},
			verdict: "ignored", status: http.StatusOK,
			check: func(t *testing.T, r result, _ int) {
				require.Equal(t, "ignored", statusBody(t, r.rec))
				require.Zero(t, r.calls, "not ingested")
				require.Equal(t, "PACKAGE_TELEPORTED", spanAttr(t, r.span, "flowhook.event.type"))
			},
		},
		{
			name: "a handled name in another case is not handled",
			req: func() *http.Request {
				return osCallback(osBody("package_complete", osPackage1, osCreated), osKeyCurrent)
			},
			verdict: "ignored", status: http.StatusOK,
			check: func(t *testing.T, r result, _ int) {
				require.Equal(t, "ignored", statusBody(t, r.rec))
				require.Zero(t, r.calls, "not ingested")
			},
		},
		{
			name: "an ignored event with a wrong key is refused, not ignored",
			req: func() *http.Request {
				return osCallback(osBody("SIGNER_COMPLETE", osPackage1, osCreated), osKeyWrong)
			},
			verdict: "rejected", status: http.StatusUnauthorized,
			check: func(t *testing.T, r result, _ int) {
				requireOneSpanRefused(t, f, r, http.StatusUnauthorized, "key mismatch")
			},
		},
		{
			name:  "SIGNER_COMPLETE, debug option on: kept as IGNORED",
			debug: true,
			req: func() *http.Request {
				return osCallback(osBody("SIGNER_COMPLETE", osPackage1, osCreated), osKeyCurrent)
			},
			verdict: "ignored", status: http.StatusOK,
			check: func(t *testing.T, r result, given int) {
				require.Equal(t, "ignored", statusBody(t, r.rec))
				requireOneSpanSpan(t, r, http.StatusOK)
				all := f.pending.snapshot()
				require.Len(t, all, given+1)
				require.Equal(t, engine.VerdictIgnored, all[given].Verdict, "the receiver gives the verdict")
				require.Len(t, r.stored, 1)
				ev := r.stored[0]
				ignoredID = ev.ID
				require.Equal(t, engine.VerdictIgnored, ev.Verdict)
				require.Equal(t, "flowhook does not act on SIGNER_COMPLETE", ev.Reason)
				require.Equal(t, onespan.Provider, ev.Event.System.Provider)
				require.Equal(t, "SIGNER_COMPLETE", ev.Event.Type)
				require.Equal(t, osPackage1, ev.Event.ExternalID)
				require.Equal(t, r.sent, ev.Body)
				requireNoAuthorization(t, ev.Headers)
				require.Equal(t, ev.ID, spanAttr(t, r.span, "flowhook.event.id"))
				require.Equal(t, "IGNORED", spanAttr(t, r.span, "flowhook.webhook.verdict"))
				require.Len(t, r.logged, 1)
				require.Equal(t, ev.ID, r.logged[0].eventID)
				require.Equal(t, []eventlog.Step{eventlog.StepReceived, eventlog.StepAuthenticated, eventlog.StepParsed}, steps(r.logged[0].entries))
				require.Contains(t, r.logged[0].entries[2].Message, "SIGNER_COMPLETE for package "+osPackage1)
			},
		},
		{
			name:  "an unknown event name, debug option on",
			debug: true,
			req: func() *http.Request {
				return osCallback(osBody("PACKAGE_TELEPORTED", osPackage2, osCreated), osKeyCurrent)
			},
			verdict: "ignored", status: http.StatusOK,
			check: func(t *testing.T, r result, _ int) {
				require.Equal(t, "ignored", statusBody(t, r.rec))
				require.Len(t, r.stored, 1)
				require.Equal(t, engine.VerdictIgnored, r.stored[0].Verdict)
				require.Equal(t, "flowhook does not act on PACKAGE_TELEPORTED", r.stored[0].Reason)
			},
		},
		{
			name:  "the same SIGNER_COMPLETE again, debug option on",
			debug: true,
			req: func() *http.Request {
				return osCallback(osBody("SIGNER_COMPLETE", osPackage1, osCreated), osKeyCurrent)
			},
			verdict: "duplicate", status: http.StatusOK,
			check: func(t *testing.T, r result, _ int) {
				require.Equal(t, "duplicate", statusBody(t, r.rec))
				require.Empty(t, r.stored)
				require.Equal(t, ignoredID, spanAttr(t, r.span, "flowhook.event.id"))
			},
		},
		{
			name:    "the callback keys cannot be read",
			keysErr: errors.New("settings: connection refused to db.internal:5432"),
			req: func() *http.Request {
				return osCallback(osBody("PACKAGE_COMPLETE", osPackage2, "2026-11-27T16:00:00.000Z"), osKeyCurrent)
			},
			verdict: "error", status: http.StatusServiceUnavailable,
			check: func(t *testing.T, r result, _ int) {
				require.Equal(t, "30", r.rec.Header().Get("Retry-After"))
				msg := errorBody(t, r.rec)
				require.NotContains(t, msg, "db.internal")
				requireOneSpanSpan(t, r, http.StatusServiceUnavailable)
				require.Equal(t, codes.Error, r.span.Status().Code)
				require.Equal(t, "the database is unavailable", spanAttr(t, r.span, "flowhook.error"))
				require.Zero(t, r.calls)
			},
		},
		{
			name:  "the store is unavailable, debug option on",
			debug: true,
			fail:  errors.New("pq: password authentication failed for user flowhook at db.internal:5432"),
			req: func() *http.Request {
				return osCallback(osBody("PACKAGE_COMPLETE", osPackage2, "2026-11-27T16:00:00.000Z"), osKeyCurrent)
			},
			verdict: "error", status: http.StatusServiceUnavailable,
			check: func(t *testing.T, r result, _ int) {
				require.Equal(t, "30", r.rec.Header().Get("Retry-After"))
				for _, internal := range []string{"pq:", "password", "db.internal", "5432"} {
					require.NotContains(t, r.rec.Body.String(), internal)
				}
				requireOneSpanSpan(t, r, http.StatusServiceUnavailable)
				require.Equal(t, codes.Error, r.span.Status().Code)
				require.Contains(t, eventNames(r.span), "webhook.error")
				require.Empty(t, r.stored)
				require.Equal(t, 1, r.calls)
				require.Empty(t, r.logged, "no event to write the steps for")
			},
		},
		{
			name:  "GET, debug option on",
			debug: true,
			req: func() *http.Request {
				return osRequest(http.MethodGet, "/webhooks/OneSpan", "", nil, "Basic "+osKeyCurrent)
			},
			verdict: "rejected", status: http.StatusMethodNotAllowed,
			check: func(t *testing.T, r result, _ int) {
				require.Equal(t, "webhooks accept POST only", errorBody(t, r.rec))
				require.Equal(t, http.MethodPost, r.rec.Header().Get("Allow"))
				requireOneSpanSpan(t, r, http.StatusMethodNotAllowed)
				require.Len(t, r.stored, 1)
				require.Equal(t, engine.VerdictRejected, r.stored[0].Verdict)
				require.Equal(t, onespan.Provider, r.stored[0].Event.System.Provider)
				require.Nil(t, r.stored[0].Headers, "the receiver never saw it")
			},
		},
	}

	want := map[string]int64{}
	for _, tc := range cases {
		want[tc.verdict]++
		t.Run(tc.name, func(t *testing.T) {
			f.debug.Store(tc.debug)
			f.ingest.setFail(tc.fail)
			defer f.ingest.setFail(nil)
			switch {
			case tc.keysErr != nil:
				f.keys.set(nil, tc.keysErr)
			case tc.keys != nil:
				f.keys.set(tc.keys, nil)
			default:
				f.keys.set([]string{osKeyCurrent, osKeyPrevious}, nil)
			}
			given := len(f.pending.snapshot())
			r := f.serve(t, tc.req())
			require.Equal(t, tc.status, r.rec.Code, r.rec.Body.String())
			tc.check(t, r, given)
		})
	}

	t.Run("metrics", func(t *testing.T) {
		var rm metricdata.ResourceMetrics
		require.NoError(t, f.reader.Collect(context.Background(), &rm))
		counts := map[string]int64{}
		var deliveries uint64
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				switch m.Name {
				case "flowhook.webhooks":
					sum, ok := m.Data.(metricdata.Sum[int64])
					require.True(t, ok, "%T", m.Data)
					for _, dp := range sum.DataPoints {
						p, _ := dp.Attributes.Value("provider")
						require.Equal(t, "ONESPAN", p.AsString())
						v, _ := dp.Attributes.Value("verdict")
						counts[v.AsString()] += dp.Value
					}
				case "flowhook.webhook.ingest.duration":
					h, ok := m.Data.(metricdata.Histogram[float64])
					require.True(t, ok, "%T", m.Data)
					for _, dp := range h.DataPoints {
						p, _ := dp.Attributes.Value("provider")
						require.Equal(t, "ONESPAN", p.AsString())
						deliveries += dp.Count
					}
				}
			}
		}
		// A callback stored PENDING is not counted here: its job counts its final verdict
		// (engine.External), once decided.
		require.NotContains(t, counts, "pending")
		require.EqualValues(t, 7, want["pending"], "callbacks stored PENDING")
		delete(want, "pending")
		require.Equal(t, want, counts)
		// Ignored callbacks are counted whether or not they were kept (4 with the debug option
		// off, 2 with it on).
		require.Equal(t, map[string]int64{
			"duplicate": 2, "rejected": 17, "unparseable": 2, "ignored": 6, "error": 2,
		}, counts)
		require.Equal(t, uint64(len(cases)), deliveries)
	})

	t.Run("no callback key anywhere", func(t *testing.T) {
		f.mu.Lock()
		sent := append([]string(nil), f.sent...)
		responses := append([]string(nil), f.responses...)
		f.mu.Unlock()
		// The keys, and every credential sent (right or wrong, whatever its scheme).
		secrets := []string{osKeyCurrent, osKeyPrevious, osKeyWrong, strings.ToUpper(osKeyCurrent),
			base64.StdEncoding.EncodeToString([]byte(osKeyCurrent + ":"))}
		for _, v := range sent {
			if _, cred, ok := strings.Cut(strings.TrimSpace(v), " "); ok && strings.TrimSpace(cred) != "" {
				secrets = append(secrets, strings.TrimSpace(cred))
			}
		}
		require.Greater(t, len(secrets), 20, "the credentials sent are checked")

		var haystack []string
		add := func(kvs []attribute.KeyValue) {
			for _, kv := range kvs {
				haystack = append(haystack, string(kv.Key)+"="+kv.Value.Emit())
			}
		}
		spans := f.spans.Ended()
		require.NotEmpty(t, spans)
		for _, s := range spans {
			haystack = append(haystack, s.Name(), s.Status().Description)
			add(s.Attributes())
			for _, e := range s.Events() {
				haystack = append(haystack, e.Name)
				add(e.Attributes)
			}
			for _, l := range s.Links() {
				add(l.Attributes)
			}
		}
		logged := f.logs.String()
		require.Contains(t, logged, "onespan webhook rejected")
		haystack = append(haystack, logged)
		stored, _ := f.ingest.snapshot()
		require.NotEmpty(t, stored)
		for _, ev := range append(stored, f.pending.snapshot()...) {
			haystack = append(haystack, ev.Reason, ev.Traceparent, ev.Event.DedupeKey, ev.Event.Type, ev.Event.ExternalID, ev.Event.Reason, string(ev.Body))
			for k, v := range ev.Headers {
				haystack = append(haystack, k+": "+v)
			}
		}
		calls := f.log.snapshot()
		require.NotEmpty(t, calls)
		for _, c := range calls {
			for _, e := range c.entries {
				haystack = append(haystack, e.Message)
			}
		}
		haystack = append(haystack, responses...)
		for _, secret := range secrets {
			for _, item := range haystack {
				if i := strings.Index(item, secret); i >= 0 {
					from := max(0, i-80)
					require.Failf(t, "a callback key leaks", "%q (%d chars) found in …%s…", secret[:min(6, len(secret))]+"…", len(secret), item[from:i])
				}
			}
		}
	})
}

// TestOneSpanReceiverStepsBeforeResponse: over a real connection, the Event Log holds the
// callback's steps by the time OneSpan has the response, for an accepted, an ignored and a
// refused callback.
func TestOneSpanReceiverStepsBeforeResponse(t *testing.T) {
	t.Parallel()
	f := newOneSpanFixture(t)
	f.debug.Store(true)
	srv := httptest.NewServer(f.handler)
	t.Cleanup(srv.Close)

	cases := []struct {
		name, event, key string
		status           int
		reply            string
		verdict          engine.Verdict
		steps            []eventlog.Step
	}{
		{"accepted", "PACKAGE_COMPLETE", osKeyPrevious, http.StatusOK, `{"status":"accepted"}`, engine.VerdictPending,
			[]eventlog.Step{eventlog.StepReceived, eventlog.StepAuthenticated, eventlog.StepParsed}},
		{"ignored", "DOCUMENT_SIGNED", osKeyCurrent, http.StatusOK, `{"status":"ignored"}`, engine.VerdictIgnored,
			[]eventlog.Step{eventlog.StepReceived, eventlog.StepAuthenticated, eventlog.StepParsed}},
		{"wrong key", "PACKAGE_COMPLETE", osKeyWrong, http.StatusUnauthorized, "", engine.VerdictRejected,
			[]eventlog.Step{eventlog.StepReceived, eventlog.StepRejected}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := osBody(tc.event, fmt.Sprintf("pkg-steps-%d=", i), osCreated)
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/webhooks/OneSpan", bytes.NewReader(body))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json; charset=utf-8")
			req.Header.Set("Authorization", "Basic "+tc.key)
			before := len(f.log.snapshot())
			resp, err := srv.Client().Do(req)
			require.NoError(t, err)
			defer func() { require.NoError(t, resp.Body.Close()) }()
			// No waiting: the steps were written before the response was.
			calls := f.log.snapshot()[before:]
			require.Equal(t, tc.status, resp.StatusCode)
			if tc.reply != "" {
				var got bytes.Buffer
				_, err := got.ReadFrom(resp.Body)
				require.NoError(t, err)
				require.Equal(t, tc.reply, strings.TrimSpace(got.String()))
			}
			require.Len(t, calls, 1)
			require.False(t, calls[0].responded)
			require.Equal(t, tc.steps, steps(calls[0].entries))
			stored, _ := f.ingest.snapshot()
			last := stored[len(stored)-1]
			require.Equal(t, last.ID, calls[0].eventID)
			require.Equal(t, tc.verdict, last.Verdict)
			require.Equal(t, body, last.Body)
			requireNoAuthorization(t, last.Headers)
		})
	}
}

// failingBody is a request body whose reading fails part way (a connection reset).
type failingBody struct{ sent bool }

func (b *failingBody) Read(p []byte) (int, error) {
	if !b.sent {
		b.sent = true
		return copy(p, `{"name":"PACKAGE_COMP`), nil
	}
	return 0, errors.New("connection reset by peer")
}

// TestOneSpanReceiverUnreadableBody: a body that cannot be read is answered 400 before the key
// is even looked at, and kept as REJECTED with what was read when debugging.
func TestOneSpanReceiverUnreadableBody(t *testing.T) {
	t.Parallel()
	f := newOneSpanFixture(t)
	for _, debug := range []bool{false, true} {
		f.debug.Store(debug)
		r := httptest.NewRequest(http.MethodPost, "/webhooks/OneSpan", &failingBody{})
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Basic "+osKeyCurrent)
		rec := httptest.NewRecorder()
		f.handler.ServeHTTP(rec, r)
		require.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
		require.Equal(t, "the body could not be read", errorBody(t, rec))
		stored, calls := f.ingest.snapshot()
		spans := f.spans.Ended()
		require.Contains(t, spanAttr(t, spans[len(spans)-1], "flowhook.webhook.reject_reason"), "the body could not be read")
		if !debug {
			require.Zero(t, calls, "nothing ingested")
			continue
		}
		require.Len(t, stored, 1)
		require.Equal(t, engine.VerdictRejected, stored[0].Verdict)
		require.Equal(t, "the body could not be read", stored[0].Reason)
		require.Equal(t, []byte(`{"name":"PACKAGE_COMP`), stored[0].Body)
		requireNoAuthorization(t, stored[0].Headers)
	}
	require.Len(t, f.pending.snapshot(), 1, "only the REJECTED event (debug option on)")
	var rm metricdata.ResourceMetrics
	require.NoError(t, f.reader.Collect(context.Background(), &rm))
	var rejected int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if sum, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == "flowhook.webhooks" {
				for _, dp := range sum.DataPoints {
					if v, _ := dp.Attributes.Value("verdict"); v.AsString() == "rejected" {
						rejected += dp.Value
					}
				}
			}
		}
	}
	require.Equal(t, int64(2), rejected)
}
