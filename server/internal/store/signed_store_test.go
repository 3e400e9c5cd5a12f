package store_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/store"
)

// riverRows inserts each job as River does: a river_job row, in the transaction that needs it.
// LatestSignedDocument reads River's table for a fetch_document job still to run.
type riverRows struct{ dialect store.Dialect }

func (r riverRows) InsertTx(ctx context.Context, tx *sql.Tx, jobs ...engine.Job) error {
	q := `INSERT INTO river_job (kind, state, args, max_attempts) VALUES ($1, 'available', $2::jsonb, 25)`
	if r.dialect == store.SQLite {
		q = `INSERT INTO river_job (kind, state, args, max_attempts) VALUES (?, 'available', jsonb(?), 25)`
	}
	for _, j := range jobs {
		args, err := json.Marshal(j)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, q, j.Kind(), string(args)); err != nil {
			return err
		}
	}
	return nil
}

// TestSignedDocumentWaitsForTheNewestStep: an instance with two signature steps. While the
// second step's document is due — marked for the in-process fetch, or handed to a River job
// that backs off after the provider failed — the instance has no signed document yet
// (NotFound), not the first step's, which was superseded; once the second's is kept it is the
// one. A later step that keeps no document (its provider keeps none, the job gave up) leaves
// the newest kept one the instance's signed document.
func TestSignedDocumentWaitsForTheNewestStep(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			db := dbtest.Open(t, d)
			f := newInstanceFixtureOn(t, store.New(db))
			ctx := context.Background()
			inst, step1 := f.coupled(t, "env-step-1")
			// due marks wi's document due, with the change that finished it (as the engine's
			// fetch_document effect does).
			due := func(wi engine.WorkItem) {
				t.Helper()
				cur, err := f.st.GetInstance(ctx, inst.ID)
				require.NoError(t, err)
				cur.UpdatedAt = time.Now()
				_, err = f.st.UpdateInstance(ctx, cur, cur.Revision, nil,
					engine.Effects{Jobs: []engine.Job{engine.FetchDocumentJob{WorkItemID: wi.ID}}})
				require.NoError(t, err)
			}
			// next starts another signature step after the instance's last one, coupled.
			next := func(ext string) engine.WorkItem {
				t.Helper()
				cur, err := f.st.GetInstance(ctx, inst.ID)
				require.NoError(t, err)
				now := time.Now()
				wi := engine.WorkItem{ID: engine.NewIDAt(now), InstanceID: inst.ID, StateKey: "sign",
					EnteredRevision: cur.Revision + 1, System: coupleDocuSign, Status: engine.WorkItemCreating,
					CreatedAt: now, UpdatedAt: now, Revision: 1}
				cur.UpdatedAt = now
				_, err = f.st.UpdateInstance(ctx, cur, cur.Revision, nil, engine.Effects{NewWorkItems: []engine.WorkItem{wi}})
				require.NoError(t, err)
				_, err = f.st.CoupleWorkItem(ctx, wi.ID, ext, coupleAct(ext))
				require.NoError(t, err)
				return wi
			}
			requireDocument := func(wi engine.WorkItem, content string) {
				t.Helper()
				doc, err := f.st.LatestSignedDocument(ctx, inst.ID)
				require.NoError(t, err)
				require.Equal(t, wi.ID, doc.WorkItemID)
				require.Equal(t, content, string(doc.Content))
			}
			requireNone := func(msg string) {
				t.Helper()
				_, err := f.st.LatestSignedDocument(ctx, inst.ID)
				require.ErrorIs(t, err, engine.ErrNotFound, msg)
			}

			// Step 1 finishes: due, then kept.
			due(step1)
			requireNone("step 1's document is still due")
			require.NoError(t, f.st.SaveDocument(ctx, step1.ID, "signed.pdf", "application/pdf", []byte("%PDF-1.4 step 1")))
			requireDocument(step1, "%PDF-1.4 step 1")

			// A human review, then step 2: while it waits for its signers, step 1's is the one.
			step2 := next("env-step-2")
			requireDocument(step1, "%PDF-1.4 step 1")

			// Step 2 finishes: its document is due, and step 1's is not shown in its place.
			due(step2)
			requireNone("step 2's document is due: step 1's is not the signed document")

			// The download failed and the mark stays past the grace: the sweep hands it to a
			// River job, which backs off (retryable). Still due.
			riverStore := f.st.WithJobs(riverRows{dialect: d})
			n, err := riverStore.HandOverDueDocuments(ctx, time.Now().Add(time.Minute), 10)
			require.NoError(t, err)
			require.Equal(t, 1, n)
			n64, err := f.st.DocumentsDue(ctx)
			require.NoError(t, err)
			require.Zero(t, n64, "the mark went with the hand-over")
			_, err = db.SQL.ExecContext(ctx, `UPDATE river_job SET state = 'retryable', attempt = 1 WHERE kind = 'fetch_document'`)
			require.NoError(t, err)
			requireNone("step 2's document is due to a River job backing off")

			// The job keeps it, then completes.
			require.NoError(t, f.st.SaveDocument(ctx, step2.ID, "signed.pdf", "application/pdf", []byte("%PDF-1.4 step 2")))
			requireDocument(step2, "%PDF-1.4 step 2")
			_, err = db.SQL.ExecContext(ctx, `UPDATE river_job SET state = 'completed', finalized_at = CURRENT_TIMESTAMP WHERE kind = 'fetch_document'`)
			require.NoError(t, err)
			requireDocument(step2, "%PDF-1.4 step 2")

			// Step 3 finishes with none to keep (the provider keeps none: the mark is cleared):
			// step 2's stays the instance's signed document.
			step3 := next("env-step-3")
			due(step3)
			requireNone("step 3's document is due")
			require.NoError(t, f.st.ClearDocumentDue(ctx, step3.ID))
			requireDocument(step2, "%PDF-1.4 step 2")

			// Step 4's job gives up (discarded): nothing more is due, step 2's stays.
			step4 := next("env-step-4")
			due(step4)
			_, err = riverStore.HandOverDueDocuments(ctx, time.Now().Add(time.Minute), 10)
			require.NoError(t, err)
			requireNone("step 4's document is due to a River job")
			_, err = db.SQL.ExecContext(ctx, `UPDATE river_job SET state = 'discarded', finalized_at = CURRENT_TIMESTAMP WHERE kind = 'fetch_document' AND state = 'available'`)
			require.NoError(t, err)
			requireDocument(step2, "%PDF-1.4 step 2")

			// Another instance's due document is not this one's.
			_, other := f.coupled(t, "env-other")
			cur, err := f.st.GetInstance(ctx, other.InstanceID)
			require.NoError(t, err)
			cur.UpdatedAt = time.Now()
			_, err = f.st.UpdateInstance(ctx, cur, cur.Revision, nil,
				engine.Effects{Jobs: []engine.Job{engine.FetchDocumentJob{WorkItemID: other.ID}}})
			require.NoError(t, err)
			requireDocument(step2, "%PDF-1.4 step 2")
		})
	}
}
