package docusign

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/flowhook/flowhook/server/internal/engine"
)

// Limits of the client's retries and reads.
const (
	// MaxRetries is how many times a rate-limited or failed request is tried again.
	MaxRetries = 3
	// MaxRetryWait caps one wait between tries; when DocuSign asks for longer (an exhausted
	// hourly limit), the client stops and reports the wait in ProviderError.RetryAfter instead.
	MaxRetryWait = 30 * time.Second
	// DefaultMaxDocumentSize caps a downloaded document.
	DefaultMaxDocumentSize int64 = 64 << 20

	maxJSONResponse    int64 = 8 << 20
	tokenRefreshMargin       = 5 * time.Minute
	defaultTokenLife         = time.Hour
	burstWindow              = 30 * time.Second // DocuSign's burst limit counts per 30 s
	baseBackoff              = time.Second
	jwtGrantType             = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	defaultHTTPTimeout       = 2 * time.Minute
)

// Client is a DocuSign eSignature REST v2.1 client for one account. It implements
// engine.ProviderClient and is safe for concurrent use.
type Client struct {
	settings    Settings
	key         *rsa.PrivateKey
	oauthBase   string // scheme://host[/prefix], no trailing slash
	aud         string // the bare OAuth host: the JWT's aud
	hc          *http.Client
	now         func() time.Time
	wait        func(ctx context.Context, d time.Duration) error
	maxDocument int64

	// signIn admits one sign-in at a time, so that concurrent callers with an expired token
	// share one token request; a channel rather than a mutex so that waiting respects ctx.
	signIn chan struct{}
	mu     sync.Mutex
	sess   *session
}

var _ engine.ProviderClient = (*Client)(nil)

// session is a token with the account it was resolved for. It is replaced, never changed.
type session struct {
	token     string
	refreshAt time.Time
	apiBase   string // {base_uri}/restapi/v2.1/accounts/{accountId}
	info      UserInfo
}

// UserInfo is who the client acts as, from /oauth/userinfo: what an administrator's "test
// connection" shows.
type UserInfo struct {
	UserID      string
	Name        string
	Email       string
	AccountID   string
	AccountName string
	// BaseURI is the account's REST host, e.g. https://demo.docusign.net.
	BaseURI string
}

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

// NewClient checks the settings and returns a client. httpClient nil means a client with a
// two-minute timeout; now nil means time.Now.
func NewClient(s Settings, httpClient *http.Client, now func() time.Time, opts ...Option) (*Client, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	key, err := parsePrivateKey(s.PrivateKeyPEM)
	if err != nil { // unreachable after Validate; kept so that key is never nil
		return nil, fmt.Errorf("docusign: private key %w", err)
	}
	u, err := parseOAuthBaseURL(s.OAuthBaseURL)
	if err != nil {
		return nil, fmt.Errorf("docusign: oauth base URL %w", err)
	}
	if httpClient == nil {
		httpClient = &http.Client{Timeout: defaultHTTPTimeout}
	}
	if now == nil {
		now = time.Now
	}
	c := &Client{
		settings:    s,
		key:         key,
		oauthBase:   u.String(),
		aud:         u.Hostname(),
		hc:          httpClient,
		now:         now,
		wait:        sleepCtx,
		maxDocument: DefaultMaxDocumentSize,
		signIn:      make(chan struct{}, 1),
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// Kind says the client is DocuSign's.
func (c *Client) Kind() engine.Provider { return engine.ProviderDocuSign }

// TestConnection signs in afresh (a new JWT grant and userinfo, whatever is cached) and says
// who the client acts as. The new session replaces the cached one.
func (c *Client) TestConnection(ctx context.Context) (UserInfo, error) {
	if err := c.lockSignIn(ctx); err != nil {
		return UserInfo{}, err
	}
	defer c.unlockSignIn()
	s, err := c.login(ctx)
	if err != nil {
		return UserInfo{}, err
	}
	c.mu.Lock()
	c.sess = s
	c.mu.Unlock()
	return s.info, nil
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

func (c *Client) lockSignIn(ctx context.Context) error {
	select {
	case c.signIn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Client) unlockSignIn() { <-c.signIn }

func (c *Client) cached() *session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess
}

// session returns a usable session: the cached one until five minutes before its token
// expires, else a new one. stale, when set, is a session whose token DocuSign just refused: it
// is replaced even if it looks fresh, unless another caller replaced it already.
func (c *Client) session(ctx context.Context, stale *session) (*session, error) {
	usable := func(s *session) bool { return s != nil && s != stale && c.now().Before(s.refreshAt) }
	if s := c.cached(); usable(s) {
		return s, nil
	}
	if err := c.lockSignIn(ctx); err != nil {
		return nil, err
	}
	defer c.unlockSignIn()
	if s := c.cached(); usable(s) {
		return s, nil
	}
	s, err := c.login(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.sess = s
	c.mu.Unlock()
	return s, nil
}

// login runs the JWT grant (providers.md A2) and resolves the account's base URI.
func (c *Client) login(ctx context.Context) (*session, error) {
	now := c.now()
	jwt, err := assertion(c.key, c.settings.IntegrationKey, c.settings.UserID, c.aud, now)
	if err != nil {
		return nil, fmt.Errorf("docusign: signing the JWT assertion: %w", err)
	}
	form := []byte(url.Values{"grant_type": {jwtGrantType}, "assertion": {jwt}}.Encode())
	resp, err := c.withRetry(ctx, true, func() (*response, error) {
		return c.send(ctx, http.MethodPost, c.oauthBase+"/oauth/token", form, "application/x-www-form-urlencoded", "application/json", "", maxJSONResponse)
	})
	if err != nil {
		return nil, fmt.Errorf("docusign: requesting an access token: %w", err)
	}
	if resp.status != http.StatusOK {
		return nil, providerError(resp)
	}
	var tok struct {
		AccessToken string  `json:"access_token"`
		TokenType   string  `json:"token_type"`
		ExpiresIn   flexInt `json:"expires_in"`
	}
	if err := json.Unmarshal(resp.body, &tok); err != nil || tok.AccessToken == "" {
		return nil, localError(resp.status, false, "the token response has no access_token")
	}
	if tok.TokenType != "" && !strings.EqualFold(tok.TokenType, "Bearer") {
		return nil, localError(resp.status, true, "the token response has token_type "+quote(tok.TokenType)+", want Bearer")
	}
	life := time.Duration(tok.ExpiresIn) * time.Second
	if tok.ExpiresIn <= 0 || tok.ExpiresIn > 1<<31 {
		life = defaultTokenLife
	}
	margin := min(tokenRefreshMargin, life/2) // a short-lived token is still used for a while
	info, apiBase, err := c.userInfo(ctx, tok.AccessToken)
	if err != nil {
		return nil, err
	}
	return &session{token: tok.AccessToken, refreshAt: now.Add(life - margin), apiBase: apiBase, info: info}, nil
}

// userInfo reads /oauth/userinfo and picks the configured account, or the default one.
func (c *Client) userInfo(ctx context.Context, token string) (UserInfo, string, error) {
	resp, err := c.withRetry(ctx, true, func() (*response, error) {
		return c.send(ctx, http.MethodGet, c.oauthBase+"/oauth/userinfo", nil, "", "application/json", token, maxJSONResponse)
	})
	if err != nil {
		return UserInfo{}, "", fmt.Errorf("docusign: reading userinfo: %w", err)
	}
	if resp.status != http.StatusOK {
		return UserInfo{}, "", providerError(resp)
	}
	var ui struct {
		Sub      string `json:"sub"`
		Name     string `json:"name"`
		Email    string `json:"email"`
		Accounts []struct {
			AccountID   string   `json:"account_id"`
			IsDefault   flexBool `json:"is_default"`
			AccountName string   `json:"account_name"`
			BaseURI     string   `json:"base_uri"`
		} `json:"accounts"`
	}
	if err := json.Unmarshal(resp.body, &ui); err != nil {
		return UserInfo{}, "", localError(resp.status, false, "the userinfo response is not JSON")
	}
	idx := -1
	for i, a := range ui.Accounts {
		if c.settings.AccountID != "" && strings.EqualFold(a.AccountID, c.settings.AccountID) ||
			c.settings.AccountID == "" && bool(a.IsDefault) {
			idx = i
			break
		}
	}
	if idx < 0 {
		if c.settings.AccountID != "" {
			return UserInfo{}, "", localError(0, true, "the user has no access to account "+c.settings.AccountID)
		}
		return UserInfo{}, "", localError(0, true, "the user has no default account; configure an account id")
	}
	acct := ui.Accounts[idx]
	base, err := url.Parse(acct.BaseURI)
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" || !isGUID(acct.AccountID) {
		return UserInfo{}, "", localError(0, false, "userinfo gave an unusable base_uri or account_id for the account")
	}
	info := UserInfo{
		UserID:      ui.Sub,
		Name:        ui.Name,
		Email:       ui.Email,
		AccountID:   acct.AccountID,
		AccountName: acct.AccountName,
		BaseURI:     strings.TrimRight(acct.BaseURI, "/"),
	}
	return info, info.BaseURI + "/restapi/v2.1/accounts/" + url.PathEscape(acct.AccountID), nil
}

// response is one HTTP exchange, its body read up to a limit.
type response struct {
	status     int
	header     http.Header
	body       []byte
	tooLarge   bool          // the body was longer than the limit and is cut
	retryAfter time.Duration // set on a 429/5xx that is not retried further
}

// call is one REST request below the account's base URI.
type call struct {
	op         string // for errors: "creating an envelope"
	method     string
	path       string // below /restapi/v2.1/accounts/{accountId}
	query      url.Values
	body       any
	accept     string
	idempotent bool // may a transport error or a 5xx be tried again?
	limit      int64
}

// api sends a call with the session's token: 429 and 5xx (of idempotent calls) are retried with
// backoff, a 401 gets a new token once, any other non-2xx becomes a *engine.ProviderError.
func (c *Client) api(ctx context.Context, cl call) (*response, error) {
	var payload []byte
	contentType := ""
	if cl.body != nil {
		b, err := json.Marshal(cl.body)
		if err != nil {
			return nil, fmt.Errorf("docusign: %s: %w", cl.op, err)
		}
		payload, contentType = b, "application/json"
	}
	if cl.accept == "" {
		cl.accept = "application/json"
	}
	if cl.limit == 0 {
		cl.limit = maxJSONResponse
	}
	s, err := c.session(ctx, nil)
	if err != nil {
		return nil, err
	}
	for refreshed := false; ; refreshed = true {
		target := s.apiBase + cl.path
		if len(cl.query) > 0 {
			target += "?" + cl.query.Encode()
		}
		resp, err := c.withRetry(ctx, cl.idempotent, func() (*response, error) {
			return c.send(ctx, cl.method, target, payload, contentType, cl.accept, s.token, cl.limit)
		})
		if err != nil {
			return nil, fmt.Errorf("docusign: %s: %w", cl.op, err)
		}
		if resp.status == http.StatusUnauthorized && !refreshed {
			if s, err = c.session(ctx, s); err != nil {
				return nil, err
			}
			continue
		}
		if resp.status/100 != 2 {
			return nil, providerError(resp)
		}
		return resp, nil
	}
}

// withRetry repeats try on 429, and on transport errors and 5xx when the request is
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

// retryDelay is how long DocuSign asked us to wait: Retry-After, else the hourly limit's
// reset time when it is exhausted, else the burst window when the burst limit is exhausted,
// else exponential backoff from one second.
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
	if strings.TrimSpace(h.Get("X-RateLimit-Remaining")) == "0" {
		if n, err := strconv.ParseInt(strings.TrimSpace(h.Get("X-RateLimit-Reset")), 10, 64); err == nil && n > 0 && n < 1<<40 {
			return min(max(time.Unix(n, 0).Sub(c.now()), 0), longest)
		}
	}
	if strings.TrimSpace(h.Get("X-BurstLimit-Remaining")) == "0" {
		return burstWindow
	}
	return baseBackoff << attempt
}

// send makes one HTTP exchange and reads the body, at most limit bytes of it.
func (c *Client) send(ctx context.Context, method, target string, body []byte, contentType, accept, token string, limit int64) (*response, error) {
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
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
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

// providerError turns a non-2xx answer into a *engine.ProviderError: REST errors carry
// {errorCode, message}, OAuth errors {error, error_description}. 408, 429 and 5xx are
// transient; every other status is permanent (a 401 only reaches here after a new token).
func providerError(resp *response) error {
	var body struct {
		ErrorCode        string `json:"errorCode"`
		Message          string `json:"message"`
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	_ = json.Unmarshal(resp.body, &body) // a body that is not JSON still gives the status
	code, msg := body.ErrorCode, body.Message
	if code == "" && body.Error != "" {
		code, msg = body.Error, body.ErrorDescription
	}
	if msg == "" && code == "consent_required" {
		msg = "the impersonated user has not granted consent to the integration key"
	}
	if msg == "" {
		msg = http.StatusText(resp.status)
	}
	pe := &engine.ProviderError{
		Provider:   engine.ProviderDocuSign,
		HTTPStatus: resp.status,
		Code:       clean(code, 100),
		Message:    clean(msg, 500),
		Permanent:  !isTransient(resp.status),
	}
	if !pe.Permanent {
		pe.RetryAfter = resp.retryAfter
	}
	return pe
}

// localError is a problem the client found in an answer DocuSign gave.
func localError(status int, permanent bool, msg string) error {
	return &engine.ProviderError{Provider: engine.ProviderDocuSign, HTTPStatus: status, Message: msg, Permanent: permanent}
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

// flexInt and flexBool accept a JSON number or boolean also when it comes as a string, as
// DocuSign sends most scalars.
type flexInt int64

func (n *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*n = 0
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return err
	}
	*n = flexInt(v)
	return nil
}

type flexBool bool

func (v *flexBool) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	*v = flexBool(strings.EqualFold(s, "true"))
	return nil
}
