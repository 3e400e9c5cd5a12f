package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/flowhook/flowhook/ent"
	"github.com/flowhook/flowhook/ent/predicate"
	"github.com/flowhook/flowhook/ent/workflow"
	"github.com/flowhook/flowhook/ent/workflowversion"
	"github.com/flowhook/flowhook/server/internal/engine"
)

// Store implements the engine's store ports over ent.
type Store struct {
	db     *DB
	sealer *Sealer
	jobs   JobInserter
	// commits is the group commit of inbound events (groupcommit.go); each Store value made
	// by New or With… has its own.
	commits *groupCommit
	// forceTx has CreateInstance and UpdateInstance write in their transaction where
	// PostgreSQL takes one statement: tests compare the two (WithTransactions).
	forceTx bool
	// countBound, when set, replaces countExactly (tests: WithCountBound).
	countBound int
}

var _ engine.Store = (*Store)(nil)

// New returns the engine's Store over an open database.
func New(db *DB) *Store { return &Store{db: db, commits: &groupCommit{}} }

// WithSealer returns the store sealing secrets with sealer.
func (s *Store) WithSealer(sealer *Sealer) *Store {
	out := *s
	out.sealer = sealer
	out.commits = &groupCommit{}
	return &out
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.Ping(ctx) }

// parseID turns an API id into a UUID; a malformed id can match nothing, so it is NotFound.
func parseID(kind, id string) (uuid.UUID, error) {
	u, err := uuid.Parse(id)
	if err != nil {
		return uuid.UUID{}, fmt.Errorf("%w: %s %q", engine.ErrNotFound, kind, id)
	}
	return u, nil
}

func (s *Store) CreateWorkflow(ctx context.Context, d engine.Draft) (engine.Workflow, error) {
	raw, err := engine.MarshalDefinition(d)
	if err != nil {
		return engine.Workflow{}, err
	}
	now := now()
	row, err := s.db.Client.Workflow.Create().
		SetCreatedAt(now).
		SetUpdatedAt(now).
		SetName(d.Name).
		SetDescription(d.Description).
		SetDraft(raw).
		Save(ctx)
	if err != nil {
		return engine.Workflow{}, translate(err)
	}
	return workflowFromRow(row)
}

func (s *Store) UpdateWorkflow(ctx context.Context, id string, d engine.Draft, expectedRevision int64) (engine.Workflow, error) {
	wid, err := parseID("workflow", id)
	if err != nil {
		return engine.Workflow{}, err
	}
	raw, err := engine.MarshalDefinition(d)
	if err != nil {
		return engine.Workflow{}, err
	}
	// The revision in the WHERE clause decides races between replicas: of two updates from the
	// same revision, exactly one matches.
	n, err := s.db.Client.Workflow.Update().
		Where(workflow.ID(wid), workflow.Revision(expectedRevision)).
		SetName(d.Name).
		SetDescription(d.Description).
		SetDraft(raw).
		SetUpdatedAt(now()).
		AddRevision(1).
		Save(ctx)
	if err != nil {
		return engine.Workflow{}, translate(err)
	}
	if n == 0 {
		return engine.Workflow{}, s.revisionMismatch(ctx, wid, expectedRevision)
	}
	return s.GetWorkflow(ctx, id)
}

// revisionMismatch explains why a conditional update matched no row.
func (s *Store) revisionMismatch(ctx context.Context, wid uuid.UUID, expected int64) error {
	row, err := s.db.Client.Workflow.Get(ctx, wid)
	if err != nil {
		if ent.IsNotFound(err) {
			return fmt.Errorf("%w: workflow %s", engine.ErrNotFound, wid)
		}
		return translate(err)
	}
	return fmt.Errorf("%w: the workflow is at revision %d, not %d", engine.ErrConflict, row.Revision, expected)
}

func (s *Store) GetWorkflow(ctx context.Context, id string) (engine.Workflow, error) {
	wid, err := parseID("workflow", id)
	if err != nil {
		return engine.Workflow{}, err
	}
	row, err := s.db.Client.Workflow.Get(ctx, wid)
	if err != nil {
		if ent.IsNotFound(err) {
			return engine.Workflow{}, fmt.Errorf("%w: workflow %s", engine.ErrNotFound, id)
		}
		return engine.Workflow{}, translate(err)
	}
	return workflowFromRow(row)
}

func (s *Store) ListWorkflows(ctx context.Context, f engine.WorkflowFilter, p engine.Page) ([]engine.Workflow, string, int64, error) {
	q := s.db.Client.Workflow.Query()
	if f.NameContains != "" {
		q = q.Where(s.nameContains(f.NameContains))
	}
	if !f.IncludeArchived {
		q = q.Where(workflow.ArchivedAtIsNil())
	}
	rows, next, total, err := workflowPage(ctx, q, p)
	if err != nil {
		return nil, "", 0, err
	}
	out := make([]engine.Workflow, len(rows))
	for i, r := range rows {
		if out[i], err = workflowFromRow(r); err != nil {
			return nil, "", 0, err
		}
	}
	return out, next, total, nil
}

// workflowPage reads a page of q in creation order, the position after it ("" at the end) and
// how many q matches in all (every page counts: total_size is the server's, never carried in
// a token).
func workflowPage(ctx context.Context, q *ent.WorkflowQuery, p engine.Page) ([]*ent.Workflow, string, int64, error) {
	total, err := q.Clone().Count(ctx)
	if err != nil {
		return nil, "", 0, translate(err)
	}
	if p.After != "" {
		after, err := uuid.Parse(p.After)
		if err != nil {
			return nil, "", 0, engine.Invalid(engine.Problem{Path: "page_token", Message: "is not a token this service issued"})
		}
		q = q.Where(workflow.IDGT(after))
	}
	rows, err := q.Order(workflow.ByID()).Limit(p.Size + 1).All(ctx)
	if err != nil {
		return nil, "", 0, translate(err)
	}
	next := ""
	if len(rows) > p.Size {
		rows = rows[:p.Size]
		next = rows[len(rows)-1].ID.String()
	}
	return rows, next, int64(total), nil
}

func (s *Store) ListPublished(ctx context.Context, f engine.WorkflowFilter, p engine.Page) ([]engine.Version, string, int64, error) {
	q := s.db.Client.Workflow.Query().Where(workflow.LatestVersionGT(0), workflow.ArchivedAtIsNil())
	if f.NameContains != "" {
		q = q.Where(s.nameContains(f.NameContains))
	}
	rows, next, total, err := workflowPage(ctx, q, p)
	if err != nil {
		return nil, "", 0, err
	}
	if len(rows) == 0 {
		return nil, next, total, nil
	}
	// The page's latest versions, in one query.
	latest := make([]predicate.WorkflowVersion, len(rows))
	for i, r := range rows {
		latest[i] = workflowversion.And(workflowversion.WorkflowID(r.ID), workflowversion.Version(r.LatestVersion))
	}
	vrows, err := s.db.Client.WorkflowVersion.Query().Where(workflowversion.Or(latest...)).All(ctx)
	if err != nil {
		return nil, "", 0, translate(err)
	}
	byWorkflow := make(map[uuid.UUID]*ent.WorkflowVersion, len(vrows))
	for _, v := range vrows {
		byWorkflow[v.WorkflowID] = v
	}
	out := make([]engine.Version, 0, len(rows))
	for _, r := range rows {
		v, ok := byWorkflow[r.ID]
		if !ok {
			continue // latest_version and its row are written in one transaction; not reached
		}
		ver, err := versionFromRow(v)
		if err != nil {
			return nil, "", 0, err
		}
		out = append(out, ver)
	}
	return out, next, total, nil
}

func (s *Store) PublishVersion(ctx context.Context, id string, expectedRevision int64, build func(engine.Draft) (engine.Draft, error)) (engine.Version, error) {
	wid, err := parseID("workflow", id)
	if err != nil {
		return engine.Version{}, err
	}
	var out engine.Version
	err = s.inTx(ctx, func(tx txn) error {
		// Publishing a revision twice (a retried request, or two racing ones) yields one version.
		if v, err := tx.WorkflowVersion.Query().
			Where(workflowversion.WorkflowID(wid), workflowversion.Revision(expectedRevision)).
			Only(ctx); err == nil {
			out, err = versionFromRow(v)
			return err
		} else if !ent.IsNotFound(err) {
			return err
		}
		wf, err := tx.Workflow.Get(ctx, wid)
		if err != nil {
			if ent.IsNotFound(err) {
				return fmt.Errorf("%w: workflow %s", engine.ErrNotFound, id)
			}
			return err
		}
		if wf.Revision != expectedRevision {
			return fmt.Errorf("%w: the workflow is at revision %d, not %d", engine.ErrConflict, wf.Revision, expectedRevision)
		}
		draft, err := engine.UnmarshalDefinition(wf.Draft)
		if err != nil {
			return fmt.Errorf("stored draft of workflow %s: %w", id, err)
		}
		def, err := build(draft)
		if err != nil {
			return err
		}
		raw, err := engine.MarshalDefinition(def)
		if err != nil {
			return err
		}
		number := wf.LatestVersion + 1
		row, err := tx.WorkflowVersion.Create().
			SetWorkflowID(wid).
			SetVersion(number).
			SetRevision(expectedRevision).
			SetDefinition(raw).
			SetPublishedAt(now()).
			Save(ctx)
		if err != nil {
			return err
		}
		n, err := tx.Workflow.Update().
			Where(workflow.ID(wid), workflow.Revision(expectedRevision), workflow.LatestVersion(wf.LatestVersion)).
			SetLatestVersion(number).
			Save(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: the workflow changed while publishing", engine.ErrConflict)
		}
		out, err = versionFromRow(row)
		return err
	})
	if err != nil && isUniqueViolation(err) {
		// A concurrent publish of the same revision won the race: answer with its version.
		if v, gerr := s.versionAtRevision(ctx, wid, expectedRevision); gerr == nil {
			return v, nil
		}
		return engine.Version{}, fmt.Errorf("%w: another version was published concurrently", engine.ErrConflict)
	}
	return out, translate(err)
}

func (s *Store) versionAtRevision(ctx context.Context, wid uuid.UUID, revision int64) (engine.Version, error) {
	row, err := s.db.Client.WorkflowVersion.Query().
		Where(workflowversion.WorkflowID(wid), workflowversion.Revision(revision)).
		Only(ctx)
	if err != nil {
		return engine.Version{}, translate(err)
	}
	return versionFromRow(row)
}

func (s *Store) GetVersion(ctx context.Context, id string, number int32) (engine.Version, error) {
	return s.version(ctx, id, number)
}

// VersionHead runs on the hot reads' path (Store.queryRow), its text built once: every start
// reads it, and through ent's builder and database/sql it was a fifth of flowhook's CPU profile
// under StartInstance. What it reads is what version reads without the definition.
func (s *Store) VersionHead(ctx context.Context, id string, number int32) (engine.Version, error) {
	wid, err := parseID("workflow", id)
	if err != nil {
		return engine.Version{}, err
	}
	q, args := versionHeadLatestSQL[s.entDialect()], []any{wid}
	if number > 0 {
		q, args = versionHeadSQL[s.entDialect()], []any{wid, number}
	}
	var (
		v        engine.Version
		wf       uuid.UUID
		archived int64
	)
	if err := s.queryRow(ctx, q, args...).Scan(&wf, &v.Version, &v.Revision, &v.PublishedAt, &archived); err != nil {
		if noRow(err) {
			return engine.Version{}, s.versionNotFound(ctx, wid, number)
		}
		return engine.Version{}, translate(err)
	}
	v.WorkflowID, v.WorkflowArchived = wf.String(), archived != 0
	return v, nil
}

// versionHeadSQL and versionHeadLatestSQL are VersionHead's queries, by dialect: a numbered
// version, and the latest.
var (
	versionHeadSQL       = byDialect(func(b *entsql.DialectBuilder) string { return versionHeadQuery(b, true) })
	versionHeadLatestSQL = byDialect(func(b *entsql.DialectBuilder) string { return versionHeadQuery(b, false) })
)

// versionHeadQuery selects a version's head and whether its workflow is archived (as version
// does, with archivedColumn), by the workflow and, when numbered, the version's number.
func versionHeadQuery(b *entsql.DialectBuilder, numbered bool) string {
	vt, wt := b.Table(workflowversion.Table).As("v"), b.Table(workflow.Table).As("w")
	sel := b.Select(vt.C(workflowversion.FieldWorkflowID), vt.C(workflowversion.FieldVersion),
		vt.C(workflowversion.FieldRevision), vt.C(workflowversion.FieldPublishedAt)).
		AppendSelectExprAs(archivedFlag(wt.C(workflow.FieldArchivedAt)), archivedColumn).
		From(vt).
		Join(wt).On(vt.C(workflowversion.FieldWorkflowID), wt.C(workflow.FieldID))
	if numbered {
		sel.Where(entsql.And(entsql.EQ(vt.C(workflowversion.FieldWorkflowID), ""), entsql.EQ(vt.C(workflowversion.FieldVersion), 0)))
	} else {
		sel.Where(entsql.EQ(vt.C(workflowversion.FieldWorkflowID), "")).OrderBy(entsql.Desc(vt.C(workflowversion.FieldVersion))).Limit(1)
	}
	query, _ := sel.Query()
	return query
}

// version reads a version (number 0: the latest) with its definition.
func (s *Store) version(ctx context.Context, id string, number int32) (engine.Version, error) {
	wid, err := parseID("workflow", id)
	if err != nil {
		return engine.Version{}, err
	}
	// Whether the workflow is archived comes with the version, in the same statement, as in
	// VersionHead's.
	q := s.db.Client.WorkflowVersion.Query().Where(workflowversion.WorkflowID(wid))
	if number > 0 {
		q = q.Where(workflowversion.Version(number))
	} else {
		q = q.Order(workflowversion.ByVersion(entsql.OrderDesc())).Limit(1)
	}
	// Modify adds to the query's own modifiers (as ForUpdate does); the Select it returns is
	// not needed: First reads the entity, with the extra column kept as a value of it.
	q.Modify(func(sel *entsql.Selector) {
		wf := entsql.Table(workflow.Table)
		sel.Join(wf).On(sel.C(workflowversion.FieldWorkflowID), wf.C(workflow.FieldID))
		sel.AppendSelectExprAs(archivedFlag(wf.C(workflow.FieldArchivedAt)), archivedColumn)
	})
	row, err := q.First(ctx)
	if err != nil {
		if ent.IsNotFound(err) {
			return engine.Version{}, s.versionNotFound(ctx, wid, number)
		}
		return engine.Version{}, translate(err)
	}
	v, err := versionFromRow(row)
	if err != nil {
		return engine.Version{}, err
	}
	archived, err := row.Value(archivedColumn)
	if err != nil {
		return engine.Version{}, err
	}
	switch a := archived.(type) {
	case int64:
		v.WorkflowArchived = a != 0
	case int32:
		v.WorkflowArchived = a != 0
	default:
		return engine.Version{}, fmt.Errorf("workflow %s: archived flag of type %T", id, archived)
	}
	return v, nil
}

// archivedColumn is the extra column GetVersion and VersionHead read from the version's
// workflow: archivedFlag of its archived_at.
const archivedColumn = "workflow_archived"

// archivedFlag is 1 when the archived_at column c is set, else 0, in either dialect.
func archivedFlag(c string) entsql.Querier {
	return entsql.ExprP("CASE WHEN " + c + " IS NULL THEN 0 ELSE 1 END")
}

func (s *Store) SetArchived(ctx context.Context, id string, archive bool) (engine.Workflow, error) {
	wid, err := parseID("workflow", id)
	if err != nil {
		return engine.Workflow{}, err
	}
	// Conditional on the current state, so that a repeat changes nothing and the first
	// archiving's time stands. The revision guards the draft only: archiving leaves it as is,
	// so that a designer's next update from the revision they read still applies.
	at := now()
	u := s.db.Client.Workflow.Update().Where(workflow.ID(wid)).SetUpdatedAt(at)
	if archive {
		u = u.Where(workflow.ArchivedAtIsNil()).SetArchivedAt(at)
	} else {
		u = u.Where(workflow.ArchivedAtNotNil()).ClearArchivedAt()
	}
	if err := u.Exec(ctx); err != nil {
		return engine.Workflow{}, translate(err)
	}
	return s.GetWorkflow(ctx, id)
}

func (s *Store) versionNotFound(ctx context.Context, wid uuid.UUID, number int32) error {
	exists, err := s.db.Client.Workflow.Query().Where(workflow.ID(wid)).Exist(ctx)
	switch {
	case err != nil:
		return translate(err)
	case !exists:
		return fmt.Errorf("%w: workflow %s", engine.ErrNotFound, wid)
	case number == 0:
		return fmt.Errorf("%w: workflow %s has no published version", engine.ErrNotFound, wid)
	default:
		return fmt.Errorf("%w: workflow %s has no version %d", engine.ErrNotFound, wid, number)
	}
}

func (s *Store) ListVersions(ctx context.Context, id string, p engine.Page) ([]engine.Version, string, error) {
	wid, err := parseID("workflow", id)
	if err != nil {
		return nil, "", err
	}
	exists, err := s.db.Client.Workflow.Query().Where(workflow.ID(wid)).Exist(ctx)
	if err != nil {
		return nil, "", translate(err)
	}
	if !exists {
		return nil, "", fmt.Errorf("%w: workflow %s", engine.ErrNotFound, id)
	}
	q := s.db.Client.WorkflowVersion.Query().Where(workflowversion.WorkflowID(wid))
	if p.After != "" {
		before, err := strconv.ParseInt(p.After, 10, 32)
		if err != nil {
			return nil, "", engine.Invalid(engine.Problem{Path: "page_token", Message: "is not a token this service issued"})
		}
		q = q.Where(workflowversion.VersionLT(int32(before)))
	}
	rows, err := q.Order(workflowversion.ByVersion(entsql.OrderDesc())).Limit(p.Size + 1).All(ctx)
	if err != nil {
		return nil, "", translate(err)
	}
	next := ""
	if len(rows) > p.Size {
		rows = rows[:p.Size]
		next = strconv.Itoa(int(rows[len(rows)-1].Version))
	}
	out := make([]engine.Version, len(rows))
	for i, r := range rows {
		if out[i], err = versionFromRow(r); err != nil {
			return nil, "", err
		}
	}
	return out, next, nil
}

// now is the time stored for a change, at the microsecond precision PostgreSQL keeps, so that
// what a write returns equals what a later read returns.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// txn is a transaction: an ent client bound to it, and the *sql.Tx itself for River, so that
// rows and the jobs they make necessary commit together.
type txn struct {
	*ent.Client
	sql *sql.Tx
	// dialect is the database's, for statements ent's builders write.
	dialect string
	// locks: the database takes row locks (PostgreSQL); SQLite's transactions run one at a time.
	locks bool
	// enqueued collects the jobs inserted, for the inserter's Committed once the tx commits.
	enqueued *[]engine.Job
}

// nopTxDriver lets an ent client run on a caller-owned *sql.Tx: what ent would open as a
// nested transaction runs in the outer one.
type nopTxDriver struct{ *entsql.Driver }

func (d nopTxDriver) Tx(context.Context) (dialect.Tx, error) { return dialect.NopTx(d.Driver), nil }

// entDialect is the database's dialect as ent's builders name it.
func (s *Store) entDialect() string {
	if s.db.Dialect == SQLite {
		return dialect.SQLite
	}
	return dialect.Postgres
}

// inTx runs fn in a transaction, rolling back when it fails. On SQLite (one connection) fn must
// use only tx. A panic in fn (or runtime.Goexit) rolls back too, then goes on up: the job or RPC
// boundary recovers it (worker.panicRecoverer, api.recoverPanics). Left open, the transaction
// would keep its connection and locks, and on SQLite block every later query.
func (s *Store) inTx(ctx context.Context, fn func(tx txn) error) (err error) {
	return s.inTxOn(ctx, s.db.SQL, fn)
}

// inTxOn is inTx on the pool db.
func (s *Store) inTxOn(ctx context.Context, db *sql.DB, fn func(tx txn) error) (err error) {
	sqlTx, err := db.BeginTx(ctx, &sql.TxOptions{})
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			_ = sqlTx.Rollback() // fn panicked; its panic, going on, says what happened
		}
	}()
	d := s.entDialect()
	var enqueued []engine.Job
	tx := txn{Client: ent.NewClient(ent.Driver(nopTxDriver{entsql.NewDriver(d, entsql.Conn{ExecQuerier: sqlTx})})), sql: sqlTx,
		dialect: d, locks: s.db.Dialect == Postgres, enqueued: &enqueued}
	err = fn(tx)
	done = true
	if err != nil {
		if rerr := sqlTx.Rollback(); rerr != nil && !errors.Is(rerr, sql.ErrTxDone) {
			return errors.Join(err, rerr)
		}
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return err
	}
	s.committed(enqueued)
	return nil
}

// committed tells the queue which jobs committed (CommitWatcher).
func (s *Store) committed(jobs []engine.Job, more ...engine.Job) {
	jobs = append(jobs, more...)
	if c, ok := s.jobs.(CommitWatcher); ok && len(jobs) > 0 {
		c.Committed(jobs)
	}
}

// CommitWatcher is a JobInserter told which jobs committed: the queue arms an in-process
// wake-up for a timer due soon, which River alone would run up to its scheduler's 5 s late,
// and fetches the documents marked due (documents.go) at once.
type CommitWatcher interface {
	Committed(jobs []engine.Job)
}

// JobInserter enqueues background jobs inside a transaction (River's InsertTx; several at
// once in one statement, InsertManyTx).
type JobInserter interface {
	InsertTx(ctx context.Context, tx *sql.Tx, jobs ...engine.Job) error
}

// WithJobs returns the store enqueuing jobs through jobs.
func (s *Store) WithJobs(jobs JobInserter) *Store {
	out := *s
	out.jobs = jobs
	out.commits = &groupCommit{}
	return &out
}

// enqueue inserts jobs in tx; a store without an inserter refuses work that needs one.
func (s *Store) enqueue(ctx context.Context, tx txn, jobs []engine.Job) error {
	if len(jobs) == 0 {
		return nil
	}
	river, due := documentsDue(jobs)
	for _, id := range due {
		if err := markDocumentDue(ctx, tx, id); err != nil {
			return fmt.Errorf("enqueue fetch_document: %w", err)
		}
	}
	river, events := eventsDue(river)
	for _, id := range events {
		if err := markEventDue(ctx, tx, id); err != nil {
			return fmt.Errorf("enqueue process_event: %w", err)
		}
	}
	if len(river) > 0 {
		if s.jobs == nil {
			return errors.New("store: background jobs are not configured")
		}
		if err := s.jobs.InsertTx(ctx, tx.sql, river...); err != nil {
			return fmt.Errorf("enqueue %s: %w", river[0].Kind(), err)
		}
	}
	if tx.enqueued != nil {
		*tx.enqueued = append(*tx.enqueued, jobs...)
	}
	return nil
}

func workflowFromRow(r *ent.Workflow) (engine.Workflow, error) {
	d, err := engine.UnmarshalDefinition(r.Draft)
	if err != nil {
		return engine.Workflow{}, fmt.Errorf("stored draft of workflow %s: %w", r.ID, err)
	}
	return engine.Workflow{
		ID:            r.ID.String(),
		Revision:      r.Revision,
		Draft:         d,
		LatestVersion: r.LatestVersion,
		CreatedAt:     r.CreatedAt,
		UpdatedAt:     r.UpdatedAt,
		ArchivedAt:    r.ArchivedAt,
	}, nil
}

func versionFromRow(r *ent.WorkflowVersion) (engine.Version, error) {
	d, err := engine.UnmarshalDefinition(json.RawMessage(r.Definition))
	if err != nil {
		return engine.Version{}, fmt.Errorf("stored definition of workflow %s version %d: %w", r.WorkflowID, r.Version, err)
	}
	return engine.Version{
		WorkflowID:  r.WorkflowID.String(),
		Version:     r.Version,
		Revision:    r.Revision,
		Definition:  d,
		PublishedAt: r.PublishedAt,
	}, nil
}
