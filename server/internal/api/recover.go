package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	"connectrpc.com/connect"
)

// recoverPanics answers an RPC whose handler panicked with a bare Internal error: the panic's
// text stays in the server log (ERROR, with the procedure and the stack; never the request,
// whose body and headers may carry secrets). Connect's own recovery interceptor, innermost in
// Register's list, so that the span and the logs of the outer interceptors see the error.
// (net/http's ErrAbortHandler goes on up, as net/http expects.)
func recoverPanics(log *slog.Logger) connect.HandlerOption {
	return connect.WithRecover(func(ctx context.Context, spec connect.Spec, _ http.Header, p any) error {
		log.ErrorContext(ctx, "panic in an RPC handler", "procedure", spec.Procedure, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		return connect.NewError(connect.CodeInternal, errors.New("internal error"))
	})
}
