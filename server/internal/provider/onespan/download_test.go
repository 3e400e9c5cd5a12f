package onespan_test

import (
	"archive/zip"
	"bytes"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/provider/onespan"
	"github.com/flowhook/flowhook/server/internal/provider/onespan/onespanfake"
	"github.com/flowhook/flowhook/server/internal/provider/providertest"
)

// emptyZip is a zip with no entries: its end of central directory alone ("PK\x05\x06…").
func emptyZip(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, zip.NewWriter(&buf).Close())
	require.True(t, bytes.HasPrefix(buf.Bytes(), []byte("PK\x05\x06")))
	return buf.Bytes()
}

// TestDownloadFailureKinds: a download that can never be kept (larger than the cap, a zip with
// no document) is engine.ErrDocumentUnkeepable and a package OneSpan does not have
// engine.ErrGone, both permanent; a refused API key, a forbidden call and a bare 404 (a wrong
// base URL, a proxy) are permanent but neither, for an administrator to fix; an answer that is
// not a zip or a PDF (a proxy's page) is transient.
func TestDownloadFailureKinds(t *testing.T) {
	t.Parallel()
	rewritten := func(suffix string, status int, body []byte) func(t *testing.T, b *testBundle) *onespan.Client {
		return func(t *testing.T, b *testBundle) *onespan.Client {
			hc := providertest.HTTPClient(t)
			hc.Transport = providertest.AnswerRewriter{Next: hc.Transport, Suffix: suffix, Status: status, Body: body}
			c, err := onespan.NewClient(b.settings, hc, b.clock.Now, onespan.WithWait(b.waits.Wait))
			require.NoError(t, err)
			return c
		}
	}
	for _, tc := range []struct {
		name string
		// client is the client to download with (nil: the bundle's); fake readies the fake.
		client     func(t *testing.T, b *testBundle) *onespan.Client
		fake       func(f *onespanfake.Fake)
		pdf        bool   // DownloadPDF of the package's first document, not Download
		id         string // the package to download ("": one created and completed)
		unkeepable bool
		gone       bool
		transient  bool // not a document of the provider's (a proxy's page): tried again
		status     int
		message    string
	}{
		{name: "larger than the cap", unkeepable: true, status: http.StatusOK, message: "larger than 20 bytes",
			client: func(t *testing.T, b *testBundle) *onespan.Client {
				c, err := onespan.NewClient(b.settings, providertest.HTTPClient(t), b.clock.Now,
					onespan.WithWait(b.waits.Wait), onespan.WithMaxDocumentSize(20))
				require.NoError(t, err)
				return c
			}},
		{name: "not a zip", transient: true, status: http.StatusOK, message: "not a zip",
			client: rewritten("/documents/zip", http.StatusOK, []byte("<html>a proxy's login page</html>"))},
		{name: "empty zip", unkeepable: true, status: http.StatusOK, message: "no documents",
			client: rewritten("/documents/zip", http.StatusOK, emptyZip(t))},
		{name: "document not a PDF", pdf: true, transient: true, status: http.StatusOK, message: "not a PDF",
			client: rewritten("/pdf", http.StatusOK, []byte("<html>a proxy's login page</html>"))},
		{name: "package gone", id: "bm90LWEtcGFja2FnZQ==", gone: true, status: http.StatusNotFound, message: "does not exist"},
		{name: "API key refused", status: http.StatusUnauthorized, message: "refused the API key",
			fake: func(f *onespanfake.Fake) {
				f.FailNextWith(1, onespanfake.Failure{Status: http.StatusUnauthorized, MessageKey: "error.unauthorised.noUser"})
			}},
		{name: "forbidden", status: http.StatusForbidden, message: "may not do this",
			fake: func(f *onespanfake.Fake) {
				f.FailNextWith(1, onespanfake.Failure{Status: http.StatusForbidden, MessageKey: "error.forbidden"})
			}},
		{name: "bare 404", status: http.StatusNotFound,
			fake: func(f *onespanfake.Fake) {
				f.FailNextWith(1, onespanfake.Failure{Status: http.StatusNotFound, RawBody: "<html>Not Found</html>"})
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			c := b.client
			if tc.client != nil {
				c = tc.client(t, b)
			}
			id := tc.id
			if id == "" {
				id = b.create(t, "wi_download_kinds")
				require.NoError(t, b.fake.Complete(id))
			}
			if tc.fake != nil {
				tc.fake(b.fake)
			}
			var doc []byte
			var err error
			if tc.pdf {
				st, _ := b.fake.State(id)
				doc, err = c.DownloadPDF(t.Context(), id, st.DocumentIDs[0])
			} else {
				doc, err = c.Download(t.Context(), id)
			}
			require.Nil(t, doc)
			providertest.RequireDownloadFailure(t, err, system, providertest.DownloadFailure{Status: tc.status, Message: tc.message,
				Transient: tc.transient, Unkeepable: tc.unkeepable, Gone: tc.gone})
		})
	}
}
