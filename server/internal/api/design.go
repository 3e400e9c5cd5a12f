package api

import (
	"context"
	"log/slog"
	"unicode/utf8"

	"connectrpc.com/connect"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/gen/flowhook/v1/flowhookv1connect"
	"github.com/flowhook/flowhook/server/internal/engine"
)

// DesignService implements WorkflowDesignService over the engine's Designer.
type DesignService struct {
	designer *engine.Designer
	log      *slog.Logger
}

var _ flowhookv1connect.WorkflowDesignServiceHandler = (*DesignService)(nil)

// NewDesignService returns the design service.
func NewDesignService(designer *engine.Designer, log *slog.Logger) *DesignService {
	return &DesignService{designer: designer, log: log}
}

func (s *DesignService) CreateWorkflow(ctx context.Context, req *connect.Request[flowhookv1.CreateWorkflowRequest]) (*connect.Response[flowhookv1.CreateWorkflowResponse], error) {
	draft, ps := requiredDraft(req.Msg.GetWorkflow())
	if err := s.invalidDraft(ps, draft); err != nil {
		return nil, err
	}
	wf, err := s.designer.Create(ctx, draft)
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	return connect.NewResponse(&flowhookv1.CreateWorkflowResponse{Workflow: workflowToProto(wf)}), nil
}

func (s *DesignService) UpdateWorkflow(ctx context.Context, req *connect.Request[flowhookv1.UpdateWorkflowRequest]) (*connect.Response[flowhookv1.UpdateWorkflowResponse], error) {
	var ps engine.Problems
	draft, dps := requiredDraft(req.Msg.GetWorkflow())
	ps = append(ps, dps...)
	if err := s.invalidDraft(ps, draft); err != nil {
		return nil, err
	}
	wf, err := s.designer.Update(ctx, req.Msg.GetWorkflowId(), draft, req.Msg.GetExpectedRevision())
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	return connect.NewResponse(&flowhookv1.UpdateWorkflowResponse{Workflow: workflowToProto(wf)}), nil
}

func (s *DesignService) GetWorkflow(ctx context.Context, req *connect.Request[flowhookv1.GetWorkflowRequest]) (*connect.Response[flowhookv1.GetWorkflowResponse], error) {
	wf, err := s.designer.Get(ctx, req.Msg.GetWorkflowId())
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	return connect.NewResponse(&flowhookv1.GetWorkflowResponse{Workflow: workflowToProto(wf)}), nil
}

func (s *DesignService) ListWorkflows(ctx context.Context, req *connect.Request[flowhookv1.ListWorkflowsRequest]) (*connect.Response[flowhookv1.ListWorkflowsResponse], error) {
	var ps engine.Problems
	filter := req.Msg.GetNameFilter()
	if utf8.RuneCountInString(filter) > engine.MaxNameLen {
		ps.Add("name_filter", "must be at most %d characters", engine.MaxNameLen)
	}
	// A page token is bound to the filter: to include_archived too, so that a token of one
	// listing does not page through the other. Without it the key is the name filter alone,
	// as before include_archived existed.
	key := filter
	if req.Msg.GetIncludeArchived() {
		key += "\x00include_archived"
	}
	p := page(ctx, &ps, req.Msg.GetPageSize(), req.Msg.GetPageToken(), key)
	if err := invalid(ps); err != nil {
		return nil, err
	}
	wfs, next, total, err := s.designer.List(ctx, engine.WorkflowFilter{NameContains: filter, IncludeArchived: req.Msg.GetIncludeArchived()}, p)
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	res := &flowhookv1.ListWorkflowsResponse{
		Workflows:     make([]*flowhookv1.Workflow, len(wfs)),
		NextPageToken: encodePageToken(ctx, next, key),
		TotalSize:     total,
	}
	for i, wf := range wfs {
		res.Workflows[i] = workflowToProto(wf)
	}
	return connect.NewResponse(res), nil
}

func (s *DesignService) ListPublishedWorkflows(ctx context.Context, req *connect.Request[flowhookv1.ListPublishedWorkflowsRequest]) (*connect.Response[flowhookv1.ListPublishedWorkflowsResponse], error) {
	var ps engine.Problems
	filter := req.Msg.GetNameFilter()
	if utf8.RuneCountInString(filter) > engine.MaxNameLen {
		ps.Add("name_filter", "must be at most %d characters", engine.MaxNameLen)
	}
	// The token is bound to this listing as well as to the filter: ListWorkflows' tokens do
	// not page through it.
	key := filter + "\x00published"
	p := page(ctx, &ps, req.Msg.GetPageSize(), req.Msg.GetPageToken(), key)
	if err := invalid(ps); err != nil {
		return nil, err
	}
	vs, next, total, err := s.designer.Published(ctx, engine.WorkflowFilter{NameContains: filter}, p)
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	res := &flowhookv1.ListPublishedWorkflowsResponse{
		Versions:      make([]*flowhookv1.WorkflowVersion, len(vs)),
		NextPageToken: encodePageToken(ctx, next, key),
		TotalSize:     total,
	}
	for i, v := range vs {
		res.Versions[i] = versionToProto(v)
	}
	return connect.NewResponse(res), nil
}

func (s *DesignService) ValidateWorkflow(ctx context.Context, req *connect.Request[flowhookv1.ValidateWorkflowRequest]) (*connect.Response[flowhookv1.ValidateWorkflowResponse], error) {
	draft, ps := draftFromProto(req.Msg.GetWorkflow())
	dps, err := s.designer.Validate(ctx, draft)
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	ps = append(ps, dps...)
	return connect.NewResponse(&flowhookv1.ValidateWorkflowResponse{Problems: problemsToProto(ps)}), nil
}

func (s *DesignService) PublishWorkflow(ctx context.Context, req *connect.Request[flowhookv1.PublishWorkflowRequest]) (*connect.Response[flowhookv1.PublishWorkflowResponse], error) {
	v, err := s.designer.Publish(ctx, req.Msg.GetWorkflowId(), req.Msg.GetExpectedRevision())
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	return connect.NewResponse(&flowhookv1.PublishWorkflowResponse{Version: versionToProto(v)}), nil
}

func (s *DesignService) GetWorkflowVersion(ctx context.Context, req *connect.Request[flowhookv1.GetWorkflowVersionRequest]) (*connect.Response[flowhookv1.GetWorkflowVersionResponse], error) {
	v, err := s.designer.GetVersion(ctx, req.Msg.GetWorkflowId(), req.Msg.GetVersion())
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	return connect.NewResponse(&flowhookv1.GetWorkflowVersionResponse{Version: versionToProto(v)}), nil
}

func (s *DesignService) ListWorkflowVersions(ctx context.Context, req *connect.Request[flowhookv1.ListWorkflowVersionsRequest]) (*connect.Response[flowhookv1.ListWorkflowVersionsResponse], error) {
	var ps engine.Problems
	id := req.Msg.GetWorkflowId()
	p := page(ctx, &ps, req.Msg.GetPageSize(), req.Msg.GetPageToken(), id)
	if err := invalid(ps); err != nil {
		return nil, err
	}
	vs, next, err := s.designer.ListVersions(ctx, id, p)
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	res := &flowhookv1.ListWorkflowVersionsResponse{
		Versions:      make([]*flowhookv1.WorkflowVersion, len(vs)),
		NextPageToken: encodePageToken(ctx, next, id),
	}
	for i, v := range vs {
		res.Versions[i] = versionToProto(v)
	}
	return connect.NewResponse(res), nil
}

// requiredDraft converts the draft of a create or update, whose paths sit under "workflow".
func requiredDraft(p *flowhookv1.WorkflowDraft) (engine.Draft, engine.Problems) {
	if p == nil {
		var ps engine.Problems
		ps.Add("workflow", "is required")
		return engine.Draft{}, ps
	}
	d, ps := draftFromProto(p)
	return d, ps.Prefixed("workflow")
}

// invalidDraft reports the api layer's problems together with the draft's own, so that a
// caller sees every problem in one answer.
func (s *DesignService) invalidDraft(ps engine.Problems, draft engine.Draft) error {
	if len(ps) == 0 {
		return nil
	}
	return invalid(append(ps, s.designer.DraftProblems(draft).Prefixed("workflow")...))
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
