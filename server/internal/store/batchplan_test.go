package store_test

import (
	"context"
	"database/sql"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/store"
)

// TestBatchPlanUsesIndexes: the statements of the batches pool, planned as it plans them (once,
// generically, on empty tables), read every table through an index. The group commit's: the
// redelivery check probes the unique (provider, dedupe_key) index, and neither webhook_events,
// work_items nor instances is scanned whole. (A plan made while the tables were small, and
// kept as they grew, scanned them whole: ingest fell by a third or more.) The callbacks' read
// sent with it: the work items by their system's id, the instances by theirs, the earlier
// callbacks by their external id. The documents': the work items are found by their ids.
func TestBatchPlanUsesIndexes(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, store.Postgres)
	ctx := context.Background()
	conn, err := db.Batches.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()

	plan := func(name, query string) string {
		t.Helper()
		params := 0
		for _, m := range regexp.MustCompile(`\$(\d+)`).FindAllStringSubmatch(query, -1) {
			n, err := strconv.Atoi(m[1])
			require.NoError(t, err)
			params = max(params, n)
		}
		require.Positive(t, params)
		_, err = conn.ExecContext(ctx, "PREPARE "+name+" AS "+query)
		require.NoError(t, err)
		nulls := strings.TrimSuffix(strings.Repeat("NULL, ", params), ", ")
		return explain(t, conn, "EXPLAIN EXECUTE "+name+"("+nulls+")")
	}

	require.Len(t, store.WriteBatchSQLs, 4)
	for i, query := range store.WriteBatchSQLs {
		text := plan("batch"+strconv.Itoa(i), query)
		require.Contains(t, text, "Index Only Scan using webhookevent_provider_dedupe_key on webhook_events", text)
		for _, table := range []string{"webhook_events", "work_items", "instances"} {
			require.NotContains(t, text, "Seq Scan on "+table, text)
		}
		require.NotContains(t, text, "Hash Anti Join", text)
		// Each statement has the parts its number says (1: the work items', 2: the
		// activities'), and only those.
		require.Equal(t, i&1 != 0, strings.Contains(text, "Update on work_items"), text)
		require.Equal(t, i&2 != 0, strings.Contains(text, "Insert on activities"), text)
	}

	text := plan("callbacks", store.CallbackReadSQL)
	for _, index := range []string{"workitem_provider_external_id on work_items", "instances_pkey on instances",
		"webhookevent_external_id_provider_received_at on webhook_events"} {
		require.Contains(t, text, index, text)
	}
	for _, table := range []string{"webhook_events", "work_items", "instances"} {
		require.NotContains(t, text, "Seq Scan on "+table, text)
	}

	text = plan("documents", store.SaveDocumentsSQL)
	require.Contains(t, text, "on work_items", text)
	require.NotContains(t, text, "Seq Scan on work_items", text)
}

// explain runs an EXPLAIN on conn and returns its plan's lines as one text.
func explain(t *testing.T, conn *sql.Conn, query string) string {
	t.Helper()
	rows, err := conn.QueryContext(context.Background(), query)
	require.NoError(t, err)
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var line string
		require.NoError(t, rows.Scan(&line))
		lines = append(lines, line)
	}
	require.NoError(t, rows.Err())
	return strings.Join(lines, "\n")
}
