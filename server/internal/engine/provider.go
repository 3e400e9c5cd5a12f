package engine

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// The provider port: what the engine needs from an outside system that actions EXTERNAL states.
// provider/docusign and provider/onespan implement it; provider/providertest holds the
// conformance suite they all pass.

// Party is a signer of a work item's document.
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

// WorkItemRequest is what creating a work item at a provider takes.
type WorkItemRequest struct {
	// WorkItemID is flowhook's id, stored with the item at the provider (DocuSign: an envelope
	// custom field) so that a crash after the provider accepted it finds it again.
	WorkItemID    string
	InstanceID    string
	EmailSubject  string
	DocumentTitle string
	Document      []byte // the PDF to sign
	Signers       []Party
	// CallbackURL is where the provider reports events (our /webhooks/{provider}).
	CallbackURL string
}

// ExternalStatus is what a provider says about a work item when asked.
type ExternalStatus struct {
	// Status is the provider's own word (DocuSign: sent, delivered, completed, declined, voided).
	Status string
	// Outcome is set once the item reached a terminal state at the provider.
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
	// Kind says which provider this is.
	Kind() Provider
	// Create creates the work item (sends the envelope) and returns the provider's id.
	Create(ctx context.Context, req WorkItemRequest) (externalID string, err error)
	// FindByWorkItem looks for an item created earlier for our work item id.
	FindByWorkItem(ctx context.Context, workItemID string, since time.Time) (externalID string, found bool, err error)
	// Status reads the item's current status (reconciliation; confirming a callback).
	Status(ctx context.Context, externalID string) (ExternalStatus, error)
	// Cancel voids or trashes the item with a reason.
	Cancel(ctx context.Context, externalID, reason string) error
	// Download returns the signed document (DocuSign: the combined PDF).
	Download(ctx context.Context, externalID string) ([]byte, error)
}

// ErrProviderPermanent marks a provider error that retrying will not fix (a 400 with an
// errorCode, a missing consent); other provider errors are transient.
var ErrProviderPermanent = errors.New("the provider refused the request")

// ProviderError is a readable error from a provider: its code and message, safe to show an
// administrator (never a credential).
type ProviderError struct {
	Provider   Provider
	HTTPStatus int
	Code       string // DocuSign errorCode, OneSpan messageKey
	Message    string
	Permanent  bool
	// RetryAfter is how long the provider asked us to wait (429), when it said.
	RetryAfter time.Duration
}

func (e *ProviderError) Error() string {
	s := e.Provider.String() + ": HTTP " + itoaStatus(e.HTTPStatus)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

func (e *ProviderError) Is(target error) bool {
	return target == ErrProviderPermanent && e.Permanent
}

func itoaStatus(n int) string {
	if n <= 0 {
		return "error"
	}
	return strconv.Itoa(n)
}

// InboundEvent is a provider notification after verification and parsing.
type InboundEvent struct {
	Provider   Provider
	Type       string // DocuSign "envelope-completed", OneSpan "PACKAGE_COMPLETE"
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
