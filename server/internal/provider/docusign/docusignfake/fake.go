package docusignfake

import (
	"cmp"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flowhook/flowhook/server/internal/provider/fakegate"
	"github.com/flowhook/flowhook/server/internal/provider/fakehook"
)

// Options configure a Fake. Zero values get defaults.
type Options struct {
	// AccountID is the one account the user belongs to (default: a new GUID).
	AccountID string
	// IntegrationKey and UserID are the JWT assertion's required iss and sub (default: new GUIDs).
	IntegrationKey string
	UserID         string
	// PublicKey verifies the assertion's RS256 signature. Nil accepts any signature, checking
	// only the claims.
	PublicKey *rsa.PublicKey
	// Audience is the aud the assertion must carry (default: the host the request came to,
	// without port, as DocuSign's is its own bare host).
	Audience string
	// BaseURI is the base_uri userinfo gives (default: scheme://host of the request).
	BaseURI string
	// HMACKeys sign Connect messages, one X-DocuSign-Signature-N header per key.
	HMACKeys []string
	// TokenLifetime is an access token's expires_in (default: one hour).
	TokenLifetime time.Duration
	// Now is the fake's clock (default: time.Now).
	Now func() time.Time
	// HTTPClient posts Connect messages (default: a client with DeliveryTimeout).
	HTTPClient *http.Client
	// DeliveryTimeout bounds one Connect POST (default: 100 s, DocuSign's).
	DeliveryTimeout time.Duration
	// Keep bounds the requests and the deliveries the fake keeps for reading to the newest
	// Keep of each (default: all, as a test wants; flowhook dev's sandbox, which runs for days,
	// keeps a bound). Its items and their creates are kept whatever Keep says.
	Keep int
	// ConfigurationID is the configurationId of messages (default: 1).
	ConfigurationID int64
}

// Failure is an error the fake answers API requests with, for FailNext.
type Failure struct {
	// Status is the HTTP status: 429, or 5xx.
	Status int
	// Code and Message form the {errorCode, message} body (defaults by status).
	Code    string
	Message string
	// RetryAfter is sent as Retry-After in seconds when positive (a 429 defaults to 1 s).
	RetryAfter time.Duration
}

// RetryPolicy is how Connect re-sends a message that failed, when the envelope's
// eventNotification has requireAcknowledgment "true" (providers.md A7).
type RetryPolicy struct {
	// Max is how many times one message is retried at most (DocuSign: 10).
	Max int
	// Immediate re-sends at once, retryCount+1 each time. Otherwise the URL is marked down:
	// the message and every later one for that URL wait for RetryPending, DocuSign's daily
	// retry; after one success the rest follow at once, in order.
	Immediate bool
}

// Request is one HTTP request the fake answered.
type Request struct {
	Method string
	Path   string
	Query  string
	Status int
}

// CreateRequest is one POST …/envelopes the fake received.
type CreateRequest struct {
	// Raw is the body exactly as sent.
	Raw json.RawMessage
	// Definition is Raw decoded (zero when Raw is not valid JSON for it).
	Definition EnvelopeDefinition
	// EnvelopeID is the created envelope's id; empty when the fake refused the request.
	EnvelopeID string
	// ErrorCode is the errorCode of a refusal.
	ErrorCode string
}

// Delivery is one Connect POST.
type Delivery struct {
	EnvelopeID string
	Event      string
	RetryCount int
	URL        string
	// StatusCode is the listener's answer; 0 when the request failed (Err says why).
	StatusCode int
	Err        string
	Header     http.Header
	Body       []byte
}

// OK reports whether DocuSign would count the delivery as acknowledged (2xx).
func (d Delivery) OK() bool { return d.StatusCode >= 200 && d.StatusCode < 300 }

// Fake is a local DocuSign. Its methods are safe for concurrent use.
type Fake struct {
	opts Options
	now  func() time.Time

	mu            sync.Mutex
	tokens        map[string]time.Time // access token → expiry
	tokenLifetime time.Duration
	hmacKeys      []string
	lookups       fakegate.Gate // holds listStatusChanges (HoldLookups)
	envelopes     map[string]*envelope
	rateWindow    time.Time // start of the hour counted by X-RateLimit-*
	rateCount     int
	burstWindow   time.Time
	burstCount    int

	// Knobs and what tests read: each is safe for concurrent use on its own, without f.mu.
	consentMissing atomic.Bool
	failures       fakehook.Queue[Failure]
	dropNextCreate fakehook.Trigger
	creates        fakehook.Log[CreateRequest]
	requests       fakehook.Log[Request]

	// Connect: the sender holds its own lock, so f.mu is never held while it posts.
	hooks   *connectSender
	connect *connectPolicy
}

// Rate limits the fake advertises (DocuSign's production defaults, providers.md A3).
const (
	hourlyLimit = 3000
	burstLimit  = 500
)

// New returns a fake with the options' defaults filled in.
func New(opts Options) *Fake {
	if opts.AccountID == "" {
		opts.AccountID = uuid.NewString()
	}
	if opts.IntegrationKey == "" {
		opts.IntegrationKey = uuid.NewString()
	}
	if opts.UserID == "" {
		opts.UserID = uuid.NewString()
	}
	if opts.TokenLifetime <= 0 {
		opts.TokenLifetime = time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.DeliveryTimeout <= 0 {
		opts.DeliveryTimeout = 100 * time.Second
	}
	if opts.ConfigurationID == 0 {
		opts.ConfigurationID = 1
	}
	connect := &connectPolicy{retry: RetryPolicy{Max: 10}, down: map[string]bool{}}
	hooks := fakehook.New(fakehook.Options[*outgoing]{Name: "docusignfake", Client: opts.HTTPClient, Timeout: opts.DeliveryTimeout, Policy: connect, Keep: opts.Keep})
	f := &Fake{
		opts:          opts,
		now:           opts.Now,
		tokens:        map[string]time.Time{},
		tokenLifetime: opts.TokenLifetime,
		hmacKeys:      slices.Clone(opts.HMACKeys),
		envelopes:     map[string]*envelope{},
		hooks:         hooks,
		connect:       connect,
	}
	f.requests.Keep(opts.Keep)
	return f
}

// Start serves the fake on a local httptest server for the test's lifetime and returns its URL,
// which is both the OAuth base URL and the REST base_uri.
func (f *Fake) Start(t testing.TB) string {
	t.Helper()
	return f.hooks.Start(t, f.Handler())
}

// AccountID, IntegrationKey and UserID are the identities the fake expects.
func (f *Fake) AccountID() string      { return f.opts.AccountID }
func (f *Fake) IntegrationKey() string { return f.opts.IntegrationKey }
func (f *Fake) UserID() string         { return f.opts.UserID }

// Handler serves DocuSign's OAuth and REST endpoints.
func (f *Fake) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/token", f.token)
	mux.Handle("GET /oauth/userinfo", f.authed(http.HandlerFunc(f.userInfo)))
	const acct = "/restapi/v2.1/accounts/{accountId}"
	api := func(pattern string, h http.HandlerFunc) {
		method, path, _ := strings.Cut(pattern, " ")
		mux.Handle(method+" "+acct+path, f.limited(f.authed(f.account(h))))
	}
	api("POST /envelopes", f.createEnvelope)
	api("GET /envelopes", f.listStatusChanges)
	api("GET /envelopes/{envelopeId}", f.getEnvelope)
	api("PUT /envelopes/{envelopeId}", f.updateEnvelope)
	api("GET /envelopes/{envelopeId}/documents/{documentId}", f.getDocument)
	mux.Handle("/restapi/", f.limited(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "RESOURCE_NOT_FOUND", "The URL provided does not resolve to a resource.")
	})))
	return f.recorded(mux)
}

// --- knobs ---

// FailNext answers the next n API requests (under /restapi) with the failure. A 429 carries
// X-RateLimit-*, X-BurstLimit-* (burst exhausted) and Retry-After headers.
func (f *Fake) FailNext(n int, fl Failure) {
	fl.Status = cmp.Or(fl.Status, http.StatusTooManyRequests)
	code, msg := "UNSPECIFIED_ERROR", "An unexpected error occurred."
	if fl.Status == http.StatusTooManyRequests {
		code, msg = "Burst_APIInvocation_Envelope_Limit_Exceeded", "The maximum number of API requests in the burst window has been exceeded."
		fl.RetryAfter = cmp.Or(fl.RetryAfter, time.Second)
	}
	fl.Code, fl.Message = cmp.Or(fl.Code, code), cmp.Or(fl.Message, msg)
	f.failures.Push(n, fl)
}

// SetTokenLifetime changes expires_in of tokens issued from now on.
func (f *Fake) SetTokenLifetime(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokenLifetime = d
}

// RevokeTokens makes every access token issued so far invalid (401 on next use).
func (f *Fake) RevokeTokens() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.tokens)
}

// SetConsentRequired makes the token endpoint answer {"error":"consent_required"}.
func (f *Fake) SetConsentRequired(missing bool) { f.consentMissing.Store(missing) }

// DropNextCreateResponse lets the next valid create succeed at the fake — the envelope exists
// and its envelope-sent goes out — but aborts the HTTP answer, as a crash or a network failure
// between DocuSign's commit and ours would.
func (f *Fake) DropNextCreateResponse() { f.dropNextCreate.Arm() }

// HoldLookups holds envelope listings (GET …/envelopes, the lookup FindByWorkItem makes when
// a create's answer was lost) until release is called, so that a test can act while a create
// job's retry waits to couple the envelope.
func (f *Fake) HoldLookups() (release func()) { return f.lookups.Hold() }

// HeldLookups is how many envelope listings HoldLookups holds now.
func (f *Fake) HeldLookups() int { return f.lookups.Waiting() }

// SetHMACKeys replaces the keys Connect messages are signed with (key rotation).
func (f *Fake) SetHMACKeys(keys ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hmacKeys = slices.Clone(keys)
}

// Envelopes returns the create requests received, in order.
func (f *Fake) Envelopes() []CreateRequest { return f.creates.All() }

// Requests returns every request answered, in order.
func (f *Fake) Requests() []Request { return f.requests.All() }

// CountRequests counts answered requests with the method and path (an exact match).
func (f *Fake) CountRequests(method, path string) int {
	return f.requests.Count(func(r Request) bool { return r.Method == method && r.Path == path })
}

// EnvelopeStatus returns an envelope's status.
func (f *Fake) EnvelopeStatus(id string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.envelopes[strings.ToLower(id)]
	if !ok {
		return "", false
	}
	return e.status, true
}

// --- middleware ---

// recorded logs every request with the status it was answered with.
func (f *Fake) recorded(next http.Handler) http.Handler {
	return fakehook.Recorded(next, func(r *http.Request, status int) {
		f.requests.Add(Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Status: status})
	})
}

// limited counts API requests into the advertised rate limits and plays injected failures.
func (f *Fake) limited(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		now := f.now()
		if hour := now.Truncate(time.Hour); !hour.Equal(f.rateWindow) {
			f.rateWindow, f.rateCount = hour, 0
		}
		if win := now.Truncate(30 * time.Second); !win.Equal(f.burstWindow) {
			f.burstWindow, f.burstCount = win, 0
		}
		f.rateCount++
		f.burstCount++
		fl, failing := f.failures.Pop()
		h := w.Header()
		h.Set("X-RateLimit-Limit", strconv.Itoa(hourlyLimit))
		h.Set("X-RateLimit-Remaining", strconv.Itoa(max(hourlyLimit-f.rateCount, 0)))
		h.Set("X-RateLimit-Reset", strconv.FormatInt(f.rateWindow.Add(time.Hour).Unix(), 10))
		h.Set("X-BurstLimit-Limit", strconv.Itoa(burstLimit))
		h.Set("X-BurstLimit-Remaining", strconv.Itoa(max(burstLimit-f.burstCount, 0)))
		f.mu.Unlock()
		if failing {
			if fl.Status == http.StatusTooManyRequests {
				h.Set("X-BurstLimit-Remaining", "0")
			}
			fakehook.SetRetryAfter(h, fl.RetryAfter)
			writeError(w, fl.Status, fl.Code, fl.Message)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authed requires a Bearer token the fake issued and that has not expired.
func (f *Fake) authed(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		f.mu.Lock()
		exp, known := f.tokens[tok]
		valid := ok && tok != "" && known && f.now().Before(exp)
		f.mu.Unlock()
		if !valid {
			writeError(w, http.StatusUnauthorized, "USER_AUTHENTICATION_FAILED",
				"One or both of Username and Password are invalid. Invalid access token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// account requires the path's account to be the user's.
func (f *Fake) account(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.PathValue("accountId"), f.opts.AccountID) {
			writeError(w, http.StatusBadRequest, "USER_LACKS_MEMBERSHIP",
				"The UserID does not have a valid membership in this Account.")
			return
		}
		next(w, r)
	})
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"errorCode": code, "message": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// baseURI is what userinfo reports: the configured one, else this server's own URL.
func (f *Fake) baseURI(r *http.Request) string {
	if f.opts.BaseURI != "" {
		return strings.TrimRight(f.opts.BaseURI, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// audience is the aud an assertion sent to this request must carry.
func (f *Fake) audience(r *http.Request) string {
	if f.opts.Audience != "" {
		return f.opts.Audience
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return host
}

// dsTime formats like DocuSign: UTC with seven fractional digits.
func dsTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.0000000Z")
}

func errorf(format string, args ...any) error { return fmt.Errorf("docusignfake: "+format, args...) }
