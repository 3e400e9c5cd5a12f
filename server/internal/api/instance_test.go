package api_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/store"
)

// people are the users of an instance test: a starter, a member of the legal group, and an
// outsider, each with their clients.
type people struct {
	starter, member, outsider       clients
	starterID, memberID, outsiderID string
	workflowID                      string
}

func newPeople(t testing.TB, b *testBundle) people {
	t.Helper()
	ctx := context.Background()
	user := func(name string) (string, clients) {
		u, err := b.identity.CreateUser(ctx, connect.NewRequest(&flowhookv1.CreateUserRequest{
			DisplayName: name, Email: name + "@example.com", Roles: []flowhookv1.Role{flowhookv1.Role_ROLE_USER}}))
		require.NoError(t, err)
		k, err := b.identity.CreateApiKey(ctx, connect.NewRequest(&flowhookv1.CreateApiKeyRequest{UserId: u.Msg.GetUser().GetId(), Name: "test"}))
		require.NoError(t, err)
		return u.Msg.GetUser().GetId(), b.as(k.Msg.GetSecret())
	}
	var p people
	p.starterID, p.starter = user("bob")
	p.memberID, p.member = user("alice")
	p.outsiderID, p.outsider = user("mallory")
	_, err := b.identity.AddGroupMember(ctx, connect.NewRequest(&flowhookv1.AddGroupMemberRequest{GroupId: b.legalGroupID, UserId: p.memberID}))
	require.NoError(t, err)
	wf, err := b.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: b.draft("Contract signing")}))
	require.NoError(t, err)
	p.workflowID = wf.Msg.GetWorkflow().GetId()
	_, err = b.design.PublishWorkflow(ctx, connect.NewRequest(&flowhookv1.PublishWorkflowRequest{WorkflowId: p.workflowID, ExpectedRevision: 1}))
	require.NoError(t, err)
	return p
}

func form(t testing.TB, m map[string]any) *structpb.Struct {
	t.Helper()
	s, err := structpb.NewStruct(m)
	require.NoError(t, err)
	return s
}

func validStart(t testing.TB, workflowID string) *flowhookv1.StartInstanceRequest {
	return &flowhookv1.StartInstanceRequest{WorkflowId: workflowID, FormData: form(t, map[string]any{
		"signer_name": "Ada Lovelace", "signer_email": "Ada@Example.com", "amount": 1200.5})}
}

func assignedIDs(t *testing.T, c clients) []string {
	t.Helper()
	res, err := c.instances.ListAssignedToMe(context.Background(), connect.NewRequest(&flowhookv1.ListAssignedToMeRequest{}))
	require.NoError(t, err)
	var ids []string
	for _, in := range res.Msg.GetInstances() {
		ids = append(ids, in.GetId())
	}
	return ids
}

func TestInstanceLifecycle(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setup(t, d)
		p := newPeople(t, b)
		ctx := context.Background()

		started, err := p.starter.instances.StartInstance(ctx, connect.NewRequest(validStart(t, p.workflowID)))
		require.NoError(t, err)
		in := started.Msg.GetInstance()
		require.Equal(t, "review", in.GetStateKey())
		require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_ACTIVE, in.GetStatus())
		require.Equal(t, b.legalGroupID, in.GetAssignee().GetGroupId())
		require.EqualValues(t, 1, in.GetVersion())
		require.Equal(t, p.starterID, in.GetStartedBy())
		require.Equal(t, "ada@example.com", in.GetFormData().AsMap()["signer_email"], "emails are kept lower-case")

		// It waits in the member's "assigned to me", not in the starter's or the outsider's.
		require.Equal(t, []string{in.GetId()}, assignedIDs(t, p.member))
		require.Empty(t, assignedIDs(t, p.starter))
		require.Empty(t, assignedIDs(t, p.outsider))

		// The outsider may not act; a wrong transition key lists the ways out.
		_, err = p.outsider.instances.TakeTransition(ctx, connect.NewRequest(&flowhookv1.TakeTransitionRequest{InstanceId: in.GetId(), TransitionKey: "approve"}))
		requireCode(t, err, connect.CodePermissionDenied)
		_, err = p.member.instances.TakeTransition(ctx, connect.NewRequest(&flowhookv1.TakeTransitionRequest{InstanceId: in.GetId(), TransitionKey: "signed"}))
		require.Contains(t, problems(t, requireCode(t, err, connect.CodeInvalidArgument))["transition_key"], "approve, reject")
		_, err = p.member.instances.TakeTransition(ctx, connect.NewRequest(&flowhookv1.TakeTransitionRequest{InstanceId: in.GetId(), TransitionKey: "approve", ExpectedRevision: 7}))
		requireCode(t, err, connect.CodeAborted)

		took, err := p.member.instances.TakeTransition(ctx, connect.NewRequest(&flowhookv1.TakeTransitionRequest{
			InstanceId: in.GetId(), TransitionKey: "approve", ExpectedRevision: in.GetRevision()}))
		require.NoError(t, err)
		moved := took.Msg.GetInstance()
		require.Equal(t, "sign", moved.GetStateKey())
		require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_WAITING_EXTERNAL, moved.GetStatus())
		require.Equal(t, flowhookv1.Provider_PROVIDER_DOCUSIGN, moved.GetProvider())
		require.Nil(t, moved.GetAssignee(), "external states are assigned to nobody")
		require.Equal(t, in.GetRevision()+1, moved.GetRevision())
		require.Empty(t, assignedIDs(t, p.member), "EXTERNAL states never appear in assigned to me")

		// The member acted, so may still read it; the outsider may not.
		_, err = p.member.instances.GetInstance(ctx, connect.NewRequest(&flowhookv1.GetInstanceRequest{InstanceId: in.GetId()}))
		require.NoError(t, err)
		_, err = p.outsider.instances.GetInstance(ctx, connect.NewRequest(&flowhookv1.GetInstanceRequest{InstanceId: in.GetId()}))
		requireCode(t, err, connect.CodePermissionDenied)

		// Form Activity: every step in order, read in pages of two.
		var entries []*flowhookv1.ActivityEntry
		token := ""
		for {
			res, err := p.starter.instances.ListActivity(ctx, connect.NewRequest(&flowhookv1.ListActivityRequest{InstanceId: in.GetId(), PageSize: 2, PageToken: token}))
			require.NoError(t, err)
			entries = append(entries, res.Msg.GetEntries()...)
			if token = res.Msg.GetNextPageToken(); token == "" {
				break
			}
		}
		var kinds []flowhookv1.ActivityKind
		for i, e := range entries {
			require.EqualValues(t, i+1, e.GetSequence())
			kinds = append(kinds, e.GetKind())
		}
		// DocuSign is not configured here: the background creation of the envelope may already
		// have failed the instance, which the timeline then ends with.
		if len(kinds) > 6 {
			require.Equal(t, flowhookv1.ActivityKind_ACTIVITY_KIND_FAILED, kinds[6])
			kinds = kinds[:6]
		}
		require.Equal(t, []flowhookv1.ActivityKind{
			flowhookv1.ActivityKind_ACTIVITY_KIND_STARTED,
			flowhookv1.ActivityKind_ACTIVITY_KIND_TRANSITION,
			flowhookv1.ActivityKind_ACTIVITY_KIND_ASSIGNED,
			flowhookv1.ActivityKind_ACTIVITY_KIND_DEADLINE_SET, // the review times out after 72 h
			flowhookv1.ActivityKind_ACTIVITY_KIND_TRANSITION,
			flowhookv1.ActivityKind_ACTIVITY_KIND_WAITING_EXTERNAL,
		}, kinds)
		require.Equal(t, p.starterID, entries[0].GetActorId())
		require.Len(t, entries[0].GetChanges(), 3, "the start form's fields")
		require.Equal(t, "submit", entries[1].GetTransitionKey())
		require.Equal(t, b.legalGroupID, entries[2].GetAssignee().GetGroupId())
		require.NotNil(t, entries[3].GetDeadline(), "the entry says when the review times out")
		require.Equal(t, p.memberID, entries[4].GetActorId())
		require.Equal(t, "approve", entries[4].GetTransitionKey())
		require.Equal(t, "review", entries[4].GetFromState())
		require.Equal(t, "sign", entries[4].GetToState())

		// Workflow Manage finds it by provider (waiting, or failed for want of DocuSign settings).
		list, err := b.instances.ListInstances(ctx, connect.NewRequest(&flowhookv1.ListInstancesRequest{Filter: &flowhookv1.InstanceFilter{
			Provider: flowhookv1.Provider_PROVIDER_DOCUSIGN, WorkflowId: p.workflowID}}))
		require.NoError(t, err)
		require.EqualValues(t, 1, list.Msg.GetTotalSize())
		require.Equal(t, in.GetId(), list.Msg.GetInstances()[0].GetId())

		// A second instance is rejected by the member: END completes it.
		second, err := p.starter.instances.StartInstance(ctx, connect.NewRequest(validStart(t, p.workflowID)))
		require.NoError(t, err)
		done, err := p.member.instances.TakeTransition(ctx, connect.NewRequest(&flowhookv1.TakeTransitionRequest{InstanceId: second.Msg.GetInstance().GetId(), TransitionKey: "reject"}))
		require.NoError(t, err)
		require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_COMPLETED, done.Msg.GetInstance().GetStatus())
		_, err = p.member.instances.TakeTransition(ctx, connect.NewRequest(&flowhookv1.TakeTransitionRequest{InstanceId: second.Msg.GetInstance().GetId(), TransitionKey: "reject"}))
		requireCode(t, err, connect.CodeFailedPrecondition)
	})
}

func TestStartInstanceRejectsBadInput(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setup(t, d)
		p := newPeople(t, b)
		ctx := context.Background()
		unpublished, err := b.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: b.draft("Draft only")}))
		require.NoError(t, err)

		cases := []struct {
			name  string
			req   *flowhookv1.StartInstanceRequest
			code  connect.Code
			paths []string
		}{
			{"missing required and wrong types", &flowhookv1.StartInstanceRequest{WorkflowId: p.workflowID, FormData: form(t, map[string]any{
				"signer_email": "not an email", "amount": "lots", "extra": true})},
				connect.CodeInvalidArgument, []string{"form_data.signer_name", "form_data.signer_email", "form_data.amount", "form_data.extra"}},
			{"no form at all", &flowhookv1.StartInstanceRequest{WorkflowId: p.workflowID},
				connect.CodeInvalidArgument, []string{"form_data.signer_name", "form_data.signer_email"}},
			{"unknown transition", func() *flowhookv1.StartInstanceRequest {
				r := validStart(t, p.workflowID)
				r.TransitionKey = "teleport"
				return r
			}(), connect.CodeInvalidArgument, []string{"transition_key"}},
			{"bad workflow id", &flowhookv1.StartInstanceRequest{WorkflowId: "x"}, connect.CodeInvalidArgument, []string{"workflow_id"}},
			{"unknown workflow", validStart(t, "0190f5d2-6b1e-7c3a-9d4e-1f2a3b4c5d6e"), connect.CodeNotFound, nil},
			{"unknown version", func() *flowhookv1.StartInstanceRequest {
				r := validStart(t, p.workflowID)
				r.Version = 9
				return r
			}(), connect.CodeNotFound, nil},
			{"never published", validStart(t, unpublished.Msg.GetWorkflow().GetId()), connect.CodeFailedPrecondition, nil},
			{"oversized request id", func() *flowhookv1.StartInstanceRequest {
				r := validStart(t, p.workflowID)
				r.RequestId = string(make([]byte, 200))
				return r
			}(), connect.CodeInvalidArgument, []string{"request_id"}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, err := p.starter.instances.StartInstance(ctx, connect.NewRequest(tc.req))
				cerr := requireCode(t, err, tc.code)
				if tc.paths != nil {
					got := problems(t, cerr)
					for _, path := range tc.paths {
						require.Contains(t, got, path, "problems: %v", got)
					}
				}
			})
		}
		list, err := b.instances.ListInstances(ctx, connect.NewRequest(&flowhookv1.ListInstancesRequest{}))
		require.NoError(t, err)
		require.Zero(t, list.Msg.GetTotalSize(), "no refused start left an instance behind")
	})
}

// TestInstancesPinnedToVersion publishes a new version while an instance runs on the old one.
func TestInstancesPinnedToVersion(t *testing.T) {
	t.Parallel()
	b := setup(t, store.Postgres)
	p := newPeople(t, b)
	ctx := context.Background()
	started, err := p.starter.instances.StartInstance(ctx, connect.NewRequest(validStart(t, p.workflowID)))
	require.NoError(t, err)

	// Version 2 renames "approve" to "accept".
	d := b.draft("Contract signing")
	d.Transitions[1].Key = "accept"
	_, err = b.design.UpdateWorkflow(ctx, connect.NewRequest(&flowhookv1.UpdateWorkflowRequest{WorkflowId: p.workflowID, Workflow: d, ExpectedRevision: 1}))
	require.NoError(t, err)
	_, err = b.design.PublishWorkflow(ctx, connect.NewRequest(&flowhookv1.PublishWorkflowRequest{WorkflowId: p.workflowID, ExpectedRevision: 2}))
	require.NoError(t, err)

	_, err = p.member.instances.TakeTransition(ctx, connect.NewRequest(&flowhookv1.TakeTransitionRequest{InstanceId: started.Msg.GetInstance().GetId(), TransitionKey: "accept"}))
	requireCode(t, err, connect.CodeInvalidArgument)
	took, err := p.member.instances.TakeTransition(ctx, connect.NewRequest(&flowhookv1.TakeTransitionRequest{InstanceId: started.Msg.GetInstance().GetId(), TransitionKey: "approve"}))
	require.NoError(t, err)
	require.EqualValues(t, 1, took.Msg.GetInstance().GetVersion())

	fresh, err := p.starter.instances.StartInstance(ctx, connect.NewRequest(validStart(t, p.workflowID)))
	require.NoError(t, err)
	require.EqualValues(t, 2, fresh.Msg.GetInstance().GetVersion(), "0 starts the latest version")
	_, err = p.member.instances.TakeTransition(ctx, connect.NewRequest(&flowhookv1.TakeTransitionRequest{InstanceId: fresh.Msg.GetInstance().GetId(), TransitionKey: "accept"}))
	require.NoError(t, err)
}

// TestConcurrentInstanceChanges races calls through two servers on one database, as replicas
// would, and counts the effects.
func TestConcurrentInstanceChanges(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setup(t, d)
		p := newPeople(t, b)
		r := b.replica(t)
		// The same keys, through the other server.
		onReplica := func(c clients) clients { return r.clientsWith(c.opts...) }
		ctx := context.Background()
		const n = 10

		// Ten StartInstance calls with one request id: one instance.
		ids := make([]string, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				req := validStart(t, p.workflowID)
				req.RequestId = "order-4711"
				c := p.starter
				if i%2 == 1 {
					c = onReplica(c)
				}
				res, err := c.instances.StartInstance(ctx, connect.NewRequest(req))
				errs[i] = err
				if err == nil {
					ids[i] = res.Msg.GetInstance().GetId()
				}
			})
		}
		wg.Wait()
		for i := range n {
			require.NoError(t, errs[i])
			require.Equal(t, ids[0], ids[i])
		}
		list, err := b.instances.ListInstances(ctx, connect.NewRequest(&flowhookv1.ListInstancesRequest{}))
		require.NoError(t, err)
		require.EqualValues(t, 1, list.Msg.GetTotalSize())
		// The same id from another user is another request.
		again := validStart(t, p.workflowID)
		again.RequestId = "order-4711"
		other, err := b.instances.StartInstance(ctx, connect.NewRequest(again))
		require.NoError(t, err)
		require.NotEqual(t, ids[0], other.Msg.GetInstance().GetId())

		// Ten TakeTransition calls on one instance: one wins, the rest change nothing.
		wins := 0
		for i := range n {
			key := "approve"
			if i%2 == 1 {
				key = "reject"
			}
			caller := p.member
			if i%3 == 0 {
				caller = b.clients // an admin
			}
			if i%2 == 0 {
				caller = onReplica(caller)
			}
			wg.Go(func() {
				_, errs[i] = caller.instances.TakeTransition(ctx, connect.NewRequest(&flowhookv1.TakeTransitionRequest{InstanceId: ids[0], TransitionKey: key}))
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err == nil {
				wins++
				continue
			}
			var cerr *connect.Error
			require.ErrorAs(t, err, &cerr)
			// A loser either lost the conditional update or read the instance after the winner.
			require.Contains(t, []connect.Code{connect.CodeAborted, connect.CodeFailedPrecondition}, cerr.Code(), cerr.Message())
		}
		require.Equal(t, 1, wins)
		acts, err := b.instances.ListActivity(ctx, connect.NewRequest(&flowhookv1.ListActivityRequest{InstanceId: ids[0]}))
		require.NoError(t, err)
		transitions := 0
		for _, e := range acts.Msg.GetEntries() {
			if e.GetKind() == flowhookv1.ActivityKind_ACTIVITY_KIND_TRANSITION && e.GetFromState() == "review" {
				transitions++
			}
		}
		require.Equal(t, 1, transitions)
		got, err := b.instances.GetInstance(ctx, connect.NewRequest(&flowhookv1.GetInstanceRequest{InstanceId: ids[0]}))
		require.NoError(t, err)
		// One transition: revision 2; plus one if the winner entered the signature step and the
		// background creation failed it (DocuSign is not configured here).
		wantRevision := int64(2)
		if got.Msg.GetInstance().GetStatus() == flowhookv1.InstanceStatus_INSTANCE_STATUS_FAILED {
			wantRevision = 3
		}
		require.Equal(t, wantRevision, got.Msg.GetInstance().GetRevision())
	})
}

func TestCancelInstance(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setup(t, d)
		p := newPeople(t, b)
		ctx := context.Background()
		started, err := p.starter.instances.StartInstance(ctx, connect.NewRequest(validStart(t, p.workflowID)))
		require.NoError(t, err)
		id := started.Msg.GetInstance().GetId()

		_, err = p.starter.instances.CancelInstance(ctx, connect.NewRequest(&flowhookv1.CancelInstanceRequest{InstanceId: id}))
		require.Contains(t, problems(t, requireCode(t, err, connect.CodeInvalidArgument)), "reason")
		_, err = p.member.instances.CancelInstance(ctx, connect.NewRequest(&flowhookv1.CancelInstanceRequest{InstanceId: id, Reason: "not mine to cancel"}))
		requireCode(t, err, connect.CodePermissionDenied)

		res, err := p.starter.instances.CancelInstance(ctx, connect.NewRequest(&flowhookv1.CancelInstanceRequest{InstanceId: id, Reason: "customer withdrew"}))
		require.NoError(t, err)
		require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_CANCELLED, res.Msg.GetInstance().GetStatus())
		require.Equal(t, "customer withdrew", res.Msg.GetInstance().GetReason())
		require.Empty(t, assignedIDs(t, p.member))

		_, err = p.starter.instances.CancelInstance(ctx, connect.NewRequest(&flowhookv1.CancelInstanceRequest{InstanceId: id, Reason: "again"}))
		requireCode(t, err, connect.CodeFailedPrecondition)
		_, err = b.instances.TakeTransition(ctx, connect.NewRequest(&flowhookv1.TakeTransitionRequest{InstanceId: id, TransitionKey: "approve"}))
		requireCode(t, err, connect.CodeFailedPrecondition)

		acts, err := p.starter.instances.ListActivity(ctx, connect.NewRequest(&flowhookv1.ListActivityRequest{InstanceId: id}))
		require.NoError(t, err)
		last := acts.Msg.GetEntries()[len(acts.Msg.GetEntries())-1]
		require.Equal(t, flowhookv1.ActivityKind_ACTIVITY_KIND_CANCELLED, last.GetKind())
		require.Equal(t, p.starterID, last.GetActorId())
		require.Equal(t, "customer withdrew", last.GetMessage())
	})
}

func TestListInstancesFilters(t *testing.T) {
	t.Parallel()
	b := setup(t, store.SQLite)
	p := newPeople(t, b)
	ctx := context.Background()
	before := time.Now()
	var ids []string
	for i := range 5 {
		c := p.starter
		if i >= 3 {
			c = b.clients
		}
		res, err := c.instances.StartInstance(ctx, connect.NewRequest(validStart(t, p.workflowID)))
		require.NoError(t, err)
		ids = append(ids, res.Msg.GetInstance().GetId())
	}
	_, err := p.member.instances.TakeTransition(ctx, connect.NewRequest(&flowhookv1.TakeTransitionRequest{InstanceId: ids[0], TransitionKey: "approve"}))
	require.NoError(t, err)

	count := func(f *flowhookv1.InstanceFilter) (int64, []string) {
		t.Helper()
		res, err := b.instances.ListInstances(ctx, connect.NewRequest(&flowhookv1.ListInstancesRequest{Filter: f}))
		require.NoError(t, err)
		require.False(t, res.Msg.GetTotalSizeEstimated(), "a few instances are counted exactly")
		var got []string
		for _, in := range res.Msg.GetInstances() {
			got = append(got, in.GetId())
		}
		return res.Msg.GetTotalSize(), got
	}
	total, got := count(nil)
	require.EqualValues(t, 5, total)
	require.Equal(t, []string{ids[4], ids[3], ids[2], ids[1], ids[0]}, got, "newest first")
	total, _ = count(&flowhookv1.InstanceFilter{StateKey: "review"})
	require.EqualValues(t, 4, total)
	total, _ = count(&flowhookv1.InstanceFilter{StartedBy: p.starterID})
	require.EqualValues(t, 3, total)
	total, _ = count(&flowhookv1.InstanceFilter{WorkflowId: p.workflowID, Version: 1, Status: flowhookv1.InstanceStatus_INSTANCE_STATUS_ACTIVE})
	require.EqualValues(t, 4, total)
	total, _ = count(&flowhookv1.InstanceFilter{CreatedAfter: timestamppb.New(before.Add(-time.Minute)), CreatedBefore: timestamppb.New(time.Now().Add(time.Minute))})
	require.EqualValues(t, 5, total)
	total, _ = count(&flowhookv1.InstanceFilter{CreatedBefore: timestamppb.New(before.Add(-time.Hour))})
	require.EqualValues(t, 0, total)

	// Pages of two, with the token bound to the filter.
	var paged []string
	token := ""
	for {
		res, err := b.instances.ListInstances(ctx, connect.NewRequest(&flowhookv1.ListInstancesRequest{PageSize: 2, PageToken: token,
			Filter: &flowhookv1.InstanceFilter{WorkflowId: p.workflowID}}))
		require.NoError(t, err)
		require.EqualValues(t, 5, res.Msg.GetTotalSize())
		for _, in := range res.Msg.GetInstances() {
			paged = append(paged, in.GetId())
		}
		if token = res.Msg.GetNextPageToken(); token == "" {
			break
		}
		_, err = b.instances.ListInstances(ctx, connect.NewRequest(&flowhookv1.ListInstancesRequest{PageToken: token}))
		requireCode(t, err, connect.CodeInvalidArgument)
	}
	require.Equal(t, []string{ids[4], ids[3], ids[2], ids[1], ids[0]}, paged)

	for name, f := range map[string]*flowhookv1.InstanceFilter{
		"filter.workflow_id":    {WorkflowId: "nope"},
		"filter.status":         {Status: flowhookv1.InstanceStatus(42)},
		"filter.created_before": {CreatedAfter: timestamppb.New(time.Now()), CreatedBefore: timestamppb.New(time.Now().Add(-time.Hour))},
	} {
		_, err := b.instances.ListInstances(ctx, connect.NewRequest(&flowhookv1.ListInstancesRequest{Filter: f}))
		require.Contains(t, problems(t, requireCode(t, err, connect.CodeInvalidArgument)), name, fmt.Sprint(f))
	}
}

func TestDesignChecksAssigneesExist(t *testing.T) {
	t.Parallel()
	b := setup(t, store.Postgres)
	ctx := context.Background()
	d := b.draft("Ghost group")
	d.States[1].Assignee = &flowhookv1.Assignee{Assignee: &flowhookv1.Assignee_GroupId{GroupId: "0190f5d2-6b1e-7c3a-9d4e-1f2a3b4c5d6e"}}
	_, err := b.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: d}))
	require.Contains(t, problems(t, requireCode(t, err, connect.CodeInvalidArgument)), "workflow.states[1].assignee.group_id")
	d.States[1].Assignee = &flowhookv1.Assignee{Assignee: &flowhookv1.Assignee_UserId{UserId: "someone"}}
	res, err := b.design.ValidateWorkflow(ctx, connect.NewRequest(&flowhookv1.ValidateWorkflowRequest{Workflow: d}))
	require.NoError(t, err)
	require.Len(t, res.Msg.GetProblems(), 1)
	require.Equal(t, "states[1].assignee.user_id", res.Msg.GetProblems()[0].GetPath())
}

// TestIDsInAnyForm: a UUID written another way (capitals, braces) names the same group, user or
// workflow. An assignee is kept in the canonical form, so its work reaches its members; a
// start repeated with the workflow id in capitals is the same request; a user's own keys are
// theirs in capitals too; an unknown user in capitals is named missing.
func TestIDsInAnyForm(t *testing.T) {
	t.Parallel()
	b := setup(t, store.Postgres)
	p := newPeople(t, b)
	ctx := context.Background()
	d := b.draft("Shouted ids")
	d.States[1].Assignee = &flowhookv1.Assignee{Assignee: &flowhookv1.Assignee_GroupId{GroupId: "{" + strings.ToUpper(b.legalGroupID) + "}"}}
	wf, err := b.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: d}))
	require.NoError(t, err)
	wfID := wf.Msg.GetWorkflow().GetId()
	require.Equal(t, b.legalGroupID, wf.Msg.GetWorkflow().GetDraft().GetStates()[1].GetAssignee().GetGroupId(), "kept canonical")
	_, err = b.design.PublishWorkflow(ctx, connect.NewRequest(&flowhookv1.PublishWorkflowRequest{WorkflowId: wfID, ExpectedRevision: 1}))
	require.NoError(t, err)

	start := validStart(t, strings.ToUpper(wfID))
	start.RequestId = "shouted-ids-1"
	first, err := p.starter.instances.StartInstance(ctx, connect.NewRequest(start))
	require.NoError(t, err)
	in := first.Msg.GetInstance()
	require.Equal(t, wfID, in.GetWorkflowId())
	require.Equal(t, b.legalGroupID, in.GetAssignee().GetGroupId())
	again, err := p.starter.instances.StartInstance(ctx, connect.NewRequest(start))
	require.NoError(t, err, "the same request, not another workflow's")
	require.Equal(t, in.GetId(), again.Msg.GetInstance().GetId())
	require.Equal(t, []string{in.GetId()}, assignedIDs(t, p.member), "the group's work reaches its member")
	_, err = p.member.instances.TakeTransition(ctx, connect.NewRequest(&flowhookv1.TakeTransitionRequest{
		InstanceId: strings.ToUpper(in.GetId()), TransitionKey: "approve", ExpectedRevision: in.GetRevision()}))
	require.NoError(t, err)

	keys, err := p.member.identity.ListApiKeys(ctx, connect.NewRequest(&flowhookv1.ListApiKeysRequest{UserId: strings.ToUpper(p.memberID)}))
	require.NoError(t, err, "a user's own keys, whatever the case of the id")
	require.Len(t, keys.Msg.GetApiKeys(), 1)

	ghost := b.draft("Ghost in capitals")
	const ghostID = "0190f5d2-6b1e-7c3a-9d4e-1f2a3b4c5d6e"
	ghost.States[1].Assignee = &flowhookv1.Assignee{Assignee: &flowhookv1.Assignee_UserId{UserId: strings.ToUpper(ghostID)}}
	res, err := b.design.ValidateWorkflow(ctx, connect.NewRequest(&flowhookv1.ValidateWorkflowRequest{Workflow: ghost}))
	require.NoError(t, err)
	require.Len(t, res.Msg.GetProblems(), 1)
	require.Equal(t, "states[1].assignee.user_id", res.Msg.GetProblems()[0].GetPath())
	require.Contains(t, res.Msg.GetProblems()[0].GetMessage(), ghostID)
}
