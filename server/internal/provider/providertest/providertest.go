// Package providertest is the conformance suite every provider passes against its fake: its
// client creates a work item and finds it again (or creates it again, idempotently) after a
// lost answer, reads its status through each terminal transition, cancels it and downloads its
// result document; its plugin authenticates, parses, deduplicates across redeliveries and maps
// to outcomes the notifications the fake sends, the way the engine needs them.
//
// A provider plugs in with a Harness; whatever differs between providers is declared there, not
// in the suite. The registry's test runs it for every provider flowhook has.
package providertest

import (
	"bytes"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider"
)

// Anchor is the anchor text of the one signer of the suite's work items: Harness.Document
// must carry it where the signature goes.
const Anchor = "/sn1/"

// Harness is how a provider plugs into the suite.
type Harness struct {
	// Plugin is the provider under test.
	Plugin provider.Plugin
	// Settings are what the plugin reads its event table from (a connector's outcomes).
	Settings engine.Settings
	// NewClient starts a fresh fake account for t (stopped when t ends) whose notifications go
	// to callbackURL, and returns a client of that account with the fake's test hooks.
	NewClient func(t *testing.T, callbackURL string) (engine.ProviderClient, Fake)
	// Document is a PDF the fake accepts for a work item, carrying Anchor.
	Document []byte
	// OpenStatuses are the provider's words for an item that was just created and waits.
	OpenStatuses []string
	// DownloadPrefix starts every document Download returns (a PDF's "%PDF-", a zip's "PK…");
	// nil: the provider keeps none, and Download says so (engine.ErrNoDocument).
	DownloadPrefix []byte
	// Searchable says FindByWorkItem finds an item by our id. Otherwise the provider makes one
	// item per create request id (an idempotency key): creating again after a lost answer
	// returns the item made the first time.
	Searchable bool
	// StatusHasTime says Status reports when the item's status changed.
	StatusHasTime bool

	// Keys are the notification keys NewClient's fake is configured with; OtherKey is a
	// well-formed key that is not one of them (default: a word).
	Keys     []string
	OtherKey string
	// Forge returns a request header carrying credentials for body under a key not in Keys.
	Forge func(body []byte) http.Header
	// Reasons are Authenticate's reasons for each kind of refusal.
	Reasons Reasons
	// EventsCarryReason says a decline notification carries the decline reason.
	EventsCarryReason bool
	// EventsCarryWorkItemID says notifications carry our work item id.
	EventsCarryWorkItemID bool
	// RedeliveryRewritesBody says a redelivered notification's bytes differ from the first
	// delivery's (DocuSign counts retryCount up); else they are the same bytes.
	RedeliveryRewritesBody bool

	// Events are the events the fake sends, for a provider whose spec lists none (a
	// connector's system names its own).
	Events []string
	// Outcomes are the events that end a work item with no reason given, and their outcomes;
	// every other event of the provider is progress.
	Outcomes map[string]engine.Outcome

	// Cancel is what cancelling an open work item does.
	Cancel CancelBehavior
}

// Reasons are Authenticate's reasons for a provider's refusals.
type Reasons struct {
	// NoKeys: nothing is configured to verify with.
	NoKeys string
	// NoCredentials: the request carries no credentials.
	NoCredentials string
	// Mismatch: the credentials match no configured key (or not the body).
	Mismatch string
}

// CancelBehavior is what a provider documents for Cancel of an open work item.
type CancelBehavior struct {
	// Status and Outcome are what Status reports afterwards.
	Status  string
	Outcome engine.Outcome
	// Gone says the provider no longer has the item: Status knows neither the cancel reason
	// nor when it changed. Else Status reports both.
	Gone bool
	// RepeatErr is what a second Cancel returns (errors.Is); nil when it succeeds. Either way
	// it changes nothing and sends no notification.
	RepeatErr error
}

// Fake is the test hooks of a provider's fake account.
type Fake interface {
	// Complete, Decline and Expire move an open item to a terminal state the way its signers
	// or the provider would; the notifications are delivered before they return.
	Complete(externalID string) error
	Decline(externalID, reason string) error
	Expire(externalID string) error
	// DropNextCreateResponse makes the next create succeed at the provider but lose its answer.
	DropNextCreateResponse()
	// Redeliver sends again, as the provider would, the notifications the listener refused.
	Redeliver() error
	// Deliveries are the notifications the fake sent, in order, refused ones included.
	Deliveries() []Delivery
	// Created are the ids of the items the fake created, in order.
	Created() []string
}

// Delivery is a notification as the fake says it sent it.
type Delivery struct {
	Event      string
	ExternalID string
	Body       []byte
}

// Run runs the suite against h.
func Run(t *testing.T, h Harness) {
	t.Helper()
	h.check(t)
	t.Run("Outcomes", h.testOutcomes)
	t.Run("CreateStatusFind", h.testCreate)
	t.Run("LostCreateAnswer", h.testLostCreate)
	t.Run("Complete", h.testComplete)
	t.Run("Decline", h.testDecline)
	t.Run("Expire", h.testExpire)
	t.Run("Cancel", h.testCancel)
	t.Run("Redelivery", h.testRedelivery)
	t.Run("Verify", h.testVerify)
	t.Run("ParseMalformed", h.testParseMalformed)
}

func (h Harness) check(t *testing.T) {
	t.Helper()
	require.NotNil(t, h.Plugin, "harness: Plugin is required")
	require.NotEmpty(t, h.spec().Provider, "harness: the plugin has no name")
	require.NotNil(t, h.NewClient, "harness: NewClient is required")
	require.NotEmpty(t, h.Document, "harness: Document is required")
	require.NotEmpty(t, h.OpenStatuses, "harness: OpenStatuses is required")
	require.NotEmpty(t, h.Keys, "harness: Keys is required")
	require.NotNil(t, h.Forge, "harness: Forge is required")
	require.NotEmpty(t, h.Outcomes, "harness: Outcomes is required")
	require.NotEmpty(t, h.events(), "harness: the spec lists no events, nor does Events")
	for _, r := range []string{h.Reasons.NoKeys, h.Reasons.NoCredentials, h.Reasons.Mismatch} {
		require.NotEmpty(t, r, "harness: every Reasons entry is required")
	}
	require.True(t, h.Cancel.Outcome.Valid(), "harness: Cancel.Outcome is required")
	require.NotEmpty(t, h.Cancel.Status, "harness: Cancel.Status is required")
}

func (h Harness) spec() engine.ProviderSpec { return h.Plugin.Spec() }

// events are every event the provider reports.
func (h Harness) events() []string {
	if ev := h.spec().Events; ev != nil {
		return ev
	}
	return h.Events
}

// outcome maps an event as the engine does with the provider's table.
func (h Harness) outcome(eventType, reason string) (engine.Outcome, bool) {
	return h.Plugin.Outcome(h.Settings, eventType, reason)
}

// authenticate checks a notification as the webhook router does.
func (h Harness) authenticate(body []byte, header http.Header, keys []string) engine.Authentication {
	return h.Plugin.Authenticate(body, header, keys, time.Now())
}

// --- the listener and the account ---

// notification is one POST the listener received, with what the fake says it sent.
type notification struct {
	Event      string
	ExternalID string
	Header     http.Header
	Body       []byte
	Refused    bool
}

type received struct {
	header  http.Header
	body    []byte
	refused bool
}

// listener is the callback URL: it records every POST and answers 200, or 503 while told to
// refuse. It verifies nothing, so that what the suite checks is the wire as a webhook sees it.
type listener struct {
	url    string
	mu     sync.Mutex
	got    []received
	refuse int
}

func newListener(t *testing.T) *listener {
	l := &listener{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		l.mu.Lock()
		refused := l.refuse > 0 || err != nil
		if l.refuse > 0 {
			l.refuse--
		}
		l.got = append(l.got, received{header: r.Header.Clone(), body: body, refused: refused})
		l.mu.Unlock()
		if refused {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	l.url = srv.URL + "/webhooks/conformance"
	return l
}

func (l *listener) refuseNext(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refuse = n
}

func (l *listener) all() []received {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.got)
}

// account is one fresh fake account with its client and listener.
type account struct {
	h      Harness
	client engine.ProviderClient
	fake   Fake
	hook   *listener
}

func (h Harness) open(t *testing.T) *account {
	t.Helper()
	hook := newListener(t)
	c, f := h.NewClient(t, hook.url)
	require.NotNil(t, c)
	require.NotNil(t, f)
	return &account{h: h, client: c, fake: f, hook: hook}
}

func (a *account) request(workItemID string) engine.WorkItemRequest {
	return engine.WorkItemRequest{
		WorkItemID:      workItemID,
		InstanceID:      "inst_" + workItemID,
		WorkflowID:      "wf_conformance",
		WorkflowVersion: 1,
		WorkflowName:    "Conformance",
		State:           "sign",
		FormData:        map[string]any{"name": "Ada Lovelace", "email": "ada@example.com"},
		Subject:         "Please sign: " + workItemID,
		Document:        &engine.Document{Title: "Contract " + workItemID, ContentType: "application/pdf", Content: bytes.Clone(a.h.Document)},
		Parties:         []engine.Party{{Name: "Ada Lovelace", Email: "ada@example.com", Anchor: Anchor}},
		CallbackURL:     a.hook.url,
	}
}

func (a *account) create(t *testing.T, workItemID string) string {
	t.Helper()
	id, err := a.client.Create(t.Context(), a.request(workItemID))
	require.NoError(t, err)
	require.NotEmpty(t, id)
	return id
}

// notifications pairs what the listener received with what the fake says it sent: the same
// bodies, in the same order.
func (a *account) notifications(t *testing.T) []notification {
	t.Helper()
	got, sent := a.hook.all(), a.fake.Deliveries()
	require.Len(t, got, len(sent), "the listener received what the fake sent")
	out := make([]notification, len(got))
	for i := range got {
		require.Equal(t, sent[i].Body, got[i].body, "notification %d (%s) arrived as sent", i, sent[i].Event)
		out[i] = notification{Event: sent[i].Event, ExternalID: sent[i].ExternalID, Header: got[i].header, Body: got[i].body, Refused: got[i].refused}
	}
	return out
}

// since is the FindByWorkItem window of items created by the test.
func since() time.Time { return time.Now().Add(-time.Minute) }

// --- checks ---

// checkNotifications verifies and parses notifications of one item and returns their events:
// each verifies with the configured keys, parses to the provider's kind, the event the fake
// sent and the item, with a non-empty dedupe key that parsing the same bytes again repeats.
// Different notifications have different dedupe keys.
func (a *account) checkNotifications(t *testing.T, ns []notification, externalID, workItemID string) []engine.InboundEvent {
	t.Helper()
	h := a.h
	evs := make([]engine.InboundEvent, len(ns))
	keys := map[string]string{}
	for i, n := range ns {
		auth := h.authenticate(n.Body, n.Header, h.Keys)
		require.True(t, auth.OK, "%s authenticates: %s", n.Event, auth.Note)
		ev, err := h.Plugin.ParseEvent(n.Body, n.Header)
		require.NoError(t, err, "%s parses", n.Event)
		require.Equal(t, h.spec().Provider, ev.System.Provider, n.Event)
		require.Equal(t, n.Event, ev.Type)
		require.Equal(t, externalID, n.ExternalID, "the fake sent %s for the item", n.Event)
		require.Equal(t, externalID, ev.ExternalID, n.Event)
		require.NotEmpty(t, ev.DedupeKey, n.Event)
		require.False(t, ev.OccurredAt.IsZero(), "%s has a time", n.Event)
		require.Contains(t, h.events(), ev.Type, "%s is an event of the provider", ev.Type)
		require.True(t, h.spec().KnowsEvent(ev.Type), "outcome overrides can name %s", ev.Type)
		if h.EventsCarryWorkItemID {
			require.Equal(t, workItemID, ev.WorkItemID, n.Event)
		} else {
			require.Empty(t, ev.WorkItemID, n.Event)
		}
		again, err := h.Plugin.ParseEvent(bytes.Clone(n.Body), n.Header.Clone())
		require.NoError(t, err)
		require.Equal(t, ev, again, "parsing %s again gives the same event", n.Event)
		if prev, dup := keys[ev.DedupeKey]; dup {
			require.Failf(t, "dedupe key reused", "%s and %s (notification %d) share a dedupe key", prev, n.Event, i)
		}
		keys[ev.DedupeKey] = n.Event
		evs[i] = ev
	}
	return evs
}

// requireProgress checks that no event ends the item.
func (h Harness) requireProgress(t *testing.T, evs []engine.InboundEvent) {
	t.Helper()
	for _, ev := range evs {
		o, ok := h.outcome(ev.Type, ev.Reason)
		require.False(t, ok, "%s (reason %q) is progress, not %s", ev.Type, ev.Reason, o)
	}
}

// requireEnds checks that the last event, and only it, ends the item with want, and returns it.
func (h Harness) requireEnds(t *testing.T, evs []engine.InboundEvent, want engine.Outcome) engine.InboundEvent {
	t.Helper()
	require.NotEmpty(t, evs, "the transition sent notifications")
	last := evs[len(evs)-1]
	h.requireProgress(t, evs[:len(evs)-1])
	o, ok := h.outcome(last.Type, last.Reason)
	require.True(t, ok, "%s (reason %q) ends the item", last.Type, last.Reason)
	require.Equal(t, want, o, "%s (reason %q)", last.Type, last.Reason)
	require.Contains(t, slices.Collect(maps.Keys(h.Outcomes)), last.Type, "Outcomes lists %s", last.Type)
	return last
}

// transition creates an item, checks its creation, runs move and checks that the notifications
// it caused end the item with want, that Status agrees (the engine confirms a callback by
// reading the item back) and returns the status and the final event.
func (a *account) transition(t *testing.T, workItemID string, move func(id string) error, want engine.Outcome, timed bool) (string, engine.ExternalStatus, engine.InboundEvent) {
	t.Helper()
	id := a.create(t, workItemID)
	created := a.notifications(t)
	a.h.requireProgress(t, a.checkNotifications(t, created, id, workItemID))
	require.NoError(t, move(id))
	all := a.notifications(t)
	evs := a.checkNotifications(t, all, id, workItemID)
	last := a.h.requireEnds(t, evs[len(created):], want)
	st, err := a.client.Status(t.Context(), id)
	require.NoError(t, err)
	require.Equal(t, want, st.Outcome, "Status agrees with %s: %+v", last.Type, st)
	require.NotEmpty(t, st.Status)
	require.NotContains(t, a.h.OpenStatuses, st.Status)
	if timed && a.h.StatusHasTime {
		require.False(t, st.ChangedAt.IsZero(), "Status says when it changed")
	}
	return id, st, last
}

// --- subtests ---

// testOutcomes: DefaultOutcome maps exactly the declared events to their outcomes, with no
// reason given, and every other event the provider has to progress; flowhook acts on every
// event that ends an item.
func (h Harness) testOutcomes(t *testing.T) {
	t.Parallel()
	known := h.events()
	require.NotEmpty(t, known)
	for ev, want := range h.Outcomes {
		require.Contains(t, known, ev, "Outcomes names a %s event", h.spec().Name)
		require.True(t, want.Valid(), "%s: %v", ev, want)
	}
	for _, ev := range known {
		o, ok := h.outcome(ev, "")
		if want, terminal := h.Outcomes[ev]; terminal {
			require.True(t, ok, "%s ends the item", ev)
			require.Equal(t, want, o, ev)
		} else {
			require.False(t, ok, "%s is progress, not %s", ev, o)
			require.Equal(t, engine.OutcomeUnspecified, o, ev)
		}
	}
	// The events the spec says flowhook acts on (the receiver's, and the only ones
	// outcome_overrides may name) are the provider's, and every one that ends an item is
	// among them: an outcome the receiver ignored would never apply.
	for _, ev := range h.spec().Acts {
		require.Contains(t, known, ev, "Acts names a %s event", h.spec().Name)
	}
	for ev := range h.Outcomes {
		require.True(t, h.spec().ActsOn(ev), "flowhook acts on %s, an outcome", ev)
	}
	for _, ev := range []string{"", "flowhook-conformance-unknown-event"} {
		o, ok := h.outcome(ev, "")
		require.False(t, ok, "%q is no outcome", ev)
		require.Equal(t, engine.OutcomeUnspecified, o)
	}
}

// testCreate: Create returns an id, the item is open, FindByWorkItem finds each item by our id
// and nothing for another, and the creation's notifications are progress.
func (h Harness) testCreate(t *testing.T) {
	t.Parallel()
	a := h.open(t)
	from := since()
	id := a.create(t, "wi_conf_create")
	st, err := a.client.Status(t.Context(), id)
	require.NoError(t, err)
	require.Contains(t, h.OpenStatuses, st.Status)
	require.Equal(t, engine.OutcomeUnspecified, st.Outcome)
	require.Empty(t, st.Reason)

	other := a.create(t, "wi_conf_create_other")
	require.NotEqual(t, id, other)
	require.Equal(t, []string{id, other}, a.fake.Created())
	for wi, want := range map[string]string{"wi_conf_create": id, "wi_conf_create_other": other} {
		got, found, err := a.client.FindByWorkItem(t.Context(), wi, from)
		h.requireFound(t, err)
		require.Equal(t, h.Searchable, found, wi)
		if h.Searchable {
			require.Equal(t, want, got, wi)
		}
	}
	_, found, err := a.client.FindByWorkItem(t.Context(), "wi_conf_never_created", from)
	h.requireFound(t, err)
	require.False(t, found)
	if !h.Searchable {
		// Creating again under the same id is answered with the item made the first time.
		again := a.create(t, "wi_conf_create")
		require.Equal(t, id, again)
		require.Equal(t, []string{id, other}, a.fake.Created(), "the repeated create made nothing new")
	}

	byItem := map[string][]notification{}
	for _, n := range a.notifications(t) {
		byItem[n.ExternalID] = append(byItem[n.ExternalID], n)
	}
	require.Len(t, byItem, 2, "notifications are about the two items")
	for wi, item := range map[string]string{"wi_conf_create": id, "wi_conf_create_other": other} {
		require.NotEmpty(t, byItem[item], "creating %s sent notifications", wi)
		h.requireProgress(t, a.checkNotifications(t, byItem[item], item, wi))
	}
}

// requireFound checks FindByWorkItem's error: none from a searchable provider; from one that
// cannot be searched, none (it finds nothing) or engine.ErrNotSupported (the engine sends the
// create again instead, under the same idempotency key).
func (h Harness) requireFound(t *testing.T, err error) {
	t.Helper()
	if h.Searchable || err == nil {
		require.NoError(t, err)
		return
	}
	require.ErrorIs(t, err, engine.ErrNotSupported)
	require.NotErrorIs(t, err, engine.ErrProviderPermanent)
}

// testLostCreate: when the create's answer is lost the item exists all the same, Create
// reports an error without having created a second item, and FindByWorkItem finds the one —
// or, for a provider that is not searched, creating again returns it — so that the engine's
// retry couples it instead of creating another.
func (h Harness) testLostCreate(t *testing.T) {
	t.Parallel()
	a := h.open(t)
	from := since()
	a.fake.DropNextCreateResponse()
	first, err := a.client.Create(t.Context(), a.request("wi_conf_lost"))
	if h.Searchable {
		require.Error(t, err, "the answer was lost")
	}
	created := a.fake.Created()
	require.Len(t, created, 1, "the lost create was not made twice")
	got, found, err := a.client.FindByWorkItem(t.Context(), "wi_conf_lost", from)
	h.requireFound(t, err)
	require.Equal(t, h.Searchable, found)
	if !h.Searchable {
		// The client may have repeated the create under its idempotency key and got the item
		// back already; creating again certainly does.
		if first != "" {
			require.Equal(t, created[0], first)
		}
		got = a.create(t, "wi_conf_lost")
	}
	require.Equal(t, created[0], got)
	st, err := a.client.Status(t.Context(), got)
	require.NoError(t, err)
	require.Contains(t, h.OpenStatuses, st.Status)
	require.Equal(t, engine.OutcomeUnspecified, st.Outcome)
	require.Len(t, a.fake.Created(), 1)
}

// testComplete: a completed item is FINISHED, its document downloads, and cancelling it now is
// refused for good and changes nothing.
func (h Harness) testComplete(t *testing.T) {
	t.Parallel()
	a := h.open(t)
	id, _, _ := a.transition(t, "wi_conf_complete", a.fake.Complete, engine.OutcomeFinished, true)
	doc, err := a.client.Download(t.Context(), id)
	require.Equal(t, h.DownloadPrefix != nil, h.spec().Documents, "the spec's Documents says whether Download gives one")
	if h.DownloadPrefix == nil {
		require.ErrorIs(t, err, engine.ErrNoDocument)
	} else {
		require.NoError(t, err)
		require.NotEmpty(t, doc)
		require.True(t, bytes.HasPrefix(doc, h.DownloadPrefix), "the download starts with %q", h.DownloadPrefix)
	}

	before := len(a.notifications(t))
	err = a.client.Cancel(t.Context(), id, "too late")
	require.ErrorIs(t, err, engine.ErrProviderPermanent, "a finished item is not cancelled")
	st, err := a.client.Status(t.Context(), id)
	require.NoError(t, err)
	require.Equal(t, engine.OutcomeFinished, st.Outcome)
	require.Len(t, a.notifications(t), before, "the refused cancel sent nothing")
}

// testDecline: a declined item is DENIED and Status gives the signer's reason.
func (h Harness) testDecline(t *testing.T) {
	t.Parallel()
	a := h.open(t)
	const reason = "I do not agree to clause 4"
	_, st, last := a.transition(t, "wi_conf_decline", func(id string) error { return a.fake.Decline(id, reason) }, engine.OutcomeDenied, true)
	require.Equal(t, reason, st.Reason)
	if h.EventsCarryReason {
		require.Equal(t, reason, last.Reason)
	}
}

// testExpire: an expired item is EXPIRED.
func (h Harness) testExpire(t *testing.T) {
	t.Parallel()
	a := h.open(t)
	a.transition(t, "wi_conf_expire", a.fake.Expire, engine.OutcomeExpired, true)
}

// testCancel: Cancel of an open item ends it with the provider's documented status and
// outcome; a second Cancel does what the provider documents and changes nothing.
func (h Harness) testCancel(t *testing.T) {
	t.Parallel()
	a := h.open(t)
	const reason = "Workflow cancelled"
	id, st, _ := a.transition(t, "wi_conf_cancel", func(id string) error {
		return a.client.Cancel(t.Context(), id, reason)
	}, h.Cancel.Outcome, !h.Cancel.Gone)
	require.Equal(t, h.Cancel.Status, st.Status)
	if h.Cancel.Gone {
		require.Empty(t, st.Reason)
		require.True(t, st.ChangedAt.IsZero())
	} else {
		require.Equal(t, reason, st.Reason)
	}

	before := len(a.notifications(t))
	err := a.client.Cancel(t.Context(), id, "again")
	if h.Cancel.RepeatErr == nil {
		require.NoError(t, err, "cancelling a cancelled item again is fine")
	} else {
		require.ErrorIs(t, err, h.Cancel.RepeatErr)
	}
	again, err := a.client.Status(t.Context(), id)
	require.NoError(t, err)
	require.Equal(t, st.Status, again.Status)
	require.Equal(t, st.Outcome, again.Outcome)
	require.Equal(t, st.Reason, again.Reason)
	require.Len(t, a.notifications(t), before, "the second cancel sent nothing")
}

// testRedelivery: a notification the listener refused comes again when the provider
// redelivers it; it verifies, and parses to the same event with the same dedupe key.
func (h Harness) testRedelivery(t *testing.T) {
	t.Parallel()
	a := h.open(t)
	a.hook.refuseNext(1)
	id := a.create(t, "wi_conf_redeliver")
	first := a.notifications(t)
	require.NotEmpty(t, first)
	refused := first[0]
	require.True(t, refused.Refused)
	for _, n := range first[1:] {
		require.False(t, n.Refused)
	}

	require.NoError(t, a.fake.Redeliver())
	all := a.notifications(t)
	require.Greater(t, len(all), len(first), "the refused notification came again")
	again := all[len(first)]
	require.False(t, again.Refused)
	require.Equal(t, refused.Event, again.Event)
	if h.RedeliveryRewritesBody {
		require.NotEqual(t, refused.Body, again.Body, "the redelivery is rewritten")
	} else {
		require.Equal(t, refused.Body, again.Body, "the redelivery is the same bytes")
	}

	evs := a.checkNotifications(t, []notification{refused}, id, "wi_conf_redeliver")
	evs2 := a.checkNotifications(t, []notification{again}, id, "wi_conf_redeliver")
	require.Equal(t, evs[0], evs2[0], "the redelivery is the same event")
	require.Equal(t, evs[0].DedupeKey, evs2[0].DedupeKey)

	// Every other notification is another event.
	rest := append(slices.Clone(first[1:]), all[len(first)+1:]...)
	keys := map[string]bool{evs[0].DedupeKey: true}
	for _, ev := range a.checkNotifications(t, rest, id, "wi_conf_redeliver") {
		require.False(t, keys[ev.DedupeKey], "%s has a dedupe key of its own", ev.Type)
		keys[ev.DedupeKey] = true
	}
}

// testVerify: Verify accepts a delivered notification under the configured keys, also among
// others (rotation), and refuses missing credentials, other keys, forged credentials, an empty
// key configuration and — when the provider signs the body — a changed body.
func (h Harness) testVerify(t *testing.T) {
	t.Parallel()
	a := h.open(t)
	a.create(t, "wi_conf_verify")
	ns := a.notifications(t)
	require.NotEmpty(t, ns)
	n := ns[0]
	tampered := bytes.Clone(n.Body)
	tampered[len(tampered)/2] ^= 0x01
	otherKey := h.OtherKey
	if otherKey == "" {
		otherKey = "flowhook-conformance-other-key"
	}
	only := func(name, value string) http.Header {
		hd := http.Header{}
		hd.Set(name, value)
		return hd
	}
	tamperedWant := ""
	if h.spec().SignsBody {
		tamperedWant = h.Reasons.Mismatch
	}
	for _, tc := range []struct {
		name   string
		body   []byte
		header http.Header
		keys   []string
		want   string // the reason of a refusal; "" passes
	}{
		{"delivered", n.Body, n.Header, h.Keys, ""},
		{"rotation: the key among others", n.Body, n.Header, append([]string{otherKey}, h.Keys...), ""},
		{"no header", n.Body, http.Header{}, h.Keys, h.Reasons.NoCredentials},
		{"nil header", n.Body, nil, h.Keys, h.Reasons.NoCredentials},
		{"content type only", n.Body, only("Content-Type", "application/json"), h.Keys, h.Reasons.NoCredentials},
		{"other keys", n.Body, n.Header, []string{otherKey}, h.Reasons.Mismatch},
		{"forged", n.Body, h.Forge(n.Body), h.Keys, h.Reasons.Mismatch},
		{"no keys", n.Body, n.Header, nil, h.Reasons.NoKeys},
		{"empty key", n.Body, n.Header, []string{""}, h.Reasons.NoKeys},
		{"changed body", tampered, n.Header, h.Keys, tamperedWant},
	} {
		auth := h.authenticate(tc.body, tc.header, tc.keys)
		if tc.want == "" {
			require.True(t, auth.OK, "%s: %s", tc.name, auth.Note)
			continue
		}
		require.False(t, auth.OK, tc.name)
		require.Equal(t, tc.want, auth.Reason, "%s: the reason says what is wrong", tc.name)
		require.Contains(t, auth.Note, tc.want, tc.name)
		for _, k := range append(tc.keys, h.Keys...) {
			if k != "" {
				require.NotContains(t, auth.Note, k, "%s: the note holds no key", tc.name)
			}
		}
	}
}

// testParseMalformed: ParseEvent refuses what is not a notification.
func (h Harness) testParseMalformed(t *testing.T) {
	t.Parallel()
	a := h.open(t)
	a.create(t, "wi_conf_parse")
	ns := a.notifications(t)
	require.NotEmpty(t, ns)
	body := ns[0].Body
	for name, b := range map[string][]byte{
		"nil":               nil,
		"empty":             {},
		"spaces":            []byte("  \n"),
		"null":              []byte("null"),
		"number":            []byte("42"),
		"string":            []byte(`"envelope"`),
		"array":             []byte("[]"),
		"array of the body": append(append([]byte("["), body...), ']'),
		"open":              []byte("{"),
		"empty object":      []byte("{}"),
		"truncated":         body[:len(body)/2],
	} {
		ev, err := h.Plugin.ParseEvent(b, nil)
		require.Error(t, err, name)
		require.Equal(t, engine.InboundEvent{}, ev, name)
	}
}
