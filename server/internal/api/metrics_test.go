package api_test

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace/noop"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/store"
	"github.com/flowhook/flowhook/server/internal/telemetry"
)

// scrape reads GET /metrics and returns the sum of the samples of the metric whose labels
// include every one of labels (k="v"), and whether there was any.
func scrape(t *testing.T, b *testBundle, name string, labels ...string) (float64, bool) {
	t.Helper()
	res, err := b.httpClient.Get(b.baseURL + "/metrics")
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	var sum float64
	found := false
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "#") || !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if !strings.HasPrefix(rest, "{") && !strings.HasPrefix(rest, " ") {
			continue // another metric whose name starts with this one
		}
		match := true
		for _, l := range labels {
			match = match && strings.Contains(rest[:strings.LastIndex(rest, " ")], l)
		}
		if !match {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest[strings.LastIndex(rest, " "):]), 64)
		require.NoError(t, err, line)
		sum += v
		found = true
	}
	return sum, found
}

// TestMetrics follows an envelope in the Prometheus metrics: a failed create attempt, the work
// item waiting, the webhook by verdict, its processing time, River's job counts, and the
// store's write lanes.
func TestMetrics(t *testing.T) {
	t.Parallel()
	tel, err := telemetry.New(noop.NewTracerProvider())
	require.NoError(t, err)
	b := setupDocuSignWith(t, store.Postgres, tel, nil)

	waiting, ok := scrape(t, b.testBundle, "flowhook_work_items_waiting", `provider="DOCUSIGN"`)
	require.True(t, ok)
	require.Zero(t, waiting)
	_, ok = scrape(t, b.testBundle, "flowhook_work_items_waiting", `provider="ONESPAN"`)
	require.True(t, ok, "every provider is reported, zero or not")

	// The first create attempt loses DocuSign's answer: a failed job attempt, retried.
	b.fake.DropNextCreateResponse()
	id, envID := b.toSignature(t)
	failed, ok := scrape(t, b.testBundle, "flowhook_jobs_failed_total", `kind="create_work_item"`)
	require.True(t, ok)
	require.GreaterOrEqual(t, failed, 1.0)
	waiting, _ = scrape(t, b.testBundle, "flowhook_work_items_waiting", `provider="DOCUSIGN"`)
	require.Equal(t, 1.0, waiting)

	require.NoError(t, b.fake.Complete(envID))
	b.settled(t, id, "done")
	applied, ok := scrape(t, b.testBundle, "flowhook_webhooks_total", `provider="DOCUSIGN"`, `verdict="applied"`)
	require.True(t, ok)
	require.GreaterOrEqual(t, applied, 1.0)
	// The fake may still be posting a notification of the envelope (its deliveries are
	// concurrent), counted between the two scrapes: once none is in flight the two agree.
	require.Eventually(t, func() bool {
		all, _ := scrape(t, b.testBundle, "flowhook_webhooks_total", `provider="DOCUSIGN"`)
		ingested, ok := scrape(t, b.testBundle, "flowhook_webhook_ingest_duration_seconds_count", `provider="DOCUSIGN"`)
		return ok && all == ingested && all >= applied
	}, 10*time.Second, 10*time.Millisecond, "every notification is counted and timed")
	processed, ok := scrape(t, b.testBundle, "flowhook_webhook_process_duration_seconds_count", `provider="DOCUSIGN"`, `verdict="applied"`)
	require.True(t, ok)
	require.GreaterOrEqual(t, processed, 1.0)
	waiting, _ = scrape(t, b.testBundle, "flowhook_work_items_waiting", `provider="DOCUSIGN"`)
	require.Zero(t, waiting)
	// The completed envelope's document is fetched in-process: none stays due.
	require.Eventually(t, func() bool {
		due, ok := scrape(t, b.testBundle, "flowhook_documents_due")
		return ok && due == 0
	}, 20*time.Second, 20*time.Millisecond, "flowhook_documents_due is exported and comes back to 0")
	eventsDue, ok := scrape(t, b.testBundle, "flowhook_events_due")
	require.True(t, ok, "flowhook_events_due is exported")
	require.Zero(t, eventsDue, "no event waits in-process")
	creationsDue, ok := scrape(t, b.testBundle, "flowhook_creations_due")
	require.True(t, ok, "flowhook_creations_due is exported")
	require.Zero(t, creationsDue, "the envelope was created (its in-process attempt failed, and was handed to a job)")
	_, err = b.starter.instances.GetSignedDocument(context.Background(), connect.NewRequest(&flowhookv1.GetSignedDocumentRequest{InstanceId: id}))
	require.NoError(t, err, "its document was kept")
	require.Eventually(t, func() bool {
		done, ok := scrape(t, b.testBundle, "river_work_count_total", `kind="create_work_item"`, `status="ok"`)
		return ok && done >= 1
	}, 20*time.Second, 20*time.Millisecond, "River's job metrics are exported")

	// The store's write lanes: the envelope's progress went through the group commit, its
	// coupling and its completion through the pipeline of one-statement writes (PostgreSQL).
	for _, lane := range []string{`lane="events"`, `lane="statements"`} {
		writes, ok := scrape(t, b.testBundle, "flowhook_group_commit_writes_total", lane)
		require.True(t, ok, lane)
		batches, ok := scrape(t, b.testBundle, "flowhook_group_commit_batches_total", lane)
		require.True(t, ok, lane)
		require.True(t, batches >= 1 && batches <= writes, "%s: %v batches of %v writes", lane, batches, writes)
		busy, ok := scrape(t, b.testBundle, "flowhook_group_commit_busy_seconds_total", lane)
		require.True(t, ok, lane)
		require.Greater(t, busy, 0.0, lane)
	}

	// Nothing secret in any series.
	res, err := b.httpClient.Get(b.baseURL + "/metrics")
	require.NoError(t, err)
	text, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	for _, secret := range append([]string{bootstrapKey}, testHMACKeys...) {
		require.NotContains(t, string(text), secret)
	}
}
