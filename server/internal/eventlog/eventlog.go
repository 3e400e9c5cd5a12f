// Package eventlog records the story of a notification: each step of its handling (received,
// authenticated, parsed, matched, the outcome, the transition, the verdict) as a readable line,
// for the Event Log that administrators read, and as an event of the span it happened in, for
// operators in Jaeger. Steps are recorded only when a Trail rides in the context, which the
// receivers and jobs put there when the Webhook Receiver debug option is on (and replays always
// do); without one, Note costs a context lookup.
//
// Messages must never hold a secret, a signature or a credential: they name reason classes
// ("signature mismatch"), never values.
package eventlog

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Step is a step in the handling of a notification.
type Step string

const (
	StepReceived      Step = "RECEIVED"
	StepRejected      Step = "REJECTED"
	StepAuthenticated Step = "AUTHENTICATED"
	StepParsed        Step = "PARSED"
	StepDeduplicated  Step = "DEDUPLICATED"
	StepMatched       Step = "MATCHED"
	StepBuffered      Step = "BUFFERED"
	StepOutcome       Step = "OUTCOME"
	StepTransition    Step = "TRANSITION"
	StepVerdict       Step = "VERDICT"
	StepReplayed      Step = "REPLAYED"
	StepError         Step = "ERROR"
)

// Steps lists every step, in the order of the handling.
var Steps = []Step{StepReceived, StepRejected, StepAuthenticated, StepParsed, StepDeduplicated, StepMatched,
	StepBuffered, StepOutcome, StepTransition, StepVerdict, StepReplayed, StepError}

// Entry is one recorded step.
type Entry struct {
	// ID is a UUIDv7: entries sort by it in the order they were noted.
	ID      string
	Step    Step
	Message string
	At      time.Time
	// Elapsed is the time since the trail started.
	Elapsed time.Duration
	TraceID string
	SpanID  string
}

// Trail collects the steps of one handling (a delivery, a job run, a replay). It is safe for
// concurrent use.
type Trail struct {
	start time.Time
	now   func() time.Time

	mu      sync.Mutex
	entries []Entry
}

// NewTrail starts a trail at now().
func NewTrail(now func() time.Time) *Trail {
	if now == nil {
		now = time.Now
	}
	return &Trail{start: now(), now: now}
}

// Entries returns a copy of the steps recorded so far.
func (t *Trail) Entries() []Entry {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Entry(nil), t.entries...)
}

// Elapsed is the time since the trail started.
func (t *Trail) Elapsed() time.Duration { return t.now().Sub(t.start) }

type trailKey struct{}

// With returns ctx carrying the trail.
func With(ctx context.Context, t *Trail) context.Context {
	return context.WithValue(ctx, trailKey{}, t)
}

// From returns the trail ctx carries, or nil.
func From(ctx context.Context) *Trail {
	t, _ := ctx.Value(trailKey{}).(*Trail)
	return t
}

// Enabled says whether steps are being recorded in ctx.
func Enabled(ctx context.Context) bool { return From(ctx) != nil }

// Note records a step when ctx carries a trail: in the trail, with the trace and span of ctx,
// and as an event of that span (webhook.received, webhook.parsed..., with the message as the
// attribute flowhook.message).
func Note(ctx context.Context, step Step, format string, args ...any) {
	t := From(ctx)
	if t == nil {
		return
	}
	// The id, the time and the position are taken together: concurrent notes stay in order.
	t.mu.Lock()
	at := t.now()
	id := uuid.Must(uuid.NewV7()).String()
	t.add(ctx, id, at, step, format, args)
}

// Mark is the place in the story of a step noted later, taken before the work the step
// reports. Noted with Mark.Note, the step keeps that place (its id and time), ahead of anything
// noted meanwhile: a delivery that commits an event with its processing job says so only once
// the commit succeeded, but the job may have run and written its own steps by then.
type Mark struct {
	t  *Trail
	id string
	at time.Time
}

// Reserve takes a Mark now; without a trail in ctx, the Mark notes nothing.
func Reserve(ctx context.Context) Mark {
	t := From(ctx)
	if t == nil {
		return Mark{}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return Mark{t: t, id: uuid.Must(uuid.NewV7()).String(), at: t.now()}
}

// Note records the step at the mark, as Note does. A Mark is meant to be noted once.
func (m Mark) Note(ctx context.Context, step Step, format string, args ...any) {
	if m.t == nil {
		return
	}
	m.t.mu.Lock()
	m.t.add(ctx, m.id, m.at, step, format, args)
}

// add records an entry; t.mu is held and add releases it.
func (t *Trail) add(ctx context.Context, id string, at time.Time, step Step, format string, args []any) {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	span := trace.SpanFromContext(ctx)
	e := Entry{ID: id, Step: step, Message: msg, At: at, Elapsed: at.Sub(t.start)}
	if sc := span.SpanContext(); sc.IsValid() {
		e.TraceID, e.SpanID = sc.TraceID().String(), sc.SpanID().String()
	}
	// Kept in id order, so that a mark's step lands where the mark was taken.
	i := len(t.entries)
	for i > 0 && t.entries[i-1].ID > id {
		i--
	}
	t.entries = slices.Insert(t.entries, i, e)
	t.mu.Unlock()
	span.AddEvent(EventName(step), trace.WithTimestamp(at), trace.WithAttributes(
		attribute.String("flowhook.step", string(step)),
		attribute.String("flowhook.message", msg),
	))
}

// EventName is the name of a step's span event.
func EventName(step Step) string { return "webhook." + strings.ToLower(string(step)) }
