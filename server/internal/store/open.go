package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/flowhook/flowhook/ent"
	"github.com/flowhook/flowhook/ent/activity"
	"github.com/flowhook/flowhook/ent/instance"
	"github.com/flowhook/flowhook/ent/signeddocument"
	"github.com/flowhook/flowhook/ent/webhookevent"
	"github.com/flowhook/flowhook/ent/workitem"
)

// Dialect names the kind of database a Store runs on.
type Dialect string

const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// SQLiteFile is the name of the embedded database inside the data directory.
const SQLiteFile = "flowhook.db"

// Options say which database to open.
type Options struct {
	// DatabaseURL is a postgres:// URL; empty selects the embedded SQLite database.
	DatabaseURL string
	// DataDir holds the embedded database (created when missing).
	DataDir string
	// MaxConns bounds the connections the DB opens to PostgreSQL, its three pools together
	// (poolSizes); 0: DefaultMaxConns.
	MaxConns int32
}

// DB is an open database: the pgx pool (PostgreSQL only), the database/sql handle over it and
// the ent client over that. River uses the same pool.
type DB struct {
	Dialect Dialect
	SQL     *sql.DB
	Pool    *pgxpool.Pool // nil on SQLite
	Client  *ent.Client
	// Writes is a second, small pool (PostgreSQL only; SQL on SQLite) for the one-statement
	// transitions (writeTransition). Its sessions keep every plan generic (plan_cache_mode):
	// that statement's CTEs find rows by keys given as parameters, and PostgreSQL, choosing
	// custom plans for it, planned it again on every call, which cost as much as running it.
	Writes     *sql.DB
	writesPool *pgxpool.Pool
	// Batches is a third, smaller pool (PostgreSQL only; SQL on SQLite) for the group
	// commit's statement (writeRows) and the documents' (SaveDocuments). Its sessions keep
	// every plan generic and never choose a sequential scan (plan_cache_mode,
	// enable_seqscan): a statement is prepared and planned once per connection, and every
	// table it reads it reads through an index, whatever the table's size when the plan was
	// made. Left to PostgreSQL's choice (the main pool), a
	// connection switched after five batches to a generic plan made for the sizes of that
	// moment, which scanned webhook_events and work_items whole as they grew: ingest fell by
	// a third or more, at random (auto_explain showed it). Planned for every batch instead,
	// it cost half as much again in PostgreSQL's CPU. TestBatchPlanUsesIndexes checks the plan.
	Batches     *sql.DB
	batchesPool *pgxpool.Pool
}

// batches is the pool of the group commit's statement (DB.Batches; SQL when the DB has none).
func (s *Store) batches() side {
	if s.db.Batches != nil {
		return side{db: s.db.Batches, pool: s.db.batchesPool}
	}
	return side{db: s.db.SQL}
}

// batchesConns is the size of the batches pool at most: one lane writes one batch at a time,
// and the documents' saver keeps one batch of documents at a time (SaveDocuments); one more
// for a document a job fetched.
const batchesConns = 3

// writes is the pool of the one-statement transitions (DB.Writes; SQL when the DB has none).
func (s *Store) writes() side {
	if s.db.Writes != nil {
		return side{db: s.db.Writes, pool: s.db.writesPool, piped: true}
	}
	return side{db: s.db.SQL}
}

// side is a pool that one-statement writes use: database/sql over it for the transactions
// that insert River's jobs with a statement, and the pgx pool itself (nil on SQLite) for a
// statement on its own, without database/sql's layer between.
type side struct {
	db   *sql.DB
	pool *pgxpool.Pool
	// piped: statements on their own go through the pipeline (pipeline.go).
	piped bool
}

// statements runs statements each on its own: through pgx itself when there is a pool.
func (on side) statements() querier {
	if on.pool != nil {
		return pgxQuerier{on.pool}
	}
	return sqlQuerier{on.db}
}

// writesConns is the size of the writes pool at most: the pipeline sends its batches on one
// connection (pipeline.go), and a write with jobs for River holds one for the four round trips
// of its transaction. Transitions bursting on their own pool leave the main pool's
// connections to the reads and to River's fetches (when transitions used the main pool, paced
// at 1,000 a second, 711 signed documents were fetched for 4,911 DocuSign completions: the
// fetch jobs fell behind).
const writesConns = 7

// DefaultMaxConns is how many connections a DB opens to PostgreSQL when Options say nothing:
// 20 for the main pool (pgx's default, max(4, cores), is too few once River's listener, leader
// and fetchers hold connections beside the requests) and the side pools' 7 and 3.
const DefaultMaxConns = 30

// MinMaxConns is the fewest connections a DB can work with: two for the main pool (River's
// listener holds one) and one for each side pool.
const MinMaxConns = 4

// poolSizes splits total connections between the main pool and the two side pools, so that
// total bounds them together: the side pools take up to a third and a sixth (at most
// writesConns and batchesConns, at least one each), the main pool the rest. A total below
// MinMaxConns is raised to it.
func poolSizes(total int32) (main, writes, batches int32) {
	if total <= 0 {
		total = DefaultMaxConns
	}
	total = max(total, MinMaxConns)
	writes = min(writesConns, max(1, total/3))
	batches = min(batchesConns, max(1, total/6))
	return total - writes - batches, writes, batches
}

// Open connects to the database the options name. It does not migrate: call Migrate.
func Open(ctx context.Context, o Options) (*DB, error) {
	if o.DatabaseURL != "" {
		return openPostgres(ctx, o)
	}
	return openSQLite(o.DataDir)
}

func openPostgres(ctx context.Context, o Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(o.DatabaseURL)
	if err != nil {
		// pgconn masks the password in its parse errors.
		return nil, fmt.Errorf("database URL: %w", err)
	}
	mainConns, writesN, batchesN := poolSizes(o.MaxConns)
	cfg.MaxConns = mainConns
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		registerTypes(c.TypeMap())
		return warm(ctx, c)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open PostgreSQL pool: %w", err)
	}
	writes, err := sidePool(ctx, cfg, writesN, map[string]string{"plan_cache_mode": "force_generic_plan"})
	if err != nil {
		pool.Close()
		return nil, err
	}
	batches, err := sidePool(ctx, cfg, batchesN, map[string]string{"plan_cache_mode": "force_generic_plan", "enable_seqscan": "off"})
	if err != nil {
		pool.Close()
		writes.Close()
		return nil, err
	}
	db := stdlib.OpenDBFromPool(pool)
	return &DB{
		Dialect:     Postgres,
		SQL:         db,
		Pool:        pool,
		Client:      ent.NewClient(ent.Driver(entsql.OpenDB(dialect.Postgres, db))),
		Writes:      sideDB(writes),
		writesPool:  writes,
		Batches:     sideDB(batches),
		batchesPool: batches,
	}, nil
}

// sideDB is database/sql over a side pool, for the transactions that insert River's jobs with
// a statement; a statement on its own goes to the pool through pgx itself. database/sql opens
// at most as many connections as the pool holds and keeps none idle: one it kept idle would be
// taken from the pool, and pgx's users would wait for it (as a statement that found none idle
// in database/sql waited in the pool for one database/sql held, when it kept them unbounded).
func sideDB(p *pgxpool.Pool) *sql.DB {
	db := stdlib.OpenDBFromPool(p)
	db.SetMaxOpenConns(int(p.Config().MaxConns))
	db.SetMaxIdleConns(0)
	return db
}

// warmSQL plans a lookup in each table a webhook or a transition writes. A new PostgreSQL
// session loads a table's and its indexes' catalog entries the first time a statement uses
// it, 3–7 ms a table here (the instances table has 13 indexes): paid by a request, a
// transition's first statement on a fresh connection took 20–80 ms, and at 10 webhooks a
// second those first statements on each connection were the p99. Paid here, when the
// connection is opened.
//
// One statement per table: a statement holds its tables' locks until it ends, and one that
// read them all could wait, holding the first, for a lock that a migration on another replica
// took on a later table before it wants the first (the migration then failed on a deadlock).
var warmSQL = func() []string {
	tables := []string{webhookevent.Table, workitem.Table, instance.Table, activity.Table, signeddocument.Table}
	out := make([]string, len(tables))
	for i, t := range tables {
		out[i] = fmt.Sprintf("SELECT 1 FROM %q WHERE id = $1", t)
	}
	return out
}()

// warm prepares a new connection's session (warmSQL). It is bookkeeping: a failure (a table
// not there yet, before the migrations ran) leaves the connection as it is.
func warm(ctx context.Context, c *pgx.Conn) error {
	for _, q := range warmSQL {
		_, _ = c.Exec(ctx, q, uuid.Nil)
	}
	return nil
}

// warmSides warms every connection of the side pools (warm). They open their connections with
// the pool, so on a database that the same process then migrated the warm-up of each had found
// no tables. Holding as many at once as the pool has takes each one.
func (db *DB) warmSides(ctx context.Context, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for _, pool := range []*pgxpool.Pool{db.writesPool, db.batchesPool} {
		conns := make([]*pgxpool.Conn, 0, pool.Config().MaxConns)
		var err error
		for range cap(conns) {
			var c *pgxpool.Conn
			if c, err = pool.Acquire(ctx); err != nil {
				break
			}
			conns = append(conns, c)
			_ = warm(ctx, c.Conn())
		}
		for _, c := range conns {
			c.Release()
		}
		if err != nil {
			// Bookkeeping: a cold connection is only slower the first time.
			log.WarnContext(ctx, "warming the PostgreSQL connections failed", "error", err.Error())
			return
		}
	}
}

// sidePool opens a small pool on the main pool's database whose sessions start with params.
func sidePool(ctx context.Context, cfg *pgxpool.Config, conns int32, params map[string]string) (*pgxpool.Pool, error) {
	c := cfg.Copy()
	// Its connections are opened at once and kept (a side pool is small): a burst after a
	// quiet start otherwise waited for each to be dialled and set up.
	c.MaxConns, c.MinConns = conns, conns
	for k, v := range params {
		c.ConnConfig.RuntimeParams[k] = v
	}
	p, err := pgxpool.NewWithConfig(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("open PostgreSQL pool: %w", err)
	}
	return p, nil
}

// SQLiteDSN is the modernc DSN of an embedded database file: foreign keys on, WAL, a busy
// timeout, and IMMEDIATE transactions so that writers queue instead of failing on upgrade.
// synchronous(FULL): in WAL mode NORMAL may lose the last commits to a power cut or an
// operating system crash, and a webhook is answered 2xx only once its commit is durable. The
// path is escaped as a URI's ('?', '#' and '%' in a directory name would cut or change it).
func SQLiteDSN(path string) string {
	return "file:" + sqlitePathEscaper.Replace(path) + "?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(FULL)&_txlock=immediate&_time_format=sqlite"
}

var sqlitePathEscaper = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")

func openSQLite(dataDir string) (*DB, error) {
	if dataDir == "" {
		return nil, errors.New("data directory is empty")
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	db, err := sql.Open("sqlite", SQLiteDSN(filepath.Join(dataDir, SQLiteFile)))
	if err != nil {
		return nil, fmt.Errorf("open SQLite: %w", err)
	}
	// One connection: SQLite has one writer anyway, and River's SQLite driver asks for it.
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(0)
	return &DB{
		Dialect: SQLite,
		SQL:     db,
		Client:  ent.NewClient(ent.Driver(entsql.OpenDB(dialect.SQLite, db))),
		Writes:  db,
		Batches: db,
	}, nil
}

// Close releases the connections.
func (db *DB) Close() error {
	err := db.SQL.Close()
	if db.writesPool != nil {
		err = errors.Join(err, db.Writes.Close())
		db.writesPool.Close()
	}
	if db.batchesPool != nil {
		err = errors.Join(err, db.Batches.Close())
		db.batchesPool.Close()
	}
	if db.Pool != nil {
		db.Pool.Close()
	}
	return err
}

// Ping reports whether the database answers within a short time.
func (db *DB) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := db.SQL.PingContext(ctx); err != nil {
		return translate(err)
	}
	return nil
}
