package api_test

import (
	"context"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/store"
)

// TestReconcileRecoversALostNotification: DocuSign completes an envelope but its notification
// never arrives. Reconciliation asks DocuSign, finds the envelope completed, and the instance
// moves on exactly as the webhook would have moved it; asking again within 15 minutes is left
// for later, and the notification arriving after all changes nothing.
func TestReconcileRecoversALostNotification(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setupDocuSign(t, d)
		ctx := context.Background()
		id, envID := b.toSignature(t)
		other, _ := b.toSignature(t) // still waiting at DocuSign too

		b.fake.HoldDeliveries(true) // the notifications are lost, for now
		require.NoError(t, b.fake.Complete(envID))
		require.NotEmpty(t, b.fake.Held())
		require.Equal(t, "sign", b.instance(t, id).GetStateKey())

		gets := b.fake.CountRequests("GET", "/restapi/v2.1/accounts/"+b.fake.AccountID()+"/envelopes/"+envID)
		rep, err := b.eventLog.ReconcileWorkItems(ctx, connect.NewRequest(&flowhookv1.ReconcileWorkItemsRequest{}))
		require.NoError(t, err)
		require.EqualValues(t, 2, rep.Msg.GetChecked(), "both waiting envelopes were asked about")
		require.EqualValues(t, 1, rep.Msg.GetOutcomesFound())
		require.EqualValues(t, 1, rep.Msg.GetEventsStored())
		require.Empty(t, rep.Msg.GetProblems())
		require.Equal(t, gets+1, b.fake.CountRequests("GET", "/restapi/v2.1/accounts/"+b.fake.AccountID()+"/envelopes/"+envID))
		b.settled(t, id, "done")
		require.Equal(t, "sign", b.instance(t, other).GetStateKey())

		// The event reconciliation stored is in the Event Log like a webhook's.
		listed, err := b.eventLog.ListEvents(ctx, connect.NewRequest(&flowhookv1.ListEventsRequest{
			Filter: &flowhookv1.EventFilter{ExternalId: envID, EventType: "envelope-completed"}}))
		require.NoError(t, err)
		require.Len(t, listed.Msg.GetEvents(), 1)
		require.Equal(t, flowhookv1.Verdict_VERDICT_APPLIED, listed.Msg.GetEvents()[0].GetVerdict())
		require.Equal(t, "reconciliation", listed.Msg.GetEvents()[0].GetRemoteAddr())

		// Within DocuSign's 15 minutes nobody is asked again.
		rep, err = b.eventLog.ReconcileWorkItems(ctx, connect.NewRequest(&flowhookv1.ReconcileWorkItemsRequest{Provider: flowhookv1.Provider_PROVIDER_DOCUSIGN}))
		require.NoError(t, err)
		require.Zero(t, rep.Msg.GetChecked())

		// The lost notification turns up after all: nothing more happens.
		revision := b.instance(t, id).GetRevision()
		require.NoError(t, b.fake.Flush())
		completed, err := b.eventLog.ListEvents(ctx, connect.NewRequest(&flowhookv1.ListEventsRequest{
			Filter: &flowhookv1.EventFilter{ExternalId: envID, EventType: "envelope-completed"}}))
		require.NoError(t, err)
		require.Len(t, completed.Msg.GetEvents(), 2)
		require.Equal(t, flowhookv1.Verdict_VERDICT_DUPLICATE, completed.Msg.GetEvents()[0].GetVerdict())
		require.Equal(t, revision, b.instance(t, id).GetRevision())

		// Bad input.
		_, err = b.eventLog.ReconcileWorkItems(ctx, connect.NewRequest(&flowhookv1.ReconcileWorkItemsRequest{Provider: 99, Limit: 1001}))
		ps := problems(t, requireCode(t, err, connect.CodeInvalidArgument))
		require.Contains(t, ps, "provider")
		require.Contains(t, ps, "limit")
	})
}
