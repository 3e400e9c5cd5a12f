package store_test

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/store"
)

// TestBatchPlanUsesIndexes: the group commit's statement, planned as its pool plans it (once,
// generically, on empty tables), reads every table through an index: the redelivery check
// probes the unique (provider, dedupe_key) index, and neither webhook_events, work_items nor
// instances is scanned whole. (A plan made while the tables were small, and kept as they
// grew, scanned them whole: ingest fell by a third or more.)
func TestBatchPlanUsesIndexes(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, store.Postgres)
	ctx := context.Background()
	conn, err := db.Batches.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()

	params := 0
	for _, m := range regexp.MustCompile(`\$(\d+)`).FindAllStringSubmatch(store.WriteBatchSQL, -1) {
		n, err := strconv.Atoi(m[1])
		require.NoError(t, err)
		params = max(params, n)
	}
	require.Positive(t, params)
	_, err = conn.ExecContext(ctx, "PREPARE batch AS "+store.WriteBatchSQL)
	require.NoError(t, err)
	nulls := strings.TrimSuffix(strings.Repeat("NULL, ", params), ", ")
	rows, err := conn.QueryContext(ctx, "EXPLAIN EXECUTE batch("+nulls+")")
	require.NoError(t, err)
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var line string
		require.NoError(t, rows.Scan(&line))
		plan = append(plan, line)
	}
	require.NoError(t, rows.Err())
	text := strings.Join(plan, "\n")
	require.Contains(t, text, "Index Only Scan using webhookevent_provider_dedupe_key on webhook_events", text)
	for _, table := range []string{"webhook_events", "work_items", "instances"} {
		require.NotContains(t, text, "Seq Scan on "+table, text)
	}
	require.NotContains(t, text, "Hash Anti Join", text)
}
