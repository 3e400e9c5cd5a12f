package store_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/store"
)

// jobRecorder stands in for River: it remembers the jobs enqueued by transactions that
// committed, and the jobs the store said committed (store.CommitWatcher).
type jobRecorder struct {
	mu        sync.Mutex
	jobs      []engine.Job
	committed []engine.Job
}

func (r *jobRecorder) Committed(jobs []engine.Job) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.committed = append(r.committed, jobs...)
}

// told returns what Committed was told.
func (r *jobRecorder) told() []engine.Job {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]engine.Job(nil), r.committed...)
}

func (r *jobRecorder) InsertTx(_ context.Context, _ *sql.Tx, jobs ...engine.Job) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.jobs = append(r.jobs, jobs...)
	return nil
}

func (r *jobRecorder) all() []engine.Job {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]engine.Job(nil), r.jobs...)
}

// instanceFixture is a store with a published workflow whose START leads into an EXTERNAL
// state, and a user who starts instances of it.
type instanceFixture struct {
	st         *store.Store
	jobs       *jobRecorder
	workflowID string
	userID     string
}

func newInstanceFixture(t *testing.T, d store.Dialect) instanceFixture {
	t.Helper()
	return newInstanceFixtureOn(t, newStore(t, d))
}

// newInstanceFixtureOn is newInstanceFixture on st, for a test that also reaches st's database.
func newInstanceFixtureOn(t *testing.T, st *store.Store) instanceFixture {
	t.Helper()
	ctx := context.Background()
	jobs := &jobRecorder{}
	st = st.WithJobs(jobs)
	wf, err := st.CreateWorkflow(ctx, engine.Draft{Name: "Contract", States: []engine.State{
		{Key: "start", Kind: engine.StateKindStart},
		{Key: "sign", Kind: engine.StateKindExternal, External: &engine.ExternalStep{Provider: "DOCUSIGN"}},
		{Key: "done", Kind: engine.StateKindEnd},
	}})
	require.NoError(t, err)
	_, err = st.PublishVersion(ctx, wf.ID, 1, func(d engine.Draft) (engine.Draft, error) { return d, nil })
	require.NoError(t, err)
	user, err := st.CreateUser(ctx, engine.User{DisplayName: "Bob", Email: "bob@example.com", Roles: []engine.Role{engine.RoleUser}})
	require.NoError(t, err)
	return instanceFixture{st: st, jobs: jobs, workflowID: wf.ID, userID: user.ID}
}

// waiting creates an instance waiting in "sign" at revision 1 on a CREATING work item.
func (f instanceFixture) waiting(t *testing.T, requestID, fingerprint string) (engine.Instance, engine.WorkItem) {
	t.Helper()
	now := time.Now()
	inst := engine.Instance{ID: engine.NewIDAt(now), WorkflowID: f.workflowID, Version: 1, WorkflowName: "Contract",
		StateKey: "sign", Status: engine.StatusWaitingExternal, System: engine.System{Provider: "DOCUSIGN"}, Revision: 1,
		StartedBy: f.userID, RequestID: requestID, RequestFingerprint: fingerprint,
		FormData: map[string]any{"name": "Ada"}, CreatedAt: now, UpdatedAt: now}
	wi := engine.WorkItem{ID: engine.NewIDAt(now), InstanceID: inst.ID, StateKey: "sign", EnteredRevision: 1,
		System: engine.System{Provider: "DOCUSIGN"}, Status: engine.WorkItemCreating, CreatedAt: now, UpdatedAt: now, Revision: 1}
	created, err := f.st.CreateInstance(context.Background(), inst, nil, engine.Effects{NewWorkItems: []engine.WorkItem{wi}})
	require.NoError(t, err)
	return created, wi
}

// cancel cancels inst (as read) with reason and its CANCELLED activity, and returns it as
// stored.
func (f instanceFixture) cancel(t *testing.T, inst engine.Instance, reason string) engine.Instance {
	t.Helper()
	cancelled := inst
	ended := time.Now()
	cancelled.Status, cancelled.Reason, cancelled.EndedAt, cancelled.UpdatedAt = engine.StatusCancelled, reason, &ended, ended
	cancelled, err := f.st.UpdateInstance(context.Background(), cancelled, inst.Revision,
		[]engine.Activity{{Kind: engine.ActivityCancelled, Message: reason, CreatedAt: ended}}, engine.Effects{})
	require.NoError(t, err)
	return cancelled
}

// coupled creates an instance waiting in "sign" on a work item coupled to the DocuSign
// envelope ext, and returns both as stored.
func (f instanceFixture) coupled(t *testing.T, ext string) (engine.Instance, engine.WorkItem) {
	t.Helper()
	ctx := context.Background()
	inst, wi := f.waiting(t, "", "")
	coupled, err := f.st.CoupleWorkItem(ctx, wi.ID, ext, coupleAct(ext))
	require.NoError(t, err)
	wi = coupled.WorkItem
	inst, err = f.st.GetInstance(ctx, inst.ID)
	require.NoError(t, err)
	return inst, wi
}

// TestRequestFingerprint: the fingerprint of a start request is kept with its instance and
// read back with it, by id and by request; an instance started without one has none.
func TestRequestFingerprint(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			fp := engine.StartFingerprint(engine.StartInput{WorkflowID: f.workflowID}, map[string]any{"name": "Ada"})
			inst, _ := f.waiting(t, "order-1", fp)
			require.Equal(t, fp, inst.RequestFingerprint)
			got, err := f.st.GetInstance(ctx, inst.ID)
			require.NoError(t, err)
			require.Equal(t, fp, got.RequestFingerprint)
			byReq, err := f.st.InstanceByRequest(ctx, f.userID, "order-1")
			require.NoError(t, err)
			require.Equal(t, inst.ID, byReq.ID)
			require.Equal(t, fp, byReq.RequestFingerprint)

			// The same request id again: nothing is saved, whatever the fingerprint.
			now := time.Now()
			dup := engine.Instance{ID: engine.NewIDAt(now), WorkflowID: f.workflowID, Version: 1, WorkflowName: "Contract",
				StateKey: "sign", Status: engine.StatusActive, Revision: 1, StartedBy: f.userID, RequestID: "order-1",
				RequestFingerprint: "v1:other", FormData: map[string]any{}, CreatedAt: now, UpdatedAt: now}
			_, err = f.st.CreateInstance(ctx, dup, nil, engine.Effects{})
			require.ErrorIs(t, err, engine.ErrDuplicateRequest)
			_, err = f.st.GetInstance(ctx, dup.ID)
			require.ErrorIs(t, err, engine.ErrNotFound)

			// An update keeps it (it is immutable), and a start without a request id has none.
			got.FormData = map[string]any{"name": "Ada King"}
			got.UpdatedAt = time.Now()
			updated, err := f.st.UpdateInstance(ctx, got, got.Revision, nil, engine.Effects{})
			require.NoError(t, err)
			require.Equal(t, fp, updated.RequestFingerprint)
			plain, _ := f.waiting(t, "", "")
			got, err = f.st.GetInstance(ctx, plain.ID)
			require.NoError(t, err)
			require.Empty(t, got.RequestFingerprint)
			require.Empty(t, got.RequestID)
		})
	}
}

// TestRetryWorkItem: a FAILED instance and its FAILED work item are reopened in one change,
// conditional on both revisions; a stale retry changes nothing and enqueues nothing.
func TestRetryWorkItem(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			inst, wi := f.waiting(t, "", "")
			const reason = "creating the DOCUSIGN work item failed: not configured"
			require.NoError(t, f.st.FailWorkItem(ctx, wi.ID, reason, engine.Activity{Kind: engine.ActivityFailed, FromState: "sign",
				Message: reason, CreatedAt: time.Now()}))
			failed, err := f.st.GetInstance(ctx, inst.ID)
			require.NoError(t, err)
			require.Equal(t, engine.StatusFailed, failed.Status)
			require.Equal(t, reason, failed.Reason)
			require.NotNil(t, failed.EndedAt)
			require.EqualValues(t, 2, failed.Revision)
			fw, err := f.st.GetWorkItem(ctx, wi.ID)
			require.NoError(t, err)
			require.Equal(t, engine.WorkItemFailed, fw.Status)
			require.Equal(t, reason, fw.Error)
			// A FAILED work item fails no more.
			require.ErrorIs(t, f.st.FailWorkItem(ctx, wi.ID, "again", engine.Activity{Kind: engine.ActivityFailed, CreatedAt: time.Now()}),
				engine.ErrConflict)

			// The retry, as Runner.Retry builds it.
			retry := func(read engine.Instance, item engine.WorkItem) (engine.Instance, error) {
				now := time.Now()
				in := read
				in.Status, in.Reason, in.EndedAt, in.UpdatedAt = engine.StatusWaitingExternal, "", nil, now
				item.Status, item.EnteredRevision, item.Error, item.UpdatedAt = engine.WorkItemCreating, read.Revision+1, "", now
				return f.st.UpdateInstance(ctx, in, read.Revision,
					[]engine.Activity{{Kind: engine.ActivityRetried, ActorID: "admin", FromState: "sign", ToState: "sign", CreatedAt: now}},
					engine.Effects{RetriedWorkItems: []engine.WorkItem{item}, Jobs: []engine.Job{engine.CreateWorkItemJob{WorkItemID: item.ID, Retried: true}}})
			}
			got, err := retry(failed, fw)
			require.NoError(t, err)
			require.Equal(t, engine.StatusWaitingExternal, got.Status)
			require.EqualValues(t, 3, got.Revision)
			require.Empty(t, got.Reason)
			require.Nil(t, got.EndedAt, "ended_at cleared")
			reread, err := f.st.GetInstance(ctx, inst.ID)
			require.NoError(t, err)
			require.Nil(t, reread.EndedAt)
			require.Empty(t, reread.Reason)
			cur, err := f.st.CurrentWorkItem(ctx, inst.ID)
			require.NoError(t, err)
			require.Equal(t, wi.ID, cur.ID, "the same work item")
			require.Equal(t, engine.WorkItemCreating, cur.Status)
			require.EqualValues(t, 3, cur.EnteredRevision)
			require.Equal(t, fw.Revision+1, cur.Revision)
			require.Empty(t, cur.Error)
			require.Equal(t, []engine.Job{engine.CreateWorkItemJob{WorkItemID: wi.ID, Retried: true}}, f.jobs.all(),
				"a retry's creation is River's job, which looks for the item first")
			n, err := f.st.CreationsDue(ctx)
			require.NoError(t, err)
			require.Zero(t, n, "and no mark")
			acts, _, err := f.st.ListActivity(ctx, inst.ID, engine.Page{Size: 10})
			require.NoError(t, err)
			require.Equal(t, engine.ActivityRetried, acts[len(acts)-1].Kind)
			require.Equal(t, "admin", acts[len(acts)-1].ActorID)

			// A second retry from the same reading loses: nothing changes, nothing is enqueued.
			_, err = retry(failed, fw)
			require.ErrorIs(t, err, engine.ErrConflict)
			// Nor does one whose instance revision is current but whose work item is not FAILED.
			_, err = retry(got, fw)
			require.ErrorIs(t, err, engine.ErrConflict)
			after, err := f.st.GetInstance(ctx, inst.ID)
			require.NoError(t, err)
			require.Equal(t, got.Revision, after.Revision)
			acts2, _, err := f.st.ListActivity(ctx, inst.ID, engine.Page{Size: 10})
			require.NoError(t, err)
			require.Len(t, acts2, len(acts))
			require.Len(t, f.jobs.all(), 1)

			// The reopened work item couples, and a failure now fails the instance again.
			_, err = f.st.CoupleWorkItem(ctx, wi.ID, "env-1", engine.Activity{Kind: engine.ActivityExternalProgress, CreatedAt: time.Now()})
			require.NoError(t, err)
			require.ErrorIs(t, f.st.FailWorkItem(ctx, wi.ID, "late", engine.Activity{Kind: engine.ActivityFailed, CreatedAt: time.Now()}),
				engine.ErrConflict, "a coupled work item does not fail")
			waiting, err := f.st.GetInstance(ctx, inst.ID)
			require.NoError(t, err)
			require.Equal(t, engine.StatusWaitingExternal, waiting.Status)
			require.Equal(t, "env-1", waiting.ExternalID)
		})
	}
}

// TestRetryWorkItemRace: concurrent retries of one FAILED instance: exactly one commits.
func TestRetryWorkItemRace(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			inst, wi := f.waiting(t, "", "")
			require.NoError(t, f.st.FailWorkItem(ctx, wi.ID, "refused", engine.Activity{Kind: engine.ActivityFailed, CreatedAt: time.Now()}))
			failed, err := f.st.GetInstance(ctx, inst.ID)
			require.NoError(t, err)
			fw, err := f.st.GetWorkItem(ctx, wi.ID)
			require.NoError(t, err)

			const n = 6
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					now := time.Now()
					in := failed
					in.Status, in.Reason, in.EndedAt, in.UpdatedAt = engine.StatusWaitingExternal, "", nil, now
					item := fw
					item.Status, item.EnteredRevision, item.UpdatedAt = engine.WorkItemCreating, failed.Revision+1, now
					_, errs[i] = f.st.UpdateInstance(ctx, in, failed.Revision,
						[]engine.Activity{{Kind: engine.ActivityRetried, CreatedAt: now}},
						engine.Effects{RetriedWorkItems: []engine.WorkItem{item}, Jobs: []engine.Job{engine.CreateWorkItemJob{WorkItemID: item.ID, Retried: true}}})
				})
			}
			wg.Wait()
			wins := 0
			for _, err := range errs {
				if err == nil {
					wins++
					continue
				}
				require.ErrorIs(t, err, engine.ErrConflict)
			}
			require.Equal(t, 1, wins)
			require.Len(t, f.jobs.all(), 1)
			got, err := f.st.GetInstance(ctx, inst.ID)
			require.NoError(t, err)
			require.Equal(t, failed.Revision+1, got.Revision)
		})
	}
}
