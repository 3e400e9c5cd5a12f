package onespanfake

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"

	"github.com/flowhook/flowhook/server/internal/provider/fakehook"
)

// Callback is the account's callback configuration (providers.md B5).
type Callback struct {
	URL    string   `json:"url"`
	Key    string   `json:"key,omitempty"`
	Events []string `json:"events"`
}

// KnownEvents are the event names OneSpan accepts in a callback configuration: the OpenAPI
// 11.51 enum and DOCUMENT_VIEWED (providers.md B6). PACKAGE_DELETED is not one of them.
var KnownEvents = []string{
	"DOCUMENT_SIGNED", "DOCUMENT_VIEWED", "EMAIL_BOUNCE", "KBA_FAILURE", "PACKAGE_ACTIVATE",
	"PACKAGE_ARCHIVE", "PACKAGE_ATTACHMENT", "PACKAGE_COMPLETE", "PACKAGE_CREATE",
	"PACKAGE_DEACTIVATE", "PACKAGE_DECLINE", "PACKAGE_DELETE", "PACKAGE_EXPIRE",
	"PACKAGE_OPT_OUT", "PACKAGE_READY_FOR_COMPLETE", "PACKAGE_RESTORE", "PACKAGE_TRASH",
	"ROLE_REASSIGN", "SIGNER_COMPLETE", "SIGNER_LOCKED", "TEMPLATE_CREATE",
}

// registerCallback is POST /api/callback: it creates or replaces the configuration.
func (f *Fake) registerCallback(w http.ResponseWriter, r *http.Request) {
	var cb Callback
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&cb); err != nil {
		validationError(w, "error.validation.invalidJson", "The callback JSON is not valid.")
		return
	}
	if u, err := url.Parse(cb.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		validationError(w, "error.validation.callbackUrl", "The callback URL must be an absolute http(s) URL.")
		return
	}
	for _, e := range cb.Events {
		if !slices.Contains(KnownEvents, e) {
			validationError(w, "error.validation.callbackEvent", "Unknown event: "+e)
			return
		}
	}
	f.mu.Lock()
	f.callback = &Callback{URL: cb.URL, Key: cb.Key, Events: slices.Clone(cb.Events)}
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, cb)
}

// getCallback is GET /api/callback; 404 while none is registered.
func (f *Fake) getCallback(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	cb := f.callback
	var out Callback
	if cb != nil {
		out = Callback{URL: cb.URL, Key: cb.Key, Events: slices.Clone(cb.Events)}
	}
	f.mu.Unlock()
	if cb == nil {
		writeError(w, http.StatusNotFound, "error.notFound", "Resource Not Found", "No callback is configured.")
		return
	}
	if out.Events == nil {
		out.Events = []string{}
	}
	writeJSON(w, http.StatusOK, out)
}

// RegisteredCallback returns the callback configuration; false when none is registered.
func (f *Fake) RegisteredCallback() (Callback, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.callback == nil {
		return Callback{}, false
	}
	return Callback{URL: f.callback.URL, Key: f.callback.Key, Events: slices.Clone(f.callback.Events)}, true
}

// Event is the callback body (providers.md B6), with its fields in OneSpan's order; message
// and documentId are null unless set.
type Event struct {
	Class       string  `json:"@class"`
	Name        string  `json:"name"`
	SessionUser string  `json:"sessionUser"`
	PackageID   string  `json:"packageId"`
	Message     *string `json:"message"`
	DocumentID  *string `json:"documentId"`
	CreatedDate string  `json:"createdDate"`
}

const eventClass = "com.silanis.esl.packages.event.ESLProcessEvent"

// outgoing is an event on its way to the listener, with the configuration of its time.
type outgoing struct {
	url  string
	key  string
	body []byte
	ev   Event
}

func (o *outgoing) Target() string { return o.url }
func (o *outgoing) Event() string  { return o.ev.Name }
func (o *outgoing) Item() string   { return o.ev.PackageID }

// Build is the same bytes and headers on every post: OneSpan never retries.
func (o *outgoing) Build(int) ([]byte, http.Header, error) {
	h := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
	if o.key != "" {
		// The registered key as is, not base64 of user:password (providers.md B6); no header
		// at all when no key is configured.
		h.Set("Authorization", "Basic "+o.key)
	}
	return o.body, h, nil
}

// eventLocked builds a package's event, or nil when the callback configuration does not ask
// for it. The caller holds f.mu.
func (f *Fake) eventLocked(p *pkg, name, sessionUser, documentID, message string) *outgoing {
	cb := f.callback
	if cb == nil || !slices.Contains(cb.Events, name) {
		return nil
	}
	ev := Event{Class: eventClass, Name: name, SessionUser: sessionUser, PackageID: p.id, CreatedDate: f.now().UTC().Format(eventLayout)}
	if documentID != "" {
		ev.DocumentID = &documentID
	}
	if message != "" {
		ev.Message = &message
	}
	body, _ := json.Marshal(ev) // an Event of strings always marshals
	return &outgoing{url: cb.URL, key: cb.Key, body: body, ev: ev}
}

// Delivery is one callback POST.
type Delivery struct {
	PackageID string
	Event     string
	URL       string
	// StatusCode is the listener's answer; 0 when the request failed (Err says why).
	StatusCode int
	Err        string
	Header     http.Header
	Body       []byte
	// Replay marks a delivery made by Replay; Resent one made by Redeliver.
	Replay bool
	Resent bool
}

// OK reports whether OneSpan would count the delivery as done (2xx; UNCONFIRMED).
func (d Delivery) OK() bool { return d.StatusCode >= 200 && d.StatusCode < 300 }

func delivery(d fakehook.Delivery[*outgoing]) Delivery {
	return Delivery{
		PackageID: d.Message.ev.PackageID, Event: d.Event, URL: d.URL, StatusCode: d.StatusCode,
		Err: d.Err, Header: d.Header, Body: d.Body, Replay: d.Repost, Resent: d.Retry > 0,
	}
}

func deliveries(ds []fakehook.Delivery[*outgoing]) []Delivery {
	out := make([]Delivery, len(ds))
	for i, d := range ds {
		out[i] = delivery(d)
	}
	return out
}

// --- callback knobs ---

// Deliveries returns every callback POST made, in order, replays included.
func (f *Fake) Deliveries() []Delivery { return deliveries(f.hooks.Deliveries()) }

// DeliveryCount is the number of callback POSTs made so far (replays included).
func (f *Fake) DeliveryCount() int { return f.hooks.DeliveryCount() }

// DeliveriesSince returns the callback POSTs made after the first n, in order: those since
// DeliveryCount returned n.
func (f *Fake) DeliveriesSince(n int) []Delivery { return deliveries(f.hooks.DeliveriesSince(n)) }

// DeliveredEvents returns the event names of the successful deliveries, in order.
func (f *Fake) DeliveredEvents() []string {
	var out []string
	for _, d := range f.Deliveries() {
		if d.OK() {
			out = append(out, d.Event)
		}
	}
	return out
}

// FailedDeliveries returns the failed deliveries, oldest first: what OneSpan's callback
// failure emails to the sender would carry (the JSON payload in Body). OneSpan does not retry:
// each failed post, duplicates included, is one email.
func (f *Fake) FailedDeliveries() []Delivery { return deliveries(f.failed.Failed()) }

// Replay posts the payload of FailedDeliveries()[i] again with the same headers, as an
// integrator replaying a failure email would, and returns the new delivery. A replay that
// fails sends no new email; one that succeeds takes its event out of Backlog.
func (f *Fake) Replay(i int) (Delivery, error) {
	d, err := f.failed.Replay(f.hooks, i)
	if err != nil {
		return Delivery{}, err
	}
	return delivery(d), nil
}

// Waiting is a callback whose delivery failed, which Redeliver resends.
type Waiting struct {
	PackageID string
	Event     string
	URL       string
}

// Backlog returns the callbacks Redeliver would resend, oldest first: those whose delivery
// failed (its first post, when duplicates are on) and was not replayed or resent since.
func (f *Fake) Backlog() []Waiting {
	var out []Waiting
	for _, o := range f.failed.Backlog() {
		out = append(out, Waiting{PackageID: o.Message.ev.PackageID, Event: o.Message.Event(), URL: o.Message.url})
	}
	return out
}

// Redeliver is a resend of the failed callbacks, now, as OneSpan's support does on request
// (providers.md B6: OneSpan itself never retries): every callback in Backlog, oldest first,
// once, with the bytes and headers of its first try, holding or not. One that fails again stays
// in Backlog, and is no new failure email. It returns the deliveries made (Resent); a second
// Redeliver after one that succeeded posts nothing.
func (f *Fake) Redeliver() []Delivery { return deliveries(f.failed.Redeliver(f.hooks)) }

// SetDuplicates makes each delivery post the same bytes n times (n < 1 means once).
func (f *Fake) SetDuplicates(n int) { f.hooks.SetDuplicates(n) }

// HoldDeliveries holds new events instead of sending them, until Flush or FlushReverse; off
// sends new events at once again (held ones stay held).
func (f *Fake) HoldDeliveries(on bool) { f.hooks.HoldDeliveries(on) }

// Held returns the names of the held events, in the order they were produced.
func (f *Fake) Held() []string { return f.hooks.Held() }

// Flush sends the held events, in the order given as indexes into Held (a permutation of all
// of them), or in the order produced when none is given.
func (f *Fake) Flush(order ...int) error { return f.hooks.Flush(order...) }

// FlushReverse sends the held events last first.
func (f *Fake) FlushReverse() error { return f.hooks.FlushReverse() }

// ReorderItem holds the events about a package from now on, until ReleaseItem posts them newest
// first: its outcome then arrives before the progress that led to it.
func (f *Fake) ReorderItem(id string) { f.hooks.ReorderItem(id) }

// HeldItem returns the names held for a package by ReorderItem, in the order they were produced,
// and whether it is held.
func (f *Fake) HeldItem(id string) ([]string, bool) { return f.hooks.HeldItem(id) }

// ReleaseItem stops holding a package's events and sends those held newest first; it returns
// their names in the order sent.
func (f *Fake) ReleaseItem(id string) []string { return f.hooks.ReleaseItem(id) }

// --- hooks that move packages ---

// lockPackage returns the package with f.mu held, or an error (and f.mu released) when it does
// not exist, or is trashed, or is not in one of the statuses (any status when none is given).
func (f *Fake) lockPackage(id string, allowTrashed bool, statuses ...string) (*pkg, error) {
	f.mu.Lock()
	p, ok := f.packages[id]
	switch {
	case !ok:
		f.mu.Unlock()
		return nil, errorf("no package %s", id)
	case p.trashed && !allowTrashed:
		f.mu.Unlock()
		return nil, errorf("package %s is trashed", id)
	case len(statuses) > 0 && !slices.Contains(statuses, p.status):
		f.mu.Unlock()
		return nil, errorf("package %s is %s, want one of %v", id, p.status, statuses)
	}
	return p, nil
}

func (f *Fake) activateLocked(p *pkg) *outgoing {
	p.status, p.updated = "SENT", f.now()
	return f.eventLocked(p, "PACKAGE_ACTIVATE", f.opts.SenderID, "", "")
}

// Activate sends a draft: PACKAGE_ACTIVATE.
func (f *Fake) Activate(id string) error {
	p, err := f.lockPackage(id, false, "DRAFT")
	if err != nil {
		return err
	}
	msg := f.activateLocked(p)
	f.mu.Unlock()
	f.hooks.Dispatch(msg)
	return nil
}

// current is the first signer who has not signed yet, in signing order.
func current(p *pkg) *signerState {
	for _, s := range p.signers {
		if s.signed.IsZero() {
			return s
		}
	}
	return nil
}

// signLocked is the current signer signing every document: DOCUMENT_SIGNED per document, then
// SIGNER_COMPLETE; after the last signer PACKAGE_COMPLETE (autocomplete) or
// PACKAGE_READY_FOR_COMPLETE.
func (f *Fake) signLocked(p *pkg) []*outgoing {
	now := f.now()
	s := current(p)
	s.signed, p.updated = now, now
	var msgs []*outgoing
	for _, d := range p.docs {
		msgs = append(msgs, f.eventLocked(p, "DOCUMENT_SIGNED", s.id, d.id, ""))
	}
	msgs = append(msgs, f.eventLocked(p, "SIGNER_COMPLETE", s.id, "", ""))
	if current(p) == nil {
		if p.def.Autocomplete != nil && !*p.def.Autocomplete {
			msgs = append(msgs, f.eventLocked(p, "PACKAGE_READY_FOR_COMPLETE", s.id, "", ""))
		} else {
			p.status, p.completed = "COMPLETED", now
			msgs = append(msgs, f.eventLocked(p, "PACKAGE_COMPLETE", s.id, "", ""))
		}
	}
	return msgs
}

// Sign is the current signer signing (see Complete for the events).
func (f *Fake) Sign(id string) error {
	p, err := f.lockPackage(id, false, "SENT")
	if err != nil {
		return err
	}
	if current(p) == nil {
		f.mu.Unlock()
		return errorf("package %s has no signer left to sign", id)
	}
	msgs := f.signLocked(p)
	f.mu.Unlock()
	f.hooks.Dispatch(msgs...)
	return nil
}

// Complete is every remaining signer signing, in order: for each, DOCUMENT_SIGNED per document
// and SIGNER_COMPLETE; then PACKAGE_COMPLETE, whose sessionUser is the last signer, and the
// package is COMPLETED.
func (f *Fake) Complete(id string) error {
	p, err := f.lockPackage(id, false, "SENT")
	if err != nil {
		return err
	}
	var msgs []*outgoing
	for current(p) != nil {
		msgs = append(msgs, f.signLocked(p)...)
	}
	f.mu.Unlock()
	f.hooks.Dispatch(msgs...)
	return nil
}

// refuse is the current signer declining or opting out with a reason: the package takes
// the status, the reason becomes a message of the package, and the event (with no message)
// goes out.
func (f *Fake) refuse(id, status, event, reason string) error {
	p, err := f.lockPackage(id, false, "SENT")
	if err != nil {
		return err
	}
	now := f.now()
	s := current(p)
	if s == nil {
		s = p.signers[len(p.signers)-1]
	}
	p.status, p.updated = status, now
	if reason != "" {
		p.messages = append(p.messages, message{content: reason, created: now, from: s})
	}
	msg := f.eventLocked(p, event, s.id, "", "")
	f.mu.Unlock()
	f.hooks.Dispatch(msg)
	return nil
}

// Decline is the current signer declining: DECLINED, PACKAGE_DECLINE.
func (f *Fake) Decline(id, reason string) error {
	return f.refuse(id, "DECLINED", "PACKAGE_DECLINE", reason)
}

// OptOut is the current signer opting out of signing electronically: OPTED_OUT,
// PACKAGE_OPT_OUT.
func (f *Fake) OptOut(id, reason string) error {
	return f.refuse(id, "OPTED_OUT", "PACKAGE_OPT_OUT", reason)
}

// move is the sender (or OneSpan itself) moving the package from one of the statuses from to
// status, with the event; allowTrashed as lockPackage's.
func (f *Fake) move(id string, allowTrashed bool, from []string, status, event string) error {
	p, err := f.lockPackage(id, allowTrashed, from...)
	if err != nil {
		return err
	}
	p.status, p.updated = status, f.now()
	msg := f.eventLocked(p, event, f.opts.SenderID, "", "")
	f.mu.Unlock()
	f.hooks.Dispatch(msg)
	return nil
}

// Expire is the package passing its expiry date: EXPIRED, PACKAGE_EXPIRE.
func (f *Fake) Expire(id string) error {
	return f.move(id, false, []string{"SENT"}, "EXPIRED", "PACKAGE_EXPIRE")
}

// Archive is the sender archiving the package: ARCHIVED, PACKAGE_ARCHIVE. OneSpan archives
// finished packages, but the hook allows a SENT one too (a package archived while a workflow
// still waits on it).
func (f *Fake) Archive(id string) error {
	finished := []string{"SENT", "COMPLETED", "DECLINED", "OPTED_OUT", "EXPIRED"}
	return f.move(id, true, finished, "ARCHIVED", "PACKAGE_ARCHIVE")
}

func (f *Fake) trashLocked(p *pkg, trashed bool) *outgoing {
	p.trashed, p.updated = trashed, f.now()
	if trashed {
		return f.eventLocked(p, "PACKAGE_TRASH", f.opts.SenderID, "", "")
	}
	return f.eventLocked(p, "PACKAGE_RESTORE", f.opts.SenderID, "", "")
}

// Trash is the sender moving the package to the trash: it stays readable with "trashed":
// true, its status unchanged; PACKAGE_TRASH.
func (f *Fake) Trash(id string) error {
	p, err := f.lockPackage(id, false)
	if err != nil {
		return err
	}
	msg := f.trashLocked(p, true)
	f.mu.Unlock()
	f.hooks.Dispatch(msg)
	return nil
}

// Restore takes the package out of the trash: PACKAGE_RESTORE.
func (f *Fake) Restore(id string) error {
	p, err := f.lockPackage(id, true)
	if err != nil {
		return err
	}
	if !p.trashed {
		f.mu.Unlock()
		return errorf("package %s is not trashed", id)
	}
	msg := f.trashLocked(p, false)
	f.mu.Unlock()
	f.hooks.Dispatch(msg)
	return nil
}

func (f *Fake) deleteLocked(p *pkg) *outgoing {
	msg := f.eventLocked(p, "PACKAGE_DELETE", f.opts.SenderID, "", "")
	delete(f.packages, p.id)
	return msg
}

// Delete is the sender deleting the package, as DELETE /api/packages/{id} does: it is gone
// (404) and PACKAGE_DELETE goes out.
func (f *Fake) Delete(id string) error {
	p, err := f.lockPackage(id, true)
	if err != nil {
		return err
	}
	msg := f.deleteLocked(p)
	f.mu.Unlock()
	f.hooks.Dispatch(msg)
	return nil
}
