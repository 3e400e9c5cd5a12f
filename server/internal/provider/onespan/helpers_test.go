package onespan_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/onespan"
	"github.com/flowhook/flowhook/server/internal/provider/onespan/onespanfake"
)

// Keys shaped like OneSpan's: an API key is base64 text; a callback key is whatever the
// administrator typed.
const (
	apiKey         = "ZkxPd0hPT2stdGVzdC1hcGkta2V5OmZha2Utc2VjcmV0LXZhbHVlLTAxMjM0NTY3ODk="
	callbackKey    = "cb-key-7f3a9c2e41d8"
	callbackKeyOld = "cb-key-previous-0b1c"
)

// clock is a settable time source shared by the fake and the client.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 4, 29, 18, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// waitLog stands in for the client's backoff sleep: it records and returns at once.
type waitLog struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (w *waitLog) wait(ctx context.Context, d time.Duration) error {
	w.mu.Lock()
	w.waits = append(w.waits, d)
	w.mu.Unlock()
	return ctx.Err()
}

func (w *waitLog) all() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.waits...)
}

// receiver is a callback listener that verifies and parses like flowhook's webhook will:
// Verify on the headers before the body is parsed.
type receiver struct {
	url  string
	keys []string

	mu     sync.Mutex
	events []engine.InboundEvent
	errs   []error
	status int // the answer to a verified, parsed event
}

func newReceiver(t *testing.T, keys ...string) *receiver {
	t.Helper()
	rc := &receiver{keys: keys, status: http.StatusOK}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.mu.Lock()
		keys := rc.keys
		rc.mu.Unlock()
		err := onespan.Verify(r.Header, keys)
		var ev engine.InboundEvent
		if err == nil {
			var body []byte
			body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, onespan.MaxEventSize))
			if err == nil {
				ev, err = onespan.ParseEvent(body)
			}
		}
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if err != nil {
			rc.errs = append(rc.errs, err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		rc.events = append(rc.events, ev)
		w.WriteHeader(rc.status)
	}))
	t.Cleanup(srv.Close)
	rc.url = srv.URL + "/webhooks/OneSpan"
	return rc
}

func (rc *receiver) setKeys(keys ...string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.keys = keys
}

func (rc *receiver) setStatus(code int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.status = code
}

func (rc *receiver) received() ([]engine.InboundEvent, []error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]engine.InboundEvent(nil), rc.events...), append([]error(nil), rc.errs...)
}

func (rc *receiver) types() []string {
	evs, _ := rc.received()
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

type testBundle struct {
	fake     *onespanfake.Fake
	url      string
	client   *onespan.Client
	settings onespan.Settings
	clock    *clock
	waits    *waitLog
	hook     *receiver
	hc       *http.Client
}

type setupConfig struct {
	fake     func(*onespanfake.Options)
	settings func(*onespan.Settings)
	options  []onespan.Option
}

// setup starts a fake OneSpan with a callback registered to a receiver for every event, and
// builds a client for it that shares the fake's clock and waits for nothing.
func setup(t *testing.T, mods ...func(*setupConfig)) *testBundle {
	t.Helper()
	var cfg setupConfig
	for _, m := range mods {
		m(&cfg)
	}
	b := &testBundle{clock: newClock(), waits: &waitLog{}}
	b.hook = newReceiver(t, callbackKey)
	opts := onespanfake.Options{
		APIKey:         apiKey,
		CallbackURL:    b.hook.url,
		CallbackKey:    callbackKey,
		CallbackEvents: onespanfake.KnownEvents,
		Now:            b.clock.Now,
	}
	if cfg.fake != nil {
		cfg.fake(&opts)
	}
	b.fake = onespanfake.New(opts)
	b.url = b.fake.Start(t)
	b.settings = onespan.Settings{BaseURL: b.url, APIKey: apiKey, CallbackKeys: []string{callbackKey}}
	if cfg.settings != nil {
		cfg.settings(&b.settings)
	}
	b.hc = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(), Timeout: 30 * time.Second}
	t.Cleanup(b.hc.CloseIdleConnections)
	c, err := onespan.NewClient(b.settings, b.hc, b.clock.Now, append([]onespan.Option{onespan.WithWait(b.waits.wait)}, cfg.options...)...)
	require.NoError(t, err)
	b.client = c
	return b
}

// request is a work item of one signer placed by anchor, with a PDF that carries the anchors.
func (b *testBundle) request(workItemID string, parties ...engine.Party) engine.WorkItemRequest {
	if len(parties) == 0 {
		parties = []engine.Party{{Name: "Ada Lovelace", Email: "ada@example.com", Anchor: "/sn1/"}}
	}
	return engine.WorkItemRequest{
		WorkItemID:    workItemID,
		InstanceID:    "inst_" + workItemID,
		EmailSubject:  "Please sign: " + workItemID,
		DocumentTitle: "Contract " + workItemID,
		Document:      onespanfake.PDF("Contract for "+workItemID+" /sn1/", "Second page /sn2/ /sn3/"),
		Signers:       parties,
		CallbackURL:   b.hook.url,
	}
}

func (b *testBundle) create(t *testing.T, workItemID string, parties ...engine.Party) string {
	t.Helper()
	id, err := b.client.Create(t.Context(), b.request(workItemID, parties...))
	require.NoError(t, err)
	return id
}

func providerErr(t *testing.T, err error) *engine.ProviderError {
	t.Helper()
	require.Error(t, err)
	var pe *engine.ProviderError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, engine.ProviderOneSpan, pe.Provider)
	return pe
}

// problemPaths lists the paths of a validation error's problems.
func problemPaths(t *testing.T, err error) []string {
	t.Helper()
	var ve *engine.ValidationError
	require.ErrorAs(t, err, &ve)
	var out []string
	for _, p := range ve.Problems {
		out = append(out, p.Path)
	}
	return out
}
