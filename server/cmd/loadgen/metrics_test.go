package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// metricsServer serves text as /metrics, or 404 when text is empty (a server whose metrics are
// off, OTEL_SDK_DISABLED).
func metricsServer(t *testing.T, text *string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" || *text == "" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, *text)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestReadLanes reads the write lanes as two replicas export them, among other series whose
// labels hold spaces and braces and whose values are not plain numbers; sums them over the
// replicas; and turns two readings into what each lane did between them. A server without
// metrics is an error (the row then shows no lanes), as is a sample that is not a number.
func TestReadLanes(t *testing.T) {
	ctx := context.Background()
	other := `# HELP flowhook_group_commit_batches_total Batches written
# TYPE flowhook_group_commit_batches_total counter
flowhook_webhooks_total{provider="connector:a b",verdict="applied"} 7
flowhook_webhook_ingest_duration_seconds_bucket{provider="DOCUSIGN",le="+Inf"} 3
go_gc_duration_seconds{quantile="NaN {x}"} NaN
flowhook_documents_due 2
`
	lanes := func(evBatches, evWrites, evBusy, stBatches int) string {
		return other + fmt.Sprintf(`flowhook_group_commit_batches_total{lane="events"} %d
flowhook_group_commit_batches_total{lane="statements"} %d
flowhook_group_commit_writes_total{lane="events"} %d
flowhook_group_commit_writes_total{lane="statements"} %d
flowhook_group_commit_busy_seconds_total{lane="events"} %d
flowhook_group_commit_busy_seconds_total{lane="statements"} 0.5
`, evBatches, stBatches, evWrites, stBatches, evBusy)
	}
	a, b := lanes(10, 30, 1, 0), lanes(20, 50, 2, 0)
	b1 := &bench{hc: http.DefaultClient, urls: []string{metricsServer(t, &a), metricsServer(t, &b)}}

	before, err := b1.readLanes(ctx)
	require.NoError(t, err)
	require.Equal(t, laneCount{batches: 30, writes: 80, busy: 3}, before.lanes["events"], "summed over the replicas")
	require.Equal(t, laneCount{batches: 0, writes: 0, busy: 1}, before.lanes["statements"])

	due, err := b1.documentsDue(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 2, due)

	// Between two readings 10 s apart: the events lane wrote 60 batches of 4, its two writers
	// busy 8 s in all (40% each); the statements lane wrote nothing and is left out.
	a, b = lanes(40, 150, 5, 0), lanes(50, 170, 6, 0)
	after, err := b1.readLanes(ctx)
	require.NoError(t, err)
	after.at = before.at.Add(10 * time.Second)
	uses := laneUses(before, after, len(b1.urls))
	require.Equal(t, map[string]laneUse{"events": {Batches: 60, WritesPerBatch: 4, Busy: 0.4}}, uses)
	require.Equal(t, "ev 4.0 40%", lanesText(uses))
	require.Equal(t, "-", lanesText(nil))

	// A replica restarted between the readings (its counters back near zero): nothing is
	// reported rather than a negative rate.
	a, b = lanes(1, 1, 0, 0), lanes(2, 2, 0, 0)
	restarted, err := b1.readLanes(ctx)
	require.NoError(t, err)
	restarted.at = before.at.Add(10 * time.Second)
	require.Empty(t, laneUses(before, restarted, len(b1.urls)))

	// Metrics off on one replica: an error, and the row shows no lanes.
	b = ""
	_, err = b1.readLanes(ctx)
	require.ErrorIs(t, err, errStatus)
	a = other + "flowhook_group_commit_batches_total{lane=\"events\"} many\n"
	_, err = (&bench{hc: http.DefaultClient, urls: b1.urls[:1]}).readLanes(ctx)
	require.ErrorContains(t, err, "many")
	a = "flowhook_events_due 0\n"
	_, err = b1.documentsDue(ctx)
	require.ErrorContains(t, err, "no flowhook_documents_due")
}
