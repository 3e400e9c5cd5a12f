package rest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/providertest"
	"github.com/flowhook/flowhook/server/internal/provider/rest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// now is the clients' time: a Retry-After date is read against it.
var now = time.Date(2026, 4, 29, 18, 0, 0, 0, time.UTC)

var errReset = errors.New("connection reset by peer")

// errRefused is a call the HTTP client refuses to make (provider.HTTPClient: a redirect to
// another host, an address it does not call): permanent, and errReset too for the test's check.
var errRefused = fmt.Errorf("%w %w: refused by the client", engine.ErrProviderPermanent, errReset)

// answer is what one try gets: the server's answer, or a transport error before it.
type answer struct {
	status int
	header map[string]string
	body   string
	reset  bool // the transport fails; the server sees nothing
	refuse bool // the client refuses the call (errRefused)
}

func status(code int, header ...string) answer {
	a := answer{status: code, header: map[string]string{}}
	for i := 0; i+1 < len(header); i += 2 {
		a.header[header[i]] = header[i+1]
	}
	return a
}

var (
	reset  = answer{reset: true}
	refuse = answer{refuse: true}
)

// reached is a request as the server received it.
type reached struct {
	method string
	header http.Header
	body   string
}

// exchange is an httptest server that answers each try with the next answer of its script,
// reached through a transport that fails the tries the script says.
type exchange struct {
	url    string
	hc     *http.Client
	base   http.RoundTripper
	script []answer

	mu    sync.Mutex
	tries int
	got   []reached
}

func newExchange(t *testing.T, script ...answer) *exchange {
	t.Helper()
	e := &exchange{script: script}
	srv := httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(srv.Close)
	e.url = srv.URL + "/api/things"
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	e.base = tr
	e.hc = &http.Client{Transport: e}
	return e
}

func (e *exchange) RoundTrip(r *http.Request) (*http.Response, error) {
	e.mu.Lock()
	n := e.tries
	e.tries++
	e.mu.Unlock()
	if n >= len(e.script) {
		return nil, errors.New("a try beyond the script")
	}
	if e.script[n].reset || e.script[n].refuse {
		if r.Body != nil {
			_ = r.Body.Close()
		}
		if e.script[n].refuse {
			return nil, errRefused
		}
		return nil, errReset
	}
	r = r.Clone(r.Context())
	r.Header.Set("X-Script-Try", strconv.Itoa(n))
	return e.base.RoundTrip(r)
}

func (e *exchange) serve(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.Atoi(r.Header.Get("X-Script-Try"))
	body, _ := io.ReadAll(r.Body)
	e.mu.Lock()
	e.got = append(e.got, reached{method: r.Method, header: r.Header.Clone(), body: string(body)})
	e.mu.Unlock()
	a := e.script[n]
	for k, v := range a.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, a.body)
}

func (e *exchange) Tries() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.tries
}

func (e *exchange) Reached() []reached {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]reached(nil), e.got...)
}

// TestDoRetries: what is tried again, how long is waited in between, and what is handed back.
func TestDoRetries(t *testing.T) {
	t.Parallel()
	s := time.Second
	date := now.Add(9 * time.Second).Format(http.TimeFormat)
	// rateLimit is a provider's own headers: X-Reset is a Unix time to wait for.
	rateLimit := func(h http.Header, now time.Time) time.Duration {
		n, err := strconv.ParseInt(h.Get("X-Reset"), 10, 64)
		if err != nil {
			return 0
		}
		return time.Unix(n, 0).Sub(now)
	}
	reset7 := strconv.FormatInt(now.Add(7*time.Second).Unix(), 10)
	cases := []struct {
		name       string
		client     rest.Client // HTTP, Now and Wait are set by the test
		idempotent bool
		script     []answer
		want       int // the status handed back; 0: an error
		waits      []time.Duration
		retryAfter time.Duration
	}{
		{"200 at once", rest.Client{}, false, []answer{status(200)}, 200, nil, 0},
		{"429 of a create is retried, Retry-After in seconds", rest.Client{}, false,
			[]answer{status(429, "Retry-After", "2"), status(429, "Retry-After", "3"), status(201)}, 201, []time.Duration{2 * s, 3 * s}, 0},
		{"429 with Retry-After as an HTTP date", rest.Client{}, false,
			[]answer{status(429, "Retry-After", date), status(200)}, 200, []time.Duration{9 * s}, 0},
		{"429 with a Retry-After date in the past: at once", rest.Client{}, true,
			[]answer{status(429, "Retry-After", now.Add(-time.Minute).Format(http.TimeFormat)), status(200)}, 200, []time.Duration{0}, 0},
		{"429 without Retry-After: exponential backoff", rest.Client{}, false,
			[]answer{status(429), status(429), status(200)}, 200, []time.Duration{s, 2 * s}, 0},
		{"429 with a Retry-After that is no number nor date: backoff", rest.Client{}, false,
			[]answer{status(429, "Retry-After", "soon"), status(200)}, 200, []time.Duration{s}, 0},
		{"408 retried when idempotent", rest.Client{}, true,
			[]answer{status(408), status(200)}, 200, []time.Duration{s}, 0},
		{"503 retried when idempotent, as long as Retry-After says", rest.Client{}, true,
			[]answer{status(503, "Retry-After", "5"), status(500), status(204)}, 204, []time.Duration{5 * s, 2 * s}, 0},
		{"500 not retried when not idempotent", rest.Client{}, false,
			[]answer{status(500, "Retry-After", "5")}, 500, nil, 5 * s},
		{"408 not retried when not idempotent", rest.Client{}, false,
			[]answer{status(408)}, 408, nil, s},
		{"400 never retried", rest.Client{}, true, []answer{status(400, "Retry-After", "5")}, 400, nil, 0},
		{"401 never retried", rest.Client{}, true, []answer{status(401)}, 401, nil, 0},
		{"404 never retried", rest.Client{}, true, []answer{status(404)}, 404, nil, 0},
		{"DefaultMaxRetries tries again", rest.Client{}, false,
			[]answer{status(429), status(429), status(429), status(429)}, 429, []time.Duration{s, 2 * s, 4 * s}, 8 * s},
		{"MaxRetries is respected", rest.Client{MaxRetries: 1}, true,
			[]answer{status(503, "Retry-After", "2"), status(503, "Retry-After", "3")}, 503, []time.Duration{2 * s}, 3 * s},
		{"a wait above DefaultMaxRetryWait is handed back, not waited", rest.Client{}, true,
			[]answer{status(429, "Retry-After", "31")}, 429, nil, 31 * s},
		{"a Retry-After beyond a day is a day", rest.Client{}, true,
			[]answer{status(429, "Retry-After", "999999999999")}, 429, nil, 24 * time.Hour},
		{"a wait of MaxRetryWait is waited", rest.Client{MaxRetryWait: 10 * s}, true,
			[]answer{status(429, "Retry-After", "10"), status(200)}, 200, []time.Duration{10 * s}, 0},
		{"a wait above MaxRetryWait is handed back", rest.Client{MaxRetryWait: 10 * s}, true,
			[]answer{status(429, "Retry-After", "10"), status(429, "Retry-After", "11")}, 429, []time.Duration{10 * s}, 11 * s},
		{"RateLimit when there is no Retry-After", rest.Client{RateLimit: rateLimit}, false,
			[]answer{status(429, "X-Reset", reset7), status(200)}, 200, []time.Duration{7 * s}, 0},
		{"Retry-After wins over RateLimit", rest.Client{RateLimit: rateLimit}, false,
			[]answer{status(429, "X-Reset", reset7, "Retry-After", "2"), status(200)}, 200, []time.Duration{2 * s}, 0},
		{"RateLimit saying nothing: backoff", rest.Client{RateLimit: rateLimit}, false,
			[]answer{status(429), status(429, "X-Reset", "garbage"), status(200)}, 200, []time.Duration{s, 2 * s}, 0},
		{"RateLimit above the cap is handed back", rest.Client{RateLimit: rateLimit}, false,
			[]answer{status(429, "X-Reset", strconv.FormatInt(now.Add(time.Hour).Unix(), 10))}, 429, nil, time.Hour},
		{"RateLimit days away is a day", rest.Client{RateLimit: rateLimit}, false,
			[]answer{status(429, "X-Reset", strconv.FormatInt(now.Add(72*time.Hour).Unix(), 10))}, 429, nil, 24 * time.Hour},
		{"a transport error retried when idempotent", rest.Client{}, true,
			[]answer{reset, reset, status(200)}, 200, []time.Duration{s, 2 * s}, 0},
		{"a transport error of a create is not retried", rest.Client{}, false, []answer{reset}, 0, nil, 0},
		{"a call the client refuses is not retried", rest.Client{}, true, []answer{refuse}, 0, nil, 0},
		{"transport errors beyond MaxRetries", rest.Client{MaxRetries: 2}, true,
			[]answer{reset, status(503), reset}, 0, []time.Duration{s, 2 * s}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newExchange(t, tc.script...)
			waits := &providertest.WaitLog{}
			c := tc.client
			c.HTTP, c.Now, c.Wait = e.hc, func() time.Time { return now }, waits.Wait
			method := http.MethodPost
			if tc.idempotent {
				method = http.MethodPut
			}
			resp, err := c.Do(t.Context(), rest.Request{Method: method, URL: e.url, Body: []byte(`{"n":1}`),
				ContentType: "application/json", Idempotent: tc.idempotent})
			require.Equal(t, len(tc.script), e.Tries(), "tries")
			require.Equal(t, tc.waits, waits.Waits())
			if tc.want == 0 {
				require.ErrorIs(t, err, errReset)
				require.Nil(t, resp)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, resp.Status)
			require.Equal(t, tc.want/100 == 2, resp.OK())
			require.Equal(t, tc.retryAfter, resp.RetryAfter)
			for i, r := range e.Reached() {
				require.Equal(t, method, r.method, "try %d", i)
				require.Equal(t, `{"n":1}`, r.body, "try %d sends the whole body again", i)
			}
		})
	}
}

// TestDoRequest: what each try carries — the request's headers, never changed by a try, and
// what Prepare adds to each try afresh — and that a failing Prepare sends nothing.
func TestDoRequest(t *testing.T) {
	t.Parallel()
	e := newExchange(t, status(503), status(503), status(200))
	waits := &providertest.WaitLog{}
	c := rest.Client{HTTP: e.hc, Wait: waits.Wait}
	header := http.Header{"Authorization": {"Bearer t0ken"}}
	prepared := 0
	resp, err := c.Do(t.Context(), rest.Request{Method: http.MethodGet, URL: e.url, Accept: "application/pdf", Header: header, Idempotent: true,
		Prepare: func(r *http.Request) error {
			prepared++
			require.Empty(t, r.Header.Values("X-Signature"), "each try starts from the request, not the last try")
			r.Header.Add("X-Signature", "try-"+strconv.Itoa(prepared))
			return nil
		}})
	require.NoError(t, err)
	require.Equal(t, 200, resp.Status)
	require.Equal(t, 3, prepared)
	for i, r := range e.Reached() {
		require.Equal(t, []string{"try-" + strconv.Itoa(i+1)}, r.header.Values("X-Signature"))
		require.Equal(t, "Bearer t0ken", r.header.Get("Authorization"))
		require.Equal(t, "application/pdf", r.header.Get("Accept"))
		require.Equal(t, "flowhook", r.header.Get("User-Agent"))
		require.Empty(t, r.header.Get("Content-Type"), "no body, no content type")
	}
	require.Equal(t, http.Header{"Authorization": {"Bearer t0ken"}}, header, "the request's header is left as it was")

	failing := newExchange(t)
	errPrepare := errors.New("no key to sign with")
	_, err = c.Do(t.Context(), rest.Request{Method: http.MethodGet, URL: failing.url, Idempotent: true,
		Prepare: func(*http.Request) error { return errPrepare }})
	require.ErrorIs(t, err, errPrepare)
	require.Zero(t, failing.Tries())
}

func TestDoLimit(t *testing.T) {
	t.Parallel()
	body := strings.Repeat("x", 100)
	cases := []struct {
		name     string
		limit    int64
		want     string
		tooLarge bool
	}{
		{"under the limit", 101, body, false},
		{"at the limit", 100, body, false},
		{"above the limit: cut", 10, body[:10], true},
		{"DefaultLimit", 0, body, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newExchange(t, answer{status: 200, body: body})
			c := rest.Client{HTTP: e.hc}
			resp, err := c.Do(t.Context(), rest.Request{Method: http.MethodGet, URL: e.url, Limit: tc.limit})
			require.NoError(t, err)
			require.Equal(t, tc.want, string(resp.Body))
			require.Equal(t, tc.tooLarge, resp.TooLarge)
		})
	}
}

// TestDefaultWait: without an injected Wait the client waits with a timer: it waits what it
// is asked (here a millisecond), retries at once after a zero wait, and returns ctx.Err() as
// soon as ctx ends instead of waiting out an hour.
func TestDefaultWait(t *testing.T) {
	t.Parallel()
	t.Run("waits and retries", func(t *testing.T) {
		t.Parallel()
		e := newExchange(t, status(429, "X-Wait", "1ms"), status(429, "Retry-After", "0"), status(200))
		c := rest.Client{HTTP: e.hc, RateLimit: func(h http.Header, _ time.Time) time.Duration {
			d, _ := time.ParseDuration(h.Get("X-Wait"))
			return d
		}}
		resp, err := c.Do(t.Context(), rest.Request{Method: http.MethodGet, URL: e.url})
		require.NoError(t, err)
		require.Equal(t, 200, resp.Status)
		require.Equal(t, 3, e.Tries())
	})
	t.Run("the context ends the wait", func(t *testing.T) {
		t.Parallel()
		e := newExchange(t, status(429))
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		// The answer has been read when RateLimit is asked: the context ends before the wait.
		c := rest.Client{HTTP: e.hc, MaxRetryWait: 2 * time.Hour, RateLimit: func(http.Header, time.Time) time.Duration {
			cancel()
			return time.Hour
		}}
		start := time.Now()
		resp, err := c.Do(ctx, rest.Request{Method: http.MethodGet, URL: e.url, Idempotent: true})
		require.ErrorIs(t, err, context.Canceled)
		require.Nil(t, resp)
		require.Less(t, time.Since(start), time.Minute)
		require.Equal(t, 1, e.Tries())
	})
	t.Run("a context that ended stops an injected wait too", func(t *testing.T) {
		t.Parallel()
		e := newExchange(t, status(429))
		c := rest.Client{HTTP: e.hc, Wait: func(context.Context, time.Duration) error { return context.DeadlineExceeded }}
		_, err := c.Do(t.Context(), rest.Request{Method: http.MethodGet, URL: e.url})
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Equal(t, 1, e.Tries())
	})
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		value string
		want  time.Duration
		ok    bool
	}{
		{"seconds", "7", 7 * time.Second, true},
		{"zero", "0", 0, true},
		{"spaces", " 7 ", 7 * time.Second, true},
		{"an HTTP date", now.Add(9 * time.Second).Format(http.TimeFormat), 9 * time.Second, true},
		{"an HTTP date in the past", now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"an HTTP date a week away", now.Add(7 * 24 * time.Hour).Format(http.TimeFormat), 24 * time.Hour, true},
		{"more than a day of seconds", "90000", 24 * time.Hour, true},
		{"more seconds than a Duration holds", "99999999999999999", 24 * time.Hour, true},
		{"none", "", 0, false},
		{"negative", "-1", 0, false},
		{"a fraction", "1.5", 0, false},
		{"a word", "soon", 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			if tc.value != "" {
				h.Set("Retry-After", tc.value)
			}
			d, ok := rest.RetryAfter(h, now)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.want, d)
		})
	}
}

func TestTransient(t *testing.T) {
	t.Parallel()
	for code, want := range map[int]bool{200: false, 400: false, 401: false, 404: false, 409: false,
		408: true, 429: true, 500: true, 502: true, 503: true, 504: true} {
		require.Equal(t, want, rest.Transient(code), code)
	}
}

func TestClean(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		n    int
		want string
	}{
		{"plain", 10, "plain"},
		{"  spaces around\n", 20, "spaces around"},
		{"line\nbreak\tand\x00nul\x1b[31m", 40, "line break and nul [31m"},
		{"exactly n runes", 15, "exactly n runes"},
		{"cut after five", 5, "cut a…"},
		{"héllo wörld", 5, "héllo…"},
		{"日本語のテキスト", 3, "日本語…"},
		{"", 5, ""},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, rest.Clean(tc.in, tc.n), "%q", tc.in)
	}
}

func TestQuote(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		n    int
		want string
	}{
		{"Bearer", 40, `"Bearer"`},
		{`say "hi"`, 40, `"say \"hi\""`},
		{"a\nb", 40, `"a b"`},
		{"abcdef", 3, `"abc…"`},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, rest.QuoteN(tc.in, tc.n), "%q", tc.in)
	}
	require.Equal(t, `"`+strings.Repeat("x", 40)+`…"`, rest.Quote(strings.Repeat("x", 50)), "Quote keeps 40 runes")
	require.Equal(t, `"short"`, rest.Quote("short"))
}

func TestParseTime(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2026-04-29T18:55:01Z", time.Date(2026, 4, 29, 18, 55, 1, 0, time.UTC), true},
		{"2026-04-29T18:55:01.1234567Z", time.Date(2026, 4, 29, 18, 55, 1, 123456700, time.UTC), true},
		{"2026-04-29T18:55:01.123456789Z", time.Date(2026, 4, 29, 18, 55, 1, 123456789, time.UTC), true},
		{"2026-04-29T20:55:01.5+02:00", time.Date(2026, 4, 29, 18, 55, 1, 500000000, time.UTC), true},
		{"2026-04-29T18:55:01.1234567", time.Date(2026, 4, 29, 18, 55, 1, 123456700, time.UTC), true},
		{"2026-04-29T18:55:01", time.Date(2026, 4, 29, 18, 55, 1, 0, time.UTC), true},
		{"  2026-04-29T18:55:01Z\n", time.Date(2026, 4, 29, 18, 55, 1, 0, time.UTC), true},
		{"", time.Time{}, false},
		{"   ", time.Time{}, false},
		{"2026-04-29", time.Time{}, false},
		{"29/04/2026 18:55", time.Time{}, false},
		{"2026-04-29T25:00:00Z", time.Time{}, false},
		{"garbage", time.Time{}, false},
		// Go's zero time is what every caller takes for "no time": a system that sends it has
		// sent none (found by FuzzParseEvent).
		{"0001-01-01T00:00:00Z", time.Time{}, false},
		{"0001-01-01T0:00:00", time.Time{}, false},
	}
	for _, tc := range cases {
		got, ok := rest.ParseTime(tc.in)
		require.Equal(t, tc.ok, ok, "%q", tc.in)
		require.Equal(t, tc.want, got, "%q", tc.in)
		if ok {
			require.Equal(t, time.UTC, got.Location(), "%q is read as UTC", tc.in)
		}
	}
}
