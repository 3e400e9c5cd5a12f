package api_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/config"
	"github.com/flowhook/flowhook/server/internal/store"
)

// pagedRPC is one RPC that pages, listed one item a page.
type pagedRPC struct {
	name string
	// list asks c for the page at token, with the RPC's filter (v 0) or another one (v 1).
	list func(c clients, token string, v int) (next string, total int64, err error)
	// filtered: the RPC has a filter that binds its tokens.
	filtered bool
	// add adds an item the listing counts; nil when the RPC reports no total_size.
	add func(t *testing.T)
}

// pageFixture holds a server with at least two items in every paged listing, and a second
// admin (another caller allowed everything).
type pageFixture struct {
	b     *testBundle
	other clients
	rpcs  []pagedRPC
}

func newPageFixture(t *testing.T, d store.Dialect) pageFixture {
	t.Helper()
	ctx := context.Background()
	b := setup(t, d)
	me, err := b.identity.WhoAmI(ctx, connect.NewRequest(&flowhookv1.WhoAmIRequest{}))
	require.NoError(t, err)
	u, err := b.identity.CreateUser(ctx, connect.NewRequest(&flowhookv1.CreateUserRequest{
		DisplayName: "Second admin", Email: "admin2@example.com", Roles: []flowhookv1.Role{flowhookv1.Role_ROLE_ADMIN}}))
	require.NoError(t, err)
	k, err := b.identity.CreateApiKey(ctx, connect.NewRequest(&flowhookv1.CreateApiKeyRequest{UserId: u.Msg.GetUser().GetId(), Name: "second"}))
	require.NoError(t, err)
	for _, id := range []string{me.Msg.GetUser().GetId(), u.Msg.GetUser().GetId()} {
		_, err = b.identity.AddGroupMember(ctx, connect.NewRequest(&flowhookv1.AddGroupMemberRequest{GroupId: b.legalGroupID, UserId: id}))
		require.NoError(t, err)
	}
	_, err = b.identity.CreateGroup(ctx, connect.NewRequest(&flowhookv1.CreateGroupRequest{Name: "finance"}))
	require.NoError(t, err)

	// Two workflows named pt-…, the first published twice.
	var wfIDs []string
	for _, name := range []string{"pt-a", "pt-b"} {
		wf, err := b.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: b.draft(name)}))
		require.NoError(t, err)
		wfIDs = append(wfIDs, wf.Msg.GetWorkflow().GetId())
	}
	_, err = b.design.PublishWorkflow(ctx, connect.NewRequest(&flowhookv1.PublishWorkflowRequest{WorkflowId: wfIDs[0], ExpectedRevision: 1}))
	require.NoError(t, err)
	_, err = b.design.UpdateWorkflow(ctx, connect.NewRequest(&flowhookv1.UpdateWorkflowRequest{WorkflowId: wfIDs[0], Workflow: b.draft("pt-a"), ExpectedRevision: 1}))
	require.NoError(t, err)
	_, err = b.design.PublishWorkflow(ctx, connect.NewRequest(&flowhookv1.PublishWorkflowRequest{WorkflowId: wfIDs[0], ExpectedRevision: 2}))
	require.NoError(t, err)

	// Instances waiting in legal's review (the callers are members), with their activity.
	start := func(t *testing.T) string {
		res, err := b.instances.StartInstance(ctx, connect.NewRequest(validStart(t, wfIDs[0])))
		require.NoError(t, err)
		return res.Msg.GetInstance().GetId()
	}
	first := start(t)
	start(t)
	_, err = b.instances.CancelInstance(ctx, connect.NewRequest(&flowhookv1.CancelInstanceRequest{InstanceId: first, Reason: "to have more activity"}))
	require.NoError(t, err)
	inst3 := start(t)
	start(t)

	// Connectors.
	connector := func(t *testing.T, name string) {
		_, err := b.settings.CreateConnector(ctx, connect.NewRequest(&flowhookv1.CreateConnectorRequest{
			Name: name, CreateUrl: "https://tickets.example.test/tickets"}))
		require.NoError(t, err)
	}
	connector(t, "pt-one")
	connector(t, "pt-two")

	// Events: with the debug option on, rejected notifications are kept.
	elSecurity(t, b.clients, true, 0, 0)
	event := func(t *testing.T) {
		require.Equal(t, 401, elPostForged(t, b, []byte(`{"event":"envelope-sent"}`)).status)
	}
	event(t)
	event(t)

	docusign := &flowhookv1.EventFilter{Provider: flowhookv1.Provider_PROVIDER_DOCUSIGN}
	rejected := &flowhookv1.EventFilter{Provider: flowhookv1.Provider_PROVIDER_DOCUSIGN, Verdict: flowhookv1.Verdict_VERDICT_REJECTED}
	byWorkflow := &flowhookv1.InstanceFilter{WorkflowId: wfIDs[0]}
	inReview := &flowhookv1.InstanceFilter{WorkflowId: wfIDs[0], StateKey: "review"}
	pick := func(v int, a, b string) string {
		if v == 0 {
			return a
		}
		return b
	}
	rpcs := []pagedRPC{
		{name: "ListWorkflows", filtered: true, list: func(c clients, token string, v int) (string, int64, error) {
			res, err := c.design.ListWorkflows(ctx, connect.NewRequest(&flowhookv1.ListWorkflowsRequest{PageSize: 1, PageToken: token, NameFilter: pick(v, "pt-", "pt-a")}))
			if err != nil {
				return "", 0, err
			}
			return res.Msg.GetNextPageToken(), res.Msg.GetTotalSize(), nil
		}, add: func(t *testing.T) {
			_, err := b.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: b.draft("pt-c")}))
			require.NoError(t, err)
		}},
		{name: "ListWorkflowVersions", filtered: true, list: func(c clients, token string, v int) (string, int64, error) {
			res, err := c.design.ListWorkflowVersions(ctx, connect.NewRequest(&flowhookv1.ListWorkflowVersionsRequest{PageSize: 1, PageToken: token, WorkflowId: wfIDs[v]}))
			if err != nil {
				return "", 0, err
			}
			return res.Msg.GetNextPageToken(), 0, nil
		}},
		{name: "ListInstances", filtered: true, list: func(c clients, token string, v int) (string, int64, error) {
			f := byWorkflow
			if v == 1 {
				f = inReview
			}
			res, err := c.instances.ListInstances(ctx, connect.NewRequest(&flowhookv1.ListInstancesRequest{PageSize: 1, PageToken: token, Filter: f}))
			if err != nil {
				return "", 0, err
			}
			return res.Msg.GetNextPageToken(), res.Msg.GetTotalSize(), nil
		}, add: func(t *testing.T) { start(t) }},
		{name: "ListAssignedToMe", list: func(c clients, token string, _ int) (string, int64, error) {
			res, err := c.instances.ListAssignedToMe(ctx, connect.NewRequest(&flowhookv1.ListAssignedToMeRequest{PageSize: 1, PageToken: token}))
			if err != nil {
				return "", 0, err
			}
			return res.Msg.GetNextPageToken(), 0, nil
		}},
		{name: "ListActivity", filtered: true, list: func(c clients, token string, v int) (string, int64, error) {
			res, err := c.instances.ListActivity(ctx, connect.NewRequest(&flowhookv1.ListActivityRequest{PageSize: 1, PageToken: token, InstanceId: pick(v, first, inst3)}))
			if err != nil {
				return "", 0, err
			}
			return res.Msg.GetNextPageToken(), 0, nil
		}},
		{name: "ListUsers", list: func(c clients, token string, _ int) (string, int64, error) {
			res, err := c.identity.ListUsers(ctx, connect.NewRequest(&flowhookv1.ListUsersRequest{PageSize: 1, PageToken: token}))
			if err != nil {
				return "", 0, err
			}
			return res.Msg.GetNextPageToken(), 0, nil
		}},
		{name: "ListGroups", list: func(c clients, token string, _ int) (string, int64, error) {
			res, err := c.identity.ListGroups(ctx, connect.NewRequest(&flowhookv1.ListGroupsRequest{PageSize: 1, PageToken: token}))
			if err != nil {
				return "", 0, err
			}
			return res.Msg.GetNextPageToken(), 0, nil
		}},
		{name: "ListConnectors", list: func(c clients, token string, _ int) (string, int64, error) {
			res, err := c.settings.ListConnectors(ctx, connect.NewRequest(&flowhookv1.ListConnectorsRequest{PageSize: 1, PageToken: token}))
			if err != nil {
				return "", 0, err
			}
			return res.Msg.GetNextPageToken(), res.Msg.GetTotalSize(), nil
		}, add: func(t *testing.T) { connector(t, "pt-three") }},
		{name: "ListEvents", filtered: true, list: func(c clients, token string, v int) (string, int64, error) {
			f := docusign
			if v == 1 {
				f = rejected
			}
			res, err := c.eventLog.ListEvents(ctx, connect.NewRequest(&flowhookv1.ListEventsRequest{PageSize: 1, PageToken: token, Filter: f}))
			if err != nil {
				return "", 0, err
			}
			return res.Msg.GetNextPageToken(), res.Msg.GetTotalSize(), nil
		}, add: event},
	}
	return pageFixture{b: b, other: b.as(k.Msg.GetSecret()), rpcs: rpcs}
}

// requirePageTokenRefused asserts err is InvalidArgument about page_token, saying want.
func requirePageTokenRefused(t *testing.T, err error, want string) {
	t.Helper()
	ps := problems(t, requireCode(t, err, connect.CodeInvalidArgument))
	require.Contains(t, ps, "page_token")
	require.Contains(t, ps["page_token"], want)
}

// Page tokens are bound to their RPC, filter and caller and cannot be edited, on every RPC
// that pages; total_size is counted on every page.
func TestPageTokens(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		f := newPageFixture(t, d)
		tokens := make([]string, len(f.rpcs))
		for i, rpc := range f.rpcs {
			next, _, err := rpc.list(f.b.clients, "", 0)
			require.NoError(t, err, rpc.name)
			require.NotEmpty(t, next, "%s has a second page", rpc.name)
			tokens[i] = next
			// Honoured as issued.
			_, _, err = rpc.list(f.b.clients, next, 0)
			require.NoError(t, err, rpc.name)
		}
		for i, rpc := range f.rpcs {
			t.Run(rpc.name, func(t *testing.T) {
				token := tokens[i]
				// Another RPC's token.
				_, _, err := rpc.list(f.b.clients, tokens[(i+1)%len(tokens)], 0)
				requirePageTokenRefused(t, err, "another RPC")
				// Another caller, allowed to list the same.
				_, _, err = rpc.list(f.other, token, 0)
				requirePageTokenRefused(t, err, "another caller")
				if rpc.filtered {
					_, _, err = rpc.list(f.b.clients, token, 1)
					requirePageTokenRefused(t, err, "another filter")
				}
				// Edited by hand: one flipped bit anywhere, cut short, made up.
				raw, err := base64.RawURLEncoding.DecodeString(token)
				require.NoError(t, err)
				for _, at := range []int{0, 1, 9, len(raw) / 2, len(raw) - 33, len(raw) - 1} {
					edited := append([]byte(nil), raw...)
					edited[at] ^= 0x01
					_, _, err = rpc.list(f.b.clients, base64.RawURLEncoding.EncodeToString(edited), 0)
					requirePageTokenRefused(t, err, "not a token")
				}
				for _, bad := range []string{token[:len(token)-1], token[:len(token)/2], token + "A",
					`{"a":"x","f":"<nil>"}`, base64.RawURLEncoding.EncodeToString([]byte(`{"a":"x","f":"<nil>"}`))} {
					_, _, err = rpc.list(f.b.clients, bad, 0)
					requirePageTokenRefused(t, err, "not a token")
				}
			})
		}
		// total_size is the server's count on every page: rows added between two pages count.
		for _, rpc := range f.rpcs {
			if rpc.add == nil {
				continue
			}
			t.Run(rpc.name+"/total", func(t *testing.T) {
				next, total, err := rpc.list(f.b.clients, "", 0)
				require.NoError(t, err)
				require.Positive(t, total)
				rpc.add(t)
				_, total2, err := rpc.list(f.b.clients, next, 0)
				require.NoError(t, err)
				require.Equal(t, total+1, total2, fmt.Sprintf("%s counts on page 2", rpc.name))
			})
		}
	})
}

// A token issued by one replica is honoured by another: the key is the same on both, derived
// from the secret key or, without one, kept in the database.
func TestPageTokensAcrossReplicas(t *testing.T) {
	t.Parallel()
	for _, secret := range []string{"derived", "kept in the database"} {
		t.Run(secret, func(t *testing.T) {
			t.Parallel()
			b := setupWith(t, store.Postgres, nil, func(c *config.Config) {
				if secret != "derived" {
					c.SecretKey = ""
				}
			})
			r := b.replica(t)
			ctx := context.Background()
			_, err := b.identity.CreateGroup(ctx, connect.NewRequest(&flowhookv1.CreateGroupRequest{Name: "finance"}))
			require.NoError(t, err)
			res, err := b.identity.ListGroups(ctx, connect.NewRequest(&flowhookv1.ListGroupsRequest{PageSize: 1}))
			require.NoError(t, err)
			require.NotEmpty(t, res.Msg.GetNextPageToken())
			second, err := r.identity.ListGroups(ctx, connect.NewRequest(&flowhookv1.ListGroupsRequest{PageSize: 1, PageToken: res.Msg.GetNextPageToken()}))
			require.NoError(t, err)
			require.Len(t, second.Msg.GetGroups(), 1)
			require.NotEqual(t, res.Msg.GetGroups()[0].GetId(), second.Msg.GetGroups()[0].GetId())
		})
	}
}
