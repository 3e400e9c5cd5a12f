package auth_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/auth"
)

// watchedBody records whether anything read it.
type watchedBody struct {
	io.Reader
	read atomic.Bool
}

func (b *watchedBody) Read(p []byte) (int, error) {
	b.read.Store(true)
	return b.Reader.Read(p)
}

func (b *watchedBody) Close() error { return nil }

// A call without a valid key, or without the role, is refused in its own protocol before
// anything reads its body; a call that passes reaches the handler with its caller.
func TestGateRefusesBeforeTheBodyIsRead(t *testing.T) {
	t.Parallel()
	const secret = "fh_gate_test_key_0123456789abcdef"
	a, _ := newAuth(secret)
	var reached atomic.Int32
	var caller atomic.Value
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		if p, ok := auth.FromContext(r.Context()); ok {
			caller.Store(p.UserID)
		}
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	})
	gate := a.Gate(next, func(_ context.Context, err error) error { return err })

	const userRPC = "/flowhook.v1.WorkflowInstanceService/ListAssignedToMe"
	const adminRPC = "/flowhook.v1.WorkflowInstanceService/ListInstances"
	call := func(path, contentType, authorization string, header map[string]string) (*httptest.ResponseRecorder, *watchedBody) {
		body := &watchedBody{Reader: strings.NewReader(`{"unknownField":1}`)}
		req := httptest.NewRequest(http.MethodPost, path, nil)
		req.Body = body
		req.Header.Set("Content-Type", contentType)
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		gate.ServeHTTP(rec, req)
		return rec, body
	}

	for _, tc := range []struct {
		name, path, contentType, authorization string
		header                                 map[string]string
		status                                 int
		grpcStatus                             string
	}{
		{name: "connect, no key", path: userRPC, contentType: "application/json", status: http.StatusUnauthorized},
		{name: "connect, unknown key", path: userRPC, contentType: "application/json", authorization: "Bearer fh_not_a_key_0123456789abcdef", status: http.StatusUnauthorized},
		{name: "connect, another scheme", path: userRPC, contentType: "application/proto", authorization: "Basic " + secret, status: http.StatusUnauthorized},
		{name: "connect, without the role", path: adminRPC, contentType: "application/json", authorization: "Bearer " + secret, status: http.StatusForbidden},
		// gRPC answers 200 with the code in grpc-status (16 Unauthenticated, 7 PermissionDenied).
		{name: "grpc, no key", path: userRPC, contentType: "application/grpc", status: http.StatusOK, grpcStatus: "16"},
		{name: "grpc, without the role", path: adminRPC, contentType: "application/grpc+proto", authorization: "Bearer " + secret, status: http.StatusOK, grpcStatus: "7"},
		{name: "grpc-web, no key", path: userRPC, contentType: "application/grpc-web+proto", status: http.StatusOK, grpcStatus: "16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := reached.Load()
			rec, body := call(tc.path, tc.contentType, tc.authorization, tc.header)
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			require.False(t, body.read.Load(), "the refused call's body was read")
			require.Equal(t, before, reached.Load(), "a refused call reached the handler")
			if tc.grpcStatus != "" {
				got := rec.Header().Get("Grpc-Status")
				if got == "" {
					got = rec.Result().Trailer.Get("Grpc-Status")
				}
				require.Equal(t, tc.grpcStatus, got)
			} else {
				require.Contains(t, rec.Body.String(), `"code"`)
			}
		})
	}

	t.Run("a caller with the role reaches the handler", func(t *testing.T) {
		before := reached.Load()
		rec, body := call(userRPC, "application/json", "Bearer "+secret, nil)
		require.Equal(t, http.StatusOK, rec.Code)
		require.True(t, body.read.Load())
		require.Equal(t, before+1, reached.Load())
		require.Equal(t, "u1", caller.Load())
	})

	t.Run("what is not a call of a known RPC goes on unjudged", func(t *testing.T) {
		// connect-go answers these itself (404, 415) without reading a body it cannot use.
		for _, c := range []struct{ path, contentType string }{
			{"/flowhook.v1.WorkflowInstanceService/NoSuchMethod", "application/json"},
			{userRPC, "text/plain"},
		} {
			before := reached.Load()
			rec, _ := call(c.path, c.contentType, "", nil)
			require.Equal(t, http.StatusOK, rec.Code, c)
			require.Equal(t, before+1, reached.Load(), c)
		}
	})
}

// The interceptor behind the gate does not authenticate a gated call again, but still
// refuses a call that did not come through the gate.
func TestInterceptorTrustsOnlyTheGate(t *testing.T) {
	t.Parallel()
	const secret = "fh_gate_test_key_0123456789abcdef"
	a, st := newAuth(secret)
	const rpc = "/flowhook.v1.WorkflowInstanceService/ListAssignedToMe"
	unary := a.Interceptor(func(_ context.Context, err error) error { return err }).WrapUnary(
		func(ctx context.Context, _ connect.AnyRequest) (connect.AnyResponse, error) {
			p, ok := auth.FromContext(ctx)
			require.True(t, ok)
			require.Equal(t, "u1", p.UserID)
			return nil, nil
		})
	// Through the gate: one lookup (the gate's), the call proceeds without a header of its own.
	gate := a.Gate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := connect.NewRequest(&struct{}{})
		_, err := unary(r.Context(), &specRequest{Request: req, procedure: rpc})
		require.NoError(t, err)
		w.WriteHeader(http.StatusNoContent)
	}), func(_ context.Context, err error) error { return err })
	req := httptest.NewRequest(http.MethodPost, rpc, strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+secret)
	rec := httptest.NewRecorder()
	gate.ServeHTTP(rec, req)
	require.Equal(t, http.StatusNoContent, rec.Code)
	require.Equal(t, 1, st.touched, "the key was looked up and its use recorded once")

	// Not through the gate, and with no header: refused.
	_, err := unary(context.Background(), &specRequest{Request: connect.NewRequest(&struct{}{}), procedure: rpc})
	require.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err))
}

// specRequest gives a request the procedure a handler would have set.
type specRequest struct {
	*connect.Request[struct{}]
	procedure string
}

func (r *specRequest) Spec() connect.Spec { return connect.Spec{Procedure: r.procedure} }

// A refusal for want of a role names every role that may call the procedure, ADMIN among them
// (an admin holds every role), so that it does not read as if admins may not.
func TestPermissionDeniedNamesEveryAllowedRole(t *testing.T) {
	t.Parallel()
	const secret = "fh_gate_test_key_0123456789abcdef"
	a, _ := newAuth(secret) // a USER
	gate := a.Gate(http.NotFoundHandler(), func(_ context.Context, err error) error { return err })
	for path, want := range map[string]string{
		"/flowhook.v1.WorkflowDesignService/CreateWorkflow":   "/flowhook.v1.WorkflowDesignService/CreateWorkflow needs one of the roles ADMIN, DESIGNER",
		"/flowhook.v1.WorkflowInstanceService/ListInstances":  "/flowhook.v1.WorkflowInstanceService/ListInstances needs the role ADMIN",
		"/flowhook.v1.ProviderSettingsService/ListConnectors": "/flowhook.v1.ProviderSettingsService/ListConnectors needs the role ADMIN",
	} {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+secret)
		rec := httptest.NewRecorder()
		gate.ServeHTTP(rec, req)
		require.Equal(t, http.StatusForbidden, rec.Code, path)
		var e struct{ Code, Message string }
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &e), rec.Body.String())
		require.Equal(t, "permission_denied", e.Code)
		require.Equal(t, want, e.Message)
	}
}
