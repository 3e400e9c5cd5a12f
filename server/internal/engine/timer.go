package engine

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// TimerActor is the actor_id of what a state's timer does (TIMED_OUT, and the transition it
// takes out of a HUMAN state).
const TimerActor = "timer"

// startTimer gives the instance, which has just entered state (at now), the deadline of the
// state's timeout, if it has one: the DEADLINE_SET activity records it and the durable timer
// (a job scheduled for the deadline) commits with the move. Deadlines are kept to the
// millisecond so that the one the job carries compares equal to the one stored.
func (r *Runner) startTimer(inst *Instance, state State, now time.Time, acts []Activity, eff Effects) ([]Activity, Effects) {
	if state.Timeout <= 0 || !inst.Status.Open() || (state.Kind != StateKindHuman && state.Kind != StateKindExternal) {
		return acts, eff
	}
	deadline := now.Add(state.Timeout).UTC().Truncate(time.Millisecond)
	inst.Deadline = &deadline
	acts = append(acts, Activity{Kind: ActivityDeadlineSet, ToState: state.Key, Deadline: &deadline, CreatedAt: now,
		Message: fmt.Sprintf("%q times out after %s, at %s", state.Key, state.Timeout, deadline.Format(time.RFC3339))})
	eff.Jobs = append(eff.Jobs, StateTimeoutJob{InstanceID: inst.ID, StateKey: state.Key, Deadline: deadline})
	return acts, eff
}

// ErrTooEarly: a timer was asked to fire before its deadline (a replica's clock behind the
// one that set it); it is to be run again at the deadline.
var ErrTooEarly = errors.New("the deadline has not passed yet")

// ErrOutcomePending: an EXTERNAL state's timer found a notification of its work item that the
// system sent before the deadline still being processed (a OneSpan callback whose package
// cannot be read back while OneSpan is down, say): what it reports happened first, so the
// timer waits for it — up to OutcomeGrace past the deadline — and is to be run again later.
var ErrOutcomePending = errors.New("a notification sent before the deadline is still being processed")

// OutcomeGrace bounds how long past its deadline an EXTERNAL state's timer waits for a
// notification sent before the deadline (ErrOutcomePending); after it the state times out,
// and a later outcome is STALE. The notification's processing is retried meanwhile (an hour
// covers its first six attempts), and reconciliation asks the system after that.
const OutcomeGrace = time.Hour

// PendingEvents is an optional part of the InstanceStore: whether a notification of a work
// item's system and external id that the system sent at or before a time is still PENDING.
type PendingEvents interface {
	PendingSentBy(ctx context.Context, system System, externalID string, at time.Time) (bool, error)
}

// Timeout fires a state's timer: when the instance is still open in the job's state at the
// job's deadline, the state's timeout takes it on — an EXTERNAL state by the outcome EXPIRED
// (its work item becomes EXPIRED and is cancelled at its provider by a job, so that a later
// webhook for it is STALE), a HUMAN state by its transition marked on_timeout, taken by the
// timer with no form data. Otherwise (the instance left the state, entered it again with a
// later deadline, ended, or another firing won) it does nothing and reports false. Racing
// firings — the durable job and the in-process wake-up, on any replicas — save at the
// revision they read, so exactly one takes effect.
func (r *Runner) Timeout(ctx context.Context, job StateTimeoutJob) (bool, error) {
	for attempt := 0; ; attempt++ {
		fired, err := r.timeout(ctx, job)
		if errors.Is(err, ErrConflict) && attempt < 3 {
			continue // something moved since the read: read again; a winner makes this a no-op
		}
		return fired, err
	}
}

func (r *Runner) timeout(ctx context.Context, job StateTimeoutJob) (bool, error) {
	inst, err := r.instances.GetInstance(ctx, job.InstanceID)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !timerCurrent(inst, job) {
		return false, nil
	}
	now := r.clock.Now()
	if now.Before(job.Deadline) {
		return false, fmt.Errorf("%w: %s is due at %s", ErrTooEarly, job.StateKey, job.Deadline.Format(time.RFC3339Nano))
	}
	def, err := r.definition(ctx, inst.WorkflowID, inst.Version)
	if err != nil {
		return false, err
	}
	state, _ := def.State(inst.StateKey)
	read := inst.Revision
	inst.Revision = read + 1
	inst.Deadline = nil
	inst.UpdatedAt = now
	fired := Activity{Kind: ActivityTimedOut, ActorID: TimerActor, FromState: state.Key, Deadline: &job.Deadline, CreatedAt: now}
	var acts []Activity
	var eff Effects
	switch state.Kind {
	case StateKindHuman:
		t, ok := timeoutTransition(def, state.Key)
		if !ok {
			// Validation requires one; a version published before it did may lack it.
			fired.Message = fmt.Sprintf("the timeout of %q passed (%s); no transition is marked on_timeout, so the instance stays", state.Key, state.Timeout)
			acts = []Activity{fired}
			break
		}
		fired.Message = fmt.Sprintf("the timeout of %q passed (%s): the timer takes %q", state.Key, state.Timeout, t.Key)
		moved, e := r.move(ctx, &inst, def, t, TimerActor, nil)
		acts, eff = append([]Activity{fired}, moved...), e
	case StateKindExternal:
		acts, eff, err = r.expire(ctx, &inst, def, state, fired, now)
		if err != nil {
			return false, err
		}
	default:
		return false, nil
	}
	if _, err := r.instances.UpdateInstance(ctx, inst, read, acts, eff); err != nil {
		return false, err
	}
	return true, nil
}

// timerCurrent reports whether the timer is the instance's current one.
func timerCurrent(inst Instance, job StateTimeoutJob) bool {
	return inst.Status.Open() && inst.StateKey == job.StateKey && inst.Deadline != nil && inst.Deadline.Equal(job.Deadline)
}

func timeoutTransition(def Draft, from string) (Transition, bool) {
	for _, t := range def.Transitions {
		if t.From == from && t.OnTimeout {
			return t, true
		}
	}
	return Transition{}, false
}

// expire is an EXTERNAL state's timeout: the outcome EXPIRED, as if the provider had reported
// it. A WAITING work item becomes EXPIRED and is cancelled at its provider; one still CREATING
// is left to its create job, which finds the instance moved on and cancels what it made (as
// for a cancelled instance), and gets a cancel job too, for the item coupled as this commits.
// A WAITING item with a notification the system sent by the deadline still being processed
// holds the timer back (ErrOutcomePending), up to OutcomeGrace: what happened first wins. One already RESOLVED keeps its outcome: the timer only records
// that the deadline passed.
func (r *Runner) expire(ctx context.Context, inst *Instance, def Draft, state State, fired Activity, now time.Time) ([]Activity, Effects, error) {
	var eff Effects
	reason := fmt.Sprintf("the timeout of %q (%s) passed at %s", state.Key, state.Timeout, fired.Deadline.Format(time.RFC3339))
	wi, err := r.instances.CurrentWorkItem(ctx, inst.ID)
	switch {
	case err == nil && wi.StateKey == state.Key && wi.Status == WorkItemResolved:
		// The outcome landed first and the state has no transition for it (with one, the
		// instance would have left): it stands. Taking EXPIRED now would move the instance by
		// an outcome its work item never had. The deadline is spent; the instance stays.
		fired.Message = fmt.Sprintf("%s, but %s %s had already reported %s, for which %q has no transition: the instance stays where it is",
			reason, wi.System, wi.ExternalID, wi.Outcome, state.Key)
		return []Activity{fired}, eff, nil
	case err == nil && wi.StateKey == state.Key && wi.Status == WorkItemWaiting:
		if pe, ok := r.instances.(PendingEvents); ok && now.Before(fired.Deadline.Add(OutcomeGrace)) {
			pending, err := pe.PendingSentBy(ctx, wi.System, wi.ExternalID, *fired.Deadline)
			if err != nil {
				return nil, Effects{}, err
			}
			if pending {
				return nil, Effects{}, fmt.Errorf("%w: %s %s, for %q (due at %s)", ErrOutcomePending, wi.System, wi.ExternalID, state.Key, fired.Deadline.Format(time.RFC3339Nano))
			}
		}
		w := wi
		w.Status = WorkItemExpired
		w.Outcome = OutcomeExpired
		w.ResolvedAt = &now
		w.UpdatedAt = now
		eff.ExpiredWorkItems = append(eff.ExpiredWorkItems, w)
		eff.Jobs = append(eff.Jobs, CancelWorkItemJob{WorkItemID: wi.ID, Reason: reason, Expired: true})
		fired.Message = fmt.Sprintf("%s: outcome EXPIRED; %s %s is cancelled there", reason, wi.System, wi.ExternalID)
	case err == nil && wi.StateKey == state.Key && wi.Status == WorkItemCreating:
		// Its create job may couple it between this read and the write below: the coupling
		// does not change the instance, so this write stands, and the create job, having seen
		// the instance still waiting, voids nothing. The cancel job, run after this commits,
		// voids it then (a CREATING item it leaves to the create job, which finds the instance
		// moved on), as for a cancelled instance.
		eff.Jobs = append(eff.Jobs, CancelWorkItemJob{WorkItemID: wi.ID, Reason: reason, Expired: true})
		fired.Message = reason + ": outcome EXPIRED"
	case err == nil || errors.Is(err, ErrNotFound):
		fired.Message = reason + ": outcome EXPIRED"
	default:
		return nil, Effects{}, err
	}
	acts := []Activity{fired}
	next, ok := Transition{}, false
	for _, t := range def.Transitions {
		if t.From == state.Key && t.OnOutcome == OutcomeExpired {
			next, ok = t, true
		}
	}
	if !ok {
		// Validation requires one; a version published before it did may lack it.
		acts = append(acts, Activity{Kind: ActivityOutcome, ToState: state.Key, CreatedAt: now,
			Message: fmt.Sprintf("state %q has no transition for EXPIRED; the instance stays where it is", state.Key)})
		return acts, eff, nil
	}
	moved, e := r.move(ctx, inst, def, next, "", nil)
	eff.NewWorkItems = append(eff.NewWorkItems, e.NewWorkItems...)
	eff.Jobs = append(eff.Jobs, e.Jobs...)
	return append(acts, moved...), eff, nil
}
