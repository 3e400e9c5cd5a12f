package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// Paging bounds shared by every list.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// Designer is the design side of the engine: drafts, validation and publication.
type Designer struct {
	store      Store
	directory  IdentityStore
	providers  Catalog
	connectors ConnectorDirectory
}

// NewDesigner returns a Designer over the store; assignees are checked against directory,
// external steps against the providers and the connectors registered.
func NewDesigner(store Store, directory IdentityStore, providers Catalog, connectors ConnectorDirectory) *Designer {
	return &Designer{store: store, directory: directory, providers: providers, connectors: connectors}
}

// Validate returns every problem of the draft, paths relative to it: its own, assignees that
// name no user or group, and external steps that name no connector. A draft over the size
// limits is its size problem alone, as ValidateDraft reports it: nothing is looked up for it.
func (d *Designer) Validate(ctx context.Context, draft Draft) (Problems, error) {
	ps := ValidateDraft(draft, d.providers)
	if oversized(draft) {
		return ps, nil
	}
	aps, err := d.checkAssignees(ctx, draft)
	if err != nil {
		return nil, err
	}
	cps, err := d.checkConnectors(ctx, draft)
	ps = append(ps, aps...)
	return append(ps, cps...), err
}

// DraftProblems are the draft's own problems, without looking anything up.
func (d *Designer) DraftProblems(draft Draft) Problems { return ValidateDraft(draft, d.providers) }

// checkConnectors reports external steps that name a connector nobody registered.
func (d *Designer) checkConnectors(ctx context.Context, draft Draft) (Problems, error) {
	// Each name is looked up once, however many states name it.
	var names []string
	named := make(map[string]bool)
	for _, s := range draft.States {
		if s.Kind == StateKindExternal && s.External != nil && ValidConnectorName(s.External.Connector) && !named[s.External.Connector] {
			if spec, ok := d.providers.Spec(s.External.Provider); ok && spec.Connectors {
				named[s.External.Connector] = true
				names = append(names, s.External.Connector)
			}
		}
	}
	if len(names) == 0 || d.connectors == nil {
		return nil, nil
	}
	missing, err := d.connectors.MissingConnectors(ctx, names)
	if err != nil {
		return nil, err
	}
	gone := setOf(missing)
	var ps Problems
	for i, s := range draft.States {
		if s.Kind == StateKindExternal && s.External != nil && gone[s.External.Connector] {
			ps.Add(fmt.Sprintf("states[%d].external.connector", i), "no connector is named %q; an admin registers it with CreateConnector", s.External.Connector)
		}
	}
	return ps, nil
}

// checkAssignees reports HUMAN states assigned to users or groups that do not exist.
func (d *Designer) checkAssignees(ctx context.Context, draft Draft) (Problems, error) {
	// Each id is looked up once, however many states name it.
	var users, groups []string
	namedUser, namedGroup := make(map[string]bool), make(map[string]bool)
	for _, s := range draft.States {
		if s.Kind == StateKindHuman && s.Assignee != nil {
			if id := s.Assignee.UserID; id != "" && !namedUser[id] {
				namedUser[id] = true
				users = append(users, id)
			}
			if id := s.Assignee.GroupID; id != "" && !namedGroup[id] {
				namedGroup[id] = true
				groups = append(groups, id)
			}
		}
	}
	if len(users)+len(groups) == 0 {
		return nil, nil
	}
	missingUsers, missingGroups, err := d.directory.MissingAssignees(ctx, users, groups)
	if err != nil {
		return nil, err
	}
	noUser, noGroup := setOf(missingUsers), setOf(missingGroups)
	var ps Problems
	for i, s := range draft.States {
		if s.Kind != StateKindHuman || s.Assignee == nil {
			continue
		}
		if s.Assignee.UserID != "" && noUser[s.Assignee.UserID] {
			ps.Add(fmt.Sprintf("states[%d].assignee.user_id", i), "no user has the id %q", truncateText(s.Assignee.UserID, 64))
		}
		if s.Assignee.GroupID != "" && noGroup[s.Assignee.GroupID] {
			ps.Add(fmt.Sprintf("states[%d].assignee.group_id", i), "no group has the id %q", truncateText(s.Assignee.GroupID, 64))
		}
	}
	return ps, nil
}

func setOf(ss []string) map[string]bool {
	set := make(map[string]bool, len(ss))
	for _, s := range ss {
		set[s] = true
	}
	return set
}

// inactiveAssignees names the HUMAN states assigned to a user who cannot act on work
// (cannotWork: deactivated, or without the USER role): published, such a version would give
// every new instance to someone who cannot act on it (ReassignInstance refuses them for the
// same reason). A draft may name one; publishing it may not.
func (d *Designer) inactiveAssignees(ctx context.Context, draft Draft) (Problems, error) {
	var ps Problems
	for i, s := range draft.States {
		if s.Kind != StateKindHuman || s.Assignee == nil || s.Assignee.UserID == "" {
			continue
		}
		u, err := d.directory.GetUser(ctx, s.Assignee.UserID)
		if errors.Is(err, ErrNotFound) {
			continue // saving the draft named it
		}
		if err != nil {
			return nil, err
		}
		if why := cannotWork(u); why != "" {
			ps.Add(fmt.Sprintf("states[%d].assignee.user_id", i), "%s", why)
		}
	}
	return ps, nil
}

// cannotWork says why a user cannot be given work ("" when they can): deactivated (their keys
// are refused), or without the USER role (ListAssignedToMe, GetInstance and TakeTransition
// need it, or ADMIN), so every instance given to them would wait until an admin reassigned it.
func cannotWork(u User) string {
	switch {
	case u.DeactivatedAt != nil:
		return fmt.Sprintf("user %s is deactivated and cannot be given work; reactivate them or choose another assignee", u.ID)
	case !slices.Contains(u.Roles, RoleUser) && !slices.Contains(u.Roles, RoleAdmin):
		return fmt.Sprintf("user %s has neither the USER nor the ADMIN role, without which nobody acts on work; choose another assignee", u.ID)
	}
	return ""
}

// validateForSave is every problem of a draft being saved, paths under "workflow".
func (d *Designer) validateForSave(ctx context.Context, draft Draft) (Problems, error) {
	ps, err := d.Validate(ctx, draft)
	return ps.Prefixed("workflow"), err
}

// Create saves a valid draft as a new workflow.
func (d *Designer) Create(ctx context.Context, draft Draft) (Workflow, error) {
	ps, err := d.validateForSave(ctx, draft)
	if err != nil {
		return Workflow{}, err
	}
	if err := ps.Err(); err != nil {
		return Workflow{}, err
	}
	return d.store.CreateWorkflow(ctx, normalize(draft, d.providers))
}

// Update replaces the draft of a workflow, guarded by its revision.
func (d *Designer) Update(ctx context.Context, id string, draft Draft, expectedRevision int64) (Workflow, error) {
	var ps Problems
	if expectedRevision <= 0 {
		ps.Add("expected_revision", "is required: pass the revision you read (it starts at 1)")
	}
	dps, err := d.validateForSave(ctx, draft)
	if err != nil {
		return Workflow{}, err
	}
	ps = append(ps, dps...)
	if err := ps.Err(); err != nil {
		return Workflow{}, err
	}
	return d.store.UpdateWorkflow(ctx, id, normalize(draft, d.providers), expectedRevision)
}

// Get returns a workflow.
func (d *Designer) Get(ctx context.Context, id string) (Workflow, error) {
	return d.store.GetWorkflow(ctx, id)
}

// List returns a page of workflows.
func (d *Designer) List(ctx context.Context, f WorkflowFilter, p Page) ([]Workflow, string, int64, error) {
	return d.store.ListWorkflows(ctx, f, p)
}

// Published returns a page of the workflows that can be started, each as its latest version.
func (d *Designer) Published(ctx context.Context, f WorkflowFilter, p Page) ([]Version, string, int64, error) {
	f.IncludeArchived = false
	return d.store.ListPublished(ctx, f, p)
}

// Archive archives a workflow: it starts no new instances and ListWorkflows leaves it out
// unless asked; instances in flight go on. Archiving an archived workflow returns it as it is.
func (d *Designer) Archive(ctx context.Context, id string) (Workflow, error) {
	return d.store.SetArchived(ctx, id, true)
}

// Unarchive undoes Archive; a workflow that is not archived is returned as it is.
func (d *Designer) Unarchive(ctx context.Context, id string) (Workflow, error) {
	return d.store.SetArchived(ctx, id, false)
}

// Publish publishes the draft at expectedRevision as the next immutable version.
func (d *Designer) Publish(ctx context.Context, id string, expectedRevision int64) (Version, error) {
	if expectedRevision <= 0 {
		return Version{}, Invalid(Problem{Path: "expected_revision", Message: "is required: pass the revision you read (it starts at 1)"})
	}
	// A connector may have been deleted since the draft was saved: it must exist now. So must
	// its users be able to act: one deactivated since would get every new instance. A revision
	// published already is answered with its version, as the store does (a retried call whose
	// answer was lost), whatever changed since.
	if wf, err := d.store.GetWorkflow(ctx, id); err == nil && wf.Revision == expectedRevision && !d.publishedFrom(ctx, wf) {
		ps, err := d.checkConnectors(ctx, wf.Draft)
		if err != nil {
			return Version{}, err
		}
		inactive, err := d.inactiveAssignees(ctx, wf.Draft)
		if err != nil {
			return Version{}, err
		}
		if ps = append(ps, inactive...); len(ps) > 0 {
			return Version{}, fmt.Errorf("%w: the draft does not validate; update it first: %w", ErrFailedPrecondition, ps.Prefixed("workflow").Err())
		}
	}
	return d.store.PublishVersion(ctx, id, expectedRevision, func(draft Draft) (Draft, error) {
		// Drafts are validated when saved, but the rules may have grown since: check again.
		if ps := ValidateDraft(draft, d.providers); len(ps) > 0 {
			return Draft{}, fmt.Errorf("%w: the draft does not validate; update it first: %w", ErrFailedPrecondition, ps.Prefixed("workflow").Err())
		}
		return WithActions(draft, d.providers), nil
	})
}

// publishedFrom reports whether the workflow's latest version was published from its current
// draft revision (a read that fails says no: the checks run, as before).
func (d *Designer) publishedFrom(ctx context.Context, wf Workflow) bool {
	if wf.LatestVersion == 0 {
		return false
	}
	v, err := d.store.GetVersion(ctx, wf.ID, wf.LatestVersion)
	return err == nil && v.Revision == wf.Revision
}

// GetVersion returns a published version (0: the latest).
func (d *Designer) GetVersion(ctx context.Context, id string, number int32) (Version, error) {
	if number < 0 {
		return Version{}, Invalid(Problem{Path: "version", Message: "must not be negative (0 means the latest)"})
	}
	return d.store.GetVersion(ctx, id, number)
}

// ListVersions returns a page of a workflow's versions, newest first.
func (d *Designer) ListVersions(ctx context.Context, id string, p Page) ([]Version, string, error) {
	return d.store.ListVersions(ctx, id, p)
}

// normalize drops what the caller may not set: transition actions are derived, output only.
func normalize(d Draft, providers Catalog) Draft {
	d.Transitions = WithActions(d, providers).Transitions
	return d
}

// IsValidation reports whether err carries problems, and returns them.
func IsValidation(err error) ([]Problem, bool) {
	var ve *ValidationError
	if errors.As(err, &ve) {
		return ve.Problems, true
	}
	return nil, false
}

// errArchived refuses to start an instance of an archived workflow.
func errArchived(workflowID string) error {
	return fmt.Errorf("%w: workflow %s is archived; unarchive it to start instances", ErrFailedPrecondition, workflowID)
}
