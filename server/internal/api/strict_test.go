package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/store"
)

// rawError is a Connect error as it travels in JSON.
type rawError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details []struct {
		Type string `json:"type"`
	} `json:"details"`
}

// postRaw sends body to procedure as the bootstrap admin, with the content type, and returns the
// HTTP status and the body.
func (b *testBundle) postRaw(t *testing.T, procedure, contentType string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, b.baseURL+procedure, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+bootstrapKey)
	res, err := b.httpClient.Do(req)
	require.NoError(t, err)
	defer func() { require.NoError(t, res.Body.Close()) }()
	out, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, out
}

// violations returns the buf.validate.Violations detail of an error as path → rule id.
func violations(t *testing.T, cerr *connect.Error) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, d := range cerr.Details() {
		v, err := d.Value()
		require.NoError(t, err)
		if vs, ok := v.(*validate.Violations); ok {
			for _, v := range vs.GetViolations() {
				var path []string
				for _, e := range v.GetField().GetElements() {
					p := e.GetFieldName()
					switch k := e.GetSubscript().(type) {
					case *validate.FieldPathElement_Index:
						p += "[" + strconv.FormatUint(k.Index, 10) + "]"
					case *validate.FieldPathElement_StringKey:
						p += `["` + k.StringKey + `"]`
					}
					path = append(path, p)
				}
				out[strings.Join(path, ".")] = v.GetRuleId()
			}
		}
	}
	return out
}

// TestStrictJSON: what the JSON codec does not understand is refused, naming it, whatever the
// charset parameter of the content type; nothing is created.
func TestStrictJSON(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setup(t, d)
		cases := []struct {
			name, procedure, body, names string
		}{
			{"unknown field", "/flowhook.v1.IdentityService/CreateUser",
				`{"displayName":"Eve","email":"eve@example.com","roles":["ROLE_USER"],"rolez":["ROLE_ADMIN"]}`, `unknown field "rolez"`},
			{"unknown role", "/flowhook.v1.IdentityService/CreateUser",
				`{"displayName":"Eve","email":"eve@example.com","roles":["ROLE_GOD"]}`, `ROLE_GOD`},
			{"unknown status", "/flowhook.v1.WorkflowInstanceService/ListInstances",
				`{"filter":{"status":"INSTANCE_STATUS_BOGUS"}}`, `INSTANCE_STATUS_BOGUS`},
			{"verdict without its prefix", "/flowhook.v1.EventLogService/ListEvents",
				`{"filter":{"verdict":"APPLIED"}}`, `APPLIED`},
			{"misspelled filter key", "/flowhook.v1.WorkflowInstanceService/ListInstances",
				`{"filter":{"stauts":"INSTANCE_STATUS_FAILED"}}`, `unknown field "stauts"`},
			{"snake_case and camelCase both known", "/flowhook.v1.IdentityService/CreateUser",
				`{"display_name":"Eve","email":"eve@example.com","roles":["ROLE_USER"],"rolesz":1}`, `unknown field "rolesz"`},
		}
		for _, c := range cases {
			for _, ct := range []string{"application/json", "application/json; charset=utf-8", "application/json;charset=UTF-8"} {
				status, body := b.postRaw(t, c.procedure, ct, []byte(c.body))
				require.Equal(t, http.StatusBadRequest, status, "%s (%s): %s", c.name, ct, body)
				var e rawError
				require.NoError(t, json.Unmarshal(body, &e), string(body))
				require.Equal(t, "invalid_argument", e.Code, c.name)
				require.Contains(t, e.Message, c.names, "%s (%s)", c.name, ct)
			}
		}
		// The same requests, understood, pass: the codec is strict, not broken.
		status, body := b.postRaw(t, "/flowhook.v1.WorkflowInstanceService/ListInstances", "application/json",
			[]byte(`{"filter":{"status":"INSTANCE_STATUS_FAILED"},"page_size":1000}`))
		require.Equal(t, http.StatusOK, status, string(body))
		status, body = b.postRaw(t, "/flowhook.v1.EventLogService/ListEvents", "application/json; charset=utf-8",
			[]byte(`{"filter":{"verdict":"VERDICT_APPLIED"}}`))
		require.Equal(t, http.StatusOK, status, string(body))
		// Nobody named Eve was created by the refused requests.
		users, err := b.identity.ListUsers(context.Background(), connect.NewRequest(&flowhookv1.ListUsersRequest{}))
		require.NoError(t, err)
		for _, u := range users.Msg.GetUsers() {
			require.NotEqual(t, "eve@example.com", u.GetEmail())
		}
	})
}

// TestStrictEnumNumbers: an enum number outside its enum is InvalidArgument in JSON and in
// binary protobuf (Connect and gRPC), with the path of the field and the rule it breaks.
func TestStrictEnumNumbers(t *testing.T) {
	t.Parallel()
	b := setup(t, store.SQLite)
	ctx := context.Background()

	// JSON: a number is a valid spelling of an enum value, so only the rules catch it.
	status, body := b.postRaw(t, "/flowhook.v1.IdentityService/CreateUser", "application/json",
		[]byte(`{"displayName":"Eve","email":"eve@example.com","roles":[7]}`))
	require.Equal(t, http.StatusBadRequest, status, string(body))
	var e rawError
	require.NoError(t, json.Unmarshal(body, &e))
	require.Equal(t, "invalid_argument", e.Code)
	require.Contains(t, e.Message, "roles[0]")
	var types []string
	for _, d := range e.Details {
		types = append(types, d.Type)
	}
	require.ElementsMatch(t, []string{"flowhook.v1.ValidationErrorDetails", "buf.validate.Violations"}, types)

	// Binary protobuf, Connect.
	_, err := b.identity.CreateUser(ctx, connect.NewRequest(&flowhookv1.CreateUserRequest{
		DisplayName: "Eve", Email: "eve@example.com", Roles: []flowhookv1.Role{flowhookv1.Role_ROLE_USER, 7}}))
	cerr := requireCode(t, err, connect.CodeInvalidArgument)
	require.Contains(t, problems(t, cerr), "roles[1]")
	require.Equal(t, "enum.defined_only", violations(t, cerr)["roles[1]"])

	_, err = b.instances.ListInstances(ctx, connect.NewRequest(&flowhookv1.ListInstancesRequest{
		Filter: &flowhookv1.InstanceFilter{Status: 9, Provider: 42}}))
	cerr = requireCode(t, err, connect.CodeInvalidArgument)
	ps := problems(t, cerr)
	require.Contains(t, ps, "filter.status")
	require.Contains(t, ps, "filter.provider")

	_, err = b.eventLog.ListEvents(ctx, connect.NewRequest(&flowhookv1.ListEventsRequest{Filter: &flowhookv1.EventFilter{Verdict: 99}}))
	require.Equal(t, "enum.defined_only", violations(t, requireCode(t, err, connect.CodeInvalidArgument))["filter.verdict"])

	// Nested in a draft, over gRPC; the draft's other problems come in the same answer.
	dr := b.draft("enums")
	dr.States[0].FormFields[0].Type = 12
	dr.Transitions[3].OnOutcome = 77
	dr.States[2].External.OutcomeOverrides["envelope-voided"] = 31
	_, err = b.designGRPC.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: dr}))
	cerr = requireCode(t, err, connect.CodeInvalidArgument)
	ps = problems(t, cerr)
	for _, p := range []string{"workflow.states[0].form_fields[0].type", "workflow.transitions[3].on_outcome",
		`workflow.states[2].external.outcome_overrides["envelope-voided"]`} {
		require.Contains(t, ps, p)
	}

	// An enum of a type flowhook cannot annotate: google.protobuf.Value's null_value.
	_, err = b.instances.StartInstance(ctx, connect.NewRequest(&flowhookv1.StartInstanceRequest{
		WorkflowId: "0190f5d2-6b1e-7c3a-9d4e-1f2a3b4c5d6e",
		FormData:   &structpb.Struct{Fields: map[string]*structpb.Value{"x": {Kind: &structpb.Value_NullValue{NullValue: 3}}}},
	}))
	cerr = requireCode(t, err, connect.CodeInvalidArgument)
	require.Contains(t, problems(t, cerr)[`form_data.fields["x"].null_value`], "google.protobuf.NullValue")
}

// TestStrictBinaryUnknownFields: a binary request with a field this server does not know is
// refused, as the JSON codec refuses one.
func TestStrictBinaryUnknownFields(t *testing.T) {
	t.Parallel()
	b := setup(t, store.SQLite)
	raw, err := proto.Marshal(&flowhookv1.CreateGroupRequest{Name: "finance"})
	require.NoError(t, err)
	raw = protowire.AppendTag(raw, 99, protowire.BytesType)
	raw = protowire.AppendString(raw, "surprise")
	status, body := b.postRaw(t, "/flowhook.v1.IdentityService/CreateGroup", "application/proto", raw)
	require.Equal(t, http.StatusBadRequest, status, string(body))

	// Without the extra field the same request creates the group.
	raw, err = proto.Marshal(&flowhookv1.CreateGroupRequest{Name: "finance"})
	require.NoError(t, err)
	status, body = b.postRaw(t, "/flowhook.v1.IdentityService/CreateGroup", "application/proto", raw)
	require.Equal(t, http.StatusOK, status, string(body))
}

// TestStrictRules: the protovalidate rules declared in the protos, through the server, with
// flowhook's error shape: every problem in a ValidationErrorDetails, and the rule ids in a
// buf.validate.Violations.
func TestStrictRules(t *testing.T) {
	t.Parallel()
	b := setup(t, store.SQLite)
	ctx := context.Background()
	long := func(n int) string { return strings.Repeat("x", n) }

	type call func() error
	cases := []struct {
		name  string
		call  call
		rules map[string]string // path → rule id
	}{
		{"ids are UUIDs", func() error {
			_, err := b.instances.GetInstance(ctx, connect.NewRequest(&flowhookv1.GetInstanceRequest{InstanceId: "42"}))
			return err
		}, map[string]string{"instance_id": "string.uuid"}},
		{"a missing id", func() error {
			_, err := b.design.GetWorkflow(ctx, connect.NewRequest(&flowhookv1.GetWorkflowRequest{}))
			return err
		}, map[string]string{"workflow_id": "string.uuid_empty"}},
		{"negative page_size", func() error {
			_, err := b.identity.ListUsers(ctx, connect.NewRequest(&flowhookv1.ListUsersRequest{PageSize: -1}))
			return err
		}, map[string]string{"page_size": "int32.gte"}},
		{"user: every field at once", func() error {
			_, err := b.identity.CreateUser(ctx, connect.NewRequest(&flowhookv1.CreateUserRequest{
				DisplayName: long(engine.MaxNameLen + 1), Email: "not an email"}))
			return err
		}, map[string]string{"display_name": "string.max_len", "email": "string.email", "roles": "repeated.min_items"}},
		{"unspecified role", func() error {
			_, err := b.identity.CreateUser(ctx, connect.NewRequest(&flowhookv1.CreateUserRequest{
				DisplayName: "Eve", Email: "eve@example.com", Roles: []flowhookv1.Role{flowhookv1.Role_ROLE_UNSPECIFIED}}))
			return err
		}, map[string]string{"roles[0]": "enum.not_in"}},
		{"connector name", func() error {
			_, err := b.settings.TestProviderConnection(ctx, connect.NewRequest(&flowhookv1.TestProviderConnectionRequest{
				Provider: flowhookv1.Provider_PROVIDER_CONNECTOR, Connector: "Not A Name"}))
			return err
		}, map[string]string{"connector": "string.pattern"}},
		{"URLs", func() error {
			_, err := b.settings.UpdateOneSpanSettings(ctx, connect.NewRequest(&flowhookv1.UpdateOneSpanSettingsRequest{BaseUrl: "not a url"}))
			return err
		}, map[string]string{"base_url": "string.uri"}},
		{"reason required", func() error {
			_, err := b.instances.CancelInstance(ctx, connect.NewRequest(&flowhookv1.CancelInstanceRequest{
				InstanceId: "0190f5d2-6b1e-7c3a-9d4e-1f2a3b4c5d6e"}))
			return err
		}, map[string]string{"reason": "required"}},
		{"ranges", func() error {
			_, err := b.settings.UpdateSecuritySettings(ctx, connect.NewRequest(&flowhookv1.UpdateSecuritySettingsRequest{
				EventRetentionDays: engine.MaxEventRetentionDays + 1, ExpectedRevision: -1,
				FormDataRetentionDays: -1, DocumentRetentionDays: engine.MaxDataRetentionDays + 1}))
			return err
		}, map[string]string{"event_retention_days": "int32.gte_lte", "expected_revision": "int64.gte",
			"form_data_retention_days": "int32.gte_lte", "document_retention_days": "int32.gte_lte"}},
		{"draft required", func() error {
			_, err := b.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{}))
			return err
		}, map[string]string{"workflow": "required"}},
	}
	for _, c := range cases {
		cerr := requireCode(t, c.call(), connect.CodeInvalidArgument)
		ps := problems(t, cerr)
		vs := violations(t, cerr)
		for path, rule := range c.rules {
			require.Contains(t, ps, path, c.name)
			require.Equal(t, rule, vs[path], "%s: %s", c.name, path)
		}
		require.Len(t, vs, len(c.rules), "%s: %v", c.name, vs)
		require.Contains(t, cerr.Message(), "invalid request", c.name)
	}

	// AIP-158: a page_size above the maximum is lowered, not refused.
	_, err := b.identity.ListUsers(ctx, connect.NewRequest(&flowhookv1.ListUsersRequest{PageSize: 100000}))
	require.NoError(t, err)

	// A draft: the rule violations and the domain's own problems (a dangling transition) in one
	// answer; where both report a path, the domain's message, which says more, is kept.
	dr := b.draft("rules")
	dr.States[1].Key = "1-review"
	dr.Transitions[0].ToState = "nowhere"
	dr.States[2].External.EmailSubject = long(engine.MaxEmailSubjectLen + 1)
	_, err = b.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: dr}))
	cerr := requireCode(t, err, connect.CodeInvalidArgument)
	ps := problems(t, cerr)
	require.Contains(t, ps["workflow.states[1].key"], "must start with a letter")
	require.Contains(t, ps, "workflow.transitions[0].to_state")
	require.Contains(t, ps, "workflow.states[2].external.email_subject")
	vs := violations(t, cerr)
	require.Equal(t, "string.pattern", vs["workflow.states[1].key"])
	require.Equal(t, "string.max_len", vs["workflow.states[2].external.email_subject"])

	// ValidateWorkflow answers with the problems instead of failing, paths relative to the
	// draft, rule violations included.
	dr = b.draft("rules")
	dr.States[0].Timeout = durationpb.New(-time.Second)
	dr.States[2].External.Connector = "Bad Name"
	res, err := b.design.ValidateWorkflow(ctx, connect.NewRequest(&flowhookv1.ValidateWorkflowRequest{Workflow: dr}))
	require.NoError(t, err)
	got := map[string]string{}
	for _, p := range res.Msg.GetProblems() {
		got[p.GetPath()] = p.GetMessage()
	}
	require.Contains(t, got, "states[0].timeout")
	require.Contains(t, got, "states[2].external.connector")
}

// TestStrictEveryEnumCovered walks every request of every service: each enum field of a
// flowhook message reachable from a request carries enum.defined_only (so that TypeScript
// clients check it too); enums of other packages are left to the interceptor's walk.
func TestStrictEveryEnumCovered(t *testing.T) {
	t.Parallel()
	var missing []string
	seen := map[protoreflect.FullName]bool{}
	var visit func(md protoreflect.MessageDescriptor)
	visit = func(md protoreflect.MessageDescriptor) {
		if seen[md.FullName()] || !strings.HasPrefix(string(md.FullName()), "flowhook.") {
			return
		}
		seen[md.FullName()] = true
		fields := md.Fields()
		for i := range fields.Len() {
			fd := fields.Get(i)
			rules, _ := proto.GetExtension(fd.Options(), validate.E_Field).(*validate.FieldRules)
			target := fd
			enumRules := rules.GetEnum()
			switch {
			case fd.IsMap():
				target = fd.MapValue()
				enumRules = rules.GetMap().GetValues().GetEnum()
			case fd.IsList():
				enumRules = rules.GetRepeated().GetItems().GetEnum()
			}
			switch target.Kind() {
			case protoreflect.EnumKind:
				if !enumRules.GetDefinedOnly() {
					missing = append(missing, string(fd.FullName()))
				}
			case protoreflect.MessageKind:
				visit(target.Message())
			}
		}
	}
	services := 0
	protoregistry.GlobalFiles.RangeFilesByPackage("flowhook.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := range fd.Services().Len() {
			services++
			methods := fd.Services().Get(i).Methods()
			for j := range methods.Len() {
				visit(methods.Get(j).Input())
			}
		}
		return true
	})
	require.Equal(t, 5, services)
	require.Contains(t, seen, protoreflect.FullName("flowhook.v1.ExternalStep"), "the walk reaches nested messages")
	require.Empty(t, missing, "enum fields without (buf.validate.field).enum.defined_only")
}

// TestStrictLimitsMatchTheEngine: the limits declared in the protos are the engine's, so that
// a client checking the rules and the server checking the domain never disagree.
func TestStrictLimitsMatchTheEngine(t *testing.T) {
	t.Parallel()
	rules := func(m proto.Message, field string) *validate.FieldRules {
		fd := m.ProtoReflect().Descriptor().Fields().ByName(protoreflect.Name(field))
		require.NotNil(t, fd, field)
		r, ok := proto.GetExtension(fd.Options(), validate.E_Field).(*validate.FieldRules)
		require.True(t, ok, field)
		return r
	}
	maxLen := func(m proto.Message, field string) int {
		return int(rules(m, field).GetString().GetMaxLen())
	}
	maxItems := func(m proto.Message, field string) int {
		return int(rules(m, field).GetRepeated().GetMaxItems())
	}
	require.Equal(t, engine.MaxNameLen, maxLen(&flowhookv1.WorkflowDraft{}, "name"))
	require.Equal(t, engine.MaxDescriptionLen, maxLen(&flowhookv1.WorkflowDraft{}, "description"))
	require.Equal(t, engine.MaxStates, maxItems(&flowhookv1.WorkflowDraft{}, "states"))
	require.Equal(t, engine.MaxTransitions, maxItems(&flowhookv1.WorkflowDraft{}, "transitions"))
	for _, m := range []proto.Message{&flowhookv1.State{}, &flowhookv1.Transition{}, &flowhookv1.FormField{}} {
		require.Equal(t, engine.MaxKeyLen, maxLen(m, map[bool]string{true: "name", false: "key"}[m.ProtoReflect().Descriptor().Name() == "FormField"]))
	}
	require.Equal(t, engine.MaxNameLen, maxLen(&flowhookv1.State{}, "name"))
	require.Equal(t, engine.MaxNameLen, maxLen(&flowhookv1.Transition{}, "name"))
	require.Equal(t, engine.MaxNameLen, maxLen(&flowhookv1.FormField{}, "label"))
	require.Equal(t, engine.MaxFormFields, maxItems(&flowhookv1.State{}, "form_fields"))
	require.Equal(t, engine.MaxSigners, maxItems(&flowhookv1.ExternalStep{}, "signers"))
	require.Equal(t, engine.MaxOutcomeOverrides, int(rules(&flowhookv1.ExternalStep{}, "outcome_overrides").GetMap().GetMaxPairs()))
	require.Equal(t, engine.MaxEventTypeLen, int(rules(&flowhookv1.ExternalStep{}, "outcome_overrides").GetMap().GetKeys().GetString().GetMaxLen()))
	require.Equal(t, engine.MaxEmailSubjectLen, maxLen(&flowhookv1.ExternalStep{}, "email_subject"))
	require.Equal(t, engine.MaxNameLen, maxLen(&flowhookv1.ExternalStep{}, "document_title"))
	require.Equal(t, engine.MaxConnectorNameLen, maxLen(&flowhookv1.ExternalStep{}, "connector"))
	require.Equal(t, engine.MaxTimeout, rules(&flowhookv1.State{}, "timeout").GetDuration().GetLte().AsDuration())
	require.Equal(t, engine.MaxNameLen, maxLen(&flowhookv1.CreateUserRequest{}, "display_name"))
	require.Equal(t, engine.MaxNameLen, maxLen(&flowhookv1.CreateGroupRequest{}, "name"))
	require.Equal(t, engine.MaxDescriptionLen, maxLen(&flowhookv1.CreateGroupRequest{}, "description"))
	require.Equal(t, engine.MaxDescriptionLen, maxLen(&flowhookv1.CancelInstanceRequest{}, "reason"))
	require.Equal(t, engine.MaxEventRetentionDays, int(rules(&flowhookv1.UpdateSecuritySettingsRequest{}, "event_retention_days").GetInt32().GetLte()))
	require.Equal(t, engine.MaxDataRetentionDays, int(rules(&flowhookv1.UpdateSecuritySettingsRequest{}, "form_data_retention_days").GetInt32().GetLte()))
	require.Equal(t, engine.MaxDataRetentionDays, int(rules(&flowhookv1.UpdateSecuritySettingsRequest{}, "document_retention_days").GetInt32().GetLte()))
	// The key and connector-name patterns accept and refuse what the engine does.
	for _, name := range []string{"a", "sandbox", "my-system-2", "-x", "A", "a_b", ""} {
		pattern := rules(&flowhookv1.ExternalStep{}, "connector").GetString().GetPattern()
		require.Equal(t, engine.ValidConnectorName(name), name != "" && regexp.MustCompile(pattern).MatchString(name), name)
	}
}

// TestStrictNUL: a NUL character anywhere in a request — a filter, a name, form data, a map
// key — is InvalidArgument naming the field, on both databases (PostgreSQL cannot keep NUL in
// text or jsonb: without the check it would fail inside the store), and changes nothing.
func TestStrictNUL(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setup(t, d)
		before, err := b.identity.ListGroups(context.Background(), connect.NewRequest(&flowhookv1.ListGroupsRequest{}))
		require.NoError(t, err)
		cases := []struct {
			name, procedure, body, path string
		}{
			{"instance filter", "/flowhook.v1.WorkflowInstanceService/ListInstances",
				`{"filter":{"externalId":"env\u0000"}}`, "filter.external_id"},
			{"event filter", "/flowhook.v1.EventLogService/ListEvents",
				`{"filter":{"eventType":"\u0000"}}`, "filter.event_type"},
			{"workflow name filter", "/flowhook.v1.WorkflowDesignService/ListWorkflows",
				`{"nameFilter":"a\u0000b"}`, "name_filter"},
			{"group name", "/flowhook.v1.IdentityService/CreateGroup",
				`{"name":"legal\u0000"}`, "name"},
			{"form data value", "/flowhook.v1.WorkflowInstanceService/StartInstance",
				`{"workflowId":"01a23b49-fd91-7c7c-ac5a-f345f1b62285","formData":{"customer":"Ada\u0000"}}`, `form_data.fields["customer"].string_value`},
			{"form data key", "/flowhook.v1.WorkflowInstanceService/StartInstance",
				`{"workflowId":"01a23b49-fd91-7c7c-ac5a-f345f1b62285","formData":{"cust\u0000omer":"Ada"}}`, "form_data.fields"},
		}
		for _, c := range cases {
			status, body := b.postRaw(t, c.procedure, "application/json", []byte(c.body))
			require.Equal(t, http.StatusBadRequest, status, "%s: %s", c.name, body)
			var e rawError
			require.NoError(t, json.Unmarshal(body, &e), string(body))
			require.Equal(t, "invalid_argument", e.Code, c.name)
			require.Contains(t, e.Message, "NUL", c.name)
			require.Contains(t, e.Message, c.path, c.name)
		}
		groups, err := b.identity.ListGroups(context.Background(), connect.NewRequest(&flowhookv1.ListGroupsRequest{}))
		require.NoError(t, err)
		require.Len(t, groups.Msg.GetGroups(), len(before.Msg.GetGroups()), "a refused request created nothing")
	})
}

// problemList is the ValidationErrorDetails of an error, in order.
func problemList(t *testing.T, cerr *connect.Error) []*flowhookv1.Problem {
	t.Helper()
	var out []*flowhookv1.Problem
	for _, d := range cerr.Details() {
		v, err := d.Value()
		require.NoError(t, err)
		if vd, ok := v.(*flowhookv1.ValidationErrorDetails); ok {
			out = append(out, vd.GetProblems()...)
		}
	}
	return out
}

// violationCount is the number of rule violations an error carries.
func violationCount(t *testing.T, cerr *connect.Error) int {
	t.Helper()
	n := 0
	for _, d := range cerr.Details() {
		v, err := d.Value()
		require.NoError(t, err)
		if vs, ok := v.(*validate.Violations); ok {
			n += len(vs.GetViolations())
		}
	}
	return n
}

// TestStrictProblemsBounded: a request with thousands of broken values — each item of a list
// a few bytes — is refused with the first 100 problems and one that counts the others, in
// both details, and an answer of a few kilobytes; ValidateWorkflow's answer is bounded alike.
func TestStrictProblemsBounded(t *testing.T) {
	t.Parallel()
	b := setup(t, store.SQLite)
	ctx := context.Background()
	const n = 5000

	// The walk's findings: null_value numbers outside NullValue, in form data.
	nulls := make([]*structpb.Value, n)
	for i := range nulls {
		nulls[i] = &structpb.Value{Kind: &structpb.Value_NullValue{NullValue: 3}}
	}
	raw, err := proto.Marshal(&flowhookv1.StartInstanceRequest{
		WorkflowId: "0190f5d2-6b1e-7c3a-9d4e-1f2a3b4c5d6e",
		FormData: &structpb.Struct{Fields: map[string]*structpb.Value{
			"x": {Kind: &structpb.Value_ListValue{ListValue: &structpb.ListValue{Values: nulls}}}}},
	})
	require.NoError(t, err)
	status, body := b.postRaw(t, "/flowhook.v1.WorkflowInstanceService/StartInstance", "application/proto", raw)
	require.Equal(t, http.StatusBadRequest, status)
	require.Less(t, len(body), 32<<10, "the answer does not grow with the request")
	var e rawError
	require.NoError(t, json.Unmarshal(body, &e))
	require.Contains(t, e.Message, "(and 4999 more problems)")

	_, err = b.instances.StartInstance(ctx, connect.NewRequest(&flowhookv1.StartInstanceRequest{
		WorkflowId: "0190f5d2-6b1e-7c3a-9d4e-1f2a3b4c5d6e",
		FormData: &structpb.Struct{Fields: map[string]*structpb.Value{
			"x": {Kind: &structpb.Value_ListValue{ListValue: &structpb.ListValue{Values: nulls}}}}},
	}))
	ps := problemList(t, requireCode(t, err, connect.CodeInvalidArgument))
	require.Len(t, ps, 101)
	require.Equal(t, `form_data.fields["x"].list_value.values[0].null_value`, ps[0].GetPath())
	require.Empty(t, ps[100].GetPath(), "the count is the request's")
	require.Equal(t, "and 4900 more problems", ps[100].GetMessage())

	// Rule violations and the domain's problems: a draft of 1000 empty transitions (the most
	// allowed), three rules broken by each.
	dr := b.draft("many problems")
	dr.Transitions = make([]*flowhookv1.Transition, engine.MaxTransitions)
	for i := range dr.Transitions {
		dr.Transitions[i] = &flowhookv1.Transition{}
	}
	_, err = b.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: dr}))
	cerr := requireCode(t, err, connect.CodeInvalidArgument)
	ps = problemList(t, cerr)
	require.Len(t, ps, 101)
	require.Regexp(t, `^and \d+ more problems$`, ps[100].GetMessage())
	require.Equal(t, 100, violationCount(t, cerr))
	require.Regexp(t, `\(and \d{4} more problems\)$`, cerr.Message())

	res, err := b.design.ValidateWorkflow(ctx, connect.NewRequest(&flowhookv1.ValidateWorkflowRequest{Workflow: dr}))
	require.NoError(t, err)
	require.Len(t, res.Msg.GetProblems(), 101)
	require.Regexp(t, `^and \d+ more problems$`, res.Msg.GetProblems()[100].GetMessage())
}

// TestStrictOversized: a list longer than its rule allows is refused on its size alone, with
// the rule's id, before anything visits its items: neither the rules, nor the domain, nor
// ValidateWorkflow's handler (which looks assignees up) is given a draft of thousands of
// states.
func TestStrictOversized(t *testing.T) {
	t.Parallel()
	b := setup(t, store.SQLite)
	ctx := context.Background()

	dr := b.draft("too many transitions")
	for range 2 * engine.MaxTransitions {
		dr.Transitions = append(dr.Transitions, &flowhookv1.Transition{})
	}
	_, err := b.designGRPC.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: dr}))
	cerr := requireCode(t, err, connect.CodeInvalidArgument)
	ps := problemList(t, cerr)
	require.Len(t, ps, 1)
	require.Equal(t, "workflow.transitions", ps[0].GetPath())
	require.Equal(t, "at most 1000 transitions are allowed, got 2005", ps[0].GetMessage())
	require.Equal(t, map[string]string{"workflow.transitions": "repeated.max_items"}, violations(t, cerr))

	// HUMAN states assigned to users nobody has: ValidateWorkflow refuses the draft for its
	// size instead of looking every assignee up.
	dr = b.draft("too many states")
	for i := range engine.MaxStates {
		dr.States = append(dr.States, &flowhookv1.State{Key: "s" + strconv.Itoa(i), Kind: flowhookv1.StateKind_STATE_KIND_HUMAN,
			Assignee: &flowhookv1.Assignee{Assignee: &flowhookv1.Assignee_UserId{UserId: "0190f5d2-6b1e-7c3a-9d4e-" + fmt.Sprintf("%012d", i)}}})
	}
	_, err = b.design.ValidateWorkflow(ctx, connect.NewRequest(&flowhookv1.ValidateWorkflowRequest{Workflow: dr}))
	cerr = requireCode(t, err, connect.CodeInvalidArgument)
	require.Equal(t, map[string]string{"workflow.states": "at most 200 states are allowed, got 205"}, problems(t, cerr))

	// Nested lists too, with protovalidate's path.
	dr = b.draft("too many signers")
	for range engine.MaxSigners {
		dr.States[2].External.Signers = append(dr.States[2].External.Signers, dr.States[2].External.Signers[0])
	}
	_, err = b.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: dr}))
	cerr = requireCode(t, err, connect.CodeInvalidArgument)
	require.Equal(t, map[string]string{"workflow.states[2].external.signers": "repeated.max_items"}, violations(t, cerr))
}

// TestStrictNonFiniteNumbers: NaN and ±Infinity, which binary protobuf can carry in a
// google.protobuf.Value and JSON cannot, are refused at their path instead of becoming the
// strings "NaN" and "Infinity" in form data.
func TestStrictNonFiniteNumbers(t *testing.T) {
	t.Parallel()
	b := setup(t, store.SQLite)
	ctx := context.Background()
	created, err := b.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: b.draft("finite")}))
	require.NoError(t, err)
	id := created.Msg.GetWorkflow().GetId()
	_, err = b.design.PublishWorkflow(ctx, connect.NewRequest(&flowhookv1.PublishWorkflowRequest{WorkflowId: id, ExpectedRevision: 1}))
	require.NoError(t, err)

	for _, x := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		for _, field := range []string{"signer_name", "amount"} {
			_, err := b.instances.StartInstance(ctx, connect.NewRequest(&flowhookv1.StartInstanceRequest{
				WorkflowId: id, TransitionKey: "submit",
				FormData: &structpb.Struct{Fields: map[string]*structpb.Value{
					"signer_name": structpb.NewStringValue("Ada"), "signer_email": structpb.NewStringValue("ada@example.com"),
					field: structpb.NewNumberValue(x)}},
			}))
			cerr := requireCode(t, err, connect.CodeInvalidArgument)
			require.Contains(t, problems(t, cerr)[`form_data.fields["`+field+`"].number_value`], "must be a finite number", "%v in %s", x, field)
		}
	}
}

// TestStrictCodecErrors: a request the codec cannot read is InvalidArgument naming its message
// by its proto name, never by its Go type, and a name the request makes up comes back cut
// short, not in full.
func TestStrictCodecErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, store.SQLite)

	status, body := b.postRaw(t, "/flowhook.v1.IdentityService/CreateGroup", "application/proto", []byte{0xff, 0xff})
	require.Equal(t, http.StatusBadRequest, status, string(body))
	var e rawError
	require.NoError(t, json.Unmarshal(body, &e))
	require.Equal(t, "invalid_argument", e.Code)
	require.Contains(t, e.Message, "flowhook.v1.CreateGroupRequest")
	require.NotContains(t, e.Message, "flowhookv1")

	long := strings.Repeat("x", 200<<10)
	for _, c := range []struct{ name, body, want string }{
		{"unknown field", `{"name":"finance","` + long + `":1}`, `unknown field "` + strings.Repeat("x", 64) + `…"`},
		{"unknown enum name", `{"displayName":"Eve","email":"eve@example.com","roles":["ROLE_` + long + `"]}`, `"ROLE_` + strings.Repeat("x", 59) + `…"`},
		{"number", `{"name":` + strings.Repeat("1", 200<<10) + `}`, "invalid value for string field name: " + strings.Repeat("1", 64) + "…"},
	} {
		procedure := "/flowhook.v1.IdentityService/CreateGroup"
		if strings.Contains(c.body, "roles") {
			procedure = "/flowhook.v1.IdentityService/CreateUser"
		}
		status, body := b.postRaw(t, procedure, "application/json", []byte(c.body))
		require.Equal(t, http.StatusBadRequest, status, c.name)
		require.Less(t, len(body), 1<<10, c.name)
		var e rawError
		require.NoError(t, json.Unmarshal(body, &e), c.name)
		require.Contains(t, e.Message, c.want, c.name)
	}
}
