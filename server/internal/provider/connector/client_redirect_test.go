package connector_test

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider"
	"github.com/flowhook/flowhook/server/internal/provider/connector"
	"github.com/flowhook/flowhook/server/internal/provider/providertest"
)

// outsideClient is a connector's client over the HTTP client flowhook calls outside systems
// with (provider.HTTPClient, without a proxy from the environment), its URLs on base; its
// waits between tries return at once, and it reads clock.
func outsideClient(t *testing.T, clock *providertest.Clock, base string) *connector.Client {
	t.Helper()
	hc := provider.HTTPClient(10 * time.Second)
	hc.Transport.(*http.Transport).Proxy = nil
	t.Cleanup(hc.CloseIdleConnections)
	cfg := connector.Config{
		Name:          "tickets",
		CreateURL:     base + "/items?token=" + queryToken,
		StatusURL:     base + "/items/{id}",
		CancelURL:     base + "/items/{id}/cancel",
		SigningSecret: secretCurrent,
		AuthHeader:    "X-Api-Key: " + apiKey,
	}
	waits := &providertest.WaitLog{}
	return connector.NewClient(system, cfg, hc, clock.Now).WithWait(waits.Wait)
}

// requireRefused checks that a call failed permanently, as a provider error quoting reason
// and no credential.
func requireRefused(t *testing.T, err error, reason string) {
	t.Helper()
	var pe *engine.ProviderError
	require.True(t, errors.As(err, &pe), "a refused call is a provider error: %v", err)
	require.True(t, pe.Permanent)
	require.ErrorIs(t, err, engine.ErrProviderPermanent)
	require.Contains(t, err.Error(), reason)
	providertest.RequireNoSecret(t, err.Error(), apiKey, secretCurrent, queryToken, "token=")
}

// TestClientRefusesRedirectToAnotherHost: a connector's system that answers a call with a
// redirect to another host does not get its auth header and signature sent there: every call
// fails, permanently, naming both hosts, and the connection test reports that rather than the
// other host's answer.
func TestClientRefusesRedirectToAnotherHost(t *testing.T) {
	t.Parallel()
	clock := providertest.NewClock()
	other := newRemote(t, clock, reply(http.StatusOK, `{"type":"ticket.resolved","id":"TCK-1"}`))
	_, otherPort, err := net.SplitHostPort(strings.TrimPrefix(other.url, "http://"))
	require.NoError(t, err)
	elsewhere := "http://localhost:" + otherPort
	here := newRemote(t, clock, reply(http.StatusTemporaryRedirect, ``, "Location", elsewhere+"/landing"))
	c := outsideClient(t, clock, here.url)
	reason := here.url + " redirected to " + elsewhere + ", another host: flowhook follows a redirect only on the host it called"

	_, err = c.Create(t.Context(), workItem())
	requireRefused(t, err, reason)
	_, err = c.Status(t.Context(), "TCK-1")
	requireRefused(t, err, reason)
	requireRefused(t, c.Cancel(t.Context(), "TCK-1", "r"), reason)

	rep := connector.Plugin{}.TestConnection(t.Context(), c, "")
	require.False(t, rep.OK, "%+v", rep)
	require.Contains(t, rep.Message, reason)
	require.Empty(t, other.Tries(), "the other host is never called")
	require.NotEmpty(t, here.Tries())
}

// TestClientFollowsRedirectOnItsHost: a redirect on the host the connector calls is followed,
// with the body, auth header and signature.
func TestClientFollowsRedirectOnItsHost(t *testing.T) {
	t.Parallel()
	clock := providertest.NewClock()
	r := newRemote(t, clock,
		reply(http.StatusTemporaryRedirect, ``, "Location", "/v2/items"),
		reply(http.StatusCreated, `{"id":"TCK-1"}`),
		reply(http.StatusPermanentRedirect, ``, "Location", "/v2/items/TCK-1"),
		reply(http.StatusOK, `{"type":"ticket.resolved"}`))
	c := outsideClient(t, clock, r.url)

	id, err := c.Create(t.Context(), workItem())
	require.NoError(t, err)
	require.Equal(t, "TCK-1", id)
	st, err := c.Status(t.Context(), "TCK-1")
	require.NoError(t, err)
	require.Equal(t, "ticket.resolved", st.Status)

	tries := r.Tries()
	require.Len(t, tries, 4)
	require.Equal(t, []string{"/items", "/v2/items", "/items/TCK-1", "/v2/items/TCK-1"},
		[]string{tries[0].path, tries[1].path, tries[2].path, tries[3].path})
	require.Equal(t, http.MethodPost, tries[1].method)
	require.Equal(t, tries[0].body, tries[1].body)
	for _, tr := range tries {
		require.Equal(t, apiKey, tr.header.Get("X-Api-Key"))
		requireSigned(t, tr)
	}
}

// TestClientRefusesUnspecifiedAddress: a connector URL on an address flowhook does not call
// (0.0.0.0 reaches this machine; a link-local one a cloud's metadata service) fails at
// connect time, permanently, and the connection test says why instead of quoting an answer.
func TestClientRefusesUnspecifiedAddress(t *testing.T) {
	t.Parallel()
	clock := providertest.NewClock()
	r := newRemote(t, clock, reply(http.StatusOK, `{"type":"ticket.resolved"}`))
	_, port, err := net.SplitHostPort(strings.TrimPrefix(r.url, "http://"))
	require.NoError(t, err)
	c := outsideClient(t, clock, "http://0.0.0.0:"+port)
	reason := "0.0.0.0 is an unspecified address: flowhook does not call it"

	_, err = c.Status(t.Context(), "TCK-1")
	requireRefused(t, err, reason)
	require.Contains(t, err.Error(), "GET http://0.0.0.0:"+port+"/items/TCK-1: ")
	rep := connector.Plugin{}.TestConnection(t.Context(), c, "")
	require.False(t, rep.OK, "%+v", rep)
	require.Contains(t, rep.Message, reason)
	require.Empty(t, r.Tries())
}
