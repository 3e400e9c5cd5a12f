package schema

import (
	"encoding/json"
	"time"

	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// WorkflowVersion is a published, immutable snapshot of a draft. The unique indexes make
// concurrent publications safe: one version per number, one per draft revision.
type WorkflowVersion struct{ ent.Schema }

func (WorkflowVersion) Mixin() []ent.Mixin { return []ent.Mixin{idMixin{}} }

func (WorkflowVersion) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("workflow_id", uuid.UUID{}).Immutable(),
		field.Int32("version").Immutable().Positive(),
		field.Int64("revision").Immutable().Positive(),
		field.JSON("definition", json.RawMessage{}).Immutable(),
		field.Time("published_at").Default(time.Now).Immutable(),
	}
}

func (WorkflowVersion) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("workflow", Workflow.Type).Ref("versions").Field("workflow_id").Unique().Required().Immutable(),
	}
}

func (WorkflowVersion) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("workflow_id", "version").Unique(),
		index.Fields("workflow_id", "revision").Unique(),
	}
}
