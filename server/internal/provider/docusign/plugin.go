package docusign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/flowhook/flowhook/server/internal/engine"
)

// Provider is DocuSign's name in flowhook: stored with designs, PROVIDER_DOCUSIGN in the API.
const Provider engine.Provider = "DOCUSIGN"

// system is the one DocuSign system (one account per flowhook).
var system = engine.System{Provider: Provider}

// SettingsID is the settings group of DocuSign's account.
const SettingsID = "provider.docusign"

// Settings keys of DocuSign's settings group.
const (
	KeyAccountID      = "account_id"
	KeyIntegrationKey = "integration_key"
	KeyUserID         = "user_id"
	KeyOAuthBaseURL   = "oauth_base_url"
	KeyPrivateKey     = "private_key_pem" // secret
	KeyHMACKeys       = "hmac_keys"       // secret, one per line
)

// Events are the Connect events DocuSign can report about an envelope (providers.md A5): the
// names a state's outcome_overrides may use.
var Events = []string{
	"envelope-sent", "envelope-resent", "envelope-delivered", "envelope-completed",
	"envelope-declined", "envelope-voided", "envelope-corrected", "envelope-purge",
	"envelope-deleted", "envelope-discard",
	"recipient-sent", "recipient-resent", "recipient-delivered", "recipient-completed",
	"recipient-declined", "recipient-autoresponded", "recipient-authenticationfailed",
	"recipient-reassign", "recipient-delegate", "recipient-finish-later",
}

// MaxBody caps a Connect message's body. JSON SIM messages are a few kilobytes, more with
// recipients and custom fields; documents are never requested in them.
const MaxBody = 1 << 20

// safeHeaders are the request headers kept with an event: none that authenticates it.
var safeHeaders = []string{"Content-Type", "User-Agent", "X-Docusign-Accountid", "X-Authorization-Digest", "X-Forwarded-For"}

// Plugin is DocuSign as a flowhook provider (provider.Plugin).
type Plugin struct{}

// Spec: an envelope is sent for signature; Connect messages are signed over their body with
// HMAC; envelopes are reconciled at most once per 15 minutes (DocuSign's polling rule).
func (Plugin) Spec() engine.ProviderSpec {
	return engine.ProviderSpec{
		Provider:          Provider,
		Name:              "DocuSign",
		Route:             "DocuSign",
		Action:            "DOCUSIGN_CREATE_ENVELOPE",
		Events:            Events,
		Signers:           true,
		SignsBody:         true,
		Documents:         true,
		ReconcileInterval: 15 * time.Minute,
		StatusEvent:       func(s engine.ExternalStatus) string { return "envelope-" + s.Status },
	}
}

func (Plugin) SettingsID(string) string { return SettingsID }

// NewClient builds the client of the account the settings describe.
func (Plugin) NewClient(_ engine.System, s engine.Settings, hc *http.Client, now func() time.Time) (engine.ProviderClient, error) {
	c, err := NewClient(SettingsFrom(s), hc, now)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", engine.ErrNotConfigured, err)
	}
	return c, nil
}

func (Plugin) Outcome(_ engine.Settings, eventType, reason string) (engine.Outcome, bool) {
	return DefaultOutcome(eventType, reason)
}

func (Plugin) ParseEvent(body []byte, _ http.Header) (engine.InboundEvent, error) {
	return ParseEvent(body)
}

func (Plugin) Limits() engine.InboundLimits {
	return engine.InboundLimits{MaxBody: MaxBody, MaxBodyText: "1 MiB", Sender: "DocuSign Connect",
		Noun: "DocuSign notifications", One: "notification", Item: "envelope", SafeHeaders: safeHeaders,
		Unauthorized: "the notification is not signed with a configured HMAC key"}
}

// Credentials are the account's Connect HMAC keys.
func (Plugin) Credentials(s engine.Settings, _ time.Time) []string { return SettingsFrom(s).HMACKeys }

// Authenticate checks the X-DocuSign-Signature-N headers against every key (Verify).
func (Plugin) Authenticate(body []byte, h http.Header, keys []string, _ time.Time) engine.Authentication {
	if err := Verify(body, h, keys); err != nil {
		reason := "signature mismatch"
		switch {
		case errors.Is(err, ErrNoKeys):
			reason = "no HMAC key configured"
		case errors.Is(err, ErrNoSignature):
			reason = "no signature header"
		}
		return engine.Authentication{Reason: reason,
			Note: fmt.Sprintf("HMAC: %s (%d key(s) configured, %d signature header(s) sent)", reason, len(keys), signatureCount(h))}
	}
	return engine.Authentication{OK: true, Note: fmt.Sprintf("HMAC-SHA256 signature matches one of the %d configured key(s)", len(keys))}
}

// signatureCount is how many X-DocuSign-Signature-N headers came (their values are never kept).
func signatureCount(h http.Header) int {
	n := 0
	for k := range h {
		if strings.HasPrefix(strings.ToLower(k), signatureHeaderPrefix) {
			n++
		}
	}
	return n
}

// SettingsFrom reads DocuSign's settings group.
func SettingsFrom(s engine.Settings) Settings {
	str := func(k string) string { v, _ := s.Plain[k].(string); return v }
	out := Settings{
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

// settingsView is the API's DocuSignSettings message: never a secret, only whether it is set.
type settingsView struct {
	AccountID      string     `json:"accountId,omitempty"`
	IntegrationKey string     `json:"integrationKey,omitempty"`
	UserID         string     `json:"userId,omitempty"`
	OAuthBaseURL   string     `json:"oauthBaseUrl,omitempty"`
	PrivateKeySet  bool       `json:"privateKeySet,omitempty"`
	HMACKeyCount   int        `json:"hmacKeyCount,omitempty"`
	WebhookURL     string     `json:"webhookUrl,omitempty"`
	Revision       int64      `json:"revision,omitempty"`
	UpdatedAt      *time.Time `json:"updatedAt,omitempty"`
}

// settingsUpdate is the API's UpdateDocuSignSettingsRequest.
type settingsUpdate struct {
	AccountID       string   `json:"accountId"`
	IntegrationKey  string   `json:"integrationKey"`
	UserID          string   `json:"userId"`
	OAuthBaseURL    string   `json:"oauthBaseUrl"`
	PrivateKeyPEM   *string  `json:"privateKeyPem"`
	HMACKeys        []string `json:"hmacKeys"`
	ReplaceHMACKeys bool     `json:"replaceHmacKeys"`
}

func (Plugin) ViewSettings(s engine.Settings, webhookURL string, _ time.Time) any {
	ds := SettingsFrom(s)
	return settingsView{AccountID: ds.AccountID, IntegrationKey: ds.IntegrationKey, UserID: ds.UserID,
		OAuthBaseURL: ds.OAuthBaseURL, PrivateKeySet: len(ds.PrivateKeyPEM) > 0, HMACKeyCount: len(ds.HMACKeys),
		WebhookURL: webhookURL, Revision: s.Revision, UpdatedAt: timeOrNil(s.UpdatedAt)}
}

// ApplySettings replaces the plain values given. An empty OAuth host or account id keeps the
// saved one, so that an update naming neither (a private key rotated) does not move the account
// to another host or account; with none saved, the OAuth host is DocuSign's developer
// environment and the account the user's default. The private key changes when given, the HMAC
// keys when replace_hmac_keys says so (without it, hmac_keys are ignored, as the API says).
// Every problem is reported at once.
func (Plugin) ApplySettings(cur engine.Settings, update []byte, _ time.Time) (engine.Settings, error) {
	var m settingsUpdate
	if err := json.Unmarshal(update, &m); err != nil {
		return engine.Settings{}, err
	}
	saved := SettingsFrom(cur)
	oauth := strings.TrimSpace(m.OAuthBaseURL)
	if oauth == "" {
		oauth = saved.OAuthBaseURL
	}
	if oauth == "" {
		oauth = DemoOAuthBaseURL // DocuSign's developer environment until told otherwise
	}
	account := strings.TrimSpace(m.AccountID)
	if account == "" {
		account = saved.AccountID
	}
	next := engine.Settings{Plain: map[string]any{
		KeyAccountID:      account,
		KeyIntegrationKey: strings.TrimSpace(m.IntegrationKey),
		KeyUserID:         strings.TrimSpace(m.UserID),
		KeyOAuthBaseURL:   oauth,
	}, Secrets: map[string]string{}}
	for k, v := range cur.Secrets {
		next.Secrets[k] = v
	}
	if m.PrivateKeyPEM != nil {
		next.Secrets[KeyPrivateKey] = *m.PrivateKeyPEM
	}
	var ps engine.Problems
	if m.ReplaceHMACKeys {
		for i, k := range m.HMACKeys {
			if strings.ContainsAny(k, "\r\n") {
				ps.Add(fmt.Sprintf("hmac_keys[%d]", i), "must be one line")
			}
		}
		next.Secrets[KeyHMACKeys] = strings.Join(m.HMACKeys, "\n")
	}
	if err := SettingsFrom(next).Validate(); err != nil {
		if vps, ok := engine.IsValidation(err); ok {
			ps = append(ps, vps...)
		} else {
			return engine.Settings{}, err
		}
	}
	if err := ps.Err(); err != nil {
		return engine.Settings{}, err
	}
	return next, nil
}

// SettingsSaved: nothing to register at DocuSign (each envelope carries its own webhook).
func (Plugin) SettingsSaved(context.Context, engine.Settings, func() (engine.ProviderClient, error), []byte, string, bool) error {
	return nil
}

// TestConnection signs in afresh and says who the integration acts as.
func (Plugin) TestConnection(ctx context.Context, pc engine.ProviderClient, _ string) engine.ConnectionReport {
	c, ok := pc.(*Client)
	if !ok {
		return engine.ConnectionReport{Message: "not a DocuSign client"}
	}
	info, err := c.TestConnection(ctx)
	if err != nil {
		var pe *engine.ProviderError
		if errors.As(err, &pe) || errors.Is(err, engine.ErrProviderPermanent) {
			return engine.ConnectionReport{Message: err.Error()}
		}
		return engine.ConnectionReport{Message: "DocuSign could not be reached"}
	}
	return engine.ConnectionReport{OK: true, Message: fmt.Sprintf("signed in as %s for account %s", info.Name, info.AccountName),
		AccountName: info.AccountName, UserName: info.Name, BaseURI: info.BaseURI}
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}
