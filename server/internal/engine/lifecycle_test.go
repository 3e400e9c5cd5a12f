package engine_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
)

// memDirectory is the Directory Reassign checks assignees against: users (some deactivated)
// and groups by id.
type memDirectory struct {
	users  map[string]engine.User
	groups map[string]engine.Group
}

func (d *memDirectory) GetUser(_ context.Context, id string) (engine.User, error) {
	u, ok := d.users[id]
	if !ok {
		return engine.User{}, fmt.Errorf("%w: user %s", engine.ErrNotFound, id)
	}
	return u, nil
}

func (d *memDirectory) GetGroup(_ context.Context, id string) (engine.Group, error) {
	g, ok := d.groups[id]
	if !ok {
		return engine.Group{}, fmt.Errorf("%w: group %s", engine.ErrNotFound, id)
	}
	return g, nil
}

// withDirectory gives the flow's runner a directory of the flow's people, and a deactivated
// user "u-gone".
func (b *flowBundle) withDirectory() {
	gone := time.Now()
	b.runner.Directory = &memDirectory{
		users: map[string]engine.User{
			"u-legal":    {ID: "u-legal", Roles: []engine.Role{engine.RoleUser}},
			"u-boss":     {ID: "u-boss", Roles: []engine.Role{engine.RoleUser}},
			"u-stranger": {ID: "u-stranger", Roles: []engine.Role{engine.RoleUser}},
			"u-gone":     {ID: "u-gone", Roles: []engine.Role{engine.RoleUser}, DeactivatedAt: &gone},
			"u-designer": {ID: "u-designer", Roles: []engine.Role{engine.RoleDesigner}},
			"u-admin":    {ID: "u-admin", Roles: []engine.Role{engine.RoleAdmin}},
		},
		groups: map[string]engine.Group{"legal": {ID: "legal"}, "sales": {ID: "sales"}},
	}
}

// TestStartRefusesArchivedWorkflow: an archived workflow starts nothing (FailedPrecondition,
// saying how to undo it) while its instances in flight go on; archiving twice changes nothing,
// and unarchiving lets instances start again.
func TestStartRefusesArchivedWorkflow(t *testing.T) {
	t.Parallel()
	b := setupFlow(t)
	ctx := context.Background()
	designer := engine.NewDesigner(b.store, nil, catalog, nil)
	inFlight := b.start(t, "submit")
	first, err := b.runner.Start(ctx, starter, engine.StartInput{WorkflowID: flowID, TransitionKey: "submit", FormData: flowForm(), RequestID: "r-1"})
	require.NoError(t, err)

	wf, err := designer.Archive(ctx, flowID)
	require.NoError(t, err)
	require.NotNil(t, wf.ArchivedAt)
	again, err := designer.Archive(ctx, flowID)
	require.NoError(t, err)
	require.Equal(t, wf, again, "archiving an archived workflow changes nothing")
	got, err := designer.Get(ctx, flowID)
	require.NoError(t, err)
	require.Equal(t, wf.ArchivedAt, got.ArchivedAt, "an archived workflow is still there to read")

	_, err = b.runner.Start(ctx, starter, engine.StartInput{WorkflowID: flowID, TransitionKey: "submit", FormData: flowForm()})
	require.ErrorIs(t, err, engine.ErrFailedPrecondition)
	require.ErrorContains(t, err, "workflow "+flowID+" is archived; unarchive it to start instances")
	_, err = b.runner.Start(ctx, starter, engine.StartInput{WorkflowID: flowID, Version: 1, TransitionKey: "submit", FormData: flowForm()})
	require.ErrorIs(t, err, engine.ErrFailedPrecondition, "a named version is refused too")
	repeat, err := b.runner.Start(ctx, starter, engine.StartInput{WorkflowID: flowID, TransitionKey: "submit", FormData: flowForm(), RequestID: "r-1"})
	require.NoError(t, err, "a repeated request answers the instance it started before the archiving")
	require.Equal(t, first.ID, repeat.ID)

	moved, err := b.runner.Take(ctx, lawyer, engine.TakeInput{InstanceID: inFlight.ID, TransitionKey: "escalate"})
	require.NoError(t, err, "an instance in flight goes on")
	require.Equal(t, "boss", moved.StateKey)

	wf, err = designer.Unarchive(ctx, flowID)
	require.NoError(t, err)
	require.Nil(t, wf.ArchivedAt)
	again, err = designer.Unarchive(ctx, flowID)
	require.NoError(t, err)
	require.Equal(t, wf, again, "unarchiving a workflow that is not archived changes nothing")
	b.start(t, "submit")

	_, err = designer.Archive(ctx, "wf-nobody")
	require.ErrorIs(t, err, engine.ErrNotFound)
}

// TestReassign: an admin moves the HUMAN work of an ACTIVE instance to another user or group.
// Only the assignee changes, one REASSIGNED entry says who did it, from whom to whom and why;
// the old assignee may no longer take its transitions, the new one may, and the next state
// gets the assignee of its definition again.
func TestReassign(t *testing.T) {
	t.Parallel()
	b := setupFlow(t)
	b.withDirectory()
	ctx := context.Background()
	in := b.start(t, "submit")
	require.Equal(t, &engine.Assignee{GroupID: "legal"}, in.Assignee)
	before := len(b.store.activities(in.ID))

	out, err := b.runner.Reassign(ctx, admin, engine.ReassignInput{InstanceID: in.ID,
		Assignee: engine.Assignee{UserID: "u-stranger"}, Reason: "legal is on holiday"})
	require.NoError(t, err)
	require.Equal(t, &engine.Assignee{UserID: "u-stranger"}, out.Assignee)
	require.Equal(t, in.Revision+1, out.Revision)
	// Every other field is as read.
	want := in
	want.Assignee, want.Revision, want.UpdatedAt = out.Assignee, out.Revision, out.UpdatedAt
	require.Equal(t, want, out)
	stored := b.stored(t, in.ID)
	require.Equal(t, out.Assignee, stored.Assignee)

	acts := b.store.activities(in.ID)
	require.Len(t, acts, before+1)
	last := acts[len(acts)-1]
	require.Equal(t, engine.ActivityReassigned, last.Kind)
	require.Equal(t, admin.UserID, last.ActorID)
	require.Equal(t, "review", last.FromState)
	require.Equal(t, "review", last.ToState)
	require.Equal(t, &engine.Assignee{UserID: "u-stranger"}, last.Assignee)
	require.Equal(t, "reassigned from group legal to user u-stranger: legal is on holiday", last.Message)

	// The same assignee again: nothing changes, nothing is recorded.
	same, err := b.runner.Reassign(ctx, admin, engine.ReassignInput{InstanceID: in.ID, Assignee: engine.Assignee{UserID: "u-stranger"}})
	require.NoError(t, err)
	require.Equal(t, out.Revision, same.Revision)
	require.Len(t, b.store.activities(in.ID), before+1)

	_, err = b.runner.Take(ctx, lawyer, engine.TakeInput{InstanceID: in.ID, TransitionKey: "escalate"})
	require.ErrorIs(t, err, engine.ErrPermissionDenied, "the old assignee no longer takes its transitions")
	moved, err := b.runner.Take(ctx, stranger, engine.TakeInput{InstanceID: in.ID, TransitionKey: "escalate"})
	require.NoError(t, err, "the new assignee does")
	require.Equal(t, "boss", moved.StateKey)
	require.Equal(t, &engine.Assignee{UserID: "u-boss"}, moved.Assignee, "the next state's own assignee applies again")

	// To a group, with no reason.
	out, err = b.runner.Reassign(ctx, admin, engine.ReassignInput{InstanceID: in.ID, Assignee: engine.Assignee{GroupID: "sales"}})
	require.NoError(t, err)
	require.Equal(t, &engine.Assignee{GroupID: "sales"}, out.Assignee)
	acts = b.store.activities(in.ID)
	require.Equal(t, "reassigned from user u-boss to group sales", acts[len(acts)-1].Message)
	_, err = b.runner.Take(ctx, stranger, engine.TakeInput{InstanceID: in.ID, TransitionKey: "close"})
	require.NoError(t, err, "a member of the new group takes it")
}

// TestReassignRefusals: only admins reassign, only ACTIVE instances, only to an assignee that
// exists and may be given work; a change that races with the reassignment wins over it.
func TestReassignRefusals(t *testing.T) {
	t.Parallel()
	b := setupFlow(t)
	b.withDirectory()
	ctx := context.Background()
	active := b.start(t, "submit")
	waiting := b.start(t, "sign_now")
	done := b.start(t, "fast")
	to := engine.Assignee{UserID: "u-boss"}

	tests := []struct {
		name string
		p    engine.Principal
		in   engine.ReassignInput
		is   error
		text string
	}{
		{"not an admin", lawyer, engine.ReassignInput{InstanceID: active.ID, Assignee: to}, engine.ErrPermissionDenied, "only an admin"},
		{"no assignee", admin, engine.ReassignInput{InstanceID: active.ID}, nil, "assignee: is required"},
		{"both", admin, engine.ReassignInput{InstanceID: active.ID, Assignee: engine.Assignee{UserID: "u-boss", GroupID: "legal"}}, nil, "not both"},
		{"reason too long", admin, engine.ReassignInput{InstanceID: active.ID, Assignee: to, Reason: strings.Repeat("x", engine.MaxDescriptionLen+1)}, nil, "reason"},
		{"unknown instance", admin, engine.ReassignInput{InstanceID: "i-nobody", Assignee: to}, engine.ErrNotFound, "i-nobody"},
		{"waiting external", admin, engine.ReassignInput{InstanceID: waiting.ID, Assignee: to}, engine.ErrFailedPrecondition, "WAITING_EXTERNAL"},
		{"completed", admin, engine.ReassignInput{InstanceID: done.ID, Assignee: to}, engine.ErrFailedPrecondition, "COMPLETED"},
		{"unknown user", admin, engine.ReassignInput{InstanceID: active.ID, Assignee: engine.Assignee{UserID: "u-nobody"}}, engine.ErrNotFound, `no user has the id "u-nobody"`},
		{"unknown group", admin, engine.ReassignInput{InstanceID: active.ID, Assignee: engine.Assignee{GroupID: "g-nobody"}}, engine.ErrNotFound, `no group has the id "g-nobody"`},
		{"deactivated user", admin, engine.ReassignInput{InstanceID: active.ID, Assignee: engine.Assignee{UserID: "u-gone"}}, engine.ErrFailedPrecondition, "user u-gone is deactivated"},
		{"a designer only", admin, engine.ReassignInput{InstanceID: active.ID, Assignee: engine.Assignee{UserID: "u-designer"}}, engine.ErrFailedPrecondition, "user u-designer has neither the USER nor the ADMIN role"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := b.runner.Reassign(ctx, tt.p, tt.in)
			if tt.is == nil {
				_, ok := engine.IsValidation(err)
				require.True(t, ok, "want a validation error, got %v", err)
			} else {
				require.ErrorIs(t, err, tt.is)
			}
			require.ErrorContains(t, err, tt.text)
		})
	}
	require.Equal(t, active.Revision, b.stored(t, active.ID).Revision, "no refusal changed the instance")

	// The assignee takes a transition while the admin reassigns: the transition stands.
	var once sync.Once
	b.store.beforeUpdate = func() {
		once.Do(func() {
			_, err := b.runner.Take(ctx, lawyer, engine.TakeInput{InstanceID: active.ID, TransitionKey: "escalate"})
			require.NoError(t, err)
		})
	}
	_, err := b.runner.Reassign(ctx, admin, engine.ReassignInput{InstanceID: active.ID, Assignee: engine.Assignee{UserID: "u-stranger"}})
	require.ErrorIs(t, err, engine.ErrConflict)
	got := b.stored(t, active.ID)
	require.Equal(t, "boss", got.StateKey)
	require.Equal(t, &engine.Assignee{UserID: "u-boss"}, got.Assignee)
}

// memUsers is an identity store that records deactivations.
type memUsers struct {
	engine.IdentityStore
	mu    sync.Mutex
	calls []string
}

func (s *memUsers) SetDeactivated(_ context.Context, id string, deactivate bool) (engine.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, fmt.Sprintf("%s %v", id, deactivate))
	u := engine.User{ID: id}
	if deactivate {
		now := time.Now()
		u.DeactivatedAt = &now
	}
	return u, nil
}

// TestDeactivateRules: only admins deactivate and reactivate users, and never themselves (in
// whatever case they spell their id); the last active admin is the store's to guard.
func TestDeactivateRules(t *testing.T) {
	t.Parallel()
	st := &memUsers{}
	id := engine.NewIdentity(st, engine.SystemClock{})
	ctx := context.Background()
	me := engine.Principal{UserID: "0190f2c4-5a3b-7c00-8000-00000000abcd", Roles: []engine.Role{engine.RoleAdmin}}

	_, err := id.Deactivate(ctx, starter, "u-other")
	require.ErrorIs(t, err, engine.ErrPermissionDenied)
	_, err = id.Reactivate(ctx, starter, "u-other")
	require.ErrorIs(t, err, engine.ErrPermissionDenied)
	for _, self := range []string{me.UserID, strings.ToUpper(me.UserID)} {
		_, err = id.Deactivate(ctx, me, self)
		require.ErrorIs(t, err, engine.ErrFailedPrecondition)
		require.ErrorContains(t, err, "an admin cannot deactivate themself")
	}
	require.Empty(t, st.calls, "nothing refused reached the store")

	u, err := id.Deactivate(ctx, me, "u-other")
	require.NoError(t, err)
	require.NotNil(t, u.DeactivatedAt)
	u, err = id.Reactivate(ctx, me, "u-other")
	require.NoError(t, err)
	require.Nil(t, u.DeactivatedAt)
	require.Equal(t, []string{"u-other true", "u-other false"}, st.calls)
	require.ErrorIs(t, engine.ErrLastAdmin, engine.ErrFailedPrecondition, "the store's refusal is a failed precondition")
}
