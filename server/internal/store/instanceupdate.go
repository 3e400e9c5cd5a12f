package store

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/flowhook/flowhook/ent"
	"github.com/flowhook/flowhook/ent/instance"
	"github.com/flowhook/flowhook/server/internal/engine"
)

// An instance's conditional UPDATE, and its INSERT, their texts cached by their shapes.
//
// Every transition writes its instance with instanceUpdate's statement. Ent's builder wrote its
// text anew each time (the columns quoted, the predicates joined, the placeholders numbered), and a
// transition's statement wrapped it in its own text with a Sprintf: together a tenth of the
// server's CPU on a DocuSign completion (docs/performance-history.md, session 30). The text depends
// only on the statement's shape (the dialect, what it is part of, the columns the mutation sets and
// those it clears: 64 combinations for each variant, 256 for the INSERT), so instanceUpdateQuery
// builds it with ent once for each shape and keeps it; the arguments are taken from the mutation
// each time, in the order the builder takes them. The first build of each shape checks the two
// against each other, so the cache cannot drift from setInstanceFields. A start in one statement
// (createInstanceAlone) keeps its INSERT's text the same way (instanceInsertQuery).

// updateVariant is what an instance's UPDATE is part of (or insertRow: its INSERT).
type updateVariant uint8

const (
	// updatePlain: on its own, in a transaction (updateInstance), returning the counter.
	updatePlain updateVariant = iota
	// updateInResult: a result's statement (transitionSQL, finishSQL): written only when wl
	// locked the work item and d found the event, returning the counter.
	updateInResult
	// updateProgress: a result that does not move the instance (a progress): only its
	// activity counter, in a result's statement.
	updateProgress
	// updateRow: on its own in one statement (instanceRowSQL), returning every column.
	updateRow
	// insertRow: the INSERT of a start in one statement (instanceRowSQL), returning every
	// column.
	insertRow
)

// updateShape is what an instance UPDATE's (or INSERT's) text depends on.
type updateShape struct {
	dialect string
	variant updateVariant
	columns string // the columns set, in the mutation's order, and those set to NULL
}

// instanceInsertQuery is the text and arguments of the INSERT that createInstanceAlone writes
// for the instance of m, whose form data is form, returning every column.
func instanceInsertQuery(d string, iid uuid.UUID, m *ent.InstanceMutation, form []byte) (string, []any, error) {
	fields := m.Fields()
	var columns strings.Builder
	args := mutationValues(m, fields, form, append(make([]any, 0, len(fields)+1), iid), &columns)
	shape := updateShape{dialect: d, variant: insertRow, columns: columns.String()}
	if text, ok := updateTexts.Load(shape); ok {
		return text.(string), args, nil
	}
	ins := entsql.Dialect(d).Insert(instance.Table).Returning(instance.Columns...)
	ins.Set(instance.FieldID, iid)
	for i, f := range fields {
		ins.Set(f, args[1+i])
	}
	text, built, err := ins.QueryErr()
	if err != nil {
		return "", nil, err
	}
	return keepText(shape, text, built, args)
}

// updateTexts holds the texts of the shapes built so far: updateShape → string.
var updateTexts sync.Map

// instanceUpdateQuery is the text and arguments of instanceUpdate's statement for in, as part
// of v (n: the activities its counter numbers).
func instanceUpdateQuery(c *ent.Client, d string, iid uuid.UUID, in engine.Instance, expectedRevision int64, n int,
	v updateVariant) (string, []any, error) {
	if v == updateProgress {
		shape := updateShape{dialect: d, variant: v}
		args := []any{n, iid}
		if text, ok := updateTexts.Load(shape); ok {
			return text.(string), args, nil
		}
		u := entsql.Dialect(d).Update(instance.Table).Add(instance.FieldActivitySeq, n).
			Where(entsql.EQ(instance.FieldID, iid)).Returning(instance.FieldActivitySeq)
		u.Where(entsql.ExprP(resultCondition))
		return keepShape(shape, u, args)
	}
	form, err := json.Marshal(in.FormData)
	if err != nil {
		return "", nil, err
	}
	m := c.Instance.Update().Mutation()
	setInstanceFields(m, in, form)
	fields := m.Fields()
	var columns strings.Builder
	args := mutationValues(m, fields, form, append(make([]any, 0, len(fields)+5), dbTime(in.UpdatedAt), 1, n), &columns)
	args = append(args, iid, expectedRevision)
	columns.WriteString("NULL:")
	for _, f := range clearedColumns(m, in) {
		columns.WriteString(f)
		columns.WriteByte(',')
	}
	shape := updateShape{dialect: d, variant: v, columns: columns.String()}
	if text, ok := updateTexts.Load(shape); ok {
		return text.(string), args, nil
	}
	u, err := instanceUpdate(c, d, iid, in, expectedRevision, n)
	if err != nil {
		return "", nil, err
	}
	switch v {
	case updateInResult:
		u.Where(entsql.ExprP(resultCondition))
	case updateRow:
		u.Returning(instance.Columns...)
	}
	return keepShape(shape, u, args)
}

// mutationValues appends to args the values of m's fields (m.Fields()), in their order, form
// for the form data (a JSON column takes its encoding, as Ent gives it), and writes the fields'
// names to columns.
func mutationValues(m *ent.InstanceMutation, fields []string, form []byte, args []any, columns *strings.Builder) []any {
	for _, f := range fields {
		v, _ := m.Field(f)
		if f == instance.FieldFormData {
			v = form
		}
		args = append(args, v)
		columns.WriteString(f)
		columns.WriteByte(',')
	}
	return args
}

// resultCondition is what an instance's UPDATE in a result's statement waits for: the work
// item locked at its revision (wl) and the event new (d).
const resultCondition = "EXISTS (SELECT 1 FROM wl) AND EXISTS (SELECT 1 FROM d)"

// keepShape builds u and keeps its text for shape (keepText).
func keepShape(shape updateShape, u *entsql.UpdateBuilder, args []any) (string, []any, error) {
	text, built := u.Query()
	return keepText(shape, text, built, args)
}

// keepText checks that a builder's arguments for text, built, are args, and keeps text for
// shape.
func keepText(shape updateShape, text string, built, args []any) (string, []any, error) {
	if !reflect.DeepEqual(built, args) {
		return "", nil, fmt.Errorf("an instance write's arguments are not its builder's: %d against %d", len(args), len(built))
	}
	updateTexts.Store(shape, text)
	return text, args, nil
}

// clearedColumns are the columns instanceUpdate sets to NULL, in its order: those the
// mutation clears, sorted, then ended_at when in has not ended.
func clearedColumns(m *ent.InstanceMutation, in engine.Instance) []string {
	cleared := m.ClearedFields()
	slices.Sort(cleared)
	if in.EndedAt == nil {
		cleared = append(cleared, instance.FieldEndedAt) // RetryInstance reopens a FAILED instance
	}
	return cleared
}
