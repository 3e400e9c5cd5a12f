package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/flowhook/flowhook/ent"
	"github.com/flowhook/flowhook/server/internal/engine"
)

// translate turns a database error into the engine's vocabulary. The result's text is safe to
// show a caller; the driver's own text stays in the chain for logs (see dbError.LogValue). What
// it cannot classify it returns as is: the api layer reports those as internal errors.
func translate(err error) error {
	if err == nil {
		return nil
	}
	var classified *dbError
	switch {
	case errors.As(err, &classified), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case ent.IsNotFound(err):
		return &dbError{kind: engine.ErrNotFound, msg: "not found", cause: err}
	case ent.IsConstraintError(err), isUniqueViolation(err):
		return &dbError{kind: engine.ErrConflict, msg: "conflict: a concurrent change got there first; read again and retry", cause: err}
	case unavailable(err):
		return &dbError{kind: engine.ErrUnavailable, msg: "the database is unavailable", cause: err}
	}
	return err
}

// dbError classifies a driver error under an engine sentinel without showing the driver's text.
type dbError struct {
	kind  error
	msg   string
	cause error
}

func (e *dbError) Error() string   { return e.msg }
func (e *dbError) Unwrap() []error { return []error{e.kind, e.cause} }

// detail is err's text with the driver's words of any database error in its chain: for an
// operator (a log line, a command's last words), never for an API caller.
func detail(err error) string { return withDetail(err).Error() }

// withDetail wraps err (errors.Is still sees through it) in a text that adds the driver's words.
func withDetail(err error) error {
	var classified *dbError
	if errors.As(err, &classified) {
		return fmt.Errorf("%w (%s)", err, classified.cause.Error())
	}
	return err
}

// LogValue puts the driver's text in logs, where an operator needs it.
func (e *dbError) LogValue() slog.Value {
	return slog.StringValue(e.msg + ": " + e.cause.Error())
}

// unavailable reports errors that mean "the database cannot serve now, try again later".
func unavailable(err error) bool {
	var connErr *pgconn.ConnectError
	var netErr net.Error
	var dnsErr *net.DNSError
	var pgErr *pgconn.PgError
	var liteErr *sqlite.Error
	switch {
	case errors.As(err, &connErr):
		// A connection that could not be made is temporary (a database starting, at its limit,
		// refusing connections for now), except what does not go away by waiting: a wrong
		// password or role (28…), a database that does not exist (3D000), a host name that
		// does not resolve. The operator needs the server's words for those at once.
		if errors.As(err, &pgErr) && (strings.HasPrefix(pgErr.Code, "28") || pgErr.Code == "3D000") {
			return false
		}
		return !(errors.As(err, &dnsErr) && dnsErr.IsNotFound)
	case errors.As(err, &netErr):
		return true
	case errors.As(err, &pgErr):
		// 08: connection exception; 53: insufficient resources; 57P01-03: shutdown, cannot
		// connect now; 40001, 40P01: a serialization failure or a deadlock (the transaction was
		// rolled back whole, and trying it again is what PostgreSQL asks for).
		c := pgErr.Code
		return len(c) >= 2 && (c[:2] == "08" || c[:2] == "53" || c == "57P01" || c == "57P02" || c == "57P03" || c == "40001" || c == "40P01")
	case errors.As(err, &liteErr):
		code := liteErr.Code() & 0xff
		return code == sqlite3.SQLITE_BUSY || code == sqlite3.SQLITE_LOCKED
	}
	return pgconn.SafeToRetry(err)
}

// isUniqueViolation reports a unique-constraint violation on either database.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		return liteErr.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || liteErr.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}
