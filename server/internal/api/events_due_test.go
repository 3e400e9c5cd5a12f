package api_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace/noop"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/store"
	"github.com/flowhook/flowhook/server/internal/telemetry"
)

// TestEventLeftDueIsProcessedLater: what a replica killed just after storing a OneSpan callback
// leaves — the event PENDING and marked due, nobody processing it — is processed by the next
// replica: its sweep (the grace a millisecond here) hands the mark to a process_event job as it
// starts, the job reads the package back and the instance moves, once.
func TestEventLeftDueIsProcessedLater(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setupOneSpan(t, d)
		ctx := context.Background()
		id, pkg := b.toSignature(t)
		b.stop()
		// Signed while flowhook is down: the fake's callbacks fail (OneSpan does not retry them).
		require.NoError(t, b.fake.Complete(pkg))

		// The store of a replica that stored the callback and died: no queue is told.
		db, err := store.Open(ctx, store.Options{DatabaseURL: b.cfg.DatabaseURL, DataDir: b.cfg.DataDir, MaxConns: 2})
		require.NoError(t, err)
		st := store.New(db)
		body := fmt.Appendf(nil, `{"@class":"com.silanis.esl.packages.event.ESLProcessEvent","name":"PACKAGE_COMPLETE","packageId":%q}`, pkg)
		ev, created, err := st.InsertEvent(ctx, engine.StoredEvent{Event: engine.InboundEvent{System: engine.System{Provider: "ONESPAN"},
			Type: "PACKAGE_COMPLETE", ExternalID: pkg, DedupeKey: "left-" + pkg, OccurredAt: time.Now()},
			Body: body, Headers: map[string]string{"Content-Type": "application/json"}, ReceivedAt: time.Now(), Verdict: engine.VerdictPending})
		require.NoError(t, err)
		require.True(t, created)
		due, err := st.EventsDue(ctx)
		require.NoError(t, err)
		require.EqualValues(t, 1, due)
		require.NoError(t, db.Close())

		cfg := b.cfg
		cfg.MarkGrace = time.Millisecond                    // the replica's sweep takes the mark at once
		tel, err := telemetry.New(noop.NewTracerProvider()) // its /metrics
		require.NoError(t, err)
		r := serveWith(t, cfg, tel)
		require.Eventually(t, func() bool {
			got, err := r.instances.GetInstance(ctx, connect.NewRequest(&flowhookv1.GetInstanceRequest{InstanceId: id}))
			return err == nil && got.Msg.GetInstance().GetStateKey() == "done"
		}, 60*time.Second, 20*time.Millisecond, "the sweep's job never processed the event")
		got, err := r.eventLog.GetEvent(ctx, connect.NewRequest(&flowhookv1.GetEventRequest{Id: ev.ID}))
		require.NoError(t, err)
		require.Equal(t, flowhookv1.Verdict_VERDICT_APPLIED, got.Msg.GetEvent().GetVerdict())
		require.Eventually(t, func() bool {
			due, ok := scrape(t, r, "flowhook_events_due")
			return ok && due == 0
		}, 20*time.Second, 20*time.Millisecond)
	})
}
