// Package fakehook is the webhook sender the provider fakes share (docusignfake, onespanfake,
// connectorfake): it posts a fake's notifications to the listener under test and keeps the
// knobs tests use to make delivery misbehave the way real providers do.
//
// A fake builds its messages (a type implementing Message) and hands them to Sender.Dispatch
// once its own state has changed. The Sender posts each one — n times when duplicates are on,
// so that a receiver's deduplication is tested — or holds them all while holding is on, until
// a test flushes them in the order it wants (reordering), or holds one item's messages
// (ReorderItem) until ReleaseItem posts them newest first, the item's outcome before the
// progress that led to it. Every POST is recorded as a Delivery with the exact bytes and
// headers sent and the listener's answer.
//
// What becomes of a failed delivery (a transport error or a non-2xx answer) differs between
// providers, so it is a Policy the fake plugs in: Once forgets it, Keep keeps each failed POST
// for a test to read and replay (OneSpan's callback failure emails) and the message for a
// resend, Wait keeps the message until Redeliver sends it again (a system's "resend failed
// webhooks"), and a fake can write its own (docusignfake's Connect retries and republish).
// Whatever a policy keeps, its "redeliver now" posts it at once, oldest first (Seq), so that a
// test or the sandbox's control API need not wait for a provider's daily retry.
//
// Message.Build is called for every POST, duplicates and retries included, so that a message
// can change between tries (DocuSign counts retries in its body) or be signed at the time it is
// sent (Standard Webhooks signs a timestamp). Everything is posted before Dispatch, Flush or a
// policy's redelivery returns, so tests need no sleeps.
//
// The small pieces of a fake's server side that every fake needs live here too: Start serves
// a fake for a test's lifetime; Recorded logs each request with the status it was answered
// with, and Log keeps such a record (requests, creates, deliveries) for tests to read; Queue
// holds injected failures (FailNext) and SetRetryAfter writes their Retry-After; Trigger is a
// one-shot knob (DropNextCreateResponse).
package fakehook

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Message is one notification on its way to a listener. It is comparable so that Dispatch can
// skip the zero (nil) message a fake's builder returns for an event nobody subscribed to.
type Message interface {
	comparable
	// Target is the URL the message is posted to.
	Target() string
	// Event names the message (its event or type) in Held and in the record.
	Event() string
	// Item is the id of the item at the provider the message is about (an envelope, a
	// package, a ticket), by which ReorderItem holds an item's messages.
	Item() string
	// Build returns the body and headers of one POST; retry is Outgoing.Retry at the time.
	Build(retry int) (body []byte, header http.Header, err error)
}

// Outgoing is a message with its delivery state, as a Policy sees it. The Sender hands one
// Outgoing to one policy call at a time, so its fields need no lock.
type Outgoing[M Message] struct {
	Message M
	// Retry counts the times the message was sent again after a failure; policies raise it.
	Retry int
	// Tried reports whether the message was posted at least once.
	Tried bool
	// Seq orders messages as the policy received them (from 1, per Sender): a policy that
	// keeps messages in several lists redelivers them oldest first by it.
	Seq uint64
}

// Delivery is one POST.
type Delivery[M Message] struct {
	// Message is the message posted.
	Message M
	Event   string
	URL     string
	// Retry is the message's retry count when it was posted.
	Retry int
	// StatusCode is the listener's answer; 0 when the request failed (Err says why).
	StatusCode int
	Err        string
	// Header and Body are exactly what was sent (Header as built, before the HTTP client adds
	// its own, such as User-Agent).
	Header http.Header
	Body   []byte
	// Repost marks a delivery made by Sender.Repost (a replay of a recorded delivery).
	Repost bool
}

// OK reports whether the listener acknowledged the delivery (a 2xx answer).
func (d Delivery[M]) OK() bool { return d.StatusCode >= 200 && d.StatusCode < 300 }

// Policy is what a provider does with a message the Sender lets go (at once, or from Flush): it
// posts it with Sender.Attempt and decides what becomes of a failure.
type Policy[M Message] interface {
	Deliver(s *Sender[M], o *Outgoing[M])
}

// Options configure a Sender. Zero values get defaults.
type Options[M Message] struct {
	// Name prefixes the Sender's errors: the fake's package name (default: "fakehook").
	Name string
	// Client posts the messages (default: a client of its own with Timeout).
	Client *http.Client
	// Timeout bounds one POST, the listener's answer included (default: 30 s).
	Timeout time.Duration
	// Policy handles failures (default: Once).
	Policy Policy[M]
	// Keep bounds the deliveries kept for reading to the newest Keep (default: all, as a test
	// wants; a fake that runs for days keeps a bound: Log.Keep).
	Keep int
}

// Sender posts a fake's messages. Its methods are safe for concurrent use; a message is posted
// by the goroutine that dispatched or flushed it.
type Sender[M Message] struct {
	name    string
	client  *http.Client
	timeout time.Duration
	policy  Policy[M]

	deliveries Log[Delivery[M]]
	seq        atomic.Uint64

	mu         sync.Mutex
	duplicates int
	holding    bool
	held       []*Outgoing[M]
	reordered  map[string][]*Outgoing[M] // by Item: held until ReleaseItem, which posts them newest first
}

// New returns a Sender with the options' defaults filled in.
func New[M Message](opts Options[M]) *Sender[M] {
	if opts.Name == "" {
		opts.Name = "fakehook"
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.Client == nil {
		// Messages are posted to one listener, many at a time: keep as many idle connections
		// as a busy fake uses (net/http keeps 2 per host by default and closes the rest, so
		// under load nearly every post opened a connection).
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 64
		opts.Client = &http.Client{Timeout: opts.Timeout, Transport: t}
	}
	if opts.Policy == nil {
		opts.Policy = Once[M]{}
	}
	s := &Sender[M]{name: opts.Name, client: opts.Client, timeout: opts.Timeout, policy: opts.Policy, duplicates: 1}
	s.deliveries.Keep(opts.Keep)
	return s
}

// Start serves a fake's handler on a local httptest server for the test's lifetime and
// returns its URL. When the test ends it closes the server, then the Sender's idle
// connections, so that goleak finds no connection goroutine left.
func (s *Sender[M]) Start(t testing.TB, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		s.client.CloseIdleConnections()
	})
	return srv.URL
}

func (s *Sender[M]) errorf(format string, args ...any) error {
	return fmt.Errorf(s.name+": "+format, args...)
}

// Dispatch lets the messages go in order, through the policy, or holds them while holding is
// on. Zero (nil) messages are skipped.
func (s *Sender[M]) Dispatch(msgs ...M) {
	var zero M
	out := make([]*Outgoing[M], 0, len(msgs))
	for _, m := range msgs {
		if m != zero {
			out = append(out, &Outgoing[M]{Message: m})
		}
	}
	s.mu.Lock()
	if s.holding {
		s.held = append(s.held, out...)
		s.mu.Unlock()
		return
	}
	var now []*Outgoing[M]
	for _, o := range out {
		if item := o.Message.Item(); s.reordered[item] != nil {
			s.reordered[item] = append(s.reordered[item], o)
			continue
		}
		now = append(now, o)
	}
	s.mu.Unlock()
	for _, o := range now {
		s.let(o)
	}
}

// ReorderItem holds the messages about item (Message.Item) from now on, whatever else goes
// out meanwhile, until ReleaseItem lets them go newest first: an item's last event (its
// outcome) then reaches the listener before the progress that led to it, as a provider
// delivering from several queues or retrying an earlier message later does. A second call
// while the item is held changes nothing. Holding everything (HoldDeliveries) comes first: a
// message dispatched while it is on joins Held, not the item's messages.
func (s *Sender[M]) ReorderItem(item string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reordered == nil {
		s.reordered = map[string][]*Outgoing[M]{}
	}
	if s.reordered[item] == nil {
		s.reordered[item] = []*Outgoing[M]{} // non-nil: the item is held, with nothing yet
	}
}

// HeldItem returns the events of item's messages held by ReorderItem, oldest first, and
// whether the item is held.
func (s *Sender[M]) HeldItem(item string) ([]string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	held, ok := s.reordered[item]
	return Events(held), ok
}

// ReleaseItem stops holding item's messages and lets those held go newest first, through the
// policy (or into Held while HoldDeliveries is on); it returns their events in the order they
// went. Nothing is posted for an item not held.
func (s *Sender[M]) ReleaseItem(item string) []string {
	s.mu.Lock()
	held := s.reordered[item]
	delete(s.reordered, item)
	slices.Reverse(held)
	if s.holding {
		s.held = append(s.held, held...)
		s.mu.Unlock()
		return Events(held)
	}
	s.mu.Unlock()
	for _, o := range held {
		s.let(o)
	}
	return Events(held)
}

// let hands a message to the policy, numbering it (Seq) first.
func (s *Sender[M]) let(o *Outgoing[M]) {
	if o.Seq == 0 {
		o.Seq = s.seq.Add(1)
	}
	s.policy.Deliver(s, o)
}

// Attempt posts the message once, and again for each configured duplicate, and returns the
// deliveries (at least one): a provider that counts an attempt acknowledged when its first
// POST is reads the first.
func (s *Sender[M]) Attempt(o *Outgoing[M]) []Delivery[M] {
	s.mu.Lock()
	n := s.duplicates
	s.mu.Unlock()
	out := make([]Delivery[M], 0, n)
	for range n {
		out = append(out, s.post(o))
	}
	o.Tried = true
	return out
}

// post builds the message, posts it and records the delivery.
func (s *Sender[M]) post(o *Outgoing[M]) Delivery[M] {
	d := Delivery[M]{Message: o.Message, Event: o.Message.Event(), URL: o.Message.Target(), Retry: o.Retry}
	body, header, err := o.Message.Build(o.Retry)
	if err != nil {
		d.Err = err.Error()
		return s.record(d)
	}
	d.Body = slices.Clone(body)
	return s.send(d, header)
}

// Repost posts a recorded delivery again, its exact bytes and headers, once (no duplicates, no
// policy), and records it with Repost set: a replay, as an integrator replaying a failure
// email would.
func (s *Sender[M]) Repost(d Delivery[M]) Delivery[M] {
	again := Delivery[M]{Message: d.Message, Event: d.Event, URL: d.URL, Retry: d.Retry, Body: slices.Clone(d.Body), Repost: true}
	return s.send(again, d.Header.Clone())
}

// send POSTs d.Body with the header to d.URL and records the answer in d.
func (s *Sender[M]) send(d Delivery[M], header http.Header) Delivery[M] {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Body))
	if err == nil {
		for k, v := range header {
			// Assigned, not Set: a fake may spell a header as its provider does.
			req.Header[k] = slices.Clone(v)
		}
		d.Header = req.Header.Clone()
		var resp *http.Response
		if resp, err = s.client.Do(req); err == nil {
			// Read to the end (within reason) so the connection can be reused.
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			d.StatusCode = resp.StatusCode
		}
	}
	if err != nil {
		d.Err = err.Error()
	}
	return s.record(d)
}

func (s *Sender[M]) record(d Delivery[M]) Delivery[M] {
	s.deliveries.Add(d)
	return d
}

// Deliveries returns every POST made, in order, reposts included.
func (s *Sender[M]) Deliveries() []Delivery[M] { return s.deliveries.All() }

// DeliveryCount is the number of deliveries made so far.
func (s *Sender[M]) DeliveryCount() int { return s.deliveries.Len() }

// DeliveriesSince returns the deliveries made after the first n, in order.
func (s *Sender[M]) DeliveriesSince(n int) []Delivery[M] { return s.deliveries.Since(n) }

// SetDuplicates makes each attempt post the same message n times (n < 1 means once).
func (s *Sender[M]) SetDuplicates(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.duplicates = max(n, 1)
}

// HoldDeliveries holds new messages instead of letting them go, until Flush or FlushReverse;
// off lets new messages go at once again (held ones stay held).
func (s *Sender[M]) HoldDeliveries(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holding = on
}

// Held returns the events of the held messages, in the order they were dispatched.
func (s *Sender[M]) Held() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Events(s.held)
}

// Flush lets the held messages go, in the order given as indexes into Held (a permutation of
// all of them), or in the order dispatched when none is given.
func (s *Sender[M]) Flush(order ...int) error {
	s.mu.Lock()
	held := s.held
	if order == nil {
		order = make([]int, len(held))
		for i := range order {
			order[i] = i
		}
	}
	if len(order) != len(held) {
		s.mu.Unlock()
		return s.errorf("flush order has %d indexes for %d held messages", len(order), len(held))
	}
	seen := make([]bool, len(held))
	for _, i := range order {
		if i < 0 || i >= len(held) || seen[i] {
			s.mu.Unlock()
			return s.errorf("flush order %v is not a permutation of 0..%d", order, len(held)-1)
		}
		seen[i] = true
	}
	s.held = nil
	s.mu.Unlock()
	for _, i := range order {
		s.let(held[i])
	}
	return nil
}

// FlushReverse lets the held messages go last first.
func (s *Sender[M]) FlushReverse() error {
	s.mu.Lock()
	n := len(s.held)
	s.mu.Unlock()
	order := make([]int, n)
	for i := range order {
		order[i] = n - 1 - i
	}
	return s.Flush(order...)
}

// Events lists the messages' events, for a policy that shows what it keeps (Wait.Waiting, a
// fake's pending or dropped messages).
func Events[M Message](msgs []*Outgoing[M]) []string {
	out := make([]string, len(msgs))
	for i, o := range msgs {
		out[i] = o.Message.Event()
	}
	return out
}

// Once posts a message (and its duplicates) and forgets a failure: a provider that neither
// retries nor tells anyone.
type Once[M Message] struct{}

// Deliver implements Policy.
func (Once[M]) Deliver(s *Sender[M], o *Outgoing[M]) { s.Attempt(o) }

// Keep never retries on its own. It keeps every failed POST, duplicates included, as OneSpan
// keeps a callback failure email for each: a test reads them (Failed) and replays one (Replay).
// It also keeps each message whose attempt failed (its first POST was not acknowledged) for
// Redeliver, as OneSpan's support resends a failed callback. The zero value is ready to use.
type Keep[M Message] struct {
	failed Log[Delivery[M]]
	resend Wait[M]
}

// Deliver implements Policy.
func (k *Keep[M]) Deliver(s *Sender[M], o *Outgoing[M]) {
	ds := s.Attempt(o)
	for _, d := range ds {
		if !d.OK() {
			k.failed.Add(d)
		}
	}
	if !ds[0].OK() {
		k.resend.keep(o)
	}
}

// Failed returns the failed deliveries, oldest first.
func (k *Keep[M]) Failed() []Delivery[M] { return k.failed.All() }

// Replay reposts Failed()[i] with s (Sender.Repost). A replay that fails is not kept: the
// failure it replays still is. A replay that succeeds delivers its message: Redeliver no longer
// sends it.
func (k *Keep[M]) Replay(s *Sender[M], i int) (Delivery[M], error) {
	failed := k.failed.All()
	if i < 0 || i >= len(failed) {
		return Delivery[M]{}, s.errorf("no failed delivery %d (there are %d)", i, len(failed))
	}
	d := s.Repost(failed[i])
	if d.OK() {
		k.resend.forget(d.Message)
	}
	return d, nil
}

// Waiting returns the events of the messages waiting for Redeliver, oldest first.
func (k *Keep[M]) Waiting() []string { return k.resend.Waiting() }

// Backlog returns the messages waiting for Redeliver, oldest first.
func (k *Keep[M]) Backlog() []Outgoing[M] { return k.resend.Backlog() }

// Redeliver is Wait.Redeliver: every message whose attempt failed is sent again now, oldest
// first. A redelivery that fails is not a new failure email.
func (k *Keep[M]) Redeliver(s *Sender[M]) []Delivery[M] { return k.resend.Redeliver(s) }

// Wait keeps a message whose attempt failed (its first POST was not acknowledged) until
// Redeliver, as a system with a "resend failed webhooks" button does. The zero value is ready
// to use.
type Wait[M Message] struct {
	mu      sync.Mutex
	waiting []*Outgoing[M]
}

// Deliver implements Policy.
func (w *Wait[M]) Deliver(s *Sender[M], o *Outgoing[M]) {
	if !s.Attempt(o)[0].OK() {
		w.keep(o)
	}
}

// keep adds a message that failed, in Seq order: a redelivery that fails again puts an older
// message back while newer ones may have failed meanwhile.
func (w *Wait[M]) keep(o *Outgoing[M]) {
	w.mu.Lock()
	defer w.mu.Unlock()
	i := len(w.waiting)
	for i > 0 && w.waiting[i-1].Seq > o.Seq {
		i--
	}
	w.waiting = slices.Insert(w.waiting, i, o)
}

// forget drops the waiting message m (delivered some other way).
func (w *Wait[M]) forget(m M) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.waiting = slices.DeleteFunc(w.waiting, func(o *Outgoing[M]) bool { return o.Message == m })
}

// Waiting returns the events of the messages waiting, oldest first.
func (w *Wait[M]) Waiting() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return Events(w.waiting)
}

// Backlog returns the messages waiting, oldest first, as copies.
func (w *Wait[M]) Backlog() []Outgoing[M] {
	w.mu.Lock()
	defer w.mu.Unlock()
	return Copies(w.waiting)
}

// Redeliver sends every waiting message again now, once, oldest first, with its retry count
// raised (the message is built anew: a signed one gets a fresh timestamp and signature); one
// that fails again waits again, in its place. Holding does not apply: it is a test asking for
// the resend. It returns the deliveries made; a second Redeliver right after a successful one
// posts nothing.
func (w *Wait[M]) Redeliver(s *Sender[M]) []Delivery[M] {
	w.mu.Lock()
	queue := w.waiting
	w.waiting = nil
	w.mu.Unlock()
	var out []Delivery[M]
	for _, o := range queue {
		o.Retry++
		ds := s.Attempt(o)
		out = append(out, ds...)
		if !ds[0].OK() {
			w.keep(o)
		}
	}
	return out
}

// Copies returns copies of the messages with their delivery state, for a policy that lists what
// it keeps (Backlog): the copies are the caller's, the originals stay the policy's.
func Copies[M Message](msgs []*Outgoing[M]) []Outgoing[M] {
	out := make([]Outgoing[M], len(msgs))
	for i, o := range msgs {
		out[i] = *o
	}
	return out
}
