package store_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
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

// FuzzSealerSeal: what the ring seals opens to exactly the plaintext, for its row only, with
// the key that sealed it; a box changed in any way (a byte flipped, cut short, a byte more)
// does not open. Version 1 boxes (before key rings), sealed with an older key, are held to the
// same.
func FuzzSealerSeal(f *testing.F) {
	a := []byte("0123456789abcdef0123456789abcdef")
	b := []byte("fedcba9876543210fedcba9876543210")
	ring, err := store.NewSealer(b, a) // b seals, a still opens
	require.NoError(f, err)
	onlyA, err := store.NewSealer(a)
	require.NoError(f, err)
	onlyB, err := store.NewSealer(b)
	require.NoError(f, err)
	f.Add([]byte(`{"k":"v"}`), "settings/x", false, uint(0), byte(1), uint(0))
	f.Add([]byte(`{"k":"v"}`), "settings/x", true, uint(0), byte(0x03), uint(1))
	f.Add([]byte{}, "", false, uint(4), byte(0x80), uint(5))
	f.Add([]byte{}, "", true, uint(12), byte(0xff), uint(13))
	f.Add(bytes.Repeat([]byte{0}, 100), "workitems/wi_1", false, uint(1<<20), byte(0x10), uint(16))
	f.Fuzz(func(t *testing.T, plaintext []byte, aad string, v1 bool, at uint, xor byte, cut uint) {
		var box []byte
		if v1 {
			box = sealV1(t, a, plaintext, aad)
			require.False(t, ring.Current(box))
		} else {
			box = ring.Seal(plaintext, aad)
			require.True(t, ring.Current(box))
		}
		open := func(s *store.Sealer, box []byte, aad, what string) {
			t.Helper()
			out, err := s.Open(box, aad)
			require.NoError(t, err, what)
			require.Equal(t, string(plaintext), string(out), what) // nil and empty alike
		}
		refuse := func(s *store.Sealer, box []byte, aad, what string) {
			t.Helper()
			out, err := s.Open(box, aad)
			require.ErrorIs(t, err, store.ErrSealedWithAnotherKey, what)
			require.Nil(t, out, what)
		}
		open(ring, box, aad, "intact")
		if v1 {
			open(onlyA, box, aad, "the key that sealed it")
			refuse(onlyB, box, aad, "a key that did not seal it")
		} else {
			open(onlyB, box, aad, "the primary key sealed it")
			refuse(onlyA, box, aad, "an older key does not open what the primary sealed")
		}
		refuse(ring, box, aad+"x", "bound to its row")

		if xor != 0 {
			i := int(at % uint(len(box)))
			bad := bytes.Clone(box)
			bad[i] ^= xor
			refuse(ring, bad, aad, fmt.Sprintf("byte %d of %d changed", i, len(box)))
		}
		short := int(cut % uint(len(box)))
		refuse(ring, box[:short:short], aad, fmt.Sprintf("cut to %d of %d bytes", short, len(box)))
		refuse(ring, append(bytes.Clone(box), xor), aad, "a byte more")
	})
}

// FuzzSealerOpen: Open never panics on a stored box, whatever its bytes, fails only with
// ErrSealedWithAnotherKey, and opens exactly what a box of the documented format (see Sealer)
// sealed by a key of the ring for this row opens to: it agrees with refOpen, the format
// implemented again here. Forging such a box without the key is what AES-GCM rules out, so on
// the fuzzer's bytes both refuse; the seeds are boxes the ring could have sealed.
func FuzzSealerOpen(f *testing.F) {
	a := []byte("0123456789abcdef0123456789abcdef")
	b := []byte("fedcba9876543210fedcba9876543210")
	const aad = "settings/x"
	ring, err := store.NewSealer(b, a)
	require.NoError(f, err)
	onlyA, err := store.NewSealer(a)
	require.NoError(f, err)
	ref := refRing(f, b, a)
	f.Add(ring.Seal([]byte(`{"k":"v"}`), aad))
	f.Add(onlyA.Seal([]byte(`{"k":"v"}`), aad))
	nonce := []byte("fixed nonce!") // 12 bytes: seeds that are the same in every fuzz worker
	for _, k := range ref {
		f.Add(k.seal(2, nonce, []byte(`{"k":"v"}`), aad))
		f.Add(k.seal(1, nonce, []byte(`{"k":"v"}`), aad))
		f.Add(k.seal(2, nonce, nil, aad))
		f.Add(k.seal(1, nonce, nil, aad))
	}
	f.Add(ref[0].seal(2, nonce, []byte("another row"), "settings/y"))
	f.Add([]byte{1})
	f.Add([]byte{2, 0, 0, 0, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, box []byte) {
		want, wantOK := refOpen(ref, box, aad)
		out, err := ring.Open(box, aad)
		if err != nil {
			require.ErrorIs(t, err, store.ErrSealedWithAnotherKey)
			require.Nil(t, out)
			require.False(t, wantOK, "refused a box the ring sealed: %v", err)
			return
		}
		require.True(t, wantOK, "opened a box the ring did not seal for this row, to %q", out)
		require.Equal(t, string(want), string(out))
	})
}

// refKey is one key of a ring, for refOpen and for sealing seeds of either version.
type refKey struct {
	id   []byte
	aead cipher.AEAD
}

func refRing(tb testing.TB, keys ...[]byte) []refKey {
	tb.Helper()
	var ring []refKey
	for _, key := range keys {
		block, err := aes.NewCipher(key)
		require.NoError(tb, err)
		aead, err := cipher.NewGCM(block)
		require.NoError(tb, err)
		id, err := hkdf.Key(sha256.New, key, nil, "flowhook secret key id v1", 4)
		require.NoError(tb, err)
		ring = append(ring, refKey{id: id, aead: aead})
	}
	return ring
}

// header is a box's cleartext start: its version and, from version 2, the key id.
func (k refKey) header(version byte) []byte {
	if version == 1 {
		return []byte{1}
	}
	return append([]byte{version}, k.id...)
}

// seal seals as the format says, with the nonce given.
func (k refKey) seal(version byte, nonce, plaintext []byte, aad string) []byte {
	h := k.header(version)
	ad := []byte(aad)
	if version != 1 {
		ad = append(bytes.Clone(h), aad...)
	}
	return k.aead.Seal(append(bytes.Clone(h), nonce...), nonce, plaintext, ad)
}

// refOpen opens a box as the format says: version 2 with any key of the ring that has the
// box's key id, the header and the row as additional data; version 1 with any key, the row as
// additional data.
func refOpen(ring []refKey, box []byte, aad string) ([]byte, bool) {
	if len(box) == 0 || box[0] != 1 && box[0] != 2 {
		return nil, false
	}
	for _, k := range ring {
		h := k.header(box[0])
		if !bytes.HasPrefix(box, h) || len(box) < len(h)+k.aead.NonceSize()+k.aead.Overhead() {
			continue
		}
		ad := []byte(aad)
		if box[0] == 2 {
			ad = append(bytes.Clone(h), aad...)
		}
		n := len(h) + k.aead.NonceSize()
		if out, err := k.aead.Open(nil, box[len(h):n], box[n:], ad); err == nil {
			return out, true
		}
	}
	return nil, false
}
