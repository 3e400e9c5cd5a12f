package store

import (
	"context"

	"github.com/flowhook/flowhook/ent"
)

// InTx runs fn in one of the store's transactions (inTx), for tests of the transaction's own
// behaviour.
func InTx(s *Store, ctx context.Context, fn func(*ent.Client) error) error {
	return s.inTx(ctx, func(tx txn) error { return fn(tx.Client) })
}

// MigrateUpTo applies flowhook's migrations up to version only (River's none), for tests of a
// migration on the data an earlier version left.
func MigrateUpTo(ctx context.Context, db *DB, version int64) error {
	p, err := db.migrations()
	if err != nil {
		return err
	}
	_, err = p.UpTo(ctx, version)
	return err
}
