package connectorfake

import (
	"cmp"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowhook/flowhook/server/internal/provider/connector/standardwebhooks"
	"github.com/flowhook/flowhook/server/internal/provider/fakegate"
	"github.com/flowhook/flowhook/server/internal/provider/fakehook"
)

// Options configure a Fake. Zero values get defaults.
type Options struct {
	// Secrets verify flowhook's calls (any of them may match) and the first signs the
	// callbacks (default: one new secret, see Fake.Secrets). A secret that
	// standardwebhooks.ParseSecret refuses matches nothing.
	Secrets []string
	// AuthHeader, when its Name is set, is a header every call must carry with exactly Value.
	AuthHeader AuthHeader
	// Now is the fake's clock: it checks signatures' timestamps and stamps events (default:
	// time.Now).
	Now func() time.Time
	// HTTPClient posts callbacks (default: a client with DeliveryTimeout).
	HTTPClient *http.Client
	// DeliveryTimeout bounds one callback POST (default: 30 s).
	DeliveryTimeout time.Duration
	// Keep bounds the requests and the deliveries the fake keeps for reading to the newest
	// Keep of each (default: all, as a test wants; flowhook dev's sandbox, which runs for days,
	// keeps a bound). Its items and their creates are kept whatever Keep says.
	Keep int
	// IDPrefix starts every ticket id, which goes on with the ticket's number (default "TCK-":
	// TCK-1, TCK-2, …). A fake that may be started again against the same flowhook (flowhook
	// dev's sandbox) gives each start a prefix of its own, so that no id comes twice.
	IDPrefix string
}

// AuthHeader is a header of the system's own that a connector sends with every call.
type AuthHeader struct {
	Name  string // e.g. "Authorization"
	Value string // e.g. "Bearer …"
}

// Failure is an answer the fake gives API calls instead of serving them, for FailNext.
type Failure struct {
	// Status is the HTTP status (default: 503).
	Status int
	// Body is sent as is: as application/json when it is valid JSON, as text/plain otherwise
	// (default: {"error": "<status text>"}).
	Body string
	// RetryAfter is sent as Retry-After in whole seconds when positive.
	RetryAfter time.Duration
}

// Request is one call the fake received.
type Request struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
	// Verified reports whether the auth header (when one is configured) and the signature
	// checked out; VerifyError says why not.
	Verified    bool
	VerifyError string
	// Status is the answer; 0 when there was none (the caller gave up while the call was
	// held, or the answer was dropped).
	Status int
}

// Ticket is the fake's record of one ticket.
type Ticket struct {
	ID string
	// WorkItemID is the create's Idempotency-Key and data.workItemId.
	WorkItemID      string
	InstanceID      string
	WorkflowID      string
	WorkflowVersion int
	// State is the EXTERNAL state's key the create named.
	State       string
	CallbackURL string
	FormData    map[string]any
	// Document is the decoded document; nil when the create sent none.
	Document            []byte
	DocumentTitle       string
	DocumentContentType string
	// LatestType is the type of the ticket's latest event, what a status call answers;
	// Reason is that event's reason.
	LatestType string
	Reason     string
	// History lists the types of the ticket's events, oldest first.
	History []string
	Created time.Time
}

// Final reports whether the ticket reached a final type: no event can follow.
func (t Ticket) Final() bool { return IsFinal(t.LatestType) }

// Fake is a local ticketing system. Its methods are safe for concurrent use.
type Fake struct {
	opts Options
	now  func() time.Time

	mu       sync.Mutex
	secrets  []string
	gate     fakegate.Gate // holds API calls (HoldRequests)
	tickets  map[string]*Ticket
	order    []string          // ticket ids in creation order
	byKey    map[string]string // Idempotency-Key → ticket id
	signWith string            // SignCallbacksWith
	skew     time.Duration     // SetCallbackTimestampSkew

	// Knobs and what tests read: each is safe for concurrent use on its own, without f.mu.
	unsigned   atomic.Bool // OmitSignatureHeaders
	failures   fakehook.Queue[Failure]
	dropCreate fakehook.Trigger
	requests   fakehook.Log[Request]

	// callbacks: the sender holds its own lock, so f.mu is never held while it posts.
	hooks   *fakehook.Sender[*callback]
	waiting *fakehook.Wait[*callback] // failed callbacks, until Redeliver
}

// New returns a fake with the options' defaults filled in.
func New(opts Options) *Fake {
	if len(opts.Secrets) == 0 {
		opts.Secrets = []string{standardwebhooks.NewSecret()}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.IDPrefix == "" {
		opts.IDPrefix = "TCK-"
	}
	waiting := &fakehook.Wait[*callback]{}
	hooks := fakehook.New(fakehook.Options[*callback]{Name: "connectorfake", Client: opts.HTTPClient, Timeout: opts.DeliveryTimeout, Policy: waiting, Keep: opts.Keep})
	f := &Fake{
		opts:    opts,
		now:     opts.Now,
		secrets: slices.Clone(opts.Secrets),
		tickets: map[string]*Ticket{},
		byKey:   map[string]string{},
		hooks:   hooks,
		waiting: waiting,
	}
	f.requests.Keep(opts.Keep)
	return f
}

// Start serves the fake on a local httptest server for the test's lifetime and returns its
// base URL (see CreateURL, StatusURL, CancelURL).
func (f *Fake) Start(t testing.TB) string {
	t.Helper()
	return f.hooks.Start(t, f.Handler())
}

// CreateURL is a connector's create_url for a fake served at base.
func CreateURL(base string) string { return base + "/tickets" }

// StatusURL is a connector's status_url for a fake served at base; flowhook replaces {id}.
func StatusURL(base string) string { return base + "/tickets/{id}" }

// CancelURL is a connector's cancel_url for a fake served at base; flowhook replaces {id}.
func CancelURL(base string) string { return base + "/tickets/{id}/cancel" }

// Body limits: a create carries the document in base64.
const (
	maxCreateBody = 32 << 20
	maxBody       = 1 << 20
)

// Handler serves the ticket API.
func (f *Fake) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /tickets", f.api(maxCreateBody, f.create))
	mux.Handle("GET /tickets/{id}", f.api(maxBody, f.status))
	mux.Handle("POST /tickets/{id}/cancel", f.api(maxBody, f.cancel))
	mux.Handle("/", f.api(maxBody, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	}))
	return mux
}

// --- knobs ---

// Secrets returns the secrets calls are verified with; the first signs callbacks.
func (f *Fake) Secrets() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.secrets)
}

// SetSecrets replaces the secrets (a rotation: verify with the new and the old one while
// flowhook moves over). It refuses an empty list or a secret ParseSecret refuses.
func (f *Fake) SetSecrets(secrets ...string) error {
	if len(secrets) == 0 {
		return errorf("at least one secret is needed")
	}
	for i, s := range secrets {
		if _, err := standardwebhooks.ParseSecret(s); err != nil {
			return errorf("secret %d: %w", i, err)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.secrets = slices.Clone(secrets)
	return nil
}

// FailNext answers the next n API calls (create, status or cancel) with the failure, after
// recording and verifying them: a 503 with Retry-After, a 422 with a JSON body, a 200 with no
// id or no JSON at all. A failed create creates nothing.
func (f *Fake) FailNext(n int, fl Failure) {
	fl.Status = cmp.Or(fl.Status, http.StatusServiceUnavailable)
	if fl.Body == "" {
		b, _ := json.Marshal(map[string]string{"error": http.StatusText(fl.Status)})
		fl.Body = string(b)
	}
	f.failures.Push(n, fl)
}

// HoldRequests holds API calls, once their bodies are read, until release is called or their
// caller gives up (then they are not served and get no answer), so that a test can make
// flowhook's client time out without sleeping. Call release in t.Cleanup too.
func (f *Fake) HoldRequests() (release func()) { return f.gate.Hold() }

// HeldRequests is how many API calls HoldRequests holds now.
func (f *Fake) HeldRequests() int { return f.gate.Waiting() }

// DropNextCreateResponse lets the next valid create succeed — the ticket exists and its
// ticket.created goes out — but aborts the HTTP answer, as a crash or a network failure
// between the system's commit and flowhook's would.
func (f *Fake) DropNextCreateResponse() { f.dropCreate.Arm() }

// Requests returns every call received, in order.
func (f *Fake) Requests() []Request { return f.requests.All() }

// Tickets returns every ticket, in creation order.
func (f *Fake) Tickets() []Ticket {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Ticket, 0, len(f.order))
	for _, id := range f.order {
		out = append(out, f.tickets[id].clone())
	}
	return out
}

// Ticket returns a ticket; false for an id the fake does not know.
func (f *Fake) Ticket(id string) (Ticket, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.tickets[id]
	if !ok {
		return Ticket{}, false
	}
	return t.clone(), true
}

func (t *Ticket) clone() Ticket {
	c := *t
	c.FormData = maps.Clone(t.FormData)
	c.Document = slices.Clone(t.Document)
	c.History = slices.Clone(t.History)
	return c
}

// --- middleware ---

// apiHandler serves a call whose body was read and whose signature checked out.
type apiHandler func(w http.ResponseWriter, r *http.Request, body []byte)

// api records a call, reads its body (at most limit bytes), holds it while HoldRequests
// does, verifies it, plays an injected failure, and only then serves it.
func (f *Fake) api(limit int64, next apiHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone()}
		serve := func(w http.ResponseWriter, r *http.Request) { f.serveAPI(w, r, limit, &rec, next) }
		fakehook.Recorded(http.HandlerFunc(serve), func(_ *http.Request, status int) {
			rec.Status = status
			f.requests.Add(rec)
		}).ServeHTTP(w, r)
	})
}

func (f *Fake) serveAPI(w http.ResponseWriter, r *http.Request, limit int64, rec *Request, next apiHandler) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	rec.Body = body
	if err != nil {
		rec.VerifyError = "body: " + err.Error()
		writeError(w, http.StatusRequestEntityTooLarge, "the body is larger than "+strconv.FormatInt(limit, 10)+" bytes")
		return
	}
	// Read before holding: the server notices a caller that gives up only once the body is
	// read, and a held call must end then.
	if !f.gate.Wait(r.Context()) {
		rec.VerifyError = "the caller gave up while the call was held"
		return
	}
	verr := f.verify(r.Header, body)
	rec.Verified = verr == nil
	if verr != nil {
		rec.VerifyError = verr.Error()
	}
	fl, failing := f.failures.Pop()
	switch {
	case failing:
		fakehook.SetRetryAfter(w.Header(), fl.RetryAfter)
		ct := "text/plain; charset=utf-8"
		if json.Valid([]byte(fl.Body)) {
			ct = "application/json"
		}
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(fl.Status)
		_, _ = io.WriteString(w, fl.Body)
	case verr != nil:
		writeError(w, http.StatusUnauthorized, verr.Error())
	default:
		next(w, r, body)
	}
}

// errAuth: the call lacks the configured auth header or carries another value.
var errAuth = errors.New("auth header missing or wrong")

// verify checks the auth header, when one is configured, and the Standard Webhooks signature.
func (f *Fake) verify(h http.Header, body []byte) error {
	if a := f.opts.AuthHeader; a.Name != "" {
		got := h.Values(a.Name)
		if len(got) != 1 || subtle.ConstantTimeCompare([]byte(got[0]), []byte(a.Value)) != 1 {
			return fmt.Errorf("%w: want one %s header", errAuth, a.Name)
		}
	}
	if err := standardwebhooks.Verify(f.Secrets(), h, body, f.now(), standardwebhooks.DefaultTolerance); err != nil {
		return fmt.Errorf("signature: %w", err)
	}
	return nil
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func errorf(format string, args ...any) error { return fmt.Errorf("connectorfake: "+format, args...) }
