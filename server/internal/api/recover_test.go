package api

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/gen/flowhook/v1/flowhookv1connect"
	"github.com/flowhook/flowhook/server/internal/testlog"
)

// panickingIdentity is an identity service, for this test only, whose CreateUser panics.
type panickingIdentity struct {
	flowhookv1connect.UnimplementedIdentityServiceHandler
}

func (panickingIdentity) CreateUser(context.Context, *connect.Request[flowhookv1.CreateUserRequest]) (*connect.Response[flowhookv1.CreateUserResponse], error) {
	panic("boom: secret internal state")
}

// TestRecoverPanics: a handler's panic is answered with a bare Internal (no panic text goes to
// the client) and logged at ERROR with the procedure and the panic, not the request; the
// server goes on serving.
func TestRecoverPanics(t *testing.T) {
	t.Parallel()
	var logs testlog.Buffer // the server's goroutines write it
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	path, h := flowhookv1connect.NewIdentityServiceHandler(panickingIdentity{}, recoverPanics(log))
	srv := httptest.NewServer(h)
	defer srv.Close()
	require.Equal(t, flowhookv1connect.IdentityServiceName, path[1:len(path)-1])
	for _, proto := range []struct {
		name string
		opt  connect.ClientOption
	}{{"connect", connect.WithProtoJSON()}, {"grpc", connect.WithGRPC()}} {
		t.Run(proto.name, func(t *testing.T) {
			client := flowhookv1connect.NewIdentityServiceClient(srv.Client(), srv.URL, proto.opt)
			_, err := client.CreateUser(context.Background(), connect.NewRequest(&flowhookv1.CreateUserRequest{
				DisplayName: "Request Body Marker", Email: "marker@example.com"}))
			require.Equal(t, connect.CodeInternal, connect.CodeOf(err), "%v", err)
			var cerr *connect.Error
			require.ErrorAs(t, err, &cerr)
			require.Equal(t, "internal error", cerr.Message())
			require.NotContains(t, err.Error(), "boom")
		})
	}
	out := logs.String()
	require.Contains(t, out, `"level":"ERROR","msg":"panic in an RPC handler"`)
	require.Contains(t, out, `"procedure":"/flowhook.v1.IdentityService/CreateUser"`)
	require.Contains(t, out, `"panic":"boom: secret internal state"`)
	require.Contains(t, out, `"stack":`)
	require.NotContains(t, out, "Request Body Marker")
	require.NotContains(t, out, "marker@example.com")
}
