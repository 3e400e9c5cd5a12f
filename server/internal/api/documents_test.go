package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace/noop"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/provider/docusign/docusignfake"
	"github.com/flowhook/flowhook/server/internal/store"
	"github.com/flowhook/flowhook/server/internal/telemetry"
)

// TestDocumentLeftDueIsFetchedLater: a completion whose document's download fails (DocuSign
// refuses it) leaves the document due: the instance has moved, no document is kept, and
// flowhook_documents_due says 1 (the server's grace is the default's minutes). The server
// stops; a replica started after it on the same database, with a grace of a millisecond, runs
// the leader's sweep as it starts, which hands the mark to a fetch_document job, and the job
// keeps the document.
func TestDocumentLeftDueIsFetchedLater(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		tel, err := telemetry.New(noop.NewTracerProvider())
		require.NoError(t, err)
		b := setupDocuSignWith(t, d, tel, nil) // the default grace: this server leaves the mark alone
		ctx := context.Background()
		id, envID := b.toSignature(t)
		b.fake.FailNext(1, docusignfake.Failure{Status: http.StatusBadRequest, Code: "INVALID_REQUEST_PARAMETER",
			Message: "The request contained at least one invalid parameter."})
		require.NoError(t, b.fake.Complete(envID))
		b.settled(t, id, "done")
		require.Eventually(t, func() bool {
			due, ok := scrape(t, b.testBundle, "flowhook_documents_due")
			return ok && due == 1
		}, 20*time.Second, 10*time.Millisecond, "the failed download leaves the document due")
		_, err = b.starter.instances.GetSignedDocument(ctx, connect.NewRequest(&flowhookv1.GetSignedDocumentRequest{InstanceId: id}))
		requireCode(t, err, connect.CodeNotFound)

		b.stop()
		tel2, err := telemetry.New(noop.NewTracerProvider())
		require.NoError(t, err)
		cfg := b.cfg
		cfg.MarkGrace = time.Millisecond // the replica's sweep takes the mark at once
		r := serveWith(t, cfg, tel2)
		doc := awaitSignedDocument(t, r.instances, id, 60*time.Second) // the sweep's job fetches it
		require.True(t, strings.HasPrefix(string(doc.GetContent()), "%PDF-"))
		due, ok := scrape(t, r, "flowhook_documents_due")
		require.True(t, ok)
		require.Zero(t, due)
	})
}
