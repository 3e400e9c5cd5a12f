package store_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/store"
)

// Without a secret key, the page-token key is made once and kept: replicas racing to make it
// on a fresh database all end up with the same one. With a secret key it is derived from it,
// and differs from the key that seals secrets' own bytes.
func TestPageKey(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := dbtest.Open(t, d)
			const replicas = 8
			keys := make([][]byte, replicas)
			errs := make([]error, replicas)
			var wg sync.WaitGroup
			for i := range replicas {
				wg.Go(func() { keys[i], errs[i] = store.New(db).PageKey(ctx) })
			}
			wg.Wait()
			for i := range replicas {
				require.NoError(t, errs[i])
				require.Len(t, keys[i], 32)
				require.Equal(t, keys[0], keys[i], "replica %d", i)
			}
			again, err := store.New(db).PageKey(ctx)
			require.NoError(t, err)
			require.Equal(t, keys[0], again, "kept")

			sealed := newStore(t, d)
			derived, err := sealed.PageKey(ctx)
			require.NoError(t, err)
			require.Len(t, derived, 32)
			require.NotEqual(t, keys[0], derived)
			secret, err := store.ParseSecretKey("c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0zMmJ5dGU=")
			require.NoError(t, err)
			require.NotEqual(t, secret, derived, "derived, not the secret key itself")
			other := newStore(t, d)
			fromOther, err := other.PageKey(ctx)
			require.NoError(t, err)
			require.Equal(t, derived, fromOther, "the same secret key gives the same key on every replica")
		})
	}
}
