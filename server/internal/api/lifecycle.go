package api

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
)

// Placeholders until the lifecycle RPCs land (issue 16).

var errNotYet = errors.New("not implemented yet")

func (s *DesignService) ArchiveWorkflow(context.Context, *connect.Request[flowhookv1.ArchiveWorkflowRequest]) (*connect.Response[flowhookv1.ArchiveWorkflowResponse], error) {
	return nil, connect.NewError(connect.CodeUnimplemented, errNotYet)
}

func (s *DesignService) UnarchiveWorkflow(context.Context, *connect.Request[flowhookv1.UnarchiveWorkflowRequest]) (*connect.Response[flowhookv1.UnarchiveWorkflowResponse], error) {
	return nil, connect.NewError(connect.CodeUnimplemented, errNotYet)
}

func (s *IdentityService) DeactivateUser(context.Context, *connect.Request[flowhookv1.DeactivateUserRequest]) (*connect.Response[flowhookv1.DeactivateUserResponse], error) {
	return nil, connect.NewError(connect.CodeUnimplemented, errNotYet)
}

func (s *IdentityService) ReactivateUser(context.Context, *connect.Request[flowhookv1.ReactivateUserRequest]) (*connect.Response[flowhookv1.ReactivateUserResponse], error) {
	return nil, connect.NewError(connect.CodeUnimplemented, errNotYet)
}

func (s *InstanceService) ReassignInstance(context.Context, *connect.Request[flowhookv1.ReassignInstanceRequest]) (*connect.Response[flowhookv1.ReassignInstanceResponse], error) {
	return nil, connect.NewError(connect.CodeUnimplemented, errNotYet)
}
