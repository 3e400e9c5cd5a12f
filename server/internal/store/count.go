package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	entsql "entgo.io/ent/dialect/sql"
	"golang.org/x/sync/errgroup"

	"github.com/flowhook/flowhook/server/internal/engine"
)

// countExactly is how many rows a list that can grow without bound counts exactly: 10,001
// index entries take 2–3 ms here under EXPLAIN ANALYZE, where all of 100,000 took 8.
const countExactly = 10_000

// total counts the rows of table that where matches (ent's predicates): exactly up to the
// store's bound, and on PostgreSQL, past it, the planner's estimate for the same filter, never
// below the bound plus one. implied are predicates that where implies (an id range beside a
// time range) which speed the count up but would mislead the estimate. SQLite (the embedded
// database, for small installations) counts them all.
func (s *Store) total(ctx context.Context, table string, where, implied []func(*entsql.Selector)) (engine.Total, error) {
	d := s.entDialect()
	filtered := func(preds ...[]func(*entsql.Selector)) *entsql.Selector {
		sel := entsql.Dialect(d).Select().From(entsql.Table(table))
		sel.SelectExpr(entsql.Raw("1"))
		for _, ps := range preds {
			for _, p := range ps {
				p(sel)
			}
		}
		return sel
	}
	bound := s.countBound
	if bound == 0 {
		bound = countExactly
	}
	inner := filtered(where, implied)
	if s.db.Dialect == Postgres {
		inner.Limit(bound + 1)
	}
	q, args := entsql.Dialect(d).Select().SelectExpr(entsql.Raw("count(*)")).From(inner.As("matching")).Query()
	var n int64
	if err := s.scanOne(ctx, q, args, &n); err != nil {
		return engine.Total{}, translate(err)
	}
	if s.db.Dialect != Postgres || n <= int64(bound) {
		return engine.Total{N: n}, nil
	}
	q, args = filtered(where).Query()
	var plan []byte
	if err := s.scanOne(ctx, "EXPLAIN (FORMAT JSON) "+q, args, &plan); err != nil {
		return engine.Total{}, translate(err)
	}
	est, err := planRows(plan)
	if err != nil {
		return engine.Total{}, err
	}
	return engine.Total{N: max(est, n), Estimated: true}, nil
}

// counted runs a list's page (page, which keeps what it reads) and its total side by side on
// PostgreSQL, each on a connection of the pool: the count of up to 10,001 rows is most of a
// list's time, and one after the other the two added up. (Neither depends on the other: the
// total is the filter's, the same on every page.) On SQLite, one after the other. Either
// failing cancels the other; the first error is returned.
func (s *Store) counted(ctx context.Context, table string, where, implied []func(*entsql.Selector), page func(context.Context) error) (engine.Total, error) {
	if s.db.Dialect != Postgres {
		total, err := s.total(ctx, table, where, implied)
		if err != nil {
			return engine.Total{}, err
		}
		return total, page(ctx)
	}
	var total engine.Total
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		var err error
		total, err = s.total(gctx, table, where, implied)
		return err
	})
	g.Go(func() error { return page(gctx) })
	if err := g.Wait(); err != nil {
		return engine.Total{}, err
	}
	return total, nil
}

// scanOne scans the one value of a query's one row. It goes through ent's driver, as the list's
// page does, so that what wraps the driver (the lists' benchmark logs every plan) sees it.
func (s *Store) scanOne(ctx context.Context, query string, args []any, dest any) error {
	rows, err := s.db.Client.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := rows.Scan(dest); err != nil {
		return err
	}
	return rows.Close()
}

// planRows is the rows EXPLAIN (FORMAT JSON) expects its plan to return.
func planRows(plan []byte) (int64, error) {
	var out []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		} `json:"Plan"`
	}
	if err := json.Unmarshal(plan, &out); err != nil || len(out) != 1 {
		return 0, fmt.Errorf("store: reading a plan's row estimate: %v (%d plans)", err, len(out))
	}
	return int64(out[0].Plan.Rows), nil
}

// predicates are ent's typed predicates of one table as plain selector functions.
func predicates[P ~func(*entsql.Selector)](ps []P) []func(*entsql.Selector) {
	out := make([]func(*entsql.Selector), len(ps))
	for i, p := range ps {
		out[i] = p
	}
	return out
}
