package engine_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
)

// reconcileStore is routeStore as reconciliation reads it: every coupled item still waiting is
// listed, and claimed when nobody claimed it since the run's interval began.
type reconcileStore struct {
	*routeStore
	claims *sync.Map // work item id → time.Time of its last check
}

func newReconcileStore(s *routeStore) reconcileStore { return reconcileStore{s, &sync.Map{}} }

func (s reconcileStore) WorkItemsToReconcile(_ context.Context, sys engine.System, _ time.Time, limit int) ([]engine.WorkItem, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []engine.WorkItem
	for _, wi := range s.items {
		if wi.System == sys && wi.Status == engine.WorkItemWaiting && wi.ExternalID != "" && len(out) < limit {
			out = append(out, wi)
		}
	}
	return out, nil
}

func (s reconcileStore) ClaimCheck(_ context.Context, id string, at, checkedBefore time.Time) (bool, error) {
	s.mu.Lock() // one claim at a time, as the store's conditional update
	defer s.mu.Unlock()
	if last, ok := s.claims.Load(id); ok && !last.(time.Time).Before(checkedBefore) {
		return false, nil
	}
	s.claims.Store(id, at)
	return true, nil
}

// oneSystem is OneSpan's table with one system of each provider.
type oneSystem struct{ oneSpanTable }

func (oneSystem) Systems(_ context.Context, p engine.Provider) ([]engine.System, error) {
	return []engine.System{{Provider: p}}, nil
}

// readBackFails is the client whose every second status read fails with fail, when set:
// reconciliation's own read answers, the read-back that confirms its event does not.
type readBackFails struct {
	*readBackClient
	n    atomic.Int32
	fail atomic.Pointer[error]
}

func (c *readBackFails) Status(ctx context.Context, id string) (engine.ExternalStatus, error) {
	if err := c.fail.Load(); err != nil && c.n.Add(1)%2 == 0 {
		return engine.ExternalStatus{}, *err
	}
	return c.readBackClient.Status(ctx, id)
}

// TestReconcileRetriesItsGivenUpEvent: the event reconciliation stored for a completed package
// is given up after its read-back failed on every attempt (OneSpan down for hours). While
// OneSpan still fails, a run says so among its problems and goes on; once it answers, the
// next run finds the same status — the same event, a duplicate — and processes it again: the
// instance moves on, instead of waiting for good.
func TestReconcileRetriesItsGivenUpEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, client, _ := oneSpanRoute(t)
	flaky := &readBackFails{readBackClient: client}
	prov := oneSystem{oneSpanTable{readBackProviders{routeProviders{&memProviders{}}, flaky}}}
	x := engine.NewExternal(b.inbox, b.store, b.runner, prov, engine.SystemClock{}, routeWindow)
	clock := &stepClock{now: time.Now()}
	r := engine.NewReconciler(newReconcileStore(b.inbox), x, prov, clock)
	later := func() { clock.add(6 * time.Hour) } // the next periodic run

	refused := error(&engine.ProviderError{HTTPStatus: 503, Message: "Service Unavailable"})
	rep, err := r.Run(ctx, engine.ProviderUnspecified, 10)
	require.NoError(t, err)
	require.Equal(t, 1, rep.Stored)
	ev := b.inbox.event(t, "reconcile:env-1:COMPLETED")
	require.Equal(t, engine.VerdictPending, ev.Verdict, "stored, to be confirmed by its read-back")

	client.fail.Store(&refused)
	_, perr := x.Process(ctx, ev.ID)
	require.Error(t, perr)
	require.NoError(t, x.GiveUp(ctx, ev.ID, engine.ProcessEventAttempts, perr))
	require.Equal(t, engine.VerdictIgnored, b.inbox.event(t, ev.Event.DedupeKey).Verdict)
	require.Equal(t, engine.StatusWaitingExternal, b.stored(t, b.instance.ID).Status)

	// The status read answers, the read-back still fails: one problem, the item left to the
	// next run.
	client.fail.Store(nil)
	flaky.fail.Store(&refused)
	later()
	rep, err = r.Run(ctx, engine.ProviderUnspecified, 10)
	require.NoError(t, err)
	require.Equal(t, engine.StatusWaitingExternal, b.stored(t, b.instance.ID).Status)
	require.Len(t, rep.Problems, 1)
	require.Contains(t, rep.Problems[0], "could not be read back to confirm the notification")

	flaky.fail.Store(nil)
	later()
	rep, err = r.Run(ctx, engine.ProviderUnspecified, 10)
	require.NoError(t, err)
	require.Empty(t, rep.Problems)
	require.Equal(t, 1, rep.Stored, "processed again")
	require.Equal(t, engine.VerdictApplied, b.inbox.event(t, ev.Event.DedupeKey).Verdict)
	require.Equal(t, engine.StatusCompleted, b.stored(t, b.instance.ID).Status)
}

// TestReconcileStopsWhenTheSystemCannotAnswer: a status read refused for the system's sake (a
// 429, a 5xx, credentials refused, no answer) stops the run's batch of that system at the first
// item — asking the next would fail alike, spend a rate limit already spent, and mark every
// item checked for nothing — saying how many wait; a failure that is the item's own (404) does
// not.
func TestReconcileStopsWhenTheSystemCannotAnswer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, c := range []struct {
		name    string
		err     error
		checked int
	}{
		{"rate limited", &engine.ProviderError{HTTPStatus: 429, Message: "Too Many Requests"}, 1},
		{"unavailable", &engine.ProviderError{HTTPStatus: 503, Message: "Service Unavailable"}, 1},
		{"key refused", &engine.ProviderError{HTTPStatus: 401, Message: "Invalid API key."}, 1},
		{"no answer", errors.New("dial tcp: connection refused"), 1},
		{"item gone", &engine.ProviderError{HTTPStatus: 404, Message: "not found", Gone: true}, 3},
		{"item refused", &engine.ProviderError{HTTPStatus: 403, Message: "not the sender's package"}, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, client, _ := oneSpanRoute(t)
			for _, id := range []string{"env-2", "env-3"} {
				in := b.start(t, "sign_now")
				_, err := b.store.CoupleWorkItem(ctx, b.stored(t, in.ID).WorkItem.ID, id, engine.Activity{Kind: engine.ActivityExternalProgress, ToState: "sign"})
				require.NoError(t, err)
			}
			prov := oneSystem{oneSpanTable{readBackProviders{routeProviders{&memProviders{}}, client}}}
			r := engine.NewReconciler(newReconcileStore(b.inbox), engine.NewExternal(b.inbox, b.store, b.runner, prov, engine.SystemClock{}, routeWindow), prov, engine.SystemClock{})
			client.fail.Store(&c.err)
			rep, err := r.Run(ctx, engine.ProviderUnspecified, 10)
			require.NoError(t, err)
			require.Equal(t, c.checked, rep.Checked)
			require.EqualValues(t, c.checked, client.calls.Load())
			require.Len(t, rep.Problems, c.checked)
			if c.checked == 1 {
				require.Contains(t, rep.Problems[0], "the 2 other item(s) of ONESPAN due are asked next run")
			}
		})
	}
}

// TestReconcileAsksOncePerInterval: a second run within the provider's interval (an
// administrator's "reconcile now" while the periodic job runs, on another replica) finds every
// item claimed by the first and asks the system nothing more.
func TestReconcileAsksOncePerInterval(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, client, _ := oneSpanRoute(t)
	client.status = engine.ExternalStatus{Status: "SENT"} // still waiting there too
	prov := oneSystem{oneSpanTable{readBackProviders{routeProviders{&memProviders{}}, client}}}
	r := engine.NewReconciler(newReconcileStore(b.inbox), engine.NewExternal(b.inbox, b.store, b.runner, prov, engine.SystemClock{}, routeWindow), prov, engine.SystemClock{})
	rep, err := r.Run(ctx, engine.ProviderUnspecified, 10)
	require.NoError(t, err)
	require.Equal(t, 1, rep.Checked)
	rep, err = r.Run(ctx, engine.ProviderUnspecified, 10)
	require.NoError(t, err)
	require.Zero(t, rep.Checked, "claimed by the first run")
	require.EqualValues(t, 1, client.calls.Load(), "asked once")
}

// cancellingClient answers a status read as a run whose time ran out mid-call would see it.
type cancellingClient struct {
	*readBackClient
	cancel context.CancelFunc
}

func (c cancellingClient) Status(ctx context.Context, _ string) (engine.ExternalStatus, error) {
	c.cancel()
	return engine.ExternalStatus{}, ctx.Err()
}

// TestReconcileOutOfTimeIsNotTheSystem: a run whose own time runs out during a status read
// ends with that (the job snoozes and goes on where it stopped), not as if the system could
// not answer (a problem, the rest left to the next run).
func TestReconcileOutOfTimeIsNotTheSystem(t *testing.T) {
	t.Parallel()
	b, client, _ := oneSpanRoute(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	prov := oneSystem{oneSpanTable{readBackProviders{routeProviders{&memProviders{}}, cancellingClient{client, cancel}}}}
	r := engine.NewReconciler(newReconcileStore(b.inbox), engine.NewExternal(b.inbox, b.store, b.runner, prov, engine.SystemClock{}, routeWindow), prov, engine.SystemClock{})
	rep, err := r.Run(ctx, engine.ProviderUnspecified, 10)
	require.ErrorIs(t, err, context.Canceled)
	require.Empty(t, rep.Problems)
}

// TestReconcileLeavesAnUnconfirmedEvent: the event a run stored that its read-back did not
// confirm (IGNORED: the package was not what the status said) is not processed again by the
// next run finding the same status — only one its processing gave up is.
func TestReconcileLeavesAnUnconfirmedEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, client, _ := oneSpanRoute(t)
	prov := oneSystem{oneSpanTable{readBackProviders{routeProviders{&memProviders{}}, client}}}
	x := engine.NewExternal(b.inbox, b.store, b.runner, prov, engine.SystemClock{}, routeWindow)
	r := engine.NewReconciler(newReconcileStore(b.inbox), x, prov, engine.SystemClock{})
	body := `{"source":"reconciliation","provider":"ONESPAN","externalId":"env-1","status":"COMPLETED"}`
	b.inbox.mu.Lock()
	b.inbox.events = append(b.inbox.events, engine.StoredEvent{ID: engine.NewIDAt(time.Now()), ReceivedAt: time.Now(), Attempts: 1,
		Event: engine.InboundEvent{System: engine.System{Provider: "ONESPAN"}, Type: "PACKAGE_COMPLETE", ExternalID: "env-1",
			DedupeKey: "reconcile:env-1:COMPLETED"}, Body: []byte(body), Headers: map[string]string{engine.SourceHeader: "reconciliation"},
		Verdict: engine.VerdictIgnored, Reason: "ONESPAN says env-1 is \"SENT\", which is not PACKAGE_COMPLETE: the callback is not confirmed", FromInbox: true})
	b.inbox.mu.Unlock()

	rep, err := r.Run(ctx, engine.ProviderUnspecified, 10)
	require.NoError(t, err)
	require.Zero(t, rep.Stored)
	require.EqualValues(t, 1, client.calls.Load(), "the status read only: no read-back of a replay")
	require.Equal(t, engine.VerdictIgnored, b.inbox.event(t, "reconcile:env-1:COMPLETED").Verdict)
	require.Equal(t, engine.StatusWaitingExternal, b.stored(t, b.instance.ID).Status)
}
