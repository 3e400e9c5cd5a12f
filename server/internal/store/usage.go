package store

import (
	"context"
	"fmt"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/flowhook/flowhook/ent/workflowversion"
	"github.com/flowhook/flowhook/ent/workitem"
	"github.com/flowhook/flowhook/server/internal/engine"
)

var _ engine.ConnectorUsage = (*Store)(nil)

// SystemUsage says what uses a system: the published versions (workflow/version) with an
// EXTERNAL state addressed to it, and its work items still being created or waiting.
func (s *Store) SystemUsage(ctx context.Context, sys engine.System) ([]string, int, error) {
	open, err := s.db.Client.WorkItem.Query().
		Where(workitem.Provider(sys.String()), workitem.StatusIn(workitem.StatusCREATING, workitem.StatusWAITING), workitem.ResolvedAtIsNil()).Count(ctx)
	if err != nil {
		return nil, 0, translate(err)
	}
	// Definitions are JSON (jsonb on PostgreSQL): the states are searched where they are
	// stored, rather than every version read back.
	uses := func(sel *entsql.Selector) {
		col := sel.C(workflowversion.FieldDefinition)
		sel.Where(entsql.P(func(b *entsql.Builder) {
			if s.db.Dialect == Postgres {
				b.WriteString("EXISTS (SELECT 1 FROM jsonb_array_elements(" + col + "->'states') AS st WHERE st->'external'->>'provider' = ").
					Arg(string(sys.Provider)).WriteString(" AND st->'external'->>'connector' = ").Arg(sys.Connector).WriteString(")")
				return
			}
			b.WriteString("EXISTS (SELECT 1 FROM json_each(" + col + ", '$.states') AS st WHERE json_extract(st.value, '$.external.provider') = ").
				Arg(string(sys.Provider)).WriteString(" AND json_extract(st.value, '$.external.connector') = ").Arg(sys.Connector).WriteString(")")
		}))
	}
	rows, err := s.db.Client.WorkflowVersion.Query().Where(uses).
		Order(workflowversion.ByWorkflowID(), workflowversion.ByVersion()).Limit(20).All(ctx)
	if err != nil {
		return nil, 0, translate(err)
	}
	versions := make([]string, len(rows))
	for i, r := range rows {
		versions[i] = fmt.Sprintf("%s/%d", r.WorkflowID, r.Version)
	}
	return versions, open, nil
}
