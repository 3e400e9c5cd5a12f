// Package standardwebhooks signs and verifies HTTP requests the way the Standard Webhooks
// specification (standardwebhooks.com) says: three headers, webhook-id, webhook-timestamp
// (Unix seconds) and webhook-signature, a space-separated list of "v1,<base64 HMAC-SHA256>"
// over "<id>.<timestamp>.<body>", with the key given as a "whsec_"-prefixed base64 secret.
//
// flowhook uses it in both directions of a connector: it signs its calls to the outside system
// and verifies the system's callbacks; the connector fake does the reverse. It is written here
// rather than taken from the specification's Go library because that library checks the
// five-minute tolerance against time.Now, which a test cannot move, and holds one key, where a
// rotation needs the old and the new one side by side.
//
// Verify checks the headers and the timestamp before it computes anything, tries every
// configured secret against every v1 signature with hmac.Equal, and fails with sentinel errors
// (errors.Is). No error of this package quotes a secret or a signature. Capping the body's
// size is the caller's part (http.MaxBytesReader).
package standardwebhooks

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The headers, as the specification spells them (http.Header canonicalizes them on the wire,
// and HTTP header names are case-insensitive).
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

const (
	// SecretPrefix starts a secret; the rest is the key in standard base64.
	SecretPrefix = "whsec_"
	// MinKeyLen and MaxKeyLen bound a key in bytes, as the specification recommends.
	MinKeyLen = 24
	MaxKeyLen = 64
	// DefaultTolerance is how far a timestamp may be from the verifier's clock, either way.
	DefaultTolerance = 5 * time.Minute
	// MaxSignatures is how many entries of webhook-signature Verify considers; the rest are
	// ignored, so that a long list cannot make it compute without end.
	MaxSignatures = 10
	// MaxHeaderLen bounds each of the three headers' values (all values of one name together).
	MaxHeaderLen = 4096
)

// Errors of Verify, for errors.Is. The errors returned wrap them with a reason.
var (
	// ErrNoSecrets: no usable secret is configured, so nothing can be verified.
	ErrNoSecrets = errors.New("standardwebhooks: no usable secret")
	// ErrMissingHeaders: a header is absent or empty.
	ErrMissingHeaders = errors.New("standardwebhooks: missing webhook headers")
	// ErrBadHeaders: a header is too long, or webhook-id or webhook-timestamp is repeated.
	ErrBadHeaders = errors.New("standardwebhooks: malformed webhook headers")
	// ErrBadTimestamp: webhook-timestamp is not Unix seconds in decimal digits.
	ErrBadTimestamp = errors.New("standardwebhooks: bad webhook-timestamp")
	// ErrStale: the timestamp is further from now than the tolerance, in the past or the future.
	ErrStale = errors.New("standardwebhooks: webhook-timestamp outside the tolerance")
	// ErrNoMatch: no v1 signature matches any secret.
	ErrNoMatch = errors.New("standardwebhooks: no matching signature")
)

// ErrBadSecret: ParseSecret refused the secret (empty, not base64, a key of the wrong length).
var ErrBadSecret = errors.New("standardwebhooks: bad secret")

// NewSecret returns a fresh secret: SecretPrefix and the base64 of 32 random bytes.
func NewSecret() string {
	key := make([]byte, 32)
	_, _ = rand.Read(key) // crypto/rand.Read does not fail
	return SecretPrefix + base64.StdEncoding.EncodeToString(key)
}

// ParseSecret returns a secret's key. The SecretPrefix may be left out, as the specification's
// libraries allow; what follows must be standard base64 of MinKeyLen to MaxKeyLen bytes. Its
// errors wrap ErrBadSecret and never quote the secret.
func ParseSecret(s string) ([]byte, error) {
	enc := strings.TrimPrefix(s, SecretPrefix)
	if enc == "" {
		return nil, fmt.Errorf("%w: the secret is empty", ErrBadSecret)
	}
	// A key of MaxKeyLen bytes is at most 88 characters of base64; refusing longer input
	// before decoding keeps the work bounded.
	if len(enc) > base64.StdEncoding.EncodedLen(MaxKeyLen) {
		return nil, fmt.Errorf("%w: the key is longer than %d bytes", ErrBadSecret, MaxKeyLen)
	}
	key, err := base64.StdEncoding.Strict().DecodeString(enc)
	if err != nil || strings.ContainsAny(enc, "\r\n") {
		return nil, fmt.Errorf("%w: the key is not standard base64", ErrBadSecret)
	}
	if len(key) < MinKeyLen || len(key) > MaxKeyLen {
		return nil, fmt.Errorf("%w: the key is %d bytes, want %d to %d", ErrBadSecret, len(key), MinKeyLen, MaxKeyLen)
	}
	return key, nil
}

// mac is the v1 signature's raw bytes.
func mac(key []byte, msgID, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msgID))
	m.Write([]byte{'.'})
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Sign returns the v1 signature ("v1,<base64>") of a message sent at ts.
func Sign(secret, msgID string, ts time.Time, body []byte) (string, error) {
	key, err := ParseSecret(secret)
	if err != nil {
		return "", err
	}
	return "v1," + base64.StdEncoding.EncodeToString(mac(key, msgID, unix(ts), body)), nil
}

// SetHeaders sets the three headers of a message sent at ts, with one signature per secret in
// webhook-signature: a sender in the middle of a rotation signs with the old and the new one.
func SetHeaders(h http.Header, secrets []string, msgID string, ts time.Time, body []byte) error {
	if len(secrets) == 0 {
		return fmt.Errorf("%w: sign with at least one secret", ErrNoSecrets)
	}
	if msgID == "" {
		return fmt.Errorf("%w: the message id is empty", ErrMissingHeaders)
	}
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		sig, err := Sign(s, msgID, ts, body)
		if err != nil {
			return err
		}
		sigs = append(sigs, sig)
	}
	h.Set(HeaderID, msgID)
	h.Set(HeaderTimestamp, unix(ts))
	h.Set(HeaderSignature, strings.Join(sigs, " "))
	return nil
}

func unix(ts time.Time) string { return strconv.FormatInt(ts.Unix(), 10) }

// Verify checks a received message: its headers, that its timestamp is within tolerance of now
// (DefaultTolerance when tolerance is not positive), and that one of the first MaxSignatures
// entries of webhook-signature is the v1 signature of one of the secrets. Secrets that
// ParseSecret refuses are skipped; entries of other versions (v1a, …) are ignored. The errors
// wrap the package's sentinels.
func Verify(secrets []string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	keys := make([][]byte, 0, len(secrets))
	for _, s := range secrets {
		if k, err := ParseSecret(s); err == nil {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return fmt.Errorf("%w: %d configured, none valid", ErrNoSecrets, len(secrets))
	}

	msgID, err := single(h, HeaderID)
	if err != nil {
		return err
	}
	ts, err := single(h, HeaderTimestamp)
	if err != nil {
		return err
	}
	sigValues := values(h, HeaderSignature)
	sigHeader := strings.Join(sigValues, " ")
	if len(sigHeader) > MaxHeaderLen {
		return fmt.Errorf("%w: %s is longer than %d bytes", ErrBadHeaders, HeaderSignature, MaxHeaderLen)
	}
	entries := strings.Fields(sigHeader)
	if len(entries) == 0 {
		return fmt.Errorf("%w: %s", ErrMissingHeaders, HeaderSignature)
	}

	sent, err := parseTimestamp(ts)
	if err != nil {
		return err
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	// Compared in whole seconds, as the header is: a message is stale only once it is more
	// than the tolerance away.
	if age := now.Unix() - sent; age > int64(tolerance/time.Second) {
		return fmt.Errorf("%w: sent %ds ago, tolerance %s", ErrStale, age, tolerance)
	} else if -age > int64(tolerance/time.Second) {
		return fmt.Errorf("%w: sent %ds in the future, tolerance %s", ErrStale, -age, tolerance)
	}

	want := make([][]byte, len(keys))
	for i, k := range keys {
		want[i] = mac(k, msgID, ts, body)
	}
	matched := false
	for _, e := range entries[:min(len(entries), MaxSignatures)] {
		version, enc, ok := strings.Cut(e, ",")
		if !ok || version != "v1" {
			continue
		}
		// Strict: a signature has one spelling, so an accepted entry is the one Sign makes.
		got, err := base64.StdEncoding.Strict().DecodeString(enc)
		if err != nil {
			continue
		}
		for _, w := range want {
			// Every pair is compared, with no early exit, so the time taken does not tell
			// which secret or entry matched.
			if hmac.Equal(got, w) {
				matched = true
			}
		}
	}
	if !matched {
		return fmt.Errorf("%w: %d signature(s) tried against %d secret(s)", ErrNoMatch, min(len(entries), MaxSignatures), len(keys))
	}
	return nil
}

// values returns a header's values whatever the case of its name: http.Header.Values finds
// canonical keys only, and a header map built by hand may hold the specification's spelling.
func values(h http.Header, name string) []string {
	if v := h.Values(name); len(v) > 0 {
		return v
	}
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}

// single returns a header that must be present once, not empty and not too long.
func single(h http.Header, name string) (string, error) {
	v := values(h, name)
	switch {
	case len(v) == 0 || strings.TrimSpace(v[0]) == "":
		return "", fmt.Errorf("%w: %s", ErrMissingHeaders, name)
	case len(v) > 1:
		return "", fmt.Errorf("%w: %s is repeated", ErrBadHeaders, name)
	case len(v[0]) > MaxHeaderLen:
		return "", fmt.Errorf("%w: %s is longer than %d bytes", ErrBadHeaders, name, MaxHeaderLen)
	}
	return v[0], nil
}

// parseTimestamp reads decimal Unix seconds: digits only, no sign, no spaces, as the signature
// covers the header exactly as sent.
func parseTimestamp(ts string) (int64, error) {
	if len(ts) > 18 {
		return 0, fmt.Errorf("%w: %d digits", ErrBadTimestamp, len(ts))
	}
	for _, c := range ts {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: want decimal Unix seconds", ErrBadTimestamp)
		}
	}
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: want decimal Unix seconds", ErrBadTimestamp)
	}
	return n, nil
}
