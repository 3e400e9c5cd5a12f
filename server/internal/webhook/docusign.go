package webhook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/eventlog"
	"github.com/flowhook/flowhook/server/internal/provider/docusign"
)

// MaxBody caps a notification's body. DocuSign's JSON SIM messages are a few kilobytes, more
// with recipients and custom fields; documents are never requested in them.
const MaxBody = 1 << 20

// DocuSign receives DocuSign Connect (JSON SIM) notifications.
type DocuSign struct {
	keys   func(context.Context) ([]string, error)
	ingest Ingester
	log    *slog.Logger
}

var _ Receiver = (*DocuSign)(nil)

// NewDocuSign returns the DocuSign receiver; keys returns the configured HMAC keys.
func NewDocuSign(keys func(context.Context) ([]string, error), ingest Ingester, log *slog.Logger) *DocuSign {
	return &DocuSign{keys: keys, ingest: ingest, log: log}
}

// safeHeaders are the request headers kept with an event: none that authenticates it.
var safeHeaders = []string{"Content-Type", "User-Agent", "X-Docusign-Accountid", "X-Authorization-Digest", "X-Forwarded-For"}

func (d *DocuSign) Receive(r *http.Request, dl *Delivery) Reply {
	ctx := r.Context()
	dl.Headers = keep(r.Header)
	body, refused, ok := readJSON(r, dl, jsonLimits{max: MaxBody, maxText: "1 MiB", sender: "DocuSign Connect", noun: "DocuSign notifications", one: "notification"})
	if !ok {
		return refused
	}
	keys, err := d.keys(ctx)
	if err != nil {
		return d.unavailable(ctx, dl, err)
	}
	// Authenticate before parsing anything.
	if err := docusign.Verify(body, r.Header, keys); err != nil {
		reason := rejectReason(err)
		d.log.InfoContext(ctx, "docusign webhook rejected", "reason", reason, "remote", dl.RemoteAddr, "bytes", len(body))
		dl.Reject(ctx, "HMAC: %s (%d key(s) configured, %d signature header(s) sent)", reason, len(keys), signatureCount(r.Header))
		return Reply{Status: http.StatusUnauthorized, Error: "the notification is not signed with a configured HMAC key"}
	}
	eventlog.Note(ctx, eventlog.StepAuthenticated, "HMAC-SHA256 signature matches one of the %d configured key(s)", len(keys))
	ev, perr := docusign.ParseEvent(body)
	stored := engine.StoredEvent{Event: ev, Body: body, Headers: dl.Headers, RemoteAddr: dl.RemoteAddr, Size: int64(len(body))}
	if perr != nil {
		// Authentic but unreadable: kept for an administrator, never retried.
		sum := sha256.Sum256(body)
		stored.Event = engine.InboundEvent{Provider: engine.ProviderDocuSign, Type: "unparseable", DedupeKey: hex.EncodeToString(sum[:])}
		stored.Verdict, stored.Reason = engine.VerdictUnparseable, perr.Error()
		eventlog.Note(ctx, eventlog.StepParsed, "unparseable: %s", perr.Error())
	} else {
		eventlog.Note(ctx, eventlog.StepParsed, "%s for envelope %s (status %q)%s", ev.Type, ev.ExternalID, ev.Status, at(ev.OccurredAt))
	}
	stored.Event.Provider = engine.ProviderDocuSign
	dl.Traced(ctx, &stored)
	// One transaction stores it and, when its work item is known, applies it: the 200 below
	// means the workflow has moved (or the event waits, durably, with its job).
	saved, created, err := d.ingest.Receive(ctx, stored)
	if err != nil {
		return d.unavailable(ctx, dl, err)
	}
	dl.Stored(saved, created)
	if !created {
		return Reply{Status: http.StatusOK, Result: "duplicate"}
	}
	return Reply{Status: http.StatusOK, Result: "accepted"}
}

// unavailable answers 503 with Retry-After: the provider retries, nothing is lost.
// jsonLimits describe what a receiver accepts: JSON bodies up to max bytes.
type jsonLimits struct {
	max     int64
	maxText string // "1 MiB"
	sender  string // who sends JSON: "DocuSign Connect"
	noun    string // what they send, plural: "DocuSign notifications"
	one     string // one of them: "notification"
}

// readJSON checks the content type and reads the body up to the limit, noting what it found.
// When it refuses the request, the delivery records why and ok is false with the reply.
func readJSON(r *http.Request, dl *Delivery, l jsonLimits) (body []byte, refused Reply, ok bool) {
	ctx := r.Context()
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		eventlog.Note(ctx, eventlog.StepReceived, "from %s, Content-Type %q", dl.RemoteAddr, truncate(ct, 100))
		dl.Reject(ctx, "unsupported content type (%s sends application/json)", l.sender)
		return nil, Reply{Status: http.StatusUnsupportedMediaType, Error: l.noun + " are JSON (Content-Type: application/json)"}, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, l.max))
	dl.Body = body
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			eventlog.Note(ctx, eventlog.StepReceived, "more than %d bytes from %s", l.max, dl.RemoteAddr)
			dl.Reject(ctx, "the body is larger than %s", l.maxText)
			return nil, Reply{Status: http.StatusRequestEntityTooLarge, Error: "the " + l.one + " is larger than " + l.maxText}, false
		}
		eventlog.Note(ctx, eventlog.StepReceived, "from %s; the body could not be read", dl.RemoteAddr)
		dl.Reject(ctx, "the body could not be read")
		return nil, Reply{Status: http.StatusBadRequest, Error: "the body could not be read"}, false
	}
	eventlog.Note(ctx, eventlog.StepReceived, "%d bytes of JSON from %s", len(body), dl.RemoteAddr)
	return body, Reply{}, true
}

func (d *DocuSign) unavailable(ctx context.Context, dl *Delivery, err error) Reply {
	d.log.WarnContext(ctx, "docusign webhook not stored", "error", err.Error())
	dl.Failed(ctx, "the database is unavailable")
	return Reply{Status: http.StatusServiceUnavailable, Error: "temporarily unavailable; retry later", RetryAfter: 30}
}

func rejectReason(err error) string {
	switch {
	case errors.Is(err, docusign.ErrNoKeys):
		return "no HMAC key configured"
	case errors.Is(err, docusign.ErrNoSignature):
		return "no signature header"
	default:
		return "signature mismatch"
	}
}

// signatureCount is how many X-DocuSign-Signature-N headers came (their values are never kept).
func signatureCount(h http.Header) int {
	n := 0
	for k := range h {
		if strings.HasPrefix(strings.ToLower(k), "x-docusign-signature-") {
			n++
		}
	}
	return n
}

func keep(h http.Header) map[string]string { return keepHeaders(h, safeHeaders) }

// keepHeaders returns the named headers' values, cut short and made valid UTF-8.
func keepHeaders(h http.Header, names []string) map[string]string {
	out := make(map[string]string, len(names))
	for _, k := range names {
		if v := h.Get(k); v != "" {
			out[k] = truncate(strings.ToValidUTF8(v, "?"), 512)
		}
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

func at(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return ", generated " + t.UTC().Format(time.RFC3339Nano)
}
