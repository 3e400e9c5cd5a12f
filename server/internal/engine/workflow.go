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

// Provider is an outside system that actions EXTERNAL states.
type Provider int

const (
	ProviderUnspecified Provider = iota
	ProviderDocuSign
	ProviderOneSpan
)

var providerNames = []string{"", "DOCUSIGN", "ONESPAN"}

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

// ActionKind is something the platform does when a transition is taken.
type ActionKind int

const (
	ActionKindUnspecified ActionKind = iota
	ActionKindDocuSignCreateEnvelope
	ActionKindOneSpanCreatePackage
)

var actionKindNames = []string{"", "DOCUSIGN_CREATE_ENVELOPE", "ONESPAN_CREATE_PACKAGE"}

func (k StateKind) String() string  { return enumName(stateKindNames, int(k)) }
func (t FieldType) String() string  { return enumName(fieldTypeNames, int(t)) }
func (p Provider) String() string   { return enumName(providerNames, int(p)) }
func (o Outcome) String() string    { return enumName(outcomeNames, int(o)) }
func (a ActionKind) String() string { return enumName(actionKindNames, int(a)) }

// Valid reports whether k is one of the declared kinds (not unspecified).
func (k StateKind) Valid() bool  { return k > 0 && int(k) < len(stateKindNames) }
func (t FieldType) Valid() bool  { return t > 0 && int(t) < len(fieldTypeNames) }
func (p Provider) Valid() bool   { return p > 0 && int(p) < len(providerNames) }
func (o Outcome) Valid() bool    { return o > 0 && int(o) < len(outcomeNames) }
func (a ActionKind) Valid() bool { return a > 0 && int(a) < len(actionKindNames) }

// The enums persist as their names, so that stored definitions survive a renumbering and read
// well in the database.
func (k StateKind) MarshalText() ([]byte, error)  { return []byte(k.String()), nil }
func (t FieldType) MarshalText() ([]byte, error)  { return []byte(t.String()), nil }
func (p Provider) MarshalText() ([]byte, error)   { return []byte(p.String()), nil }
func (o Outcome) MarshalText() ([]byte, error)    { return []byte(o.String()), nil }
func (a ActionKind) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

func (k *StateKind) UnmarshalText(b []byte) error  { return parseEnum(stateKindNames, b, (*int)(k)) }
func (t *FieldType) UnmarshalText(b []byte) error  { return parseEnum(fieldTypeNames, b, (*int)(t)) }
func (p *Provider) UnmarshalText(b []byte) error   { return parseEnum(providerNames, b, (*int)(p)) }
func (o *Outcome) UnmarshalText(b []byte) error    { return parseEnum(outcomeNames, b, (*int)(o)) }
func (a *ActionKind) UnmarshalText(b []byte) error { return parseEnum(actionKindNames, b, (*int)(a)) }

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
	Provider         Provider           `json:"provider"`
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
	Key       string   `json:"key"`
	Name      string   `json:"name,omitempty"`
	From      string   `json:"from"`
	To        string   `json:"to"`
	OnOutcome Outcome  `json:"onOutcome,omitempty"`
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
}

// Version is a published, immutable snapshot of a draft. Its transitions carry their actions.
type Version struct {
	WorkflowID  string
	Version     int32
	Revision    int64 // the draft revision it was published from
	Definition  Draft
	PublishedAt time.Time
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
// derives from their target: entering an EXTERNAL state creates the provider's work item.
// Actions given by a caller are discarded: they are output only.
func WithActions(d Draft) Draft {
	kinds := make(map[string]*ExternalStep, len(d.States))
	for i := range d.States {
		if d.States[i].Kind == StateKindExternal {
			kinds[d.States[i].Key] = d.States[i].External
		}
	}
	out := d
	out.Transitions = make([]Transition, len(d.Transitions))
	for i, t := range d.Transitions {
		t.Actions = nil
		if ext, ok := kinds[t.To]; ok && ext != nil {
			switch ext.Provider {
			case ProviderDocuSign:
				t.Actions = []Action{{Kind: ActionKindDocuSignCreateEnvelope}}
			case ProviderOneSpan:
				t.Actions = []Action{{Kind: ActionKindOneSpanCreatePackage}}
			}
		}
		out.Transitions[i] = t
	}
	return out
}
