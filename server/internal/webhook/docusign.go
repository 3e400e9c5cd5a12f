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

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/docusign"
)

// MaxBody caps a notification's body. DocuSign's JSON SIM messages are a few kilobytes, more
// with recipients and custom fields; documents are never requested in them.
const MaxBody = 1 << 20

// Ingester stores events and applies them (the engine's External).
type Ingester interface {
	// Receive stores an event and applies it in the same transaction when it can, or leaves
	// it PENDING with its job; created is false for a redelivery.
	Receive(ctx context.Context, ev engine.StoredEvent) (engine.StoredEvent, bool, error)
}

// DocuSign receives DocuSign Connect (JSON SIM) notifications.
type DocuSign struct {
	keys   func(context.Context) ([]string, error)
	ingest Ingester
	log    *slog.Logger
}

// NewDocuSign returns the DocuSign receiver; keys returns the configured HMAC keys.
func NewDocuSign(keys func(context.Context) ([]string, error), ingest Ingester, log *slog.Logger) *DocuSign {
	return &DocuSign{keys: keys, ingest: ingest, log: log}
}

// safeHeaders are the request headers kept with an event: none that authenticates it.
var safeHeaders = []string{"Content-Type", "User-Agent", "X-Docusign-Accountid", "X-Authorization-Digest", "X-Forwarded-For"}

func (d *DocuSign) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		WriteError(w, http.StatusUnsupportedMediaType, "DocuSign notifications are JSON (Content-Type: application/json)")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			WriteError(w, http.StatusRequestEntityTooLarge, "the notification is larger than 1 MiB")
			return
		}
		WriteError(w, http.StatusBadRequest, "the body could not be read")
		return
	}
	keys, err := d.keys(ctx)
	if err != nil {
		d.unavailable(w, r, err)
		return
	}
	// Authenticate before parsing anything.
	if err := docusign.Verify(body, r.Header, keys); err != nil {
		d.log.InfoContext(ctx, "docusign webhook rejected", "reason", rejectReason(err), "remote", r.RemoteAddr, "bytes", len(body))
		WriteError(w, http.StatusUnauthorized, "the notification is not signed with a configured HMAC key")
		return
	}
	ev, perr := docusign.ParseEvent(body)
	stored := engine.StoredEvent{Event: ev, Body: body, Headers: keep(r.Header), RemoteAddr: r.RemoteAddr}
	if perr != nil {
		// Authentic but unreadable: kept for an administrator, never retried.
		sum := sha256.Sum256(body)
		stored.Event = engine.InboundEvent{Provider: engine.ProviderDocuSign, Type: "unparseable", DedupeKey: hex.EncodeToString(sum[:])}
		stored.Verdict, stored.Reason = engine.VerdictUnparseable, perr.Error()
	}
	stored.Event.Provider = engine.ProviderDocuSign
	// One transaction stores it and, when its work item is known, applies it: the 200 below
	// means the workflow has moved (or the event waits, durably, with its job).
	_, created, err := d.ingest.Receive(ctx, stored)
	if err != nil {
		d.unavailable(w, r, err)
		return
	}
	status := "accepted"
	if !created {
		status = "duplicate"
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, `{"status":"`+status+`"}`+"\n")
}

// unavailable answers 503 with Retry-After: the provider retries, nothing is lost.
func (d *DocuSign) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	d.log.WarnContext(r.Context(), "docusign webhook not stored", "error", err.Error())
	w.Header().Set("Retry-After", "30")
	WriteError(w, http.StatusServiceUnavailable, "temporarily unavailable; retry later")
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

func keep(h http.Header) map[string]string {
	out := make(map[string]string, len(safeHeaders))
	for _, k := range safeHeaders {
		if v := h.Get(k); v != "" {
			out[k] = strings.ToValidUTF8(v, "?")
		}
	}
	return out
}
