package engine

import (
	"context"
	"sync"
	"time"
)

// Settings is one named group of settings: plain values, and secrets that are kept sealed at
// rest and never returned by the API.
type Settings struct {
	ID        string
	Plain     map[string]any
	Secrets   map[string]string
	Revision  int64 // 0: never saved
	UpdatedAt time.Time
	UpdatedBy string
}

// SettingsStore keeps settings groups.
type SettingsStore interface {
	GetSettings(ctx context.Context, id string) (Settings, error)
	// PutSettings saves the group when it is still at expectedRevision; ErrConflict otherwise.
	PutSettings(ctx context.Context, s Settings, expectedRevision int64) (Settings, error)
	// ListSettings returns up to limit groups whose id starts with prefix and sorts after
	// after, by id, and how many groups have the prefix.
	ListSettings(ctx context.Context, prefix, after string, limit int) ([]Settings, int64, error)
	// DeleteSettings removes a group; ErrNotFound when there is none.
	DeleteSettings(ctx context.Context, id string) error
}

// SettingsSecurity is the id of the security settings group. Each provider names its own.
const SettingsSecurity = "security"

// DefaultEventRetentionDays is how long the Event Log keeps notifications unless told otherwise.
const DefaultEventRetentionDays = 30

// MaxEventRetentionDays bounds the retention (ten years).
const MaxEventRetentionDays = 3650

// MaxDataRetentionDays bounds the retention of finished instances' form data and signed
// documents (a hundred years); 0 keeps them for ever.
const MaxDataRetentionDays = 36500

// SecuritySettings are the security settings group.
type SecuritySettings struct {
	// WebhookReceiverDebug writes every notification's steps to the Event Log and as span
	// events.
	WebhookReceiverDebug bool
	// EventRetentionDays is how long the Event Log keeps notifications and their steps.
	EventRetentionDays int
	// FormDataRetentionDays and DocumentRetentionDays are how many days a finished (COMPLETED
	// or CANCELLED) instance keeps its form data and its signed documents after it ended; 0,
	// the default, keeps them for ever (Retention erases them past the limit).
	FormDataRetentionDays int
	DocumentRetentionDays int
	Revision              int64
	UpdatedAt             time.Time
}

// Settings keys of the security group.
const (
	KeyWebhookReceiverDebug  = "webhook_receiver_debug"
	KeyEventRetentionDays    = "event_retention_days"
	KeyFormDataRetentionDays = "form_data_retention_days"
	KeyDocumentRetentionDays = "document_retention_days"
)

// SecurityFrom reads the security group (defaults where never saved).
func SecurityFrom(s Settings) SecuritySettings {
	out := SecuritySettings{EventRetentionDays: DefaultEventRetentionDays, Revision: s.Revision, UpdatedAt: s.UpdatedAt}
	out.WebhookReceiverDebug, _ = s.Plain[KeyWebhookReceiverDebug].(bool)
	// JSON numbers come back as float64.
	if d, ok := s.Plain[KeyEventRetentionDays].(float64); ok && d >= 1 && d <= MaxEventRetentionDays {
		out.EventRetentionDays = int(d)
	}
	// A value out of range (never saved by this API) keeps for ever rather than erasing early.
	if d, ok := s.Plain[KeyFormDataRetentionDays].(float64); ok && d >= 0 && d <= MaxDataRetentionDays {
		out.FormDataRetentionDays = int(d)
	}
	if d, ok := s.Plain[KeyDocumentRetentionDays].(float64); ok && d >= 0 && d <= MaxDataRetentionDays {
		out.DocumentRetentionDays = int(d)
	}
	return out
}

// Plain is the group's stored form.
func (s SecuritySettings) Plain() map[string]any {
	return map[string]any{KeyWebhookReceiverDebug: s.WebhookReceiverDebug, KeyEventRetentionDays: s.EventRetentionDays,
		KeyFormDataRetentionDays: s.FormDataRetentionDays, KeyDocumentRetentionDays: s.DocumentRetentionDays}
}

// Security reads the security settings on hot paths (every notification asks whether the
// debug option is on): a value read is reused for TTL, so a change reaches every replica
// within that time without a database read per webhook.
type Security struct {
	store SettingsStore
	clock Clock
	ttl   time.Duration

	mu   sync.Mutex
	cur  SecuritySettings
	read time.Time
	// known: cur was read once (Forget asks for a new read, but keeps it as the last value).
	known bool
}

// SecurityTTL is how long Security reuses a read.
const SecurityTTL = 2 * time.Second

// NewSecurity returns the security settings reader.
func NewSecurity(store SettingsStore, clock Clock) *Security {
	return &Security{store: store, clock: clock, ttl: SecurityTTL}
}

// Get returns the settings, read at most TTL ago.
func (s *Security) Get(ctx context.Context) (SecuritySettings, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	if !s.read.IsZero() && now.Sub(s.read) < s.ttl && !now.Before(s.read) {
		return s.cur, nil
	}
	st, err := s.store.GetSettings(ctx, SettingsSecurity)
	if err != nil {
		return s.cur, err
	}
	s.cur, s.read, s.known = SecurityFrom(st), now, true
	return s.cur, nil
}

// Debug says whether the Webhook Receiver debug option is on. When the settings cannot be
// read it answers with the last value read, and before any, on: while debugging, a
// notification flowhook does not act on is kept rather than only acknowledged, and a replica
// that starts during a database outage must not acknowledge one it could not keep (trying to
// keep it answers 503, and the provider sends it again).
func (s *Security) Debug(ctx context.Context) bool {
	st, err := s.Get(ctx)
	if err != nil && !s.everRead() {
		return true
	}
	return st.WebhookReceiverDebug
}

// everRead says whether the settings were read once.
func (s *Security) everRead() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.known
}

// Forget drops the value read, so the next Get reads again (after this replica saved a change).
func (s *Security) Forget() {
	s.mu.Lock()
	s.read = time.Time{}
	s.mu.Unlock()
}
