package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/gen/flowhook/v1/flowhookv1connect"
	"github.com/flowhook/flowhook/server/internal/store"
)

// signingDraft is a valid workflow: a start form, a human review, a DocuSign signature and
// two ends.
func signingDraft(name string) *flowhookv1.WorkflowDraft {
	return &flowhookv1.WorkflowDraft{
		Name:        name,
		Description: "Contracts reviewed by legal, then signed",
		States: []*flowhookv1.State{
			{Key: "start", Name: "Request", Kind: flowhookv1.StateKind_STATE_KIND_START, FormFields: []*flowhookv1.FormField{
				{Name: "signer_name", Label: "Signer", Type: flowhookv1.FieldType_FIELD_TYPE_STRING, Required: true},
				{Name: "signer_email", Label: "Signer email", Type: flowhookv1.FieldType_FIELD_TYPE_EMAIL, Required: true},
				{Name: "amount", Type: flowhookv1.FieldType_FIELD_TYPE_NUMBER},
			}},
			{Key: "review", Name: "Legal review", Kind: flowhookv1.StateKind_STATE_KIND_HUMAN,
				Assignee: &flowhookv1.Assignee{Assignee: &flowhookv1.Assignee_GroupId{GroupId: "legal"}},
				Timeout:  durationpb.New(72 * 3600e9)},
			{Key: "sign", Name: "Signature", Kind: flowhookv1.StateKind_STATE_KIND_EXTERNAL, External: &flowhookv1.ExternalStep{
				Provider:         flowhookv1.Provider_PROVIDER_DOCUSIGN,
				EmailSubject:     "Please sign your contract",
				DocumentTitle:    "Contract",
				Signers:          []*flowhookv1.Signer{{NameField: "signer_name", EmailField: "signer_email"}},
				OutcomeOverrides: map[string]flowhookv1.Outcome{"envelope-voided": flowhookv1.Outcome_OUTCOME_DENIED},
			}},
			{Key: "done", Name: "Signed", Kind: flowhookv1.StateKind_STATE_KIND_END},
			{Key: "rejected", Name: "Rejected", Kind: flowhookv1.StateKind_STATE_KIND_END},
		},
		Transitions: []*flowhookv1.Transition{
			{Key: "submit", FromState: "start", ToState: "review"},
			{Key: "approve", FromState: "review", ToState: "sign"},
			{Key: "reject", FromState: "review", ToState: "rejected", OnTimeout: true},
			{Key: "signed", FromState: "sign", ToState: "done", OnOutcome: flowhookv1.Outcome_OUTCOME_FINISHED},
			{Key: "declined", FromState: "sign", ToState: "rejected", OnOutcome: flowhookv1.Outcome_OUTCOME_DENIED},
		},
	}
}

func TestDesignLifecycle(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setup(t, d)
		ctx := context.Background()

		created, err := b.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: b.draft("Contract signing")}))
		require.NoError(t, err)
		wf := created.Msg.GetWorkflow()
		require.NotEmpty(t, wf.GetId())
		require.EqualValues(t, 1, wf.GetRevision())
		require.EqualValues(t, 0, wf.GetLatestVersion())
		require.NotNil(t, wf.GetCreatedAt())
		// The create action is derived on the transition into the EXTERNAL state, and only there.
		for _, tr := range wf.GetDraft().GetTransitions() {
			if tr.GetToState() == "sign" {
				require.Len(t, tr.GetActions(), 1, tr.GetKey())
				require.Equal(t, flowhookv1.ActionKind_ACTION_KIND_DOCUSIGN_CREATE_ENVELOPE, tr.GetActions()[0].GetKind())
			} else {
				require.Empty(t, tr.GetActions(), tr.GetKey())
			}
		}

		got, err := b.design.GetWorkflow(ctx, connect.NewRequest(&flowhookv1.GetWorkflowRequest{WorkflowId: wf.GetId()}))
		require.NoError(t, err)
		require.True(t, proto.Equal(wf, got.Msg.GetWorkflow()), "get returns what create returned")

		// Update from revision 1; a second update from revision 1 is stale.
		draft2 := b.draft("Contract signing v2")
		// A designer who sends an action gets it replaced by the derived one, never removed.
		draft2.Transitions[1].Actions = nil
		draft2.Transitions[0].Actions = []*flowhookv1.Action{{Kind: flowhookv1.ActionKind_ACTION_KIND_ONESPAN_CREATE_PACKAGE}}
		updated, err := b.design.UpdateWorkflow(ctx, connect.NewRequest(&flowhookv1.UpdateWorkflowRequest{WorkflowId: wf.GetId(), Workflow: draft2, ExpectedRevision: 1}))
		require.NoError(t, err)
		require.EqualValues(t, 2, updated.Msg.GetWorkflow().GetRevision())
		require.Equal(t, "Contract signing v2", updated.Msg.GetWorkflow().GetDraft().GetName())
		require.Empty(t, updated.Msg.GetWorkflow().GetDraft().GetTransitions()[0].GetActions())
		require.Len(t, updated.Msg.GetWorkflow().GetDraft().GetTransitions()[1].GetActions(), 1)
		_, err = b.design.UpdateWorkflow(ctx, connect.NewRequest(&flowhookv1.UpdateWorkflowRequest{WorkflowId: wf.GetId(), Workflow: b.draft("stale"), ExpectedRevision: 1}))
		cerr := requireCode(t, err, connect.CodeAborted)
		require.Contains(t, cerr.Message(), "revision 2")

		// Publish revision 2 → version 1; publishing revision 1 (stale) is refused.
		_, err = b.design.PublishWorkflow(ctx, connect.NewRequest(&flowhookv1.PublishWorkflowRequest{WorkflowId: wf.GetId(), ExpectedRevision: 1}))
		requireCode(t, err, connect.CodeAborted)
		pub, err := b.design.PublishWorkflow(ctx, connect.NewRequest(&flowhookv1.PublishWorkflowRequest{WorkflowId: wf.GetId(), ExpectedRevision: 2}))
		require.NoError(t, err)
		v1 := pub.Msg.GetVersion()
		require.EqualValues(t, 1, v1.GetVersion())
		require.EqualValues(t, 2, v1.GetRevision())
		require.Equal(t, "Contract signing v2", v1.GetName())
		require.Len(t, v1.GetStates(), 5)
		require.Len(t, v1.GetTransitions()[1].GetActions(), 1)

		// Editing the draft never changes the published version.
		draft3 := b.draft("Contract signing v3")
		draft3.States[1].Name = "Finance review"
		_, err = b.design.UpdateWorkflow(ctx, connect.NewRequest(&flowhookv1.UpdateWorkflowRequest{WorkflowId: wf.GetId(), Workflow: draft3, ExpectedRevision: 2}))
		require.NoError(t, err)
		again, err := b.design.GetWorkflowVersion(ctx, connect.NewRequest(&flowhookv1.GetWorkflowVersionRequest{WorkflowId: wf.GetId(), Version: 1}))
		require.NoError(t, err)
		require.True(t, proto.Equal(v1, again.Msg.GetVersion()), "version 1 is immutable")
		require.Equal(t, "Legal review", again.Msg.GetVersion().GetStates()[1].GetName())

		// Publishing revision 3 gives version 2; publishing it again is idempotent.
		pub2, err := b.design.PublishWorkflow(ctx, connect.NewRequest(&flowhookv1.PublishWorkflowRequest{WorkflowId: wf.GetId(), ExpectedRevision: 3}))
		require.NoError(t, err)
		require.EqualValues(t, 2, pub2.Msg.GetVersion().GetVersion())
		pub2b, err := b.design.PublishWorkflow(ctx, connect.NewRequest(&flowhookv1.PublishWorkflowRequest{WorkflowId: wf.GetId(), ExpectedRevision: 3}))
		require.NoError(t, err)
		require.True(t, proto.Equal(pub2.Msg.GetVersion(), pub2b.Msg.GetVersion()))

		latest, err := b.design.GetWorkflowVersion(ctx, connect.NewRequest(&flowhookv1.GetWorkflowVersionRequest{WorkflowId: wf.GetId()}))
		require.NoError(t, err)
		require.EqualValues(t, 2, latest.Msg.GetVersion().GetVersion())
		wfNow, err := b.design.GetWorkflow(ctx, connect.NewRequest(&flowhookv1.GetWorkflowRequest{WorkflowId: wf.GetId()}))
		require.NoError(t, err)
		require.EqualValues(t, 2, wfNow.Msg.GetWorkflow().GetLatestVersion())
		require.EqualValues(t, 3, wfNow.Msg.GetWorkflow().GetRevision())

		// Versions list newest first, one per page.
		var numbers []int32
		token := ""
		for {
			res, err := b.design.ListWorkflowVersions(ctx, connect.NewRequest(&flowhookv1.ListWorkflowVersionsRequest{WorkflowId: wf.GetId(), PageSize: 1, PageToken: token}))
			require.NoError(t, err)
			for _, v := range res.Msg.GetVersions() {
				numbers = append(numbers, v.GetVersion())
			}
			if token = res.Msg.GetNextPageToken(); token == "" {
				break
			}
		}
		require.Equal(t, []int32{2, 1}, numbers)

		// The same calls work over gRPC (h2c).
		viaGRPC, err := b.designGRPC.GetWorkflowVersion(ctx, connect.NewRequest(&flowhookv1.GetWorkflowVersionRequest{WorkflowId: wf.GetId(), Version: 1}))
		require.NoError(t, err)
		require.True(t, proto.Equal(v1, viaGRPC.Msg.GetVersion()))
	})
}

func TestListWorkflowsPagination(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setup(t, d)
		ctx := context.Background()
		var alphas []string
		for i := range 7 {
			name := fmt.Sprintf("Beta %d", i)
			if i%2 == 0 {
				name = fmt.Sprintf("ALPHA onboarding %d", i)
			}
			res, err := b.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: b.draft(name)}))
			require.NoError(t, err)
			if i%2 == 0 {
				alphas = append(alphas, res.Msg.GetWorkflow().GetId())
			}
		}

		all, err := b.design.ListWorkflows(ctx, connect.NewRequest(&flowhookv1.ListWorkflowsRequest{}))
		require.NoError(t, err)
		require.Len(t, all.Msg.GetWorkflows(), 7)
		require.EqualValues(t, 7, all.Msg.GetTotalSize())
		require.Empty(t, all.Msg.GetNextPageToken())

		var seen []string
		token := ""
		pages := 0
		for {
			res, err := b.design.ListWorkflows(ctx, connect.NewRequest(&flowhookv1.ListWorkflowsRequest{PageSize: 3, PageToken: token, NameFilter: "alpha"}))
			require.NoError(t, err)
			require.EqualValues(t, 4, res.Msg.GetTotalSize())
			pages++
			for _, w := range res.Msg.GetWorkflows() {
				seen = append(seen, w.GetId())
			}
			if token = res.Msg.GetNextPageToken(); token == "" {
				break
			}
			// A token is bound to its filter.
			_, err = b.design.ListWorkflows(ctx, connect.NewRequest(&flowhookv1.ListWorkflowsRequest{PageSize: 3, PageToken: token, NameFilter: "beta"}))
			require.Contains(t, problems(t, requireCode(t, err, connect.CodeInvalidArgument)), "page_token")
		}
		require.Equal(t, 2, pages)
		require.Equal(t, alphas, seen, "creation order, no duplicates, nothing missed")
	})
}

func TestDesignRejectsBadInput(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setup(t, d)
		ctx := context.Background()
		created, err := b.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: b.draft("Valid")}))
		require.NoError(t, err)
		id := created.Msg.GetWorkflow().GetId()

		broken := b.draft("Broken")
		broken.States[1].Assignee = nil                                                // HUMAN without assignee
		broken.States[2].External.Signers[0].EmailField = "amount"                     // bound to a NUMBER
		broken.Transitions = append(broken.Transitions[:2], broken.Transitions[3:]...) // "rejected" now only from sign
		broken.Transitions[2].OnOutcome = flowhookv1.Outcome_OUTCOME_UNSPECIFIED

		unknownEnum := b.draft("Unknown enum")
		unknownEnum.States[1].Kind = flowhookv1.StateKind(99)

		long := signingDraft(strings.Repeat("x", 201))

		cases := []struct {
			name  string
			call  func() error
			code  connect.Code
			paths []string
		}{
			{"empty create", func() error {
				_, err := b.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{}))
				return err
			}, connect.CodeInvalidArgument, []string{"workflow"}},
			{"empty draft", func() error {
				_, err := b.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: &flowhookv1.WorkflowDraft{}}))
				return err
			}, connect.CodeInvalidArgument, []string{"workflow.name", "workflow.states"}},
			{"broken graph lists every problem", func() error {
				_, err := b.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: broken}))
				return err
			}, connect.CodeInvalidArgument, []string{
				"workflow.states[1].assignee",
				"workflow.states[2].external.signers[0].email_field",
				"workflow.transitions[2].on_outcome",
			}},
			{"unknown enum", func() error {
				_, err := b.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: unknownEnum}))
				return err
			}, connect.CodeInvalidArgument, []string{"workflow.states[1].kind"}},
			{"oversized name", func() error {
				_, err := b.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: long}))
				return err
			}, connect.CodeInvalidArgument, []string{"workflow.name"}},
			{"invalid timeout", func() error {
				dr := b.draft("Bad timeout")
				dr.States[1].Timeout = &durationpb.Duration{Seconds: 1, Nanos: -5}
				_, err := b.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: dr}))
				return err
			}, connect.CodeInvalidArgument, []string{"workflow.states[1].timeout"}},
			{"stale revision", func() error {
				_, err := b.design.UpdateWorkflow(ctx, connect.NewRequest(&flowhookv1.UpdateWorkflowRequest{WorkflowId: id, Workflow: b.draft("x"), ExpectedRevision: 7}))
				return err
			}, connect.CodeAborted, nil},
			{"update without revision", func() error {
				_, err := b.design.UpdateWorkflow(ctx, connect.NewRequest(&flowhookv1.UpdateWorkflowRequest{WorkflowId: id, Workflow: b.draft("x")}))
				return err
			}, connect.CodeInvalidArgument, []string{"expected_revision"}},
			{"update with bad id and bad draft", func() error {
				_, err := b.design.UpdateWorkflow(ctx, connect.NewRequest(&flowhookv1.UpdateWorkflowRequest{WorkflowId: "nope", Workflow: &flowhookv1.WorkflowDraft{}, ExpectedRevision: 1}))
				return err
			}, connect.CodeInvalidArgument, []string{"workflow_id", "workflow.name"}},
			{"get without id", func() error {
				_, err := b.design.GetWorkflow(ctx, connect.NewRequest(&flowhookv1.GetWorkflowRequest{}))
				return err
			}, connect.CodeInvalidArgument, []string{"workflow_id"}},
			{"get malformed id", func() error {
				_, err := b.design.GetWorkflow(ctx, connect.NewRequest(&flowhookv1.GetWorkflowRequest{WorkflowId: "'; DROP TABLE workflows; --"}))
				return err
			}, connect.CodeInvalidArgument, []string{"workflow_id"}},
			{"get unknown", func() error {
				_, err := b.design.GetWorkflow(ctx, connect.NewRequest(&flowhookv1.GetWorkflowRequest{WorkflowId: "0190f5d2-6b1e-7c3a-9d4e-1f2a3b4c5d6e"}))
				return err
			}, connect.CodeNotFound, nil},
			{"publish unknown", func() error {
				_, err := b.design.PublishWorkflow(ctx, connect.NewRequest(&flowhookv1.PublishWorkflowRequest{WorkflowId: "0190f5d2-6b1e-7c3a-9d4e-1f2a3b4c5d6e", ExpectedRevision: 1}))
				return err
			}, connect.CodeNotFound, nil},
			{"publish without revision", func() error {
				_, err := b.design.PublishWorkflow(ctx, connect.NewRequest(&flowhookv1.PublishWorkflowRequest{WorkflowId: id}))
				return err
			}, connect.CodeInvalidArgument, []string{"expected_revision"}},
			{"never published", func() error {
				_, err := b.design.GetWorkflowVersion(ctx, connect.NewRequest(&flowhookv1.GetWorkflowVersionRequest{WorkflowId: id}))
				return err
			}, connect.CodeNotFound, nil},
			{"negative version", func() error {
				_, err := b.design.GetWorkflowVersion(ctx, connect.NewRequest(&flowhookv1.GetWorkflowVersionRequest{WorkflowId: id, Version: -1}))
				return err
			}, connect.CodeInvalidArgument, []string{"version"}},
			{"versions of unknown workflow", func() error {
				_, err := b.design.ListWorkflowVersions(ctx, connect.NewRequest(&flowhookv1.ListWorkflowVersionsRequest{WorkflowId: "0190f5d2-6b1e-7c3a-9d4e-1f2a3b4c5d6e"}))
				return err
			}, connect.CodeNotFound, nil},
			{"garbage page token", func() error {
				_, err := b.design.ListWorkflows(ctx, connect.NewRequest(&flowhookv1.ListWorkflowsRequest{PageToken: "!!not-a-token"}))
				return err
			}, connect.CodeInvalidArgument, []string{"page_token"}},
			{"negative page size", func() error {
				_, err := b.design.ListWorkflows(ctx, connect.NewRequest(&flowhookv1.ListWorkflowsRequest{PageSize: -1}))
				return err
			}, connect.CodeInvalidArgument, []string{"page_size"}},
			{"oversized message", func() error {
				dr := b.draft("big")
				dr.Description = strings.Repeat("d", 2<<20)
				_, err := b.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: dr}))
				return err
			}, connect.CodeResourceExhausted, nil},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				cerr := requireCode(t, tc.call(), tc.code)
				require.NotContains(t, strings.ToLower(cerr.Message()), "ent:", "no internal text")
				require.NotContains(t, strings.ToLower(cerr.Message()), "sql", "no internal text")
				if tc.paths != nil {
					got := problems(t, cerr)
					for _, p := range tc.paths {
						require.Contains(t, got, p, "problems: %v", got)
					}
				}
			})
		}

		// Nothing was saved by any of the refused calls.
		list, err := b.design.ListWorkflows(ctx, connect.NewRequest(&flowhookv1.ListWorkflowsRequest{}))
		require.NoError(t, err)
		require.EqualValues(t, 1, list.Msg.GetTotalSize())
		got, err := b.design.GetWorkflow(ctx, connect.NewRequest(&flowhookv1.GetWorkflowRequest{WorkflowId: id}))
		require.NoError(t, err)
		require.EqualValues(t, 1, got.Msg.GetWorkflow().GetRevision())
		require.Equal(t, "Valid", got.Msg.GetWorkflow().GetDraft().GetName())
	})
}

func TestValidateWorkflow(t *testing.T) {
	t.Parallel()
	b := setup(t, store.SQLite)
	ctx := context.Background()
	ok, err := b.design.ValidateWorkflow(ctx, connect.NewRequest(&flowhookv1.ValidateWorkflowRequest{Workflow: b.draft("ok")}))
	require.NoError(t, err)
	require.Empty(t, ok.Msg.GetProblems())

	dr := b.draft("bad")
	dr.States[0].Kind = flowhookv1.StateKind_STATE_KIND_HUMAN // no START any more, and HUMAN without assignee
	res, err := b.design.ValidateWorkflow(ctx, connect.NewRequest(&flowhookv1.ValidateWorkflowRequest{Workflow: dr}))
	require.NoError(t, err)
	paths := map[string]bool{}
	for _, p := range res.Msg.GetProblems() {
		require.NotEmpty(t, p.GetMessage())
		paths[p.GetPath()] = true
	}
	require.True(t, paths["states"], "missing START: %v", res.Msg.GetProblems())
	require.True(t, paths["states[0].assignee"], "paths are relative to the draft: %v", res.Msg.GetProblems())

	list, err := b.design.ListWorkflows(ctx, connect.NewRequest(&flowhookv1.ListWorkflowsRequest{}))
	require.NoError(t, err)
	require.Zero(t, list.Msg.GetTotalSize(), "validation saves nothing")
}

// TestConcurrentChanges runs racing calls, as several replicas would: of updates from one
// revision exactly one wins; racing publications of one revision make exactly one version.
func TestConcurrentChanges(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setup(t, d)
		ctx := context.Background()
		created, err := b.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: b.draft("Race")}))
		require.NoError(t, err)
		id := created.Msg.GetWorkflow().GetId()

		const n = 10
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				_, errs[i] = b.design.UpdateWorkflow(ctx, connect.NewRequest(&flowhookv1.UpdateWorkflowRequest{
					WorkflowId: id, Workflow: b.draft(fmt.Sprintf("Race %d", i)), ExpectedRevision: 1}))
			})
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			if err == nil {
				wins++
				continue
			}
			requireCode(t, err, connect.CodeAborted)
		}
		require.Equal(t, 1, wins)

		versions := make([]int32, n)
		clear(errs)
		for i := range n {
			wg.Go(func() {
				res, err := b.design.PublishWorkflow(ctx, connect.NewRequest(&flowhookv1.PublishWorkflowRequest{WorkflowId: id, ExpectedRevision: 2}))
				if err == nil {
					versions[i] = res.Msg.GetVersion().GetVersion()
				} else {
					errs[i] = err
				}
			})
		}
		wg.Wait()
		for i := range n {
			require.NoError(t, errs[i])
			require.EqualValues(t, 1, versions[i], "every racer gets the one version")
		}
		list, err := b.design.ListWorkflowVersions(ctx, connect.NewRequest(&flowhookv1.ListWorkflowVersionsRequest{WorkflowId: id}))
		require.NoError(t, err)
		require.Len(t, list.Msg.GetVersions(), 1)
	})
}

// TestPlainHTTP covers what curl users and load balancers see: Connect JSON, malformed bodies,
// health, readiness, the webhook router and reflection.
func TestPlainHTTP(t *testing.T) {
	t.Parallel()
	b := setup(t, store.SQLite)
	ctx := context.Background()
	authorization := "Bearer " + bootstrapKey
	post := func(path, contentType, body string) (int, map[string]any) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.baseURL+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", contentType)
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		res, err := b.httpClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		raw, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		var out map[string]any
		if len(raw) > 0 && bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) {
			require.NoError(t, json.Unmarshal(raw, &out), string(raw))
		}
		return res.StatusCode, out
	}
	const create = "/flowhook.v1.WorkflowDesignService/CreateWorkflow"

	draftJSON := `{"workflow":{"name":"Curl","states":[{"key":"start","kind":"STATE_KIND_START"},{"key":"end","kind":"STATE_KIND_END"}],"transitions":[{"key":"finish","fromState":"start","toState":"end"}]}}`
	status, body := post(create, "application/json", draftJSON)
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, "1", body["workflow"].(map[string]any)["revision"], "int64 is a JSON string")

	status, body = post(create, "application/json", `{"workflow": {"name": `)
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "invalid_argument", body["code"])

	status, body = post(create, "application/json", `{"workflow":{"name":"x","states":[{"key":"a","kind":"STATE_KIND_BOGUS"}]}}`)
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "invalid_argument", body["code"])

	status, _ = post(create, "text/plain", draftJSON)
	require.Equal(t, http.StatusUnsupportedMediaType, status)

	for _, a := range []string{"", "Bearer", "Bearer nope", "Basic " + bootstrapKey, "Bearer " + strings.Repeat("k", 10_000)} {
		authorization = a
		status, body = post(create, "application/json", draftJSON)
		require.Equal(t, http.StatusUnauthorized, status, a)
		require.Equal(t, "unauthenticated", body["code"])
	}
	authorization = "Bearer " + bootstrapKey

	status, body = post("/webhooks/Nobody", "application/json", `{}`)
	require.Equal(t, http.StatusNotFound, status)
	require.Equal(t, "no such webhook provider", body["error"])

	for _, path := range []string{"/healthz", "/readyz"} {
		res, err := b.httpClient.Get(b.baseURL + path)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode, path)
		require.NoError(t, res.Body.Close())
	}

	health := grpchealth.NewClient(b.httpClient, b.baseURL)
	hres, err := health.Check(ctx, &grpchealth.CheckRequest{Service: flowhookv1connect.WorkflowDesignServiceName})
	require.NoError(t, err)
	require.Equal(t, grpchealth.StatusServing, hres.Status)

	reflect := grpcreflect.NewClient(b.h2cClient, b.baseURL)
	stream := reflect.NewStream(ctx)
	names, err := stream.ListServices()
	require.NoError(t, err)
	_, err = stream.Close()
	require.NoError(t, err)
	var listed []string
	for _, n := range names {
		listed = append(listed, string(n))
	}
	require.Contains(t, listed, flowhookv1connect.WorkflowDesignServiceName)
	require.Contains(t, listed, grpchealth.HealthV1ServiceName)
}

// TestNameFilterCountsCharacters: a name filter's limit is in characters, as its rule's is,
// not in bytes: 200 "ä" (400 bytes) filter the listings, 201 are refused.
func TestNameFilterCountsCharacters(t *testing.T) {
	t.Parallel()
	b := setup(t, store.SQLite)
	ctx := context.Background()
	name := strings.Repeat("ä", 200)
	created, err := b.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: b.draft(name)}))
	require.NoError(t, err)
	_, err = b.design.PublishWorkflow(ctx, connect.NewRequest(&flowhookv1.PublishWorkflowRequest{WorkflowId: created.Msg.GetWorkflow().GetId(), ExpectedRevision: 1}))
	require.NoError(t, err)

	list, err := b.design.ListWorkflows(ctx, connect.NewRequest(&flowhookv1.ListWorkflowsRequest{NameFilter: name}))
	require.NoError(t, err)
	require.Len(t, list.Msg.GetWorkflows(), 1)
	published, err := b.design.ListPublishedWorkflows(ctx, connect.NewRequest(&flowhookv1.ListPublishedWorkflowsRequest{NameFilter: name}))
	require.NoError(t, err)
	require.Len(t, published.Msg.GetVersions(), 1)

	_, err = b.design.ListWorkflows(ctx, connect.NewRequest(&flowhookv1.ListWorkflowsRequest{NameFilter: name + "ä"}))
	require.Contains(t, problems(t, requireCode(t, err, connect.CodeInvalidArgument)), "name_filter")
	_, err = b.design.ListPublishedWorkflows(ctx, connect.NewRequest(&flowhookv1.ListPublishedWorkflowsRequest{NameFilter: name + "ä"}))
	require.Contains(t, problems(t, requireCode(t, err, connect.CodeInvalidArgument)), "name_filter")
}
