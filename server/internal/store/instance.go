package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/flowhook/flowhook/ent"
	"github.com/flowhook/flowhook/ent/activity"
	"github.com/flowhook/flowhook/ent/instance"
	"github.com/flowhook/flowhook/ent/predicate"
	"github.com/flowhook/flowhook/ent/user"
	"github.com/flowhook/flowhook/ent/workitem"
	"github.com/flowhook/flowhook/server/internal/engine"
)

var _ engine.InstanceStore = (*Store)(nil)

func (s *Store) CreateInstance(ctx context.Context, in engine.Instance, acts []engine.Activity, eff engine.Effects) (engine.Instance, error) {
	wid, err := parseID("workflow", in.WorkflowID)
	if err != nil {
		return engine.Instance{}, err
	}
	starter, err := parseID("user", in.StartedBy)
	if err != nil {
		return engine.Instance{}, err
	}
	form, err := json.Marshal(in.FormData)
	if err != nil {
		return engine.Instance{}, err
	}
	// newInstance is the insert's builder, on client.
	newInstance := func(client *ent.Client) *ent.InstanceCreate {
		c := client.Instance.Create().
			SetID(uuid.MustParse(in.ID)).
			SetCreatedAt(dbTime(in.CreatedAt)).
			SetUpdatedAt(dbTime(in.UpdatedAt)).
			SetWorkflowID(wid).
			SetVersion(in.Version).
			SetWorkflowName(in.WorkflowName).
			SetStartedBy(starter).
			SetActivitySeq(int64(len(acts)))
		if in.RequestID != "" {
			c.SetRequestID(in.RequestID)
		}
		if in.RequestFingerprint != "" {
			c.SetRequestFingerprint(in.RequestFingerprint)
		}
		setInstanceFields(c.Mutation(), in, form)
		if in.ExternalID != "" { // a start has none; the tests' fixtures make instances with one
			c.SetExternalID(in.ExternalID)
		}
		return c
	}
	var out engine.Instance
	if s.db.Dialect == Postgres && newItemsAlone(eff) && !s.forceTx {
		out, err = s.createInstanceAlone(ctx, newInstance(s.db.Client).Mutation(), form, acts, eff)
	} else {
		err = s.inTx(ctx, func(tx txn) error {
			row, err := newInstance(tx.Client).Save(ctx)
			if err != nil {
				return err
			}
			if err := insertActivities(ctx, tx, row.ID, 0, acts); err != nil {
				return err
			}
			if err := s.applyEffects(ctx, tx, eff); err != nil {
				return err
			}
			out, err = instanceFromRow(row)
			return err
		})
	}
	if err != nil && in.RequestID != "" && isUniqueViolation(err) {
		return engine.Instance{}, engine.ErrDuplicateRequest
	}
	return out, translate(err)
}

// setInstanceFields writes the fields that change as an instance moves.
func setInstanceFields(m *ent.InstanceMutation, in engine.Instance, form []byte) {
	m.SetStateKey(in.StateKey)
	m.SetStatus(instance.Status(in.Status.String()))
	m.SetFormData(form)
	m.SetReason(in.Reason)
	if a := in.Assignee; a != nil && a.UserID != "" {
		m.SetAssigneeUserID(a.UserID)
	} else {
		m.ClearAssigneeUserID()
	}
	if a := in.Assignee; a != nil && a.GroupID != "" {
		m.SetAssigneeGroupID(a.GroupID)
	} else {
		m.ClearAssigneeGroupID()
	}
	if in.System.Provider != engine.ProviderUnspecified {
		m.SetProvider(in.System.String())
	}
	// external_id is the coupling's to write (coupleAlone, coupleRow's transaction); a move
	// that starts an external step clears it, and no other write touches it.
	if in.ResetExternalID {
		m.ClearExternalID()
	}
	if in.EndedAt != nil {
		m.SetEndedAt(dbTime(*in.EndedAt))
	}
	if in.Deadline != nil {
		m.SetDeadline(dbTime(*in.Deadline))
	} else {
		m.ClearDeadline()
	}
}

func insertActivities(ctx context.Context, tx txn, instanceID uuid.UUID, lastSeq int64, acts []engine.Activity) error {
	if len(acts) == 0 {
		return nil
	}
	builders := make([]*ent.ActivityCreate, len(acts))
	for i, a := range acts {
		details, err := a.MarshalDetails()
		if err != nil {
			return err
		}
		b := tx.Activity.Create().
			SetInstanceID(instanceID).
			SetSeq(lastSeq + int64(i) + 1).
			SetKind(a.Kind.String()).
			SetActorID(a.ActorID).
			SetFromState(a.FromState).
			SetToState(a.ToState).
			SetTransitionKey(a.TransitionKey).
			SetMessage(a.Message).
			SetCreatedAt(dbTime(a.CreatedAt))
		if details != nil {
			b.SetDetails(details)
		}
		if a.Assignee != nil {
			b.SetAssigneeUserID(a.Assignee.UserID).SetAssigneeGroupID(a.Assignee.GroupID)
		}
		builders[i] = b
	}
	return tx.Activity.CreateBulk(builders...).Exec(ctx)
}

func (s *Store) InstanceByRequest(ctx context.Context, startedBy, requestID string) (engine.Instance, error) {
	starter, err := parseID("user", startedBy)
	if err != nil {
		return engine.Instance{}, err
	}
	row, err := s.db.Client.Instance.Query().Where(instance.StartedBy(starter), instance.RequestID(requestID)).Only(ctx)
	if err != nil {
		if ent.IsNotFound(err) {
			return engine.Instance{}, fmt.Errorf("%w: request %q", engine.ErrNotFound, requestID)
		}
		return engine.Instance{}, translate(err)
	}
	return instanceFromRow(row)
}

func (s *Store) GetInstance(ctx context.Context, id string) (engine.Instance, error) {
	iid, err := parseID("instance", id)
	if err != nil {
		return engine.Instance{}, err
	}
	row, err := s.db.Client.Instance.Get(ctx, iid)
	if err != nil {
		if ent.IsNotFound(err) {
			return engine.Instance{}, fmt.Errorf("%w: instance %s", engine.ErrNotFound, id)
		}
		return engine.Instance{}, translate(err)
	}
	return instanceFromRow(row)
}

func (s *Store) UpdateInstance(ctx context.Context, in engine.Instance, expectedRevision int64, acts []engine.Activity, eff engine.Effects) (engine.Instance, error) {
	iid, err := parseID("instance", in.ID)
	if err != nil {
		return engine.Instance{}, err
	}
	if s.db.Dialect == Postgres && newItemsAlone(eff) && !s.forceTx {
		out, err := s.updateInstanceAlone(ctx, iid, in, expectedRevision, acts, eff)
		return out, translate(err)
	}
	var out engine.Instance
	err = s.inTx(ctx, func(tx txn) error {
		if err := updateInstance(ctx, tx, iid, in, expectedRevision, acts); err != nil {
			return err
		}
		if err := s.applyEffects(ctx, tx, eff); err != nil {
			return err
		}
		row, err := tx.Instance.Get(ctx, iid)
		if err != nil {
			return err
		}
		out, err = instanceFromRow(row)
		return err
	})
	return out, translate(err)
}

// updateInstance saves in, its revision increased by one, when the stored revision is still
// expectedRevision: of racing updates from one revision, on any replica, exactly one wins. The
// same statement numbers acts (as appendActivities does: it adds their count to the instance's
// activity counter, under the row lock the update takes), and they are inserted after it: a
// transition is one round trip fewer than an update followed by an append.
func updateInstance(ctx context.Context, tx txn, iid uuid.UUID, in engine.Instance, expectedRevision int64, acts []engine.Activity) error {
	query, args, err := instanceUpdateQuery(tx.Client, tx.dialect, iid, in, expectedRevision, len(acts), updatePlain)
	if err != nil {
		return err
	}
	var last int64
	if err := tx.sql.QueryRowContext(ctx, query, args...).Scan(&last); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: the instance changed concurrently; read it again", engine.ErrConflict)
		}
		return err
	}
	return insertActivities(ctx, tx, iid, last-int64(len(acts)), acts)
}

// instanceUpdate is the conditional UPDATE of an instance at expectedRevision that adds n to
// its activity counter and returns the counter's new value. Its WHERE takes more conditions
// with the builder's Where.
func instanceUpdate(c *ent.Client, d string, iid uuid.UUID, in engine.Instance, expectedRevision int64, n int) (*entsql.UpdateBuilder, error) {
	form, err := json.Marshal(in.FormData)
	if err != nil {
		return nil, err
	}
	// The mutation says which columns an instance update sets and clears (setInstanceFields,
	// shared with the insert); the statement is built here so that it can return the counter.
	m := c.Instance.Update().Mutation()
	setInstanceFields(m, in, form)
	u := entsql.Dialect(d).Update(instance.Table).
		Set(instance.FieldUpdatedAt, dbTime(in.UpdatedAt)).
		Add(instance.FieldRevision, 1).
		Add(instance.FieldActivitySeq, n).
		Where(entsql.And(entsql.EQ(instance.FieldID, iid), entsql.EQ(instance.FieldRevision, expectedRevision))).
		Returning(instance.FieldActivitySeq)
	for _, f := range m.Fields() {
		v, _ := m.Field(f)
		if f == instance.FieldFormData {
			v = form // a JSON column takes its encoding, as Ent gives it
		}
		u.Set(f, v)
	}
	// Cleared fields come from a map: sorted, the statement's text (which the driver caches as a
	// prepared statement) is always the same.
	for _, f := range clearedColumns(m, in) {
		u.SetNull(f)
	}
	return u, nil
}

func (s *Store) ListInstances(ctx context.Context, f engine.InstanceFilter, p engine.Page) ([]engine.Instance, string, engine.Total, error) {
	var where []predicate.Instance
	if f.WorkflowID != "" {
		wid, err := uuid.Parse(f.WorkflowID)
		if err != nil {
			return nil, "", engine.Total{}, nil
		}
		where = append(where, instance.WorkflowID(wid))
	}
	if f.Version > 0 {
		where = append(where, instance.Version(f.Version))
	}
	if f.StateKey != "" {
		where = append(where, instance.StateKey(f.StateKey))
	}
	if f.Status.Valid() {
		where = append(where, instance.StatusEQ(instance.Status(f.Status.String())))
	}
	if f.Provider != engine.ProviderUnspecified {
		match := instance.Provider(engine.System{Provider: f.Provider, Connector: f.Connector}.String())
		if f.Connector == "" {
			match = instance.Or(match, instance.ProviderHasPrefix(systemPrefix(f.Provider)))
		}
		where = append(where, match)
	}
	if f.ExternalID != "" {
		where = append(where, instance.ExternalID(f.ExternalID))
	}
	if f.StartedBy != "" {
		uid, err := uuid.Parse(f.StartedBy)
		if err != nil {
			return nil, "", engine.Total{}, nil
		}
		where = append(where, instance.StartedBy(uid))
	}
	// Ids are UUIDv7 made from created_at (see CreateInstance), so a time range is also an id
	// range: the bounds let the planner walk the primary key instead of filtering on it. (They
	// are left out of the count's estimate: the planner would take the two ranges for
	// independent and halve it again.)
	var ids, created, pageCreated []predicate.Instance
	if !f.CreatedAfter.IsZero() {
		created = append(created, instance.CreatedAtGTE(dbTime(f.CreatedAfter)))
		pageCreated = append(pageCreated, s.createdFilter(">=", f.CreatedAfter))
		ids = append(ids, instance.IDGTE(idFloor(f.CreatedAfter)))
	}
	if !f.CreatedBefore.IsZero() {
		created = append(created, instance.CreatedAtLT(dbTime(f.CreatedBefore)))
		pageCreated = append(pageCreated, s.createdFilter("<", f.CreatedBefore))
		ids = append(ids, instance.IDLT(idFloor(f.CreatedBefore.Add(time.Millisecond))))
	}
	if !f.OverdueBefore.IsZero() {
		where = append(where, instance.DeadlineLT(dbTime(f.OverdueBefore)),
			instance.StatusIn(instance.StatusACTIVE, instance.StatusWAITING_EXTERNAL))
	}
	if f.AssigneeInactive {
		where = append(where, instance.StatusEQ(instance.StatusACTIVE), assigneeDeactivated)
	}
	counting := append(slices.Clone(where), created...)
	q := s.db.Client.Instance.Query().Where(append(append(where, pageCreated...), ids...)...)
	if p.After != "" {
		before, err := uuid.Parse(p.After)
		if err != nil {
			return nil, "", engine.Total{}, badToken()
		}
		q = q.Where(instance.IDLT(before))
	}
	// Every page counts: total_size is the server's, never carried in a token. Newest first:
	// ids are UUIDv7, ordered by creation.
	var rows []*ent.Instance
	total, err := s.counted(ctx, instance.Table, predicates(counting), predicates(ids), func(ctx context.Context) error {
		var err error
		rows, err = q.Order(instance.ByID(entsql.OrderDesc())).Limit(p.Size + 1).All(ctx)
		return translate(err)
	})
	if err != nil {
		return nil, "", engine.Total{}, err
	}
	out, next, err := instancesFromRows(rows, p.Size)
	if err != nil {
		return nil, "", engine.Total{}, err
	}
	if err := s.attachWorkItems(ctx, out); err != nil {
		return nil, "", engine.Total{}, err
	}
	return out, next, total, nil
}

// createdFilter is created_at op t for a page's query. On PostgreSQL it is written so that
// the planner cannot take the (created_at, id) index for it: with the id bounds beside it, it
// took the two ranges for independent, expected a few dozen rows, and chose that index and a
// sort of every row in the range (1.3 ms for 1,900 rows, growing with the range) over the
// primary key's walk in the page's order, which stops after a page (0.03 ms). The id bounds
// select the range; this only drops the rows of its first and last millisecond that fall
// outside it. The count keeps the plain comparison: it reads the whole range, and that index
// serves it best.
func (s *Store) createdFilter(op string, t time.Time) predicate.Instance {
	at := dbTime(t)
	if s.db.Dialect != Postgres {
		if op == ">=" {
			return instance.CreatedAtGTE(at)
		}
		return instance.CreatedAtLT(at)
	}
	return func(sel *entsql.Selector) {
		sel.Where(entsql.P(func(b *entsql.Builder) {
			b.WriteString("(" + sel.C(instance.FieldCreatedAt) + " + interval '0 seconds') " + op + " ")
			b.Arg(at)
		}))
	}
}

// attachWorkItems sets each listed instance's current work item (the newest, as GetInstance
// shows it), read for the whole page in one query, so Workflow Manage can show external ids
// and statuses without a read per row.
func (s *Store) attachWorkItems(ctx context.Context, ins []engine.Instance) error {
	var ids []uuid.UUID
	at := make(map[uuid.UUID]int, len(ins))
	for i, in := range ins {
		if in.System.Provider == engine.ProviderUnspecified {
			continue
		}
		id, err := uuid.Parse(in.ID)
		if err != nil {
			return fmt.Errorf("instance id %q: %w", in.ID, err)
		}
		ids, at[id] = append(ids, id), i
	}
	if len(ids) == 0 {
		return nil
	}
	rows, err := s.db.Client.WorkItem.Query().Where(workitem.InstanceIDIn(ids...)).
		Order(workitem.ByCreatedAt(entsql.OrderDesc()), workitem.ByID(entsql.OrderDesc())).All(ctx)
	if err != nil {
		return translate(err)
	}
	for _, r := range rows {
		i, ok := at[r.InstanceID]
		if !ok || ins[i].WorkItem != nil {
			continue // newest first: the first row of an instance is its current item
		}
		wi := workItemFromRow(r)
		ins[i].WorkItem = &wi
	}
	return nil
}

// assigneeDeactivated matches instances assigned personally to a deactivated user, in one
// statement (a subquery, not a list of ids read first, which could grow past a statement's
// parameter limit). assignee_user_id is text; users.id is a native UUID on PostgreSQL and text
// on SQLite: cast to text, both give the canonical lower-case form, which ListAssigned
// matches too.
func assigneeDeactivated(s *entsql.Selector) {
	t := entsql.Dialect(s.Dialect()).Table(user.Table)
	deactivated := entsql.Dialect(s.Dialect()).
		SelectExpr(entsql.Expr("CAST(" + t.C(user.FieldID) + " AS TEXT)")).
		From(t).
		Where(entsql.NotNull(t.C(user.FieldDeactivatedAt)))
	s.Where(entsql.In(s.C(instance.FieldAssigneeUserID), deactivated))
}

func (s *Store) ListAssigned(ctx context.Context, userID string, groupIDs []string, p engine.Page) ([]engine.Instance, string, error) {
	if s.db.Dialect == Postgres {
		return s.listAssignedMerged(ctx, userID, groupIDs, p)
	}
	who := []predicate.Instance{instance.AssigneeUserID(userID)}
	if len(groupIDs) > 0 {
		who = append(who, instance.AssigneeGroupIDIn(groupIDs...))
	}
	q := s.db.Client.Instance.Query().Where(instance.Or(who...), instance.StatusEQ(instance.StatusACTIVE))
	if p.After != "" {
		after, err := uuid.Parse(p.After)
		if err != nil {
			return nil, "", badToken()
		}
		q = q.Where(instance.IDGT(after))
	}
	rows, err := q.Order(instance.ByID()).Limit(p.Size + 1).All(ctx)
	if err != nil {
		return nil, "", translate(err)
	}
	out, next, err := instancesFromRows(rows, p.Size)
	return out, next, err
}

// listAssignedSQL is ListAssigned's query on PostgreSQL: the user's ACTIVE instances and each
// group's, each walked in id order on its own partial index (assignee, id) and cut at the page,
// then merged (an instance assigned to the user and a group once): a page reads about a page
// per user and group, wherever their instances are. With one scan of the OR the planner read
// every match and sorted them, or walked the primary key from the oldest instance, filtering,
// which is slow when the matches are all recent (a newcomer, a new group): 13.8 ms for 2,000
// of the newest among 47,000 instances, against 0.20 ms merged (session 27).
//
// Each walk names its assignee as a range of one value (>= and <=) and is ordered by
// (assignee, id), which only the assignee's index gives: with "= $1 ORDER BY id" the primary
// key gives the order too, and the planner, which takes the assignee's instances for spread
// evenly over the table, walked it from the oldest instance whenever they looked plentiful
// (a busy approver's 25,000 among 117,000, all recent: 40,400 rows read and dropped, 14–20 ms
// a page, against 0.05–0.14 ms on the index; session 28). For a deterministic collation a
// text is >= and <= a value only if it is that value. The pages merge by id: within a walk
// the assignee is one value, so its order is the id's.
var listAssignedSQL = func() string {
	cols := strings.Join(instance.Columns, ", ")
	return `SELECT DISTINCT ON (a.id) a.* FROM (
  (SELECT ` + cols + ` FROM instances WHERE assignee_user_id >= $1 AND assignee_user_id <= $1 AND status = 'ACTIVE' AND id > $3
    ORDER BY assignee_user_id, id LIMIT $4)
  UNION ALL
  (SELECT i.* FROM unnest($2::text[]) AS g(id) CROSS JOIN LATERAL (
    SELECT ` + cols + ` FROM instances WHERE assignee_group_id >= g.id AND assignee_group_id <= g.id AND status = 'ACTIVE' AND id > $3
    ORDER BY assignee_group_id, id LIMIT $4) AS i)
) AS a ORDER BY a.id LIMIT $4`
}()

// listAssignedMerged is ListAssigned on PostgreSQL (listAssignedSQL).
func (s *Store) listAssignedMerged(ctx context.Context, userID string, groupIDs []string, p engine.Page) ([]engine.Instance, string, error) {
	after := uuid.Nil
	if p.After != "" {
		var err error
		if after, err = uuid.Parse(p.After); err != nil {
			return nil, "", badToken()
		}
	}
	if groupIDs == nil {
		groupIDs = []string{}
	}
	// Through ent's driver, as the other lists, so that what wraps it (the lists' benchmark
	// logs every plan) sees the query.
	rs, err := s.db.Client.QueryContext(ctx, listAssignedSQL, userID, groupIDs, after, p.Size+1)
	if err != nil {
		return nil, "", translate(err)
	}
	defer rs.Close()
	var rows []*ent.Instance
	for rs.Next() {
		in := &ent.Instance{}
		var form []byte
		if err := rs.Scan(inOrder(instanceColumns(in, &form), instance.Columns)...); err != nil {
			return nil, "", translate(err)
		}
		in.FormData = form
		rows = append(rows, in)
	}
	if err := rs.Close(); err != nil {
		return nil, "", translate(err)
	}
	if err := rs.Err(); err != nil {
		return nil, "", translate(err)
	}
	return instancesFromRows(rows, p.Size)
}

func (s *Store) ListActivity(ctx context.Context, instanceID string, p engine.Page) ([]engine.Activity, string, error) {
	iid, err := parseID("instance", instanceID)
	if err != nil {
		return nil, "", err
	}
	q := s.db.Client.Activity.Query().Where(activity.InstanceID(iid))
	if p.After != "" {
		after, err := strconv.ParseInt(p.After, 10, 64)
		if err != nil {
			return nil, "", badToken()
		}
		q = q.Where(activity.SeqGT(after))
	}
	rows, err := q.Order(activity.BySeq()).Limit(p.Size + 1).All(ctx)
	if err != nil {
		return nil, "", translate(err)
	}
	rows, next := cut(rows, p.Size, func(r *ent.Activity) string { return strconv.FormatInt(r.Seq, 10) })
	out := make([]engine.Activity, len(rows))
	for i, r := range rows {
		if out[i], err = activityFromRow(r); err != nil {
			return nil, "", err
		}
	}
	return out, next, nil
}

func (s *Store) TookPart(ctx context.Context, instanceID, userID string, groupIDs []string) (bool, error) {
	iid, err := parseID("instance", instanceID)
	if err != nil {
		return false, err
	}
	who := []predicate.Activity{activity.ActorID(userID), activity.AssigneeUserID(userID)}
	if len(groupIDs) > 0 {
		who = append(who, activity.AssigneeGroupIDIn(groupIDs...))
	}
	ok, err := s.db.Client.Activity.Query().Where(activity.InstanceID(iid), activity.Or(who...)).Exist(ctx)
	return ok, translate(err)
}

func instancesFromRows(rows []*ent.Instance, size int) ([]engine.Instance, string, error) {
	rows, next := cut(rows, size, func(r *ent.Instance) string { return r.ID.String() })
	out := make([]engine.Instance, len(rows))
	for i, r := range rows {
		var err error
		if out[i], err = instanceFromRow(r); err != nil {
			return nil, "", err
		}
	}
	return out, next, nil
}

func instanceFromRow(r *ent.Instance) (engine.Instance, error) {
	status, err := engine.ParseStatus(string(r.Status))
	if err != nil {
		return engine.Instance{}, fmt.Errorf("instance %s: %w", r.ID, err)
	}
	var form map[string]any
	if err := json.Unmarshal(r.FormData, &form); err != nil {
		return engine.Instance{}, fmt.Errorf("instance %s form data: %w", r.ID, err)
	}
	in := engine.Instance{
		ID:           r.ID.String(),
		WorkflowID:   r.WorkflowID.String(),
		Version:      r.Version,
		WorkflowName: r.WorkflowName,
		StateKey:     r.StateKey,
		Status:       status,
		FormData:     form,
		Revision:     r.Revision,
		StartedBy:    r.StartedBy.String(),
		Reason:       r.Reason,
		CreatedAt:    r.CreatedAt,
		UpdatedAt:    r.UpdatedAt,
		EndedAt:      r.EndedAt,
		Deadline:     r.Deadline,
	}
	in.FormDataErasedAt, in.DocumentsErasedAt = r.FormDataErasedAt, r.DocumentsErasedAt
	if r.RequestID != nil {
		in.RequestID = *r.RequestID
	}
	if r.RequestFingerprint != nil {
		in.RequestFingerprint = *r.RequestFingerprint
	}
	if r.AssigneeUserID != nil || r.AssigneeGroupID != nil {
		in.Assignee = &engine.Assignee{}
		if r.AssigneeUserID != nil {
			in.Assignee.UserID = *r.AssigneeUserID
		}
		if r.AssigneeGroupID != nil {
			in.Assignee.GroupID = *r.AssigneeGroupID
		}
	}
	if r.Provider != nil {
		in.System = engine.ParseSystem(*r.Provider)
	}
	if r.ExternalID != nil {
		in.ExternalID = *r.ExternalID
	}
	return in, nil
}

func activityFromRow(r *ent.Activity) (engine.Activity, error) {
	kind, _ := engine.ParseActivityKind(r.Kind)
	a := engine.Activity{
		ID:            r.ID.String(),
		InstanceID:    r.InstanceID.String(),
		Seq:           r.Seq,
		Kind:          kind,
		ActorID:       r.ActorID,
		FromState:     r.FromState,
		ToState:       r.ToState,
		TransitionKey: r.TransitionKey,
		Message:       r.Message,
		CreatedAt:     r.CreatedAt,
	}
	if len(r.Details) > 0 {
		var d engine.ActivityDetails
		if err := json.Unmarshal(r.Details, &d); err != nil {
			return engine.Activity{}, fmt.Errorf("activity %s details: %w", r.ID, err)
		}
		a.Changes, a.Assignee, a.Deadline = d.Changes, d.Assignee, d.Deadline
	}
	return a, nil
}

// idFloor is the smallest UUIDv7 of t's millisecond.
func idFloor(t time.Time) uuid.UUID {
	var u uuid.UUID
	putMillis(&u, t)
	u[6], u[8] = 0x70, 0x80
	return u
}

func putMillis(u *uuid.UUID, t time.Time) {
	ms := uint64(max(t.UnixMilli(), 0))
	for i := 5; i >= 0; i-- {
		u[i] = byte(ms)
		ms >>= 8
	}
}

// dbTime is a time as the databases keep it: UTC, microseconds.
func dbTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// TimersDue returns the timers of open instances whose deadline is before before, soonest
// first, at most limit: a replica that starts arms those about to fire.
func (s *Store) TimersDue(ctx context.Context, before time.Time, limit int) ([]engine.StateTimeoutJob, error) {
	rows, err := s.db.Client.Instance.Query().
		Where(instance.DeadlineLT(dbTime(before)), instance.StatusIn(instance.StatusACTIVE, instance.StatusWAITING_EXTERNAL)).
		Order(instance.ByDeadline()).Limit(limit).
		Select(instance.FieldID, instance.FieldStateKey, instance.FieldDeadline).All(ctx)
	if err != nil {
		return nil, translate(err)
	}
	out := make([]engine.StateTimeoutJob, 0, len(rows))
	for _, r := range rows {
		if r.Deadline != nil {
			out = append(out, engine.StateTimeoutJob{InstanceID: r.ID.String(), StateKey: r.StateKey, Deadline: r.Deadline.UTC()})
		}
	}
	return out, nil
}
