package onespan_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/onespan"
	"github.com/flowhook/flowhook/server/internal/provider/onespan/onespanfake"
	"github.com/flowhook/flowhook/server/internal/provider/providertest"
)

// system is what OneSpan's errors and events name.
var system = engine.System{Provider: onespan.Provider}

// Keys shaped like OneSpan's: an API key is base64 text; a callback key is whatever the
// administrator typed.
const (
	apiKey         = "ZkxPd0hPT2stdGVzdC1hcGkta2V5OmZha2Utc2VjcmV0LXZhbHVlLTAxMjM0NTY3ODk="
	callbackKey    = "cb-key-7f3a9c2e41d8"
	callbackKeyOld = "cb-key-previous-0b1c"
)

// receive verifies a callback's key before its body is parsed, like flowhook's webhook.
func receive(keys ...string) providertest.Receive {
	return func(body []byte, h http.Header) (engine.InboundEvent, error) {
		if err := onespan.Verify(h, keys); err != nil {
			return engine.InboundEvent{}, err
		}
		return onespan.ParseEvent(body)
	}
}

type testBundle struct {
	fake     *onespanfake.Fake
	url      string
	client   *onespan.Client
	settings onespan.Settings
	clock    *providertest.Clock
	waits    *providertest.WaitLog
	hook     *providertest.Listener
}

type setupConfig struct {
	clock    *providertest.Clock
	fake     func(*onespanfake.Options)
	settings func(*onespan.Settings)
	options  []onespan.Option
}

// setup starts a fake OneSpan with a callback registered to a receiver for every event, and
// builds a client for it that shares the fake's clock and waits for nothing.
func setup(t *testing.T, mods ...func(*setupConfig)) *testBundle {
	t.Helper()
	cfg := setupConfig{clock: providertest.NewClock()}
	for _, m := range mods {
		m(&cfg)
	}
	b := &testBundle{clock: cfg.clock, waits: &providertest.WaitLog{}}
	b.hook = providertest.NewListener(t, "/webhooks/OneSpan", onespan.MaxEventSize, receive(callbackKey))
	opts := onespanfake.Options{
		APIKey:         apiKey,
		CallbackURL:    b.hook.URL,
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
	c, err := onespan.NewClient(b.settings, providertest.HTTPClient(t), b.clock.Now,
		append([]onespan.Option{onespan.WithWait(b.waits.Wait)}, cfg.options...)...)
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
		WorkItemID: workItemID,
		InstanceID: "inst_" + workItemID,
		Subject:    "Please sign: " + workItemID,
		Document: &engine.Document{Title: "Contract " + workItemID, ContentType: "application/pdf",
			Content: onespanfake.PDF("Contract for "+workItemID+" /sn1/", "Second page /sn2/ /sn3/")},
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
