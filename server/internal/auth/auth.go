// Package auth authenticates every RPC with an API key (`Authorization: Bearer <key>`),
// authorises it by the caller's roles against a table of procedures, and puts the caller — an
// engine.Principal — in the request context. Keys are random secrets kept only as SHA-256
// hashes; a presented key is hashed, found by its hash and compared in constant time.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/flowhook/flowhook/server/internal/engine"
)

// KeyPrefixLen is how much of a secret is kept in the clear to tell keys apart.
const KeyPrefixLen = 10

// NewSecret returns a fresh API key secret: "fh_" and 32 random bytes, base64url.
func NewSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return "fh_" + base64.RawURLEncoding.EncodeToString(b)
}

// Hash is the stored form of a secret.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Prefix is the part of a secret shown in listings and logs: KeyPrefixLen characters, and never
// more than a quarter of the secret (a key of one's own choosing may be as short as 20).
func Prefix(secret string) string {
	return secret[:min(KeyPrefixLen, len(secret)/4)]
}

type principalKey struct{}

// WithPrincipal returns ctx carrying the caller.
func WithPrincipal(ctx context.Context, p engine.Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the caller of an authenticated request.
func FromContext(ctx context.Context) (engine.Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(engine.Principal)
	return p, ok
}

// MaxKeyLen bounds the credential read from a header.
const MaxKeyLen = 512

// touchInterval is how often a key's last use is written, at most.
const touchInterval = time.Minute

// Authenticator finds the caller of a request.
type Authenticator struct {
	store engine.IdentityStore
	clock engine.Clock
	log   *slog.Logger
}

// NewAuthenticator returns an authenticator over the identity store.
func NewAuthenticator(store engine.IdentityStore, clock engine.Clock, log *slog.Logger) *Authenticator {
	return &Authenticator{store: store, clock: clock, log: log}
}

var (
	errMissing = errors.New("missing credentials: send Authorization: Bearer <api key>")
	errInvalid = errors.New("invalid or revoked API key")
	// A deactivated user's key is valid but refused: saying so tells the caller that no new
	// key will help. The user is read with the key on every call, so that a deactivation
	// takes effect at once on every replica.
	errDeactivated = errors.New("the API key's user is deactivated")
)

// Authenticate returns the principal of a bearer credential.
func (a *Authenticator) Authenticate(ctx context.Context, header string) (engine.Principal, error) {
	scheme, secret, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return engine.Principal{}, connect.NewError(connect.CodeUnauthenticated, errMissing)
	}
	secret = strings.TrimSpace(secret)
	if secret == "" || len(secret) > MaxKeyLen {
		return engine.Principal{}, connect.NewError(connect.CodeUnauthenticated, errInvalid)
	}
	hash := Hash(secret)
	key, user, groups, err := a.store.Caller(ctx, hash)
	switch {
	case errors.Is(err, engine.ErrNotFound):
		return engine.Principal{}, connect.NewError(connect.CodeUnauthenticated, errInvalid)
	case err != nil:
		return engine.Principal{}, err
	}
	// The lookup was by hash; compare again in constant time so that no code path depends on
	// how much of a secret matched.
	if subtle.ConstantTimeCompare([]byte(key.Hash), []byte(hash)) != 1 || key.RevokedAt != nil {
		return engine.Principal{}, connect.NewError(connect.CodeUnauthenticated, errInvalid)
	}
	if user.DeactivatedAt != nil {
		return engine.Principal{}, connect.NewError(connect.CodeUnauthenticated, errDeactivated)
	}
	// The key says when it was last recorded: most calls need no write at all.
	if now := a.clock.Now(); key.LastUsedAt != nil && now.Sub(*key.LastUsedAt) < touchInterval && !now.Before(*key.LastUsedAt) {
		return engine.Principal{UserID: user.ID, Roles: user.Roles, GroupIDs: groups, APIKeyID: key.ID}, nil
	}
	if err := a.store.TouchAPIKey(ctx, key.ID, a.clock.Now(), touchInterval); err != nil {
		// Recording the use is bookkeeping; it must not fail the call.
		a.log.WarnContext(ctx, "recording an API key's use failed", "api_key_id", key.ID, "error", err.Error())
	}
	return engine.Principal{UserID: user.ID, Roles: user.Roles, GroupIDs: groups, APIKeyID: key.ID}, nil
}
