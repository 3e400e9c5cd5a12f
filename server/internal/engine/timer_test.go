package engine_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
)

// timerDraft is runDraft with timeouts: the HUMAN review times out after an hour by "escalate"
// (to the HUMAN state "boss", which has no timeout), the signature after a day by its EXPIRED
// transition back to review.
func timerDraft() engine.Draft {
	d := runDraft()
	d.States[1].Timeout = 24 * time.Hour // sign
	d.States[2].Timeout = time.Hour      // review
	d.States = append(d.States, engine.State{Key: "boss", Kind: engine.StateKindHuman, Assignee: &engine.Assignee{UserID: "u-boss"}})
	d.Transitions = append(d.Transitions,
		engine.Transition{Key: "escalate", From: "review", To: "boss", OnTimeout: true},
		engine.Transition{Key: "boss_done", From: "boss", To: "done"},
		engine.Transition{Key: "sign_expired", From: "sign", To: "review", OnOutcome: engine.OutcomeExpired},
		engine.Transition{Key: "back", From: "review", To: "review"},
	)
	return d
}

type timerBundle struct {
	*runBundle
	clock *stepClock
}

func setupTimers(t *testing.T) *timerBundle {
	t.Helper()
	require.Empty(t, engine.ValidateDraft(timerDraft(), catalog), "the fixture is a valid design")
	st := newMemStore()
	clock := &stepClock{now: time.Date(2026, 12, 3, 9, 0, 0, 123456789, time.UTC)}
	b := &runBundle{store: st, providers: &memProviders{}, client: newMemClient(), log: &logRecorder{}, workflowID: "wf-timers"}
	b.providers.client = b.client
	st.publish(b.workflowID, timerDraft())
	b.runner = engine.NewRunner(st, st, clock)
	render := func(engine.DocumentInput) (engine.Rendered, error) {
		return engine.Rendered{PDF: []byte("%PDF-1.7 test"), Anchors: []string{"/sn1/"}}, nil
	}
	b.creator = engine.NewCreator(st, st, b.runner, b.providers, render, clock, slog.New(b.log))
	return &timerBundle{runBundle: b, clock: clock}
}

// review starts an instance into the HUMAN review and returns it with its timer.
func (b *timerBundle) review(t *testing.T) (engine.Instance, engine.StateTimeoutJob) {
	t.Helper()
	in, err := b.runner.Start(context.Background(), starter, startInput(b.workflowID, "to_review"))
	require.NoError(t, err)
	timers := b.timers(t)
	require.Len(t, timers, 1)
	return in, timers[0]
}

// expectNoop fires a timer after d and requires that it did nothing.
func (b *timerBundle) expectNoop(t *testing.T, d time.Duration, timer engine.StateTimeoutJob) {
	t.Helper()
	b.clock.add(d)
	fired, err := b.runner.Timeout(context.Background(), timer)
	require.NoError(t, err)
	require.False(t, fired)
}

// toSign starts an instance into the EXTERNAL "sign", creates its envelope, and returns the
// instance with its timer.
func (b *timerBundle) toSign(t *testing.T) (engine.Instance, engine.StateTimeoutJob) {
	t.Helper()
	ctx := context.Background()
	in, err := b.runner.Start(ctx, starter, startInput(b.workflowID, "to_sign"))
	require.NoError(t, err)
	require.NotNil(t, in.Deadline)
	var timer engine.StateTimeoutJob
	for _, j := range b.store.takeJobs() {
		switch j := j.(type) {
		case engine.StateTimeoutJob:
			timer = j
		case engine.CreateWorkItemJob:
			require.NoError(t, b.creator.Create(ctx, j.WorkItemID, false, false))
		}
	}
	require.Equal(t, "sign", timer.StateKey)
	return in, timer
}

// toSignCreating starts an instance into the EXTERNAL "sign" and returns it with its timer and
// its work item's create job, not run: the item is still CREATING.
func (b *timerBundle) toSignCreating(t *testing.T) (engine.Instance, engine.StateTimeoutJob, engine.CreateWorkItemJob) {
	t.Helper()
	in, err := b.runner.Start(context.Background(), starter, startInput(b.workflowID, "to_sign"))
	require.NoError(t, err)
	var timer engine.StateTimeoutJob
	var create engine.CreateWorkItemJob
	for _, j := range b.store.takeJobs() {
		switch j := j.(type) {
		case engine.StateTimeoutJob:
			timer = j
		case engine.CreateWorkItemJob:
			create = j
		}
	}
	require.NotEmpty(t, create.WorkItemID)
	return in, timer, create
}

// cancelJobs takes the jobs enqueued so far and returns the cancel jobs among them.
func (b *timerBundle) cancelJobs() []engine.CancelWorkItemJob {
	var out []engine.CancelWorkItemJob
	for _, j := range b.store.takeJobs() {
		if c, ok := j.(engine.CancelWorkItemJob); ok {
			out = append(out, c)
		}
	}
	return out
}

// timers takes the jobs enqueued so far and returns the timers among them.
func (b *timerBundle) timers(t *testing.T) []engine.StateTimeoutJob {
	t.Helper()
	var out []engine.StateTimeoutJob
	for _, j := range b.store.takeJobs() {
		if tj, ok := j.(engine.StateTimeoutJob); ok {
			out = append(out, tj)
		}
	}
	return out
}

func kindsOfActs(acts []engine.Activity) []engine.ActivityKind {
	out := make([]engine.ActivityKind, len(acts))
	for i, a := range acts {
		out[i] = a.Kind
	}
	return out
}

// TestHumanTimeoutFires: entering a HUMAN state with a timeout sets the deadline, records it
// and schedules the timer for it; before the deadline the timer refuses, at it the timer takes
// the on_timeout transition as the actor "timer", with no form data, and a second firing does
// nothing.
func TestHumanTimeoutFires(t *testing.T) {
	t.Parallel()
	b := setupTimers(t)
	ctx := context.Background()
	in, err := b.runner.Start(ctx, starter, startInput(b.workflowID, "to_review"))
	require.NoError(t, err)
	want := time.Date(2026, 12, 3, 10, 0, 0, 123000000, time.UTC) // to the millisecond
	require.NotNil(t, in.Deadline)
	require.True(t, want.Equal(*in.Deadline), "deadline %s", in.Deadline)
	acts := b.store.activities(in.ID)
	require.Equal(t, []engine.ActivityKind{engine.ActivityStarted, engine.ActivityTransition, engine.ActivityAssigned, engine.ActivityDeadlineSet}, kindsOfActs(acts))
	require.True(t, want.Equal(*acts[3].Deadline))
	timers := b.timers(t)
	require.Equal(t, []engine.StateTimeoutJob{{InstanceID: in.ID, StateKey: "review", Deadline: want}}, timers)
	require.Equal(t, want, timers[0].ScheduledAt())

	b.clock.add(time.Hour - time.Millisecond)
	fired, err := b.runner.Timeout(ctx, timers[0])
	require.ErrorIs(t, err, engine.ErrTooEarly)
	require.False(t, fired)

	b.clock.add(time.Millisecond)
	fired, err = b.runner.Timeout(ctx, timers[0])
	require.NoError(t, err)
	require.True(t, fired)
	got := b.instance(t, in.ID)
	require.Equal(t, "boss", got.StateKey)
	require.Equal(t, engine.StatusActive, got.Status)
	require.Equal(t, &engine.Assignee{UserID: "u-boss"}, got.Assignee)
	require.Nil(t, got.Deadline, "boss has no timeout")
	acts = b.store.activities(in.ID)[4:]
	require.Equal(t, []engine.ActivityKind{engine.ActivityTimedOut, engine.ActivityTransition, engine.ActivityAssigned}, kindsOfActs(acts))
	require.Equal(t, engine.TimerActor, acts[0].ActorID)
	require.True(t, want.Equal(*acts[0].Deadline))
	require.Contains(t, acts[0].Message, `the timer takes "escalate"`)
	require.Equal(t, engine.TimerActor, acts[1].ActorID)
	require.Equal(t, "escalate", acts[1].TransitionKey)
	require.Empty(t, acts[1].Changes, "the timer fills in no form")

	fired, err = b.runner.Timeout(ctx, timers[0])
	require.NoError(t, err)
	require.False(t, fired, "a timer fires once")
	require.Len(t, b.store.activities(in.ID), 7)
}

// TestTimerOfALeftStateDoesNothing: a timer whose state was left, or entered again with a new
// deadline, or whose instance was cancelled, changes nothing; the new entry's timer fires.
func TestTimerOfALeftStateDoesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("left", func(t *testing.T) {
		t.Parallel()
		b := setupTimers(t)
		in, timer := b.review(t)
		in, err := b.runner.Take(ctx, admin, engine.TakeInput{InstanceID: in.ID, TransitionKey: "finish"})
		require.NoError(t, err)
		require.Nil(t, in.Deadline)
		b.expectNoop(t, 2*time.Hour, timer)
		require.Equal(t, "done", b.instance(t, in.ID).StateKey)
	})
	t.Run("entered again", func(t *testing.T) {
		t.Parallel()
		b := setupTimers(t)
		in, first := b.review(t)
		b.clock.add(30 * time.Minute)
		_, err := b.runner.Take(ctx, admin, engine.TakeInput{InstanceID: in.ID, TransitionKey: "back"})
		require.NoError(t, err)
		second := b.timers(t)
		require.Len(t, second, 1, "a transition back into the state starts a new timer")
		require.Equal(t, first.Deadline.Add(30*time.Minute), second[0].Deadline)
		b.expectNoop(t, 31*time.Minute, first) // the first entry's timer is spent
		require.Equal(t, "review", b.instance(t, in.ID).StateKey)
		b.clock.add(30 * time.Minute)
		fired, err := b.runner.Timeout(ctx, second[0])
		require.NoError(t, err)
		require.True(t, fired)
		require.Equal(t, "boss", b.instance(t, in.ID).StateKey)
	})
	t.Run("cancelled", func(t *testing.T) {
		t.Parallel()
		b := setupTimers(t)
		in, timer := b.review(t)
		in, err := b.runner.Cancel(ctx, admin, in.ID, "no longer needed")
		require.NoError(t, err)
		require.Nil(t, in.Deadline)
		b.expectNoop(t, 2*time.Hour, timer)
		require.Equal(t, engine.StatusCancelled, b.instance(t, in.ID).Status)
	})
	t.Run("unknown instance", func(t *testing.T) {
		t.Parallel()
		b := setupTimers(t)
		fired, err := b.runner.Timeout(ctx, engine.StateTimeoutJob{InstanceID: "nope", StateKey: "review", Deadline: b.clock.Now()})
		require.NoError(t, err)
		require.False(t, fired)
	})
}

// TestRacingTimersFireOnce: the job and the in-process alarm, on any replicas, race; exactly
// one firing takes effect.
func TestRacingTimersFireOnce(t *testing.T) {
	t.Parallel()
	b := setupTimers(t)
	ctx := context.Background()
	in, timer := b.review(t)
	b.clock.add(time.Hour)
	var wg sync.WaitGroup
	results := make([]bool, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fired, err := b.runner.Timeout(ctx, timer)
			if err == nil {
				results[i] = fired
			}
		}()
	}
	wg.Wait()
	n := 0
	for _, f := range results {
		if f {
			n++
		}
	}
	require.Equal(t, 1, n, "exactly one firing takes effect")
	timedOut := 0
	for _, a := range b.store.activities(in.ID) {
		if a.Kind == engine.ActivityTimedOut {
			timedOut++
		}
	}
	require.Equal(t, 1, timedOut)
}

// TestExternalTimeoutExpires: an EXTERNAL state's timeout is the outcome EXPIRED: the waiting
// work item becomes EXPIRED, the EXPIRED transition is taken, and a job cancels the item at its
// provider with a reason naming the timeout, leaving it EXPIRED.
func TestExternalTimeoutExpires(t *testing.T) {
	t.Parallel()
	b := setupTimers(t)
	ctx := context.Background()
	in, timer := b.toSign(t)
	wi, err := b.store.CurrentWorkItem(ctx, in.ID)
	require.NoError(t, err)
	require.Equal(t, engine.WorkItemWaiting, wi.Status)

	b.clock.add(24 * time.Hour)
	fired, err := b.runner.Timeout(ctx, timer)
	require.NoError(t, err)
	require.True(t, fired)
	got := b.instance(t, in.ID)
	require.Equal(t, "review", got.StateKey, "the EXPIRED transition was taken")
	require.NotNil(t, got.Deadline, "review's own timer started")
	expired, err := b.store.CurrentWorkItem(ctx, in.ID)
	require.NoError(t, err)
	require.Equal(t, engine.WorkItemExpired, expired.Status)
	require.Equal(t, engine.OutcomeExpired, expired.Outcome)
	require.NotNil(t, expired.ResolvedAt)

	var cancel engine.CancelWorkItemJob
	for _, j := range b.store.takeJobs() {
		if c, ok := j.(engine.CancelWorkItemJob); ok {
			cancel = c
		}
	}
	require.True(t, cancel.Expired)
	require.Equal(t, 50, cancel.MaxAttempts(), "retried for longer than a cancellation")
	require.Contains(t, cancel.Reason, `the timeout of "sign" (24h0m0s) passed`)
	require.NoError(t, b.creator.Cancel(ctx, cancel.WorkItemID, cancel.Reason, false))
	require.Equal(t, []string{wi.ExternalID + ": " + cancel.Reason}, b.client.cancelled())
	after, err := b.store.GetWorkItem(ctx, wi.ID)
	require.NoError(t, err)
	require.Equal(t, engine.WorkItemExpired, after.Status, "cancelled at the provider, still EXPIRED")
}

// TestExternalTimeoutWhileCreating: a work item still being created is left to its create
// job, which finds the instance moved on; the timer's cancel job, run first, voids nothing that
// does not exist yet.
func TestExternalTimeoutWhileCreating(t *testing.T) {
	t.Parallel()
	b := setupTimers(t)
	ctx := context.Background()
	in, timer, create := b.toSignCreating(t)
	b.clock.add(24 * time.Hour)
	fired, err := b.runner.Timeout(ctx, timer)
	require.NoError(t, err)
	require.True(t, fired)
	require.Equal(t, "review", b.instance(t, in.ID).StateKey)
	cancels := b.cancelJobs()
	require.Len(t, cancels, 1, "a cancel job, for an item coupled as the timer commits")
	require.NoError(t, b.creator.Cancel(ctx, cancels[0].WorkItemID, cancels[0].Reason, false))
	require.Empty(t, b.client.cancelled(), "nothing to void yet: the item is still being created")
	require.NoError(t, b.creator.Create(ctx, create.WorkItemID, false, false))
	wi, err := b.store.GetWorkItem(ctx, create.WorkItemID)
	require.NoError(t, err)
	require.Equal(t, engine.WorkItemCancelled, wi.Status, "the create job abandons it")
	creates, _, _ := b.client.record()
	require.Empty(t, creates, "nothing was created for an instance that moved on")
}

// TestExternalTimeoutRacingTheCoupling: the create job couples the envelope while the timer
// fires (after the timer read the item CREATING, before its write). The coupling does not
// change the instance, so the timer's write stands; the create job saw the instance still
// waiting and voided nothing. The timer's cancel job voids the envelope: nobody is left asked to
// sign for an instance that moved on.
func TestExternalTimeoutRacingTheCoupling(t *testing.T) {
	t.Parallel()
	b := setupTimers(t)
	ctx := context.Background()
	in, timer, create := b.toSignCreating(t)
	b.clock.add(24 * time.Hour)
	b.store.beforeUpdate = func() {
		require.NoError(t, b.creator.Create(ctx, create.WorkItemID, false, false))
	}
	fired, err := b.runner.Timeout(ctx, timer)
	require.NoError(t, err)
	require.True(t, fired)
	require.Equal(t, "review", b.instance(t, in.ID).StateKey)
	wi, err := b.store.GetWorkItem(ctx, create.WorkItemID)
	require.NoError(t, err)
	require.Equal(t, engine.WorkItemWaiting, wi.Status, "coupled while the timer fired")
	cancels := b.cancelJobs()
	require.Len(t, cancels, 1, "the timer cancels the item it found being created")
	require.Equal(t, create.WorkItemID, cancels[0].WorkItemID)
	require.True(t, cancels[0].Expired)
	require.NoError(t, b.creator.Cancel(ctx, cancels[0].WorkItemID, cancels[0].Reason, false))
	require.Equal(t, []string{wi.ExternalID + ": " + cancels[0].Reason}, b.client.cancelled())
	wi, err = b.store.GetWorkItem(ctx, create.WorkItemID)
	require.NoError(t, err)
	require.Equal(t, engine.WorkItemCancelled, wi.Status)
}

// pendingStore answers PendingSentBy (engine.PendingEvents) with pending, and records what it
// was asked.
type pendingStore struct {
	*memStore
	pending bool
	asked   []string
}

func (s *pendingStore) PendingSentBy(_ context.Context, sys engine.System, externalID string, at time.Time) (bool, error) {
	s.asked = append(s.asked, fmt.Sprintf("%s %s %s", sys, externalID, at.Format(time.RFC3339Nano)))
	return s.pending, nil
}

// TestExternalTimeoutWaitsForAnOutcomeSentBeforeIt: the envelope's completion, sent before the
// deadline, is still being processed when the timer fires (its status cannot be confirmed, say):
// the timer waits for it (ErrOutcomePending, nothing changed) until OutcomeGrace has passed,
// then times the state out. With nothing pending it fires at once (the other tests).
func TestExternalTimeoutWaitsForAnOutcomeSentBeforeIt(t *testing.T) {
	t.Parallel()
	b := setupTimers(t)
	ctx := context.Background()
	in, timer := b.toSign(t)
	wi, err := b.store.CurrentWorkItem(ctx, in.ID)
	require.NoError(t, err)
	ps := &pendingStore{memStore: b.store, pending: true}
	runner := engine.NewRunner(ps, b.store, b.clock)

	b.clock.add(24 * time.Hour)
	fired, err := runner.Timeout(ctx, timer)
	require.ErrorIs(t, err, engine.ErrOutcomePending)
	require.False(t, fired)
	require.Equal(t, []string{fmt.Sprintf("%s %s %s", wi.System, wi.ExternalID, timer.Deadline.Format(time.RFC3339Nano))}, ps.asked,
		"asked about what the system sent by the deadline")
	got := b.instance(t, in.ID)
	require.Equal(t, "sign", got.StateKey)
	require.Equal(t, in.Revision, got.Revision, "nothing changed")
	require.Empty(t, b.store.takeJobs())

	b.clock.add(engine.OutcomeGrace - time.Millisecond)
	_, err = runner.Timeout(ctx, timer)
	require.ErrorIs(t, err, engine.ErrOutcomePending, "still within the grace")

	b.clock.add(time.Millisecond)
	fired, err = runner.Timeout(ctx, timer)
	require.NoError(t, err)
	require.True(t, fired, "past the grace, the state times out")
	require.Equal(t, "review", b.instance(t, in.ID).StateKey)
	expired, err := b.store.GetWorkItem(ctx, wi.ID)
	require.NoError(t, err)
	require.Equal(t, engine.WorkItemExpired, expired.Status)
	require.Len(t, ps.asked, 2, "past the grace it does not ask")
}

// TestTimeoutAfterAnOutcomeWithoutTransition: an outcome that landed first wins, also when the
// state has no transition for it. The envelope is declined, the instance stays in "sign" (no
// DENIED transition), and at the deadline the timer records that it passed, clears it, and
// takes no EXPIRED transition: the work item keeps DENIED, nothing is cancelled, nothing moves.
func TestTimeoutAfterAnOutcomeWithoutTransition(t *testing.T) {
	t.Parallel()
	b := setupTimers(t)
	ctx := context.Background()
	in, timer := b.toSign(t)
	wi, err := b.store.CurrentWorkItem(ctx, in.ID)
	require.NoError(t, err)
	x := engine.NewExternal(&routeStore{memStore: b.store}, b.store, b.runner, routeProviders{b.providers}, b.clock, routeWindow)
	ev, created, err := x.Receive(ctx, engine.StoredEvent{Event: engine.InboundEvent{System: engine.System{Provider: docuSign},
		Type: "envelope-declined", ExternalID: wi.ExternalID, DedupeKey: "declined-1", OccurredAt: b.clock.Now(), Status: "declined"},
		Body: []byte(`{}`)})
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, engine.VerdictApplied, ev.Verdict)
	require.Equal(t, "no transition for DENIED", ev.Reason)
	require.Equal(t, "sign", b.instance(t, in.ID).StateKey)
	b.store.takeJobs()

	b.clock.add(24 * time.Hour)
	fired, err := b.runner.Timeout(ctx, timer)
	require.NoError(t, err)
	require.True(t, fired, "the passing of the deadline is recorded")
	got := b.instance(t, in.ID)
	require.Equal(t, "sign", got.StateKey, "no EXPIRED transition is taken after DENIED")
	require.Equal(t, engine.StatusWaitingExternal, got.Status)
	require.Nil(t, got.Deadline, "the deadline is spent")
	after, err := b.store.GetWorkItem(ctx, wi.ID)
	require.NoError(t, err)
	require.Equal(t, engine.WorkItemResolved, after.Status)
	require.Equal(t, engine.OutcomeDenied, after.Outcome, "the outcome that landed first stands")
	for _, j := range b.store.takeJobs() {
		_, isCancel := j.(engine.CancelWorkItemJob)
		require.False(t, isCancel, "a resolved envelope is not cancelled")
	}
	acts := b.store.activities(in.ID)
	last := acts[len(acts)-1]
	require.Equal(t, engine.ActivityTimedOut, last.Kind)
	require.Contains(t, last.Message, "had already reported DENIED, for which \"sign\" has no transition: the instance stays where it is")

	fired, err = b.runner.Timeout(ctx, timer)
	require.NoError(t, err)
	require.False(t, fired, "a spent timer does nothing")
}

// TestRetryRestartsTheTimer: a timer that passes while the instance is FAILED does nothing; the
// retried step gets its whole timeout again, with a new timer.
func TestRetryRestartsTheTimer(t *testing.T) {
	t.Parallel()
	b := setupTimers(t)
	ctx := context.Background()
	b.client.createErr = fmt.Errorf("%w: HTTP 400 INVALID_REQUEST_PARAMETER", engine.ErrProviderPermanent)
	in, timer := b.toSign(t)
	require.Equal(t, engine.StatusFailed, b.instance(t, in.ID).Status)
	b.clock.add(25 * time.Hour)
	fired, err := b.runner.Timeout(ctx, timer)
	require.NoError(t, err)
	require.False(t, fired, "a FAILED instance does not time out")

	b.client.createErr = nil
	retried, err := b.runner.Retry(ctx, admin, in.ID)
	require.NoError(t, err)
	require.NotNil(t, retried.Deadline)
	require.True(t, b.clock.Now().Add(24*time.Hour).Truncate(time.Millisecond).Equal(*retried.Deadline))
	var again []engine.StateTimeoutJob
	for _, j := range b.store.takeJobs() {
		if tj, ok := j.(engine.StateTimeoutJob); ok {
			again = append(again, tj)
		}
	}
	require.Equal(t, []engine.StateTimeoutJob{{InstanceID: in.ID, StateKey: "sign", Deadline: *retried.Deadline}}, again)
	acts := b.store.activities(in.ID)
	require.Equal(t, engine.ActivityDeadlineSet, acts[len(acts)-1].Kind)
}
