package api

import (
	"context"
	"log/slog"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/structpb"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/gen/flowhook/v1/flowhookv1connect"
	"github.com/flowhook/flowhook/server/internal/engine"
)

// InstanceService implements WorkflowInstanceService over the engine's Runner.
type InstanceService struct {
	runner *engine.Runner
	log    *slog.Logger
}

var _ flowhookv1connect.WorkflowInstanceServiceHandler = (*InstanceService)(nil)

// NewInstanceService returns the instance service.
func NewInstanceService(runner *engine.Runner, log *slog.Logger) *InstanceService {
	return &InstanceService{runner: runner, log: log}
}

func (s *InstanceService) StartInstance(ctx context.Context, req *connect.Request[flowhookv1.StartInstanceRequest]) (*connect.Response[flowhookv1.StartInstanceResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	inst, err := s.runner.Start(ctx, p, engine.StartInput{
		WorkflowID:    canonicalID(req.Msg.GetWorkflowId()),
		Version:       req.Msg.GetVersion(),
		FormData:      req.Msg.GetFormData().AsMap(),
		TransitionKey: req.Msg.GetTransitionKey(),
		RequestID:     req.Msg.GetRequestId(),
	})
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	return connect.NewResponse(&flowhookv1.StartInstanceResponse{Instance: instanceToProto(inst)}), nil
}

func (s *InstanceService) GetInstance(ctx context.Context, req *connect.Request[flowhookv1.GetInstanceRequest]) (*connect.Response[flowhookv1.GetInstanceResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	inst, err := s.runner.Get(ctx, p, req.Msg.GetInstanceId())
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	return connect.NewResponse(&flowhookv1.GetInstanceResponse{Instance: instanceToProto(inst)}), nil
}

func (s *InstanceService) ListInstances(ctx context.Context, req *connect.Request[flowhookv1.ListInstancesRequest]) (*connect.Response[flowhookv1.ListInstancesResponse], error) {
	var ps engine.Problems
	pf := req.Msg.GetFilter()
	f := engine.InstanceFilter{
		WorkflowID: pf.GetWorkflowId(),
		Version:    pf.GetVersion(),
		StateKey:   pf.GetStateKey(),
		Status:     instanceStatusFromProto(pf.GetStatus()),
		Provider:   providerFromProto(pf.GetProvider()),
		Connector:  pf.GetConnector(),
		ExternalID: pf.GetExternalId(),
		StartedBy:  pf.GetStartedBy(),
		// Instances assigned to a deactivated user, for an admin to reassign.
		AssigneeInactive: pf.GetAssigneeInactive(),
	}
	checkProviderFilter(&ps, "filter.", pf.GetProvider(), f.Connector)
	f.CreatedAfter = filterTime(&ps, "filter.created_after", pf.GetCreatedAfter())
	f.CreatedBefore = filterTime(&ps, "filter.created_before", pf.GetCreatedBefore())
	f.OverdueBefore = filterTime(&ps, "filter.overdue_before", pf.GetOverdueBefore())
	// The token is bound to the whole filter.
	filter := filterKey(pf)
	p := page(ctx, &ps, req.Msg.GetPageSize(), req.Msg.GetPageToken(), filter)
	if err := invalid(ps); err != nil {
		return nil, err
	}
	list, next, total, err := s.runner.List(ctx, f, p)
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	res := &flowhookv1.ListInstancesResponse{NextPageToken: encodePageToken(ctx, next, filter), TotalSize: total.N, TotalSizeEstimated: total.Estimated}
	for _, in := range list {
		res.Instances = append(res.Instances, instanceToProto(in))
	}
	return connect.NewResponse(res), nil
}

func (s *InstanceService) ListAssignedToMe(ctx context.Context, req *connect.Request[flowhookv1.ListAssignedToMeRequest]) (*connect.Response[flowhookv1.ListAssignedToMeResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	var ps engine.Problems
	pg := page(ctx, &ps, req.Msg.GetPageSize(), req.Msg.GetPageToken(), "")
	if err := invalid(ps); err != nil {
		return nil, err
	}
	list, next, err := s.runner.AssignedTo(ctx, p, pg)
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	res := &flowhookv1.ListAssignedToMeResponse{NextPageToken: encodePageToken(ctx, next, "")}
	for _, in := range list {
		res.Instances = append(res.Instances, instanceToProto(in))
	}
	return connect.NewResponse(res), nil
}

func (s *InstanceService) TakeTransition(ctx context.Context, req *connect.Request[flowhookv1.TakeTransitionRequest]) (*connect.Response[flowhookv1.TakeTransitionResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	inst, err := s.runner.Take(ctx, p, engine.TakeInput{
		InstanceID:       req.Msg.GetInstanceId(),
		TransitionKey:    req.Msg.GetTransitionKey(),
		FormData:         req.Msg.GetFormData().AsMap(),
		ExpectedRevision: req.Msg.GetExpectedRevision(),
	})
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	return connect.NewResponse(&flowhookv1.TakeTransitionResponse{Instance: instanceToProto(inst)}), nil
}

func (s *InstanceService) CancelInstance(ctx context.Context, req *connect.Request[flowhookv1.CancelInstanceRequest]) (*connect.Response[flowhookv1.CancelInstanceResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	inst, err := s.runner.Cancel(ctx, p, req.Msg.GetInstanceId(), req.Msg.GetReason())
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	return connect.NewResponse(&flowhookv1.CancelInstanceResponse{Instance: instanceToProto(inst)}), nil
}

func (s *InstanceService) ListActivity(ctx context.Context, req *connect.Request[flowhookv1.ListActivityRequest]) (*connect.Response[flowhookv1.ListActivityResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	var ps engine.Problems
	id := req.Msg.GetInstanceId()
	pg := page(ctx, &ps, req.Msg.GetPageSize(), req.Msg.GetPageToken(), id)
	if err := invalid(ps); err != nil {
		return nil, err
	}
	acts, next, err := s.runner.Activity(ctx, p, id, pg)
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	res := &flowhookv1.ListActivityResponse{NextPageToken: encodePageToken(ctx, next, id)}
	for _, a := range acts {
		res.Entries = append(res.Entries, activityToProto(a))
	}
	return connect.NewResponse(res), nil
}

func (s *InstanceService) GetSignedDocument(ctx context.Context, req *connect.Request[flowhookv1.GetSignedDocumentRequest]) (*connect.Response[flowhookv1.GetSignedDocumentResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	doc, err := s.runner.SignedDocument(ctx, p, req.Msg.GetInstanceId())
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	return connect.NewResponse(&flowhookv1.GetSignedDocumentResponse{Name: doc.Name, ContentType: doc.ContentType,
		Content: doc.Content, Sha256: doc.SHA256, WorkItemId: doc.WorkItemID, CreatedAt: timestamp(doc.CreatedAt)}), nil
}

func instanceToProto(in engine.Instance) *flowhookv1.Instance {
	form, _ := structpb.NewStruct(in.FormData) // values came from a Struct or from JSON: always convertible
	out := &flowhookv1.Instance{
		Id:           in.ID,
		WorkflowId:   in.WorkflowID,
		Version:      in.Version,
		WorkflowName: in.WorkflowName,
		StateKey:     in.StateKey,
		Status:       instanceStatusToProto(in.Status),
		FormData:     form,
		Revision:     in.Revision,
		StartedBy:    in.StartedBy,
		Provider:     providerToProto(in.System.Provider),
		Connector:    in.System.Connector,
		Reason:       in.Reason,
		CreatedAt:    timestamp(in.CreatedAt),
		UpdatedAt:    timestamp(in.UpdatedAt),
	}
	out.Assignee = assigneeToProto(in.Assignee)
	if in.Deadline != nil && in.Status.Open() {
		out.Deadline = timestamp(*in.Deadline)
	}
	if w := in.WorkItem; w != nil {
		out.WorkItem = &flowhookv1.WorkItem{
			Id:         w.ID,
			Provider:   providerToProto(w.System.Provider),
			Connector:  w.System.Connector,
			ExternalId: w.ExternalID,
			Status:     string(w.Status),
			Outcome:    outcomeToProto(w.Outcome),
			CreatedAt:  timestamp(w.CreatedAt),
		}
		if w.ResolvedAt != nil {
			out.WorkItem.ResolvedAt = timestamp(*w.ResolvedAt)
		}
	}
	out.FormDataErasedAt, out.DocumentsErasedAt = optionalTimestamp(in.FormDataErasedAt), optionalTimestamp(in.DocumentsErasedAt)
	return out
}

func assigneeToProto(a *engine.Assignee) *flowhookv1.Assignee {
	switch {
	case a == nil:
		return nil
	case a.GroupID != "":
		return &flowhookv1.Assignee{Assignee: &flowhookv1.Assignee_GroupId{GroupId: a.GroupID}}
	default:
		return &flowhookv1.Assignee{Assignee: &flowhookv1.Assignee_UserId{UserId: a.UserID}}
	}
}

func activityToProto(a engine.Activity) *flowhookv1.ActivityEntry {
	out := &flowhookv1.ActivityEntry{
		Id:            a.ID,
		InstanceId:    a.InstanceID,
		Sequence:      a.Seq,
		Kind:          activityKindToProto(a.Kind),
		ActorId:       a.ActorID,
		FromState:     a.FromState,
		ToState:       a.ToState,
		TransitionKey: a.TransitionKey,
		Message:       a.Message,
		CreatedAt:     timestamp(a.CreatedAt),
		Assignee:      assigneeToProto(a.Assignee),
	}
	if a.Deadline != nil {
		out.Deadline = timestamp(*a.Deadline)
	}
	for _, c := range a.Changes {
		fc := &flowhookv1.FieldChange{Name: c.Name}
		if c.Old != nil {
			fc.OldValue, _ = structpb.NewValue(c.Old)
		}
		if c.New != nil {
			fc.NewValue, _ = structpb.NewValue(c.New)
		}
		out.Changes = append(out.Changes, fc)
	}
	return out
}

// RetryInstance runs the step a FAILED instance failed in again (admins; the role table in
// package auth lets no one else call it): for an EXTERNAL state, the same work item is
// created again, looking first at the provider for one an earlier attempt made.
func (s *InstanceService) RetryInstance(ctx context.Context, req *connect.Request[flowhookv1.RetryInstanceRequest]) (*connect.Response[flowhookv1.RetryInstanceResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	inst, err := s.runner.Retry(ctx, p, req.Msg.GetInstanceId())
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	s.log.InfoContext(ctx, "instance retried", slog.String("instance_id", inst.ID), slog.String("state_key", inst.StateKey),
		slog.String("actor_id", p.UserID))
	return connect.NewResponse(&flowhookv1.RetryInstanceResponse{Instance: instanceToProto(inst)}), nil
}
