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
