package api_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace/noop"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/store"
	"github.com/flowhook/flowhook/server/internal/telemetry"
)

// TestWebhookMetricsFinalVerdict: flowhook_webhooks_total counts a notification once, with
// its final verdict, when it is decided. A OneSpan callback is stored PENDING and applied by its
// job: it counts once as applied, never as pending; one that waits for its package is not
// counted while it waits.
func TestWebhookMetricsFinalVerdict(t *testing.T) {
	t.Parallel()
	tel, err := telemetry.New(noop.NewTracerProvider())
	require.NoError(t, err)
	b := setupOneSpanWith(t, store.Postgres, tel)

	id, pkg := b.toSignature(t)
	require.NoError(t, b.fake.Complete(pkg))
	b.settled(t, id, "done")
	require.Eventually(t, func() bool {
		applied, ok := scrape(t, b.testBundle, "flowhook_webhooks_total", `provider="ONESPAN"`, `verdict="applied"`)
		return ok && applied == 1
	}, 20*time.Second, 10*time.Millisecond, "the callback is counted as applied when its job applies it")
	_, pending := scrape(t, b.testBundle, "flowhook_webhooks_total", `provider="ONESPAN"`, `verdict="pending"`)
	require.False(t, pending, "PENDING is not a final verdict")
	before, _ := scrape(t, b.testBundle, "flowhook_webhooks_total", `provider="ONESPAN"`)

	// A callback for a package nobody knows (yet) waits PENDING, within the orphan window:
	// answered, stored, not counted.
	const unknown = "bm90LWEtcGFja2FnZS15ZXQ="
	require.Equal(t, 200, b.postCallback(t, osfEvent(t, "PACKAGE_COMPLETE", unknown, "someone", time.Now()), "Basic "+b.callbackKey))
	events := b.events(t, &flowhookv1.EventFilter{ExternalId: unknown})
	require.Len(t, events, 1)
	require.Equal(t, flowhookv1.Verdict_VERDICT_PENDING, events[0].GetVerdict())
	after, _ := scrape(t, b.testBundle, "flowhook_webhooks_total", `provider="ONESPAN"`)
	require.Equal(t, before, after, "a PENDING callback is not counted before it is decided")
	_, pending = scrape(t, b.testBundle, "flowhook_webhooks_total", `provider="ONESPAN"`, `verdict="pending"`)
	require.False(t, pending)
	ingested, ok := scrape(t, b.testBundle, "flowhook_webhook_ingest_duration_seconds_count", `provider="ONESPAN"`)
	require.True(t, ok)
	require.Greater(t, ingested, after, "it was received and timed")
}
