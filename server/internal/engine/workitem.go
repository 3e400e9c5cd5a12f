package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	"go.opentelemetry.io/otel/propagation"
)

// WorkItemStatus is where a work item is at our side.
type WorkItemStatus string

const (
	// WorkItemCreating: the create job has not yet got the provider's id.
	WorkItemCreating WorkItemStatus = "CREATING"
	// WorkItemWaiting: coupled to the provider's id, waiting for an outcome.
	WorkItemWaiting WorkItemStatus = "WAITING"
	// WorkItemResolved: a terminal outcome arrived and was applied.
	WorkItemResolved WorkItemStatus = "RESOLVED"
	// WorkItemFailed: creating it failed for good.
	WorkItemFailed WorkItemStatus = "FAILED"
	// WorkItemCancelled: voided at the provider because the instance was cancelled.
	WorkItemCancelled WorkItemStatus = "CANCELLED"
	// WorkItemExpired: the state's timeout passed before the provider reported an outcome;
	// the outcome is EXPIRED and a job cancels the item at its provider.
	WorkItemExpired WorkItemStatus = "EXPIRED"
)

// Open reports whether the work item may still change.
func (s WorkItemStatus) Open() bool { return s == WorkItemCreating || s == WorkItemWaiting }

// WorkItem is what an EXTERNAL state created at its provider, coupled to the instance by the
// provider's id.
type WorkItem struct {
	ID              string
	InstanceID      string
	StateKey        string
	EnteredRevision int64
	System          System
	ExternalID      string
	Status          WorkItemStatus
	ProviderStatus  string
	Outcome         Outcome
	Error           string
	LastEventAt     *time.Time
	Traceparent     string
	CreatedAt       time.Time
	UpdatedAt       time.Time
	ResolvedAt      *time.Time
	Revision        int64
}

// Job is background work the store enqueues in the transaction that makes it necessary.
// Its Kind names the worker; the value is its JSON arguments.
type Job interface{ Kind() string }

// CreateWorkItemJob renders the document and creates the work item at its provider. Retried
// says an earlier attempt may have reached the provider for this work item (RetryInstance, an
// in-process creation handed over): the job then looks for the item by our id before creating
// one. A first creation (not Retried) is not handed to River by the store: it marks the new
// work item due, and once that commits the queue creates it in-process; a creation that fails
// there, or a mark still set after a grace, gets a River job with Retried set (see the store's
// creations.go).
type CreateWorkItemJob struct {
	WorkItemID string `json:"work_item_id"`
	Retried    bool   `json:"retried,omitempty"`
	// Item is set exactly on a creation the store marked due instead of giving it to River:
	// the work item as the write that committed inserted it, which the in-process creation
	// need not read again. Never stored with a job.
	Item *WorkItem `json:"-"`
	// Instance, when set with Item, is the item's instance as that write left it (a start or
	// a move into an EXTERNAL state), which the creation need not read again either. Never
	// stored with a job.
	Instance *Instance `json:"-"`
	// NotBefore, when set, is the earliest the job may run: a hand-over of an in-process
	// attempt that may have reached the provider waits for the provider to finish what that
	// attempt abandoned before the job looks for the item by our id (see the worker's
	// creationRetryDelay). Zero: at once. Never stored with a job (River's scheduled_at is).
	NotBefore time.Time `json:"-"`
}

func (CreateWorkItemJob) Kind() string { return "create_work_item" }

// ScheduledAt is NotBefore: zero runs the job at once.
func (j CreateWorkItemJob) ScheduledAt() time.Time { return j.NotBefore }

// Coupled is a work item as its coupling wrote it (WAITING on its provider's id), with its
// instance's status, revision and reason as the coupling found them. The coupling writes the
// instance's row (its activity counter), so a cancellation either committed before it, and
// shows here, or comes after it and finds the work item coupled.
type Coupled struct {
	WorkItem
	InstanceStatus   InstanceStatus
	InstanceRevision int64
	InstanceReason   string
}

// ProcessEventJob applies a stored webhook event that could not be applied as it arrived.
// The store does not hand it to River: it marks the event due, and once that commits the
// queue processes it in-process; an event still due after a grace gets a River job (see the
// store's events.go).
type ProcessEventJob struct {
	EventID string `json:"event_id"`
	// Event, when set, is the event as the write that committed stored it: the in-process
	// processing then need not read it again. Never stored with a job.
	Event *StoredEvent `json:"-"`
	// Waited is how many times the in-process processing waited for the event's coupling
	// (ErrNotCoupled) before this try. Never stored with a job.
	Waited int `json:"-"`
	// Read, when set, is what the write that stored the event read for it
	// (StoredEvent.ReadForCallback): its first try in-process starts from it. Never stored
	// with a job.
	Read *CallbackRead `json:"-"`
}

func (ProcessEventJob) Kind() string { return "process_event" }

// ProcessEventAttempts bounds a process_event job's failed attempts (a read-back that keeps
// failing): River's backoff (attempt⁴ seconds) spreads 12 over about eleven hours, after which
// the event is given up (External.GiveUp) and reconciliation asks the system instead. A
// snooze (ErrRetryLater) spends no attempt. River's default, 25, spanned three weeks, after
// which the event stayed PENDING for good and held every later one of its work item.
const ProcessEventAttempts = 12

func (ProcessEventJob) MaxAttempts() int { return ProcessEventAttempts }

// CancelWorkItemJob voids a work item at its provider because its instance was cancelled, or
// because its state's timeout passed (Expired).
type CancelWorkItemJob struct {
	WorkItemID string `json:"work_item_id"`
	Reason     string `json:"reason"`
	Expired    bool   `json:"expired,omitempty"`
}

func (CancelWorkItemJob) Kind() string { return "cancel_work_item" }

// MaxAttempts: an item whose state timed out is cancelled until its provider takes it (the
// backoff, attempt⁴ seconds, makes 50 attempts span more than a year); a cancellation's keeps
// the queue's default.
func (j CancelWorkItemJob) MaxAttempts() int {
	if j.Expired {
		return 50
	}
	return 0
}

// StateTimeoutJob is the durable timer of a state with a timeout: scheduled for the deadline
// in the transaction that entered the state. It fires only while the instance is still open
// in that state at that deadline (Runner.Timeout), so leaving the state makes it a no-op, and
// of the job and the in-process wake-up that may race it, one takes effect.
type StateTimeoutJob struct {
	InstanceID string    `json:"instance_id"`
	StateKey   string    `json:"state_key"`
	Deadline   time.Time `json:"deadline"`
}

func (StateTimeoutJob) Kind() string { return "state_timeout" }

// ScheduledAt: the job runs at the deadline.
func (j StateTimeoutJob) ScheduledAt() time.Time { return j.Deadline }

// FetchDocumentJob downloads the signed document of a finished work item.
type FetchDocumentJob struct {
	WorkItemID string `json:"work_item_id"`
	// Item, when set, is the work item as the resolution that committed wrote it: the
	// in-process fetch then need not read it again. Never stored with a job.
	Item *WorkItem `json:"-"`
}

func (FetchDocumentJob) Kind() string { return "fetch_document" }

// Effects are rows and jobs that must commit together with an instance change.
type Effects struct {
	NewWorkItems []WorkItem
	// RetriedWorkItems go from FAILED back to CREATING, with the EnteredRevision and
	// UpdatedAt given, when each is still FAILED at the Revision given (ErrConflict
	// otherwise): RetryInstance runs the same work item again, never a second one.
	RetriedWorkItems []WorkItem
	// ExpiredWorkItems become EXPIRED (with their Outcome, ResolvedAt and UpdatedAt as given)
	// when each is still WAITING at the Revision given (ErrConflict otherwise): a state's
	// timeout passed before the provider's outcome.
	ExpiredWorkItems []WorkItem
	Jobs             []Job
}

// ScheduledJob is a job to run at a time rather than at once.
type ScheduledJob interface {
	Job
	ScheduledAt() time.Time
}

// AttemptsJob is a job that sets its own number of attempts (0: the queue's default).
type AttemptsJob interface {
	Job
	MaxAttempts() int
}

// NewIDAt returns a UUIDv7 string whose timestamp is t's millisecond (RFC 9562 §5.7): ids
// sort by creation time, and a time range bounds an id range. Within a millisecond they sort
// by t too, then by when they were made: rand_a holds t's fraction of its millisecond (in
// 256 ns, as uuid.NewV7 does: the Event Log's steps mix both), and the 14 bits after the
// variant continue it as a counter seeded at random in its lower 13 bits; an id made for the
// same millisecond as the newest one this process made, at the same or an earlier fraction,
// takes that one's sequence plus 1 (RFC 9562 §6.2, methods 1 and 3). The millisecond is
// always t's, never carried into the next one: callers bound id ranges by it. With a random
// rand_a, 20 events received 10 µs apart listed out of order in the Event Log, which shows
// them newest first by id.
func NewIDAt(t time.Time) string {
	var u [16]byte
	_, _ = rand.Read(u[8:]) // crypto/rand.Read never fails (Go 1.24+)
	ms := max(t.UnixMilli(), 0)
	seq := uint32(t.Nanosecond()%1e6)>>8<<idCounterBits | (uint32(u[8])<<8|uint32(u[9]))&idSeedMask
	seq = idClock.next(ms, seq)
	for i, m := 5, uint64(ms); i >= 0; i-- {
		u[i] = byte(m)
		m >>= 8
	}
	u[6] = 0x70 | byte(seq>>(idCounterBits+8))&0x0f
	u[7] = byte(seq >> idCounterBits)
	u[8] = 0x80 | byte(seq>>8)&0x3f
	u[9] = byte(seq)
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

const (
	// idCounterBits: the bits of rand_b after the variant that continue NewIDAt's sequence.
	idCounterBits = 14
	// idSeedMask: the counter's random seed leaves its top bit clear, so that at least 8192
	// ids made for one instant still take a sequence of their own.
	idSeedMask = 1<<(idCounterBits-1) - 1
	// idSeqMax: rand_a's 12 bits and the counter's 14.
	idSeqMax = 1<<(12+idCounterBits) - 1
)

// idClock is the newest millisecond NewIDAt made an id for, and the sequence it used last.
var idClock idSequence

type idSequence struct {
	mu  sync.Mutex
	ms  int64
	seq uint32
}

// next returns the sequence of an id of millisecond ms that would take seq: seq itself, or
// when the newest millisecond is ms and its last sequence is not below seq, that one plus 1
// (stuck at idSeqMax, where only the random bits tell ids apart: 2^26 ids in a millisecond
// is far beyond this process). An earlier millisecond is left as it is: it cannot move.
func (c *idSequence) next(ms int64, seq uint32) uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case ms > c.ms:
		c.ms = ms
	case ms == c.ms:
		if seq <= c.seq {
			seq = min(c.seq+1, idSeqMax)
		}
	default:
		return seq
	}
	c.seq = seq
	return seq
}

// Traceparent returns the W3C trace context of ctx ("" when it carries no span), kept with a
// work item so that the span processing its webhook days later can link to its origin.
func Traceparent(ctx context.Context) string {
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier)
	return carrier["traceparent"]
}

// SignedDocument is the signed document a provider returned for a finished work item.
type SignedDocument struct {
	WorkItemID  string
	Name        string
	ContentType string
	Content     []byte
	SHA256      string
	CreatedAt   time.Time
}

// PurgeEventLogJob deletes what the Event Log keeps beyond its retention (periodic).
type PurgeEventLogJob struct{}

func (PurgeEventLogJob) Kind() string { return "purge_event_log" }

// ReconcileJob asks the providers about work items still waiting (periodic).
type ReconcileJob struct{}

func (ReconcileJob) Kind() string { return "reconcile_work_items" }
