package api

import (
	"context"

	"connectrpc.com/connect"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/engine"
)

// The lifecycle RPCs: archiving workflows, deactivating users, reassigning HUMAN work.

func (s *DesignService) ArchiveWorkflow(ctx context.Context, req *connect.Request[flowhookv1.ArchiveWorkflowRequest]) (*connect.Response[flowhookv1.ArchiveWorkflowResponse], error) {
	wf, err := s.designer.Archive(ctx, req.Msg.GetWorkflowId())
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	return connect.NewResponse(&flowhookv1.ArchiveWorkflowResponse{Workflow: workflowToProto(wf)}), nil
}

func (s *DesignService) UnarchiveWorkflow(ctx context.Context, req *connect.Request[flowhookv1.UnarchiveWorkflowRequest]) (*connect.Response[flowhookv1.UnarchiveWorkflowResponse], error) {
	wf, err := s.designer.Unarchive(ctx, req.Msg.GetWorkflowId())
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	return connect.NewResponse(&flowhookv1.UnarchiveWorkflowResponse{Workflow: workflowToProto(wf)}), nil
}

func (s *IdentityService) DeactivateUser(ctx context.Context, req *connect.Request[flowhookv1.DeactivateUserRequest]) (*connect.Response[flowhookv1.DeactivateUserResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	u, err := s.identity.Deactivate(ctx, p, req.Msg.GetUserId())
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	return connect.NewResponse(&flowhookv1.DeactivateUserResponse{User: userToProto(u)}), nil
}

func (s *IdentityService) ReactivateUser(ctx context.Context, req *connect.Request[flowhookv1.ReactivateUserRequest]) (*connect.Response[flowhookv1.ReactivateUserResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	u, err := s.identity.Reactivate(ctx, p, req.Msg.GetUserId())
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	return connect.NewResponse(&flowhookv1.ReactivateUserResponse{User: userToProto(u)}), nil
}

func (s *InstanceService) ReassignInstance(ctx context.Context, req *connect.Request[flowhookv1.ReassignInstanceRequest]) (*connect.Response[flowhookv1.ReassignInstanceResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	a := req.Msg.GetAssignee()
	inst, err := s.runner.Reassign(ctx, p, engine.ReassignInput{
		InstanceID: req.Msg.GetInstanceId(),
		Assignee:   engine.Assignee{UserID: a.GetUserId(), GroupID: a.GetGroupId()},
		Reason:     req.Msg.GetReason(),
	})
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	return connect.NewResponse(&flowhookv1.ReassignInstanceResponse{Instance: instanceToProto(inst)}), nil
}
