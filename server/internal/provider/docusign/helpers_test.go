package docusign_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/docusign"
	"github.com/flowhook/flowhook/server/internal/provider/docusign/docusignfake"
	"github.com/flowhook/flowhook/server/internal/provider/providertest"
)

// system is what DocuSign's errors and events name.
var system = engine.System{Provider: docusign.Provider}

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

// newReceiver is a Connect listener that verifies and parses like flowhook's webhook will.
func newReceiver(t *testing.T, keys ...string) *providertest.Listener {
	return providertest.NewListener(t, "/webhooks/docusign", docusign.MaxBody, func(body []byte, h http.Header) (engine.InboundEvent, error) {
		if err := docusign.Verify(body, h, keys); err != nil {
			return engine.InboundEvent{}, err
		}
		return docusign.ParseEvent(body)
	})
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
	clock    *providertest.Clock
	waits    *providertest.WaitLog
	hook     *providertest.Listener
}

type setupConfig struct {
	clock    *providertest.Clock
	fake     func(*docusignfake.Options)
	settings func(*docusign.Settings)
	options  []docusign.Option
}

// setup starts a fake DocuSign and a Connect receiver, and builds a client for them that
// shares the fake's clock and waits for nothing.
func setup(t *testing.T, mods ...func(*setupConfig)) *testBundle {
	t.Helper()
	cfg := setupConfig{clock: providertest.NewClock()}
	for _, m := range mods {
		m(&cfg)
	}
	b := &testBundle{clock: cfg.clock, waits: &providertest.WaitLog{}}
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
	c, err := docusign.NewClient(b.settings, providertest.HTTPClient(t), b.clock.Now,
		append([]docusign.Option{docusign.WithWait(b.waits.Wait)}, cfg.options...)...)
	require.NoError(t, err)
	b.client = c
	return b
}

func (b *testBundle) request(workItemID string, parties ...engine.Party) engine.WorkItemRequest {
	if len(parties) == 0 {
		parties = []engine.Party{{Name: "Ada Lovelace", Email: "ada@example.com", Anchor: "/sn1/"}}
	}
	return engine.WorkItemRequest{
		WorkItemID: workItemID,
		InstanceID: "inst_" + workItemID,
		Subject:    "Please sign: " + workItemID,
		Document: &engine.Document{Title: "Contract " + workItemID, ContentType: "application/pdf",
			Content: docusignfake.PDF("Contract for " + workItemID)},
		Parties:     parties,
		CallbackURL: b.hook.URL,
	}
}

func (b *testBundle) create(t *testing.T, workItemID string, parties ...engine.Party) string {
	t.Helper()
	return providertest.Create(t, b.client, b.request(workItemID, parties...))
}

func providerErr(t *testing.T, err error) *engine.ProviderError {
	t.Helper()
	return providertest.RequireProviderError(t, err, system)
}
