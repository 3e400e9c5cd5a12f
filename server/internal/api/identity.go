package api

import (
	"context"
	"errors"
	"log/slog"

	"connectrpc.com/connect"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/gen/flowhook/v1/flowhookv1connect"
	"github.com/flowhook/flowhook/server/internal/auth"
	"github.com/flowhook/flowhook/server/internal/engine"
)

// IdentityService implements users, groups and API keys.
type IdentityService struct {
	identity *engine.Identity
	log      *slog.Logger
}

var _ flowhookv1connect.IdentityServiceHandler = (*IdentityService)(nil)

// NewIdentityService returns the identity service.
func NewIdentityService(identity *engine.Identity, log *slog.Logger) *IdentityService {
	return &IdentityService{identity: identity, log: log}
}

// principal returns the authenticated caller; the auth interceptor guarantees one.
func principal(ctx context.Context) (engine.Principal, error) {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return engine.Principal{}, connect.NewError(connect.CodeUnauthenticated, errors.New("not authenticated"))
	}
	return p, nil
}

func (s *IdentityService) CreateUser(ctx context.Context, req *connect.Request[flowhookv1.CreateUserRequest]) (*connect.Response[flowhookv1.CreateUserResponse], error) {
	roles := make([]engine.Role, len(req.Msg.GetRoles()))
	for i, r := range req.Msg.GetRoles() {
		roles[i] = roleFromProto(r)
	}
	u, err := s.identity.CreateUser(ctx, engine.NewUserInput{DisplayName: req.Msg.GetDisplayName(), Email: req.Msg.GetEmail(), Roles: roles})
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	return connect.NewResponse(&flowhookv1.CreateUserResponse{User: userToProto(u)}), nil
}

func (s *IdentityService) ListUsers(ctx context.Context, req *connect.Request[flowhookv1.ListUsersRequest]) (*connect.Response[flowhookv1.ListUsersResponse], error) {
	var ps engine.Problems
	p := page(ctx, &ps, req.Msg.GetPageSize(), req.Msg.GetPageToken(), "")
	if err := invalid(ps); err != nil {
		return nil, err
	}
	users, next, err := s.identity.ListUsers(ctx, p)
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	res := &flowhookv1.ListUsersResponse{NextPageToken: encodePageToken(ctx, next, "")}
	for _, u := range users {
		res.Users = append(res.Users, userToProto(u))
	}
	return connect.NewResponse(res), nil
}

func (s *IdentityService) CreateGroup(ctx context.Context, req *connect.Request[flowhookv1.CreateGroupRequest]) (*connect.Response[flowhookv1.CreateGroupResponse], error) {
	g, err := s.identity.CreateGroup(ctx, req.Msg.GetName(), req.Msg.GetDescription())
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	return connect.NewResponse(&flowhookv1.CreateGroupResponse{Group: groupToProto(g)}), nil
}

func (s *IdentityService) ListGroups(ctx context.Context, req *connect.Request[flowhookv1.ListGroupsRequest]) (*connect.Response[flowhookv1.ListGroupsResponse], error) {
	var ps engine.Problems
	p := page(ctx, &ps, req.Msg.GetPageSize(), req.Msg.GetPageToken(), "")
	if err := invalid(ps); err != nil {
		return nil, err
	}
	groups, next, err := s.identity.ListGroups(ctx, p)
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	res := &flowhookv1.ListGroupsResponse{NextPageToken: encodePageToken(ctx, next, "")}
	for _, g := range groups {
		res.Groups = append(res.Groups, groupToProto(g))
	}
	return connect.NewResponse(res), nil
}

func (s *IdentityService) AddGroupMember(ctx context.Context, req *connect.Request[flowhookv1.AddGroupMemberRequest]) (*connect.Response[flowhookv1.AddGroupMemberResponse], error) {
	g, err := s.setMember(ctx, req.Msg.GetGroupId(), req.Msg.GetUserId(), true)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&flowhookv1.AddGroupMemberResponse{Group: g}), nil
}

func (s *IdentityService) RemoveGroupMember(ctx context.Context, req *connect.Request[flowhookv1.RemoveGroupMemberRequest]) (*connect.Response[flowhookv1.RemoveGroupMemberResponse], error) {
	g, err := s.setMember(ctx, req.Msg.GetGroupId(), req.Msg.GetUserId(), false)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&flowhookv1.RemoveGroupMemberResponse{Group: g}), nil
}

func (s *IdentityService) setMember(ctx context.Context, groupID, userID string, member bool) (*flowhookv1.Group, error) {
	g, err := s.identity.SetGroupMember(ctx, groupID, userID, member)
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	return groupToProto(g), nil
}

func (s *IdentityService) CreateApiKey(ctx context.Context, req *connect.Request[flowhookv1.CreateApiKeyRequest]) (*connect.Response[flowhookv1.CreateApiKeyResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	secret := auth.NewSecret()
	k, err := s.identity.CreateAPIKey(ctx, p, canonicalID(req.Msg.GetUserId()), req.Msg.GetName(), auth.Prefix(secret), auth.Hash(secret))
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	return connect.NewResponse(&flowhookv1.CreateApiKeyResponse{ApiKey: keyToProto(k), Secret: secret}), nil
}

func (s *IdentityService) RevokeApiKey(ctx context.Context, req *connect.Request[flowhookv1.RevokeApiKeyRequest]) (*connect.Response[flowhookv1.RevokeApiKeyResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	k, err := s.identity.RevokeAPIKey(ctx, p, req.Msg.GetApiKeyId())
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	return connect.NewResponse(&flowhookv1.RevokeApiKeyResponse{ApiKey: keyToProto(k)}), nil
}

func (s *IdentityService) ListApiKeys(ctx context.Context, req *connect.Request[flowhookv1.ListApiKeysRequest]) (*connect.Response[flowhookv1.ListApiKeysResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	keys, err := s.identity.ListAPIKeys(ctx, p, canonicalID(req.Msg.GetUserId()))
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	res := &flowhookv1.ListApiKeysResponse{}
	for _, k := range keys {
		res.ApiKeys = append(res.ApiKeys, keyToProto(k))
	}
	return connect.NewResponse(res), nil
}

func (s *IdentityService) WhoAmI(ctx context.Context, _ *connect.Request[flowhookv1.WhoAmIRequest]) (*connect.Response[flowhookv1.WhoAmIResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	u, err := s.identity.WhoAmI(ctx, p)
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	return connect.NewResponse(&flowhookv1.WhoAmIResponse{User: userToProto(u), GroupIds: p.GroupIDs, ApiKeyId: p.APIKeyID}), nil
}

func userToProto(u engine.User) *flowhookv1.User {
	out := &flowhookv1.User{Id: u.ID, DisplayName: u.DisplayName, Email: u.Email, CreatedAt: timestamp(u.CreatedAt)}
	for _, r := range u.Roles {
		out.Roles = append(out.Roles, roleToProto(r))
	}
	if u.DeactivatedAt != nil {
		out.Deactivated, out.DeactivatedAt = true, timestamp(*u.DeactivatedAt)
	}
	return out
}

func groupToProto(g engine.Group) *flowhookv1.Group {
	return &flowhookv1.Group{Id: g.ID, Name: g.Name, Description: g.Description, MemberIds: g.MemberIDs, CreatedAt: timestamp(g.CreatedAt)}
}

func keyToProto(k engine.APIKey) *flowhookv1.ApiKey {
	out := &flowhookv1.ApiKey{Id: k.ID, UserId: k.UserID, Name: k.Name, Prefix: k.Prefix, CreatedAt: timestamp(k.CreatedAt)}
	if k.LastUsedAt != nil {
		out.LastUsedAt = timestamp(*k.LastUsedAt)
	}
	if k.RevokedAt != nil {
		out.RevokedAt = timestamp(*k.RevokedAt)
	}
	return out
}
