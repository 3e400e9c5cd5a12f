package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"sort"
	"time"

	"github.com/google/uuid"

	"github.com/flowhook/flowhook/ent"
	"github.com/flowhook/flowhook/ent/webhookevent"
	"github.com/flowhook/flowhook/server/internal/engine"
)

// Group commit of inbound events.
//
// Concurrent webhooks are written together: one write (one WAL flush) for every notification
// that arrived while the previous batch was being written, instead of one each (a lane:
// lane.go). Progress and PENDING notifications (the ingest path) go through it; a transition
// is written on its own statement, which the pipeline sends with others (see writeInbound).
//
// On PostgreSQL a batch is one statement (writeRows, batchwrite.go). On SQLite it is one
// transaction, notification by notification, each one's writes ordered so that none can fail
// half-way in the normal course: the event is inserted (a redelivery, ON CONFLICT DO NOTHING,
// writes nothing more), then its one conditional check (the work item updated at the revision
// read) comes before any write that depends on it. A check that fails deletes the event it
// inserted and answers that caller ErrConflict, as its own transaction would have; the rest
// of the batch goes on. On either database, anything else (a database error, or a conflict
// after a write) undoes the batch and writes each notification again in its own transaction,
// so that one bad notification never costs the others theirs.

// maxBatch bounds a batch: PostgreSQL is happiest with transactions that stay short.
const maxBatch = 64

// batchTimeout bounds a batch's transaction. A batch does not run under any one caller's
// context: a client that hangs up must not fail the others' writes (what it sent may still
// commit; the dedupe key covers its retry).
const batchTimeout = 30 * time.Second

// writers is how many batches may be written at once. Notifications are spread over them by
// their system and external id, so that the events of one work item, and the rows they
// change, are always in the same writer's batches: two writers never wait for each other's
// locks. One is best since a batch is one statement on PostgreSQL (writeRows): measured with
// 8 senders, one writer's batches are twice as big for the same round trips, and ingest
// went from 1,900 to 2,150 a second, with a sixth less CPU per notification. (Written one
// notification at a time, as before, two writers were better: a batch then waited on every
// statement in turn.)
const writers = 1

type groupCommit struct {
	lanes [writers]lane[*inbound]
	// pipeline is the one-statement writes' lane (pipeline.go).
	pipeline lane[*piped]
	// verdicts is the lane of verdicts alone (verdicts.go).
	verdicts lane[*verdictWrite]
}

// LaneStats is what one kind of write lane has written since the store was made: Batches
// written, the Writes in them (their mean size is how much the lane saves: one round trip and
// one commit a batch), and the time its writer spent writing, Busy. A lane busy nearly all
// the time is what a replica's writes wait on; where it is not, they wait on something else.
type LaneStats struct {
	// Lane is "events" (the group commit of notifications stored or applied without moving
	// their instance), "statements" (the pipeline of one-statement writes: transitions,
	// starts, takes, finished events; PostgreSQL only) or "verdicts" (verdicts alone: a
	// duplicate, a stale event, an unconfirmed callback; PostgreSQL only).
	Lane            string
	Batches, Writes int64
	Busy            time.Duration
}

// Lanes reports the group commit's lanes, the pipeline's and the verdicts' (LaneStats).
func (s *Store) Lanes() []LaneStats {
	events := LaneStats{Lane: "events"}
	for i := range s.commits.lanes {
		l := laneStats("", &s.commits.lanes[i])
		events.Batches, events.Writes, events.Busy = events.Batches+l.Batches, events.Writes+l.Writes, events.Busy+l.Busy
	}
	return []LaneStats{events, laneStats("statements", &s.commits.pipeline), laneStats("verdicts", &s.commits.verdicts)}
}

// laneStats is what l has written so far, as lane name.
func laneStats[T any](name string, l *lane[T]) LaneStats {
	return LaneStats{Lane: name, Batches: l.batches.Load(), Writes: l.writes.Load(), Busy: time.Duration(l.busy.Load())}
}

// lane returns the writer a notification goes to.
func (g *groupCommit) lane(ev engine.StoredEvent) *lane[*inbound] {
	h := fnv.New32a()
	h.Write([]byte(ev.Event.System.String()))
	h.Write([]byte{0})
	h.Write([]byte(ev.Event.ExternalID))
	return &g.lanes[h.Sum32()%writers]
}

// inbound is one notification to write: stored PENDING with its processing job (result nil),
// or stored with its result applied.
type inbound struct {
	ctx    context.Context
	id     uuid.UUID
	ev     engine.StoredEvent
	result *engine.EventResult

	created bool
	err     error
}

// errBatch: a notification's writes failed after they began; the batch is written again one
// notification at a time.
var errBatch = errors.New("group commit: write each notification on its own")

// writeInbound writes one notification through the group commit and returns whether it was
// new. It waits for its batch to commit whatever happens to ctx: the transaction it joined is
// shared.
func (s *Store) writeInbound(ctx context.Context, ev engine.StoredEvent, r *engine.EventResult) (uuid.UUID, bool, error) {
	in := &inbound{ctx: ctx, id: uuid.MustParse(engine.NewIDAt(ev.ReceivedAt)), ev: ev, result: r}
	if r != nil && moves(*r) {
		// A transition is not in the group commit's batches: queued behind ingest there, it
		// was slower (measured: under overload the lanes held transitions to a third). On
		// PostgreSQL it is one statement when its only effects are jobs, sent in the pipeline
		// with the other one-statement writes (pipeline.go).
		if s.db.Dialect == Postgres && transitional(in) && s.writeTransition(ctx, in) == nil {
			return in.id, in.created, in.err // one statement (writeTransition)
		}
		s.writeAlone(ctx, in)
		return in.id, in.created, in.err
	}
	s.commits.lane(ev).do(in, s.writeBatchSafe)
	return in.id, in.created, in.err
}

// moves says whether a result moves its instance or has effects beyond its activities.
func moves(r engine.EventResult) bool {
	e := r.Effects
	return r.Instance != nil || len(e.NewWorkItems)+len(e.RetriedWorkItems)+len(e.ExpiredWorkItems)+len(e.Jobs) > 0
}

// writeBatchSafe writes the batch; a panic becomes every caller's error, so that nobody in
// the batch or the queue waits forever.
func (s *Store) writeBatchSafe(batch []*inbound) {
	defer func() {
		if p := recover(); p != nil {
			for _, in := range batch {
				in.created, in.err = false, fmt.Errorf("store: writing a notification panicked: %v", p)
			}
		}
	}()
	s.writeBatch(batch)
}

// writeBatch writes the batch in one transaction, or, when that fails, each notification in
// a transaction of its own.
func (s *Store) writeBatch(batch []*inbound) {
	if s.db.Dialect == Postgres {
		// One statement for the whole batch (of one, too); it locks rows in the same order in
		// every batch.
		ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
		defer cancel()
		if s.writeRows(ctx, batch) == nil {
			return
		}
	} else if len(batch) > 1 {
		// Rows are locked in one order by every batch, so that two replicas' batches wait for
		// each other instead of deadlocking.
		batch = append([]*inbound(nil), batch...)
		sort.SliceStable(batch, func(i, j int) bool { return lockKey(batch[i]) < lockKey(batch[j]) })
		ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
		defer cancel()
		err := s.inTx(ctx, func(tx txn) error {
			for _, in := range batch {
				in.created, in.err = s.writeOne(context.WithoutCancel(in.ctx), tx, in, true)
				if errors.Is(in.err, errBatch) {
					return in.err
				}
			}
			return nil
		})
		if err == nil {
			return
		}
	}
	for _, in := range batch {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(in.ctx), batchTimeout)
		s.writeAlone(ctx, in)
		cancel()
	}
}

// writeAlone writes one notification in a transaction of its own.
func (s *Store) writeAlone(ctx context.Context, in *inbound) {
	in.created, in.err = false, nil
	in.err = s.inTx(ctx, func(tx txn) error {
		var err error
		in.created, err = s.writeOne(ctx, tx, in, false)
		return err
	})
	if in.err != nil {
		in.created = false // rolled back
	}
}

// lockKey orders a batch: by the instance, then the work item its result changes.
func lockKey(in *inbound) string {
	if in.result == nil {
		return ""
	}
	return in.result.InstanceID + "/" + in.result.WorkItemID
}

// writeOne writes a notification in tx. shared: tx holds other notifications too, so a
// conflict found before anything depends on the event undoes its insert and is that caller's
// ErrConflict alone, and any later failure is errBatch.
func (s *Store) writeOne(ctx context.Context, tx txn, in *inbound, shared bool) (bool, error) {
	ev := in.ev
	if r := in.result; r != nil {
		ev.Verdict, ev.Reason = r.Verdict, r.Reason
	}
	// ON CONFLICT (provider, dedupe_key) DO NOTHING: a redelivery is stored once, and applies
	// nothing.
	c := eventCreate(tx, in.id, ev)
	if r := in.result; r != nil {
		c.SetInstanceID(r.InstanceID).SetWorkItemID(r.WorkItemID).SetProcessedAt(now()).SetAttempts(1)
	}
	n, err := c.OnConflictColumns(webhookevent.FieldProvider, webhookevent.FieldDedupeKey).DoNothing().ID(ctx)
	switch {
	case isNoRows(err):
		return false, nil
	case err != nil:
		return false, failed(shared, err)
	case n != in.id:
		return false, nil
	}
	if in.result == nil {
		if ev.Verdict != engine.VerdictPending {
			return true, nil
		}
		stored := ev
		stored.ID = in.id.String()
		return true, failed(shared, s.enqueue(ctx, tx, []engine.Job{engine.ProcessEventJob{EventID: stored.ID, Event: &stored}}))
	}
	if shared {
		// A batched result moves no instance (writeInbound): its one check is the work item's
		// revision, written first; applyRest writes the rest.
		if err := updateWorkItem(ctx, tx, in.result.WorkItem); err != nil {
			if !errors.Is(err, engine.ErrConflict) {
				return false, failed(shared, err)
			}
			// Nothing depends on the event yet: take it back, as its own rollback would.
			if derr := tx.WebhookEvent.DeleteOneID(in.id).Exec(ctx); derr != nil {
				return false, failed(shared, derr)
			}
			return false, err
		}
		return true, failed(shared, s.applyRest(ctx, tx, *in.result))
	}
	return true, s.applyResult(ctx, tx, *in.result)
}

// isNoRows: an insert ON CONFLICT DO NOTHING returned no row (a redelivery).
func isNoRows(err error) bool {
	return errors.Is(err, sql.ErrNoRows) || ent.IsNotFound(err)
}

// failed marks an error met while writing a shared batch as the batch's (nil stays nil).
func failed(shared bool, err error) error {
	if err == nil || !shared {
		return err
	}
	return fmt.Errorf("%w: %w", errBatch, err)
}
