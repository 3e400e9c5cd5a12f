package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/flowhook/flowhook/ent/webhookevent"
	"github.com/flowhook/flowhook/server/internal/engine"
)

// Events stored PENDING: a mark on the event, not a job per event.
//
// An event that cannot be applied as it arrives (a OneSpan callback, read back from OneSpan
// first; an event whose work item is not coupled yet) is stored PENDING. The engine says
// "process it" with a process_event job. The store does not insert that job into River: it
// sets the event's due_at in the same write (in the group commit's one statement on
// PostgreSQL, which then needs no transaction), and once it commits tells the queue
// (CommitWatcher), which processes the event in-process at once, as the job would, without
// reading it again. Saving its result clears the mark (FinishEvent).
//
// When in-process processing cannot finish it (its work item is not coupled yet, an earlier
// callback of the item waits, the provider's read-back failed), the event is handed to a real
// process_event job at once (HandOverEvent), which River snoozes and retries as before. A mark
// still set a while later (the replica died, its queue was full) is handed over by the
// leader's sweep (HandOverDueEvents). So an event is never stranded, and in the common case
// it costs its processing, not River's insert, fetch and completion of a job (measured: with
// the read of the event they were a third of PostgreSQL's time for a OneSpan completion).

// eventsDue separates the process_event jobs of jobs from the jobs River inserts.
func eventsDue(jobs []engine.Job) (river []engine.Job, due []uuid.UUID) {
	for _, j := range jobs {
		if p, ok := j.(engine.ProcessEventJob); ok {
			if id, err := uuid.Parse(p.EventID); err == nil {
				due = append(due, id)
				continue
			}
		}
		river = append(river, j)
	}
	if len(due) == 0 {
		return jobs, nil
	}
	return river, due
}

// markEventDue marks a PENDING event due, in tx.
func markEventDue(ctx context.Context, tx txn, id uuid.UUID) error {
	query, args := entsql.Dialect(tx.dialect).Update(webhookevent.Table).
		Set(webhookevent.FieldDueAt, dbTime(now())).
		Where(entsql.And(entsql.EQ(webhookevent.FieldID, id), entsql.EQ(webhookevent.FieldVerdict, string(engine.VerdictPending)))).Query()
	_, err := tx.sql.ExecContext(ctx, query, args...)
	return err
}

// HandOverEvent gives an event still due its process_event job now, clearing its mark, in one
// transaction: what in-process processing could not finish, River retries (and snoozes while
// the work item is not coupled). An event no longer due (processed, handed over already) is
// left alone.
func (s *Store) HandOverEvent(ctx context.Context, eventID string) error {
	eid, err := parseID("event", eventID)
	if err != nil {
		return err
	}
	_, err = s.handOverEvents(ctx, func(tx txn) ([]uuid.UUID, error) {
		q := tx.WebhookEvent.Query().Where(webhookevent.ID(eid), webhookevent.DueAtNotNil())
		if tx.locks {
			q = q.ForUpdate()
		}
		return q.IDs(ctx)
	})
	return err
}

// HandOverDueEvents gives each event due since before cutoff (at most limit, the longest due
// first) its process_event job, clearing its mark, in one transaction, and says how many it
// handed over. On PostgreSQL an event another transaction holds is skipped, not waited for.
func (s *Store) HandOverDueEvents(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	return s.handOverEvents(ctx, func(tx txn) ([]uuid.UUID, error) {
		q := tx.WebhookEvent.Query().Where(webhookevent.DueAtLT(dbTime(cutoff))).
			Order(webhookevent.ByDueAt(), webhookevent.ByID()).Limit(limit)
		if tx.locks {
			q = q.ForUpdate(entsql.WithLockAction(entsql.SkipLocked))
		}
		return q.IDs(ctx)
	})
}

// handOverEvents hands the events pick finds (still due) to process_event jobs.
func (s *Store) handOverEvents(ctx context.Context, pick func(tx txn) ([]uuid.UUID, error)) (int, error) {
	return s.handOverMarks(ctx, webhookevent.Table, webhookevent.FieldDueAt,
		func(id uuid.UUID) engine.Job { return engine.ProcessEventJob{EventID: id.String()} }, pick)
}

// handOverMarks clears the marks (column of table) of the rows pick finds and inserts a job
// for each into River itself (enqueue would turn them back into marks), in one transaction,
// and says how many it handed over.
func (s *Store) handOverMarks(ctx context.Context, table, column string, job func(uuid.UUID) engine.Job,
	pick func(tx txn) ([]uuid.UUID, error)) (int, error) {
	if s.jobs == nil {
		return 0, errors.New("store: background jobs are not configured")
	}
	n := 0
	err := s.inTx(ctx, func(tx txn) error {
		ids, err := pick(tx)
		if err != nil || len(ids) == 0 {
			return err
		}
		in := make([]any, len(ids))
		jobs := make([]engine.Job, len(ids))
		for i, id := range ids {
			in[i], jobs[i] = id, job(id)
		}
		query, args := entsql.Dialect(tx.dialect).Update(table).SetNull(column).Where(entsql.In("id", in...)).Query()
		if _, err := tx.sql.ExecContext(ctx, query, args...); err != nil {
			return err
		}
		if err := s.jobs.InsertTx(ctx, tx.sql, jobs...); err != nil {
			return fmt.Errorf("enqueue %s: %w", jobs[0].Kind(), err)
		}
		n = len(ids)
		return nil
	})
	return n, translate(err)
}

// EventsDue counts the events still due (processed neither in-process nor by a job yet): the
// flowhook.events.due gauge. The partial index holds only them.
func (s *Store) EventsDue(ctx context.Context) (int64, error) {
	n, err := s.db.Client.WebhookEvent.Query().Where(webhookevent.DueAtNotNil()).Count(ctx)
	return int64(n), translate(err)
}

var _ engine.PendingEvents = (*Store)(nil)

// lastEventID is above every event's id: PendingSentBy's events sent at its time are all
// earlier than it.
const lastEventID = "ffffffff-ffff-ffff-ffff-ffffffffffff"

// PendingSentBy reports whether an event of the system and external id that the system sent
// at or before at is still PENDING (engine.PendingEvents, for an EXTERNAL state's timer): the
// EarlierPending query, for an event sent at that time and received after every other.
func (s *Store) PendingSentBy(ctx context.Context, system engine.System, externalID string, at time.Time) (bool, error) {
	return s.EarlierPending(ctx, engine.StoredEvent{ID: lastEventID,
		Event: engine.InboundEvent{System: system, ExternalID: externalID, OccurredAt: at}})
}
