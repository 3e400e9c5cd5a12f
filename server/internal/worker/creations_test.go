package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/testlog"
)

// fakeCreations records what the creations' ports were asked: "w-bad" fails, "w-panic"
// panics, "w-slow-*" wait until their context ends.
type fakeCreations struct {
	recorder
	created, handedOver []string
	withItem            map[string]bool
	// retried is what each hand-over said of its work items, notBefore when their jobs may
	// run.
	retried   map[string]bool
	notBefore map[string]time.Time
}

func (f *fakeCreations) ports() CreationPorts {
	return CreationPorts{
		Create: func(ctx context.Context, job engine.CreateWorkItemJob) error {
			f.mu.Lock()
			f.created = append(f.created, job.WorkItemID)
			f.withItem[job.WorkItemID] = job.Item != nil && job.Item.ID == job.WorkItemID
			f.mu.Unlock()
			switch id := job.WorkItemID; {
			case id == "w-bad":
				return errors.New("the provider did not answer")
			case id == "w-panic":
				panic("a bug")
			case len(id) > 7 && id[:7] == "w-slow-":
				<-ctx.Done()
				return ctx.Err()
			}
			return nil
		},
		HandOver: func(_ context.Context, retried bool, notBefore time.Time, ids ...string) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.handedOver = append(f.handedOver, ids...)
			for _, id := range ids {
				f.retried[id] = retried
				f.notBefore[id] = notBefore
			}
			return nil
		},
		HandOverDue: f.handOverDue,
	}
}

// TestCreations: a creation the store marked due (it comes with its item) is made in-process
// as it commits; one that fails or panics is handed to its job at once, and so is one that
// reaches a creator later than a job timeout after it was written, or that the full queue
// does not take; a creation River has (a retry's, or any without its item) is not the
// in-process creator's. Stop hands over the creations in progress and those still queued, not
// leaving them to the sweep. Only what an attempt may have reached the provider with is handed
// over as retried, and its job scheduled creationRetryDelay later (the provider may still be
// making the item), the rest to run at once. The sweep runs on the leader as the queue starts, its grace twice the job
// timeout, however short the marks' grace.
func TestCreations(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			db := dbtest.Open(t, d)
			var logs testlog.Buffer // the queue's goroutines write it
			q, err := New(db, slog.New(slog.NewJSONHandler(&logs, nil)), Options{FetchPollInterval: 50 * time.Millisecond,
				FetchCooldown: 10 * time.Millisecond, MarkGrace: time.Millisecond, JobTimeout: time.Minute})
			require.NoError(t, err)
			f := &fakeCreations{withItem: map[string]bool{}, retried: map[string]bool{}, notBefore: map[string]time.Time{}}
			RegisterCreations(q, f.ports())
			ctx := context.Background()
			started := time.Now()
			require.NoError(t, q.Start(ctx))
			stopped := false
			defer func() {
				if !stopped {
					require.NoError(t, q.Stop(ctx))
				}
			}()

			due := func(id string) engine.CreateWorkItemJob {
				return engine.CreateWorkItemJob{WorkItemID: id, Item: &engine.WorkItem{ID: id, Status: engine.WorkItemCreating,
					Traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", CreatedAt: time.Now()}}
			}
			stale := due("w-stale")
			stale.Item.CreatedAt = time.Now().Add(-time.Minute - time.Second)
			q.Committed([]engine.Job{due("w-ok"), due("w-bad"), due("w-panic"), stale,
				engine.CreateWorkItemJob{WorkItemID: "w-retry", Retried: true}, engine.CreateWorkItemJob{WorkItemID: "w-river"},
				engine.CancelWorkItemJob{WorkItemID: "w-other"}})
			// The creations run side by side: w-ok may still be on its way when the three
			// hand-overs are done.
			require.Eventually(t, func() bool {
				handed, created := 0, 0
				f.wait(func() { handed, created = len(f.handedOver), len(f.created) })
				return handed == 3 && created == 3
			}, 20*time.Second, 5*time.Millisecond)
			f.wait(func() {
				require.ElementsMatch(t, []string{"w-ok", "w-bad", "w-panic"}, f.created, "only the marked creations, each once")
				require.Equal(t, map[string]bool{"w-ok": true, "w-bad": true, "w-panic": true}, f.withItem, "as committed, not read again")
				require.ElementsMatch(t, []string{"w-bad", "w-panic", "w-stale"}, f.handedOver,
					"what failed goes to its job, and so does what is too late to start (older than a job timeout)")
				require.Equal(t, map[string]bool{"w-bad": true, "w-panic": true, "w-stale": false}, f.retried,
					"a job looks for what an attempt may have made; one never started creates at once")
				for _, id := range []string{"w-bad", "w-panic"} {
					// They failed at once: the floor.
					require.WithinRange(t, f.notBefore[id], started.Add(creationRetryMin), time.Now().Add(creationRetryMin),
						"%s: its job waits for the provider to finish what the attempt may have started", id)
				}
				require.True(t, f.notBefore["w-stale"].IsZero(), "never started: its job runs at once")
			})
			require.Contains(t, logs.String(), `"msg":"a work item waited too long to be created in-process; a job will create it"`)
			require.Contains(t, logs.String(), `"msg":"creating a work item panicked"`)
			require.Contains(t, logs.String(), `"msg":"creating a work item failed; a job will retry it, looking for it by our id first"`)

			require.Eventually(t, func() bool {
				n := 0
				f.wait(func() { n = len(f.cutoffs) })
				return n >= 1
			}, 20*time.Second, 5*time.Millisecond, "the leader sweeps as it starts")
			f.wait(func() {
				require.WithinRange(t, f.cutoffs[0], started.Add(-2*time.Minute-time.Second), time.Now().Add(-2*time.Minute),
					"twice the job timeout, whatever the marks' grace: a creation in progress is never swept")
			})

			// Every creator busy, then the queue full, and three more: those three go to jobs at
			// once; Stop hands over the rest, those in progress as retried.
			var busy, queued []engine.Job
			for i := range creationWorkers {
				busy = append(busy, due(fmt.Sprintf("w-slow-%d", i)))
			}
			q.Committed(busy)
			require.Eventually(t, func() bool {
				n := 0
				f.wait(func() { n = len(f.created) })
				return n == 3+creationWorkers
			}, 20*time.Second, 5*time.Millisecond, "every creator took one")
			for i := range creationQueue + 3 {
				queued = append(queued, due(fmt.Sprintf("w-queued-%d", i)))
			}
			q.Committed(queued)
			overflow := []string{"w-queued-4096", "w-queued-4097", "w-queued-4098"}
			require.Eventually(t, func() bool {
				n := 0
				f.wait(func() { n = len(f.handedOver) })
				return n == 3+len(overflow)
			}, 20*time.Second, 5*time.Millisecond, "what the full queue did not take is handed over")
			f.wait(func() {
				require.ElementsMatch(t, overflow, f.handedOver[3:])
				for _, id := range overflow {
					require.False(t, f.retried[id], "never started: the job creates at once")
					require.True(t, f.notBefore[id].IsZero(), id)
				}
			})
			stopped = true
			stopping := time.Now()
			require.NoError(t, q.Stop(ctx))
			f.wait(func() {
				require.Len(t, f.handedOver, 3+creationWorkers+creationQueue+3, "those in progress and those queued are handed over as the replica stops")
				for _, j := range busy {
					id := j.(engine.CreateWorkItemJob).WorkItemID
					require.True(t, f.retried[id], "%s was in progress: its job looks first", id)
					require.WithinRange(t, f.notBefore[id], stopping.Add(creationRetryMin), time.Now().Add(creationRetryMax),
						"%s: Stop cut its request, which the provider may still be making: its job waits", id)
				}
				for _, j := range queued {
					id := j.(engine.CreateWorkItemJob).WorkItemID
					_, handed := f.retried[id]
					require.True(t, handed, id)
					require.False(t, f.retried[id], "%s was never started", id)
					require.True(t, f.notBefore[id].IsZero(), id)
				}
				require.Len(t, f.created, 3+creationWorkers, "the queued ones were not started")
			})
		})
	}
}
