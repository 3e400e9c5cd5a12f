package store_test

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/store"
)

// testKey returns a fresh random 32-byte key and its base64.
func testKey(t *testing.T) ([]byte, string) {
	t.Helper()
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k, base64.StdEncoding.EncodeToString(k)
}

func sealerOf(t *testing.T, keys ...[]byte) *store.Sealer {
	t.Helper()
	s, err := store.NewSealer(keys[0], keys[1:]...)
	require.NoError(t, err)
	return s
}

// sealV1 seals as flowhook did before key rings: version 1, nonce, ciphertext; no key id.
func sealV1(t *testing.T, key, plaintext []byte, aad string) []byte {
	t.Helper()
	block, err := aes.NewCipher(key)
	require.NoError(t, err)
	aead, err := cipher.NewGCM(block)
	require.NoError(t, err)
	out := make([]byte, 1+aead.NonceSize())
	out[0] = 1
	_, _ = rand.Read(out[1:])
	return aead.Seal(out, out[1:], plaintext, []byte(aad))
}

// The primary key seals, every key of the ring opens, boxes name their key, and boxes sealed
// before key rings still open with whichever key sealed them.
func TestSealerRing(t *testing.T) {
	t.Parallel()
	a, _ := testKey(t)
	b, _ := testKey(t)
	c, _ := testKey(t)
	onlyA, onlyB := sealerOf(t, a), sealerOf(t, b)
	ring := sealerOf(t, b, a) // B seals, A still opens
	require.Equal(t, onlyB.KeyID(), ring.KeyID())
	require.NotEqual(t, onlyA.KeyID(), ring.KeyID())
	require.Len(t, ring.KeyID(), 8)
	require.Equal(t, 2, ring.Keys())

	byA := onlyA.Seal([]byte("from A"), "settings/x")
	out, err := ring.Open(byA, "settings/x")
	require.NoError(t, err)
	require.Equal(t, "from A", string(out))
	require.False(t, ring.Current(byA), "sealed with an older key")

	byRing := ring.Seal([]byte("from ring"), "settings/x")
	require.True(t, ring.Current(byRing))
	require.True(t, onlyB.Current(byRing))
	out, err = onlyB.Open(byRing, "settings/x")
	require.NoError(t, err, "the ring sealed with its first key")
	require.Equal(t, "from ring", string(out))
	_, err = onlyA.Open(byRing, "settings/x")
	require.ErrorIs(t, err, store.ErrSealedWithAnotherKey)
	require.Contains(t, err.Error(), "key id "+onlyB.KeyID(), "says which key sealed it")

	_, err = ring.Open(byRing, "settings/y")
	require.ErrorIs(t, err, store.ErrSealedWithAnotherKey, "bound to its row")

	for i := range byRing { // any byte flipped, the key id included: refused
		bad := append([]byte(nil), byRing...)
		bad[i] ^= 0x01
		_, err := ring.Open(bad, "settings/x")
		require.ErrorIs(t, err, store.ErrSealedWithAnotherKey, "byte %d", i)
	}
	for _, bad := range [][]byte{nil, {}, {2}, byRing[:5], byRing[:20], {9, 1, 2, 3}} {
		_, err := ring.Open(bad, "settings/x")
		require.ErrorIs(t, err, store.ErrSealedWithAnotherKey)
	}

	// Version 1 boxes (before this change) open with the key that sealed them, wherever it
	// stands in the ring, and are never current.
	v1 := sealV1(t, a, []byte("old box"), "settings/x")
	for _, s := range []*store.Sealer{onlyA, ring, sealerOf(t, c, b, a)} {
		out, err := s.Open(v1, "settings/x")
		require.NoError(t, err)
		require.Equal(t, "old box", string(out))
		require.False(t, s.Current(v1))
	}
	_, err = onlyB.Open(v1, "settings/x")
	require.ErrorIs(t, err, store.ErrSealedWithAnotherKey)
	_, err = onlyA.Open(v1, "settings/y")
	require.ErrorIs(t, err, store.ErrSealedWithAnotherKey)
}

func TestParseSecretKeys(t *testing.T) {
	t.Parallel()
	a, aText := testKey(t)
	b, bText := testKey(t)
	keys, err := store.ParseSecretKeys(aText)
	require.NoError(t, err)
	require.Equal(t, [][]byte{a}, keys)
	keys, err = store.ParseSecretKeys(" " + bText + " , " + strings.TrimRight(base64.RawURLEncoding.EncodeToString(a), "=") + ",")
	require.NoError(t, err)
	require.Equal(t, [][]byte{b, a}, keys, "in order, any base64 alphabet, spaces and a trailing comma ignored")

	for _, tc := range []struct{ in, want string }{
		{"", "FLOWHOOK_SECRET_KEY: no key"},
		{" , ", "FLOWHOOK_SECRET_KEY: no key"},
		{"not a key!", "FLOWHOOK_SECRET_KEY: not base64"},
		{"c2hvcnQ=", "FLOWHOOK_SECRET_KEY: want 32 bytes of base64"},
		{aText + ",not a key!", "FLOWHOOK_SECRET_KEY: key 2 of 2: not base64"},
		{aText + "," + bText + "," + aText, "FLOWHOOK_SECRET_KEY: key 3 of 3: the same key as key 1"},
	} {
		_, err := store.ParseSecretKeys(tc.in)
		require.ErrorContains(t, err, tc.want, tc.in)
		require.NotContains(t, err.Error(), aText, "never the key itself")
	}
	_, err = store.ParseSecretKey(aText + "," + bText)
	require.ErrorContains(t, err, "want one key, got 2")
}

// The embedded mode's key file is created once with one key, and may then hold a ring, one key
// a line, the first sealing.
func TestSecretKeyFile(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	_, err := store.LoadSecretKeys(dir)
	require.ErrorIs(t, err, os.ErrNotExist)
	created, err := store.LoadOrCreateSecretKeys(dir)
	require.NoError(t, err)
	require.Len(t, created, 1)
	info, err := os.Stat(filepath.Join(dir, store.SecretKeyFile))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	again, err := store.LoadOrCreateSecretKeys(dir)
	require.NoError(t, err)
	require.Equal(t, created, again, "kept")

	newKey, newText := testKey(t)
	old, err := os.ReadFile(filepath.Join(dir, store.SecretKeyFile))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, store.SecretKeyFile), append([]byte(newText+"\n"), old...), 0o600))
	ring, err := store.LoadOrCreateSecretKeys(dir)
	require.NoError(t, err)
	require.Equal(t, [][]byte{newKey, created[0]}, ring)

	require.NoError(t, os.WriteFile(filepath.Join(dir, store.SecretKeyFile), []byte("not a key!\n"), 0o600))
	_, err = store.LoadSecretKeys(dir)
	require.ErrorContains(t, err, filepath.Join(dir, store.SecretKeyFile)+": not base64")
}

// Open never panics on a stored box, whatever its bytes, and opens only what the ring sealed.
func FuzzSealerOpen(f *testing.F) {
	a := []byte("0123456789abcdef0123456789abcdef")
	b := []byte("fedcba9876543210fedcba9876543210")
	ring, err := store.NewSealer(b, a)
	require.NoError(f, err)
	onlyA, err := store.NewSealer(a)
	require.NoError(f, err)
	f.Add(ring.Seal([]byte(`{"k":"v"}`), "settings/x"))
	f.Add(onlyA.Seal([]byte(`{"k":"v"}`), "settings/x"))
	f.Add([]byte{1})
	f.Add([]byte{2, 0, 0, 0, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, box []byte) {
		out, err := ring.Open(box, "settings/x")
		if err != nil {
			require.ErrorIs(t, err, store.ErrSealedWithAnotherKey)
			require.Nil(t, out)
		}
	})
}
