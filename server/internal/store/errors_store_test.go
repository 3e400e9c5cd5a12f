package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/store"
)

// TestDeadlockIsTemporary: PostgreSQL breaks a deadlock by rolling one transaction back whole
// (SQLSTATE 40P01) and asks for it to be tried again; the store says "unavailable" (a job
// retries, a webhook is answered 503 and redelivered), not an internal error.
func TestDeadlockIsTemporary(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	url := dbtest.NewEmptyPostgres(t)
	a, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer a.Close(context.Background())
	b, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer b.Close(context.Background())
	_, err = a.Exec(ctx, "CREATE TABLE deadlock_rows (id int PRIMARY KEY); INSERT INTO deadlock_rows VALUES (1), (2)")
	require.NoError(t, err)

	txA, err := a.Begin(ctx)
	require.NoError(t, err)
	defer txA.Rollback(context.Background()) //nolint:errcheck
	txB, err := b.Begin(ctx)
	require.NoError(t, err)
	defer txB.Rollback(context.Background()) //nolint:errcheck
	_, err = txA.Exec(ctx, "SELECT * FROM deadlock_rows WHERE id = 1 FOR UPDATE")
	require.NoError(t, err)
	_, err = txB.Exec(ctx, "SELECT * FROM deadlock_rows WHERE id = 2 FOR UPDATE")
	require.NoError(t, err)
	aDone := make(chan error, 1)
	go func() {
		_, err := txA.Exec(ctx, "SELECT * FROM deadlock_rows WHERE id = 2 FOR UPDATE")
		aDone <- err
	}()
	var pidA uint32 = a.PgConn().PID()
	require.Eventually(t, func() bool { // A waits for B's row
		var waiting bool
		err := b.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = $1 AND NOT granted)", pidA).Scan(&waiting)
		return err == nil && waiting
	}, 30*time.Second, 5*time.Millisecond)
	_, errB := txB.Exec(ctx, "SELECT * FROM deadlock_rows WHERE id = 1 FOR UPDATE")
	if errB == nil { // PostgreSQL chose A
		errB = <-aDone
	} else {
		require.NoError(t, txB.Rollback(ctx)) // lets A go on
		require.NoError(t, <-aDone)
	}
	require.ErrorContains(t, errB, "40P01")
	require.ErrorIs(t, store.Translate(errB), engine.ErrUnavailable)
}
