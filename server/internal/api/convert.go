package api

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/eventlog"
)

// Enum numbers are the same on the wire and in the engine, so conversion is a cast, made only
// by the functions below (enums_test.go walks every value of both sides of each pair and fails
// on a value one side lacks); unknown numbers pass through for the engine's validation to
// name. Providers, action kinds, verdicts and event steps are names in the engine (each
// provider names itself): they convert by name, the enum's prefix off.

func instanceStatusFromProto(s flowhookv1.InstanceStatus) engine.InstanceStatus {
	return engine.InstanceStatus(s)
}
func instanceStatusToProto(s engine.InstanceStatus) flowhookv1.InstanceStatus {
	return flowhookv1.InstanceStatus(s)
}
func stateKindFromProto(k flowhookv1.StateKind) engine.StateKind { return engine.StateKind(k) }
func stateKindToProto(k engine.StateKind) flowhookv1.StateKind   { return flowhookv1.StateKind(k) }
func fieldTypeFromProto(t flowhookv1.FieldType) engine.FieldType { return engine.FieldType(t) }
func fieldTypeToProto(t engine.FieldType) flowhookv1.FieldType   { return flowhookv1.FieldType(t) }
func outcomeFromProto(o flowhookv1.Outcome) engine.Outcome       { return engine.Outcome(o) }
func outcomeToProto(o engine.Outcome) flowhookv1.Outcome         { return flowhookv1.Outcome(o) }
func roleFromProto(r flowhookv1.Role) engine.Role                { return engine.Role(r) }
func roleToProto(r engine.Role) flowhookv1.Role                  { return flowhookv1.Role(r) }

// stepToProto converts an Event Log step by name; a step the API does not have yet is
// EVENT_STEP_UNSPECIFIED.
func stepToProto(s eventlog.Step) flowhookv1.EventStep {
	return flowhookv1.EventStep(flowhookv1.EventStep_value["EVENT_STEP_"+string(s)])
}

// providerFromProto is the engine's name of a provider; a number the enum does not have keeps
// its number, for validation to name.
func providerFromProto(p flowhookv1.Provider) engine.Provider {
	if p == flowhookv1.Provider_PROVIDER_UNSPECIFIED {
		return engine.ProviderUnspecified
	}
	if name, ok := flowhookv1.Provider_name[int32(p)]; ok {
		return engine.Provider(strings.TrimPrefix(name, "PROVIDER_"))
	}
	return engine.Provider(strconv.Itoa(int(p)))
}

// knownProvider reports whether the API has the provider (a filter naming another is refused).
func knownProvider(p flowhookv1.Provider) bool {
	_, ok := flowhookv1.Provider_name[int32(p)]
	return ok
}

func providerToProto(p engine.Provider) flowhookv1.Provider {
	return flowhookv1.Provider(flowhookv1.Provider_value["PROVIDER_"+string(p)])
}

// activityKindToProto converts by name (ACTIVITY_KIND_ prefix off), so that a kind the engine
// gains (RETRIED, issue 14) cannot reach clients as another kind's number; a kind the API does
// not have yet is ACTIVITY_KIND_UNSPECIFIED.
func activityKindToProto(k engine.ActivityKind) flowhookv1.ActivityKind {
	return flowhookv1.ActivityKind(flowhookv1.ActivityKind_value["ACTIVITY_KIND_"+k.String()])
}

func actionToProto(a engine.ActionKind) flowhookv1.ActionKind {
	return flowhookv1.ActionKind(flowhookv1.ActionKind_value["ACTION_KIND_"+string(a)])
}

// checkProviderFilter checks a filter's provider and connector: a known provider, and a
// connector only with one (PROVIDER_CONNECTOR).
func checkProviderFilter(ps *engine.Problems, path string, p flowhookv1.Provider, connector string) {
	switch {
	case p != flowhookv1.Provider_PROVIDER_UNSPECIFIED && !knownProvider(p):
		ps.Add(path+"provider", "unknown provider %d", int(p))
	case connector != "" && p != flowhookv1.Provider_PROVIDER_CONNECTOR:
		// With another provider it would match nothing, an empty page that looks genuine.
		ps.Add(path+"connector", "goes with the provider PROVIDER_CONNECTOR, not %s", p)
	case connector != "" && !engine.ValidConnectorName(connector):
		ps.Add(path+"connector", "is not a connector name (lower case letters, digits and '-')")
	}
}

func draftFromProto(p *flowhookv1.WorkflowDraft) (engine.Draft, engine.Problems) {
	var ps engine.Problems
	if p == nil {
		return engine.Draft{}, ps
	}
	d := engine.Draft{
		Name:        p.GetName(),
		Description: p.GetDescription(),
		States:      make([]engine.State, len(p.GetStates())),
		Transitions: make([]engine.Transition, len(p.GetTransitions())),
	}
	for i, s := range p.GetStates() {
		st := engine.State{
			Key:        s.GetKey(),
			Name:       s.GetName(),
			Kind:       stateKindFromProto(s.GetKind()),
			FormFields: make([]engine.FormField, len(s.GetFormFields())),
		}
		for j, f := range s.GetFormFields() {
			st.FormFields[j] = engine.FormField{Name: f.GetName(), Label: f.GetLabel(), Type: fieldTypeFromProto(f.GetType()), Required: f.GetRequired()}
		}
		if a := s.GetAssignee(); a != nil {
			st.Assignee = &engine.Assignee{UserID: canonicalID(a.GetUserId()), GroupID: canonicalID(a.GetGroupId())}
		}
		if e := s.GetExternal(); e != nil {
			ext := &engine.ExternalStep{
				Provider:        providerFromProto(e.GetProvider()),
				Connector:       e.GetConnector(),
				IncludeDocument: e.GetIncludeDocument(),
				EmailSubject:    e.GetEmailSubject(),
				DocumentTitle:   e.GetDocumentTitle(),
				Signers:         make([]engine.Signer, len(e.GetSigners())),
			}
			for j, sg := range e.GetSigners() {
				ext.Signers[j] = engine.Signer{NameField: sg.GetNameField(), EmailField: sg.GetEmailField()}
			}
			if len(e.GetOutcomeOverrides()) > 0 {
				ext.OutcomeOverrides = make(map[string]engine.Outcome, len(e.GetOutcomeOverrides()))
				for ev, o := range e.GetOutcomeOverrides() {
					ext.OutcomeOverrides[ev] = outcomeFromProto(o)
				}
			}
			st.External = ext
		}
		if t := s.GetTimeout(); t != nil {
			if err := t.CheckValid(); err != nil {
				ps.Add(fmt.Sprintf("states[%d].timeout", i), "is not a valid duration")
			} else {
				st.Timeout = t.AsDuration()
			}
		}
		if len(st.FormFields) == 0 {
			st.FormFields = nil
		}
		d.States[i] = st
	}
	for i, t := range p.GetTransitions() {
		d.Transitions[i] = engine.Transition{
			Key:       t.GetKey(),
			Name:      t.GetName(),
			From:      t.GetFromState(),
			To:        t.GetToState(),
			OnOutcome: outcomeFromProto(t.GetOnOutcome()),
			OnTimeout: t.GetOnTimeout(),
			// Actions are output only: the engine derives them.
		}
	}
	return d, ps
}

func statesToProto(states []engine.State) []*flowhookv1.State {
	out := make([]*flowhookv1.State, len(states))
	for i, s := range states {
		ps := &flowhookv1.State{
			Key:  s.Key,
			Name: s.Name,
			Kind: stateKindToProto(s.Kind),
		}
		for _, f := range s.FormFields {
			ps.FormFields = append(ps.FormFields, &flowhookv1.FormField{Name: f.Name, Label: f.Label, Type: fieldTypeToProto(f.Type), Required: f.Required})
		}
		ps.Assignee = assigneeToProto(s.Assignee)
		if e := s.External; e != nil {
			pe := &flowhookv1.ExternalStep{
				Provider:        providerToProto(e.Provider),
				Connector:       e.Connector,
				IncludeDocument: e.IncludeDocument,
				EmailSubject:    e.EmailSubject,
				DocumentTitle:   e.DocumentTitle,
			}
			for _, sg := range e.Signers {
				pe.Signers = append(pe.Signers, &flowhookv1.Signer{NameField: sg.NameField, EmailField: sg.EmailField})
			}
			if len(e.OutcomeOverrides) > 0 {
				pe.OutcomeOverrides = make(map[string]flowhookv1.Outcome, len(e.OutcomeOverrides))
				for ev, o := range e.OutcomeOverrides {
					pe.OutcomeOverrides[ev] = outcomeToProto(o)
				}
			}
			ps.External = pe
		}
		if s.Timeout > 0 {
			ps.Timeout = durationpb.New(s.Timeout)
		}
		out[i] = ps
	}
	return out
}

func transitionsToProto(ts []engine.Transition) []*flowhookv1.Transition {
	out := make([]*flowhookv1.Transition, len(ts))
	for i, t := range ts {
		pt := &flowhookv1.Transition{
			Key:       t.Key,
			Name:      t.Name,
			FromState: t.From,
			ToState:   t.To,
			OnOutcome: outcomeToProto(t.OnOutcome),
			OnTimeout: t.OnTimeout,
		}
		for _, a := range t.Actions {
			pt.Actions = append(pt.Actions, &flowhookv1.Action{Kind: actionToProto(a.Kind)})
		}
		out[i] = pt
	}
	return out
}

func draftToProto(d engine.Draft) *flowhookv1.WorkflowDraft {
	return &flowhookv1.WorkflowDraft{
		Name:        d.Name,
		Description: d.Description,
		States:      statesToProto(d.States),
		Transitions: transitionsToProto(d.Transitions),
	}
}

func workflowToProto(w engine.Workflow) *flowhookv1.Workflow {
	out := &flowhookv1.Workflow{
		Id:            w.ID,
		Revision:      w.Revision,
		Draft:         draftToProto(w.Draft),
		LatestVersion: w.LatestVersion,
		CreatedAt:     timestamp(w.CreatedAt),
		UpdatedAt:     timestamp(w.UpdatedAt),
	}
	if w.ArchivedAt != nil {
		out.Archived, out.ArchivedAt = true, timestamp(*w.ArchivedAt)
	}
	return out
}

func versionToProto(v engine.Version) *flowhookv1.WorkflowVersion {
	return &flowhookv1.WorkflowVersion{
		WorkflowId:  v.WorkflowID,
		Version:     v.Version,
		Revision:    v.Revision,
		Name:        v.Definition.Name,
		Description: v.Definition.Description,
		States:      statesToProto(v.Definition.States),
		Transitions: transitionsToProto(v.Definition.Transitions),
		PublishedAt: timestamp(v.PublishedAt),
	}
}

func problemsToProto(ps []engine.Problem) []*flowhookv1.Problem {
	out := make([]*flowhookv1.Problem, len(ps))
	for i, p := range ps {
		out[i] = &flowhookv1.Problem{Path: p.Path, Message: p.Message}
	}
	return out
}

func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// filterTime is a list filter's time bound, the zero time when it is unset (nil): the engine
// and the store read the zero time as no bound. A bound at the zero time itself
// (0001-01-01T00:00:00Z, the earliest a Timestamp holds) is refused rather than read so: as an
// upper bound (until, created_before, overdue_before) it would list every row instead of none.
func filterTime(ps *engine.Problems, path string, t *timestamppb.Timestamp) time.Time {
	switch {
	case t == nil:
	case t.CheckValid() != nil:
		ps.Add(path, "is not a valid timestamp")
	case t.AsTime().IsZero():
		ps.Add(path, "must be after 0001-01-01T00:00:00Z; leave it unset for no bound")
	default:
		return t.AsTime()
	}
	return time.Time{}
}

// optionalTimestamp is timestamp for a time that may be unset (nil).
func optionalTimestamp(t *time.Time) *timestamppb.Timestamp {
	if t == nil {
		return nil
	}
	return timestamp(*t)
}

// canonicalID is an id in the one form the server stores and compares ids in (lowercase, with
// hyphens) when it is a UUID in any form uuid.Parse reads (uppercase, braces, "urn:uuid:", no
// hyphens); anything else as given, for validation to name. Ids are matched as strings where
// they are kept in documents (a version's assignees, an instance's) and where a repeated
// request is compared, so one user written two ways must not become two.
func canonicalID(id string) string {
	if id == "" {
		return id
	}
	u, err := uuid.Parse(id)
	if err != nil {
		return id
	}
	return u.String()
}
