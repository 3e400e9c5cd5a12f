package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowhook/flowhook/ent"
	"github.com/flowhook/flowhook/ent/instance"
	"github.com/flowhook/flowhook/ent/signeddocument"
	"github.com/flowhook/flowhook/ent/webhookevent"
	"github.com/flowhook/flowhook/ent/workitem"
	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/eventlog"
)

// applyEffects inserts the new work items and enqueues the jobs, in tx.
func (s *Store) applyEffects(ctx context.Context, tx txn, eff engine.Effects) error {
	jobs, creations, marked := createsDue(eff.Jobs, eff.NewWorkItems)
	if len(creations) > 0 && s.jobs == nil {
		return errors.New("store: background jobs are not configured")
	}
	var dueAt *time.Time
	if len(marked) > 0 {
		t := dbTime(now())
		dueAt = &t
	}
	for _, wi := range eff.NewWorkItems {
		iid, err := uuid.Parse(wi.InstanceID)
		if err != nil {
			return fmt.Errorf("work item %s: instance id: %w", wi.ID, err)
		}
		c := tx.WorkItem.Create()
		if marked[wi.ID] {
			c.SetCreateDueAt(*dueAt)
		}
		err = c.
			SetID(uuid.MustParse(wi.ID)).
			SetInstanceID(iid).
			SetStateKey(wi.StateKey).
			SetEnteredRevision(wi.EnteredRevision).
			SetProvider(wi.System.String()).
			SetStatus(workitem.Status(wi.Status)).
			SetTraceparent(wi.Traceparent).
			SetCreatedAt(dbTime(wi.CreatedAt)).
			SetUpdatedAt(dbTime(wi.UpdatedAt)).
			Exec(ctx)
		if err != nil {
			return err
		}
	}
	for _, wi := range eff.RetriedWorkItems {
		wid, err := uuid.Parse(wi.ID)
		if err != nil {
			return fmt.Errorf("work item id: %w", err)
		}
		// Only from FAILED at the revision read: of two racing retries, one reopens it.
		n, err := tx.WorkItem.Update().Where(workitem.ID(wid), workitem.StatusEQ(workitem.StatusFAILED), workitem.Revision(wi.Revision)).
			SetStatus(workitem.StatusCREATING).SetEnteredRevision(wi.EnteredRevision).SetError("").
			SetUpdatedAt(dbTime(wi.UpdatedAt)).AddRevision(1).Save(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: work item %s changed concurrently; read the instance again", engine.ErrConflict, wi.ID)
		}
	}
	for _, wi := range eff.ExpiredWorkItems {
		wid, err := uuid.Parse(wi.ID)
		if err != nil {
			return fmt.Errorf("work item id: %w", err)
		}
		// Only while WAITING at the revision read: an outcome that landed first wins.
		u := tx.WorkItem.Update().Where(workitem.ID(wid), workitem.StatusEQ(workitem.StatusWAITING), workitem.Revision(wi.Revision)).
			SetStatus(workitem.StatusEXPIRED).SetOutcome(wi.Outcome.String()).SetUpdatedAt(dbTime(wi.UpdatedAt)).AddRevision(1)
		if wi.ResolvedAt != nil {
			u.SetResolvedAt(dbTime(*wi.ResolvedAt))
		}
		n, err := u.Save(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: work item %s changed concurrently; read the instance again", engine.ErrConflict, wi.ID)
		}
	}
	if err := s.enqueue(ctx, tx, jobs); err != nil {
		return err
	}
	if tx.enqueued != nil {
		*tx.enqueued = append(*tx.enqueued, creations...)
	}
	return nil
}

func (s *Store) CurrentWorkItem(ctx context.Context, instanceID string) (engine.WorkItem, error) {
	iid, err := parseID("instance", instanceID)
	if err != nil {
		return engine.WorkItem{}, err
	}
	row, err := s.db.Client.WorkItem.Query().Where(workitem.InstanceID(iid)).
		Order(workitem.ByCreatedAt(entsql.OrderDesc()), workitem.ByID(entsql.OrderDesc())).First(ctx)
	if err != nil {
		if ent.IsNotFound(err) {
			return engine.WorkItem{}, fmt.Errorf("%w: instance %s has no work item", engine.ErrNotFound, instanceID)
		}
		return engine.WorkItem{}, translate(err)
	}
	return workItemFromRow(row), nil
}

func (s *Store) GetWorkItem(ctx context.Context, id string) (engine.WorkItem, error) {
	wid, err := parseID("work item", id)
	if err != nil {
		return engine.WorkItem{}, err
	}
	row, err := s.db.Client.WorkItem.Get(ctx, wid)
	if err != nil {
		if ent.IsNotFound(err) {
			return engine.WorkItem{}, fmt.Errorf("%w: work item %s", engine.ErrNotFound, id)
		}
		return engine.WorkItem{}, translate(err)
	}
	return workItemFromRow(row), nil
}

func workItemFromRow(r *ent.WorkItem) engine.WorkItem {
	var o engine.Outcome
	_ = o.UnmarshalText([]byte(r.Outcome))
	wi := engine.WorkItem{
		ID:              r.ID.String(),
		InstanceID:      r.InstanceID.String(),
		StateKey:        r.StateKey,
		EnteredRevision: r.EnteredRevision,
		System:          engine.ParseSystem(r.Provider),
		Status:          engine.WorkItemStatus(r.Status),
		ProviderStatus:  r.ProviderStatus,
		Outcome:         o,
		Error:           r.Error,
		LastEventAt:     r.LastEventAt,
		Traceparent:     r.Traceparent,
		CreatedAt:       r.CreatedAt,
		UpdatedAt:       r.UpdatedAt,
		ResolvedAt:      r.ResolvedAt,
		Revision:        r.Revision,
	}
	if r.ExternalID != nil {
		wi.ExternalID = *r.ExternalID
	}
	return wi
}

var _ engine.WorkStore = (*Store)(nil)

func (s *Store) WorkItemByExternal(ctx context.Context, p engine.System, externalID string) (engine.WorkItem, error) {
	row, err := s.workItemByExternal(ctx, p, externalID)
	if err != nil {
		return engine.WorkItem{}, err
	}
	return workItemFromRow(row), nil
}

func (s *Store) CoupleWorkItem(ctx context.Context, id, externalID string, act engine.Activity) (engine.Coupled, error) {
	wid, err := parseID("work item", id)
	if err != nil {
		return engine.Coupled{}, err
	}
	var out engine.Coupled
	written := false
	if s.db.Dialect == Postgres {
		out, written, err = s.coupleAlone(ctx, wid, externalID, act)
	}
	if !written && err == nil {
		// SQLite; or the statement wrote nothing: the work item is no longer CREATING, or an
		// ORPHANED event waits for the id, which the transaction picks up with its Event Log.
		err = s.inTx(ctx, func(tx txn) error {
			row, err := coupleRow(ctx, tx, wid, externalID)
			if err != nil {
				return err
			}
			// The instance shows the coupled id (Workflow Manage filters on it; not a revision
			// of the instance's own), in the statement that numbers the coupling's activity.
			// Only while the instance is still in the step this work item was made for: a late
			// coupling of an abandoned one does not take the current step's id.
			inst, err := bumpActivitySeq(ctx, tx, row.InstanceID, 1, func(u *entsql.UpdateBuilder) {
				u.Set(instance.FieldExternalID, entsql.ExprFunc(func(b *entsql.Builder) {
					b.WriteString("CASE WHEN ").Ident(instance.FieldRevision).WriteString(" = ").Arg(row.EnteredRevision).
						WriteString(" THEN ").Arg(externalID).WriteString(" ELSE ").Ident(instance.FieldExternalID).WriteString(" END")
				}))
			})
			if err != nil {
				return err
			}
			if err := insertActivities(ctx, tx, row.InstanceID, inst.seq-1, []engine.Activity{act}); err != nil {
				return err
			}
			if err := s.pickUpEarly(ctx, tx, row, externalID); err != nil {
				return err
			}
			out, err = inst.coupled(row)
			return err
		})
	}
	if err != nil && (isUniqueViolation(err) || ent.IsConstraintError(err)) {
		return engine.Coupled{}, fmt.Errorf("%w: %s", engine.ErrExternalIDTaken, externalID)
	}
	return out, translate(err)
}

// coupleSQL is CoupleWorkItem in one statement (PostgreSQL), for a work item whose early
// events, if any, are all PENDING (the common case: a provider that posts its first
// notification as it creates the item, before our coupling commits). Its CTEs:
//
//   - l: the events already stored for the id, PENDING or ORPHANED, locked, as pickUpEarly's
//     query locks them (a job deciding one ORPHANED right now either committed first, and l
//     reads it ORPHANED, or waits for this statement and then finds the work item coupled);
//   - w: the work item coupled (WAITING, its creation no longer due), if it is still CREATING
//     and no ORPHANED event waits for the id (the transaction picks those up, with a step in
//     their Event Log);
//   - i: the instance's activity counter moved on and its external id set; it returns the
//     instance's status, revision and reason, which say whether it moved on meanwhile;
//   - acts: the coupling's activity, numbered from the counter;
//   - e: the PENDING events not marked due (handed to their job meanwhile) marked due again;
//     one still marked keeps its mark rather than gain a second version of its row;
//
// and it returns a row per PENDING event, as l locked it, with its mark (one row of NULLs
// there when there is none), for the queue to process each once this commits without
// reading it again.
//
// It writes everything or nothing; nothing when w coupled nothing, and CoupleWorkItem then
// runs the transaction, which says why (ErrConflict) or picks up the ORPHANED events.
const coupleSQL = `WITH l AS (
  SELECT {l} FROM webhook_events AS e
  WHERE e.provider = (SELECT p.provider FROM work_items AS p WHERE p.id = $1::uuid) AND e.external_id = $2::text
    AND e.verdict IN ('PENDING', 'ORPHANED')
  FOR UPDATE OF e
), w AS (
  UPDATE work_items AS w SET external_id = $2::text, status = 'WAITING', create_due_at = NULL,
    updated_at = $3::timestamptz, revision = w.revision + 1
  WHERE w.id = $1::uuid AND w.status = 'CREATING' AND NOT EXISTS (SELECT 1 FROM l WHERE l.verdict = 'ORPHANED')
  RETURNING {w}
), i AS (
  UPDATE instances AS i SET activity_seq = i.activity_seq + 1,
    external_id = CASE WHEN i.revision = w.entered_revision THEN $2::text ELSE i.external_id END
  FROM w WHERE i.id = w.instance_id
  RETURNING i.activity_seq, i.status, i.revision, i.reason
), acts AS (
  INSERT INTO activities (id, instance_id, seq, kind, actor_id, from_state, to_state, transition_key,
    assignee_user_id, assignee_group_id, details, message, created_at)
  SELECT $4::uuid, w.instance_id, i.activity_seq, $5::text, $6::text, $7::text, $8::text, $9::text,
    $10::text, $11::text, $12::jsonb, $13::text, $14::timestamptz
  FROM w CROSS JOIN i
), e AS (
  UPDATE webhook_events AS e SET due_at = $3::timestamptz FROM l
  WHERE e.id = l.id AND l.verdict = 'PENDING' AND e.verdict = 'PENDING' AND e.due_at IS NULL AND EXISTS (SELECT 1 FROM i)
  RETURNING e.id, e.due_at
)
SELECT {w}, i.status, i.revision, i.reason, {p}
FROM w CROSS JOIN i LEFT JOIN l ON l.verdict = 'PENDING' LEFT JOIN e ON e.id = l.id
ORDER BY l.id`

var coupleStatement = strings.NewReplacer(
	"{w}", columnList("w", workitem.Columns),
	"{l}", columnList("e", webhookevent.Columns),
	"{p}", pendingColumns("l", "e"),
).Replace(coupleSQL)

// pendingColumns lists the columns of a PENDING event the coupling read and locked (alias l),
// as the coupling leaves it (its mark from e when it set one), for the queue to process it
// without reading it again. A coupling with no such event has one row, of NULLs there: each
// column reads then as its Go field's zero value (the id as the nil UUID), except those that
// are pointers in ent.WebhookEvent.
func pendingColumns(l, e string) string {
	zero := map[string]string{
		webhookevent.FieldID: "'00000000-0000-0000-0000-000000000000'::uuid", webhookevent.FieldBody: "''::bytea",
		webhookevent.FieldHeaders: "'{}'::jsonb", webhookevent.FieldReceivedAt: "'epoch'::timestamptz",
		webhookevent.FieldAttempts: "0", webhookevent.FieldSize: "0",
	}
	out := make([]string, len(webhookevent.Columns))
	for i, c := range webhookevent.Columns {
		switch c {
		case webhookevent.FieldProviderTime, webhookevent.FieldProcessedAt:
			out[i] = l + `."` + c + `"`
		case webhookevent.FieldDueAt:
			out[i] = `COALESCE(` + e + `."` + c + `", ` + l + `."` + c + `")`
		default:
			z, ok := zero[c]
			if !ok {
				z = "''"
			}
			out[i] = `COALESCE(` + l + `."` + c + `", ` + z + `)`
		}
	}
	return strings.Join(out, ", ")
}

// webhookEventColumns maps each column of webhook_events to where it scans into e.
func webhookEventColumns(e *ent.WebhookEvent) map[string]any {
	return map[string]any{
		webhookevent.FieldID: &e.ID, webhookevent.FieldProvider: &e.Provider, webhookevent.FieldDedupeKey: &e.DedupeKey,
		webhookevent.FieldEventType: &e.EventType, webhookevent.FieldExternalID: &e.ExternalID,
		webhookevent.FieldProviderTime: &e.ProviderTime, webhookevent.FieldBody: &e.Body, webhookevent.FieldHeaders: &e.Headers,
		webhookevent.FieldRemoteAddr: &e.RemoteAddr, webhookevent.FieldReceivedAt: &e.ReceivedAt,
		webhookevent.FieldVerdict: &e.Verdict, webhookevent.FieldVerdictReason: &e.VerdictReason,
		webhookevent.FieldInstanceID: &e.InstanceID, webhookevent.FieldWorkItemID: &e.WorkItemID,
		webhookevent.FieldAttempts: &e.Attempts, webhookevent.FieldProcessedAt: &e.ProcessedAt,
		webhookevent.FieldTraceID: &e.TraceID, webhookevent.FieldTraceparent: &e.Traceparent,
		webhookevent.FieldSize: &e.Size, webhookevent.FieldDueAt: &e.DueAt,
	}
}

// coupleAlone runs coupleSQL on the writes pool on its own (autocommit): written says it
// coupled the work item, and the queue is told of the early events it picked up, each with
// its content.
func (s *Store) coupleAlone(ctx context.Context, wid uuid.UUID, externalID string, act engine.Activity) (engine.Coupled, bool, error) {
	var acts activityRows
	if err := acts.add(uuid.Nil, uuid.Nil, act); err != nil {
		return engine.Coupled{}, false, err
	}
	at := dbTime(now())
	var (
		row  ent.WorkItem
		inst bumped
		ev   ent.WebhookEvent
	)
	dest := append(inOrder(workItemColumns(&row), workitem.Columns), &inst.status, &inst.revision, &inst.reason)
	dest = append(dest, inOrder(webhookEventColumns(&ev), webhookevent.Columns)...)
	written := false
	var jobs []engine.Job
	read := func(r rows) ([]engine.Job, error) {
		written, jobs = false, nil
		for r.Next() {
			ev = ent.WebhookEvent{}
			if err := r.Scan(dest...); err != nil {
				return nil, err
			}
			written = true
			if ev.ID != uuid.Nil {
				// The event as the coupling locked it and left it: processing need not read it.
				stored := eventFromRow(&ev)
				jobs = append(jobs, engine.ProcessEventJob{EventID: stored.ID, Event: &stored})
			}
		}
		return nil, nil
	}
	err := s.writeStatement(ctx, s.writes(), false, oneStatement{query: coupleStatement, read: read,
		args: []any{[16]byte(wid), externalID, at, acts.id[0], acts.kind[0], acts.actorID[0], acts.fromState[0],
			acts.toState[0], acts.transitionKey[0], acts.assigneeUser[0], acts.assigneeGroup[0], acts.details[0],
			acts.message[0], acts.createdAt[0]}})
	// Written, the statement has committed (its end is read): only then may the queue see them.
	if err != nil {
		return engine.Coupled{}, false, err
	}
	if !written {
		return engine.Coupled{}, false, nil
	}
	s.committed(jobs)
	out, err := inst.coupled(&row)
	return out, true, err
}

// columnList lists columns as alias."column", in order.
func columnList(alias string, columns []string) string {
	out := make([]string, len(columns))
	for i, c := range columns {
		out[i] = alias + `."` + c + `"`
	}
	return strings.Join(out, ", ")
}

// coupleRow couples a CREATING work item to externalID (WAITING, its creation no longer due)
// and returns it as written, in one statement; ErrConflict when it is no longer CREATING.
func coupleRow(ctx context.Context, tx txn, wid uuid.UUID, externalID string) (*ent.WorkItem, error) {
	query, args := entsql.Dialect(tx.dialect).Update(workitem.Table).
		Set(workitem.FieldExternalID, externalID).Set(workitem.FieldStatus, workitem.StatusWAITING.String()).
		SetNull(workitem.FieldCreateDueAt).Set(workitem.FieldUpdatedAt, now()).Add(workitem.FieldRevision, 1).
		Where(entsql.And(entsql.EQ(workitem.FieldID, wid), entsql.EQ(workitem.FieldStatus, workitem.StatusCREATING.String()))).
		Returning(workitem.Columns...).Query()
	var w ent.WorkItem
	if err := tx.sql.QueryRowContext(ctx, query, args...).Scan(inOrder(workItemColumns(&w), workitem.Columns)...); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("%w: work item %s is no longer being created", engine.ErrConflict, wid)
		}
		return nil, err
	}
	return &w, nil
}

// pickUpEarly enqueues, in the coupling's transaction, the processing of every event that
// arrived for the id before the coupling: PENDING ones wait for their job's next try, and
// ORPHANED ones waited out the early-event window (a replica died between the provider's
// answer and the coupling, and the create job's retry found the item only later). An ORPHANED
// one is PENDING again, with a step in its Event Log saying why; processing then decides it as
// any event, so a duplicate or a stale one still changes nothing.
func (s *Store) pickUpEarly(ctx context.Context, tx txn, wi *ent.WorkItem, externalID string) error {
	q := tx.WebhookEvent.Query().Where(webhookevent.Provider(wi.Provider), webhookevent.ExternalID(externalID),
		webhookevent.VerdictIn(webhookevent.VerdictPENDING, webhookevent.VerdictORPHANED)).
		Order(webhookevent.ByID())
	if tx.locks {
		// A job deciding one of them ORPHANED right now (it read before this coupling) either
		// committed first, and this reads it ORPHANED once its lock goes, or waits for this
		// commit and then sees the work item (FinishEvent).
		q = q.ForUpdate()
	}
	early, err := q.Select(webhookevent.FieldID, webhookevent.FieldVerdict, webhookevent.FieldVerdictReason).All(ctx)
	if err != nil {
		return err
	}
	jobs := make([]engine.Job, 0, len(early))
	at := now()
	for _, e := range early {
		jobs = append(jobs, engine.ProcessEventJob{EventID: e.ID.String()})
		if e.Verdict != webhookevent.VerdictORPHANED {
			continue
		}
		n, err := tx.WebhookEvent.Update().Where(webhookevent.ID(e.ID), webhookevent.VerdictEQ(webhookevent.VerdictORPHANED)).
			SetVerdict(webhookevent.VerdictPENDING).SetVerdictReason(fmt.Sprintf("picked up again when work item %s was coupled", wi.ID)).
			ClearProcessedAt().Save(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: event %s changed while work item %s was coupled", engine.ErrConflict, e.ID, wi.ID)
		}
		step := eventlog.Entry{ID: engine.NewIDAt(at), Step: eventlog.StepReplayed, At: at,
			Message: fmt.Sprintf("picked up again when work item %s was coupled to %s %s; it was ORPHANED%s",
				wi.ID, wi.Provider, externalID, reasonSuffix(e.VerdictReason))}
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			step.TraceID, step.SpanID = sc.TraceID().String(), sc.SpanID().String()
		}
		if err := appendEventLog(ctx, tx.Client, e.ID, []eventlog.Entry{step}); err != nil {
			return err
		}
	}
	return s.enqueue(ctx, tx, jobs)
}

// reasonSuffix is " (reason)", or "" without one.
func reasonSuffix(reason string) string {
	if reason == "" {
		return ""
	}
	return " (" + reason + ")"
}

func (s *Store) FailWorkItem(ctx context.Context, id, reason string, act engine.Activity) error {
	wid, err := parseID("work item", id)
	if err != nil {
		return err
	}
	return translate(s.inTx(ctx, func(tx txn) error {
		row, err := tx.WorkItem.Get(ctx, wid)
		if err != nil {
			return err
		}
		// Only a work item still being created fails: one a racing attempt coupled stays.
		n, err := tx.WorkItem.Update().Where(workitem.ID(wid), workitem.StatusEQ(workitem.StatusCREATING), workitem.Revision(row.Revision)).
			SetStatus(workitem.StatusFAILED).SetError(reason).ClearCreateDueAt().SetUpdatedAt(now()).AddRevision(1).Save(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: work item %s is no longer being created", engine.ErrConflict, id)
		}
		// The instance fails only if it still waits on this work item.
		n, err = tx.Instance.Update().Where(instance.ID(row.InstanceID), instance.Revision(row.EnteredRevision),
			instance.StatusEQ(instance.StatusWAITING_EXTERNAL)).
			SetStatus(instance.StatusFAILED).SetReason(reason).SetEndedAt(now()).SetUpdatedAt(now()).AddRevision(1).Save(ctx)
		if err != nil || n == 0 {
			return err
		}
		return appendActivities(ctx, tx, row.InstanceID, []engine.Activity{act})
	}))
}

func (s *Store) CloseWorkItem(ctx context.Context, id string, status engine.WorkItemStatus, note string, act *engine.Activity) error {
	wid, err := parseID("work item", id)
	if err != nil {
		return err
	}
	return translate(s.inTx(ctx, func(tx txn) error {
		row, err := tx.WorkItem.Get(ctx, wid)
		if err != nil {
			return err
		}
		if err := tx.WorkItem.UpdateOneID(wid).SetStatus(workitem.Status(status)).SetError(note).ClearCreateDueAt().
			SetUpdatedAt(now()).AddRevision(1).Exec(ctx); err != nil {
			return err
		}
		if act == nil {
			return nil
		}
		return appendActivities(ctx, tx, row.InstanceID, []engine.Activity{*act})
	}))
}

// appendActivities adds activities after the instance's last one. One statement increases
// the instance's activity counter and returns it: it locks the instance's row too, so that
// appends to one instance from concurrent transactions (a cancellation and a progress webhook,
// say) take turns instead of numbering two activities alike and one failing on the unique
// (instance, seq).
func appendActivities(ctx context.Context, tx txn, instanceID uuid.UUID, acts []engine.Activity) error {
	if len(acts) == 0 {
		return nil
	}
	inst, err := bumpActivitySeq(ctx, tx, instanceID, len(acts))
	if err != nil {
		return err
	}
	return insertActivities(ctx, tx, instanceID, inst.seq-int64(len(acts)), acts)
}

// bumped is an instance as bumpActivitySeq left it: its activity counter's new value, and its
// status, revision and reason.
type bumped struct {
	seq      int64
	status   string
	revision int64
	reason   string
}

// coupled is a coupling's result: the work item as written and this, its instance.
func (b bumped) coupled(row *ent.WorkItem) (engine.Coupled, error) {
	status, err := engine.ParseStatus(b.status)
	if err != nil {
		return engine.Coupled{}, err
	}
	return engine.Coupled{WorkItem: workItemFromRow(row), InstanceStatus: status, InstanceRevision: b.revision,
		InstanceReason: b.reason}, nil
}

// bumpActivitySeq adds n to the instance's activity counter and returns its new value with the
// instance's status, revision and reason; also sets more of the instance's columns in the same
// statement.
func bumpActivitySeq(ctx context.Context, tx txn, instanceID uuid.UUID, n int, also ...func(*entsql.UpdateBuilder)) (bumped, error) {
	u := entsql.Dialect(tx.dialect).Update(instance.Table).Add(instance.FieldActivitySeq, n)
	for _, set := range also {
		set(u)
	}
	query, args := u.Where(entsql.EQ(instance.FieldID, instanceID)).
		Returning(instance.FieldActivitySeq, instance.FieldStatus, instance.FieldRevision, instance.FieldReason).Query()
	var b bumped
	if err := tx.sql.QueryRowContext(ctx, query, args...).Scan(&b.seq, &b.status, &b.revision, &b.reason); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return bumped{}, fmt.Errorf("%w: instance %s", engine.ErrNotFound, instanceID)
		}
		return bumped{}, err
	}
	return b, nil
}

func (s *Store) InsertEvent(ctx context.Context, ev engine.StoredEvent) (engine.StoredEvent, bool, error) {
	id, created, err := s.writeInbound(ctx, ev, nil)
	if err != nil {
		return engine.StoredEvent{}, false, translate(err)
	}
	if created {
		ev.ID = id.String()
		return ev, true, nil
	}
	return s.eventByKey(ctx, ev)
}

// eventCreate is the insert of an inbox row.
func eventCreate(tx txn, id uuid.UUID, ev engine.StoredEvent) *ent.WebhookEventCreate {
	if ev.Body == nil {
		ev.Body = []byte{} // a rejected request whose body was never read
	}
	c := tx.WebhookEvent.Create().
		SetID(id).
		SetProvider(ev.Event.System.String()).
		SetDedupeKey(ev.Event.DedupeKey).
		SetEventType(ev.Event.Type).
		SetExternalID(ev.Event.ExternalID).
		SetBody(ev.Body).
		SetHeaders(ev.Headers).
		SetRemoteAddr(ev.RemoteAddr).
		SetReceivedAt(dbTime(ev.ReceivedAt)).
		SetVerdict(webhookevent.Verdict(ev.Verdict)).
		SetVerdictReason(ev.Reason).
		SetTraceID(ev.TraceID).
		SetTraceparent(ev.Traceparent).
		SetSize(ev.Size)
	if !ev.Event.OccurredAt.IsZero() {
		c.SetProviderTime(dbTime(ev.Event.OccurredAt))
	}
	return c
}

// eventByKey returns the stored event a redelivery duplicates.
func (s *Store) eventByKey(ctx context.Context, ev engine.StoredEvent) (engine.StoredEvent, bool, error) {
	row, err := s.db.Client.WebhookEvent.Query().Where(webhookevent.Provider(ev.Event.System.String()),
		webhookevent.DedupeKey(ev.Event.DedupeKey)).Only(ctx)
	if err != nil {
		return engine.StoredEvent{}, false, translate(err)
	}
	return eventFromRow(row), false, nil
}

func (s *Store) GetEvent(ctx context.Context, id string) (engine.StoredEvent, error) {
	eid, err := parseID("event", id)
	if err != nil {
		return engine.StoredEvent{}, err
	}
	row, err := s.db.Client.WebhookEvent.Get(ctx, eid)
	if err != nil {
		if ent.IsNotFound(err) {
			return engine.StoredEvent{}, fmt.Errorf("%w: event %s", engine.ErrNotFound, id)
		}
		return engine.StoredEvent{}, translate(err)
	}
	return eventFromRow(row), nil
}

func (s *Store) FinishEvent(ctx context.Context, r engine.EventResult) error {
	eid, err := parseID("event", r.EventID)
	if err != nil {
		return err
	}
	if s.db.Dialect == Postgres && finishable(r) {
		// One statement (transitionwrite.go); one it could not write goes the long way.
		if err := s.finishTransition(ctx, eid, r); !errors.Is(err, errNotWritten) {
			return translate(err)
		}
	}
	verdict := func(c *ent.Client) error {
		n, err := c.WebhookEvent.Update().Where(webhookevent.ID(eid), webhookevent.VerdictEQ(webhookevent.VerdictPENDING)).
			SetVerdict(webhookevent.Verdict(r.Verdict)).SetVerdictReason(r.Reason).
			SetInstanceID(r.InstanceID).SetWorkItemID(r.WorkItemID).
			SetProcessedAt(now()).AddAttempts(1).ClearDueAt().Save(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: event %s was processed concurrently", engine.ErrConflict, r.EventID)
		}
		return nil
	}
	if verdictOnly(r) {
		// Nothing but the event's own row: one statement, no transaction around it (a
		// duplicate, a stale event, a callback its system did not confirm); on PostgreSQL
		// through pgx itself, on the main pool. (Through the writes pool's pipeline it cost
		// PostgreSQL more, and unconfirmed callbacks were processed slower than they came.)
		if s.db.Dialect != Postgres {
			return translate(verdict(s.db.Client))
		}
		return translate(s.finishVerdict(ctx, eid, r))
	}
	return translate(s.inTx(ctx, func(tx txn) error {
		if err := verdict(tx.Client); err != nil {
			return err
		}
		if r.Verdict == engine.VerdictOrphaned {
			// Its work item may have been coupled since it was looked for: the coupling
			// either saw this event PENDING (and its job is enqueued) or waited for this row
			// (PostgreSQL), and then committed before this reads. Read again rather than
			// strand it.
			ev, err := tx.WebhookEvent.Query().Where(webhookevent.ID(eid)).
				Select(webhookevent.FieldProvider, webhookevent.FieldExternalID).Only(ctx)
			if err != nil {
				return err
			}
			coupled, err := tx.WorkItem.Query().Where(workitem.Provider(ev.Provider), workitem.ExternalID(ev.ExternalID)).Exist(ctx)
			if err != nil {
				return err
			}
			if coupled {
				return fmt.Errorf("%w: work item for %s %s was coupled meanwhile", engine.ErrConflict, ev.Provider, ev.ExternalID)
			}
		}
		return s.applyResult(ctx, tx, r)
	}))
}

// finishable says whether finishTransition can write r: a result that writes its work item
// and its instance's activities (moving the instance or not: an outcome, a progress), with no
// effects but jobs. An ORPHANED one is checked against a racing coupling first.
func finishable(r engine.EventResult) bool {
	return r.WorkItem != nil && r.InstanceID != "" && onlyJobs(r.Effects) && r.Verdict != engine.VerdictOrphaned
}

// verdictOnly says whether r writes nothing but its event's verdict: no work item, instance,
// activity or effect (a duplicate, a stale event, a callback its system did not confirm). An
// ORPHANED one is checked against a racing coupling first.
func verdictOnly(r engine.EventResult) bool {
	return r.WorkItem == nil && r.Instance == nil && len(r.Activities) == 0 && onlyJobs(r.Effects) &&
		len(r.Effects.Jobs) == 0 && r.Verdict != engine.VerdictOrphaned
}

func (s *Store) InsertEventApplied(ctx context.Context, ev engine.StoredEvent, r engine.EventResult) (engine.StoredEvent, bool, error) {
	id, created, err := s.writeInbound(ctx, ev, &r)
	if err != nil {
		return engine.StoredEvent{}, false, translate(err)
	}
	if created {
		ev.ID, ev.InstanceID, ev.WorkItemID = id.String(), r.InstanceID, r.WorkItemID
		ev.Verdict, ev.Reason = r.Verdict, r.Reason
		return ev, true, nil
	}
	return s.eventByKey(ctx, ev)
}

// applyResult writes what processing an event decided: the work item and instance (each only
// if still at the revision read), the activities and the effects.
func (s *Store) applyResult(ctx context.Context, tx txn, r engine.EventResult) error {
	if err := updateWorkItem(ctx, tx, r.WorkItem); err != nil {
		return err
	}
	return s.applyRest(ctx, tx, r)
}

// updateWorkItem saves a result's work item when it is still at the revision read.
func updateWorkItem(ctx context.Context, tx txn, w *engine.WorkItem) error {
	if w == nil {
		return nil
	}
	u := tx.WorkItem.Update().Where(workitem.ID(uuid.MustParse(w.ID)), workitem.Revision(w.Revision)).
		SetStatus(workitem.Status(w.Status)).SetProviderStatus(w.ProviderStatus).
		SetUpdatedAt(dbTime(w.UpdatedAt)).AddRevision(1)
	if w.Outcome.Valid() {
		u.SetOutcome(w.Outcome.String())
	}
	if w.LastEventAt != nil {
		u.SetLastEventAt(dbTime(*w.LastEventAt))
	}
	if w.ResolvedAt != nil {
		u.SetResolvedAt(dbTime(*w.ResolvedAt))
	}
	n, err := u.Save(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w: work item %s changed concurrently", engine.ErrConflict, w.ID)
	}
	return nil
}

// applyRest writes a result but its work item: the instance (only if still at the revision
// read), the activities and the effects.
func (s *Store) applyRest(ctx context.Context, tx txn, r engine.EventResult) error {
	if r.InstanceID == "" {
		return s.applyEffects(ctx, tx, r.Effects)
	}
	iid, err := uuid.Parse(r.InstanceID)
	if err != nil {
		return err
	}
	if r.Instance != nil {
		err = updateInstance(ctx, tx, iid, *r.Instance, r.InstanceRevision, r.Activities)
	} else {
		err = appendActivities(ctx, tx, iid, r.Activities)
	}
	if err != nil {
		return err
	}
	return s.applyEffects(ctx, tx, r.Effects)
}

func eventFromRow(r *ent.WebhookEvent) engine.StoredEvent {
	ev := engine.StoredEvent{
		ID:    r.ID.String(),
		Event: engine.InboundEvent{System: engine.ParseSystem(r.Provider), Type: r.EventType, ExternalID: r.ExternalID, DedupeKey: r.DedupeKey},
		Body:  r.Body, Headers: r.Headers, RemoteAddr: r.RemoteAddr, ReceivedAt: r.ReceivedAt,
		Verdict: engine.Verdict(r.Verdict), Reason: r.VerdictReason, InstanceID: r.InstanceID,
		WorkItemID: r.WorkItemID, Attempts: r.Attempts, TraceID: r.TraceID,
		Traceparent: r.Traceparent, Size: r.Size, ProcessedAt: r.ProcessedAt, FromInbox: true,
	}
	if r.ProviderTime != nil {
		ev.Event.OccurredAt = *r.ProviderTime
	}
	return ev
}

// LatestSignedDocument is the document of the instance's newest work item that has one or will
// have one (ids are UUIDv7: they sort by creation), not the latest saved: an earlier step's
// fetch may be late and save after a later one's. While that work item's document is still due
// there is none (ErrNotFound), not an earlier step's, which it supersedes (two signature steps:
// the first's is not the signed document once the second has finished). A later work item
// that keeps no document (a connector's, a declined envelope, a provider that returned none)
// leaves the earlier one the instance's signed document.
func (s *Store) LatestSignedDocument(ctx context.Context, instanceID string) (engine.SignedDocument, error) {
	iid, err := parseID("instance", instanceID)
	if err != nil {
		return engine.SignedDocument{}, err
	}
	var wid uuid.UUID
	var kept bool
	err = s.queryRow(ctx, signedDocumentItemSQL[s.entDialect()], iid).Scan(&wid, &kept)
	switch {
	case noRow(err):
		return engine.SignedDocument{}, fmt.Errorf("%w: instance %s has no signed document (yet)", engine.ErrNotFound, instanceID)
	case err != nil:
		return engine.SignedDocument{}, translate(err)
	case !kept:
		return engine.SignedDocument{}, fmt.Errorf("%w: instance %s has no signed document yet: work item %s's is being fetched",
			engine.ErrNotFound, instanceID, wid)
	}
	// A kept document never changes: reading it apart from the work item is no race (retention
	// may have erased it since, which is NotFound all the same).
	row, err := s.db.Client.SignedDocument.Query().Where(signeddocument.WorkItemID(wid)).Only(ctx)
	if err != nil {
		if ent.IsNotFound(err) {
			return engine.SignedDocument{}, fmt.Errorf("%w: instance %s has no signed document (yet)", engine.ErrNotFound, instanceID)
		}
		return engine.SignedDocument{}, translate(err)
	}
	return engine.SignedDocument{WorkItemID: row.WorkItemID.String(), Name: row.Name, ContentType: row.ContentType,
		Content: row.Content, SHA256: row.Sha256, CreatedAt: row.CreatedAt}, nil
}

// signedDocumentItemSQL is, by dialect, the instance's newest work item whose document is kept
// or still due, and whether it is kept. Due means what store/documents.go and the soak's check
// mean: marked for the in-process fetch (document_due_at), or handed by the sweep to a
// fetch_document job River has not finished with (it clears the mark then; a job backing off
// after the provider failed is retryable for hours). A job River gave up on (discarded) is not
// due: the earlier document is the instance's again.
var signedDocumentItemSQL = map[string]string{
	dialect.Postgres: `SELECT w.id, d.id IS NOT NULL
FROM work_items AS w LEFT JOIN signed_documents AS d ON d.work_item_id = w.id
WHERE w.instance_id = $1 AND (d.id IS NOT NULL OR w.document_due_at IS NOT NULL OR EXISTS (
  SELECT 1 FROM river_job AS j WHERE j.kind = '` + engine.FetchDocumentJob{}.Kind() + `'
    AND j.args @> jsonb_build_object('work_item_id', w.id::text) AND j.state NOT IN ('completed', 'cancelled', 'discarded')))
ORDER BY w.id DESC LIMIT 1`,
	dialect.SQLite: `SELECT w.id, d.id IS NOT NULL
FROM work_items AS w LEFT JOIN signed_documents AS d ON d.work_item_id = w.id
WHERE w.instance_id = ? AND (d.id IS NOT NULL OR w.document_due_at IS NOT NULL OR EXISTS (
  SELECT 1 FROM river_job AS j WHERE j.kind = '` + engine.FetchDocumentJob{}.Kind() + `'
    AND json_extract(j.args, '$.work_item_id') = w.id AND j.state NOT IN ('completed', 'cancelled', 'discarded')))
ORDER BY w.id DESC LIMIT 1`,
}

var _ engine.ReconcileStore = (*Store)(nil)

func (s *Store) WorkItemsToReconcile(ctx context.Context, p engine.System, checkedBefore time.Time, limit int) ([]engine.WorkItem, error) {
	rows, err := s.db.Client.WorkItem.Query().
		Where(workitem.StatusEQ(workitem.StatusWAITING), workitem.ResolvedAtIsNil(), workitem.Provider(p.String()), workitem.ExternalIDNotNil(),
			workitem.Or(workitem.LastCheckedAtIsNil(), workitem.LastCheckedAtLT(dbTime(checkedBefore)))).
		// Oldest first, by the last check or, never checked, the item's creation: with nulls
		// first, a steady flow of new items (more than a run's limit between runs) kept the
		// items checked once from ever being asked again.
		Order(func(sel *entsql.Selector) {
			sel.OrderExpr(entsql.Expr("COALESCE(" + sel.C(workitem.FieldLastCheckedAt) + ", " + sel.C(workitem.FieldCreatedAt) + ")"))
		}, workitem.ByID()).Limit(limit).All(ctx)
	if err != nil {
		return nil, translate(err)
	}
	out := make([]engine.WorkItem, len(rows))
	for i, r := range rows {
		out[i] = workItemFromRow(r)
	}
	return out, nil
}

func (s *Store) ClaimCheck(ctx context.Context, workItemID string, at, checkedBefore time.Time) (bool, error) {
	wid, err := parseID("work item", workItemID)
	if err != nil {
		return false, err
	}
	// Not a change of the work item's own: its revision stays.
	n, err := s.db.Client.WorkItem.Update().Where(workitem.ID(wid),
		workitem.Or(workitem.LastCheckedAtIsNil(), workitem.LastCheckedAtLT(dbTime(checkedBefore)))).
		SetLastCheckedAt(dbTime(at)).Save(ctx)
	return n == 1, translate(err)
}

// EarlierPending goes to the hot reads' path (Store.queryRow). Before a OneSpan outcome is read
// back it is read with the work item (WorkItemForCallback); alone it serves an outcome that only
// the state's overrides make one.
func (s *Store) EarlierPending(ctx context.Context, ev engine.StoredEvent) (bool, error) {
	if ev.Event.OccurredAt.IsZero() {
		return false, nil
	}
	at := dbTime(ev.Event.OccurredAt)
	var found uuid.UUID
	err := s.queryRow(ctx, earlierPendingSQL[s.entDialect()], ev.Event.System.String(), ev.Event.ExternalID,
		webhookevent.VerdictPENDING.String(), at, at, earlierThan(ev)).Scan(&found)
	switch {
	case noRow(err):
		return false, nil
	case err != nil:
		return false, translate(err)
	}
	return true, nil
}

// earlierThan is the id an earlier event with the same provider time has below it: the one
// received first is the earlier. No event has an id below the nil UUID, so an event without
// one has no such earlier event.
func earlierThan(ev engine.StoredEvent) uuid.UUID {
	id, err := uuid.Parse(ev.ID)
	if err != nil {
		return uuid.Nil
	}
	return id
}

// earlierPendingSQL is EarlierPending's query, by dialect.
var earlierPendingSQL = byDialect(func(b *entsql.DialectBuilder) string {
	query, _ := earlierPendingSelector(b).Limit(1).Query()
	return query
})

// earlierPendingSelector selects the PENDING events of the provider and external id that the
// provider sent earlier, or at the same time and that were received first.
func earlierPendingSelector(b *entsql.DialectBuilder) *entsql.Selector {
	e := b.Table(webhookevent.Table).As("e")
	return b.Select(e.C(webhookevent.FieldID)).From(e).
		Where(entsql.And(
			entsql.EQ(e.C(webhookevent.FieldProvider), ""),
			entsql.EQ(e.C(webhookevent.FieldExternalID), ""),
			entsql.EQ(e.C(webhookevent.FieldVerdict), ""),
			entsql.Or(
				entsql.LT(e.C(webhookevent.FieldProviderTime), ""),
				entsql.And(entsql.EQ(e.C(webhookevent.FieldProviderTime), ""), entsql.LT(e.C(webhookevent.FieldID), "")),
			),
		))
}
