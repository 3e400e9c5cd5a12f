package worker

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/engine"
)

// fetchLog records the work items fetched, and fails those named to fail.
type fetchLog struct {
	mu      sync.Mutex
	fetched []string
	fail    map[string]bool
}

func (f *fetchLog) fetch(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fetched = append(f.fetched, id)
	if f.fail[id] {
		return errors.New("the provider is down")
	}
	return nil
}

func (f *fetchLog) has(ids ...string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range ids {
		if !slices.Contains(f.fetched, id) {
			return false
		}
	}
	return true
}

// TestDocuments: a document that committed due is fetched in-process at once; one that fails
// is logged and left to the sweep; the sweep runs on the leader as the queue starts, with the
// grace as its cutoff, and hands over batch after batch while they come full; the jobs it
// enqueues fetch too.
func TestDocuments(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			db := dbtest.Open(t, d)
			var logs lockedBuffer
			q, err := New(db, slog.New(slog.NewJSONHandler(&logs, nil)), Options{FetchPollInterval: 50 * time.Millisecond,
				FetchCooldown: 10 * time.Millisecond, DocumentGrace: time.Hour})
			require.NoError(t, err)
			f := &fetchLog{fail: map[string]bool{"w-bad": true}}
			var mu sync.Mutex
			var cutoffs []time.Time
			handOver := func(_ context.Context, cutoff time.Time, limit int) (int, error) {
				mu.Lock()
				defer mu.Unlock()
				cutoffs = append(cutoffs, cutoff)
				if len(cutoffs) == 1 {
					return limit, nil // a full batch: there may be more
				}
				return 3, nil
			}
			RegisterDocuments(q, f.fetch, handOver)
			ctx := context.Background()
			started := time.Now()
			require.NoError(t, q.Start(ctx))
			defer func() { require.NoError(t, q.Stop(ctx)) }()

			q.Committed([]engine.Job{engine.FetchDocumentJob{WorkItemID: "w-1"}, engine.FetchDocumentJob{WorkItemID: "w-bad"},
				engine.CancelWorkItemJob{WorkItemID: "w-other"}})
			require.Eventually(t, func() bool { return f.has("w-1", "w-bad") }, 20*time.Second, 5*time.Millisecond)
			require.Eventually(t, func() bool {
				return logs.contains(`"msg":"fetching a signed document failed; a job will fetch it"`) && logs.contains(`"work_item_id":"w-bad"`)
			}, 20*time.Second, 5*time.Millisecond)
			require.False(t, f.has("w-other"), "only documents are fetched")

			require.Eventually(t, func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(cutoffs) == 2
			}, 30*time.Second, 10*time.Millisecond, "the sweep runs at start, and again after a full batch")
			mu.Lock()
			for _, c := range cutoffs {
				require.WithinRange(t, c, started.Add(-time.Hour-time.Second), time.Now().Add(-time.Hour))
			}
			mu.Unlock()

			// What the sweep hands over is a River job, worked by the same fetch.
			tx, err := db.SQL.BeginTx(ctx, nil)
			require.NoError(t, err)
			require.NoError(t, q.InsertTx(ctx, tx, engine.FetchDocumentJob{WorkItemID: "w-job"}))
			require.NoError(t, tx.Commit())
			require.Eventually(t, func() bool { return f.has("w-job") }, 30*time.Second, 10*time.Millisecond)
		})
	}
}

// TestDocumentFetcherBounds: a full queue of fetches drops, never blocks the commit that
// offers; Stop ends the fetches in progress (their context is cancelled) and returns.
func TestDocumentFetcherBounds(t *testing.T) {
	t.Parallel()
	f := &fetcher{fetch: func(context.Context, string) error { return nil }, log: slog.New(slog.DiscardHandler),
		ids: make(chan string, 2)}
	for _, id := range []string{"a", "b", "c", "d"} {
		f.offer(id) // not running: the queue fills, then offers drop
	}
	require.Len(t, f.ids, 2)

	q, err := New(dbtest.Open(t, dbtest.Dialects[len(dbtest.Dialects)-1]), slog.New(slog.DiscardHandler), Options{})
	require.NoError(t, err)
	inFetch, cancelled := make(chan struct{}), make(chan struct{})
	RegisterDocuments(q, func(ctx context.Context, _ string) error {
		close(inFetch)
		<-ctx.Done()
		close(cancelled)
		return ctx.Err()
	}, func(context.Context, time.Time, int) (int, error) { return 0, nil })
	ctx := context.Background()
	require.NoError(t, q.Start(ctx))
	q.Committed([]engine.Job{engine.FetchDocumentJob{WorkItemID: "slow"}})
	<-inFetch
	require.NoError(t, q.Stop(ctx))
	select {
	case <-cancelled:
	default:
		t.Fatal("Stop returned before the fetch in progress ended")
	}
}
