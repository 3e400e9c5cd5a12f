package onespan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/flowhook/flowhook/server/internal/engine"
)

// Limits of the client's retries and reads.
const (
	// MaxRetries is how many times a rate-limited or failed request is tried again.
	MaxRetries = 3
	// MaxRetryWait caps one wait between tries; when OneSpan asks for longer, the client stops
	// and reports the wait in ProviderError.RetryAfter instead.
	MaxRetryWait = 30 * time.Second
	// DefaultMaxDocumentSize caps a downloaded zip or PDF.
	DefaultMaxDocumentSize int64 = 64 << 20
	// DefaultListPageSize and DefaultMaxListPages bound FindByWorkItem's listing.
	DefaultListPageSize = 100
	DefaultMaxListPages = 10

	maxJSONResponse    int64 = 8 << 20
	maxListResponse    int64 = 32 << 20 // a page of full packages
	baseBackoff              = time.Second
	defaultHTTPTimeout       = 2 * time.Minute
	jsonType                 = "application/json"
)

// Client is a OneSpan Sign REST client for one account. It implements engine.ProviderClient
// and is safe for concurrent use.
type Client struct {
	apiKey      string
	apiRoot     string // scheme://host[/prefix]/api, no trailing slash
	hc          *http.Client
	now         func() time.Time
	wait        func(ctx context.Context, d time.Duration) error
	maxDocument int64
	pageSize    int
	maxPages    int
}

var _ engine.ProviderClient = (*Client)(nil)

// Option changes a Client's defaults.
type Option func(*Client)

// WithWait replaces how the client waits between retries (tests pass one that returns at once
// and records the durations). wait must return ctx.Err() when ctx ends first.
func WithWait(wait func(ctx context.Context, d time.Duration) error) Option {
	return func(c *Client) { c.wait = wait }
}

// WithMaxDocumentSize changes the cap on a downloaded document (DefaultMaxDocumentSize).
func WithMaxDocumentSize(n int64) Option {
	return func(c *Client) { c.maxDocument = n }
}

// WithListPaging changes how many packages FindByWorkItem asks for per page and how many pages
// it reads at most (DefaultListPageSize, DefaultMaxListPages). Values below 1 keep the default.
func WithListPaging(pageSize, maxPages int) Option {
	return func(c *Client) {
		if pageSize > 0 {
			c.pageSize = pageSize
		}
		if maxPages > 0 {
			c.maxPages = maxPages
		}
	}
}

// NewClient checks the settings and returns a client. httpClient nil means a client with a
// two-minute timeout; now nil means time.Now.
func NewClient(s Settings, httpClient *http.Client, now func() time.Time, opts ...Option) (*Client, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	raw := s.BaseURL
	if raw == "" {
		raw = DefaultBaseURL
	}
	u, err := parseBaseURL(raw)
	if err != nil { // unreachable after Validate
		return nil, fmt.Errorf("onespan: base URL %w", err)
	}
	if httpClient == nil {
		httpClient = &http.Client{Timeout: defaultHTTPTimeout}
	}
	if now == nil {
		now = time.Now
	}
	c := &Client{
		apiKey:      s.APIKey,
		apiRoot:     u.String() + "/api",
		hc:          httpClient,
		now:         now,
		wait:        sleepCtx,
		maxDocument: DefaultMaxDocumentSize,
		pageSize:    DefaultListPageSize,
		maxPages:    DefaultMaxListPages,
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// Kind says the client is OneSpan's.
func (c *Client) Kind() engine.Provider { return engine.ProviderOneSpan }

// APIRoot is the URL requests go below, e.g. https://sandbox.esignlive.com/api.
func (c *Client) APIRoot() string { return c.apiRoot }

// ConnectionInfo is what an administrator's "test connection" shows.
type ConnectionInfo struct {
	// APIRoot is the URL the client talks to.
	APIRoot string
	// InboxPackages is how many packages OneSpan counts in the account's inbox.
	InboxPackages int
	// CallbackURL and CallbackEvents are the account's callback configuration (empty when
	// none is registered); CallbackKeySet says whether it has a key, which is not shown.
	CallbackURL    string
	CallbackEvents []string
	CallbackKeySet bool
}

// TestConnection makes two cheap authenticated reads, a one-package listing and the callback
// configuration, and says what it found. A refused API key is a permanent ProviderError.
func (c *Client) TestConnection(ctx context.Context) (ConnectionInfo, error) {
	resp, err := c.api(ctx, call{
		op: "listing packages", method: http.MethodGet, path: "/packages", idempotent: true,
		query: url.Values{"query": {"inbox"}, "from": {"1"}, "to": {"1"}},
	})
	if err != nil {
		return ConnectionInfo{}, err
	}
	var list struct {
		Count *int `json:"count"`
	}
	if err := json.Unmarshal(resp.body, &list); err != nil || list.Count == nil {
		return ConnectionInfo{}, localError(resp.status, false, "the package list has no count; is "+c.apiRoot+" OneSpan Sign's API?")
	}
	cb, err := c.GetCallback(ctx)
	if err != nil {
		return ConnectionInfo{}, err
	}
	return ConnectionInfo{
		APIRoot:        c.apiRoot,
		InboxPackages:  *list.Count,
		CallbackURL:    cb.URL,
		CallbackEvents: cb.Events,
		CallbackKeySet: cb.Key != "",
	}, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// response is one HTTP exchange, its body read up to a limit.
type response struct {
	status     int
	header     http.Header
	body       []byte
	tooLarge   bool          // the body was longer than the limit and is cut
	retryAfter time.Duration // set on a 429/5xx that is not retried further
}

// call is one REST request below the API root.
type call struct {
	op          string // for errors: "creating a package"
	method      string
	path        string // below /api, already escaped
	query       url.Values
	body        []byte
	contentType string
	accept      string
	idempotent  bool // may a transport error or a 5xx be tried again?
	limit       int64
}

// api sends a call: 408, 429 and 5xx (of idempotent calls) are retried with backoff, any
// other non-2xx becomes a *engine.ProviderError. There is no token to renew: a 401 is final.
func (c *Client) api(ctx context.Context, cl call) (*response, error) {
	if cl.accept == "" {
		cl.accept = jsonType
	}
	if cl.limit == 0 {
		cl.limit = maxJSONResponse
	}
	target := c.apiRoot + cl.path
	if len(cl.query) > 0 {
		target += "?" + cl.query.Encode()
	}
	resp, err := c.withRetry(ctx, cl.idempotent, func() (*response, error) {
		return c.send(ctx, cl.method, target, cl.body, cl.contentType, cl.accept, cl.limit)
	})
	if err != nil {
		return nil, fmt.Errorf("onespan: %s: %w", cl.op, c.scrub(err))
	}
	if resp.status/100 != 2 {
		return nil, c.providerError(resp)
	}
	return resp, nil
}

// jsonBody marshals a request body.
func jsonBody(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("onespan: %w", err)
	}
	return b, nil
}

// withRetry repeats try on 429, and on transport errors, 408 and 5xx when the request is
// idempotent, at most MaxRetries times. It returns the last response whatever its status.
func (c *Client) withRetry(ctx context.Context, idempotent bool, try func() (*response, error)) (*response, error) {
	for attempt := 0; ; attempt++ {
		resp, err := try()
		var delay time.Duration
		switch {
		case err != nil:
			if ctx.Err() != nil || !idempotent || attempt >= MaxRetries {
				return nil, err
			}
			delay = baseBackoff << attempt
		case isTransient(resp.status):
			delay = c.retryDelay(resp.header, attempt)
			// A create that failed with a 5xx may have been created all the same: the caller
			// looks for it (FindByWorkItem) before trying again, so it is not retried here.
			if attempt >= MaxRetries || delay > MaxRetryWait || (!idempotent && resp.status != http.StatusTooManyRequests) {
				resp.retryAfter = delay
				return resp, nil
			}
		default:
			return resp, nil
		}
		if err := c.wait(ctx, delay); err != nil {
			return nil, err
		}
	}
}

func isTransient(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status >= 500
}

// retryDelay is how long OneSpan asked us to wait (Retry-After, in seconds or as a date), else
// exponential backoff from one second. OneSpan documents no rate-limit headers of its own.
func (c *Client) retryDelay(h http.Header, attempt int) time.Duration {
	const longest = 24 * time.Hour
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
			return min(time.Duration(min(n, int64(longest/time.Second)))*time.Second, longest)
		}
		if t, err := http.ParseTime(v); err == nil {
			return min(max(t.Sub(c.now()), 0), longest)
		}
	}
	return baseBackoff << attempt
}

// send makes one HTTP exchange and reads the body, at most limit bytes of it.
func (c *Client) send(ctx context.Context, method, target string, body []byte, contentType, accept string, limit int64) (*response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", "flowhook")
	// The key as is (providers.md B2): OneSpan's API keys are not user:password pairs.
	req.Header.Set("Authorization", "Basic "+c.apiKey)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, err
	}
	r := &response{status: resp.StatusCode, header: resp.Header, body: b}
	if int64(len(b)) > limit {
		r.body, r.tooLarge = b[:limit], true
	}
	return r, nil
}

// apiError is OneSpan's error body (providers.md B3): {code, messageKey, name, message}, maybe
// with technical and entity.
type apiError struct {
	Code       json.RawMessage `json:"code"`
	MessageKey string          `json:"messageKey"`
	Name       string          `json:"name"`
	Message    string          `json:"message"`
	Technical  string          `json:"technical"`
}

func parseAPIError(body []byte) (apiError, bool) {
	var e apiError
	if err := json.Unmarshal(body, &e); err != nil {
		return apiError{}, false
	}
	return e, e.MessageKey != "" || e.Name != "" || e.Message != "" || len(e.Code) > 0
}

// providerError turns a non-2xx answer into a *engine.ProviderError with OneSpan's messageKey
// as the code and its message (else its name, else the HTTP status text). 408, 429 and 5xx are
// transient; every other status is permanent.
func (c *Client) providerError(resp *response) error {
	e, _ := parseAPIError(resp.body) // a body that is not JSON still gives the status
	msg := e.Message
	if msg == "" {
		msg = e.Name
	}
	if msg == "" {
		msg = http.StatusText(resp.status)
	}
	switch resp.status {
	case http.StatusUnauthorized:
		msg = "OneSpan refused the API key (check the API key and the base URL): " + msg
	case http.StatusForbidden:
		msg = "the API key's user may not do this: " + msg
	}
	pe := &engine.ProviderError{
		Provider:   engine.ProviderOneSpan,
		HTTPStatus: resp.status,
		Code:       c.redact(clean(e.MessageKey, 100)),
		Message:    c.redact(clean(msg, 500)),
		Permanent:  !isTransient(resp.status),
	}
	if !pe.Permanent {
		pe.RetryAfter = resp.retryAfter
	}
	return pe
}

// redact keeps the API key out of text that came from elsewhere (an error body echoing a
// header, a proxy's message).
func (c *Client) redact(s string) string {
	if c.apiKey == "" {
		return s
	}
	return strings.ReplaceAll(s, c.apiKey, "[redacted]")
}

// scrub keeps the API key out of a transport error.
func (c *Client) scrub(err error) error {
	if err == nil || c.apiKey == "" || !strings.Contains(err.Error(), c.apiKey) {
		return err
	}
	return errors.New(c.redact(err.Error()))
}

// localError is a problem the client found in an answer OneSpan gave.
func localError(status int, permanent bool, msg string) error {
	return &engine.ProviderError{Provider: engine.ProviderOneSpan, HTTPStatus: status, Message: msg, Permanent: permanent}
}

// clean keeps provider text printable and short, since it reaches administrators.
func clean(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.TrimSpace(s))
	if r := []rune(s); len(r) > n {
		s = string(r[:n]) + "…"
	}
	return s
}

func quote(s string) string { return strconv.Quote(clean(s, 40)) }

// parseTime reads OneSpan's dates: ISO-8601 UTC, with or without fractional seconds
// ("2020-08-21T14:12:34.544Z", "2017-11-21T15:12:35Z"), and the same without a zone, which is
// UTC.
func parseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), true
	}
	if t, err := time.ParseInLocation("2006-01-02T15:04:05.999999999", s, time.UTC); err == nil {
		return t, true
	}
	return time.Time{}, false
}
