// Package webhook holds the plain net/http handlers that receive providers' notifications at
// POST /webhooks/{provider}. Each provider's receiver follows one pipeline: limits, then
// authentication before parsing, then the raw event and its processing job committed in one
// transaction, then 2xx. This file routes a request to the receiver of its provider, whose name
// is matched without regard to case (/webhooks/DocuSign and /webhooks/docusign are the same).
package webhook

import (
	"encoding/json"
	"net/http"
	"strings"
)

// Router dispatches /webhooks/{provider} to the provider's receiver.
type Router struct {
	receivers map[string]http.Handler
}

// NewRouter returns a router with no receivers; Handle adds them.
func NewRouter() *Router { return &Router{receivers: map[string]http.Handler{}} }

// Handle registers the receiver of a provider.
func (rt *Router) Handle(provider string, h http.Handler) {
	rt.receivers[strings.ToLower(provider)] = h
}

// Pattern is the mux pattern the router serves.
const Pattern = "/webhooks/{provider}"

func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, ok := rt.receivers[strings.ToLower(r.PathValue("provider"))]
	if !ok {
		WriteError(w, http.StatusNotFound, "no such webhook provider")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		WriteError(w, http.StatusMethodNotAllowed, "webhooks accept POST only")
		return
	}
	h.ServeHTTP(w, r)
}

// WriteError answers with a small JSON error body; the message must be safe to show anyone.
func WriteError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
