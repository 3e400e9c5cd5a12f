package worker

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/testlog"
)

// fakeDocuments records what the documents' ports were asked: "w-bad" fails to download,
// "w-none" has no document.
type fakeDocuments struct {
	mu                      sync.Mutex
	fetched, cleared, saved []string
	batches                 [][]string
	cutoffs                 []time.Time
}

func (f *fakeDocuments) ports() DocumentPorts {
	return DocumentPorts{
		Fetch: func(_ context.Context, id string) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.fetched = append(f.fetched, id)
			return nil
		},
		Download: func(_ context.Context, job engine.FetchDocumentJob) (*engine.SignedDocument, error) {
			switch job.WorkItemID {
			case "w-bad":
				return nil, errors.New("the provider is down")
			case "w-none":
				return nil, nil
			}
			return &engine.SignedDocument{WorkItemID: job.WorkItemID, Name: "signed.pdf", ContentType: "application/pdf", Content: []byte("%PDF-1.4")}, nil
		},
		Save: func(_ context.Context, docs []engine.SignedDocument) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			var ids []string
			for _, d := range docs {
				ids = append(ids, d.WorkItemID)
			}
			f.saved = append(f.saved, ids...)
			f.batches = append(f.batches, ids)
			return nil
		},
		Clear: func(_ context.Context, id string) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.cleared = append(f.cleared, id)
			return nil
		},
		HandOver: func(_ context.Context, cutoff time.Time, limit int) (int, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.cutoffs = append(f.cutoffs, cutoff)
			if len(f.cutoffs) == 1 {
				return limit, nil // a full batch: there may be more
			}
			return 3, nil
		},
	}
}

func (f *fakeDocuments) read(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
}

// TestDocuments: a document that committed due is downloaded in-process at once and kept; one
// with no document has its mark cleared; one that fails is logged and left to the sweep; other
// jobs are not the fetcher's. The sweep runs on the leader as the queue starts, with the grace
// as its cutoff, and hands over batch after batch while they come full; the jobs it enqueues
// fetch through the job's port.
func TestDocuments(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			db := dbtest.Open(t, d)
			var logs testlog.Buffer // the queue's goroutines write it
			spans := tracetest.NewSpanRecorder()
			q, err := New(db, slog.New(slog.NewJSONHandler(&logs, nil)), Options{FetchPollInterval: 50 * time.Millisecond,
				FetchCooldown: 10 * time.Millisecond, MarkGrace: time.Hour,
				TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))})
			require.NoError(t, err)
			f := &fakeDocuments{}
			RegisterDocuments(q, f.ports())
			ctx := context.Background()
			started := time.Now()
			require.NoError(t, q.Start(ctx))
			defer func() { require.NoError(t, q.Stop(ctx)) }()

			const created = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
			q.Committed([]engine.Job{engine.FetchDocumentJob{WorkItemID: "w-1", Item: &engine.WorkItem{ID: "w-1", Traceparent: created}},
				engine.FetchDocumentJob{WorkItemID: "w-bad"},
				engine.FetchDocumentJob{WorkItemID: "w-none"}, engine.CancelWorkItemJob{WorkItemID: "w-other"}})
			require.Eventually(t, func() bool {
				done := false
				f.read(func() { done = slices.Contains(f.saved, "w-1") && slices.Contains(f.cleared, "w-none") })
				return done
			}, 20*time.Second, 5*time.Millisecond)
			require.Eventually(t, func() bool {
				out := logs.String()
				return strings.Contains(out, `"msg":"fetching a signed document failed; a job will fetch it"`) && strings.Contains(out, `"work_item_id":"w-bad"`)
			}, 20*time.Second, 5*time.Millisecond)
			// Each download is a span; the one whose work item came with the commit links to
			// the transition that created the work item.
			// (A span ends as its download returns, which may be after the save.)
			require.Eventually(t, func() bool {
				for _, sp := range spans.Ended() {
					for _, l := range sp.Links() {
						if sp.Name() == "fetch_document" && l.SpanContext.TraceID().String() == "4bf92f3577b34da6a3ce929d0e0e4736" {
							return true
						}
					}
				}
				return false
			}, 20*time.Second, 5*time.Millisecond, "a fetch_document span links to the work item's creation")
			f.read(func() {
				require.Equal(t, []string{"w-1"}, f.saved, "only the document downloaded is kept")
				require.Equal(t, []string{"w-none"}, f.cleared)
				require.Empty(t, f.fetched, "nothing went through a job")
			})

			require.Eventually(t, func() bool {
				n := 0
				f.read(func() { n = len(f.cutoffs) })
				return n == 2
			}, 30*time.Second, 10*time.Millisecond, "the sweep runs at start, and again after a full batch")
			f.read(func() {
				for _, c := range f.cutoffs {
					require.WithinRange(t, c, started.Add(-time.Hour-time.Second), time.Now().Add(-time.Hour))
				}
			})

			// What the sweep hands over is a River job, worked by the job's port.
			tx, err := db.SQL.BeginTx(ctx, nil)
			require.NoError(t, err)
			require.NoError(t, q.InsertTx(ctx, tx, engine.FetchDocumentJob{WorkItemID: "w-job"}))
			require.NoError(t, tx.Commit())
			require.Eventually(t, func() bool {
				done := false
				f.read(func() { done = slices.Contains(f.fetched, "w-job") })
				return done
			}, 30*time.Second, 10*time.Millisecond)
		})
	}
}

// TestDocumentFetcherBounds: a full queue of fetches drops, never blocking the commit that
// offers; the documents downloaded meanwhile are kept together, in one statement; Stop ends
// the downloads in progress (their context is cancelled) and returns.
func TestDocumentFetcherBounds(t *testing.T) {
	t.Parallel()
	f := &fakeDocuments{}
	fe := newFetcher(f.ports(), slog.New(slog.DiscardHandler), tracenoop.NewTracerProvider().Tracer(""), time.Minute)
	for range documentQueue + 10 {
		fe.offer(engine.FetchDocumentJob{WorkItemID: "w"}) // not running: the queue fills, then offers drop
	}
	require.Len(t, fe.jobs, documentQueue)

	// Three downloaded before the saver looks: one statement keeps them.
	for _, id := range []string{"a", "b", "c"} {
		fe.docs <- engine.SignedDocument{WorkItemID: id}
	}
	ctx, cancel := context.WithCancel(context.Background())
	saved := make(chan struct{})
	go func() {
		defer close(saved)
		fe.save(ctx)
	}()
	require.Eventually(t, func() bool {
		n := 0
		f.read(func() { n = len(f.batches) })
		return n == 1
	}, 20*time.Second, 5*time.Millisecond)
	cancel()
	<-saved
	f.read(func() { require.Equal(t, [][]string{{"a", "b", "c"}}, f.batches) })

	q, err := New(dbtest.Open(t, dbtest.Dialects[len(dbtest.Dialects)-1]), slog.New(slog.DiscardHandler), Options{})
	require.NoError(t, err)
	inDownload, cancelled := make(chan struct{}), make(chan struct{})
	p := f.ports()
	p.Download = func(ctx context.Context, _ engine.FetchDocumentJob) (*engine.SignedDocument, error) {
		close(inDownload)
		<-ctx.Done()
		close(cancelled)
		return nil, ctx.Err()
	}
	RegisterDocuments(q, p)
	bg := context.Background()
	require.NoError(t, q.Start(bg))
	q.Committed([]engine.Job{engine.FetchDocumentJob{WorkItemID: "slow"}})
	<-inDownload
	require.NoError(t, q.Stop(bg))
	select {
	case <-cancelled:
	default:
		t.Fatal("Stop returned before the download in progress ended")
	}
}
