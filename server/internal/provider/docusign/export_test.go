package docusign

import (
	"net/http"
	"time"

	"github.com/flowhook/flowhook/server/internal/provider/rest"
)

// RetryDelay is how long the client waits after an answer with header h at time now.
func RetryDelay(h http.Header, now time.Time, attempt int) time.Duration {
	rc := rest.Client{Now: func() time.Time { return now }, RateLimit: rateLimit}
	return rc.RetryDelay(h, attempt)
}

// CanonicalObject is the dedupe key's canonical form of the JSON object b without drop.
func CanonicalObject(b []byte, drop string) ([]byte, error) { return canonicalObject(nil, b, drop) }
