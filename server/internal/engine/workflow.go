package engine

import (
	"encoding/json"
	"fmt"
	"time"
)

// StateKind says who moves an instance out of a state.
type StateKind int

const (
	StateKindUnspecified StateKind = iota
	StateKindStart
	StateKindHuman
	StateKindExternal
	StateKindEnd
)

var stateKindNames = []string{"", "START", "HUMAN", "EXTERNAL", "END"}

// FieldType is the type of a form field's value.
type FieldType int

const (
	FieldTypeUnspecified FieldType = iota
	FieldTypeString
	FieldTypeNumber
	FieldTypeBool
	FieldTypeDate
	FieldTypeEmail
)

var fieldTypeNames = []string{"", "STRING", "NUMBER", "BOOL", "DATE", "EMAIL"}

// Outcome is what an outside system reports for a work item.
type Outcome int

const (
	OutcomeUnspecified Outcome = iota
	OutcomeApproved
	OutcomeDenied
	OutcomeFinished
	OutcomeDeleted
	OutcomeExpired
)

var outcomeNames = []string{"", "APPROVED", "DENIED", "FINISHED", "DELETED", "EXPIRED"}

// ActionKind is something the platform does when a transition is taken, as its provider
// names it ("DOCUSIGN_CREATE_ENVELOPE"): the API's ActionKind enum after its ACTION_KIND_
// prefix.
type ActionKind string

func (k StateKind) String() string { return enumName(stateKindNames, int(k)) }
func (t FieldType) String() string { return enumName(fieldTypeNames, int(t)) }
func (o Outcome) String() string   { return enumName(outcomeNames, int(o)) }

// Valid reports whether k is one of the declared kinds (not unspecified).
func (k StateKind) Valid() bool { return k > 0 && int(k) < len(stateKindNames) }
func (t FieldType) Valid() bool { return t > 0 && int(t) < len(fieldTypeNames) }
func (o Outcome) Valid() bool   { return o > 0 && int(o) < len(outcomeNames) }

// The enums persist as their names, so that stored definitions survive a renumbering and read
// well in the database.
func (k StateKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }
func (t FieldType) MarshalText() ([]byte, error) { return []byte(t.String()), nil }
func (o Outcome) MarshalText() ([]byte, error)   { return []byte(o.String()), nil }

func (k *StateKind) UnmarshalText(b []byte) error { return parseEnum(stateKindNames, b, (*int)(k)) }
func (t *FieldType) UnmarshalText(b []byte) error { return parseEnum(fieldTypeNames, b, (*int)(t)) }
func (o *Outcome) UnmarshalText(b []byte) error   { return parseEnum(outcomeNames, b, (*int)(o)) }

func enumName(names []string, v int) string {
	if v == 0 {
		return "UNSPECIFIED"
	}
	if v > 0 && v < len(names) {
		return names[v]
	}
	return fmt.Sprintf("UNKNOWN(%d)", v)
}

func parseEnum(names []string, b []byte, dst *int) error {
	s := string(b)
	if s == "" || s == "UNSPECIFIED" {
		*dst = 0
		return nil
	}
	for i, n := range names {
		if i > 0 && n == s {
			*dst = i
			return nil
		}
	}
	return fmt.Errorf("unknown value %q", s)
}

// FormField is one input of a form.
type FormField struct {
	Name     string    `json:"name"`
	Label    string    `json:"label,omitempty"`
	Type     FieldType `json:"type"`
	Required bool      `json:"required,omitempty"`
}

// Assignee is who acts on a HUMAN state: a user or a group, never both.
type Assignee struct {
	UserID  string `json:"userId,omitempty"`
	GroupID string `json:"groupId,omitempty"`
}

// Signer binds a signer of the provider's document to start-form fields.
type Signer struct {
	NameField  string `json:"nameField"`
	EmailField string `json:"emailField"`
}

// ExternalStep is what an EXTERNAL state asks of its provider.
type ExternalStep struct {
	Provider Provider `json:"provider"`
	// Connector names the connector, for a provider with connectors.
	Connector string `json:"connector,omitempty"`
	// IncludeDocument sends the PDF rendered from the start form with the work item (a
	// signature provider always sends it).
	IncludeDocument  bool               `json:"includeDocument,omitempty"`
	EmailSubject     string             `json:"emailSubject,omitempty"`
	DocumentTitle    string             `json:"documentTitle,omitempty"`
	Signers          []Signer           `json:"signers,omitempty"`
	OutcomeOverrides map[string]Outcome `json:"outcomeOverrides,omitempty"`
}

// State is a node of a workflow.
type State struct {
	Key        string        `json:"key"`
	Name       string        `json:"name,omitempty"`
	Kind       StateKind     `json:"kind"`
	FormFields []FormField   `json:"formFields,omitempty"`
	Assignee   *Assignee     `json:"assignee,omitempty"`
	External   *ExternalStep `json:"external,omitempty"`
	Timeout    time.Duration `json:"timeout,omitempty"`
}

// Action is something the platform does when a transition is taken.
type Action struct {
	Kind ActionKind `json:"kind"`
}

// Transition is an edge of a workflow.
type Transition struct {
	Key       string  `json:"key"`
	Name      string  `json:"name,omitempty"`
	From      string  `json:"from"`
	To        string  `json:"to"`
	OnOutcome Outcome `json:"onOutcome,omitempty"`
	// OnTimeout marks the one transition out of a HUMAN state with a timeout that the state's
	// timer takes when the timeout passes.
	OnTimeout bool     `json:"onTimeout,omitempty"`
	Actions   []Action `json:"actions,omitempty"`
}

// Draft is the editable definition of a workflow.
type Draft struct {
	Name        string       `json:"name"`
	Description string       `json:"description,omitempty"`
	States      []State      `json:"states"`
	Transitions []Transition `json:"transitions"`
}

// Workflow is a draft with its identity and history.
type Workflow struct {
	ID            string
	Revision      int64
	Draft         Draft
	LatestVersion int32
	CreatedAt     time.Time
	UpdatedAt     time.Time
	// ArchivedAt is set while the workflow is archived: it starts no new instances.
	ArchivedAt *time.Time
}

// Version is a published, immutable snapshot of a draft. Its transitions carry their actions.
type Version struct {
	WorkflowID  string
	Version     int32
	Revision    int64 // the draft revision it was published from
	Definition  Draft
	PublishedAt time.Time
	// WorkflowArchived tells whether the workflow was archived when the version was read. It
	// is not part of the snapshot; it spares Start a second read to refuse an archived
	// workflow.
	WorkflowArchived bool
}

// State returns the state with the key, if any.
func (d *Draft) State(key string) (State, bool) {
	for _, s := range d.States {
		if s.Key == key {
			return s, true
		}
	}
	return State{}, false
}

// MarshalDefinition and UnmarshalDefinition give the stable JSON form a draft is stored in.
func MarshalDefinition(d Draft) ([]byte, error) { return json.Marshal(d) }

func UnmarshalDefinition(b []byte) (Draft, error) {
	var d Draft
	err := json.Unmarshal(b, &d)
	return d, err
}

// WithActions returns a copy of the draft whose transitions carry the actions the platform
// derives from their target: entering an EXTERNAL state creates the work item at its
// provider. Actions given by a caller are discarded: they are output only.
func WithActions(d Draft, providers Catalog) Draft {
	kinds := make(map[string]ActionKind, len(d.States))
	for i := range d.States {
		if s := d.States[i]; s.Kind == StateKindExternal && s.External != nil {
			if spec, ok := providers.Spec(s.External.Provider); ok {
				kinds[s.Key] = spec.Action
			}
		}
	}
	out := d
	out.Transitions = make([]Transition, len(d.Transitions))
	for i, t := range d.Transitions {
		t.Actions = nil
		if k := kinds[t.To]; k != "" {
			t.Actions = []Action{{Kind: k}}
		}
		out.Transitions[i] = t
	}
	return out
}
