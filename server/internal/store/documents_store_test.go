package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/engine"
)

// TestDocumentsDue: a fetch_document job is not inserted into River but kept as a mark on its
// work item, written with the change that needs it (in its transaction), and the queue is told
// once it commits. Saving the document, or clearing the mark when there is none, ends it. The
// sweep hands the marks older than its cutoff to River jobs, the longest due first, a batch
// at a time, each once.
func TestDocumentsDue(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			due := func() int64 {
				t.Helper()
				n, err := f.st.DocumentsDue(ctx)
				require.NoError(t, err)
				return n
			}
			// finish resolves wi's instance with a fetch of its document among the effects
			// (UpdateInstance: the transaction's path, on both databases).
			finish := func(inst engine.Instance, wi engine.WorkItem) {
				t.Helper()
				inst.Status, inst.StateKey, inst.UpdatedAt = engine.StatusCompleted, "done", time.Now()
				_, err := f.st.UpdateInstance(ctx, inst, inst.Revision, nil,
					engine.Effects{Jobs: []engine.Job{engine.FetchDocumentJob{WorkItemID: wi.ID}}})
				require.NoError(t, err)
			}
			require.Zero(t, due())

			inst1, wi1 := f.coupled(t, "env-doc-1")
			finish(inst1, wi1)
			require.Empty(t, f.jobs.all(), "no River job")
			require.Equal(t, []engine.Job{engine.FetchDocumentJob{WorkItemID: wi1.ID}}, f.jobs.told())
			require.EqualValues(t, 1, due())
			n, err := f.st.HandOverDueDocuments(ctx, time.Now().Add(-time.Minute), 10)
			require.NoError(t, err)
			require.Zero(t, n, "a mark younger than the cutoff stays for the in-process fetch")

			// Kept: the mark goes with the save, once.
			require.NoError(t, f.st.SaveDocument(ctx, wi1.ID, "signed.pdf", "application/pdf", []byte("%PDF-1.4 one")))
			require.Zero(t, due())
			require.NoError(t, f.st.SaveDocument(ctx, wi1.ID, "signed.pdf", "application/pdf", []byte("%PDF-1.4 again")))
			doc, err := f.st.LatestSignedDocument(ctx, inst1.ID)
			require.NoError(t, err)
			require.Equal(t, []byte("%PDF-1.4 one"), doc.Content)

			// None to keep: cleared.
			inst2, wi2 := f.coupled(t, "env-doc-2")
			finish(inst2, wi2)
			require.EqualValues(t, 1, due())
			require.NoError(t, f.st.ClearDocumentDue(ctx, wi2.ID))
			require.Zero(t, due())
			require.NoError(t, f.st.ClearDocumentDue(ctx, wi2.ID), "clearing twice is not an error")

			// Three left due (the replica died): the sweep hands them over, the oldest first,
			// two then one, and nothing after.
			var left []engine.WorkItem
			for _, ext := range []string{"env-doc-3", "env-doc-4", "env-doc-5"} {
				inst, wi := f.coupled(t, ext)
				finish(inst, wi)
				left = append(left, wi)
			}
			require.EqualValues(t, 3, due())
			cutoff := time.Now().Add(time.Minute)
			n, err = f.st.HandOverDueDocuments(ctx, cutoff, 2)
			require.NoError(t, err)
			require.Equal(t, 2, n)
			require.Equal(t, []engine.Job{engine.FetchDocumentJob{WorkItemID: left[0].ID}, engine.FetchDocumentJob{WorkItemID: left[1].ID}},
				f.jobs.all(), "River jobs, the longest due first")
			require.EqualValues(t, 1, due())
			n, err = f.st.HandOverDueDocuments(ctx, cutoff, 2)
			require.NoError(t, err)
			require.Equal(t, 1, n)
			n, err = f.st.HandOverDueDocuments(ctx, cutoff, 2)
			require.NoError(t, err)
			require.Zero(t, n)
			require.Len(t, f.jobs.all(), 3, "each handed over once")
			require.Equal(t, engine.FetchDocumentJob{WorkItemID: left[2].ID}, f.jobs.all()[2])
			require.Zero(t, due())
			require.Len(t, f.jobs.told(), 5, "the sweep's jobs are River's, not the in-process fetcher's")

			// The job's save then finds no mark, and keeps the document.
			require.NoError(t, f.st.SaveDocument(ctx, left[0].ID, "signed.pdf", "application/pdf", []byte("%PDF-1.4 three")))
			require.Zero(t, due())

			// Several kept in one call (the in-process fetcher's batch): the first of two for
			// one work item is kept; an unknown work item's is not, and the error names it,
			// while the others are kept and their marks cleared.
			var batch []engine.WorkItem
			for _, ext := range []string{"env-doc-6", "env-doc-7"} {
				inst, wi := f.coupled(t, ext)
				finish(inst, wi)
				batch = append(batch, wi)
			}
			ghost := engine.NewIDAt(time.Now())
			err = f.st.SaveDocuments(ctx, []engine.SignedDocument{
				{WorkItemID: batch[0].ID, Name: "signed.pdf", ContentType: "application/pdf", Content: []byte("%PDF-1.4 six")},
				{WorkItemID: ghost, Name: "signed.pdf", ContentType: "application/pdf", Content: []byte("%PDF-1.4 ghost")},
				{WorkItemID: batch[1].ID, Name: "signed-documents.zip", ContentType: "application/zip", Content: []byte("PK\x03\x04 seven")},
				{WorkItemID: batch[0].ID, Name: "again.pdf", ContentType: "application/pdf", Content: []byte("%PDF-1.4 six again")},
			})
			require.ErrorIs(t, err, engine.ErrNotFound)
			require.Contains(t, err.Error(), ghost)
			require.Zero(t, due())
			for i, want := range []struct{ name, content string }{{"signed.pdf", "%PDF-1.4 six"}, {"signed-documents.zip", "PK\x03\x04 seven"}} {
				doc, err := f.st.LatestSignedDocument(ctx, batch[i].InstanceID)
				require.NoError(t, err)
				require.Equal(t, batch[i].ID, doc.WorkItemID)
				require.Equal(t, want.name, doc.Name)
				require.Equal(t, []byte(want.content), doc.Content)
				require.Len(t, doc.SHA256, 64)
			}
			require.NoError(t, f.st.SaveDocuments(ctx, nil))

			// Unknown work items.
			unknown := engine.NewIDAt(time.Now())
			require.ErrorIs(t, f.st.SaveDocument(ctx, unknown, "x.pdf", "application/pdf", []byte("%PDF-1.4")), engine.ErrNotFound)
			require.NoError(t, f.st.ClearDocumentDue(ctx, unknown))
			require.ErrorIs(t, f.st.ClearDocumentDue(ctx, "not-an-id"), engine.ErrNotFound)
		})
	}
}

// TestLatestSignedDocumentIsTheNewestWorkItems: an instance that signs twice (two signature
// steps, or a loop back into one) shows the document of its newest work item, whichever was
// saved last: the first step's fetch may be late (a failed download, left to the sweep) and
// save after the second's (until session 43 the latest saved was shown).
func TestLatestSignedDocumentIsTheNewestWorkItems(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			inst, first := f.coupled(t, "env-first")
			now := time.Now()
			second := engine.WorkItem{ID: engine.NewIDAt(now.Add(time.Millisecond)), InstanceID: inst.ID, StateKey: "sign",
				EnteredRevision: inst.Revision + 1, System: engine.System{Provider: "DOCUSIGN"}, Status: engine.WorkItemCreating,
				CreatedAt: now, UpdatedAt: now, Revision: 1}
			moved := inst
			moved.UpdatedAt = now
			_, err := f.st.UpdateInstance(ctx, moved, inst.Revision, nil, engine.Effects{NewWorkItems: []engine.WorkItem{second}})
			require.NoError(t, err)
			_, err = f.st.CoupleWorkItem(ctx, second.ID, "env-second", coupleAct("env-second"))
			require.NoError(t, err)

			require.NoError(t, f.st.SaveDocument(ctx, second.ID, "second.pdf", "application/pdf", []byte("%PDF-1.4 second")))
			require.NoError(t, f.st.SaveDocument(ctx, first.ID, "first.pdf", "application/pdf", []byte("%PDF-1.4 first")))
			doc, err := f.st.LatestSignedDocument(ctx, inst.ID)
			require.NoError(t, err)
			require.Equal(t, second.ID, doc.WorkItemID)
			require.Equal(t, "second.pdf", doc.Name)
		})
	}
}
