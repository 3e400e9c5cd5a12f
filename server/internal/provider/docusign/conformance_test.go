package docusign_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/docusign"
	"github.com/flowhook/flowhook/server/internal/provider/docusign/docusignfake"
	"github.com/flowhook/flowhook/server/internal/provider/providertest"
)

const conformanceHMACKey = "Y29uZm9ybWFuY2UtaG1hYy1rZXktZm9yLWRvY3VzaWdu"

// conformanceKey signs the client's JWT assertions (2048 bits, once: slow under -race).
var conformanceKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// conformanceFake adapts docusignfake to providertest.Fake.
type conformanceFake struct{ f *docusignfake.Fake }

func (c conformanceFake) Complete(id string) error        { return c.f.Complete(id) }
func (c conformanceFake) Decline(id, reason string) error { return c.f.Decline(id, reason) }
func (c conformanceFake) Expire(id string) error          { return c.f.Expire(id) }
func (c conformanceFake) DropNextCreateResponse()         { c.f.DropNextCreateResponse() }

// Redeliver is Connect's retry of the messages the listener refused (retryCount + 1).
func (c conformanceFake) Redeliver() error {
	if len(c.f.Pending()) == 0 {
		return errors.New("no Connect message waits for a retry")
	}
	c.f.RetryPending()
	return nil
}

func (c conformanceFake) Deliveries() []providertest.Delivery {
	var out []providertest.Delivery
	for _, d := range c.f.Deliveries() {
		out = append(out, providertest.Delivery{Event: d.Event, ExternalID: d.EnvelopeID, Body: d.Body})
	}
	return out
}

func (c conformanceFake) Created() []string {
	var out []string
	for _, e := range c.f.Envelopes() {
		if e.EnvelopeID != "" {
			out = append(out, e.EnvelopeID)
		}
	}
	return out
}

func TestConformance(t *testing.T) {
	t.Parallel()
	providertest.Run(t, providertest.Harness{
		Kind: engine.ProviderDocuSign,
		NewClient: func(t *testing.T, _ string) (engine.ProviderClient, providertest.Fake) {
			// The callback URL travels with each envelope (eventNotification).
			fake := docusignfake.New(docusignfake.Options{
				PublicKey: &conformanceKey().PublicKey,
				HMACKeys:  []string{conformanceHMACKey},
			})
			url := fake.Start(t)
			hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(), Timeout: 30 * time.Second}
			t.Cleanup(hc.CloseIdleConnections)
			c, err := docusign.NewClient(docusign.Settings{
				AccountID:      fake.AccountID(),
				IntegrationKey: fake.IntegrationKey(),
				UserID:         fake.UserID(),
				OAuthBaseURL:   url,
				PrivateKeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(conformanceKey())}),
				HMACKeys:       []string{conformanceHMACKey},
			}, hc, nil, docusign.WithWait(func(ctx context.Context, _ time.Duration) error { return ctx.Err() }))
			require.NoError(t, err)
			return c, conformanceFake{fake}
		},
		Document:       docusignfake.PDF("Contract. Sign here: " + providertest.Anchor),
		OpenStatuses:   []string{"sent"},
		DownloadPrefix: []byte("%PDF-"),

		Keys:   []string{conformanceHMACKey},
		Verify: docusign.Verify,
		Forge: func(body []byte) http.Header {
			h := http.Header{}
			h.Set("X-DocuSign-Signature-1", docusignfake.Signature(body, "not-the-configured-key"))
			return h
		},
		SignsBody: true,
		VerifyErrors: providertest.VerifyErrors{
			NoKeys:        docusign.ErrNoKeys,
			NoCredentials: docusign.ErrNoSignature,
			Mismatch:      docusign.ErrBadSignature,
		},
		ParseEvent:             docusign.ParseEvent,
		EventsCarryReason:      true,
		EventsCarryWorkItemID:  true,
		RedeliveryRewritesBody: true,

		DefaultOutcome: docusign.DefaultOutcome,
		Outcomes: map[string]engine.Outcome{
			"envelope-completed": engine.OutcomeFinished,
			"envelope-declined":  engine.OutcomeDenied,
			"envelope-voided":    engine.OutcomeDeleted, // EXPIRED when the reason says so
			"envelope-deleted":   engine.OutcomeDeleted,
			"envelope-purge":     engine.OutcomeDeleted,
		},

		// Cancel voids the envelope; DocuSign refuses to void it again (a permanent 400).
		Cancel: providertest.CancelBehavior{
			Status:    "voided",
			Outcome:   engine.OutcomeDeleted,
			RepeatErr: nil,
		},
	})
}
