package store

import (
	"database/sql/driver"
	"strings"

	entsql "entgo.io/ent/dialect/sql"
	"modernc.org/sqlite"

	"github.com/flowhook/flowhook/ent/predicate"
	"github.com/flowhook/flowhook/ent/workflow"
)

// foldFunc is the SQLite function that lower-cases a text as Go does, for every script:
// SQLite's own lower() and LIKE fold ASCII letters only, so a search for "änderung" did not
// find "Änderungsantrag" on the embedded database (PostgreSQL's ILIKE folds by its locale).
const foldFunc = "flowhook_fold"

func init() {
	// Registered once for the driver: every connection opened after has it.
	if err := sqlite.RegisterDeterministicScalarFunction(foldFunc, 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		switch v := args[0].(type) {
		case string:
			return strings.ToLower(v), nil
		case []byte:
			return strings.ToLower(string(v)), nil
		default:
			return v, nil // NULL, a number: as SQLite's lower() leaves them
		}
	}); err != nil {
		panic("store: registering " + foldFunc + ": " + err.Error())
	}
}

// nameContains keeps the workflows whose name contains text, ignoring case in any script.
func (s *Store) nameContains(text string) predicate.Workflow {
	if s.db.Dialect == Postgres {
		return workflow.NameContainsFold(text)
	}
	return predicate.Workflow(func(sel *entsql.Selector) {
		sel.Where(entsql.P(func(b *entsql.Builder) {
			b.WriteString("instr(" + foldFunc + "(").Ident(sel.C(workflow.FieldName)).WriteString("), ").
				Arg(strings.ToLower(text)).WriteString(") > 0")
		}))
	})
}
