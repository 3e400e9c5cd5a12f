package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"connectrpc.com/connect"

	"github.com/flowhook/flowhook/server/internal/engine"
)

// Interceptor authenticates every call and checks the caller's roles against Procedures. A
// procedure missing from the table is refused: new RPCs are closed until someone opens them.
func (a *Authenticator) Interceptor(onError func(context.Context, error) error) connect.Interceptor {
	return &interceptor{auth: a, onError: onError}
}

type interceptor struct {
	auth    *Authenticator
	onError func(context.Context, error) error
}

// gatedKey marks a context whose call Gate has authenticated and checked already.
type gatedKey struct{}

// Gate authenticates a Connect, gRPC or gRPC-Web call of an RPC in Procedures, and checks the
// caller's roles, before next reads anything of the request: a caller without a valid key, or
// without the role, is answered in the call's own protocol (connect.ErrorWriter) and its body
// is never read — not decompressed, decoded nor checked against the rules, so that an
// anonymous caller can neither learn the rules nor spend the server's CPU on a body. connect-go
// decodes a unary request before its interceptors run, which is why this is a handler in
// front rather than the interceptor alone. A request that is not such a call (another
// protocol, a path that names no RPC) goes on to next, which answers it as connect-go does;
// the interceptor still refuses any call that did not come through here.
func (a *Authenticator) Gate(next http.Handler, onError func(context.Context, error) error) http.Handler {
	i := &interceptor{auth: a, onError: onError}
	ew := connect.NewErrorWriter()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, known := Procedures[r.URL.Path]; !known || !ew.IsSupported(r) {
			next.ServeHTTP(w, r)
			return
		}
		ctx, err := i.check(r.Context(), r.URL.Path, r.Header.Get("Authorization"))
		if err != nil {
			_ = ew.Write(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, gatedKey{}, r.URL.Path)))
	})
}

func (i *interceptor) check(ctx context.Context, procedure, header string) (context.Context, error) {
	if gated, _ := ctx.Value(gatedKey{}).(string); gated == procedure {
		if _, ok := FromContext(ctx); ok {
			return ctx, nil
		}
	}
	p, err := i.auth.Authenticate(ctx, header)
	if err != nil {
		var cerr *connect.Error
		if errors.As(err, &cerr) {
			return ctx, cerr
		}
		return ctx, i.onError(ctx, err)
	}
	roles, known := Procedures[procedure]
	if !known {
		return ctx, connect.NewError(connect.CodePermissionDenied, fmt.Errorf("%s is not open to any role", procedure))
	}
	for _, r := range roles {
		if p.Has(r) {
			return WithPrincipal(ctx, p), nil
		}
	}
	return ctx, connect.NewError(connect.CodePermissionDenied, fmt.Errorf("%s needs %s", procedure, allowedRoles(roles)))
}

// allowedRoles names the roles that may call a procedure, for its refusal: the ones it lists
// and ADMIN, which holds every role (engine.Principal.Has), so that an admin reading the
// message knows they may call it too.
func allowedRoles(roles []engine.Role) string {
	allowed := []engine.Role{engine.RoleAdmin}
	for _, r := range roles {
		if r != engine.RoleAdmin {
			allowed = append(allowed, r)
		}
	}
	if len(allowed) == 1 {
		return "the role " + allowed[0].String()
	}
	names := make([]string, len(allowed))
	for i, r := range allowed {
		names[i] = r.String()
	}
	return "one of the roles " + strings.Join(names, ", ")
}

func (i *interceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		ctx, err := i.check(ctx, req.Spec().Procedure, req.Header().Get("Authorization"))
		if err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

func (i *interceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i *interceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		ctx, err := i.check(ctx, conn.Spec().Procedure, conn.RequestHeader().Get("Authorization"))
		if err != nil {
			return err
		}
		return next(ctx, conn)
	}
}

var (
	anyone    = []engine.Role{engine.RoleAdmin, engine.RoleDesigner, engine.RoleUser}
	admins    = []engine.Role{engine.RoleAdmin}
	designers = []engine.Role{engine.RoleDesigner}
	users     = []engine.Role{engine.RoleUser}
)

// Procedures lists, for every RPC, the roles that may call it (ADMIN holds every role). What
// a role may do to a particular instance is the engine's to decide.
var Procedures = map[string][]engine.Role{
	"/flowhook.v1.WorkflowDesignService/CreateWorkflow":   designers,
	"/flowhook.v1.WorkflowDesignService/UpdateWorkflow":   designers,
	"/flowhook.v1.WorkflowDesignService/GetWorkflow":      designers,
	"/flowhook.v1.WorkflowDesignService/ListWorkflows":    designers,
	"/flowhook.v1.WorkflowDesignService/ValidateWorkflow": designers,
	"/flowhook.v1.WorkflowDesignService/PublishWorkflow":  designers,
	// Archiving is a designer's decision, like changing the draft (and an admin's).
	"/flowhook.v1.WorkflowDesignService/ArchiveWorkflow":   designers,
	"/flowhook.v1.WorkflowDesignService/UnarchiveWorkflow": designers,
	// Users read published versions: the forms they fill come from them.
	"/flowhook.v1.WorkflowDesignService/GetWorkflowVersion":   {engine.RoleDesigner, engine.RoleUser},
	"/flowhook.v1.WorkflowDesignService/ListWorkflowVersions": {engine.RoleDesigner, engine.RoleUser},
	// What can be started, as published versions (never drafts): the Start page of a client.
	"/flowhook.v1.WorkflowDesignService/ListPublishedWorkflows": {engine.RoleDesigner, engine.RoleUser},

	"/flowhook.v1.WorkflowInstanceService/StartInstance":     users,
	"/flowhook.v1.WorkflowInstanceService/GetInstance":       users,
	"/flowhook.v1.WorkflowInstanceService/ListInstances":     admins,
	"/flowhook.v1.WorkflowInstanceService/ListAssignedToMe":  users,
	"/flowhook.v1.WorkflowInstanceService/TakeTransition":    users,
	"/flowhook.v1.WorkflowInstanceService/CancelInstance":    users,
	"/flowhook.v1.WorkflowInstanceService/RetryInstance":     admins,
	"/flowhook.v1.WorkflowInstanceService/ReassignInstance":  admins,
	"/flowhook.v1.WorkflowInstanceService/ListActivity":      users,
	"/flowhook.v1.WorkflowInstanceService/GetSignedDocument": users,

	"/flowhook.v1.IdentityService/CreateUser":        admins,
	"/flowhook.v1.IdentityService/ListUsers":         admins,
	"/flowhook.v1.IdentityService/CreateGroup":       admins,
	"/flowhook.v1.IdentityService/ListGroups":        admins,
	"/flowhook.v1.IdentityService/AddGroupMember":    admins,
	"/flowhook.v1.IdentityService/RemoveGroupMember": admins,
	"/flowhook.v1.IdentityService/DeactivateUser":    admins,
	"/flowhook.v1.IdentityService/ReactivateUser":    admins,
	"/flowhook.v1.IdentityService/CreateApiKey":      anyone,
	"/flowhook.v1.IdentityService/RevokeApiKey":      anyone,
	"/flowhook.v1.IdentityService/ListApiKeys":       anyone,
	"/flowhook.v1.IdentityService/WhoAmI":            anyone,

	"/flowhook.v1.ProviderSettingsService/GetDocuSignSettings":    admins,
	"/flowhook.v1.ProviderSettingsService/UpdateDocuSignSettings": admins,
	"/flowhook.v1.ProviderSettingsService/TestProviderConnection": admins,
	"/flowhook.v1.ProviderSettingsService/GetOneSpanSettings":     admins,
	"/flowhook.v1.ProviderSettingsService/UpdateOneSpanSettings":  admins,
	"/flowhook.v1.ProviderSettingsService/GetSecuritySettings":    admins,
	"/flowhook.v1.ProviderSettingsService/UpdateSecuritySettings": admins,
	"/flowhook.v1.ProviderSettingsService/CreateConnector":        admins,
	"/flowhook.v1.ProviderSettingsService/GetConnector":           admins,
	"/flowhook.v1.ProviderSettingsService/ListConnectors":         admins,
	"/flowhook.v1.ProviderSettingsService/UpdateConnector":        admins,
	"/flowhook.v1.ProviderSettingsService/DeleteConnector":        admins,
	"/flowhook.v1.EventLogService/ListEvents":                     admins,
	"/flowhook.v1.EventLogService/GetEvent":                       admins,
	"/flowhook.v1.EventLogService/ReplayEvent":                    admins,
	"/flowhook.v1.EventLogService/ReconcileWorkItems":             admins,
}
