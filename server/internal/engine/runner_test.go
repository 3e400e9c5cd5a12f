package engine_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
)

// flowDraft is a purchase workflow: START leads into a HUMAN review by the group "legal"
// ("submit"), straight to END ("fast") or into a DocuSign signature ("sign_now"). The review
// has a form, and leads to the signature, to a rejection, or to a second HUMAN state assigned
// to the user "u-boss". Each outcome of the signature has its transition, but DELETED.
func flowDraft() engine.Draft {
	return engine.Draft{
		Name: "Purchase",
		States: []engine.State{
			{Key: "start", Kind: engine.StateKindStart, FormFields: []engine.FormField{
				{Name: "name", Type: engine.FieldTypeString, Required: true},
				{Name: "email", Type: engine.FieldTypeEmail, Required: true},
				{Name: "amount", Type: engine.FieldTypeNumber},
			}},
			{Key: "review", Kind: engine.StateKindHuman, Assignee: &engine.Assignee{GroupID: "legal"}, FormFields: []engine.FormField{
				{Name: "amount", Type: engine.FieldTypeNumber},
				{Name: "note", Type: engine.FieldTypeString},
			}},
			{Key: "boss", Kind: engine.StateKindHuman, Assignee: &engine.Assignee{UserID: "u-boss"}},
			{Key: "sign", Kind: engine.StateKindExternal, External: &engine.ExternalStep{
				Provider: docuSign, Signers: []engine.Signer{{NameField: "name", EmailField: "email"}}}},
			{Key: "done", Kind: engine.StateKindEnd},
			{Key: "rejected", Kind: engine.StateKindEnd},
		},
		Transitions: []engine.Transition{
			{Key: "submit", From: "start", To: "review"},
			{Key: "fast", From: "start", To: "done"},
			{Key: "sign_now", From: "start", To: "sign"},
			{Key: "approve", From: "review", To: "sign"},
			{Key: "reject", From: "review", To: "rejected"},
			{Key: "escalate", From: "review", To: "boss"},
			{Key: "close", From: "boss", To: "done"},
			{Key: "signed", From: "sign", To: "done", OnOutcome: engine.OutcomeFinished},
			{Key: "declined", From: "sign", To: "rejected", OnOutcome: engine.OutcomeDenied},
		},
	}
}

// More users of the engine tests.
var (
	lawyer   = engine.Principal{UserID: "u-legal", Roles: []engine.Role{engine.RoleUser}, GroupIDs: []string{"legal"}}
	boss     = engine.Principal{UserID: "u-boss", Roles: []engine.Role{engine.RoleUser}}
	stranger = engine.Principal{UserID: "u-stranger", Roles: []engine.Role{engine.RoleUser}, GroupIDs: []string{"sales"}}
)

const flowID = "wf-flow"

// flowBundle is a Runner over the in-memory store, with flowDraft published as version 1.
type flowBundle struct {
	store  *memStore
	runner *engine.Runner
}

func setupFlow(t *testing.T) *flowBundle {
	t.Helper()
	require.Empty(t, engine.ValidateDraft(flowDraft(), catalog), "the fixture is a valid design")
	st := newMemStore()
	st.publish(flowID, flowDraft())
	return &flowBundle{store: st, runner: engine.NewRunner(st, st, engine.SystemClock{})}
}

func flowForm() map[string]any {
	return map[string]any{"name": "Ada Lovelace", "email": "ada@example.com", "amount": 1200.5}
}

// start starts an instance of flowDraft by the starter, taking transition out of START.
func (b *flowBundle) start(t *testing.T, transition string) engine.Instance {
	t.Helper()
	in, err := b.runner.Start(context.Background(), starter, engine.StartInput{WorkflowID: flowID, TransitionKey: transition, FormData: flowForm()})
	require.NoError(t, err)
	return in
}

// stored reads an instance as saved, with its current work item.
func (b *flowBundle) stored(t *testing.T, id string) engine.Instance {
	t.Helper()
	in, err := b.runner.Get(context.Background(), admin, id)
	require.NoError(t, err)
	return in
}

func kindsOf(acts []engine.Activity) []engine.ActivityKind {
	out := make([]engine.ActivityKind, len(acts))
	for i, a := range acts {
		out[i] = a.Kind
	}
	return out
}

// problemPaths returns the paths of a validation error's problems, and fails on any other error.
func problemPaths(t *testing.T, err error) map[string]string {
	t.Helper()
	ps, ok := engine.IsValidation(err)
	require.True(t, ok, "want a validation error, got %v", err)
	out := map[string]string{}
	for _, p := range ps {
		out[p.Path] = p.Message
	}
	return out
}

// TestStartEntersTheFirstState: starting validates the start form, takes the named (or only)
// transition out of START, and enters its target: a HUMAN state is ACTIVE and assigned, an
// EXTERNAL one waits on a new work item with its create job, an END completes.
func TestStartEntersTheFirstState(t *testing.T) {
	t.Parallel()
	tests := []struct {
		transition string
		status     engine.InstanceStatus
		state      string
		assignee   *engine.Assignee
		kinds      []engine.ActivityKind
		workItem   bool
		ended      bool
	}{
		{transition: "submit", status: engine.StatusActive, state: "review", assignee: &engine.Assignee{GroupID: "legal"},
			kinds: []engine.ActivityKind{engine.ActivityStarted, engine.ActivityTransition, engine.ActivityAssigned}},
		{transition: "sign_now", status: engine.StatusWaitingExternal, state: "sign", workItem: true,
			kinds: []engine.ActivityKind{engine.ActivityStarted, engine.ActivityTransition, engine.ActivityWaitingExternal}},
		{transition: "fast", status: engine.StatusCompleted, state: "done", ended: true,
			kinds: []engine.ActivityKind{engine.ActivityStarted, engine.ActivityTransition, engine.ActivityCompleted}},
	}
	for _, tc := range tests {
		t.Run(tc.transition, func(t *testing.T) {
			t.Parallel()
			b := setupFlow(t)
			in := b.start(t, tc.transition)
			require.Equal(t, tc.status, in.Status)
			require.Equal(t, tc.state, in.StateKey)
			require.Equal(t, tc.assignee, in.Assignee)
			require.EqualValues(t, 1, in.Revision)
			require.EqualValues(t, 1, in.Version)
			require.Equal(t, "Purchase", in.WorkflowName)
			require.Equal(t, starter.UserID, in.StartedBy)
			require.Equal(t, flowForm(), in.FormData)
			require.Equal(t, tc.ended, in.EndedAt != nil)

			acts := b.store.activities(in.ID)
			require.Equal(t, tc.kinds, kindsOf(acts))
			require.Equal(t, starter.UserID, acts[0].ActorID)
			require.Equal(t, "start", acts[0].ToState)
			require.Equal(t, `started "Purchase" version 1`, acts[0].Message)
			require.Equal(t, []engine.FieldChange{{Name: "amount", New: 1200.5}, {Name: "email", New: "ada@example.com"},
				{Name: "name", New: "Ada Lovelace"}}, acts[0].Changes, "the start form, recorded as changes from nothing")
			require.Equal(t, engine.Activity{InstanceID: in.ID, Seq: 2, Kind: engine.ActivityTransition, ActorID: starter.UserID,
				FromState: "start", ToState: tc.state, TransitionKey: tc.transition, CreatedAt: acts[1].CreatedAt,
				Message: `took "` + tc.transition + `" from "start" to "` + tc.state + `"`}, acts[1])
			require.Equal(t, tc.assignee, acts[2].Assignee)

			jobs := b.store.takeJobs()
			if !tc.workItem {
				require.Empty(t, jobs)
				require.Equal(t, engine.System{}, in.System)
				return
			}
			require.Equal(t, engine.System{Provider: docuSign}, in.System)
			got := b.stored(t, in.ID)
			require.NotNil(t, got.WorkItem)
			wi := *got.WorkItem
			require.Equal(t, engine.WorkItemCreating, wi.Status)
			require.Equal(t, "sign", wi.StateKey)
			require.Equal(t, in.Revision, wi.EnteredRevision, "the work item belongs to this entry into the state")
			require.Equal(t, engine.System{Provider: docuSign}, wi.System)
			require.Equal(t, []engine.Job{engine.CreateWorkItemJob{WorkItemID: wi.ID}}, jobs)
			require.Equal(t, `waiting in "sign" for DOCUSIGN`, acts[2].Message)
		})
	}

	t.Run("the only way out needs no key", func(t *testing.T) {
		t.Parallel()
		b := setupFlow(t)
		b.store.publish("wf-one", engine.Draft{Name: "One way", States: []engine.State{
			{Key: "start", Kind: engine.StateKindStart}, {Key: "end", Kind: engine.StateKindEnd}},
			Transitions: []engine.Transition{{Key: "go", From: "start", To: "end"}}})
		in, err := b.runner.Start(context.Background(), starter, engine.StartInput{WorkflowID: "wf-one"})
		require.NoError(t, err)
		require.Equal(t, engine.StatusCompleted, in.Status)
		require.Equal(t, "go", b.store.activities(in.ID)[1].TransitionKey)
	})

	t.Run("a version asked for is the version started", func(t *testing.T) {
		t.Parallel()
		b := setupFlow(t)
		v2 := flowDraft()
		v2.Name = "Purchase v2"
		b.store.publish(flowID, v2)
		latest := b.start(t, "fast")
		require.EqualValues(t, 2, latest.Version)
		require.Equal(t, "Purchase v2", latest.WorkflowName)
		first, err := b.runner.Start(context.Background(), starter, engine.StartInput{WorkflowID: flowID, Version: 1,
			TransitionKey: "fast", FormData: flowForm()})
		require.NoError(t, err)
		require.EqualValues(t, 1, first.Version)
		require.Equal(t, "Purchase", first.WorkflowName)
	})
}

// TestStartRefusals: what cannot start saves nothing, and says every problem at once.
func TestStartRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name  string
		in    engine.StartInput
		is    error             // a sentinel, or
		paths map[string]string // the problems (message "" only checks the path)
	}{
		{name: "every problem of the form and the transition",
			in: engine.StartInput{WorkflowID: flowID, FormData: map[string]any{"email": "not an email", "amount": "lots", "extra": 1.0}},
			paths: map[string]string{"form_data.name": "is required", "form_data.email": "", "form_data.amount": "",
				"form_data.extra": `"extra" is not a field of this form`,
				"transition_key":  `is required: state "start" has 3 ways out (submit, fast, sign_now)`}},
		{name: "a transition START does not have",
			in: engine.StartInput{WorkflowID: flowID, TransitionKey: "approve", FormData: flowForm()},
			paths: map[string]string{
				"transition_key": `state "start" has no transition "approve"; its ways out are: submit, fast, sign_now`}},
		{name: "a negative version", in: engine.StartInput{WorkflowID: flowID, Version: -1, TransitionKey: "fast", FormData: flowForm()},
			paths: map[string]string{"version": "must not be negative (0 means the latest)"}},
		{name: "a request id too long", in: engine.StartInput{WorkflowID: flowID, RequestID: strings.Repeat("r", 129), TransitionKey: "fast", FormData: flowForm()},
			paths: map[string]string{"request_id": "must be at most 128 characters"}},
		{name: "no such workflow", in: engine.StartInput{WorkflowID: "wf-nope", TransitionKey: "fast", FormData: flowForm()}, is: engine.ErrNotFound},
		{name: "no such version", in: engine.StartInput{WorkflowID: flowID, Version: 2, TransitionKey: "fast", FormData: flowForm()}, is: engine.ErrNotFound},
		{name: "never published", in: engine.StartInput{WorkflowID: "wf-draft", TransitionKey: "fast", FormData: flowForm()}, is: engine.ErrFailedPrecondition},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupFlow(t)
			b.store.mu.Lock()
			b.store.versions["wf-draft"] = nil // a workflow with a draft only
			b.store.mu.Unlock()
			_, err := b.runner.Start(ctx, starter, tc.in)
			if tc.is != nil {
				require.ErrorIs(t, err, tc.is)
			} else {
				got := problemPaths(t, err)
				require.Len(t, got, len(tc.paths), "%v", got)
				for path, msg := range tc.paths {
					require.Contains(t, got, path)
					if msg != "" {
						require.Equal(t, msg, got[path])
					}
				}
			}
			b.store.mu.Lock()
			defer b.store.mu.Unlock()
			require.Empty(t, b.store.instances, "nothing saved")
			require.Empty(t, b.store.jobs)
		})
	}
}

// TestTake: an assignee (or an admin) takes a transition out of a HUMAN state; that state's
// form is validated and merged into the instance's data, and the changes are recorded.
func TestTake(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name       string
		who        engine.Principal
		transition string
		form       map[string]any
		status     engine.InstanceStatus
		state      string
		assignee   *engine.Assignee
		changes    []engine.FieldChange
		then       []engine.ActivityKind
	}{
		{name: "a member of the assigned group, with the form", who: lawyer, transition: "reject",
			form:   map[string]any{"amount": 900.0, "note": "too much"},
			status: engine.StatusCompleted, state: "rejected",
			changes: []engine.FieldChange{{Name: "amount", Old: 1200.5, New: 900.0}, {Name: "note", New: "too much"}},
			then:    []engine.ActivityKind{engine.ActivityTransition, engine.ActivityCompleted}},
		{name: "an unchanged value is no change", who: lawyer, transition: "reject", form: map[string]any{"amount": 1200.5},
			status: engine.StatusCompleted, state: "rejected",
			then: []engine.ActivityKind{engine.ActivityTransition, engine.ActivityCompleted}},
		{name: "an admin, into a HUMAN state assigned to a user", who: admin, transition: "escalate",
			status: engine.StatusActive, state: "boss", assignee: &engine.Assignee{UserID: "u-boss"},
			then: []engine.ActivityKind{engine.ActivityTransition, engine.ActivityAssigned}},
		{name: "into an EXTERNAL state", who: lawyer, transition: "approve",
			status: engine.StatusWaitingExternal, state: "sign",
			then: []engine.ActivityKind{engine.ActivityTransition, engine.ActivityWaitingExternal}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupFlow(t)
			in := b.start(t, "submit")
			b.store.takeJobs()
			got, err := b.runner.Take(ctx, tc.who, engine.TakeInput{InstanceID: in.ID, TransitionKey: tc.transition, FormData: tc.form,
				ExpectedRevision: in.Revision})
			require.NoError(t, err)
			require.Equal(t, tc.status, got.Status)
			require.Equal(t, tc.state, got.StateKey)
			require.Equal(t, tc.assignee, got.Assignee)
			require.Equal(t, in.Revision+1, got.Revision)
			want := flowForm()
			for k, v := range tc.form {
				want[k] = v
			}
			require.Equal(t, want, got.FormData, "the state's form merged into the instance's")
			require.Equal(t, got, b.store.instances[in.ID], "saved as returned")

			acts := b.store.activities(in.ID)[3:]
			require.Equal(t, tc.then, kindsOf(acts))
			require.Equal(t, tc.who.UserID, acts[0].ActorID)
			require.Equal(t, "review", acts[0].FromState)
			require.Equal(t, tc.transition, acts[0].TransitionKey)
			require.Equal(t, tc.changes, acts[0].Changes)

			jobs := b.store.takeJobs()
			if tc.status != engine.StatusWaitingExternal {
				require.Empty(t, jobs)
				return
			}
			wi := b.stored(t, in.ID).WorkItem
			require.Equal(t, got.Revision, wi.EnteredRevision)
			require.Equal(t, []engine.Job{engine.CreateWorkItemJob{WorkItemID: wi.ID}}, jobs)
		})
	}

	t.Run("the user a state is assigned to", func(t *testing.T) {
		t.Parallel()
		b := setupFlow(t)
		in := b.start(t, "submit")
		_, err := b.runner.Take(ctx, admin, engine.TakeInput{InstanceID: in.ID, TransitionKey: "escalate"})
		require.NoError(t, err)
		_, err = b.runner.Take(ctx, lawyer, engine.TakeInput{InstanceID: in.ID, TransitionKey: "close"})
		require.ErrorIs(t, err, engine.ErrPermissionDenied, "the group assigned before is not the assignee now")
		got, err := b.runner.Take(ctx, boss, engine.TakeInput{InstanceID: in.ID}) // the only way out
		require.NoError(t, err)
		require.Equal(t, engine.StatusCompleted, got.Status)
		require.Nil(t, got.Assignee)
		// A past assignee still sees the instance.
		_, err = b.runner.Get(ctx, lawyer, in.ID)
		require.NoError(t, err)
	})
}

// TestTakeRefusals: a refused Take changes nothing.
func TestTakeRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name    string
		who     engine.Principal
		into    string // how the instance started
		in      func(in engine.Instance) engine.TakeInput
		is      error
		message string
		paths   map[string]string
	}{
		{name: "its starter is not its assignee", who: starter, into: "submit",
			in: func(in engine.Instance) engine.TakeInput {
				return engine.TakeInput{InstanceID: in.ID, TransitionKey: "reject"}
			},
			is: engine.ErrPermissionDenied, message: `"review" is assigned to someone else`},
		{name: "a stranger does not even see it", who: stranger, into: "submit",
			in: func(in engine.Instance) engine.TakeInput {
				return engine.TakeInput{InstanceID: in.ID, TransitionKey: "reject"}
			},
			is: engine.ErrPermissionDenied, message: "only admins, its starter, its assignees and those who acted on it see an instance"},
		{name: "a stale expected revision", who: lawyer, into: "submit",
			in: func(in engine.Instance) engine.TakeInput {
				return engine.TakeInput{InstanceID: in.ID, TransitionKey: "reject", ExpectedRevision: in.Revision + 1}
			},
			is: engine.ErrConflict, message: "the instance is at revision 1, not 2"},
		{name: "an instance waiting on a provider", who: admin, into: "sign_now",
			in: func(in engine.Instance) engine.TakeInput {
				return engine.TakeInput{InstanceID: in.ID, TransitionKey: "signed"}
			},
			is: engine.ErrFailedPrecondition, message: `the instance is WAITING_EXTERNAL in "sign"; there is no transition to take`},
		{name: "a completed instance", who: admin, into: "fast",
			in: func(in engine.Instance) engine.TakeInput { return engine.TakeInput{InstanceID: in.ID} },
			is: engine.ErrFailedPrecondition, message: `the instance is COMPLETED in "done"`},
		{name: "no such instance", who: admin, into: "submit",
			in: func(engine.Instance) engine.TakeInput {
				return engine.TakeInput{InstanceID: "i-nope", TransitionKey: "reject"}
			},
			is: engine.ErrNotFound},
		{name: "the form and the transition, every problem", who: lawyer, into: "submit",
			in: func(in engine.Instance) engine.TakeInput {
				return engine.TakeInput{InstanceID: in.ID, FormData: map[string]any{"amount": "lots", "name": "Eve"}}
			},
			paths: map[string]string{"form_data.amount": "", "form_data.name": `"name" is not a field of this form`,
				"transition_key": "is required"}},
		{name: "a transition of another state", who: lawyer, into: "submit",
			in: func(in engine.Instance) engine.TakeInput {
				return engine.TakeInput{InstanceID: in.ID, TransitionKey: "close"}
			},
			paths: map[string]string{"transition_key": `state "review" has no transition "close"; its ways out are: approve, reject, escalate`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupFlow(t)
			in := b.start(t, tc.into)
			b.store.takeJobs()
			before := b.store.activities(in.ID)
			_, err := b.runner.Take(ctx, tc.who, tc.in(in))
			if tc.is != nil {
				require.ErrorIs(t, err, tc.is)
				require.ErrorContains(t, err, tc.message)
			} else {
				got := problemPaths(t, err)
				require.Len(t, got, len(tc.paths), "%v", got)
				for path, msg := range tc.paths {
					require.Contains(t, got, path)
					if msg != "" {
						require.Equal(t, msg, got[path])
					}
				}
			}
			require.Equal(t, in, b.store.instances[in.ID], "nothing changed")
			require.Equal(t, before, b.store.activities(in.ID))
			require.Empty(t, b.store.takeJobs())
		})
	}
}

// TestTakeRace: of takes racing from one revision, exactly one moves the instance; the others
// are told it changed (ErrConflict) or that it moved on (ErrFailedPrecondition).
func TestTakeRace(t *testing.T) {
	t.Parallel()
	b := setupFlow(t)
	in := b.start(t, "submit")
	b.store.takeJobs()
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		key := []string{"approve", "reject"}[i%2]
		wg.Go(func() {
			_, errs[i] = b.runner.Take(context.Background(), lawyer, engine.TakeInput{InstanceID: in.ID, TransitionKey: key})
		})
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		if err == nil {
			wins++
			continue
		}
		require.True(t, errors.Is(err, engine.ErrConflict) || errors.Is(err, engine.ErrFailedPrecondition), "%v", err)
	}
	require.Equal(t, 1, wins)
	got := b.stored(t, in.ID)
	require.Equal(t, in.Revision+1, got.Revision)
	taken := 0
	for _, a := range b.store.activities(in.ID) {
		if a.Kind == engine.ActivityTransition && a.FromState == "review" {
			taken++
		}
	}
	require.Equal(t, 1, taken)
	require.LessOrEqual(t, len(b.store.takeJobs()), 1)
}

// TestCancel: an admin or the starter cancels an open instance; a work item still open at its
// provider gets a cancel job in the same change.
func TestCancel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const reason = "the order was withdrawn"
	tests := []struct {
		name    string
		who     engine.Principal
		into    string
		prepare func(t *testing.T, b *flowBundle, wi *engine.WorkItem) // with the work item, when there is one
		job     bool
	}{
		{name: "its starter, in a HUMAN state", who: starter, into: "submit"},
		{name: "an admin, while the work item is being created", who: admin, into: "sign_now", job: true},
		{name: "an admin, while the work item waits at its provider", who: admin, into: "sign_now", job: true,
			prepare: func(t *testing.T, b *flowBundle, wi *engine.WorkItem) {
				_, err := b.store.CoupleWorkItem(ctx, wi.ID, "env-1", engine.Activity{Kind: engine.ActivityExternalProgress, ToState: "sign"})
				require.NoError(t, err)
			}},
		{name: "its starter, after an outcome without a transition resolved the work item", who: starter, into: "sign_now",
			prepare: func(t *testing.T, b *flowBundle, wi *engine.WorkItem) {
				require.NoError(t, b.store.CloseWorkItem(ctx, wi.ID, engine.WorkItemResolved, "", nil))
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupFlow(t)
			in := b.start(t, tc.into)
			b.store.takeJobs()
			wi := b.stored(t, in.ID).WorkItem
			if tc.prepare != nil {
				tc.prepare(t, b, wi)
			}
			in = b.store.instances[in.ID]
			got, err := b.runner.Cancel(ctx, tc.who, in.ID, reason)
			require.NoError(t, err)
			require.Equal(t, engine.StatusCancelled, got.Status)
			require.Equal(t, in.StateKey, got.StateKey, "it stays where it was")
			require.Nil(t, got.Assignee, "a cancelled instance is assigned to nobody")
			require.Equal(t, reason, got.Reason)
			require.NotNil(t, got.EndedAt)
			require.Equal(t, in.Revision+1, got.Revision)

			acts := b.store.activities(in.ID)
			last := acts[len(acts)-1]
			require.Equal(t, engine.ActivityCancelled, last.Kind)
			require.Equal(t, tc.who.UserID, last.ActorID)
			require.Equal(t, in.StateKey, last.FromState)
			require.Equal(t, reason, last.Message)

			jobs := b.store.takeJobs()
			if !tc.job {
				require.Empty(t, jobs)
				return
			}
			require.Equal(t, []engine.Job{engine.CancelWorkItemJob{WorkItemID: wi.ID, Reason: reason}}, jobs)
		})
	}
}

// TestCancelRefusals: only an admin or the starter cancels, only an open instance, and with a
// reason; a refusal changes nothing.
func TestCancelRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name    string
		who     engine.Principal
		into    string
		id      string // default: the instance's
		reason  string
		is      error
		message string
		paths   map[string]string
	}{
		{name: "its assignee", who: lawyer, into: "submit", reason: "no", is: engine.ErrPermissionDenied,
			message: "only an admin or the user who started it cancels an instance"},
		{name: "a stranger", who: stranger, into: "submit", reason: "no", is: engine.ErrPermissionDenied},
		{name: "a completed instance", who: admin, into: "fast", reason: "no", is: engine.ErrFailedPrecondition,
			message: "the instance is COMPLETED already"},
		{name: "no such instance", who: admin, into: "submit", id: "i-nope", reason: "no", is: engine.ErrNotFound},
		{name: "no reason", who: admin, into: "submit", reason: "  ", paths: map[string]string{"reason": "is required"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupFlow(t)
			in := b.start(t, tc.into)
			b.store.takeJobs()
			before := b.store.activities(in.ID)
			id := tc.id
			if id == "" {
				id = in.ID
			}
			_, err := b.runner.Cancel(ctx, tc.who, id, tc.reason)
			if tc.is != nil {
				require.ErrorIs(t, err, tc.is)
				require.ErrorContains(t, err, tc.message)
			} else {
				require.Equal(t, tc.paths, problemPaths(t, err))
			}
			require.Equal(t, in, b.store.instances[in.ID], "nothing changed")
			require.Equal(t, before, b.store.activities(in.ID))
			require.Empty(t, b.store.takeJobs())
		})
	}

	t.Run("twice", func(t *testing.T) {
		t.Parallel()
		b := setupFlow(t)
		in := b.start(t, "sign_now")
		b.store.takeJobs()
		_, err := b.runner.Cancel(ctx, starter, in.ID, "first")
		require.NoError(t, err)
		require.Len(t, b.store.takeJobs(), 1)
		_, err = b.runner.Cancel(ctx, admin, in.ID, "second")
		require.ErrorIs(t, err, engine.ErrFailedPrecondition)
		require.ErrorContains(t, err, "the instance is CANCELLED already")
		require.Empty(t, b.store.takeJobs(), "one cancel job")
		require.Equal(t, "first", b.stored(t, in.ID).Reason)
	})
}

// TestWhoSeesItWhenTheDatabaseFails: whether a caller took part in an instance is read from
// the database; when that read fails, the caller is told to retry (the store's error, here
// ErrUnavailable), not refused as a stranger. Admins, the starter and the assignee need no
// read.
func TestWhoSeesItWhenTheDatabaseFails(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupFlow(t)
	in := b.start(t, "submit")
	b.store.mu.Lock()
	b.store.tookPartErr = errors.Join(engine.ErrUnavailable, errors.New("the database is unavailable"))
	b.store.mu.Unlock()
	_, err := b.runner.Get(ctx, stranger, in.ID)
	require.ErrorIs(t, err, engine.ErrUnavailable)
	require.NotErrorIs(t, err, engine.ErrPermissionDenied)
	_, err = b.runner.Take(ctx, stranger, engine.TakeInput{InstanceID: in.ID, TransitionKey: "reject"})
	require.ErrorIs(t, err, engine.ErrUnavailable)
	_, err = b.runner.Cancel(ctx, stranger, in.ID, "no")
	require.ErrorIs(t, err, engine.ErrUnavailable)
	for _, p := range []engine.Principal{admin, starter, lawyer} {
		_, err := b.runner.Get(ctx, p, in.ID)
		require.NoError(t, err)
	}
	b.store.mu.Lock()
	b.store.tookPartErr = nil
	b.store.mu.Unlock()
	_, err = b.runner.Get(ctx, stranger, in.ID)
	require.ErrorIs(t, err, engine.ErrPermissionDenied)
}

// TestSignersFilledBeforeSigning: a signature step's signers may read form fields the form
// leaves optional; an instance entering it without them would fail for good at the work
// item's creation (and a retry would read the same form). So a start or a transition into
// the step without a signer's name or email is refused, naming the fields, and nothing is
// written; a path through a HUMAN state that fills them in goes on.
func TestSignersFilledBeforeSigning(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	draft := engine.Draft{
		Name: "Optional signer",
		States: []engine.State{
			{Key: "start", Kind: engine.StateKindStart, FormFields: []engine.FormField{
				{Name: "signer_name", Type: engine.FieldTypeString},
				{Name: "signer_email", Type: engine.FieldTypeEmail},
			}},
			{Key: "review", Kind: engine.StateKindHuman, Assignee: &engine.Assignee{GroupID: "legal"}, FormFields: []engine.FormField{
				{Name: "signer_email", Type: engine.FieldTypeEmail},
			}},
			{Key: "sign", Kind: engine.StateKindExternal, External: &engine.ExternalStep{
				Provider: docuSign, Signers: []engine.Signer{{NameField: "signer_name", EmailField: "signer_email"}}}},
			{Key: "done", Kind: engine.StateKindEnd},
		},
		Transitions: []engine.Transition{
			{Key: "now", From: "start", To: "sign"},
			{Key: "later", From: "start", To: "review"},
			{Key: "send", From: "review", To: "sign"},
			{Key: "signed", From: "sign", To: "done", OnOutcome: engine.OutcomeFinished},
		},
	}
	require.Empty(t, engine.ValidateDraft(draft, catalog), "optional signer fields are a valid design")
	st := newMemStore()
	st.publish("wf-optional", draft)
	runner := engine.NewRunner(st, st, engine.SystemClock{})
	runner.Providers = catalog

	_, err := runner.Start(ctx, starter, engine.StartInput{WorkflowID: "wf-optional", TransitionKey: "now",
		FormData: map[string]any{"signer_name": "Ada Lovelace"}})
	ps, ok := engine.IsValidation(err)
	require.True(t, ok, "%v", err)
	require.Equal(t, []engine.Problem{{Path: "form_data.signer_email", Message: `is required: signer 1 of "sign" signs with it`}}, ps)
	require.Empty(t, st.takeJobs(), "nothing started")

	in, err := runner.Start(ctx, starter, engine.StartInput{WorkflowID: "wf-optional", TransitionKey: "later",
		FormData: map[string]any{"signer_name": "Ada Lovelace"}})
	require.NoError(t, err, "a HUMAN state comes first")
	_, err = runner.Take(ctx, lawyer, engine.TakeInput{InstanceID: in.ID, TransitionKey: "send", FormData: map[string]any{"signer_email": "  "}})
	ps, ok = engine.IsValidation(err)
	require.True(t, ok, "%v", err)
	require.Equal(t, []engine.Problem{{Path: "form_data.signer_email", Message: `is required: signer 1 of "sign" signs with it`}}, ps)
	got, err := runner.Get(ctx, admin, in.ID)
	require.NoError(t, err)
	require.Equal(t, "review", got.StateKey, "nothing moved")
	moved, err := runner.Take(ctx, lawyer, engine.TakeInput{InstanceID: in.ID, TransitionKey: "send", FormData: map[string]any{"signer_email": "ada@example.com"}})
	require.NoError(t, err)
	require.Equal(t, engine.StatusWaitingExternal, moved.Status)
}

// TestTakeAfterAnotherMovedIt: a caller who read the instance in "review" and takes "approve"
// (without expected_revision) after someone else escalated it to "boss" is told that "boss"
// has no "approve" and what its ways out are, not that "boss" is someone else's
// (PermissionDenied) nor, as an admin, that the form sent does not fit "boss".
func TestTakeAfterAnotherMovedIt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupFlow(t)
	in := b.start(t, "submit")
	_, err := b.runner.Take(ctx, lawyer, engine.TakeInput{InstanceID: in.ID, TransitionKey: "escalate"})
	require.NoError(t, err)
	before := b.stored(t, in.ID)
	for _, who := range []engine.Principal{lawyer, admin} {
		_, err := b.runner.Take(ctx, who, engine.TakeInput{InstanceID: in.ID, TransitionKey: "approve",
			FormData: map[string]any{"note": "fine by me"}})
		require.Equal(t, map[string]string{"transition_key": `state "boss" has no transition "approve"; its ways out are: close`},
			problemPaths(t, err), who.UserID)
	}
	require.Equal(t, before, b.stored(t, in.ID), "nothing changed")
	// A key of no transition, and the right one for the right person, as before.
	_, err = b.runner.Take(ctx, boss, engine.TakeInput{InstanceID: in.ID, TransitionKey: "nope"})
	require.Equal(t, map[string]string{"transition_key": `state "boss" has no transition "nope"; its ways out are: close`}, problemPaths(t, err))
	_, err = b.runner.Take(ctx, lawyer, engine.TakeInput{InstanceID: in.ID, TransitionKey: "close"})
	require.ErrorIs(t, err, engine.ErrPermissionDenied)
	_, err = b.runner.Take(ctx, boss, engine.TakeInput{InstanceID: in.ID, TransitionKey: "close"})
	require.NoError(t, err)
}
