package docusignfake

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

const jwtBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// maxClockSkew is how far in the future an assertion's iat may be.
const maxClockSkew = 5 * time.Minute

// token is POST /oauth/token with the JWT grant (providers.md A2).
func (f *Fake) token(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, "invalid_request", "the body is not a form")
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		writeOAuthError(w, "invalid_request", "Content-Type must be application/x-www-form-urlencoded")
		return
	}
	if g := r.PostForm.Get("grant_type"); g != jwtBearerGrant {
		writeOAuthError(w, "unsupported_grant_type", "")
		return
	}
	if reason := f.checkAssertion(r.PostForm.Get("assertion"), f.audience(r)); reason != "" {
		writeOAuthError(w, "invalid_grant", reason)
		return
	}
	if f.consentMissing.Load() {
		writeOAuthError(w, "consent_required", "")
		return
	}
	f.mu.Lock()
	tok := randomToken()
	life := f.tokenLifetime
	f.tokens[tok] = f.now().Add(life)
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok,
		"token_type":   "Bearer",
		"expires_in":   int64(life / time.Second),
	})
}

func writeOAuthError(w http.ResponseWriter, code, desc string) {
	body := map[string]string{"error": code}
	if desc != "" {
		body["error_description"] = desc
	}
	writeJSON(w, http.StatusBadRequest, body)
}

// checkAssertion verifies the JWT: RS256 header and signature, iss, sub, aud, exp, iat and
// scope. It returns what is wrong, in DocuSign's error_description words where known.
func (f *Fake) checkAssertion(a, aud string) string {
	parts := strings.Split(a, ".")
	if len(parts) != 3 {
		return "invalid assertion: not a JWT"
	}
	var hdr struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
	}
	if !decodeSegment(parts[0], &hdr) || hdr.Alg != "RS256" {
		return "invalid assertion: the header must be {\"alg\":\"RS256\",\"typ\":\"JWT\"}"
	}
	var c struct {
		Iss   string   `json:"iss"`
		Sub   string   `json:"sub"`
		Aud   string   `json:"aud"`
		Iat   *float64 `json:"iat"`
		Exp   *float64 `json:"exp"`
		Scope string   `json:"scope"`
	}
	if !decodeSegment(parts[1], &c) {
		return "invalid assertion: the claims are not JSON"
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return "no_valid_keys_or_signatures"
	}
	if f.opts.PublicKey != nil {
		digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
		if rsa.VerifyPKCS1v15(f.opts.PublicKey, crypto.SHA256, digest[:], sig) != nil {
			return "no_valid_keys_or_signatures"
		}
	}
	now := f.now()
	switch {
	case !strings.EqualFold(c.Iss, f.opts.IntegrationKey):
		return "issuer_not_found"
	case !strings.EqualFold(c.Sub, f.opts.UserID):
		return "user_not_found"
	case c.Aud != aud:
		return "invalid assertion: aud must be " + aud
	case c.Exp == nil || c.Iat == nil:
		return "invalid assertion: iat and exp are required"
	case !now.Before(time.Unix(int64(*c.Exp), 0)):
		return "invalid assertion: expired"
	case time.Unix(int64(*c.Iat), 0).After(now.Add(maxClockSkew)):
		return "invalid assertion: iat is in the future"
	case !hasScope(c.Scope, "signature"):
		return "invalid_scope"
	}
	return ""
}

func decodeSegment(s string, v any) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && json.Unmarshal(b, v) == nil
}

func hasScope(scopes, want string) bool {
	for _, s := range strings.Fields(scopes) {
		if s == want {
			return true
		}
	}
	return false
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return "eyJ0eXAiOiJNVCJ9." + base64.RawURLEncoding.EncodeToString(b)
}

// userInfo is GET /oauth/userinfo (providers.md A2), with the one account.
func (f *Fake) userInfo(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"sub":         f.opts.UserID,
		"name":        "Fake User",
		"given_name":  "Fake",
		"family_name": "User",
		"created":     "2015-08-13T22:03:03.45",
		"email":       "fake.user@example.com",
		"accounts": []map[string]any{{
			"account_id":   f.opts.AccountID,
			"is_default":   true,
			"account_name": "Fake Account",
			"base_uri":     f.baseURI(r),
		}},
	})
}
