package worker

import (
	"container/heap"
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowhook/flowhook/server/internal/engine"
)

// A state's timeout is a River job scheduled for its deadline, inserted with the move that
// entered the state: it survives restarts and crashes, and runs once even with several
// replicas. River alone is not precise enough: only the leader's scheduler makes scheduled
// jobs available, every 5 s, so a deadline that comes within 5 s of its insertion can run up
// to 5 s late (a later one is late by at most the fetch poll). The replica that committed a
// timer therefore also keeps an in-process alarm for it (Committed), which fires it at its
// deadline; the job then finds it fired and does nothing. Both go through Runner.Timeout,
// which saves at the revision it read, so exactly one firing takes effect.

// TimerFunc fires a timer (Runner.Timeout).
type TimerFunc func(context.Context, engine.StateTimeoutJob) (bool, error)

// TimerLoader returns the timers of open instances due before a time (at most limit), for a
// replica that starts to arm those about to fire.
type TimerLoader func(ctx context.Context, before time.Time, limit int) ([]engine.StateTimeoutJob, error)

// Alarm limits: deadlines further than alarmHorizon, or beyond alarmMax pending, are left to
// the job (late by at most the fetch poll once past the scheduler's 5 s). alarmFirings bounds
// the firings run at once, so that thousands due in one second queue instead of opening as
// many transactions.
const (
	alarmHorizon = time.Hour
	alarmMax     = 100_000
	alarmFirings = 8
	// startScan is how far ahead a starting replica looks for timers to arm: River's
	// scheduler covers everything later precisely enough.
	startScan = 10 * time.Second
)

// RegisterTimers adds the timer job's worker and gives the queue the in-process alarm. Both
// count the timers they fire (flowhook.timers.fired, by path: alarm or job) and measure how
// late (flowhook.timer.lateness).
func RegisterTimers(q *Queue, fire TimerFunc, load TimerLoader) error {
	fired, err := q.meter.Int64Counter("flowhook.timers.fired",
		metric.WithDescription("State timers that took effect, by path: the in-process alarm or the durable job"),
		metric.WithUnit("{timer}"))
	if err != nil {
		return err
	}
	late, err := q.meter.Float64Histogram("flowhook.timer.lateness",
		metric.WithDescription("Time from a state timer's deadline to its firing, for the timers that took effect"),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
	if err != nil {
		return err
	}
	measured := func(path string) TimerFunc {
		attrs := metric.WithAttributes(attribute.String("path", path))
		return func(ctx context.Context, job engine.StateTimeoutJob) (bool, error) {
			ok, err := fire(ctx, job)
			if ok {
				fired.Add(ctx, 1, attrs)
				late.Record(ctx, max(time.Since(job.Deadline), 0).Seconds(), attrs)
			}
			return ok, err
		}
	}
	river.AddWorker(q.workers, &timerWorker{fire: measured("job")})
	q.alarm = newAlarm(traced(q.tracer, measured("alarm")), load, q.log)
	return nil
}

// traced fires an in-process timer in a span of its own, as River's middleware gives the
// timer's job one: the transition a timeout takes, and a work item it creates, belong to it
// (without a span, a work item the timer created had no trace to link its webhooks to).
func traced(tracer trace.Tracer, fire TimerFunc) TimerFunc {
	return func(ctx context.Context, job engine.StateTimeoutJob) (bool, error) {
		ctx, span := tracer.Start(ctx, job.Kind(), trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(
			attribute.String("flowhook.instance_id", job.InstanceID), attribute.String("flowhook.state", job.StateKey),
			attribute.String("flowhook.timer.path", "alarm")))
		defer span.End()
		fired, err := fire(ctx, job)
		span.SetAttributes(attribute.Bool("flowhook.timer.fired", fired))
		switch {
		case errors.Is(err, engine.ErrTooEarly), errors.Is(err, engine.ErrOutcomePending):
			span.SetAttributes(attribute.String("flowhook.timer.left_to_job", errorReason(err))) // as planned, not a failure
		case err != nil:
			span.RecordError(err)
			span.SetStatus(codes.Error, "left to its job")
		}
		return fired, err
	}
}

// errorReason names a timer's expected hand-over to its job.
func errorReason(err error) string {
	if errors.Is(err, engine.ErrTooEarly) {
		return "too_early"
	}
	return "outcome_pending"
}

type timerWorker struct {
	river.WorkerDefaults[engine.StateTimeoutJob]
	fire TimerFunc
}

// outcomePendingSnooze is how long a timer waits before it looks again for a notification sent
// before its deadline that is still being processed (engine.ErrOutcomePending).
const outcomePendingSnooze = 30 * time.Second

func (w *timerWorker) Work(ctx context.Context, job *river.Job[engine.StateTimeoutJob]) error {
	_, err := w.fire(ctx, job.Args)
	switch {
	case errors.Is(err, engine.ErrTooEarly):
		// This replica's clock is behind the one that set the deadline.
		return river.JobSnooze(max(time.Until(job.Args.Deadline), 10*time.Millisecond))
	case errors.Is(err, engine.ErrOutcomePending):
		// What the system reported before the deadline goes first: the timer looks again in
		// a while (until engine.OutcomeGrace has passed, when it fires whatever waits).
		return river.JobSnooze(outcomePendingSnooze)
	}
	return err
}

// alarm keeps the deadlines of this replica's timers in a heap and fires each at its time.
type alarm struct {
	fire TimerFunc
	load TimerLoader
	log  *slog.Logger

	mu      sync.Mutex
	pending timerHeap
	wake    chan struct{}
}

func newAlarm(fire TimerFunc, load TimerLoader, log *slog.Logger) *alarm {
	return &alarm{fire: fire, load: load, log: log, wake: make(chan struct{}, 1)}
}

// Arm adds a timer that committed.
func (a *alarm) Arm(job engine.StateTimeoutJob) {
	if time.Until(job.Deadline) > alarmHorizon {
		return
	}
	a.mu.Lock()
	if len(a.pending) >= alarmMax {
		a.mu.Unlock()
		return
	}
	heap.Push(&a.pending, job)
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// run fires timers as they come due until ctx ends; a firing that fails is left to the job.
func (a *alarm) run(ctx context.Context) {
	if a.load != nil {
		jobs, err := a.load(ctx, time.Now().Add(startScan), alarmMax)
		if err != nil && ctx.Err() == nil {
			a.log.WarnContext(ctx, "loading the timers due soon failed; their jobs will fire them", "error", err.Error())
		}
		for _, j := range jobs {
			a.Arm(j)
		}
	}
	slots := make(chan struct{}, alarmFirings)
	var firing sync.WaitGroup
	defer firing.Wait()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		a.mu.Lock()
		var due []engine.StateTimeoutJob
		now := time.Now()
		for len(a.pending) > 0 && !a.pending[0].Deadline.After(now) {
			due = append(due, heap.Pop(&a.pending).(engine.StateTimeoutJob))
		}
		wait := time.Hour
		if len(a.pending) > 0 {
			wait = a.pending[0].Deadline.Sub(now)
		}
		a.mu.Unlock()
		for _, j := range due {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			firing.Add(1)
			go func() {
				defer func() { <-slots; firing.Done() }()
				if _, err := a.fire(ctx, j); err != nil && ctx.Err() == nil {
					a.log.DebugContext(ctx, "an in-process timer did not fire; its job will", "instance_id", j.InstanceID, "error", err.Error())
				}
			}()
		}
		if len(due) > 0 {
			continue // more may have come due while these were dispatched
		}
		t.Reset(wait)
		select {
		case <-t.C:
		case <-a.wake:
		case <-ctx.Done():
			return
		}
	}
}

// timerHeap orders timers by deadline.
type timerHeap []engine.StateTimeoutJob

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].Deadline.Before(h[j].Deadline) }
func (h timerHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)        { *h = append(*h, x.(engine.StateTimeoutJob)) }
func (h *timerHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
