package store_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/ent"
	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/store"
)

// newInstance saves an instance of the fixture's workflow created at at, in state key with
// status, after mod; it returns it as saved.
func (f instanceFixture) newInstance(t *testing.T, at time.Time, mod func(in *engine.Instance)) engine.Instance {
	t.Helper()
	in := engine.Instance{ID: engine.NewIDAt(at), WorkflowID: f.workflowID, Version: 1, WorkflowName: "Contract",
		StateKey: "review", Status: engine.StatusActive, Revision: 1, StartedBy: f.userID,
		FormData: map[string]any{"name": "Ada"}, CreatedAt: at, UpdatedAt: at}
	if mod != nil {
		mod(&in)
	}
	got, err := f.st.CreateInstance(context.Background(), in, nil, engine.Effects{})
	require.NoError(t, err)
	return got
}

func idsOf(ins []engine.Instance) []string {
	out := make([]string, len(ins))
	for i, in := range ins {
		out[i] = in.ID
	}
	return out
}

// TestUpdateInstanceRevision: an update commits at the revision read, with its activities and
// effects, and the instance's fields as given; from a stale revision it commits nothing at all.
func TestUpdateInstanceRevision(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			in := f.newInstance(t, time.Now(), func(in *engine.Instance) {
				in.Assignee = &engine.Assignee{UserID: "u-1", GroupID: "legal"}
			})
			require.Equal(t, &engine.Assignee{UserID: "u-1", GroupID: "legal"}, in.Assignee)

			now := time.Now()
			moved := in
			moved.StateKey, moved.Status, moved.Assignee = "sign", engine.StatusWaitingExternal, nil
			moved.System = engine.System{Provider: "CONNECTOR", Connector: "tickets"}
			moved.FormData = map[string]any{"name": "Ada", "amount": 900.0}
			moved.UpdatedAt = now
			wi := engine.WorkItem{ID: engine.NewIDAt(now), InstanceID: in.ID, StateKey: "sign", EnteredRevision: 2,
				System: moved.System, Status: engine.WorkItemCreating, CreatedAt: now, UpdatedAt: now, Revision: 1}
			acts := []engine.Activity{{Kind: engine.ActivityTransition, ActorID: "u-1", FromState: "review", ToState: "sign", CreatedAt: now}}
			eff := engine.Effects{NewWorkItems: []engine.WorkItem{wi}, Jobs: []engine.Job{engine.CreateWorkItemJob{WorkItemID: wi.ID}}}

			// A stale revision first: nothing of it commits.
			stale := moved
			stale.StateKey = "elsewhere"
			_, err := f.st.UpdateInstance(ctx, stale, in.Revision+1, acts, eff)
			require.ErrorIs(t, err, engine.ErrConflict)
			got, err := f.st.GetInstance(ctx, in.ID)
			require.NoError(t, err)
			require.Equal(t, in.Revision, got.Revision)
			require.Equal(t, "review", got.StateKey)
			_, err = f.st.GetWorkItem(ctx, wi.ID)
			require.ErrorIs(t, err, engine.ErrNotFound, "its work item was not inserted")
			listed, _, err := f.st.ListActivity(ctx, in.ID, engine.Page{Size: 10})
			require.NoError(t, err)
			require.Empty(t, listed)
			require.Empty(t, f.jobs.all(), "its job was not enqueued")
			require.Empty(t, f.jobs.told(), "nor its creation told")

			updated, err := f.st.UpdateInstance(ctx, moved, in.Revision, acts, eff)
			require.NoError(t, err)
			require.Equal(t, in.Revision+1, updated.Revision)
			require.Equal(t, "sign", updated.StateKey)
			require.Equal(t, engine.StatusWaitingExternal, updated.Status)
			require.Nil(t, updated.Assignee, "the assignee is cleared")
			require.Equal(t, moved.System, updated.System)
			require.Equal(t, moved.FormData, updated.FormData)
			require.Empty(t, f.jobs.all(), "its creation is a mark on the work item, not a River job")
			require.Equal(t, []engine.Job{engine.CreateWorkItemJob{WorkItemID: wi.ID, Item: &wi}},
				withoutInstances(t, f.jobs.told(), d == store.Postgres, updated), "the queue is told to create it, with the item as written")
			cur, err := f.st.CurrentWorkItem(ctx, in.ID)
			require.NoError(t, err)
			require.Equal(t, wi.ID, cur.ID)
			require.Equal(t, engine.System{Provider: "CONNECTOR", Connector: "tickets"}, cur.System)
			require.Equal(t, engine.WorkItemCreating, cur.Status)
			require.EqualValues(t, 2, cur.EnteredRevision)

			// The same update again, from the revision it was read at, loses.
			_, err = f.st.UpdateInstance(ctx, moved, in.Revision, acts, engine.Effects{})
			require.ErrorIs(t, err, engine.ErrConflict)

			// It ends: ended_at and the reason are kept.
			end := updated
			end.Status, end.Reason, end.UpdatedAt = engine.StatusCancelled, "withdrawn", time.Now()
			ended := time.Now()
			end.EndedAt = &ended
			final, err := f.st.UpdateInstance(ctx, end, updated.Revision, []engine.Activity{
				{Kind: engine.ActivityCancelled, ToState: "sign", CreatedAt: ended, Message: "withdrawn"}}, engine.Effects{})
			require.NoError(t, err)
			require.Equal(t, "withdrawn", final.Reason)
			require.NotNil(t, final.EndedAt)
			require.WithinDuration(t, ended, *final.EndedAt, time.Millisecond)
			require.Equal(t, updated.Revision+1, final.Revision)
			require.Nil(t, final.Deadline)
			require.Equal(t, moved.FormData, final.FormData, "the form is kept as it was")

			// The update numbers its activities after those appended before it, without a gap,
			// and the losing updates numbered none.
			listed, _, err = f.st.ListActivity(ctx, in.ID, engine.Page{Size: 10})
			require.NoError(t, err)
			require.Len(t, listed, 2)
			for i, a := range listed {
				require.EqualValues(t, i+1, a.Seq)
			}
			require.Equal(t, engine.ActivityTransition, listed[0].Kind)
			require.Equal(t, engine.ActivityCancelled, listed[1].Kind)
		})
	}
}

// TestActivitiesOrderAndPaging: an instance's timeline is its activities in the order they were
// appended, across changes, paged by sequence number, every field read back as written.
func TestActivitiesOrderAndPaging(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			at := time.Now().UTC().Truncate(time.Millisecond)
			first := []engine.Activity{
				{Kind: engine.ActivityStarted, ActorID: f.userID, ToState: "start", Message: "started", CreatedAt: at,
					Changes: []engine.FieldChange{{Name: "amount", New: 1200.5}, {Name: "name", New: "Ada"}}},
				{Kind: engine.ActivityTransition, ActorID: f.userID, FromState: "start", ToState: "review", TransitionKey: "submit",
					Message: `took "submit"`, CreatedAt: at},
				{Kind: engine.ActivityAssigned, ToState: "review", Assignee: &engine.Assignee{GroupID: "legal"}, Message: "waiting", CreatedAt: at},
			}
			now := at
			in, err := f.st.CreateInstance(ctx, engine.Instance{ID: engine.NewIDAt(now), WorkflowID: f.workflowID, Version: 1,
				WorkflowName: "Contract", StateKey: "review", Status: engine.StatusActive, Revision: 1, StartedBy: f.userID,
				FormData: map[string]any{}, CreatedAt: now, UpdatedAt: now}, first, engine.Effects{})
			require.NoError(t, err)
			later := []engine.Activity{
				{Kind: engine.ActivityTransition, ActorID: "u-legal", FromState: "review", ToState: "done", TransitionKey: "approve",
					Changes: []engine.FieldChange{{Name: "amount", Old: 1200.5, New: 900.0}}, CreatedAt: at.Add(time.Second)},
				{Kind: engine.ActivityCompleted, ToState: "done", Message: "completed", CreatedAt: at.Add(time.Second)},
			}
			_, err = f.st.UpdateInstance(ctx, in, in.Revision, later, engine.Effects{})
			require.NoError(t, err)

			var all []engine.Activity
			var pages []string
			p := engine.Page{Size: 2}
			for {
				page, next, err := f.st.ListActivity(ctx, in.ID, p)
				require.NoError(t, err)
				all = append(all, page...)
				pages = append(pages, next)
				if next == "" {
					break
				}
				p.After = next
			}
			require.Equal(t, []string{"2", "4", ""}, pages)
			want := append(append([]engine.Activity{}, first...), later...)
			require.Len(t, all, len(want))
			for i, a := range all {
				require.NotEmpty(t, a.ID)
				require.Equal(t, in.ID, a.InstanceID)
				require.EqualValues(t, i+1, a.Seq)
				require.True(t, want[i].CreatedAt.Equal(a.CreatedAt), "created at of %d", i)
				w := want[i]
				w.ID, w.InstanceID, w.Seq, w.CreatedAt = a.ID, a.InstanceID, a.Seq, a.CreatedAt
				require.Equal(t, w, a, "activity %d", i)
			}

			_, _, err = f.st.ListActivity(ctx, in.ID, engine.Page{Size: 2, After: "not a position"})
			_, invalid := engine.IsValidation(err)
			require.True(t, invalid, "%v", err)
			none, next, err := f.st.ListActivity(ctx, in.ID, engine.Page{Size: 2, After: "5"})
			require.NoError(t, err)
			require.Empty(t, none)
			require.Empty(t, next)
		})
	}
}

// TestConcurrentAppendsTakeTurns: activities appended to one instance by concurrent
// transactions (a cancellation and progress webhooks, say) all commit, numbered one after the
// other.
func TestConcurrentAppendsTakeTurns(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			const n = 8
			now := time.Now()
			var items []engine.WorkItem
			for range n {
				items = append(items, engine.WorkItem{ID: engine.NewIDAt(now), StateKey: "sign", EnteredRevision: 1,
					System: engine.System{Provider: "DOCUSIGN"}, Status: engine.WorkItemWaiting, CreatedAt: now, UpdatedAt: now, Revision: 1})
			}
			in := engine.Instance{ID: engine.NewIDAt(now), WorkflowID: f.workflowID, Version: 1, WorkflowName: "Contract",
				StateKey: "sign", Status: engine.StatusWaitingExternal, Revision: 1, StartedBy: f.userID, FormData: map[string]any{},
				CreatedAt: now, UpdatedAt: now}
			for i := range items {
				items[i].InstanceID = in.ID
			}
			_, err := f.st.CreateInstance(ctx, in, []engine.Activity{{Kind: engine.ActivityStarted, CreatedAt: now}},
				engine.Effects{NewWorkItems: items})
			require.NoError(t, err)

			errs := make([]error, n)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i, wi := range items {
				wg.Go(func() {
					<-start
					errs[i] = f.st.CloseWorkItem(ctx, wi.ID, engine.WorkItemCancelled, "voided", &engine.Activity{
						Kind: engine.ActivityExternalProgress, ToState: "sign", Message: fmt.Sprintf("voided %d", i), CreatedAt: time.Now()})
				})
			}
			close(start)
			wg.Wait()
			for _, err := range errs {
				require.NoError(t, err)
			}
			acts, _, err := f.st.ListActivity(ctx, in.ID, engine.Page{Size: 100})
			require.NoError(t, err)
			require.Len(t, acts, n+1)
			seen := map[string]bool{}
			for i, a := range acts {
				require.EqualValues(t, i+1, a.Seq)
				seen[a.Message] = true
			}
			for i := range n {
				require.True(t, seen[fmt.Sprintf("voided %d", i)], "entry %d", i)
			}
		})
	}
}

// TestListInstancesCreatedWithinAMillisecond: a creation range's bounds hold to the
// microsecond. Ids carry their creation's millisecond only, so the id range that walks the
// primary key takes in the instances of the bounds' own milliseconds, and the page's time
// comparison must drop those created just before the start or at or after the end.
func TestListInstancesCreatedWithinAMillisecond(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			ms := time.Now().UTC().Truncate(time.Millisecond).Add(-time.Hour)
			early := f.newInstance(t, ms.Add(200*time.Microsecond), nil)
			late := f.newInstance(t, ms.Add(700*time.Microsecond), nil)
			bound := ms.Add(500 * time.Microsecond) // between them, in the same millisecond
			require.Equal(t, early.ID[:13], late.ID[:13], "the two ids carry the same millisecond")
			for _, tc := range []struct {
				name   string
				filter engine.InstanceFilter
				want   []engine.Instance
			}{
				{"created after", engine.InstanceFilter{CreatedAfter: bound}, []engine.Instance{late}},
				{"created before", engine.InstanceFilter{CreatedBefore: bound}, []engine.Instance{early}},
				{"from the first, before the second", engine.InstanceFilter{CreatedAfter: early.CreatedAt, CreatedBefore: late.CreatedAt}, []engine.Instance{early}},
				{"an empty range inside the millisecond", engine.InstanceFilter{CreatedAfter: bound, CreatedBefore: late.CreatedAt}, nil},
			} {
				got, _, total, err := f.st.ListInstances(ctx, tc.filter, engine.Page{Size: 50})
				require.NoError(t, err, tc.name)
				require.Equal(t, idsOf(tc.want), idsOf(got), tc.name)
				require.Equal(t, engine.Total{N: int64(len(tc.want))}, total, tc.name)
			}
		})
	}
}

// TestListInstancesFilters: Workflow Manage's filters, alone and together, newest first, with
// the total counted on every page.
func TestListInstancesFilters(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			// A second version, a second workflow and a second starter.
			wf, err := f.st.GetWorkflow(ctx, f.workflowID)
			require.NoError(t, err)
			_, err = f.st.UpdateWorkflow(ctx, f.workflowID, wf.Draft, wf.Revision)
			require.NoError(t, err)
			_, err = f.st.PublishVersion(ctx, f.workflowID, wf.Revision+1, func(d engine.Draft) (engine.Draft, error) { return d, nil })
			require.NoError(t, err)
			other, err := f.st.CreateWorkflow(ctx, engine.Draft{Name: "Other", States: wf.Draft.States})
			require.NoError(t, err)
			_, err = f.st.PublishVersion(ctx, other.ID, 1, func(d engine.Draft) (engine.Draft, error) { return d, nil })
			require.NoError(t, err)
			u2, err := f.st.CreateUser(ctx, engine.User{DisplayName: "Eve", Email: "eve@example.com", Roles: []engine.Role{engine.RoleUser}})
			require.NoError(t, err)

			base := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
			at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Second) }
			waiting := func(sys engine.System, ext string) func(in *engine.Instance) {
				return func(in *engine.Instance) {
					in.StateKey, in.Status, in.System, in.ExternalID = "sign", engine.StatusWaitingExternal, sys, ext
				}
			}
			a := f.newInstance(t, at(0), func(in *engine.Instance) { in.Assignee = &engine.Assignee{GroupID: "legal"} })
			b := f.newInstance(t, at(1), waiting(engine.System{Provider: "DOCUSIGN"}, "env-1"))
			c := f.newInstance(t, at(2), func(in *engine.Instance) {
				waiting(engine.System{Provider: "CONNECTOR", Connector: "tickets"}, "T-1")(in)
				in.Version, in.StartedBy = 2, u2.ID
			})
			dd := f.newInstance(t, at(3), func(in *engine.Instance) {
				waiting(engine.System{Provider: "CONNECTOR", Connector: "other"}, "T-2")(in)
				in.Status, in.WorkflowID, in.StartedBy = engine.StatusCompleted, other.ID, u2.ID
			})
			e := f.newInstance(t, at(4), func(in *engine.Instance) {
				in.StateKey, in.Status, in.System, in.ExternalID = "done", engine.StatusCompleted, engine.System{Provider: "ONESPAN"}, "pkg-1"
			})
			ff := f.newInstance(t, at(5), func(in *engine.Instance) {
				in.Status, in.WorkflowID, in.StartedBy = engine.StatusCancelled, other.ID, u2.ID
			})

			tests := []struct {
				name   string
				filter engine.InstanceFilter
				want   []engine.Instance
			}{
				{"none", engine.InstanceFilter{}, []engine.Instance{ff, e, dd, c, b, a}},
				{"workflow", engine.InstanceFilter{WorkflowID: f.workflowID}, []engine.Instance{e, c, b, a}},
				{"workflow and version", engine.InstanceFilter{WorkflowID: f.workflowID, Version: 2}, []engine.Instance{c}},
				{"state", engine.InstanceFilter{StateKey: "sign"}, []engine.Instance{dd, c, b}},
				{"status", engine.InstanceFilter{Status: engine.StatusCompleted}, []engine.Instance{e, dd}},
				{"provider", engine.InstanceFilter{Provider: "DOCUSIGN"}, []engine.Instance{b}},
				{"every connector", engine.InstanceFilter{Provider: "CONNECTOR"}, []engine.Instance{dd, c}},
				{"one connector", engine.InstanceFilter{Provider: "CONNECTOR", Connector: "tickets"}, []engine.Instance{c}},
				{"external id", engine.InstanceFilter{ExternalID: "T-2"}, []engine.Instance{dd}},
				{"starter", engine.InstanceFilter{StartedBy: u2.ID}, []engine.Instance{ff, dd, c}},
				{"created in a range", engine.InstanceFilter{CreatedAfter: at(2), CreatedBefore: at(4)}, []engine.Instance{dd, c}},
				{"together", engine.InstanceFilter{Status: engine.StatusWaitingExternal, StartedBy: f.userID}, []engine.Instance{b}},
				{"a workflow id that is no id", engine.InstanceFilter{WorkflowID: "nope"}, nil},
				{"no match", engine.InstanceFilter{Provider: "ONESPAN", Status: engine.StatusActive}, nil},
			}
			for _, tc := range tests {
				got, next, total, err := f.st.ListInstances(ctx, tc.filter, engine.Page{Size: 50})
				require.NoError(t, err, tc.name)
				require.Equal(t, idsOf(tc.want), idsOf(got), tc.name)
				require.Equal(t, engine.Total{N: int64(len(tc.want))}, total, tc.name)
				require.Empty(t, next, tc.name)
			}
			// Read back as saved.
			got, _, _, err := f.st.ListInstances(ctx, engine.InstanceFilter{ExternalID: "T-1"}, engine.Page{Size: 1})
			require.NoError(t, err)
			require.Len(t, got, 1)
			require.True(t, c.CreatedAt.Equal(got[0].CreatedAt))
			got[0].CreatedAt, got[0].UpdatedAt = c.CreatedAt, c.UpdatedAt
			require.Equal(t, c, got[0])

			// Pages: the total on each.
			page1, next, total, err := f.st.ListInstances(ctx, engine.InstanceFilter{}, engine.Page{Size: 4})
			require.NoError(t, err)
			require.Equal(t, idsOf([]engine.Instance{ff, e, dd, c}), idsOf(page1))
			require.Equal(t, engine.Total{N: 6}, total)
			require.Equal(t, c.ID, next)
			page2, next, total, err := f.st.ListInstances(ctx, engine.InstanceFilter{}, engine.Page{Size: 4, After: next})
			require.NoError(t, err)
			require.Equal(t, idsOf([]engine.Instance{b, a}), idsOf(page2))
			require.Equal(t, engine.Total{N: 6}, total)
			require.Empty(t, next)
			_, _, _, err = f.st.ListInstances(ctx, engine.InstanceFilter{}, engine.Page{Size: 4, After: "x"})
			_, invalid := engine.IsValidation(err)
			require.True(t, invalid, "%v", err)
		})
	}
}

// TestListTotalPastTheBound: a list counts its matches exactly up to the bound; past it, on
// PostgreSQL, total_size is the planner's estimate for the filter, never below the bound plus
// one, and says it is one. SQLite counts them all. (The bound is 3 here, 10,000 in service.)
func TestListTotalPastTheBound(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			st := store.WithCountBound(f.st, 3)
			base := time.Now().Add(-time.Hour)
			for i := range 6 {
				f.newInstance(t, base.Add(time.Duration(i)*time.Second), func(in *engine.Instance) {
					if i < 2 {
						in.Status = engine.StatusCompleted
					}
				})
			}
			list := func(filter engine.InstanceFilter) engine.Total {
				t.Helper()
				page, next, total, err := st.ListInstances(ctx, filter, engine.Page{Size: 4})
				require.NoError(t, err)
				require.Len(t, page, min(4, int(total.N)), "the page itself is not bounded by the count")
				require.Equal(t, total.N > 4, next != "")
				return total
			}

			require.Equal(t, engine.Total{N: 2}, list(engine.InstanceFilter{Status: engine.StatusCompleted}), "at most the bound: exact")
			require.Equal(t, engine.Total{N: 3}, list(engine.InstanceFilter{CreatedAfter: base.Add(3 * time.Second)}), "the bound itself: exact")
			all := list(engine.InstanceFilter{})
			active := list(engine.InstanceFilter{Status: engine.StatusActive})
			if d == store.SQLite {
				require.Equal(t, engine.Total{N: 6}, all)
				require.Equal(t, engine.Total{N: 4}, active)
				return
			}
			require.True(t, all.Estimated, "%+v", all)
			require.GreaterOrEqual(t, all.N, int64(4), "never below the bound plus one")
			require.True(t, active.Estimated, "%+v", active)
			require.GreaterOrEqual(t, active.N, int64(4))

			// Once analysed (as autovacuum does), the estimate of the whole table is its size.
			require.NoError(t, store.InTx(st, ctx, func(c *ent.Client) error {
				_, err := c.ExecContext(ctx, "ANALYZE instances")
				return err
			}))
			require.Equal(t, engine.Total{N: 6, Estimated: true}, list(engine.InstanceFilter{}))
			// The service's own bound counts these exactly.
			_, _, total, err := f.st.ListInstances(ctx, engine.InstanceFilter{}, engine.Page{Size: 4})
			require.NoError(t, err)
			require.Equal(t, engine.Total{N: 6}, total)
		})
	}
}

// TestListAssignedAndTookPart: "assigned to me" is the ACTIVE instances assigned to the user or
// one of the groups, oldest first; who took part is whoever acted or was ever assigned.
func TestListAssignedAndTookPart(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			base := time.Now().Add(-time.Hour)
			assigned := func(i int, a engine.Assignee, status engine.InstanceStatus) engine.Instance {
				return f.newInstance(t, base.Add(time.Duration(i)*time.Second), func(in *engine.Instance) {
					in.Assignee, in.Status = &a, status
				})
			}
			toUser := assigned(0, engine.Assignee{UserID: "u-1"}, engine.StatusActive)
			toLegal := assigned(1, engine.Assignee{GroupID: "legal"}, engine.StatusActive)
			assigned(2, engine.Assignee{GroupID: "sales"}, engine.StatusActive)
			assigned(3, engine.Assignee{UserID: "u-2"}, engine.StatusActive)
			toOps := assigned(4, engine.Assignee{GroupID: "ops"}, engine.StatusActive)

			got, next, err := f.st.ListAssigned(ctx, "u-1", []string{"legal", "ops"}, engine.Page{Size: 2})
			require.NoError(t, err)
			require.Equal(t, idsOf([]engine.Instance{toUser, toLegal}), idsOf(got))
			require.Equal(t, toLegal.ID, next)
			got, next, err = f.st.ListAssigned(ctx, "u-1", []string{"legal", "ops"}, engine.Page{Size: 2, After: next})
			require.NoError(t, err)
			require.Equal(t, idsOf([]engine.Instance{toOps}), idsOf(got))
			require.Empty(t, next)
			got, _, err = f.st.ListAssigned(ctx, "u-1", nil, engine.Page{Size: 10})
			require.NoError(t, err)
			require.Equal(t, idsOf([]engine.Instance{toUser}), idsOf(got), "without groups, the user's own")

			// Once it moves on, it is no longer assigned, but its past assignees took part.
			_, err = f.st.UpdateInstance(ctx, engine.Instance{ID: toLegal.ID, StateKey: "done", Status: engine.StatusCompleted,
				FormData: map[string]any{}, UpdatedAt: time.Now()}, toLegal.Revision,
				[]engine.Activity{
					{Kind: engine.ActivityAssigned, Assignee: &engine.Assignee{GroupID: "legal"}, CreatedAt: time.Now()},
					{Kind: engine.ActivityTransition, ActorID: "u-9", CreatedAt: time.Now()}},
				engine.Effects{})
			require.NoError(t, err)
			got, _, err = f.st.ListAssigned(ctx, "u-1", []string{"legal", "ops"}, engine.Page{Size: 10})
			require.NoError(t, err)
			require.Equal(t, idsOf([]engine.Instance{toUser, toOps}), idsOf(got))

			for _, tc := range []struct {
				user   string
				groups []string
				want   bool
			}{
				{"u-9", nil, true},                // acted
				{"u-3", []string{"legal"}, true},  // in a group it was assigned to
				{"u-3", []string{"sales"}, false}, // in another group
				{"u-1", []string{"ops"}, false},   // assigned other instances
				{"u-3", nil, false},
			} {
				took, err := f.st.TookPart(ctx, toLegal.ID, tc.user, tc.groups)
				require.NoError(t, err)
				require.Equal(t, tc.want, took, "%s %v", tc.user, tc.groups)
			}
		})
	}
}

// TestInstanceByRequest: a request id is the starter's: another starter's same id is another
// request; of racing starts with one request id, one is saved.
func TestInstanceByRequest(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			u2, err := f.st.CreateUser(ctx, engine.User{DisplayName: "Eve", Email: "eve@example.com", Roles: []engine.Role{engine.RoleUser}})
			require.NoError(t, err)
			_, err = f.st.InstanceByRequest(ctx, f.userID, "order-1")
			require.ErrorIs(t, err, engine.ErrNotFound)

			const n = 6
			errs := make([]error, n)
			ids := make([]string, n)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range n {
				wg.Go(func() {
					<-start
					now := time.Now()
					in := engine.Instance{ID: engine.NewIDAt(now), WorkflowID: f.workflowID, Version: 1, WorkflowName: "Contract",
						StateKey: "review", Status: engine.StatusActive, Revision: 1, StartedBy: f.userID, RequestID: "order-1",
						FormData: map[string]any{}, CreatedAt: now, UpdatedAt: now}
					ids[i] = in.ID
					_, errs[i] = f.st.CreateInstance(ctx, in, []engine.Activity{{Kind: engine.ActivityStarted, CreatedAt: now}},
						engine.Effects{Jobs: []engine.Job{engine.CreateWorkItemJob{WorkItemID: in.ID}}})
				})
			}
			close(start)
			wg.Wait()
			winner := ""
			for i, err := range errs {
				if err == nil {
					require.Empty(t, winner, "one start saved")
					winner = ids[i]
					continue
				}
				require.ErrorIs(t, err, engine.ErrDuplicateRequest)
			}
			require.NotEmpty(t, winner)
			require.Len(t, f.jobs.all(), 1, "the losers enqueued nothing")
			got, err := f.st.InstanceByRequest(ctx, f.userID, "order-1")
			require.NoError(t, err)
			require.Equal(t, winner, got.ID)
			require.Equal(t, "order-1", got.RequestID)

			_, err = f.st.InstanceByRequest(ctx, u2.ID, "order-1")
			require.ErrorIs(t, err, engine.ErrNotFound, "another starter's request")
			theirs := f.newInstance(t, time.Now(), func(in *engine.Instance) { in.StartedBy, in.RequestID = u2.ID, "order-1" })
			got, err = f.st.InstanceByRequest(ctx, u2.ID, "order-1")
			require.NoError(t, err)
			require.Equal(t, theirs.ID, got.ID)
		})
	}
}

// TestCurrentWorkItem: an instance's current work item is its newest; none is ErrNotFound.
func TestCurrentWorkItem(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			human := f.newInstance(t, time.Now(), nil)
			_, err := f.st.CurrentWorkItem(ctx, human.ID)
			require.ErrorIs(t, err, engine.ErrNotFound)
			// Read with its work item, an instance coupled to no system has none.
			read, err := f.st.InstanceWithWorkItem(ctx, human.ID)
			require.NoError(t, err)
			require.Nil(t, read.WorkItem)
			alone, err := f.st.GetInstance(ctx, human.ID)
			require.NoError(t, err)
			require.Equal(t, alone, read)
			_, err = f.st.InstanceWithWorkItem(ctx, engine.NewIDAt(time.Now()))
			require.ErrorIs(t, err, engine.ErrNotFound)

			inst, first := f.waiting(t, "", "")
			cur, err := f.st.CurrentWorkItem(ctx, inst.ID)
			require.NoError(t, err)
			require.Equal(t, first.ID, cur.ID)

			// It fails, is left, and the instance enters an EXTERNAL state again: a new work item.
			require.NoError(t, f.st.FailWorkItem(ctx, first.ID, "refused", engine.Activity{Kind: engine.ActivityFailed, CreatedAt: time.Now()}))
			failed, err := f.st.GetInstance(ctx, inst.ID)
			require.NoError(t, err)
			later := time.Now().Add(time.Second)
			again := failed
			again.Status, again.StateKey, again.EndedAt, again.UpdatedAt = engine.StatusWaitingExternal, "sign2", nil, later
			second := engine.WorkItem{ID: engine.NewIDAt(later), InstanceID: inst.ID, StateKey: "sign2", EnteredRevision: failed.Revision + 1,
				System: engine.System{Provider: "ONESPAN"}, Status: engine.WorkItemCreating, CreatedAt: later, UpdatedAt: later, Revision: 1}
			_, err = f.st.UpdateInstance(ctx, again, failed.Revision, nil, engine.Effects{NewWorkItems: []engine.WorkItem{second}})
			require.NoError(t, err)
			cur, err = f.st.CurrentWorkItem(ctx, inst.ID)
			require.NoError(t, err)
			require.Equal(t, second.ID, cur.ID)
			require.Equal(t, engine.System{Provider: "ONESPAN"}, cur.System)
			require.Equal(t, "sign2", cur.StateKey)
			// Read together, the instance and its newest work item are what the two reads give.
			read, err = f.st.InstanceWithWorkItem(ctx, inst.ID)
			require.NoError(t, err)
			require.NotNil(t, read.WorkItem)
			require.Equal(t, cur, *read.WorkItem)
			alone, err = f.st.GetInstance(ctx, inst.ID)
			require.NoError(t, err)
			read.WorkItem = nil
			require.Equal(t, alone, read)

			// A listing carries each instance's current work item, as GetInstance does.
			listed, _, _, err := f.st.ListInstances(ctx, engine.InstanceFilter{}, engine.Page{Size: 10})
			require.NoError(t, err)
			require.Len(t, listed, 2)
			byID := map[string]engine.Instance{listed[0].ID: listed[0], listed[1].ID: listed[1]}
			require.Nil(t, byID[human.ID].WorkItem)
			require.NotNil(t, byID[inst.ID].WorkItem)
			require.Equal(t, second.ID, byID[inst.ID].WorkItem.ID)
			require.Equal(t, engine.WorkItemCreating, byID[inst.ID].WorkItem.Status)

			// A coupled work item's nullable columns (its external id) are read, too.
			coupledInst, coupledItem := f.coupled(t, "env-read-together")
			read, err = f.st.InstanceWithWorkItem(ctx, coupledInst.ID)
			require.NoError(t, err)
			require.NotNil(t, read.WorkItem)
			require.Equal(t, coupledItem, *read.WorkItem)
			require.Equal(t, "env-read-together", read.WorkItem.ExternalID)
		})
	}
}

// TestListAssignedPages: the pages of "assigned to me", walked to the end at several sizes,
// are exactly the ACTIVE instances assigned to the user or one of the groups, oldest first,
// each once — with more per user and group than a page (PostgreSQL merges one ordered walk per
// user and group, each cut at the page), an instance assigned to the user and a group, and
// assigned instances that are not ACTIVE between them.
func TestListAssignedPages(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			base := time.Now().Add(-time.Hour)
			assignees := []engine.Assignee{{UserID: "u-1"}, {GroupID: "g-a"}, {GroupID: "g-b"}, {UserID: "u-2"},
				{GroupID: "g-x"}, {GroupID: "g-c"}, {UserID: "u-1", GroupID: "g-b"}}
			statuses := []engine.InstanceStatus{engine.StatusActive, engine.StatusActive, engine.StatusWaitingExternal, engine.StatusActive, engine.StatusCompleted}
			mine := func(a engine.Assignee) bool {
				return a.UserID == "u-1" || slices.Contains([]string{"g-a", "g-b", "g-c"}, a.GroupID)
			}
			var want []engine.Instance
			for i := range 40 {
				a, status := assignees[i%len(assignees)], statuses[i%len(statuses)]
				in := f.newInstance(t, base.Add(time.Duration(i)*time.Second), func(in *engine.Instance) {
					in.Assignee, in.Status = &a, status
				})
				if status == engine.StatusActive && mine(a) {
					want = append(want, in)
				}
			}
			require.Greater(t, len(want), 12, "more of each than a page of 3")
			for _, size := range []int{1, 3, 7, 50} {
				var got []engine.Instance
				after := ""
				for pages := 0; ; pages++ {
					require.Less(t, pages, 100, "the pages end")
					page, next, err := f.st.ListAssigned(ctx, "u-1", []string{"g-a", "g-b", "g-c"}, engine.Page{Size: size, After: after})
					require.NoError(t, err)
					require.LessOrEqual(t, len(page), size)
					got = append(got, page...)
					if next == "" {
						break
					}
					require.Equal(t, page[len(page)-1].ID, next)
					after = next
				}
				require.Equal(t, idsOf(want), idsOf(got), "page size %d", size)
			}
			for _, groups := range [][]string{nil, {}} {
				got, _, err := f.st.ListAssigned(ctx, "u-1", groups, engine.Page{Size: 50})
				require.NoError(t, err)
				for _, in := range got {
					require.Equal(t, "u-1", in.Assignee.UserID, "without groups, the user's own")
				}
				require.NotEmpty(t, got)
			}
			_, _, err := f.st.ListAssigned(ctx, "u-1", nil, engine.Page{Size: 5, After: "not-an-id"})
			var invalid *engine.ValidationError
			require.ErrorAs(t, err, &invalid, "a token this service did not issue")
		})
	}
}

// TestListsFailWhole: a list whose count and page run side by side (PostgreSQL) or one after
// the other (SQLite) fails as a whole when either cannot run — here a request already gone —
// with no page and no total; a token this service did not issue is refused before either runs.
func TestListsFailWhole(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			f.newInstance(t, time.Now().Add(-time.Minute), nil)
			gone, cancel := context.WithCancel(context.Background())
			cancel()

			page, next, total, err := f.st.ListInstances(gone, engine.InstanceFilter{}, engine.Page{Size: 10})
			require.Error(t, err)
			require.Empty(t, page)
			require.Empty(t, next)
			require.Equal(t, engine.Total{}, total)
			events, next, total, err := f.st.ListEvents(gone, engine.EventFilter{}, engine.Page{Size: 10})
			require.Error(t, err)
			require.Empty(t, events)
			require.Empty(t, next)
			require.Equal(t, engine.Total{}, total)

			ctx := context.Background()
			var invalid *engine.ValidationError
			_, _, _, err = f.st.ListInstances(ctx, engine.InstanceFilter{}, engine.Page{Size: 10, After: "not-a-token"})
			require.ErrorAs(t, err, &invalid)
			require.Equal(t, "page_token", invalid.Problems[0].Path)
			_, _, _, err = f.st.ListEvents(ctx, engine.EventFilter{}, engine.Page{Size: 10, After: "not-a-token"})
			require.ErrorAs(t, err, &invalid)
			require.Equal(t, "page_token", invalid.Problems[0].Path)

			// The same lists with a live request: both parts arrive.
			page, _, total, err = f.st.ListInstances(ctx, engine.InstanceFilter{}, engine.Page{Size: 10})
			require.NoError(t, err)
			require.Len(t, page, 1)
			require.Equal(t, engine.Total{N: 1}, total)
		})
	}
}
