package providertest

// The test helpers every provider package's own tests share, and its fakes' tests too: a
// settable clock, a backoff that records instead of waiting, a webhook listener, checks of the
// errors and events a provider returns, and RunClient, the part of a client's tests that is
// the same for every provider that talks REST through package rest (retries, lost answers,
// finding an item again).

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/fakehook"
)

// Clock is a settable time source, to share between a fake and the client under test. It is
// safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock that stands at 2026-04-29 18:00:00 UTC until it is advanced.
func NewClock() *Clock { return NewClockAt(time.Date(2026, 4, 29, 18, 0, 0, 0, time.UTC)) }

// NewClockAt returns a clock that stands at start until it is advanced.
func NewClockAt(start time.Time) *Clock { return &Clock{t: start} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// WaitLog stands in for a client's backoff between tries: Wait records the duration and
// returns at once (ctx.Err(), as a real wait would when ctx has ended). It is safe for
// concurrent use.
type WaitLog struct {
	waits fakehook.Log[time.Duration]
}

// Wait records d; its signature is rest.Client.Wait's and the providers' WithWait's.
func (w *WaitLog) Wait(ctx context.Context, d time.Duration) error {
	w.waits.Add(d)
	return ctx.Err()
}

// Waits are the durations waited so far, in order.
func (w *WaitLog) Waits() []time.Duration { return w.waits.All() }

// HTTPClient is a client with a transport of its own, whose idle connections are closed when
// t ends, so that goleak finds no connection goroutine left over.
func HTTPClient(t testing.TB) *http.Client {
	hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(), Timeout: 30 * time.Second}
	t.Cleanup(hc.CloseIdleConnections)
	return hc
}

// Response is an HTTP answer, its body read to the end.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends req with hc and reads the answer to the end; a request that gets no answer fails
// the test.
func Do(t testing.TB, hc *http.Client, req *http.Request) Response {
	t.Helper()
	resp, err := hc.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

// JSON decodes the body as a JSON object.
func (r Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &m), string(r.Body))
	return m
}

// Answer is what became of a request that may get no answer: its status, or the error that
// left it unanswered (a fake dropped the answer, the caller gave up).
type Answer struct {
	Status int
	Err    error
}

// Try sends req with hc and reports what became of it; an answer's body is closed unread.
func Try(hc *http.Client, req *http.Request) Answer {
	resp, err := hc.Do(req)
	if err != nil {
		return Answer{Err: err}
	}
	resp.Body.Close()
	return Answer{Status: resp.StatusCode}
}

// Send is Try on a goroutine of its own, for a request a fake holds: the channel, buffered,
// gets what became of req once it is answered or given up.
func Send(hc *http.Client, req *http.Request) <-chan Answer {
	out := make(chan Answer, 1)
	go func() { out <- Try(hc, req) }()
	return out
}

// Receive verifies and parses one notification as flowhook's webhook does: credentials first,
// then the body. An error refuses the notification. A nil Receive accepts every notification
// as it is, with a zero event: a fake's own tests read the Posts.
type Receive func(body []byte, h http.Header) (engine.InboundEvent, error)

// Post is one POST a Listener received.
type Post struct {
	Header http.Header
	Body   []byte
	// Event is what Receive made of it; Err why it was refused (then Event is zero).
	Event engine.InboundEvent
	Err   error
	// Status is the listener's answer.
	Status int
}

// Listener is a webhook listener for a provider's fake: it records every POST, reads its body
// up to a limit, verifies and parses it with the test's Receive, and answers 401 to what
// Receive refuses, else 200 (or what SetStatus or SetAnswer set). It is safe for concurrent
// use.
type Listener struct {
	// URL is where the fake posts to.
	URL string

	limit int64
	posts fakehook.Log[Post]

	mu      sync.Mutex
	receive Receive
	answer  func(n int) int
	n       int // the POSTs that came so far
}

// NewListener starts a listener at path (any path reaches it) whose bodies are capped at
// limit bytes (not at all when limit is 0); it stops when t ends. receive may be nil (see
// Receive): NewListener(t, path, 0, nil) records every POST as it came.
func NewListener(t testing.TB, path string, limit int64, receive Receive) *Listener {
	t.Helper()
	l := &Listener{limit: limit, receive: receive, answer: func(int) int { return http.StatusOK }}
	srv := httptest.NewServer(http.HandlerFunc(l.serve))
	t.Cleanup(srv.Close)
	l.URL = srv.URL + path
	return l
}

func (l *Listener) serve(w http.ResponseWriter, r *http.Request) {
	rd := r.Body
	if l.limit > 0 {
		rd = http.MaxBytesReader(w, r.Body, l.limit)
	}
	body, err := io.ReadAll(rd)
	l.mu.Lock()
	receive, answer, n := l.receive, l.answer, l.n
	l.n++
	l.mu.Unlock()
	var ev engine.InboundEvent
	if err == nil && receive != nil {
		ev, err = receive(body, r.Header)
	}
	status := http.StatusUnauthorized
	if err != nil {
		ev = engine.InboundEvent{}
	} else {
		status = answer(n)
	}
	l.posts.Add(Post{Header: r.Header.Clone(), Body: body, Event: ev, Err: err, Status: status})
	w.WriteHeader(status)
}

// SetReceive replaces how the notifications that come from now on are received (a rotated
// key).
func (l *Listener) SetReceive(receive Receive) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.receive = receive
}

// SetStatus sets the answer to a notification Receive accepts (a 503 while the database is
// down): it is recorded as received all the same.
func (l *Listener) SetStatus(code int) { l.SetAnswer(func(int) int { return code }) }

// SetAnswer sets the answer to a notification Receive accepts as a function of n, the number
// of POSTs that came before it, refused ones included (a flaky listener: 200 to the second
// POST only). With one POST at a time, as a fake sends them, n is its index in Posts.
func (l *Listener) SetAnswer(answer func(n int) int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.answer = answer
}

// Posts are every POST so far, in order.
func (l *Listener) Posts() []Post { return l.posts.All() }

// Received are the events Receive accepted and the errors it refused the others with, each in
// order.
func (l *Listener) Received() ([]engine.InboundEvent, []error) {
	var evs []engine.InboundEvent
	var errs []error
	for _, p := range l.Posts() {
		if p.Err != nil {
			errs = append(errs, p.Err)
		} else {
			evs = append(evs, p.Event)
		}
	}
	return evs, errs
}

// Types are the types of the events Receive accepted, in order.
func (l *Listener) Types() []string {
	evs, _ := l.Received()
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

// RequireProviderError checks that err is (wraps) an *engine.ProviderError of the system and
// returns it.
func RequireProviderError(t testing.TB, err error, sys engine.System) *engine.ProviderError {
	t.Helper()
	require.Error(t, err)
	var pe *engine.ProviderError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, sys, pe.System)
	return pe
}

// ProblemPaths checks that err is (wraps) an *engine.ValidationError and lists the paths of
// its problems, in order.
func ProblemPaths(t testing.TB, err error) []string {
	t.Helper()
	var ve *engine.ValidationError
	require.ErrorAs(t, err, &ve)
	var out []string
	for _, p := range ve.Problems {
		out = append(out, p.Path)
	}
	return out
}

// RequireNoSecret checks that none of the secrets appears in v: its JSON form (a settings
// view as the API sends it), and its %v and %+v forms (as a log or an error would print it).
func RequireNoSecret(t testing.TB, v any, secrets ...string) {
	t.Helper()
	texts := []string{fmt.Sprint(v), fmt.Sprintf("%+v", v)}
	if b, err := json.Marshal(v); err == nil {
		texts = append(texts, string(b))
	}
	for _, s := range secrets {
		if s == "" {
			continue
		}
		for _, text := range texts {
			require.NotContains(t, text, s)
		}
	}
}

// JSON is v's JSON form (an update request as the API sends it to a settings editor).
func JSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// JSONObject is v's JSON form read back as an object (a settings view as the API's client
// reads it).
func JSONObject(t testing.TB, v any) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(JSON(t, v), &m))
	return m
}

// RequireAuthentication checks what a plugin's Authenticate found: it passed when reason is
// empty, else it refused for reason and its note says so; either way the note contains note
// and none of the secrets (the keys, the credentials sent).
func RequireAuthentication(t testing.TB, auth engine.Authentication, reason, note string, secrets ...string) {
	t.Helper()
	require.Equal(t, reason == "", auth.OK, auth.Note)
	require.Equal(t, reason, auth.Reason)
	require.Contains(t, auth.Note, note)
	require.Contains(t, auth.Note, reason)
	RequireNoSecret(t, auth, secrets...)
}

// RequestCase is an edit that makes a valid work item request invalid, and the paths of the
// problems the client finds in it.
type RequestCase struct {
	Name  string
	Edit  func(*engine.WorkItemRequest)
	Paths []string
}

// RequireInvalidRequests checks that the client refuses each case's edit of good before
// sending anything: for good (engine.ErrProviderPermanent), with an *engine.ValidationError
// that lists exactly the case's paths. Each edit gets a copy of good whose parties and
// document it may change. Whether anything reached the provider is the caller's to check.
func RequireInvalidRequests(t *testing.T, c engine.ProviderClient, good engine.WorkItemRequest, cases []RequestCase) {
	t.Helper()
	t.Run("invalid requests", func(t *testing.T) {
		for _, tc := range cases {
			t.Run(tc.Name, func(t *testing.T) {
				t.Parallel()
				req := good
				req.Parties = slices.Clone(good.Parties)
				if good.Document != nil {
					doc := *good.Document
					req.Document = &doc
				}
				tc.Edit(&req)
				_, err := c.Create(t.Context(), req)
				require.ErrorIs(t, err, engine.ErrProviderPermanent)
				require.Equal(t, tc.Paths, ProblemPaths(t, err))
			})
		}
	})
}

// ReadTestdata reads a file below testdata/.
func ReadTestdata(t testing.TB, elem ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"testdata"}, elem...)...))
	require.NoError(t, err)
	return b
}

// Testdata reads every file below testdata/ that matches pattern (e.g. "events/*.json");
// there must be at least one.
func Testdata(t testing.TB, pattern string) [][]byte {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", pattern))
	require.NoError(t, err)
	require.NotEmpty(t, paths, "no testdata/%s", pattern)
	out := make([][]byte, len(paths))
	for i, p := range paths {
		out[i], err = os.ReadFile(p)
		require.NoError(t, err)
	}
	return out
}

// Time parses an RFC 3339 time.
func Time(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	require.NoError(t, err)
	return tm
}

// WithField returns a JSON object with its top-level field key set to value (re-encoded:
// keys sorted, spaces gone).
func WithField(t testing.TB, body []byte, key string, value any) []byte {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m))
	m[key] = value
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

// RequireEvent checks what every provider's ParseEvent promises of an event it returned for
// body: the system, a type and an item id that are not blank, a dedupe key of 64 hex digits,
// and the same event when the same bytes are parsed again.
func RequireEvent(t testing.TB, parse engine.ParseFunc, sys engine.System, body []byte, ev engine.InboundEvent) {
	t.Helper()
	require.Equal(t, sys, ev.System)
	require.NotEmpty(t, strings.TrimSpace(ev.Type))
	require.NotEmpty(t, strings.TrimSpace(ev.ExternalID))
	require.Len(t, ev.DedupeKey, 64)
	_, err := hex.DecodeString(ev.DedupeKey)
	require.NoError(t, err, "the dedupe key is hex")
	again, err := parse(body)
	require.NoError(t, err)
	require.Equal(t, ev, again, "parsing the same bytes again gives the same event")
}

// FuzzParse fuzzes a provider's ParseEvent from the seeds: it never panics, fails only with
// one of errs (errors.Is), and an event it returns passes RequireEvent and then more, the
// provider's own checks (more may be nil).
func FuzzParse(f *testing.F, parse engine.ParseFunc, sys engine.System, errs []error, more func(t *testing.T, body []byte, ev engine.InboundEvent), seeds ...[]byte) {
	f.Helper()
	require.NotEmpty(f, errs, "FuzzParse: which errors may ParseEvent return?")
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := parse(body)
		if err != nil {
			require.True(t, slices.ContainsFunc(errs, func(e error) bool { return errors.Is(err, e) }), "unexpected error %v", err)
			require.Equal(t, engine.InboundEvent{}, ev, "an error comes with no event")
			return
		}
		RequireEvent(t, parse, sys, body, ev)
		if more != nil {
			more(t, body, ev)
		}
	})
}

// WaitFunc waits between a client's tries (rest.Client.Wait, a provider's WithWait).
type WaitFunc = func(ctx context.Context, d time.Duration) error

// ClientHarness plugs a provider's client and fake into RunClient.
type ClientHarness struct {
	// System is what the client's errors name.
	System engine.System
	// Open starts a fresh fake account on clock (stopped when t ends) and returns a client of
	// it that waits between tries with wait.
	Open func(t *testing.T, clock *Clock, wait WaitFunc) ClientAccount
	// MaxRetries is how many times the client tries a request again.
	MaxRetries int
	// OpenStatus is the provider's word for an item just created (Status).
	OpenStatus string
	// Codes are the error codes (ProviderError.Code) the fake answers a failure of each
	// status with: 429 and 500 at least.
	Codes map[int]string
}

// ClientAccount is a client of a fresh fake account and the fake's test hooks.
type ClientAccount struct {
	Client engine.ProviderClient
	// Request is a work item request the fake accepts.
	Request func(workItemID string) engine.WorkItemRequest
	// Fail makes the fake answer its next n API requests with the status and, when retryAfter
	// is positive, a Retry-After of that long (in whole seconds).
	Fail func(n, status int, retryAfter time.Duration)
	// DropNextCreateResponse makes the next create succeed at the fake but lose its answer.
	DropNextCreateResponse func()
	// Created are the ids of the items the fake created, in order.
	Created func() []string
}

// RunClient runs the client tests that are the same for every provider whose client makes its
// requests with package rest: a 429 is retried, a create included, waiting as long as the
// system asks, up to MaxRetries tries and a wait of rest.DefaultMaxRetryWait; a 5xx is retried
// with exponential backoff when the request may be repeated and a create is not; a wait that
// sees its context end stops the client with the context's error; a create whose answer is
// lost is not repeated, and FindByWorkItem finds it, as it finds any item by our id changed
// since a time. What is a provider's own (its rate-limit headers, a token refresh, its
// messages) its own tests check.
func RunClient(t *testing.T, h ClientHarness) {
	t.Helper()
	require.NotNil(t, h.Open, "ClientHarness: Open is required")
	require.Positive(t, h.MaxRetries, "ClientHarness: MaxRetries is required")
	require.NotEmpty(t, h.OpenStatus, "ClientHarness: OpenStatus is required")
	for _, status := range []int{http.StatusTooManyRequests, http.StatusInternalServerError} {
		require.Contains(t, h.Codes, status, "ClientHarness: Codes[%d] is required", status)
	}
	for _, tc := range []struct {
		name string
		test func(t *testing.T, h ClientHarness)
	}{
		{"RateLimitedCreateIsRetried", testRateLimitedCreate},
		{"RateLimitOutlastsTheRetries", testRateLimitOutlasts},
		{"WaitAboveTheCapIsNotWaited", testWaitAboveCap},
		{"ServerErrorOfAReadIsRetried", testServerErrorRead},
		{"ServerErrorOfACreateIsNotRetried", testServerErrorCreate},
		{"WaitEndsWithTheContext", testWaitContext},
		{"LostCreateAnswerIsFoundAgain", testLostCreateFound},
		{"FindByWorkItem", testFindByWorkItem},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.test(t, h)
		})
	}
}

// clientBundle is one account of RunClient's.
type clientBundle struct {
	ClientAccount
	clock *Clock
	waits *WaitLog
}

func (h ClientHarness) open(t *testing.T) clientBundle {
	t.Helper()
	b := clientBundle{clock: NewClock(), waits: &WaitLog{}}
	b.ClientAccount = h.Open(t, b.clock, b.waits.Wait)
	return b
}

func (b clientBundle) create(t *testing.T, workItemID string) string {
	t.Helper()
	return Create(t, b.Client, b.Request(workItemID))
}

// Create creates a work item and returns the provider's id for it.
func Create(t *testing.T, c engine.ProviderClient, req engine.WorkItemRequest) string {
	t.Helper()
	id, err := c.Create(t.Context(), req)
	require.NoError(t, err)
	require.NotEmpty(t, id)
	return id
}

func testRateLimitedCreate(t *testing.T, h ClientHarness) {
	b := h.open(t)
	b.Fail(3, http.StatusTooManyRequests, 2*time.Second)
	id := b.create(t, "wi_429")
	require.Equal(t, []time.Duration{2 * time.Second, 2 * time.Second, 2 * time.Second}, b.waits.Waits(), "as long as Retry-After says")
	require.Equal(t, []string{id}, b.Created(), "a 429 is retried, even for a create, and made one item")
}

func testRateLimitOutlasts(t *testing.T, h ClientHarness) {
	b := h.open(t)
	id := b.create(t, "wi_429_long")
	b.Fail(h.MaxRetries+1, http.StatusTooManyRequests, 3*time.Second)
	_, err := b.Client.Status(t.Context(), id)
	pe := RequireProviderError(t, err, h.System)
	require.False(t, pe.Permanent)
	require.NotErrorIs(t, err, engine.ErrProviderPermanent)
	require.Equal(t, http.StatusTooManyRequests, pe.HTTPStatus)
	require.Equal(t, h.Codes[http.StatusTooManyRequests], pe.Code)
	require.Equal(t, 3*time.Second, pe.RetryAfter, "the wait asked for is handed on")
	require.Len(t, b.waits.Waits(), h.MaxRetries)
}

func testWaitAboveCap(t *testing.T, h ClientHarness) {
	b := h.open(t)
	id := b.create(t, "wi_429_hour")
	b.Fail(1, http.StatusTooManyRequests, 20*time.Minute)
	_, err := b.Client.Status(t.Context(), id)
	pe := RequireProviderError(t, err, h.System)
	require.False(t, pe.Permanent)
	require.Equal(t, 20*time.Minute, pe.RetryAfter)
	require.Empty(t, b.waits.Waits())
}

func testServerErrorRead(t *testing.T, h ClientHarness) {
	b := h.open(t)
	id := b.create(t, "wi_5xx")
	b.Fail(2, http.StatusServiceUnavailable, 0)
	st, err := b.Client.Status(t.Context(), id)
	require.NoError(t, err)
	require.Equal(t, h.OpenStatus, st.Status)
	require.Equal(t, engine.OutcomeUnspecified, st.Outcome)
	require.Equal(t, []time.Duration{time.Second, 2 * time.Second}, b.waits.Waits(), "exponential backoff without Retry-After")
}

func testServerErrorCreate(t *testing.T, h ClientHarness) {
	b := h.open(t)
	b.Fail(1, http.StatusInternalServerError, 0)
	_, err := b.Client.Create(t.Context(), b.Request("wi_5xx_create"))
	pe := RequireProviderError(t, err, h.System)
	require.False(t, pe.Permanent)
	require.Equal(t, http.StatusInternalServerError, pe.HTTPStatus)
	require.Equal(t, h.Codes[http.StatusInternalServerError], pe.Code)
	require.Equal(t, time.Second, pe.RetryAfter)
	require.Empty(t, b.waits.Waits(), "the item may exist: the caller looks before trying again")
	require.Empty(t, b.Created())
}

func testWaitContext(t *testing.T, h ClientHarness) {
	b := h.Open(t, NewClock(), func(context.Context, time.Duration) error { return context.DeadlineExceeded })
	id, err := b.Client.Create(t.Context(), b.Request("wi_ctx"))
	require.NoError(t, err)
	b.Fail(1, http.StatusTooManyRequests, 0)
	_, err = b.Client.Status(t.Context(), id)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func testLostCreateFound(t *testing.T, h ClientHarness) {
	b := h.open(t)
	since := b.clock.Now()
	b.DropNextCreateResponse()
	_, err := b.Client.Create(t.Context(), b.Request("wi_lost"))
	require.Error(t, err)
	require.NotErrorIs(t, err, engine.ErrProviderPermanent, "a lost answer is worth retrying, after a look")
	created := b.Created()
	require.Len(t, created, 1, "a POST is not repeated blindly")
	id, found, err := b.Client.FindByWorkItem(t.Context(), "wi_lost", since)
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, created[0], id)
}

func testFindByWorkItem(t *testing.T, h ClientHarness) {
	b := h.open(t)
	start := b.clock.Now()
	b.clock.Advance(time.Minute)
	id := b.create(t, "wi_find")
	b.create(t, "wi_other")
	for _, tc := range []struct {
		name       string
		workItemID string
		since      time.Time
		found      bool
	}{
		{"by our id", "wi_find", start, true},
		{"an id never used", "wi_missing", start, false},
		{"an item that changed before since is not listed", "wi_find", start.Add(time.Hour), false},
		{"a zero since looks back 30 days", "wi_find", time.Time{}, true},
	} {
		got, found, err := b.Client.FindByWorkItem(t.Context(), tc.workItemID, tc.since)
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.found, found, tc.name)
		if tc.found {
			require.Equal(t, id, got, tc.name)
		}
	}
}

// AnswerRewriter replaces the answers to requests whose path ends with Suffix (a proxy's page,
// or a provider that misbehaves) with Status and Body; the rest pass through Next.
type AnswerRewriter struct {
	Next   http.RoundTripper
	Suffix string
	Status int
	Body   []byte
}

func (a AnswerRewriter) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := a.Next.RoundTrip(r)
	if err != nil || !strings.HasSuffix(r.URL.Path, a.Suffix) {
		return resp, err
	}
	_ = resp.Body.Close()
	resp.StatusCode, resp.Status = a.Status, fmt.Sprintf("%d %s", a.Status, http.StatusText(a.Status))
	resp.Body, resp.ContentLength = io.NopCloser(strings.NewReader(string(a.Body))), int64(len(a.Body))
	resp.Header.Del("Content-Length")
	return resp, nil
}

// DownloadFailure is what a document download's failure should be: its HTTP status, a part
// of its message, and its kind — transient (a proxy's page: tried again), unkeepable (never
// to be kept: engine.ErrDocumentUnkeepable), gone (engine.ErrGone); otherwise permanent, for
// an administrator to mend.
type DownloadFailure struct {
	Status                      int
	Message                     string
	Transient, Unkeepable, Gone bool
}

// RequireDownloadFailure checks err, a download's, against want: a *engine.ProviderError of
// sys whose fields and errors.Is answers match.
func RequireDownloadFailure(t testing.TB, err error, sys engine.System, want DownloadFailure) {
	t.Helper()
	pe := RequireProviderError(t, err, sys)
	require.Equal(t, !want.Transient, pe.Permanent)
	require.Equal(t, want.Status, pe.HTTPStatus)
	require.Contains(t, pe.Error(), want.Message)
	require.Equal(t, !want.Transient, errors.Is(err, engine.ErrProviderPermanent))
	require.Equal(t, want.Unkeepable, pe.Unkeepable)
	require.Equal(t, want.Unkeepable, errors.Is(err, engine.ErrDocumentUnkeepable))
	require.Equal(t, want.Gone, pe.Gone)
	require.Equal(t, want.Gone, errors.Is(err, engine.ErrGone))
}
