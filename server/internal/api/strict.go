package api

// Strict requests: the API refuses what it does not understand instead of dropping it.
//
//   - JSON is decoded without DiscardUnknown: an unknown field or an unknown enum name is
//     InvalidArgument naming it (strictJSONCodec, under both names connect-go registers JSON by).
//   - Every request is checked against the protovalidate rules declared in proto/flowhook/v1
//     (lengths, patterns, ranges, ids, defined enums, required fields), the same rules the
//     TypeScript SDK checks with @bufbuild/protovalidate, and walked for what no rule can
//     declare: enum numbers outside their enum in types we do not own (google.protobuf.Value's
//     null_value) and fields this server does not know in binary requests.
//
// One interceptor does it for every RPC (requestChecker). Its error has flowhook's shape:
// InvalidArgument with a ValidationErrorDetails listing every problem as {path, message}, plus
// protovalidate's buf.validate.Violations so that clients can match rule ids.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/engine"
)

// strictJSONCodec is connect-go's JSON codec without DiscardUnknown.
type strictJSONCodec struct{ name string }

// strictJSONCodecs replace both names connect-go registers its JSON codec under: replacing only
// "json" would leave "application/json; charset=utf-8" lenient.
func strictJSONCodecs() []connect.HandlerOption {
	return []connect.HandlerOption{
		connect.WithCodec(strictJSONCodec{name: "json"}),
		connect.WithCodec(strictJSONCodec{name: "json; charset=utf-8"}),
	}
}

func (c strictJSONCodec) Name() string { return c.name }

func (c strictJSONCodec) Marshal(m any) ([]byte, error) {
	msg, ok := m.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("%T is not a protobuf message", m)
	}
	return protojson.Marshal(msg)
}

func (c strictJSONCodec) Unmarshal(b []byte, m any) error {
	msg, ok := m.(proto.Message)
	if !ok {
		return fmt.Errorf("%T is not a protobuf message", m)
	}
	if len(b) == 0 {
		return errors.New("zero-length payload is not a valid JSON object")
	}
	if err := protojson.Unmarshal(b, msg); err != nil {
		// protojson's text names the field or the enum value and its position.
		return fmt.Errorf("%s: %w", msg.ProtoReflect().Descriptor().FullName(), err)
	}
	return nil
}

// requestChecker checks every request before its handler runs.
type requestChecker struct {
	validator protovalidate.Validator
	log       *slog.Logger
	// domain returns, for a request whose handler reports every problem in one answer (a
	// workflow draft), the problems the domain finds in it without side effects, so that a
	// rule violation does not hide them. Nil for other requests.
	domain func(proto.Message) engine.Problems
}

func newRequestChecker(log *slog.Logger, domain func(proto.Message) engine.Problems) (*requestChecker, error) {
	v, err := protovalidate.New()
	if err != nil {
		return nil, err
	}
	return &requestChecker{validator: v, log: log, domain: domain}, nil
}

// check returns the problems of msg (nil when there are none) and the rule violations among
// them, in protovalidate's form. An error means a rule could not be evaluated: our bug.
func (c *requestChecker) check(msg proto.Message) (engine.Problems, *validate.Violations, error) {
	var ps engine.Problems
	var violations *validate.Violations
	if err := c.validator.Validate(msg); err != nil {
		var verr *protovalidate.ValidationError
		if !errors.As(err, &verr) {
			return nil, nil, err
		}
		violations = verr.ToProto()
		for _, v := range verr.Violations {
			ps = append(ps, engine.Problem{Path: protovalidate.FieldPathString(v.Proto.GetField()), Message: v.Proto.GetMessage()})
		}
	}
	var walked engine.Problems
	walk(&walked, "", msg.ProtoReflect())
	ps = addNew(ps, walked)
	return ps, violations, nil
}

// addNew appends to ps those of more whose path ps does not report yet.
func addNew(ps, more engine.Problems) engine.Problems {
	for _, p := range more {
		if !slices.ContainsFunc(ps, func(q engine.Problem) bool { return q.Path == p.Path }) {
			ps = append(ps, p)
		}
	}
	return ps
}

// walk reports enum numbers outside their enum, fields unknown to this server and NUL
// characters, anywhere in m. Enum fields of flowhook's messages carry enum.defined_only rules
// too; the walk also covers enums of types we cannot annotate. NUL is refused in every string
// and map key, form data included: neither database keeps it in text or JSON (PostgreSQL
// refuses it), and no name, filter or value has a use for it. The fields that must be free of
// other control characters too are the engine's to check.
func walk(ps *engine.Problems, path string, m protoreflect.Message) {
	if unknown := m.GetUnknown(); len(unknown) > 0 {
		where := path
		if where == "" {
			where = string(m.Descriptor().Name())
		}
		ps.Add(path, "%s has fields this server does not know (%d bytes); send only the fields of %s",
			where, len(unknown), m.Descriptor().FullName())
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		p := joinField(path, string(fd.Name()))
		switch {
		case fd.IsList():
			l := v.List()
			for i := range l.Len() {
				walkValue(ps, p+"["+strconv.Itoa(i)+"]", fd, l.Get(i))
			}
		case fd.IsMap():
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				if ks, ok := k.Interface().(string); ok && strings.ContainsRune(ks, 0) {
					ps.Add(p, "keys must not contain control characters (found NUL, \\u0000)")
				}
				walkValue(ps, p+"["+mapKey(k)+"]", fd.MapValue(), mv)
				return true
			})
		default:
			walkValue(ps, p, fd, v)
		}
		return true
	})
}

func walkValue(ps *engine.Problems, path string, fd protoreflect.FieldDescriptor, v protoreflect.Value) {
	switch fd.Kind() {
	case protoreflect.EnumKind:
		if fd.Enum().Values().ByNumber(v.Enum()) == nil {
			ps.Add(path, "%d is not a value of %s", v.Enum(), fd.Enum().FullName())
		}
	case protoreflect.StringKind:
		if strings.ContainsRune(v.String(), 0) {
			ps.Add(path, "must not contain control characters (found NUL, \\u0000)")
		}
	case protoreflect.MessageKind, protoreflect.GroupKind:
		walk(ps, path, v.Message())
	}
}

// joinField and mapKey write paths the way protovalidate and the engine do:
// workflow.states[1].key, outcome_overrides["envelope-voided"].
func joinField(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func mapKey(k protoreflect.MapKey) string {
	if s, ok := k.Interface().(string); ok {
		return strconv.Quote(s)
	}
	return k.String()
}

// Interceptor refuses, before its handler runs, a request that breaks a rule.
func (c *requestChecker) Interceptor() connect.Interceptor { return (*checkInterceptor)(c) }

type checkInterceptor requestChecker

func (i *checkInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	c := (*requestChecker)(i)
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		msg, ok := req.Any().(proto.Message)
		if !ok || req.Spec().IsClient {
			return next(ctx, req)
		}
		ps, violations, err := c.check(msg)
		switch {
		case err != nil:
			c.log.ErrorContext(ctx, "request rules could not be evaluated", "procedure", req.Spec().Procedure, "error", err.Error())
			return nil, connect.NewError(connect.CodeInternal, errors.New("internal error"))
		case len(ps) == 0:
			return next(ctx, req)
		}
		if _, ok := msg.(*flowhookv1.ValidateWorkflowRequest); ok {
			return validateWorkflow(ctx, next, req, ps)
		}
		if c.domain != nil {
			ps = addNew(c.domain(msg), ps)
		}
		return nil, c.refuse(ps, violations)
	}
}

// validateWorkflow runs ValidateWorkflow, whose answer lists a draft's problems instead of
// failing, and adds to its answer the rule violations the handler did not report. Its paths
// are relative to the draft.
func validateWorkflow(ctx context.Context, next connect.UnaryFunc, req connect.AnyRequest, ps engine.Problems) (connect.AnyResponse, error) {
	res, err := next(ctx, req)
	if err != nil {
		return nil, err
	}
	out, ok := res.Any().(*flowhookv1.ValidateWorkflowResponse)
	if !ok {
		return res, nil
	}
	var found engine.Problems
	for _, p := range out.GetProblems() {
		found = append(found, engine.Problem{Path: p.GetPath(), Message: p.GetMessage()})
	}
	for i := range ps {
		ps[i].Path = strings.TrimPrefix(strings.TrimPrefix(ps[i].Path, "workflow"), ".")
	}
	out.Problems = problemsToProto(addNew(found, ps))
	return res, nil
}

func (i *checkInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i *checkInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	c := (*requestChecker)(i)
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		return next(ctx, &checkedConn{StreamingHandlerConn: conn, c: c, ctx: ctx})
	}
}

// checkedConn checks each message a stream receives.
type checkedConn struct {
	connect.StreamingHandlerConn
	c   *requestChecker
	ctx context.Context
}

func (s *checkedConn) Receive(m any) error {
	if err := s.StreamingHandlerConn.Receive(m); err != nil {
		return err
	}
	msg, ok := m.(proto.Message)
	if !ok {
		return nil
	}
	ps, violations, err := s.c.check(msg)
	switch {
	case err != nil:
		s.c.log.ErrorContext(s.ctx, "request rules could not be evaluated", "procedure", s.Spec().Procedure, "error", err.Error())
		return connect.NewError(connect.CodeInternal, errors.New("internal error"))
	case len(ps) > 0:
		return s.c.refuse(ps, violations)
	}
	return nil
}

// refuse is InvalidArgument with every problem (ValidationErrorDetails) and the rule
// violations (buf.validate.Violations).
func (c *requestChecker) refuse(ps engine.Problems, violations *validate.Violations) error {
	err := withProblems(connect.CodeInvalidArgument, "invalid request", ps)
	var cerr *connect.Error
	if violations != nil && errors.As(err, &cerr) {
		if detail, derr := connect.NewErrorDetail(violations); derr == nil {
			cerr.AddDetail(detail)
		}
	}
	return err
}

// draftProblems is the domain hook of the design service's requests that carry a draft: what
// the engine finds in the draft, with the api layer's conversion problems, under "workflow".
func (s *DesignService) draftProblems(msg proto.Message) engine.Problems {
	var d *flowhookv1.WorkflowDraft
	switch m := msg.(type) {
	case *flowhookv1.CreateWorkflowRequest:
		d = m.GetWorkflow()
	case *flowhookv1.UpdateWorkflowRequest:
		d = m.GetWorkflow()
	default:
		return nil
	}
	if d == nil {
		return nil
	}
	draft, ps := draftFromProto(d)
	return append(ps, s.designer.DraftProblems(draft)...).Prefixed("workflow")
}
