package api

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/reflect/protoreflect"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/eventlog"
	"github.com/flowhook/flowhook/server/internal/provider"
)

// protoEnum is a generated enum: its values are read from its descriptor, so that a value
// added to the proto is walked without touching this file.
type protoEnum interface {
	~int32
	protoreflect.Enum
}

// enumPair is one proto enum and the engine type the API converts it to and from.
type enumPair[P protoEnum, E comparable] struct {
	// prefix starts every proto value's name ("INSTANCE_STATUS_"); the rest is the engine's
	// name of the value.
	prefix string
	// engine is every declared engine value but the unspecified one.
	engine []E
	// name is the engine's name of a value; zero is its unspecified value.
	name func(E) string
	zero E
	// toProto and fromProto are the API's conversions; fromProto is nil for an enum the API
	// only sends.
	toProto   func(E) P
	fromProto func(P) E
}

// check fails when a value of either side has no counterpart of the same name on the other,
// or a round trip through the conversions does not give the value back.
func (p enumPair[P, E]) check(t require.TestingT) {
	var zp P
	values := zp.Descriptor().Values()
	require.NotZero(t, values.Len())
	require.NotEmpty(t, p.engine, "no engine values: the walk found nothing")
	maxNumber := protoreflect.EnumNumber(0)
	for i := range values.Len() {
		v := values.Get(i)
		n, name := v.Number(), string(v.Name())
		maxNumber = max(maxNumber, n)
		require.True(t, strings.HasPrefix(name, p.prefix), "%s does not start with %s", name, p.prefix)
		if n == 0 {
			require.Equal(t, p.prefix+"UNSPECIFIED", name)
			require.Equal(t, P(0), p.toProto(p.zero), "the engine's unspecified value is %s", name)
			if p.fromProto != nil {
				require.Equal(t, p.zero, p.fromProto(P(0)), "%s is the engine's unspecified value", name)
			}
			continue
		}
		i := slices.IndexFunc(p.engine, func(e E) bool { return p.prefix+p.name(e) == name })
		require.True(t, i >= 0, "the proto's %s (%d) has no engine counterpart", name, n)
		e := p.engine[i]
		require.Equal(t, P(n), p.toProto(e), "engine %s converts to another number than %s's", p.name(e), name)
		if p.fromProto != nil {
			require.Equal(t, e, p.fromProto(P(n)), "%s does not convert to the engine's %s", name, p.name(e))
		}
	}
	for _, e := range p.engine {
		n := p.toProto(e)
		require.NotEqual(t, P(0), n, "the engine's %s has no proto counterpart", p.name(e))
		v := values.ByNumber(protoreflect.EnumNumber(n))
		require.NotNil(t, v, "the engine's %s converts to %d, a number the proto does not have", p.name(e), n)
		require.Equal(t, p.prefix+p.name(e), string(v.Name()), "the engine's %s converts to another value", p.name(e))
		if p.fromProto != nil {
			require.Equal(t, e, p.fromProto(n), "the engine's %s does not come back from %s", p.name(e), v.Name())
		}
	}
	// A number from a newer client is never taken for a declared value.
	if p.fromProto != nil {
		unknown := p.fromProto(P(maxNumber + 1))
		require.False(t, slices.Contains(p.engine, unknown), "the unknown number %d converts to the engine's %s", maxNumber+1, p.name(unknown))
	}
}

// intEnum is an engine enum numbered like its proto: String names 1, 2, … and then says
// UNKNOWN(n).
type intEnum interface {
	~int
	String() string
}

// declaredValues returns an int enum's declared values: 1, 2, … up to the first number String does not
// name. The engine's name tables are the declaration; no list is kept by hand.
func declaredValues[E intEnum]() []E {
	var out []E
	for v := 1; E(v).String() != fmt.Sprintf("UNKNOWN(%d)", v); v++ {
		out = append(out, E(v))
	}
	return out
}

func intPair[P protoEnum, E intEnum](prefix string, toProto func(E) P, fromProto func(P) E) enumPair[P, E] {
	return enumPair[P, E]{prefix: prefix, engine: declaredValues[E](), name: E.String, toProto: toProto, fromProto: fromProto}
}

// declared returns the string constants of type typ declared in the Go package in dir (its
// non-test files): the engine's string enums have no list, and a constant added there is
// found here.
func declared[E ~string](t *testing.T, dir, typ string) []E {
	t.Helper()
	fset := token.NewFileSet()
	var out []E
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	require.NoError(t, err)
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		require.NoError(t, err)
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != typ {
					continue
				}
				for _, v := range vs.Values {
					lit, ok := v.(*ast.BasicLit)
					require.True(t, ok && lit.Kind == token.STRING, "a %s constant that is not a string literal at %s", typ, fset.Position(v.Pos()))
					s, err := strconv.Unquote(lit.Value)
					require.NoError(t, err)
					if s != "" {
						out = append(out, E(s))
					}
				}
			}
		}
	}
	require.NotEmpty(t, out, "no %s constants in %s", typ, dir)
	slices.Sort(out)
	return out
}

func str[E ~string](e E) string { return string(e) }

// builtinSpecs are the providers and their actions: each provider package names its own.
func builtinSpecs(t *testing.T) ([]engine.Provider, []engine.ActionKind) {
	t.Helper()
	var ps []engine.Provider
	var as []engine.ActionKind
	for _, s := range provider.Specs() {
		require.NotEmpty(t, s.Provider)
		require.NotEmpty(t, s.Action, "%s has no action", s.Provider)
		ps = append(ps, s.Provider)
		as = append(as, s.Action)
	}
	return ps, as
}

// TestEnumMapping: every proto enum the API converts and its engine counterpart have the same
// values under the same names, both ways: a value added on one side only fails here, whether
// the conversion is a cast (the numbers) or by name.
func TestEnumMapping(t *testing.T) {
	t.Parallel()
	providers, actions := builtinSpecs(t)
	checks := map[string]func(require.TestingT){
		"InstanceStatus": intPair("INSTANCE_STATUS_", instanceStatusToProto, instanceStatusFromProto).check,
		"StateKind":      intPair("STATE_KIND_", stateKindToProto, stateKindFromProto).check,
		"FieldType":      intPair("FIELD_TYPE_", fieldTypeToProto, fieldTypeFromProto).check,
		"Outcome":        intPair("OUTCOME_", outcomeToProto, outcomeFromProto).check,
		"Role":           intPair("ROLE_", roleToProto, roleFromProto).check,
		"ActivityKind":   intPair[flowhookv1.ActivityKind, engine.ActivityKind]("ACTIVITY_KIND_", activityKindToProto, nil).check,
		"Verdict": enumPair[flowhookv1.Verdict, engine.Verdict]{prefix: "VERDICT_", name: str[engine.Verdict],
			engine: declared[engine.Verdict](t, "../engine", "Verdict"), toProto: verdictToProto, fromProto: verdictFromProto}.check,
		"EventStep": enumPair[flowhookv1.EventStep, eventlog.Step]{prefix: "EVENT_STEP_", name: str[eventlog.Step],
			engine: declared[eventlog.Step](t, "../eventlog", "Step"), toProto: stepToProto}.check,
		"Provider": enumPair[flowhookv1.Provider, engine.Provider]{prefix: "PROVIDER_", name: str[engine.Provider],
			engine: providers, zero: engine.ProviderUnspecified, toProto: providerToProto, fromProto: providerFromProto}.check,
		"ActionKind": enumPair[flowhookv1.ActionKind, engine.ActionKind]{prefix: "ACTION_KIND_", name: str[engine.ActionKind],
			engine: actions, toProto: actionToProto}.check,
	}
	for name, check := range checks {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			check(t)
		})
	}
}

// TestEnumMappingCatchesOneSidedValues: the check itself fails when the engine lacks a proto
// value or has one the proto lacks, for a cast and for a by-name conversion. The engine's side
// is edited here, as adding a value would.
func TestEnumMappingCatchesOneSidedValues(t *testing.T) {
	t.Parallel()
	status := intPair("INSTANCE_STATUS_", instanceStatusToProto, instanceStatusFromProto)
	verdict := enumPair[flowhookv1.Verdict, engine.Verdict]{prefix: "VERDICT_", name: str[engine.Verdict],
		engine: declared[engine.Verdict](t, "../engine", "Verdict"), toProto: verdictToProto, fromProto: verdictFromProto}
	require.False(t, run(status.check).failed, "the real pair passes")
	require.False(t, run(verdict.check).failed, "the real pair passes")

	tests := []struct {
		name  string
		check func(require.TestingT)
		want  string
	}{
		{"a proto status the engine lacks", with(status, status.engine[:len(status.engine)-1]).check, "has no engine counterpart"},
		{"an engine status the proto lacks", with(status, append(slices.Clone(status.engine), engine.StatusFailed+1)).check,
			"a number the proto does not have"},
		{"a proto verdict the engine lacks", with(verdict, slices.DeleteFunc(slices.Clone(verdict.engine),
			func(v engine.Verdict) bool { return v == engine.VerdictOrphaned })).check, "has no engine counterpart"},
		{"an engine verdict the proto lacks", with(verdict, append(slices.Clone(verdict.engine), "SUSPENDED")).check,
			"has no proto counterpart"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := run(tc.check)
			require.True(t, r.failed)
			require.Contains(t, strings.Join(r.messages, "\n"), tc.want)
		})
	}
}

func with[P protoEnum, E comparable](p enumPair[P, E], engine []E) enumPair[P, E] {
	p.engine = engine
	return p
}

// recorder is a require.TestingT that keeps what it was told; FailNow ends the goroutine, as
// testing's does.
type recorder struct {
	messages []string
	failed   bool
}

func (r *recorder) Errorf(format string, args ...any) {
	r.failed = true
	r.messages = append(r.messages, fmt.Sprintf(format, args...))
}

func (r *recorder) FailNow() {
	r.failed = true
	runtime.Goexit()
}

// run runs check on a goroutine of its own with a recorder, and returns the recorder.
func run(check func(require.TestingT)) *recorder {
	r := &recorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		check(r)
	}()
	<-done
	return r
}
