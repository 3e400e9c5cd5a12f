package api_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/gen/flowhook/v1/flowhookv1connect"
	"github.com/flowhook/flowhook/server/internal/store"
)

// TestProviderConnectionNeedsAConnector: testing PROVIDER_CONNECTOR without a connector's name
// is an invalid request naming the field, not a connection test that fails at a system named
// "CONNECTOR".
func TestProviderConnectionNeedsAConnector(t *testing.T) {
	t.Parallel()
	b := setup(t, store.SQLite)
	_, err := b.settings.TestProviderConnection(t.Context(), connect.NewRequest(&flowhookv1.TestProviderConnectionRequest{
		Provider: flowhookv1.Provider_PROVIDER_CONNECTOR}))
	cerr := requireCode(t, err, connect.CodeInvalidArgument)
	ps := problems(t, cerr)
	require.Len(t, ps, 1, ps)
	require.Contains(t, ps["connector"], "is required when provider is PROVIDER_CONNECTOR")
	require.Contains(t, cerr.Message(), "connector: is required")

	// The same as JSON, as curl sends it.
	status, body := b.postRaw(t, flowhookv1connect.ProviderSettingsServiceTestProviderConnectionProcedure,
		"application/json", []byte(`{"provider":"PROVIDER_CONNECTOR"}`))
	require.Equal(t, http.StatusBadRequest, status, string(body))
	var raw rawError
	require.NoError(t, json.Unmarshal(body, &raw), string(body))
	require.Equal(t, "invalid_argument", raw.Code)
	require.Contains(t, raw.Message, "connector")
	require.NotContains(t, raw.Message, "not a connector system")
}
