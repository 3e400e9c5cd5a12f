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
// protovalidate's buf.validate.Violations so that clients can match rule ids. A list or map
// longer than its rule allows is refused on its size alone, before anything visits its items,
// and an answer lists at most maxProblems problems: the work and the answer stay bounded
// however many items a request holds.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/engine"
)

// strictJSONCodec is connect-go's JSON codec without DiscardUnknown.
type strictJSONCodec struct{ name string }

// strictJSONCodecs replace both names connect-go registers its JSON codec under: replacing only
// "json" would leave "application/json; charset=utf-8" lenient. They replace its binary codec
// too ("proto"), whose errors would name the message by its Go type.
func strictJSONCodecs() []connect.HandlerOption {
	return []connect.HandlerOption{
		connect.WithCodec(strictJSONCodec{name: "json"}),
		connect.WithCodec(strictJSONCodec{name: "json; charset=utf-8"}),
		connect.WithCodec(protoCodec{}),
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
		return readError(msg, err)
	}
	return nil
}

// protoCodec is connect-go's binary codec, its errors written as strictJSONCodec's are.
type protoCodec struct{}

func (protoCodec) Name() string { return "proto" }

func (c protoCodec) Marshal(m any) ([]byte, error) { return c.MarshalAppend(nil, m) }

// MarshalAppend lets connect-go write answers into its pooled buffers, as with its own codec.
func (protoCodec) MarshalAppend(b []byte, m any) ([]byte, error) {
	msg, ok := m.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("%T is not a protobuf message", m)
	}
	return proto.MarshalOptions{}.MarshalAppend(b, msg)
}

func (protoCodec) Unmarshal(b []byte, m any) error {
	msg, ok := m.(proto.Message)
	if !ok {
		return fmt.Errorf("%T is not a protobuf message", m)
	}
	if err := proto.Unmarshal(b, msg); err != nil {
		return readError(msg, err)
	}
	return nil
}

// maxEchoed bounds, in characters, each name a codec's error echoes from the request.
const maxEchoed = 64

// echoed are the names (quoted) and words a codec's error may repeat from the request.
var echoed = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|[^\s"]{65,}`)

// readError is the error of a request the codec cannot read: the message named by its proto
// name (never its Go type), and what the error echoes from the request (an unknown field, an
// enum value, a word) cut to maxEchoed characters: it travels back in the answer's message (a
// gRPC trailer), which must not grow with the request.
func readError(msg proto.Message, err error) error {
	text := echoed.ReplaceAllStringFunc(err.Error(), func(s string) string {
		if strings.HasPrefix(s, `"`) {
			return `"` + truncate(s[1:len(s)-1], maxEchoed) + `"`
		}
		return truncate(s, maxEchoed)
	})
	return fmt.Errorf("%s: %s", msg.ProtoReflect().Descriptor().FullName(), truncate(text, 4*maxEchoed))
}

// requestChecker checks every request before its handler runs.
type requestChecker struct {
	validator protovalidate.Validator
	log       *slog.Logger
	// domain returns, for a request whose handler reports every problem in one answer (a
	// workflow draft), the problems the domain finds in it without side effects, so that a
	// rule violation does not hide them. Nil for other requests.
	domain func(proto.Message) engine.Problems
	// sizes caches each list and map field's size rule (repeated.max_items, map.max_pairs):
	// protoreflect.FieldDescriptor → *sizeRule, nil when it has none.
	sizes sync.Map
}

// findings are what check found in a request.
type findings struct {
	problems engine.Problems
	// omitted counts the problems found beyond those kept (walker).
	omitted int
	// violations are the rules broken, in protovalidate's form.
	violations *validate.Violations
	// oversized: a list or map is longer than its rule allows; nothing else was checked.
	oversized bool
}

func newRequestChecker(log *slog.Logger, domain func(proto.Message) engine.Problems) (*requestChecker, error) {
	v, err := protovalidate.New()
	if err != nil {
		return nil, err
	}
	return &requestChecker{validator: v, log: log, domain: domain}, nil
}

// check returns what it finds in msg: its problems (none when it may pass) and the rule
// violations among them, in protovalidate's form. An error means a rule could not be
// evaluated: our bug.
func (c *requestChecker) check(msg proto.Message) (findings, error) {
	var f findings
	if c.oversized(&f, nil, msg.ProtoReflect()); f.oversized {
		return f, nil
	}
	if err := c.validator.Validate(msg); err != nil {
		var verr *protovalidate.ValidationError
		if !errors.As(err, &verr) {
			return findings{}, err
		}
		f.violations = verr.ToProto()
		for _, v := range verr.Violations {
			f.problems = append(f.problems, engine.Problem{Path: protovalidate.FieldPathString(v.Proto.GetField()), Message: v.Proto.GetMessage()})
		}
	}
	w := walker{seen: make(map[string]bool, len(f.problems))}
	for _, p := range f.problems {
		w.seen[p.Path] = true
	}
	w.walk("", msg.ProtoReflect())
	f.problems = append(f.problems, w.ps...)
	f.omitted = w.omitted
	return f, nil
}

// addNew appends to ps those of more whose path ps does not report yet.
func addNew(ps, more engine.Problems) engine.Problems {
	seen := make(map[string]bool, len(ps)+len(more))
	for _, p := range ps {
		seen[p.Path] = true
	}
	for _, p := range more {
		if !seen[p.Path] {
			seen[p.Path] = true
			ps = append(ps, p)
		}
	}
	return ps
}

// sizeRule is a list's or a map's size rule.
type sizeRule struct {
	max  uint64
	rule []*validate.FieldPathElement // its path in buf.validate.FieldRules
	id   string                       // its rule id
}

var (
	fieldRulesDesc    = (&validate.FieldRules{}).ProtoReflect().Descriptor()
	repeatedRulesDesc = (&validate.RepeatedRules{}).ProtoReflect().Descriptor()
	mapRulesDesc      = (&validate.MapRules{}).ProtoReflect().Descriptor()
)

// sizeRuleOf is fd's size rule, nil when it has none.
func (c *requestChecker) sizeRuleOf(fd protoreflect.FieldDescriptor) *sizeRule {
	if r, ok := c.sizes.Load(fd); ok {
		return r.(*sizeRule)
	}
	var r *sizeRule
	rules, _ := proto.GetExtension(fd.Options(), validate.E_Field).(*validate.FieldRules)
	switch {
	case fd.IsList() && rules.GetRepeated().HasMaxItems():
		r = &sizeRule{max: rules.GetRepeated().GetMaxItems(), id: "repeated.max_items", rule: []*validate.FieldPathElement{
			pathElement(fieldRulesDesc.Fields().ByName("repeated")), pathElement(repeatedRulesDesc.Fields().ByName("max_items"))}}
	case fd.IsMap() && rules.GetMap().HasMaxPairs():
		r = &sizeRule{max: rules.GetMap().GetMaxPairs(), id: "map.max_pairs", rule: []*validate.FieldPathElement{
			pathElement(fieldRulesDesc.Fields().ByName("map")), pathElement(mapRulesDesc.Fields().ByName("max_pairs"))}}
	}
	c.sizes.Store(fd, r)
	return r
}

// oversized reports each list and map of m, and of the flowhook messages in it, that is longer
// than its rule allows, and sets f.oversized. It visits no item of such a list: a few megabytes
// hold a million empty items, and the rules, the walk and the domain would each visit them all,
// to refuse the request anyway. at is m's path, as protovalidate writes paths.
func (c *requestChecker) oversized(f *findings, at []*validate.FieldPathElement, m protoreflect.Message) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList():
			l := v.List()
			if c.tooLong(f, at, fd, l.Len()) || !flowhookMessage(fd.Message()) {
				return true
			}
			for i := range l.Len() {
				el := pathElement(fd)
				el.Subscript = &validate.FieldPathElement_Index{Index: uint64(i)}
				c.oversized(f, append(slices.Clip(at), el), l.Get(i).Message())
			}
		case fd.IsMap():
			mv := v.Map()
			if c.tooLong(f, at, fd, mv.Len()) || fd.MapKey().Kind() != protoreflect.StringKind || !flowhookMessage(fd.MapValue().Message()) {
				return true
			}
			mv.Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
				el := pathElement(fd)
				el.KeyType = descriptorpb.FieldDescriptorProto_Type(fd.MapKey().Kind()).Enum()
				el.ValueType = descriptorpb.FieldDescriptorProto_Type(fd.MapValue().Kind()).Enum()
				el.Subscript = &validate.FieldPathElement_StringKey{StringKey: k.String()}
				c.oversized(f, append(slices.Clip(at), el), v.Message())
				return true
			})
		case flowhookMessage(fd.Message()):
			c.oversized(f, append(slices.Clip(at), pathElement(fd)), v.Message())
		}
		return true
	})
}

// tooLong reports whether the list or map fd, of n items, is longer than its rule allows, and
// when it is adds that to f, as a problem and as the rule's violation.
func (c *requestChecker) tooLong(f *findings, at []*validate.FieldPathElement, fd protoreflect.FieldDescriptor, n int) bool {
	r := c.sizeRuleOf(fd)
	if r == nil || uint64(n) <= r.max {
		return false
	}
	field := &validate.FieldPath{Elements: append(slices.Clip(at), pathElement(fd))}
	msg := fmt.Sprintf("at most %d %s are allowed, got %d", r.max, strings.ReplaceAll(string(fd.Name()), "_", " "), n)
	if f.violations == nil {
		f.violations = &validate.Violations{}
	}
	f.violations.Violations = append(f.violations.Violations, validate.Violation_builder{
		Field: field, Rule: &validate.FieldPath{Elements: r.rule}, RuleId: proto.String(r.id), Message: proto.String(msg)}.Build())
	f.problems = append(f.problems, engine.Problem{Path: protovalidate.FieldPathString(field), Message: msg})
	f.oversized = true
	return true
}

// flowhookMessage reports whether md is one of flowhook's messages, the only ones with rules.
func flowhookMessage(md protoreflect.MessageDescriptor) bool {
	return md != nil && strings.HasPrefix(string(md.FullName()), "flowhook.")
}

// pathElement is fd as an element of a protovalidate field path.
func pathElement(fd protoreflect.FieldDescriptor) *validate.FieldPathElement {
	return &validate.FieldPathElement{
		FieldNumber: proto.Int32(int32(fd.Number())),
		FieldName:   proto.String(string(fd.Name())),
		FieldType:   descriptorpb.FieldDescriptorProto_Type(fd.Kind()).Enum(),
	}
}

// walker walks a request for what no rule can declare (walk). It keeps the first maxProblems
// problems it finds at paths not reported yet (seen) and counts the others: a request of a
// million broken values costs a count, not a million messages.
type walker struct {
	seen    map[string]bool
	ps      engine.Problems
	omitted int
}

func (w *walker) add(path, format string, args ...any) {
	switch {
	case w.seen[path]:
	case len(w.ps) >= maxProblems:
		w.omitted++
	default:
		w.seen[path] = true
		w.ps.Add(path, format, args...)
	}
}

// walk reports enum numbers outside their enum, fields unknown to this server, NUL characters
// and numbers that are not finite, anywhere in m. Enum fields of flowhook's messages carry
// enum.defined_only rules too; the walk also covers enums of types we cannot annotate. NUL is
// refused in every string and map key, form data included: neither database keeps it in text
// or JSON (PostgreSQL refuses it), and no name, filter or value has a use for it. The fields
// that must be free of other control characters too are the engine's to check. NaN and
// ±Infinity (a google.protobuf.Value's number_value, in binary requests) have no JSON number:
// form data would keep them as the strings "NaN" and "Infinity".
func (w *walker) walk(path string, m protoreflect.Message) {
	if unknown := m.GetUnknown(); len(unknown) > 0 {
		where := path
		if where == "" {
			where = string(m.Descriptor().Name())
		}
		w.add(path, "%s has fields this server does not know (%d bytes); send only the fields of %s",
			where, len(unknown), m.Descriptor().FullName())
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		p := joinField(path, string(fd.Name()))
		switch {
		case fd.IsList():
			l := v.List()
			for i := range l.Len() {
				w.walkValue(p+"["+strconv.Itoa(i)+"]", fd, l.Get(i))
			}
		case fd.IsMap():
			nul := false
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				if ks, ok := k.Interface().(string); ok && !nul && strings.ContainsRune(ks, 0) {
					nul = true // one problem for the map, however many of its keys
					w.add(p, "keys must not contain control characters (found NUL, \\u0000)")
				}
				w.walkValue(p+"["+mapKey(k)+"]", fd.MapValue(), mv)
				return true
			})
		default:
			w.walkValue(p, fd, v)
		}
		return true
	})
}

func (w *walker) walkValue(path string, fd protoreflect.FieldDescriptor, v protoreflect.Value) {
	switch fd.Kind() {
	case protoreflect.EnumKind:
		if fd.Enum().Values().ByNumber(v.Enum()) == nil {
			w.add(path, "%d is not a value of %s", v.Enum(), fd.Enum().FullName())
		}
	case protoreflect.StringKind:
		if strings.ContainsRune(v.String(), 0) {
			w.add(path, "must not contain control characters (found NUL, \\u0000)")
		}
	case protoreflect.DoubleKind, protoreflect.FloatKind:
		if f := v.Float(); math.IsNaN(f) || math.IsInf(f, 0) {
			w.add(path, "must be a finite number, got %v", f)
		}
	case protoreflect.MessageKind, protoreflect.GroupKind:
		w.walk(path, v.Message())
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
		f, err := c.check(msg)
		switch {
		case err != nil:
			c.log.ErrorContext(ctx, "request rules could not be evaluated", "procedure", req.Spec().Procedure, "error", err.Error())
			return nil, connect.NewError(connect.CodeInternal, errors.New("internal error"))
		case f.oversized:
			// Refused on its size alone: neither the domain nor the handler (ValidateWorkflow
			// looks assignees up) is given a draft of a thousand states.
			return nil, c.refuse(f)
		}
		if _, ok := msg.(*flowhookv1.ValidateWorkflowRequest); ok {
			return validateWorkflow(ctx, next, req, f)
		}
		if len(f.problems) == 0 {
			return next(ctx, req)
		}
		if c.domain != nil {
			f.problems = addNew(c.domain(msg), f.problems)
		}
		return nil, c.refuse(f)
	}
}

// validateWorkflow runs ValidateWorkflow, whose answer lists a draft's problems instead of
// failing, and adds to its answer the rule violations the handler did not report; the answer
// lists at most maxProblems. Its paths are relative to the draft.
func validateWorkflow(ctx context.Context, next connect.UnaryFunc, req connect.AnyRequest, f findings) (connect.AnyResponse, error) {
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
	ps := f.problems
	for i := range ps {
		ps[i].Path = strings.TrimPrefix(strings.TrimPrefix(ps[i].Path, "workflow"), ".")
	}
	out.Problems = problemsToProto(listed(addNew(found, ps), f.omitted))
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
	f, err := s.c.check(msg)
	switch {
	case err != nil:
		s.c.log.ErrorContext(s.ctx, "request rules could not be evaluated", "procedure", s.Spec().Procedure, "error", err.Error())
		return connect.NewError(connect.CodeInternal, errors.New("internal error"))
	case len(f.problems) > 0:
		return s.c.refuse(f)
	}
	return nil
}

// refuse is InvalidArgument with the problems (ValidationErrorDetails) and the rule violations
// (buf.validate.Violations), at most maxProblems of each (the problems count the others).
func (c *requestChecker) refuse(f findings) error {
	err := withProblems(connect.CodeInvalidArgument, "invalid request", f.problems, f.omitted)
	var cerr *connect.Error
	if f.violations != nil && errors.As(err, &cerr) {
		if len(f.violations.Violations) > maxProblems {
			f.violations.Violations = f.violations.Violations[:maxProblems]
		}
		if detail, derr := connect.NewErrorDetail(f.violations); derr == nil {
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
