package schema

import (
	"encoding/json"

	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// Instance is one run of a published workflow version. Every change increases revision and is
// conditional on it, so that racing replicas cannot both move an instance.
type Instance struct{ ent.Schema }

func (Instance) Mixin() []ent.Mixin { return []ent.Mixin{idMixin{}, timeMixin{}} }

func (Instance) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("workflow_id", uuid.UUID{}).Immutable(),
		field.Int32("version").Immutable(),
		field.String("workflow_name").Immutable(),
		field.String("state_key"),
		field.Enum("status").Values("ACTIVE", "WAITING_EXTERNAL", "COMPLETED", "CANCELLED", "FAILED"),
		field.JSON("form_data", json.RawMessage{}),
		field.Int64("revision").Default(1),
		field.UUID("started_by", uuid.UUID{}).Immutable(),
		// Idempotency of StartInstance, per starter.
		field.String("request_id").Optional().Nillable().Immutable(),
		// A hash of what the request asked for (workflow, version, transition, validated form
		// data): a request id used again with other input is refused, not answered with this
		// instance. Rows from before it was kept have none.
		field.String("request_fingerprint").Optional().Nillable().Immutable(),
		// Who acts now: set only while ACTIVE in a HUMAN state, so that "assigned to me" is
		// an index lookup on either column.
		field.String("assignee_user_id").Optional().Nillable(),
		field.String("assignee_group_id").Optional().Nillable(),
		// The provider of the EXTERNAL state it waits (or waited) in, and the coupled id.
		field.String("provider").Optional().Nillable(),
		field.String("external_id").Optional().Nillable(),
		field.Text("reason").Default(""),
		field.Time("ended_at").Optional().Nillable(),
		// When the current state's timeout passes (its timer is a River job scheduled for
		// then); nil when the state has none or the instance is no longer open. A timer fires
		// only while the instance is open at this very deadline.
		field.Time("deadline").Optional().Nillable(),
		// When retention erased the form data, and the signed documents, of the finished
		// instance.
		field.Time("form_data_erased_at").Optional().Nillable(),
		field.Time("documents_erased_at").Optional().Nillable(),
		// The sequence number of the instance's newest activity. Appending activities
		// increases it and numbers them from the value it returns, in one statement that
		// also locks the row, so that concurrent appends to one instance take turns. It is
		// also what keeps activities to instances that exist: an append to an instance that
		// does not exist finds no counter to move, and writes nothing.
		field.Int64("activity_seq").Default(0),
	}
}

func (Instance) Indexes() []ent.Index {
	return []ent.Index{
		// The columns that are NULL on most rows have partial indexes: an instance's update
		// that moves it (never HOT: its state is indexed) then inserts no entry for a NULL
		// value. Every lookup on them compares with a strict operator (=, <), which implies
		// IS NOT NULL, so the planner uses them with generic plans too.
		index.Fields("started_by", "request_id").Unique().Annotations(entsql.IndexWhere("request_id IS NOT NULL")),
		index.Fields("assignee_user_id", "id").Annotations(entsql.IndexWhere("assignee_user_id IS NOT NULL")),
		index.Fields("assignee_group_id", "id").Annotations(entsql.IndexWhere("assignee_group_id IS NOT NULL")),
		index.Fields("workflow_id", "id"),
		index.Fields("workflow_id", "state_key", "id"),
		// A workflow's instances of one status ("the ACTIVE ones of this workflow"): without
		// it PostgreSQL ANDed two bitmaps of the workflow's and the status's whole ranges to
		// count the first 10,001, 13-19 ms of CPU a list with 40,000 matching (session 27).
		index.Fields("workflow_id", "status", "id"),
		index.Fields("status", "id"),
		index.Fields("state_key", "id"),
		index.Fields("started_by", "id"),
		// External id first: Workflow Manage looks an instance up by the id a system gave it,
		// often without naming the system, and a provider filter (the provider or any of its
		// connectors: an OR with a prefix match) cannot lead an index anyway.
		index.Fields("external_id", "provider"),
		index.Fields("created_at", "id"),
		// Workflow Manage's overdue filter, and the scan for deadlines due soon.
		index.Fields("deadline").Annotations(entsql.IndexWhere("deadline IS NOT NULL")),
		// Retention's scan of finished instances.
		index.Fields("ended_at").Annotations(entsql.IndexWhere("ended_at IS NOT NULL")),
	}
}

// Activity is one entry of an instance's timeline (Form Activity).
type Activity struct{ ent.Schema }

func (Activity) Mixin() []ent.Mixin { return []ent.Mixin{idMixin{}} }

func (Activity) Fields() []ent.Field {
	return []ent.Field{
		// The instance's id, without a foreign key: the instance's activity counter, which
		// every append reads in the same statement, refuses an append to an instance that
		// does not exist (instances are never deleted), and the key's check, a query and a
		// share lock on the instance's row for every activity inserted, cost a progress
		// notification's batch about a sixth of PostgreSQL's time (docs/performance.md).
		field.UUID("instance_id", uuid.UUID{}).Immutable(),
		field.Int64("seq").Immutable(),
		field.String("kind").Immutable(),
		field.String("actor_id").Default("").Immutable(),
		field.String("from_state").Default("").Immutable(),
		field.String("to_state").Default("").Immutable(),
		field.String("transition_key").Default("").Immutable(),
		// Whom an ASSIGNED entry assigned the instance to: past assignees may still read it.
		field.String("assignee_user_id").Default("").Immutable(),
		field.String("assignee_group_id").Default("").Immutable(),
		// Form field changes, assignee and other details, in the engine's JSON form. Retention
		// erases the values of the changes (the only field that ever changes).
		field.JSON("details", json.RawMessage{}).Optional(),
		// Retention replaces the form's values where a message quotes them (a signer's email).
		field.Text("message").Default(""),
		field.Time("created_at").Immutable(),
	}
}

func (Activity) Indexes() []ent.Index {
	return []ent.Index{
		// Also every lookup by instance (TookPart's actor or assignee is filtered among the
		// instance's few activities): no second index to update for each activity appended.
		index.Fields("instance_id", "seq").Unique(),
	}
}
