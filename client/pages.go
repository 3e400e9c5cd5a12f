package client

import (
	"context"
	"fmt"
	"iter"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// ListFunc is a list RPC of a flowhook service client, e.g. c.Identity.ListGroups: its request
// has page_size and page_token, its response next_page_token, empty on the last page.
type ListFunc[Req, Res any] func(context.Context, *connect.Request[Req]) (*connect.Response[Res], error)

// Pages walks a list RPC page by page, from req's page_token (the first page when it is empty)
// to the last, yielding each response. The next page is asked for only when the loop goes on,
// so a break makes no further call. A failed call is yielded as the error, and ends the walk.
// req is not modified.
//
//	for page, err := range client.Pages(ctx, c.EventLog.ListEvents, &flowhookv1.ListEventsRequest{PageSize: 100}) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(len(page.GetEvents()), "of", page.GetTotalSize())
//	}
func Pages[Req, Res any, ReqP interface {
	*Req
	proto.Message
}, ResP interface {
	*Res
	GetNextPageToken() string
}](ctx context.Context, list ListFunc[Req, Res], req ReqP) iter.Seq2[ResP, error] {
	return func(yield func(ResP, error) bool) {
		next := proto.Clone(req).(ReqP)
		m := next.ProtoReflect()
		field := m.Descriptor().Fields().ByName("page_token")
		if field == nil || field.Kind() != protoreflect.StringKind || field.Cardinality() == protoreflect.Repeated {
			yield(nil, fmt.Errorf("client: %s is not a list request: it has no page_token", m.Descriptor().FullName()))
			return
		}
		// The tokens the walk has asked with, from a kept one it starts from on.
		seen := map[string]bool{}
		if start := m.Get(field).String(); start != "" {
			seen[start] = true
		}
		for n := 1; ; n++ {
			// Each call gets its own message, so that none changes under a caller that keeps it.
			res, err := list(ctx, connect.NewRequest((*Req)(proto.Clone(next).(ReqP))))
			if err != nil {
				yield(nil, err)
				return
			}
			page := ResP(res.Msg)
			if !yield(page, nil) {
				return
			}
			token := page.GetNextPageToken()
			if token == "" {
				return
			}
			// A server that hands back a token it gave before, or the one the walk started
			// from, would be followed for ever.
			if seen[token] {
				yield(nil, fmt.Errorf("client: %s: page %d answered a page token an earlier page had", m.Descriptor().FullName(), n))
				return
			}
			seen[token] = true
			m.Set(field, protoreflect.ValueOfString(token))
		}
	}
}

// Items walks a list RPC as Pages does and yields the items pick takes out of each page, e.g.
//
//	for inst, err := range client.Items(ctx, c.Instances.ListAssignedToMe, &flowhookv1.ListAssignedToMeRequest{},
//		(*flowhookv1.ListAssignedToMeResponse).GetInstances) { … }
func Items[Req, Res, T any, ReqP interface {
	*Req
	proto.Message
}, ResP interface {
	*Res
	GetNextPageToken() string
}](ctx context.Context, list ListFunc[Req, Res], req ReqP, pick func(ResP) []T) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for page, err := range Pages[Req, Res, ReqP, ResP](ctx, list, req) {
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, item := range pick(page) {
				if !yield(item, nil) {
					return
				}
			}
		}
	}
}
