package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/store"
)

// newStore opens a fresh database of the dialect with a sealer for secrets.
func newStore(t *testing.T, d store.Dialect) *store.Store {
	t.Helper()
	key, err := store.ParseSecretKey("c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0zMmJ5dGU=")
	require.NoError(t, err)
	sealer, err := store.NewSealer(key)
	require.NoError(t, err)
	return store.New(dbtest.Open(t, d)).WithSealer(sealer)
}

// Settings groups are listed by id prefix in id order, paged, and deleted one by one; their
// secrets come back opened.
func TestSettingsListAndDelete(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			st := newStore(t, d)
			ctx := context.Background()
			for _, id := range []string{"connector.b", "connector.a", "connector.c", "provider.docusign", "connectorx"} {
				_, err := st.PutSettings(ctx, engine.Settings{ID: id, Plain: map[string]any{"k": id}, Secrets: map[string]string{"s": "secret of " + id}}, 0)
				require.NoError(t, err)
			}
			page, total, err := st.ListSettings(ctx, "connector.", "", 2)
			require.NoError(t, err)
			require.EqualValues(t, 3, total)
			require.Len(t, page, 2)
			require.Equal(t, "connector.a", page[0].ID)
			require.Equal(t, "secret of connector.a", page[0].Secrets["s"])
			require.Equal(t, "connector.b", page[1].ID)
			rest, _, err := st.ListSettings(ctx, "connector.", page[1].ID, 2)
			require.NoError(t, err)
			require.Len(t, rest, 1)
			require.Equal(t, "connector.c", rest[0].ID)

			b, err := st.GetSettings(ctx, "connector.b")
			require.NoError(t, err)
			rev, at, err := st.SettingsRevision(ctx, "connector.b")
			require.NoError(t, err)
			require.EqualValues(t, 1, rev, "the revision alone, as GetSettings reads it")
			require.True(t, at.Equal(b.UpdatedAt), "the time it was saved, as GetSettings reads it: %s, %s", at, b.UpdatedAt)
			b, err = st.PutSettings(ctx, engine.Settings{ID: "connector.b", Plain: map[string]any{"k": "again"}}, 1)
			require.NoError(t, err)
			rev, at, err = st.SettingsRevision(ctx, "connector.b")
			require.NoError(t, err)
			require.EqualValues(t, 2, rev)
			require.True(t, at.Equal(b.UpdatedAt), "%s, %s", at, b.UpdatedAt)

			require.NoError(t, st.DeleteSettings(ctx, "connector.b"))
			require.ErrorIs(t, st.DeleteSettings(ctx, "connector.b"), engine.ErrNotFound)
			rev, at, err = st.SettingsRevision(ctx, "connector.b")
			require.NoError(t, err)
			require.Zero(t, rev, "a deleted group's revision is 0, as never saved")
			require.True(t, at.IsZero())
			gone, err := st.GetSettings(ctx, "connector.b")
			require.NoError(t, err)
			require.Zero(t, gone.Revision, "a deleted group reads as never saved")

			// Saved again after its delete: at revision 1 again, told apart by its time.
			first, err := st.PutSettings(ctx, engine.Settings{ID: "connector.d", Plain: map[string]any{"k": "staging"}}, 0)
			require.NoError(t, err)
			require.NoError(t, st.DeleteSettings(ctx, "connector.d"))
			again, err := st.PutSettings(ctx, engine.Settings{ID: "connector.d", Plain: map[string]any{"k": "production"}}, 0)
			require.NoError(t, err)
			rev, at, err = st.SettingsRevision(ctx, "connector.d")
			require.NoError(t, err)
			require.EqualValues(t, 1, rev, "a group saved again starts at revision 1 again")
			require.True(t, at.Equal(again.UpdatedAt), "%s, %s", at, again.UpdatedAt)
			require.False(t, at.Equal(first.UpdatedAt), "the revision alone does not tell the two apart; the time does")
			require.NoError(t, st.DeleteSettings(ctx, "connector.d"))
			_, total, err = st.ListSettings(ctx, "connector.", "", 10)
			require.NoError(t, err)
			require.EqualValues(t, 2, total)
		})
	}
}

// SystemUsage finds the published versions whose EXTERNAL states name a connector (searched in
// the stored JSON on each dialect) and the work items open at it.
func TestSystemUsage(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			st := newStore(t, d)
			ctx := context.Background()
			tickets := engine.System{Provider: "CONNECTOR", Connector: "tickets"}
			draft := func(connector string) engine.Draft {
				return engine.Draft{Name: "Uses " + connector, States: []engine.State{
					{Key: "start", Kind: engine.StateKindStart},
					{Key: "other", Kind: engine.StateKindExternal, External: &engine.ExternalStep{Provider: "CONNECTOR", Connector: "tickets-2"}},
					{Key: "ticket", Kind: engine.StateKindExternal, External: &engine.ExternalStep{Provider: "CONNECTOR", Connector: connector}},
					{Key: "done", Kind: engine.StateKindEnd},
				}}
			}
			publish := func(connector string) engine.Version {
				wf, err := st.CreateWorkflow(ctx, draft(connector))
				require.NoError(t, err)
				v, err := st.PublishVersion(ctx, wf.ID, 1, func(d engine.Draft) (engine.Draft, error) { return d, nil })
				require.NoError(t, err)
				return v
			}
			versions, open, err := st.SystemUsage(ctx, tickets)
			require.NoError(t, err)
			require.Empty(t, versions)
			require.Zero(t, open)

			publish("ticketing") // another connector, with a longer name
			used := publish("tickets")
			versions, _, err = st.SystemUsage(ctx, tickets)
			require.NoError(t, err)
			require.Equal(t, []string{used.WorkflowID + "/1"}, versions)

			// A work item being created at it is open; once failed, it is not.
			user, err := st.CreateUser(ctx, engine.User{DisplayName: "Bob", Email: "bob@example.com", Roles: []engine.Role{engine.RoleUser}})
			require.NoError(t, err)
			now := time.Now()
			inst := engine.Instance{ID: engine.NewIDAt(now), WorkflowID: used.WorkflowID, Version: 1, WorkflowName: "Uses tickets",
				StateKey: "ticket", Status: engine.StatusWaitingExternal, System: tickets, Revision: 1, StartedBy: user.ID,
				FormData: map[string]any{}, CreatedAt: now, UpdatedAt: now}
			wi := engine.WorkItem{ID: uuid.Must(uuid.NewV7()).String(), InstanceID: inst.ID, StateKey: "ticket", EnteredRevision: 1,
				System: tickets, Status: engine.WorkItemCreating, CreatedAt: now, UpdatedAt: now, Revision: 1}
			_, err = st.CreateInstance(ctx, inst, nil, engine.Effects{NewWorkItems: []engine.WorkItem{wi}})
			require.NoError(t, err)
			_, open, err = st.SystemUsage(ctx, tickets)
			require.NoError(t, err)
			require.Equal(t, 1, open)
			_, open, err = st.SystemUsage(ctx, engine.System{Provider: "CONNECTOR", Connector: "tickets-2"})
			require.NoError(t, err)
			require.Zero(t, open)
			require.NoError(t, st.FailWorkItem(ctx, wi.ID, "refused", engine.Activity{Kind: engine.ActivityFailed, CreatedAt: now}))
			_, open, err = st.SystemUsage(ctx, tickets)
			require.NoError(t, err)
			require.Zero(t, open)
		})
	}
}
