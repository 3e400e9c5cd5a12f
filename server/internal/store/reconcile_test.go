package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/dbtest"
)

// claim claims a work item's check and requires the answer.
func claim(t *testing.T, f instanceFixture, id string, at, checkedBefore time.Time, want bool) {
	t.Helper()
	got, err := f.st.ClaimCheck(context.Background(), id, at, checkedBefore)
	require.NoError(t, err)
	require.Equal(t, want, got)
}

// TestWorkItemsToReconcileOldestFirst: the work items due for reconciliation come oldest first
// by their last check or, never checked, their creation — an item checked once before a flow
// of new items is asked again ahead of them (with the never-checked first, more new items
// than a run's limit kept it from ever being asked again) — and one checked within the
// interval is not due, nor claimed again by another run.
func TestWorkItemsToReconcileOldestFirst(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			now := time.Now()
			_, checkedLongAgo := f.coupled(t, "env-old")
			claim(t, f, checkedLongAgo.ID, now.Add(-7*time.Hour), now.Add(-8*time.Hour), true)
			_, checkedNow := f.coupled(t, "env-recent")
			claim(t, f, checkedNow.ID, now, now.Add(-time.Hour), true)
			claim(t, f, checkedNow.ID, now, now.Add(-time.Hour), false) // another run asked it since
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
