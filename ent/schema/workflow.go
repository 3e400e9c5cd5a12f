package schema

import (
	"encoding/json"

	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Workflow is a workflow's editable draft. Every change increases revision; updates are
// conditional on it (optimistic concurrency across replicas).
type Workflow struct{ ent.Schema }

func (Workflow) Mixin() []ent.Mixin { return []ent.Mixin{idMixin{}, timeMixin{}} }

func (Workflow) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty(),
		field.Text("description").Default(""),
		// The draft in engine's stable JSON form (states, transitions, forms).
		field.JSON("draft", json.RawMessage{}),
		field.Int64("revision").Default(1),
		field.Int32("latest_version").Default(0),
		// An archived workflow starts no new instances and is left out of lists by default.
		field.Time("archived_at").Optional().Nillable(),
	}
}

func (Workflow) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("versions", WorkflowVersion.Type),
	}
}

func (Workflow) Indexes() []ent.Index {
	return []ent.Index{index.Fields("name")}
}
