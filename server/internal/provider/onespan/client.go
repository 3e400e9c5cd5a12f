package onespan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/rest"
)

// Limits of the client's retries and reads.
const (
	// MaxRetries is how many times a rate-limited or failed request is tried again; a wait
	// OneSpan asks for beyond rest.DefaultMaxRetryWait is not waited for but reported in
	// ProviderError.RetryAfter.
	MaxRetries = rest.DefaultMaxRetries
	// DefaultMaxDocumentSize caps a downloaded zip or PDF.
	DefaultMaxDocumentSize int64 = 64 << 20
	// DefaultListPageSize and DefaultMaxListPages bound FindByWorkItem's listing.
	DefaultListPageSize = 100
	DefaultMaxListPages = 10

	maxJSONResponse    int64 = 8 << 20
	maxListResponse    int64 = 32 << 20 // a page of full packages
	defaultHTTPTimeout       = 2 * time.Minute
	jsonType                 = "application/json"
)

// Client is a OneSpan Sign REST client for one account. It implements engine.ProviderClient
// and is safe for concurrent use.
type Client struct {
	apiKey      string
	apiRoot     string // scheme://host[/prefix]/api, no trailing slash
	rc          rest.Client
	now         func() time.Time
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
	return func(c *Client) { c.rc.Wait = wait }
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
		rc:          rest.Client{HTTP: httpClient, Now: now},
		now:         now,
		maxDocument: DefaultMaxDocumentSize,
		pageSize:    DefaultListPageSize,
		maxPages:    DefaultMaxListPages,
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

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
	if err := json.Unmarshal(resp.Body, &list); err != nil || list.Count == nil {
		return ConnectionInfo{}, localError(resp.Status, false, "the package list has no count; is "+c.apiRoot+" OneSpan Sign's API?")
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
func (c *Client) api(ctx context.Context, cl call) (*rest.Response, error) {
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
	// The key as is (providers.md B2): OneSpan's API keys are not user:password pairs.
	resp, err := c.rc.Do(ctx, rest.Request{Method: cl.method, URL: target, Body: cl.body, ContentType: cl.contentType,
		Accept: cl.accept, Header: http.Header{"Authorization": {"Basic " + c.apiKey}}, Idempotent: cl.idempotent, Limit: cl.limit})
	if err != nil {
		return nil, fmt.Errorf("onespan: %s: %w", cl.op, c.scrub(err))
	}
	if resp.Status/100 != 2 {
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
// transient; every other status is permanent. A 404 with OneSpan's error body is also gone
// (engine.ErrGone): the thing does not exist. A bare 404 (a wrong base URL, a proxy) is not.
func (c *Client) providerError(resp *rest.Response) error {
	e, _ := parseAPIError(resp.Body) // a body that is not JSON still gives the status
	msg := e.Message
	if msg == "" {
		msg = e.Name
	}
	if msg == "" {
		msg = http.StatusText(resp.Status)
	}
	switch resp.Status {
	case http.StatusUnauthorized:
		msg = "OneSpan refused the API key (check the API key and the base URL): " + msg
	case http.StatusForbidden:
		msg = "the API key's user may not do this: " + msg
	}
	pe := &engine.ProviderError{
		System:     system,
		HTTPStatus: resp.Status,
		Code:       c.redact(rest.Clean(e.MessageKey, 100)),
		Message:    c.redact(rest.Clean(msg, 500)),
		Permanent:  !rest.Transient(resp.Status),
	}
	pe.Gone = resp.Status == http.StatusNotFound && pe.Code != ""
	if !pe.Permanent {
		pe.RetryAfter = resp.RetryAfter
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
	return &engine.ProviderError{System: system, HTTPStatus: status, Message: msg, Permanent: permanent}
}

// unkeepable is a document OneSpan gave that can never be kept (engine.ErrDocumentUnkeepable).
func unkeepable(status int, msg string) error {
	return &engine.ProviderError{System: system, HTTPStatus: status, Message: msg, Permanent: true, Unkeepable: true}
}
