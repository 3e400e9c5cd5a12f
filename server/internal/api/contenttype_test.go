package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"github.com/stretchr/testify/require"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/gen/flowhook/v1/flowhookv1connect"
	"github.com/flowhook/flowhook/server/internal/store"
)

// TestUnsupportedContentTypeExplained: a request no RPC protocol reads (curl without -H
// 'Content-Type: application/json', a GET typed in a browser) keeps connect-go's status and
// headers, and says in a Connect error's JSON what to send instead of answering nothing. What
// an RPC protocol reads goes through untouched: Connect JSON with a charset, Connect's GET,
// binary protobuf, gRPC, gRPC-Web and gRPC health.
func TestUnsupportedContentTypeExplained(t *testing.T) {
	t.Parallel()
	b := setup(t, store.SQLite)
	ctx := context.Background()
	send := func(method, path string, contentType *string, body string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, b.baseURL+path, strings.NewReader(body))
		require.NoError(t, err)
		if contentType != nil {
			req.Header.Set("Content-Type", *contentType)
		}
		req.Header.Set("Authorization", "Bearer "+bootstrapKey)
		res, err := b.httpClient.Do(req)
		require.NoError(t, err)
		defer func() { require.NoError(t, res.Body.Close()) }()
		raw, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res, string(raw)
	}
	ct := func(s string) *string { return &s }
	list := flowhookv1connect.WorkflowInstanceServiceListInstancesProcedure
	create := flowhookv1connect.WorkflowDesignServiceCreateWorkflowProcedure

	for _, tc := range []struct {
		name        string
		method      string
		path        string
		contentType *string
		status      int
		header      string // a header connect-go sets, kept
		message     []string
	}{
		{"POST without a Content-Type", http.MethodPost, list, nil, http.StatusUnsupportedMediaType, "Accept-Post",
			[]string{"send Content-Type: application/json (or application/proto, or use a Connect/gRPC client)"}},
		{"POST as a form (curl -d)", http.MethodPost, list, ct("application/x-www-form-urlencoded"), http.StatusUnsupportedMediaType, "Accept-Post",
			[]string{`Content-Type "application/x-www-form-urlencoded" is not one this API reads`, "application/json"}},
		{"POST as text", http.MethodPost, create, ct("text/plain; charset=utf-8"), http.StatusUnsupportedMediaType, "Accept-Post",
			[]string{`"text/plain; charset=utf-8"`}},
		{"POST of a long made-up type", http.MethodPost, list, ct("application/" + strings.Repeat("x", 500)), http.StatusUnsupportedMediaType, "Accept-Post",
			[]string{"…\" is not one this API reads"}},
		{"GET of a procedure read with POST only", http.MethodGet, create, nil, http.StatusMethodNotAllowed, "Allow",
			[]string{"call this procedure with POST"}},
		{"GET of a side-effect-free procedure without its query", http.MethodGet, list, nil, http.StatusUnsupportedMediaType, "Accept-Post",
			[]string{"?encoding=json&message="}},
	} {
		res, body := send(tc.method, tc.path, tc.contentType, "{}")
		require.Equal(t, tc.status, res.StatusCode, "%s: %s", tc.name, body)
		require.NotEmpty(t, res.Header.Get(tc.header), tc.name)
		require.Equal(t, "application/json", res.Header.Get("Content-Type"), tc.name)
		var e struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &e), "%s: %q", tc.name, body)
		require.Equal(t, "invalid_argument", e.Code, tc.name)
		for _, m := range tc.message {
			require.Contains(t, e.Message, m, tc.name)
		}
		require.Less(t, len(e.Message), 400, "%s: the message does not grow with the header", tc.name)
	}

	// What RPC protocols read is answered as before.
	res, body := send(http.MethodPost, list, ct("application/json; charset=utf-8"), "{}")
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	require.JSONEq(t, `{}`, body, "no instances yet")
	res, body = send(http.MethodGet, list+"?encoding=json&message="+url.QueryEscape("{}"), nil, "")
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	require.JSONEq(t, `{}`, body)
	res, body = send(http.MethodPost, list, ct("application/json"), "{")
	require.Equal(t, http.StatusBadRequest, res.StatusCode, body)
	require.Contains(t, body, "invalid_argument")

	_, err := b.designGRPC.ListWorkflows(ctx, connect.NewRequest(&flowhookv1.ListWorkflowsRequest{}))
	require.NoError(t, err, "gRPC")
	grpcWeb := flowhookv1connect.NewWorkflowDesignServiceClient(b.httpClient, b.baseURL, append(b.opts, connect.WithGRPCWeb())...)
	_, err = grpcWeb.ListWorkflows(ctx, connect.NewRequest(&flowhookv1.ListWorkflowsRequest{}))
	require.NoError(t, err, "gRPC-Web")
	_, err = b.instances.ListInstances(ctx, connect.NewRequest(&flowhookv1.ListInstancesRequest{}))
	require.NoError(t, err, "Connect, binary protobuf")
	hres, err := grpchealth.NewClient(b.h2cClient, b.baseURL, connect.WithGRPC()).Check(ctx, &grpchealth.CheckRequest{})
	require.NoError(t, err, "gRPC health")
	require.Equal(t, grpchealth.StatusServing, hres.Status)
}
