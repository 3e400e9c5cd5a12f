package onespan

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/rest"
)

// Verify's errors.
var (
	// ErrNoKeys: no callback key is configured, so nothing can be verified.
	ErrNoKeys = errors.New("onespan: no callback keys configured")
	// ErrNoCredentials: the request has no "Authorization: Basic {key}" header (none, empty,
	// or another scheme such as Bearer).
	ErrNoCredentials = errors.New("onespan: no Authorization: Basic header")
	// ErrMismatch: the key the request carries is none of the configured keys.
	ErrMismatch = errors.New("onespan: the callback key matches no configured key")
)

// maxCredential bounds the credential Verify compares; a longer one matches nothing.
const maxCredential = 4096

// Verify checks a callback's credential before anything parses its body (providers.md B6):
// OneSpan sends the registered callback key as is in "Authorization: Basic {key}". The scheme
// is matched without regard to case and spaces around the key are ignored (RFC 7235); the key
// itself must match exactly. Every configured key is compared, in constant time and without an
// early exit, so that the time taken tells neither which key matched nor how much of one did.
// Nothing binds the body to the key: a verified callback is still a hint to read the package.
func Verify(h http.Header, keys []string) error {
	sums := make([][sha256.Size]byte, 0, len(keys))
	for _, k := range keys {
		if k != "" {
			sums = append(sums, sha256.Sum256([]byte(k)))
		}
	}
	if len(sums) == 0 {
		return ErrNoKeys
	}
	cred, ok := basicCredential(h)
	if !ok {
		return ErrNoCredentials
	}
	if len(cred) > maxCredential {
		return ErrMismatch
	}
	// Comparing digests gives every comparison the same length, which ConstantTimeCompare
	// needs not to return early.
	got := sha256.Sum256([]byte(cred))
	match := 0
	for _, s := range sums {
		match |= subtle.ConstantTimeCompare(got[:], s[:])
	}
	if match != 1 {
		return ErrMismatch
	}
	return nil
}

// basicCredential returns the credential of the request's first Authorization header when its
// scheme is Basic, whatever the case of the header's name.
func basicCredential(h http.Header) (string, bool) {
	var v string
	for name, vs := range h {
		if strings.EqualFold(name, "Authorization") && len(vs) > 0 {
			v = vs[0]
			break
		}
	}
	v = strings.TrimSpace(v)
	i := strings.IndexAny(v, " \t")
	if i < 0 || !strings.EqualFold(v[:i], "Basic") {
		return "", false
	}
	cred := strings.Trim(v[i:], " \t")
	return cred, cred != ""
}

// ParseEvent's errors. All of them are ErrMalformedEvent (errors.Is).
var (
	// ErrMalformedEvent: the body is not a OneSpan callback event (not a JSON object of
	// reasonable size and depth, invalid UTF-8, a field of the wrong type).
	ErrMalformedEvent = errors.New("onespan: malformed callback event")
	// ErrMissingName: the event has no (usable) name.
	ErrMissingName = fmt.Errorf("%w: no name", ErrMalformedEvent)
	// ErrMissingPackageID: the event names no (usable) package.
	ErrMissingPackageID = fmt.Errorf("%w: no packageId", ErrMalformedEvent)
	// ErrBadCreatedDate: createdDate is missing or not an ISO-8601 time.
	ErrBadCreatedDate = fmt.Errorf("%w: createdDate is missing or not an ISO-8601 time", ErrMalformedEvent)
)

// Limits of what ParseEvent reads.
const (
	// MaxEventSize bounds a callback body; OneSpan's events are a few hundred bytes.
	MaxEventSize = 64 << 10
	// maxEventDepth bounds nesting: OneSpan's events are flat objects.
	maxEventDepth = 8
	maxEventField = 255 // name and packageId (providers.md B6)
)

// processEvent is OneSpan's ESLProcessEvent (providers.md B6). "@class" is not read; message
// and documentId are often null; any field may be missing in an older or newer release.
type processEvent struct {
	Name        *string `json:"name"`
	SessionUser *string `json:"sessionUser"`
	PackageID   *string `json:"packageId"`
	Message     *string `json:"message"`
	DocumentID  *string `json:"documentId"`
	CreatedDate *string `json:"createdDate"`
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// ParseEvent reads a verified callback body. It needs a name, a packageId (each at most 255
// printable characters) and a createdDate (ISO-8601, OneSpan's is UTC with milliseconds);
// unknown fields, "@class" and null values are fine. Type is the name as sent, ExternalID the
// packageId, OccurredAt the createdDate, Reason the message when there is one. The dedupe key is
// the hex SHA-256 of (packageId, name, sessionUser, documentId, createdDate): a replay of the
// same event (OneSpan does not retry; an administrator replays the payload of the failure
// email) has the same key, any other event another.
func ParseEvent(body []byte) (engine.InboundEvent, error) {
	if len(body) > MaxEventSize || !utf8.Valid(body) || !json.Valid(body) || !isJSONObject(body) || depth(body) > maxEventDepth {
		return engine.InboundEvent{}, ErrMalformedEvent
	}
	var e processEvent
	if err := json.Unmarshal(body, &e); err != nil {
		return engine.InboundEvent{}, ErrMalformedEvent
	}
	name, pkg := str(e.Name), str(e.PackageID)
	if strings.TrimSpace(name) == "" || len(name) > maxEventField || !printable(name) {
		return engine.InboundEvent{}, ErrMissingName
	}
	if strings.TrimSpace(pkg) == "" || len(pkg) > maxEventField || !printable(pkg) {
		return engine.InboundEvent{}, ErrMissingPackageID
	}
	at, ok := rest.ParseTime(str(e.CreatedDate))
	if !ok {
		return engine.InboundEvent{}, ErrBadCreatedDate
	}
	ev := engine.InboundEvent{
		System:     system,
		Type:       name,
		ExternalID: pkg,
		DedupeKey:  dedupeKey(pkg, name, str(e.SessionUser), str(e.DocumentID), at.Format(time.RFC3339Nano)),
		OccurredAt: at,
		Reason:     rest.Clean(str(e.Message), 1000),
	}
	return ev, nil
}

func isJSONObject(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}

// depth is the deepest nesting of objects and arrays in valid JSON.
func depth(b []byte) int {
	d, deepest, inString, escaped := 0, 0, false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			d++
			deepest = max(deepest, d)
		case c == '}' || c == ']':
			d--
		}
	}
	return deepest
}

// dedupeKey hashes the fields length-prefixed, so that no two different tuples hash alike by
// concatenation.
func dedupeKey(fields ...string) string {
	h := sha256.New()
	h.Write([]byte("onespan-event-v1"))
	var n [4]byte
	for _, f := range fields {
		binary.BigEndian.PutUint32(n[:], uint32(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// HandledEvents are the events that end a package, in OneSpan's spelling, plus PACKAGE_DELETED,
// a spelling accepted on receipt (OneSpan's is PACKAGE_DELETE, providers.md B6): the spec's
// Acts, the only events flowhook acts on. Every other event is progress or noise: the receiver
// answers it and ignores it.
var HandledEvents = []string{
	"PACKAGE_COMPLETE", "PACKAGE_DECLINE", "PACKAGE_OPT_OUT", "PACKAGE_EXPIRE",
	"PACKAGE_TRASH", "PACKAGE_DELETE", "PACKAGE_DELETED", "PACKAGE_ARCHIVE",
}

// DefaultOutcome maps a callback event to the workflow outcome it ends in: PACKAGE_COMPLETE is
// FINISHED, PACKAGE_DECLINE and PACKAGE_OPT_OUT DENIED, PACKAGE_EXPIRE EXPIRED, and
// PACKAGE_TRASH, PACKAGE_DELETE (PACKAGE_DELETED) and PACKAGE_ARCHIVE DELETED: a package that is
// trashed, deleted or archived while a workflow still waits on it will not be signed. Every
// other event is not an outcome: false.
func DefaultOutcome(eventType, reason string) (engine.Outcome, bool) {
	_ = reason // OneSpan's event names say it all
	switch eventType {
	case "PACKAGE_COMPLETE":
		return engine.OutcomeFinished, true
	case "PACKAGE_DECLINE", "PACKAGE_OPT_OUT":
		return engine.OutcomeDenied, true
	case "PACKAGE_EXPIRE":
		return engine.OutcomeExpired, true
	case "PACKAGE_TRASH", "PACKAGE_DELETE", "PACKAGE_DELETED", "PACKAGE_ARCHIVE":
		return engine.OutcomeDeleted, true
	}
	return engine.OutcomeUnspecified, false
}

// StatusOutcome maps a package's status (providers.md B3 enum) and trashed flag to the outcome
// it ends in, for Status and for confirming a callback: COMPLETED is FINISHED, DECLINED and
// OPTED_OUT DENIED, EXPIRED EXPIRED, ARCHIVED DELETED. A status of its own wins over the
// trashed flag (a completed package that was trashed was still completed); a DRAFT or SENT
// package that is trashed is DELETED. Anything else is not terminal: OutcomeUnspecified.
// Status names are matched without regard to case.
func StatusOutcome(status string, trashed bool) engine.Outcome {
	switch strings.ToUpper(strings.TrimSpace(status)) {
	case "COMPLETED":
		return engine.OutcomeFinished
	case "DECLINED", "OPTED_OUT":
		return engine.OutcomeDenied
	case "EXPIRED":
		return engine.OutcomeExpired
	case "ARCHIVED":
		return engine.OutcomeDeleted
	}
	if trashed {
		return engine.OutcomeDeleted
	}
	return engine.OutcomeUnspecified
}
