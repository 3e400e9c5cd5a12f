package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// A vacuumed, analyzed database before the lists.
//
// A list's plan depends on what PostgreSQL knows of the tables: a deployment's autovacuum
// vacuums and analyzes a table once a fifth of it is new or changed (a tenth for the
// statistics), so the instances the runs before a list made are in its statistics and its
// visibility map within a minute or so. Where autovacuum is off (this project's CI machines),
// the tables a run filled have never been analyzed nor vacuumed: the planner guesses (one row
// for any equality), and a list of the assignee's 20,000 instances was planned as a bitmap
// scan of every ACTIVE one and a sort (11–14 ms a list, against 0.2 ms with statistics), and
// counting a workflow's first 10,001 ACTIVE instances read the table rather than its index
// (5.8 against 2.0 ms; an index-only scan needs the visibility map). With -vacuum-db, loadgen
// runs VACUUM ANALYZE on the database before each list scenario, outside its timed part, as
// autovacuum would have (docs/performance-history.md, sessions 27 and 28).

// loopbackDB refuses a PostgreSQL URL whose host is not this machine (the loopback interface
// or a Unix socket): the tool only touches a local database.
func loopbackDB(raw string) error {
	cfg, err := pgconn.ParseConfig(raw)
	if err != nil {
		return errors.New("not a PostgreSQL connection URL") // its error may quote the URL, password and all
	}
	host := cfg.Host
	if strings.HasPrefix(host, "/") || host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("host %q is not on the loopback interface (127.0.0.1): refused", host)
}

// vacuum runs VACUUM ANALYZE on the database at url (every table flowhook's user may vacuum).
func vacuum(ctx context.Context, url string) (time.Duration, error) {
	began := time.Now()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, fmt.Errorf("-vacuum-db: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE"); err != nil {
		return 0, fmt.Errorf("-vacuum-db: VACUUM ANALYZE: %w", err)
	}
	return time.Since(began), nil
}
