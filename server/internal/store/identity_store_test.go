package store_test

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/engine"
)

// TestCaller: the one read the authenticator makes gives the key, its user and the user's
// groups (sorted, none for a user in no group) as the separate reads give them; it sees a
// revocation, a deactivation and a change of membership at once; an unknown hash is
// ErrNotFound.
func TestCaller(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			st := newStore(t, d)
			ctx := context.Background()
			dora := createUser(t, st, "dora", engine.RoleUser, engine.RoleDesigner)
			eve := createUser(t, st, "eve", engine.RoleUser)
			var groups []string
			for _, name := range []string{"legal", "sales", "ops"} {
				g, err := st.CreateGroup(ctx, engine.Group{Name: name})
				require.NoError(t, err)
				_, err = st.SetGroupMember(ctx, g.ID, dora.ID, true)
				require.NoError(t, err)
				groups = append(groups, g.ID)
			}
			slices.Sort(groups)
			key, err := st.CreateAPIKey(ctx, engine.APIKey{UserID: dora.ID, Name: "k", Prefix: "fh_dora", Hash: "hash-dora"})
			require.NoError(t, err)
			_, err = st.CreateAPIKey(ctx, engine.APIKey{UserID: eve.ID, Name: "k", Prefix: "fh_eve", Hash: "hash-eve"})
			require.NoError(t, err)

			key, err = st.GetAPIKey(ctx, key.ID) // as reads give it
			require.NoError(t, err)
			k, u, got, err := st.Caller(ctx, "hash-dora")
			require.NoError(t, err)
			require.Equal(t, key, k)
			wantUser, err := st.GetUser(ctx, dora.ID)
			require.NoError(t, err)
			require.Equal(t, wantUser, u)
			require.Equal(t, groups, got)
			byHash, owner, err := st.APIKeyByHash(ctx, "hash-dora")
			require.NoError(t, err)
			require.Equal(t, key, byHash)
			require.Equal(t, wantUser, owner)

			_, u, got, err = st.Caller(ctx, "hash-eve")
			require.NoError(t, err)
			require.Equal(t, eve.ID, u.ID)
			require.Empty(t, got, "eve is in no group")

			_, err = st.SetGroupMember(ctx, groups[1], dora.ID, false)
			require.NoError(t, err)
			_, err = st.SetDeactivated(ctx, dora.ID, true)
			require.NoError(t, err)
			revoked, err := st.RevokeAPIKey(ctx, key.ID, key.CreatedAt)
			require.NoError(t, err)
			k, u, got, err = st.Caller(ctx, "hash-dora")
			require.NoError(t, err)
			require.Equal(t, revoked, k)
			require.NotNil(t, k.RevokedAt)
			require.NotNil(t, u.DeactivatedAt)
			require.Equal(t, []string{groups[0], groups[2]}, got)

			_, _, _, err = st.Caller(ctx, "hash-nobody")
			require.ErrorIs(t, err, engine.ErrNotFound)
		})
	}
}
