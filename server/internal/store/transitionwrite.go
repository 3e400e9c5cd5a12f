package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flowhook/flowhook/ent"
	"github.com/flowhook/flowhook/ent/instance"
	"github.com/flowhook/flowhook/server/internal/engine"
)

// A transition in one statement (PostgreSQL).
//
// A notification whose result moves its instance is written on its own, not in a batch
// (writeInbound). Statement by statement that is BEGIN, the event, the work item, the
// instance, the activities and COMMIT: six round trips, each waiting on the one before. On
// PostgreSQL, writeTransition sends one statement instead (on its own, in autocommit, unless
// the result has jobs to enqueue), whose CTEs:
//
//   - d: the event, unless it is stored already (a redelivery writes nothing);
//   - wl: the work item, locked, if it is still at the revision the result was decided on;
//   - i: the instance updated, if it is still at its revision, its work item was locked and
//     the event is new; its activity counter moves on by the result's activities;
//   - w, acts, e: the work item updated (its document marked due when the result fetches one:
//     documents.go), the activities numbered from the counter and the event inserted, each
//     only when i updated the instance.
//
// wl, w and acts are finishSQL's too (resultLockSQL, resultApplySQL).
//
// So it commits everything or nothing: a result decided on a reading that is no longer
// current writes nothing and its caller gets ErrConflict, as before. A delivery of the same
// event that another transaction commits meanwhile fails the plain INSERT, and the statement
// with it; the notification is then written statement by statement (writeAlone), as is a
// result with effects other than jobs (work items to create, retry or expire).
//
// It runs on the writes pool, whose plans stay generic (DB.Writes): each of its lookups is by
// a key given as a parameter, so the generic plan finds it through the index whatever the
// table's size when it was planned. (The group commit's statement joins arrays of unknown
// length with the tables; its generic plan, made on a small table, scanned webhook_events
// whole. It stays on the main pool, re-planned for each batch.)
const transitionSQL = `WITH d AS (
  SELECT $1::uuid AS id, $2::text AS provider, $3::text AS dedupe_key, $4::text AS event_type,
    $5::text AS external_id, $6::timestamptz AS provider_time, $7::bytea AS body, $8::jsonb AS headers,
    $9::text AS remote_addr, $10::timestamptz AS received_at, $11::text AS verdict, $12::text AS verdict_reason,
    $13::text AS instance_id, $14::text AS work_item_id, $15::bigint AS attempts, $16::timestamptz AS processed_at,
    $17::text AS trace_id, $18::text AS traceparent, $19::bigint AS size
  WHERE NOT EXISTS (SELECT 1 FROM webhook_events s WHERE s.provider = $2::text AND s.dedupe_key = $3::text)
), {lock}, i AS (
  %s
), {apply}, e AS (
  INSERT INTO webhook_events (id, provider, dedupe_key, event_type, external_id, provider_time, body, headers,
    remote_addr, received_at, verdict, verdict_reason, instance_id, work_item_id, attempts, processed_at,
    trace_id, traceparent, size)
  SELECT * FROM d WHERE EXISTS (SELECT 1 FROM w)
  RETURNING id
)
SELECT 'd', id FROM d UNION ALL SELECT 'e', id FROM e`

// resultLockSQL and resultApplySQL are the CTEs that transitionSQL and finishSQL share: they
// write a result (Store.resultArgs, whose arguments they number from $1, after the event's
// own) around the instance's UPDATE, i.
//
//   - wl: the work item, locked, if it is still at the revision the result was decided on;
//   - w: the work item updated (its document marked due when the result fetches one:
//     documents.go), only when i updated the instance;
//   - acts: the activities, numbered from the counter i moved on.
const resultLockSQL = `wl AS (
  SELECT w.id FROM work_items AS w WHERE w.id = $1::uuid AND w.revision = $2::bigint FOR UPDATE
)`

const resultApplySQL = `w AS (
  UPDATE work_items AS w SET status = $3::text, provider_status = $4::text, updated_at = $5::timestamptz,
    revision = w.revision + 1, outcome = COALESCE($6::text, w.outcome),
    last_event_at = COALESCE($7::timestamptz, w.last_event_at), resolved_at = COALESCE($8::timestamptz, w.resolved_at),
    document_due_at = COALESCE($24::timestamptz, w.document_due_at)
  WHERE w.id = $1::uuid AND EXISTS (SELECT 1 FROM i)
  RETURNING w.id
), acts AS (
  INSERT INTO activities (id, instance_id, seq, kind, actor_id, from_state, to_state, transition_key,
    assignee_user_id, assignee_group_id, details, message, created_at)
  SELECT y.id, y.instance_id, i.activity_seq - $9::bigint + y.ord + 1, y.kind, y.actor_id, y.from_state, y.to_state,
    y.transition_key, y.assignee_user_id, y.assignee_group_id, y.details, y.message, y.created_at
  FROM unnest($10::uuid[], $11::uuid[], $12::uuid[], $13::int[], $14::text[], $15::text[], $16::text[],
    $17::text[], $18::text[], $19::text[], $20::text[], $21::jsonb[], $22::text[], $23::timestamptz[])
    AS y(event_id, id, instance_id, ord, kind, actor_id, from_state, to_state, transition_key,
      assignee_user_id, assignee_group_id, details, message, created_at)
  CROSS JOIN i
)`

// withResult puts the result's CTEs into a statement whose own placeholders, the event's, are
// $1…$k: the result's follow them.
func withResult(text string) string {
	k := 0
	for _, m := range placeholder.FindAllStringSubmatch(text, -1) {
		n, _ := strconv.Atoi(m[1])
		k = max(k, n)
	}
	return strings.NewReplacer("{lock}", shiftPlaceholders(resultLockSQL, k), "{apply}", shiftPlaceholders(resultApplySQL, k)).Replace(text)
}

var placeholder = regexp.MustCompile(`\$(\d+)`)

// shiftPlaceholders renumbers a statement's $n as $(n+k).
func shiftPlaceholders(query string, k int) string {
	return placeholder.ReplaceAllStringFunc(query, func(p string) string {
		n, _ := strconv.Atoi(p[1:])
		return "$" + strconv.Itoa(n+k)
	})
}

// statement is a statement's text around a statement that ent's builder writes (%s), which
// takes $1…$k: its own placeholders follow, renumbered once for each k. The inner statements
// are of a few shapes (instanceUpdateQuery), so the whole texts are kept too.
type statement struct {
	text    string
	shifted sync.Map // k → text
	whole   sync.Map // inner → text
}

// with returns the statement around inner, whose arguments are k.
func (st *statement) with(inner string, k int) string {
	if q, ok := st.whole.Load(inner); ok {
		return q.(string)
	}
	q, ok := st.shifted.Load(k)
	if !ok {
		q = shiftPlaceholders(st.text, k)
		st.shifted.Store(k, q)
	}
	whole := fmt.Sprintf(q.(string), inner)
	st.whole.Store(inner, whole)
	return whole
}

var transitionStatement = &statement{text: withResult(transitionSQL)}

// querier runs statements: a pool through pgx itself, or database/sql (a transaction).
type querier interface {
	query(ctx context.Context, query string, args ...any) (rows, error)
	queryRow(ctx context.Context, query string, args ...any) interface{ Scan(...any) error }
}

// pgxQuerier runs statements on a pgx pool, each on its own.
type pgxQuerier struct{ pool *pgxpool.Pool }

func (q pgxQuerier) query(ctx context.Context, query string, args ...any) (rows, error) {
	return q.pool.Query(ctx, query, args...)
}

func (q pgxQuerier) queryRow(ctx context.Context, query string, args ...any) interface{ Scan(...any) error } {
	return q.pool.QueryRow(ctx, query, args...)
}

// sqlQuerier runs statements through database/sql: a pool, or a transaction.
type sqlQuerier struct {
	db interface {
		QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
		QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	}
}

func (q sqlQuerier) query(ctx context.Context, query string, args ...any) (rows, error) {
	r, err := q.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{r}, nil
}

func (q sqlQuerier) queryRow(ctx context.Context, query string, args ...any) interface{ Scan(...any) error } {
	return q.db.QueryRowContext(ctx, query, args...)
}

// writeStatement writes st, a one-statement write, on the side pool: on its own (autocommit;
// through pgx itself on PostgreSQL, in the pipeline on the writes pool), or, when withJobs, in
// a transaction on it with River's insert of the jobs its read returns. A write on its own
// must return none.
func (s *Store) writeStatement(ctx context.Context, on side, withJobs bool, st oneStatement) error {
	if !withJobs {
		if on.piped && on.pool != nil {
			if sent, err := s.pipe(ctx, on.pool, st); sent {
				return err
			}
		}
		return alone(runOn(ctx, on.statements(), st))
	}
	return s.inTxOn(ctx, on.db, func(tx txn) error {
		jobs, err := runOn(ctx, sqlQuerier{tx.sql}, st)
		if err != nil {
			return err
		}
		return s.enqueue(ctx, tx, jobs)
	})
}

// onlyJobs says whether effects are jobs alone: no work item to create, retry or expire, which
// the one-statement writes do not write.
func onlyJobs(e engine.Effects) bool {
	return len(e.NewWorkItems)+len(e.RetriedWorkItems)+len(e.ExpiredWorkItems) == 0
}

// transitional says whether writeTransition can write in's result: one that moves its
// instance at a revision and checks its work item, with no effects but jobs.
func transitional(in *inbound) bool {
	r := in.result
	return r != nil && r.Instance != nil && r.WorkItem != nil && r.InstanceID != "" && onlyJobs(r.Effects)
}

// errNotWritten: writeTransition could not write the notification (the statement failed);
// it is written statement by statement.
var errNotWritten = errors.New("transition statement failed")

// writeTransition writes a transitional notification (PostgreSQL), setting in.created and
// in.err. errNotWritten asks for writeAlone.
func (s *Store) writeTransition(ctx context.Context, in *inbound) error {
	in.created, in.err = false, nil
	jobs, dueAt, err := documentMark(*in.result)
	if err != nil {
		return err
	}
	st, err := s.transitionStatement(in, dueAt, jobs)
	if err == nil {
		err = s.writeStatement(ctx, s.writes(), len(jobs) > 0, st)
	}
	if err != nil {
		in.created, in.err = false, nil
		return fmt.Errorf("%w: %w", errNotWritten, err)
	}
	if in.created {
		s.documentCommitted(*in.result, dueAt)
	}
	return nil
}

// documentMark separates a transitional result's jobs: those River inserts, and its work
// item's document fetch, which the statement writes as the mark's time (nil: none).
// errNotWritten: a fetch for another work item, which the statement cannot mark.
func documentMark(r engine.EventResult) ([]engine.Job, *time.Time, error) {
	jobs, due := documentsDue(r.Effects.Jobs)
	var dueAt *time.Time
	for _, id := range due {
		if id.String() != r.WorkItem.ID {
			return nil, nil, fmt.Errorf("%w: a document due for another work item", errNotWritten)
		}
		t := dbTime(now())
		dueAt = &t
	}
	return jobs, dueAt, nil
}

// documentCommitted tells the fetcher of the document a committed result marked due, with the
// work item as written, so that it is not read again.
func (s *Store) documentCommitted(r engine.EventResult, dueAt *time.Time) {
	if dueAt != nil {
		wi := *r.WorkItem
		s.committed(nil, engine.FetchDocumentJob{WorkItemID: wi.ID, Item: &wi})
	}
}

// resultArgs are what a transitional result writes, in the order transitionSQL and finishSQL
// take them after their event's: the instance's conditional UPDATE (ent's builder, $1…$k,
// written only when wl locked the work item and d found the event; for a result that does not
// move the instance, a progress, only its activity counter), then the work item, the
// activities' count and rows (of the event eid) and the document's mark.
func (s *Store) resultArgs(r engine.EventResult, eid uuid.UUID, documentDue *time.Time) (update string, updateArgs, args []any, err error) {
	iid, err := uuid.Parse(r.InstanceID)
	if err != nil {
		return "", nil, nil, err
	}
	// Progress: the instance stays where it is; its counter numbers the activities, and its
	// row lock orders them with concurrent appends, as appendActivities does.
	var in engine.Instance
	v := updateProgress
	if r.Instance != nil {
		in, v = *r.Instance, updateInResult
	}
	if update, updateArgs, err = instanceUpdateQuery(s.db.Client, s.entDialect(), iid, in, r.InstanceRevision, len(r.Activities), v); err != nil {
		return "", nil, nil, err
	}
	w := r.WorkItem
	wid, err := uuid.Parse(w.ID)
	if err != nil {
		return "", nil, nil, err
	}
	var outcome *string
	if w.Outcome.Valid() {
		o := w.Outcome.String()
		outcome = &o
	}
	var acts activityRows
	for _, a := range r.Activities {
		if err := acts.add(eid, iid, a); err != nil {
			return "", nil, nil, err
		}
	}
	args = []any{[16]byte(wid), w.Revision, string(w.Status), w.ProviderStatus, dbTime(w.UpdatedAt), outcome,
		dbTimePtr(w.LastEventAt), dbTimePtr(w.ResolvedAt), int64(len(r.Activities))}
	return update, updateArgs, append(append(args, acts.args()...), documentDue), nil
}

// transitionStatement is transitionSQL for in, whose read sets in.created and in.err and
// returns jobs when it wrote the event.
func (s *Store) transitionStatement(in *inbound, documentDue *time.Time, jobs []engine.Job) (oneStatement, error) {
	var ev eventRows
	if err := ev.add(in); err != nil {
		return oneStatement{}, err
	}
	update, updateArgs, args, err := s.resultArgs(*in.result, in.id, documentDue)
	if err != nil {
		return oneStatement{}, err
	}
	// The instance's UPDATE, built by ent's builder, takes $1…$k; the rest follow it.
	return oneStatement{
		query: transitionStatement.with(update, len(updateArgs)),
		args:  append(append(updateArgs, ev.row(0)...), args...),
		read: func(r rows) ([]engine.Job, error) {
			in.created, in.err = false, nil
			ids, err := taggedIDs(r, nil)
			if err != nil {
				return nil, err
			}
			fresh, inserted := ids["d"][in.id], ids["e"][in.id]
			in.created = inserted
			if fresh && !inserted {
				in.err = fmt.Errorf("%w: the work item or instance changed concurrently; read them again", engine.ErrConflict)
			}
			if !inserted {
				return nil, nil
			}
			return jobs, nil
		},
	}, nil
}

// instanceRowSQL is an UpdateInstance (a take, a form saved, a cancellation…) or a
// CreateInstance in one statement: the instance's conditional UPDATE or its INSERT (ent's
// builder: $1…$k, returning every column), then its activities numbered from the counter
// that statement set (when it wrote the row).
const instanceRowSQL = `WITH i AS (
  %s
), acts AS (
  INSERT INTO activities (id, instance_id, seq, kind, actor_id, from_state, to_state, transition_key,
    assignee_user_id, assignee_group_id, details, message, created_at)
  SELECT y.id, y.instance_id, i.activity_seq - $1::bigint + y.ord + 1, y.kind, y.actor_id, y.from_state, y.to_state,
    y.transition_key, y.assignee_user_id, y.assignee_group_id, y.details, y.message, y.created_at
  FROM unnest($2::uuid[], $3::uuid[], $4::int[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
    $10::text[], $11::text[], $12::jsonb[], $13::text[], $14::timestamptz[])
    AS y(id, instance_id, ord, kind, actor_id, from_state, to_state, transition_key, assignee_user_id,
      assignee_group_id, details, message, created_at)
  CROSS JOIN i
)
SELECT {returning} FROM i`

// newItemsSQL inserts an instanceRowSQL's new work items (an instance that enters an EXTERNAL
// state), each with its creation marked due when it has one (creations.go), only when i wrote
// the instance. Its placeholders follow instanceRowSQL's own.
const newItemsSQL = `, items AS (
  INSERT INTO work_items (id, instance_id, state_key, entered_revision, provider, status, traceparent, created_at,
    updated_at, create_due_at)
  SELECT x.id, x.instance_id, x.state_key, x.entered_revision, x.provider, x.status, x.traceparent, x.created_at,
    x.updated_at, x.create_due_at
  FROM unnest($15::uuid[], $16::uuid[], $17::text[], $18::bigint[], $19::text[], $20::text[], $21::text[],
    $22::timestamptz[], $23::timestamptz[], $24::timestamptz[])
    AS x(id, instance_id, state_key, entered_revision, provider, status, traceparent, created_at, updated_at, create_due_at)
  CROSS JOIN i
)
SELECT {returning}`

var (
	instanceRowStatement      = &statement{text: strings.Replace(instanceRowSQL, "{returning}", returnedInstanceColumns(), 1)}
	instanceRowItemsStatement = &statement{text: strings.Replace(strings.Replace(instanceRowSQL, "\nSELECT {returning}", newItemsSQL, 1),
		"{returning}", returnedInstanceColumns(), 1)}
)

// newItemsAlone says whether an instance's write in one statement can take effects: jobs, and
// new work items (newItemsSQL), but no work item to retry or expire.
func newItemsAlone(e engine.Effects) bool {
	return len(e.RetriedWorkItems)+len(e.ExpiredWorkItems) == 0
}

// updateInstanceAlone is UpdateInstance on PostgreSQL for an update whose effects are jobs and
// new work items (newItemsAlone): one statement on the writes pool (in a transaction with
// River's insert when it has jobs for River), one round trip where the transaction took five.
func (s *Store) updateInstanceAlone(ctx context.Context, iid uuid.UUID, in engine.Instance, expectedRevision int64,
	acts []engine.Activity, eff engine.Effects) (engine.Instance, error) {
	update, args, err := instanceUpdateQuery(s.db.Client, s.entDialect(), iid, in, expectedRevision, len(acts), updateRow)
	if err != nil {
		return engine.Instance{}, err
	}
	return s.writeInstanceRow(ctx, update, args, iid, acts, eff)
}

// createInstanceAlone is CreateInstance on PostgreSQL for a start whose effects are jobs and
// new work items (newItemsAlone): one statement on the writes pool (in a transaction with
// River's insert when it has jobs for River). Its mutation is CreateInstance's, whose activity
// counter is the activities' count; the columns it leaves unset take their defaults, as ent's
// would (TestCreateInstanceAlone compares the two).
func (s *Store) createInstanceAlone(ctx context.Context, m *ent.InstanceMutation, form []byte, acts []engine.Activity,
	eff engine.Effects) (engine.Instance, error) {
	iid, ok := m.ID()
	if !ok {
		return engine.Instance{}, errors.New("an instance to create has no id")
	}
	insert, args, err := instanceInsertQuery(s.entDialect(), iid, m, form)
	if err != nil {
		return engine.Instance{}, err
	}
	return s.writeInstanceRow(ctx, insert, args, iid, acts, eff)
}

// returnedInstanceColumns lists every column of the CTE i, in instance.Columns' order.
func returnedInstanceColumns() string {
	cols := make([]string, len(instance.Columns))
	for i, c := range instance.Columns {
		cols[i] = `i."` + c + `"`
	}
	return strings.Join(cols, ", ")
}

// writeInstanceRow runs an instanceRowStatement around inner, which takes args, for the
// instance iid, its activities acts and the effects eff (newItemsAlone), on the writes pool, in
// a transaction with River's insert of the jobs for River when there are any. The new work
// items are inserted with it (instanceRowItemsStatement), and the creations it marked due are
// told to the queue once it commits. sql.ErrNoRows is ErrConflict: a conditional update found
// the instance moved on.
func (s *Store) writeInstanceRow(ctx context.Context, inner string, args []any, iid uuid.UUID, acts []engine.Activity,
	eff engine.Effects) (engine.Instance, error) {
	jobs, creations, marked := createsDue(eff.Jobs, eff.NewWorkItems)
	if len(creations) > 0 && s.jobs == nil {
		return engine.Instance{}, errors.New("store: background jobs are not configured")
	}
	query := instanceRowStatement.with(inner, len(args))
	var items []any
	if len(eff.NewWorkItems) > 0 {
		query = instanceRowItemsStatement.with(inner, len(args))
		var err error
		if items, err = newItemRows(eff.NewWorkItems, marked); err != nil {
			return engine.Instance{}, err
		}
	}
	var actRows activityRows
	for _, a := range acts {
		if err := actRows.add(uuid.Nil, iid, a); err != nil {
			return engine.Instance{}, err
		}
	}
	args = append(append(args, int64(len(acts))), actRows.args()[1:]...) // the activities' event ids are not needed
	args = append(args, items...)
	var row ent.Instance
	var form []byte
	scan := inOrder(instanceColumns(&row, &form), instance.Columns)
	err := s.writeStatement(ctx, s.writes(), len(jobs) > 0, oneStatement{query: query, args: args,
		read: func(r rows) ([]engine.Job, error) {
			if !r.Next() {
				if err := r.Err(); err != nil {
					return nil, err
				}
				return nil, fmt.Errorf("%w: the instance changed concurrently; read it again", engine.ErrConflict)
			}
			return jobs, r.Scan(scan...)
		}})
	if err != nil {
		return engine.Instance{}, err
	}
	row.FormData = form
	inst, err := instanceFromRow(&row)
	if err == nil {
		// The creations go with the instance as written, which they need not read again.
		for i, j := range creations {
			c := j.(engine.CreateWorkItemJob)
			c.Instance = &inst
			creations[i] = c
		}
	}
	s.committed(creations)
	return inst, err
}

// newItemRows are newItemsSQL's arguments: the work items' columns, as arrays, with the
// creations of those marked (createsDue) due now.
func newItemRows(items []engine.WorkItem, marked map[string]bool) ([]any, error) {
	n := len(items)
	ids, instances := make([][16]byte, n), make([][16]byte, n)
	states, providers, statuses, traceparents := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	entered := make([]int64, n)
	created, updated, due := make([]time.Time, n), make([]time.Time, n), make([]*time.Time, n)
	at := dbTime(now())
	for i, wi := range items {
		id, err := uuid.Parse(wi.ID)
		if err != nil {
			return nil, fmt.Errorf("work item id: %w", err)
		}
		iid, err := uuid.Parse(wi.InstanceID)
		if err != nil {
			return nil, fmt.Errorf("work item %s: instance id: %w", wi.ID, err)
		}
		ids[i], instances[i], states[i], entered[i] = id, iid, wi.StateKey, wi.EnteredRevision
		providers[i], statuses[i], traceparents[i] = wi.System.String(), string(wi.Status), wi.Traceparent
		created[i], updated[i] = dbTime(wi.CreatedAt), dbTime(wi.UpdatedAt)
		if marked[wi.ID] {
			due[i] = &at
		}
	}
	return []any{ids, instances, states, entered, providers, statuses, traceparents, created, updated, due}, nil
}

// finishSQL is FinishEvent of a result that writes its work item (a transition, or a progress
// that moves no instance: finishable) on PostgreSQL in one statement: the event
// stored PENDING earlier takes the place of transitionSQL's new one. Its CTEs:
//
//   - d: the event, locked, if it is still PENDING (else another run saved its result);
//   - wl, i, w, acts: as transitionSQL's (the work item locked at its revision, the instance
//     updated at its revision, then the work item and the activities);
//   - e: the event's verdict and result saved, its attempt counted and its mark cleared, only
//     when i updated the instance.
//
// So it saves everything or nothing, as the transaction did: a result decided on a reading
// that is no longer current, or an event processed meanwhile, writes nothing (ErrConflict).
const finishSQL = `WITH d AS (
  SELECT id FROM webhook_events WHERE id = $1::uuid AND verdict = 'PENDING' FOR UPDATE
), {lock}, i AS (
  %s
), {apply}, e AS (
  UPDATE webhook_events SET verdict = $2::text, verdict_reason = $3::text, instance_id = $4::text,
    work_item_id = $5::text, processed_at = $6::timestamptz, attempts = attempts + 1, due_at = NULL
  WHERE id = $1::uuid AND EXISTS (SELECT 1 FROM w)
  RETURNING id
)
SELECT 'd', id FROM d UNION ALL SELECT 'e', id FROM e`

var finishStatement = &statement{text: withResult(finishSQL)}

// finishTransition is FinishEvent of a transitional result on PostgreSQL: one statement on
// the writes pool (in a transaction with River's insert when the result has jobs besides its
// document). errNotWritten asks for the transaction.
func (s *Store) finishTransition(ctx context.Context, eid uuid.UUID, r engine.EventResult) error {
	jobs, dueAt, err := documentMark(r)
	if err != nil {
		return err
	}
	update, updateArgs, rest, err := s.resultArgs(r, eid, dueAt)
	if err != nil {
		return fmt.Errorf("%w: %w", errNotWritten, err)
	}
	var conflict error
	err = s.writeStatement(ctx, s.writes(), len(jobs) > 0, oneStatement{
		query: finishStatement.with(update, len(updateArgs)),
		args:  append(append(updateArgs, [16]byte(eid), string(r.Verdict), r.Reason, r.InstanceID, r.WorkItemID, dbTime(now())), rest...),
		read: func(rs rows) ([]engine.Job, error) {
			conflict = nil
			ids, err := taggedIDs(rs, nil)
			switch {
			case err != nil:
				return nil, err
			case !ids["d"][eid]:
				conflict = fmt.Errorf("%w: event %s was processed concurrently", engine.ErrConflict, r.EventID)
			case !ids["e"][eid]:
				conflict = fmt.Errorf("%w: the work item or instance changed concurrently; read them again", engine.ErrConflict)
			default:
				return jobs, nil
			}
			return nil, conflict // nothing was written: the transaction, if any, rolls back nothing
		}})
	if conflict != nil {
		return conflict
	}
	if err != nil {
		return fmt.Errorf("%w: %w", errNotWritten, err)
	}
	s.documentCommitted(r, dueAt)
	return nil
}
