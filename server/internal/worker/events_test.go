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

	"github.com/stretchr/testify/require"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/testlog"
)

// fakeEvents records what the events' ports were asked: "e-early" is not ready yet
// (ErrRetryLater), "e-bad" fails, "e-panic" panics; "e-slow-*" wait for release.
type fakeEvents struct {
	recorder
	stored, read, handedOver []string
	// withRead are the events that came with what their write read (ProcessEventJob.Read).
	withRead      []string
	release, hold chan struct{}
}

func (f *fakeEvents) process(ctx context.Context, id string) (engine.Verdict, error) {
	if strings.HasPrefix(id, "e-hold-") { // every worker busy
		select {
		case <-f.hold:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	switch id {
	case "e-early":
		return "", engine.ErrRetryLater
	case "e-bad":
		return "", errors.New("the provider is down")
	case "e-panic":
		panic("a bug")
	case "e-slow-1":
		select {
		case <-f.release:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	return engine.VerdictApplied, nil
}

func (f *fakeEvents) ports() EventPorts {
	return EventPorts{
		Process: func(ctx context.Context, job engine.ProcessEventJob) (engine.Verdict, error) {
			id, ev := job.EventID, job.Event
			f.mu.Lock()
			if ev != nil && ev.ID == id {
				f.stored = append(f.stored, id)
			} else {
				f.read = append(f.read, id)
			}
			if job.Read != nil {
				f.withRead = append(f.withRead, id)
			}
			f.mu.Unlock()
			return f.process(ctx, id)
		},
		HandOver: func(_ context.Context, id string) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.handedOver = append(f.handedOver, id)
			return nil
		},
		HandOverDue: f.handOverDue,
	}
}

// TestEvents: an event that committed PENDING is processed in-process at once — as stored
// when the commit gave it, else read by its id; one that cannot be finished (not ready, a
// failure, a panic) is handed to its job; other jobs are not the processor's. The events of
// one work item are processed in the order they committed, one at a time. The sweep runs on
// the leader as the queue starts, with the grace as its cutoff.
func TestEvents(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			db := dbtest.Open(t, d)
			var logs testlog.Buffer // the queue's goroutines write it
			q, err := New(db, slog.New(slog.NewJSONHandler(&logs, nil)), Options{FetchPollInterval: 50 * time.Millisecond,
				FetchCooldown: 10 * time.Millisecond, MarkGrace: time.Hour})
			require.NoError(t, err)
			f := &fakeEvents{release: make(chan struct{}), hold: make(chan struct{})}
			RegisterEvents(q, f.ports())
			ctx := context.Background()
			started := time.Now()
			require.NoError(t, q.Start(ctx))
			defer func() { require.NoError(t, q.Stop(ctx)) }()

			item := func(id, external string) engine.ProcessEventJob {
				return engine.ProcessEventJob{EventID: id, Event: &engine.StoredEvent{ID: id,
					Event: engine.InboundEvent{System: engine.System{Provider: "ONESPAN"}, ExternalID: external}}}
			}
			read := func(j engine.ProcessEventJob) engine.ProcessEventJob {
				j.Read = &engine.CallbackRead{}
				return j
			}
			// Two events of one package: the second waits for the first, however long it takes,
			// and what its write read for it is dropped (read before the first one wrote).
			q.Committed([]engine.Job{read(item("e-slow-1", "pkg-1")), read(item("e-slow-2", "pkg-1")),
				read(item("e-1", "pkg-2")), engine.ProcessEventJob{EventID: "e-replayed"},
				item("e-early", "pkg-3"), item("e-bad", "pkg-4"), item("e-panic", "pkg-5"),
				engine.CancelWorkItemJob{WorkItemID: "w-other"}})
			require.Eventually(t, func() bool {
				n := 0
				f.wait(func() { n = len(f.handedOver) })
				return n == 3
			}, 20*time.Second, 5*time.Millisecond)
			f.wait(func() {
				require.ElementsMatch(t, []string{"e-early", "e-bad", "e-panic"}, f.handedOver, "what could not be finished goes to its job")
				require.NotContains(t, f.stored, "e-slow-2", "waits for the event of its package before it")
			})
			close(f.release)
			require.Eventually(t, func() bool {
				n := 0
				f.wait(func() { n = len(f.stored) })
				return n == 6
			}, 20*time.Second, 5*time.Millisecond)
			f.wait(func() {
				require.ElementsMatch(t, []string{"e-slow-1", "e-slow-2", "e-1", "e-early", "e-bad", "e-panic"}, f.stored)
				require.Less(t, indexOf(f.stored, "e-slow-1"), indexOf(f.stored, "e-slow-2"))
				require.Equal(t, []string{"e-replayed"}, f.read, "without the event, it is read by its id")
				require.ElementsMatch(t, []string{"e-slow-1", "e-1"}, f.withRead, "the one that waited for another of its item comes without its write's read")
				require.Len(t, f.handedOver, 3, "finished ones are not handed over")
			})
			require.Contains(t, logs.String(), `"msg":"processing an event panicked"`)
			require.Contains(t, logs.String(), `"msg":"processing an event failed; a job will retry it"`)
			require.NotContains(t, logs.String(), `"event_id":"e-early"`, "not ready is not a failure")

			// Every worker busy, then the queue full, and three more: those three wait by their
			// id and are processed in-process as room frees (read by their id), not left to the
			// sweep nor given a job each (a burst of creations brings thousands of first
			// notifications).
			var held, queued []engine.Job
			for i := range eventWorkers {
				held = append(held, item(fmt.Sprintf("e-hold-%d", i), fmt.Sprintf("pkg-hold-%d", i)))
			}
			q.Committed(held)
			require.Eventually(t, func() bool {
				n := 0
				f.wait(func() { n = len(f.stored) })
				return n == 6+eventWorkers
			}, 20*time.Second, 5*time.Millisecond, "every worker took one")
			for i := range eventQueue + 3 {
				queued = append(queued, item(fmt.Sprintf("e-queued-%d", i), fmt.Sprintf("pkg-queued-%d", i)))
			}
			q.Committed(queued)
			overflow := []string{"e-queued-4096", "e-queued-4097", "e-queued-4098"}
			close(f.hold)
			require.Eventually(t, func() bool {
				n := 0
				f.wait(func() { n = len(f.stored) + len(f.read) })
				return n == 7+eventWorkers+eventQueue+len(overflow)
			}, 20*time.Second, 5*time.Millisecond, "the queued ones and those that waited by their id are processed")
			f.wait(func() {
				require.ElementsMatch(t, append([]string{"e-replayed"}, overflow...), f.read, "those that waited by their id are read")
				require.Len(t, f.handedOver, 3, "nothing else handed over")
			})

			require.Eventually(t, func() bool {
				n := 0
				f.wait(func() { n = len(f.cutoffs) })
				return n >= 1
			}, 20*time.Second, 5*time.Millisecond, "the leader sweeps as it starts")
			f.wait(func() {
				// Swept between the start and now, an hour (the grace) back: bounds, not a
				// tolerance, so that a slow machine cannot fail it.
				require.WithinRange(t, f.cutoffs[0], started.Add(-time.Hour-time.Second), time.Now().Add(-time.Hour), "the grace is the cutoff")
			})
		})
	}
}

func indexOf(s []string, v string) int { // slices.Index
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// couplingEvents is a work item's events whose coupling has not committed: processing says
// engine.ErrNotCoupled until coupled is set.
type couplingEvents struct {
	mu         sync.Mutex
	coupled    bool
	tries      []string // "stored" or "read", in order
	handedOver []string
	// gate, when set, holds the first try after it has decided, until it is closed.
	gate chan struct{}
}

func (f *couplingEvents) ports() EventPorts {
	return EventPorts{
		Process: func(_ context.Context, job engine.ProcessEventJob) (engine.Verdict, error) {
			id, ev := job.EventID, job.Event
			f.mu.Lock()
			how := "read"
			if ev != nil && ev.ID == id {
				how = "stored"
			}
			f.tries = append(f.tries, how)
			coupled, gate := f.coupled, f.gate
			if len(f.tries) > 1 {
				gate = nil
			}
			f.mu.Unlock()
			if gate != nil {
				<-gate
			}
			if !coupled {
				return "", fmt.Errorf("%w (connector:tickets T-1)", engine.ErrNotCoupled)
			}
			return engine.VerdictProgress, nil
		},
		HandOver: func(_ context.Context, id string) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.handedOver = append(f.handedOver, id)
			return nil
		},
	}
}

func (f *couplingEvents) state() ([]string, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.tries), slices.Clone(f.handedOver)
}

// TestEventsWaitForTheirCoupling: an event whose work item is not coupled yet is not handed to
// its job at once (a transaction and a River job per start into an EXTERNAL state): it waits in
// memory, and its coupling offering it again ends the wait. Not offered again, it is tried
// again after each wait, read by its id, and handed to its job after the last.
func TestEventsWaitForTheirCoupling(t *testing.T) {
	t.Parallel()
	start := func(t *testing.T, waits ...time.Duration) (*processor, *couplingEvents) {
		f := &couplingEvents{}
		pr := newProcessor(f.ports(), slog.New(slog.DiscardHandler), tracenoop.NewTracerProvider().Tracer(""), time.Minute)
		pr.waits = waits
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); pr.run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		return pr, f
	}
	early := engine.ProcessEventJob{EventID: "e-early", Event: &engine.StoredEvent{ID: "e-early",
		Event: engine.InboundEvent{System: engine.System{Provider: "CONNECTOR", Connector: "tickets"}, ExternalID: "T-1"}}}
	waiting := func(pr *processor) int {
		pr.mu.Lock()
		defer pr.mu.Unlock()
		return len(pr.waiting)
	}

	t.Run("the coupling ends the wait", func(t *testing.T) {
		t.Parallel()
		pr, f := start(t, time.Hour, time.Hour)
		pr.offer(early)
		require.Eventually(t, func() bool { return waiting(pr) == 1 }, 10*time.Second, time.Millisecond)
		tries, handed := f.state()
		require.Equal(t, []string{"stored"}, tries)
		require.Empty(t, handed, "not handed to its job")

		f.mu.Lock()
		f.coupled = true
		f.mu.Unlock()
		pr.offer(early) // as the coupling tells the queue: with the event as it left it
		require.Eventually(t, func() bool { tries, _ := f.state(); return len(tries) == 2 }, 10*time.Second, time.Millisecond)
		require.Zero(t, waiting(pr), "the wait is over")
		tries, handed = f.state()
		require.Equal(t, []string{"stored", "stored"}, tries, "not read again")
		require.Empty(t, handed)
	})

	t.Run("coupled while its first try ran: processed next, no wait", func(t *testing.T) {
		t.Parallel()
		pr, f := start(t, time.Hour, time.Hour)
		f.gate = make(chan struct{})
		pr.offer(early)
		require.Eventually(t, func() bool { tries, _ := f.state(); return len(tries) == 1 }, 10*time.Second, time.Millisecond)
		// The try has found no coupling; the coupling commits and tells the queue before the
		// try returns.
		f.mu.Lock()
		f.coupled = true
		f.mu.Unlock()
		pr.offer(early)
		close(f.gate)
		require.Eventually(t, func() bool { tries, _ := f.state(); return len(tries) == 2 }, 10*time.Second, time.Millisecond)
		require.Eventually(t, func() bool {
			pr.mu.Lock()
			defer pr.mu.Unlock()
			return len(pr.busy) == 0
		}, 10*time.Second, time.Millisecond)
		require.Zero(t, waiting(pr), "no wait armed: it would only read the event again")
		tries, handed := f.state()
		require.Equal(t, []string{"stored", "stored"}, tries)
		require.Empty(t, handed)
	})

	t.Run("coupled before its first try: the coupling's offer behind it is dropped", func(t *testing.T) {
		t.Parallel()
		pr, f := start(t, time.Hour, time.Hour)
		f.coupled = true
		f.gate = make(chan struct{})
		pr.offer(early)
		require.Eventually(t, func() bool { tries, _ := f.state(); return len(tries) == 1 }, 10*time.Second, time.Millisecond)
		pr.offer(early) // the coupling's, while the first try (which found it coupled) runs
		close(f.gate)
		require.Eventually(t, func() bool {
			pr.mu.Lock()
			defer pr.mu.Unlock()
			return len(pr.busy) == 0
		}, 10*time.Second, time.Millisecond)
		tries, handed := f.state()
		require.Equal(t, []string{"stored"}, tries, "decided once")
		require.Empty(t, handed)
		require.Zero(t, waiting(pr))
	})

	t.Run("never coupled: tried after each wait, then handed over", func(t *testing.T) {
		t.Parallel()
		pr, f := start(t, time.Millisecond, 2*time.Millisecond)
		pr.offer(early)
		require.Eventually(t, func() bool { _, handed := f.state(); return len(handed) == 1 }, 10*time.Second, time.Millisecond)
		tries, handed := f.state()
		require.Equal(t, []string{"stored", "read", "read"}, tries)
		require.Equal(t, []string{"e-early"}, handed)
		require.Zero(t, waiting(pr))
	})
}
