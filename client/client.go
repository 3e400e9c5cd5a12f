// Package client is a Go client of the flowhook API: the generated connect-go clients of
// every service (package flowhookv1connect), authenticated with an API key, and helpers to
// read flowhook's errors.
//
//	c := client.New(nil, "http://127.0.0.1:8080", apiKey)
//	me, err := c.Identity.WhoAmI(ctx, connect.NewRequest(&flowhookv1.WhoAmIRequest{}))
//
// Calls use the Connect protocol by default; pass connect.WithGRPC() or connect.WithGRPCWeb()
// to New for the others. gRPC is HTTP/2, which flowhook serves in cleartext (h2c): give New an
// *http.Client whose transport speaks it for gRPC,
//
//	var protocols http.Protocols
//	protocols.SetUnencryptedHTTP2(true)
//	h2c := &http.Client{Transport: &http.Transport{Protocols: &protocols}}
//	c := client.New(h2c, baseURL, apiKey, connect.WithGRPC())
//
// Errors are *connect.Error values: Code gives the code (InvalidArgument, NotFound, Aborted for
// a stale expected_revision, Unauthenticated, PermissionDenied…), and Problems the validation
// problems an InvalidArgument carries. Items and Pages follow a listing's page tokens in one
// range loop. For tests, package
// github.com/flowhook/flowhook/server/flowhooktest runs a real server in-process.
package client

import (
	"context"
	"errors"
	"net/http"

	"connectrpc.com/connect"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/gen/flowhook/v1/flowhookv1connect"
)

// Client holds a client of every flowhook service, all sending the same API key.
type Client struct {
	// Design defines workflows as drafts and publishes their versions.
	Design flowhookv1connect.WorkflowDesignServiceClient
	// Instances starts instances, acts on the HUMAN states assigned to the caller and reads
	// their timelines.
	Instances flowhookv1connect.WorkflowInstanceServiceClient
	// Identity manages users, groups and API keys, and says who the caller is.
	Identity flowhookv1connect.IdentityServiceClient
	// Settings configures the providers (DocuSign, OneSpan) and the security settings.
	Settings flowhookv1connect.ProviderSettingsServiceClient
	// EventLog reads and replays the notifications the providers sent.
	EventLog flowhookv1connect.EventLogServiceClient
}

// New returns clients of every service of the flowhook server at baseURL (e.g.
// "http://127.0.0.1:8080"), each sending "Authorization: Bearer <apiKey>" with every call (an
// empty apiKey sends no Authorization header). A nil httpClient means http.DefaultClient. The
// options, e.g. connect.WithGRPC(), are given to every service client, after the interceptor
// that adds the key.
func New(httpClient connect.HTTPClient, baseURL, apiKey string, opts ...connect.ClientOption) *Client {
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	all := make([]connect.ClientOption, 0, len(opts)+1)
	all = append(all, connect.WithInterceptors(Bearer(apiKey)))
	all = append(all, opts...)
	return &Client{
		Design:    flowhookv1connect.NewWorkflowDesignServiceClient(httpClient, baseURL, all...),
		Instances: flowhookv1connect.NewWorkflowInstanceServiceClient(httpClient, baseURL, all...),
		Identity:  flowhookv1connect.NewIdentityServiceClient(httpClient, baseURL, all...),
		Settings:  flowhookv1connect.NewProviderSettingsServiceClient(httpClient, baseURL, all...),
		EventLog:  flowhookv1connect.NewEventLogServiceClient(httpClient, baseURL, all...),
	}
}

// Bearer returns the client interceptor New installs: it sets "Authorization: Bearer
// <apiKey>" on every unary and streaming call (and nothing when apiKey is empty). It does
// nothing on the handler side.
func Bearer(apiKey string) connect.Interceptor {
	return bearer{header: "Bearer " + apiKey, set: apiKey != ""}
}

type bearer struct {
	header string
	set    bool
}

func (b bearer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if b.set && req.Spec().IsClient {
			req.Header().Set("Authorization", b.header)
		}
		return next(ctx, req)
	}
}

func (b bearer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		if b.set {
			conn.RequestHeader().Set("Authorization", b.header)
		}
		return conn
	}
}

func (b bearer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// Problems returns the validation problems err carries in its flowhook.v1.ValidationErrorDetails
// detail: every problem found, each with the path of the field it concerns (e.g.
// "workflow.states[2].assignee") and a readable message. flowhook attaches them to
// InvalidArgument errors, and to FailedPrecondition when a draft is published that is no longer
// valid. Problems returns nil when err is nil, is not a Connect error, or has no such detail.
func Problems(err error) []*flowhookv1.Problem {
	var cerr *connect.Error
	if !errors.As(err, &cerr) {
		return nil
	}
	name := string((*flowhookv1.ValidationErrorDetails)(nil).ProtoReflect().Descriptor().FullName())
	var out []*flowhookv1.Problem
	for _, d := range cerr.Details() {
		if d.Type() != name {
			continue
		}
		v, err := d.Value()
		if err != nil {
			continue
		}
		if vd, ok := v.(*flowhookv1.ValidationErrorDetails); ok {
			out = append(out, vd.GetProblems()...)
		}
	}
	return out
}

// Code returns the Connect code of err: connect.CodeOf, for symmetry with the TypeScript SDK's
// helpers. It is connect.CodeUnknown for an error that is not a Connect error (and for nil).
func Code(err error) connect.Code {
	return connect.CodeOf(err)
}
