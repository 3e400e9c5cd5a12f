package engine

import (
	"context"
	"time"
)

// Connector is an administrator's registration of an outside system reached through the
// generic cloud-to-cloud provider: where flowhook creates its work items, reads their status
// and cancels them, and what the system's event types mean. Its secrets are write-only.
type Connector struct {
	Name        string
	DisplayName string
	// CreateURL is POSTed to create a work item; StatusURL and CancelURL (optional) may hold
	// {id} for the system's id of the item.
	CreateURL string
	StatusURL string
	CancelURL string
	// Outcomes maps the system's event types to outcomes; other types are progress.
	Outcomes map[string]Outcome
	Revision int64
	// SigningSecretSet says the Standard Webhooks signing secret is set (it always is once
	// created); its value is never shown again.
	SigningSecretSet bool
	// PreviousSecretValidUntil is until when the secret replaced last is still accepted (zero:
	// no previous secret is).
	PreviousSecretValidUntil time.Time
	// AuthHeaderName is the name of the header sent on every call to the system ("" for none);
	// its value is never shown.
	AuthHeaderName string
	// WebhookURL is where the system posts its events: {public URL}/webhooks/c2i/{name}.
	WebhookURL string
	// Warnings say what an administrator should know (a URL that is not https).
	Warnings  []string
	CreatedAt time.Time
	UpdatedAt time.Time
	UpdatedBy string
}

// ConnectorInput is a connector as an administrator creates or updates it.
type ConnectorInput struct {
	Name        string
	DisplayName string
	CreateURL   string
	StatusURL   string
	CancelURL   string
	Outcomes    map[string]Outcome
	// SigningSecret is the Standard Webhooks secret (whsec_…). Empty: on create a new one is
	// generated and returned once; on update the stored one is kept. A new one on update
	// rolls the old one, which stays valid for SecretGrace. Without a new one, a SecretGrace
	// only shortens the replaced secret's running grace (a nanosecond ends it now; 0 keeps it).
	SigningSecret string
	SecretGrace   time.Duration
	// AuthHeader is "Name: value", sent on every call to the system. Empty keeps the stored
	// one on update; ClearAuthHeader removes it.
	AuthHeader      string
	ClearAuthHeader bool
	// ExpectedRevision guards an update (the revision read).
	ExpectedRevision int64
}

// ConnectorDirectory says which connectors exist.
type ConnectorDirectory interface {
	// MissingConnectors returns the names, among names, that no connector has.
	MissingConnectors(ctx context.Context, names []string) ([]string, error)
}

// Connectors is the administration of connectors (the settings API's connector RPCs).
type Connectors interface {
	ConnectorDirectory
	// CreateConnector registers a connector and returns it with its signing secret, which is
	// shown this once; ErrAlreadyExists when the name is taken.
	CreateConnector(ctx context.Context, in ConnectorInput, actor string) (Connector, string, error)
	GetConnector(ctx context.Context, name string) (Connector, error)
	// ListConnectors returns a page of connectors by name, the position after it and how many
	// there are.
	ListConnectors(ctx context.Context, p Page) ([]Connector, string, int64, error)
	// UpdateConnector replaces a connector's settings when it is at in.ExpectedRevision.
	UpdateConnector(ctx context.Context, in ConnectorInput, actor string) (Connector, error)
	// DeleteConnector removes a connector; ErrFailedPrecondition while a published workflow
	// version or an open work item uses it.
	DeleteConnector(ctx context.Context, name string) error
}

// ConnectorUsage says what uses a system: published workflow versions naming it, and work
// items still being created or waiting at it.
type ConnectorUsage interface {
	SystemUsage(ctx context.Context, s System) (versions []string, openWorkItems int, err error)
}
