package docusignfake

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// EnvelopeDefinition is a create request as the fake reads it (providers.md A3). Scalars are
// strings, so a number where DocuSign documents a string is refused as a malformed body; the
// types below are its parts.
type EnvelopeDefinition struct {
	EmailSubject      string             `json:"emailSubject,omitempty"`
	EmailBlurb        string             `json:"emailBlurb,omitempty"`
	Status            string             `json:"status,omitempty"`
	Documents         []Document         `json:"documents,omitempty"`
	Recipients        *Recipients        `json:"recipients,omitempty"`
	CustomFields      *CustomFields      `json:"customFields,omitempty"`
	EventNotification *EventNotification `json:"eventNotification,omitempty"`
}

// Document is one entry of documents[].
type Document struct {
	DocumentBase64 string `json:"documentBase64,omitempty"`
	DocumentID     string `json:"documentId,omitempty"`
	FileExtension  string `json:"fileExtension,omitempty"`
	Name           string `json:"name,omitempty"`
}

// Recipients holds the signers (and carbon copies, which the fake ignores).
type Recipients struct {
	Signers      []Signer `json:"signers,omitempty"`
	CarbonCopies []Signer `json:"carbonCopies,omitempty"`
}

// Signer is one recipient who signs.
type Signer struct {
	Email        string `json:"email,omitempty"`
	Name         string `json:"name,omitempty"`
	RecipientID  string `json:"recipientId,omitempty"`
	RoutingOrder string `json:"routingOrder,omitempty"`
	Tabs         *Tabs  `json:"tabs,omitempty"`
}

// Tabs are a signer's fields.
type Tabs struct {
	SignHereTabs []SignHere `json:"signHereTabs,omitempty"`
}

// SignHere places a signature by anchor text or by position.
type SignHere struct {
	AnchorString             string `json:"anchorString,omitempty"`
	AnchorUnits              string `json:"anchorUnits,omitempty"`
	AnchorXOffset            string `json:"anchorXOffset,omitempty"`
	AnchorYOffset            string `json:"anchorYOffset,omitempty"`
	AnchorIgnoreIfNotPresent string `json:"anchorIgnoreIfNotPresent,omitempty"`
	DocumentID               string `json:"documentId,omitempty"`
	PageNumber               string `json:"pageNumber,omitempty"`
	XPosition                string `json:"xPosition,omitempty"`
	YPosition                string `json:"yPosition,omitempty"`
}

// CustomFields are the envelope's custom fields; the fake keeps text ones.
type CustomFields struct {
	TextCustomFields []TextCustomField `json:"textCustomFields,omitempty"`
}

// TextCustomField is a named string value stored with the envelope.
type TextCustomField struct {
	Name     string `json:"name"`
	Value    string `json:"value"`
	Show     string `json:"show,omitempty"`
	Required string `json:"required,omitempty"`
}

// EventNotification registers the envelope's own Connect webhook.
type EventNotification struct {
	URL                       string     `json:"url,omitempty"`
	RequireAcknowledgment     string     `json:"requireAcknowledgment,omitempty"`
	LoggingEnabled            string     `json:"loggingEnabled,omitempty"`
	IncludeHMAC               string     `json:"includeHMAC,omitempty"`
	IncludeEnvelopeVoidReason string     `json:"includeEnvelopeVoidReason,omitempty"`
	DeliveryMode              string     `json:"deliveryMode,omitempty"`
	Events                    []string   `json:"events,omitempty"`
	EventData                 *EventData `json:"eventData,omitempty"`
}

// EventData selects the message format; version restv2.1 is JSON SIM.
type EventData struct {
	Version     string   `json:"version,omitempty"`
	Format      string   `json:"format,omitempty"`
	IncludeData []string `json:"includeData,omitempty"`
}

// envelope is the fake's record of one envelope.
type envelope struct {
	id           string
	def          EnvelopeDefinition
	docs         map[string][]byte // documentId → bytes
	docNames     []string          // in order, for the combined PDF
	status       string
	voidedReason string
	created      time.Time
	sent         time.Time
	delivered    time.Time
	completed    time.Time
	declined     time.Time
	voided       time.Time
	changed      time.Time
	signers      []*signerState
}

type signerState struct {
	recipientID    string
	routingOrder   string
	name           string
	email          string
	status         string // created, sent, delivered, completed, declined
	declinedReason string
	delivered      time.Time
	signed         time.Time
	declinedAt     time.Time
}

// maxCreateBody bounds a create request (DocuSign's own request limit is of this order).
const maxCreateBody = 32 << 20

// createEnvelope is POST …/envelopes → 201 envelopeSummary (providers.md A3).
func (f *Fake) createEnvelope(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCreateBody))
	if err != nil {
		writeError(w, http.StatusBadRequest, "INVALID_REQUEST_BODY", "The request body is missing or improperly formatted.")
		return
	}
	rec := CreateRequest{Raw: json.RawMessage(slices.Clone(raw))}
	var def EnvelopeDefinition
	if err := json.Unmarshal(raw, &def); err != nil {
		rec.ErrorCode = "INVALID_REQUEST_BODY"
		f.creates.Add(rec)
		writeError(w, http.StatusBadRequest, rec.ErrorCode, "The request body is missing or improperly formatted. "+err.Error())
		return
	}
	rec.Definition = def
	docs, code, msg := validateDefinition(def)
	if code != "" {
		rec.ErrorCode = code
		f.creates.Add(rec)
		writeError(w, http.StatusBadRequest, code, msg)
		return
	}

	f.mu.Lock()
	now := f.now()
	e := &envelope{id: uuid.NewString(), def: def, docs: docs, status: "created", created: now, changed: now}
	for _, d := range def.Documents {
		e.docNames = append(e.docNames, d.Name)
	}
	for _, s := range def.Recipients.Signers {
		e.signers = append(e.signers, &signerState{
			recipientID: s.RecipientID, routingOrder: s.RoutingOrder, name: s.Name, email: s.Email, status: "created",
		})
	}
	sort.SliceStable(e.signers, func(i, j int) bool { return order(e.signers[i]) < order(e.signers[j]) })
	var msgs []*outgoing
	if def.Status == "sent" {
		msgs = f.sendLocked(e, now)
	}
	f.envelopes[e.id] = e
	rec.EnvelopeID = e.id
	f.creates.Add(rec)
	drop := f.dropNextCreate.Fire()
	summary := map[string]string{
		"envelopeId":     e.id,
		"uri":            "/envelopes/" + e.id,
		"statusDateTime": dsTime(now),
		"status":         e.status,
	}
	f.mu.Unlock()

	f.hooks.Dispatch(msgs...)
	if drop {
		panic(http.ErrAbortHandler) // the server closes the connection without an answer
	}
	writeJSON(w, http.StatusCreated, summary)
}

func order(s *signerState) int {
	n, err := strconv.Atoi(s.routingOrder)
	if err != nil {
		return 1
	}
	return n
}

// sendLocked moves a draft to sent and returns its Connect messages.
func (f *Fake) sendLocked(e *envelope, now time.Time) []*outgoing {
	e.status, e.sent, e.changed = "sent", now, now
	var msgs []*outgoing
	for _, s := range e.signers {
		s.status = "sent"
	}
	msgs = append(msgs, f.messageLocked(e, "envelope-sent", ""))
	if len(e.signers) > 0 {
		msgs = append(msgs, f.messageLocked(e, "recipient-sent", e.signers[0].recipientID))
	}
	return msgs
}

// validateDefinition checks a create request the way DocuSign answers it: the first problem
// found, as {errorCode, message}. It returns the decoded documents.
func validateDefinition(def EnvelopeDefinition) (map[string][]byte, string, string) {
	const invalid = "INVALID_REQUEST_PARAMETER"
	const incomplete = "ENVELOPE_IS_INCOMPLETE"
	const incompleteMsg = "The Envelope is not Complete. A Complete Envelope Requires Documents, Recipients, Tabs, and a Subject Line."
	switch def.Status {
	case "", "created", "sent":
	default:
		return nil, invalid, "The request contained at least one invalid parameter. Invalid value specified for status: " + def.Status
	}
	if strings.TrimSpace(def.EmailSubject) == "" {
		return nil, incomplete, incompleteMsg
	}
	if n := utf8.RuneCountInString(def.EmailSubject); n > 100 {
		return nil, invalid, "The request contained at least one invalid parameter. The email subject exceeds the maximum length of 100 characters."
	}
	if len(def.Documents) == 0 {
		return nil, incomplete, incompleteMsg
	}
	docs := map[string][]byte{}
	for _, d := range def.Documents {
		if d.DocumentID == "" || docs[d.DocumentID] != nil {
			return nil, invalid, "The request contained at least one invalid parameter. A unique documentId is required for each document."
		}
		if strings.TrimSpace(d.Name) == "" {
			return nil, invalid, "The request contained at least one invalid parameter. A document name is required."
		}
		b, err := base64.StdEncoding.DecodeString(d.DocumentBase64)
		if err != nil || len(b) == 0 {
			return nil, invalid, "The request contained at least one invalid parameter. Invalid value specified for documentBase64 in document " + d.DocumentID + "."
		}
		docs[d.DocumentID] = b
	}
	if def.Recipients == nil || len(def.Recipients.Signers) == 0 {
		return nil, incomplete, incompleteMsg
	}
	ids := map[string]bool{}
	for _, s := range def.Recipients.Signers {
		if a, err := mail.ParseAddress(s.Email); err != nil || a.Address != s.Email {
			return nil, "INVALID_EMAIL_ADDRESS_FOR_RECIPIENT", "The email address for the recipient is invalid. The recipient Id follows. " + s.RecipientID
		}
		if strings.TrimSpace(s.Name) == "" {
			return nil, "INVALID_USERNAME_FOR_RECIPIENT", "The user name for the recipient is invalid. The recipient Id follows. " + s.RecipientID
		}
		if s.RecipientID == "" || ids[s.RecipientID] {
			return nil, invalid, "The request contained at least one invalid parameter. A unique recipientId is required for each recipient."
		}
		ids[s.RecipientID] = true
		if s.RoutingOrder != "" {
			if n, err := strconv.Atoi(s.RoutingOrder); err != nil || n < 1 {
				return nil, invalid, "The request contained at least one invalid parameter. Invalid value specified for routingOrder."
			}
		}
		if s.Tabs != nil {
			for _, t := range s.Tabs.SignHereTabs {
				if t.AnchorString == "" && (t.XPosition == "" || t.YPosition == "") {
					return nil, invalid, "The request contained at least one invalid parameter. A tab needs an anchorString or a position."
				}
			}
		}
	}
	if def.CustomFields != nil {
		for _, c := range def.CustomFields.TextCustomFields {
			if c.Name == "" {
				return nil, invalid, "The request contained at least one invalid parameter. A custom field name is required."
			}
		}
	}
	if n := def.EventNotification; n != nil {
		if u, err := url.Parse(n.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, invalid, "The request contained at least one invalid parameter. Invalid value specified for eventNotification.url."
		}
	}
	return docs, "", ""
}

// listStatusChanges is GET …/envelopes (providers.md A8), with from_date, to_date,
// envelope_ids, status and custom_field=name=value filters.
func (f *Fake) listStatusChanges(w http.ResponseWriter, r *http.Request) {
	if !f.lookups.Wait(r.Context()) {
		return // the client gave up while the test held the lookup
	}
	q := r.URL.Query()
	var from, to time.Time
	var ids map[string]bool
	if v := q.Get("envelope_ids"); v != "" {
		ids = map[string]bool{}
		for _, id := range strings.Split(v, ",") {
			ids[strings.ToLower(strings.TrimSpace(id))] = true
		}
	}
	if v := q.Get("from_date"); v != "" {
		t, ok := parseQueryTime(v)
		if !ok {
			writeError(w, http.StatusBadRequest, "INVALID_REQUEST_PARAMETER", "The request contained at least one invalid parameter. Invalid value specified for from_date.")
			return
		}
		from = t
	} else if ids == nil {
		writeError(w, http.StatusBadRequest, "INVALID_REQUEST_PARAMETER", "The request contained at least one invalid parameter. from_date or envelope_ids is required.")
		return
	}
	if v := q.Get("to_date"); v != "" {
		t, ok := parseQueryTime(v)
		if !ok {
			writeError(w, http.StatusBadRequest, "INVALID_REQUEST_PARAMETER", "The request contained at least one invalid parameter. Invalid value specified for to_date.")
			return
		}
		to = t
	}
	var statuses map[string]bool
	if v := q.Get("status"); v != "" {
		statuses = map[string]bool{}
		for _, s := range strings.Split(v, ",") {
			statuses[strings.ToLower(strings.TrimSpace(s))] = true
		}
	}
	var cfName, cfValue string
	if v := q.Get("custom_field"); v != "" {
		var ok bool
		if cfName, cfValue, ok = strings.Cut(v, "="); !ok || cfName == "" {
			writeError(w, http.StatusBadRequest, "INVALID_REQUEST_PARAMETER", "The request contained at least one invalid parameter. custom_field must be name=value.")
			return
		}
	}
	include := includes(q.Get("include"))

	f.mu.Lock()
	var found []*envelope
	for _, e := range f.envelopes {
		switch {
		case ids != nil && !ids[e.id]:
		case !from.IsZero() && e.changed.Before(from):
		case !to.IsZero() && e.changed.After(to):
		case statuses != nil && !statuses[e.status]:
		case cfName != "" && !hasCustomField(e, cfName, cfValue):
		default:
			found = append(found, e)
		}
	}
	sort.Slice(found, func(i, j int) bool {
		if !found[i].changed.Equal(found[j].changed) {
			return found[i].changed.Before(found[j].changed)
		}
		return found[i].id < found[j].id
	})
	views := make([]envelopeView, len(found))
	for i, e := range found {
		views[i] = f.viewOf(e, include["recipients"], include["custom_fields"], true)
	}
	f.mu.Unlock()

	n := strconv.Itoa(len(views))
	body := map[string]any{
		"resultSetSize": n, "totalSetSize": n, "startPosition": "0",
		"endPosition": strconv.Itoa(len(views) - 1), "nextUri": "", "previousUri": "",
	}
	if len(views) > 0 { // DocuSign leaves envelopes out of an empty result
		body["envelopes"] = views
	}
	writeJSON(w, http.StatusOK, body)
}

func hasCustomField(e *envelope, name, value string) bool {
	if e.def.CustomFields == nil {
		return false
	}
	for _, c := range e.def.CustomFields.TextCustomFields {
		if c.Name == name && c.Value == value {
			return true
		}
	}
	return false
}

func parseQueryTime(v string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.9999999", "2006-01-02T15:04", "2006-01-02", "01/02/2006"} {
		if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func includes(v string) map[string]bool {
	m := map[string]bool{}
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			m[s] = true
		}
	}
	return m
}

// getEnvelope is GET …/envelopes/{id} → Envelope (providers.md A8).
func (f *Fake) getEnvelope(w http.ResponseWriter, r *http.Request) {
	include := includes(r.URL.Query().Get("include"))
	f.mu.Lock()
	e, ok := f.envelopes[strings.ToLower(r.PathValue("envelopeId"))]
	var v envelopeView
	if ok {
		v = f.viewOf(e, include["recipients"], include["custom_fields"], true)
	}
	f.mu.Unlock()
	if !ok {
		writeNoEnvelope(w)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func writeNoEnvelope(w http.ResponseWriter) {
	writeError(w, http.StatusBadRequest, "ENVELOPE_DOES_NOT_EXIST", "The envelope specified either does not exist or you have no access to it.")
}

// updateEnvelope is PUT …/envelopes/{id}: void (providers.md A10), or send a draft.
func (f *Fake) updateEnvelope(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Status       string `json:"status"`
		VoidedReason string `json:"voidedReason"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "INVALID_REQUEST_BODY", "The request body is missing or improperly formatted.")
		return
	}
	id := strings.ToLower(r.PathValue("envelopeId"))
	f.mu.Lock()
	e, ok := f.envelopes[id]
	if !ok {
		f.mu.Unlock()
		writeNoEnvelope(w)
		return
	}
	var msgs []*outgoing
	switch req.Status {
	case "voided":
		if strings.TrimSpace(req.VoidedReason) == "" {
			f.mu.Unlock()
			writeError(w, http.StatusBadRequest, "INVALID_REQUEST_PARAMETER", "The request contained at least one invalid parameter. A void reason is required to void an envelope.")
			return
		}
		var err error
		if msgs, err = f.voidLocked(e, req.VoidedReason); err != nil {
			f.mu.Unlock()
			writeError(w, http.StatusBadRequest, "ENVELOPE_CANNOT_VOID_INVALID_STATE", "Only envelopes in the 'Sent' or 'Delivered' states may be voided.")
			return
		}
	case "sent":
		if e.status != "created" {
			f.mu.Unlock()
			writeError(w, http.StatusBadRequest, "ENVELOPE_INVALID_STATUS", "Invalid envelope status: only a draft can be sent.")
			return
		}
		msgs = f.sendLocked(e, f.now())
	default:
		f.mu.Unlock()
		writeError(w, http.StatusBadRequest, "INVALID_REQUEST_PARAMETER", "The request contained at least one invalid parameter. Invalid value specified for status.")
		return
	}
	f.mu.Unlock()
	f.hooks.Dispatch(msgs...)
	writeJSON(w, http.StatusOK, map[string]string{"envelopeId": id})
}

// voidLocked voids a sent or delivered envelope; the reason is kept to 200 characters.
func (f *Fake) voidLocked(e *envelope, reason string) ([]*outgoing, error) {
	if e.status != "sent" && e.status != "delivered" {
		return nil, errorf("envelope %s is %s: only sent or delivered envelopes can be voided", e.id, e.status)
	}
	if r := []rune(reason); len(r) > 200 {
		reason = string(r[:200])
	}
	now := f.now()
	e.status, e.voidedReason, e.voided, e.changed = "voided", reason, now, now
	return []*outgoing{f.messageLocked(e, "envelope-voided", "")}, nil
}

// getDocument is GET …/envelopes/{id}/documents/{documentId} (providers.md A9): combined (with
// certificate=true, the certificate last), certificate, or one document by id.
func (f *Fake) getDocument(w http.ResponseWriter, r *http.Request) {
	id := strings.ToLower(r.PathValue("envelopeId"))
	docID := r.PathValue("documentId")
	f.mu.Lock()
	e, ok := f.envelopes[id]
	var body []byte
	found := true
	if ok {
		switch docID {
		case "combined":
			pages := make([]string, 0, len(e.docNames)+1)
			for _, n := range e.docNames {
				pages = append(pages, "Envelope "+e.id+": "+n+" ("+e.status+")")
			}
			if r.URL.Query().Get("certificate") == "true" {
				pages = append(pages, certificateText(e))
			}
			body = PDF(pages...)
		case "certificate":
			body = PDF(certificateText(e))
		default:
			body, found = e.docs[docID]
		}
	}
	f.mu.Unlock()
	switch {
	case !ok:
		writeNoEnvelope(w)
	case !found:
		writeError(w, http.StatusBadRequest, "DOCUMENT_DOES_NOT_EXIST", "The document specified was not found.")
	default:
		w.Header().Set("Content-Type", "application/pdf")
		w.Header().Set("Content-Disposition", `file; filename="`+docID+`.pdf"; documentid="`+docID+`"`)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
	}
}

func certificateText(e *envelope) string {
	return "Certificate of Completion: envelope " + e.id + ", status " + e.status
}

// envelopeView is an Envelope as GET, listStatusChanges and Connect's envelopeSummary show it.
type envelopeView struct {
	EnvelopeID            string          `json:"envelopeId"`
	Status                string          `json:"status"`
	EmailSubject          string          `json:"emailSubject,omitempty"`
	CreatedDateTime       string          `json:"createdDateTime,omitempty"`
	SentDateTime          string          `json:"sentDateTime,omitempty"`
	DeliveredDateTime     string          `json:"deliveredDateTime,omitempty"`
	CompletedDateTime     string          `json:"completedDateTime,omitempty"`
	DeclinedDateTime      string          `json:"declinedDateTime,omitempty"`
	VoidedDateTime        string          `json:"voidedDateTime,omitempty"`
	VoidedReason          string          `json:"voidedReason,omitempty"`
	StatusChangedDateTime string          `json:"statusChangedDateTime,omitempty"`
	DocumentsURI          string          `json:"documentsUri"`
	RecipientsURI         string          `json:"recipientsUri"`
	DocumentsCombinedURI  string          `json:"documentsCombinedUri"`
	CertificateURI        string          `json:"certificateUri"`
	Sender                senderView      `json:"sender"`
	CustomFields          *CustomFields   `json:"customFields,omitempty"`
	Recipients            *recipientsView `json:"recipients,omitempty"`
}

type senderView struct {
	UserName  string `json:"userName"`
	UserID    string `json:"userId"`
	AccountID string `json:"accountId"`
	Email     string `json:"email"`
	IPAddress string `json:"ipAddress"`
}

type recipientsView struct {
	Signers []signerView `json:"signers"`
}

type signerView struct {
	RecipientID       string `json:"recipientId"`
	RoutingOrder      string `json:"routingOrder"`
	Name              string `json:"name"`
	Email             string `json:"email"`
	Status            string `json:"status"`
	DeclinedReason    string `json:"declinedReason,omitempty"`
	DeliveredDateTime string `json:"deliveredDateTime,omitempty"`
	SignedDateTime    string `json:"signedDateTime,omitempty"`
	DeclinedDateTime  string `json:"declinedDateTime,omitempty"`
}

// viewOf snapshots an envelope; the caller holds f.mu.
func (f *Fake) viewOf(e *envelope, withRecipients, withCustomFields, withVoidReason bool) envelopeView {
	v := envelopeView{
		EnvelopeID:            e.id,
		Status:                e.status,
		EmailSubject:          e.def.EmailSubject,
		CreatedDateTime:       dsTime(e.created),
		SentDateTime:          dsTime(e.sent),
		DeliveredDateTime:     dsTime(e.delivered),
		CompletedDateTime:     dsTime(e.completed),
		DeclinedDateTime:      dsTime(e.declined),
		VoidedDateTime:        dsTime(e.voided),
		StatusChangedDateTime: dsTime(e.changed),
		DocumentsURI:          "/envelopes/" + e.id + "/documents",
		RecipientsURI:         "/envelopes/" + e.id + "/recipients",
		DocumentsCombinedURI:  "/envelopes/" + e.id + "/documents/combined",
		CertificateURI:        "/envelopes/" + e.id + "/documents/certificate",
		Sender: senderView{
			UserName: "Fake User", UserID: f.opts.UserID, AccountID: f.opts.AccountID,
			Email: "fake.user@example.com", IPAddress: "127.0.0.1",
		},
	}
	if withVoidReason {
		v.VoidedReason = e.voidedReason
	}
	if withCustomFields {
		cf := CustomFields{}
		if e.def.CustomFields != nil {
			cf.TextCustomFields = slices.Clone(e.def.CustomFields.TextCustomFields)
		}
		v.CustomFields = &cf
	}
	if withRecipients {
		rv := &recipientsView{Signers: []signerView{}}
		for _, s := range e.signers {
			rv.Signers = append(rv.Signers, signerView{
				RecipientID: s.recipientID, RoutingOrder: s.routingOrder, Name: s.name, Email: s.email,
				Status: s.status, DeclinedReason: s.declinedReason, DeliveredDateTime: dsTime(s.delivered),
				SignedDateTime: dsTime(s.signed), DeclinedDateTime: dsTime(s.declinedAt),
			})
		}
		v.Recipients = rv
	}
	return v
}
