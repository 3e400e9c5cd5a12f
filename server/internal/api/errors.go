package api

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"

	"connectrpc.com/connect"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/engine"
)

// toConnect maps an engine error to the Connect error a caller sees. The one place codes are
// chosen. Only messages the engine and store wrote for callers travel; anything unclassified is
// logged here and answered with a bare "internal error".
func toConnect(ctx context.Context, log *slog.Logger, err error) error {
	if err == nil {
		return nil
	}
	var cerr *connect.Error
	if errors.As(err, &cerr) {
		return cerr
	}
	switch {
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, errors.New("the request was canceled"))
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, errors.New("the request ran out of time"))
	case errors.Is(err, engine.ErrUnavailable):
		log.WarnContext(ctx, "database unavailable", errAttr(err))
		return connect.NewError(connect.CodeUnavailable, errors.New("the service is temporarily unavailable; retry later"))
	}
	if problems, ok := engine.IsValidation(err); ok {
		code := connect.CodeInvalidArgument
		msg := "invalid request"
		if errors.Is(err, engine.ErrFailedPrecondition) {
			code, msg = connect.CodeFailedPrecondition, "the workflow's draft is not valid"
		}
		return withProblems(code, msg, problems, 0)
	}
	var readBack *engine.ReadBackError
	if errors.As(err, &readBack) {
		// An outside system could not confirm a notification (a replay's read-back): nothing
		// changed. Unavailable when asking again later may succeed; FailedPrecondition when an
		// administrator must act first (settings missing or refused).
		code := connect.CodeUnavailable
		if errors.Is(err, engine.ErrProviderPermanent) || errors.Is(err, engine.ErrNotConfigured) || errors.Is(err, engine.ErrNotSupported) {
			code = connect.CodeFailedPrecondition
		}
		return connect.NewError(code, errors.New(readBack.Error()+"; the event is unchanged"))
	}
	switch {
	case errors.Is(err, engine.ErrNotFound):
		return connect.NewError(connect.CodeNotFound, err)
	case errors.Is(err, engine.ErrConflict):
		return connect.NewError(connect.CodeAborted, err)
	case errors.Is(err, engine.ErrAlreadyExists):
		return connect.NewError(connect.CodeAlreadyExists, err)
	case errors.Is(err, engine.ErrPermissionDenied):
		return connect.NewError(connect.CodePermissionDenied, err)
	case errors.Is(err, engine.ErrFailedPrecondition):
		return connect.NewError(connect.CodeFailedPrecondition, err)
	}
	log.ErrorContext(ctx, "internal error", errAttr(err))
	return connect.NewError(connect.CodeInternal, errors.New("internal error"))
}

// maxProblems bounds the problems one answer lists. A request can break a rule in each of
// thousands of list items (a few bytes each); listing every one would make the answer many
// times the request, and the work of it grow with their number. The first maxProblems are
// listed, then one problem, at the request (path ""), that counts the others.
const maxProblems = 100

// listed is at most maxProblems of ps and, when there are more (or omitted ones: found and
// counted, not kept), a last problem that says how many.
func listed(ps []engine.Problem, omitted int) []engine.Problem {
	if len(ps) > maxProblems {
		omitted += len(ps) - maxProblems
		ps = ps[:maxProblems]
	}
	if omitted == 0 {
		return ps
	}
	return append(slices.Clip(ps), engine.Problem{Message: "and " + strconv.Itoa(omitted) + " more problems"})
}

// withProblems builds an error whose message names the first problem and counts the others,
// and whose detail carries them (listed) as a ValidationErrorDetails, for clients to show next
// to each field. omitted counts problems found but not kept.
func withProblems(code connect.Code, msg string, problems []engine.Problem, omitted int) error {
	text := msg + ": " + problems[0].String()
	if more := len(problems) - 1 + omitted; more > 0 {
		text += " (and " + strconv.Itoa(more) + " more problems)"
	}
	cerr := connect.NewError(code, errors.New(text))
	if detail, err := connect.NewErrorDetail(&flowhookv1.ValidationErrorDetails{Problems: problemsToProto(listed(problems, omitted))}); err == nil {
		cerr.AddDetail(detail)
	}
	return cerr
}

// invalid is a request-shape error raised by the api layer itself.
func invalid(ps engine.Problems) error {
	if len(ps) == 0 {
		return nil
	}
	return withProblems(connect.CodeInvalidArgument, "invalid request", ps, 0)
}

// errAttr logs an error with the detail a classified database error keeps out of its message.
func errAttr(err error) slog.Attr {
	var lv slog.LogValuer
	if errors.As(err, &lv) {
		return slog.Group("error", "message", err.Error(), "detail", lv)
	}
	return slog.String("error", err.Error())
}
