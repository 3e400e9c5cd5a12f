package api_test

import (
	"context"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/store"
)

// Names, labels, keys and emails with control characters (NUL included, which PostgreSQL
// cannot store) are InvalidArgument naming the field, on both databases; descriptions and
// reasons may hold line feeds and tabs, nothing else.
func TestControlCharactersRefused(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setup(t, d)
		p := newPeople(t, b)
		ctx := context.Background()
		started, err := p.starter.instances.StartInstance(ctx, connect.NewRequest(validStart(t, p.workflowID)))
		require.NoError(t, err)
		inst := started.Msg.GetInstance()

		for _, bad := range []string{"nul\x00here", "bell\x07ring", "esc\x1b[31m", "line\nfeed", "tab\there", "del\x7fete", "c1\u0085next"} {
			refused := func(t *testing.T, err error, path string) {
				t.Helper()
				ps := problems(t, requireCode(t, err, connect.CodeInvalidArgument))
				require.Contains(t, ps, path)
				require.Contains(t, ps[path], "control characters")
			}
			draft := func(edit func(*flowhookv1.WorkflowDraft)) *flowhookv1.WorkflowDraft {
				dr := b.draft("Control")
				edit(dr)
				return dr
			}
			_, err := b.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: draft(func(dr *flowhookv1.WorkflowDraft) {
				dr.Name = bad
			})}))
			refused(t, err, "workflow.name")
			_, err = b.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: draft(func(dr *flowhookv1.WorkflowDraft) {
				dr.States[1].Name = bad
			})}))
			refused(t, err, "workflow.states[1].name")
			_, err = b.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: draft(func(dr *flowhookv1.WorkflowDraft) {
				dr.States[0].FormFields[0].Label = bad
			})}))
			refused(t, err, "workflow.states[0].form_fields[0].label")
			_, err = b.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: draft(func(dr *flowhookv1.WorkflowDraft) {
				dr.Transitions[1].Name = bad
			})}))
			refused(t, err, "workflow.transitions[1].name")
			_, err = b.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: draft(func(dr *flowhookv1.WorkflowDraft) {
				dr.Transitions[1].Key = bad
			})}))
			requireCode(t, err, connect.CodeInvalidArgument)

			_, err = b.identity.CreateUser(ctx, connect.NewRequest(&flowhookv1.CreateUserRequest{DisplayName: bad, Email: "x@example.com",
				Roles: []flowhookv1.Role{flowhookv1.Role_ROLE_USER}}))
			refused(t, err, "display_name")
			_, err = b.identity.CreateGroup(ctx, connect.NewRequest(&flowhookv1.CreateGroupRequest{Name: bad}))
			refused(t, err, "name")
			_, err = b.identity.CreateApiKey(ctx, connect.NewRequest(&flowhookv1.CreateApiKeyRequest{Name: bad}))
			refused(t, err, "name")
			_, err = b.settings.CreateConnector(ctx, connect.NewRequest(&flowhookv1.CreateConnectorRequest{Name: "ctl", DisplayName: bad,
				CreateUrl: "https://tickets.example.test/tickets"}))
			refused(t, err, "display_name")
			_, err = p.member.instances.TakeTransition(ctx, connect.NewRequest(&flowhookv1.TakeTransitionRequest{InstanceId: inst.GetId(), TransitionKey: bad}))
			requireCode(t, err, connect.CodeInvalidArgument)
		}
		// An email is one line too.
		_, err = b.identity.CreateUser(ctx, connect.NewRequest(&flowhookv1.CreateUserRequest{DisplayName: "Nul", Email: "nul\x00@example.com",
			Roles: []flowhookv1.Role{flowhookv1.Role_ROLE_USER}}))
		require.Contains(t, problems(t, requireCode(t, err, connect.CodeInvalidArgument)), "email")
		// Prose: NUL and the other controls are refused; line feeds and tabs are kept.
		for _, bad := range []string{"nul\x00here", "bell\x07", "cr\rlf"} {
			_, err = b.instances.CancelInstance(ctx, connect.NewRequest(&flowhookv1.CancelInstanceRequest{InstanceId: inst.GetId(), Reason: bad}))
			require.Contains(t, problems(t, requireCode(t, err, connect.CodeInvalidArgument))["reason"], "control characters")
			_, err = b.identity.CreateGroup(ctx, connect.NewRequest(&flowhookv1.CreateGroupRequest{Name: "g", Description: bad}))
			require.Contains(t, problems(t, requireCode(t, err, connect.CodeInvalidArgument))["description"], "control characters")
		}
		g, err := b.identity.CreateGroup(ctx, connect.NewRequest(&flowhookv1.CreateGroupRequest{Name: "multi", Description: "line one\n\tline two"}))
		require.NoError(t, err)
		require.Equal(t, "line one\n\tline two", g.Msg.GetGroup().GetDescription())
		cancelled, err := b.instances.CancelInstance(ctx, connect.NewRequest(&flowhookv1.CancelInstanceRequest{InstanceId: inst.GetId(), Reason: "duplicate\n\tof another"}))
		require.NoError(t, err)
		require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_CANCELLED, cancelled.Msg.GetInstance().GetStatus())
	})
}
