package engine

import (
	"context"
	"errors"
	"fmt"
)

// Paging bounds shared by every list.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// Designer is the design side of the engine: drafts, validation and publication.
type Designer struct {
	store Store
}

// NewDesigner returns a Designer over the store.
func NewDesigner(store Store) *Designer { return &Designer{store: store} }

// Validate returns every problem of the draft, paths relative to it.
func (d *Designer) Validate(draft Draft) Problems { return ValidateDraft(draft) }

// Create saves a valid draft as a new workflow.
func (d *Designer) Create(ctx context.Context, draft Draft) (Workflow, error) {
	if err := ValidateDraft(draft).Prefixed("workflow").Err(); err != nil {
		return Workflow{}, err
	}
	return d.store.CreateWorkflow(ctx, normalize(draft))
}

// Update replaces the draft of a workflow, guarded by its revision.
func (d *Designer) Update(ctx context.Context, id string, draft Draft, expectedRevision int64) (Workflow, error) {
	var ps Problems
	if expectedRevision <= 0 {
		ps.Add("expected_revision", "is required: pass the revision you read (it starts at 1)")
	}
	ps = append(ps, ValidateDraft(draft).Prefixed("workflow")...)
	if err := ps.Err(); err != nil {
		return Workflow{}, err
	}
	return d.store.UpdateWorkflow(ctx, id, normalize(draft), expectedRevision)
}

// Get returns a workflow.
func (d *Designer) Get(ctx context.Context, id string) (Workflow, error) {
	return d.store.GetWorkflow(ctx, id)
}

// List returns a page of workflows.
func (d *Designer) List(ctx context.Context, f WorkflowFilter, p Page) ([]Workflow, string, int64, error) {
	return d.store.ListWorkflows(ctx, f, p)
}

// Publish publishes the draft at expectedRevision as the next immutable version.
func (d *Designer) Publish(ctx context.Context, id string, expectedRevision int64) (Version, error) {
	if expectedRevision <= 0 {
		return Version{}, Invalid(Problem{Path: "expected_revision", Message: "is required: pass the revision you read (it starts at 1)"})
	}
	return d.store.PublishVersion(ctx, id, expectedRevision, func(draft Draft) (Draft, error) {
		// Drafts are validated when saved, but the rules may have grown since: check again.
		if ps := ValidateDraft(draft); len(ps) > 0 {
			return Draft{}, fmt.Errorf("%w: the draft does not validate; update it first: %w", ErrFailedPrecondition, ps.Prefixed("workflow").Err())
		}
		return WithActions(draft), nil
	})
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
func normalize(d Draft) Draft {
	d.Transitions = WithActions(d).Transitions
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
