package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/store"
)

// TestListAssignedPlan: each walk of "assigned to me" reads its assignee's own index, in the
// generic plan and in the custom one, on data that lures the planner elsewhere: 20,000 old
// instances closed and unassigned, then 3,000 ACTIVE ones assigned to the user and 3,000 to
// a group, all newer, analyzed. The planner takes each assignee's instances for spread over
// the table, and plentiful; walking "= $1 ORDER BY id", it walked the primary key from the
// oldest instance and dropped the 20,000 on the way (session 28).
func TestListAssignedPlan(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, store.Postgres)
	ctx := context.Background()
	conn, err := db.SQL.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(ctx, `INSERT INTO instances (id, created_at, updated_at, workflow_id, version, workflow_name,
    state_key, status, form_data, started_by, assignee_user_id, assignee_group_id)
  SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, now(), now(), '00000000-0000-7000-8000-000000000000',
    1, 'Contract', CASE WHEN g > 20000 THEN 'review' ELSE 'end' END, CASE WHEN g > 20000 THEN 'ACTIVE' ELSE 'COMPLETED' END,
    '{}', '00000000-0000-7000-8000-000000000001',
    CASE WHEN g > 20000 AND g <= 23000 THEN 'user-1' END, CASE WHEN g > 23000 THEN 'group-1' END
  FROM generate_series(1, 26000) AS g`)
	require.NoError(t, err)
	_, err = conn.ExecContext(ctx, `ANALYZE instances`)
	require.NoError(t, err)
	_, err = conn.ExecContext(ctx, `PREPARE assigned(text, text[], uuid, int) AS `+store.ListAssignedSQL)
	require.NoError(t, err)

	for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
		_, err := conn.ExecContext(ctx, `SET plan_cache_mode = `+mode)
		require.NoError(t, err)
		text := explain(t, conn, `EXPLAIN EXECUTE assigned('user-1', '{group-1}', '00000000-0000-0000-0000-000000000000', 51)`)
		require.Contains(t, text, "using instance_assignee_user_id_id on instances", mode+"\n"+text)
		require.Contains(t, text, "using instance_assignee_group_id_id on instances", mode+"\n"+text)
		require.NotContains(t, text, "instances_pkey", mode+"\n"+text)
		require.NotContains(t, text, "Seq Scan on instances", mode+"\n"+text)
	}

	// And the page is the user's and the group's first 51 by id.
	rows, err := conn.QueryContext(ctx, `EXECUTE assigned('user-1', '{group-1}', '00000000-0000-0000-0000-000000000000', 51)`)
	require.NoError(t, err)
	defer rows.Close()
	cols, err := rows.Columns()
	require.NoError(t, err)
	var ids []string
	for rows.Next() {
		dest := make([]any, len(cols))
		var id string
		dest[0] = &id
		for i := 1; i < len(dest); i++ {
			dest[i] = new(any)
		}
		require.NoError(t, rows.Scan(dest...))
		ids = append(ids, id)
	}
	require.NoError(t, rows.Err())
	require.Len(t, ids, 51)
	require.Equal(t, "00000000-0000-7000-8000-000000004e21", ids[0], "the user's oldest: instance 20,001")
	require.Equal(t, "00000000-0000-7000-8000-000000004e53", ids[50], "then in id order: instance 20,051")
}
