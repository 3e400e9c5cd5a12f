package connector_test

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/connector"
	swh "github.com/flowhook/flowhook/server/internal/provider/connector/standardwebhooks"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// system is the connector every test of this package talks to.
var system = engine.System{Provider: connector.Provider, Connector: "tickets"}

// testSecret is a fixed Standard Webhooks secret derived from seed, so that a test can look for
// it (and for nothing random) in notes, errors and views.
func testSecret(seed string) string {
	key := sha256.Sum256([]byte(seed))
	return swh.SecretPrefix + base64.StdEncoding.EncodeToString(key[:])
}

var (
	secretCurrent  = testSecret("current")
	secretPrevious = testSecret("previous")
	secretOther    = testSecret("other")
)

// signed is the Standard Webhooks headers of a message signed with secrets at ts.
func signed(t testing.TB, secrets []string, msgID string, ts time.Time, body []byte) http.Header {
	t.Helper()
	h := http.Header{}
	require.NoError(t, swh.SetHeaders(h, secrets, msgID, ts, body))
	return h
}
