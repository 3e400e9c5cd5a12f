package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/dbtest"
)

// TestWorkItemsToReconcileOldestFirst: the work items due for reconciliation come oldest first
// by their last check or, never checked, their creation — an item checked once before a flow
// of new items is asked again ahead of them (with the never-checked first, more new items
// than a run's limit kept it from ever being asked again) — and one checked within the
// interval is not due.
func TestWorkItemsToReconcileOldestFirst(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			now := time.Now()
			_, checkedLongAgo := f.coupled(t, "env-old")
			require.NoError(t, f.st.MarkChecked(ctx, checkedLongAgo.ID, now.Add(-7*time.Hour)))
			_, checkedNow := f.coupled(t, "env-recent")
			require.NoError(t, f.st.MarkChecked(ctx, checkedNow.ID, now))
			_, fresh1 := f.coupled(t, "env-new-1")
			_, fresh2 := f.coupled(t, "env-new-2")

			due, err := f.st.WorkItemsToReconcile(ctx, coupleDocuSign, now.Add(-time.Hour), 1)
			require.NoError(t, err)
			require.Len(t, due, 1)
			require.Equal(t, checkedLongAgo.ID, due[0].ID, "the item checked hours ago comes before the new ones")

			due, err = f.st.WorkItemsToReconcile(ctx, coupleDocuSign, now.Add(-time.Hour), 10)
			require.NoError(t, err)
			var ids []string
			for _, wi := range due {
				ids = append(ids, wi.ID)
			}
			require.Equal(t, []string{checkedLongAgo.ID, fresh1.ID, fresh2.ID}, ids, "oldest first; the one checked now is not due")
		})
	}
}
