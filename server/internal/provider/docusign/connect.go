package docusign

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/rest"
)

// MaxSignatures is how many X-DocuSign-Signature-N headers Verify considers (N = 1…100): one
// per active HMAC key on the account, whose limit DocuSign does not document (100 by a
// third-party account, providers.md). With 10, an account whose key for flowhook signed
// X-DocuSign-Signature-11 had every message refused.
const MaxSignatures = 100

// signatureHeaderPrefix is matched without regard to case: Go canonicalizes it to
// X-Docusign-Signature-N, DocuSign spells it X-DocuSign-Signature-N.
const signatureHeaderPrefix = "x-docusign-signature-"

// Verify's errors.
var (
	// ErrNoKeys: no HMAC key is configured, so nothing can be verified.
	ErrNoKeys = errors.New("docusign: no HMAC keys configured")
	// ErrNoSignature: the request has no non-empty X-DocuSign-Signature-N header.
	ErrNoSignature = errors.New("docusign: no X-DocuSign-Signature header")
	// ErrBadSignature: no signature matches the body under any configured key.
	ErrBadSignature = errors.New("docusign: no signature matches the body")
)

// Verify checks a Connect message before anything parses it (providers.md A6): it passes when
// base64(HMAC-SHA256(key, body)) equals one of the X-DocuSign-Signature-1…MaxSignatures
// headers for one of the keys. All keys are tried, so that keys can be rotated. Comparisons are
// constant-time.
func Verify(body []byte, h http.Header, keys []string) error {
	macs := make([][]byte, 0, len(keys))
	for _, k := range keys {
		if k == "" {
			continue
		}
		m := hmac.New(sha256.New, []byte(k))
		m.Write(body)
		sum := m.Sum(nil)
		enc := make([]byte, base64.StdEncoding.EncodedLen(len(sum)))
		base64.StdEncoding.Encode(enc, sum)
		macs = append(macs, enc)
	}
	if len(macs) == 0 {
		return ErrNoKeys
	}
	sigs := signatures(h)
	if len(sigs) == 0 {
		return ErrNoSignature
	}
	matched := false
	for _, s := range sigs {
		for _, m := range macs {
			// Every pair is compared, with no early exit, so the time taken does not tell
			// which key or header matched.
			if hmac.Equal([]byte(s), m) {
				matched = true
			}
		}
	}
	if !matched {
		return ErrBadSignature
	}
	return nil
}

// signatures collects the non-empty values of X-DocuSign-Signature-1…MaxSignatures, at most
// MaxSignatures of them, whatever the case of the header names.
func signatures(h http.Header) []string {
	var out []string
	for name, vs := range h {
		if len(name) <= len(signatureHeaderPrefix) || !strings.EqualFold(name[:len(signatureHeaderPrefix)], signatureHeaderPrefix) {
			continue
		}
		digits := name[len(signatureHeaderPrefix):]
		if n, err := strconv.Atoi(digits); err != nil || n < 1 || n > MaxSignatures || digits != strconv.Itoa(n) {
			continue
		}
		for _, v := range vs {
			if v = strings.TrimSpace(v); v != "" && len(out) < MaxSignatures {
				out = append(out, v)
			}
		}
	}
	return out
}

// ParseEvent's errors.
var (
	// ErrMalformedEvent: the body is not a JSON SIM message (not JSON, not an object, or a
	// field of the wrong type).
	ErrMalformedEvent = errors.New("docusign: malformed Connect message")
	// ErrMissingEvent: the message has no "event".
	ErrMissingEvent = errors.New("docusign: Connect message without event")
	// ErrMissingEnvelopeID: the message names no envelope.
	ErrMissingEnvelopeID = errors.New("docusign: Connect message without envelopeId")
)

// simMessage is the part of a JSON SIM message (providers.md A5) flowhook reads. retryCount
// and configurationId are numbers; nothing here depends on them.
type simMessage struct {
	Event             string `json:"event"`
	GeneratedDateTime string `json:"generatedDateTime"`
	Data              struct {
		EnvelopeID      string `json:"envelopeId"`
		EnvelopeSummary struct {
			Status       string `json:"status"`
			EnvelopeID   string `json:"envelopeId"`
			VoidedReason string `json:"voidedReason"`
			CustomFields struct {
				TextCustomFields []struct {
					Name  string `json:"name"`
					Value string `json:"value"`
				} `json:"textCustomFields"`
			} `json:"customFields"`
			Recipients struct {
				Signers []struct {
					DeclinedReason string `json:"declinedReason"`
				} `json:"signers"`
			} `json:"recipients"`
		} `json:"envelopeSummary"`
	} `json:"data"`
}

// ParseEvent reads a verified JSON SIM message. Unknown fields are ignored. The dedupe key is
// the hex SHA-256 of the message's canonical JSON without its top-level retryCount, so that
// DocuSign's redeliveries of one message share a key while different messages do not.
func ParseEvent(body []byte) (engine.InboundEvent, error) {
	var m simMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return engine.InboundEvent{}, ErrMalformedEvent
	}
	if !isJSONObject(body) {
		return engine.InboundEvent{}, ErrMalformedEvent
	}
	if strings.TrimSpace(m.Event) == "" {
		return engine.InboundEvent{}, ErrMissingEvent
	}
	sum := m.Data.EnvelopeSummary
	envelopeID := m.Data.EnvelopeID
	if envelopeID == "" {
		envelopeID = sum.EnvelopeID
	}
	if strings.TrimSpace(envelopeID) == "" {
		return engine.InboundEvent{}, ErrMissingEnvelopeID
	}
	key, err := dedupeKey(body)
	if err != nil {
		return engine.InboundEvent{}, ErrMalformedEvent
	}
	ev := engine.InboundEvent{
		System:     system,
		Type:       m.Event,
		ExternalID: envelopeID,
		DedupeKey:  key,
		Status:     sum.Status,
		Reason:     sum.VoidedReason,
	}
	ev.OccurredAt, _ = rest.ParseTime(m.GeneratedDateTime)
	if ev.Reason == "" {
		for _, s := range sum.Recipients.Signers {
			if s.DeclinedReason != "" {
				ev.Reason = s.DeclinedReason
				break
			}
		}
	}
	for _, f := range sum.CustomFields.TextCustomFields {
		if f.Name == WorkItemIDField {
			ev.WorkItemID = f.Value
			break
		}
	}
	return ev, nil
}

func isJSONObject(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}

// dedupeKey hashes the canonical form of the message: re-encoded with sorted keys and no
// spaces, numbers as written, the top-level retryCount removed (canonical.go).
func dedupeKey(body []byte) (string, error) {
	canon, err := canonicalObject(make([]byte, 0, len(body)), body, "retryCount")
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(canon)
	return hex.EncodeToString(sum[:]), nil
}

// DefaultOutcome maps a Connect event to the workflow outcome it ends in, when it ends the
// envelope: envelope-completed is FINISHED, envelope-declined DENIED, envelope-voided DELETED
// (EXPIRED when the reason says the envelope expired), envelope-deleted and envelope-purge
// DELETED. Every other event (sent, delivered, recipient-*) is progress: false.
func DefaultOutcome(eventType, reason string) (engine.Outcome, bool) {
	switch eventType {
	case "envelope-completed":
		return engine.OutcomeFinished, true
	case "envelope-declined":
		return engine.OutcomeDenied, true
	case "envelope-voided":
		if isExpiry(reason) {
			return engine.OutcomeExpired, true
		}
		return engine.OutcomeDeleted, true
	case "envelope-deleted", "envelope-purge":
		return engine.OutcomeDeleted, true
	}
	return engine.OutcomeUnspecified, false
}
