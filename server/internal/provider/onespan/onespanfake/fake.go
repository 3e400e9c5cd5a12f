package onespanfake

import (
	"cmp"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
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
	// APIKey is the key every API request must carry as "Authorization: Basic {APIKey}"
	// (default: a random base64 string, see Fake.APIKey).
	APIKey string
	// CallbackURL, CallbackKey and CallbackEvents pre-register the account's callback, as if
	// POST /api/callback had been called; no callback is registered when CallbackURL is empty.
	CallbackURL    string
	CallbackKey    string
	CallbackEvents []string
	// SenderID is the account owner's id: the sessionUser of sender events (default: a GUID).
	SenderID string
	// SenderEmail is the account owner's email (default: sender@example.com).
	SenderEmail string
	// Now is the fake's clock (default: time.Now).
	Now func() time.Time
	// HTTPClient posts callbacks (default: a client with DeliveryTimeout).
	HTTPClient *http.Client
	// DeliveryTimeout bounds one callback POST (default: 30 s; OneSpan's is not published).
	DeliveryTimeout time.Duration
	// Keep bounds the requests and the deliveries the fake keeps for reading to the newest
	// Keep of each (default: all, as a test wants; flowhook dev's sandbox, which runs for days,
	// keeps a bound). Its items and their creates are kept whatever Keep says.
	Keep int
}

// Failure is an error the fake answers API requests with, for FailNextWith.
type Failure struct {
	// Status is the HTTP status (default 503).
	Status int
	// MessageKey and Message form OneSpan's error body (defaults by status).
	MessageKey string
	Message    string
	// RawBody, when set, is sent instead of the JSON error body (a load balancer's page).
	RawBody string
	// RetryAfter is sent as Retry-After in seconds when positive (a 429 defaults to 1 s).
	RetryAfter time.Duration
}

// Request is one HTTP request the fake answered.
type Request struct {
	Method string
	// Path is the decoded path; EscapedPath as it came on the wire.
	Path        string
	EscapedPath string
	Query       string
	Header      http.Header
	Status      int
}

// Fake is a local OneSpan Sign. Its methods are safe for concurrent use.
type Fake struct {
	opts Options
	now  func() time.Time

	mu       sync.Mutex
	apiKey   string
	lookups  fakegate.Gate // holds package listings (HoldLookups)
	packages map[string]*pkg
	order    []string // package ids in creation order

	// Knobs and what tests read: each is safe for concurrent use on its own, without f.mu.
	listOmitsData  atomic.Bool
	failures       fakehook.Queue[Failure]
	dropNextCreate fakehook.Trigger
	creates        fakehook.Log[CreateRequest]
	requests       fakehook.Log[Request]

	// callbacks: the configuration is under f.mu; the sender holds its own lock, so f.mu is
	// never held while it posts.
	callback *Callback
	hooks    *fakehook.Sender[*outgoing]
	failed   *fakehook.Keep[*outgoing] // OneSpan never retries: a failure is an email, resent by Redeliver
}

// New returns a fake with the options' defaults filled in.
func New(opts Options) *Fake {
	if opts.APIKey == "" {
		opts.APIKey = base64.StdEncoding.EncodeToString(randomBytes(48))
	}
	if opts.SenderID == "" {
		opts.SenderID = uuid.NewString()
	}
	if opts.SenderEmail == "" {
		opts.SenderEmail = "sender@example.com"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.DeliveryTimeout <= 0 {
		opts.DeliveryTimeout = 30 * time.Second
	}
	failed := &fakehook.Keep[*outgoing]{}
	hooks := fakehook.New(fakehook.Options[*outgoing]{Name: "onespanfake", Client: opts.HTTPClient, Timeout: opts.DeliveryTimeout, Policy: failed, Keep: opts.Keep})
	f := &Fake{
		opts:     opts,
		now:      opts.Now,
		apiKey:   opts.APIKey,
		packages: map[string]*pkg{},
		hooks:    hooks,
		failed:   failed,
	}
	if opts.CallbackURL != "" {
		f.callback = &Callback{URL: opts.CallbackURL, Key: opts.CallbackKey, Events: slices.Clone(opts.CallbackEvents)}
	}
	f.requests.Keep(opts.Keep)
	return f
}

// Start serves the fake on a local httptest server for the test's lifetime and returns its URL:
// the base URL, below which the API is at /api.
func (f *Fake) Start(t testing.TB) string {
	t.Helper()
	return f.hooks.Start(t, f.Handler())
}

// APIKey is the key API requests must carry.
func (f *Fake) APIKey() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.apiKey
}

// SenderID is the sessionUser of the events the sender (or OneSpan itself) causes.
func (f *Fake) SenderID() string { return f.opts.SenderID }

// Handler serves OneSpan Sign's REST endpoints under /api.
func (f *Fake) Handler() http.Handler {
	mux := http.NewServeMux()
	api := func(pattern string, h http.HandlerFunc) {
		mux.Handle(pattern, f.failing(f.authed(h)))
	}
	api("POST /api/packages", f.createPackage)
	api("GET /api/packages", f.listPackages)
	api("GET /api/packages/{id}", f.getPackage)
	api("POST /api/packages/{id}", f.updatePackage)
	api("PUT /api/packages/{id}", f.updatePackage)
	api("DELETE /api/packages/{id}", f.deletePackage)
	api("GET /api/packages/{id}/documents/zip", f.downloadZip)
	api("GET /api/packages/{id}/documents/{docId}/pdf", f.downloadPDF)
	api("GET /api/packages/{id}/signingStatus", f.signingStatus)
	api("POST /api/callback", f.registerCallback)
	api("GET /api/callback", f.getCallback)
	mux.Handle("/api/", f.failing(f.authed(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "error.notFound", "Not Found", "The requested resource does not exist.")
	}))))
	return f.recorded(mux)
}

// --- knobs ---

// FailNext answers the next n API requests with the status and OneSpan's error body for it.
func (f *Fake) FailNext(n, status int) { f.FailNextWith(n, Failure{Status: status}) }

// FailNextWith answers the next n API requests with the failure.
func (f *Fake) FailNextWith(n int, fl Failure) {
	fl.Status = cmp.Or(fl.Status, http.StatusServiceUnavailable)
	key, msg := "error.validation", http.StatusText(fl.Status)
	switch {
	case fl.Status == http.StatusTooManyRequests:
		key, msg = "error.tooManyRequests", "Too many requests. Please try again later."
		fl.RetryAfter = cmp.Or(fl.RetryAfter, time.Second)
	case fl.Status >= 500:
		key, msg = "error.internal.default", "Unexpected error. We apologize for any inconvenience this may have caused you, please try again. If the problem persists, please contact our support team."
	}
	fl.MessageKey, fl.Message = cmp.Or(fl.MessageKey, key), cmp.Or(fl.Message, msg)
	f.failures.Push(n, fl)
}

// DropNextCreateResponse lets the next valid create succeed at the fake — the package exists
// and its callbacks go out — but aborts the HTTP answer, as a crash or a network failure
// between OneSpan's commit and ours would.
func (f *Fake) DropNextCreateResponse() { f.dropNextCreate.Arm() }

// HoldLookups holds package listings (GET /api/packages, the lookup FindByWorkItem makes when
// a create's answer was lost) until release is called, so that a test can act while a create
// job's retry waits to couple the package.
func (f *Fake) HoldLookups() (release func()) { return f.lookups.Hold() }

// HeldLookups is how many package listings HoldLookups holds now.
func (f *Fake) HeldLookups() int { return f.lookups.Waiting() }

// SetListOmitsData makes package listings leave out the packages' data attributes (the full
// package still has them), for clients that must cope with either shape.
func (f *Fake) SetListOmitsData(omit bool) { f.listOmitsData.Store(omit) }

// SetAPIKey replaces the API key requests must carry (a rotated key).
func (f *Fake) SetAPIKey(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.apiKey = key
}

// Requests returns every request answered, in order.
func (f *Fake) Requests() []Request { return f.requests.All() }

// CountRequests counts answered requests with the method and (decoded) path.
func (f *Fake) CountRequests(method, path string) int {
	return f.requests.Count(func(r Request) bool { return r.Method == method && r.Path == path })
}

// --- middleware ---

// recorded logs every request with its headers and the status it was answered with.
func (f *Fake) recorded(next http.Handler) http.Handler {
	return fakehook.Recorded(next, func(r *http.Request, status int) {
		f.requests.Add(Request{
			Method: r.Method, Path: r.URL.Path, EscapedPath: r.URL.EscapedPath(), Query: r.URL.RawQuery,
			Header: r.Header.Clone(), Status: status,
		})
	})
}

// failing plays injected failures before anything else looks at the request.
func (f *Fake) failing(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fl, failing := f.failures.Pop()
		if !failing {
			next.ServeHTTP(w, r)
			return
		}
		fakehook.SetRetryAfter(w.Header(), fl.RetryAfter)
		if fl.RawBody != "" {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(fl.Status)
			_, _ = w.Write([]byte(fl.RawBody))
			return
		}
		writeError(w, fl.Status, fl.MessageKey, http.StatusText(fl.Status), fl.Message)
	})
}

// authed requires exactly one "Authorization: Basic {apiKey}" header, the key as is.
func (f *Fake) authed(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		want := "Basic " + f.apiKey
		f.mu.Unlock()
		if got := r.Header.Values("Authorization"); len(got) != 1 || got[0] != want {
			writeError(w, http.StatusUnauthorized, "error.unauthorised.noUser", "Unauthorized",
				"HTTP 401 Unauthorized: the API key is missing or not valid.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// writeError writes OneSpan's error body (providers.md B3).
func writeError(w http.ResponseWriter, status int, key, name, msg string) {
	writeJSON(w, status, map[string]any{"code": status, "messageKey": key, "name": name, "message": msg})
}

func validationError(w http.ResponseWriter, key, msg string) {
	writeError(w, http.StatusBadRequest, key, "Validation Error", msg)
}

func notFound(w http.ResponseWriter) {
	writeError(w, http.StatusNotFound, "error.notFound", "Resource Not Found", "The specified package does not exist.")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Times as OneSpan writes them: package dates to the second, event dates to the millisecond.
const (
	dateLayout  = "2006-01-02T15:04:05Z"
	eventLayout = "2006-01-02T15:04:05.000Z"
)

func apiDate(t time.Time) string { return t.UTC().Format(dateLayout) }

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail
	return b
}

// newPackageID is a OneSpan-style package id: 28 URL-safe base64 characters ending in "="
// (20 random bytes), e.g. "xT9OeZ-j2jIynQBaLeLdgp9CtZk=".
func newPackageID() string { return base64.URLEncoding.EncodeToString(randomBytes(20)) }

// newDocumentID is a hex document id.
func newDocumentID() string { return hex.EncodeToString(randomBytes(20)) }

// newSignerID is a signer's id, the sessionUser of the events the signer causes.
func newSignerID() string { return base64.RawURLEncoding.EncodeToString(randomBytes(9)) }

func errorf(format string, args ...any) error { return fmt.Errorf("onespanfake: "+format, args...) }
