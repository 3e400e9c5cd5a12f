package connectorfake

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"time"

	"github.com/flowhook/flowhook/server/internal/provider/connector/standardwebhooks"
	"github.com/flowhook/flowhook/server/internal/provider/fakehook"
)

// The event types the fake produces. Created and commented are progress; the others are final.
const (
	TypeCreated   = "ticket.created"
	TypeCommented = "ticket.commented"
	TypeApproved  = "ticket.approved"
	TypeRejected  = "ticket.rejected"
	TypeResolved  = "ticket.resolved"
	TypeDeleted   = "ticket.deleted"
	TypeExpired   = "ticket.expired"
	TypeCancelled = "ticket.cancelled"
)

// Outcomes is the outcome table a connector for the fake is configured with: final event type
// → flowhook outcome name. ticket.cancelled has none: it follows flowhook's own cancel. Treat
// it as read-only.
var Outcomes = map[string]string{
	TypeApproved: "APPROVED",
	TypeRejected: "DENIED",
	TypeResolved: "FINISHED",
	TypeDeleted:  "DELETED",
	TypeExpired:  "EXPIRED",
}

// IsFinal reports whether an event type ends a ticket: one with an outcome, or cancelled.
func IsFinal(eventType string) bool {
	_, ok := Outcomes[eventType]
	return ok || eventType == TypeCancelled
}

// Event is the body of a callback, as flowhook's connector protocol defines it: the event's
// type, when it happened (RFC 3339, UTC, to the second), the ticket's id and the event's
// reason ("" when it has none). The fields are in the order they are sent.
type Event struct {
	Data      EventData `json:"data"`
	Timestamp string    `json:"timestamp"`
	Type      string    `json:"type"`
}

// EventData is an Event's data.
type EventData struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// callback is one event on its way to a ticket's callbackUrl. Its id and body are fixed when
// the event happens; its timestamp and signature are made at each sending.
type callback struct {
	f        *Fake
	ticketID string
	typ      string
	url      string
	msgID    string
	body     []byte
}

func (c *callback) Target() string { return c.url }
func (c *callback) Event() string  { return c.typ }
func (c *callback) Item() string   { return c.ticketID }

// Build signs the body for the time of sending, with the knobs in force then.
func (c *callback) Build(int) ([]byte, http.Header, error) {
	c.f.mu.Lock()
	secret, skew := c.f.signWith, c.f.skew
	if secret == "" && len(c.f.secrets) > 0 {
		secret = c.f.secrets[0]
	}
	c.f.mu.Unlock()
	h := http.Header{"Content-Type": {"application/json"}}
	if c.f.unsigned.Load() {
		return c.body, h, nil
	}
	if err := standardwebhooks.SetHeaders(h, []string{secret}, c.msgID, c.f.now().Add(skew), c.body); err != nil {
		return nil, nil, err
	}
	return c.body, h, nil
}

// eventLocked records an event on the ticket and builds its callback. The caller holds f.mu.
func (f *Fake) eventLocked(t *Ticket, typ, reason string) *callback {
	t.LatestType, t.Reason = typ, reason
	t.History = append(t.History, typ)
	body, _ := json.Marshal(Event{ // strings only: it always marshals
		Type:      typ,
		Timestamp: f.now().UTC().Format(time.RFC3339),
		Data:      EventData{ID: t.ID, Reason: reason},
	})
	id := make([]byte, 12)
	_, _ = rand.Read(id) // crypto/rand.Read does not fail
	return &callback{f: f, ticketID: t.ID, typ: typ, url: t.CallbackURL, msgID: "msg_" + hex.EncodeToString(id), body: body}
}

// --- hooks that play the system's users ---

// Send is an event of any type on a ticket, with a reason; a final type (IsFinal) ends the
// ticket. It returns once the callback was posted (or held), and fails for an unknown ticket
// or one already final.
func (f *Fake) Send(id, eventType, reason string) error {
	if eventType == "" {
		return errorf("an event needs a type")
	}
	f.mu.Lock()
	t, ok := f.tickets[id]
	switch {
	case !ok:
		f.mu.Unlock()
		return errorf("no ticket %s", id)
	case t.Final():
		f.mu.Unlock()
		return errorf("ticket %s is already %s", id, t.LatestType)
	}
	msg := f.eventLocked(t, eventType, reason)
	f.mu.Unlock()
	f.hooks.Dispatch(msg)
	return nil
}

// Approve is an approver approving: ticket.approved (APPROVED).
func (f *Fake) Approve(id, reason string) error { return f.Send(id, TypeApproved, reason) }

// Reject is an approver rejecting: ticket.rejected (DENIED).
func (f *Fake) Reject(id, reason string) error { return f.Send(id, TypeRejected, reason) }

// Resolve is an agent resolving the ticket: ticket.resolved (FINISHED).
func (f *Fake) Resolve(id string) error { return f.Send(id, TypeResolved, "") }

// Delete is an administrator deleting the ticket: ticket.deleted (DELETED). The ticket stays
// readable, its latest type ticket.deleted.
func (f *Fake) Delete(id string) error { return f.Send(id, TypeDeleted, "") }

// Expire is the ticket passing its deadline: ticket.expired (EXPIRED).
func (f *Fake) Expire(id string) error { return f.Send(id, TypeExpired, "") }

// Comment is someone commenting: ticket.commented, progress, the text as its reason.
func (f *Fake) Comment(id, text string) error { return f.Send(id, TypeCommented, text) }

// --- callback knobs ---

// Delivery is one callback POST.
type Delivery struct {
	TicketID  string
	Type      string
	WebhookID string
	URL       string
	// StatusCode is the listener's answer; 0 when the request failed (Err says why).
	StatusCode int
	Err        string
	Header     http.Header
	Body       []byte
	// Redelivery marks a delivery made by Redeliver.
	Redelivery bool
}

// OK reports whether the listener acknowledged the delivery (2xx).
func (d Delivery) OK() bool { return d.StatusCode >= 200 && d.StatusCode < 300 }

func deliveries(ds []fakehook.Delivery[*callback]) []Delivery {
	out := make([]Delivery, len(ds))
	for i, d := range ds {
		out[i] = Delivery{
			TicketID: d.Message.ticketID, Type: d.Event, WebhookID: d.Message.msgID, URL: d.URL,
			StatusCode: d.StatusCode, Err: d.Err, Header: d.Header, Body: d.Body, Redelivery: d.Retry > 0,
		}
	}
	return out
}

// Deliveries returns every callback POST made, in order, redeliveries included.
func (f *Fake) Deliveries() []Delivery { return deliveries(f.hooks.Deliveries()) }

// DeliveryCount is the number of event POSTs made so far (replays included).
func (f *Fake) DeliveryCount() int { return f.hooks.DeliveryCount() }

// DeliveriesSince returns the event POSTs made after the first n, in order: those since
// DeliveryCount returned n.
func (f *Fake) DeliveriesSince(n int) []Delivery { return deliveries(f.hooks.DeliveriesSince(n)) }

// Undelivered returns the types of the callbacks waiting for Redeliver, oldest first.
func (f *Fake) Undelivered() []string { return f.waiting.Waiting() }

// Waiting is a callback whose delivery failed, which Redeliver sends again.
type Waiting struct {
	TicketID  string
	Type      string
	WebhookID string
	URL       string
	// Redeliveries counts the times it was sent again already.
	Redeliveries int
}

// Backlog returns the callbacks waiting for Redeliver, oldest first.
func (f *Fake) Backlog() []Waiting {
	var out []Waiting
	for _, o := range f.waiting.Backlog() {
		c := o.Message
		out = append(out, Waiting{TicketID: c.ticketID, Type: c.typ, WebhookID: c.msgID, URL: c.url, Redeliveries: o.Retry})
	}
	return out
}

// Redeliver is the system's "redeliver failed events", now: every callback waiting since a
// failed delivery (Backlog) is sent again, oldest first, once, holding or not: the same
// webhook-id and body, a new timestamp and signature. One that fails again waits again, in
// its place. It returns the deliveries made; a second Redeliver after one that succeeded posts
// nothing.
func (f *Fake) Redeliver() []Delivery { return deliveries(f.waiting.Redeliver(f.hooks)) }

// SetDuplicates makes each delivery post the same callback n times (n < 1 means once).
func (f *Fake) SetDuplicates(n int) { f.hooks.SetDuplicates(n) }

// HoldDeliveries holds new callbacks instead of sending them, until Flush or FlushReverse;
// off sends new ones at once again (held ones stay held).
func (f *Fake) HoldDeliveries(on bool) { f.hooks.HoldDeliveries(on) }

// Held returns the types of the held callbacks, in the order they happened.
func (f *Fake) Held() []string { return f.hooks.Held() }

// Flush sends the held callbacks, in the order given as indexes into Held (a permutation of
// all of them), or in the order they happened when none is given.
func (f *Fake) Flush(order ...int) error { return f.hooks.Flush(order...) }

// FlushReverse sends the held callbacks last first.
func (f *Fake) FlushReverse() error { return f.hooks.FlushReverse() }

// ReorderItem holds the callbacks about a ticket from now on, until ReleaseItem posts them newest
// first: its outcome then arrives before the progress that led to it.
func (f *Fake) ReorderItem(id string) { f.hooks.ReorderItem(id) }

// HeldItem returns the types held for a ticket by ReorderItem, in the order they were produced,
// and whether it is held.
func (f *Fake) HeldItem(id string) ([]string, bool) { return f.hooks.HeldItem(id) }

// ReleaseItem stops holding a ticket's callbacks and sends those held newest first; it returns
// their types in the order sent.
func (f *Fake) ReleaseItem(id string) []string { return f.hooks.ReleaseItem(id) }

// SignCallbacksWith signs callbacks sent from now on with secret instead of the fake's first
// secret (a system configured with the wrong one); "" undoes it. A secret ParseSecret refuses
// makes the callbacks fail to build: their deliveries say so in Err and post nothing.
func (f *Fake) SignCallbacksWith(secret string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.signWith = secret
}

// SetCallbackTimestampSkew moves the webhook-timestamp of callbacks sent from now on by d from
// the fake's clock: -10*time.Minute makes them stale, +10*time.Minute from the future.
func (f *Fake) SetCallbackTimestampSkew(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.skew = d
}

// OmitSignatureHeaders sends callbacks from now on without webhook-id, webhook-timestamp and
// webhook-signature (on), or with them again (off).
func (f *Fake) OmitSignatureHeaders(on bool) { f.unsigned.Store(on) }
