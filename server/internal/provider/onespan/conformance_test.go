package onespan_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/onespan"
	"github.com/flowhook/flowhook/server/internal/provider/onespan/onespanfake"
	"github.com/flowhook/flowhook/server/internal/provider/providertest"
)

const (
	conformanceAPIKey      = "Y29uZm9ybWFuY2UtYXBpLWtleTpjb25mb3JtYW5jZS1zZWNyZXQ="
	conformanceCallbackKey = "conformance-callback-key-5e21"
)

// conformanceFake adapts onespanfake to providertest.Fake.
type conformanceFake struct {
	f        *onespanfake.Fake
	mu       sync.Mutex
	replayed int // failed deliveries replayed so far
}

func (c *conformanceFake) Complete(id string) error        { return c.f.Complete(id) }
func (c *conformanceFake) Decline(id, reason string) error { return c.f.Decline(id, reason) }
func (c *conformanceFake) Expire(id string) error          { return c.f.Expire(id) }
func (c *conformanceFake) DropNextCreateResponse()         { c.f.DropNextCreateResponse() }

// Redeliver replays the payloads of the failure emails not replayed yet, as an administrator
// would: OneSpan itself does not retry.
func (c *conformanceFake) Redeliver() error {
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

func (c *conformanceFake) Deliveries() []providertest.Delivery {
	var out []providertest.Delivery
	for _, d := range c.f.Deliveries() {
		out = append(out, providertest.Delivery{Event: d.Event, ExternalID: d.PackageID, Body: d.Body})
	}
	return out
}

func (c *conformanceFake) Created() []string {
	var out []string
	for _, r := range c.f.Creates() {
		if r.ID != "" {
			out = append(out, r.ID)
		}
	}
	return out
}

func TestConformance(t *testing.T) {
	t.Parallel()
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
	// The events the receiver handles are exactly the ones that end a package.
	require.ElementsMatch(t, onespan.HandledEvents, slices.Collect(maps.Keys(outcomes)))

	providertest.Run(t, providertest.Harness{
		Kind: engine.ProviderOneSpan,
		NewClient: func(t *testing.T, callbackURL string) (engine.ProviderClient, providertest.Fake) {
			// The callback is one per account: registered with what flowhook registers.
			fake := onespanfake.New(onespanfake.Options{
				APIKey:         conformanceAPIKey,
				CallbackURL:    callbackURL,
				CallbackKey:    conformanceCallbackKey,
				CallbackEvents: onespan.CallbackEvents,
			})
			url := fake.Start(t)
			hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(), Timeout: 30 * time.Second}
			t.Cleanup(hc.CloseIdleConnections)
			c, err := onespan.NewClient(onespan.Settings{
				BaseURL:      url,
				APIKey:       conformanceAPIKey,
				CallbackKeys: []string{conformanceCallbackKey},
			}, hc, nil, onespan.WithWait(func(ctx context.Context, _ time.Duration) error { return ctx.Err() }))
			require.NoError(t, err)
			return c, &conformanceFake{f: fake}
		},
		Document:       onespanfake.PDF("Contract. Sign here: " + providertest.Anchor),
		OpenStatuses:   []string{"SENT"},
		DownloadPrefix: []byte("PK\x03\x04"),

		Keys: []string{conformanceCallbackKey},
		Verify: func(_ []byte, h http.Header, keys []string) error {
			return onespan.Verify(h, keys)
		},
		Forge: func([]byte) http.Header {
			h := http.Header{}
			h.Set("Authorization", "Basic not-the-configured-key")
			return h
		},
		SignsBody: false, // the key is sent as is; nothing binds the body
		VerifyErrors: providertest.VerifyErrors{
			NoKeys:        onespan.ErrNoKeys,
			NoCredentials: onespan.ErrNoCredentials,
			Mismatch:      onespan.ErrMismatch,
		},
		ParseEvent:             onespan.ParseEvent,
		EventsCarryReason:      false, // the reason is a message of the package
		EventsCarryWorkItemID:  false,
		RedeliveryRewritesBody: false,

		DefaultOutcome: onespan.DefaultOutcome,
		Outcomes:       outcomes,

		// Cancel deletes the package; one already gone is fine.
		Cancel: providertest.CancelBehavior{
			Status:  onespan.StatusDeleted,
			Outcome: engine.OutcomeDeleted,
			Gone:    true,
		},
	})
}
