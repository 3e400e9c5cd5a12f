package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/jackc/pgx/v5"

	"github.com/flowhook/flowhook/ent"
	"github.com/flowhook/flowhook/ent/instance"
	"github.com/flowhook/flowhook/ent/webhookevent"
	"github.com/flowhook/flowhook/ent/workitem"
	"github.com/flowhook/flowhook/server/internal/engine"
)

// WorkItemWithInstance reads the work item a system's id is coupled to and its instance in one
// query (a join): deciding an outcome needs both, and each round trip is a wait.
func (s *Store) WorkItemWithInstance(ctx context.Context, p engine.System, externalID string) (engine.WorkItem, engine.Instance, error) {
	var (
		w    ent.WorkItem
		in   ent.Instance
		form []byte
	)
	dest := append(inOrder(workItemColumns(&w), workitem.Columns), inOrder(instanceColumns(&in, &form), instance.Columns)...)
	if err := s.queryRow(ctx, workItemWithInstanceSQL[s.entDialect()], p.String(), externalID).Scan(dest...); err != nil {
		if noRow(err) {
			return engine.WorkItem{}, engine.Instance{}, fmt.Errorf("%w: %s work item %s", engine.ErrNotFound, p, externalID)
		}
		return engine.WorkItem{}, engine.Instance{}, translate(err)
	}
	in.FormData = form
	inst, err := instanceFromRow(&in)
	if err != nil {
		return engine.WorkItem{}, engine.Instance{}, err
	}
	return workItemFromRow(&w), inst, nil
}

// WorkItemForCallback is WorkItemWithInstance and EarlierPending of ev in one query: the
// EarlierPending read was a round trip of its own before every OneSpan outcome was read back.
func (s *Store) WorkItemForCallback(ctx context.Context, ev engine.StoredEvent) (engine.WorkItem, engine.Instance, bool, error) {
	if ev.Event.OccurredAt.IsZero() {
		wi, in, err := s.WorkItemWithInstance(ctx, ev.Event.System, ev.Event.ExternalID)
		return wi, in, false, err // EarlierPending's answer for an event without the provider's time
	}
	var (
		w       ent.WorkItem
		in      ent.Instance
		form    []byte
		earlier bool
	)
	dest := append(inOrder(workItemColumns(&w), workitem.Columns), inOrder(instanceColumns(&in, &form), instance.Columns)...)
	p, at, id := ev.Event.System.String(), dbTime(ev.Event.OccurredAt), earlierThan(ev)
	// The subquery's arguments come first: it is in the select list.
	err := s.queryRow(ctx, workItemForCallbackSQL[s.entDialect()],
		p, ev.Event.ExternalID, webhookevent.VerdictPENDING.String(), at, at, id,
		p, ev.Event.ExternalID).Scan(append(dest, &earlier)...)
	if err != nil {
		if noRow(err) {
			return engine.WorkItem{}, engine.Instance{}, false, fmt.Errorf("%w: %s work item %s", engine.ErrNotFound, ev.Event.System, ev.Event.ExternalID)
		}
		return engine.WorkItem{}, engine.Instance{}, false, translate(err)
	}
	in.FormData = form
	inst, err := instanceFromRow(&in)
	if err != nil {
		return engine.WorkItem{}, engine.Instance{}, false, err
	}
	return workItemFromRow(&w), inst, earlier, nil
}

// workItemByExternal reads the work item a system's id is coupled to: the read every
// notification starts with. On PostgreSQL it goes to pgx itself, not through database/sql
// and ent's query builder, which were most of its cost (28% of the server's CPU profile
// under ingest).
func (s *Store) workItemByExternal(ctx context.Context, p engine.System, externalID string) (*ent.WorkItem, error) {
	var w ent.WorkItem
	if err := s.queryRow(ctx, workItemByExternalSQL[s.entDialect()], p.String(), externalID).Scan(inOrder(workItemColumns(&w), workitem.Columns)...); err != nil {
		if noRow(err) {
			return nil, fmt.Errorf("%w: %s work item %s", engine.ErrNotFound, p, externalID)
		}
		return nil, translate(err)
	}
	return &w, nil
}

// workItemWithInstanceSQL is WorkItemWithInstance's query, by dialect: every column of the work
// item, then every column of its instance.
var workItemWithInstanceSQL = byDialect(func(b *entsql.DialectBuilder) string {
	query, _ := joinedSelector(b).Query()
	return query
})

// joinedSelector selects every column of the work item of a system's id, then every column of
// its instance.
func joinedSelector(b *entsql.DialectBuilder) *entsql.Selector {
	wt, it := b.Table(workitem.Table).As("w"), b.Table(instance.Table).As("i")
	cols := make([]string, 0, len(workitem.Columns)+len(instance.Columns))
	for _, c := range workitem.Columns {
		cols = append(cols, wt.C(c))
	}
	for _, c := range instance.Columns {
		cols = append(cols, it.C(c))
	}
	return b.Select(cols...).From(wt).
		Join(it).On(wt.C(workitem.FieldInstanceID), it.C(instance.FieldID)).
		Where(entsql.And(entsql.EQ(wt.C(workitem.FieldProvider), ""), entsql.EQ(wt.C(workitem.FieldExternalID), "")))
}

// workItemForCallbackSQL is WorkItemForCallback's query, by dialect: workItemWithInstanceSQL's
// columns, then whether earlierPendingSQL finds an event.
var workItemForCallbackSQL = byDialect(func(b *entsql.DialectBuilder) string {
	sel := joinedSelector(b)
	sel.AppendSelectExpr(entsql.Exists(earlierPendingSelector(b)))
	query, _ := sel.Query()
	return query
})

// workItemByExternalSQL is workItemByExternal's query, by dialect, written once.
var workItemByExternalSQL = byDialect(func(b *entsql.DialectBuilder) string {
	query, _ := b.Select(workitem.Columns...).From(b.Table(workitem.Table)).
		Where(entsql.And(entsql.EQ(workitem.FieldProvider, ""), entsql.EQ(workitem.FieldExternalID, ""))).
		Query()
	return query
})

// byDialect is a statement's text for each dialect, built by ent's builder.
func byDialect(build func(*entsql.DialectBuilder) string) map[string]string {
	return map[string]string{
		dialect.Postgres: build(entsql.Dialect(dialect.Postgres)),
		dialect.SQLite:   build(entsql.Dialect(dialect.SQLite)),
	}
}

// queryRow runs a query of one row: through pgx itself on PostgreSQL (no database/sql layer
// between), through database/sql on SQLite.
func (s *Store) queryRow(ctx context.Context, query string, args ...any) interface{ Scan(...any) error } {
	return s.reads().queryRow(ctx, query, args...)
}

// reads is where the hot reads go: the main pool, through pgx itself on PostgreSQL.
func (s *Store) reads() querier {
	return side{db: s.db.SQL, pool: s.db.Pool}.statements()
}

// noRow says a query of one row found none, on either path of queryRow: pgx's error on
// PostgreSQL, database/sql's on SQLite.
func noRow(err error) bool {
	return errors.Is(err, sql.ErrNoRows) || errors.Is(err, pgx.ErrNoRows)
}

// rows is a result of several rows, from pgx or database/sql.
type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// sqlRows is database/sql's rows as rows (its Close reports an error that Err reports too).
type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

// query runs a query of several rows as queryRow does. The caller closes the rows.
func (s *Store) query(ctx context.Context, query string, args ...any) (rows, error) {
	return s.reads().query(ctx, query, args...)
}

// inOrder is the scan destinations of columns, in the order of names.
func inOrder(columns map[string]any, names []string) []any {
	dest := make([]any, len(names))
	for i, c := range names {
		dest[i] = columns[c]
	}
	return dest
}

// workItemColumns maps each column of work_items to where it scans into w.
func workItemColumns(w *ent.WorkItem) map[string]any {
	return map[string]any{
		workitem.FieldID: &w.ID, workitem.FieldCreatedAt: &w.CreatedAt, workitem.FieldUpdatedAt: &w.UpdatedAt,
		workitem.FieldInstanceID: &w.InstanceID, workitem.FieldStateKey: &w.StateKey,
		workitem.FieldEnteredRevision: &w.EnteredRevision, workitem.FieldProvider: &w.Provider,
		workitem.FieldExternalID: &w.ExternalID, workitem.FieldStatus: &w.Status,
		workitem.FieldProviderStatus: &w.ProviderStatus, workitem.FieldOutcome: &w.Outcome, workitem.FieldError: &w.Error,
		workitem.FieldLastEventAt: &w.LastEventAt, workitem.FieldTraceparent: &w.Traceparent,
		workitem.FieldResolvedAt: &w.ResolvedAt, workitem.FieldRevision: &w.Revision,
		workitem.FieldLastCheckedAt: &w.LastCheckedAt, workitem.FieldDocumentDueAt: &w.DocumentDueAt,
		workitem.FieldCreateDueAt: &w.CreateDueAt,
	}
}

// instanceColumns maps each column of instances to where it scans into in (the form's JSON
// into form).
func instanceColumns(in *ent.Instance, form *[]byte) map[string]any {
	return map[string]any{
		instance.FieldID: &in.ID, instance.FieldCreatedAt: &in.CreatedAt, instance.FieldUpdatedAt: &in.UpdatedAt,
		instance.FieldWorkflowID: &in.WorkflowID, instance.FieldVersion: &in.Version,
		instance.FieldWorkflowName: &in.WorkflowName, instance.FieldStateKey: &in.StateKey,
		instance.FieldStatus: &in.Status, instance.FieldFormData: form, instance.FieldRevision: &in.Revision,
		instance.FieldStartedBy: &in.StartedBy, instance.FieldRequestID: &in.RequestID,
		instance.FieldRequestFingerprint: &in.RequestFingerprint, instance.FieldAssigneeUserID: &in.AssigneeUserID,
		instance.FieldAssigneeGroupID: &in.AssigneeGroupID, instance.FieldProvider: &in.Provider,
		instance.FieldExternalID: &in.ExternalID, instance.FieldReason: &in.Reason, instance.FieldEndedAt: &in.EndedAt,
		instance.FieldDeadline: &in.Deadline, instance.FieldFormDataErasedAt: &in.FormDataErasedAt,
		instance.FieldDocumentsErasedAt: &in.DocumentsErasedAt, instance.FieldActivitySeq: &in.ActivitySeq,
	}
}

// InstanceWithWorkItem reads an instance and, while it is coupled to a system, its newest work
// item (Instance.WorkItem) in one query: GetInstance as callers see it, where it was a read of
// the instance and one of its work item.
func (s *Store) InstanceWithWorkItem(ctx context.Context, id string) (engine.Instance, error) {
	iid, err := parseID("instance", id)
	if err != nil {
		return engine.Instance{}, err
	}
	var (
		in   ent.Instance
		form []byte
		w    ent.WorkItem
	)
	// The work item's columns are NULL when the join finds none.
	item := nullable(inOrder(workItemColumns(&w), workitem.Columns))
	dest := append(inOrder(instanceColumns(&in, &form), instance.Columns), item.dest...)
	if err := s.queryRow(ctx, instanceWithWorkItemSQL[s.entDialect()], iid).Scan(dest...); err != nil {
		if noRow(err) {
			return engine.Instance{}, fmt.Errorf("%w: instance %s", engine.ErrNotFound, id)
		}
		return engine.Instance{}, translate(err)
	}
	in.FormData = form
	inst, err := instanceFromRow(&in)
	if err != nil {
		return engine.Instance{}, err
	}
	if item.set() {
		wi := workItemFromRow(&w)
		inst.WorkItem = &wi
	}
	return inst, nil
}

// instanceWithWorkItemSQL is InstanceWithWorkItem's query, by dialect: every column of the
// instance, then every column of its newest work item (a LEFT JOIN on a correlated subquery,
// which both dialects run; it is not evaluated for an instance coupled to no system).
var instanceWithWorkItemSQL = byDialect(func(b *entsql.DialectBuilder) string {
	it, wt, newest := b.Table(instance.Table).As("i"), b.Table(workitem.Table).As("w"), b.Table(workitem.Table).As("n")
	cols := make([]string, 0, len(instance.Columns)+len(workitem.Columns))
	for _, c := range instance.Columns {
		cols = append(cols, it.C(c))
	}
	for _, c := range workitem.Columns {
		cols = append(cols, wt.C(c))
	}
	sub, _ := b.Select(newest.C(workitem.FieldID)).From(newest).
		Where(entsql.ColumnsEQ(newest.C(workitem.FieldInstanceID), it.C(instance.FieldID))).
		OrderBy(entsql.Desc(newest.C(workitem.FieldCreatedAt)), entsql.Desc(newest.C(workitem.FieldID))).
		Limit(1).Query()
	query, _ := b.Select(cols...).From(it).
		LeftJoin(wt).OnP(entsql.ExprP(fmt.Sprintf("%s IS NOT NULL AND %s = (%s)", it.C(instance.FieldProvider), wt.C(workitem.FieldID), sub))).
		Where(entsql.EQ(it.C(instance.FieldID), "")).
		Query()
	return query
})

// nullableRow scans columns that may all be NULL (a LEFT JOIN's) into destinations that
// take no NULL: each *T scans through a **T, copied into the *T when the row has it.
type nullableRow struct{ into, dest []any }

func nullable(into []any) nullableRow {
	dest := make([]any, len(into))
	for i, d := range into {
		dest[i] = reflect.New(reflect.TypeOf(d)).Interface()
	}
	return nullableRow{into: into, dest: dest}
}

// set copies what was scanned into the destinations and reports whether the row had its
// first column (the key: NULL when the join found nothing).
func (n nullableRow) set() bool {
	if reflect.ValueOf(n.dest[0]).Elem().IsNil() {
		return false
	}
	for i, d := range n.dest {
		if p := reflect.ValueOf(d).Elem(); !p.IsNil() {
			reflect.ValueOf(n.into[i]).Elem().Set(p.Elem())
		}
	}
	return true
}
