package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/flowhook/flowhook/client"
	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/flowhooktest"
)

// TestMain checks that the servers flowhooktest starts (and the examples' stand-in for
// testing.TB) leave no goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// h1Client speaks HTTP/1.1 only.
func h1Client(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// h2cClient speaks HTTP/2 without TLS (prior knowledge), as gRPC needs.
func h2cClient(t *testing.T) *http.Client {
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &protocols}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// protoRecorder records the method of every request and the HTTP major version of every
// response.
type protoRecorder struct {
	next http.RoundTripper

	mu      sync.Mutex
	methods []string
	protos  []int
}

func (r *protoRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := r.next.RoundTrip(req)
	if err == nil {
		r.mu.Lock()
		r.methods = append(r.methods, req.Method)
		r.protos = append(r.protos, res.ProtoMajor)
		r.mu.Unlock()
	}
	return res, err
}

func (r *protoRecorder) recorded() (methods []string, majors []int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.methods), slices.Clone(r.protos)
}

// brokenDraft has three problems: no START state, a HUMAN state without an assignee, and a
// transition to a state that does not exist.
func brokenDraft() *flowhookv1.WorkflowDraft {
	return &flowhookv1.WorkflowDraft{
		Name: "Broken",
		States: []*flowhookv1.State{
			{Key: "review", Kind: flowhookv1.StateKind_STATE_KIND_HUMAN},
			{Key: "done", Kind: flowhookv1.StateKind_STATE_KIND_END},
		},
		Transitions: []*flowhookv1.Transition{{Key: "approve", FromState: "review", ToState: "archived"}},
	}
}

var brokenProblems = map[string]string{
	"workflow.states":                  "a workflow needs exactly one START state, found none",
	"workflow.states[0]":               `no END state can be reached from state "review"`,
	"workflow.states[0].assignee":      "a HUMAN state needs an assignee (a user or a group)",
	"workflow.transitions[0].to_state": `no state has the key "archived"`,
}

// problemMap is Problems as path → message.
func problemMap(err error) map[string]string {
	out := map[string]string{}
	for _, p := range client.Problems(err) {
		out[p.GetPath()] = p.GetMessage()
	}
	return out
}

func TestNewSendsTheKey(t *testing.T) {
	t.Parallel()
	srv := flowhooktest.Start(t)
	ctx := context.Background()
	admin := client.New(h1Client(t), srv.URL, srv.AdminKey)

	me, err := admin.Identity.WhoAmI(ctx, connect.NewRequest(&flowhookv1.WhoAmIRequest{}))
	require.NoError(t, err)
	require.Equal(t, "admin@flowhook.local", me.Msg.GetUser().GetEmail())
	require.Equal(t, []flowhookv1.Role{flowhookv1.Role_ROLE_ADMIN}, me.Msg.GetUser().GetRoles())
	require.NotEmpty(t, me.Msg.GetApiKeyId())

	// Another key is another caller: the key sent is the one given to New.
	bob, err := admin.Identity.CreateUser(ctx, connect.NewRequest(&flowhookv1.CreateUserRequest{
		DisplayName: "Bob", Email: "bob@example.com", Roles: []flowhookv1.Role{flowhookv1.Role_ROLE_USER}}))
	require.NoError(t, err)
	key, err := admin.Identity.CreateApiKey(ctx, connect.NewRequest(&flowhookv1.CreateApiKeyRequest{UserId: bob.Msg.GetUser().GetId(), Name: "test"}))
	require.NoError(t, err)
	asBob := client.New(h1Client(t), srv.URL, key.Msg.GetSecret())
	me, err = asBob.Identity.WhoAmI(ctx, connect.NewRequest(&flowhookv1.WhoAmIRequest{}))
	require.NoError(t, err)
	require.Equal(t, bob.Msg.GetUser().GetId(), me.Msg.GetUser().GetId())
	require.Equal(t, key.Msg.GetApiKey().GetId(), me.Msg.GetApiKeyId())
	// Every service client carries the key: Bob is no admin, so the admin-only services
	// refuse him (PermissionDenied, not Unauthenticated).
	_, err = asBob.Settings.GetDocuSignSettings(ctx, connect.NewRequest(&flowhookv1.GetDocuSignSettingsRequest{}))
	require.Equal(t, connect.CodePermissionDenied, client.Code(err), "%v", err)
	_, err = asBob.EventLog.ListEvents(ctx, connect.NewRequest(&flowhookv1.ListEventsRequest{}))
	require.Equal(t, connect.CodePermissionDenied, client.Code(err), "%v", err)
	_, err = asBob.Design.ListWorkflows(ctx, connect.NewRequest(&flowhookv1.ListWorkflowsRequest{}))
	require.Equal(t, connect.CodePermissionDenied, client.Code(err), "%v", err)
	assigned, err := asBob.Instances.ListAssignedToMe(ctx, connect.NewRequest(&flowhookv1.ListAssignedToMeRequest{}))
	require.NoError(t, err)
	require.Empty(t, assigned.Msg.GetInstances())
}

// TestOptionsReachEveryService passes an interceptor to New and calls each service once: it
// sees every call, after Bearer has set the key.
func TestOptionsReachEveryService(t *testing.T) {
	t.Parallel()
	srv := flowhooktest.Start(t)
	ctx := context.Background()
	var mu sync.Mutex
	seen := map[string]string{} // procedure → Authorization
	record := connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			mu.Lock()
			seen[req.Spec().Procedure] = req.Header().Get("Authorization")
			mu.Unlock()
			return next(ctx, req)
		}
	})
	admin := client.New(h1Client(t), srv.URL, srv.AdminKey, connect.WithInterceptors(record))

	_, err := admin.Design.ListWorkflows(ctx, connect.NewRequest(&flowhookv1.ListWorkflowsRequest{}))
	require.NoError(t, err)
	_, err = admin.Instances.ListInstances(ctx, connect.NewRequest(&flowhookv1.ListInstancesRequest{}))
	require.NoError(t, err)
	_, err = admin.Identity.ListUsers(ctx, connect.NewRequest(&flowhookv1.ListUsersRequest{}))
	require.NoError(t, err)
	settings, err := admin.Settings.GetDocuSignSettings(ctx, connect.NewRequest(&flowhookv1.GetDocuSignSettingsRequest{}))
	require.NoError(t, err)
	require.Equal(t, srv.URL+"/webhooks/DocuSign", settings.Msg.GetSettings().GetWebhookUrl())
	_, err = admin.EventLog.ListEvents(ctx, connect.NewRequest(&flowhookv1.ListEventsRequest{}))
	require.NoError(t, err)

	bearer := "Bearer " + srv.AdminKey
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, map[string]string{
		"/flowhook.v1.WorkflowDesignService/ListWorkflows":         bearer,
		"/flowhook.v1.WorkflowInstanceService/ListInstances":       bearer,
		"/flowhook.v1.IdentityService/ListUsers":                   bearer,
		"/flowhook.v1.ProviderSettingsService/GetDocuSignSettings": bearer,
		"/flowhook.v1.EventLogService/ListEvents":                  bearer,
	}, seen)
}

func TestWrongKeyIsUnauthenticated(t *testing.T) {
	t.Parallel()
	srv := flowhooktest.Start(t)
	ctx := context.Background()
	for name, key := range map[string]string{"wrong": "fh_not_a_key_of_this_server", "none": ""} {
		c := client.New(h1Client(t), srv.URL, key)
		_, err := c.Identity.WhoAmI(ctx, connect.NewRequest(&flowhookv1.WhoAmIRequest{}))
		require.Error(t, err, name)
		require.Equal(t, connect.CodeUnauthenticated, client.Code(err), "%s: %v", name, err)
		require.Equal(t, connect.CodeOf(err), client.Code(err))
		require.Nil(t, client.Problems(err), name)
	}
}

func TestProblems(t *testing.T) {
	t.Parallel()
	srv := flowhooktest.Start(t)
	c := client.New(h1Client(t), srv.URL, srv.AdminKey)

	_, err := c.Design.CreateWorkflow(context.Background(), connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: brokenDraft()}))
	require.Equal(t, connect.CodeInvalidArgument, client.Code(err), "%v", err)
	require.Equal(t, brokenProblems, problemMap(err))
	// Wrapped, as callers do.
	require.Equal(t, brokenProblems, problemMap(fmt.Errorf("create the workflow: %w", err)))

	require.Nil(t, client.Problems(nil))
	require.Nil(t, client.Problems(errors.New("not a connect error")))
	require.Nil(t, client.Problems(connect.NewError(connect.CodeNotFound, errors.New("no such workflow"))))
	require.Equal(t, connect.CodeUnknown, client.Code(errors.New("not a connect error")))

	// FailedPrecondition carries them too (publishing a draft that is no longer valid), and
	// other details are skipped.
	cerr := connect.NewError(connect.CodeFailedPrecondition, errors.New("the workflow's draft is not valid"))
	other, err := connect.NewErrorDetail(&flowhookv1.Problem{Path: "not", Message: "a ValidationErrorDetails"})
	require.NoError(t, err)
	cerr.AddDetail(other)
	detail, err := connect.NewErrorDetail(&flowhookv1.ValidationErrorDetails{Problems: []*flowhookv1.Problem{{Path: "states[1].assignee", Message: "no such group"}}})
	require.NoError(t, err)
	cerr.AddDetail(detail)
	require.Equal(t, map[string]string{"states[1].assignee": "no such group"}, problemMap(cerr))
}

// TestProtocols makes the same calls with each protocol and transport the server speaks.
func TestProtocols(t *testing.T) {
	t.Parallel()
	srv := flowhooktest.Start(t)
	cases := []struct {
		name   string
		hc     *http.Client
		proto  int    // the HTTP major version every answer must come in
		whoAmI string // the HTTP method of WhoAmI (side-effect free)
		opts   []connect.ClientOption
	}{
		{"connect over HTTP/1.1", h1Client(t), 1, http.MethodPost, nil},
		{"connect over h2c", h2cClient(t), 2, http.MethodPost, nil},
		{"connect with GET for side-effect-free calls", h1Client(t), 1, http.MethodGet, []connect.ClientOption{connect.WithHTTPGet()}},
		{"gRPC over h2c", h2cClient(t), 2, http.MethodPost, []connect.ClientOption{connect.WithGRPC()}},
		{"gRPC-Web over HTTP/1.1", h1Client(t), 1, http.MethodPost, []connect.ClientOption{connect.WithGRPCWeb()}},
		{"gRPC-Web over h2c", h2cClient(t), 2, http.MethodPost, []connect.ClientOption{connect.WithGRPCWeb()}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			rec := &protoRecorder{next: tc.hc.Transport}
			hc := &http.Client{Transport: rec}
			c := client.New(hc, srv.URL, srv.AdminKey, tc.opts...)
			me, err := c.Identity.WhoAmI(ctx, connect.NewRequest(&flowhookv1.WhoAmIRequest{}))
			require.NoError(t, err)
			require.Equal(t, "admin@flowhook.local", me.Msg.GetUser().GetEmail())

			_, err = c.Design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: brokenDraft()}))
			require.Equal(t, connect.CodeInvalidArgument, client.Code(err), "%v", err)
			require.Equal(t, brokenProblems, problemMap(err))

			wrong := client.New(hc, srv.URL, "fh_not_a_key_of_this_server", tc.opts...)
			_, err = wrong.Identity.WhoAmI(ctx, connect.NewRequest(&flowhookv1.WhoAmIRequest{}))
			require.Equal(t, connect.CodeUnauthenticated, client.Code(err), "%v", err)

			methods, majors := rec.recorded()
			require.Equal(t, []string{tc.whoAmI, http.MethodPost, tc.whoAmI}, methods)
			require.Equal(t, []int{tc.proto, tc.proto, tc.proto}, majors)
		})
	}
}

// TestBearerStreaming checks the streaming side of the interceptor (flowhook's RPCs are all
// unary today) against a local server-streaming handler that echoes what it received.
func TestBearerStreaming(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []string
	mux := http.NewServeMux()
	mux.Handle("/test.v1.Echo/Watch", connect.NewServerStreamHandler("/test.v1.Echo/Watch",
		func(_ context.Context, req *connect.Request[emptypb.Empty], stream *connect.ServerStream[emptypb.Empty]) error {
			mu.Lock()
			got = append(got, req.Header().Get("Authorization"))
			mu.Unlock()
			return stream.Send(&emptypb.Empty{})
		}))
	local := httptest.NewServer(mux)
	t.Cleanup(local.Close)

	for _, key := range []string{"fh_streaming_key", ""} {
		watch := connect.NewClient[emptypb.Empty, emptypb.Empty](local.Client(), local.URL+"/test.v1.Echo/Watch",
			connect.WithInterceptors(client.Bearer(key)))
		stream, err := watch.CallServerStream(context.Background(), connect.NewRequest(&emptypb.Empty{}))
		require.NoError(t, err)
		n := 0
		for stream.Receive() {
			n++
		}
		require.NoError(t, stream.Err())
		require.NoError(t, stream.Close())
		require.Equal(t, 1, n)
	}
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []string{"Bearer fh_streaming_key", ""}, got)
}

// TestDocuSignDecline drives an instance to its envelope and has the signer decline: the
// outcome DENIED takes "declined" to "rejected". A declined envelope cannot be completed.
func TestDocuSignDecline(t *testing.T) {
	t.Parallel()
	srv := flowhooktest.Start(t)
	ctx := context.Background()
	admin := client.New(h1Client(t), srv.URL, srv.AdminKey)
	_, workflowID, err := publishSigning(ctx, admin)
	require.NoError(t, err)
	require.Empty(t, srv.DocuSign.Envelopes())

	form, err := structpb.NewStruct(map[string]any{"signer_name": "Ada Lovelace", "signer_email": "ada@example.com"})
	require.NoError(t, err)
	started, err := admin.Instances.StartInstance(ctx, connect.NewRequest(&flowhookv1.StartInstanceRequest{WorkflowId: workflowID, FormData: form}))
	require.NoError(t, err)
	id := started.Msg.GetInstance().GetId()
	envelopeID, err := awaitEnvelope(ctx, admin, id)
	require.NoError(t, err)
	require.Equal(t, []string{envelopeID}, srv.DocuSign.Envelopes())

	require.NoError(t, srv.DocuSign.Decline(envelopeID, "I do not agree"))
	var in *flowhookv1.Instance
	require.NoError(t, waitFor(ctx, "the instance is rejected", func(ctx context.Context) (bool, error) {
		got, err := admin.Instances.GetInstance(ctx, connect.NewRequest(&flowhookv1.GetInstanceRequest{InstanceId: id}))
		if err != nil {
			return false, err
		}
		in = got.Msg.GetInstance()
		return in.GetStateKey() == "rejected", nil
	}))
	require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_COMPLETED, in.GetStatus())
	require.Equal(t, flowhookv1.Outcome_OUTCOME_DENIED, in.GetWorkItem().GetOutcome())

	require.Error(t, srv.DocuSign.Complete(envelopeID), "DocuSign refuses to complete a declined envelope")
	require.Error(t, srv.DocuSign.Decline("00000000-0000-0000-0000-000000000000", "no such envelope"))
	require.Equal(t, []string{envelopeID}, srv.DocuSign.Envelopes())
}

// TestServersAreIndependent starts two servers: each has its own database, port and admin
// key, and refuses the other's.
func TestServersAreIndependent(t *testing.T) {
	t.Parallel()
	a, b := flowhooktest.Start(t), flowhooktest.Start(t)
	require.NotEqual(t, a.URL, b.URL)
	require.NotEqual(t, a.AdminKey, b.AdminKey)
	require.GreaterOrEqual(t, len(a.AdminKey), 32)
	require.NotContains(t, a.AdminKey, " ")
	ctx := context.Background()
	_, err := client.New(h1Client(t), a.URL, b.AdminKey).Identity.WhoAmI(ctx, connect.NewRequest(&flowhookv1.WhoAmIRequest{}))
	require.Equal(t, connect.CodeUnauthenticated, client.Code(err), "%v", err)
	_, err = client.New(h1Client(t), a.URL, a.AdminKey).Identity.CreateGroup(ctx, connect.NewRequest(&flowhookv1.CreateGroupRequest{Name: "legal"}))
	require.NoError(t, err)
	_, err = client.New(h1Client(t), b.URL, b.AdminKey).Identity.CreateGroup(ctx, connect.NewRequest(&flowhookv1.CreateGroupRequest{Name: "legal"}))
	require.NoError(t, err, "the name is taken only in a's database")
}
