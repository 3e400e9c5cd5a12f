package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"reflect"
	"slices"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// secretField is a write-only secret of a settings request (its proto name) and the field of
// the settings message that says whether it is set (a bool or a count); rolled, when not
// empty, is a field that changes when the secret is replaced (a re-sent equal secret is not);
// applied, when not empty, is the request's flag without which the secret given is ignored
// (DocuSign's hmac_keys without replace_hmac_keys), so that it is not logged as replaced.
type secretField struct {
	request, set, rolled, applied string
}

// settingsSecrets lists, by request message, the secrets its changes are logged as set,
// replaced or cleared: never their values.
var settingsSecrets = map[string][]secretField{
	"flowhook.v1.UpdateDocuSignSettingsRequest": {{request: "private_key_pem", set: "private_key_set"},
		{request: "hmac_keys", set: "hmac_key_count", applied: "replace_hmac_keys"}},
	"flowhook.v1.UpdateOneSpanSettingsRequest": {{request: "api_key", set: "api_key_set"},
		{request: "callback_key", set: "callback_key_set", rolled: "previous_callback_key_valid_until"}},
	"flowhook.v1.CreateConnectorRequest": {{request: "signing_secret", set: "signing_secret_set"}, {request: "auth_header", set: "auth_header_set"}},
	"flowhook.v1.UpdateConnectorRequest": {{request: "signing_secret", set: "signing_secret_set", rolled: "previous_signing_secret_valid_until"},
		{request: "auth_header", set: "auth_header_set"}},
}

// unlogged are settings fields that change with every save, or follow from others.
var unlogged = []string{"revision", "updated_at", "created_at", "webhook_url", "warnings", "previous_signing_secret_valid_until"}

// logSettingsChange logs, at INFO and in one line, who changed which settings group and which
// of its fields: the names of the plain fields whose value changed, and for each secret only
// whether it was set, replaced or cleared. before and after are the settings messages (before
// nil or empty for a new group), req the request that changed them.
func logSettingsChange(ctx context.Context, log *slog.Logger, msg, group, by string, req, before, after proto.Message) {
	b, a, r := protoMap(before), protoMap(after), protoMap(req)
	secrets := settingsSecrets[string(req.ProtoReflect().Descriptor().FullName())]
	skip := slices.Clone(unlogged)
	var states []string
	for _, s := range secrets {
		skip = append(skip, s.set)
		_, given := r[s.request]
		given = given && (s.applied == "" || truthy(r[s.applied]))
		wasSet, isSet := truthy(b[s.set]), truthy(a[s.set])
		switch {
		case !wasSet && isSet:
			states = append(states, s.request+": set")
		case wasSet && !isSet:
			states = append(states, s.request+": cleared")
		case wasSet && isSet && given && (s.rolled == "" || !reflect.DeepEqual(b[s.rolled], a[s.rolled])):
			states = append(states, s.request+": replaced")
		}
	}
	var changed []string
	for k, v := range a {
		if !slices.Contains(skip, k) && !reflect.DeepEqual(b[k], v) {
			changed = append(changed, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok && !slices.Contains(skip, k) {
			changed = append(changed, k)
		}
	}
	slices.Sort(changed)
	slices.Sort(states)
	log.InfoContext(ctx, msg, "group", group, "by", by, "changed", changed, "secrets", states)
}

// protoMap is a message's populated fields by proto name, as JSON values.
func protoMap(m proto.Message) map[string]any {
	out := map[string]any{}
	if m == nil || !m.ProtoReflect().IsValid() {
		return out
	}
	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		return out
	}
	if json.Unmarshal(b, &out) != nil {
		return map[string]any{}
	}
	return out
}

// truthy says whether a settings message's "is set" field says so (true, or a count above 0).
func truthy(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case float64:
		return x > 0
	case string:
		return x != "" && x != "0"
	}
	return false
}
