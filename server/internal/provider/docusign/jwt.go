package docusign

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"time"
)

// assertionLifetime is the JWT's exp-iat, as in DocuSign's own examples (providers.md A2).
const assertionLifetime = time.Hour

// jwtScope asks for the eSignature API while impersonating the user.
const jwtScope = "signature impersonation"

type jwtClaims struct {
	Iss   string `json:"iss"`
	Sub   string `json:"sub"`
	Aud   string `json:"aud"`
	Iat   int64  `json:"iat"`
	Exp   int64  `json:"exp"`
	Scope string `json:"scope"`
}

// jwtHeader is fixed: RS256 is the only algorithm DocuSign's JWT grant takes.
var jwtHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`))

// assertion builds the RS256-signed JWT of the grant (providers.md A2); aud is the OAuth host
// without scheme or port.
func assertion(key *rsa.PrivateKey, integrationKey, userID, aud string, now time.Time) (string, error) {
	claims, err := json.Marshal(jwtClaims{
		Iss:   integrationKey,
		Sub:   userID,
		Aud:   aud,
		Iat:   now.Unix(),
		Exp:   now.Add(assertionLifetime).Unix(),
		Scope: jwtScope,
	})
	if err != nil {
		return "", err
	}
	signingInput := jwtHeader + "." + base64.RawURLEncoding.EncodeToString(claims)
	digest := sha256.Sum256([]byte(signingInput))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		return "", err
	}
	return signingInput + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}
