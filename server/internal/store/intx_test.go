package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/ent"
	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/store"
)

// TestInTxPanicRollsBack: a panic inside a transaction, after it wrote, rolls it back before it
// goes on up. The write is gone, and a following write of the same row succeeds at once: the
// transaction holds neither its connection (SQLite has only one) nor its row lock (PostgreSQL).
// An error rolls back the same way.
func TestInTxPanicRollsBack(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := newStore(t, d)
			wf, err := st.CreateWorkflow(ctx, engine.Draft{Name: "Before"})
			require.NoError(t, err)
			wid, err := uuid.Parse(wf.ID)
			require.NoError(t, err)
			rename := func(c *ent.Client) error {
				return c.Workflow.UpdateOneID(wid).SetName("Inside").AddRevision(1).Exec(ctx)
			}

			var recovered any
			func() {
				defer func() { recovered = recover() }()
				_ = store.InTx(st, ctx, func(c *ent.Client) error {
					if err := rename(c); err != nil {
						return err
					}
					panic("boom in the transaction")
				})
			}()
			require.Equal(t, "boom in the transaction", recovered, "the panic goes on up after the rollback")

			// "At once": a leaked transaction would make this wait for its lock or connection
			// until the deadline.
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			start := time.Now()
			got, err := st.GetWorkflow(wctx, wf.ID)
			require.NoError(t, err)
			require.Equal(t, wf.Revision, got.Revision, "the panicked write was rolled back")
			updated, err := st.UpdateWorkflow(wctx, wf.ID, engine.Draft{Name: "After"}, wf.Revision)
			require.NoError(t, err, "a write after the panic")
			require.Equal(t, wf.Revision+1, updated.Revision)
			t.Logf("%s: read and write after the panic took %s", d, time.Since(start))

			failed := errors.New("fn failed")
			err = store.InTx(st, wctx, func(c *ent.Client) error {
				if err := rename(c); err != nil {
					return err
				}
				return failed
			})
			require.ErrorIs(t, err, failed)
			got, err = st.GetWorkflow(wctx, wf.ID)
			require.NoError(t, err)
			require.Equal(t, updated.Revision, got.Revision, "the failed write was rolled back")
			require.NoError(t, store.InTx(st, wctx, rename), "a transaction after the failed one commits")
			got, err = st.GetWorkflow(wctx, wf.ID)
			require.NoError(t, err)
			require.Equal(t, updated.Revision+1, got.Revision)
		})
	}
}
