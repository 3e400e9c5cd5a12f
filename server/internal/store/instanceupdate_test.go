package store

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/ent"
	"github.com/flowhook/flowhook/ent/instance"
	"github.com/flowhook/flowhook/server/internal/engine"
)

// TestInstanceUpdateQuery: an instance update's (and a start's INSERT's) text, kept by its
// shape, and its arguments, taken from the mutation, are what ent's builder writes for the
// instance, on both dialects, for every variant and every combination of the columns that an
// update sets or clears (and an insert sets), the first time a shape is seen and every time
// after (the second instance of each shape has other values). Shapes differ in their texts, so
// no two share one by mistake.
func TestInstanceUpdateQuery(t *testing.T) {
	c := ent.NewClient()
	ended := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	deadline := ended.Add(time.Hour)
	// instanceOf makes the instance of a shape (which of assignee user, group, system,
	// external id, end and deadline it has), with values of its own for seed.
	instanceOf := func(shape, seed int) engine.Instance {
		in := engine.Instance{StateKey: fmt.Sprintf("state-%d", seed), Status: engine.StatusActive,
			FormData: map[string]any{"name": fmt.Sprintf("n%d", seed)}, Reason: fmt.Sprintf("r%d", seed),
			UpdatedAt: ended.Add(time.Duration(seed) * time.Second)}
		if shape&1 != 0 || shape&2 != 0 {
			in.Assignee = &engine.Assignee{}
			if shape&1 != 0 {
				in.Assignee.UserID = uuid.NewString()
			}
			if shape&2 != 0 {
				in.Assignee.GroupID = uuid.NewString()
			}
		}
		if shape&4 != 0 {
			in.System = engine.System{Provider: engine.Provider("DOCUSIGN")}
		}
		if shape&8 != 0 {
			// An insert writes the id; an update clears it (a move into an external step) or
			// leaves it to the coupling.
			in.ExternalID, in.ResetExternalID = fmt.Sprintf("env-%d", seed), true
		}
		if shape&16 != 0 {
			e := ended.Add(time.Duration(seed) * time.Minute)
			in.EndedAt, in.Status = &e, engine.StatusCompleted
		}
		if shape&32 != 0 {
			d := deadline.Add(time.Duration(seed) * time.Minute)
			in.Deadline = &d
		}
		return in
	}
	// built is what ent's builder writes for in as part of v.
	built := func(d string, iid uuid.UUID, in engine.Instance, rev int64, n int, v updateVariant) (string, []any) {
		if v == updateProgress {
			u := entsql.Dialect(d).Update(instance.Table).Add(instance.FieldActivitySeq, n).
				Where(entsql.EQ(instance.FieldID, iid)).Returning(instance.FieldActivitySeq)
			u.Where(entsql.ExprP(resultCondition))
			return u.Query()
		}
		u, err := instanceUpdate(c, d, iid, in, rev, n)
		require.NoError(t, err)
		switch v {
		case updateInResult:
			u.Where(entsql.ExprP(resultCondition))
		case updateRow:
			u.Returning(instance.Columns...)
		}
		return u.Query()
	}
	texts := map[string]string{}
	// A start's INSERT: every shape of the update's, with and without a request id and its
	// fingerprint.
	for _, d := range []string{dialect.Postgres, dialect.SQLite} {
		for shape := range 256 {
			for seed := range 2 {
				in := instanceOf(shape%64, seed+1)
				iid := uuid.New()
				form, err := json.Marshal(in.FormData)
				require.NoError(t, err)
				create := c.Instance.Create().SetID(iid).SetCreatedAt(in.UpdatedAt).SetUpdatedAt(in.UpdatedAt).
					SetWorkflowID(uuid.New()).SetVersion(int32(seed + 1)).SetWorkflowName(fmt.Sprintf("w%d", seed)).
					SetStartedBy(uuid.New()).SetActivitySeq(int64(seed + 1))
				if shape&64 != 0 {
					create.SetRequestID(fmt.Sprintf("req-%d", seed))
				}
				if shape&128 != 0 {
					create.SetRequestFingerprint(fmt.Sprintf("fp-%d", seed))
				}
				m := create.Mutation()
				setInstanceFields(m, in, form)
				if in.ExternalID != "" { // as createInstance
					m.SetExternalID(in.ExternalID)
				}
				text, args, err := instanceInsertQuery(d, iid, m, form)
				require.NoError(t, err)
				wantText, wantArgs, err := builtInsert(d, iid, m, form).QueryErr()
				require.NoError(t, err)
				require.Equal(t, wantText, text, "insert shape %d, seed %d", shape, seed)
				require.Equal(t, wantArgs, args, "insert shape %d, seed %d", shape, seed)
				key := fmt.Sprintf("%s insert %d", d, shape)
				if other, ok := texts[text]; ok && seed == 0 {
					require.Equal(t, key, other, "two shapes with one text")
				}
				texts[text] = key
			}
		}
	}
	for _, d := range []string{dialect.Postgres, dialect.SQLite} {
		for _, v := range []updateVariant{updatePlain, updateInResult, updateProgress, updateRow} {
			for shape := range 64 {
				for seed := range 2 {
					in := instanceOf(shape, seed+1)
					iid, rev, n := uuid.New(), int64(10*shape+seed), seed+1
					text, args, err := instanceUpdateQuery(c, d, iid, in, rev, n, v)
					require.NoError(t, err)
					wantText, wantArgs := built(d, iid, in, rev, n, v)
					require.Equal(t, wantText, text, "shape %d, seed %d", shape, seed)
					require.Equal(t, wantArgs, args, "shape %d, seed %d", shape, seed)
					key := fmt.Sprintf("%s %d %d", d, v, shape)
					if v == updateProgress {
						key = fmt.Sprintf("%s %d", d, v)
					}
					if other, ok := texts[text]; ok && seed == 0 && v != updateProgress {
						require.Equal(t, key, other, "two shapes with one text")
					}
					texts[text] = key
				}
			}
		}
	}
}

// BenchmarkInstanceUpdateQuery: a DocuSign completion's instance update and its transition's
// whole text, built by ent's builder and wrapped each time (as before session 30) against
// taken from the caches.
func BenchmarkInstanceUpdateQuery(b *testing.B) {
	c := ent.NewClient()
	at := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	in := engine.Instance{StateKey: "signed", Status: engine.StatusCompleted, FormData: map[string]any{"name": "Ada", "amount": 1200},
		System: engine.System{Provider: engine.Provider("DOCUSIGN")}, ExternalID: "0b7c1f6e-2a4d-4c1b-9d55-3f1b7e2a9c10",
		UpdatedAt: at, EndedAt: &at}
	iid := uuid.New()
	outer := &statement{text: withResult(transitionSQL)}
	b.Run("builder", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			u, err := instanceUpdate(c, dialect.Postgres, iid, in, 7, 1)
			if err != nil {
				b.Fatal(err)
			}
			u.Where(entsql.ExprP(resultCondition))
			update, args := u.Query()
			q, _ := outer.shifted.Load(len(args))
			if q == nil {
				q = shiftPlaceholders(outer.text, len(args))
				outer.shifted.Store(len(args), q)
			}
			_ = fmt.Sprintf(q.(string), update)
		}
	})
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			update, args, err := instanceUpdateQuery(c, dialect.Postgres, iid, in, 7, 1, updateInResult)
			if err != nil {
				b.Fatal(err)
			}
			_ = outer.with(update, len(args))
		}
	})
}

// BenchmarkInstanceInsertQuery: a start's INSERT, built by ent's builder each time (as before
// session 30) against taken from the cache.
func BenchmarkInstanceInsertQuery(b *testing.B) {
	c := ent.NewClient()
	at := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	in := engine.Instance{StateKey: "review", Status: engine.StatusActive, FormData: map[string]any{"name": "Ada", "amount": 1200},
		Assignee: &engine.Assignee{UserID: uuid.NewString()}, UpdatedAt: at}
	iid := uuid.New()
	form, err := json.Marshal(in.FormData)
	if err != nil {
		b.Fatal(err)
	}
	m := c.Instance.Create().SetID(iid).SetCreatedAt(at).SetUpdatedAt(at).SetWorkflowID(uuid.New()).SetVersion(1).
		SetWorkflowName("Expenses").SetStartedBy(uuid.New()).SetActivitySeq(2).Mutation()
	setInstanceFields(m, in, form)
	b.Run("builder", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := builtInsert(dialect.Postgres, iid, m, form).QueryErr(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := instanceInsertQuery(dialect.Postgres, iid, m, form); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// builtInsert is the INSERT of m's instance as createInstanceAlone built it with ent's builder
// for every start before session 30.
func builtInsert(d string, iid uuid.UUID, m *ent.InstanceMutation, form []byte) *entsql.InsertBuilder {
	ins := entsql.Dialect(d).Insert(instance.Table).Returning(instance.Columns...)
	ins.Set(instance.FieldID, iid)
	for _, f := range m.Fields() {
		v, _ := m.Field(f)
		if f == instance.FieldFormData {
			v = form
		}
		ins.Set(f, v)
	}
	return ins
}
