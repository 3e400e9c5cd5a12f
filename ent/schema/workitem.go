package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// WorkItem is the thing an EXTERNAL state created at its provider (a DocuSign envelope, a
// OneSpan package), coupled to the instance by the provider's id.
type WorkItem struct{ ent.Schema }

func (WorkItem) Mixin() []ent.Mixin { return []ent.Mixin{idMixin{}, timeMixin{}} }

func (WorkItem) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("instance_id", uuid.UUID{}).Immutable(),
		// The state it was created for, and the instance revision at which the instance
		// entered it: an instance may enter the same state again later. RetryInstance moves
		// entered_revision to the revision the retry gave the instance.
		field.String("state_key").Immutable(),
		field.Int64("entered_revision"),
		field.String("provider").Immutable(),
		// The provider's id (envelopeId, packageId); unique per provider once coupled.
		field.String("external_id").Optional().Nillable(),
		field.Enum("status").Values("CREATING", "WAITING", "RESOLVED", "FAILED", "CANCELLED", "EXPIRED"),
		field.String("provider_status").Default(""),
		field.String("outcome").Default(""),
		field.Text("error").Default(""),
		// The provider's time of the newest event applied: older ones are stale.
		field.Time("last_event_at").Optional().Nillable(),
		// W3C trace context of the transition that created it, for span links.
		field.String("traceparent").Default(""),
		field.Time("resolved_at").Optional().Nillable(),
		field.Int64("revision").Default(1),
		// When reconciliation last asked the provider about it (at most once per 15 minutes
		// for DocuSign).
		field.Time("last_checked_at").Optional().Nillable(),
		// Set when the work item finished with a result document to keep: the document is
		// fetched in-process once the resolution commits, which clears it. One still set a
		// while later (the replica died, the provider failed) is handed to a fetch_document
		// job by the leader's sweep (store.HandOverDueDocuments).
		field.Time("document_due_at").Optional().Nillable(),
		// Set when the work item is written CREATING for the first time: it is created at its
		// provider in-process once that write commits, and the coupling (or its failure, or its
		// closing) clears it. One still set a while later (the replica died, its queue was
		// full) is handed to a create_work_item job that looks for the item by our id first
		// (store.HandOverDueCreations), so it is never created twice.
		field.Time("create_due_at").Optional().Nillable(),
	}
}

func (WorkItem) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("provider", "external_id").Unique(),
		index.Fields("instance_id", "created_at"),
		// Partial: only the work items not resolved yet, which the counts of open work items
		// and reconciliation look for (their queries say resolved_at IS NULL too: an open
		// work item has none, and one resolved never opens again). A work item resolved, and
		// every later write to it (its document kept), adds no entry to these two.
		index.Fields("status", "provider").Annotations(entsql.IndexWhere("resolved_at IS NULL")),
		index.Fields("status", "last_checked_at").Annotations(entsql.IndexWhere("resolved_at IS NULL")),
		// Partial: only the few work items whose document is still due are in it.
		index.Fields("document_due_at").Annotations(entsql.IndexWhere("document_due_at IS NOT NULL")),
		// Partial: only the few work items whose creation is still due are in it.
		index.Fields("create_due_at").Annotations(entsql.IndexWhere("create_due_at IS NOT NULL")),
	}
}

// WebhookEvent is the inbox: every authenticated notification, raw, with its verdict.
type WebhookEvent struct{ ent.Schema }

func (WebhookEvent) Mixin() []ent.Mixin { return []ent.Mixin{idMixin{}} }

func (WebhookEvent) Fields() []ent.Field {
	return []ent.Field{
		field.String("provider").Immutable(),
		// Stable across the provider's redeliveries; unique per provider.
		field.String("dedupe_key").Immutable(),
		// Read from the body; a replay reads it again (a fixed parser may read more).
		field.String("event_type"),
		field.String("external_id"),
		field.Time("provider_time").Optional().Nillable(),
		field.Bytes("body").Immutable(),
		// Headers safe to keep (no signatures, no credentials).
		field.JSON("headers", map[string]string{}).Optional().Immutable(),
		field.String("remote_addr").Default("").Immutable(),
		field.Time("received_at").Immutable(),
		field.Enum("verdict").Values("PENDING", "APPLIED", "PROGRESS", "DUPLICATE", "STALE", "IGNORED",
			"REJECTED", "UNPARSEABLE", "ORPHANED").Default("PENDING"),
		field.Text("verdict_reason").Default(""),
		field.String("instance_id").Default(""),
		field.String("work_item_id").Default(""),
		field.Int("attempts").Default(0),
		field.Time("processed_at").Optional().Nillable(),
		field.String("trace_id").Default(""),
		// W3C trace context of the request that delivered it: the span that processes it
		// later links to it.
		field.String("traceparent").Default(""),
		// The body's length as received (the body kept may be cut short when rejected).
		field.Int64("size").Default(0).Immutable(),
		// Set on an event stored PENDING without a job: it is processed in-process once its
		// insert commits, which clears it (store.FinishEvent). One still set a while later
		// (the replica died, processing must wait or failed) is handed to a process_event job
		// (store.HandOverDueEvents, HandOverEvent).
		field.Time("due_at").Optional().Nillable(),
	}
}

func (WebhookEvent) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("provider", "dedupe_key").Unique(),
		// external_id first: the dedupe check of a batch (store/batchwrite.go) must find
		// (provider, dedupe_key) as the one index it can probe; with provider first, this
		// one was the planner's choice for it, filtering every event of the provider.
		index.Fields("external_id", "provider", "received_at"),
		index.Fields("verdict", "received_at"),
		index.Fields("received_at"),
		index.Fields("instance_id"),
		// Partial: only the few events waiting for in-process processing are in it.
		index.Fields("due_at").Annotations(entsql.IndexWhere("due_at IS NOT NULL")),
	}
}

// EventLogEntry is one step of the handling of a notification (the Event Log), written when
// the Webhook Receiver debug option is on, and by replays.
type EventLogEntry struct{ ent.Schema }

func (EventLogEntry) Mixin() []ent.Mixin { return []ent.Mixin{idMixin{}} }

func (EventLogEntry) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("event_id", uuid.UUID{}).Immutable(),
		field.String("step").Immutable(),
		field.Text("message").Immutable(),
		field.Time("at").Immutable(),
		// Microseconds since the start of the handling the step belongs to.
		field.Int64("elapsed_us").Default(0).Immutable(),
		field.String("trace_id").Default("").Immutable(),
		field.String("span_id").Default("").Immutable(),
	}
}

func (EventLogEntry) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("event_id", "id"),
		index.Fields("at"),
	}
}

// Setting is one named group of settings (a provider's, the security settings). Secrets are
// kept sealed (AES-256-GCM) in secret_box, apart from the plain values.
type Setting struct{ ent.Schema }

func (Setting) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").Immutable().NotEmpty(),
		field.JSON("plain", map[string]any{}).Optional(),
		field.Bytes("secret_box").Optional(),
		field.Int64("revision").Default(1),
		field.Time("updated_at"),
		field.String("updated_by").Default(""),
	}
}

// SignedDocument is a provider's signed document, kept with the instance.
type SignedDocument struct{ ent.Schema }

func (SignedDocument) Mixin() []ent.Mixin { return []ent.Mixin{idMixin{}} }

func (SignedDocument) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("instance_id", uuid.UUID{}).Immutable(),
		field.UUID("work_item_id", uuid.UUID{}).Immutable().Unique(),
		field.String("content_type").Immutable(),
		field.String("name").Immutable(),
		field.Bytes("content").Immutable(),
		field.String("sha256").Immutable(),
		field.Time("created_at").Immutable(),
	}
}

func (SignedDocument) Indexes() []ent.Index {
	return []ent.Index{index.Fields("instance_id")}
}
