package docusign_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/docusign"
	"github.com/flowhook/flowhook/server/internal/provider/docusign/docusignfake"
)

// One RSA key for the whole test binary: generating 2048-bit keys is slow under -race.
var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

var otherKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func pkcs1PEM(k *rsa.PrivateKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

func pkcs8PEM(t testing.TB, k *rsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

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

// receiver is a Connect listener that verifies and parses like flowhook's webhook will.
type receiver struct {
	url  string
	keys []string

	mu     sync.Mutex
	events []engine.InboundEvent
	errs   []error
}

func newReceiver(t *testing.T, keys ...string) *receiver {
	t.Helper()
	rc := &receiver{keys: keys}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err == nil {
			err = docusign.Verify(body, r.Header, rc.keys)
		}
		var ev engine.InboundEvent
		if err == nil {
			ev, err = docusign.ParseEvent(body)
		}
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if err != nil {
			rc.errs = append(rc.errs, err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		rc.events = append(rc.events, ev)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	rc.url = srv.URL + "/webhooks/docusign"
	return rc
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

const (
	hmacKey    = "hV2Cq3m5r0gXk9uT1yZbN4eW7sJpL6aDfQ8cR2vM0oE="
	hmacKeyOld = "b2xkLWtleS1zdGlsbC1hY3RpdmUtZHVyaW5nLXJvdGF0aW9u"
)

type testBundle struct {
	fake     *docusignfake.Fake
	url      string
	client   *docusign.Client
	settings docusign.Settings
	clock    *clock
	waits    *waitLog
	hook     *receiver
	hc       *http.Client
}

type setupConfig struct {
	fake     func(*docusignfake.Options)
	settings func(*docusign.Settings)
	options  []docusign.Option
}

// setup starts a fake DocuSign and a Connect receiver, and builds a client for them that
// shares the fake's clock and waits for nothing.
func setup(t *testing.T, mods ...func(*setupConfig)) *testBundle {
	t.Helper()
	var cfg setupConfig
	for _, m := range mods {
		m(&cfg)
	}
	b := &testBundle{clock: newClock(), waits: &waitLog{}}
	b.hook = newReceiver(t, hmacKey)
	opts := docusignfake.Options{
		PublicKey: &testKey().PublicKey,
		HMACKeys:  []string{hmacKey},
		Now:       b.clock.Now,
	}
	if cfg.fake != nil {
		cfg.fake(&opts)
	}
	b.fake = docusignfake.New(opts)
	b.url = b.fake.Start(t)
	b.settings = docusign.Settings{
		AccountID:      b.fake.AccountID(),
		IntegrationKey: b.fake.IntegrationKey(),
		UserID:         b.fake.UserID(),
		OAuthBaseURL:   b.url,
		PrivateKeyPEM:  pkcs1PEM(testKey()),
		HMACKeys:       []string{hmacKey},
	}
	if cfg.settings != nil {
		cfg.settings(&b.settings)
	}
	b.hc = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(), Timeout: 30 * time.Second}
	t.Cleanup(b.hc.CloseIdleConnections)
	c, err := docusign.NewClient(b.settings, b.hc, b.clock.Now, append([]docusign.Option{docusign.WithWait(b.waits.wait)}, cfg.options...)...)
	require.NoError(t, err)
	b.client = c
	return b
}

func (b *testBundle) request(workItemID string, parties ...engine.Party) engine.WorkItemRequest {
	if len(parties) == 0 {
		parties = []engine.Party{{Name: "Ada Lovelace", Email: "ada@example.com", Anchor: "/sn1/"}}
	}
	return engine.WorkItemRequest{
		WorkItemID:    workItemID,
		InstanceID:    "inst_" + workItemID,
		EmailSubject:  "Please sign: " + workItemID,
		DocumentTitle: "Contract " + workItemID,
		Document:      docusignfake.PDF("Contract for " + workItemID),
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
	require.Equal(t, engine.ProviderDocuSign, pe.Provider)
	return pe
}
