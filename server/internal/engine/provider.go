package engine

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The provider port: what the engine needs from the outside systems that action EXTERNAL
// states. The engine knows no provider by name: each provider package under
// server/internal/provider describes itself with a ProviderSpec and implements
// ProviderClient, and provider.Registry, which holds them, implements Providers.

// Provider names a kind of outside system, as the provider names itself ("DOCUSIGN",
// "ONESPAN", "CONNECTOR"). The name is what definitions store and the API's Provider enum
// carries after its PROVIDER_ prefix.
type Provider string

// ProviderUnspecified is no provider.
const ProviderUnspecified Provider = ""

func (p Provider) String() string {
	if p == "" {
		return "UNSPECIFIED"
	}
	return string(p)
}

// System is one outside system: a provider and, for a provider whose EXTERNAL steps name a
// connector, the connector. Its String form is how it is stored with work items and events,
// labelled in metrics and traces and shown in messages: "DOCUSIGN", or "connector:tickets".
type System struct {
	Provider  Provider
	Connector string
}

// Is reports whether the system is (a connector of) the provider.
func (s System) Is(p Provider) bool { return s.Provider == p }

func (s System) String() string {
	if s.Connector == "" {
		return s.Provider.String()
	}
	return strings.ToLower(string(s.Provider)) + ":" + s.Connector
}

// ParseSystem reads a system's String form.
func ParseSystem(v string) System {
	if p, name, ok := strings.Cut(v, ":"); ok {
		return System{Provider: Provider(strings.ToUpper(p)), Connector: name}
	}
	return System{Provider: Provider(v)}
}

// SystemOf is the system an EXTERNAL step addresses.
func SystemOf(e *ExternalStep) System {
	if e == nil {
		return System{}
	}
	return System{Provider: e.Provider, Connector: e.Connector}
}

// ProviderSpec is what the engine knows of a provider without asking it anything: how its
// EXTERNAL steps are designed and validated, and how its notifications are trusted.
type ProviderSpec struct {
	Provider Provider
	// Name is the provider's own spelling ("DocuSign"), for messages.
	Name string
	// Route is the path below /webhooks/ its notifications arrive at ("DocuSign"; "c2i",
	// followed by /{connector}, for a provider with connectors).
	Route string
	// Action is what a transition into one of its states does.
	Action ActionKind
	// Events are the event names the provider reports, which outcome_overrides may name; nil
	// means any name (a connector's outside system defines its own).
	Events []string
	// Acts lists the events of Events that flowhook acts on, when it does not act on all of
	// them (nil: all). The others are answered and ignored as they arrive (the receiver's
	// Handles), so an override could never apply to them and outcome_overrides may not name
	// them. OneSpan: the events that end a package, which reading the package back confirms.
	Acts []string
	// Signers says a step sends a document for signature: it needs at least one signer, and
	// the document is always rendered.
	Signers bool
	// Connectors says a step names one of the provider's connectors, which an administrator
	// registers at run time; each connector is a System of its own.
	Connectors bool
	// SignsBody says a notification's credentials cover its body. Without it a notification is
	// a hint: its outcome is applied only when the provider confirms it (Status), by the job.
	SignsBody bool
	// Documents says a FINISHED work item has a result document to download (the signed PDF):
	// finishing one enqueues a fetch_document job. Without it no job is enqueued, and
	// Download answers ErrNoDocument.
	Documents bool
	// ReconcileInterval is the least time between two status reads of one work item
	// (DocuSign: 15 minutes); zero: the provider is not reconciled.
	ReconcileInterval time.Duration
	// StatusEvent names the notification the provider would have sent for a status, so that
	// reconciliation can feed what it finds through the webhook pipeline.
	StatusEvent func(ExternalStatus) string
}

// KnowsEvent reports whether outcome_overrides may name the event.
func (s ProviderSpec) KnowsEvent(name string) bool {
	if s.Events == nil {
		return name != "" && len(name) <= MaxEventTypeLen
	}
	for _, e := range s.Events {
		if e == name {
			return true
		}
	}
	return false
}

// ActsOn reports whether flowhook acts on the event (Acts), for an event the provider knows.
func (s ProviderSpec) ActsOn(name string) bool {
	return s.Acts == nil || slices.Contains(s.Acts, name)
}

// MaxEventTypeLen bounds an event type a connector's outside system may name.
const MaxEventTypeLen = 100

// Catalog describes the providers flowhook has: the static part of the provider port, all
// that validating and publishing a design needs.
type Catalog interface {
	// Spec describes a provider; false for a name no provider has.
	Spec(p Provider) (ProviderSpec, bool)
	// Specs lists every provider, in a stable order.
	Specs() []ProviderSpec
}

// Specs is a Catalog of a fixed list of providers.
type Specs []ProviderSpec

func (l Specs) Spec(p Provider) (ProviderSpec, bool) {
	for _, s := range l {
		if s.Provider == p {
			return s, true
		}
	}
	return ProviderSpec{}, false
}

func (l Specs) Specs() []ProviderSpec { return l }

// Providers is the provider port at run time: the catalog, and each system's client and
// event table, configured from the settings administrators change while flowhook runs.
type Providers interface {
	Catalog
	// Client returns the client of a system for its current settings; an error wrapping
	// ErrProviderPermanent when the system is not configured.
	Client(ctx context.Context, s System) (ProviderClient, error)
	// Outcome maps an event of a system to the outcome it ends the work item in; false means
	// it is progress.
	Outcome(ctx context.Context, s System, eventType, reason string) (Outcome, bool, error)
	// Parse reads a stored notification of a system again (a replay).
	Parse(s System, body []byte) (InboundEvent, error)
	// Systems lists the systems of a provider that may hold work items: the provider itself,
	// or each of its connectors.
	Systems(ctx context.Context, p Provider) ([]System, error)
	// CallbackURL is where a system reports its events (our /webhooks/… URL).
	CallbackURL(s System) string
}

// Party is someone the work item concerns: a signer of its document.
type Party struct {
	Name  string
	Email string
	// Anchor is the text the document renderer put where this party signs (e.g. "/sn1/").
	Anchor string
	// Box is where the renderer put this party's signature box, for providers that place
	// fields by position (OneSpan); nil when unknown.
	Box *Box
}

// Box is a rectangle on a page of the document: PDF points (1/72 inch) from the top-left
// corner; Page counts from 1.
type Box struct {
	Page                     int
	Left, Top, Width, Height float64
}

// Document is a document sent with a work item: the PDF rendered from the start form.
type Document struct {
	Title       string
	ContentType string
	Content     []byte
}

// WorkItemRequest is what creating a work item at an outside system takes. Each provider takes
// what it needs: a signature provider the document and the parties, a connector all of it.
type WorkItemRequest struct {
	// WorkItemID is flowhook's id, stored with the item at the provider (a DocuSign custom
	// field, a OneSpan package attribute, a connector's Idempotency-Key), so that a crash after
	// the provider accepted it does not create a second one.
	WorkItemID      string
	InstanceID      string
	WorkflowID      string
	WorkflowVersion int32
	WorkflowName    string
	// State is the key of the EXTERNAL state the item is created for.
	State string
	// FormData is the instance's form data.
	FormData map[string]any
	// Subject is what the item is called at the provider (an envelope's email subject).
	Subject string
	// Document is the rendered start form, when the step sends one.
	Document *Document
	// Parties are the signers, in order, when the step has any.
	Parties []Party
	// CallbackURL is where the provider reports events (our /webhooks/… URL).
	CallbackURL string
	// CreatedAt is when the work item was created: the same at every attempt, so that what is
	// sent under the work item's id is too (a connector's create body is byte for byte the
	// same, as an Idempotency-Key asks).
	CreatedAt time.Time
}

// ExternalStatus is what a provider says about a work item when asked.
type ExternalStatus struct {
	// Status is the provider's own word (DocuSign: sent, delivered, completed, declined,
	// voided; a connector: the latest event type).
	Status string
	// Outcome is set once the item reached a terminal state at the provider, as far as the
	// provider's own table tells (a state's overrides may say more).
	Outcome Outcome
	// Reason is the void, decline or opt-out reason, when the provider gives one.
	Reason    string
	ChangedAt time.Time
	// Concealed: the item reached a terminal state but its status no longer says which (a
	// OneSpan package archived after a decline). It confirms whatever terminal outcome a
	// callback reports; Outcome is what it means when nothing else is known.
	Concealed bool
}

// ProviderClient is a client of one outside system, configured for one account.
type ProviderClient interface {
	// Create creates the work item and returns the provider's id.
	Create(ctx context.Context, req WorkItemRequest) (externalID string, err error)
	// FindByWorkItem looks for an item created earlier for our work item id. A provider that
	// cannot be searched, but deduplicates creates by our id, answers ErrNotSupported: the
	// create is sent again and answered with the item made the first time (also to void what
	// an earlier attempt made for an instance that moved on). It finds nothing, without an
	// error, when it could not void what it would learn.
	FindByWorkItem(ctx context.Context, workItemID string, since time.Time) (externalID string, found bool, err error)
	// Status reads the item's current status (reconciliation; confirming a callback).
	Status(ctx context.Context, externalID string) (ExternalStatus, error)
	// Cancel voids, deletes or cancels the item with a reason.
	Cancel(ctx context.Context, externalID, reason string) error
	// Download returns the item's result document (a signed PDF, a zip of them);
	// ErrNoDocument when the provider has none.
	Download(ctx context.Context, externalID string) ([]byte, error)
}

// ErrNoDocument: the provider keeps no result document for its work items.
var ErrNoDocument = errors.New("the provider keeps no document for its work items")

// ErrNotSupported: the provider cannot do this (a connector without a status or cancel URL).
var ErrNotSupported = errors.New("not supported by the provider")

// ErrProviderPermanent marks a provider error that retrying will not fix (a 400 with an
// errorCode, a missing consent); other provider errors are transient.
var ErrProviderPermanent = errors.New("the provider refused the request")

// ErrDocumentUnkeepable marks a result document flowhook can never keep, however often it is
// downloaded again: larger than the size cap, not a PDF, a zip with no document in it.
var ErrDocumentUnkeepable = errors.New("the document cannot be kept")

// ErrGone marks a provider's answer that the item does not exist there (any more): a OneSpan
// package not found, a DocuSign ENVELOPE_DOES_NOT_EXIST. Not a refused credential, a missing
// consent or a wrong address: those are fixed by an administrator, and the call then works.
var ErrGone = errors.New("the item does not exist at the provider")

// ErrNotConfigured: the system has no (complete) settings yet.
var ErrNotConfigured = errors.New("the provider is not configured; an admin sets it up in the provider settings")

// ProviderError is a readable error from a provider: its code and message, safe to show an
// administrator (never a credential).
type ProviderError struct {
	System     System
	HTTPStatus int
	Code       string // DocuSign errorCode, OneSpan messageKey
	Message    string
	Permanent  bool
	// Gone: the item does not exist at the provider (errors.Is ErrGone). Unkeepable: the answer
	// is a document that can never be kept (errors.Is ErrDocumentUnkeepable). Either is
	// permanent.
	Gone       bool
	Unkeepable bool
	// RetryAfter is how long the provider asked us to wait (429), when it said.
	RetryAfter time.Duration
}

func (e *ProviderError) Error() string {
	s := e.System.String() + ": HTTP " + itoaStatus(e.HTTPStatus)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

func (e *ProviderError) Is(target error) bool {
	switch target {
	case ErrProviderPermanent:
		return e.Permanent || e.Gone || e.Unkeepable
	case ErrGone:
		return e.Gone
	case ErrDocumentUnkeepable:
		return e.Unkeepable
	}
	return false
}

func itoaStatus(n int) string {
	if n <= 0 {
		return "error"
	}
	return strconv.Itoa(n)
}

// InboundEvent is a provider notification after verification and parsing.
type InboundEvent struct {
	System System
	Type   string // DocuSign "envelope-completed", OneSpan "PACKAGE_COMPLETE"
	// ExternalID is the provider's id of the work item.
	ExternalID string
	// DedupeKey is stable across the provider's redeliveries of the same notification.
	DedupeKey string
	// OccurredAt is the provider's time for the event (zero when it gives none).
	OccurredAt time.Time
	// Status and Reason are the item's status and void/decline reason when the payload has them.
	Status string
	Reason string
	// WorkItemID is our id when the payload carries it (DocuSign custom field).
	WorkItemID string
}

// OutcomeFunc maps a provider's event to an outcome; false means it is progress, not an outcome.
type OutcomeFunc func(eventType, reason string) (Outcome, bool)

// ParseFunc reads a provider's notification body.
type ParseFunc func(body []byte) (InboundEvent, error)

// ConnectionReport is what testing a system's connection found, for an administrator.
type ConnectionReport struct {
	OK bool
	// Message says what worked or what failed (never a credential).
	Message     string
	AccountName string
	UserName    string
	BaseURI     string
}

// InboundLimits are what a provider's notifications may be, and the words for refusing them.
type InboundLimits struct {
	// MaxBody caps a notification's body; MaxBodyText says it for people ("1 MiB").
	MaxBody     int64
	MaxBodyText string
	// Sender names who sends them ("DocuSign Connect"), Noun what they are, plural
	// ("DocuSign notifications"), One one of them ("notification"), Item what they are about
	// ("envelope").
	Sender string
	Noun   string
	One    string
	Item   string
	// SafeHeaders are the request headers kept with an event: none that authenticates it.
	SafeHeaders []string
	// Unauthorized is the 401 answer's message.
	Unauthorized string
	// HeaderAuth says that Authenticate reads headers only (a credential sent as is, nothing
	// signed over the body): the receiver then checks it before reading the body, so that a
	// caller without it gets 401 whatever it sent, never 413 or 415.
	HeaderAuth bool
}

// Authentication is what checking a notification's credentials found.
type Authentication struct {
	OK bool
	// Note says, for the Event Log, what matched or why nothing did, with counts (how many
	// keys, how many signatures) but never a secret or a signature.
	Note string
	// Reason is the class of a refusal ("signature mismatch"), for logs and spans.
	Reason string
}

// Receiving is how one system's notifications are received: the webhook side of the
// provider port, for the router of /webhooks/….
type Receiving interface {
	System() System
	// Route is the pattern of the path the notifications arrive at, as spans name it:
	// "/webhooks/{provider}", "/webhooks/c2i/{connector}".
	Route() string
	Limits() InboundLimits
	// Credentials returns what a notification may be authenticated with now.
	Credentials(ctx context.Context) ([]string, error)
	// Authenticate checks a notification's credentials before anything parses it.
	Authenticate(body []byte, h http.Header, creds []string) Authentication
	// Parse reads an authenticated notification (some providers take its dedupe key from a
	// header).
	Parse(body []byte, h http.Header) (InboundEvent, error)
	// Handles says whether an event is acted on.
	Handles(eventType string) bool
}

// ProviderSettings is the settings API's side of the provider port: each provider's settings
// group, read and updated as the JSON form of the API's messages, and connection tests.
type ProviderSettings interface {
	// ViewSettings returns a provider's settings message as JSON.
	ViewSettings(ctx context.Context, p Provider) ([]byte, error)
	// UpdateSettings applies an update (JSON) when the settings are at expectedRevision and
	// returns the settings message as JSON.
	UpdateSettings(ctx context.Context, p Provider, update []byte, expectedRevision int64, actor string) ([]byte, error)
	// TestConnection signs in at a system with its saved settings and says what it found.
	TestConnection(ctx context.Context, s System) (ConnectionReport, error)
	// DebugChanged follows the Webhook Receiver debug option where a provider's registration
	// depends on it (the events OneSpan's callback is registered for); its error names each
	// provider that could not follow.
	DebugChanged(ctx context.Context, debug bool) error
}
