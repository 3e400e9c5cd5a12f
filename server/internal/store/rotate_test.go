package store_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/store"
)

// saveSecrets saves a new group with secrets (and a plain value) through st.
func saveSecrets(ctx context.Context, t *testing.T, st *store.Store, id string, secrets map[string]string) {
	t.Helper()
	_, err := st.PutSettings(ctx, engine.Settings{ID: id, Plain: map[string]any{"name": id}, Secrets: secrets, UpdatedBy: "test"}, 0)
	require.NoError(t, err)
}

// requireSecrets asserts that st reads the group's secrets as want, at revision rev.
func requireSecrets(ctx context.Context, t *testing.T, st *store.Store, id string, want map[string]string, rev int64) {
	t.Helper()
	got, err := st.GetSettings(ctx, id)
	require.NoError(t, err, id)
	require.Equal(t, want, got.Secrets, id)
	require.Equal(t, rev, got.Revision, id)
	require.Equal(t, id, got.Plain["name"], id)
}

// Secrets sealed with key A stay readable once B is the primary key with A kept as an older
// one; rotate-secrets re-seals them all with B, after which A can be dropped; a second run
// re-seals nothing; a box no key of the ring opens is reported and left as it is.
func TestRotateSecrets(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := dbtest.Open(t, d)
			a, _ := testKey(t)
			b, _ := testKey(t)
			c, _ := testKey(t)
			onA := store.New(db).WithSealer(sealerOf(t, a))
			ring := store.New(db).WithSealer(sealerOf(t, b, a))
			onB := store.New(db).WithSealer(sealerOf(t, b))

			want := map[string]map[string]string{
				"provider.docusign": {"private_key": "-----BEGIN RSA PRIVATE KEY-----…", "hmac_keys": "k1,k2"},
				"provider.onespan":  {"api_key": "onespan api key", "callback_key": "onespan callback"},
				"connector.tickets": {"signing_secret": "whsec_connector"},
			}
			for id, secrets := range want {
				saveSecrets(ctx, t, onA, id, secrets)
			}
			// A group saved before key rings (version 1 box, no key id) and one without secrets.
			legacy := map[string]string{"signing_secret": "sealed before key rings"}
			raw, err := json.Marshal(legacy)
			require.NoError(t, err)
			require.NoError(t, db.Client.Setting.Create().SetID("connector.legacy").SetPlain(map[string]any{"name": "connector.legacy"}).
				SetSecretBox(sealV1(t, a, raw, "settings/connector.legacy")).SetUpdatedAt(time.Now().UTC()).Exec(ctx))
			want["connector.legacy"] = legacy
			_, err = onA.PutSettings(ctx, engine.Settings{ID: "security", Plain: map[string]any{"name": "security"}}, 0)
			require.NoError(t, err)

			for id, secrets := range want {
				requireSecrets(ctx, t, ring, id, secrets, 1) // B first, A still opens
				_, err := onB.GetSettings(ctx, id)
				require.ErrorIs(t, err, store.ErrSealedWithAnotherKey, "%s: not yet re-sealed", id)
				// A caller is told what to do, not "internal error".
				require.ErrorIs(t, err, engine.ErrFailedPrecondition, id)
				require.ErrorContains(t, err, "start flowhook with the key they were saved with")
			}

			rep, err := ring.RotateSecrets(ctx)
			require.NoError(t, err)
			require.Equal(t, store.RotateReport{KeyID: sealerOf(t, b).KeyID(), Resealed: 4}, rep)
			for id, secrets := range want {
				requireSecrets(ctx, t, onB, id, secrets, 1) // A dropped: everything still reads; revisions unchanged
				_, err := onA.GetSettings(ctx, id)
				require.ErrorIs(t, err, store.ErrSealedWithAnotherKey, id)
			}
			page, err := onB.GetSettings(ctx, "security")
			require.NoError(t, err)
			require.Empty(t, page.Secrets)

			rep, err = ring.RotateSecrets(ctx)
			require.NoError(t, err)
			require.Equal(t, store.RotateReport{KeyID: sealerOf(t, b).KeyID(), Current: 4}, rep, "idempotent")
			rep, err = onB.RotateSecrets(ctx)
			require.NoError(t, err)
			require.Equal(t, 0, rep.Resealed)
			require.Equal(t, 4, rep.Current)

			// A group sealed with a key the ring does not hold is reported, with its key id, and
			// left as it is; the others are still counted.
			onC := store.New(db).WithSealer(sealerOf(t, c))
			saveSecrets(ctx, t, onC, "connector.stray", map[string]string{"signing_secret": "sealed with C"})
			rep, err = onB.RotateSecrets(ctx)
			require.NoError(t, err)
			require.Equal(t, 0, rep.Resealed)
			require.Equal(t, 4, rep.Current)
			require.Len(t, rep.Unopenable, 1)
			require.Contains(t, rep.Unopenable[0], "connector.stray: ")
			require.Contains(t, rep.Unopenable[0], "key id "+sealerOf(t, c).KeyID())
			requireSecrets(ctx, t, onC, "connector.stray", map[string]string{"signing_secret": "sealed with C"}, 1)

			_, err = store.New(db).RotateSecrets(ctx)
			require.ErrorContains(t, err, "no secret key is configured")
			_, err = store.New(db).GetSettings(ctx, "connector.stray")
			require.ErrorIs(t, err, engine.ErrFailedPrecondition)
			require.ErrorContains(t, err, "no secret key is configured")
		})
	}
}

// A group saved while rotate-secrets runs (by a replica still sealing with the old key, between
// the rotation's read and its write) is not overwritten: the rotation reads it again and
// re-seals what was saved. So is a group deleted and created again at the same revision.
func TestRotateSecretsConcurrentSave(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := dbtest.Open(t, d)
			a, _ := testKey(t)
			b, _ := testKey(t)
			onA := store.New(db).WithSealer(sealerOf(t, a))
			ring := store.New(db).WithSealer(sealerOf(t, b, a))
			onB := store.New(db).WithSealer(sealerOf(t, b))
			saveSecrets(ctx, t, onA, "provider.docusign", map[string]string{"hmac_keys": "before"})
			saveSecrets(ctx, t, onA, "provider.onespan", map[string]string{"api_key": "before"})
			saveSecrets(ctx, t, onA, "connector.gone", map[string]string{"signing_secret": "before"})

			writes := map[string]int{}
			rep, err := store.RotateSecretsWithHook(ctx, ring, func(id string) {
				writes[id]++
				if writes[id] > 1 {
					return
				}
				switch id {
				case "provider.docusign": // saved meanwhile, at the revision read
					_, err := onA.PutSettings(ctx, engine.Settings{ID: id, Plain: map[string]any{"name": id},
						Secrets: map[string]string{"hmac_keys": "saved during the rotation"}}, 1)
					require.NoError(t, err)
				case "provider.onespan": // deleted and created again: revision 1 again, another box
					require.NoError(t, onA.DeleteSettings(ctx, id))
					saveSecrets(ctx, t, onA, id, map[string]string{"api_key": "created again"})
				case "connector.gone": // deleted meanwhile
					require.NoError(t, onA.DeleteSettings(ctx, id))
				}
			})
			require.NoError(t, err)
			require.Equal(t, map[string]int{"provider.docusign": 2, "provider.onespan": 2, "connector.gone": 1}, writes,
				"a group changed meanwhile is read and written again")
			require.Equal(t, 2, rep.Resealed)
			require.Equal(t, 0, rep.Current)
			require.Empty(t, rep.Unopenable)
			requireSecrets(ctx, t, onB, "provider.docusign", map[string]string{"hmac_keys": "saved during the rotation"}, 2)
			requireSecrets(ctx, t, onB, "provider.onespan", map[string]string{"api_key": "created again"}, 1)
			gone, err := onB.GetSettings(ctx, "connector.gone")
			require.NoError(t, err)
			require.Zero(t, gone.Revision, "not created again by the rotation")
		})
	}
}
