package eventlog_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowhook/flowhook/server/internal/eventlog"
)

// recording returns a tracer whose ended spans rec holds.
func recording(t *testing.T) (trace.Tracer, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { require.NoError(t, tp.Shutdown(context.Background())) })
	return tp.Tracer("eventlog_test"), rec
}

// ticker is a clock that advances by step at each reading.
type ticker struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func (c *ticker) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(c.step)
	return c.t
}

func attrs(kvs []attribute.KeyValue) map[string]string {
	out := map[string]string{}
	for _, kv := range kvs {
		out[string(kv.Key)] = kv.Value.Emit()
	}
	return out
}

func TestNoteWithoutTrailIsANoOp(t *testing.T) {
	t.Parallel()
	tracer, rec := recording(t)
	ctx, span := tracer.Start(context.Background(), "no trail")
	require.Nil(t, eventlog.From(ctx))
	require.False(t, eventlog.Enabled(ctx))
	eventlog.Note(ctx, eventlog.StepReceived, "%d bytes", 42)
	eventlog.Note(ctx, eventlog.StepRejected, "signature mismatch")
	span.End()

	ended := rec.Ended()
	require.Len(t, ended, 1)
	require.Empty(t, ended[0].Events(), "no span event without a trail")
	require.Zero(t, ended[0].DroppedEvents())
	// A bare context (no span, no trail) must not panic either.
	require.NotPanics(t, func() { eventlog.Note(context.Background(), eventlog.StepError, "x") })
}

func TestNoteRecordsStepsInTrailAndSpan(t *testing.T) {
	t.Parallel()
	tracer, rec := recording(t)
	start := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	clock := &ticker{t: start, step: 10 * time.Millisecond}
	trail := eventlog.NewTrail(clock.now) // reads the clock once: start+10ms
	ctx := eventlog.With(context.Background(), trail)
	require.Same(t, trail, eventlog.From(ctx))
	require.True(t, eventlog.Enabled(ctx))

	ctx, span := tracer.Start(ctx, "delivery")
	sc := span.SpanContext()
	eventlog.Note(ctx, eventlog.StepReceived, "%d bytes of JSON from %s", 312, "192.0.2.1:1234")
	eventlog.Note(ctx, eventlog.StepAuthenticated, "signature matches")
	eventlog.Note(ctx, eventlog.StepParsed, "%s for envelope %s", "envelope-completed", "env-1")
	span.End()

	entries := trail.Entries()
	require.Len(t, entries, 3)
	wantSteps := []eventlog.Step{eventlog.StepReceived, eventlog.StepAuthenticated, eventlog.StepParsed}
	wantMsgs := []string{"312 bytes of JSON from 192.0.2.1:1234", "signature matches", "envelope-completed for envelope env-1"}
	ids := make([]string, 0, len(entries))
	for i, e := range entries {
		require.Equal(t, wantSteps[i], e.Step)
		require.Equal(t, wantMsgs[i], e.Message)
		id, err := uuid.Parse(e.ID)
		require.NoError(t, err)
		require.Equal(t, uuid.Version(7), id.Version(), "entry ids are UUIDv7")
		require.Equal(t, id.String(), e.ID, "canonical string form")
		// Trail started at start+10ms; the i-th note read the clock at start+(i+2)*10ms.
		require.Equal(t, start.Add(time.Duration(i+2)*10*time.Millisecond), e.At)
		require.Equal(t, time.Duration(i+1)*10*time.Millisecond, e.Elapsed)
		require.Equal(t, sc.TraceID().String(), e.TraceID)
		require.Equal(t, sc.SpanID().String(), e.SpanID)
		ids = append(ids, e.ID)
	}
	require.True(t, slices.IsSorted(ids), "ids sort in the order the steps were noted: %v", ids)
	require.Len(t, slices.Compact(slices.Clone(ids)), len(ids), "ids are unique")
	for i := 1; i < len(entries); i++ {
		require.Greater(t, entries[i].Elapsed, entries[i-1].Elapsed)
	}
	require.Equal(t, 40*time.Millisecond, trail.Elapsed(), "Elapsed reads the injected clock")

	ended := rec.Ended()
	require.Len(t, ended, 1)
	events := ended[0].Events()
	require.Len(t, events, 3)
	for i, ev := range events {
		require.Equal(t, eventlog.EventName(wantSteps[i]), ev.Name)
		require.Equal(t, map[string]string{"flowhook.step": string(wantSteps[i]), "flowhook.message": wantMsgs[i]}, attrs(ev.Attributes))
		require.Equal(t, entries[i].At, ev.Time, "the span event carries the entry's time")
	}
	require.Equal(t, []string{"webhook.received", "webhook.authenticated", "webhook.parsed"},
		[]string{events[0].Name, events[1].Name, events[2].Name})

	// Entries is a copy: changing it does not change the trail.
	entries[0].Message = "changed"
	require.Equal(t, wantMsgs[0], trail.Entries()[0].Message)
}

func TestNoteUsesTheSpanOfItsContext(t *testing.T) {
	t.Parallel()
	tracer, rec := recording(t)
	trail := eventlog.NewTrail(nil)
	ctx := eventlog.With(context.Background(), trail)

	// No span: the entry is kept, without trace ids.
	eventlog.Note(ctx, eventlog.StepReceived, "no span yet")
	parentCtx, parent := tracer.Start(ctx, "parent")
	childCtx, child := tracer.Start(parentCtx, "child")
	eventlog.Note(childCtx, eventlog.StepMatched, "in the child")
	eventlog.Note(parentCtx, eventlog.StepVerdict, "in the parent")
	child.End()
	parent.End()

	entries := trail.Entries()
	require.Len(t, entries, 3)
	require.Empty(t, entries[0].TraceID)
	require.Empty(t, entries[0].SpanID)
	require.GreaterOrEqual(t, entries[0].Elapsed, time.Duration(0))
	require.Equal(t, child.SpanContext().SpanID().String(), entries[1].SpanID)
	require.Equal(t, parent.SpanContext().SpanID().String(), entries[2].SpanID)
	require.Equal(t, entries[1].TraceID, entries[2].TraceID)
	require.Equal(t, parent.SpanContext().TraceID().String(), entries[1].TraceID)
	for _, e := range entries {
		require.GreaterOrEqual(t, e.Elapsed, time.Duration(0))
	}

	byName := map[string][]string{}
	for _, s := range rec.Ended() {
		for _, ev := range s.Events() {
			byName[s.Name()] = append(byName[s.Name()], ev.Name)
		}
	}
	require.Equal(t, map[string][]string{"child": {"webhook.matched"}, "parent": {"webhook.verdict"}}, byName)
}

func TestNoteConcurrent(t *testing.T) {
	t.Parallel()
	tracer, rec := recording(t)
	trail := eventlog.NewTrail(nil)
	ctx, span := tracer.Start(eventlog.With(context.Background(), trail), "concurrent")

	const workers, each = 16, 50
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				eventlog.Note(ctx, eventlog.StepOutcome, "worker %d note %d", w, i)
				_ = trail.Entries() // reading while others write
			}
		})
	}
	wg.Wait()
	span.End()

	entries := trail.Entries()
	require.Len(t, entries, workers*each)
	msgs := map[string]bool{}
	ids := map[string]bool{}
	for _, e := range entries {
		msgs[e.Message] = true
		ids[e.ID] = true
		require.Equal(t, eventlog.StepOutcome, e.Step)
		require.GreaterOrEqual(t, e.Elapsed, time.Duration(0))
	}
	require.Len(t, ids, workers*each, "ids are unique")
	for w := range workers {
		for i := range each {
			require.True(t, msgs[fmt.Sprintf("worker %d note %d", w, i)], "worker %d note %d", w, i)
		}
	}
	// Every note reached the span too (the SDK keeps at most its event limit, counting the rest).
	ended := rec.Ended()
	require.Len(t, ended, 1)
	require.Equal(t, workers*each, len(ended[0].Events())+ended[0].DroppedEvents())
}

func TestEventName(t *testing.T) {
	t.Parallel()
	want := map[eventlog.Step]string{
		eventlog.StepReceived:      "webhook.received",
		eventlog.StepRejected:      "webhook.rejected",
		eventlog.StepAuthenticated: "webhook.authenticated",
		eventlog.StepParsed:        "webhook.parsed",
		eventlog.StepDeduplicated:  "webhook.deduplicated",
		eventlog.StepMatched:       "webhook.matched",
		eventlog.StepBuffered:      "webhook.buffered",
		eventlog.StepOutcome:       "webhook.outcome",
		eventlog.StepTransition:    "webhook.transition",
		eventlog.StepVerdict:       "webhook.verdict",
		eventlog.StepReplayed:      "webhook.replayed",
		eventlog.StepError:         "webhook.error",
	}
	require.Len(t, eventlog.Steps, len(want), "Steps lists every step")
	seen := map[string]bool{}
	for _, s := range eventlog.Steps {
		name, ok := want[s]
		require.True(t, ok, "step %s is in the table", s)
		require.Equal(t, name, eventlog.EventName(s))
		require.Equal(t, "webhook."+strings.ToLower(string(s)), eventlog.EventName(s))
		require.False(t, seen[name], "event names are unique: %s", name)
		seen[name] = true
	}
	require.Equal(t, eventlog.StepReceived, eventlog.Steps[0], "Steps is in the order of the handling")
}

// TestMarkKeepsItsPlace: a step noted at a Mark keeps the id and time of the moment the mark
// was taken, ahead of what was noted meanwhile, in its own trail or in another (a job's).
func TestMarkKeepsItsPlace(t *testing.T) {
	t.Parallel()
	tracer, rec := recording(t)
	start := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	clock := &ticker{t: start, step: 10 * time.Millisecond}
	delivery := eventlog.NewTrail(clock.now) // start+10ms
	ctx, span := tracer.Start(eventlog.With(context.Background(), delivery), "delivery")

	eventlog.Note(ctx, eventlog.StepReceived, "received")                        // +20ms
	mark := eventlog.Reserve(ctx)                                                // +30ms
	job := eventlog.NewTrail(clock.now)                                          // +40ms
	eventlog.Note(eventlog.With(ctx, job), eventlog.StepBuffered, "the job ran") // +50ms
	eventlog.Note(ctx, eventlog.StepError, "noted after the mark")               // +60ms
	mark.Note(ctx, eventlog.StepVerdict, "stored PENDING")
	span.End()

	entries := delivery.Entries()
	require.Equal(t, []eventlog.Step{eventlog.StepReceived, eventlog.StepVerdict, eventlog.StepError},
		[]eventlog.Step{entries[0].Step, entries[1].Step, entries[2].Step}, "the marked step is where the mark was taken")
	require.Len(t, entries, 3)
	require.Equal(t, start.Add(30*time.Millisecond), entries[1].At)
	require.Equal(t, 20*time.Millisecond, entries[1].Elapsed)
	require.Less(t, entries[1].ID, job.Entries()[0].ID, "it sorts before the job's step, noted earlier")
	require.True(t, slices.IsSortedFunc(entries, func(a, b eventlog.Entry) int { return strings.Compare(a.ID, b.ID) }))
	events := rec.Ended()[0].Events()
	require.Len(t, events, 4)
	require.Equal(t, "webhook.verdict", events[3].Name)
	require.Equal(t, start.Add(30*time.Millisecond), events[3].Time, "the span event has the mark's time")

	// Without a trail, a mark notes nothing.
	none := eventlog.Reserve(context.Background())
	require.NotPanics(t, func() { none.Note(context.Background(), eventlog.StepVerdict, "x") })
	var zero eventlog.Mark
	require.NotPanics(t, func() { zero.Note(ctx, eventlog.StepVerdict, "x") })
	require.Len(t, delivery.Entries(), 3)
}
