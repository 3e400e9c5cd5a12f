package provider

import (
	"context"
	"net/http"
	"time"

	"github.com/flowhook/flowhook/server/internal/engine"
)

// Plugin is one provider: everything flowhook knows of one kind of outside system. Its
// package under server/internal/provider implements it — its settings, its client, how its
// notifications are authenticated and read, its event table, and (in a subpackage) its fake —
// and Builtin lists it; nothing else in flowhook names it. Its methods take and return only
// engine and standard library types, so that a provider package imports nothing of this one.
type Plugin interface {
	// Spec describes the provider to the engine.
	Spec() engine.ProviderSpec
	// SettingsID is the settings group a system's configuration is kept in (a provider
	// without connectors ignores connector).
	SettingsID(connector string) string
	// NewClient builds a client of a system from its settings; an error wrapping
	// engine.ErrNotConfigured when they are incomplete.
	NewClient(sys engine.System, s engine.Settings, hc *http.Client, now func() time.Time) (engine.ProviderClient, error)
	// Outcome maps an event to the outcome it ends a work item in, by the provider's table
	// (a connector's own table is in its settings); false: the event is progress.
	Outcome(s engine.Settings, eventType, reason string) (engine.Outcome, bool)
	// ParseEvent reads a notification (its System is the caller's to set). h is the
	// request's header, nil when a stored body is read again (its dedupe key is kept).
	ParseEvent(body []byte, h http.Header) (engine.InboundEvent, error)

	// The webhook side: the limits of a notification, how it is authenticated before
	// anything parses it, and which events are worth keeping.
	Limits() engine.InboundLimits
	// Credentials are what a notification may be authenticated with at now (keys, secrets,
	// including a replaced one during its grace period).
	Credentials(s engine.Settings, now time.Time) []string
	// Authenticate checks a notification's credentials against creds, in constant time.
	// Which events are acted on is the spec's (ProviderSpec.Acts); others are answered 200
	// and kept only while debugging.
	Authenticate(body []byte, h http.Header, creds []string, now time.Time) engine.Authentication
}

// SettingsEditor is implemented by a provider whose settings group the settings API reads and
// updates as a whole (GetDocuSignSettings, UpdateOneSpanSettings, …). The group travels as the
// JSON form of the API's messages, so that the api package, which maps every message, needs
// to know nothing of any provider.
type SettingsEditor interface {
	// ViewSettings is the settings message: a value whose JSON form is the API message's.
	ViewSettings(s engine.Settings, webhookURL string, now time.Time) any
	// ApplySettings returns the group after an update (the JSON form of the API's update
	// request); an *engine.ValidationError lists what is wrong with it.
	ApplySettings(cur engine.Settings, update []byte, now time.Time) (engine.Settings, error)
	// SettingsSaved runs after an update was saved (registering a callback at the provider),
	// with the client of the saved settings at hand and the Webhook Receiver debug option's
	// state; its error says what failed.
	SettingsSaved(ctx context.Context, saved engine.Settings, client func() (engine.ProviderClient, error), update []byte, webhookURL string, debug bool) error
}

// DebugFollower is implemented by a provider whose registration at the provider depends on
// the Webhook Receiver debug option (OneSpan's callback is registered for the progress events
// only while it is on): DebugChanged brings the registration in line when the option changes,
// and says whether it changed anything.
type DebugFollower interface {
	DebugChanged(ctx context.Context, saved engine.Settings, client func() (engine.ProviderClient, error), webhookURL string, debug bool) (bool, error)
}

// Tester is implemented by a provider that can check its connection for an administrator.
type Tester interface {
	TestConnection(ctx context.Context, c engine.ProviderClient, webhookURL string) engine.ConnectionReport
}

// ConnectorAdministration is implemented by a provider whose systems are connectors that
// administrators register at run time (the connector provider): it manages them.
type ConnectorAdministration interface {
	NewAdmin(settings engine.SettingsStore, usage engine.ConnectorUsage, webhookURL func(engine.System) string, now func() time.Time) engine.Connectors
}
