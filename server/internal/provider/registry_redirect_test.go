package provider_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider"
)

// outsideClient is provider.HTTPClient for a test: no proxy from the environment (the calls
// go where the test says), its idle connections closed when the test ends.
func outsideClient(t *testing.T) *http.Client {
	t.Helper()
	hc := provider.HTTPClient(10 * time.Second)
	hc.Transport.(*http.Transport).Proxy = nil
	t.Cleanup(hc.CloseIdleConnections)
	return hc
}

// hits records the requests a server received.
type hits struct {
	mu      sync.Mutex
	headers []http.Header
}

func (h *hits) record(r *http.Request) {
	h.mu.Lock()
	h.headers = append(h.headers, r.Header.Clone())
	h.mu.Unlock()
}

// handler records each request and answers status.
func (h *hits) handler(status int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		h.record(r)
		w.WriteHeader(status)
	})
}

func (h *hits) all() []http.Header {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]http.Header(nil), h.headers...)
}

func port(t *testing.T, rawURL string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(strings.TrimPrefix(rawURL, "http://"))
	require.NoError(t, err)
	return p
}

// TestHTTPClientRefusesRedirectToAnotherHost: a system that redirects a call to another host
// (another name, another port) is not followed, so that the credentials the call carries —
// a connector's auth header and signature, which net/http would forward — never reach that
// host: the call fails, permanently, naming both hosts and no path or query.
func TestHTTPClientRefusesRedirectToAnotherHost(t *testing.T) {
	t.Parallel()
	var elsewhere hits
	other := httptest.NewServer(elsewhere.handler(http.StatusOK))
	defer other.Close()
	otherPort := port(t, other.URL)

	for _, target := range []string{"http://localhost:" + otherPort, "http://127.0.0.1:" + otherPort} {
		for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
			t.Run(target+" "+strconv.Itoa(status), func(t *testing.T) {
				var here hits
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					here.record(r)
					http.Redirect(w, r, target+"/landing?token=theirs", status)
				}))
				defer srv.Close()

				req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/items?token=tok-9f1e", strings.NewReader(`{}`))
				require.NoError(t, err)
				req.Header.Set("X-Api-Key", "ak-77c1d0")
				req.Header.Set("Webhook-Signature", "v1,c2lnbmF0dXJl")
				resp, err := outsideClient(t).Do(req)
				if resp != nil {
					_ = resp.Body.Close()
				}
				require.Error(t, err)
				require.ErrorIs(t, err, engine.ErrProviderPermanent, "a redirect elsewhere is the system's configuration: trying again does not help")
				require.Contains(t, err.Error(), srv.URL+" redirected to "+target+", another host: flowhook follows a redirect only on the host it called")
				require.NotContains(t, err.Error(), "tok-9f1e")
				require.Len(t, here.all(), 1)
				require.Empty(t, elsewhere.all(), "the other host is not called")
			})
		}
	}
}

// TestHTTPClientFollowsRedirectsOnItsHost: a redirect on the host called is followed with the
// request's headers and body, up to net/http's 10.
func TestHTTPClientFollowsRedirectsOnItsHost(t *testing.T) {
	t.Parallel()
	var (
		mu    sync.Mutex
		loops int
	)
	var final hits
	end := final.handler(http.StatusCreated)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/start":
			http.Redirect(w, r, "/next", http.StatusTemporaryRedirect)
		case "/next":
			// Absolute, the host written as the client wrote it.
			http.Redirect(w, r, "http://"+r.Host+"/end", http.StatusPermanentRedirect)
		case "/end":
			body, _ := io.ReadAll(r.Body)
			if string(body) != `{"a":1}` {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			end.ServeHTTP(w, r)
		default: // /loop: forever
			mu.Lock()
			loops++
			mu.Unlock()
			http.Redirect(w, r, "/loop", http.StatusFound)
		}
	}))
	defer srv.Close()
	hc := outsideClient(t)

	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/start", strings.NewReader(`{"a":1}`))
	require.NoError(t, err)
	req.Header.Set("X-Api-Key", "ak-77c1d0")
	resp, err := hc.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	got := final.all()
	require.Len(t, got, 1)
	require.Equal(t, "ak-77c1d0", got[0].Get("X-Api-Key"), "the host called keeps its credentials")

	resp, err = hc.Get(srv.URL + "/loop")
	if resp != nil {
		_ = resp.Body.Close()
	}
	require.ErrorContains(t, err, "stopped after 10 redirects")
	require.NotErrorIs(t, err, engine.ErrProviderPermanent)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, 10, loops, "the first request and 9 redirects; the 10th is not followed")
}

// TestHTTPClientRedirectOrigins: the host a redirect may go to is the scheme, host and port
// called, the host's case and a default port aside.
func TestHTTPClientRedirectOrigins(t *testing.T) {
	t.Parallel()
	check := provider.HTTPClient(time.Second).CheckRedirect
	request := func(raw string) *http.Request {
		r, err := http.NewRequest(http.MethodGet, raw, nil)
		require.NoError(t, err)
		return r
	}
	for _, tc := range []struct {
		from, to string
		refused  string // "": followed
	}{
		{"http://example.com/p-one", "http://example.com/p-two?x=1", ""},
		{"http://Example.COM/p-one", "http://example.com:80/p-two", ""},
		{"https://example.com:443/p-one", "https://EXAMPLE.com/p-two", ""},
		{"http://[::1]:8080/p-one", "http://[::1]:8080/p-two", ""},
		{"http://example.com/p-one", "https://example.com/p-one", "http://example.com:80 redirected to https://example.com:443, another host"},
		{"https://example.com/p-one", "http://example.com:443/p-one", "https://example.com:443 redirected to http://example.com:443, another host"},
		{"http://example.com/p-one", "http://example.com:8080/p-one", "http://example.com:80 redirected to http://example.com:8080, another host"},
		{"http://example.com/p-one", "http://api.example.com/p-one", "http://example.com:80 redirected to http://api.example.com:80, another host"},
		{"http://user:pw-4411@example.com/p-one?k=s", "http://169.254.169.254/latest/meta-data/", "http://example.com:80 redirected to http://169.254.169.254:80, another host"},
	} {
		err := check(request(tc.to), []*http.Request{request(tc.from)})
		if tc.refused == "" {
			require.NoError(t, err, "%s → %s", tc.from, tc.to)
			continue
		}
		require.ErrorContains(t, err, tc.refused, "%s → %s", tc.from, tc.to)
		require.NotContains(t, err.Error(), "pw-4411", "no credential of the URL")
		require.NotContains(t, err.Error(), "/p-one", "no path")
	}
	// The first request is the one compared with, not the last.
	via := []*http.Request{request("http://example.com/a"), request("http://example.com/b")}
	require.NoError(t, check(request("http://example.com/c"), via))
}

// TestHTTPClientRefusesLinkLocalAddresses: the outside-systems client connects to no
// link-local address (a cloud's metadata service answers at 169.254.169.254), multicast or
// unspecified address (0.0.0.0 reaches this machine), checked at connect time; loopback
// stays allowed (fakes run there).
func TestHTTPClientRefusesLinkLocalAddresses(t *testing.T) {
	t.Parallel()
	var here hits
	srv := httptest.NewServer(here.handler(http.StatusNoContent))
	defer srv.Close()
	srvPort := port(t, srv.URL)
	hc := outsideClient(t)
	dial := hc.Transport.(*http.Transport).DialContext

	for addr, want := range map[string]string{
		"169.254.169.254:80": "169.254.169.254 is a link-local address (such as a cloud's metadata service): flowhook does not call it",
		"0.0.0.0:" + srvPort: "0.0.0.0 is an unspecified address: flowhook does not call it",
		"224.0.0.251:80":     "224.0.0.251 is a multicast address: flowhook does not call it",
	} {
		c, err := dial(t.Context(), "tcp", addr)
		if c != nil {
			_ = c.Close()
		}
		require.ErrorContains(t, err, want, addr)
		require.ErrorIs(t, err, engine.ErrProviderPermanent, addr)
	}

	resp, err := hc.Get("http://0.0.0.0:" + srvPort + "/")
	if resp != nil {
		_ = resp.Body.Close()
	}
	require.ErrorContains(t, err, "0.0.0.0 is an unspecified address: flowhook does not call it")
	require.Empty(t, here.all())

	resp, err = hc.Get(srv.URL)
	require.NoError(t, err, "loopback is allowed")
	_ = resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
}
