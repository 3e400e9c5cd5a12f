package api_test

import (
	"context"
	"fmt"
	"path"
	"sort"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/gen/flowhook/v1/flowhookv1connect"
	"github.com/flowhook/flowhook/server/internal/auth"
	"github.com/flowhook/flowhook/server/internal/store"
)

// authzCaller is one kind of caller of the authorization table.
type authzCaller string

const (
	authzAdmin    authzCaller = "admin"      // the bootstrap admin
	authzDesigner authzCaller = "designer"   // ROLE_DESIGNER only
	authzUser     authzCaller = "user"       // ROLE_USER only, member of the legal group
	authzOutsider authzCaller = "outsider"   // ROLE_USER only, in no group
	authzNoKey    authzCaller = "nokey"      // no Authorization header
	authzWrongKey authzCaller = "wrongkey"   // a well-formed key the server never issued
	authzRevoked  authzCaller = "revokedkey" // the member's key, revoked
)

var authzCallers = []authzCaller{authzAdmin, authzDesigner, authzUser, authzOutsider, authzNoKey, authzWrongKey, authzRevoked}

// authzOK is the expectation "no error" in a row's want.
const authzOK connect.Code = 0

const (
	authzDenied  = connect.CodePermissionDenied
	authzUnauthn = connect.CodeUnauthenticated
)

// authzWant is the expectation of a row for the four authenticated callers; the three callers
// without a valid key are refused with Unauthenticated.
func authzWant(admin, designer, user, outsider connect.Code) map[authzCaller]connect.Code {
	return map[authzCaller]connect.Code{
		authzAdmin: admin, authzDesigner: designer, authzUser: user, authzOutsider: outsider,
		authzNoKey: authzUnauthn, authzWrongKey: authzUnauthn, authzRevoked: authzUnauthn,
	}
}

// authzRecorder remembers the procedures a caller's clients called, so that each row proves
// it called the RPC it claims to cover.
type authzRecorder struct {
	mu    sync.Mutex
	last  string
	calls int
}

func (r *authzRecorder) interceptor() connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			r.mu.Lock()
			r.last, r.calls = req.Spec().Procedure, r.calls+1
			r.mu.Unlock()
			return next(ctx, req)
		}
	}
}

func (r *authzRecorder) state() (string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last, r.calls
}

// authzFixture is what the table runs against, set up once per dialect by the admin.
type authzFixture struct {
	b       *testBundle
	ctx     context.Context
	seq     int
	ids     map[authzCaller]string // the user behind the caller ("" for nokey and wrongkey)
	keyIDs  map[authzCaller]string
	secrets map[authzCaller]string
	cl      map[authzCaller]clients
	rec     map[authzCaller]*authzRecorder
	// spareID is a ROLE_USER user nobody calls as: the "other user" of identity rows.
	spareID string
	// workflowID is published (version 1); reviewID is one of its instances, started by the
	// admin and waiting in "review" for the legal group.
	workflowID string
	reviewID   string
}

func newAuthzFixture(t *testing.T, b *testBundle) *authzFixture {
	t.Helper()
	ctx := context.Background()
	f := &authzFixture{
		b: b, ctx: ctx,
		ids: map[authzCaller]string{}, keyIDs: map[authzCaller]string{}, secrets: map[authzCaller]string{},
		cl: map[authzCaller]clients{}, rec: map[authzCaller]*authzRecorder{},
	}
	admin := b.clients

	who, err := admin.identity.WhoAmI(ctx, connect.NewRequest(&flowhookv1.WhoAmIRequest{}))
	require.NoError(t, err)
	f.ids[authzAdmin], f.keyIDs[authzAdmin], f.secrets[authzAdmin] = who.Msg.GetUser().GetId(), who.Msg.GetApiKeyId(), bootstrapKey

	newUser := func(name string, role flowhookv1.Role) string {
		u, err := admin.identity.CreateUser(ctx, connect.NewRequest(&flowhookv1.CreateUserRequest{
			DisplayName: name, Email: name + "@authz.example.com", Roles: []flowhookv1.Role{role}}))
		require.NoError(t, err)
		return u.Msg.GetUser().GetId()
	}
	for _, u := range []struct {
		c    authzCaller
		role flowhookv1.Role
	}{{authzDesigner, flowhookv1.Role_ROLE_DESIGNER}, {authzUser, flowhookv1.Role_ROLE_USER}, {authzOutsider, flowhookv1.Role_ROLE_USER}} {
		f.ids[u.c] = newUser(string(u.c), u.role)
		f.keyIDs[u.c], f.secrets[u.c] = f.newKey(t, f.ids[u.c])
	}
	f.spareID = newUser("spare", flowhookv1.Role_ROLE_USER)
	g, err := admin.identity.AddGroupMember(ctx, connect.NewRequest(&flowhookv1.AddGroupMemberRequest{GroupId: b.legalGroupID, UserId: f.ids[authzUser]}))
	require.NoError(t, err)
	require.Equal(t, []string{f.ids[authzUser]}, g.Msg.GetGroup().GetMemberIds())

	// The revoked key is the member's: were revocation ignored, it would pass as the member.
	f.ids[authzRevoked] = f.ids[authzUser]
	f.keyIDs[authzRevoked], f.secrets[authzRevoked] = f.newKey(t, f.ids[authzUser])
	rv, err := admin.identity.RevokeApiKey(ctx, connect.NewRequest(&flowhookv1.RevokeApiKeyRequest{ApiKeyId: f.keyIDs[authzRevoked]}))
	require.NoError(t, err)
	require.NotNil(t, rv.Msg.GetApiKey().GetRevokedAt())
	f.secrets[authzWrongKey] = auth.NewSecret()
	f.secrets[authzNoKey] = ""

	for _, c := range authzCallers {
		f.rec[c] = &authzRecorder{}
		opts := []connect.ClientOption{connect.WithInterceptors(bearer(f.secrets[c]), f.rec[c].interceptor())}
		f.cl[c] = b.clientsWith(opts...)
	}

	f.workflowID = f.newWorkflow(t)
	pub, err := admin.design.PublishWorkflow(ctx, connect.NewRequest(&flowhookv1.PublishWorkflowRequest{WorkflowId: f.workflowID, ExpectedRevision: 1}))
	require.NoError(t, err)
	require.EqualValues(t, 1, pub.Msg.GetVersion().GetVersion())
	f.reviewID = f.start(t, admin)
	return f
}

// next returns a name no other row uses.
func (f *authzFixture) next(prefix string) string {
	f.seq++
	return fmt.Sprintf("%s-%d", prefix, f.seq)
}

// newKey has the admin create a key for a user; it returns the key's id and secret.
func (f *authzFixture) newKey(t *testing.T, userID string) (string, string) {
	t.Helper()
	k, err := f.b.identity.CreateApiKey(f.ctx, connect.NewRequest(&flowhookv1.CreateApiKeyRequest{UserId: userID, Name: f.next("key")}))
	require.NoError(t, err)
	require.Equal(t, userID, k.Msg.GetApiKey().GetUserId())
	require.NotEmpty(t, k.Msg.GetSecret())
	require.Nil(t, k.Msg.GetApiKey().GetRevokedAt())
	return k.Msg.GetApiKey().GetId(), k.Msg.GetSecret()
}

// newWorkflow has the admin create a workflow, at revision 1, unpublished.
func (f *authzFixture) newWorkflow(t *testing.T) string {
	t.Helper()
	wf, err := f.b.design.CreateWorkflow(f.ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: f.b.draft(f.next("authz workflow"))}))
	require.NoError(t, err)
	require.EqualValues(t, 1, wf.Msg.GetWorkflow().GetRevision())
	return wf.Msg.GetWorkflow().GetId()
}

// newUser has the admin create a ROLE_USER user nobody calls as.
func (f *authzFixture) newUser(t *testing.T) string {
	t.Helper()
	name := f.next("user")
	u, err := f.b.identity.CreateUser(f.ctx, connect.NewRequest(&flowhookv1.CreateUserRequest{
		DisplayName: name, Email: name + "@authz.example.com", Roles: []flowhookv1.Role{flowhookv1.Role_ROLE_USER}}))
	require.NoError(t, err)
	return u.Msg.GetUser().GetId()
}

// newGroup has the admin create a group with the given members.
func (f *authzFixture) newGroup(t *testing.T, members ...string) string {
	t.Helper()
	g, err := f.b.identity.CreateGroup(f.ctx, connect.NewRequest(&flowhookv1.CreateGroupRequest{Name: f.next("authz group")}))
	require.NoError(t, err)
	id := g.Msg.GetGroup().GetId()
	for _, m := range members {
		_, err := f.b.identity.AddGroupMember(f.ctx, connect.NewRequest(&flowhookv1.AddGroupMemberRequest{GroupId: id, UserId: m}))
		require.NoError(t, err)
	}
	return id
}

func authzForm(t *testing.T) *structpb.Struct {
	t.Helper()
	s, err := structpb.NewStruct(map[string]any{"signer_name": "Ada Lovelace", "signer_email": "ada@example.com"})
	require.NoError(t, err)
	return s
}

func (f *authzFixture) startRequest(t *testing.T) *connect.Request[flowhookv1.StartInstanceRequest] {
	return connect.NewRequest(&flowhookv1.StartInstanceRequest{WorkflowId: f.workflowID, FormData: authzForm(t)})
}

// start starts an instance with c's clients; it waits in "review" for the legal group.
func (f *authzFixture) start(t *testing.T, c clients) string {
	t.Helper()
	res, err := c.instances.StartInstance(f.ctx, f.startRequest(t))
	require.NoError(t, err)
	in := res.Msg.GetInstance()
	require.Equal(t, "review", in.GetStateKey())
	require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_ACTIVE, in.GetStatus())
	require.Equal(t, f.b.legalGroupID, in.GetAssignee().GetGroupId())
	return in.GetId()
}

// keyWorks reports whether a secret still authenticates, as the user it belongs to.
func (f *authzFixture) keyWorks(t *testing.T, secret, userID string) bool {
	t.Helper()
	res, err := f.b.as(secret).identity.WhoAmI(f.ctx, connect.NewRequest(&flowhookv1.WhoAmIRequest{}))
	if err != nil {
		requireCode(t, err, authzUnauthn)
		return false
	}
	require.Equal(t, userID, res.Msg.GetUser().GetId())
	return true
}

// keyOf returns a user's key as the admin lists it.
func (f *authzFixture) keyOf(t *testing.T, userID, keyID string) *flowhookv1.ApiKey {
	t.Helper()
	res, err := f.b.identity.ListApiKeys(f.ctx, connect.NewRequest(&flowhookv1.ListApiKeysRequest{UserId: userID}))
	require.NoError(t, err)
	for _, k := range res.Msg.GetApiKeys() {
		if k.GetId() == keyID {
			return k
		}
	}
	require.Failf(t, "key not listed", "user %s has no key %s", userID, keyID)
	return nil
}

// authzRow is one RPC (or one situation of an RPC) and what each caller gets from it.
type authzRow struct {
	procedure string
	variant   string // "" for the row every caller runs; else the situation, e.g. "own"
	want      map[authzCaller]connect.Code
	// call makes the row's call as the caller, its last call through f.cl[c], and returns its
	// error; on success it checks the response.
	call func(t *testing.T, f *authzFixture, c authzCaller) error
}

func (r authzRow) name() string {
	n := path.Base(r.procedure)
	if r.variant != "" {
		n += "(" + r.variant + ")"
	}
	return n
}

func authzRows() []authzRow {
	designers := authzWant(authzOK, authzOK, authzDenied, authzDenied)
	everyone := authzWant(authzOK, authzOK, authzOK, authzOK)
	users := authzWant(authzOK, authzDenied, authzOK, authzOK)
	admins := authzWant(authzOK, authzDenied, authzDenied, authzDenied)
	// The instance started by someone else, waiting in "review" for the legal group.
	reviewers := authzWant(authzOK, authzDenied, authzOK, authzDenied)
	// Situations only callers who can start an instance are in.
	starters := map[authzCaller]connect.Code{authzAdmin: authzOK, authzUser: authzOK, authzOutsider: authzOK}
	selves := map[authzCaller]connect.Code{authzAdmin: authzOK, authzDesigner: authzOK, authzUser: authzOK, authzOutsider: authzOK}
	notFound := authzWant(authzOK, connect.CodeNotFound, connect.CodeNotFound, connect.CodeNotFound)

	return []authzRow{
		// WorkflowDesignService
		{flowhookv1connect.WorkflowDesignServiceCreateWorkflowProcedure, "", designers, func(t *testing.T, f *authzFixture, c authzCaller) error {
			res, err := f.cl[c].design.CreateWorkflow(f.ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: f.b.draft(f.next("create"))}))
			if err == nil {
				require.NotEmpty(t, res.Msg.GetWorkflow().GetId())
			}
			return err
		}},
		{flowhookv1connect.WorkflowDesignServiceUpdateWorkflowProcedure, "", designers, func(t *testing.T, f *authzFixture, c authzCaller) error {
			id := f.newWorkflow(t)
			res, err := f.cl[c].design.UpdateWorkflow(f.ctx, connect.NewRequest(&flowhookv1.UpdateWorkflowRequest{WorkflowId: id, Workflow: f.b.draft(f.next("update")), ExpectedRevision: 1}))
			if err == nil {
				require.EqualValues(t, 2, res.Msg.GetWorkflow().GetRevision())
			}
			return err
		}},
		{flowhookv1connect.WorkflowDesignServiceGetWorkflowProcedure, "", designers, func(t *testing.T, f *authzFixture, c authzCaller) error {
			res, err := f.cl[c].design.GetWorkflow(f.ctx, connect.NewRequest(&flowhookv1.GetWorkflowRequest{WorkflowId: f.workflowID}))
			if err == nil {
				require.Equal(t, f.workflowID, res.Msg.GetWorkflow().GetId())
			}
			return err
		}},
		{flowhookv1connect.WorkflowDesignServiceListWorkflowsProcedure, "", designers, func(t *testing.T, f *authzFixture, c authzCaller) error {
			res, err := f.cl[c].design.ListWorkflows(f.ctx, connect.NewRequest(&flowhookv1.ListWorkflowsRequest{}))
			if err == nil {
				require.NotEmpty(t, res.Msg.GetWorkflows())
			}
			return err
		}},
		{flowhookv1connect.WorkflowDesignServiceValidateWorkflowProcedure, "", designers, func(t *testing.T, f *authzFixture, c authzCaller) error {
			res, err := f.cl[c].design.ValidateWorkflow(f.ctx, connect.NewRequest(&flowhookv1.ValidateWorkflowRequest{Workflow: f.b.draft(f.next("validate"))}))
			if err == nil {
				require.Empty(t, res.Msg.GetProblems())
			}
			return err
		}},
		{flowhookv1connect.WorkflowDesignServicePublishWorkflowProcedure, "", designers, func(t *testing.T, f *authzFixture, c authzCaller) error {
			id := f.newWorkflow(t)
			res, err := f.cl[c].design.PublishWorkflow(f.ctx, connect.NewRequest(&flowhookv1.PublishWorkflowRequest{WorkflowId: id, ExpectedRevision: 1}))
			if err == nil {
				require.EqualValues(t, 1, res.Msg.GetVersion().GetVersion())
			}
			return err
		}},
		{flowhookv1connect.WorkflowDesignServiceArchiveWorkflowProcedure, "", designers, func(t *testing.T, f *authzFixture, c authzCaller) error {
			id := f.newWorkflow(t)
			res, err := f.cl[c].design.ArchiveWorkflow(f.ctx, connect.NewRequest(&flowhookv1.ArchiveWorkflowRequest{WorkflowId: id}))
			if err == nil {
				require.True(t, res.Msg.GetWorkflow().GetArchived())
			}
			return err
		}},
		{flowhookv1connect.WorkflowDesignServiceUnarchiveWorkflowProcedure, "", designers, func(t *testing.T, f *authzFixture, c authzCaller) error {
			id := f.newWorkflow(t)
			_, err := f.b.design.ArchiveWorkflow(f.ctx, connect.NewRequest(&flowhookv1.ArchiveWorkflowRequest{WorkflowId: id}))
			require.NoError(t, err)
			res, err := f.cl[c].design.UnarchiveWorkflow(f.ctx, connect.NewRequest(&flowhookv1.UnarchiveWorkflowRequest{WorkflowId: id}))
			if err == nil {
				require.False(t, res.Msg.GetWorkflow().GetArchived())
			}
			return err
		}},
		{flowhookv1connect.WorkflowDesignServiceGetWorkflowVersionProcedure, "", everyone, func(t *testing.T, f *authzFixture, c authzCaller) error {
			res, err := f.cl[c].design.GetWorkflowVersion(f.ctx, connect.NewRequest(&flowhookv1.GetWorkflowVersionRequest{WorkflowId: f.workflowID, Version: 1}))
			if err == nil {
				require.EqualValues(t, 1, res.Msg.GetVersion().GetVersion())
				require.Len(t, res.Msg.GetVersion().GetStates(), 5)
			}
			return err
		}},
		{flowhookv1connect.WorkflowDesignServiceListPublishedWorkflowsProcedure, "", everyone, func(t *testing.T, f *authzFixture, c authzCaller) error {
			res, err := f.cl[c].design.ListPublishedWorkflows(f.ctx, connect.NewRequest(&flowhookv1.ListPublishedWorkflowsRequest{}))
			if err == nil {
				require.NotEmpty(t, res.Msg.GetVersions())
				for _, v := range res.Msg.GetVersions() {
					require.Positive(t, v.GetVersion())
				}
			}
			return err
		}},
		{flowhookv1connect.WorkflowDesignServiceListWorkflowVersionsProcedure, "", everyone, func(t *testing.T, f *authzFixture, c authzCaller) error {
			res, err := f.cl[c].design.ListWorkflowVersions(f.ctx, connect.NewRequest(&flowhookv1.ListWorkflowVersionsRequest{WorkflowId: f.workflowID}))
			if err == nil {
				require.Len(t, res.Msg.GetVersions(), 1)
			}
			return err
		}},

		// WorkflowInstanceService
		{flowhookv1connect.WorkflowInstanceServiceStartInstanceProcedure, "", users, func(t *testing.T, f *authzFixture, c authzCaller) error {
			res, err := f.cl[c].instances.StartInstance(f.ctx, f.startRequest(t))
			if err == nil {
				require.Equal(t, f.ids[c], res.Msg.GetInstance().GetStartedBy())
				require.Equal(t, "review", res.Msg.GetInstance().GetStateKey())
			}
			return err
		}},
		{flowhookv1connect.WorkflowInstanceServiceGetInstanceProcedure, "", reviewers, func(t *testing.T, f *authzFixture, c authzCaller) error {
			res, err := f.cl[c].instances.GetInstance(f.ctx, connect.NewRequest(&flowhookv1.GetInstanceRequest{InstanceId: f.reviewID}))
			if err == nil {
				require.Equal(t, f.reviewID, res.Msg.GetInstance().GetId())
			}
			return err
		}},
		{flowhookv1connect.WorkflowInstanceServiceGetInstanceProcedure, "own", starters, func(t *testing.T, f *authzFixture, c authzCaller) error {
			id := f.start(t, f.cl[c])
			res, err := f.cl[c].instances.GetInstance(f.ctx, connect.NewRequest(&flowhookv1.GetInstanceRequest{InstanceId: id}))
			if err == nil {
				require.Equal(t, f.ids[c], res.Msg.GetInstance().GetStartedBy())
			}
			return err
		}},
		// The member took the instance to its end: no longer its assignee, still one who took part.
		{flowhookv1connect.WorkflowInstanceServiceGetInstanceProcedure, "taken-by-member", reviewers, func(t *testing.T, f *authzFixture, c authzCaller) error {
			id := f.start(t, f.b.clients)
			_, err := f.b.as(f.secrets[authzUser]).instances.TakeTransition(f.ctx, connect.NewRequest(&flowhookv1.TakeTransitionRequest{InstanceId: id, TransitionKey: "reject"}))
			require.NoError(t, err)
			res, err := f.cl[c].instances.GetInstance(f.ctx, connect.NewRequest(&flowhookv1.GetInstanceRequest{InstanceId: id}))
			if err == nil {
				require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_COMPLETED, res.Msg.GetInstance().GetStatus())
				require.Nil(t, res.Msg.GetInstance().GetAssignee())
			}
			return err
		}},
		{flowhookv1connect.WorkflowInstanceServiceListInstancesProcedure, "", admins, func(t *testing.T, f *authzFixture, c authzCaller) error {
			res, err := f.cl[c].instances.ListInstances(f.ctx, connect.NewRequest(&flowhookv1.ListInstancesRequest{}))
			if err == nil {
				require.Positive(t, res.Msg.GetTotalSize())
			}
			return err
		}},
		{flowhookv1connect.WorkflowInstanceServiceListAssignedToMeProcedure, "", users, func(t *testing.T, f *authzFixture, c authzCaller) error {
			var ids []string
			token := ""
			for {
				res, err := f.cl[c].instances.ListAssignedToMe(f.ctx, connect.NewRequest(&flowhookv1.ListAssignedToMeRequest{PageToken: token}))
				if err != nil {
					return err
				}
				for _, in := range res.Msg.GetInstances() {
					ids = append(ids, in.GetId())
				}
				if token = res.Msg.GetNextPageToken(); token == "" {
					break
				}
			}
			switch c {
			case authzUser:
				require.Contains(t, ids, f.reviewID, "the member's group holds the review")
			case authzOutsider:
				require.Empty(t, ids, "nothing is assigned to the outsider")
			}
			return nil
		}},
		{flowhookv1connect.WorkflowInstanceServiceTakeTransitionProcedure, "", reviewers, func(t *testing.T, f *authzFixture, c authzCaller) error {
			id := f.start(t, f.b.clients)
			res, err := f.cl[c].instances.TakeTransition(f.ctx, connect.NewRequest(&flowhookv1.TakeTransitionRequest{InstanceId: id, TransitionKey: "reject"}))
			if err == nil {
				require.Equal(t, "rejected", res.Msg.GetInstance().GetStateKey())
				require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_COMPLETED, res.Msg.GetInstance().GetStatus())
			}
			return err
		}},
		// Starting an instance does not make its starter the review's assignee.
		{flowhookv1connect.WorkflowInstanceServiceTakeTransitionProcedure, "own", map[authzCaller]connect.Code{authzAdmin: authzOK, authzUser: authzOK, authzOutsider: authzDenied},
			func(t *testing.T, f *authzFixture, c authzCaller) error {
				id := f.start(t, f.cl[c])
				res, err := f.cl[c].instances.TakeTransition(f.ctx, connect.NewRequest(&flowhookv1.TakeTransitionRequest{InstanceId: id, TransitionKey: "reject"}))
				if err == nil {
					require.Equal(t, "rejected", res.Msg.GetInstance().GetStateKey())
				}
				return err
			}},
		// Only an admin or the starter cancels; being the assignee (the member) is not enough.
		{flowhookv1connect.WorkflowInstanceServiceCancelInstanceProcedure, "", admins, func(t *testing.T, f *authzFixture, c authzCaller) error {
			id := f.start(t, f.b.clients)
			res, err := f.cl[c].instances.CancelInstance(f.ctx, connect.NewRequest(&flowhookv1.CancelInstanceRequest{InstanceId: id, Reason: "authz table"}))
			if err == nil {
				require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_CANCELLED, res.Msg.GetInstance().GetStatus())
			}
			return err
		}},
		{flowhookv1connect.WorkflowInstanceServiceCancelInstanceProcedure, "own", starters, func(t *testing.T, f *authzFixture, c authzCaller) error {
			id := f.start(t, f.cl[c])
			res, err := f.cl[c].instances.CancelInstance(f.ctx, connect.NewRequest(&flowhookv1.CancelInstanceRequest{InstanceId: id, Reason: "changed my mind"}))
			if err == nil {
				require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_CANCELLED, res.Msg.GetInstance().GetStatus())
			}
			return err
		}},
		{flowhookv1connect.WorkflowInstanceServiceListActivityProcedure, "", reviewers, func(t *testing.T, f *authzFixture, c authzCaller) error {
			res, err := f.cl[c].instances.ListActivity(f.ctx, connect.NewRequest(&flowhookv1.ListActivityRequest{InstanceId: f.reviewID}))
			if err == nil {
				require.NotEmpty(t, res.Msg.GetEntries())
				for _, e := range res.Msg.GetEntries() {
					require.Equal(t, f.reviewID, e.GetInstanceId())
				}
			}
			return err
		}},

		// Only admins retry; the review instance is ACTIVE, so even they are refused.
		{flowhookv1connect.WorkflowInstanceServiceRetryInstanceProcedure, "", authzWant(connect.CodeFailedPrecondition, authzDenied, authzDenied, authzDenied), func(t *testing.T, f *authzFixture, c authzCaller) error {
			_, err := f.cl[c].instances.RetryInstance(f.ctx, connect.NewRequest(&flowhookv1.RetryInstanceRequest{InstanceId: f.reviewID}))
			return err
		}},

		// Only admins reassign, an instance of its own for each row.
		{flowhookv1connect.WorkflowInstanceServiceReassignInstanceProcedure, "", admins, func(t *testing.T, f *authzFixture, c authzCaller) error {
			id := f.start(t, f.b.clients)
			res, err := f.cl[c].instances.ReassignInstance(f.ctx, connect.NewRequest(&flowhookv1.ReassignInstanceRequest{InstanceId: id,
				Assignee: &flowhookv1.Assignee{Assignee: &flowhookv1.Assignee_UserId{UserId: f.spareID}}}))
			if err == nil {
				require.Equal(t, f.spareID, res.Msg.GetInstance().GetAssignee().GetUserId())
			}
			return err
		}},

		// Nothing was signed yet: those who may see the instance learn that; others may not ask.
		{flowhookv1connect.WorkflowInstanceServiceGetSignedDocumentProcedure, "", authzWant(connect.CodeNotFound, authzDenied, connect.CodeNotFound, authzDenied), func(t *testing.T, f *authzFixture, c authzCaller) error {
			_, err := f.cl[c].instances.GetSignedDocument(f.ctx, connect.NewRequest(&flowhookv1.GetSignedDocumentRequest{InstanceId: f.reviewID}))
			return err
		}},

		// ProviderSettingsService
		{flowhookv1connect.ProviderSettingsServiceGetDocuSignSettingsProcedure, "", admins, func(t *testing.T, f *authzFixture, c authzCaller) error {
			res, err := f.cl[c].settings.GetDocuSignSettings(f.ctx, connect.NewRequest(&flowhookv1.GetDocuSignSettingsRequest{}))
			if err == nil {
				require.Equal(t, f.b.baseURL+"/webhooks/DocuSign", res.Msg.GetSettings().GetWebhookUrl())
			}
			return err
		}},
		// An admin's incomplete settings are refused with every problem; nobody else gets that far.
		{flowhookv1connect.ProviderSettingsServiceUpdateDocuSignSettingsProcedure, "", authzWant(connect.CodeInvalidArgument, authzDenied, authzDenied, authzDenied), func(t *testing.T, f *authzFixture, c authzCaller) error {
			_, err := f.cl[c].settings.UpdateDocuSignSettings(f.ctx, connect.NewRequest(&flowhookv1.UpdateDocuSignSettingsRequest{AccountId: "not-a-guid"}))
			return err
		}},
		{flowhookv1connect.ProviderSettingsServiceTestProviderConnectionProcedure, "", admins, func(t *testing.T, f *authzFixture, c authzCaller) error {
			res, err := f.cl[c].settings.TestProviderConnection(f.ctx, connect.NewRequest(&flowhookv1.TestProviderConnectionRequest{Provider: flowhookv1.Provider_PROVIDER_DOCUSIGN}))
			if err == nil {
				require.False(t, res.Msg.GetOk(), "nothing is configured")
				require.Contains(t, res.Msg.GetMessage(), "not configured")
			}
			return err
		}},

		{flowhookv1connect.ProviderSettingsServiceGetOneSpanSettingsProcedure, "", admins, func(t *testing.T, f *authzFixture, c authzCaller) error {
			res, err := f.cl[c].settings.GetOneSpanSettings(f.ctx, connect.NewRequest(&flowhookv1.GetOneSpanSettingsRequest{}))
			if err == nil {
				require.Equal(t, f.b.baseURL+"/webhooks/OneSpan", res.Msg.GetSettings().GetWebhookUrl())
				require.False(t, res.Msg.GetSettings().GetApiKeySet())
			}
			return err
		}},
		// An admin's bad base URL is refused; nobody else gets that far.
		{flowhookv1connect.ProviderSettingsServiceUpdateOneSpanSettingsProcedure, "", authzWant(connect.CodeInvalidArgument, authzDenied, authzDenied, authzDenied), func(t *testing.T, f *authzFixture, c authzCaller) error {
			_, err := f.cl[c].settings.UpdateOneSpanSettings(f.ctx, connect.NewRequest(&flowhookv1.UpdateOneSpanSettingsRequest{BaseUrl: "ftp://example.com"}))
			return err
		}},
		{flowhookv1connect.ProviderSettingsServiceGetSecuritySettingsProcedure, "", admins, func(t *testing.T, f *authzFixture, c authzCaller) error {
			res, err := f.cl[c].settings.GetSecuritySettings(f.ctx, connect.NewRequest(&flowhookv1.GetSecuritySettingsRequest{}))
			if err == nil {
				require.EqualValues(t, 30, res.Msg.GetSettings().GetEventRetentionDays())
			}
			return err
		}},
		// An admin's out-of-range retention is refused; nobody else gets that far.
		{flowhookv1connect.ProviderSettingsServiceUpdateSecuritySettingsProcedure, "", authzWant(connect.CodeInvalidArgument, authzDenied, authzDenied, authzDenied), func(t *testing.T, f *authzFixture, c authzCaller) error {
			_, err := f.cl[c].settings.UpdateSecuritySettings(f.ctx, connect.NewRequest(&flowhookv1.UpdateSecuritySettingsRequest{WebhookReceiverDebug: true, EventRetentionDays: -1}))
			return err
		}},
		// Connectors: an admin's malformed or unknown names are refused; nobody else gets that far.
		{flowhookv1connect.ProviderSettingsServiceCreateConnectorProcedure, "", authzWant(connect.CodeInvalidArgument, authzDenied, authzDenied, authzDenied), func(t *testing.T, f *authzFixture, c authzCaller) error {
			_, err := f.cl[c].settings.CreateConnector(f.ctx, connect.NewRequest(&flowhookv1.CreateConnectorRequest{Name: "Not A Name"}))
			return err
		}},
		{flowhookv1connect.ProviderSettingsServiceGetConnectorProcedure, "", authzWant(connect.CodeNotFound, authzDenied, authzDenied, authzDenied), func(t *testing.T, f *authzFixture, c authzCaller) error {
			_, err := f.cl[c].settings.GetConnector(f.ctx, connect.NewRequest(&flowhookv1.GetConnectorRequest{Name: "nobody"}))
			return err
		}},
		{flowhookv1connect.ProviderSettingsServiceListConnectorsProcedure, "", admins, func(t *testing.T, f *authzFixture, c authzCaller) error {
			res, err := f.cl[c].settings.ListConnectors(f.ctx, connect.NewRequest(&flowhookv1.ListConnectorsRequest{}))
			if err == nil {
				require.Empty(t, res.Msg.GetConnectors())
			}
			return err
		}},
		{flowhookv1connect.ProviderSettingsServiceUpdateConnectorProcedure, "", authzWant(connect.CodeNotFound, authzDenied, authzDenied, authzDenied), func(t *testing.T, f *authzFixture, c authzCaller) error {
			_, err := f.cl[c].settings.UpdateConnector(f.ctx, connect.NewRequest(&flowhookv1.UpdateConnectorRequest{Name: "nobody",
				CreateUrl: "https://tickets.example.com/tickets", ExpectedRevision: 1}))
			return err
		}},
		{flowhookv1connect.ProviderSettingsServiceDeleteConnectorProcedure, "", authzWant(connect.CodeNotFound, authzDenied, authzDenied, authzDenied), func(t *testing.T, f *authzFixture, c authzCaller) error {
			_, err := f.cl[c].settings.DeleteConnector(f.ctx, connect.NewRequest(&flowhookv1.DeleteConnectorRequest{Name: "nobody"}))
			return err
		}},

		// EventLogService
		{flowhookv1connect.EventLogServiceListEventsProcedure, "", admins, func(t *testing.T, f *authzFixture, c authzCaller) error {
			res, err := f.cl[c].eventLog.ListEvents(f.ctx, connect.NewRequest(&flowhookv1.ListEventsRequest{}))
			if err == nil {
				require.Empty(t, res.Msg.GetEvents(), "no provider has called")
			}
			return err
		}},
		{flowhookv1connect.EventLogServiceGetEventProcedure, "", authzWant(connect.CodeNotFound, authzDenied, authzDenied, authzDenied), func(t *testing.T, f *authzFixture, c authzCaller) error {
			_, err := f.cl[c].eventLog.GetEvent(f.ctx, connect.NewRequest(&flowhookv1.GetEventRequest{Id: f.reviewID}))
			return err
		}},
		{flowhookv1connect.EventLogServiceReplayEventProcedure, "", authzWant(connect.CodeNotFound, authzDenied, authzDenied, authzDenied), func(t *testing.T, f *authzFixture, c authzCaller) error {
			_, err := f.cl[c].eventLog.ReplayEvent(f.ctx, connect.NewRequest(&flowhookv1.ReplayEventRequest{Id: f.reviewID}))
			return err
		}},

		// Nothing waits at a provider: an admin's run asks nobody.
		{flowhookv1connect.EventLogServiceReconcileWorkItemsProcedure, "", admins, func(t *testing.T, f *authzFixture, c authzCaller) error {
			res, err := f.cl[c].eventLog.ReconcileWorkItems(f.ctx, connect.NewRequest(&flowhookv1.ReconcileWorkItemsRequest{}))
			if err == nil {
				require.Zero(t, res.Msg.GetChecked())
			}
			return err
		}},

		// IdentityService
		{flowhookv1connect.IdentityServiceCreateUserProcedure, "", admins, func(t *testing.T, f *authzFixture, c authzCaller) error {
			name := f.next("created")
			res, err := f.cl[c].identity.CreateUser(f.ctx, connect.NewRequest(&flowhookv1.CreateUserRequest{
				DisplayName: name, Email: name + "@authz.example.com", Roles: []flowhookv1.Role{flowhookv1.Role_ROLE_USER}}))
			if err == nil {
				require.NotEmpty(t, res.Msg.GetUser().GetId())
			}
			return err
		}},
		{flowhookv1connect.IdentityServiceListUsersProcedure, "", admins, func(t *testing.T, f *authzFixture, c authzCaller) error {
			res, err := f.cl[c].identity.ListUsers(f.ctx, connect.NewRequest(&flowhookv1.ListUsersRequest{}))
			if err == nil {
				require.NotEmpty(t, res.Msg.GetUsers())
			}
			return err
		}},
		{flowhookv1connect.IdentityServiceCreateGroupProcedure, "", admins, func(t *testing.T, f *authzFixture, c authzCaller) error {
			res, err := f.cl[c].identity.CreateGroup(f.ctx, connect.NewRequest(&flowhookv1.CreateGroupRequest{Name: f.next("group")}))
			if err == nil {
				require.NotEmpty(t, res.Msg.GetGroup().GetId())
			}
			return err
		}},
		{flowhookv1connect.IdentityServiceListGroupsProcedure, "", admins, func(t *testing.T, f *authzFixture, c authzCaller) error {
			res, err := f.cl[c].identity.ListGroups(f.ctx, connect.NewRequest(&flowhookv1.ListGroupsRequest{}))
			if err == nil {
				require.NotEmpty(t, res.Msg.GetGroups())
			}
			return err
		}},
		{flowhookv1connect.IdentityServiceAddGroupMemberProcedure, "", admins, func(t *testing.T, f *authzFixture, c authzCaller) error {
			g := f.newGroup(t)
			res, err := f.cl[c].identity.AddGroupMember(f.ctx, connect.NewRequest(&flowhookv1.AddGroupMemberRequest{GroupId: g, UserId: f.spareID}))
			if err == nil {
				require.Equal(t, []string{f.spareID}, res.Msg.GetGroup().GetMemberIds())
			}
			return err
		}},
		{flowhookv1connect.IdentityServiceRemoveGroupMemberProcedure, "", admins, func(t *testing.T, f *authzFixture, c authzCaller) error {
			g := f.newGroup(t, f.spareID)
			res, err := f.cl[c].identity.RemoveGroupMember(f.ctx, connect.NewRequest(&flowhookv1.RemoveGroupMemberRequest{GroupId: g, UserId: f.spareID}))
			if err == nil {
				require.Empty(t, res.Msg.GetGroup().GetMemberIds())
			}
			return err
		}},
		{flowhookv1connect.IdentityServiceDeactivateUserProcedure, "", admins, func(t *testing.T, f *authzFixture, c authzCaller) error {
			id := f.newUser(t)
			res, err := f.cl[c].identity.DeactivateUser(f.ctx, connect.NewRequest(&flowhookv1.DeactivateUserRequest{UserId: id}))
			if err == nil {
				require.True(t, res.Msg.GetUser().GetDeactivated())
			}
			return err
		}},
		{flowhookv1connect.IdentityServiceReactivateUserProcedure, "", admins, func(t *testing.T, f *authzFixture, c authzCaller) error {
			id := f.newUser(t)
			_, err := f.b.identity.DeactivateUser(f.ctx, connect.NewRequest(&flowhookv1.DeactivateUserRequest{UserId: id}))
			require.NoError(t, err)
			res, err := f.cl[c].identity.ReactivateUser(f.ctx, connect.NewRequest(&flowhookv1.ReactivateUserRequest{UserId: id}))
			if err == nil {
				require.False(t, res.Msg.GetUser().GetDeactivated())
			}
			return err
		}},
		{flowhookv1connect.IdentityServiceCreateApiKeyProcedure, "", everyone, func(t *testing.T, f *authzFixture, c authzCaller) error {
			res, err := f.cl[c].identity.CreateApiKey(f.ctx, connect.NewRequest(&flowhookv1.CreateApiKeyRequest{Name: f.next("mine")}))
			if err == nil {
				require.Equal(t, f.ids[c], res.Msg.GetApiKey().GetUserId())
				require.Equal(t, auth.Prefix(res.Msg.GetSecret()), res.Msg.GetApiKey().GetPrefix())
				require.True(t, f.keyWorks(t, res.Msg.GetSecret(), f.ids[c]), "the new key authenticates its user")
			}
			return err
		}},
		{flowhookv1connect.IdentityServiceCreateApiKeyProcedure, "self-by-id", selves, func(t *testing.T, f *authzFixture, c authzCaller) error {
			res, err := f.cl[c].identity.CreateApiKey(f.ctx, connect.NewRequest(&flowhookv1.CreateApiKeyRequest{UserId: f.ids[c], Name: f.next("mine")}))
			if err == nil {
				require.Equal(t, f.ids[c], res.Msg.GetApiKey().GetUserId())
			}
			return err
		}},
		{flowhookv1connect.IdentityServiceCreateApiKeyProcedure, "for-other-user", admins, func(t *testing.T, f *authzFixture, c authzCaller) error {
			name := f.next("theirs")
			res, err := f.cl[c].identity.CreateApiKey(f.ctx, connect.NewRequest(&flowhookv1.CreateApiKeyRequest{UserId: f.spareID, Name: name}))
			if err == nil {
				require.Equal(t, f.spareID, res.Msg.GetApiKey().GetUserId())
				return nil
			}
			keys, lerr := f.b.identity.ListApiKeys(f.ctx, connect.NewRequest(&flowhookv1.ListApiKeysRequest{UserId: f.spareID}))
			require.NoError(t, lerr)
			for _, k := range keys.Msg.GetApiKeys() {
				require.NotEqual(t, name, k.GetName(), "a refused call created a key")
			}
			return err
		}},
		{flowhookv1connect.IdentityServiceRevokeApiKeyProcedure, "", everyone, func(t *testing.T, f *authzFixture, c authzCaller) error {
			owner := f.ids[c]
			if owner == "" {
				owner = f.spareID
			}
			id, secret := f.newKey(t, owner)
			res, err := f.cl[c].identity.RevokeApiKey(f.ctx, connect.NewRequest(&flowhookv1.RevokeApiKeyRequest{ApiKeyId: id}))
			if err == nil {
				require.NotNil(t, res.Msg.GetApiKey().GetRevokedAt())
			}
			require.Equal(t, err != nil, f.keyWorks(t, secret, owner), "the key works unless the call revoked it")
			return err
		}},
		{flowhookv1connect.IdentityServiceRevokeApiKeyProcedure, "other-users-key", notFound, func(t *testing.T, f *authzFixture, c authzCaller) error {
			id, secret := f.newKey(t, f.spareID)
			res, err := f.cl[c].identity.RevokeApiKey(f.ctx, connect.NewRequest(&flowhookv1.RevokeApiKeyRequest{ApiKeyId: id}))
			if err == nil {
				require.NotNil(t, res.Msg.GetApiKey().GetRevokedAt())
			}
			require.Equal(t, err != nil, f.keyWorks(t, secret, f.spareID), "the key works unless the call revoked it")
			return err
		}},
		{flowhookv1connect.IdentityServiceListApiKeysProcedure, "", everyone, func(t *testing.T, f *authzFixture, c authzCaller) error {
			res, err := f.cl[c].identity.ListApiKeys(f.ctx, connect.NewRequest(&flowhookv1.ListApiKeysRequest{}))
			if err == nil {
				var ids []string
				for _, k := range res.Msg.GetApiKeys() {
					require.Equal(t, f.ids[c], k.GetUserId())
					ids = append(ids, k.GetId())
				}
				require.Contains(t, ids, f.keyIDs[c])
			}
			return err
		}},
		{flowhookv1connect.IdentityServiceListApiKeysProcedure, "self-by-id", selves, func(t *testing.T, f *authzFixture, c authzCaller) error {
			res, err := f.cl[c].identity.ListApiKeys(f.ctx, connect.NewRequest(&flowhookv1.ListApiKeysRequest{UserId: f.ids[c]}))
			if err == nil {
				require.NotEmpty(t, res.Msg.GetApiKeys())
			}
			return err
		}},
		{flowhookv1connect.IdentityServiceListApiKeysProcedure, "other-user", admins, func(t *testing.T, f *authzFixture, c authzCaller) error {
			res, err := f.cl[c].identity.ListApiKeys(f.ctx, connect.NewRequest(&flowhookv1.ListApiKeysRequest{UserId: f.spareID}))
			if err == nil {
				for _, k := range res.Msg.GetApiKeys() {
					require.Equal(t, f.spareID, k.GetUserId())
				}
			}
			return err
		}},
		{flowhookv1connect.IdentityServiceWhoAmIProcedure, "", everyone, func(t *testing.T, f *authzFixture, c authzCaller) error {
			res, err := f.cl[c].identity.WhoAmI(f.ctx, connect.NewRequest(&flowhookv1.WhoAmIRequest{}))
			if err == nil {
				require.Equal(t, f.ids[c], res.Msg.GetUser().GetId())
				require.Equal(t, f.keyIDs[c], res.Msg.GetApiKeyId())
			}
			return err
		}},
	}
}

// authzProcedures lists every RPC of the services, from their descriptors.
func authzProcedures() []string {
	var out []string
	for _, fd := range []protoreflect.FileDescriptor{
		flowhookv1.File_flowhook_v1_design_proto,
		flowhookv1.File_flowhook_v1_instance_proto,
		flowhookv1.File_flowhook_v1_identity_proto,
		flowhookv1.File_flowhook_v1_settings_proto,
		flowhookv1.File_flowhook_v1_eventlog_proto,
	} {
		for i := range fd.Services().Len() {
			s := fd.Services().Get(i)
			for j := range s.Methods().Len() {
				out = append(out, "/"+string(s.FullName())+"/"+string(s.Methods().Get(j).Name()))
			}
		}
	}
	sort.Strings(out)
	return out
}

func TestAuthorization(t *testing.T) {
	t.Parallel()
	rows := authzRows()

	t.Run("table covers every RPC and caller", func(t *testing.T) {
		procs := authzProcedures()
		require.Len(t, procs, 49, "design 11 + instance 10 + identity 12 + settings 12 + event log 4")
		base := map[string]bool{}
		names := map[string]bool{}
		for _, r := range rows {
			require.Contains(t, procs, r.procedure, "a row for an RPC the services do not have")
			require.False(t, names[r.name()], "two rows named %s", r.name())
			names[r.name()] = true
			require.NotEmpty(t, r.want, r.name())
			for c := range r.want {
				require.Contains(t, authzCallers, c, r.name())
			}
			if r.variant == "" {
				for _, c := range authzCallers {
					require.Contains(t, r.want, c, "%s: no expectation for %s", r.name(), c)
				}
				base[r.procedure] = true
			}
		}
		for _, p := range procs {
			require.True(t, base[p], "%s has no row for every caller in the authorization table", p)
		}
	})

	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setup(t, d)
		f := newAuthzFixture(t, b)

		for _, r := range rows {
			for _, c := range authzCallers {
				want, ok := r.want[c]
				if !ok {
					continue
				}
				t.Run(string(c)+"/"+r.name(), func(t *testing.T) {
					_, before := f.rec[c].state()
					err := r.call(t, f, c)
					last, after := f.rec[c].state()
					require.Greater(t, after, before, "the row made no call as %s", c)
					require.Equal(t, r.procedure, last, "the row's last call as %s", c)
					if want == authzOK {
						require.NoError(t, err)
					} else {
						requireCode(t, err, want)
					}
				})
			}
		}

		t.Run("WhoAmI/member", func(t *testing.T) {
			res, err := f.cl[authzUser].identity.WhoAmI(f.ctx, connect.NewRequest(&flowhookv1.WhoAmIRequest{}))
			require.NoError(t, err)
			require.Equal(t, f.ids[authzUser], res.Msg.GetUser().GetId())
			require.Equal(t, "user", res.Msg.GetUser().GetDisplayName())
			require.Equal(t, "user@authz.example.com", res.Msg.GetUser().GetEmail())
			require.Equal(t, []flowhookv1.Role{flowhookv1.Role_ROLE_USER}, res.Msg.GetUser().GetRoles())
			require.Equal(t, []string{b.legalGroupID}, res.Msg.GetGroupIds())
			require.Equal(t, f.keyIDs[authzUser], res.Msg.GetApiKeyId())

			out, err := f.cl[authzOutsider].identity.WhoAmI(f.ctx, connect.NewRequest(&flowhookv1.WhoAmIRequest{}))
			require.NoError(t, err)
			require.Equal(t, []flowhookv1.Role{flowhookv1.Role_ROLE_USER}, out.Msg.GetUser().GetRoles())
			require.Empty(t, out.Msg.GetGroupIds())
			des, err := f.cl[authzDesigner].identity.WhoAmI(f.ctx, connect.NewRequest(&flowhookv1.WhoAmIRequest{}))
			require.NoError(t, err)
			require.Equal(t, []flowhookv1.Role{flowhookv1.Role_ROLE_DESIGNER}, des.Msg.GetUser().GetRoles())
		})

		t.Run("revoked key stops working immediately", func(t *testing.T) {
			id, secret := f.newKey(t, f.ids[authzOutsider])
			own := f.b.as(secret)
			_, err := own.instances.ListAssignedToMe(f.ctx, connect.NewRequest(&flowhookv1.ListAssignedToMeRequest{}))
			require.NoError(t, err)
			// The key revokes itself; the very next call with it is refused.
			res, err := own.identity.RevokeApiKey(f.ctx, connect.NewRequest(&flowhookv1.RevokeApiKeyRequest{ApiKeyId: id}))
			require.NoError(t, err)
			require.NotNil(t, res.Msg.GetApiKey().GetRevokedAt())
			_, err = own.identity.WhoAmI(f.ctx, connect.NewRequest(&flowhookv1.WhoAmIRequest{}))
			requireCode(t, err, authzUnauthn)
			_, err = own.instances.ListAssignedToMe(f.ctx, connect.NewRequest(&flowhookv1.ListAssignedToMeRequest{}))
			requireCode(t, err, authzUnauthn)
			_, err = own.identity.RevokeApiKey(f.ctx, connect.NewRequest(&flowhookv1.RevokeApiKeyRequest{ApiKeyId: id}))
			requireCode(t, err, authzUnauthn)
			require.NotNil(t, f.keyOf(t, f.ids[authzOutsider], id).GetRevokedAt())
			// The user's other key is untouched.
			require.True(t, f.keyWorks(t, f.secrets[authzOutsider], f.ids[authzOutsider]))
		})

		t.Run("last_used_at is set after use", func(t *testing.T) {
			id, secret := f.newKey(t, f.ids[authzDesigner])
			k := f.keyOf(t, f.ids[authzDesigner], id)
			require.Nil(t, k.GetLastUsedAt(), "never used")
			before := time.Now()
			require.True(t, f.keyWorks(t, secret, f.ids[authzDesigner]))
			after := time.Now()
			k = f.keyOf(t, f.ids[authzDesigner], id)
			require.NotNil(t, k.GetLastUsedAt(), "used once")
			used := k.GetLastUsedAt().AsTime()
			require.WithinRange(t, used, before.Add(-time.Second), after.Add(time.Second))
			require.False(t, used.Before(k.GetCreatedAt().AsTime().Truncate(time.Second)))
			// The fixture keys were used by the table.
			for _, c := range []authzCaller{authzDesigner, authzUser, authzOutsider} {
				require.NotNil(t, f.keyOf(t, f.ids[c], f.keyIDs[c]).GetLastUsedAt(), c)
			}
			// The revoked key was presented by the table, but never accepted.
			require.Nil(t, f.keyOf(t, f.ids[authzUser], f.keyIDs[authzRevoked]).GetLastUsedAt())
		})
	})
}
