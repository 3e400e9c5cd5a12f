package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/flowhook/flowhook/server/internal/provider/onespan"

	"github.com/flowhook/flowhook/server/internal/engine"
)

// Settings keys of OneSpan's settings group.
const (
	KeyOneSpanBaseURL             = "base_url"
	KeyOneSpanAPIKey              = "api_key"               // secret
	KeyOneSpanCallbackKey         = "callback_key"          // secret
	KeyOneSpanPreviousCallbackKey = "previous_callback_key" // secret, accepted until the time below
	KeyOneSpanPreviousValidUntil  = "previous_callback_key_valid_until"
)

// OneSpanSandboxURL is the default OneSpan host (US2 sandbox).
const OneSpanSandboxURL = "https://sandbox.esignlive.com"

// DefaultCallbackKeyGrace is how long a replaced callback key is still accepted by default.
const DefaultCallbackKeyGrace = 24 * time.Hour

// OneSpanConfig is OneSpan's settings group read.
type OneSpanConfig struct {
	BaseURL             string
	APIKey              string
	CallbackKey         string
	PreviousCallbackKey string
	PreviousValidUntil  time.Time
}

// OneSpanConfigFrom reads OneSpan's settings group.
func OneSpanConfigFrom(s engine.Settings) OneSpanConfig {
	str := func(k string) string { v, _ := s.Plain[k].(string); return v }
	c := OneSpanConfig{
		BaseURL:             str(KeyOneSpanBaseURL),
		APIKey:              s.Secrets[KeyOneSpanAPIKey],
		CallbackKey:         s.Secrets[KeyOneSpanCallbackKey],
		PreviousCallbackKey: s.Secrets[KeyOneSpanPreviousCallbackKey],
	}
	if t, err := time.Parse(time.RFC3339Nano, str(KeyOneSpanPreviousValidUntil)); err == nil {
		c.PreviousValidUntil = t
	}
	return c
}

// CallbackKeys are the keys a callback may carry at now: the current one, and the previous one
// until its grace period ends.
func (c OneSpanConfig) CallbackKeys(now time.Time) []string {
	var keys []string
	if c.CallbackKey != "" {
		keys = append(keys, c.CallbackKey)
	}
	if c.PreviousCallbackKey != "" && now.Before(c.PreviousValidUntil) {
		keys = append(keys, c.PreviousCallbackKey)
	}
	return keys
}

// Roll returns next with the callback key rolled: when next brings a new key, the current one
// becomes the previous, accepted until now+grace.
func (c OneSpanConfig) Roll(newKey string, now time.Time, grace time.Duration) OneSpanConfig {
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
func (c OneSpanConfig) Settings() engine.Settings {
	s := engine.Settings{ID: engine.SettingsOneSpan, Plain: map[string]any{KeyOneSpanBaseURL: c.BaseURL}, Secrets: map[string]string{}}
	if c.APIKey != "" {
		s.Secrets[KeyOneSpanAPIKey] = c.APIKey
	}
	if c.CallbackKey != "" {
		s.Secrets[KeyOneSpanCallbackKey] = c.CallbackKey
	}
	if c.PreviousCallbackKey != "" {
		s.Secrets[KeyOneSpanPreviousCallbackKey] = c.PreviousCallbackKey
		s.Plain[KeyOneSpanPreviousValidUntil] = c.PreviousValidUntil.UTC().Format(time.RFC3339Nano)
	}
	return s
}

// OneSpanCallbackKeys returns the callback keys accepted now, read at most keysTTL ago.
func (r *Registry) OneSpanCallbackKeys(ctx context.Context) ([]string, error) {
	r.keysMu.Lock()
	defer r.keysMu.Unlock()
	now := r.now()
	if r.oneSpanRead.IsZero() || now.Sub(r.oneSpanRead) >= keysTTL || now.Before(r.oneSpanRead) {
		s, err := r.settings.GetSettings(ctx, engine.SettingsOneSpan)
		if err != nil {
			return nil, err
		}
		r.oneSpan, r.oneSpanRead = OneSpanConfigFrom(s), now
	}
	// The grace period is checked at every call, not at every read.
	return r.oneSpan.CallbackKeys(now), nil
}

// OneSpan returns the OneSpan client for the current settings.
func (r *Registry) OneSpan(ctx context.Context) (*onespan.Client, error) {
	s, err := r.settings.GetSettings(ctx, engine.SettingsOneSpan)
	if err != nil {
		return nil, err
	}
	cfg := OneSpanConfigFrom(s)
	if s.Revision == 0 || cfg.APIKey == "" {
		return nil, ErrNotConfigured
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.onespan != nil && r.osRev == s.Revision {
		return r.onespan, nil
	}
	c, err := onespan.NewClient(onespan.Settings{BaseURL: cfg.BaseURL, APIKey: cfg.APIKey, CallbackKeys: cfg.CallbackKeys(r.now())}, r.http, r.now)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotConfigured, err)
	}
	r.onespan, r.osRev = c, s.Revision
	return c, nil
}

// OneSpanStatusEvent names the callback OneSpan would have sent for a package's status (for
// reconciliation, which feeds what it finds through the webhook pipeline).
func OneSpanStatusEvent(st engine.ExternalStatus) string {
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
