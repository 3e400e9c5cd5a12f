package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/flowhook/flowhook/server/internal/secretkey"
)

// Sealer encrypts secrets at rest with AES-256-GCM under a key ring: the primary key seals,
// every key of the ring opens, so that the key can be rotated (RotateSecrets re-seals what an
// older key sealed).
//
// A box is
//
//	version 2: 0x02 | key id (4) | nonce (12) | ciphertext and tag
//	version 1: 0x01 | nonce (12) | ciphertext and tag   (before key rings; still opened)
//
// The key id names the key that sealed the box (see KeyID), so opening tries only that key.
// The additional data binds a box to the row it belongs to, so a box copied to another row does
// not open; in version 2 it also covers the header, so the key id cannot be edited either.
type Sealer struct {
	keys []sealKey // keys[0] seals
	// pageKey authenticates page tokens (pagekey.go), derived from the primary key: after a
	// rotation, page tokens issued under the previous primary key are refused (a client starts
	// its listing over).
	pageKey []byte
}

type sealKey struct {
	id   [keyIDLen]byte
	aead cipher.AEAD
}

const (
	sealVersion1 = 1
	sealVersion  = 2
	keyIDLen     = 4
	// keyIDInfo separates the key id from anything else derived from a secret key.
	keyIDInfo = "flowhook secret key id v1"
)

// SecretKeyFile is where the embedded mode keeps its key ring, inside the data dir: the same
// format as FLOWHOOK_SECRET_KEY (keys separated by commas or newlines, the first seals).
const SecretKeyFile = "secret.key"

// NewSealer returns a sealer whose primary key (32 bytes) seals and whose older keys only open.
func NewSealer(primary []byte, older ...[]byte) (*Sealer, error) {
	s := &Sealer{}
	for i, key := range append([][]byte{primary}, older...) {
		if len(key) != secretkey.Len {
			return nil, fmt.Errorf("secret key %d: want %d bytes, got %d", i+1, secretkey.Len, len(key))
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		id, err := hkdf.Key(sha256.New, key, nil, keyIDInfo, keyIDLen)
		if err != nil {
			return nil, err
		}
		s.keys = append(s.keys, sealKey{id: [keyIDLen]byte(id), aead: aead})
	}
	var err error
	if s.pageKey, err = derivePageKey(primary); err != nil {
		return nil, err
	}
	return s, nil
}

// KeyID names the primary key: 8 hex digits derived from it (HKDF), which tell keys apart
// without telling anything about them. Boxes carry it.
func (s *Sealer) KeyID() string { return hex.EncodeToString(s.keys[0].id[:]) }

// Keys is the number of keys in the ring, the primary one included.
func (s *Sealer) Keys() int { return len(s.keys) }

// Seal encrypts plaintext for the row named by aad, with the primary key.
func (s *Sealer) Seal(plaintext []byte, aad string) []byte {
	k := s.keys[0]
	const header = 1 + keyIDLen
	n := k.aead.NonceSize()
	out := make([]byte, header+n, header+n+len(plaintext)+k.aead.Overhead())
	out[0] = sealVersion
	copy(out[1:header], k.id[:])
	_, _ = rand.Read(out[header:]) // crypto/rand.Read never fails (Go 1.24+)
	return k.aead.Seal(out, out[header:], plaintext, additionalData(out[:header], aad))
}

func additionalData(header []byte, aad string) []byte {
	return append(append(make([]byte, 0, len(header)+len(aad)), header...), aad...)
}

// ErrSealedWithAnotherKey: the box opens with no key of the ring (or was tampered with).
var ErrSealedWithAnotherKey = errors.New("secrets were sealed with a key that is not in FLOWHOOK_SECRET_KEY, or were tampered with")

// Open decrypts a box sealed for aad with any key of the ring.
func (s *Sealer) Open(box []byte, aad string) ([]byte, error) {
	out, _, err := s.open(box, aad)
	return out, err
}

// Current reports whether a box is sealed, in the current format, with the primary key: one
// that RotateSecrets leaves as it is. It does not check that the box opens.
func (s *Sealer) Current(box []byte) bool {
	return len(box) > 1+keyIDLen && box[0] == sealVersion && [keyIDLen]byte(box[1:1+keyIDLen]) == s.keys[0].id
}

// open returns the plaintext and whether the primary key opened it.
func (s *Sealer) open(box []byte, aad string) ([]byte, bool, error) {
	if len(box) == 0 {
		return nil, false, ErrSealedWithAnotherKey
	}
	switch box[0] {
	case sealVersion:
		const header = 1 + keyIDLen
		if len(box) < header {
			return nil, false, ErrSealedWithAnotherKey
		}
		id := [keyIDLen]byte(box[1:header])
		known := false
		for i, k := range s.keys {
			if k.id != id {
				continue // ids are 32 bits: two keys may share one, so every match is tried
			}
			known = true
			n := k.aead.NonceSize()
			if len(box) < header+n+k.aead.Overhead() {
				break
			}
			if out, err := k.aead.Open(nil, box[header:header+n], box[header+n:], additionalData(box[:header], aad)); err == nil {
				return out, i == 0, nil
			}
		}
		if !known {
			return nil, false, fmt.Errorf("%w (sealed with key id %s, which is not in the ring)", ErrSealedWithAnotherKey, hex.EncodeToString(id[:]))
		}
		return nil, false, ErrSealedWithAnotherKey
	case sealVersion1:
		// Sealed before boxes named their key: every key is tried, the primary first.
		for i, k := range s.keys {
			n := k.aead.NonceSize()
			if len(box) < 1+n+k.aead.Overhead() {
				break
			}
			if out, err := k.aead.Open(nil, box[1:1+n], box[1+n:], []byte(aad)); err == nil {
				return out, i == 0, nil
			}
		}
	}
	return nil, false, ErrSealedWithAnotherKey
}

// ParseSecretKey reads one key given as base64 (standard or URL alphabet, padded or not).
func ParseSecretKey(s string) ([]byte, error) {
	keys, err := ParseSecretKeys(s)
	if err != nil {
		return nil, err
	}
	if len(keys) != 1 {
		return nil, fmt.Errorf("FLOWHOOK_SECRET_KEY: want one key, got %d", len(keys))
	}
	return keys[0], nil
}

// ParseSecretKeys reads a key ring as FLOWHOOK_SECRET_KEY gives it: keys separated by commas,
// the first seals (see package secretkey).
func ParseSecretKeys(s string) ([][]byte, error) {
	return secretkey.Parse("FLOWHOOK_SECRET_KEY", s)
}

// LoadSecretKeys returns the key ring kept in dataDir (the embedded mode's), or an error
// wrapping os.ErrNotExist when there is none.
func LoadSecretKeys(dataDir string) ([][]byte, error) {
	path := filepath.Join(dataDir, SecretKeyFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the secret key: %w", err)
	}
	return secretkey.Parse(path, string(b))
}

// LoadOrCreateSecretKeys returns the key ring kept in dataDir, creating it (one key, mode 0600)
// on first use.
func LoadOrCreateSecretKeys(dataDir string) ([][]byte, error) {
	keys, err := LoadSecretKeys(dataDir)
	if !errors.Is(err, os.ErrNotExist) {
		return keys, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	key := make([]byte, secretkey.Len)
	_, _ = rand.Read(key)
	f, err := os.OpenFile(filepath.Join(dataDir, SecretKeyFile), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return LoadOrCreateSecretKeys(dataDir) // another process wrote it first
	}
	if err != nil {
		return nil, fmt.Errorf("create the secret key: %w", err)
	}
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		return nil, err
	}
	return [][]byte{key}, f.Close()
}
