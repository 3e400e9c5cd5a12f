package engine

import (
	"context"
	"time"
)

// Page asks for one page of a list. After is the opaque position the previous page ended at.
type Page struct {
	Size  int
	After string
}

// Total is how many items a list's filter matches. A list that can grow without bound (the
// instances, the Event Log) counts exactly up to a bound; past it, N is the database's
// estimate for the filter, never below the bound, and Estimated is set: counting every row for
// every page (and for a console's counters, every few seconds) costs in proportion to the
// table.
type Total struct {
	N         int64
	Estimated bool
}

// WorkflowFilter narrows ListWorkflows.
type WorkflowFilter struct {
	NameContains string // case-insensitive
	// IncludeArchived lists archived workflows too; they are left out otherwise.
	IncludeArchived bool
}

// Store is the persistence port of the design side. Implementations decide races with
// conditional updates and unique constraints, never with in-process locks, so that several
// replicas may share one database.
type Store interface {
	// CreateWorkflow saves a new workflow at revision 1.
	CreateWorkflow(ctx context.Context, d Draft) (Workflow, error)
	// UpdateWorkflow replaces the draft when the stored revision is expectedRevision;
	// ErrConflict otherwise, ErrNotFound when there is no such workflow.
	UpdateWorkflow(ctx context.Context, id string, d Draft, expectedRevision int64) (Workflow, error)
	GetWorkflow(ctx context.Context, id string) (Workflow, error)
	// ListWorkflows returns a page in creation order, the position after it ("" at the end),
	// and how many match in all.
	ListWorkflows(ctx context.Context, f WorkflowFilter, p Page) ([]Workflow, string, int64, error)
	// ListPublished returns the latest version of each published, unarchived workflow (the
	// name filter applies to the workflow's name), in the workflows' creation order, with the
	// position after the page and how many match in all. f.IncludeArchived is ignored.
	ListPublished(ctx context.Context, f WorkflowFilter, p Page) ([]Version, string, int64, error)
	// PublishVersion stores build(draft) as the workflow's next version, atomically, when the
	// draft is at expectedRevision (ErrConflict otherwise). When that revision was published
	// already it returns that version and does not call build.
	PublishVersion(ctx context.Context, id string, expectedRevision int64, build func(Draft) (Draft, error)) (Version, error)
	// SetArchived archives (archive) or unarchives a workflow and returns it. Doing it twice
	// changes nothing: the first archiving's time stands. Neither the revision nor the draft
	// changes. ErrNotFound when there is no such workflow.
	SetArchived(ctx context.Context, id string, archive bool) (Workflow, error)
	// GetVersion returns a version; number 0 means the latest. It tells whether the workflow
	// is archived (Version.WorkflowArchived).
	GetVersion(ctx context.Context, id string, number int32) (Version, error)
	// VersionHead is GetVersion without the definition (Definition is empty): what a start
	// needs on every call, the definition coming from the runner's cache of versions.
	VersionHead(ctx context.Context, id string, number int32) (Version, error)
	// ListVersions returns a page of versions, newest first, and the position after it.
	ListVersions(ctx context.Context, id string, p Page) ([]Version, string, error)
	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
}

// Clock tells the time; tests pass a fixed one.
type Clock interface{ Now() time.Time }

// SystemClock is the wall clock.
type SystemClock struct{}

func (SystemClock) Now() time.Time { return time.Now() }
