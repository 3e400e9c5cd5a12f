package api_test

import (
	"context"
	"slices"
	"testing"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/store"
)

func listWorkflowIDs(t *testing.T, c clients, includeArchived bool) ([]string, int64) {
	t.Helper()
	var ids []string
	var total int64
	token := ""
	for {
		res, err := c.design.ListWorkflows(context.Background(), connect.NewRequest(&flowhookv1.ListWorkflowsRequest{
			PageSize: 1, PageToken: token, IncludeArchived: includeArchived}))
		require.NoError(t, err)
		for _, wf := range res.Msg.GetWorkflows() {
			ids = append(ids, wf.GetId())
			require.Equal(t, wf.GetArchived(), wf.GetArchivedAt() != nil)
		}
		total = res.Msg.GetTotalSize()
		if token = res.Msg.GetNextPageToken(); token == "" {
			return ids, total
		}
	}
}

// TestArchiveWorkflow: an archived workflow is hidden from ListWorkflows unless asked for,
// still readable, and starts no instance, while an instance in flight goes on; archiving is
// idempotent and unarchiving restores it all. Designers and admins archive; users do not.
func TestArchiveWorkflow(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setup(t, d)
		p := newPeople(t, b)
		ctx := context.Background()
		other, err := b.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: b.draft("Other")}))
		require.NoError(t, err)
		otherID := other.Msg.GetWorkflow().GetId()
		started, err := p.starter.instances.StartInstance(ctx, connect.NewRequest(validStart(t, p.workflowID)))
		require.NoError(t, err)
		inFlight := started.Msg.GetInstance().GetId()

		// A user lists what can be started: published versions, never drafts ("Other" has none).
		startable := func() []*flowhookv1.WorkflowVersion {
			t.Helper()
			res, err := p.starter.design.ListPublishedWorkflows(ctx, connect.NewRequest(&flowhookv1.ListPublishedWorkflowsRequest{}))
			require.NoError(t, err)
			require.EqualValues(t, len(res.Msg.GetVersions()), res.Msg.GetTotalSize())
			return res.Msg.GetVersions()
		}
		pub := startable()
		require.Len(t, pub, 1)
		require.Equal(t, p.workflowID, pub[0].GetWorkflowId())
		require.EqualValues(t, 1, pub[0].GetVersion())
		require.Equal(t, "Contract signing", pub[0].GetName())
		require.NotEmpty(t, pub[0].GetStates(), "the version carries its forms")
		_, err = p.starter.design.ListWorkflows(ctx, connect.NewRequest(&flowhookv1.ListWorkflowsRequest{}))
		require.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err), "drafts stay the designers'")
		// A ListWorkflows page token does not page through it.
		listed, err := b.design.ListWorkflows(ctx, connect.NewRequest(&flowhookv1.ListWorkflowsRequest{PageSize: 1}))
		require.NoError(t, err)
		require.NotEmpty(t, listed.Msg.GetNextPageToken())
		_, err = p.starter.design.ListPublishedWorkflows(ctx, connect.NewRequest(&flowhookv1.ListPublishedWorkflowsRequest{PageToken: listed.Msg.GetNextPageToken()}))
		require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))

		archived, err := b.design.ArchiveWorkflow(ctx, connect.NewRequest(&flowhookv1.ArchiveWorkflowRequest{WorkflowId: p.workflowID}))
		require.NoError(t, err)
		require.Empty(t, startable(), "an archived workflow cannot be started")
		wf := archived.Msg.GetWorkflow()
		require.True(t, wf.GetArchived())
		require.NotNil(t, wf.GetArchivedAt())
		require.Equal(t, int64(1), wf.GetRevision())
		again, err := b.design.ArchiveWorkflow(ctx, connect.NewRequest(&flowhookv1.ArchiveWorkflowRequest{WorkflowId: p.workflowID}))
		require.NoError(t, err)
		require.Equal(t, wf.GetArchivedAt().AsTime(), again.Msg.GetWorkflow().GetArchivedAt().AsTime(), "archiving twice changes nothing")

		ids, total := listWorkflowIDs(t, b.clients, false)
		require.Equal(t, []string{otherID}, ids)
		require.Equal(t, int64(1), total)
		ids, total = listWorkflowIDs(t, b.clients, true)
		require.Equal(t, []string{p.workflowID, otherID}, ids)
		require.Equal(t, int64(2), total)
		// A page token is bound to include_archived.
		first, err := b.design.ListWorkflows(ctx, connect.NewRequest(&flowhookv1.ListWorkflowsRequest{PageSize: 1, IncludeArchived: true}))
		require.NoError(t, err)
		_, err = b.design.ListWorkflows(ctx, connect.NewRequest(&flowhookv1.ListWorkflowsRequest{PageSize: 1, PageToken: first.Msg.GetNextPageToken()}))
		requireCode(t, err, connect.CodeInvalidArgument)
		got, err := b.design.GetWorkflow(ctx, connect.NewRequest(&flowhookv1.GetWorkflowRequest{WorkflowId: p.workflowID}))
		require.NoError(t, err)
		require.True(t, got.Msg.GetWorkflow().GetArchived())

		_, err = p.starter.instances.StartInstance(ctx, connect.NewRequest(validStart(t, p.workflowID)))
		cerr := requireCode(t, err, connect.CodeFailedPrecondition)
		require.Contains(t, cerr.Message(), "workflow "+p.workflowID+" is archived; unarchive it to start instances")
		took, err := p.member.instances.TakeTransition(ctx, connect.NewRequest(&flowhookv1.TakeTransitionRequest{InstanceId: inFlight, TransitionKey: "reject"}))
		require.NoError(t, err, "an instance in flight goes on")
		require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_COMPLETED, took.Msg.GetInstance().GetStatus())

		// Users do not archive; unknown and malformed ids are told apart.
		_, err = p.starter.design.ArchiveWorkflow(ctx, connect.NewRequest(&flowhookv1.ArchiveWorkflowRequest{WorkflowId: otherID}))
		requireCode(t, err, connect.CodePermissionDenied)
		_, err = b.design.ArchiveWorkflow(ctx, connect.NewRequest(&flowhookv1.ArchiveWorkflowRequest{WorkflowId: uuid.NewString()}))
		requireCode(t, err, connect.CodeNotFound)
		_, err = b.design.UnarchiveWorkflow(ctx, connect.NewRequest(&flowhookv1.UnarchiveWorkflowRequest{WorkflowId: uuid.NewString()}))
		requireCode(t, err, connect.CodeNotFound)
		_, err = b.design.ArchiveWorkflow(ctx, connect.NewRequest(&flowhookv1.ArchiveWorkflowRequest{WorkflowId: "not-a-uuid"}))
		requireCode(t, err, connect.CodeInvalidArgument)

		// A designer unarchives.
		designer := newDesigner(t, b)
		un, err := designer.design.UnarchiveWorkflow(ctx, connect.NewRequest(&flowhookv1.UnarchiveWorkflowRequest{WorkflowId: p.workflowID}))
		require.NoError(t, err)
		require.False(t, un.Msg.GetWorkflow().GetArchived())
		require.Nil(t, un.Msg.GetWorkflow().GetArchivedAt())
		_, err = designer.design.UnarchiveWorkflow(ctx, connect.NewRequest(&flowhookv1.UnarchiveWorkflowRequest{WorkflowId: p.workflowID}))
		require.NoError(t, err, "unarchiving twice is no error")
		ids, total = listWorkflowIDs(t, b.clients, false)
		require.Equal(t, []string{p.workflowID, otherID}, ids)
		require.Equal(t, int64(2), total)
		_, err = p.starter.instances.StartInstance(ctx, connect.NewRequest(validStart(t, p.workflowID)))
		require.NoError(t, err)
	})
}

// newDesigner creates a user with the DESIGNER role only and returns their clients.
func newDesigner(t *testing.T, b *testBundle) clients {
	t.Helper()
	ctx := context.Background()
	u, err := b.identity.CreateUser(ctx, connect.NewRequest(&flowhookv1.CreateUserRequest{
		DisplayName: "dana", Email: "dana@example.com", Roles: []flowhookv1.Role{flowhookv1.Role_ROLE_DESIGNER}}))
	require.NoError(t, err)
	k, err := b.identity.CreateApiKey(ctx, connect.NewRequest(&flowhookv1.CreateApiKeyRequest{UserId: u.Msg.GetUser().GetId(), Name: "test"}))
	require.NoError(t, err)
	return b.as(k.Msg.GetSecret())
}

func deactivate(c clients, id string) (*flowhookv1.User, error) {
	res, err := c.identity.DeactivateUser(context.Background(), connect.NewRequest(&flowhookv1.DeactivateUserRequest{UserId: id}))
	if err != nil {
		return nil, err
	}
	return res.Msg.GetUser(), nil
}

func reactivate(c clients, id string) (*flowhookv1.User, error) {
	res, err := c.identity.ReactivateUser(context.Background(), connect.NewRequest(&flowhookv1.ReactivateUserRequest{UserId: id}))
	if err != nil {
		return nil, err
	}
	return res.Msg.GetUser(), nil
}

func whoAmI(c clients) error {
	_, err := c.identity.WhoAmI(context.Background(), connect.NewRequest(&flowhookv1.WhoAmIRequest{}))
	return err
}

// TestDeactivateUser: a deactivated user's key is refused on the very next call, on every
// replica, and works again after reactivation; both are idempotent and listed. Only admins
// deactivate, never themselves.
func TestDeactivateUser(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setup(t, d)
		p := newPeople(t, b)
		// The starter's key on a second replica, which caches nothing either.
		onReplica := b.replica(t).clientsWith(p.starter.opts...)
		ctx := context.Background()
		require.NoError(t, whoAmI(p.starter))
		require.NoError(t, whoAmI(onReplica))

		u, err := deactivate(b.clients, p.starterID)
		require.NoError(t, err)
		require.True(t, u.GetDeactivated())
		require.NotNil(t, u.GetDeactivatedAt())
		for _, c := range []clients{p.starter, onReplica} {
			cerr := requireCode(t, whoAmI(c), connect.CodeUnauthenticated)
			require.Equal(t, "the API key's user is deactivated", cerr.Message())
			_, err = c.instances.StartInstance(ctx, connect.NewRequest(validStart(t, p.workflowID)))
			requireCode(t, err, connect.CodeUnauthenticated)
		}
		again, err := deactivate(b.clients, p.starterID)
		require.NoError(t, err)
		require.Equal(t, u.GetDeactivatedAt().AsTime(), again.GetDeactivatedAt().AsTime(), "deactivating twice changes nothing")
		users, err := b.identity.ListUsers(ctx, connect.NewRequest(&flowhookv1.ListUsersRequest{}))
		require.NoError(t, err)
		for _, u := range users.Msg.GetUsers() {
			require.Equal(t, u.GetId() == p.starterID, u.GetDeactivated(), u.GetDisplayName())
		}

		u, err = reactivate(b.clients, p.starterID)
		require.NoError(t, err)
		require.False(t, u.GetDeactivated())
		require.Nil(t, u.GetDeactivatedAt())
		_, err = reactivate(b.clients, p.starterID)
		require.NoError(t, err, "reactivating twice is no error")
		require.NoError(t, whoAmI(p.starter), "the key works again")
		require.NoError(t, whoAmI(onReplica), "on every replica")
		me, err := p.starter.identity.WhoAmI(ctx, connect.NewRequest(&flowhookv1.WhoAmIRequest{}))
		require.NoError(t, err)
		require.False(t, me.Msg.GetUser().GetDeactivated())

		// Refusals.
		admin, err := b.identity.WhoAmI(ctx, connect.NewRequest(&flowhookv1.WhoAmIRequest{}))
		require.NoError(t, err)
		_, err = deactivate(b.clients, admin.Msg.GetUser().GetId())
		cerr := requireCode(t, err, connect.CodeFailedPrecondition)
		require.Contains(t, cerr.Message(), "an admin cannot deactivate themself")
		_, err = deactivate(p.member, p.starterID)
		requireCode(t, err, connect.CodePermissionDenied)
		_, err = reactivate(p.member, p.starterID)
		requireCode(t, err, connect.CodePermissionDenied)
		_, err = deactivate(b.clients, uuid.NewString())
		requireCode(t, err, connect.CodeNotFound)
		_, err = reactivate(b.clients, uuid.NewString())
		requireCode(t, err, connect.CodeNotFound)
		_, err = deactivate(b.clients, "not-a-uuid")
		requireCode(t, err, connect.CodeInvalidArgument)
		require.NoError(t, whoAmI(b.clients), "the admin is still active")
	})
}

func reassign(c clients, id string, a *flowhookv1.Assignee, reason string) (*flowhookv1.Instance, error) {
	res, err := c.instances.ReassignInstance(context.Background(), connect.NewRequest(&flowhookv1.ReassignInstanceRequest{
		InstanceId: id, Assignee: a, Reason: reason}))
	if err != nil {
		return nil, err
	}
	return res.Msg.GetInstance(), nil
}

func toUser(id string) *flowhookv1.Assignee {
	return &flowhookv1.Assignee{Assignee: &flowhookv1.Assignee_UserId{UserId: id}}
}

func inactiveIDs(t *testing.T, c clients) ([]string, int64) {
	t.Helper()
	res, err := c.instances.ListInstances(context.Background(), connect.NewRequest(&flowhookv1.ListInstancesRequest{
		Filter: &flowhookv1.InstanceFilter{AssigneeInactive: true}}))
	require.NoError(t, err)
	var ids []string
	for _, in := range res.Msg.GetInstances() {
		ids = append(ids, in.GetId())
	}
	return ids, res.Msg.GetTotalSize()
}

// TestPublishRefusesDeactivatedAssignee: a draft may name a deactivated user, but publishing it
// is refused (FailedPrecondition, the state and the user named), since every new instance would
// wait on someone who cannot act; reactivated, it publishes.
func TestPublishRefusesDeactivatedAssignee(t *testing.T) {
	t.Parallel()
	b := setup(t, store.Postgres)
	p := newPeople(t, b)
	ctx := context.Background()
	d := b.draft("Given to one person")
	d.States[1].Assignee = &flowhookv1.Assignee{Assignee: &flowhookv1.Assignee_UserId{UserId: p.memberID}}
	_, err := deactivate(b.clients, p.memberID)
	require.NoError(t, err)
	wf, err := b.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: d}))
	require.NoError(t, err, "a draft may name them")
	id := wf.Msg.GetWorkflow().GetId()
	_, err = b.design.PublishWorkflow(ctx, connect.NewRequest(&flowhookv1.PublishWorkflowRequest{WorkflowId: id, ExpectedRevision: 1}))
	cerr := requireCode(t, err, connect.CodeFailedPrecondition)
	require.Contains(t, cerr.Message(), "workflow.states[1].assignee.user_id")
	require.Contains(t, cerr.Message(), "user "+p.memberID+" is deactivated and cannot be given work")
	_, err = p.starter.instances.StartInstance(ctx, connect.NewRequest(validStart(t, id)))
	requireCode(t, err, connect.CodeFailedPrecondition)

	_, err = reactivate(b.clients, p.memberID)
	require.NoError(t, err)
	v, err := b.design.PublishWorkflow(ctx, connect.NewRequest(&flowhookv1.PublishWorkflowRequest{WorkflowId: id, ExpectedRevision: 1}))
	require.NoError(t, err)
	require.EqualValues(t, 1, v.Msg.GetVersion().GetVersion())

	// Deactivated again: the same publication retried (its answer lost) is answered with the
	// version it made, as any retried publication is, not refused for what changed since.
	_, err = deactivate(b.clients, p.memberID)
	require.NoError(t, err)
	again, err := b.design.PublishWorkflow(ctx, connect.NewRequest(&flowhookv1.PublishWorkflowRequest{WorkflowId: id, ExpectedRevision: 1}))
	require.NoError(t, err)
	require.True(t, proto.Equal(v.Msg.GetVersion(), again.Msg.GetVersion()))
}

// TestAssigneeMustBeAbleToWork: a user with the DESIGNER role alone cannot list, read or act
// on instances, so work given to them would wait until an admin reassigned it: a draft may
// name them, but publishing is refused and so is a reassignment to them, each saying why.
func TestAssigneeMustBeAbleToWork(t *testing.T) {
	t.Parallel()
	b := setup(t, store.Postgres)
	p := newPeople(t, b)
	ctx := context.Background()
	u, err := b.identity.CreateUser(ctx, connect.NewRequest(&flowhookv1.CreateUserRequest{
		DisplayName: "Dana Designer", Email: "dana@example.com", Roles: []flowhookv1.Role{flowhookv1.Role_ROLE_DESIGNER}}))
	require.NoError(t, err)
	designerID := u.Msg.GetUser().GetId()
	d := b.draft("Given to a designer")
	d.States[1].Assignee = toUser(designerID)
	wf, err := b.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: d}))
	require.NoError(t, err, "a draft may name them")
	_, err = b.design.PublishWorkflow(ctx, connect.NewRequest(&flowhookv1.PublishWorkflowRequest{WorkflowId: wf.Msg.GetWorkflow().GetId(), ExpectedRevision: 1}))
	cerr := requireCode(t, err, connect.CodeFailedPrecondition)
	require.Contains(t, cerr.Message(), "workflow.states[1].assignee.user_id")
	require.Contains(t, cerr.Message(), "user "+designerID+" has neither the USER nor the ADMIN role")

	started, err := p.starter.instances.StartInstance(ctx, connect.NewRequest(validStart(t, p.workflowID)))
	require.NoError(t, err)
	_, err = reassign(b.clients, started.Msg.GetInstance().GetId(), toUser(designerID), "")
	cerr = requireCode(t, err, connect.CodeFailedPrecondition)
	require.Contains(t, cerr.Message(), "has neither the USER nor the ADMIN role")
	got, err := b.instances.GetInstance(ctx, connect.NewRequest(&flowhookv1.GetInstanceRequest{InstanceId: started.Msg.GetInstance().GetId()}))
	require.NoError(t, err)
	require.Equal(t, started.Msg.GetInstance().GetRevision(), got.Msg.GetInstance().GetRevision(), "nothing changed")
}

// TestReassignInstance: an admin moves the HUMAN work from the legal group to a user: it
// leaves the group's "assigned to me" for the user's, the group's member may no longer act on
// it, the user may; one REASSIGNED entry records it; a repeat changes nothing. The instance of
// a deactivated user is listed by assignee_inactive until it is reassigned.
func TestReassignInstance(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setup(t, d)
		p := newPeople(t, b)
		ctx := context.Background()
		started, err := p.starter.instances.StartInstance(ctx, connect.NewRequest(validStart(t, p.workflowID)))
		require.NoError(t, err)
		in := started.Msg.GetInstance()
		require.Contains(t, assignedIDs(t, p.member), in.GetId())
		require.NotContains(t, assignedIDs(t, p.outsider), in.GetId())

		out, err := reassign(b.clients, in.GetId(), toUser(p.outsiderID), "legal is away")
		require.NoError(t, err)
		require.Equal(t, p.outsiderID, out.GetAssignee().GetUserId())
		require.Equal(t, in.GetRevision()+1, out.GetRevision())
		require.Equal(t, "review", out.GetStateKey())
		require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_ACTIVE, out.GetStatus())
		require.Contains(t, assignedIDs(t, p.outsider), in.GetId())
		require.NotContains(t, assignedIDs(t, p.member), in.GetId())

		entries := flowsActivity(t, b.clients, in.GetId())
		found := flowsFind(entries, flowhookv1.ActivityKind_ACTIVITY_KIND_REASSIGNED, "")
		require.Len(t, found, 1)
		e := entries[found[0]]
		require.Equal(t, "reassigned from group "+b.legalGroupID+" to user "+p.outsiderID+": legal is away", e.GetMessage())
		require.Equal(t, p.outsiderID, e.GetAssignee().GetUserId())
		require.Equal(t, "review", e.GetFromState())
		require.Equal(t, "review", e.GetToState())
		admin, err := b.identity.WhoAmI(ctx, connect.NewRequest(&flowhookv1.WhoAmIRequest{}))
		require.NoError(t, err)
		require.Equal(t, admin.Msg.GetUser().GetId(), e.GetActorId())

		repeat, err := reassign(b.clients, in.GetId(), toUser(p.outsiderID), "legal is away")
		require.NoError(t, err, "a duplicate call is no error")
		require.Equal(t, out.GetRevision(), repeat.GetRevision(), "and changes nothing")
		require.Len(t, flowsActivity(t, b.clients, in.GetId()), len(entries))

		// The user it went to is deactivated: the instance is listed for an admin to move on.
		ids, total := inactiveIDs(t, b.clients)
		require.Empty(t, ids)
		require.Zero(t, total)
		_, err = deactivate(b.clients, p.outsiderID)
		require.NoError(t, err)
		ids, total = inactiveIDs(t, b.clients)
		require.Equal(t, []string{in.GetId()}, ids)
		require.Equal(t, int64(1), total)
		_, err = reassign(b.clients, in.GetId(), toUser(p.outsiderID), "")
		cerr := requireCode(t, err, connect.CodeFailedPrecondition)
		require.Contains(t, cerr.Message(), "is deactivated and cannot be given work")
		out, err = reassign(b.clients, in.GetId(), toUser(p.memberID), "")
		require.NoError(t, err)
		ids, _ = inactiveIDs(t, b.clients)
		require.Empty(t, ids)

		// The member now acts on it as the user it was given to, no longer as legal.
		_, err = p.member.instances.TakeTransition(ctx, connect.NewRequest(&flowhookv1.TakeTransitionRequest{InstanceId: in.GetId(), TransitionKey: "reject"}))
		require.NoError(t, err)
		_, err = reassign(b.clients, in.GetId(), toUser(p.starterID), "")
		cerr = requireCode(t, err, connect.CodeFailedPrecondition)
		require.Contains(t, cerr.Message(), "COMPLETED")

		// Refusals on an ACTIVE instance.
		started, err = p.starter.instances.StartInstance(ctx, connect.NewRequest(validStart(t, p.workflowID)))
		require.NoError(t, err)
		id := started.Msg.GetInstance().GetId()
		_, err = reassign(p.member, id, toUser(p.starterID), "")
		requireCode(t, err, connect.CodePermissionDenied)
		_, err = reassign(b.clients, id, toUser(uuid.NewString()), "")
		requireCode(t, err, connect.CodeNotFound)
		_, err = reassign(b.clients, id, &flowhookv1.Assignee{Assignee: &flowhookv1.Assignee_GroupId{GroupId: uuid.NewString()}}, "")
		requireCode(t, err, connect.CodeNotFound)
		_, err = reassign(b.clients, uuid.NewString(), toUser(p.starterID), "")
		requireCode(t, err, connect.CodeNotFound)
		_, err = reassign(b.clients, "not-a-uuid", toUser(p.starterID), "")
		requireCode(t, err, connect.CodeInvalidArgument)
		_, err = reassign(b.clients, id, nil, "")
		requireCode(t, err, connect.CodeInvalidArgument)
		_, err = reassign(b.clients, id, &flowhookv1.Assignee{}, "")
		requireCode(t, err, connect.CodeInvalidArgument)
		got := flowsGet(b.clients, id)
		require.Equal(t, started.Msg.GetInstance().GetRevision(), got.GetRevision(), "no refusal changed it")
		require.True(t, slices.Contains(assignedIDs(t, p.member), id), "it is still legal's")
	})
}
