package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
)

// User is a person (or a system) that calls the API with an API key.
type User struct{ ent.Schema }

func (User) Mixin() []ent.Mixin { return []ent.Mixin{idMixin{}, timeMixin{}} }

func (User) Fields() []ent.Field {
	return []ent.Field{
		field.String("display_name").NotEmpty(),
		// Stored lower-case: unique without regard to case.
		field.String("email").NotEmpty().Unique(),
		// Role names: ADMIN, DESIGNER, USER.
		field.Strings("roles"),
		// A deactivated user's API keys are refused until reactivation.
		field.Time("deactivated_at").Optional().Nillable(),
	}
}

func (User) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("groups", Group.Type),
		edge.To("api_keys", ApiKey.Type),
	}
}

// Group is a set of users a HUMAN state can be assigned to.
type Group struct{ ent.Schema }

func (Group) Mixin() []ent.Mixin { return []ent.Mixin{idMixin{}, timeMixin{}} }

func (Group) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().Unique(),
		field.Text("description").Default(""),
	}
}

func (Group) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("members", User.Type).Ref("groups"),
	}
}
