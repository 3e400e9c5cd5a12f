package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/flowhook/flowhook/ent"
	"github.com/flowhook/flowhook/ent/instance"
	"github.com/flowhook/flowhook/ent/workitem"
	"github.com/flowhook/flowhook/server/internal/engine"
)

// WorkItemWithInstance reads the work item a system's id is coupled to and its instance in one
// query (a join): deciding an outcome needs both, and each round trip is a wait.
func (s *Store) WorkItemWithInstance(ctx context.Context, p engine.System, externalID string) (engine.WorkItem, engine.Instance, error) {
	var (
		w    ent.WorkItem
		in   ent.Instance
		form []byte
	)
	wdest, idest := workItemColumns(&w), instanceColumns(&in, &form)
	b := entsql.Dialect(s.entDialect())
	wt, it := b.Table(workitem.Table).As("w"), b.Table(instance.Table).As("i")
	cols := make([]string, 0, len(wdest)+len(idest))
	dest := make([]any, 0, len(wdest)+len(idest))
	for _, c := range workitem.Columns {
		cols, dest = append(cols, wt.C(c)), append(dest, wdest[c])
	}
	for _, c := range instance.Columns {
		cols, dest = append(cols, it.C(c)), append(dest, idest[c])
	}
	query, args := b.Select(cols...).From(wt).
		Join(it).On(wt.C(workitem.FieldInstanceID), it.C(instance.FieldID)).
		Where(entsql.And(entsql.EQ(wt.C(workitem.FieldProvider), p.String()), entsql.EQ(wt.C(workitem.FieldExternalID), externalID))).
		Query()
	if err := s.db.SQL.QueryRowContext(ctx, query, args...).Scan(dest...); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return engine.WorkItem{}, engine.Instance{}, fmt.Errorf("%w: %s work item %s", engine.ErrNotFound, p, externalID)
		}
		return engine.WorkItem{}, engine.Instance{}, translate(err)
	}
	in.FormData = form
	inst, err := instanceFromRow(&in)
	if err != nil {
		return engine.WorkItem{}, engine.Instance{}, err
	}
	return workItemFromRow(&w), inst, nil
}

// workItemColumns maps each column of work_items to where it scans into w.
func workItemColumns(w *ent.WorkItem) map[string]any {
	return map[string]any{
		workitem.FieldID: &w.ID, workitem.FieldCreatedAt: &w.CreatedAt, workitem.FieldUpdatedAt: &w.UpdatedAt,
		workitem.FieldInstanceID: &w.InstanceID, workitem.FieldStateKey: &w.StateKey,
		workitem.FieldEnteredRevision: &w.EnteredRevision, workitem.FieldProvider: &w.Provider,
		workitem.FieldExternalID: &w.ExternalID, workitem.FieldStatus: &w.Status,
		workitem.FieldProviderStatus: &w.ProviderStatus, workitem.FieldOutcome: &w.Outcome, workitem.FieldError: &w.Error,
		workitem.FieldLastEventAt: &w.LastEventAt, workitem.FieldTraceparent: &w.Traceparent,
		workitem.FieldResolvedAt: &w.ResolvedAt, workitem.FieldRevision: &w.Revision,
		workitem.FieldLastCheckedAt: &w.LastCheckedAt,
	}
}

// instanceColumns maps each column of instances to where it scans into in (the form's JSON
// into form).
func instanceColumns(in *ent.Instance, form *[]byte) map[string]any {
	return map[string]any{
		instance.FieldID: &in.ID, instance.FieldCreatedAt: &in.CreatedAt, instance.FieldUpdatedAt: &in.UpdatedAt,
		instance.FieldWorkflowID: &in.WorkflowID, instance.FieldVersion: &in.Version,
		instance.FieldWorkflowName: &in.WorkflowName, instance.FieldStateKey: &in.StateKey,
		instance.FieldStatus: &in.Status, instance.FieldFormData: form, instance.FieldRevision: &in.Revision,
		instance.FieldStartedBy: &in.StartedBy, instance.FieldRequestID: &in.RequestID,
		instance.FieldRequestFingerprint: &in.RequestFingerprint, instance.FieldAssigneeUserID: &in.AssigneeUserID,
		instance.FieldAssigneeGroupID: &in.AssigneeGroupID, instance.FieldProvider: &in.Provider,
		instance.FieldExternalID: &in.ExternalID, instance.FieldReason: &in.Reason, instance.FieldEndedAt: &in.EndedAt,
		instance.FieldDeadline: &in.Deadline, instance.FieldFormDataErasedAt: &in.FormDataErasedAt,
		instance.FieldDocumentsErasedAt: &in.DocumentsErasedAt, instance.FieldActivitySeq: &in.ActivitySeq,
	}
}
