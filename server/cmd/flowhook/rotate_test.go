package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/store"
)

// newKey returns a random key as FLOWHOOK_SECRET_KEY takes it, and its sealer.
func newKey(t *testing.T) (string, *store.Sealer) {
	t.Helper()
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	s, err := store.NewSealer(k)
	require.NoError(t, err)
	return base64.StdEncoding.EncodeToString(k), s
}

// rotateRun runs flowhook rotate-secrets and returns its exit code, stdout and stderr.
func rotateRun(t *testing.T, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), append([]string{"rotate-secrets", "-log-format", "text"}, args...), env(vars), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// flowhook rotate-secrets, on PostgreSQL (FLOWHOOK_SECRET_KEY) and on the embedded database
// (the key file in the data dir): secrets sealed with A are re-sealed with B, a second run
// re-seals none, and a ring that opens nothing stored fails with one clear line.
func TestRotateSecretsCommand(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			keyA, sealA := newKey(t)
			keyB, sealB := newKey(t)
			opts := dbtest.Options(t, d)
			db, err := store.Open(ctx, opts)
			require.NoError(t, err)
			require.NoError(t, db.Migrate(ctx, slog.New(slog.DiscardHandler)))
			want := map[string]map[string]string{
				"provider.docusign": {"private_key": "rsa private key", "hmac_keys": "h1"},
				"connector.tickets": {"signing_secret": "whsec"},
			}
			for id, secrets := range want {
				_, err := store.New(db).WithSealer(sealA).PutSettings(ctx, engine.Settings{ID: id, Secrets: secrets}, 0)
				require.NoError(t, err)
			}
			require.NoError(t, db.Close())

			// How the ring is given: FLOWHOOK_SECRET_KEY with PostgreSQL, the key file (one key a
			// line, the first sealing) in embedded mode.
			ring := func(keys ...string) (map[string]string, []string) {
				if d == store.Postgres {
					s := keys[0]
					for _, k := range keys[1:] {
						s += "," + k
					}
					return map[string]string{"FLOWHOOK_SECRET_KEY": s}, []string{"-database-url", opts.DatabaseURL}
				}
				var file bytes.Buffer
				for _, k := range keys {
					file.WriteString(k + "\n")
				}
				require.NoError(t, os.WriteFile(filepath.Join(opts.DataDir, store.SecretKeyFile), file.Bytes(), 0o600))
				return nil, []string{"-data-dir", opts.DataDir}
			}

			vars, args := ring(keyB, keyA)
			code, stdout, stderr := rotateRun(t, vars, args...)
			require.Equal(t, 0, code, stderr)
			require.Contains(t, stdout, "re-sealed 2 settings groups with key "+sealB.KeyID()+"; 0 already were\n")
			require.Contains(t, stdout, "the 1 older keys can now be dropped")
			require.Contains(t, stderr, "secrets re-sealed")
			for _, out := range []string{stdout, stderr} {
				require.NotContains(t, out, keyA)
				require.NotContains(t, out, keyB)
			}

			vars, args = ring(keyB)
			code, stdout, stderr = rotateRun(t, vars, args...)
			require.Equal(t, 0, code, stderr)
			require.Equal(t, "re-sealed 0 settings groups with key "+sealB.KeyID()+"; 2 already were\n", stdout, "idempotent")

			vars, args = ring(keyA) // A dropped too early, or the wrong key
			code, stdout, stderr = rotateRun(t, vars, args...)
			require.Equal(t, 1, code)
			require.Contains(t, stdout, "re-sealed 0 settings groups")
			require.Contains(t, stderr, "flowhook: 2 settings groups open with no key of the ring")
			require.Contains(t, stderr, "connector.tickets: ")
			require.Contains(t, stderr, "key id "+sealB.KeyID())

			db, err = store.Open(ctx, opts)
			require.NoError(t, err)
			defer db.Close()
			for id, secrets := range want {
				got, err := store.New(db).WithSealer(sealB).GetSettings(ctx, id)
				require.NoError(t, err, "B alone opens %s", id)
				require.Equal(t, secrets, got.Secrets)
			}
		})
	}
}

// rotate-secrets without a usable key fails before touching the database, in one line that
// never echoes a key.
func TestRotateSecretsCommandErrors(t *testing.T) {
	t.Parallel()
	keyA, _ := newKey(t)
	noDB := filepath.Join(t.TempDir(), "none")
	withKeyOnly := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(withKeyOnly, store.SecretKeyFile), []byte(keyA+"\n"), 0o600))
	cases := []struct {
		name   string
		vars   map[string]string
		args   []string
		stderr string
	}{
		{"no key with PostgreSQL", nil, []string{"-database-url", "postgres://nobody@127.0.0.1:1/none"},
			"flowhook: FLOWHOOK_SECRET_KEY is not set: rotate-secrets needs the key ring, the new key first\n"},
		{"no key file in embedded mode", nil, []string{"-data-dir", noDB},
			"flowhook: no secret key: FLOWHOOK_SECRET_KEY is not set and " + filepath.Join(noDB, store.SecretKeyFile) + " does not exist\n"},
		{"bad key", map[string]string{"FLOWHOOK_SECRET_KEY": keyA + ",not a key!"}, []string{"-data-dir", noDB},
			"flowhook: FLOWHOOK_SECRET_KEY: key 2 of 2: not base64 (generate one with `openssl rand -base64 32`)\n"},
		{"no embedded database", map[string]string{"FLOWHOOK_SECRET_KEY": keyA}, []string{"-data-dir", noDB},
			"flowhook: no embedded database in " + noDB + " (set -data-dir, or FLOWHOOK_DATABASE_URL for PostgreSQL)\n"},
		{"key file, no embedded database", nil, []string{"-data-dir", withKeyOnly},
			"flowhook: no embedded database in " + withKeyOnly},
		{"stray argument", map[string]string{"FLOWHOOK_SECRET_KEY": keyA}, []string{"now"}, "unexpected arguments: now"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := rotateRun(t, tc.vars, tc.args...)
			require.Equal(t, 1, code)
			require.Empty(t, stdout)
			require.Contains(t, stderr, tc.stderr)
			require.NotContains(t, stderr, keyA)
		})
	}
	require.NoDirExists(t, noDB, "nothing was created")
	entries, err := os.ReadDir(withKeyOnly)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no database was created")
}
