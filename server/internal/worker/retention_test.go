package worker

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/engine"
)

// retentionSettings holds a security group with the retentions set.
type retentionSettings struct {
	engine.SettingsStore
	plain map[string]any
}

func (s retentionSettings) GetSettings(_ context.Context, id string) (engine.Settings, error) {
	b, err := json.Marshal(s.plain)
	if err != nil {
		return engine.Settings{}, err
	}
	out := engine.Settings{ID: id, Revision: 1}
	return out, json.Unmarshal(b, &out.Plain)
}

// erasureRecorder is a RetentionStore that records what it is asked and erases nothing.
type erasureRecorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *erasureRecorder) record(what string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, what)
}

func (r *erasureRecorder) EraseFormData(context.Context, engine.Erasure) (int, error) {
	r.record("form data")
	return 0, nil
}

func (r *erasureRecorder) EraseDocuments(context.Context, engine.Erasure) (int, error) {
	r.record("documents")
	return 0, nil
}

func (r *erasureRecorder) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

// TestRetentionJobRunsOnStart: the retention job is a periodic job that runs as the queue
// starts (then every RetentionInterval, a day by default), and its worker runs Retention.
func TestRetentionJobRunsOnStart(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			db := dbtest.Open(t, d)
			q, err := New(db, slog.New(slog.DiscardHandler), Options{FetchPollInterval: 50 * time.Millisecond, FetchCooldown: 10 * time.Millisecond})
			require.NoError(t, err)
			rec := &erasureRecorder{}
			settings := retentionSettings{plain: engine.SecuritySettings{EventRetentionDays: 30, FormDataRetentionDays: 30, DocumentRetentionDays: 90}.Plain()}
			RegisterRetention(q.Workers(), engine.NewRetention(rec, engine.NewSecurity(settings, engine.SystemClock{}), engine.SystemClock{}))
			ctx := context.Background()
			require.NoError(t, q.Start(ctx))
			defer func() { require.NoError(t, q.Stop(ctx)) }()

			var job *rivertype.JobRow
			require.Eventually(t, func() bool {
				jobs, err := q.client.JobList(ctx, river.NewJobListParams().Kinds(engine.RetentionJob{}.Kind()))
				if err != nil || len(jobs.Jobs) != 1 {
					return false
				}
				job = jobs.Jobs[0]
				return job.State == rivertype.JobStateCompleted
			}, 30*time.Second, 20*time.Millisecond, "the retention job never ran to completion")
			require.Empty(t, job.Errors)
			require.Equal(t, []string{"form data", "documents"}, rec.seen(), "one batch each, which found nothing")
			require.Equal(t, "erase_by_retention", job.Kind)
		})
	}
}
