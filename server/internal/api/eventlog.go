package api

import (
	"context"
	"log/slog"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/gen/flowhook/v1/flowhookv1connect"
	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/eventlog"
)

// EventLogService implements EventLogService: the inbox read back, with each event's steps.
type EventLogService struct {
	log        engine.EventLogStore
	external   *engine.External
	reconciler *engine.Reconciler
	logger     *slog.Logger
}

var _ flowhookv1connect.EventLogServiceHandler = (*EventLogService)(nil)

// NewEventLogService returns the Event Log service.
func NewEventLogService(log engine.EventLogStore, external *engine.External, reconciler *engine.Reconciler, logger *slog.Logger) *EventLogService {
	return &EventLogService{log: log, external: external, reconciler: reconciler, logger: logger}
}

func (s *EventLogService) ReconcileWorkItems(ctx context.Context, req *connect.Request[flowhookv1.ReconcileWorkItemsRequest]) (*connect.Response[flowhookv1.ReconcileWorkItemsResponse], error) {
	var ps engine.Problems
	p := providerFromProto(req.Msg.GetProvider())
	checkProviderFilter(&ps, "", req.Msg.GetProvider(), "")
	limit := int(req.Msg.GetLimit())
	switch {
	case limit == 0:
		limit = 200
	case limit < 0 || limit > 1000:
		ps.Add("limit", "must be between 1 and 1000 (0 means 200)")
	}
	if err := invalid(ps); err != nil {
		return nil, err
	}
	rep, err := s.reconciler.Run(ctx, p, limit)
	if err != nil {
		return nil, toConnect(ctx, s.logger, err)
	}
	return connect.NewResponse(&flowhookv1.ReconcileWorkItemsResponse{Checked: int32(rep.Checked), OutcomesFound: int32(rep.Outcomes),
		EventsStored: int32(rep.Stored), Problems: rep.Problems}), nil
}

func (s *EventLogService) ListEvents(ctx context.Context, req *connect.Request[flowhookv1.ListEventsRequest]) (*connect.Response[flowhookv1.ListEventsResponse], error) {
	var ps engine.Problems
	pf := req.Msg.GetFilter()
	f := engine.EventFilter{
		Provider:   providerFromProto(pf.GetProvider()),
		Connector:  pf.GetConnector(),
		EventType:  pf.GetEventType(),
		ExternalID: pf.GetExternalId(),
		InstanceID: canonicalID(pf.GetInstanceId()),
	}
	checkProviderFilter(&ps, "filter.", pf.GetProvider(), f.Connector)
	// The verdict's enum, the lengths and the instance id are the proto's rules (strict.go).
	if v := pf.GetVerdict(); v != flowhookv1.Verdict_VERDICT_UNSPECIFIED {
		f.Verdict = verdictFromProto(v)
	}
	f.Since = filterTime(&ps, "filter.since", pf.GetSince())
	f.Until = filterTime(&ps, "filter.until", pf.GetUntil())
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		ps.Add("filter.until", "must be after since")
	}
	filter := filterKey(pf)
	p := page(ctx, &ps, req.Msg.GetPageSize(), req.Msg.GetPageToken(), filter)
	if err := invalid(ps); err != nil {
		return nil, err
	}
	list, next, total, err := s.log.ListEvents(ctx, f, p)
	if err != nil {
		return nil, toConnect(ctx, s.logger, err)
	}
	res := &flowhookv1.ListEventsResponse{NextPageToken: encodePageToken(ctx, next, filter), TotalSize: total.N, TotalSizeEstimated: total.Estimated}
	for _, ev := range list {
		res.Events = append(res.Events, eventToProto(ev))
	}
	return connect.NewResponse(res), nil
}

func (s *EventLogService) GetEvent(ctx context.Context, req *connect.Request[flowhookv1.GetEventRequest]) (*connect.Response[flowhookv1.GetEventResponse], error) {
	ev, err := s.log.GetEvent(ctx, req.Msg.GetId())
	if err != nil {
		return nil, toConnect(ctx, s.logger, err)
	}
	entries, err := s.log.EventLog(ctx, ev.ID)
	if err != nil {
		return nil, toConnect(ctx, s.logger, err)
	}
	return connect.NewResponse(&flowhookv1.GetEventResponse{Event: eventToProto(ev), Body: ev.Body,
		Headers: ev.Headers, Entries: entriesToProto(entries)}), nil
}

func (s *EventLogService) ReplayEvent(ctx context.Context, req *connect.Request[flowhookv1.ReplayEventRequest]) (*connect.Response[flowhookv1.ReplayEventResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	ev, before, entries, err := s.external.Replay(ctx, req.Msg.GetId(), p.UserID)
	if err != nil {
		return nil, toConnect(ctx, s.logger, err)
	}
	return connect.NewResponse(&flowhookv1.ReplayEventResponse{Event: eventToProto(ev),
		PreviousVerdict: verdictToProto(before), Entries: entriesToProto(entries)}), nil
}

func verdictToProto(v engine.Verdict) flowhookv1.Verdict {
	return flowhookv1.Verdict(flowhookv1.Verdict_value["VERDICT_"+string(v)])
}

// verdictFromProto returns "" for a value this server does not know.
func verdictFromProto(v flowhookv1.Verdict) engine.Verdict {
	name, ok := flowhookv1.Verdict_name[int32(v)]
	if !ok || v == flowhookv1.Verdict_VERDICT_UNSPECIFIED {
		return ""
	}
	return engine.Verdict(name[len("VERDICT_"):])
}

func eventToProto(ev engine.StoredEvent) *flowhookv1.Event {
	out := &flowhookv1.Event{
		Id:            ev.ID,
		Provider:      providerToProto(ev.Event.System.Provider),
		Connector:     ev.Event.System.Connector,
		EventType:     ev.Event.Type,
		ExternalId:    ev.Event.ExternalID,
		Verdict:       verdictToProto(ev.Verdict),
		VerdictReason: ev.Reason,
		InstanceId:    ev.InstanceID,
		WorkItemId:    ev.WorkItemID,
		ReceivedAt:    timestamp(ev.ReceivedAt),
		Attempts:      int32(ev.Attempts),
		TraceId:       ev.TraceID,
		SizeBytes:     ev.Size,
		RemoteAddr:    ev.RemoteAddr,
	}
	if !ev.Event.OccurredAt.IsZero() {
		out.ProviderTime = timestamp(ev.Event.OccurredAt)
	}
	if ev.ProcessedAt != nil {
		out.ProcessedAt = timestamp(*ev.ProcessedAt)
	}
	return out
}

func entriesToProto(entries []eventlog.Entry) []*flowhookv1.EventLogEntry {
	out := make([]*flowhookv1.EventLogEntry, len(entries))
	for i, e := range entries {
		out[i] = &flowhookv1.EventLogEntry{
			Id:      e.ID,
			Step:    stepToProto(e.Step),
			Message: e.Message,
			At:      timestamp(e.At),
			Elapsed: durationpb.New(e.Elapsed.Round(time.Microsecond)),
			TraceId: e.TraceID,
			SpanId:  e.SpanID,
		}
	}
	return out
}
