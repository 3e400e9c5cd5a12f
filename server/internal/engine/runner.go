package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// InstanceStore is the persistence port of instances and their timelines.
type InstanceStore interface {
	// CreateInstance saves a new instance with its first activities and effects. When the
	// starter already used the request id it returns ErrDuplicateRequest and saves nothing.
	CreateInstance(ctx context.Context, in Instance, acts []Activity, eff Effects) (Instance, error)
	// InstanceByRequest returns the instance a starter started with a request id.
	InstanceByRequest(ctx context.Context, startedBy, requestID string) (Instance, error)
	GetInstance(ctx context.Context, id string) (Instance, error)
	// InstanceWithWorkItem is GetInstance with the newest work item (Instance.WorkItem) of an
	// instance coupled to a system, nil when it has none, read together.
	InstanceWithWorkItem(ctx context.Context, id string) (Instance, error)
	// UpdateInstance saves in (its revision increased by one), appends the activities and
	// commits the effects, when the stored revision is still expectedRevision; ErrConflict
	// otherwise.
	UpdateInstance(ctx context.Context, in Instance, expectedRevision int64, acts []Activity, eff Effects) (Instance, error)
	// CurrentWorkItem returns the newest work item of an instance (ErrNotFound when none).
	CurrentWorkItem(ctx context.Context, instanceID string) (WorkItem, error)
	// LatestSignedDocument returns the newest signed document of an instance.
	LatestSignedDocument(ctx context.Context, instanceID string) (SignedDocument, error)
	ListInstances(ctx context.Context, f InstanceFilter, p Page) ([]Instance, string, Total, error)
	// ListAssigned returns the ACTIVE instances assigned to the user or one of the groups,
	// oldest first.
	ListAssigned(ctx context.Context, userID string, groupIDs []string, p Page) ([]Instance, string, error)
	ListActivity(ctx context.Context, instanceID string, p Page) ([]Activity, string, error)
	// TookPart reports whether the user acted on the instance, or it was ever assigned to the
	// user or one of the groups.
	TookPart(ctx context.Context, instanceID, userID string, groupIDs []string) (bool, error)
}

// ErrDuplicateRequest: a StartInstance request id was used already.
var ErrDuplicateRequest = errors.New("duplicate request")

// Runner runs instances: start, transitions, cancellation, and what users may see of them.
type Runner struct {
	instances InstanceStore
	versions  Store
	clock     Clock
	cache     immutableCache[Draft]
	// pins remembers the versions of instances recently started into an EXTERNAL state or
	// read, so that their progress events need no read of the instance (External.decide).
	pins immutableCache[versionPin]
	// Directory tells who may be given work by Reassign (see reassign.go); set after NewRunner.
	Directory Directory
	// Providers tells which EXTERNAL steps send their signers something to sign, whose name
	// and email a start or a transition into them must carry (signersFilled); set after
	// NewRunner (nil: not checked, the creation fails instead).
	Providers Catalog
}

// NewRunner returns the instance side of the engine.
func NewRunner(instances InstanceStore, versions Store, clock Clock) *Runner {
	r := &Runner{instances: instances, versions: versions, clock: clock}
	r.pins.limit = 10_000
	return r
}

// StartInput is what starting an instance takes.
type StartInput struct {
	WorkflowID    string
	Version       int32 // 0: latest
	FormData      map[string]any
	TransitionKey string
	RequestID     string
}

const maxRequestIDLen = 128

// Start starts an instance on a published version and takes the transition out of START.
func (r *Runner) Start(ctx context.Context, p Principal, in StartInput) (Instance, error) {
	if len(in.RequestID) > maxRequestIDLen {
		return Instance{}, Invalid(Problem{Path: "request_id", Message: fmt.Sprintf("must be at most %d characters", maxRequestIDLen)})
	}
	if in.Version < 0 {
		return Instance{}, Invalid(Problem{Path: "version", Message: "must not be negative (0 means the latest)"})
	}
	// A request id used before is found by the insert (the unique request id), not by a read
	// first: the first request costs one round trip less. A repeat that cannot be started
	// now (the workflow archived since, another version's form) still gets its instance.
	v, start, t, data, err := r.startingPoint(ctx, in)
	if err != nil {
		if in.RequestID != "" {
			if existing, gerr := r.instances.InstanceByRequest(ctx, p.UserID, in.RequestID); gerr == nil {
				return r.sameRequest(ctx, existing, in)
			}
		}
		return Instance{}, err
	}
	def := v.Definition

	now := r.clock.Now()
	inst := Instance{
		ID:           NewIDAt(now),
		WorkflowID:   v.WorkflowID,
		Version:      v.Version,
		WorkflowName: def.Name,
		StateKey:     start.Key,
		FormData:     data,
		Revision:     1,
		StartedBy:    p.UserID,
		RequestID:    in.RequestID,
		CreatedAt:    now,
		UpdatedAt:    now,
	}
	if in.RequestID != "" {
		inst.RequestFingerprint = StartFingerprint(in, data)
	}
	acts := []Activity{{Kind: ActivityStarted, ActorID: p.UserID, ToState: start.Key, Changes: diffForm(nil, data), CreatedAt: now,
		Message: fmt.Sprintf("started %q version %d", def.Name, v.Version)}}
	moved, eff := r.move(ctx, &inst, def, t, p.UserID, nil)
	acts = append(acts, moved...)
	created, err := r.instances.CreateInstance(ctx, inst, acts, eff)
	if errors.Is(err, ErrDuplicateRequest) {
		existing, gerr := r.instances.InstanceByRequest(ctx, p.UserID, in.RequestID)
		if gerr != nil {
			return Instance{}, gerr
		}
		return r.sameRequest(ctx, existing, in)
	}
	if err == nil && len(eff.NewWorkItems) > 0 {
		// Its provider's first notifications may come before the creation's coupling does.
		r.pin(created)
	}
	return created, err
}

// pin remembers the version an instance runs.
func (r *Runner) pin(in Instance) {
	r.pins.put(in.ID, versionPin{workflowID: in.WorkflowID, version: in.Version})
}

// startingPoint reads the version a start runs (the latest when in.Version is 0), refusing an
// archived workflow, and validates the start: its START state, the form data and the
// transition out of START.
func (r *Runner) startingPoint(ctx context.Context, in StartInput) (Version, State, Transition, map[string]any, error) {
	// Which version, and whether the workflow is archived, are read on every start; the
	// definition, immutable, comes from the cache.
	v, err := r.versions.VersionHead(ctx, in.WorkflowID, in.Version)
	if errors.Is(err, ErrNotFound) && in.Version == 0 {
		// Either no such workflow (NotFound stands) or one that was never published.
		if wf, gerr := r.versions.GetWorkflow(ctx, in.WorkflowID); gerr == nil && wf.LatestVersion == 0 {
			return Version{}, State{}, Transition{}, nil, fmt.Errorf("%w: the workflow has no published version to start", ErrFailedPrecondition)
		}
	}
	if err != nil {
		return Version{}, State{}, Transition{}, nil, err
	}
	if v.WorkflowArchived {
		return Version{}, State{}, Transition{}, nil, errArchived(in.WorkflowID)
	}
	if v.Definition, err = r.definition(ctx, v.WorkflowID, v.Version); err != nil {
		return Version{}, State{}, Transition{}, nil, err
	}
	var start State
	for _, s := range v.Definition.States {
		if s.Kind == StateKindStart {
			start = s
		}
	}
	data, ps := ValidateForm("form_data", start.FormFields, in.FormData)
	t, tps := pickTransition(v.Definition, start, in.TransitionKey)
	ps = append(ps, tps...)
	if len(ps) == 0 {
		ps = r.signersFilled(v.Definition, t, data)
	}
	if err := ps.Err(); err != nil {
		return Version{}, State{}, Transition{}, nil, err
	}
	return v, start, t, data, nil
}

// signersFilled checks that an instance entering a signature step by t carries each signer's
// name and email (the form fields the step names, which the form may leave optional). Without
// them the work item cannot be created, for good: the instance would be FAILED, and a retry
// would read the same form data. Refused here, the caller can give them.
func (r *Runner) signersFilled(def Draft, t Transition, data map[string]any) Problems {
	if r.Providers == nil {
		return nil
	}
	to, ok := def.State(t.To)
	if !ok || to.Kind != StateKindExternal || to.External == nil {
		return nil
	}
	if spec, ok := r.Providers.Spec(to.External.Provider); !ok || !spec.Signers {
		return nil // a connector's parties are optional
	}
	var ps Problems
	named := map[string]bool{}
	for i, s := range to.External.Signers {
		for _, f := range []string{s.NameField, s.EmailField} {
			if v, _ := data[f].(string); strings.TrimSpace(v) == "" && !named[f] {
				named[f] = true
				ps.Add("form_data."+f, "is required: signer %d of %q signs with it", i+1, to.Key)
			}
		}
	}
	return ps
}

// sameRequest answers a repeated request id with the instance it started when the request
// asks for the same thing, as Stripe answers a reused idempotency key; a request id used
// again with other input is ErrAlreadyExists. What is compared is the fingerprint of the first
// request (its form data as validated then: the instance's own form data changes as HUMAN
// states fill it in). Instances started before fingerprints were kept have none: only their
// workflow is compared.
func (r *Runner) sameRequest(ctx context.Context, existing Instance, in StartInput) (Instance, error) {
	if existing.WorkflowID != in.WorkflowID {
		return Instance{}, reusedRequest(existing, "another workflow")
	}
	if existing.RequestFingerprint == "" {
		return existing, nil
	}
	// The repeat's form is validated against the version the first request started, so that
	// "latest" still means what it meant then.
	def, err := r.definition(ctx, existing.WorkflowID, existing.Version)
	if err != nil {
		return Instance{}, err
	}
	var start State
	for _, s := range def.States {
		if s.Kind == StateKindStart {
			start = s
		}
	}
	data, ps := ValidateForm("form_data", start.FormFields, in.FormData)
	if len(ps) > 0 || StartFingerprint(in, data) != existing.RequestFingerprint {
		return Instance{}, reusedRequest(existing, "other input")
	}
	return existing, nil
}

func reusedRequest(existing Instance, what string) error {
	return fmt.Errorf("%w: request_id %q was already used to start instance %s with %s; use a new request id for a new request",
		ErrAlreadyExists, truncateText(existing.RequestID, maxRequestIDLen), existing.ID, what)
}

// StartFingerprint is the canonical hash of what a start request asks for: the workflow, the
// version as requested (0 for the latest), the transition key as requested, and the form data
// as validated (data). encoding/json writes map keys sorted, so equal requests hash equal.
func StartFingerprint(in StartInput, data map[string]any) string {
	b, err := json.Marshal(struct {
		WorkflowID    string         `json:"w"`
		Version       int32          `json:"v"`
		TransitionKey string         `json:"t"`
		FormData      map[string]any `json:"f"`
	}{in.WorkflowID, in.Version, in.TransitionKey, data})
	if err != nil {
		// Validated form data is strings, finite numbers and booleans: it always marshals.
		b = fmt.Appendf(nil, "%#v", data)
	}
	sum := sha256.Sum256(b)
	return "v1:" + hex.EncodeToString(sum[:])
}

func pickTransition(def Draft, from State, key string) (Transition, Problems) {
	var ps Problems
	var out []string
	for _, t := range def.Transitions {
		if t.From != from.Key {
			continue
		}
		if key != "" && t.Key == key {
			return t, nil
		}
		out = append(out, t.Key)
	}
	switch {
	case key == "" && len(out) == 1:
		for _, t := range def.Transitions {
			if t.Key == out[0] {
				return t, nil
			}
		}
	case key == "":
		ps.Add("transition_key", "is required: state %q has %d ways out (%s)", from.Key, len(out), strings.Join(out, ", "))
	default:
		ps.Add("transition_key", "state %q has no transition %q; its ways out are: %s", from.Key, truncateText(key, MaxKeyLen), strings.Join(out, ", "))
	}
	return Transition{}, ps
}

// move takes transition t: the instance enters t's target, and the activities say so. Entering
// an EXTERNAL state creates its work item and the job that creates it at the provider.
// inst.Revision must be the revision the instance will have once saved.
func (r *Runner) move(ctx context.Context, inst *Instance, def Draft, t Transition, actor string, changes []FieldChange) (acts []Activity, eff Effects) {
	now := r.clock.Now()
	to, _ := def.State(t.To)
	acts = []Activity{{Kind: ActivityTransition, ActorID: actor, FromState: inst.StateKey, ToState: to.Key,
		TransitionKey: t.Key, Changes: changes, CreatedAt: now,
		Message: fmt.Sprintf("took %q from %q to %q", t.Key, inst.StateKey, to.Key)}}
	inst.StateKey = to.Key
	inst.Assignee = nil
	inst.Deadline = nil
	inst.UpdatedAt = now
	defer func() { acts, eff = r.startTimer(inst, to, now, acts, eff) }()
	switch to.Kind {
	case StateKindHuman:
		inst.Status = StatusActive
		a := *to.Assignee
		inst.Assignee = &a
		acts = append(acts, Activity{Kind: ActivityAssigned, ToState: to.Key, Assignee: &a, CreatedAt: now,
			Message: fmt.Sprintf("waiting in %q for its assignee", to.Key)})
	case StateKindExternal:
		inst.Status = StatusWaitingExternal
		inst.System = SystemOf(to.External)
		inst.ExternalID, inst.ResetExternalID = "", true
		wi := WorkItem{
			ID:              NewIDAt(now),
			InstanceID:      inst.ID,
			StateKey:        to.Key,
			EnteredRevision: inst.Revision,
			System:          SystemOf(to.External),
			Status:          WorkItemCreating,
			Traceparent:     Traceparent(ctx),
			CreatedAt:       now,
			UpdatedAt:       now,
			Revision:        1,
		}
		eff.NewWorkItems = append(eff.NewWorkItems, wi)
		eff.Jobs = append(eff.Jobs, CreateWorkItemJob{WorkItemID: wi.ID})
		acts = append(acts, Activity{Kind: ActivityWaitingExternal, ToState: to.Key, CreatedAt: now,
			Message: fmt.Sprintf("waiting in %q for %s", to.Key, SystemOf(to.External))})
	case StateKindEnd:
		inst.Status = StatusCompleted
		inst.EndedAt = &now
		acts = append(acts, Activity{Kind: ActivityCompleted, ToState: to.Key, CreatedAt: now,
			Message: fmt.Sprintf("completed in %q", to.Key)})
	}
	return acts, eff
}

// TakeInput is what taking a transition out of a HUMAN state takes.
type TakeInput struct {
	InstanceID       string
	TransitionKey    string
	FormData         map[string]any
	ExpectedRevision int64 // 0: no check beyond the revision read
}

// Take takes a transition out of the instance's HUMAN state, for an assignee or an admin.
func (r *Runner) Take(ctx context.Context, p Principal, in TakeInput) (Instance, error) {
	inst, err := r.instances.GetInstance(ctx, in.InstanceID)
	if err != nil {
		return Instance{}, err
	}
	if err := r.canSee(ctx, p, inst); err != nil {
		return Instance{}, err
	}
	if in.ExpectedRevision > 0 && in.ExpectedRevision != inst.Revision {
		return Instance{}, fmt.Errorf("%w: the instance is at revision %d, not %d", ErrConflict, inst.Revision, in.ExpectedRevision)
	}
	if inst.Status != StatusActive {
		return Instance{}, fmt.Errorf("%w: the instance is %s in %q; there is no transition to take", ErrFailedPrecondition, inst.Status, inst.StateKey)
	}
	def, err := r.definition(ctx, inst.WorkflowID, inst.Version)
	if err != nil {
		return Instance{}, err
	}
	state, _ := def.State(inst.StateKey)
	// A transition key names one transition of the workflow. One out of another state (often:
	// the caller read the instance before someone else moved it, and sent no expected_revision)
	// is answered as that, the state's ways out named, before the assignee and the form are
	// checked against a state the caller did not mean.
	if i := slices.IndexFunc(def.Transitions, func(t Transition) bool { return t.Key == in.TransitionKey }); i >= 0 &&
		def.Transitions[i].From != inst.StateKey {
		_, tps := pickTransition(def, state, in.TransitionKey)
		return Instance{}, tps.Err()
	}
	if !p.IsAdmin() && !isAssignee(p, inst.Assignee) {
		return Instance{}, fmt.Errorf("%w: %q is assigned to someone else", ErrPermissionDenied, inst.StateKey)
	}
	data, ps := ValidateForm("form_data", state.FormFields, in.FormData)
	t, tps := pickTransition(def, state, in.TransitionKey)
	if in.TransitionKey == "" && len(tps) > 0 {
		tps = Problems{{Path: "transition_key", Message: "is required"}}
	}
	ps = append(ps, tps...)
	if err := ps.Err(); err != nil {
		return Instance{}, err
	}
	read := inst.Revision
	changes := diffForm(inst.FormData, data)
	merged := maps.Clone(inst.FormData)
	if merged == nil {
		merged = map[string]any{}
	}
	maps.Copy(merged, data)
	if err := r.signersFilled(def, t, merged).Err(); err != nil {
		return Instance{}, err
	}
	inst.FormData = merged
	inst.Revision = read + 1
	acts, eff := r.move(ctx, &inst, def, t, p.UserID, changes)
	return r.instances.UpdateInstance(ctx, inst, read, acts, eff)
}

// Cancel cancels an open or FAILED instance, for an admin or its starter. A FAILED instance's
// failed work item is handed to its creation once more, as an abandoned one: an attempt that
// reached the system before failing may have made the item, which is then found by our id and
// voided; otherwise the item is closed.
func (r *Runner) Cancel(ctx context.Context, p Principal, id, reason string) (Instance, error) {
	var ps Problems
	checkProse(&ps, "reason", reason, MaxDescriptionLen, true)
	if err := ps.Err(); err != nil {
		return Instance{}, err
	}
	inst, err := r.instances.GetInstance(ctx, id)
	if err != nil {
		return Instance{}, err
	}
	if err := r.canSee(ctx, p, inst); err != nil {
		return Instance{}, err
	}
	if !p.IsAdmin() && inst.StartedBy != p.UserID {
		return Instance{}, fmt.Errorf("%w: only an admin or the user who started it cancels an instance", ErrPermissionDenied)
	}
	if !inst.Status.Open() && inst.Status != StatusFailed {
		return Instance{}, fmt.Errorf("%w: the instance is %s already", ErrFailedPrecondition, inst.Status)
	}
	now := r.clock.Now()
	read := inst.Revision
	waiting, failed := inst.Status == StatusWaitingExternal, inst.Status == StatusFailed
	inst.Status = StatusCancelled
	inst.Assignee = nil
	inst.Deadline = nil
	inst.Reason = reason
	inst.EndedAt = &now
	inst.UpdatedAt = now
	acts := []Activity{{Kind: ActivityCancelled, ActorID: p.UserID, FromState: inst.StateKey, Message: reason, CreatedAt: now}}
	var eff Effects
	if waiting {
		// A work item still open at its provider is voided there, in the background.
		if wi, err := r.instances.CurrentWorkItem(ctx, inst.ID); err == nil && wi.Status.Open() {
			eff.Jobs = append(eff.Jobs, CancelWorkItemJob{WorkItemID: wi.ID, Reason: reason})
		} else if err != nil && !errors.Is(err, ErrNotFound) {
			return Instance{}, err
		}
	}
	if failed {
		// Back to CREATING (conditionally on it still being FAILED, as a retry), its creation
		// marked retried: it finds the instance gone (movedOn) and abandons the item.
		if wi, err := r.instances.CurrentWorkItem(ctx, inst.ID); err == nil && wi.Status == WorkItemFailed && wi.StateKey == inst.StateKey {
			wi.Status, wi.Error, wi.UpdatedAt = WorkItemCreating, "", now
			eff.RetriedWorkItems = []WorkItem{wi}
			eff.Jobs = append(eff.Jobs, CreateWorkItemJob{WorkItemID: wi.ID, Retried: true})
		} else if err != nil && !errors.Is(err, ErrNotFound) {
			return Instance{}, err
		}
	}
	return r.instances.UpdateInstance(ctx, inst, read, acts, eff)
}

// Retry runs the step a FAILED instance failed in again, for an admin. An EXTERNAL state's
// work item failed to be created: in one change the instance waits in the state again (its
// reason and end cleared), the same work item goes back to CREATING, and its create job is
// enqueued marked as a retry, so that the job first looks at the provider for the item an
// earlier attempt made: a retry never makes a second envelope, package or ticket. Of two
// concurrent retries one wins; the other finds the instance no longer FAILED.
func (r *Runner) Retry(ctx context.Context, p Principal, id string) (Instance, error) {
	if !p.IsAdmin() {
		return Instance{}, fmt.Errorf("%w: only an admin retries an instance", ErrPermissionDenied)
	}
	inst, err := r.instances.GetInstance(ctx, id)
	if err != nil {
		return Instance{}, err
	}
	if inst.Status != StatusFailed {
		return Instance{}, notRetryable(inst)
	}
	wi, err := r.instances.CurrentWorkItem(ctx, inst.ID)
	if errors.Is(err, ErrNotFound) || (err == nil && (wi.Status != WorkItemFailed || wi.StateKey != inst.StateKey)) {
		// A concurrent retry may have reopened it since the instance was read.
		if cur, gerr := r.instances.GetInstance(ctx, id); gerr == nil && cur.Status != StatusFailed {
			return Instance{}, notRetryable(cur)
		}
		return Instance{}, fmt.Errorf("%w: the instance FAILED in %q without a failed step to run again", ErrFailedPrecondition, inst.StateKey)
	}
	if err != nil {
		return Instance{}, err
	}
	now := r.clock.Now()
	read := inst.Revision
	failure := inst.Reason
	inst.Status = StatusWaitingExternal
	inst.Reason = ""
	inst.EndedAt = nil
	inst.ExternalID, inst.ResetExternalID = "", true
	inst.UpdatedAt = now
	inst.Revision = read + 1
	wi.Status = WorkItemCreating
	wi.EnteredRevision = inst.Revision
	wi.Error = ""
	wi.UpdatedAt = now
	msg := fmt.Sprintf("retried: creating the %s work item again", wi.System)
	if failure != "" {
		msg += " (" + truncateText(failure, MaxDescriptionLen/2) + ")"
	}
	acts := []Activity{{Kind: ActivityRetried, ActorID: p.UserID, FromState: inst.StateKey, ToState: inst.StateKey,
		CreatedAt: now, Message: msg}}
	eff := Effects{RetriedWorkItems: []WorkItem{wi}, Jobs: []Job{CreateWorkItemJob{WorkItemID: wi.ID, Retried: true}}}
	// The step run again gets its whole timeout again: a timer that passed while the instance
	// was FAILED did nothing.
	inst.Deadline = nil
	if def, err := r.definition(ctx, inst.WorkflowID, inst.Version); err != nil {
		return Instance{}, err
	} else if state, ok := def.State(inst.StateKey); ok {
		acts, eff = r.startTimer(&inst, state, now, acts, eff)
	}
	out, err := r.instances.UpdateInstance(ctx, inst, read, acts, eff)
	if errors.Is(err, ErrConflict) {
		// A concurrent retry (or another change) won: say where the instance is now.
		if cur, gerr := r.instances.GetInstance(ctx, id); gerr == nil && cur.Status != StatusFailed {
			return Instance{}, notRetryable(cur)
		}
	}
	if err != nil {
		return Instance{}, err
	}
	wi.Revision++
	out.WorkItem = &wi
	return out, nil
}

func notRetryable(inst Instance) error {
	return fmt.Errorf("%w: the instance is %s in %q; only a FAILED instance can be retried", ErrFailedPrecondition, inst.Status, inst.StateKey)
}

// Get returns an instance the caller may see.
func (r *Runner) Get(ctx context.Context, p Principal, id string) (Instance, error) {
	inst, err := r.instances.InstanceWithWorkItem(ctx, id)
	if err != nil {
		return Instance{}, err
	}
	if err := r.canSee(ctx, p, inst); err != nil {
		return Instance{}, err
	}
	return inst, nil
}

// SignedDocument returns the instance's signed document, for those who may see the instance.
func (r *Runner) SignedDocument(ctx context.Context, p Principal, id string) (SignedDocument, error) {
	if _, err := r.Get(ctx, p, id); err != nil {
		return SignedDocument{}, err
	}
	return r.instances.LatestSignedDocument(ctx, id)
}

// List is Workflow Manage: every instance, filtered (admins; checked by the caller's role).
func (r *Runner) List(ctx context.Context, f InstanceFilter, p Page) ([]Instance, string, Total, error) {
	if !f.CreatedAfter.IsZero() && !f.CreatedBefore.IsZero() && !f.CreatedAfter.Before(f.CreatedBefore) {
		return nil, "", Total{}, Invalid(Problem{Path: "filter.created_before", Message: "must be after created_after"})
	}
	return r.instances.ListInstances(ctx, f, p)
}

// AssignedTo returns the instances waiting on the caller or the caller's groups.
func (r *Runner) AssignedTo(ctx context.Context, p Principal, pg Page) ([]Instance, string, error) {
	return r.instances.ListAssigned(ctx, p.UserID, p.GroupIDs, pg)
}

// Activity returns a page of an instance's timeline, for those who may see it.
func (r *Runner) Activity(ctx context.Context, p Principal, id string, pg Page) ([]Activity, string, error) {
	if _, err := r.Get(ctx, p, id); err != nil {
		return nil, "", err
	}
	return r.instances.ListActivity(ctx, id, pg)
}

var errNotYours = fmt.Errorf("%w: only admins, its starter, its assignees and those who acted on it see an instance", ErrPermissionDenied)

// canSee: admins, the starter, the current and past assignees, and whoever acted on it; nil,
// or errNotYours, or the error that kept it from being known (a database unavailable is
// Unavailable, to be retried, not a refusal).
func (r *Runner) canSee(ctx context.Context, p Principal, inst Instance) error {
	if p.IsAdmin() || inst.StartedBy == p.UserID || isAssignee(p, inst.Assignee) {
		return nil
	}
	took, err := r.instances.TookPart(ctx, inst.ID, p.UserID, p.GroupIDs)
	switch {
	case err != nil:
		return err
	case !took:
		return errNotYours
	}
	return nil
}

func isAssignee(p Principal, a *Assignee) bool {
	if a == nil {
		return false
	}
	return (a.UserID != "" && a.UserID == p.UserID) || (a.GroupID != "" && p.InGroup(a.GroupID))
}

// definition returns a published version's definition. Versions are immutable, so every
// replica may cache them without coordination.
func (r *Runner) definition(ctx context.Context, workflowID string, version int32) (Draft, error) {
	key := fmt.Sprintf("%s/%d", workflowID, version)
	if d, ok := r.cache.get(key); ok {
		return d, nil
	}
	v, err := r.versions.GetVersion(ctx, workflowID, version)
	if err != nil {
		return Draft{}, err
	}
	r.cache.put(key, v.Definition)
	return v.Definition, nil
}
