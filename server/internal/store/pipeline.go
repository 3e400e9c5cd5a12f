package store

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flowhook/flowhook/server/internal/engine"
)

// A pipeline of one-statement writes (PostgreSQL).
//
// A transition, a finished event, a start, an instance's update or a coupling is one statement
// on the writes pool (transitionwrite.go), on its own in autocommit: a round trip and a commit
// each. Concurrent
// ones are sent together instead, in a lane (lane.go): the leader sends every statement that
// queued while the batch before it was written in one pgx batch, which PostgreSQL runs in one
// implicit transaction (the batch's one Sync), so the batch is one round trip and one commit
// (one WAL flush, one wake-up of each waiting backend) for all of them. Each statement keeps
// its own conditions (the revisions it was decided on, its event not stored yet), so within
// the batch a statement sees the ones before it as a later transaction would, and one that
// finds its rows moved on writes nothing and answers ErrConflict, as it would alone.
//
// A statement that fails (a redelivery another transaction committed meanwhile, a deadlock)
// aborts the batch's transaction and every statement in it: nothing in it is written, and
// each caller sends its statement again on its own, where only the failing one fails again
// (and goes on to its caller's fallback). What a statement's read reports it sets again when
// it runs again, and its caller acts on it only once its statement has committed.
//
// One batch is sent at a time, as the group commit writes one at a time: measured with 8
// closed-loop workers, one lane against two and four, DocuSign completions went 1,269 and 1,211
// → 1,360 a second, starts 2,113 and 2,004 → 2,262, takes 1,874 and 1,809 → 2,034, and
// PostgreSQL's CPU a request fell by an eighth to a quarter: batches are bigger for the same round
// trips, and no two batches wait for each other's row locks. Against no pipeline (each
// statement on its own, in parallel on the pool), in two alternating pairs: completions
// +6–9%, starts +15–18%, takes +18–20%, connector transitions +12–22%, with a fifth to a third
// less of PostgreSQL's CPU a request and a p99 a third lower.

// piped is a statement waiting in a lane for its batch.
type piped struct {
	ctx context.Context
	st  oneStatement
	// sent: the batch committed; err is the statement's read's.
	sent bool
	err  error
}

// pipe sends st, which inserts no jobs, in a batch on pool with the statements queued with it.
// sent is false when the batch did not commit: st was not written, and its caller sends it on
// its own.
func (s *Store) pipe(ctx context.Context, pool *pgxpool.Pool, st oneStatement) (sent bool, err error) {
	p := &piped{ctx: ctx, st: st}
	s.commits.pipeline.do(p, func(batch []*piped) { s.sendBatch(pool, batch) })
	return p.sent, p.err
}

// sendBatch sends batch's statements in one pgx batch and reads each one's rows with its read;
// each is sent when the batch committed. A batch of one is sent as a statement. The batch runs
// under none of its callers' contexts (30 s bound), as the group commit's does: a client that
// hangs up must not fail the others' writes.
func (s *Store) sendBatch(pool *pgxpool.Pool, batch []*piped) {
	defer func() {
		if p := recover(); p != nil {
			for _, b := range batch {
				b.sent = false // its caller sends it on its own
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(batch[0].ctx), batchTimeout)
	defer cancel()
	if len(batch) == 1 {
		b := batch[0]
		b.err = alone(runOn(ctx, pgxQuerier{pool}, b.st))
		b.sent = true
		return
	}
	var pb pgx.Batch
	for _, b := range batch {
		pb.Queue(b.st.query, b.st.args...)
	}
	br := pool.SendBatch(ctx, &pb)
	closed := false
	defer func() {
		if !closed {
			_ = br.Close() // a read panicked: the connection goes back to the pool
		}
	}()
	for _, b := range batch {
		r, err := br.Query()
		b.err = alone(readRows(r, err, b.st))
	}
	// Close reads to the batch's end, the commit's answer; an error there or in any statement
	// means the transaction did not commit.
	err := br.Close()
	closed = true
	for _, b := range batch {
		b.sent = err == nil
	}
}

// readRows reads a statement's rows to their end with st's read: the jobs it returns, and its
// error or the statement's.
func readRows(r rows, err error, st oneStatement) ([]engine.Job, error) {
	if err != nil {
		return nil, err
	}
	defer r.Close()
	jobs, err := st.read(r)
	r.Close()
	if err == nil {
		err = r.Err()
	}
	return jobs, err
}

// runOn runs st on q: the jobs its read returns, and its error or the statement's.
func runOn(ctx context.Context, q querier, st oneStatement) ([]engine.Job, error) {
	r, err := q.query(ctx, st.query, st.args...)
	return readRows(r, err, st)
}

// alone is the error of a statement written on its own, which inserts no jobs.
func alone(jobs []engine.Job, err error) error {
	if err == nil && len(jobs) > 0 {
		err = errors.New("jobs to enqueue outside a transaction")
	}
	return err
}

// oneStatement is a write in one statement: its text and arguments, and what reads its rows
// and returns the jobs River inserts with it in a transaction (a write on its own, in a
// pipeline or not, must return none). read may run more than once (a batch that did not commit
// is sent again alone): it sets what it reports afresh each time.
type oneStatement struct {
	query string
	args  []any
	read  func(r rows) ([]engine.Job, error)
}
