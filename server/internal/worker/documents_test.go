package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
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
	mu                                  sync.Mutex
	fetched, downloaded, cleared, saved []string
	batches                             [][]string
	cutoffs                             []time.Time
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
			f.mu.Lock()
			f.downloaded = append(f.downloaded, job.WorkItemID)
			f.mu.Unlock()
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
	fe := newFetcher(f.ports(), slog.New(slog.DiscardHandler), tracenoop.NewTracerProvider().Tracer(""), time.Minute, time.Hour)
	for range documentQueue + 10 {
		fe.offer(engine.FetchDocumentJob{WorkItemID: "w"}) // not running: the queue fills, then offers drop
	}
	require.Len(t, fe.jobs, documentQueue)

	// Three downloaded before the saver looks: one statement keeps them.
	ctx, cancel := context.WithCancel(context.Background())
	for _, id := range []string{"a", "b", "c"} {
		require.True(t, fe.hold(ctx, engine.SignedDocument{WorkItemID: id}))
	}
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

// testFetcher is a fetcher over f's ports, not running, whose clock stands still until advance
// moves it.
func testFetcher(t *testing.T, f *fakeDocuments, timeout, grace time.Duration) (fe *fetcher, advance func(time.Duration)) {
	t.Helper()
	fe = newFetcher(f.ports(), slog.New(slog.DiscardHandler), tracenoop.NewTracerProvider().Tracer(""), timeout, grace)
	var mu sync.Mutex
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	fe.now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	return fe, func(d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(d)
	}
}

// runSaver runs fe's saver until the returned stop, which waits for it to return.
func runSaver(fe *fetcher) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		fe.save(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

// TestDocumentFetcherLeavesStaleJobsToTheSweep: a job that waited in the queue for the grace
// less the download's timeout or longer is not downloaded (the sweep may hand its mark over
// before a download taken now would end): its mark is neither cleared nor its document kept,
// so the sweep's job fetches it, once. One that waited less is downloaded and kept.
func TestDocumentFetcherLeavesStaleJobsToTheSweep(t *testing.T) {
	t.Parallel()
	f := &fakeDocuments{}
	const timeout, grace = 2 * time.Minute, 3 * time.Minute // the defaults: a minute to start
	fe, advance := testFetcher(t, f, timeout, grace)
	fe.offer(engine.FetchDocumentJob{WorkItemID: "w-old"})
	fe.offer(engine.FetchDocumentJob{WorkItemID: "w-none"}) // no document: its mark would be cleared
	advance(time.Second)
	fe.offer(engine.FetchDocumentJob{WorkItemID: "w-recent"})
	advance(grace - timeout - time.Second) // w-old and w-none waited a minute, w-recent 59 s
	fe.offer(engine.FetchDocumentJob{WorkItemID: "w-new"})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		fe.run(ctx)
	}()
	require.Eventually(t, func() bool {
		done := false
		f.read(func() { done = slices.Contains(f.saved, "w-recent") && slices.Contains(f.saved, "w-new") })
		return done
	}, 20*time.Second, 5*time.Millisecond)
	// The queue is first in, first out: w-old and w-none were taken before what was kept, and
	// run returns once every job taken is done with.
	cancel()
	<-done
	f.read(func() {
		require.ElementsMatch(t, []string{"w-recent", "w-new"}, f.downloaded, "a stale job is never downloaded")
		require.ElementsMatch(t, []string{"w-recent", "w-new"}, f.saved)
		require.Empty(t, f.cleared, "a stale job's mark is left for the sweep")
	})
	require.Empty(t, fe.jobs)
}

// TestDocumentSaverBoundsBytes: one statement keeps at most saveBytes of content: the documents
// ready are split where the next would take the batch over, and one larger than the budget is
// kept alone. What is downloaded and not kept yet is held against twice the budget: a download
// waits for room, which the saver frees as it keeps.
func TestDocumentSaverBoundsBytes(t *testing.T) {
	t.Parallel()
	f := &fakeDocuments{}
	fe, _ := testFetcher(t, f, time.Minute, time.Hour)
	fe.bound(10) // a statement keeps 10 bytes, 20 are held
	doc := func(id string, n int) engine.SignedDocument {
		return engine.SignedDocument{WorkItemID: id, Content: make([]byte, n)}
	}
	ctx := context.Background()
	for _, d := range []engine.SignedDocument{doc("a", 4), doc("b", 4), doc("big", 11), doc("c", 1)} {
		require.True(t, fe.hold(ctx, d))
	}
	require.False(t, fe.held.TryAcquire(1), "20 bytes wait for the saver: nothing more is held")
	waited := make(chan bool)
	go func() { waited <- fe.hold(ctx, doc("d", 5)) }() // waits for room

	stop := runSaver(fe)
	require.True(t, <-waited, "keeping a batch makes room")
	require.Eventually(t, func() bool {
		done := false
		f.read(func() { done = slices.Contains(f.saved, "d") })
		return done
	}, 20*time.Second, 5*time.Millisecond)
	stop()
	f.read(func() {
		require.Equal(t, [][]string{{"a", "b"}, {"big"}}, f.batches[:2], "big would take a+b over 10 bytes, and is kept alone")
		require.Equal(t, []string{"a", "b", "big", "c", "d"}, f.saved)
	})
	require.True(t, fe.held.TryAcquire(20), "what was kept is held no more")
}

// TestDocumentSaverKeepsSmallDocumentsTogether: the common case is unchanged: small documents
// ready together are kept in one statement, up to saveBatch of them.
func TestDocumentSaverKeepsSmallDocumentsTogether(t *testing.T) {
	t.Parallel()
	f := &fakeDocuments{}
	fe, _ := testFetcher(t, f, time.Minute, time.Hour)
	content := make([]byte, 256<<10) // a signed PDF of a few pages
	ctx := context.Background()
	for i := range saveBatch {
		require.True(t, fe.hold(ctx, engine.SignedDocument{WorkItemID: fmt.Sprint("w-", i), Content: content}))
	}
	stop := runSaver(fe)
	require.Eventually(t, func() bool {
		n := 0
		f.read(func() { n = len(f.saved) })
		return n == saveBatch
	}, 20*time.Second, 5*time.Millisecond)
	stop()
	f.read(func() {
		require.Len(t, f.batches, 1)
		require.Len(t, f.batches[0], saveBatch)
	})
}

// TestFetchJobSaysItsLastFailure: a fetch_document job failing on its last attempt says so at
// WARN with the work item (River discards it, and nothing fetches the document again); an
// earlier attempt's failure is only returned, for River to retry.
func TestFetchJobSaysItsLastFailure(t *testing.T) {
	t.Parallel()
	refused := errors.New("OneSpan refused the API key")
	for _, tt := range []struct {
		name    string
		attempt int
		warned  bool
	}{{"an earlier attempt", 24, false}, {"the last attempt", 25, true}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs strings.Builder
			w := &fetchWorker{fetch: func(context.Context, string) error { return refused }, log: slog.New(slog.NewJSONHandler(&logs, nil))}
			job := &river.Job[engine.FetchDocumentJob]{JobRow: &rivertype.JobRow{Attempt: tt.attempt, MaxAttempts: 25},
				Args: engine.FetchDocumentJob{WorkItemID: "wi-1"}}
			require.ErrorIs(t, w.Work(context.Background(), job), refused, "River retries or discards it")
			if !tt.warned {
				require.Empty(t, logs.String())
				return
			}
			require.Contains(t, logs.String(), `"level":"WARN"`)
			require.Contains(t, logs.String(), "fetching a signed document failed on its last attempt")
			require.Contains(t, logs.String(), `"work_item_id":"wi-1"`)
			require.Contains(t, logs.String(), "refused the API key")
		})
	}
}
