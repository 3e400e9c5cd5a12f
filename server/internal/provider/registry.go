// Package provider builds the clients of the outside systems (DocuSign, OneSpan) from their
// settings, which administrators change at run time: a client is rebuilt when its settings'
// revision changes and reused otherwise, so that an access token outlives one job.
package provider

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/docusign"
	"github.com/flowhook/flowhook/server/internal/provider/onespan"
)

// Settings keys of DocuSign's settings group.
const (
	KeyAccountID      = "account_id"
	KeyIntegrationKey = "integration_key"
	KeyUserID         = "user_id"
	KeyOAuthBaseURL   = "oauth_base_url"
	KeyPrivateKey     = "private_key_pem" // secret
	KeyHMACKeys       = "hmac_keys"       // secret, one per line
)

// Registry hands out provider clients configured from the stored settings.
type Registry struct {
	settings engine.SettingsStore
	http     *http.Client
	now      func() time.Time

	mu       sync.Mutex
	docusign *docusign.Client
	revision int64
	onespan  *onespan.Client
	osRev    int64

	// The HMAC keys are read on every notification: kept for keysTTL, so that a rotation
	// reaches every replica within that time without a database read per webhook.
	keysMu      sync.Mutex
	keys        []string
	keysRead    time.Time
	oneSpan     OneSpanConfig
	oneSpanRead time.Time
}

// keysTTL is how long HMAC keys read from the settings are reused.
const keysTTL = 2 * time.Second

// NewRegistry returns a registry over the settings store.
func NewRegistry(settings engine.SettingsStore, httpClient *http.Client, now func() time.Time) *Registry {
	return &Registry{settings: settings, http: httpClient, now: now}
}

// ErrNotConfigured: the provider has no (complete) settings yet.
var ErrNotConfigured = fmt.Errorf("%w: the provider is not configured; an admin sets it up in the provider settings", engine.ErrProviderPermanent)

// DocuSignSettings reads DocuSign's settings.
func DocuSignSettings(s engine.Settings) docusign.Settings {
	str := func(k string) string { v, _ := s.Plain[k].(string); return v }
	out := docusign.Settings{
		AccountID:      str(KeyAccountID),
		IntegrationKey: str(KeyIntegrationKey),
		UserID:         str(KeyUserID),
		OAuthBaseURL:   str(KeyOAuthBaseURL),
		PrivateKeyPEM:  []byte(s.Secrets[KeyPrivateKey]),
	}
	for _, k := range strings.Split(s.Secrets[KeyHMACKeys], "\n") {
		if k = strings.TrimSpace(k); k != "" {
			out.HMACKeys = append(out.HMACKeys, k)
		}
	}
	return out
}

// Client returns the client of a provider.
func (r *Registry) Client(ctx context.Context, p engine.Provider) (engine.ProviderClient, error) {
	switch p {
	case engine.ProviderDocuSign:
		return r.DocuSign(ctx)
	case engine.ProviderOneSpan:
		return r.OneSpan(ctx)
	default:
		return nil, fmt.Errorf("%w: %s", ErrNotConfigured, p)
	}
}

// DocuSign returns the DocuSign client for the current settings.
func (r *Registry) DocuSign(ctx context.Context) (*docusign.Client, error) {
	s, err := r.settings.GetSettings(ctx, engine.SettingsDocuSign)
	if err != nil {
		return nil, err
	}
	if s.Revision == 0 {
		return nil, ErrNotConfigured
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.docusign != nil && r.revision == s.Revision {
		return r.docusign, nil
	}
	c, err := docusign.NewClient(DocuSignSettings(s), r.http, r.now)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotConfigured, err)
	}
	r.docusign, r.revision = c, s.Revision
	return c, nil
}

// DocuSignHMACKeys returns the keys a DocuSign Connect message may be signed with.
func (r *Registry) DocuSignHMACKeys(ctx context.Context) ([]string, error) {
	r.keysMu.Lock()
	defer r.keysMu.Unlock()
	if now := r.now(); r.keysRead.IsZero() || now.Sub(r.keysRead) >= keysTTL || now.Before(r.keysRead) {
		s, err := r.settings.GetSettings(ctx, engine.SettingsDocuSign)
		if err != nil {
			return nil, err
		}
		r.keys, r.keysRead = DocuSignSettings(s).HMACKeys, now
	}
	return r.keys, nil
}
