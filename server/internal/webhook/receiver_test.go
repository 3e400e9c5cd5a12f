package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/eventlog"
	"github.com/flowhook/flowhook/server/internal/provider"
	"github.com/flowhook/flowhook/server/internal/provider/docusign"
	"github.com/flowhook/flowhook/server/internal/provider/docusign/docusignfake"
	"github.com/flowhook/flowhook/server/internal/testlog"
	"github.com/flowhook/flowhook/server/internal/webhook"
)

const (
	keyA = "hmac-key-A-6f0c1d2e3b4a59687766"
	keyB = "hmac-key-B-9a8b7c6d5e4f30211203"
	// basicAuth is an Authorization value sent along with notifications: never kept anywhere.
	basicAuth = "Basic c2VjcmV0"

	envelope1 = "4f1c2f8e-0000-0000-0000-000000000001"
	envelope2 = "4f1c2f8e-0000-0000-0000-000000000002"
	envelope3 = "4f1c2f8e-0000-0000-0000-000000000003"

	callerTraceID = "0af7651916cd43dd8448eb211c80319c"
	callerSpanID  = "b7ad6b7169203331"
	callerParent  = "00-" + callerTraceID + "-" + callerSpanID + "-01"

	// forged is a well-formed signature made with a key flowhook does not have.
	forgedKey = "not-a-configured-key"
)

// simBody is a JSON SIM Connect message.
func simBody(event, envelopeID string, retry int) []byte {
	return fmt.Appendf(nil, `{"event":%q,"apiVersion":"v2.1","retryCount":%d,"generatedDateTime":"2026-11-27T10:00:00.0000000Z","data":{"envelopeId":%q}}`,
		event, retry, envelopeID)
}

// fakeIngester stores events in memory, deduplicating on (provider, dedupe key).
type fakeIngester struct {
	mu     sync.Mutex
	fail   error
	byKey  map[string]engine.StoredEvent
	stored []engine.StoredEvent
	calls  int
}

func (f *fakeIngester) Receive(_ context.Context, ev engine.StoredEvent) (engine.StoredEvent, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.fail != nil {
		return engine.StoredEvent{}, false, f.fail
	}
	key := ev.Event.System.String() + "\x00" + ev.Event.DedupeKey
	if old, ok := f.byKey[key]; ok {
		return old, false, nil
	}
	ev.ID = uuid.NewString()
	if ev.Verdict == "" {
		ev.Verdict = engine.VerdictApplied
		ev.InstanceID = "instance-" + ev.Event.ExternalID
	}
	f.byKey[key] = ev
	f.stored = append(f.stored, ev)
	return ev, true, nil
}

func (f *fakeIngester) setFail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = err
}

func (f *fakeIngester) snapshot() ([]engine.StoredEvent, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]engine.StoredEvent(nil), f.stored...), f.calls
}

type logCall struct {
	eventID string
	entries []eventlog.Entry
	// responded says whether the response had been started when the steps were written.
	responded bool
}

// fakeLog records AppendEventLog calls.
type fakeLog struct {
	mu        sync.Mutex
	calls     []logCall
	responded func() bool
}

func (l *fakeLog) AppendEventLog(_ context.Context, eventID string, entries []eventlog.Entry) error {
	responded := l.responded()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, logCall{eventID: eventID, entries: append([]eventlog.Entry(nil), entries...), responded: responded})
	return nil
}

func (l *fakeLog) snapshot() []logCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]logCall(nil), l.calls...)
}

// trackingWriter notes when the response starts.
type trackingWriter struct {
	http.ResponseWriter
	wrote atomic.Bool
}

func (w *trackingWriter) WriteHeader(code int) {
	w.wrote.Store(true)
	w.ResponseWriter.WriteHeader(code)
}

func (w *trackingWriter) Write(b []byte) (int, error) {
	w.wrote.Store(true)
	return w.ResponseWriter.Write(b)
}

// fixture is a router with the DocuSign receiver, recording everything it does.
type fixture struct {
	handler http.Handler
	spans   *tracetest.SpanRecorder
	reader  *sdkmetric.ManualReader
	ingest  *fakeIngester
	log     *fakeLog
	logs    *testlog.Buffer
	debug   atomic.Bool
	writer  atomic.Pointer[trackingWriter]

	mu        sync.Mutex
	sent      []string // signature and Authorization values sent
	responses []string
}

// newFixture is a router with DocuSign's receiving only, keys A and B configured.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := baseFixture(t)
	keys := func(context.Context) ([]string, error) { return []string{keyA, keyB}, nil }
	f.route(t, docusign.Plugin{}, keys, f.ingest)
	return f
}

// baseFixture records everything a router does, before any route is added.
func baseFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{
		spans:  tracetest.NewSpanRecorder(),
		reader: sdkmetric.NewManualReader(),
		ingest: &fakeIngester{byKey: map[string]engine.StoredEvent{}},
		logs:   &testlog.Buffer{},
	}
	f.log = &fakeLog{responded: func() bool {
		w := f.writer.Load()
		return w != nil && w.wrote.Load()
	}}
	return f
}

// route makes the fixture's handler a router with one provider's receiving (no connector),
// its credentials given by keys, storing what it receives with ingest.
func (f *fixture) route(t *testing.T, pl provider.Plugin, keys func(context.Context) ([]string, error), ingest webhook.Ingester) {
	t.Helper()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(f.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(f.reader))
	t.Cleanup(func() {
		require.NoError(t, tp.Shutdown(context.Background()))
		require.NoError(t, mp.Shutdown(context.Background()))
	})
	spec := pl.Spec()
	rc := provider.NewReceiving(pl, engine.System{Provider: spec.Provider}, keys, time.Now)
	rt, err := webhook.NewRouter(webhook.Options{
		Lookup: func(_ context.Context, route, connector string) (engine.Receiving, bool, error) {
			return rc, strings.EqualFold(route, spec.Route) && connector == "", nil
		},
		TracerProvider: tp,
		MeterProvider:  mp,
		Debug:          func(context.Context) bool { return f.debug.Load() },
		Ingest:         ingest,
		Log:            f.log,
		Logger:         slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle(webhook.Pattern, rt)
	mux.Handle(webhook.ConnectorPattern, rt)
	f.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw := &trackingWriter{ResponseWriter: w}
		f.writer.Store(tw)
		mux.ServeHTTP(tw, r)
	})
}

// request builds a notification; each signer key adds an X-DocuSign-Signature-N header.
func (f *fixture) request(method, path, contentType string, body []byte, signers ...string) *http.Request {
	r := httptest.NewRequest(method, path, bytes.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	r.Header.Set("User-Agent", "DocuSign Connect")
	r.Header.Set("X-Authorization-Digest", "HMACSHA256")
	for i, k := range signers {
		r.Header.Set("X-DocuSign-Signature-"+fmt.Sprint(i+1), docusignfake.Signature(body, k))
	}
	return r
}

// result is what one delivery did.
type result struct {
	req    *http.Request
	sent   []byte
	rec    *httptest.ResponseRecorder
	span   sdktrace.ReadOnlySpan // nil when the router made none
	stored []engine.StoredEvent  // stored by this delivery
	logged []logCall             // Event Log writes of this delivery
	calls  int                   // Ingester calls of this delivery
}

func (f *fixture) serve(t *testing.T, r *http.Request) result {
	t.Helper()
	var sent []byte
	if r.Body != nil {
		b, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		sent = b
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	f.mu.Lock()
	for name, vs := range r.Header {
		if strings.HasPrefix(strings.ToLower(name), "x-docusign-signature-") || strings.EqualFold(name, "Authorization") {
			f.sent = append(f.sent, vs...)
		}
	}
	f.mu.Unlock()

	spansBefore := len(f.spans.Ended())
	storedBefore, callsBefore := f.ingest.snapshot()
	logsBefore := len(f.log.snapshot())

	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, r)
	require.True(t, f.writer.Load().wrote.Load(), "the tracking writer saw the response")

	f.mu.Lock()
	f.responses = append(f.responses, rec.Body.String())
	f.mu.Unlock()
	res := result{req: r, sent: sent, rec: rec}
	ended := f.spans.Ended()
	require.LessOrEqual(t, len(ended)-spansBefore, 1, "one span per request at most")
	if len(ended) > spansBefore {
		res.span = ended[spansBefore]
	}
	stored, calls := f.ingest.snapshot()
	res.stored, res.calls = stored[len(storedBefore):], calls-callsBefore
	res.logged = f.log.snapshot()[logsBefore:]
	return res
}

func attrOf(kvs []attribute.KeyValue, key string) (string, bool) {
	for _, kv := range kvs {
		if string(kv.Key) == key {
			return kv.Value.Emit(), true
		}
	}
	return "", false
}

func spanAttr(t *testing.T, s sdktrace.ReadOnlySpan, key string) string {
	t.Helper()
	v, ok := attrOf(s.Attributes(), key)
	require.True(t, ok, "span attribute %s", key)
	return v
}

func eventNames(s sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, e := range s.Events() {
		out = append(out, e.Name)
	}
	return out
}

func steps(entries []eventlog.Entry) []eventlog.Step {
	var out []eventlog.Step
	for _, e := range entries {
		out = append(out, e.Step)
	}
	return out
}

func errorBody(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	var body map[string]string
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	require.NotEmpty(t, body["error"])
	return body["error"]
}

func statusBody(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	var body map[string]string
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	return body["status"]
}

// requireServerSpan checks what every DocuSign request's span has.
func requireServerSpan(t *testing.T, r result, status int) {
	t.Helper()
	require.NotNil(t, r.span)
	require.Equal(t, webhook.SpanName, r.span.Name())
	require.Equal(t, "POST /webhooks/{provider}", r.span.Name())
	require.Equal(t, trace.SpanKindServer, r.span.SpanKind())
	require.Equal(t, "DOCUSIGN", spanAttr(t, r.span, "flowhook.provider"))
	require.Equal(t, webhook.Pattern, spanAttr(t, r.span, "http.route"))
	require.Equal(t, r.req.Method, spanAttr(t, r.span, "http.request.method"))
	require.Equal(t, fmt.Sprint(status), spanAttr(t, r.span, "http.response.status_code"))
	require.False(t, r.span.Parent().IsValid(), "a webhook request is the root of its trace")
}

// requireRejectedStored checks the REJECTED event a refused notification left (debug option on).
func requireRejectedStored(t *testing.T, r result, reason string) engine.StoredEvent {
	t.Helper()
	require.Len(t, r.stored, 1)
	ev := r.stored[0]
	require.Equal(t, engine.VerdictRejected, ev.Verdict)
	require.Equal(t, docusign.Provider, ev.Event.System.Provider)
	require.Contains(t, ev.Reason, reason)
	require.NotEmpty(t, ev.ID)
	require.Equal(t, r.span.SpanContext().TraceID().String(), ev.TraceID)
	require.Equal(t, r.req.RemoteAddr, ev.RemoteAddr)
	require.False(t, ev.ReceivedAt.IsZero())
	for name := range ev.Headers {
		require.NotContains(t, strings.ToLower(name), "signature")
		require.NotEqual(t, "authorization", strings.ToLower(name))
	}
	require.Equal(t, ev.ID, spanAttr(t, r.span, "flowhook.event.id"))
	require.Contains(t, spanAttr(t, r.span, "flowhook.webhook.reject_reason"), reason)

	require.Len(t, r.logged, 1, "the steps are written once, for the rejected event")
	require.Equal(t, ev.ID, r.logged[0].eventID)
	require.False(t, r.logged[0].responded, "the steps are written before the response")
	got := steps(r.logged[0].entries)
	require.Contains(t, got, eventlog.StepRejected)
	require.Equal(t, eventlog.StepRejected, got[len(got)-1])
	for _, e := range r.logged[0].entries {
		if e.Step == eventlog.StepRejected {
			require.Contains(t, e.Message, reason)
		}
		require.Equal(t, ev.TraceID, e.TraceID)
	}
	require.Contains(t, eventNames(r.span), "webhook.rejected")
	return ev
}

func TestDocuSignReceiver(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var firstID string // the event of the first accepted notification

	cases := []struct {
		name  string
		debug bool
		fail  error
		req   func() *http.Request
		// provider and verdict are the delivery's flowhook.webhooks attributes.
		provider, verdict string
		status            int
		check             func(t *testing.T, r result)
	}{
		{
			name: "valid signed notification, caller's trace context only linked",
			req: func() *http.Request {
				r := f.request(http.MethodPost, "/webhooks/docusign", "application/json", simBody("envelope-completed", envelope1, 0), keyA)
				r.Header.Set("Traceparent", callerParent)
				return r
			},
			provider: "DOCUSIGN", verdict: "applied", status: http.StatusOK,
			check: func(t *testing.T, r result) {
				require.Equal(t, "accepted", statusBody(t, r.rec))
				requireServerSpan(t, r, http.StatusOK)
				require.Len(t, r.stored, 1)
				ev := r.stored[0]
				firstID = ev.ID
				require.Equal(t, "envelope-completed", spanAttr(t, r.span, "flowhook.event.type"))
				require.Equal(t, envelope1, spanAttr(t, r.span, "flowhook.external_id"))
				require.Equal(t, ev.ID, spanAttr(t, r.span, "flowhook.event.id"))
				require.Equal(t, "APPLIED", spanAttr(t, r.span, "flowhook.webhook.verdict"))
				require.Equal(t, "false", spanAttr(t, r.span, "flowhook.webhook.redelivery"))
				require.Equal(t, ev.InstanceID, spanAttr(t, r.span, "flowhook.instance_id"))
				require.Equal(t, codes.Unset, r.span.Status().Code)

				// A new root: not the caller's trace, which is only linked.
				sc := r.span.SpanContext()
				require.NotEqual(t, callerTraceID, sc.TraceID().String())
				require.False(t, r.span.Parent().IsValid())
				links := r.span.Links()
				require.Len(t, links, 1)
				require.Equal(t, callerTraceID, links[0].SpanContext.TraceID().String())
				require.Equal(t, callerSpanID, links[0].SpanContext.SpanID().String())
				require.True(t, links[0].SpanContext.IsRemote())
				v, ok := attrOf(links[0].Attributes, "flowhook.link")
				require.True(t, ok)
				require.Equal(t, "caller", v)

				// The stored event belongs to this span's trace.
				require.Equal(t, sc.TraceID().String(), ev.TraceID)
				require.Equal(t, "00-"+sc.TraceID().String()+"-"+sc.SpanID().String()+"-01", ev.Traceparent)
				require.Equal(t, r.sent, ev.Body)
				require.Equal(t, int64(len(r.sent)), ev.Size)
				require.Equal(t, docusign.Provider, ev.Event.System.Provider)
				require.Equal(t, envelope1, ev.Event.ExternalID)
				require.Equal(t, "application/json", ev.Headers["Content-Type"])
				require.NotContains(t, ev.Headers, "X-Docusign-Signature-1")

				// Debug option off: no steps anywhere.
				require.Empty(t, r.span.Events())
				require.Empty(t, r.logged)
			},
		},
		{
			name: "redelivery of the same notification",
			req: func() *http.Request {
				// DocuSign's retry: retryCount changes, the dedupe key does not.
				return f.request(http.MethodPost, "/webhooks/DocuSign", "application/json", simBody("envelope-completed", envelope1, 1), keyA)
			},
			provider: "DOCUSIGN", verdict: "duplicate", status: http.StatusOK,
			check: func(t *testing.T, r result) {
				require.Equal(t, "duplicate", statusBody(t, r.rec))
				requireServerSpan(t, r, http.StatusOK)
				require.Empty(t, r.stored, "nothing new is stored")
				require.Equal(t, 1, r.calls)
				require.Equal(t, "true", spanAttr(t, r.span, "flowhook.webhook.redelivery"))
				require.Equal(t, firstID, spanAttr(t, r.span, "flowhook.event.id"))
				require.Empty(t, r.span.Links(), "no traceparent sent, no link")
				require.Empty(t, r.logged)
			},
		},
		{
			name: "bad signature, debug option off",
			req: func() *http.Request {
				return f.request(http.MethodPost, "/webhooks/docusign", "application/json", simBody("envelope-completed", envelope2, 0), forgedKey)
			},
			provider: "DOCUSIGN", verdict: "rejected", status: http.StatusUnauthorized,
			check: func(t *testing.T, r result) {
				require.Equal(t, "the notification is not signed with a configured HMAC key", errorBody(t, r.rec))
				requireServerSpan(t, r, http.StatusUnauthorized)
				require.Zero(t, r.calls, "nothing ingested")
				require.Empty(t, r.stored)
				require.Empty(t, r.logged)
				require.Empty(t, r.span.Events())
				require.Contains(t, spanAttr(t, r.span, "flowhook.webhook.reject_reason"), "signature mismatch")
				require.Contains(t, f.logs.String(), "docusign webhook rejected")
			},
		},
		{
			name:  "valid signed notification with an Authorization header, debug option on",
			debug: true,
			req: func() *http.Request {
				r := f.request(http.MethodPost, "/webhooks/docusign", "application/json; charset=utf-8", simBody("envelope-sent", envelope2, 0), keyA)
				r.Header.Set("Authorization", basicAuth)
				return r
			},
			provider: "DOCUSIGN", verdict: "applied", status: http.StatusOK,
			check: func(t *testing.T, r result) {
				require.Equal(t, "accepted", statusBody(t, r.rec))
				requireServerSpan(t, r, http.StatusOK)
				require.Len(t, r.stored, 1)
				ev := r.stored[0]
				require.Equal(t, []string{"webhook.received", "webhook.authenticated", "webhook.parsed"}, eventNames(r.span))
				for _, e := range r.span.Events() {
					step, ok := attrOf(e.Attributes, "flowhook.step")
					require.True(t, ok)
					require.Equal(t, e.Name, eventlog.EventName(eventlog.Step(step)))
					msg, ok := attrOf(e.Attributes, "flowhook.message")
					require.True(t, ok)
					require.NotEmpty(t, msg)
				}
				require.Len(t, r.logged, 1, "one Event Log write per delivery")
				require.Equal(t, ev.ID, r.logged[0].eventID)
				require.False(t, r.logged[0].responded, "the steps are written before the response")
				require.Equal(t, []eventlog.Step{eventlog.StepReceived, eventlog.StepAuthenticated, eventlog.StepParsed}, steps(r.logged[0].entries))
				for _, e := range r.logged[0].entries {
					require.Equal(t, ev.TraceID, e.TraceID)
					require.Equal(t, r.span.SpanContext().SpanID().String(), e.SpanID)
				}
				require.Contains(t, r.logged[0].entries[2].Message, envelope2)
				require.NotContains(t, ev.Headers, "Authorization")
			},
		},
		{
			name:  "notification signed with the second key only (rotation), debug option on",
			debug: true,
			req: func() *http.Request {
				body := simBody("envelope-completed", envelope3, 0)
				r := f.request(http.MethodPost, "/webhooks/docusign", "application/json", body, forgedKey, keyB)
				return r
			},
			provider: "DOCUSIGN", verdict: "applied", status: http.StatusOK,
			check: func(t *testing.T, r result) {
				require.Equal(t, "accepted", statusBody(t, r.rec))
				require.Len(t, r.stored, 1)
				require.Equal(t, envelope3, r.stored[0].Event.ExternalID)
				require.Len(t, r.logged, 1)
				require.Equal(t, r.stored[0].ID, r.logged[0].eventID)
			},
		},
		{
			name:  "authentic but unparseable, debug option on",
			debug: true,
			req: func() *http.Request {
				return f.request(http.MethodPost, "/webhooks/docusign", "application/json", []byte(`{"event":"envelope-completed","data":{}}`), keyA)
			},
			provider: "DOCUSIGN", verdict: "unparseable", status: http.StatusOK,
			check: func(t *testing.T, r result) {
				require.Equal(t, "accepted", statusBody(t, r.rec))
				requireServerSpan(t, r, http.StatusOK)
				require.Len(t, r.stored, 1)
				ev := r.stored[0]
				require.Equal(t, engine.VerdictUnparseable, ev.Verdict)
				require.NotEmpty(t, ev.Reason)
				require.Equal(t, "UNPARSEABLE", spanAttr(t, r.span, "flowhook.webhook.verdict"))
				require.Equal(t, []string{"webhook.received", "webhook.authenticated", "webhook.parsed"}, eventNames(r.span))
				require.Len(t, r.logged, 1)
				require.Equal(t, ev.ID, r.logged[0].eventID)
			},
		},
		{
			name:  "bad signature with an Authorization header, debug option on",
			debug: true,
			req: func() *http.Request {
				r := f.request(http.MethodPost, "/webhooks/docusign", "application/json", simBody("envelope-voided", envelope2, 0), forgedKey)
				r.Header.Set("Authorization", basicAuth)
				return r
			},
			provider: "DOCUSIGN", verdict: "rejected", status: http.StatusUnauthorized,
			check: func(t *testing.T, r result) {
				errorBody(t, r.rec)
				requireServerSpan(t, r, http.StatusUnauthorized)
				ev := requireRejectedStored(t, r, "signature mismatch")
				require.Equal(t, r.sent, ev.Body, "the rejected body is kept as sent")
				require.Equal(t, int64(len(r.sent)), ev.Size)
				require.Equal(t, "application/json", ev.Headers["Content-Type"])
				require.Equal(t, "DocuSign Connect", ev.Headers["User-Agent"])
				require.Equal(t, []eventlog.Step{eventlog.StepReceived, eventlog.StepRejected}, steps(r.logged[0].entries))
				require.Equal(t, []string{"webhook.received", "webhook.rejected"}, eventNames(r.span))
			},
		},
		{
			name:  "no signature header, debug option on",
			debug: true,
			req: func() *http.Request {
				return f.request(http.MethodPost, "/webhooks/docusign", "application/json", simBody("envelope-completed", envelope2, 0))
			},
			provider: "DOCUSIGN", verdict: "rejected", status: http.StatusUnauthorized,
			check: func(t *testing.T, r result) {
				errorBody(t, r.rec)
				ev := requireRejectedStored(t, r, "no signature header")
				require.Equal(t, r.sent, ev.Body)
			},
		},
		{
			name:  "wrong content type, debug option on",
			debug: true,
			req: func() *http.Request {
				return f.request(http.MethodPost, "/webhooks/docusign", "application/xml", []byte(`<DocuSignEnvelopeInformation/>`), keyA)
			},
			provider: "DOCUSIGN", verdict: "rejected", status: http.StatusUnsupportedMediaType,
			check: func(t *testing.T, r result) {
				require.Contains(t, errorBody(t, r.rec), "application/json")
				requireServerSpan(t, r, http.StatusUnsupportedMediaType)
				requireRejectedStored(t, r, "unsupported content type")
				require.Equal(t, []eventlog.Step{eventlog.StepReceived, eventlog.StepRejected}, steps(r.logged[0].entries))
			},
		},
		{
			// Signed over the body: nothing can be checked before the body is read.
			name: "body above 1 MiB, unsigned: 413, not 401",
			req: func() *http.Request {
				body := []byte(`{"event":"envelope-completed","pad":"` + strings.Repeat("x", docusign.MaxBody) + `"}`)
				return f.request(http.MethodPost, "/webhooks/docusign", "application/json", body)
			},
			provider: "DOCUSIGN", verdict: "rejected", status: http.StatusRequestEntityTooLarge,
			check: func(t *testing.T, r result) {
				require.Contains(t, errorBody(t, r.rec), "1 MiB")
				requireServerSpan(t, r, http.StatusRequestEntityTooLarge)
				require.Zero(t, r.calls, "nothing ingested")
			},
		},
		{
			name:  "body above 1 MiB, debug option on",
			debug: true,
			req: func() *http.Request {
				body := []byte(`{"event":"envelope-completed","pad":"` + strings.Repeat("x", docusign.MaxBody) + `"}`)
				return f.request(http.MethodPost, "/webhooks/docusign", "application/json", body, keyA)
			},
			provider: "DOCUSIGN", verdict: "rejected", status: http.StatusRequestEntityTooLarge,
			check: func(t *testing.T, r result) {
				require.Contains(t, errorBody(t, r.rec), "1 MiB")
				requireServerSpan(t, r, http.StatusRequestEntityTooLarge)
				ev := requireRejectedStored(t, r, "larger than 1 MiB")
				require.LessOrEqual(t, len(ev.Body), webhook.MaxRejectedBody)
				require.LessOrEqual(t, len(ev.Body), 64<<10)
				require.NotEmpty(t, ev.Body)
				require.Equal(t, r.sent[:len(ev.Body)], ev.Body, "the start of what was sent")
				require.Greater(t, ev.Size, int64(webhook.MaxRejectedBody), "Size tells that more came")
				require.LessOrEqual(t, ev.Size, int64(len(r.sent)))
				require.Zero(t, r.calls-1, "only the REJECTED event was ingested")
			},
		},
		{
			name:  "GET, debug option on",
			debug: true,
			req: func() *http.Request {
				return f.request(http.MethodGet, "/webhooks/docusign", "", nil)
			},
			provider: "DOCUSIGN", verdict: "rejected", status: http.StatusMethodNotAllowed,
			check: func(t *testing.T, r result) {
				require.Equal(t, "webhooks accept POST only", errorBody(t, r.rec))
				require.Equal(t, http.MethodPost, r.rec.Header().Get("Allow"))
				requireServerSpan(t, r, http.StatusMethodNotAllowed)
				requireRejectedStored(t, r, "method GET is not allowed")
			},
		},
		{
			name:  "unknown provider",
			debug: true,
			req: func() *http.Request {
				return f.request(http.MethodPost, "/webhooks/adobesign", "application/json", simBody("envelope-completed", envelope1, 0), keyA)
			},
			provider: "unknown", verdict: "rejected", status: http.StatusNotFound,
			check: func(t *testing.T, r result) {
				require.Equal(t, "no such webhook provider", errorBody(t, r.rec))
				require.Nil(t, r.span)
				require.Zero(t, r.calls)
				require.Empty(t, r.logged)
			},
		},
		{
			name:  "the store is unavailable, debug option on",
			debug: true,
			fail:  errors.New("pq: password authentication failed for user flowhook at db.internal:5432"),
			req: func() *http.Request {
				return f.request(http.MethodPost, "/webhooks/docusign", "application/json", simBody("envelope-declined", envelope3, 0), keyA)
			},
			provider: "DOCUSIGN", verdict: "error", status: http.StatusServiceUnavailable,
			check: func(t *testing.T, r result) {
				require.Equal(t, "30", r.rec.Header().Get("Retry-After"))
				msg := errorBody(t, r.rec)
				for _, internal := range []string{"pq:", "password", "db.internal", "5432"} {
					require.NotContains(t, r.rec.Body.String(), internal)
					require.NotContains(t, msg, internal)
				}
				requireServerSpan(t, r, http.StatusServiceUnavailable)
				require.Equal(t, codes.Error, r.span.Status().Code)
				require.NotContains(t, r.span.Status().Description, "db.internal")
				require.Equal(t, "the database is unavailable", spanAttr(t, r.span, "flowhook.error"))
				require.Contains(t, eventNames(r.span), "webhook.error")
				require.Empty(t, r.stored)
				require.Equal(t, 1, r.calls)
			},
		},
	}

	wantCounts := map[[2]string]int64{}
	var docusignDeliveries uint64
	for _, tc := range cases {
		wantCounts[[2]string{tc.provider, tc.verdict}]++
		if tc.provider == "DOCUSIGN" {
			docusignDeliveries++
		}
		t.Run(tc.name, func(t *testing.T) {
			f.debug.Store(tc.debug)
			f.ingest.setFail(tc.fail)
			defer f.ingest.setFail(nil)
			r := f.serve(t, tc.req())
			require.Equal(t, tc.status, r.rec.Code, r.rec.Body.String())
			if r.span != nil {
				got, ok := attrOf(r.span.Attributes(), "flowhook.provider")
				require.True(t, ok)
				require.Equal(t, tc.provider, got)
			}
			tc.check(t, r)
		})
	}

	t.Run("metrics", func(t *testing.T) {
		var rm metricdata.ResourceMetrics
		require.NoError(t, f.reader.Collect(context.Background(), &rm))
		counts := map[[2]string]int64{}
		histograms := map[string]uint64{}
		var sawCount, sawHistogram bool
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				switch m.Name {
				case "flowhook.webhooks":
					sawCount = true
					sum, ok := m.Data.(metricdata.Sum[int64])
					require.True(t, ok, "%T", m.Data)
					require.True(t, sum.IsMonotonic)
					for _, dp := range sum.DataPoints {
						p, _ := dp.Attributes.Value("provider")
						v, _ := dp.Attributes.Value("verdict")
						counts[[2]string{p.AsString(), v.AsString()}] += dp.Value
					}
				case "flowhook.webhook.ingest.duration":
					sawHistogram = true
					h, ok := m.Data.(metricdata.Histogram[float64])
					require.True(t, ok, "%T", m.Data)
					require.Equal(t, "s", m.Unit)
					for _, dp := range h.DataPoints {
						p, _ := dp.Attributes.Value("provider")
						require.Equal(t, 1, dp.Attributes.Len(), "the duration is by provider only")
						histograms[p.AsString()] += dp.Count
					}
				}
			}
		}
		require.True(t, sawCount)
		require.True(t, sawHistogram)
		require.Equal(t, wantCounts, counts)
		require.Equal(t, map[[2]string]int64{
			{"DOCUSIGN", "applied"}: 3, {"DOCUSIGN", "duplicate"}: 1, {"DOCUSIGN", "unparseable"}: 1,
			{"DOCUSIGN", "rejected"}: 7, {"DOCUSIGN", "error"}: 1, {"unknown", "rejected"}: 1,
		}, counts)
		require.Equal(t, map[string]uint64{"DOCUSIGN": docusignDeliveries}, histograms)
	})

	t.Run("no secret anywhere", func(t *testing.T) {
		f.mu.Lock()
		secrets := append([]string{keyA, keyB, basicAuth, "c2VjcmV0"}, f.sent...)
		responses := append([]string(nil), f.responses...)
		f.mu.Unlock()
		require.Contains(t, secrets, docusignfake.Signature(simBody("envelope-completed", envelope1, 0), keyA), "the signatures sent are checked")

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
		require.NotEmpty(t, logged)
		haystack = append(haystack, logged)
		stored, _ := f.ingest.snapshot()
		require.NotEmpty(t, stored)
		for _, ev := range stored {
			haystack = append(haystack, ev.Reason, ev.Traceparent, ev.Event.DedupeKey)
			for k, v := range ev.Headers {
				haystack = append(haystack, k+": "+v)
			}
			if ev.Verdict != engine.VerdictRejected {
				// Bodies of authenticated events are what DocuSign sent; they hold no signature.
				haystack = append(haystack, string(ev.Body))
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
			require.NotEmpty(t, secret)
			for _, item := range haystack {
				if i := strings.Index(item, secret); i >= 0 {
					from := max(0, i-80)
					require.Failf(t, "a secret leaks", "%q (%d chars) found in …%s…", secret[:min(6, len(secret))]+"…", len(secret), item[from:min(len(item), i+len(secret)+20)])
				}
			}
		}
	})
}

// TestDocuSignReceiverStepsBeforeResponse: over a real connection, the Event Log holds the
// delivery's steps by the time the client has the response.
func TestDocuSignReceiverStepsBeforeResponse(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.debug.Store(true)
	srv := httptest.NewServer(f.handler)
	t.Cleanup(srv.Close)

	cases := []struct {
		name    string
		signer  string
		status  int
		verdict engine.Verdict
		steps   []eventlog.Step
	}{
		{"accepted", keyB, http.StatusOK, engine.VerdictApplied,
			[]eventlog.Step{eventlog.StepReceived, eventlog.StepAuthenticated, eventlog.StepParsed}},
		{"bad signature", forgedKey, http.StatusUnauthorized, engine.VerdictRejected,
			[]eventlog.Step{eventlog.StepReceived, eventlog.StepRejected}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := simBody("envelope-completed", fmt.Sprintf("4f1c2f8e-1111-0000-0000-%012d", i), 0)
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/webhooks/docusign", bytes.NewReader(body))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-DocuSign-Signature-1", docusignfake.Signature(body, tc.signer))
			before := len(f.log.snapshot())
			resp, err := srv.Client().Do(req)
			require.NoError(t, err)
			defer func() { require.NoError(t, resp.Body.Close()) }()
			// No waiting: the steps were written before the response was.
			calls := f.log.snapshot()[before:]
			require.Equal(t, tc.status, resp.StatusCode)
			require.Len(t, calls, 1)
			require.False(t, calls[0].responded)
			require.Equal(t, tc.steps, steps(calls[0].entries))
			stored, _ := f.ingest.snapshot()
			last := stored[len(stored)-1]
			require.Equal(t, last.ID, calls[0].eventID)
			require.Equal(t, tc.verdict, last.Verdict)
			require.Equal(t, body, last.Body)
		})
	}
}

// TestDocuSignRedeliverySpanVerdict: a redelivery's span says what the delivery came to, like
// the flowhook.webhooks counter does ("duplicate"), not the verdict of the first delivery.
func TestDocuSignRedeliverySpanVerdict(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	body := simBody("envelope-completed", envelope1, 0)
	first := f.serve(t, f.request(http.MethodPost, "/webhooks/docusign", "application/json", body, keyA))
	require.Equal(t, http.StatusOK, first.rec.Code)
	require.Equal(t, "APPLIED", spanAttr(t, first.span, "flowhook.webhook.verdict"))

	again := f.serve(t, f.request(http.MethodPost, "/webhooks/docusign", "application/json", body, keyA))
	require.Equal(t, http.StatusOK, again.rec.Code)
	require.Equal(t, "duplicate", statusBody(t, again.rec))
	require.Equal(t, "true", spanAttr(t, again.span, "flowhook.webhook.redelivery"))
	require.Equal(t, string(engine.VerdictDuplicate), spanAttr(t, again.span, "flowhook.webhook.verdict"),
		"the redelivery's span must not claim the notification was APPLIED again")
}
