package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/flowhook/flowhook/ent/webhookevent"
	"github.com/flowhook/flowhook/server/internal/engine"
)

// Verdicts alone, in a lane of their own (PostgreSQL).
//
// A verdict alone (verdictOnly: a duplicate, a stale event, a callback its system did not
// confirm) is one UPDATE of its event's row, committed without waiting for its WAL flush
// (verdictSQL). Concurrent ones are written together: the lane's leader writes every verdict
// that queued while the batch before it was being written in one statement (verdictsSQL), a
// round trip and a commit for all of them, still without waiting for the flush. A lone verdict
// at low load is written at once, as before. Verdicts are not sent in the pipeline of
// one-statement writes (pipeline.go): its batches commit waiting for their flush, and an
// asynchronous commit there would be every write's in the batch.
//
// Each verdict keeps its own condition (its event still PENDING): one whose event another
// processing finished first is not saved and answers ErrConflict, as it would alone (a
// second verdict of one event in a batch is written alone after it, and so conflicts). A
// batch whose statement fails is written again verdict by verdict, so that one bad verdict
// never costs the others theirs. Sent with the group commit's write instead, a verdict waited
// for a durable commit of the busiest lane (performance-history.md, session 36).

// verdictSQL saves a verdict alone (verdictOnly) if the event is still PENDING, and commits
// without waiting for its WAL to reach the disk (synchronous_commit off for its own
// transaction only: set_config's third argument). A verdict alone is the one write flowhook
// can lose and redo: the event was stored durably before its 200, and the verdict is what
// processing it again decides (the read-back, the dedupe, the staleness check are asked
// again). If PostgreSQL crashes within a few hundred milliseconds of the commit (three times
// wal_writer_delay at most, 200 ms by default), the event is PENDING and due again, as it was
// stored, and the leader's sweep of due events (HandOverDueEvents) has it processed once
// more. A commit that waits (anything else) flushes the WAL up to itself, this verdict's
// too, so nothing decided after seeing the verdict outlives it. Measured on a 2-core machine:
// a one-row UPDATE commits at 5,058 a second waiting for its flush and 9,116 not, the
// machine's CPU busy in both (0.54 against 0.20 ms a commit): the flush is most of a small
// write's cost there.
const verdictSQL = `UPDATE webhook_events SET verdict = $2, verdict_reason = $3, instance_id = $4, work_item_id = $5,
  processed_at = $6, attempts = attempts + 1, due_at = NULL
WHERE id = $1 AND verdict = 'PENDING'
RETURNING id, set_config('synchronous_commit', 'off', true)`

// verdictsSQL saves many verdicts (verdictSQL's columns as arrays, one element a verdict) in
// one statement and returns the ids of the events it saved.
const verdictsSQL = `UPDATE webhook_events e SET verdict = v.verdict, verdict_reason = v.reason,
  instance_id = v.instance_id, work_item_id = v.work_item_id, processed_at = v.at,
  attempts = e.attempts + 1, due_at = NULL
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])
  AS v(id, verdict, reason, instance_id, work_item_id, at)
WHERE e.id = v.id AND e.verdict = 'PENDING'
RETURNING e.id, set_config('synchronous_commit', 'off', true)`

// verdictWrite is a verdict waiting in the lane for its batch.
type verdictWrite struct {
	ctx context.Context
	id  uuid.UUID
	r   engine.EventResult
	at  time.Time
	// written: the batch's statement ran; saved: it saved this verdict; err: a verdict
	// written alone failed.
	written, saved bool
	err            error
}

// finishVerdict is FinishEvent of a verdict alone on PostgreSQL: ErrConflict when the event
// is no longer PENDING.
func (s *Store) finishVerdict(ctx context.Context, eid uuid.UUID, r engine.EventResult) error {
	if err := webhookevent.VerdictValidator(webhookevent.Verdict(r.Verdict)); err != nil {
		return err // as ent's update refuses it, before the statement
	}
	v := &verdictWrite{ctx: ctx, id: eid, r: r, at: dbTime(now())}
	s.commits.verdicts.do(v, func(batch []*verdictWrite) { s.writeVerdicts(batch) })
	if !v.written {
		v.saved, v.err = s.writeVerdict(ctx, v)
	}
	if v.err != nil {
		return v.err
	}
	if !v.saved {
		return fmt.Errorf("%w: event %s was processed concurrently", engine.ErrConflict, r.EventID)
	}
	return nil
}

// writeVerdict writes one verdict alone (verdictSQL) and says whether it was saved.
func (s *Store) writeVerdict(ctx context.Context, v *verdictWrite) (bool, error) {
	var saved bool
	err := alone(runOn(ctx, pgxQuerier{s.db.Pool}, oneStatement{
		query: verdictSQL,
		args:  []any{[16]byte(v.id), string(v.r.Verdict), v.r.Reason, v.r.InstanceID, v.r.WorkItemID, v.at},
		read: func(rs rows) ([]engine.Job, error) {
			saved = false
			for rs.Next() {
				saved = true
			}
			return nil, nil
		}}))
	return saved, err
}

// writeVerdicts writes a batch of verdicts. A batch of one is written alone (verdictSQL,
// under its caller's context); a bigger one is one statement (verdictsSQL) under none of its
// callers' contexts (batchTimeout), as the group commit's batches are. When the statement
// fails, nothing in it was written, and each caller writes its own verdict alone.
func (s *Store) writeVerdicts(batch []*verdictWrite) {
	// A panic must not leave the lane without a leader (every verdict after it would wait
	// forever): nothing is written, and each caller writes its own alone.
	defer func() {
		if p := recover(); p != nil {
			for _, v := range batch {
				v.written, v.saved, v.err = false, false, nil
			}
		}
	}()
	if len(batch) == 1 {
		v := batch[0]
		v.saved, v.err = s.writeVerdict(v.ctx, v)
		v.written = true
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(batch[0].ctx), batchTimeout)
	defer cancel()
	n := len(batch)
	ids, ats := make([][16]byte, 0, n), make([]time.Time, 0, n)
	verdicts, reasons, instances, workItems := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
	byID := make(map[[16]byte]*verdictWrite, n)
	for _, v := range batch {
		if byID[v.id] != nil {
			continue // a second verdict of one event: written alone after this one, it conflicts
		}
		byID[v.id] = v
		ids, ats = append(ids, v.id), append(ats, v.at)
		verdicts, reasons = append(verdicts, string(v.r.Verdict)), append(reasons, v.r.Reason)
		instances, workItems = append(instances, v.r.InstanceID), append(workItems, v.r.WorkItemID)
	}
	rs, err := s.db.Pool.Query(ctx, verdictsSQL, ids, verdicts, reasons, instances, workItems, ats)
	if err != nil {
		return
	}
	defer rs.Close()
	var saved []*verdictWrite
	for rs.Next() {
		var id [16]byte
		if err := rs.Scan(&id, nil); err != nil {
			return
		}
		if v := byID[id]; v != nil {
			saved = append(saved, v)
		}
	}
	rs.Close()
	if rs.Err() != nil {
		return
	}
	for _, v := range byID {
		v.written = true
	}
	for _, v := range saved {
		v.saved = true
	}
}
