package docusign

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/flowhook/flowhook/server/internal/engine"
)

// DocuSign's OAuth hosts (providers.md A1). A Settings may name any other URL, e.g. a fake's.
const (
	DemoOAuthBaseURL       = "https://account-d.docusign.com"
	ProductionOAuthBaseURL = "https://account.docusign.com"
)

// minKeyBits is the smallest RSA key accepted; DocuSign generates 2048-bit key pairs.
const minKeyBits = 2048

// Settings are what an administrator configures for one DocuSign account.
type Settings struct {
	// AccountID is the API account id (a GUID). Empty means the user's default account.
	AccountID string
	// IntegrationKey is the app's client id (a GUID): the JWT's iss.
	IntegrationKey string
	// UserID is the GUID of the user the app impersonates: the JWT's sub.
	UserID string
	// OAuthBaseURL is the OAuth host's URL, DemoOAuthBaseURL or ProductionOAuthBaseURL.
	OAuthBaseURL string
	// PrivateKeyPEM is the integration key's RSA private key, PKCS#1 or PKCS#8, unencrypted.
	PrivateKeyPEM []byte
	// HMACKeys are the account's Connect keys; a webhook passes when it is signed by any of them.
	HMACKeys []string
}

// Validate reports every problem of the settings at once, as an *engine.ValidationError.
func (s Settings) Validate() error {
	var ps engine.Problems
	if s.AccountID != "" && !isGUID(s.AccountID) {
		ps.Add("account_id", "must be a GUID like 01234567-89ab-cdef-0123-456789abcdef, or empty for the user's default account")
	}
	checkGUID := func(path, v string) {
		switch {
		case v == "":
			ps.Add(path, "is required")
		case !isGUID(v):
			ps.Add(path, "must be a GUID like 01234567-89ab-cdef-0123-456789abcdef")
		}
	}
	checkGUID("integration_key", s.IntegrationKey)
	checkGUID("user_id", s.UserID)
	if s.OAuthBaseURL == "" {
		ps.Add("oauth_base_url", "is required (%s or %s)", DemoOAuthBaseURL, ProductionOAuthBaseURL)
	} else if _, err := parseOAuthBaseURL(s.OAuthBaseURL); err != nil {
		ps.Add("oauth_base_url", "%v", err)
	}
	if len(s.PrivateKeyPEM) == 0 {
		ps.Add("private_key_pem", "is required")
	} else if _, err := parsePrivateKey(s.PrivateKeyPEM); err != nil {
		ps.Add("private_key_pem", "%v", err)
	}
	for i, k := range s.HMACKeys {
		if strings.TrimSpace(k) == "" {
			ps.Add(fmt.Sprintf("hmac_keys[%d]", i), "must not be empty")
		}
	}
	return ps.Err()
}

// String, GoString and LogValue keep the private key and the HMAC keys out of logs and
// formatted errors: a Settings printed by accident shows only that they are set.
func (s Settings) String() string {
	return fmt.Sprintf("docusign.Settings{AccountID:%q IntegrationKey:%q UserID:%q OAuthBaseURL:%q PrivateKeyPEM:%s HMACKeys:%d}",
		s.AccountID, s.IntegrationKey, s.UserID, s.OAuthBaseURL, redacted(len(s.PrivateKeyPEM) > 0), len(s.HMACKeys))
}

func (s Settings) GoString() string { return s.String() }

func (s Settings) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("account_id", s.AccountID),
		slog.String("integration_key", s.IntegrationKey),
		slog.String("user_id", s.UserID),
		slog.String("oauth_base_url", s.OAuthBaseURL),
		slog.String("private_key_pem", redacted(len(s.PrivateKeyPEM) > 0)),
		slog.Int("hmac_keys", len(s.HMACKeys)),
	)
}

func redacted(set bool) string {
	if set {
		return "[redacted]"
	}
	return "[unset]"
}

// parseOAuthBaseURL accepts an absolute http(s) URL without query or fragment; a path is kept
// as a prefix (a fake mounted below a path).
func parseOAuthBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("is not a URL")
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, errors.New("must be an http(s) URL such as " + DemoOAuthBaseURL)
	}
	if u.Hostname() == "" {
		return nil, errors.New("has no host")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("must not carry user info, a query or a fragment")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// parsePrivateKey reads an RSA private key from PEM, PKCS#1 ("RSA PRIVATE KEY") or PKCS#8
// ("PRIVATE KEY"). Its errors never quote the key.
func parsePrivateKey(pemBytes []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("is not a PEM block")
	}
	var key *rsa.PrivateKey
	switch block.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("is not a valid PKCS#1 RSA private key")
		}
		key = k
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("is not a valid PKCS#8 private key")
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, errors.New("is a PKCS#8 key but not an RSA key")
		}
		key = rk
	case "ENCRYPTED PRIVATE KEY":
		return nil, errors.New("is encrypted; give the unencrypted key")
	default:
		return nil, fmt.Errorf("is a PEM %q block; want \"RSA PRIVATE KEY\" or \"PRIVATE KEY\"", block.Type)
	}
	if key.N.BitLen() < minKeyBits {
		return nil, fmt.Errorf("is a %d-bit RSA key; want at least %d bits", key.N.BitLen(), minKeyBits)
	}
	return key, nil
}

// isGUID reports whether s has the 8-4-4-4-12 hex form DocuSign uses for ids.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
