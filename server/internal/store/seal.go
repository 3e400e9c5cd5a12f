package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Sealer encrypts secrets at rest with AES-256-GCM. A box is version byte, nonce, ciphertext;
// the additional data binds a box to the row it belongs to, so a box copied to another row
// does not open.
type Sealer struct {
	aead cipher.AEAD
	// pageKey authenticates page tokens (pagekey.go), derived from the same secret key.
	pageKey []byte
}

const sealVersion = 1

// SecretKeyFile is where the embedded mode keeps its generated key, inside the data dir.
const SecretKeyFile = "secret.key"

// NewSealer returns a sealer for a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("secret key: want 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	pageKey, err := derivePageKey(key)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead, pageKey: pageKey}, nil
}

// Seal encrypts plaintext for the row named by aad.
func (s *Sealer) Seal(plaintext []byte, aad string) []byte {
	out := make([]byte, 1+s.aead.NonceSize(), 1+s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	out[0] = sealVersion
	_, _ = rand.Read(out[1:]) // crypto/rand.Read never fails (Go 1.24+)
	return s.aead.Seal(out, out[1:], plaintext, []byte(aad))
}

// ErrSealedWithAnotherKey: the box does not open with this key (or was tampered with).
var ErrSealedWithAnotherKey = errors.New("secrets were sealed with another FLOWHOOK_SECRET_KEY, or were tampered with")

// Open decrypts a box sealed for aad.
func (s *Sealer) Open(box []byte, aad string) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(box) < 1+n+s.aead.Overhead() || box[0] != sealVersion {
		return nil, ErrSealedWithAnotherKey
	}
	out, err := s.aead.Open(nil, box[1:1+n], box[1+n:], []byte(aad))
	if err != nil {
		return nil, ErrSealedWithAnotherKey
	}
	return out, nil
}

// ParseSecretKey reads a key given as base64 (standard or URL alphabet, padded or not).
func ParseSecretKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != 32 {
				return nil, fmt.Errorf("FLOWHOOK_SECRET_KEY: want 32 bytes of base64 (e.g. `openssl rand -base64 32`), got %d bytes", len(b))
			}
			return b, nil
		}
	}
	return nil, errors.New("FLOWHOOK_SECRET_KEY: not base64 (generate one with `openssl rand -base64 32`)")
}

// LoadOrCreateSecretKey returns the key kept in dataDir, creating it (mode 0600) on first use.
func LoadOrCreateSecretKey(dataDir string) ([]byte, error) {
	path := filepath.Join(dataDir, SecretKeyFile)
	if b, err := os.ReadFile(path); err == nil {
		return ParseSecretKey(string(b))
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read the secret key: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return LoadOrCreateSecretKey(dataDir) // another process wrote it first
	}
	if err != nil {
		return nil, fmt.Errorf("create the secret key: %w", err)
	}
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		return nil, err
	}
	return key, f.Close()
}
