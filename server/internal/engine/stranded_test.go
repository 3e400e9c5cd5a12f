package engine_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/flowhook/flowhook/server/internal/engine"
)

// inboxStore is memStore with the inbox: stored events, with the store's rules where
// processing relies on them — a verdict is set only from PENDING, ORPHANED is refused once a
// work item has the event's id, and coupling picks up the PENDING and ORPHANED events of its
// id (the ORPHANED ones PENDING again) with a process job each.
type inboxStore struct {
	*memStore
	events map[string]engine.StoredEvent
	order  []string
	// picked notes the pick-up steps written at coupling, by event id.
	picked map[string][]string
	// beforeFinish, when set, runs once as FinishEvent begins: a racing coupling.
	beforeFinish func()
}

func newInboxStore(m *memStore) *inboxStore {
	return &inboxStore{memStore: m, events: map[string]engine.StoredEvent{}, picked: map[string][]string{}}
}

func (s *inboxStore) WorkItemByExternal(_ context.Context, sys engine.System, externalID string) (engine.WorkItem, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byExternalLocked(sys, externalID)
}

func (s *inboxStore) WorkItemWithInstance(ctx context.Context, sys engine.System, externalID string) (engine.WorkItem, engine.Instance, error) {
	return withInstance(ctx, s, sys, externalID)
}

func (s *inboxStore) WorkItemForCallback(ctx context.Context, ev engine.StoredEvent) (engine.WorkItem, engine.Instance, bool, error) {
	return forCallback(ctx, s, ev)
}

func (s *inboxStore) byExternalLocked(sys engine.System, externalID string) (engine.WorkItem, error) {
	for _, wi := range s.items {
		if wi.System == sys && wi.ExternalID == externalID {
			return wi, nil
		}
	}
	return engine.WorkItem{}, fmt.Errorf("%w: %s work item %s", engine.ErrNotFound, sys, externalID)
}

func (s *inboxStore) InsertEvent(_ context.Context, ev engine.StoredEvent) (engine.StoredEvent, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range s.order {
		if e := s.events[id]; e.Event.System == ev.Event.System && e.Event.DedupeKey == ev.Event.DedupeKey {
			return e, false, nil
		}
	}
	ev.ID = engine.NewIDAt(ev.ReceivedAt)
	s.events[ev.ID] = ev
	s.order = append(s.order, ev.ID)
	if ev.Verdict == engine.VerdictPending {
		s.jobs = append(s.jobs, engine.ProcessEventJob{EventID: ev.ID})
	}
	return ev, true, nil
}

// InsertEventApplied stores nothing for a known dedupe key; these tests' new events all
// arrive before their work item is known, so applying one as it arrives is not modelled.
func (s *inboxStore) InsertEventApplied(_ context.Context, ev engine.StoredEvent, _ engine.EventResult) (engine.StoredEvent, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range s.order {
		if e := s.events[id]; e.Event.System == ev.Event.System && e.Event.DedupeKey == ev.Event.DedupeKey {
			return e, false, nil
		}
	}
	return engine.StoredEvent{}, false, errors.New("inboxStore: a new event applied as it arrives is not modelled")
}

func (s *inboxStore) GetEvent(_ context.Context, id string) (engine.StoredEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev, ok := s.events[id]
	if !ok {
		return engine.StoredEvent{}, fmt.Errorf("%w: event %s", engine.ErrNotFound, id)
	}
	return ev, nil
}

func (s *inboxStore) EarlierPending(context.Context, engine.StoredEvent) (bool, error) {
	return false, nil
}

func (s *inboxStore) FinishEvent(_ context.Context, r engine.EventResult) error {
	if f := s.beforeFinish; f != nil {
		s.beforeFinish = nil
		f()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ev := s.events[r.EventID]
	if ev.Verdict != engine.VerdictPending {
		return fmt.Errorf("%w: event %s was processed concurrently", engine.ErrConflict, r.EventID)
	}
	if r.Verdict == engine.VerdictOrphaned {
		if _, err := s.byExternalLocked(ev.Event.System, ev.Event.ExternalID); err == nil {
			return fmt.Errorf("%w: coupled meanwhile", engine.ErrConflict)
		}
	}
	if w := r.WorkItem; w != nil {
		cur := s.items[w.ID]
		if cur.Revision != w.Revision {
			return fmt.Errorf("%w: work item %s changed concurrently", engine.ErrConflict, w.ID)
		}
		next := *w
		next.Revision = cur.Revision + 1
		s.items[w.ID] = next
	}
	if in := r.Instance; in != nil {
		if cur := s.instances[in.ID]; cur.Revision != r.InstanceRevision {
			return fmt.Errorf("%w: instance %s changed concurrently", engine.ErrConflict, in.ID)
		}
		s.instances[in.ID] = *in
	}
	if r.InstanceID != "" {
		s.appendLocked(r.InstanceID, r.Activities)
	}
	if err := s.applyLocked(r.Effects); err != nil {
		return err
	}
	now := time.Now()
	ev.Verdict, ev.Reason, ev.InstanceID, ev.WorkItemID, ev.ProcessedAt = r.Verdict, r.Reason, r.InstanceID, r.WorkItemID, &now
	ev.Attempts++
	s.events[r.EventID] = ev
	return nil
}

func (s *inboxStore) CoupleWorkItem(ctx context.Context, id, externalID string, act engine.Activity) (engine.Coupled, error) {
	wi, err := s.memStore.CoupleWorkItem(ctx, id, externalID, act)
	if err != nil {
		return wi, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, eid := range s.order {
		ev := s.events[eid]
		if ev.Event.System != wi.System || ev.Event.ExternalID != externalID {
			continue
		}
		switch ev.Verdict {
		case engine.VerdictOrphaned:
			s.picked[eid] = append(s.picked[eid], fmt.Sprintf("picked up again when work item %s was coupled; it was ORPHANED (%s)", wi.ID, ev.Reason))
			ev.Verdict, ev.Reason, ev.ProcessedAt = engine.VerdictPending, "picked up again when work item "+wi.ID+" was coupled", nil
			s.events[eid] = ev
		case engine.VerdictPending:
		default:
			continue
		}
		s.jobs = append(s.jobs, engine.ProcessEventJob{EventID: eid})
	}
	return wi, nil
}

// verdicts returns the events' verdicts by type, in the order they were stored.
func (s *inboxStore) verdicts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, id := range s.order {
		out = append(out, s.events[id].Event.Type+"="+string(s.events[id].Verdict))
	}
	return out
}

// strandedProviders maps DocuSign's events: envelope-completed is FINISHED, the rest progress.
type strandedProviders struct{ *memProviders }

func (strandedProviders) Outcome(_ context.Context, _ engine.System, eventType, _ string) (engine.Outcome, bool, error) {
	if eventType == "envelope-completed" {
		return engine.OutcomeFinished, true, nil
	}
	return engine.OutcomeUnspecified, false, nil
}

// stepClock is a clock tests move.
type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// strandedBundle is a Runner, a Creator and External over one inboxStore, with the webhook
// counter read by a manual reader.
type strandedBundle struct {
	*runBundle
	inbox    *inboxStore
	external *engine.External
	clock    *stepClock
	reader   *sdkmetric.ManualReader
}

const strandedWindow = time.Minute

func setupStranded(t *testing.T) *strandedBundle {
	t.Helper()
	b := setupRun(t)
	b.providers.configure(b.client)
	inbox := newInboxStore(b.store)
	clock := &stepClock{now: time.Now()}
	provs := strandedProviders{b.providers}
	b.creator = engine.NewCreator(inbox, b.store, b.runner, provs, func(engine.DocumentInput) (engine.Rendered, error) {
		return engine.Rendered{PDF: []byte("%PDF-1.7 test"), Anchors: []string{"/sn1/"}}, nil
	}, clock, nil)
	x := engine.NewExternal(inbox, b.store, b.runner, provs, clock, strandedWindow)
	reader := sdkmetric.NewManualReader()
	require.NoError(t, x.Instrument(tracenoop.NewTracerProvider(), sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))))
	return &strandedBundle{runBundle: b, inbox: inbox, external: x, clock: clock, reader: reader}
}

// deliver has an event of the envelope arrive, as the webhook router hands it over.
func (b *strandedBundle) deliver(t *testing.T, envID, typ, dedupeKey string) engine.StoredEvent {
	t.Helper()
	ev, created, err := b.external.Receive(context.Background(), engine.StoredEvent{
		Event: engine.InboundEvent{System: engine.System{Provider: docuSign}, Type: typ, ExternalID: envID, DedupeKey: dedupeKey,
			OccurredAt: b.clock.Now()},
		Body: []byte(`{}`)})
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, engine.VerdictPending, ev.Verdict, "its work item is not coupled yet")
	return ev
}

// runJobs runs the jobs enqueued so far, as the worker would, until none is left: create jobs
// (retried: as a later attempt), and process jobs; a process job that must wait is left out.
// It returns the process jobs' verdicts by event id.
func (b *strandedBundle) runJobs(t *testing.T, retried bool) map[string]engine.Verdict {
	t.Helper()
	out := map[string]engine.Verdict{}
	for jobs := b.store.takeJobs(); len(jobs) > 0; jobs = b.store.takeJobs() {
		for _, j := range jobs {
			switch j := j.(type) {
			case engine.CreateWorkItemJob:
				_ = b.creator.Create(context.Background(), j.WorkItemID, retried || j.Retried, false)
			case engine.ProcessEventJob:
				v, err := b.external.Process(context.Background(), j.EventID)
				if errors.Is(err, engine.ErrRetryLater) {
					continue
				}
				require.NoError(t, err)
				out[j.EventID] = v
			case engine.FetchDocumentJob:
			default:
				t.Fatalf("unexpected job %T", j)
			}
		}
	}
	return out
}

// counted returns flowhook.webhooks by verdict.
func (b *strandedBundle) counted(t *testing.T) map[string]int64 {
	t.Helper()
	return metricPoints(t, b.reader, "flowhook.webhooks", "verdict")
}

// orphan has the envelope's events arrive before any coupling and wait out the window.
func (b *strandedBundle) orphan(t *testing.T, envID string) []engine.StoredEvent {
	t.Helper()
	evs := []engine.StoredEvent{
		b.deliver(t, envID, "envelope-sent", "sent-1"),
		b.deliver(t, envID, "envelope-completed", "completed-1"),
		// The same outcome again under another key (DocuSign republished it).
		b.deliver(t, envID, "envelope-completed", "completed-2"),
	}
	require.Empty(t, b.runJobs(t, false), "within the window every event waits")
	b.clock.add(strandedWindow + time.Second)
	for _, ev := range evs {
		v, err := b.external.Process(context.Background(), ev.ID)
		require.NoError(t, err)
		require.Equal(t, engine.VerdictOrphaned, v)
	}
	require.Equal(t, map[string]int64{"orphaned": 3}, b.counted(t))
	return evs
}

// requireMovedOnce asserts the instance took the outcome once: COMPLETED in "done", one
// OUTCOME entry, the events decided PROGRESS or STALE, APPLIED, DUPLICATE, and counted once.
func (b *strandedBundle) requireMovedOnce(t *testing.T, instanceID string, evs []engine.StoredEvent) {
	t.Helper()
	in := b.instance(t, instanceID)
	require.Equal(t, engine.StatusCompleted, in.Status)
	require.Equal(t, "done", in.StateKey)
	outcomes := 0
	for _, a := range b.store.activities(instanceID) {
		if a.Kind == engine.ActivityOutcome {
			outcomes++
			require.Equal(t, "DOCUSIGN reported envelope-completed: outcome FINISHED", a.Message)
		}
	}
	require.Equal(t, 1, outcomes, "the outcome is applied once")
	got := b.inbox.verdicts()
	require.Contains(t, []string{"envelope-sent=PROGRESS", "envelope-sent=STALE"}, got[0])
	require.Equal(t, []string{"envelope-completed=APPLIED", "envelope-completed=DUPLICATE"}, got[1:])
	for _, ev := range evs {
		steps := b.inbox.picked[ev.ID]
		require.Len(t, steps, 1, "one pick-up for %s", ev.Event.Type)
		require.Contains(t, steps[0], "it was ORPHANED (no work item has the DOCUSIGN id "+ev.Event.ExternalID+" after 1m0s)")
		after, err := b.inbox.GetEvent(context.Background(), ev.ID)
		require.NoError(t, err)
		require.Equal(t, 2, after.Attempts, "orphaned, then decided")
		require.Equal(t, in.WorkItem.ID, after.WorkItemID)
	}
	require.Equal(t, map[string]int64{"orphaned": 3}, b.counted(t), "each notification counted once, when first decided")
}

// TestStrandedOutcomeIsPickedUp: the provider made the envelope but the answer was lost; its
// events arrived and were ORPHANED; the create job's retry finds the envelope, couples it, and
// the events are processed again: the outcome moves the instance, once.
func TestStrandedOutcomeIsPickedUp(t *testing.T) {
	t.Parallel()
	b := setupStranded(t)
	b.client.failAfterCreate = errors.New("connection reset by peer")
	in := b.toSign(t)
	b.runJobs(t, false)
	_, _, items := b.client.record()
	require.Len(t, items, 1, "the envelope exists at the provider")
	require.Equal(t, engine.WorkItemCreating, b.instance(t, in.ID).WorkItem.Status)
	var envID string
	for _, id := range items {
		envID = id
	}
	evs := b.orphan(t, envID)

	// River runs the create job again: it looks, finds the envelope and couples it.
	wiID := b.instance(t, in.ID).WorkItem.ID
	require.NoError(t, b.creator.Create(context.Background(), wiID, true, false))
	jobs := b.store.takeJobs()
	require.Equal(t, []engine.Job{engine.ProcessEventJob{EventID: evs[0].ID}, engine.ProcessEventJob{EventID: evs[1].ID},
		engine.ProcessEventJob{EventID: evs[2].ID}}, jobs, "the coupling enqueued every event of the envelope")
	for _, j := range jobs {
		_, err := b.external.Process(context.Background(), j.(engine.ProcessEventJob).EventID)
		require.NoError(t, err)
	}
	b.runJobs(t, false)
	b.requireMovedOnce(t, in.ID, evs)
	creates, _, _ := b.client.record()
	require.Len(t, creates, 1, "one envelope")

	// A later redelivery of an event that was picked up changes nothing.
	_, created, err := b.external.Receive(context.Background(), engine.StoredEvent{
		Event: engine.InboundEvent{System: engine.System{Provider: docuSign}, Type: "envelope-completed", ExternalID: envID, DedupeKey: "completed-1"}})
	require.NoError(t, err)
	require.False(t, created)
	b.requireMovedOnce(t, in.ID, evs)
}

// TestStrandedOutcomeAfterRetryInstance: the answer was a refusal, so the instance FAILED
// although the envelope exists; its events were ORPHANED; an admin's RetryInstance runs the
// create job again, which finds and couples the envelope: the same pick-up.
func TestStrandedOutcomeAfterRetryInstance(t *testing.T) {
	t.Parallel()
	b := setupStranded(t)
	b.client.failAfterCreate = fmt.Errorf("%w: HTTP 400 ANSWER_LOST", engine.ErrProviderPermanent)
	in := b.toSign(t)
	b.runJobs(t, false)
	require.Equal(t, engine.StatusFailed, b.instance(t, in.ID).Status)
	_, _, items := b.client.record()
	require.Len(t, items, 1)
	var envID string
	for _, id := range items {
		envID = id
	}
	evs := b.orphan(t, envID)

	_, err := b.runner.Retry(context.Background(), admin, in.ID)
	require.NoError(t, err)
	b.runJobs(t, false)
	b.requireMovedOnce(t, in.ID, evs)
	creates, finds, _ := b.client.record()
	require.Len(t, creates, 1, "found, not created again")
	require.Len(t, finds, 1)
}

// TestOrphaningLosesToCoupling: the job looked for the work item before the coupling
// committed and decided ORPHANED; the store refuses that once the coupling is in, and the job
// reads again and applies the event — in the same run.
func TestOrphaningLosesToCoupling(t *testing.T) {
	t.Parallel()
	b := setupStranded(t)
	in := b.toSign(t)
	wiID := b.store.takeJobs()[0].(engine.CreateWorkItemJob).WorkItemID
	ev := b.deliver(t, "env-race", "envelope-completed", "completed-1")
	b.store.takeJobs()
	b.clock.add(strandedWindow + time.Second)
	b.inbox.beforeFinish = func() {
		_, err := b.inbox.CoupleWorkItem(context.Background(), wiID, "env-race", engine.Activity{Kind: engine.ActivityExternalProgress,
			ToState: "sign", CreatedAt: b.clock.Now(), Message: "DOCUSIGN env-race sent to ada@example.com"})
		require.NoError(t, err)
	}
	v, err := b.external.Process(context.Background(), ev.ID)
	require.NoError(t, err)
	require.Equal(t, engine.VerdictApplied, v)
	require.Equal(t, engine.StatusCompleted, b.instance(t, in.ID).Status)
	require.Empty(t, b.inbox.picked[ev.ID], "it was never ORPHANED")
	require.Equal(t, map[string]int64{"applied": 1}, b.counted(t))
	// The coupling's job for it finds it decided.
	require.Equal(t, map[string]engine.Verdict{ev.ID: engine.VerdictApplied}, b.runJobs(t, false))
	require.Equal(t, map[string]int64{"applied": 1}, b.counted(t))
}
