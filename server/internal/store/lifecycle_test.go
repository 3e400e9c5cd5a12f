package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/store"
)

// requireHead: VersionHead reads what GetVersion reads but the definition, for the latest
// version and a numbered one, archived or not; ErrNotFound for a version or workflow that does
// not exist.
func requireHead(t *testing.T, st *store.Store, id string) {
	t.Helper()
	ctx := context.Background()
	for _, n := range []int32{0, 1} {
		full, err := st.GetVersion(ctx, id, n)
		require.NoError(t, err)
		require.NotEmpty(t, full.Definition.Name)
		head, err := st.VersionHead(ctx, id, n)
		require.NoError(t, err)
		full.Definition = engine.Draft{}
		require.Equal(t, full, head)
	}
	_, err := st.VersionHead(ctx, id, 2)
	require.ErrorIs(t, err, engine.ErrNotFound)
	_, err = st.VersionHead(ctx, uuid.NewString(), 0)
	require.ErrorIs(t, err, engine.ErrNotFound)
}

// TestArchiveWorkflow: archiving sets archived_at once (a repeat changes nothing) and leaves
// the revision alone; ListWorkflows leaves archived workflows out, in its pages and its total,
// unless asked; GetWorkflow and GetVersion (and VersionHead) still read them, saying archived.
func TestArchiveWorkflow(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			st := newStore(t, d)
			ctx := context.Background()
			var ids []string
			for i := range 4 {
				wf, err := st.CreateWorkflow(ctx, engine.Draft{Name: fmt.Sprintf("Workflow %d", i)})
				require.NoError(t, err)
				ids = append(ids, wf.ID)
			}
			_, err := st.PublishVersion(ctx, ids[1], 1, func(d engine.Draft) (engine.Draft, error) { return d, nil })
			require.NoError(t, err)
			v, err := st.GetVersion(ctx, ids[1], 0)
			require.NoError(t, err)
			require.False(t, v.WorkflowArchived)

			archived, err := st.SetArchived(ctx, ids[1], true)
			require.NoError(t, err)
			require.NotNil(t, archived.ArchivedAt)
			require.Equal(t, int64(1), archived.Revision, "archiving is not a change of the draft")
			again, err := st.SetArchived(ctx, ids[1], true)
			require.NoError(t, err)
			require.Equal(t, archived, again, "archiving twice changes nothing")
			got, err := st.GetWorkflow(ctx, ids[1])
			require.NoError(t, err)
			require.Equal(t, archived, got)
			v, err = st.GetVersion(ctx, ids[1], 0)
			require.NoError(t, err)
			require.True(t, v.WorkflowArchived)
			v, err = st.GetVersion(ctx, ids[1], 1)
			require.NoError(t, err)
			require.True(t, v.WorkflowArchived)
			requireHead(t, st, ids[1])

			// Archived workflows are left out of every page and of the total.
			var listed []string
			after := ""
			for {
				page, next, total, err := st.ListWorkflows(ctx, engine.WorkflowFilter{}, engine.Page{Size: 2, After: after})
				require.NoError(t, err)
				require.Equal(t, int64(3), total)
				for _, wf := range page {
					listed = append(listed, wf.ID)
				}
				if next == "" {
					break
				}
				after = next
			}
			require.Equal(t, []string{ids[0], ids[2], ids[3]}, listed)
			all, _, total, err := st.ListWorkflows(ctx, engine.WorkflowFilter{IncludeArchived: true}, engine.Page{Size: 10})
			require.NoError(t, err)
			require.Equal(t, int64(4), total)
			require.Len(t, all, 4)
			require.NotNil(t, all[1].ArchivedAt)
			named, _, total, err := st.ListWorkflows(ctx, engine.WorkflowFilter{NameContains: "workflow 1"}, engine.Page{Size: 10})
			require.NoError(t, err)
			require.Empty(t, named)
			require.Zero(t, total)

			un, err := st.SetArchived(ctx, ids[1], false)
			require.NoError(t, err)
			require.Nil(t, un.ArchivedAt)
			again, err = st.SetArchived(ctx, ids[1], false)
			require.NoError(t, err)
			require.Equal(t, un, again)
			_, _, total, err = st.ListWorkflows(ctx, engine.WorkflowFilter{}, engine.Page{Size: 10})
			require.NoError(t, err)
			require.Equal(t, int64(4), total)
			v, err = st.GetVersion(ctx, ids[1], 0)
			require.NoError(t, err)
			require.False(t, v.WorkflowArchived)
			requireHead(t, st, ids[1])

			for _, id := range []string{uuid.NewString(), "not-a-uuid"} {
				_, err = st.SetArchived(ctx, id, true)
				require.ErrorIs(t, err, engine.ErrNotFound, id)
			}
		})
	}
}

// createAdmin creates an admin (with the other roles) and a working API key of its.
func createAdmin(t *testing.T, st *store.Store, name string, roles ...engine.Role) engine.User {
	t.Helper()
	u := createUser(t, st, name, append([]engine.Role{engine.RoleAdmin}, roles...)...)
	_, err := st.CreateAPIKey(context.Background(), engine.APIKey{UserID: u.ID, Name: "k", Prefix: "fh_" + name, Hash: "hash-admin-" + name})
	require.NoError(t, err)
	return u
}

// TestLastAdminKey: the service keeps an active admin with a working key. The last unrevoked
// key of every active admin cannot be revoked, nor the last admin with a key deactivated (an
// admin without keys does not count); any other key can; and two admins revoking each other's
// only keys at once cannot both succeed.
func TestLastAdminKey(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			st := newStore(t, d)
			ctx := context.Background()
			at := time.Now()
			ann := createUser(t, st, "ann", engine.RoleAdmin)
			k1, err := st.CreateAPIKey(ctx, engine.APIKey{UserID: ann.ID, Name: "one", Prefix: "fh_ann1", Hash: "hash-ann-1"})
			require.NoError(t, err)
			_, err = st.RevokeAPIKey(ctx, k1.ID, at)
			require.ErrorIs(t, err, engine.ErrLastAdminKey)
			require.ErrorIs(t, err, engine.ErrFailedPrecondition)
			got, err := st.GetAPIKey(ctx, k1.ID)
			require.NoError(t, err)
			require.Nil(t, got.RevokedAt, "still working")

			k2, err := st.CreateAPIKey(ctx, engine.APIKey{UserID: ann.ID, Name: "two", Prefix: "fh_ann2", Hash: "hash-ann-2"})
			require.NoError(t, err)
			revoked, err := st.RevokeAPIKey(ctx, k1.ID, at)
			require.NoError(t, err, "ann keeps another key")
			require.NotNil(t, revoked.RevokedAt)
			again, err := st.RevokeAPIKey(ctx, k1.ID, at.Add(time.Hour))
			require.NoError(t, err, "a revoked key revoked again changes nothing")
			require.Equal(t, revoked.RevokedAt, again.RevokedAt)
			_, err = st.RevokeAPIKey(ctx, k2.ID, at)
			require.ErrorIs(t, err, engine.ErrLastAdminKey)

			// A second admin without keys keeps nobody able to administer.
			ben := createUser(t, st, "ben", engine.RoleAdmin)
			_, err = st.RevokeAPIKey(ctx, k2.ID, at)
			require.ErrorIs(t, err, engine.ErrLastAdminKey)
			_, err = st.SetDeactivated(ctx, ann.ID, true)
			require.ErrorIs(t, err, engine.ErrLastAdmin, "ben has no key")
			kb, err := st.CreateAPIKey(ctx, engine.APIKey{UserID: ben.ID, Name: "k", Prefix: "fh_ben", Hash: "hash-ben"})
			require.NoError(t, err)
			_, err = st.RevokeAPIKey(ctx, k2.ID, at)
			require.NoError(t, err, "ben has a key")
			_, err = st.RevokeAPIKey(ctx, kb.ID, at)
			require.ErrorIs(t, err, engine.ErrLastAdminKey, "ann has none left")

			// A user's keys, admin or not, go freely while an admin keeps one.
			carl := createUser(t, st, "carl", engine.RoleUser)
			kc, err := st.CreateAPIKey(ctx, engine.APIKey{UserID: carl.ID, Name: "k", Prefix: "fh_carl", Hash: "hash-carl"})
			require.NoError(t, err)
			_, err = st.RevokeAPIKey(ctx, kc.ID, at)
			require.NoError(t, err)

			_, err = st.RevokeAPIKey(ctx, uuid.NewString(), at)
			require.ErrorIs(t, err, engine.ErrNotFound)
			// A deactivated admin's key is no admin's working key: it goes freely.
			k3, err := st.CreateAPIKey(ctx, engine.APIKey{UserID: ann.ID, Name: "three", Prefix: "fh_ann3", Hash: "hash-ann-3"})
			require.NoError(t, err)
			_, err = st.SetDeactivated(ctx, ann.ID, true)
			require.NoError(t, err, "ben has a key")
			_, err = st.RevokeAPIKey(ctx, k3.ID, at)
			require.NoError(t, err)
			_, err = st.SetDeactivated(ctx, ann.ID, false)
			require.NoError(t, err)
			_, err = st.ListAPIKeys(ctx, uuid.NewString())
			require.ErrorIs(t, err, engine.ErrNotFound, "no such user")
			none, err := st.ListAPIKeys(ctx, createUser(t, st, "dora", engine.RoleUser).ID)
			require.NoError(t, err, "a user without keys")
			require.Empty(t, none)

			// Two admins, each with one key, revoke each other's at once: one wins.
			for round := range 5 {
				a := createAdmin(t, st, fmt.Sprintf("ra%d", round))
				b := createAdmin(t, st, fmt.Sprintf("rb%d", round))
				deactivateAllBut(t, st, a.ID, b.ID)
				var ids []string
				for _, u := range []string{a.ID, b.ID} {
					keys, err := st.ListAPIKeys(ctx, u)
					require.NoError(t, err)
					ids = append(ids, keys[0].ID)
				}
				oneWins(t, ids, engine.ErrLastAdminKey, func(id string) error { _, err := st.RevokeAPIKey(ctx, id, at); return err })
			}
		})
	}
}

func createUser(t *testing.T, st *store.Store, name string, roles ...engine.Role) engine.User {
	t.Helper()
	u, err := st.CreateUser(context.Background(), engine.User{DisplayName: name, Email: name + "@example.com", Roles: roles})
	require.NoError(t, err)
	return u
}

// TestListPublished: the latest version of each published, unarchived workflow, oldest workflow
// first, read with its versions in one query per page; drafts never published and archived
// workflows are left out of the pages and of the total.
func TestListPublished(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			st := newStore(t, d)
			ctx := context.Background()
			publish := func(id string, rev int64) {
				t.Helper()
				_, err := st.PublishVersion(ctx, id, rev, func(d engine.Draft) (engine.Draft, error) { return d, nil })
				require.NoError(t, err)
			}
			var ids []string
			for i, name := range []string{"Expense claim", "Draft only", "Contract signing", "Archived claim", "Leave request"} {
				wf, err := st.CreateWorkflow(ctx, engine.Draft{Name: name, Description: fmt.Sprintf("workflow %d", i)})
				require.NoError(t, err)
				ids = append(ids, wf.ID)
				if name != "Draft only" {
					publish(wf.ID, 1)
				}
			}
			// A second version of the first, published under a new name; then a newer draft
			// that is not published: the listing shows version 2 as published.
			_, err := st.UpdateWorkflow(ctx, ids[0], engine.Draft{Name: "Expense claim v2", Description: "second"}, 1)
			require.NoError(t, err)
			publish(ids[0], 2)
			_, err = st.UpdateWorkflow(ctx, ids[0], engine.Draft{Name: "Unpublished rename"}, 2)
			require.NoError(t, err)
			_, err = st.SetArchived(ctx, ids[3], true)
			require.NoError(t, err)

			got, next, total, err := st.ListPublished(ctx, engine.WorkflowFilter{}, engine.Page{Size: 10})
			require.NoError(t, err)
			require.Empty(t, next)
			require.EqualValues(t, 3, total)
			require.Len(t, got, 3)
			require.Equal(t, []string{ids[0], ids[2], ids[4]}, []string{got[0].WorkflowID, got[1].WorkflowID, got[2].WorkflowID})
			require.Equal(t, int32(2), got[0].Version)
			require.Equal(t, "Expense claim v2", got[0].Definition.Name)
			require.Equal(t, "second", got[0].Definition.Description)
			require.Equal(t, int32(1), got[1].Version)
			require.Equal(t, "Contract signing", got[1].Definition.Name)

			// Pages, each with the total; the name filter; an archived workflow is back when
			// unarchived.
			page1, next, total, err := st.ListPublished(ctx, engine.WorkflowFilter{}, engine.Page{Size: 2})
			require.NoError(t, err)
			require.EqualValues(t, 3, total)
			require.Len(t, page1, 2)
			require.Equal(t, ids[2], next)
			page2, next, _, err := st.ListPublished(ctx, engine.WorkflowFilter{}, engine.Page{Size: 2, After: next})
			require.NoError(t, err)
			require.Empty(t, next)
			require.Len(t, page2, 1)
			require.Equal(t, ids[4], page2[0].WorkflowID)
			named, _, total, err := st.ListPublished(ctx, engine.WorkflowFilter{NameContains: "CLAIM"}, engine.Page{Size: 10})
			require.NoError(t, err)
			require.EqualValues(t, 0, total, "the filter matches the workflow's own name (now \"Unpublished rename\"); the archived claim is left out")
			require.Empty(t, named)
			_, err = st.SetArchived(ctx, ids[3], false)
			require.NoError(t, err)
			named, _, total, err = st.ListPublished(ctx, engine.WorkflowFilter{NameContains: "claim", IncludeArchived: true}, engine.Page{Size: 10})
			require.NoError(t, err)
			require.EqualValues(t, 1, total)
			require.Equal(t, ids[3], named[0].WorkflowID)
			_, _, _, err = st.ListPublished(ctx, engine.WorkflowFilter{}, engine.Page{Size: 2, After: "x"})
			_, invalid := engine.IsValidation(err)
			require.True(t, invalid, "%v", err)
		})
	}
}

// TestDeactivateUser: deactivation sets deactivated_at once and reactivation clears it, both
// idempotent; the key lookup the authenticator makes sees it; the last active admin stays.
func TestDeactivateUser(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			st := newStore(t, d)
			ctx := context.Background()
			ann := createAdmin(t, st, "ann")
			ben := createAdmin(t, st, "ben", engine.RoleUser)
			carl := createUser(t, st, "carl", engine.RoleUser)
			_, err := st.CreateAPIKey(ctx, engine.APIKey{UserID: carl.ID, Name: "k", Prefix: "fh_carl", Hash: "hash-carl"})
			require.NoError(t, err)

			off, err := st.SetDeactivated(ctx, carl.ID, true)
			require.NoError(t, err)
			require.NotNil(t, off.DeactivatedAt)
			again, err := st.SetDeactivated(ctx, carl.ID, true)
			require.NoError(t, err)
			require.Equal(t, off, again, "the first deactivation's time stands")
			_, u, err := st.APIKeyByHash(ctx, "hash-carl")
			require.NoError(t, err)
			require.Equal(t, off.DeactivatedAt, u.DeactivatedAt, "the key's user says deactivated")
			users, _, err := st.ListUsers(ctx, engine.Page{Size: 10})
			require.NoError(t, err)
			require.Len(t, users, 3)
			for _, u := range users {
				require.Equal(t, u.ID == carl.ID, u.DeactivatedAt != nil, u.DisplayName)
			}

			on, err := st.SetDeactivated(ctx, carl.ID, false)
			require.NoError(t, err)
			require.Nil(t, on.DeactivatedAt)
			again, err = st.SetDeactivated(ctx, carl.ID, false)
			require.NoError(t, err)
			require.Equal(t, on, again)
			_, u, err = st.APIKeyByHash(ctx, "hash-carl")
			require.NoError(t, err)
			require.Nil(t, u.DeactivatedAt)

			// Two admins: one may go, not the other.
			_, err = st.SetDeactivated(ctx, ann.ID, true)
			require.NoError(t, err)
			_, err = st.SetDeactivated(ctx, ben.ID, true)
			require.ErrorIs(t, err, engine.ErrLastAdmin)
			require.ErrorIs(t, err, engine.ErrFailedPrecondition)
			got, err := st.GetUser(ctx, ben.ID)
			require.NoError(t, err)
			require.Nil(t, got.DeactivatedAt)
			_, err = st.SetDeactivated(ctx, ann.ID, false)
			require.NoError(t, err)
			_, err = st.SetDeactivated(ctx, ben.ID, true)
			require.NoError(t, err, "with ann back, ben may go")

			for _, id := range []string{uuid.NewString(), "not-a-uuid"} {
				_, err = st.SetDeactivated(ctx, id, true)
				require.ErrorIs(t, err, engine.ErrNotFound, id)
				_, err = st.SetDeactivated(ctx, id, false)
				require.ErrorIs(t, err, engine.ErrNotFound, id)
			}
		})
	}
}

// TestDeactivateAdminsRace: two admins, the only ones, deactivate each other at once, over
// and over: exactly one succeeds each time, never both.
func TestDeactivateAdminsRace(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			st := newStore(t, d)
			ctx := context.Background()
			for round := range 5 {
				a := createAdmin(t, st, fmt.Sprintf("a%d", round))
				b := createAdmin(t, st, fmt.Sprintf("b%d", round))
				if round > 0 {
					// Only a and b are active admins this round.
					deactivateAllBut(t, st, a.ID, b.ID)
				}
				oneWins(t, []string{a.ID, b.ID}, engine.ErrLastAdmin, func(id string) error { _, err := st.SetDeactivated(ctx, id, true); return err })
			}
		})
	}
}

// oneWins runs do for each id at once and requires exactly one to succeed and the others to
// be refused with refused.
func oneWins(t *testing.T, ids []string, refused error, do func(id string) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(ids))
	for i, id := range ids {
		wg.Go(func() { errs[i] = do(id) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else {
			require.ErrorIs(t, err, refused)
		}
	}
	require.Equal(t, 1, ok, "exactly one of %d at once wins", len(ids))
}

// deactivateAllBut leaves only the given users active (the admins of earlier rounds go).
func deactivateAllBut(t *testing.T, st *store.Store, keep ...string) {
	t.Helper()
	ctx := context.Background()
	users, _, err := st.ListUsers(ctx, engine.Page{Size: 100})
	require.NoError(t, err)
	for _, u := range users {
		if u.ID != keep[0] && u.ID != keep[1] && u.DeactivatedAt == nil {
			_, err := st.SetDeactivated(ctx, u.ID, true)
			require.NoError(t, err)
		}
	}
}

// TestListInstancesAssigneeInactive: the filter lists the ACTIVE instances assigned personally
// to a deactivated user, with their total, combined with the other filters and paged.
func TestListInstancesAssigneeInactive(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			dora := createUser(t, f.st, "dora", engine.RoleUser)
			to := func(a engine.Assignee) func(in *engine.Instance) {
				return func(in *engine.Instance) { in.Assignee = &a }
			}
			base := time.Now().Add(-time.Hour)
			first := f.newInstance(t, base, to(engine.Assignee{UserID: dora.ID}))
			f.newInstance(t, base.Add(time.Second), to(engine.Assignee{UserID: f.userID}))
			f.newInstance(t, base.Add(2*time.Second), to(engine.Assignee{GroupID: uuid.NewString()}))
			f.newInstance(t, base.Add(3*time.Second), func(in *engine.Instance) {
				in.Status, in.Assignee = engine.StatusCancelled, &engine.Assignee{UserID: dora.ID}
			})
			second := f.newInstance(t, base.Add(4*time.Second), to(engine.Assignee{UserID: dora.ID}))
			inactive := engine.InstanceFilter{AssigneeInactive: true}

			list, _, total, err := f.st.ListInstances(ctx, inactive, engine.Page{Size: 10})
			require.NoError(t, err)
			require.Empty(t, list, "nobody is deactivated yet")
			require.Zero(t, total)

			_, err = f.st.SetDeactivated(ctx, dora.ID, true)
			require.NoError(t, err)
			page1, next, total, err := f.st.ListInstances(ctx, inactive, engine.Page{Size: 1})
			require.NoError(t, err)
			require.Equal(t, engine.Total{N: 2}, total)
			require.Equal(t, []string{second.ID}, idsOf(page1), "newest first")
			require.NotEmpty(t, next)
			page2, next, total, err := f.st.ListInstances(ctx, inactive, engine.Page{Size: 1, After: next})
			require.NoError(t, err)
			require.Equal(t, engine.Total{N: 2}, total)
			require.Equal(t, []string{first.ID}, idsOf(page2))
			require.Empty(t, next)

			narrowed := inactive
			narrowed.CreatedBefore = base.Add(2 * time.Second)
			list, _, total, err = f.st.ListInstances(ctx, narrowed, engine.Page{Size: 10})
			require.NoError(t, err)
			require.Equal(t, []string{first.ID}, idsOf(list), "with another filter")
			require.Equal(t, engine.Total{N: 1}, total)
			narrowed = inactive
			narrowed.WorkflowID = uuid.NewString()
			list, _, total, err = f.st.ListInstances(ctx, narrowed, engine.Page{Size: 10})
			require.NoError(t, err)
			require.Empty(t, list)
			require.Zero(t, total)

			_, err = f.st.SetDeactivated(ctx, dora.ID, false)
			require.NoError(t, err)
			list, _, total, err = f.st.ListInstances(ctx, inactive, engine.Page{Size: 10})
			require.NoError(t, err)
			require.Empty(t, list)
			require.Zero(t, total)
		})
	}
}

// TestNameFilterFoldsEveryScript: the name filter ignores case in any script on both
// databases (SQLite's lower() and LIKE fold ASCII only: "änderung" did not find
// "Änderungsantrag" there), and takes LIKE's wildcards as the letters they are.
func TestNameFilterFoldsEveryScript(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			st := newStore(t, d)
			ctx := context.Background()
			names := map[string]string{}
			for _, name := range []string{"Änderungsantrag", "ÉTÉ 100% payé", "Ordinary"} {
				wf, err := st.CreateWorkflow(ctx, engine.Draft{Name: name})
				require.NoError(t, err)
				_, err = st.PublishVersion(ctx, wf.ID, 1, func(d engine.Draft) (engine.Draft, error) { return d, nil })
				require.NoError(t, err)
				names[wf.ID] = name
			}
			found := func(list func(engine.WorkflowFilter) ([]string, int64), filter string) []string {
				t.Helper()
				ids, total := list(engine.WorkflowFilter{NameContains: filter})
				require.EqualValues(t, len(ids), total, filter)
				return mapped(ids, func(id string) string { return names[id] })
			}
			lists := map[string]func(engine.WorkflowFilter) ([]string, int64){
				"ListWorkflows": func(f engine.WorkflowFilter) ([]string, int64) {
					page, _, total, err := st.ListWorkflows(ctx, f, engine.Page{Size: 10})
					require.NoError(t, err)
					return mapped(page, func(wf engine.Workflow) string { return wf.ID }), total
				},
				"ListPublished": func(f engine.WorkflowFilter) ([]string, int64) {
					page, _, total, err := st.ListPublished(ctx, f, engine.Page{Size: 10})
					require.NoError(t, err)
					return mapped(page, func(v engine.Version) string { return v.WorkflowID }), total
				},
			}
			for name, list := range lists {
				require.Equal(t, []string{"Änderungsantrag"}, found(list, "änderung"), name)
				require.Equal(t, []string{"Änderungsantrag"}, found(list, "ÄNDERUNGSANTRAG"), name)
				require.Equal(t, []string{"ÉTÉ 100% payé"}, found(list, "été 100% PAYÉ"), name)
				require.Empty(t, found(list, "0%p"), name)
				require.Empty(t, found(list, "_"), name)
				require.Equal(t, []string{"Ordinary"}, found(list, "ORDIN"), name)
			}
		})
	}
}

// mapped is f of each of in, in order (nil for none).
func mapped[T any](in []T, f func(T) string) []string {
	var out []string
	for _, v := range in {
		out = append(out, f(v))
	}
	return out
}
