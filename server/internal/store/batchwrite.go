package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/flowhook/flowhook/server/internal/engine"
)

// A batch in one statement (PostgreSQL).
//
// Written one notification after another, a batch of n costs about 4n statements, each a
// round trip that the next one waits for, and the batch's callers wait for all of them. On
// PostgreSQL, writeRows writes the whole batch in one statement, whatever n is, on its own
// (autocommit: one round trip in all). Its CTEs:
//
//   - d: the events not stored yet (the first of several deliveries in the batch);
//   - w: their work items updated, each only at the revision its result was decided on (of
//     several results for one work item, the first in the batch's order);
//   - e: those events inserted whose result checks no work item or whose work item w updated
//     (a plain INSERT: a delivery of the same event that another transaction commits
//     meanwhile fails the statement, and the batch is written again alone), an event stored
//     PENDING marked due for in-process processing (events.go) instead of given a job;
//   - a, n, i: the activities of the events inserted, counted per instance, and the
//     instances' counters moved on by that count;
//   - acts: the activities inserted, numbered from the counters (an instance that no longer
//     exists leaves its activities without a number: the NOT NULL fails the statement).
//
// So the statement commits all of a notification's writes or none, and a result decided on a
// revision that is no longer current writes nothing: its caller gets ErrConflict and reads
// again. A redelivery (of an event stored earlier, or earlier in the batch) applies nothing;
// a redelivery of an event that conflicted in the batch gets the conflict too (alone, it
// would have been stored and checked in its turn). The statement's text is the same for any
// n (the rows travel as arrays), so pgx prepares it once per connection. Any error returns
// errBatch: the batch is written again one notification at a time.
//
// The parts a batch does not need are left out of its statement: a batch with no work item to
// update has no w, one with no activities no a, n, i or acts. A part with no rows still costs
// PostgreSQL what its plan opens and locks (the instances' 14 indexes and the activities' for
// i and acts, the work items' for w): about 0.2 ms of its CPU a batch of four callbacks stored
// PENDING, which need neither (OneSpan's: 0.50 → 0.30 ms a batch, measured on the backend's
// CPU). So there are four statements (writeBatchSQLs), each prepared once per connection.
//
// It runs on its own pool (DB.Batches), whose sessions plan it once, generically, without
// sequential scans, so every lookup must be one an index serves whatever the sizes: the updates
// find their rows through the primary key (id = ANY(…)) and lock them in that index scan's
// order, the same in every batch; the redelivery check is a subquery run for each row (OFFSET 0
// keeps PostgreSQL from making it a join), a probe of the unique (provider, dedupe_key) index,
// the only index whose leading column it can match twice (TestBatchPlanUsesIndexes).
var writeBatchSQLs = func() (out [4]string) {
	for parts := range out {
		out[parts] = writeBatchSQL(batchParts(parts))
	}
	return out
}()

// batchParts are the parts of writeBatchSQL a batch needs beside its events.
type batchParts uint8

const (
	partWorkItems  batchParts = 1 << iota // w: work items updated
	partActivities                        // a, n, i, acts: activities appended
)

// writeBatchSQL is the statement for a batch with parts: its parameters are the events'
// (eventRows.args), then the work items' (workItemUpdates.args) with partWorkItems, then the
// activities' and the instances' ids (activityRows.args and one uuid[]) with partActivities.
func writeBatchSQL(parts batchParts) string {
	var b strings.Builder
	b.WriteString(`WITH x AS (
  SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[],
    $7::bytea[], $8::jsonb[], $9::text[], $10::timestamptz[], $11::text[], $12::text[], $13::text[],
    $14::text[], $15::bigint[], $16::timestamptz[], $17::text[], $18::text[], $19::bigint[]) WITH ORDINALITY
    AS x(id, provider, dedupe_key, event_type, external_id, provider_time, body, headers, remote_addr,
      received_at, verdict, verdict_reason, instance_id, work_item_id, attempts, processed_at, trace_id,
      traceparent, size, ord)
), d AS (
  SELECT DISTINCT ON (x.provider, x.dedupe_key) x.* FROM x
  WHERE NOT EXISTS (SELECT 1 FROM webhook_events s WHERE s.provider = x.provider AND s.dedupe_key = x.dedupe_key OFFSET 0)
  ORDER BY x.provider, x.dedupe_key, x.ord
)`)
	next := 20 // the next parameter's number
	param := func(typ string) string {
		next++
		return fmt.Sprintf("$%d::%s", next-1, typ)
	}
	inserted := "FROM d"
	if parts&partWorkItems != 0 {
		eventID, id := param("uuid[]"), param("uuid[]")
		fmt.Fprintf(&b, `, w AS (
  UPDATE work_items AS w SET status = v.status, provider_status = v.provider_status, updated_at = v.updated_at,
    revision = w.revision + 1, outcome = COALESCE(v.outcome, w.outcome),
    last_event_at = COALESCE(v.last_event_at, w.last_event_at), resolved_at = COALESCE(v.resolved_at, w.resolved_at)
  FROM (SELECT DISTINCT ON (v.id) v.* FROM unnest(%s, %s, %s, %s, %s,
      %s, %s, %s, %s) WITH ORDINALITY
      AS v(event_id, id, revision, status, provider_status, updated_at, outcome, last_event_at, resolved_at, ord)
    WHERE v.event_id IN (SELECT id FROM d) ORDER BY v.id, v.ord) AS v
  WHERE w.id = ANY(%s) AND w.id = v.id AND w.revision = v.revision
  RETURNING v.event_id
)`, eventID, id, param("bigint[]"), param("text[]"), param("text[]"), param("timestamptz[]"), param("text[]"),
			param("timestamptz[]"), param("timestamptz[]"), id)
		inserted = fmt.Sprintf("FROM d WHERE d.id <> ALL(COALESCE(%s, '{}')) OR d.id IN (SELECT event_id FROM w)", eventID)
	}
	fmt.Fprintf(&b, `, e AS (
  INSERT INTO webhook_events (id, provider, dedupe_key, event_type, external_id, provider_time, body, headers,
    remote_addr, received_at, verdict, verdict_reason, instance_id, work_item_id, attempts, processed_at,
    trace_id, traceparent, size, due_at)
  SELECT d.id, d.provider, d.dedupe_key, d.event_type, d.external_id, d.provider_time, d.body, d.headers,
    d.remote_addr, d.received_at, d.verdict, d.verdict_reason, d.instance_id, d.work_item_id, d.attempts,
    d.processed_at, d.trace_id, d.traceparent, d.size, CASE WHEN d.verdict = 'PENDING' THEN d.received_at END
  %s
  RETURNING id
)`, inserted)
	if parts&partActivities != 0 {
		fmt.Fprintf(&b, `, a AS (
  SELECT y.* FROM unnest(%s, %s, %s, %s, %s, %s, %s,
    %s, %s, %s, %s, %s, %s, %s)
    AS y(event_id, id, instance_id, ord, kind, actor_id, from_state, to_state, transition_key,
      assignee_user_id, assignee_group_id, details, message, created_at)
  WHERE y.event_id IN (SELECT id FROM e)
), n AS (
  SELECT instance_id, count(*) AS n FROM a GROUP BY instance_id
), i AS (
  UPDATE instances AS i SET activity_seq = COALESCE(i.activity_seq, 0) + n.n
  FROM n WHERE i.id = ANY(%s) AND i.id = n.instance_id
  RETURNING i.id, i.activity_seq - n.n AS last
), acts AS (
  INSERT INTO activities (id, instance_id, seq, kind, actor_id, from_state, to_state, transition_key,
    assignee_user_id, assignee_group_id, details, message, created_at)
  SELECT a.id, a.instance_id, i.last + row_number() OVER (PARTITION BY a.instance_id ORDER BY a.ord), a.kind,
    a.actor_id, a.from_state, a.to_state, a.transition_key, a.assignee_user_id, a.assignee_group_id, a.details,
    a.message, a.created_at
  FROM a LEFT JOIN i ON i.id = a.instance_id
)`, param("uuid[]"), param("uuid[]"), param("uuid[]"), param("int[]"), param("text[]"), param("text[]"), param("text[]"),
			param("text[]"), param("text[]"), param("text[]"), param("text[]"), param("jsonb[]"), param("text[]"),
			param("timestamptz[]"), param("uuid[]"))
	}
	b.WriteString("\nSELECT 'd', id FROM d UNION ALL SELECT 'e', id FROM e")
	return b.String()
}

// writeRows writes batch (PostgreSQL) in one statement on its own, setting each
// notification's created and err; the events it stores PENDING it marks due (events.go), and
// once it has committed the queue processes them. Its error, always errBatch, asks for the
// batch to be written one notification at a time.
func (s *Store) writeRows(ctx context.Context, batch []*inbound) error {
	due, err := s.writeRowsOn(ctx, s.batches(), batch)
	if err != nil {
		return fmt.Errorf("%w: %w", errBatch, err)
	}
	s.committed(due)
	return nil
}

// writeRowsOn runs the batch's writeBatchSQL on one of on's sessions and returns the
// process_event jobs of the events it stored PENDING (and marked due), each with the event as
// stored and, for a callback that asked (readsOf), what was read for it with the write
// (callbackread.go).
func (s *Store) writeRowsOn(ctx context.Context, on side, batch []*inbound) ([]engine.Job, error) {
	var ev eventRows
	var wis workItemUpdates
	var acts activityRows
	instances := map[uuid.UUID]bool{}
	var order [][16]byte
	for _, in := range batch {
		in.created, in.err = false, nil
		if err := ev.add(in); err != nil {
			return nil, err
		}
		r := in.result
		if r == nil {
			continue
		}
		if moves(*r) {
			return nil, errors.New("a result that moves its instance in a batch")
		}
		if w := r.WorkItem; w != nil {
			if err := wis.add(in.id, w); err != nil {
				return nil, err
			}
		}
		if r.InstanceID == "" || len(r.Activities) == 0 {
			continue
		}
		iid, err := uuid.Parse(r.InstanceID)
		if err != nil {
			return nil, err
		}
		if !instances[iid] {
			instances[iid] = true
			order = append(order, iid)
		}
		for _, a := range r.Activities {
			if err := acts.add(in.id, iid, a); err != nil {
				return nil, err
			}
		}
	}
	var parts batchParts
	args := ev.args()
	if len(wis.id) > 0 {
		parts |= partWorkItems
		args = append(args, wis.args()...)
	}
	if len(acts.id) > 0 {
		parts |= partActivities
		args = append(append(args, acts.args()...), order)
	}
	query := writeBatchSQLs[parts]
	var (
		ids  map[string]map[uuid.UUID]bool
		read map[uuid.UUID]*engine.CallbackRead
		err  error
	)
	if reads := readsOf(batch); len(reads.id) > 0 && on.pool != nil {
		ids, read, err = writeAndRead(ctx, on.pool, query, args, reads)
	} else {
		ids, err = taggedIDs(on.statements().query(ctx, query, args...))
	}
	if err != nil {
		return nil, err
	}
	fresh, inserted := ids["d"], ids["e"]

	// A new event not inserted: its work item had moved on (or was updated for an earlier
	// result of the batch). A redelivery of it in the batch conflicts too.
	conflicted := map[string]bool{}
	var jobs []engine.Job
	for _, in := range batch {
		in.created = inserted[in.id]
		switch {
		case fresh[in.id] && !in.created:
			if in.result == nil || in.result.WorkItem == nil {
				return nil, fmt.Errorf("event %s was neither stored nor checked", in.id) // cannot happen
			}
			in.err = fmt.Errorf("%w: work item %s changed concurrently", engine.ErrConflict, in.result.WorkItemID)
			conflicted[dedupeOf(in)] = true
		case in.created && in.result == nil && in.ev.Verdict == engine.VerdictPending:
			stored := in.ev
			stored.ID = in.id.String()
			jobs = append(jobs, engine.ProcessEventJob{EventID: stored.ID, Event: &stored, Read: read[in.id]})
		}
	}
	for _, in := range batch {
		if !fresh[in.id] && conflicted[dedupeOf(in)] {
			in.err = fmt.Errorf("%w: a delivery of the same event changed concurrently", engine.ErrConflict)
		}
	}
	return jobs, nil
}

// taggedIDs reads the ids a statement returns with their tag ('d': new events, 'e': events
// inserted), by tag.
func taggedIDs(rows rows, err error) (map[string]map[uuid.UUID]bool, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ids := map[string]map[uuid.UUID]bool{"d": {}, "e": {}}
	for rows.Next() {
		var tag string
		var id uuid.UUID
		if err := rows.Scan(&tag, &id); err != nil {
			return nil, err
		}
		ids[tag][id] = true
	}
	return ids, rows.Err()
}

// dedupeOf is what makes two notifications the same event.
func dedupeOf(in *inbound) string {
	return in.ev.Event.System.String() + "\x00" + in.ev.Event.DedupeKey
}

// eventRows are a batch's events, column by column, as writeBatchSQL takes them. The
// values are eventCreate's and writeOne's. Ids travel as [16]byte, which pgx encodes
// directly: as uuid.UUID each went through its driver.Valuer's string and was parsed back
// (with the other reflective encodings, 13% of the server's CPU profile under ingest).
type eventRows struct {
	id                                                  [][16]byte
	provider, dedupeKey, eventType, externalID          []string
	providerTime, receivedAt, processedAt               []*time.Time
	body                                                [][]byte
	headers                                             []string
	remoteAddr, verdict, reason, instanceID, workItemID []string
	traceID, traceparent                                []string
	attempts, size                                      []int64
}

func (c *eventRows) add(in *inbound) error {
	ev := in.ev
	instanceID, workItemID, attempts := "", "", int64(0)
	var processed *time.Time
	if r := in.result; r != nil {
		ev.Verdict, ev.Reason = r.Verdict, r.Reason
		instanceID, workItemID, attempts = r.InstanceID, r.WorkItemID, 1
		t := now()
		processed = &t
	}
	headers, err := json.Marshal(ev.Headers)
	if err != nil {
		return err
	}
	if ev.Body == nil {
		ev.Body = []byte{}
	}
	var occurred *time.Time
	if !ev.Event.OccurredAt.IsZero() {
		t := dbTime(ev.Event.OccurredAt)
		occurred = &t
	}
	received := dbTime(ev.ReceivedAt)
	c.id = append(c.id, in.id)
	c.provider = append(c.provider, ev.Event.System.String())
	c.dedupeKey = append(c.dedupeKey, ev.Event.DedupeKey)
	c.eventType = append(c.eventType, ev.Event.Type)
	c.externalID = append(c.externalID, ev.Event.ExternalID)
	c.providerTime = append(c.providerTime, occurred)
	c.body = append(c.body, ev.Body)
	c.headers = append(c.headers, string(headers))
	c.remoteAddr = append(c.remoteAddr, ev.RemoteAddr)
	c.receivedAt = append(c.receivedAt, &received)
	c.verdict = append(c.verdict, string(ev.Verdict))
	c.reason = append(c.reason, ev.Reason)
	c.instanceID = append(c.instanceID, instanceID)
	c.workItemID = append(c.workItemID, workItemID)
	c.attempts = append(c.attempts, attempts)
	c.processedAt = append(c.processedAt, processed)
	c.traceID = append(c.traceID, ev.TraceID)
	c.traceparent = append(c.traceparent, ev.Traceparent)
	c.size = append(c.size, ev.Size)
	return nil
}

// row is the i-th event's values, in the order of args.
func (c *eventRows) row(i int) []any {
	return []any{c.id[i], c.provider[i], c.dedupeKey[i], c.eventType[i], c.externalID[i], c.providerTime[i], c.body[i],
		c.headers[i], c.remoteAddr[i], c.receivedAt[i], c.verdict[i], c.reason[i], c.instanceID[i], c.workItemID[i],
		c.attempts[i], c.processedAt[i], c.traceID[i], c.traceparent[i], c.size[i]}
}

func (c *eventRows) args() []any {
	return []any{c.id, c.provider, c.dedupeKey, c.eventType, c.externalID, c.providerTime, c.body, c.headers,
		c.remoteAddr, c.receivedAt, c.verdict, c.reason, c.instanceID, c.workItemID, c.attempts, c.processedAt,
		c.traceID, c.traceparent, c.size}
}

// workItemUpdates are the work items' updates, as writeBatchSQL takes them: each with the
// event whose result it is.
type workItemUpdates struct {
	eventID, id                        [][16]byte
	revision                           []int64
	status, providerStatus             []string
	updatedAt, lastEventAt, resolvedAt []*time.Time
	outcome                            []*string
}

func (c *workItemUpdates) add(eventID uuid.UUID, w *engine.WorkItem) error {
	id, err := uuid.Parse(w.ID)
	if err != nil {
		return err
	}
	updated := dbTime(w.UpdatedAt)
	var outcome *string
	if w.Outcome.Valid() {
		o := w.Outcome.String()
		outcome = &o
	}
	c.eventID = append(c.eventID, eventID)
	c.id = append(c.id, id)
	c.revision = append(c.revision, w.Revision)
	c.status = append(c.status, string(w.Status))
	c.providerStatus = append(c.providerStatus, w.ProviderStatus)
	c.updatedAt = append(c.updatedAt, &updated)
	c.outcome = append(c.outcome, outcome)
	c.lastEventAt = append(c.lastEventAt, dbTimePtr(w.LastEventAt))
	c.resolvedAt = append(c.resolvedAt, dbTimePtr(w.ResolvedAt))
	return nil
}

func (c *workItemUpdates) args() []any {
	return []any{c.eventID, c.id, c.revision, c.status, c.providerStatus, c.updatedAt, c.outcome, c.lastEventAt, c.resolvedAt}
}

// activityRows are the activities results append, as the one-statement writes take them: each
// with its event and its place among them (the statement numbers them from the instance's
// counter). The values are insertActivities'.
type activityRows struct {
	eventID, id, instanceID                          [][16]byte
	ord                                              []int32
	kind, actorID, fromState, toState, transitionKey []string
	assigneeUser, assigneeGroup, message             []string
	details                                          []*string
	createdAt                                        []time.Time
}

func (c *activityRows) add(eventID uuid.UUID, instanceID uuid.UUID, a engine.Activity) error {
	details, err := a.MarshalDetails()
	if err != nil {
		return err
	}
	var d *string
	if details != nil {
		s := string(details)
		d = &s
	}
	var user, group string
	if a.Assignee != nil {
		user, group = a.Assignee.UserID, a.Assignee.GroupID
	}
	c.eventID = append(c.eventID, eventID)
	c.id = append(c.id, uuid.Must(uuid.NewV7()))
	c.instanceID = append(c.instanceID, instanceID)
	c.ord = append(c.ord, int32(len(c.ord)))
	c.kind = append(c.kind, a.Kind.String())
	c.actorID = append(c.actorID, a.ActorID)
	c.fromState = append(c.fromState, a.FromState)
	c.toState = append(c.toState, a.ToState)
	c.transitionKey = append(c.transitionKey, a.TransitionKey)
	c.assigneeUser = append(c.assigneeUser, user)
	c.assigneeGroup = append(c.assigneeGroup, group)
	c.details = append(c.details, d)
	c.message = append(c.message, a.Message)
	c.createdAt = append(c.createdAt, dbTime(a.CreatedAt))
	return nil
}

func (c *activityRows) args() []any {
	return []any{c.eventID, c.id, c.instanceID, c.ord, c.kind, c.actorID, c.fromState, c.toState,
		c.transitionKey, c.assigneeUser, c.assigneeGroup, c.details, c.message, c.createdAt}
}

func dbTimePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := dbTime(*t)
	return &u
}
