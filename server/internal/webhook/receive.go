package webhook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/eventlog"
)

// receive is the pipeline every system's notification goes through: limits, authentication
// before parsing, the event stored (and applied, when its work item is known) in one
// transaction, and the answer.
func (rt *Router) receive(r *http.Request, rc engine.Receiving, dl *Delivery) Reply {
	ctx := r.Context()
	limits := rc.Limits()
	dl.Headers = keepHeaders(r.Header, limits.SafeHeaders)
	var auth engine.Authentication
	if limits.HeaderAuth {
		// The credential travels in a header (OneSpan's callback key): it is checked before
		// the body is read, so that a caller without it gets 401 whatever it sent — not 413
		// or 415, which would tell it about the limits. A body-signed notification (DocuSign's
		// HMAC, Standard Webhooks) cannot be checked before its body is read: it keeps 413.
		var refused Reply
		if auth, refused = rt.authenticate(r, rc, dl, nil); !auth.OK {
			return refused
		}
	}
	body, refused, ok := readJSON(r, dl, limits)
	if !ok {
		return refused
	}
	if !limits.HeaderAuth {
		// Authenticate before parsing anything.
		if auth, refused = rt.authenticate(r, rc, dl, body); !auth.OK {
			return refused
		}
	}
	eventlog.Note(ctx, eventlog.StepAuthenticated, "%s", auth.Note)
	ev, perr := rc.Parse(body, r.Header)
	if perr == nil {
		ev, perr = engine.CleanInbound(ev)
	}
	stored := engine.StoredEvent{Event: ev, Body: body, Headers: dl.Headers, RemoteAddr: dl.RemoteAddr, Size: int64(len(body))}
	switch {
	case perr != nil:
		// Authentic but unreadable: kept for an administrator, never retried. The reason may
		// quote the body: kept as text PostgreSQL stores.
		sum := sha256.Sum256(body)
		stored.Event = engine.InboundEvent{Type: "unparseable", DedupeKey: hex.EncodeToString(sum[:])}
		stored.Verdict, stored.Reason = engine.VerdictUnparseable, engine.CleanProse(perr.Error())
		eventlog.Note(ctx, eventlog.StepParsed, "unparseable: %s", stored.Reason)
	case !rc.Handles(ev.Type):
		eventlog.Note(ctx, eventlog.StepParsed, "%s for %s %s", truncate(ev.Type, 100), limits.Item, ev.ExternalID)
		stored.Verdict, stored.Reason = engine.VerdictIgnored, "flowhook does not act on "+truncate(ev.Type, 100)
		if !eventlog.Enabled(ctx) {
			// Ignored events are kept only while debugging; they are counted either way.
			dl.Ignored(ev)
			return Reply{Status: http.StatusOK, Result: "ignored"}
		}
	default:
		eventlog.Note(ctx, eventlog.StepParsed, "%s for %s %s%s", ev.Type, limits.Item, ev.ExternalID, at(ev))
	}
	stored.Event.System = dl.System
	dl.Traced(ctx, &stored)
	// One transaction stores it and, when its work item is known, applies it: the 200 below
	// means the workflow has moved (or the event waits, durably, with its job).
	saved, created, err := rt.opts.Ingest.Receive(ctx, stored)
	if err != nil {
		return rt.unavailable(ctx, dl, err)
	}
	dl.Stored(saved, created)
	switch {
	case !created:
		return Reply{Status: http.StatusOK, Result: "duplicate"}
	case saved.Verdict == engine.VerdictIgnored:
		return Reply{Status: http.StatusOK, Result: "ignored"}
	}
	return Reply{Status: http.StatusOK, Result: "accepted"}
}

// authenticate checks a notification's credentials: over its body, or (body nil, the
// provider's HeaderAuth) over its headers alone, before the body is read. When they do not
// hold, it records why and returns the 401 (or the 503 when the credentials cannot be read).
func (rt *Router) authenticate(r *http.Request, rc engine.Receiving, dl *Delivery, body []byte) (engine.Authentication, Reply) {
	ctx := r.Context()
	creds, err := rc.Credentials(ctx)
	if err != nil {
		return engine.Authentication{}, rt.unavailable(ctx, dl, err)
	}
	auth := rc.Authenticate(body, r.Header, creds)
	if auth.OK {
		return auth, Reply{}
	}
	size := int64(len(body))
	if body == nil {
		size = r.ContentLength
		eventlog.Note(ctx, eventlog.StepReceived, "from %s, %s, refused before its body was read", dl.RemoteAddr, declared(size))
		if eventlog.Enabled(ctx) {
			// While debugging, what came is kept with the REJECTED event, up to what it keeps.
			dl.Body, _ = io.ReadAll(io.LimitReader(r.Body, min(rc.Limits().MaxBody, MaxRejectedBody)))
		}
	}
	rt.opts.Logger.InfoContext(ctx, strings.ToLower(dl.System.Provider.String())+" webhook rejected", "system", dl.System.String(),
		"reason", auth.Reason, "remote", dl.RemoteAddr, "bytes", size)
	dl.Reject(ctx, "%s", auth.Note)
	return auth, Reply{Status: http.StatusUnauthorized, Error: rc.Limits().Unauthorized}
}

// declared says how long a request said its body was.
func declared(n int64) string {
	if n < 0 {
		return "no Content-Length"
	}
	return fmt.Sprintf("%d bytes declared", n)
}

// unavailable answers 503 with Retry-After: a provider that retries loses nothing, and
// reconciliation catches up on one that does not.
func (rt *Router) unavailable(ctx context.Context, dl *Delivery, err error) Reply {
	rt.opts.Logger.WarnContext(ctx, "webhook not stored", "system", dl.System.String(), "error", err.Error())
	dl.Failed(ctx, "the database is unavailable")
	return Reply{Status: http.StatusServiceUnavailable, Error: "temporarily unavailable; retry later", RetryAfter: 30}
}

// readJSON checks the content type and reads the body up to the limit, noting what it found.
// When it refuses the request, the delivery records why and ok is false with the reply.
func readJSON(r *http.Request, dl *Delivery, l engine.InboundLimits) (body []byte, refused Reply, ok bool) {
	ctx := r.Context()
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		eventlog.Note(ctx, eventlog.StepReceived, "from %s, Content-Type %q", dl.RemoteAddr, truncate(ct, 100))
		dl.Reject(ctx, "unsupported content type (%s sends application/json)", l.Sender)
		return nil, Reply{Status: http.StatusUnsupportedMediaType, Error: l.Noun + " are JSON (Content-Type: application/json)"}, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, l.MaxBody))
	dl.Body = body
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			eventlog.Note(ctx, eventlog.StepReceived, "more than %d bytes from %s", l.MaxBody, dl.RemoteAddr)
			dl.Reject(ctx, "the body is larger than %s", l.MaxBodyText)
			return nil, Reply{Status: http.StatusRequestEntityTooLarge, Error: "the " + l.One + " is larger than " + l.MaxBodyText}, false
		}
		eventlog.Note(ctx, eventlog.StepReceived, "from %s; the body could not be read", dl.RemoteAddr)
		dl.Reject(ctx, "the body could not be read")
		return nil, Reply{Status: http.StatusBadRequest, Error: "the body could not be read"}, false
	}
	eventlog.Note(ctx, eventlog.StepReceived, "%d bytes of JSON from %s", len(body), dl.RemoteAddr)
	return body, Reply{}, true
}

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

// at describes an event's status, when it says more than its type, and its time.
func at(ev engine.InboundEvent) string {
	s := ""
	if ev.Status != "" && ev.Status != ev.Type {
		s = fmt.Sprintf(" (status %q)", truncate(ev.Status, 100))
	}
	if !ev.OccurredAt.IsZero() {
		s += ", generated " + ev.OccurredAt.UTC().Format(time.RFC3339Nano)
	}
	return s
}
