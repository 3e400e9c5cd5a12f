package client_test

import (
	"context"
	"fmt"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/flowhook/flowhook/client"
	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/flowhooktest"
)

// TestPages walks a real listing: every page, in order, each asked for only when the loop goes
// on; from a kept token; with the errors a walk can meet.
func TestPages(t *testing.T) {
	t.Parallel()
	srv := flowhooktest.Start(t)
	ctx := t.Context()
	c := client.New(nil, srv.URL, srv.AdminKey)
	var made []string
	for i := range 7 {
		g, err := c.Identity.CreateGroup(ctx, connect.NewRequest(&flowhookv1.CreateGroupRequest{Name: fmt.Sprintf("paged-%d", i)}))
		require.NoError(t, err)
		made = append(made, g.Msg.GetGroup().GetId())
	}
	calls := 0
	counted := func(ctx context.Context, req *connect.Request[flowhookv1.ListGroupsRequest]) (*connect.Response[flowhookv1.ListGroupsResponse], error) {
		calls++
		return c.Identity.ListGroups(ctx, req)
	}

	req := &flowhookv1.ListGroupsRequest{PageSize: 3}
	var seen []string
	for page, err := range client.Pages(ctx, counted, req) {
		require.NoError(t, err)
		require.LessOrEqual(t, len(page.GetGroups()), 3)
		for _, g := range page.GetGroups() {
			seen = append(seen, g.GetId())
		}
	}
	require.Equal(t, made, seen, "every group once, in order (only these groups exist)")
	require.Equal(t, 3, calls, "7 groups in pages of 3")
	require.True(t, proto.Equal(&flowhookv1.ListGroupsRequest{PageSize: 3}, req), "the request is not modified")

	var flat []string
	for g, err := range client.Items(ctx, c.Identity.ListGroups, req, (*flowhookv1.ListGroupsResponse).GetGroups) {
		require.NoError(t, err)
		flat = append(flat, g.GetId())
	}
	require.Equal(t, seen, flat)

	calls = 0
	for page, err := range client.Pages(ctx, counted, req) {
		require.NoError(t, err)
		require.Len(t, page.GetGroups(), 3)
		break
	}
	require.Equal(t, 1, calls, "a break asks for no further page")

	// From a kept token: the rest.
	first, err := c.Identity.ListGroups(ctx, connect.NewRequest(req))
	require.NoError(t, err)
	var rest []string
	for g, err := range client.Items(ctx, c.Identity.ListGroups, &flowhookv1.ListGroupsRequest{PageSize: 3, PageToken: first.Msg.GetNextPageToken()}, (*flowhookv1.ListGroupsResponse).GetGroups) {
		require.NoError(t, err)
		rest = append(rest, g.GetId())
	}
	require.Equal(t, seen[3:], rest)

	// A failed call is yielded once, and ends the walk.
	walk := func(ctx context.Context, req *flowhookv1.ListGroupsRequest) (pages int, errs []error) {
		for _, err := range client.Pages(ctx, c.Identity.ListGroups, req) {
			if err != nil {
				errs = append(errs, err)
				continue
			}
			pages++
		}
		return pages, errs
	}
	pages, errs := walk(ctx, &flowhookv1.ListGroupsRequest{PageToken: "not a token"})
	require.Zero(t, pages)
	require.Len(t, errs, 1)
	require.Equal(t, connect.CodeInvalidArgument, client.Code(errs[0]))
	require.Equal(t, "page_token", client.Problems(errs[0])[0].GetPath())
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	pages, errs = walk(cancelled, &flowhookv1.ListGroupsRequest{})
	require.Zero(t, pages)
	require.Len(t, errs, 1)
	require.Equal(t, connect.CodeCanceled, client.Code(errs[0]))

	// A user without the role gets PermissionDenied, once.
	bob, err := c.Identity.CreateUser(ctx, connect.NewRequest(&flowhookv1.CreateUserRequest{
		DisplayName: "Bob", Email: "bob@example.com", Roles: []flowhookv1.Role{flowhookv1.Role_ROLE_USER}}))
	require.NoError(t, err)
	key, err := c.Identity.CreateApiKey(ctx, connect.NewRequest(&flowhookv1.CreateApiKeyRequest{UserId: bob.Msg.GetUser().GetId(), Name: "test"}))
	require.NoError(t, err)
	plain := client.New(nil, srv.URL, key.Msg.GetSecret())
	var denied []error
	for u, err := range client.Items(ctx, plain.Identity.ListUsers, &flowhookv1.ListUsersRequest{}, (*flowhookv1.ListUsersResponse).GetUsers) {
		require.Nil(t, u)
		denied = append(denied, err)
	}
	require.Len(t, denied, 1)
	require.Equal(t, connect.CodePermissionDenied, client.Code(denied[0]))
}

// TestPagesRefusesWhatIsNotAListing: a request without page_token, and a server that repeats a
// token, end the walk with an error instead of looping.
func TestPagesRefusesWhatIsNotAListing(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	calls := 0
	notAList := func(context.Context, *connect.Request[flowhookv1.WhoAmIRequest]) (*connect.Response[flowhookv1.ListGroupsResponse], error) {
		calls++
		return connect.NewResponse(&flowhookv1.ListGroupsResponse{}), nil
	}
	var errs []error
	for page, err := range client.Pages(ctx, notAList, &flowhookv1.WhoAmIRequest{}) {
		require.Nil(t, page)
		errs = append(errs, err)
	}
	require.Len(t, errs, 1)
	require.EqualError(t, errs[0], "client: flowhook.v1.WhoAmIRequest is not a list request: it has no page_token")
	require.Zero(t, calls, "nothing was sent")

	var tokens []string
	circular := func(_ context.Context, req *connect.Request[flowhookv1.ListGroupsRequest]) (*connect.Response[flowhookv1.ListGroupsResponse], error) {
		tokens = append(tokens, req.Msg.GetPageToken())
		return connect.NewResponse(&flowhookv1.ListGroupsResponse{NextPageToken: "again"}), nil
	}
	var pages int
	var last error
	for _, err := range client.Pages(ctx, circular, &flowhookv1.ListGroupsRequest{}) {
		if err != nil {
			last = err
			continue
		}
		pages++
	}
	require.Equal(t, 2, pages)
	require.Equal(t, []string{"", "again"}, tokens, "each page asked for with the token before it")
	require.EqualError(t, last, "client: flowhook.v1.ListGroupsRequest: page 2 answered a page token an earlier page had")
}

// TestPagesFromAKeptTokenStopsWhenItComesBack: a walk that starts from a kept token ends with
// an error when the server answers that very token, before it yields the same page twice.
func TestPagesFromAKeptTokenStopsWhenItComesBack(t *testing.T) {
	t.Parallel()
	var tokens []string
	stuck := func(_ context.Context, req *connect.Request[flowhookv1.ListGroupsRequest]) (*connect.Response[flowhookv1.ListGroupsResponse], error) {
		tokens = append(tokens, req.Msg.GetPageToken())
		return connect.NewResponse(&flowhookv1.ListGroupsResponse{
			Groups:        []*flowhookv1.Group{{Id: "at " + req.Msg.GetPageToken()}},
			NextPageToken: "kept",
		}), nil
	}
	var got []string
	var errs []error
	for page, err := range client.Pages(t.Context(), stuck, &flowhookv1.ListGroupsRequest{PageToken: "kept"}) {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, g := range page.GetGroups() {
			got = append(got, g.GetId())
		}
	}
	require.Equal(t, []string{"at kept"}, got, "the kept token's page once")
	require.Equal(t, []string{"kept"}, tokens)
	require.Len(t, errs, 1)
	require.EqualError(t, errs[0], "client: flowhook.v1.ListGroupsRequest: page 1 answered a page token an earlier page had")
}
