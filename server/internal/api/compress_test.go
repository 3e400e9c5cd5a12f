package api_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/api"
	"github.com/flowhook/flowhook/server/internal/store"
)

// TestResponseCompression: a client that accepts gzip gets a small response as it is and a
// large one compressed (at gzip's fastest level, still gzip to any reader); one that does not
// accept it gets every response as it is; a request sent compressed is read.
func TestResponseCompression(t *testing.T) {
	t.Parallel()
	b := setup(t, store.Postgres)
	ctx := context.Background()
	for i := range 8 {
		_, err := b.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: b.draft(fmt.Sprintf("Contract %d", i))}))
		require.NoError(t, err)
	}

	// send sends a Connect unary JSON request, its body gzipped when zip is set, with the
	// Accept-Encoding given ("" sends "identity": Go's transport would otherwise ask for gzip
	// itself and hide the answer's encoding), and returns the response's status,
	// Content-Encoding and body, decompressed. Every answer advertises gzip, once.
	send := func(t *testing.T, procedure, acceptEncoding, body string, zip bool) (int, string, map[string]any) {
		t.Helper()
		var payload bytes.Buffer
		if zip {
			zw := gzip.NewWriter(&payload)
			_, err := zw.Write([]byte(body))
			require.NoError(t, err)
			require.NoError(t, zw.Close())
		} else {
			payload.WriteString(body)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.baseURL+procedure, &payload)
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+bootstrapKey)
		if zip {
			req.Header.Set("Content-Encoding", "gzip")
		}
		if acceptEncoding == "" {
			acceptEncoding = "identity"
		}
		req.Header.Set("Accept-Encoding", acceptEncoding)
		res, err := b.httpClient.Do(req)
		require.NoError(t, err)
		defer func() { require.NoError(t, res.Body.Close()) }()
		require.Equal(t, []string{"gzip"}, res.Header.Values("Accept-Encoding"), "the encodings the server reads")
		var rd io.Reader = res.Body
		encoding := res.Header.Get("Content-Encoding")
		if encoding == "gzip" {
			zr, err := gzip.NewReader(res.Body)
			require.NoError(t, err)
			rd = zr
		}
		raw, err := io.ReadAll(rd)
		require.NoError(t, err)
		var out map[string]any
		require.NoError(t, json.Unmarshal(raw, &out), "%s", raw)
		return res.StatusCode, encoding, out
	}
	post := func(t *testing.T, procedure, acceptEncoding string) (string, map[string]any) {
		t.Helper()
		status, encoding, out := send(t, procedure, acceptEncoding, `{}`, false)
		require.Equal(t, http.StatusOK, status, "%v", out)
		return encoding, out
	}

	const small, large = "/flowhook.v1.IdentityService/WhoAmI", "/flowhook.v1.WorkflowDesignService/ListWorkflows"
	enc, who := post(t, small, "gzip")
	require.Empty(t, enc, "a small response is not compressed")
	require.NotEmpty(t, who["user"])

	enc, list := post(t, large, "gzip")
	require.Equal(t, "gzip", enc, "a response over %d bytes is compressed for a client that accepts gzip", api.CompressMinBytes)
	require.Len(t, list["workflows"], 8)

	enc, list = post(t, large, "")
	require.Empty(t, enc, "nothing is compressed for a client that does not accept gzip")
	require.Len(t, list["workflows"], 8)
	raw, err := json.Marshal(list)
	require.NoError(t, err)
	require.Greater(t, len(raw), api.CompressMinBytes, "the large response is over the threshold")

	// A request body in gzip (Connect's Content-Encoding) goes through the same registered
	// codec the other way, and the request size limit holds for what it inflates to.
	status, _, list := send(t, large, "", `{"pageSize": 3}`, true)
	require.Equal(t, http.StatusOK, status, "%v", list)
	require.Len(t, list["workflows"], 3, "the compressed request's page_size was read")

	// 2 MiB once inflated (a few KiB on the wire), over the server's 1 MiB limit.
	status, _, refused := send(t, large, "", `{"pageToken": "`+strings.Repeat("a", 2<<20)+`"}`, true)
	require.Equal(t, "resource_exhausted", refused["code"], "%v", refused)
	require.Equal(t, http.StatusTooManyRequests, status, "Connect's status for resource_exhausted")
}
