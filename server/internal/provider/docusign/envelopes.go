package docusign

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/rest"
)

// WorkItemIDField is the envelope text custom field that carries flowhook's work-item id.
const WorkItemIDField = "flowhookWorkItemId"

const (
	maxEmailSubject = 100 // DocuSign rejects a longer emailSubject (providers.md A3)
	maxVoidReason   = 200 // DocuSign keeps this much of a void reason (A8)
	defaultVoidText = "Cancelled"
	defaultDocTitle = "Document"
	// findLookback is how far FindByWorkItem looks back when it is given no time.
	findLookback = 30 * 24 * time.Hour
	// clockSkew widens FindByWorkItem's window, since from_date is compared with DocuSign's clock.
	clockSkew = 5 * time.Minute
)

// connectEvents are the JSON SIM events every envelope subscribes to: the terminal ones the
// workflow needs, and progress for the timeline.
var connectEvents = []string{
	"envelope-sent", "envelope-delivered", "envelope-completed", "envelope-declined",
	"envelope-voided", "envelope-deleted", "envelope-purge",
	"recipient-completed", "recipient-declined", "recipient-delivered",
}

// The request body of POST /envelopes (providers.md A3). DocuSign takes scalars as strings.
type envelopeDefinition struct {
	EmailSubject      string            `json:"emailSubject"`
	Status            string            `json:"status"`
	Documents         []document        `json:"documents"`
	Recipients        recipients        `json:"recipients"`
	CustomFields      customFields      `json:"customFields"`
	EventNotification eventNotification `json:"eventNotification"`
}

type document struct {
	DocumentBase64 string `json:"documentBase64"`
	DocumentID     string `json:"documentId"`
	FileExtension  string `json:"fileExtension"`
	Name           string `json:"name"`
}

type recipients struct {
	Signers []signer `json:"signers"`
}

type signer struct {
	Email        string `json:"email"`
	Name         string `json:"name"`
	RecipientID  string `json:"recipientId"`
	RoutingOrder string `json:"routingOrder"`
	Tabs         tabs   `json:"tabs"`
}

type tabs struct {
	SignHereTabs []signHere `json:"signHereTabs"`
}

type signHere struct {
	AnchorString             string `json:"anchorString"`
	AnchorUnits              string `json:"anchorUnits"`
	AnchorXOffset            string `json:"anchorXOffset"`
	AnchorYOffset            string `json:"anchorYOffset"`
	AnchorIgnoreIfNotPresent string `json:"anchorIgnoreIfNotPresent"`
}

type customFields struct {
	TextCustomFields []textCustomField `json:"textCustomFields"`
}

type textCustomField struct {
	Name     string `json:"name"`
	Value    string `json:"value"`
	Show     string `json:"show"`
	Required string `json:"required"`
}

type eventNotification struct {
	URL                       string    `json:"url"`
	RequireAcknowledgment     string    `json:"requireAcknowledgment"`
	LoggingEnabled            string    `json:"loggingEnabled"`
	IncludeHMAC               string    `json:"includeHMAC"`
	IncludeEnvelopeVoidReason string    `json:"includeEnvelopeVoidReason"`
	DeliveryMode              string    `json:"deliveryMode"`
	Events                    []string  `json:"events"`
	EventData                 eventData `json:"eventData"`
}

type eventData struct {
	Version     string   `json:"version"`
	Format      string   `json:"format"`
	IncludeData []string `json:"includeData"`
}

// envelopeDefinitionFor builds the envelope of a work item: one document, one signer per
// party in routing order, the work-item id as a hidden custom field, and a per-envelope
// Connect webhook with HMAC.
func envelopeDefinitionFor(req engine.WorkItemRequest) envelopeDefinition {
	title, content := defaultDocTitle, []byte(nil)
	if d := req.Document; d != nil {
		content = d.Content
		if strings.TrimSpace(d.Title) != "" {
			title = d.Title
		}
	}
	signers := make([]signer, len(req.Parties))
	for i, p := range req.Parties {
		n := strconv.Itoa(i + 1)
		signers[i] = signer{
			Email: p.Email, Name: p.Name, RecipientID: n, RoutingOrder: n,
			Tabs: tabs{SignHereTabs: []signHere{{
				AnchorString: p.Anchor, AnchorUnits: "pixels", AnchorXOffset: "0", AnchorYOffset: "0",
				AnchorIgnoreIfNotPresent: "false",
			}}},
		}
	}
	return envelopeDefinition{
		EmailSubject: req.Subject,
		Status:       "sent",
		Documents: []document{{
			DocumentBase64: base64.StdEncoding.EncodeToString(content),
			DocumentID:     "1",
			FileExtension:  "pdf",
			Name:           title,
		}},
		Recipients: recipients{Signers: signers},
		CustomFields: customFields{TextCustomFields: []textCustomField{{
			Name: WorkItemIDField, Value: req.WorkItemID, Show: "false", Required: "false",
		}}},
		EventNotification: eventNotification{
			URL:                       req.CallbackURL,
			RequireAcknowledgment:     "true",
			LoggingEnabled:            "true",
			IncludeHMAC:               "true",
			IncludeEnvelopeVoidReason: "true",
			DeliveryMode:              "SIM",
			Events:                    slices.Clone(connectEvents),
			EventData: eventData{
				Version: "restv2.1", Format: "json", IncludeData: []string{"custom_fields", "recipients"},
			},
		},
	}
}

// validateRequest finds what DocuSign would refuse, before anything is sent.
func validateRequest(req engine.WorkItemRequest) error {
	var ps engine.Problems
	if strings.TrimSpace(req.WorkItemID) == "" {
		ps.Add("work_item_id", "is required")
	}
	switch n := utf8.RuneCountInString(req.Subject); {
	case strings.TrimSpace(req.Subject) == "":
		ps.Add("email_subject", "is required")
	case n > maxEmailSubject:
		ps.Add("email_subject", "is %d characters; DocuSign takes at most %d", n, maxEmailSubject)
	}
	if req.Document == nil || len(req.Document.Content) == 0 {
		ps.Add("document", "is required")
	}
	if len(req.Parties) == 0 {
		ps.Add("signers", "at least one signer is required")
	}
	for i, p := range req.Parties {
		path := fmt.Sprintf("signers[%d]", i)
		if strings.TrimSpace(p.Name) == "" {
			ps.Add(path+".name", "is required")
		}
		if !strings.Contains(p.Email, "@") {
			ps.Add(path+".email", "must be an email address")
		}
		if strings.TrimSpace(p.Anchor) == "" {
			ps.Add(path+".anchor", "is required: it places the signature")
		}
	}
	if u, err := url.Parse(req.CallbackURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		ps.Add("callback_url", "must be an absolute http(s) URL")
	}
	if err := ps.Err(); err != nil {
		return fmt.Errorf("docusign: %w: %w", engine.ErrProviderPermanent, err)
	}
	return nil
}

// Create sends the work item's envelope (providers.md A3) and returns its id. A 429 is
// retried; a 5xx or a lost answer is not, since the envelope may exist: the caller looks for
// it with FindByWorkItem before creating again.
func (c *Client) Create(ctx context.Context, req engine.WorkItemRequest) (string, error) {
	if err := validateRequest(req); err != nil {
		return "", err
	}
	resp, err := c.api(ctx, call{
		op: "creating an envelope", method: http.MethodPost, path: "/envelopes",
		body: envelopeDefinitionFor(req),
	})
	if err != nil {
		return "", err
	}
	var sum struct {
		EnvelopeID string `json:"envelopeId"`
		Status     string `json:"status"`
	}
	if err := json.Unmarshal(resp.Body, &sum); err != nil || !isGUID(sum.EnvelopeID) {
		return "", localError(resp.Status, false, "the envelope summary has no envelopeId")
	}
	return sum.EnvelopeID, nil
}

// FindByWorkItem looks for an envelope whose custom field carries workItemID, among those
// that changed since `since` (less five minutes for clock skew; 30 days back when since is
// zero), with listStatusChanges. When several carry it, the earliest created wins.
func (c *Client) FindByWorkItem(ctx context.Context, workItemID string, since time.Time) (string, bool, error) {
	if strings.TrimSpace(workItemID) == "" {
		return "", false, fmt.Errorf("docusign: %w: an empty work item id", engine.ErrProviderPermanent)
	}
	from := since.Add(-clockSkew)
	if since.IsZero() {
		from = c.now().Add(-findLookback)
	}
	resp, err := c.api(ctx, call{
		op: "listing envelopes", method: http.MethodGet, path: "/envelopes", idempotent: true,
		query: url.Values{
			"from_date":    {from.UTC().Format(time.RFC3339)},
			"custom_field": {WorkItemIDField + "=" + workItemID},
		},
	})
	if err != nil {
		return "", false, err
	}
	var list struct {
		Envelopes []struct {
			EnvelopeID      string `json:"envelopeId"`
			CreatedDateTime string `json:"createdDateTime"`
		} `json:"envelopes"`
	}
	if err := json.Unmarshal(resp.Body, &list); err != nil {
		return "", false, localError(resp.Status, false, "the envelope list is not JSON")
	}
	best, bestAt := "", time.Time{}
	for _, e := range list.Envelopes {
		if !isGUID(e.EnvelopeID) {
			continue
		}
		at, _ := rest.ParseTime(e.CreatedDateTime)
		if best == "" || at.Before(bestAt) {
			best, bestAt = e.EnvelopeID, at
		}
	}
	return best, best != "", nil
}

// Status reads the envelope (providers.md A8), with its recipients for a decline reason.
func (c *Client) Status(ctx context.Context, externalID string) (engine.ExternalStatus, error) {
	if err := checkEnvelopeID(externalID); err != nil {
		return engine.ExternalStatus{}, err
	}
	resp, err := c.api(ctx, call{
		op: "reading an envelope", method: http.MethodGet, path: "/envelopes/" + externalID, idempotent: true,
		query: url.Values{"include": {"recipients"}},
	})
	if err != nil {
		return engine.ExternalStatus{}, err
	}
	var env struct {
		Status                string `json:"status"`
		VoidedReason          string `json:"voidedReason"`
		StatusChangedDateTime string `json:"statusChangedDateTime"`
		Recipients            struct {
			Signers []struct {
				DeclinedReason string `json:"declinedReason"`
			} `json:"signers"`
		} `json:"recipients"`
	}
	if err := json.Unmarshal(resp.Body, &env); err != nil || env.Status == "" {
		return engine.ExternalStatus{}, localError(resp.Status, false, "the envelope has no status")
	}
	st := engine.ExternalStatus{Status: env.Status, Reason: env.VoidedReason}
	if st.Reason == "" {
		for _, s := range env.Recipients.Signers {
			if s.DeclinedReason != "" {
				st.Reason = s.DeclinedReason
				break
			}
		}
	}
	st.ChangedAt, _ = rest.ParseTime(env.StatusChangedDateTime)
	st.Outcome = StatusOutcome(env.Status, env.VoidedReason)
	return st, nil
}

// StatusOutcome maps an envelope status to the workflow outcome it ends in: completed is
// FINISHED, declined DENIED, voided DELETED — or EXPIRED when the void reason says the envelope
// expired, since DocuSign voids expired envelopes (providers.md A4). Other statuses are not
// terminal: OutcomeUnspecified.
func StatusOutcome(status, voidedReason string) engine.Outcome {
	switch strings.ToLower(status) {
	case "completed":
		return engine.OutcomeFinished
	case "declined":
		return engine.OutcomeDenied
	case "voided":
		if isExpiry(voidedReason) {
			return engine.OutcomeExpired
		}
		return engine.OutcomeDeleted
	}
	return engine.OutcomeUnspecified
}

func isExpiry(reason string) bool { return strings.Contains(strings.ToLower(reason), "expir") }

// Cancel voids the envelope (providers.md A10). DocuSign refuses to void a completed or
// declined envelope with a 400, which comes back as a permanent ProviderError. Voiding an
// envelope voided already succeeds (a retried cancel job): it is what was asked.
func (c *Client) Cancel(ctx context.Context, externalID, reason string) error {
	if err := checkEnvelopeID(externalID); err != nil {
		return err
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		reason = defaultVoidText
	}
	if r := []rune(reason); len(r) > maxVoidReason {
		reason = string(r[:maxVoidReason])
	}
	_, err := c.api(ctx, call{
		op: "voiding an envelope", method: http.MethodPut, path: "/envelopes/" + externalID, idempotent: true,
		body: struct {
			Status       string `json:"status"`
			VoidedReason string `json:"voidedReason"`
		}{"voided", reason},
	})
	var pe *engine.ProviderError
	if errors.As(err, &pe) && pe.Code == "ENVELOPE_CANNOT_VOID_INVALID_STATE" {
		if st, serr := c.Status(ctx, externalID); serr == nil && st.Status == "voided" {
			return nil
		}
	}
	return err
}

// Download returns the envelope's documents merged into one PDF, without the certificate of
// completion (providers.md A9), up to the client's size cap. A larger answer is
// engine.ErrDocumentUnkeepable; an envelope DocuSign does not have is engine.ErrGone
// (providerError). An answer that is not a PDF is transient: it did not come from DocuSign's
// document (a proxy's page, say), and the download is tried again.
func (c *Client) Download(ctx context.Context, externalID string) ([]byte, error) {
	if err := checkEnvelopeID(externalID); err != nil {
		return nil, err
	}
	resp, err := c.api(ctx, call{
		op: "downloading a document", method: http.MethodGet, path: "/envelopes/" + externalID + "/documents/combined",
		query: url.Values{"certificate": {"false"}}, accept: "application/pdf", idempotent: true, limit: c.maxDocument,
	})
	if err != nil {
		return nil, err
	}
	// Downloading again does not mend this: the document cannot be kept.
	if resp.TooLarge {
		return nil, unkeepable(resp.Status, fmt.Sprintf("the combined document is larger than %d bytes", c.maxDocument))
	}
	if !bytes.HasPrefix(resp.Body, []byte("%PDF-")) {
		return nil, localError(resp.Status, false, "the combined document is not a PDF")
	}
	return resp.Body, nil
}

// checkEnvelopeID keeps anything but a GUID out of request paths.
func checkEnvelopeID(id string) error {
	if !isGUID(id) {
		return fmt.Errorf("docusign: %w: envelope id %s is not a GUID", engine.ErrProviderPermanent, rest.Quote(id))
	}
	return nil
}
