package api_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/store"
)

// TestCancelDuringProgressStorm cancels an instance while DocuSign reports progress on its
// envelope from many connections at once. Every party appends to the same activity timeline:
// the cancellation must not fail because a webhook's activity took "its" sequence number, no
// notification may be lost, and the timeline must stay gapless.
func TestCancelDuringProgressStorm(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setupDocuSign(t, d)
		ctx := context.Background()
		id, envID := b.toSignature(t)

		const notifications = 24
		bodies := make([][]byte, notifications)
		for i := range bodies {
			bodies[i] = simBody("envelope-delivered", "delivered", envID, b.fake.AccountID())
		}
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: notifications}}
		defer client.CloseIdleConnections()
		codes := make([]int, notifications)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range bodies {
			wg.Go(func() {
				<-start
				codes[i] = postSigned(client, b.baseURL, bodies[i])
			})
		}
		var cancelErr error
		wg.Go(func() {
			<-start
			_, cancelErr = b.starter.instances.CancelInstance(ctx, connect.NewRequest(&flowhookv1.CancelInstanceRequest{InstanceId: id, Reason: "withdrawn"}))
		})
		close(start)
		wg.Wait()

		require.NoError(t, cancelErr, "a cancellation racing webhooks succeeds")
		for i, c := range codes {
			require.Equal(t, http.StatusOK, c, "notification %d", i)
		}
		// Every notification is stored once and gets a final verdict (some by their job).
		require.Eventually(t, func() bool {
			res, err := b.eventLog.ListEvents(ctx, connect.NewRequest(&flowhookv1.ListEventsRequest{
				Filter: &flowhookv1.EventFilter{ExternalId: envID, EventType: "envelope-delivered"}, PageSize: 100}))
			if err != nil || len(res.Msg.GetEvents()) != notifications {
				return false
			}
			for _, e := range res.Msg.GetEvents() {
				if e.GetVerdict() == flowhookv1.Verdict_VERDICT_PENDING {
					return false
				}
			}
			return true
		}, 45*time.Second, 20*time.Millisecond)

		acts, err := b.instances.ListActivity(ctx, connect.NewRequest(&flowhookv1.ListActivityRequest{InstanceId: id, PageSize: 200}))
		require.NoError(t, err)
		var cancelled int
		for i, a := range acts.Msg.GetEntries() {
			require.EqualValues(t, i+1, a.GetSequence(), "the timeline has no gaps")
			if a.GetKind() == flowhookv1.ActivityKind_ACTIVITY_KIND_CANCELLED {
				cancelled++
			}
		}
		require.Equal(t, 1, cancelled)
		require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_CANCELLED, b.instance(t, id).GetStatus())
	})
}
