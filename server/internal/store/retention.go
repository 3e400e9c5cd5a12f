package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/flowhook/flowhook/ent"
	"github.com/flowhook/flowhook/ent/activity"
	"github.com/flowhook/flowhook/ent/eventlogentry"
	"github.com/flowhook/flowhook/ent/instance"
	"github.com/flowhook/flowhook/ent/predicate"
	"github.com/flowhook/flowhook/ent/signeddocument"
	"github.com/flowhook/flowhook/ent/webhookevent"
	"github.com/flowhook/flowhook/ent/workitem"
	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/eventlog"
)

var _ engine.RetentionStore = (*Store)(nil)

// erasedFormData is the form data of an instance retention erased.
var erasedFormData = []byte("{}")

func (s *Store) EraseFormData(ctx context.Context, e engine.Erasure) (int, error) {
	var n int
	err := s.inTx(ctx, func(tx txn) error {
		ids, err := erasable(ctx, tx, e, instance.FormDataErasedAtIsNil())
		if err != nil || len(ids) == 0 {
			return err
		}
		// The values to erase from the timeline's messages too, read before they go.
		values, err := formValues(ctx, tx, ids)
		if err != nil {
			return err
		}
		at := dbTime(e.Activity.CreatedAt)
		// The rows are this transaction's (locked, or SQLite's one writer): the condition only
		// restates what the scan found.
		if _, err := tx.Instance.Update().Where(instance.IDIn(ids...), instance.FormDataErasedAtIsNil()).
			SetFormData(erasedFormData).SetFormDataErasedAt(at).SetUpdatedAt(at).AddRevision(1).Save(ctx); err != nil {
			return err
		}
		if err := eraseChangeValues(ctx, tx, ids, values); err != nil {
			return err
		}
		if err := redactMessages(ctx, tx, ids, values); err != nil {
			return err
		}
		if err := eraseEvents(ctx, tx, ids, e.Activity.Message); err != nil {
			return err
		}
		for _, id := range ids {
			if err := appendActivities(ctx, tx, id, []engine.Activity{e.Activity}); err != nil {
				return err
			}
		}
		n = len(ids)
		return nil
	})
	return n, translate(err)
}

func (s *Store) EraseDocuments(ctx context.Context, e engine.Erasure) (int, error) {
	var n int
	err := s.inTx(ctx, func(tx txn) error {
		ids, err := erasable(ctx, tx, e, hasSignedDocument())
		if err != nil || len(ids) == 0 {
			return err
		}
		// Read again now that the rows are locked: a racing run that erased one of them
		// committed before this statement, and left it no document (PostgreSQL rechecks a
		// locked row's own columns, not the subquery on another table).
		var rows []struct {
			InstanceID uuid.UUID `json:"instance_id"`
		}
		if err := tx.SignedDocument.Query().Where(signeddocument.InstanceIDIn(ids...)).Unique(true).
			Select(signeddocument.FieldInstanceID).Scan(ctx, &rows); err != nil {
			return err
		}
		if len(rows) == 0 {
			return nil
		}
		ids = ids[:0]
		for _, r := range rows {
			ids = append(ids, r.InstanceID)
		}
		if _, err := tx.SignedDocument.Delete().Where(signeddocument.InstanceIDIn(ids...)).Exec(ctx); err != nil {
			return err
		}
		at := dbTime(e.Activity.CreatedAt)
		if _, err := tx.Instance.Update().Where(instance.IDIn(ids...)).
			SetDocumentsErasedAt(at).SetUpdatedAt(at).AddRevision(1).Save(ctx); err != nil {
			return err
		}
		for _, id := range ids {
			if err := appendActivities(ctx, tx, id, []engine.Activity{e.Activity}); err != nil {
				return err
			}
		}
		n = len(ids)
		return nil
	})
	return n, translate(err)
}

// erasable returns, locked, up to e.Limit instances of e's statuses that ended before
// e.EndedBefore and match which, the longest ended first. On PostgreSQL rows another
// transaction holds (a racing run, a late webhook's append) are skipped, not waited for: the
// next batch or the next run takes them.
func erasable(ctx context.Context, tx txn, e engine.Erasure, which predicate.Instance) ([]uuid.UUID, error) {
	statuses := make([]instance.Status, len(e.Statuses))
	for i, st := range e.Statuses {
		statuses[i] = instance.Status(st.String())
	}
	q := tx.Instance.Query().Where(instance.StatusIn(statuses...), instance.EndedAtLT(dbTime(e.EndedBefore)), which).
		Order(instance.ByEndedAt(), instance.ByID()).Limit(e.Limit)
	if tx.locks {
		q = q.ForUpdate(entsql.WithLockAction(entsql.SkipLocked))
	}
	return q.IDs(ctx)
}

// erasedSteps are the steps whose messages may quote a body or free text read from one (a
// parser's error, a verdict's reason, a provider's error): their messages become [erased].
// The others hold the system's own words: sizes, addresses, ids, statuses, state keys.
var erasedSteps = []any{string(eventlog.StepParsed), string(eventlog.StepVerdict), string(eventlog.StepReplayed),
	string(eventlog.StepError)}

// eraseBatch bounds the ids of one statement (SQLite takes 32766 parameters).
const eraseBatch = 1000

// eraseEvents erases what the webhook events of instances keep of their personal data (a
// DocuSign notification carries its recipients' names and emails): the events decided for
// them (instance_id) and every other event of their work items' ids (kept IGNORED while
// debugging, ORPHANED, PENDING — whose processing reads no body). Each keeps its row, dedupe
// key and verdict; its body becomes empty, a reason becomes [erased], the messages of its
// erasedSteps too, and its headers gain engine.ErasedHeader (why), which tells the Event
// Log and a replay that the body is gone.
func eraseEvents(ctx context.Context, tx txn, ids []uuid.UUID, why string) error {
	instanceIDs := make([]string, len(ids))
	for i, id := range ids {
		instanceIDs[i] = id.String()
	}
	events, err := tx.WebhookEvent.Query().Where(webhookevent.InstanceIDIn(instanceIDs...)).IDs(ctx)
	if err != nil {
		return err
	}
	var items []struct {
		Provider   string `json:"provider"`
		ExternalID string `json:"external_id"`
	}
	if err := tx.WorkItem.Query().Where(workitem.InstanceIDIn(ids...), workitem.ExternalIDNotNil()).
		Select(workitem.FieldProvider, workitem.FieldExternalID).Scan(ctx, &items); err != nil {
		return err
	}
	if len(items) > 0 {
		systems := make(map[string]map[string]bool, len(items)) // by external id, its providers
		externals := make([]string, 0, len(items))
		for _, it := range items {
			if systems[it.ExternalID] == nil {
				systems[it.ExternalID] = map[string]bool{}
				externals = append(externals, it.ExternalID)
			}
			systems[it.ExternalID][it.Provider] = true
		}
		for chunk := range slices.Chunk(externals, eraseBatch) {
			var rows []struct {
				ID         uuid.UUID `json:"id"`
				Provider   string    `json:"provider"`
				ExternalID string    `json:"external_id"`
			}
			if err := tx.WebhookEvent.Query().Where(webhookevent.ExternalIDIn(chunk...)).
				Select(webhookevent.FieldID, webhookevent.FieldProvider, webhookevent.FieldExternalID).Scan(ctx, &rows); err != nil {
				return err
			}
			for _, r := range rows {
				if systems[r.ExternalID][r.Provider] {
					events = append(events, r.ID)
				}
			}
		}
	}
	slices.SortFunc(events, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	events = slices.Compact(events)
	d := entsql.Dialect(tx.dialect)
	for chunk := range slices.Chunk(events, eraseBatch) {
		in := make([]any, len(chunk))
		for i, id := range chunk {
			in[i] = id
		}
		query, args := d.Update(webhookevent.Table).
			Set(webhookevent.FieldBody, []byte{}).
			Set(webhookevent.FieldVerdictReason, entsql.ExprFunc(func(b *entsql.Builder) {
				b.WriteString("CASE WHEN ").Ident(webhookevent.FieldVerdictReason).WriteString(" = '' THEN '' ELSE ").
					Arg(erasedText).WriteString(" END")
			})).
			Set(webhookevent.FieldHeaders, withHeader(tx.dialect, engine.ErasedHeader, why)).
			Where(entsql.In(webhookevent.FieldID, in...)).Query()
		if _, err := tx.sql.ExecContext(ctx, query, args...); err != nil {
			return err
		}
		query, args = d.Update(eventlogentry.Table).Set(eventlogentry.FieldMessage, erasedText).
			Where(entsql.And(entsql.In(eventlogentry.FieldEventID, in...), entsql.In(eventlogentry.FieldStep, erasedSteps...))).Query()
		if _, err := tx.sql.ExecContext(ctx, query, args...); err != nil {
			return err
		}
	}
	return nil
}

// withHeader is the headers column with name set to value (kept as JSON: jsonb on
// PostgreSQL, text on SQLite), every other header as it is. An event stored without headers
// holds SQL NULL or JSON null (a nil map, marshalled): either becomes an object.
func withHeader(d, name, value string) entsql.Querier {
	return entsql.ExprFunc(func(b *entsql.Builder) {
		col := webhookevent.FieldHeaders
		if d == dialect.Postgres {
			b.WriteString("(CASE WHEN jsonb_typeof(").Ident(col).WriteString(") = 'object' THEN ").Ident(col).
				WriteString(" ELSE '{}'::jsonb END) || jsonb_build_object(").
				Arg(name).WriteString("::text, ").Arg(value).WriteString("::text)")
			return
		}
		b.WriteString("json_set(CASE WHEN json_type(").Ident(col).WriteString(") = 'object' THEN ").Ident(col).
			WriteString(" ELSE '{}' END, ").Arg(`$."` + name + `"`).WriteString(", ").Arg(value).WriteString(")")
	})
}

// hasSignedDocument matches the instances that keep a signed document.
func hasSignedDocument() predicate.Instance {
	return func(s *entsql.Selector) {
		s.Where(entsql.In(s.C(instance.FieldID),
			entsql.Select(signeddocument.FieldInstanceID).From(entsql.Table(signeddocument.Table))))
	}
}

// eraseChangeValues removes the values of the field changes in the timelines of instances:
// each change keeps only its field's name, and the rest of the details (an ASSIGNED entry's
// assignee, whatever a later kind keeps there) stays as it is.
func eraseChangeValues(ctx context.Context, tx txn, ids []uuid.UUID, values map[uuid.UUID]map[string]bool) error {
	rows, err := tx.Activity.Query().Where(activity.InstanceIDIn(ids...), activity.DetailsNotNil()).
		Select(activity.FieldID, activity.FieldInstanceID, activity.FieldDetails).All(ctx)
	if err != nil {
		return err
	}
	for _, r := range rows {
		collectChangeValues(r.Details, values[r.InstanceID])
		details, changed, err := withoutChangeValues(r)
		if err != nil {
			return err
		}
		if changed {
			if err := tx.Activity.UpdateOneID(r.ID).SetDetails(details).Exec(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// withoutChangeValues is an activity's details with its changes reduced to field names, and
// whether that changed anything.
func withoutChangeValues(r *ent.Activity) (json.RawMessage, bool, error) {
	if len(r.Details) == 0 {
		return nil, false, nil
	}
	var details map[string]json.RawMessage
	if err := json.Unmarshal(r.Details, &details); err != nil {
		return nil, false, fmt.Errorf("activity %s details: %w", r.ID, err)
	}
	raw, ok := details["changes"]
	if !ok {
		return nil, false, nil
	}
	var changes []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &changes); err != nil {
		return nil, false, fmt.Errorf("activity %s changes: %w", r.ID, err)
	}
	names := make([]engine.FieldChange, len(changes))
	changed := false
	for i, c := range changes {
		if err := json.Unmarshal(c["name"], &names[i].Name); err != nil {
			return nil, false, fmt.Errorf("activity %s change %d: %w", r.ID, i, err)
		}
		// Only the name is kept: a key other than it may hold a value.
		changed = changed || len(c) > 1
	}
	if !changed {
		return nil, false, nil
	}
	b, err := json.Marshal(names)
	if err != nil {
		return nil, false, err
	}
	details["changes"] = b
	out, err := json.Marshal(details)
	return out, true, err
}

// minQuotedValue is the shortest form value erased from messages: shorter ones ("no", "3")
// would also erase words that are the platform's own.
const minQuotedValue = 3

// formValues returns, by instance, the text of its form data's string values.
func formValues(ctx context.Context, tx txn, ids []uuid.UUID) (map[uuid.UUID]map[string]bool, error) {
	rows, err := tx.Instance.Query().Where(instance.IDIn(ids...)).Select(instance.FieldID, instance.FieldFormData).All(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[uuid.UUID]map[string]bool, len(ids))
	for _, id := range ids {
		out[id] = map[string]bool{}
	}
	for _, r := range rows {
		var form map[string]any
		if err := json.Unmarshal(r.FormData, &form); err != nil {
			return nil, fmt.Errorf("instance %s form data: %w", r.ID, err)
		}
		for _, v := range form {
			addValue(out[r.ID], v)
		}
	}
	return out, nil
}

// collectChangeValues adds the string values of a timeline entry's field changes (earlier
// values the form no longer holds) to values.
func collectChangeValues(details json.RawMessage, values map[string]bool) {
	if len(details) == 0 || values == nil {
		return
	}
	var d engine.ActivityDetails
	if json.Unmarshal(details, &d) != nil {
		return
	}
	for _, c := range d.Changes {
		addValue(values, c.Old)
		addValue(values, c.New)
	}
}

func addValue(values map[string]bool, v any) {
	if s, ok := v.(string); ok && len(s) >= minQuotedValue {
		values[s] = true
		values[strings.ToLower(s)] = true // emails are kept lower-case, and quoted so
	}
}

// erasedText replaces a form value quoted in a timeline message.
const erasedText = "[erased]"

// redactMessages replaces the form values the instances' timeline messages quote (a signer's
// email in "DOCUSIGN … sent to ada@example.com") with [erased], longest first, so that no part
// of a longer value survives a shorter one's replacement.
func redactMessages(ctx context.Context, tx txn, ids []uuid.UUID, values map[uuid.UUID]map[string]bool) error {
	rows, err := tx.Activity.Query().Where(activity.InstanceIDIn(ids...)).
		Select(activity.FieldID, activity.FieldInstanceID, activity.FieldMessage).All(ctx)
	if err != nil {
		return err
	}
	sorted := make(map[uuid.UUID][]string, len(values))
	for id, set := range values {
		list := make([]string, 0, len(set))
		for v := range set {
			list = append(list, v)
		}
		sort.Slice(list, func(i, j int) bool {
			return len(list[i]) > len(list[j]) || (len(list[i]) == len(list[j]) && list[i] < list[j])
		})
		sorted[id] = list
	}
	for _, r := range rows {
		msg := r.Message
		for _, v := range sorted[r.InstanceID] {
			msg = replaceToken(msg, v)
		}
		if msg != r.Message {
			if err := tx.Activity.UpdateOneID(r.ID).SetMessage(msg).Exec(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// replaceToken replaces the occurrences of v in s that stand as a whole token: not inside a
// longer word, address or number ("Ada" leaves "Canada" and "ada@example.com" alone).
func replaceToken(s, v string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, v)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		end := i + len(v)
		before, _ := utf8.DecodeLastRuneInString(s[:i])
		after, _ := utf8.DecodeRuneInString(s[end:])
		if (i == 0 || !tokenRune(before)) && (end == len(s) || !tokenRune(after)) {
			b.WriteString(s[:i])
			b.WriteString(erasedText)
		} else {
			b.WriteString(s[:end])
		}
		s = s[end:]
	}
}

// tokenRune: a rune that continues a word, an email address or a number.
func tokenRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("@._-+", r)
}
