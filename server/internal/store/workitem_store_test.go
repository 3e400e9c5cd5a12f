package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/store"
)

// TestCoupleWorkItemGuards: coupling sets the provider's id on a CREATING work item only, and
// an id is one work item's per system.
func TestCoupleWorkItemGuards(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			inst, wi := f.waiting(t, "", "")
			coupled, err := f.st.CoupleWorkItem(ctx, wi.ID, "env-1", coupleAct("env-1"))
			require.NoError(t, err)
			require.Equal(t, engine.WorkItemWaiting, coupled.Status)
			require.Equal(t, "env-1", coupled.ExternalID)
			require.Equal(t, wi.Revision+1, coupled.Revision)
			got, err := f.st.GetInstance(ctx, inst.ID)
			require.NoError(t, err)
			require.Equal(t, "env-1", got.ExternalID, "Workflow Manage shows the id")
			require.Equal(t, inst.Revision, got.Revision, "not a change of the instance's own")
			acts, _, err := f.st.ListActivity(ctx, inst.ID, engine.Page{Size: 10})
			require.NoError(t, err)
			require.Len(t, acts, 1)
			require.Equal(t, "DOCUSIGN env-1 sent to ada@example.com", acts[0].Message)
			found, err := f.st.WorkItemByExternal(ctx, coupleDocuSign, "env-1")
			require.NoError(t, err)
			require.Equal(t, wi.ID, found.ID)
			_, err = f.st.WorkItemByExternal(ctx, coupleOneSpan, "env-1")
			require.ErrorIs(t, err, engine.ErrNotFound)

			// Coupled once: a second coupling (a racing create attempt) is refused.
			_, err = f.st.CoupleWorkItem(ctx, wi.ID, "env-other", coupleAct("env-other"))
			require.ErrorIs(t, err, engine.ErrConflict)
			require.ErrorContains(t, err, "is no longer being created")
			still, err := f.st.GetWorkItem(ctx, wi.ID)
			require.NoError(t, err)
			require.Equal(t, "env-1", still.ExternalID)

			// Another work item of the system cannot take the id; another system's can.
			_, other := f.waiting(t, "", "")
			_, err = f.st.CoupleWorkItem(ctx, other.ID, "env-1", coupleAct("env-1"))
			require.ErrorIs(t, err, engine.ErrExternalIDTaken, "not a racing attempt of the same item")
			require.NotErrorIs(t, err, engine.ErrConflict)
			require.ErrorContains(t, err, "another work item already has the id: env-1")
			left, err := f.st.GetWorkItem(ctx, other.ID)
			require.NoError(t, err)
			require.Equal(t, engine.WorkItemCreating, left.Status, "nothing of the refused coupling stays")
			require.Empty(t, left.ExternalID)

			now := time.Now()
			osInst := engine.Instance{ID: engine.NewIDAt(now), WorkflowID: f.workflowID, Version: 1, WorkflowName: "Contract",
				StateKey: "sign", Status: engine.StatusWaitingExternal, System: coupleOneSpan, Revision: 1, StartedBy: f.userID,
				FormData: map[string]any{}, CreatedAt: now, UpdatedAt: now}
			osItem := engine.WorkItem{ID: engine.NewIDAt(now), InstanceID: osInst.ID, StateKey: "sign", EnteredRevision: 1,
				System: coupleOneSpan, Status: engine.WorkItemCreating, CreatedAt: now, UpdatedAt: now, Revision: 1}
			_, err = f.st.CreateInstance(ctx, osInst, nil, engine.Effects{NewWorkItems: []engine.WorkItem{osItem}})
			require.NoError(t, err)
			_, err = f.st.CoupleWorkItem(ctx, osItem.ID, "env-1", coupleAct("env-1"))
			require.NoError(t, err)
			found, err = f.st.WorkItemByExternal(ctx, coupleOneSpan, "env-1")
			require.NoError(t, err)
			require.Equal(t, osItem.ID, found.ID)
		})
	}
}

// TestFailWorkItemOfAnInstanceThatMovedOn: a work item fails whatever its instance does, but
// the instance fails only while it still waits on it.
func TestFailWorkItemOfAnInstanceThatMovedOn(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			inst, wi := f.waiting(t, "", "")
			cancelled := f.cancel(t, inst, "withdrawn")

			require.NoError(t, f.st.FailWorkItem(ctx, wi.ID, "refused", engine.Activity{Kind: engine.ActivityFailed, Message: "refused", CreatedAt: time.Now()}))
			item, err := f.st.GetWorkItem(ctx, wi.ID)
			require.NoError(t, err)
			require.Equal(t, engine.WorkItemFailed, item.Status)
			require.Equal(t, "refused", item.Error)
			got, err := f.st.GetInstance(ctx, inst.ID)
			require.NoError(t, err)
			require.Equal(t, engine.StatusCancelled, got.Status)
			require.Equal(t, "withdrawn", got.Reason)
			require.Equal(t, cancelled.Revision, got.Revision)
			acts, _, err := f.st.ListActivity(ctx, inst.ID, engine.Page{Size: 10})
			require.NoError(t, err)
			require.Len(t, acts, 1, "no FAILED entry on an instance that no longer waits on it")
		})
	}
}

// TestCloseWorkItem: closing sets the final status and note, with or without an entry in the
// timeline; a closed work item no longer counts as waiting.
func TestCloseWorkItem(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			inst, wi := f.waiting(t, "", "")
			_, err := f.st.CoupleWorkItem(ctx, wi.ID, "env-1", coupleAct("env-1"))
			require.NoError(t, err)
			_, wi2 := f.waiting(t, "", "")
			waiting, err := f.st.WaitingWorkItems(ctx)
			require.NoError(t, err)
			require.Equal(t, map[string]int64{"DOCUSIGN": 2}, waiting)

			require.NoError(t, f.st.CloseWorkItem(ctx, wi.ID, engine.WorkItemCancelled, "voided at DOCUSIGN",
				&engine.Activity{Kind: engine.ActivityExternalProgress, ToState: "sign", Message: "DOCUSIGN env-1 voided", CreatedAt: time.Now()}))
			got, err := f.st.GetWorkItem(ctx, wi.ID)
			require.NoError(t, err)
			require.Equal(t, engine.WorkItemCancelled, got.Status)
			require.Equal(t, "voided at DOCUSIGN", got.Error)
			require.EqualValues(t, 3, got.Revision)
			require.Equal(t, "env-1", got.ExternalID)
			acts, _, err := f.st.ListActivity(ctx, inst.ID, engine.Page{Size: 10})
			require.NoError(t, err)
			require.Len(t, acts, 2)
			require.Equal(t, "DOCUSIGN env-1 voided", acts[1].Message)

			require.NoError(t, f.st.CloseWorkItem(ctx, wi2.ID, engine.WorkItemCancelled, "", nil))
			acts, _, err = f.st.ListActivity(ctx, wi2.InstanceID, engine.Page{Size: 10})
			require.NoError(t, err)
			require.Empty(t, acts, "no entry given, none written")
			waiting, err = f.st.WaitingWorkItems(ctx)
			require.NoError(t, err)
			require.Empty(t, waiting)

			err = f.st.CloseWorkItem(ctx, engine.NewIDAt(time.Now()), engine.WorkItemCancelled, "", nil)
			require.ErrorIs(t, err, engine.ErrNotFound)
		})
	}
}

// TestActivitiesNeedTheirInstance: activities have no foreign key to their instance (its check
// cost every append a query and a lock); the instance's counter, which numbers every append,
// refuses one to an instance that does not exist, and the append's transaction writes nothing.
// (The group commit's statement is TestGroupCommitFallsBack's.)
func TestActivitiesNeedTheirInstance(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			db := dbtest.Open(t, d)
			f := newInstanceFixtureOn(t, store.New(db))
			ctx := context.Background()
			_, wi := f.waiting(t, "", "")
			ghost := engine.NewIDAt(time.Now())
			_, err := db.SQL.ExecContext(ctx, "UPDATE work_items SET instance_id = '"+ghost+"' WHERE id = '"+wi.ID+"'")
			require.NoError(t, err)

			err = f.st.CloseWorkItem(ctx, wi.ID, engine.WorkItemCancelled, "voided",
				&engine.Activity{Kind: engine.ActivityExternalProgress, ToState: "sign", Message: "voided", CreatedAt: time.Now()})
			require.ErrorIs(t, err, engine.ErrNotFound)
			got, err := f.st.GetWorkItem(ctx, wi.ID)
			require.NoError(t, err)
			require.Equal(t, wi.Status, got.Status, "the close rolled back with its activity")
			require.Equal(t, wi.Revision, got.Revision)
			var n int
			require.NoError(t, db.SQL.QueryRowContext(ctx, "SELECT count(*) FROM activities WHERE instance_id = '"+ghost+"'").Scan(&n))
			require.Zero(t, n)
		})
	}
}

// TestSaveDocument: a work item's signed document is kept once (a second fetch keeps the
// first), and the instance's latest is the newest work item's.
func TestSaveDocument(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			inst, wi := f.waiting(t, "", "")
			_, err := f.st.LatestSignedDocument(ctx, inst.ID)
			require.ErrorIs(t, err, engine.ErrNotFound)

			pdf := []byte("%PDF-1.7 signed")
			require.NoError(t, f.st.SaveDocument(ctx, wi.ID, "contract.pdf", "application/pdf", pdf))
			require.NoError(t, f.st.SaveDocument(ctx, wi.ID, "again.pdf", "application/pdf", []byte("%PDF-1.7 other")),
				"a second fetch of the same work item's document is not an error")
			doc, err := f.st.LatestSignedDocument(ctx, inst.ID)
			require.NoError(t, err)
			sum := sha256.Sum256(pdf)
			require.Equal(t, wi.ID, doc.WorkItemID)
			require.Equal(t, "contract.pdf", doc.Name, "the first one is kept")
			require.Equal(t, "application/pdf", doc.ContentType)
			require.Equal(t, pdf, doc.Content)
			require.Equal(t, hex.EncodeToString(sum[:]), doc.SHA256)
			require.WithinDuration(t, time.Now(), doc.CreatedAt, time.Minute)

			// The instance enters a signature again: its new document is the latest.
			cur, err := f.st.GetInstance(ctx, inst.ID)
			require.NoError(t, err)
			later := time.Now().Add(time.Second)
			second := engine.WorkItem{ID: engine.NewIDAt(later), InstanceID: inst.ID, StateKey: "sign", EnteredRevision: cur.Revision + 1,
				System: coupleDocuSign, Status: engine.WorkItemCreating, CreatedAt: later, UpdatedAt: later, Revision: 1}
			cur.UpdatedAt = later
			_, err = f.st.UpdateInstance(ctx, cur, cur.Revision, nil, engine.Effects{NewWorkItems: []engine.WorkItem{second}})
			require.NoError(t, err)
			require.NoError(t, f.st.SaveDocument(ctx, second.ID, "second.pdf", "application/pdf", []byte("%PDF-1.7 second")))
			doc, err = f.st.LatestSignedDocument(ctx, inst.ID)
			require.NoError(t, err)
			require.Equal(t, second.ID, doc.WorkItemID)
			require.Equal(t, "second.pdf", doc.Name)

			err = f.st.SaveDocument(ctx, engine.NewIDAt(time.Now()), "x.pdf", "application/pdf", pdf)
			require.ErrorIs(t, err, engine.ErrNotFound)
		})
	}
}
