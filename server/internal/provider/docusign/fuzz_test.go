package docusign_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/docusign"
	"github.com/flowhook/flowhook/server/internal/provider/docusign/docusignfake"
	"github.com/flowhook/flowhook/server/internal/provider/providertest"
)

// FuzzVerify: Verify never panics, always accepts the right signature in any of the headers
// it reads, and accepts nothing else.
func FuzzVerify(f *testing.F) {
	for _, b := range providertest.Testdata(f, "events/*.json") {
		f.Add(b, "hV2Cq3m5r0gXk9uT1yZbN4eW7sJpL6aDfQ8cR2vM0oE=", "bm9wZQ==", uint8(1))
	}
	f.Add([]byte(""), "k", "", uint8(0))
	f.Add([]byte("what do ya want for nothing?"), "Jefe", "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=", uint8(3))
	f.Add([]byte("{}"), "", "  ", uint8(11))
	f.Fuzz(func(t *testing.T, body []byte, key, sig string, n uint8) {
		header := "X-DocuSign-Signature-" + strconv.Itoa(int(n))
		h := http.Header{header: {sig}}
		err := docusign.Verify(body, h, []string{key})
		switch {
		case key == "":
			require.ErrorIs(t, err, docusign.ErrNoKeys)
		case n < 1 || int(n) > docusign.MaxSignatures || strings.TrimSpace(sig) == "":
			require.ErrorIs(t, err, docusign.ErrNoSignature)
		case err == nil:
			require.Equal(t, docusignfake.Signature(body, key), strings.TrimSpace(sig), "accepted a signature that is not the HMAC")
		default:
			require.ErrorIs(t, err, docusign.ErrBadSignature)
		}
		if key == "" || n < 1 || int(n) > docusign.MaxSignatures {
			return
		}
		good := docusignfake.Signature(body, key)
		h.Set(header, good)
		require.NoError(t, docusign.Verify(body, h, []string{"another key", key}))
		require.ErrorIs(t, docusign.Verify(append(body[:len(body):len(body)], 'x'), h, []string{key}), docusign.ErrBadSignature)
	})
}

// FuzzParseEvent: ParseEvent never panics, fails only with its sentinels, fills what it
// promises, is deterministic, and gives a redelivery (another top-level retryCount) the same
// dedupe key.
func FuzzParseEvent(f *testing.F) {
	seeds := providertest.Testdata(f, "events/*.json")
	for _, s := range []string{``, `{}`, `null`, `[]`, `{"event":"x","data":{"envelopeId":"y"}}`,
		`{"event":"x","retryCount":"7","data":{"envelopeSummary":{"envelopeId":"z"}}}`,
		`{"event":"x","data":{"envelopeId":"y","envelopeSummary":{"recipients":{"signers":[{"declinedReason":"r"}]}}}}`,
		`{"event":"x","data":{"envelopeId":"y"},"retryCount":1e400}`} {
		seeds = append(seeds, []byte(s))
	}
	errs := []error{docusign.ErrMalformedEvent, docusign.ErrMissingEvent, docusign.ErrMissingEnvelopeID}
	providertest.FuzzParse(f, docusign.ParseEvent, system, errs, func(t *testing.T, body []byte, ev engine.InboundEvent) {
		var m map[string]json.RawMessage
		if json.Unmarshal(body, &m) != nil {
			return // valid for ParseEvent but not for a map (duplicate-key quirks): nothing more to check
		}
		m["retryCount"] = json.RawMessage(`9`)
		resent, err := json.Marshal(m)
		require.NoError(t, err)
		ev2, err := docusign.ParseEvent(resent)
		require.NoError(t, err)
		require.Equal(t, ev.DedupeKey, ev2.DedupeKey, "a redelivery must keep the dedupe key")
	}, seeds...)
}
