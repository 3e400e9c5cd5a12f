package onespan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/flowhook/flowhook/server/internal/engine"
)

// Provider is OneSpan Sign's name in flowhook: stored with designs, PROVIDER_ONESPAN in the API.
const Provider engine.Provider = "ONESPAN"

// system is the one OneSpan system (one account per flowhook).
var system = engine.System{Provider: Provider}

// SettingsID is the settings group of OneSpan's account.
const SettingsID = "provider.onespan"

// Settings keys of OneSpan's settings group.
const (
	KeyBaseURL             = "base_url"
	KeyAPIKey              = "api_key"               // secret
	KeyCallbackKey         = "callback_key"          // secret
	KeyPreviousCallbackKey = "previous_callback_key" // secret, accepted until the time below
	KeyPreviousValidUntil  = "previous_callback_key_valid_until"
)

// DefaultCallbackKeyGrace is how long a replaced callback key is still accepted by default;
// MaxCallbackKeyGrace bounds it.
const (
	DefaultCallbackKeyGrace = 24 * time.Hour
	MaxCallbackKeyGrace     = 30 * 24 * time.Hour
)

// Events are the callback events OneSpan can report about a package (providers.md B6), plus
// PACKAGE_DELETED, a spelling accepted on receipt. flowhook acts on HandledEvents alone (the
// ones that end a package, which reading the package back confirms): only those may a state's
// outcome_overrides name.
var Events = []string{
	"DOCUMENT_SIGNED", "DOCUMENT_VIEWED", "EMAIL_BOUNCE", "KBA_FAILURE", "PACKAGE_ACTIVATE",
	"PACKAGE_ARCHIVE", "PACKAGE_ATTACHMENT", "PACKAGE_COMPLETE", "PACKAGE_CREATE",
	"PACKAGE_DEACTIVATE", "PACKAGE_DECLINE", "PACKAGE_DELETE", "PACKAGE_DELETED",
	"PACKAGE_EXPIRE", "PACKAGE_OPT_OUT", "PACKAGE_READY_FOR_COMPLETE", "PACKAGE_RESTORE",
	"PACKAGE_TRASH", "ROLE_REASSIGN", "SIGNER_COMPLETE", "SIGNER_LOCKED",
}

// MaxBody caps a callback's body: its JSON is a few hundred bytes.
const MaxBody = 64 << 10

// safeHeaders are the request headers kept with a callback: never Authorization.
var safeHeaders = []string{"Content-Type", "User-Agent", "X-Forwarded-For"}

// Plugin is OneSpan Sign as a flowhook provider (provider.Plugin).
type Plugin struct{}

// Spec: a package is sent for signature; callbacks carry only the shared callback key, so
// their outcomes are confirmed by reading the package back; packages are reconciled at most
// once per 15 minutes (OneSpan publishes no limit and gets DocuSign's courtesy).
func (Plugin) Spec() engine.ProviderSpec {
	return engine.ProviderSpec{
		Provider:          Provider,
		Name:              "OneSpan",
		Route:             "OneSpan",
		Action:            "ONESPAN_CREATE_PACKAGE",
		Events:            Events,
		Acts:              HandledEvents,
		Signers:           true,
		SignsBody:         false,
		Documents:         true,
		ReconcileInterval: 15 * time.Minute,
		StatusEvent:       StatusEvent,
	}
}

func (Plugin) SettingsID(string) string { return SettingsID }

// NewClient builds the client of the account the settings describe.
func (Plugin) NewClient(_ engine.System, s engine.Settings, hc *http.Client, now func() time.Time) (engine.ProviderClient, error) {
	cfg := ConfigFrom(s)
	if cfg.APIKey == "" {
		return nil, engine.ErrNotConfigured
	}
	if now == nil {
		now = time.Now
	}
	c, err := NewClient(Settings{BaseURL: cfg.BaseURL, APIKey: cfg.APIKey, CallbackKeys: cfg.CallbackKeys(now())}, hc, now)
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
	return engine.InboundLimits{MaxBody: MaxBody, MaxBodyText: "64 KiB", Sender: "OneSpan",
		Noun: "OneSpan callbacks", One: "callback", Item: "package", SafeHeaders: safeHeaders,
		Unauthorized: "the callback does not carry a configured callback key", HeaderAuth: true}
}

// Credentials are the callback keys accepted at now: the current one, and the previous one
// until its grace period ends.
func (Plugin) Credentials(s engine.Settings, now time.Time) []string {
	return ConfigFrom(s).CallbackKeys(now)
}

// Authenticate checks "Authorization: Basic {key}" (Verify). Nothing binds the body to the key,
// so the receiver checks it before reading the body (InboundLimits.HeaderAuth).
func (Plugin) Authenticate(_ []byte, h http.Header, keys []string, _ time.Time) engine.Authentication {
	if err := Verify(h, keys); err != nil {
		reason := "key mismatch"
		switch {
		case errors.Is(err, ErrNoKeys):
			reason = "no callback key configured"
		case errors.Is(err, ErrNoCredentials):
			reason = "no Basic credentials"
		}
		return engine.Authentication{Reason: reason, Note: fmt.Sprintf("callback key: %s (%d key(s) accepted now)", reason, len(keys))}
	}
	return engine.Authentication{OK: true,
		Note: fmt.Sprintf("the callback key matches one of the %d accepted now (OneSpan signs no body: the package will be read back)", len(keys))}
}

// StatusEvent names the callback OneSpan would have sent for a package's status (for
// reconciliation, which feeds what it finds through the webhook pipeline).
func StatusEvent(st engine.ExternalStatus) string {
	switch {
	case st.Outcome == engine.OutcomeFinished:
		// COMPLETED, or ARCHIVED after its completion: PACKAGE_ARCHIVE (DELETED) would not be
		// confirmed by the read-back (FINISHED), and the package would never be resolved.
		return "PACKAGE_COMPLETE"
	case st.Status == StatusTrashed:
		return "PACKAGE_TRASH" // a state's override of it applies, as to the callback
	}
	switch st.Status {
	case "COMPLETED":
		return "PACKAGE_COMPLETE"
	case "DECLINED":
		return "PACKAGE_DECLINE"
	case "OPTED_OUT":
		return "PACKAGE_OPT_OUT"
	case "EXPIRED":
		return "PACKAGE_EXPIRE"
	case "ARCHIVED":
		return "PACKAGE_ARCHIVE"
	}
	if st.Outcome == engine.OutcomeDeleted {
		return "PACKAGE_DELETE" // trashed, or gone
	}
	return "PACKAGE_" + st.Status
}

// Config is OneSpan's settings group read.
type Config struct {
	BaseURL             string
	APIKey              string
	CallbackKey         string
	PreviousCallbackKey string
	PreviousValidUntil  time.Time
}

// ConfigFrom reads OneSpan's settings group.
func ConfigFrom(s engine.Settings) Config {
	str := func(k string) string { v, _ := s.Plain[k].(string); return v }
	c := Config{
		BaseURL:             str(KeyBaseURL),
		APIKey:              s.Secrets[KeyAPIKey],
		CallbackKey:         s.Secrets[KeyCallbackKey],
		PreviousCallbackKey: s.Secrets[KeyPreviousCallbackKey],
	}
	if t, err := time.Parse(time.RFC3339Nano, str(KeyPreviousValidUntil)); err == nil {
		c.PreviousValidUntil = t
	}
	return c
}

// CallbackKeys are the keys a callback may carry at now: the current one, and the previous one
// until its grace period ends.
func (c Config) CallbackKeys(now time.Time) []string {
	var keys []string
	if c.CallbackKey != "" {
		keys = append(keys, c.CallbackKey)
	}
	if c.PreviousCallbackKey != "" && now.Before(c.PreviousValidUntil) {
		keys = append(keys, c.PreviousCallbackKey)
	}
	return keys
}

// Roll returns the config with the callback key rolled: when newKey is a new key, the current
// one becomes the previous, accepted until now+grace.
func (c Config) Roll(newKey string, now time.Time, grace time.Duration) Config {
	if newKey == "" || newKey == c.CallbackKey {
		return c
	}
	if c.CallbackKey != "" {
		c.PreviousCallbackKey, c.PreviousValidUntil = c.CallbackKey, now.Add(grace).UTC()
	}
	c.CallbackKey = newKey
	return c
}

// Settings is the stored form of the config.
func (c Config) Settings() engine.Settings {
	s := engine.Settings{ID: SettingsID, Plain: map[string]any{KeyBaseURL: c.BaseURL}, Secrets: map[string]string{}}
	if c.APIKey != "" {
		s.Secrets[KeyAPIKey] = c.APIKey
	}
	if c.CallbackKey != "" {
		s.Secrets[KeyCallbackKey] = c.CallbackKey
	}
	if c.PreviousCallbackKey != "" {
		s.Secrets[KeyPreviousCallbackKey] = c.PreviousCallbackKey
		s.Plain[KeyPreviousValidUntil] = c.PreviousValidUntil.UTC().Format(time.RFC3339Nano)
	}
	return s
}

// settingsView is the API's OneSpanSettings message: never a key, only whether it is set.
type settingsView struct {
	BaseURL                       string     `json:"baseUrl,omitempty"`
	APIKeySet                     bool       `json:"apiKeySet,omitempty"`
	CallbackKeySet                bool       `json:"callbackKeySet,omitempty"`
	PreviousCallbackKeyValidUntil *time.Time `json:"previousCallbackKeyValidUntil,omitempty"`
	WebhookURL                    string     `json:"webhookUrl,omitempty"`
	Revision                      int64      `json:"revision,omitempty"`
	UpdatedAt                     *time.Time `json:"updatedAt,omitempty"`
}

// settingsUpdate is the API's UpdateOneSpanSettingsRequest (durations as protobuf's JSON
// writes them: "3600s").
type settingsUpdate struct {
	BaseURL          string  `json:"baseUrl"`
	APIKey           *string `json:"apiKey"`
	CallbackKey      *string `json:"callbackKey"`
	CallbackKeyGrace string  `json:"callbackKeyGrace"`
	RegisterCallback bool    `json:"registerCallback"`
}

func (Plugin) ViewSettings(s engine.Settings, webhookURL string, now time.Time) any {
	c := ConfigFrom(s)
	v := settingsView{BaseURL: c.BaseURL, APIKeySet: c.APIKey != "", CallbackKeySet: c.CallbackKey != "",
		WebhookURL: webhookURL, Revision: s.Revision}
	if !s.UpdatedAt.IsZero() {
		t := s.UpdatedAt.UTC()
		v.UpdatedAt = &t
	}
	if c.PreviousCallbackKey != "" && now.Before(c.PreviousValidUntil) {
		t := c.PreviousValidUntil.UTC()
		v.PreviousCallbackKeyValidUntil = &t
	}
	return v
}

// ApplySettings replaces the base URL when one is given (an empty one keeps the saved URL, and
// is OneSpan's US2 sandbox only when none was saved: a key rotated without the URL must not move
// the account to another host); the API key changes when given; a new callback key is rolled,
// the one it replaces accepted for the grace period (24 hours unless told otherwise, at most 30
// days). Every problem is reported at once.
func (Plugin) ApplySettings(cur engine.Settings, update []byte, now time.Time) (engine.Settings, error) {
	var m settingsUpdate
	if err := json.Unmarshal(update, &m); err != nil {
		return engine.Settings{}, err
	}
	var ps engine.Problems
	base := strings.TrimRight(strings.TrimSpace(m.BaseURL), "/")
	if base == "" {
		base = ConfigFrom(cur).BaseURL
	}
	if base == "" {
		base = DefaultBaseURL
	}
	// What is saved is what the client accepts (Settings.Validate): a URL without user info
	// (which the view would show), keys of printable ASCII.
	if _, err := parseBaseURL(base); err != nil {
		ps.Add("base_url", "%v", err)
	}
	secret := func(path string, v *string, minLen int) {
		if v == nil {
			return
		}
		switch {
		case strings.ContainsAny(*v, "\r\n \t"):
			ps.Add(path, "must be one word (no spaces or line breaks)")
		case len(*v) < minLen || len(*v) > 1024:
			ps.Add(path, "must be %d to 1024 characters", minLen)
		default:
			if err := checkKey(*v); err != nil {
				ps.Add(path, "%v", err)
			}
		}
	}
	secret("api_key", m.APIKey, 8)
	secret("callback_key", m.CallbackKey, 16)
	grace := DefaultCallbackKeyGrace
	if m.CallbackKeyGrace != "" {
		switch d, err := time.ParseDuration(m.CallbackKeyGrace); {
		case err != nil || d < 0 || d > MaxCallbackKeyGrace:
			ps.Add("callback_key_grace", "must be between 0 (24 hours) and 30 days")
		case d > 0:
			grace = d
		}
	}
	if err := ps.Err(); err != nil {
		return engine.Settings{}, err
	}
	next := ConfigFrom(cur)
	next.BaseURL = base
	if m.APIKey != nil {
		next.APIKey = *m.APIKey
	}
	if m.CallbackKey != nil {
		next = next.Roll(*m.CallbackKey, now, grace)
	}
	if m.RegisterCallback && (next.APIKey == "" || next.CallbackKey == "") {
		return engine.Settings{}, engine.Invalid(engine.Problem{Path: "register_callback", Message: "needs an API key and a callback key"})
	}
	return next.Settings(), nil
}

// SettingsSaved registers the webhook URL and the callback key at OneSpan when the update asks
// for it (register_callback): one callback configuration per account, for the outcomes, and
// for the progress events too while the debug option is on (CallbackEventsFor).
func (Plugin) SettingsSaved(ctx context.Context, saved engine.Settings, client func() (engine.ProviderClient, error), update []byte, webhookURL string, debug bool) error {
	var m settingsUpdate
	if err := json.Unmarshal(update, &m); err != nil || !m.RegisterCallback {
		return err
	}
	c, err := oneSpanClient(client)
	if err != nil {
		return fmt.Errorf("registering the callback at OneSpan failed: %w", err)
	}
	if err := c.RegisterCallback(ctx, webhookURL, ConfigFrom(saved).CallbackKey, CallbackEventsFor(debug)); err != nil {
		return fmt.Errorf("registering the callback at OneSpan failed: %w", err)
	}
	return nil
}

// DebugChanged registers flowhook's callback again for the events the debug option now asks
// for (CallbackEventsFor), when the account's callback is flowhook's (its URL is webhookURL:
// one registered by hand for another listener, or none, is left alone) and is registered for
// other events. It needs the API key and the callback key saved; without them nothing was
// registered by flowhook.
func (Plugin) DebugChanged(ctx context.Context, saved engine.Settings, client func() (engine.ProviderClient, error), webhookURL string, debug bool) (bool, error) {
	cfg := ConfigFrom(saved)
	if cfg.APIKey == "" || cfg.CallbackKey == "" {
		return false, nil
	}
	c, err := oneSpanClient(client)
	if err != nil {
		return false, fmt.Errorf("registering the callback at OneSpan again failed: %w", err)
	}
	cb, err := c.GetCallback(ctx)
	if err != nil {
		return false, fmt.Errorf("reading the callback registered at OneSpan failed: %w", err)
	}
	want := CallbackEventsFor(debug)
	if cb.URL != webhookURL || sameEvents(cb.Events, want) {
		return false, nil
	}
	if err := c.RegisterCallback(ctx, webhookURL, cfg.CallbackKey, want); err != nil {
		return false, fmt.Errorf("registering the callback at OneSpan again failed: %w", err)
	}
	return true, nil
}

func oneSpanClient(client func() (engine.ProviderClient, error)) (*Client, error) {
	pc, err := client()
	if err != nil {
		return nil, err
	}
	c, ok := pc.(*Client)
	if !ok {
		return nil, errors.New("not a OneSpan client")
	}
	return c, nil
}

// sameEvents says whether two event lists hold the same events, in any order.
func sameEvents(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// TestConnection makes two cheap authenticated reads and says whether the callback registered
// at OneSpan is flowhook's.
func (Plugin) TestConnection(ctx context.Context, pc engine.ProviderClient, webhookURL string) engine.ConnectionReport {
	c, ok := pc.(*Client)
	if !ok {
		return engine.ConnectionReport{Message: "not a OneSpan client"}
	}
	info, err := c.TestConnection(ctx)
	if err != nil {
		var pe *engine.ProviderError
		if errors.As(err, &pe) || errors.Is(err, engine.ErrProviderPermanent) {
			return engine.ConnectionReport{Message: err.Error()}
		}
		return engine.ConnectionReport{Message: "the provider could not be reached"}
	}
	msg := fmt.Sprintf("signed in at %s; %d package(s) in the inbox", info.APIRoot, info.InboxPackages)
	switch {
	case info.CallbackURL == "":
		msg += "; no callback is registered (save the settings with register_callback)"
	case info.CallbackURL != webhookURL:
		msg += fmt.Sprintf("; the callback registered is %s, not %s", info.CallbackURL, webhookURL)
	case sameEvents(info.CallbackEvents, OutcomeCallbackEvents):
		msg += "; the callback is registered for the outcomes"
	case sameEvents(info.CallbackEvents, CallbackEvents):
		msg += "; the callback is registered for the outcomes and the progress events (the Webhook Receiver debug option's)"
	default:
		msg += fmt.Sprintf("; the callback is registered for %v (save the settings with register_callback to register flowhook's)", info.CallbackEvents)
	}
	return engine.ConnectionReport{OK: true, Message: msg, BaseURI: info.APIRoot}
}
