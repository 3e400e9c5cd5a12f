package api_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/durationpb"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/store"
)

// ticketsDraft is a workflow whose approval waits on a connector's outside system: start,
// then a ticket in the system; approved ends in "done", denied or deleted in "rejected".
func ticketsDraft(name, connector string) *flowhookv1.WorkflowDraft {
	return &flowhookv1.WorkflowDraft{
		Name: name,
		States: []*flowhookv1.State{
			{Key: "start", Kind: flowhookv1.StateKind_STATE_KIND_START, FormFields: []*flowhookv1.FormField{
				{Name: "customer", Label: "Customer", Type: flowhookv1.FieldType_FIELD_TYPE_STRING, Required: true},
				{Name: "amount", Type: flowhookv1.FieldType_FIELD_TYPE_NUMBER},
			}},
			{Key: "ticket", Name: "Credit check", Kind: flowhookv1.StateKind_STATE_KIND_EXTERNAL, External: &flowhookv1.ExternalStep{
				Provider: flowhookv1.Provider_PROVIDER_CONNECTOR, Connector: connector, IncludeDocument: true,
			}},
			{Key: "done", Kind: flowhookv1.StateKind_STATE_KIND_END},
			{Key: "rejected", Kind: flowhookv1.StateKind_STATE_KIND_END},
		},
		Transitions: []*flowhookv1.Transition{
			{Key: "submit", FromState: "start", ToState: "ticket"},
			{Key: "approved", FromState: "ticket", ToState: "done", OnOutcome: flowhookv1.Outcome_OUTCOME_APPROVED},
			{Key: "finished", FromState: "ticket", ToState: "done", OnOutcome: flowhookv1.Outcome_OUTCOME_FINISHED},
			{Key: "denied", FromState: "ticket", ToState: "rejected", OnOutcome: flowhookv1.Outcome_OUTCOME_DENIED},
			{Key: "deleted", FromState: "ticket", ToState: "rejected", OnOutcome: flowhookv1.Outcome_OUTCOME_DELETED},
			{Key: "expired", FromState: "ticket", ToState: "rejected", OnOutcome: flowhookv1.Outcome_OUTCOME_EXPIRED},
		},
	}
}

func TestConnectorAdministration(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setup(t, d)
		ctx := context.Background()

		// Created with a generated secret, shown once.
		created, err := b.settings.CreateConnector(ctx, connect.NewRequest(&flowhookv1.CreateConnectorRequest{
			Name: "tickets", DisplayName: "Ticketing", CreateUrl: "http://tickets.example.test/tickets",
			StatusUrl: "https://tickets.example.test/tickets/{id}", CancelUrl: "https://tickets.example.test/tickets/{id}/cancel",
			Outcomes:   map[string]flowhookv1.Outcome{"ticket.approved": flowhookv1.Outcome_OUTCOME_APPROVED, "ticket.rejected": flowhookv1.Outcome_OUTCOME_DENIED},
			AuthHeader: "Authorization: Bearer outside-system-token-123"}))
		require.NoError(t, err)
		secret := created.Msg.GetSigningSecret()
		require.True(t, strings.HasPrefix(secret, "whsec_"), "a generated Standard Webhooks secret")
		c := created.Msg.GetConnector()
		require.Equal(t, "tickets", c.GetName())
		require.Equal(t, "Ticketing", c.GetDisplayName())
		require.Equal(t, b.baseURL+"/webhooks/c2i/tickets", c.GetWebhookUrl())
		require.True(t, c.GetSigningSecretSet())
		require.True(t, c.GetAuthHeaderSet())
		require.Equal(t, "Authorization", c.GetAuthHeaderName())
		require.EqualValues(t, 1, c.GetRevision())
		require.Len(t, c.GetOutcomes(), 2)
		require.NotNil(t, c.GetCreatedAt())
		require.Nil(t, c.GetPreviousSigningSecretValidUntil())
		require.Contains(t, strings.Join(c.GetWarnings(), "\n"), "create_url is not https")

		got, err := b.settings.GetConnector(ctx, connect.NewRequest(&flowhookv1.GetConnectorRequest{Name: "tickets"}))
		require.NoError(t, err)
		require.Equal(t, c.GetWebhookUrl(), got.Msg.GetConnector().GetWebhookUrl())
		// Neither the secret nor the auth header's value is ever shown again.
		for _, text := range []string{got.Msg.String(), created.Msg.GetConnector().String()} {
			require.NotContains(t, text, secret)
			require.NotContains(t, text, "outside-system-token-123")
		}

		// A given secret is taken as is and not returned.
		given := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		other, err := b.settings.CreateConnector(ctx, connect.NewRequest(&flowhookv1.CreateConnectorRequest{
			Name: "erp-2", CreateUrl: "https://erp.example.test/items", SigningSecret: given}))
		require.NoError(t, err)
		require.Empty(t, other.Msg.GetSigningSecret())
		require.Equal(t, "erp-2", other.Msg.GetConnector().GetDisplayName(), "the display name defaults to the name")

		_, err = b.settings.CreateConnector(ctx, connect.NewRequest(&flowhookv1.CreateConnectorRequest{Name: "tickets", CreateUrl: "https://x.example.test/"}))
		requireCode(t, err, connect.CodeAlreadyExists)

		// Every problem of a bad request at once.
		_, err = b.settings.CreateConnector(ctx, connect.NewRequest(&flowhookv1.CreateConnectorRequest{
			Name: "Bad Name", StatusUrl: "ftp://x", CancelUrl: "https://user:pw@x.example.test/{id}",
			Outcomes:      map[string]flowhookv1.Outcome{"": flowhookv1.Outcome_OUTCOME_APPROVED, "ok": flowhookv1.Outcome_OUTCOME_UNSPECIFIED},
			SigningSecret: "not-a-secret", AuthHeader: "no colon"}))
		ps := problems(t, requireCode(t, err, connect.CodeInvalidArgument))
		for _, path := range []string{"name", "create_url", "status_url", "cancel_url", `outcomes[""]`, `outcomes["ok"]`, "signing_secret", "auth_header"} {
			require.Contains(t, ps, path)
		}
		for _, msg := range ps {
			require.NotContains(t, msg, "not-a-secret", "a refused secret is never quoted")
		}

		// Listed by name, in pages.
		first, err := b.settings.ListConnectors(ctx, connect.NewRequest(&flowhookv1.ListConnectorsRequest{PageSize: 1}))
		require.NoError(t, err)
		require.EqualValues(t, 2, first.Msg.GetTotalSize())
		require.Equal(t, "erp-2", first.Msg.GetConnectors()[0].GetName())
		second, err := b.settings.ListConnectors(ctx, connect.NewRequest(&flowhookv1.ListConnectorsRequest{PageSize: 1, PageToken: first.Msg.GetNextPageToken()}))
		require.NoError(t, err)
		require.Equal(t, "tickets", second.Msg.GetConnectors()[0].GetName())
		require.Empty(t, second.Msg.GetNextPageToken())

		// Updated at its revision: a new secret is rolled, the previous one valid for the grace.
		update := &flowhookv1.UpdateConnectorRequest{Name: "tickets", DisplayName: "Tickets", CreateUrl: "https://tickets.example.test/tickets",
			StatusUrl: c.GetStatusUrl(), CancelUrl: c.GetCancelUrl(), Outcomes: c.GetOutcomes(), ExpectedRevision: 7}
		_, err = b.settings.UpdateConnector(ctx, connect.NewRequest(update))
		requireCode(t, err, connect.CodeAborted)
		update.ExpectedRevision = 1
		update.SigningSecret = given
		update.SigningSecretGrace = durationpb.New(2 * time.Hour)
		before := time.Now()
		updated, err := b.settings.UpdateConnector(ctx, connect.NewRequest(update))
		require.NoError(t, err)
		u := updated.Msg.GetConnector()
		require.EqualValues(t, 2, u.GetRevision())
		require.Equal(t, "Tickets", u.GetDisplayName())
		require.NotContains(t, strings.Join(u.GetWarnings(), "\n"), "create_url is not https")
		until := u.GetPreviousSigningSecretValidUntil().AsTime()
		require.WithinDuration(t, before.Add(2*time.Hour), until, time.Minute)
		require.True(t, u.GetAuthHeaderSet(), "an empty auth_header keeps the stored one")

		// The auth header is removed only when asked.
		update.ExpectedRevision, update.SigningSecret, update.SigningSecretGrace, update.ClearAuthHeader = 2, "", nil, true
		cleared, err := b.settings.UpdateConnector(ctx, connect.NewRequest(update))
		require.NoError(t, err)
		require.False(t, cleared.Msg.GetConnector().GetAuthHeaderSet())
		require.NotNil(t, cleared.Msg.GetConnector().GetPreviousSigningSecretValidUntil(), "keeping the secret keeps the previous one's grace")

		update.ExpectedRevision, update.SigningSecretGrace = 3, durationpb.New(31*24*time.Hour)
		ps = problems(t, requireCode(t, ignoreResponse(b.settings.UpdateConnector(ctx, connect.NewRequest(update))), connect.CodeInvalidArgument))
		require.Contains(t, ps, "signing_secret_grace")

		// Deleted: gone, and a second delete or a read is NotFound.
		_, err = b.settings.DeleteConnector(ctx, connect.NewRequest(&flowhookv1.DeleteConnectorRequest{Name: "erp-2"}))
		require.NoError(t, err)
		_, err = b.settings.DeleteConnector(ctx, connect.NewRequest(&flowhookv1.DeleteConnectorRequest{Name: "erp-2"}))
		requireCode(t, err, connect.CodeNotFound)
		_, err = b.settings.GetConnector(ctx, connect.NewRequest(&flowhookv1.GetConnectorRequest{Name: "erp-2"}))
		requireCode(t, err, connect.CodeNotFound)
		_, err = b.settings.GetConnector(ctx, connect.NewRequest(&flowhookv1.GetConnectorRequest{Name: "../settings"}))
		requireCode(t, err, connect.CodeNotFound)
	})
}

// ignoreResponse keeps the error of a call.
func ignoreResponse[T any](_ *connect.Response[T], err error) error { return err }

func TestConnectorInDesigns(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setup(t, d)
		ctx := context.Background()

		// A step naming no connector, or one nobody registered, is refused with its path.
		draft := ticketsDraft("Credit check", "")
		_, err := b.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: draft}))
		require.Contains(t, problems(t, requireCode(t, err, connect.CodeInvalidArgument)), "workflow.states[1].external.connector")
		draft = ticketsDraft("Credit check", "credit")
		_, err = b.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: draft}))
		ps := problems(t, requireCode(t, err, connect.CodeInvalidArgument))
		require.Contains(t, ps["workflow.states[1].external.connector"], `no connector is named "credit"`)
		// A connector with another provider is refused.
		signing := b.draft("Contract")
		signing.States[2].External.Connector = "credit"
		_, err = b.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: signing}))
		require.Contains(t, problems(t, requireCode(t, err, connect.CodeInvalidArgument)), "workflow.states[2].external.connector")

		_, err = b.settings.CreateConnector(ctx, connect.NewRequest(&flowhookv1.CreateConnectorRequest{Name: "credit", CreateUrl: "https://credit.example.test/checks"}))
		require.NoError(t, err)
		// Any event type may be overridden (the outside system names its own).
		draft.States[1].External.OutcomeOverrides = map[string]flowhookv1.Outcome{"check.passed": flowhookv1.Outcome_OUTCOME_APPROVED}
		wf, err := b.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: draft}))
		require.NoError(t, err)
		v, err := b.design.PublishWorkflow(ctx, connect.NewRequest(&flowhookv1.PublishWorkflowRequest{WorkflowId: wf.Msg.GetWorkflow().GetId(), ExpectedRevision: 1}))
		require.NoError(t, err)
		submit := v.Msg.GetVersion().GetTransitions()[0]
		require.Equal(t, "submit", submit.GetKey())
		require.Len(t, submit.GetActions(), 1)
		require.Equal(t, flowhookv1.ActionKind_ACTION_KIND_CONNECTOR_CREATE_WORK_ITEM, submit.GetActions()[0].GetKind())
		step := v.Msg.GetVersion().GetStates()[1].GetExternal()
		require.Equal(t, "credit", step.GetConnector())
		require.True(t, step.GetIncludeDocument())

		// A published version uses it: it cannot be deleted, and the error says by what.
		_, err = b.settings.DeleteConnector(ctx, connect.NewRequest(&flowhookv1.DeleteConnectorRequest{Name: "credit"}))
		cerr := requireCode(t, err, connect.CodeFailedPrecondition)
		require.Contains(t, cerr.Message(), wf.Msg.GetWorkflow().GetId()+"/1")
	})
}

// TestConnectorNameRequired: GetConnector and DeleteConnector without a name are the caller's
// mistake (InvalidArgument at name), not a connector that is not there.
func TestConnectorNameRequired(t *testing.T) {
	t.Parallel()
	b := setup(t, store.SQLite)
	ctx := context.Background()
	_, err := b.settings.GetConnector(ctx, connect.NewRequest(&flowhookv1.GetConnectorRequest{}))
	require.Contains(t, problems(t, requireCode(t, err, connect.CodeInvalidArgument)), "name")
	_, err = b.settings.DeleteConnector(ctx, connect.NewRequest(&flowhookv1.DeleteConnectorRequest{}))
	require.Contains(t, problems(t, requireCode(t, err, connect.CodeInvalidArgument)), "name")
	// A name nobody has is still NotFound.
	_, err = b.settings.GetConnector(ctx, connect.NewRequest(&flowhookv1.GetConnectorRequest{Name: "nobody"}))
	requireCode(t, err, connect.CodeNotFound)
}
