package webhook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/eventlog"
	"github.com/flowhook/flowhook/server/internal/provider/onespan"
)

// MaxOneSpanBody caps a OneSpan callback's body: its JSON is a few hundred bytes.
const MaxOneSpanBody = 64 << 10

// OneSpan receives OneSpan Sign callbacks. Nothing signs their body: the callback key in the
// Authorization header is the only credential, so a handled event is stored PENDING and its
// job reads the package back from OneSpan before anything moves (engine.External.Confirm).
// Events flowhook does not act on are answered 200 and, with the debug option on, kept as
// IGNORED; they are counted in the metrics either way.
type OneSpan struct {
	keys   func(context.Context) ([]string, error)
	ingest Ingester
	log    *slog.Logger
}

var _ Receiver = (*OneSpan)(nil)

// NewOneSpan returns the OneSpan receiver; keys returns the callback keys accepted now.
func NewOneSpan(keys func(context.Context) ([]string, error), ingest Ingester, log *slog.Logger) *OneSpan {
	return &OneSpan{keys: keys, ingest: ingest, log: log}
}

// oneSpanSafeHeaders are the request headers kept with a callback: never Authorization.
var oneSpanSafeHeaders = []string{"Content-Type", "User-Agent", "X-Forwarded-For"}

func (o *OneSpan) Receive(r *http.Request, dl *Delivery) Reply {
	ctx := r.Context()
	dl.Headers = keepHeaders(r.Header, oneSpanSafeHeaders)
	body, refused, ok := readJSON(r, dl, jsonLimits{max: MaxOneSpanBody, maxText: "64 KiB", sender: "OneSpan", noun: "OneSpan callbacks", one: "callback"})
	if !ok {
		return refused
	}
	keys, err := o.keys(ctx)
	if err != nil {
		return o.unavailable(ctx, dl, err)
	}
	// Authenticate before parsing anything.
	if err := onespan.Verify(r.Header, keys); err != nil {
		reason := oneSpanRejectReason(err)
		o.log.InfoContext(ctx, "onespan callback rejected", "reason", reason, "remote", dl.RemoteAddr, "bytes", len(body))
		dl.Reject(ctx, "callback key: %s (%d key(s) accepted now)", reason, len(keys))
		return Reply{Status: http.StatusUnauthorized, Error: "the callback does not carry a configured callback key"}
	}
	eventlog.Note(ctx, eventlog.StepAuthenticated, "the callback key matches one of the %d accepted now (OneSpan signs no body: the package will be read back)", len(keys))
	ev, perr := onespan.ParseEvent(body)
	stored := engine.StoredEvent{Event: ev, Body: body, Headers: dl.Headers, RemoteAddr: dl.RemoteAddr, Size: int64(len(body))}
	switch {
	case perr != nil:
		sum := sha256.Sum256(body)
		stored.Event = engine.InboundEvent{Type: "unparseable", DedupeKey: hex.EncodeToString(sum[:])}
		stored.Verdict, stored.Reason = engine.VerdictUnparseable, perr.Error()
		eventlog.Note(ctx, eventlog.StepParsed, "unparseable: %s", perr.Error())
	case !onespan.Handled(ev.Type):
		eventlog.Note(ctx, eventlog.StepParsed, "%s for package %s", truncate(ev.Type, 100), ev.ExternalID)
		stored.Verdict, stored.Reason = engine.VerdictIgnored, "flowhook does not act on "+truncate(ev.Type, 100)
		if !eventlog.Enabled(ctx) {
			// Ignored events are kept only while debugging; they are counted either way.
			dl.Ignored(ev)
			return Reply{Status: http.StatusOK, Result: "ignored"}
		}
	default:
		eventlog.Note(ctx, eventlog.StepParsed, "%s for package %s%s", ev.Type, ev.ExternalID, at(ev.OccurredAt))
	}
	stored.Event.Provider = engine.ProviderOneSpan
	dl.Traced(ctx, &stored)
	saved, created, err := o.ingest.Receive(ctx, stored)
	if err != nil {
		return o.unavailable(ctx, dl, err)
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

// unavailable answers 503. OneSpan does not resend a failed callback: reconciliation finds
// the outcome later.
func (o *OneSpan) unavailable(ctx context.Context, dl *Delivery, err error) Reply {
	o.log.WarnContext(ctx, "onespan callback not stored", "error", err.Error())
	dl.Failed(ctx, "the database is unavailable")
	return Reply{Status: http.StatusServiceUnavailable, Error: "temporarily unavailable; retry later", RetryAfter: 30}
}

func oneSpanRejectReason(err error) string {
	switch {
	case errors.Is(err, onespan.ErrNoKeys):
		return "no callback key configured"
	case errors.Is(err, onespan.ErrNoCredentials):
		return "no Basic credentials"
	default:
		return "key mismatch"
	}
}
