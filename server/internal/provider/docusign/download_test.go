package docusign_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/provider/docusign"
	"github.com/flowhook/flowhook/server/internal/provider/docusign/docusignfake"
	"github.com/flowhook/flowhook/server/internal/provider/providertest"
)

// TestDownloadFailureKinds: a download that can never be kept (larger than the cap) is
// engine.ErrDocumentUnkeepable and an envelope DocuSign does not have engine.ErrGone, both
// permanent; a token refused after its refresh, a missing consent and a path DocuSign does not
// know (a wrong base URI) are permanent but neither, for an administrator to fix; an answer
// that is not a PDF (a proxy's page) is transient.
func TestDownloadFailureKinds(t *testing.T) {
	t.Parallel()
	const unknownEnvelope = "0b5c4e7a-1d2f-4a3b-9c8d-7e6f5a4b3c2d"
	for _, tc := range []struct {
		name string
		// prepare readies the bundle and returns the client and the envelope to download.
		prepare    func(t *testing.T, b *testBundle) (*docusign.Client, string)
		unkeepable bool
		gone       bool
		transient  bool // not a document of the provider's (a proxy's page): tried again
		status     int
		message    string
	}{
		{name: "larger than the cap", unkeepable: true, status: http.StatusOK, message: "larger than 20 bytes",
			prepare: func(t *testing.T, b *testBundle) (*docusign.Client, string) {
				c, err := docusign.NewClient(b.settings, providertest.HTTPClient(t), b.clock.Now,
					docusign.WithWait(b.waits.Wait), docusign.WithMaxDocumentSize(20))
				require.NoError(t, err)
				return c, completed(t, b)
			}},
		{name: "not a PDF", transient: true, status: http.StatusOK, message: "not a PDF",
			prepare: func(t *testing.T, b *testBundle) (*docusign.Client, string) {
				hc := providertest.HTTPClient(t)
				hc.Transport = providertest.AnswerRewriter{Next: hc.Transport, Suffix: "/documents/combined", Status: http.StatusOK, Body: []byte("<html>a proxy's login page</html>")}
				c, err := docusign.NewClient(b.settings, hc, b.clock.Now, docusign.WithWait(b.waits.Wait))
				require.NoError(t, err)
				return c, completed(t, b)
			}},
		{name: "envelope gone", gone: true, status: http.StatusBadRequest, message: "does not exist",
			prepare: func(_ *testing.T, b *testBundle) (*docusign.Client, string) { return b.client, unknownEnvelope }},
		{name: "token refused after its refresh", status: http.StatusUnauthorized,
			prepare: func(t *testing.T, b *testBundle) (*docusign.Client, string) {
				id := completed(t, b)
				b.fake.FailNext(2, docusignfake.Failure{Status: http.StatusUnauthorized, Code: "USER_AUTHENTICATION_FAILED"})
				return b.client, id
			}},
		{name: "consent missing", status: http.StatusBadRequest, message: "consent",
			prepare: func(t *testing.T, b *testBundle) (*docusign.Client, string) {
				b.fake.SetConsentRequired(true)
				return b.client, unknownEnvelope
			}},
		{name: "path unknown", status: http.StatusNotFound,
			prepare: func(t *testing.T, b *testBundle) (*docusign.Client, string) {
				id := completed(t, b)
				b.fake.FailNext(1, docusignfake.Failure{Status: http.StatusNotFound, Code: "RESOURCE_NOT_FOUND"})
				return b.client, id
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			c, id := tc.prepare(t, b)
			doc, err := c.Download(t.Context(), id)
			require.Nil(t, doc)
			providertest.RequireDownloadFailure(t, err, system, providertest.DownloadFailure{Status: tc.status, Message: tc.message,
				Transient: tc.transient, Unkeepable: tc.unkeepable, Gone: tc.gone})
		})
	}
}

// completed is an envelope created and completed at the fake.
func completed(t *testing.T, b *testBundle) string {
	t.Helper()
	id := b.create(t, "wi_download_kinds")
	require.NoError(t, b.fake.Complete(id))
	return id
}
