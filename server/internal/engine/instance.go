package engine

import (
	"encoding/json"
	"time"
)

// InstanceStatus is where an instance is in its life.
type InstanceStatus int

const (
	StatusUnspecified     InstanceStatus = iota
	StatusActive                         // in a HUMAN state, waiting for its assignee
	StatusWaitingExternal                // in an EXTERNAL state, waiting for the outside system
	StatusCompleted                      // reached an END state
	StatusCancelled
	StatusFailed
)

var statusNames = []string{"", "ACTIVE", "WAITING_EXTERNAL", "COMPLETED", "CANCELLED", "FAILED"}

func (s InstanceStatus) String() string { return enumName(statusNames, int(s)) }
func (s InstanceStatus) Valid() bool    { return s > 0 && int(s) < len(statusNames) }

// Open reports whether the instance can still move.
func (s InstanceStatus) Open() bool { return s == StatusActive || s == StatusWaitingExternal }

// ParseStatus reads a status name as stored.
func ParseStatus(name string) (InstanceStatus, error) {
	var v int
	err := parseEnum(statusNames, []byte(name), &v)
	return InstanceStatus(v), err
}

// Instance is one run of a published workflow version.
type Instance struct {
	ID           string
	WorkflowID   string
	Version      int32
	WorkflowName string
	StateKey     string
	Status       InstanceStatus
	FormData     map[string]any
	Revision     int64
	StartedBy    string
	RequestID    string
	// RequestFingerprint is a hash of what the start request asked for (StartFingerprint):
	// a request id used again with other input is refused. Empty on instances started before
	// it was kept.
	RequestFingerprint string
	Assignee           *Assignee // set only while ACTIVE in a HUMAN state
	System             System    // of the EXTERNAL state it waits (or waited) in
	// ExternalID is the id of the current (or last) external step's work item, as its
	// coupling wrote it. A write of the instance leaves it as it is (a move or a cancel that
	// read the instance before the coupling committed would otherwise take it back), except
	// one that says ResetExternalID.
	ExternalID string
	// ResetExternalID: this write starts an external step (or runs a failed one again), whose
	// coupling fills ExternalID anew: the stored id is cleared. Not stored.
	ResetExternalID bool
	Reason          string
	CreatedAt       time.Time
	UpdatedAt       time.Time
	EndedAt         *time.Time
	// Deadline is when the current state's timeout passes (nil: it has none, or the instance
	// left it). The state's timer fires only while the instance is open at this deadline.
	Deadline *time.Time
	// WorkItem is the newest work item, when read with it (GetInstance).
	WorkItem *WorkItem
	// FormDataErasedAt and DocumentsErasedAt say when retention erased the form data (FormData
	// is then empty) and the signed documents of the finished instance.
	FormDataErasedAt  *time.Time
	DocumentsErasedAt *time.Time
}

// ActivityKind names an entry of the timeline.
type ActivityKind int

const (
	ActivityUnspecified ActivityKind = iota
	ActivityStarted
	ActivityTransition
	ActivityAssigned
	ActivityWaitingExternal
	ActivityCompleted
	ActivityCancelled
	ActivityFailed
	ActivityExternalProgress
	ActivityOutcome
	ActivityRetried     // an admin ran the failed step again (RetryInstance)
	ActivityDeadlineSet // the state entered has a timeout (its deadline)
	ActivityTimedOut    // the state's timeout passed and its timer took the instance on
	ActivityReassigned  // an admin moved the HUMAN work (ReassignInstance)
	ActivityErased      // retention erased form data or documents
)

var activityKindNames = []string{"", "STARTED", "TRANSITION", "ASSIGNED", "WAITING_EXTERNAL", "COMPLETED",
	"CANCELLED", "FAILED", "EXTERNAL_PROGRESS", "OUTCOME", "RETRIED", "DEADLINE_SET", "TIMED_OUT", "REASSIGNED", "ERASED"}

func (k ActivityKind) String() string { return enumName(activityKindNames, int(k)) }

// ParseActivityKind reads a kind name as stored.
func ParseActivityKind(name string) (ActivityKind, error) {
	var v int
	err := parseEnum(activityKindNames, []byte(name), &v)
	return ActivityKind(v), err
}

// FieldChange is a form field's value before and after (nil: no value).
type FieldChange struct {
	Name string `json:"name"`
	Old  any    `json:"old,omitempty"`
	New  any    `json:"new,omitempty"`
}

// Activity is one entry of an instance's timeline.
type Activity struct {
	ID            string
	InstanceID    string
	Seq           int64
	Kind          ActivityKind
	ActorID       string
	FromState     string
	ToState       string
	TransitionKey string
	Changes       []FieldChange
	Assignee      *Assignee
	// Deadline: DEADLINE_SET and TIMED_OUT entries' deadline.
	Deadline  *time.Time
	Message   string
	CreatedAt time.Time
}

// ActivityDetails is the stored JSON form of an activity's structured details.
type ActivityDetails struct {
	Changes  []FieldChange `json:"changes,omitempty"`
	Assignee *Assignee     `json:"assignee,omitempty"`
	Deadline *time.Time    `json:"deadline,omitempty"`
}

// MarshalDetails returns the stored form of an activity's details (nil when it has none).
func (a Activity) MarshalDetails() (json.RawMessage, error) {
	if len(a.Changes) == 0 && a.Assignee == nil && a.Deadline == nil {
		return nil, nil
	}
	return json.Marshal(ActivityDetails{Changes: a.Changes, Assignee: a.Assignee, Deadline: a.Deadline})
}

// InstanceFilter narrows ListInstances (Workflow Manage). Zero values match everything.
type InstanceFilter struct {
	WorkflowID string
	Version    int32
	StateKey   string
	Status     InstanceStatus
	// Provider matches every system of the provider; with Connector, that connector's only.
	Provider      Provider
	Connector     string
	ExternalID    string
	StartedBy     string
	CreatedAfter  time.Time // inclusive
	CreatedBefore time.Time // exclusive
	// OverdueBefore keeps open instances whose deadline is before it.
	OverdueBefore time.Time
	// AssigneeInactive: only ACTIVE instances assigned personally to a deactivated user, for
	// an admin to reassign.
	AssigneeInactive bool
}
