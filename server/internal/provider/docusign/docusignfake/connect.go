package docusignfake

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// connectMessage is a JSON SIM message (providers.md A5). retryCount and configurationId are
// numbers; everything else is a string.
type connectMessage struct {
	Event             string      `json:"event"`
	APIVersion        string      `json:"apiVersion"`
	URI               string      `json:"uri"`
	RetryCount        int         `json:"retryCount"`
	ConfigurationID   int64       `json:"configurationId"`
	GeneratedDateTime string      `json:"generatedDateTime"`
	Data              connectData `json:"data"`
}

type connectData struct {
	AccountID       string       `json:"accountId"`
	UserID          string       `json:"userId"`
	EnvelopeID      string       `json:"envelopeId"`
	RecipientID     string       `json:"recipientId,omitempty"`
	EnvelopeSummary envelopeView `json:"envelopeSummary"`
}

// outgoing is a message on its way to one listener.
type outgoing struct {
	url       string
	ack       bool // requireAcknowledgment: a failure is retried
	sign      bool // includeHMAC
	msg       connectMessage
	attempted bool
}

// messageLocked snapshots the envelope into the message for an event, or returns nil when
// the envelope's eventNotification does not ask for the event in JSON SIM form. The caller
// holds f.mu.
func (f *Fake) messageLocked(e *envelope, event, recipientID string) *outgoing {
	n := e.def.EventNotification
	if n == nil || n.URL == "" || n.EventData == nil || n.EventData.Version != "restv2.1" || !slices.Contains(n.Events, event) {
		return nil
	}
	inc := map[string]bool{}
	for _, d := range n.EventData.IncludeData {
		inc[d] = true
	}
	return &outgoing{
		url:  n.URL,
		ack:  n.RequireAcknowledgment == "true",
		sign: n.IncludeHMAC == "true",
		msg: connectMessage{
			Event:             event,
			APIVersion:        "v2.1",
			URI:               "/restapi/v2.1/accounts/" + f.opts.AccountID + "/envelopes/" + e.id,
			ConfigurationID:   f.opts.ConfigurationID,
			GeneratedDateTime: dsTime(f.now()),
			Data: connectData{
				AccountID:       f.opts.AccountID,
				UserID:          f.opts.UserID,
				EnvelopeID:      e.id,
				RecipientID:     recipientID,
				EnvelopeSummary: f.viewOf(e, inc["recipients"], inc["custom_fields"], n.IncludeEnvelopeVoidReason == "true"),
			},
		},
	}
}

// dispatch sends messages in order, or holds them while holding is on.
func (f *Fake) dispatch(msgs []*outgoing) {
	msgs = slices.DeleteFunc(msgs, func(o *outgoing) bool { return o == nil })
	f.mu.Lock()
	if f.holding {
		f.held = append(f.held, msgs...)
		f.mu.Unlock()
		return
	}
	f.mu.Unlock()
	for _, o := range msgs {
		f.send(o)
	}
}

// send delivers one message under the retry policy (providers.md A7).
func (f *Fake) send(o *outgoing) {
	f.mu.Lock()
	policy := f.retry
	if o.ack && !policy.Immediate && f.down[o.url] {
		f.pending = append(f.pending, o) // not tried while the listener is down
		f.mu.Unlock()
		return
	}
	f.mu.Unlock()
	if f.attempt(o) || !o.ack {
		return
	}
	if policy.Immediate {
		for o.msg.RetryCount < policy.Max {
			o.msg.RetryCount++
			if f.attempt(o) {
				return
			}
		}
		f.mu.Lock()
		f.dropped = append(f.dropped, o)
		f.mu.Unlock()
		return
	}
	f.mu.Lock()
	f.down[o.url] = true
	f.pending = append(f.pending, o)
	f.mu.Unlock()
}

// attempt posts the message once, and again for each configured duplicate; it reports
// whether the first post was acknowledged.
func (f *Fake) attempt(o *outgoing) bool {
	f.mu.Lock()
	dups := f.duplicates
	f.mu.Unlock()
	ok := f.post(o)
	for i := 1; i < dups; i++ {
		f.post(o)
	}
	return ok
}

// post sends the message's exact bytes, signed with every HMAC key, and records the delivery.
func (f *Fake) post(o *outgoing) bool {
	body, err := json.Marshal(o.msg) // a connectMessage of strings and numbers always marshals
	f.mu.Lock()
	keys := slices.Clone(f.hmacKeys)
	f.mu.Unlock()
	d := Delivery{EnvelopeID: o.msg.Data.EnvelopeID, Event: o.msg.Event, RetryCount: o.msg.RetryCount, URL: o.url, Body: body}
	ctx, cancel := context.WithTimeout(context.Background(), f.opts.DeliveryTimeout)
	defer cancel()
	var req *http.Request
	if err == nil {
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, o.url, bytes.NewReader(body))
	}
	if err == nil {
		// Set as DocuSign spells them; Go's server canonicalizes them on the other side.
		req.Header["Content-Type"] = []string{"application/json"}
		req.Header["X-DocuSign-AccountId"] = []string{f.opts.AccountID}
		if o.sign && len(keys) > 0 {
			req.Header["X-Authorization-Digest"] = []string{"HMACSHA256"}
			for i, k := range keys {
				req.Header["X-DocuSign-Signature-"+strconv.Itoa(i+1)] = []string{Signature(body, k)}
			}
		}
		d.Header = req.Header.Clone()
		var resp *http.Response
		if resp, err = f.hc.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			d.StatusCode = resp.StatusCode
		}
	}
	if err != nil {
		d.Err = err.Error()
	}
	o.attempted = true
	f.mu.Lock()
	f.deliveries = append(f.deliveries, d)
	f.mu.Unlock()
	return d.OK()
}

// Signature is a Connect signature: base64(HMAC-SHA256(key, body)) (providers.md A6).
func Signature(body []byte, key string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// --- Connect knobs ---

// Deliveries returns every Connect POST made, in order.
func (f *Fake) Deliveries() []Delivery {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.deliveries)
}

// SetDuplicates makes each delivery attempt post the same bytes n times (n < 1 means once).
func (f *Fake) SetDuplicates(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.duplicates = max(n, 1)
}

// HoldDeliveries holds new messages instead of sending them, until Flush or FlushReverse; off
// sends new messages at once again (held ones stay held).
func (f *Fake) HoldDeliveries(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.holding = on
}

// Held returns the events of the held messages, in the order they were produced.
func (f *Fake) Held() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, len(f.held))
	for i, o := range f.held {
		out[i] = o.msg.Event
	}
	return out
}

// Flush sends the held messages, in the order given as indexes into Held (a permutation of
// all of them), or in the order produced when none is given.
func (f *Fake) Flush(order ...int) error {
	f.mu.Lock()
	held := f.held
	if order == nil {
		order = make([]int, len(held))
		for i := range order {
			order[i] = i
		}
	}
	seen := make([]bool, len(held))
	if len(order) != len(held) {
		f.mu.Unlock()
		return errorf("flush order has %d indexes for %d held messages", len(order), len(held))
	}
	for _, i := range order {
		if i < 0 || i >= len(held) || seen[i] {
			f.mu.Unlock()
			return errorf("flush order %v is not a permutation of 0..%d", order, len(held)-1)
		}
		seen[i] = true
	}
	f.held = nil
	f.mu.Unlock()
	for _, i := range order {
		f.send(held[i])
	}
	return nil
}

// FlushReverse sends the held messages last first.
func (f *Fake) FlushReverse() error {
	f.mu.Lock()
	n := len(f.held)
	f.mu.Unlock()
	order := make([]int, n)
	for i := range order {
		order[i] = n - 1 - i
	}
	return f.Flush(order...)
}

// SetRetryPolicy changes how failed deliveries are retried (default: Max 10, not Immediate).
func (f *Fake) SetRetryPolicy(p RetryPolicy) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.retry = p
}

// Pending returns the events of the messages waiting for RetryPending, oldest first.
func (f *Fake) Pending() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, len(f.pending))
	for i, o := range f.pending {
		out[i] = o.msg.Event
	}
	return out
}

// Dropped returns the events of messages given up after RetryPolicy.Max retries.
func (f *Fake) Dropped() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, len(f.dropped))
	for i, o := range f.dropped {
		out[i] = o.msg.Event
	}
	return out
}

// RetryPending is DocuSign's daily retry: for each listener that is down it re-sends the
// oldest waiting message (retryCount+1 if it was tried before); on success the listener is up
// and its other waiting messages follow at once, in order. A message that has used its
// retries is dropped.
func (f *Fake) RetryPending() {
	f.mu.Lock()
	queue := f.pending
	f.pending = nil
	policy := f.retry
	f.mu.Unlock()
	var keep []*outgoing
	failed := map[string]bool{}
	for _, o := range queue {
		if failed[o.url] {
			keep = append(keep, o)
			continue
		}
		if o.attempted {
			o.msg.RetryCount++
		}
		if f.attempt(o) {
			continue
		}
		failed[o.url] = true
		if o.msg.RetryCount >= policy.Max {
			f.mu.Lock()
			f.dropped = append(f.dropped, o)
			f.mu.Unlock()
			continue
		}
		keep = append(keep, o)
	}
	f.mu.Lock()
	for _, o := range queue {
		f.down[o.url] = failed[o.url]
	}
	f.pending = append(keep, f.pending...)
	f.mu.Unlock()
}

// --- hooks that move envelopes ---

// lockEnvelope returns the envelope with f.mu held, or an error (and f.mu released) when it
// does not exist or is not in one of the states.
func (f *Fake) lockEnvelope(id string, states ...string) (*envelope, error) {
	f.mu.Lock()
	e, ok := f.envelopes[strings.ToLower(id)]
	if !ok {
		f.mu.Unlock()
		return nil, errorf("no envelope %s", id)
	}
	if !slices.Contains(states, e.status) {
		f.mu.Unlock()
		return nil, errorf("envelope %s is %s, want one of %v", id, e.status, states)
	}
	return e, nil
}

// current is the first signer who has not signed yet, in routing order.
func current(e *envelope) *signerState {
	for _, s := range e.signers {
		if s.status != "completed" {
			return s
		}
	}
	return nil
}

// Deliver is the current signer opening the envelope: recipient-delivered, and
// envelope-delivered the first time.
func (f *Fake) Deliver(id string) error {
	e, err := f.lockEnvelope(id, "sent", "delivered")
	if err != nil {
		return err
	}
	now := f.now()
	s := current(e)
	s.status, s.delivered = "delivered", now
	msgs := []*outgoing{f.messageLocked(e, "recipient-delivered", s.recipientID)}
	if e.status == "sent" {
		e.status, e.delivered, e.changed = "delivered", now, now
		msgs = append(msgs, f.messageLocked(e, "envelope-delivered", ""))
	}
	f.mu.Unlock()
	f.dispatch(msgs)
	return nil
}

// Sign is the current signer signing: recipient-completed, and when it was the last signer,
// envelope-completed.
func (f *Fake) Sign(id string) error {
	e, err := f.lockEnvelope(id, "sent", "delivered")
	if err != nil {
		return err
	}
	msgs := f.signLocked(e)
	f.mu.Unlock()
	f.dispatch(msgs)
	return nil
}

func (f *Fake) signLocked(e *envelope) []*outgoing {
	now := f.now()
	s := current(e)
	if s.delivered.IsZero() {
		s.delivered = now
	}
	s.status, s.signed = "completed", now
	msgs := []*outgoing{f.messageLocked(e, "recipient-completed", s.recipientID)}
	if current(e) == nil {
		if e.delivered.IsZero() {
			e.delivered = now
		}
		e.status, e.completed, e.changed = "completed", now, now
		msgs = append(msgs, f.messageLocked(e, "envelope-completed", ""))
	}
	return msgs
}

// Complete is every remaining signer signing: one recipient-completed each, then
// envelope-completed (providers.md A5).
func (f *Fake) Complete(id string) error {
	e, err := f.lockEnvelope(id, "sent", "delivered")
	if err != nil {
		return err
	}
	var msgs []*outgoing
	for e.status != "completed" {
		msgs = append(msgs, f.signLocked(e)...)
	}
	f.mu.Unlock()
	f.dispatch(msgs)
	return nil
}

// Decline is the current signer declining with a reason: recipient-declined, then
// envelope-declined.
func (f *Fake) Decline(id, reason string) error {
	e, err := f.lockEnvelope(id, "sent", "delivered")
	if err != nil {
		return err
	}
	now := f.now()
	s := current(e)
	s.status, s.declinedReason, s.declinedAt = "declined", reason, now
	msgs := []*outgoing{f.messageLocked(e, "recipient-declined", s.recipientID)}
	e.status, e.declined, e.changed = "declined", now, now
	msgs = append(msgs, f.messageLocked(e, "envelope-declined", ""))
	f.mu.Unlock()
	f.dispatch(msgs)
	return nil
}

// Void is the sender voiding the envelope: envelope-voided with the reason.
func (f *Fake) Void(id, reason string) error {
	e, err := f.lockEnvelope(id, "sent", "delivered")
	if err != nil {
		return err
	}
	msgs, err := f.voidLocked(e, reason)
	f.mu.Unlock()
	if err != nil {
		return err
	}
	f.dispatch(msgs)
	return nil
}

// ExpiredReason is the void reason of an envelope DocuSign expired.
const ExpiredReason = "Envelope has expired."

// Expire is the envelope expiring: DocuSign voids it with ExpiredReason (providers.md A4).
func (f *Fake) Expire(id string) error { return f.Void(id, ExpiredReason) }
