package auth_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/auth"
	"github.com/flowhook/flowhook/server/internal/engine"
)

// keyStore is an in-memory identity store holding one key; the methods auth does not use are
// left to the embedded nil interface.
type keyStore struct {
	engine.IdentityStore
	key     engine.APIKey
	user    engine.User
	touched int
}

func (s *keyStore) Caller(_ context.Context, hash string) (engine.APIKey, engine.User, []string, error) {
	if hash != s.key.Hash {
		return engine.APIKey{}, engine.User{}, nil, engine.ErrNotFound
	}
	return s.key, s.user, []string{"g1"}, nil
}

func (s *keyStore) TouchAPIKey(context.Context, string, time.Time, time.Duration) error {
	s.touched++
	return nil
}

type fixedClock struct{}

func (fixedClock) Now() time.Time { return time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC) }

func newAuth(secret string) (*auth.Authenticator, *keyStore) {
	st := &keyStore{
		key:  engine.APIKey{ID: "k1", UserID: "u1", Hash: auth.Hash(secret)},
		user: engine.User{ID: "u1", Roles: []engine.Role{engine.RoleUser}},
	}
	return auth.NewAuthenticator(st, fixedClock{}, slog.New(slog.DiscardHandler)), st
}

func TestSecrets(t *testing.T) {
	t.Parallel()
	a, b := auth.NewSecret(), auth.NewSecret()
	require.NotEqual(t, a, b)
	require.True(t, strings.HasPrefix(a, "fh_"))
	require.Len(t, a, 3+43)
	require.Len(t, auth.Hash(a), 64)
	require.NotContains(t, auth.Hash(a), a)
	require.Equal(t, a[:auth.KeyPrefixLen], auth.Prefix(a))
	// A key of one's own choosing shows a quarter of itself at most.
	require.Equal(t, "Kq9mZ", auth.Prefix("Kq9mZ2xV7pL4sT8wR1yB"))
	require.Equal(t, "s", auth.Prefix("short"))
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	secret := auth.NewSecret()
	a, st := newAuth(secret)
	ctx := context.Background()

	p, err := a.Authenticate(ctx, "Bearer "+secret)
	require.NoError(t, err)
	require.Equal(t, engine.Principal{UserID: "u1", Roles: []engine.Role{engine.RoleUser}, GroupIDs: []string{"g1"}, APIKeyID: "k1"}, p)
	require.Equal(t, 1, st.touched)
	_, err = a.Authenticate(ctx, "bearer   "+secret+"  ")
	require.NoError(t, err, "the scheme is case-insensitive and spaces around the key are ignored")
	// A use recorded within the interval needs no write.
	recent := fixedClock{}.Now().Add(-10 * time.Second)
	st.key.LastUsedAt = &recent
	_, err = a.Authenticate(ctx, "Bearer "+secret)
	require.NoError(t, err)
	require.Equal(t, 2, st.touched, "no write for a key used ten seconds ago")
	stale := fixedClock{}.Now().Add(-2 * time.Minute)
	st.key.LastUsedAt = &stale
	_, err = a.Authenticate(ctx, "Bearer "+secret)
	require.NoError(t, err)
	require.Equal(t, 3, st.touched, "a use after the interval is recorded")
	st.key.LastUsedAt = nil

	for _, h := range []string{"", "Bearer", "Bearer ", "Basic " + secret, secret, "Bearer " + secret + "x",
		"Bearer " + secret[:len(secret)-1], "Bearer " + strings.Repeat("a", auth.MaxKeyLen+1)} {
		_, err := a.Authenticate(ctx, h)
		var cerr *connect.Error
		require.True(t, errors.As(err, &cerr), "header %q", h)
		require.Equal(t, connect.CodeUnauthenticated, cerr.Code(), "header %q", h)
		require.NotContains(t, cerr.Message(), secret)
	}

	st.key.RevokedAt = new(time.Time)
	_, err = a.Authenticate(ctx, "Bearer "+secret)
	require.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err), "a revoked key")
}

// TestAuthenticateDeactivatedUser: a deactivated user's key is refused on the call after the
// deactivation (the user is read with the key every time, nothing is cached), saying why, and
// works again once the user is reactivated.
func TestAuthenticateDeactivatedUser(t *testing.T) {
	t.Parallel()
	secret := auth.NewSecret()
	a, st := newAuth(secret)
	ctx := context.Background()
	_, err := a.Authenticate(ctx, "Bearer "+secret)
	require.NoError(t, err)

	at := fixedClock{}.Now()
	st.user.DeactivatedAt = &at
	_, err = a.Authenticate(ctx, "Bearer "+secret)
	var cerr *connect.Error
	require.True(t, errors.As(err, &cerr), "%v", err)
	require.Equal(t, connect.CodeUnauthenticated, cerr.Code())
	require.Equal(t, "the API key's user is deactivated", cerr.Message())

	st.user.DeactivatedAt = nil
	p, err := a.Authenticate(ctx, "Bearer "+secret)
	require.NoError(t, err)
	require.Equal(t, "u1", p.UserID)

	// A revoked key of a deactivated user stays refused as revoked.
	st.user.DeactivatedAt = &at
	st.key.RevokedAt = &at
	_, err = a.Authenticate(ctx, "Bearer "+secret)
	require.True(t, errors.As(err, &cerr))
	require.Equal(t, "invalid or revoked API key", cerr.Message())
}

// FuzzAuthenticate: no header makes Authenticate panic, and only the one key authenticates.
func FuzzAuthenticate(f *testing.F) {
	secret := "fh_fuzz_secret_0123456789abcdef"
	a, _ := newAuth(secret)
	f.Add("Bearer " + secret)
	f.Add("Bearer")
	f.Add("bEaReR \t" + secret)
	f.Add("Basic Zm9vOmJhcg==")
	f.Fuzz(func(t *testing.T, header string) {
		p, err := a.Authenticate(context.Background(), header)
		if err == nil {
			require.Equal(t, "u1", p.UserID)
			require.Contains(t, header, secret)
			return
		}
		require.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err))
	})
}

func TestProceduresCoverRoles(t *testing.T) {
	t.Parallel()
	for proc, roles := range auth.Procedures {
		require.NotEmpty(t, roles, proc)
		require.True(t, strings.HasPrefix(proc, "/flowhook.v1."), proc)
		for _, r := range roles {
			require.True(t, r.Valid(), proc)
		}
	}
}
