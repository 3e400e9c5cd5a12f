package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/flowhook/flowhook/ent"
	"github.com/flowhook/flowhook/ent/eventlogentry"
	"github.com/flowhook/flowhook/ent/predicate"
	"github.com/flowhook/flowhook/ent/webhookevent"
	"github.com/flowhook/flowhook/ent/workitem"
	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/eventlog"
)

var _ engine.EventLogStore = (*Store)(nil)

// listFields are the columns of a listed event: all but the body.
var listFields = []string{webhookevent.FieldID, webhookevent.FieldProvider, webhookevent.FieldDedupeKey,
	webhookevent.FieldEventType, webhookevent.FieldExternalID, webhookevent.FieldProviderTime,
	webhookevent.FieldHeaders, webhookevent.FieldRemoteAddr, webhookevent.FieldReceivedAt, webhookevent.FieldVerdict,
	webhookevent.FieldVerdictReason, webhookevent.FieldInstanceID, webhookevent.FieldWorkItemID,
	webhookevent.FieldAttempts, webhookevent.FieldProcessedAt, webhookevent.FieldTraceID,
	webhookevent.FieldTraceparent, webhookevent.FieldSize}

func (s *Store) ListEvents(ctx context.Context, f engine.EventFilter, p engine.Page) ([]engine.StoredEvent, string, engine.Total, error) {
	var where []predicate.WebhookEvent
	if f.Provider != engine.ProviderUnspecified {
		match := webhookevent.Provider(engine.System{Provider: f.Provider, Connector: f.Connector}.String())
		if f.Connector == "" {
			match = webhookevent.Or(match, webhookevent.ProviderHasPrefix(systemPrefix(f.Provider)))
		}
		where = append(where, match)
	}
	if f.Verdict != "" {
		where = append(where, webhookevent.VerdictEQ(webhookevent.Verdict(f.Verdict)))
	}
	if f.EventType != "" {
		where = append(where, webhookevent.EventType(f.EventType))
	}
	if f.ExternalID != "" {
		where = append(where, webhookevent.ExternalID(f.ExternalID))
	}
	if f.InstanceID != "" {
		where = append(where, webhookevent.InstanceID(f.InstanceID))
	}
	// Ids are UUIDv7 made from received_at: a time range is also an id range (left out of the
	// count's estimate, as ListInstances does).
	var ids []predicate.WebhookEvent
	if !f.Since.IsZero() {
		where = append(where, webhookevent.ReceivedAtGTE(dbTime(f.Since)))
		ids = append(ids, webhookevent.IDGTE(idFloor(f.Since)))
	}
	if !f.Until.IsZero() {
		where = append(where, webhookevent.ReceivedAtLT(dbTime(f.Until)))
		ids = append(ids, webhookevent.IDLT(idFloor(f.Until.Add(time.Millisecond))))
	}
	q := s.db.Client.WebhookEvent.Query().Where(append(slices.Clone(where), ids...)...)
	if p.After != "" {
		before, err := uuid.Parse(p.After)
		if err != nil {
			return nil, "", engine.Total{}, badToken()
		}
		q = q.Where(webhookevent.IDLT(before))
	}
	// Every page counts: total_size is the server's, never carried in a token.
	var rows []*ent.WebhookEvent
	total, err := s.counted(ctx, webhookevent.Table, predicates(where), predicates(ids), func(ctx context.Context) error {
		var err error
		rows, err = q.Order(webhookevent.ByID(entsql.OrderDesc())).Limit(p.Size + 1).Select(listFields...).All(ctx)
		return translate(err)
	})
	if err != nil {
		return nil, "", engine.Total{}, err
	}
	next := ""
	if len(rows) > p.Size {
		rows = rows[:p.Size]
		next = rows[len(rows)-1].ID.String()
	}
	out := make([]engine.StoredEvent, len(rows))
	for i, r := range rows {
		out[i] = eventFromRow(r)
	}
	return out, next, total, nil
}

func (s *Store) EventLog(ctx context.Context, eventID string) ([]eventlog.Entry, error) {
	eid, err := parseID("event", eventID)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.Client.EventLogEntry.Query().Where(eventlogentry.EventID(eid)).
		Order(eventlogentry.ByID()).Limit(10000).All(ctx)
	if err != nil {
		return nil, translate(err)
	}
	out := make([]eventlog.Entry, len(rows))
	for i, r := range rows {
		out[i] = eventlog.Entry{ID: r.ID.String(), Step: eventlog.Step(r.Step), Message: r.Message, At: r.At,
			Elapsed: time.Duration(r.ElapsedUs) * time.Microsecond, TraceID: r.TraceID, SpanID: r.SpanID}
	}
	return out, nil
}

func (s *Store) AppendEventLog(ctx context.Context, eventID string, entries []eventlog.Entry) error {
	eid, err := parseID("event", eventID)
	if err != nil {
		return err
	}
	return translate(appendEventLog(ctx, s.db.Client, eid, entries))
}

func appendEventLog(ctx context.Context, c *ent.Client, eventID uuid.UUID, entries []eventlog.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	bulk := make([]*ent.EventLogEntryCreate, len(entries))
	for i, e := range entries {
		id, err := uuid.Parse(e.ID)
		if err != nil {
			id = uuid.MustParse(engine.NewIDAt(e.At))
		}
		bulk[i] = c.EventLogEntry.Create().SetID(id).SetEventID(eventID).SetStep(string(e.Step)).
			SetMessage(e.Message).SetAt(dbTime(e.At)).SetElapsedUs(e.Elapsed.Microseconds()).
			SetTraceID(e.TraceID).SetSpanID(e.SpanID)
	}
	return c.EventLogEntry.CreateBulk(bulk...).Exec(ctx)
}

func (s *Store) PurgeEvents(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	cutoff = dbTime(cutoff)
	var total int
	err := s.inTx(ctx, func(tx txn) error {
		ids, err := tx.WebhookEvent.Query().Where(webhookevent.ReceivedAtLT(cutoff),
			webhookevent.VerdictNEQ(webhookevent.VerdictPENDING)).Order(webhookevent.ByID()).Limit(limit).IDs(ctx)
		if err != nil {
			return err
		}
		if len(ids) > 0 {
			steps, err := tx.EventLogEntry.Delete().Where(eventlogentry.EventIDIn(ids...)).Exec(ctx)
			if err != nil {
				return err
			}
			total += steps
			n, err := tx.WebhookEvent.Delete().Where(webhookevent.IDIn(ids...)).Exec(ctx)
			if err != nil {
				return err
			}
			total += n
		}
		// Steps outlive nothing: old steps of events still kept (a PENDING one retried for
		// long) go too.
		old, err := tx.EventLogEntry.Query().Where(eventlogentry.AtLT(cutoff)).Limit(limit).IDs(ctx)
		if err != nil || len(old) == 0 {
			return err
		}
		n, err := tx.EventLogEntry.Delete().Where(eventlogentry.IDIn(old...)).Exec(ctx)
		total += n
		return err
	})
	return total, translate(err)
}

func (s *Store) ReplayEvent(ctx context.Context, ev engine.StoredEvent, attempts int, r engine.EventResult) error {
	eid, err := parseID("event", ev.ID)
	if err != nil {
		return err
	}
	return translate(s.inTx(ctx, func(tx txn) error {
		// Saved over the event as the replay read it: its attempts, and its verdict (a coupling
		// picks an ORPHANED event up as PENDING without counting an attempt).
		u := tx.WebhookEvent.Update().Where(webhookevent.ID(eid), webhookevent.Attempts(attempts),
			webhookevent.VerdictEQ(webhookevent.Verdict(ev.Verdict)), webhookevent.VerdictNEQ(webhookevent.VerdictREJECTED)).
			SetEventType(ev.Event.Type).SetExternalID(ev.Event.ExternalID).
			SetVerdict(webhookevent.Verdict(r.Verdict)).SetVerdictReason(r.Reason).
			SetProcessedAt(now())
		if ev.Verdict != engine.VerdictPending || r.Verdict != engine.VerdictPending {
			// Not a PENDING event left PENDING: that one has not been decided yet, and its
			// first decision is still to be counted (External.handle).
			u.AddAttempts(1)
		}
		if r.InstanceID != "" {
			u.SetInstanceID(r.InstanceID).SetWorkItemID(r.WorkItemID)
		}
		if !ev.Event.OccurredAt.IsZero() {
			u.SetProviderTime(dbTime(ev.Event.OccurredAt))
		}
		if r.Verdict != engine.VerdictPending {
			u.ClearDueAt() // decided: nothing left for in-process processing or the sweep
		}
		n, err := u.Save(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: event %s was processed concurrently", engine.ErrConflict, ev.ID)
		}
		if r.Verdict == engine.VerdictPending {
			return s.enqueue(ctx, tx, []engine.Job{engine.ProcessEventJob{EventID: ev.ID}})
		}
		return s.applyResult(ctx, tx, r)
	}))
}

// systemPrefix starts the stored form of every connector of a provider: a filter on the
// provider alone matches them too.
func systemPrefix(p engine.Provider) string {
	return engine.System{Provider: p, Connector: "-"}.String()[:len(p)+1]
}

// WaitingWorkItems counts the work items waiting at each system (being created or waiting
// for an outcome).
func (s *Store) WaitingWorkItems(ctx context.Context) (map[string]int64, error) {
	var rows []struct {
		Provider string `json:"provider"`
		Count    int64  `json:"count"`
	}
	err := s.db.Client.WorkItem.Query().
		Where(workitem.StatusIn(workitem.StatusCREATING, workitem.StatusWAITING), workitem.ResolvedAtIsNil()).
		GroupBy(workitem.FieldProvider).Aggregate(ent.Count()).Scan(ctx, &rows)
	if err != nil {
		return nil, translate(err)
	}
	out := make(map[string]int64, len(rows))
	for _, r := range rows {
		out[r.Provider] = r.Count
	}
	return out, nil
}
