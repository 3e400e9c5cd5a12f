package provider_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider"
	"github.com/flowhook/flowhook/server/internal/provider/connector"
	"github.com/flowhook/flowhook/server/internal/provider/connector/connectorfake"
	"github.com/flowhook/flowhook/server/internal/provider/connector/standardwebhooks"
	"github.com/flowhook/flowhook/server/internal/provider/docusign"
	"github.com/flowhook/flowhook/server/internal/provider/docusign/docusignfake"
	"github.com/flowhook/flowhook/server/internal/provider/onespan"
	"github.com/flowhook/flowhook/server/internal/provider/onespan/onespanfake"
	"github.com/flowhook/flowhook/server/internal/provider/providertest"
)

// harnesses plug each provider and its fake into the conformance suite.
var harnesses = map[engine.Provider]func() providertest.Harness{
	docusign.Provider:  docuSignHarness,
	onespan.Provider:   oneSpanHarness,
	connector.Provider: connectorHarness,
}

// TestConformance runs the conformance suite for every provider flowhook has: a provider
// without a harness fails it.
func TestConformance(t *testing.T) {
	t.Parallel()
	for _, pl := range provider.Builtin() {
		p := pl.Spec().Provider
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			h, ok := harnesses[p]
			require.True(t, ok, "%s has no conformance harness: add one to harnesses", p)
			harness := h()
			require.Equal(t, p, harness.Plugin.Spec().Provider)
			providertest.Run(t, harness)
		})
	}
}

// noWait stands in for a client's backoff: the fakes answer at once.
func noWait(ctx context.Context, _ time.Duration) error { return ctx.Err() }

func fakeHTTPClient(t *testing.T) *http.Client {
	hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(), Timeout: 30 * time.Second}
	t.Cleanup(hc.CloseIdleConnections)
	return hc
}

const conformanceHMACKey = "Y29uZm9ybWFuY2UtaG1hYy1rZXktZm9yLWRvY3VzaWdu"

// conformanceKey signs the DocuSign client's JWT assertions (2048 bits, once: slow under -race).
var conformanceKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// docuSignFake adapts docusignfake to providertest.Fake.
type docuSignFake struct{ f *docusignfake.Fake }

func (c docuSignFake) Complete(id string) error        { return c.f.Complete(id) }
func (c docuSignFake) Decline(id, reason string) error { return c.f.Decline(id, reason) }
func (c docuSignFake) Expire(id string) error          { return c.f.Expire(id) }
func (c docuSignFake) DropNextCreateResponse()         { c.f.DropNextCreateResponse() }

// Redeliver is Connect's retry of the messages the listener refused (retryCount + 1).
func (c docuSignFake) Redeliver() error {
	if len(c.f.Pending()) == 0 {
		return errors.New("no Connect message waits for a retry")
	}
	c.f.RetryPending()
	return nil
}

func (c docuSignFake) Deliveries() []providertest.Delivery {
	var out []providertest.Delivery
	for _, d := range c.f.Deliveries() {
		out = append(out, providertest.Delivery{Event: d.Event, ExternalID: d.EnvelopeID, Body: d.Body})
	}
	return out
}

func (c docuSignFake) Created() []string {
	var out []string
	for _, e := range c.f.Envelopes() {
		if e.EnvelopeID != "" {
			out = append(out, e.EnvelopeID)
		}
	}
	return out
}

func docuSignHarness() providertest.Harness {
	return providertest.Harness{
		Plugin: docusign.Plugin{},
		NewClient: func(t *testing.T, _ string) (engine.ProviderClient, providertest.Fake) {
			// The callback URL travels with each envelope (eventNotification).
			fake := docusignfake.New(docusignfake.Options{PublicKey: &conformanceKey().PublicKey, HMACKeys: []string{conformanceHMACKey}})
			url := fake.Start(t)
			c, err := docusign.NewClient(docusign.Settings{
				AccountID:      fake.AccountID(),
				IntegrationKey: fake.IntegrationKey(),
				UserID:         fake.UserID(),
				OAuthBaseURL:   url,
				PrivateKeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(conformanceKey())}),
				HMACKeys:       []string{conformanceHMACKey},
			}, fakeHTTPClient(t), nil, docusign.WithWait(noWait))
			require.NoError(t, err)
			return c, docuSignFake{fake}
		},
		Document:       docusignfake.PDF("Contract. Sign here: " + providertest.Anchor),
		OpenStatuses:   []string{"sent"},
		DownloadPrefix: []byte("%PDF-"),
		Searchable:     true,
		StatusHasTime:  true,

		Keys: []string{conformanceHMACKey},
		Forge: func(body []byte) http.Header {
			h := http.Header{}
			h.Set("X-DocuSign-Signature-1", docusignfake.Signature(body, "not-the-configured-key"))
			return h
		},
		Reasons:                providertest.Reasons{NoKeys: "no HMAC key configured", NoCredentials: "no signature header", Mismatch: "signature mismatch"},
		EventsCarryReason:      true,
		EventsCarryWorkItemID:  true,
		RedeliveryRewritesBody: true,

		Outcomes: map[string]engine.Outcome{
			"envelope-completed": engine.OutcomeFinished,
			"envelope-declined":  engine.OutcomeDenied,
			"envelope-voided":    engine.OutcomeDeleted, // EXPIRED when the reason says so
			"envelope-deleted":   engine.OutcomeDeleted,
			"envelope-purge":     engine.OutcomeDeleted,
		},

		// Cancel voids the envelope; voiding it again succeeds (it is what was asked).
		Cancel: providertest.CancelBehavior{Status: "voided", Outcome: engine.OutcomeDeleted},
	}
}

const (
	conformanceAPIKey      = "Y29uZm9ybWFuY2UtYXBpLWtleTpjb25mb3JtYW5jZS1zZWNyZXQ="
	conformanceCallbackKey = "conformance-callback-key-5e21"
)

// oneSpanFake adapts onespanfake to providertest.Fake.
type oneSpanFake struct {
	f        *onespanfake.Fake
	mu       sync.Mutex
	replayed int // failed deliveries replayed so far
}

func (c *oneSpanFake) Complete(id string) error        { return c.f.Complete(id) }
func (c *oneSpanFake) Decline(id, reason string) error { return c.f.Decline(id, reason) }
func (c *oneSpanFake) Expire(id string) error          { return c.f.Expire(id) }
func (c *oneSpanFake) DropNextCreateResponse()         { c.f.DropNextCreateResponse() }

// Redeliver replays the payloads of the failure emails not replayed yet, as an administrator
// would: OneSpan itself does not retry.
func (c *oneSpanFake) Redeliver() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	failed := c.f.FailedDeliveries()
	if c.replayed >= len(failed) {
		return fmt.Errorf("no failed delivery to replay")
	}
	for ; c.replayed < len(failed); c.replayed++ {
		d, err := c.f.Replay(c.replayed)
		if err != nil {
			return err
		}
		if !d.OK() {
			return fmt.Errorf("the replay of %s was answered %d %s", d.Event, d.StatusCode, d.Err)
		}
	}
	return nil
}

func (c *oneSpanFake) Deliveries() []providertest.Delivery {
	var out []providertest.Delivery
	for _, d := range c.f.Deliveries() {
		out = append(out, providertest.Delivery{Event: d.Event, ExternalID: d.PackageID, Body: d.Body})
	}
	return out
}

func (c *oneSpanFake) Created() []string {
	var out []string
	for _, r := range c.f.Creates() {
		if r.ID != "" {
			out = append(out, r.ID)
		}
	}
	return out
}

func oneSpanHarness() providertest.Harness {
	outcomes := map[string]engine.Outcome{
		"PACKAGE_COMPLETE": engine.OutcomeFinished,
		"PACKAGE_DECLINE":  engine.OutcomeDenied,
		"PACKAGE_OPT_OUT":  engine.OutcomeDenied,
		"PACKAGE_EXPIRE":   engine.OutcomeExpired,
		"PACKAGE_TRASH":    engine.OutcomeDeleted,
		"PACKAGE_DELETE":   engine.OutcomeDeleted,
		"PACKAGE_DELETED":  engine.OutcomeDeleted,
		"PACKAGE_ARCHIVE":  engine.OutcomeDeleted,
	}
	return providertest.Harness{
		Plugin: onespan.Plugin{},
		NewClient: func(t *testing.T, callbackURL string) (engine.ProviderClient, providertest.Fake) {
			// The callback is one per account: registered with what flowhook registers.
			fake := onespanfake.New(onespanfake.Options{APIKey: conformanceAPIKey, CallbackURL: callbackURL,
				CallbackKey: conformanceCallbackKey, CallbackEvents: onespan.CallbackEvents})
			url := fake.Start(t)
			c, err := onespan.NewClient(onespan.Settings{BaseURL: url, APIKey: conformanceAPIKey, CallbackKeys: []string{conformanceCallbackKey}},
				fakeHTTPClient(t), nil, onespan.WithWait(noWait))
			require.NoError(t, err)
			return c, &oneSpanFake{f: fake}
		},
		Document:       onespanfake.PDF("Contract. Sign here: " + providertest.Anchor),
		OpenStatuses:   []string{"SENT"},
		DownloadPrefix: []byte("PK\x03\x04"),
		Searchable:     true,
		StatusHasTime:  true,

		Keys: []string{conformanceCallbackKey},
		Forge: func([]byte) http.Header {
			h := http.Header{}
			h.Set("Authorization", "Basic not-the-configured-key")
			return h
		},
		Reasons:                providertest.Reasons{NoKeys: "no callback key configured", NoCredentials: "no Basic credentials", Mismatch: "key mismatch"},
		EventsCarryReason:      false, // the reason is a message of the package
		EventsCarryWorkItemID:  false,
		RedeliveryRewritesBody: false,

		Outcomes: outcomes,
		// Cancel deletes the package; one already gone is fine.
		Cancel: providertest.CancelBehavior{Status: onespan.StatusDeleted, Outcome: engine.OutcomeDeleted, Gone: true},
	}
}

// The OneSpan receiver acts exactly on the events that end a package.
func TestOneSpanHandlesWhatEnds(t *testing.T) {
	t.Parallel()
	require.ElementsMatch(t, onespan.HandledEvents, slices.Collect(maps.Keys(oneSpanHarness().Outcomes)))
}

// connectorFake adapts connectorfake to providertest.Fake.
type connectorFake struct{ f *connectorfake.Fake }

func (c connectorFake) Complete(id string) error        { return c.f.Resolve(id) }
func (c connectorFake) Decline(id, reason string) error { return c.f.Reject(id, reason) }
func (c connectorFake) Expire(id string) error          { return c.f.Expire(id) }
func (c connectorFake) DropNextCreateResponse()         { c.f.DropNextCreateResponse() }

// Redeliver sends the callbacks the listener refused again, as a Standard Webhooks sender's
// retry does.
func (c connectorFake) Redeliver() error {
	ds := c.f.Redeliver()
	if len(ds) == 0 {
		return errors.New("no callback waits for a redelivery")
	}
	for _, d := range ds {
		if !d.OK() {
			return fmt.Errorf("the redelivery of %s was answered %d %s", d.Type, d.StatusCode, d.Err)
		}
	}
	return nil
}

func (c connectorFake) Deliveries() []providertest.Delivery {
	var out []providertest.Delivery
	for _, d := range c.f.Deliveries() {
		out = append(out, providertest.Delivery{Event: d.Type, ExternalID: d.TicketID, Body: d.Body})
	}
	return out
}

func (c connectorFake) Created() []string {
	var out []string
	for _, tk := range c.f.Tickets() {
		out = append(out, tk.ID)
	}
	return out
}

// connectorOutcomes is the fake's outcome table, and a cancellation ends a ticket as DELETED.
func connectorOutcomes() map[string]engine.Outcome {
	out := map[string]engine.Outcome{connectorfake.TypeCancelled: engine.OutcomeDeleted}
	for typ, name := range connectorfake.Outcomes {
		var o engine.Outcome
		if err := o.UnmarshalText([]byte(name)); err != nil {
			panic(err)
		}
		out[typ] = o
	}
	return out
}

func connectorHarness() providertest.Harness {
	secret := standardwebhooks.NewSecret()
	cfg := connector.Config{Name: "conformance", Outcomes: connectorOutcomes(), SigningSecret: secret, CreatedAt: time.Now()}
	return providertest.Harness{
		Plugin:   connector.Plugin{},
		Settings: cfg.Settings(),
		NewClient: func(t *testing.T, _ string) (engine.ProviderClient, providertest.Fake) {
			// The callback URL travels with each create (data.callbackUrl).
			fake := connectorfake.New(connectorfake.Options{Secrets: []string{secret}})
			base := fake.Start(t)
			cfg := cfg
			cfg.CreateURL, cfg.StatusURL, cfg.CancelURL = connectorfake.CreateURL(base), connectorfake.StatusURL(base), connectorfake.CancelURL(base)
			sys := engine.System{Provider: connector.Provider, Connector: cfg.Name}
			return connector.NewClient(sys, cfg, fakeHTTPClient(t), nil).WithWait(noWait), connectorFake{fake}
		},
		Document:       docusignfake.PDF("Credit check. " + providertest.Anchor),
		OpenStatuses:   []string{connectorfake.TypeCreated},
		DownloadPrefix: nil, // the system keeps no document for flowhook
		Searchable:     false,

		Keys:     []string{secret},
		OtherKey: standardwebhooks.NewSecret(),
		Forge: func(body []byte) http.Header {
			h := http.Header{}
			if err := standardwebhooks.SetHeaders(h, []string{standardwebhooks.NewSecret()}, "msg_forged", time.Now(), body); err != nil {
				panic(err)
			}
			return h
		},
		Reasons: providertest.Reasons{NoKeys: "no signing secret configured",
			NoCredentials: "missing webhook-id, webhook-timestamp or webhook-signature", Mismatch: "signature mismatch"},
		EventsCarryReason:      true,
		EventsCarryWorkItemID:  false,
		RedeliveryRewritesBody: false,

		Events: []string{connectorfake.TypeCreated, connectorfake.TypeCommented, connectorfake.TypeApproved, connectorfake.TypeRejected,
			connectorfake.TypeResolved, connectorfake.TypeDeleted, connectorfake.TypeExpired, connectorfake.TypeCancelled},
		Outcomes: connectorOutcomes(),
		// Cancel marks the ticket cancelled (DELETED in this connector's table); again is fine.
		Cancel: providertest.CancelBehavior{Status: connectorfake.TypeCancelled, Outcome: engine.OutcomeDeleted},
	}
}
