package docusign

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/rest"
)

// Limits of the client's retries and reads.
const (
	// MaxRetries is how many times a rate-limited or failed request is tried again; a wait
	// DocuSign asks for beyond rest.DefaultMaxRetryWait (an exhausted hourly limit) is not
	// waited for but reported in ProviderError.RetryAfter.
	MaxRetries = rest.DefaultMaxRetries
	// DefaultMaxDocumentSize caps a downloaded document.
	DefaultMaxDocumentSize int64 = 64 << 20

	maxJSONResponse    int64 = 8 << 20
	tokenRefreshMargin       = 5 * time.Minute
	defaultTokenLife         = time.Hour
	burstWindow              = 30 * time.Second // DocuSign's burst limit counts per 30 s
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
	rc          rest.Client
	now         func() time.Time
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
	return func(c *Client) { c.rc.Wait = wait }
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
		rc:          rest.Client{HTTP: httpClient, Now: now, RateLimit: rateLimit},
		now:         now,
		maxDocument: DefaultMaxDocumentSize,
		signIn:      make(chan struct{}, 1),
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

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
	resp, err := c.rc.Do(ctx, rest.Request{Method: http.MethodPost, URL: c.oauthBase + "/oauth/token", Body: form,
		ContentType: "application/x-www-form-urlencoded", Accept: "application/json", Idempotent: true, Limit: maxJSONResponse})
	if err != nil {
		return nil, fmt.Errorf("docusign: requesting an access token: %w", err)
	}
	if resp.Status != http.StatusOK {
		return nil, providerError(resp)
	}
	var tok struct {
		AccessToken string  `json:"access_token"`
		TokenType   string  `json:"token_type"`
		ExpiresIn   flexInt `json:"expires_in"`
	}
	if err := json.Unmarshal(resp.Body, &tok); err != nil || tok.AccessToken == "" {
		return nil, localError(resp.Status, false, "the token response has no access_token")
	}
	if tok.TokenType != "" && !strings.EqualFold(tok.TokenType, "Bearer") {
		return nil, localError(resp.Status, true, "the token response has token_type "+rest.Quote(tok.TokenType)+", want Bearer")
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
	resp, err := c.rc.Do(ctx, rest.Request{Method: http.MethodGet, URL: c.oauthBase + "/oauth/userinfo",
		Accept: "application/json", Header: bearer(token), Idempotent: true, Limit: maxJSONResponse})
	if err != nil {
		return UserInfo{}, "", fmt.Errorf("docusign: reading userinfo: %w", err)
	}
	if resp.Status != http.StatusOK {
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
	if err := json.Unmarshal(resp.Body, &ui); err != nil {
		return UserInfo{}, "", localError(resp.Status, false, "the userinfo response is not JSON")
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

// bearer is the header carrying an access token.
func bearer(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }

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
func (c *Client) api(ctx context.Context, cl call) (*rest.Response, error) {
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
		resp, err := c.rc.Do(ctx, rest.Request{Method: cl.method, URL: target, Body: payload, ContentType: contentType,
			Accept: cl.accept, Header: bearer(s.token), Idempotent: cl.idempotent, Limit: cl.limit})
		if err != nil {
			return nil, fmt.Errorf("docusign: %s: %w", cl.op, err)
		}
		if resp.Status == http.StatusUnauthorized && !refreshed {
			if s, err = c.session(ctx, s); err != nil {
				return nil, err
			}
			continue
		}
		if resp.Status/100 != 2 {
			return nil, providerError(resp)
		}
		return resp, nil
	}
}

// rateLimit is how long DocuSign's rate-limit headers ask us to wait when an answer carries
// no Retry-After: until the hourly limit's reset when it is exhausted, else the burst window
// when the burst limit is exhausted; zero when neither is.
func rateLimit(h http.Header, now time.Time) time.Duration {
	if strings.TrimSpace(h.Get("X-RateLimit-Remaining")) == "0" {
		if n, err := strconv.ParseInt(strings.TrimSpace(h.Get("X-RateLimit-Reset")), 10, 64); err == nil && n > 0 && n < 1<<40 {
			return max(time.Unix(n, 0).Sub(now), 0)
		}
	}
	if strings.TrimSpace(h.Get("X-BurstLimit-Remaining")) == "0" {
		return burstWindow
	}
	return 0
}

// providerError turns a non-2xx answer into a *engine.ProviderError: REST errors carry
// {errorCode, message}, OAuth errors {error, error_description}. 408, 429 and 5xx are
// transient; every other status is permanent (a 401 only reaches here after a new token).
// ENVELOPE_DOES_NOT_EXIST (a 400) is also gone (engine.ErrGone); a bare 404, a path DocuSign
// does not know (RESOURCE_NOT_FOUND: a wrong base URI), is not.
func providerError(resp *rest.Response) error {
	var body struct {
		ErrorCode        string `json:"errorCode"`
		Message          string `json:"message"`
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	_ = json.Unmarshal(resp.Body, &body) // a body that is not JSON still gives the status
	code, msg := body.ErrorCode, body.Message
	if code == "" && body.Error != "" {
		code, msg = body.Error, body.ErrorDescription
	}
	if msg == "" && code == "consent_required" {
		msg = "the impersonated user has not granted consent to the integration key"
	}
	if msg == "" {
		msg = http.StatusText(resp.Status)
	}
	pe := &engine.ProviderError{
		System:     system,
		HTTPStatus: resp.Status,
		Code:       rest.Clean(code, 100),
		Message:    rest.Clean(msg, 500),
		Permanent:  !rest.Transient(resp.Status),
		Gone:       code == envelopeDoesNotExist,
	}
	if !pe.Permanent {
		pe.RetryAfter = resp.RetryAfter
	}
	return pe
}

// envelopeDoesNotExist is DocuSign's errorCode for an envelope it does not have (any more).
const envelopeDoesNotExist = "ENVELOPE_DOES_NOT_EXIST"

// localError is a problem the client found in an answer DocuSign gave.
func localError(status int, permanent bool, msg string) error {
	return &engine.ProviderError{System: system, HTTPStatus: status, Message: msg, Permanent: permanent}
}

// unkeepable is a document DocuSign gave that can never be kept (engine.ErrDocumentUnkeepable).
func unkeepable(status int, msg string) error {
	return &engine.ProviderError{System: system, HTTPStatus: status, Message: msg, Permanent: true, Unkeepable: true}
}

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
