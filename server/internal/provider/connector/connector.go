// Package connector is flowhook's generic cloud-to-cloud (C2I) provider: any outside system —
// a ticketing system, an ERP, a KYC service, a customer's own backend — acts on an EXTERNAL
// state through a connector an administrator registers by name. Everything that crosses the
// wire follows the Standard Webhooks specification (package standardwebhooks), in both
// directions, signed with the connector's secret.
//
// flowhook → the system (Client):
//
//	POST {create_url}   Content-Type: application/json, Idempotency-Key: {work item id},
//	                    the connector's auth header, webhook-id/-timestamp/-signature
//	                    {"type":"workitem.create","timestamp":"…","data":{"workItemId","instanceId",
//	                     "workflowId","workflowVersion","state","formData":{…},"callbackUrl",
//	                     "document":{"title","contentType":"application/pdf","base64"}}}
//	                    → 2xx {"id":"<external id>"}
//	GET  {status_url}   ({id} replaced, signed over an empty body) → {"type":"<latest event type>","reason":"…"}
//	POST {cancel_url}   {"type":"workitem.cancel","timestamp":"…","data":{"id","reason"}}
//
// A create answered 408, 429 or 5xx (or not at all) is tried again with backoff, honouring
// Retry-After, under the same Idempotency-Key, also after a crash: the system creates one item
// per key. Any other 4xx, or a 2xx without an id, fails the instance with a reason quoting the
// answer.
//
// The system → flowhook: POST /webhooks/c2i/{name} with Standard Webhooks headers and
// {"type":"<event type>","timestamp":"…","data":{"id":"<external id>","reason":"…"}}. The
// signature and the timestamp (five minutes either way) are checked before anything is parsed;
// webhook-id is the dedupe key; the type is mapped through the connector's outcomes (then the
// state's overrides), and a type without an outcome is progress.
//
// A connector is a settings group of its own ("connector.{name}"): plain values, and its
// signing secret(s) and auth header sealed at rest. Admin manages them.
package connector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/connector/standardwebhooks"
)

// Provider is the connector provider's name: PROVIDER_CONNECTOR in the API.
const Provider engine.Provider = "CONNECTOR"

// SettingsPrefix starts the settings group id of every connector: connector.{name}.
const SettingsPrefix = "connector."

// Settings keys of a connector's group.
const (
	KeyDisplayName        = "display_name"
	KeyCreateURL          = "create_url"
	KeyStatusURL          = "status_url"
	KeyCancelURL          = "cancel_url"
	KeyOutcomes           = "outcomes" // event type → outcome name
	KeyCreatedAt          = "created_at"
	KeyAuthHeaderName     = "auth_header_name"
	KeyPreviousValidUntil = "previous_signing_secret_valid_until"
	KeySigningSecret      = "signing_secret"          // secret
	KeyPreviousSecret     = "previous_signing_secret" // secret, accepted until the time above
	KeyAuthHeader         = "auth_header"             // secret: "Name: value"
)

// MaxBody caps a callback's body.
const MaxBody = 256 << 10

// Tolerance is how far a callback's webhook-timestamp may be from flowhook's clock.
const Tolerance = standardwebhooks.DefaultTolerance

// safeHeaders are the callback headers kept with an event: webhook-id and -timestamp, never
// the signature.
var safeHeaders = []string{"Content-Type", "User-Agent", "Webhook-Id", "Webhook-Timestamp", "X-Forwarded-For"}

// Plugin is the connector provider (provider.Plugin): each connector is a system of its own.
type Plugin struct{}

// Spec: steps name a connector; callbacks are signed over their body; a connector with a
// status URL is reconciled at most once per 15 minutes per work item.
func (Plugin) Spec() engine.ProviderSpec {
	return engine.ProviderSpec{
		Provider:          Provider,
		Name:              "connector",
		Route:             "c2i",
		Action:            "CONNECTOR_CREATE_WORK_ITEM",
		Events:            nil, // the outside system names its own event types
		Connectors:        true,
		SignsBody:         true,
		ReconcileInterval: 15 * time.Minute,
		StatusEvent:       func(s engine.ExternalStatus) string { return s.Status },
	}
}

// SettingsID is connector.{name}.
func (Plugin) SettingsID(name string) string { return SettingsPrefix + name }

// NewClient builds the client of a connector.
func (Plugin) NewClient(sys engine.System, s engine.Settings, hc *http.Client, now func() time.Time) (engine.ProviderClient, error) {
	cfg := ConfigFrom(s)
	if cfg.CreateURL == "" || cfg.SigningSecret == "" {
		return nil, engine.ErrNotConfigured
	}
	return NewClient(sys, cfg, hc, now), nil
}

// Outcome maps an event type through the connector's outcomes.
func (Plugin) Outcome(s engine.Settings, eventType, _ string) (engine.Outcome, bool) {
	o, ok := ConfigFrom(s).Outcomes[eventType]
	return o, ok && o.Valid()
}

func (Plugin) ParseEvent(body []byte, h http.Header) (engine.InboundEvent, error) {
	return ParseEvent(body, h)
}

func (Plugin) Limits() engine.InboundLimits {
	return engine.InboundLimits{MaxBody: MaxBody, MaxBodyText: "256 KiB", Sender: "a connector's system",
		Noun: "connector callbacks", One: "callback", Item: "work item", SafeHeaders: safeHeaders,
		Unauthorized: "the callback is not signed with the connector's signing secret (Standard Webhooks)"}
}

// Credentials are the connector's signing secret and, during its grace period, the one it
// replaced.
func (Plugin) Credentials(s engine.Settings, now time.Time) []string {
	return ConfigFrom(s).Secrets(now)
}

// Authenticate checks the Standard Webhooks signature and timestamp.
func (Plugin) Authenticate(body []byte, h http.Header, secrets []string, now time.Time) engine.Authentication {
	err := standardwebhooks.Verify(secrets, h, body, now, Tolerance)
	if err == nil {
		return engine.Authentication{OK: true, Note: fmt.Sprintf("the Standard Webhooks signature matches one of the %d secret(s) accepted now", len(secrets))}
	}
	reason := "signature mismatch"
	switch {
	case errors.Is(err, standardwebhooks.ErrNoSecrets):
		reason = "no signing secret configured"
	case errors.Is(err, standardwebhooks.ErrMissingHeaders):
		reason = "missing webhook-id, webhook-timestamp or webhook-signature"
	case errors.Is(err, standardwebhooks.ErrBadHeaders):
		reason = "malformed webhook headers"
	case errors.Is(err, standardwebhooks.ErrBadTimestamp):
		reason = "malformed webhook-timestamp"
	case errors.Is(err, standardwebhooks.ErrStale):
		reason = "webhook-timestamp outside the 5-minute tolerance"
	}
	return engine.Authentication{Reason: reason, Note: fmt.Sprintf("Standard Webhooks: %s (%d secret(s) accepted now, %d signature(s) sent)",
		reason, len(secrets), len(strings.Fields(h.Get(standardwebhooks.HeaderSignature))))}
}

// TestConnection asks status_url about an id no system has: an answer that is not a refusal
// of flowhook's credentials (a 404, say) shows that the system is reached and takes the
// connector's signature and auth header.
func (Plugin) TestConnection(ctx context.Context, pc engine.ProviderClient, _ string) engine.ConnectionReport {
	c, ok := pc.(*Client)
	switch {
	case !ok:
		return engine.ConnectionReport{Message: "not a connector's client"}
	case c.cfg.StatusURL == "":
		return engine.ConnectionReport{Message: "the connector has no status_url to test with; start an instance to try its create_url"}
	}
	_, err := c.Status(ctx, "flowhook-connection-test")
	var pe *engine.ProviderError
	switch {
	case err == nil:
		return engine.ConnectionReport{OK: true, Message: "status_url answered", BaseURI: redactURL(c.cfg.StatusURL)}
	case errors.As(err, &pe) && (pe.HTTPStatus == http.StatusUnauthorized || pe.HTTPStatus == http.StatusForbidden):
		return engine.ConnectionReport{Message: "the system refused flowhook's signature or auth header: " + pe.Error()}
	case errors.As(err, &pe) && pe.HTTPStatus == http.StatusNotFound:
		return engine.ConnectionReport{OK: true, BaseURI: redactURL(c.cfg.StatusURL),
			Message: "status_url answered 404 for an id it does not know: the system is reached and takes the connector's credentials"}
	case errors.As(err, &pe):
		return engine.ConnectionReport{Message: pe.Error()}
	}
	return engine.ConnectionReport{Message: "the system could not be reached"}
}

// Config is a connector's settings group read.
type Config struct {
	Name        string
	DisplayName string
	CreateURL   string
	StatusURL   string
	CancelURL   string
	Outcomes    map[string]engine.Outcome
	CreatedAt   time.Time
	// SigningSecret signs flowhook's calls and verifies callbacks; PreviousSecret still
	// verifies callbacks, and signs flowhook's calls beside it, until PreviousValidUntil.
	SigningSecret      string
	PreviousSecret     string
	PreviousValidUntil time.Time
	// AuthHeader is "Name: value", sent on every call to the system.
	AuthHeader string
}

// ConfigFrom reads a connector's settings group.
func ConfigFrom(s engine.Settings) Config {
	str := func(k string) string { v, _ := s.Plain[k].(string); return v }
	c := Config{
		Name:           strings.TrimPrefix(s.ID, SettingsPrefix),
		DisplayName:    str(KeyDisplayName),
		CreateURL:      str(KeyCreateURL),
		StatusURL:      str(KeyStatusURL),
		CancelURL:      str(KeyCancelURL),
		Outcomes:       map[string]engine.Outcome{},
		SigningSecret:  s.Secrets[KeySigningSecret],
		PreviousSecret: s.Secrets[KeyPreviousSecret],
		AuthHeader:     s.Secrets[KeyAuthHeader],
	}
	if m, ok := s.Plain[KeyOutcomes].(map[string]any); ok {
		for k, v := range m {
			var o engine.Outcome
			if name, ok := v.(string); ok && o.UnmarshalText([]byte(name)) == nil && o.Valid() {
				c.Outcomes[k] = o
			}
		}
	}
	c.CreatedAt, _ = time.Parse(time.RFC3339Nano, str(KeyCreatedAt))
	c.PreviousValidUntil, _ = time.Parse(time.RFC3339Nano, str(KeyPreviousValidUntil))
	return c
}

// Secrets are the secrets a callback may be signed with at now, and those flowhook's calls are
// signed with: the current one first.
func (c Config) Secrets(now time.Time) []string {
	var out []string
	if c.SigningSecret != "" {
		out = append(out, c.SigningSecret)
	}
	if c.PreviousSecret != "" && now.Before(c.PreviousValidUntil) {
		out = append(out, c.PreviousSecret)
	}
	return out
}

// AuthHeaderName is the name part of the auth header ("" for none).
func (c Config) AuthHeaderName() string {
	name, _, _ := strings.Cut(c.AuthHeader, ":")
	return strings.TrimSpace(name)
}

// Settings is the stored form of the config.
func (c Config) Settings() engine.Settings {
	outcomes := make(map[string]any, len(c.Outcomes))
	for k, o := range c.Outcomes {
		outcomes[k] = o.String()
	}
	s := engine.Settings{ID: SettingsPrefix + c.Name, Plain: map[string]any{
		KeyDisplayName: c.DisplayName,
		KeyCreateURL:   c.CreateURL,
		KeyStatusURL:   c.StatusURL,
		KeyCancelURL:   c.CancelURL,
		KeyOutcomes:    outcomes,
		KeyCreatedAt:   c.CreatedAt.UTC().Format(time.RFC3339Nano),
	}, Secrets: map[string]string{KeySigningSecret: c.SigningSecret}}
	if c.AuthHeader != "" {
		s.Secrets[KeyAuthHeader] = c.AuthHeader
		s.Plain[KeyAuthHeaderName] = c.AuthHeaderName()
	}
	if c.PreviousSecret != "" {
		s.Secrets[KeyPreviousSecret] = c.PreviousSecret
		s.Plain[KeyPreviousValidUntil] = c.PreviousValidUntil.UTC().Format(time.RFC3339Nano)
	}
	return s
}

// ParseEvent's errors.
var (
	ErrMalformedEvent = errors.New("connector: the callback is not a JSON object of the connector protocol")
	ErrMissingType    = errors.New("connector: the callback has no type")
	ErrMissingID      = errors.New("connector: the callback has no data.id")
	ErrBadType        = fmt.Errorf("connector: the callback's type is longer than %d characters", engine.MaxEventTypeLen)
	ErrBadID          = errors.New("connector: the callback's data.id is longer than 255 characters")
)

// maxReason bounds the reason kept from a callback.
const maxReason = 1000

// callback is the body the outside system posts.
type callback struct {
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
	Data      struct {
		ID     string `json:"id"`
		Reason string `json:"reason"`
	} `json:"data"`
}

// ParseEvent reads a callback: its type, the external id, its time and reason. The dedupe key
// is the webhook-id header (h nil: a stored body read again, whose key is kept). Unknown fields
// are ignored.
func ParseEvent(body []byte, h http.Header) (engine.InboundEvent, error) {
	var cb callback
	trimmed := strings.TrimSpace(string(body))
	if !strings.HasPrefix(trimmed, "{") || json.Unmarshal(body, &cb) != nil {
		return engine.InboundEvent{}, ErrMalformedEvent
	}
	switch {
	case strings.TrimSpace(cb.Type) == "":
		return engine.InboundEvent{}, ErrMissingType
	case len(cb.Type) > engine.MaxEventTypeLen:
		return engine.InboundEvent{}, ErrBadType
	case strings.TrimSpace(cb.Data.ID) == "":
		return engine.InboundEvent{}, ErrMissingID
	case len(cb.Data.ID) > 255:
		return engine.InboundEvent{}, ErrBadID
	}
	ev := engine.InboundEvent{System: engine.System{Provider: Provider}, Type: cb.Type, ExternalID: cb.Data.ID, Status: cb.Type,
		Reason: truncate(cb.Data.Reason, maxReason)}
	if t, err := time.Parse(time.RFC3339Nano, cb.Timestamp); err == nil {
		ev.OccurredAt = t.UTC()
	}
	if h != nil {
		ev.DedupeKey = h.Get(standardwebhooks.HeaderID)
	}
	return ev, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
