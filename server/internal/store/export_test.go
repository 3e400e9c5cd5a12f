package store

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"strings"
	"testing/fstest"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pressly/goose/v3"

	"github.com/flowhook/flowhook/ent"
	"github.com/flowhook/flowhook/ent/instance"
	"github.com/flowhook/flowhook/ent/migrate"
	"github.com/flowhook/flowhook/ent/workitem"
	"github.com/flowhook/flowhook/server/internal/engine"
)

// InTx runs fn in one of the store's transactions (inTx), for tests of the transaction's own
// behaviour.
func InTx(s *Store, ctx context.Context, fn func(*ent.Client) error) error {
	return s.inTx(ctx, func(tx txn) error { return fn(tx.Client) })
}

// MigrateUpTo applies flowhook's migrations up to version only (River's none), for tests of a
// migration on the data an earlier version left.
func MigrateUpTo(ctx context.Context, db *DB, version int64) error {
	p, err := db.migrations()
	if err != nil {
		return err
	}
	_, err = p.UpTo(ctx, version)
	return err
}

// WriteInboundBatch writes notifications as one batch of the group commit (a nil result:
// stored with its processing job), the way concurrent webhooks are, and returns whether each
// was new and its error.
func WriteInboundBatch(s *Store, evs []engine.StoredEvent, results []*engine.EventResult) ([]bool, []error) {
	batch := inboundBatch(evs, results)
	s.writeBatchSafe(append([]*inbound(nil), batch...)) // it may reorder what it is given
	created, errs := outcomes(batch)
	return created, errs
}

// WriteRows writes notifications as one batch in the group commit's statement (PostgreSQL),
// without falling back to writing each alone: its error says the statement failed.
func WriteRows(s *Store, evs []engine.StoredEvent, results []*engine.EventResult) ([]bool, []error, error) {
	batch := inboundBatch(evs, results)
	if err := s.writeRows(context.Background(), batch); err != nil {
		return nil, nil, err
	}
	created, errs := outcomes(batch)
	return created, errs, nil
}

// inboundBatch is a batch of the notifications with their results (nil: stored PENDING).
func inboundBatch(evs []engine.StoredEvent, results []*engine.EventResult) []*inbound {
	batch := make([]*inbound, len(evs))
	for i, ev := range evs {
		batch[i] = &inbound{ctx: context.Background(), id: uuid.MustParse(engine.NewIDAt(ev.ReceivedAt)), ev: ev, result: results[i]}
	}
	return batch
}

// outcomes are whether each notification of a written batch was new, and its error.
func outcomes(batch []*inbound) ([]bool, []error) {
	created, errs := make([]bool, len(batch)), make([]error, len(batch))
	for i, in := range batch {
		created[i], errs[i] = in.created, translate(in.err)
	}
	return created, errs
}

// JoinedColumnsMissing names the columns of either table that the maps above do not scan: a
// column added to the schema must be added there too (TestWorkItemWithInstance checks).
func JoinedColumnsMissing() string {
	var missing []string
	w, i := workItemColumns(&ent.WorkItem{}), instanceColumns(&ent.Instance{}, new([]byte))
	for _, c := range workitem.Columns {
		if w[c] == nil {
			missing = append(missing, "work_items."+c)
		}
	}
	for _, c := range instance.Columns {
		if i[c] == nil {
			missing = append(missing, "instances."+c)
		}
	}
	return strings.Join(missing, ", ")
}

// WriteTransition writes a notification whose result moves its instance with the one
// statement of writeTransition (PostgreSQL), without falling back: its error says when the
// statement failed.
func WriteTransition(s *Store, ev engine.StoredEvent, r engine.EventResult) (bool, error) {
	in := &inbound{ctx: context.Background(), id: uuid.MustParse(engine.NewIDAt(ev.ReceivedAt)), ev: ev, result: &r}
	if !transitional(in) {
		return false, errors.New("not a result writeTransition writes")
	}
	if err := s.writeTransition(context.Background(), in); err != nil {
		return false, err
	}
	return in.created, translate(in.err)
}

// WriteBatchSQLs are the group commit's statements on PostgreSQL (with and without the work
// items' and the activities' parts), for tests of their plans.
var WriteBatchSQLs = writeBatchSQLs[:]

// CallbackReadSQL is the read sent with a batch's write for its callbacks, for tests of its
// plan.
var CallbackReadSQL = callbackReadSQL

// SaveDocumentsSQL is SaveDocuments' statement on PostgreSQL, for tests of its plan.
const SaveDocumentsSQL = saveDocumentsSQL

// FinishTransition saves a transitional result of a stored event with the one statement of
// finishTransition (PostgreSQL), without falling back: its error says when the statement
// failed.
func FinishTransition(s *Store, r engine.EventResult) error {
	eid, err := uuid.Parse(r.EventID)
	if err != nil {
		return err
	}
	return translate(s.finishTransition(context.Background(), eid, r))
}

// WarmSQL is the statements a new PostgreSQL connection runs first.
var WarmSQL = warmSQL

// SidePools returns the side pools' database/sql handles and pgx pools, for tests of their
// sizes.
func SidePools(db *DB) (writes, batches *sql.DB, writesPool, batchesPool *pgxpool.Pool) {
	return db.Writes, db.Batches, db.writesPool, db.batchesPool
}

// CoupleAlone is CoupleWorkItem's one statement on PostgreSQL, without the transaction it
// falls back to: written says it coupled the work item.
func CoupleAlone(s *Store, ctx context.Context, id, externalID string, act engine.Activity) (engine.Coupled, bool, error) {
	return s.coupleAlone(ctx, uuid.MustParse(id), externalID, act)
}

// WithTransactions is the store writing CreateInstance and UpdateInstance in their
// transaction on PostgreSQL too, where it takes one statement: the two are compared.
func WithTransactions(s *Store) *Store {
	out := *s
	out.forceTx = true
	return &out
}

// WithCountBound is the store counting a list's matches exactly up to bound only (countExactly
// otherwise), so that a test reaches the estimate with a few rows.
func WithCountBound(s *Store, bound int) *Store {
	out := *s
	out.countBound = bound
	return &out
}

// HoldPipeline holds the pipeline of one-statement writes (pipeline.go) as a batch being sent
// would: what is written meanwhile queues. queued says how many wait; release lets them go,
// as the next batch, and returns once the holding batch is done (it counts as a batch of one
// in PipelineSent). It must be released.
func HoldPipeline(s *Store) (queued func() int, release func()) {
	held, gate, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	l := &s.commits.pipeline
	go func() {
		defer close(done)
		l.do(&piped{ctx: context.Background()}, func([]*piped) {
			close(held)
			<-gate
		})
	}()
	<-held
	return func() int {
			l.mu.Lock()
			defer l.mu.Unlock()
			return len(l.queue)
		}, func() {
			close(gate)
			<-done
		}
}

// PipelineSent says how many batches the pipeline has sent, and how many statements in all
// (its lane's counts, Store.Lanes).
func PipelineSent(s *Store) (batches, statements int64) {
	return s.commits.pipeline.batches.Load(), s.commits.pipeline.writes.Load()
}

// WriteStatement writes query, a statement with no arguments, as a one-statement write on the
// writes pool (through the pipeline on PostgreSQL), its rows read to their end.
func WriteStatement(s *Store, ctx context.Context, query string) error {
	return s.writeStatement(ctx, s.writes(), false, oneStatement{query: query, read: func(r rows) ([]engine.Job, error) {
		for r.Next() {
		}
		return nil, nil
	}})
}

// VerdictOnly is verdictOnly: whether FinishEvent writes r as its event's row alone.
var VerdictOnly = verdictOnly

// RegisterTypes is registerTypes: what every PostgreSQL connection's type map is taught.
var RegisterTypes = registerTypes

// VerdictSQL is verdictSQL, the statement of a verdict alone on PostgreSQL.
const VerdictSQL = verdictSQL

// PoolOf is the store's main pgx pool (nil on SQLite).
func PoolOf(s *Store) *pgxpool.Pool { return s.db.Pool }

// ListAssignedSQL is ListAssigned's query on PostgreSQL, for tests of its plan.
var ListAssignedSQL = listAssignedSQL

// VerdictsSQL is verdictsSQL, the statement of a batch of verdicts alone.
const VerdictsSQL = verdictsSQL

// WriteVerdictBatch writes results as one batch of the verdicts lane (PostgreSQL) and says,
// for each, whether the batch wrote it (false: its caller would write it alone) and saved it.
func WriteVerdictBatch(ctx context.Context, s *Store, results []engine.EventResult) (written, saved []bool) {
	batch := make([]*verdictWrite, len(results))
	for i, r := range results {
		batch[i] = &verdictWrite{ctx: ctx, id: uuid.MustParse(r.EventID), r: r, at: dbTime(now())}
	}
	s.writeVerdicts(batch)
	for _, v := range batch {
		written, saved = append(written, v.written), append(saved, v.saved)
	}
	return written, saved
}

// Translate is translate, for tests of how a driver's error is classified.
var Translate = translate

// MigrateWithExtra applies flowhook's migrations for the database and the extra ones (file
// name → goose SQL) after them, the way Migrate applies its own (River's none): for tests of
// what a future migration meets.
func MigrateWithExtra(ctx context.Context, db *DB, extra map[string]string) error {
	dir, err := fs.Sub(migrate.Files, string(db.Dialect))
	if err != nil {
		return err
	}
	files := fstest.MapFS{}
	entries, err := fs.ReadDir(dir, ".")
	if err != nil {
		return err
	}
	for _, e := range entries {
		b, err := fs.ReadFile(dir, e.Name())
		if err != nil {
			return err
		}
		files[e.Name()] = &fstest.MapFile{Data: b}
	}
	for name, text := range extra {
		files[name] = &fstest.MapFile{Data: []byte(text)}
	}
	d := goose.DialectSQLite3
	if db.Dialect == Postgres {
		d = goose.DialectPostgres
	}
	p, err := goose.NewProvider(d, db.SQL, files)
	if err != nil {
		return err
	}
	_, err = db.up(ctx, p)
	return err
}
