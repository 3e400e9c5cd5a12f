// Package webhook holds the plain net/http handler that receives the outside systems'
// notifications at POST /webhooks/{provider} (DocuSign, OneSpan) and
// POST /webhooks/{provider}/{connector} (a connector: /webhooks/c2i/{name}). Every system's
// notifications go through one pipeline; what differs between providers — limits, how a
// notification is authenticated, how it is read — comes from the provider port
// (engine.Receiving):
//
//  1. the route names a system (the provider without regard to case: /webhooks/DocuSign and
//     /webhooks/docusign are the same; an unknown one, or a connector nobody registered, 404);
//  2. limits: POST only, JSON only, the provider's body size;
//  3. authentication before anything parses the body (401, nothing stored);
//  4. parsing; an authentic body that cannot be read is kept as UNPARSEABLE;
//  5. one transaction stores the raw event and, when its work item is known, applies it;
//  6. 200 only after the commit; 503 with Retry-After when the database is unavailable.
//
// Each request is the root span of a new trace (a public endpoint: a caller's trace context is
// only linked); deliveries are counted and timed by system and verdict; with the Webhook
// Receiver debug option on, each step goes to the Event Log (rejected notifications are kept
// for it) before the response goes out.
package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/eventlog"
)

// Pattern and ConnectorPattern are the mux patterns the router serves.
const (
	Pattern          = "/webhooks/{provider}"
	ConnectorPattern = "/webhooks/{provider}/{connector}"
)

// SpanName is the name of the server span of a request to a provider's one system; a
// connector's is "POST " + its route ("/webhooks/c2i/{connector}").
const SpanName = "POST " + Pattern

// MaxRejectedBody is how much of a rejected notification's body is kept (debug option on): it
// was never authenticated, so anyone could have sent it.
const MaxRejectedBody = 64 << 10

// Ingester stores events and applies them (the engine's External).
type Ingester interface {
	// Receive stores an event and applies it in the same transaction when it can, or leaves
	// it PENDING with its job; an event with a verdict is only stored. created is false for a
	// redelivery.
	Receive(ctx context.Context, ev engine.StoredEvent) (engine.StoredEvent, bool, error)
}

// EventLog keeps the steps of a delivery.
type EventLog interface {
	AppendEventLog(ctx context.Context, eventID string, entries []eventlog.Entry) error
}

// Reply is the answer to a delivery.
type Reply struct {
	Status int
	// Error is the message of an error answer, safe to show anyone.
	Error string
	// Result is the status word of a 200 ("accepted", "duplicate").
	Result string
	// RetryAfter asks the provider to retry after that many seconds (503).
	RetryAfter int
}

// Delivery is one notification being received: what the router learns of it.
type Delivery struct {
	System     engine.System
	Start      time.Time
	RemoteAddr string
	// ContentLength is the length the request declared (-1: unknown).
	ContentLength int64
	// Body and Headers are what the receiver read (safe headers only), kept with a rejected
	// notification when the debug option is on.
	Body    []byte
	Headers map[string]string

	span    trace.Span
	verdict string
	event   engine.StoredEvent
	reason  string
}

// size is the body's length as sent: what was read, or the declared length of one cut short.
func (d *Delivery) size() int64 { return max(int64(len(d.Body)), d.ContentLength) }

// Reject records that the notification was refused, and why (a reason class, never a secret).
func (d *Delivery) Reject(ctx context.Context, format string, args ...any) {
	d.verdict = "rejected"
	d.reason = format
	if len(args) > 0 {
		d.reason = fmt.Sprintf(format, args...)
	}
	eventlog.Note(ctx, eventlog.StepRejected, "%s", d.reason)
	d.span.SetAttributes(attribute.String("flowhook.webhook.reject_reason", d.reason))
}

// Stored records the event as saved; created is false for a redelivery.
func (d *Delivery) Stored(ev engine.StoredEvent, created bool) {
	d.event = ev
	// A redelivery's verdict is DUPLICATE; the event it repeats keeps its own.
	verdict := ev.Verdict
	if !created {
		verdict = engine.VerdictDuplicate
	}
	d.verdict = strings.ToLower(string(verdict))
	d.span.SetAttributes(
		attribute.String("flowhook.event.id", ev.ID),
		attribute.String("flowhook.event.type", ev.Event.Type),
		attribute.String("flowhook.external_id", ev.Event.ExternalID),
		attribute.String("flowhook.webhook.verdict", string(verdict)),
		attribute.String("flowhook.event.verdict", string(ev.Verdict)),
		attribute.Bool("flowhook.webhook.redelivery", !created),
	)
	if ev.InstanceID != "" {
		d.span.SetAttributes(attribute.String("flowhook.instance_id", ev.InstanceID))
	}
}

// Ignored records an event flowhook does not act on and did not keep (debug option off).
func (d *Delivery) Ignored(ev engine.InboundEvent) {
	d.verdict = "ignored"
	d.span.SetAttributes(
		attribute.String("flowhook.event.type", ev.Type),
		attribute.String("flowhook.external_id", ev.ExternalID),
		attribute.String("flowhook.webhook.verdict", string(engine.VerdictIgnored)),
	)
}

// Failed records that the notification could not be stored (the provider retries).
func (d *Delivery) Failed(ctx context.Context, class string) {
	d.verdict = "error"
	eventlog.Note(ctx, eventlog.StepError, "not stored: %s; answered 503 so that the provider retries", class)
	d.span.SetAttributes(attribute.String("flowhook.error", class))
}

// Traced fills an event's trace fields from the delivery's span.
func (d *Delivery) Traced(ctx context.Context, ev *engine.StoredEvent) {
	if sc := d.span.SpanContext(); sc.IsValid() {
		ev.TraceID = sc.TraceID().String()
		ev.Traceparent = engine.Traceparent(ctx)
	}
}

// Options configure the router.
type Options struct {
	// Lookup finds the system a route names (the provider port): false when none is.
	Lookup         func(ctx context.Context, route, connector string) (engine.Receiving, bool, error)
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
	// Debug says whether the Webhook Receiver debug option is on.
	Debug func(context.Context) bool
	// Ingest stores (and applies) notifications, and rejected ones while debugging; Log
	// their steps.
	Ingest Ingester
	Log    EventLog
	// Logger reports what could not be written to the Event Log.
	Logger *slog.Logger
}

// Router receives every system's notifications.
type Router struct {
	opts    Options
	tracer  trace.Tracer
	count   metric.Int64Counter
	latency metric.Float64Histogram
}

// NewRouter returns the router; mount it at Pattern and ConnectorPattern.
func NewRouter(o Options) (*Router, error) {
	meter := o.MeterProvider.Meter(engine.WebhookMeter)
	count, err := engine.NewWebhookCounter(o.MeterProvider)
	if err != nil {
		return nil, err
	}
	latency, err := meter.Float64Histogram("flowhook.webhook.ingest.duration",
		metric.WithDescription("Time from a notification's arrival to the answer (stored, and applied when its work item is known)"),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
	if err != nil {
		return nil, err
	}
	if o.Debug == nil {
		o.Debug = func(context.Context) bool { return false }
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Lookup == nil {
		return nil, errors.New("webhook: Options.Lookup is required")
	}
	return &Router{opts: o, count: count, latency: latency,
		tracer: o.TracerProvider.Tracer("github.com/flowhook/flowhook/server/internal/webhook")}, nil
}

func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rc, ok, err := rt.opts.Lookup(r.Context(), r.PathValue("provider"), r.PathValue("connector"))
	if err != nil {
		rt.opts.Logger.WarnContext(r.Context(), "webhook route not looked up", "error", err.Error())
		rt.count.Add(r.Context(), 1, metric.WithAttributes(attribute.String("provider", "unknown"), attribute.String("verdict", "error")))
		w.Header().Set("Retry-After", "30")
		WriteError(w, http.StatusServiceUnavailable, "temporarily unavailable; retry later")
		return
	}
	if !ok {
		rt.count.Add(r.Context(), 1, metric.WithAttributes(attribute.String("provider", "unknown"), attribute.String("verdict", "rejected")))
		msg := "no such webhook provider"
		if r.PathValue("connector") != "" {
			msg = "no such webhook provider or connector"
		}
		WriteError(w, http.StatusNotFound, msg)
		return
	}
	sys := rc.System()
	provider := sys.String()

	// A public endpoint: a new trace, whatever the caller sent; its context is only linked.
	var links []trace.Link
	if remote := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(r.Context(), propagation.HeaderCarrier(r.Header))); remote.IsValid() {
		links = append(links, trace.Link{SpanContext: remote, Attributes: []attribute.KeyValue{attribute.String("flowhook.link", "caller")}})
	}
	ctx, span := rt.tracer.Start(r.Context(), "POST "+rc.Route(), trace.WithNewRoot(), trace.WithLinks(links...),
		trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
			attribute.String("http.request.method", r.Method),
			attribute.String("http.route", rc.Route()),
			attribute.String("flowhook.provider", provider),
		))
	defer span.End()

	d := &Delivery{System: sys, Start: start, RemoteAddr: r.RemoteAddr, ContentLength: r.ContentLength, span: span}
	var trail *eventlog.Trail
	if rt.opts.Debug(ctx) {
		trail = eventlog.NewTrail(nil)
		ctx = eventlog.With(ctx, trail)
	}

	var reply Reply
	if r.Method != http.MethodPost {
		d.Reject(ctx, "method %s is not allowed", r.Method)
		reply = Reply{Status: http.StatusMethodNotAllowed, Error: "webhooks accept POST only"}
		w.Header().Set("Allow", http.MethodPost)
	} else {
		reply = rt.receive(r.WithContext(ctx), rc, d)
	}
	if trail != nil {
		rt.record(ctx, d, trail)
	}

	if reply.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(reply.RetryAfter))
	}
	if reply.Status == http.StatusOK {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"status":"` + reply.Result + `"}` + "\n"))
	} else {
		WriteError(w, reply.Status, reply.Error)
	}

	span.SetAttributes(attribute.Int("http.response.status_code", reply.Status), attribute.Int64("http.request.body.size", d.size()))
	if reply.Status >= 500 {
		span.SetStatus(codes.Error, http.StatusText(reply.Status))
	}
	verdict := d.verdict
	if verdict == "" {
		verdict = "rejected"
	}
	// A notification stored PENDING is counted once decided, with its final verdict, by the
	// engine (engine.NewWebhookCounter).
	if verdict != "pending" {
		rt.count.Add(ctx, 1, metric.WithAttributes(attribute.String("provider", provider), attribute.String("verdict", verdict)))
	}
	rt.latency.Record(ctx, time.Since(start).Seconds(), metric.WithAttributes(attribute.String("provider", provider)))
}

// record writes the delivery's steps to the Event Log, with the event it became; a rejected
// notification is kept first (as REJECTED, its body cut to MaxRejectedBody) so that its steps
// have an event to belong to.
func (rt *Router) record(ctx context.Context, d *Delivery, trail *eventlog.Trail) {
	// The Event Log is a debugging aid: it must not fail or hold up a delivery for long.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if d.event.ID == "" {
		if d.verdict != "rejected" || rt.opts.Ingest == nil {
			return
		}
		body := d.Body
		if len(body) > MaxRejectedBody {
			body = body[:MaxRejectedBody]
		}
		ev := engine.StoredEvent{
			Event:      engine.InboundEvent{System: d.System, DedupeKey: "rejected:" + uuid.NewString()},
			Body:       body,
			Headers:    d.Headers,
			Size:       d.size(),
			RemoteAddr: d.RemoteAddr,
			ReceivedAt: d.Start,
			Verdict:    engine.VerdictRejected,
			Reason:     d.reason,
		}
		d.Traced(ctx, &ev)
		saved, _, err := rt.opts.Ingest.Receive(ctx, ev)
		if err != nil {
			rt.opts.Logger.WarnContext(ctx, "a rejected notification was not kept in the Event Log", "error", err.Error())
			return
		}
		d.event = saved
		d.span.SetAttributes(attribute.String("flowhook.event.id", saved.ID))
	}
	if rt.opts.Log != nil {
		if err := rt.opts.Log.AppendEventLog(ctx, d.event.ID, trail.Entries()); err != nil {
			rt.opts.Logger.WarnContext(ctx, "the steps of a notification were not written to the Event Log", "event_id", d.event.ID, "error", err.Error())
		}
	}
}

// WriteError answers with a small JSON error body; the message must be safe to show anyone.
func WriteError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
