package docusignfake

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/flowhook/flowhook/server/internal/provider/fakehook"
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
	f    *Fake
	url  string
	ack  bool // requireAcknowledgment: a failure is retried
	sign bool // includeHMAC
	msg  connectMessage
}

func (o *outgoing) Target() string { return o.url }
func (o *outgoing) Event() string  { return o.msg.Event }
func (o *outgoing) Item() string   { return o.msg.Data.EnvelopeID }

// Build is the message's exact bytes with the retry count of this try, signed with every HMAC
// key the fake has at the time of sending.
func (o *outgoing) Build(retry int) ([]byte, http.Header, error) {
	m := o.msg
	m.RetryCount = retry
	body, err := json.Marshal(m) // a connectMessage of strings and numbers always marshals
	if err != nil {
		return nil, nil, err
	}
	o.f.mu.Lock()
	keys := slices.Clone(o.f.hmacKeys)
	o.f.mu.Unlock()
	// Set as DocuSign spells them; Go's server canonicalizes them on the other side.
	h := http.Header{
		"Content-Type":         {"application/json"},
		"X-DocuSign-AccountId": {o.f.opts.AccountID},
	}
	if o.sign && len(keys) > 0 {
		h["X-Authorization-Digest"] = []string{"HMACSHA256"}
		for i, k := range keys {
			h["X-DocuSign-Signature-"+strconv.Itoa(i+1)] = []string{Signature(body, k)}
		}
	}
	return body, h, nil
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
		f:    f,
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

type (
	connectSender = fakehook.Sender[*outgoing]
	connectMsg    = fakehook.Outgoing[*outgoing]
)

// connectPolicy is Connect's retry policy (providers.md A7); it applies to messages whose
// eventNotification has requireAcknowledgment "true", others are tried once. Every message
// that failed stays in Connect's failure log for a republish (redeliver): pending ones,
// dropped ones and unacknowledged ones alike.
type connectPolicy struct {
	mu        sync.Mutex
	retry     RetryPolicy
	down      map[string]bool // listener URLs that failed, whose messages wait in pending
	pending   []*connectMsg
	dropped   []*connectMsg // gave up after RetryPolicy.Max retries
	unretried []*connectMsg // failed with requireAcknowledgment off: never retried
}

// Deliver sends one message under the retry policy.
func (p *connectPolicy) Deliver(s *connectSender, o *connectMsg) {
	p.mu.Lock()
	policy := p.retry
	if o.Message.ack && !policy.Immediate && p.down[o.Message.url] {
		p.pending = append(p.pending, o) // not tried while the listener is down
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	if s.Attempt(o)[0].OK() {
		return
	}
	if !o.Message.ack {
		p.mu.Lock()
		p.unretried = append(p.unretried, o)
		p.mu.Unlock()
		return
	}
	if policy.Immediate {
		for o.Retry < policy.Max {
			o.Retry++
			if s.Attempt(o)[0].OK() {
				return
			}
		}
		p.mu.Lock()
		p.dropped = append(p.dropped, o)
		p.mu.Unlock()
		return
	}
	p.mu.Lock()
	p.down[o.Message.url] = true
	p.pending = append(p.pending, o)
	p.mu.Unlock()
}

// retryPending is RetryPending's work.
func (p *connectPolicy) retryPending(s *connectSender) {
	p.mu.Lock()
	queue := p.pending
	p.pending = nil
	policy := p.retry
	p.mu.Unlock()
	var keep []*connectMsg
	failed := map[string]bool{}
	for _, o := range queue {
		if failed[o.Message.url] {
			keep = append(keep, o)
			continue
		}
		if o.Tried {
			o.Retry++
		}
		if s.Attempt(o)[0].OK() {
			continue
		}
		failed[o.Message.url] = true
		if o.Retry >= policy.Max {
			p.mu.Lock()
			p.dropped = append(p.dropped, o)
			p.mu.Unlock()
			continue
		}
		keep = append(keep, o)
	}
	p.mu.Lock()
	for _, o := range queue {
		p.down[o.Message.url] = failed[o.Message.url]
	}
	p.pending = append(keep, p.pending...)
	p.mu.Unlock()
}

// redeliver is Redeliver's work: a republish of every message in the failure log, oldest first
// (by Seq), retryCount+1 for one tried before. As Connect's queue does, it keeps order per
// listener: once a message for a URL fails, the later ones for that URL are not tried and stay
// where they were, and the URL is down again. Max does not apply to a republish, and a failure
// puts a message back in its own list (pending, dropped or unretried). Messages queued while
// it runs, for a listener that turned out to be up, are sent too before it returns.
func (p *connectPolicy) redeliver(s *connectSender) []fakehook.Delivery[*outgoing] {
	var out []fakehook.Delivery[*outgoing]
	failed := map[string]bool{}
	for {
		p.mu.Lock()
		queue := slices.Concat(p.pending, p.dropped, p.unretried)
		slices.SortStableFunc(queue, func(a, b *connectMsg) int { return cmp.Compare(a.Seq, b.Seq) })
		lists := []*[]*connectMsg{&p.pending, &p.dropped, &p.unretried}
		home := map[*connectMsg]*[]*connectMsg{}
		for _, l := range lists {
			for _, o := range *l {
				home[o] = l
			}
			*l = nil
		}
		p.mu.Unlock()

		kept := map[*[]*connectMsg][]*connectMsg{}
		for _, o := range queue {
			url := o.Message.url
			if !failed[url] {
				if o.Tried {
					o.Retry++
				}
				ds := s.Attempt(o)
				out = append(out, ds...)
				if ds[0].OK() {
					continue
				}
				failed[url] = true
			}
			kept[home[o]] = append(kept[home[o]], o)
		}

		p.mu.Lock()
		for _, o := range queue {
			if o.Message.ack {
				p.down[o.Message.url] = failed[o.Message.url]
			}
		}
		for _, l := range lists {
			*l = append(kept[l], *l...)
		}
		// Messages that arrived while the URL was still marked down wait behind nothing now.
		again := slices.ContainsFunc(p.pending, func(o *connectMsg) bool { return !failed[o.Message.url] })
		p.mu.Unlock()
		if !again {
			return out
		}
	}
}

// backlog lists the failure log in Redeliver's order.
func (p *connectPolicy) backlog() []connectMsg {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := fakehook.Copies(slices.Concat(p.pending, p.dropped, p.unretried))
	slices.SortStableFunc(out, func(a, b connectMsg) int { return cmp.Compare(a.Seq, b.Seq) })
	return out
}

// Signature is a Connect signature: base64(HMAC-SHA256(key, body)) (providers.md A6).
func Signature(body []byte, key string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// --- Connect knobs ---

// Deliveries returns every Connect POST made, in order.
func (f *Fake) Deliveries() []Delivery { return deliveries(f.hooks.Deliveries()) }

// DeliveryCount is the number of Connect POSTs made so far (replays included).
func (f *Fake) DeliveryCount() int { return f.hooks.DeliveryCount() }

// DeliveriesSince returns the Connect POSTs made after the first n, in order: those since
// DeliveryCount returned n.
func (f *Fake) DeliveriesSince(n int) []Delivery { return deliveries(f.hooks.DeliveriesSince(n)) }

func deliveries(ds []fakehook.Delivery[*outgoing]) []Delivery {
	out := make([]Delivery, len(ds))
	for i, d := range ds {
		out[i] = Delivery{
			EnvelopeID: d.Message.msg.Data.EnvelopeID, Event: d.Event, RetryCount: d.Retry, URL: d.URL,
			StatusCode: d.StatusCode, Err: d.Err, Header: d.Header, Body: d.Body,
		}
	}
	return out
}

// SetDuplicates makes each delivery attempt post the same bytes n times (n < 1 means once).
func (f *Fake) SetDuplicates(n int) { f.hooks.SetDuplicates(n) }

// HoldDeliveries holds new messages instead of sending them, until Flush or FlushReverse; off
// sends new messages at once again (held ones stay held).
func (f *Fake) HoldDeliveries(on bool) { f.hooks.HoldDeliveries(on) }

// Held returns the events of the held messages, in the order they were produced.
func (f *Fake) Held() []string { return f.hooks.Held() }

// Flush sends the held messages, in the order given as indexes into Held (a permutation of
// all of them), or in the order produced when none is given.
func (f *Fake) Flush(order ...int) error { return f.hooks.Flush(order...) }

// FlushReverse sends the held messages last first.
func (f *Fake) FlushReverse() error { return f.hooks.FlushReverse() }

// ReorderItem holds the messages about an envelope from now on, until ReleaseItem posts them newest
// first: its outcome then arrives before the progress that led to it.
func (f *Fake) ReorderItem(id string) { f.hooks.ReorderItem(id) }

// HeldItem returns the events held for an envelope by ReorderItem, in the order they were produced,
// and whether it is held.
func (f *Fake) HeldItem(id string) ([]string, bool) { return f.hooks.HeldItem(id) }

// ReleaseItem stops holding an envelope's messages and sends those held newest first; it returns
// their events in the order sent.
func (f *Fake) ReleaseItem(id string) []string { return f.hooks.ReleaseItem(id) }

// SetRetryPolicy changes how failed deliveries are retried (default: Max 10, not Immediate).
func (f *Fake) SetRetryPolicy(p RetryPolicy) {
	f.connect.mu.Lock()
	defer f.connect.mu.Unlock()
	f.connect.retry = p
}

// Pending returns the events of the messages waiting for RetryPending, oldest first.
func (f *Fake) Pending() []string {
	f.connect.mu.Lock()
	defer f.connect.mu.Unlock()
	return fakehook.Events(f.connect.pending)
}

// Dropped returns the events of messages given up after RetryPolicy.Max retries.
func (f *Fake) Dropped() []string {
	f.connect.mu.Lock()
	defer f.connect.mu.Unlock()
	return fakehook.Events(f.connect.dropped)
}

// RetryPending is DocuSign's daily retry: for each listener that is down it re-sends the
// oldest waiting message (retryCount+1 if it was tried before); on success the listener is up
// and its other waiting messages follow at once, in order. A message that has used its
// retries is dropped. Redeliver is the administrator's republish, which also covers dropped
// and unretried messages.
func (f *Fake) RetryPending() { f.connect.retryPending(f.hooks) }

// Waiting is a Connect message in the failure log, which Redeliver republishes: it failed
// (pending a retry, dropped after RetryPolicy.Max retries, or never retried because its
// eventNotification did not require acknowledgment), or it was queued untried behind one that
// failed while its listener was down.
type Waiting struct {
	EnvelopeID string
	Event      string
	URL        string
	// RetryCount is the retryCount of its last try.
	RetryCount int
	// Tried reports whether it was posted at least once.
	Tried bool
}

// Backlog returns the messages Redeliver would republish, in the order it would.
func (f *Fake) Backlog() []Waiting {
	var out []Waiting
	for _, o := range f.connect.backlog() {
		out = append(out, Waiting{EnvelopeID: o.Message.msg.Data.EnvelopeID, Event: o.Message.Event(), URL: o.Message.url,
			RetryCount: o.Retry, Tried: o.Tried})
	}
	return out
}

// Redeliver is Connect's republish ("Connect failures" → republish, or PUT
// …/connect/envelopes/retry_queue, providers.md A7) of every message in the failure log, now:
// oldest first, each once, retryCount+1 for one tried before, holding or not. Order holds per
// listener: once a message for a URL fails, the later ones for it are not tried and stay
// (Backlog), and the URL is down again. It returns the deliveries made; a second Redeliver
// after one that succeeded posts nothing.
func (f *Fake) Redeliver() []Delivery { return deliveries(f.connect.redeliver(f.hooks)) }

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
	f.hooks.Dispatch(msgs...)
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
	f.hooks.Dispatch(msgs...)
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
	f.hooks.Dispatch(msgs...)
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
	f.hooks.Dispatch(msgs...)
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
	f.hooks.Dispatch(msgs...)
	return nil
}

// ExpiredReason is the void reason of an envelope DocuSign expired.
const ExpiredReason = "Envelope has expired."

// Expire is the envelope expiring: DocuSign voids it with ExpiredReason (providers.md A4).
func (f *Fake) Expire(id string) error { return f.Void(id, ExpiredReason) }
