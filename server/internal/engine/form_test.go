package engine_test

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
)

var formFields = []engine.FormField{
	{Name: "name", Type: engine.FieldTypeString, Required: true},
	{Name: "email", Type: engine.FieldTypeEmail, Required: true},
	{Name: "amount", Type: engine.FieldTypeNumber},
	{Name: "urgent", Type: engine.FieldTypeBool},
	{Name: "due", Type: engine.FieldTypeDate},
}

func TestValidateForm(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		data map[string]any
		want map[string]string // path → message substring
		out  map[string]any
	}{
		{"valid, email lower-cased, empty optional dropped",
			map[string]any{"name": "Ada", "email": "Ada@Example.COM", "amount": 12.5, "urgent": false, "due": "2026-12-01", "extra_empty": nil},
			map[string]string{"form_data.extra_empty": "is not a field of this form"}, nil},
		{"all good", map[string]any{"name": "Ada", "email": "ada@example.com", "due": ""}, nil,
			map[string]any{"name": "Ada", "email": "ada@example.com"}},
		{"missing required", map[string]any{}, map[string]string{"form_data.name": "is required", "form_data.email": "is required"}, nil},
		{"empty string is missing", map[string]any{"name": "", "email": "a@b.co"}, map[string]string{"form_data.name": "is required"}, nil},
		{"blank string is missing", map[string]any{"name": " \t\n ", "email": "   "},
			map[string]string{"form_data.name": "is required", "form_data.email": "is required"}, nil},
		{"blank optional is dropped", map[string]any{"name": "Ada", "email": "a@b.co", "due": "  "}, nil,
			map[string]any{"name": "Ada", "email": "a@b.co"}},
		{"wrong types", map[string]any{"name": 5.0, "email": true, "amount": "12", "urgent": "yes", "due": 20261201.0},
			map[string]string{
				"form_data.name":   "must be a string, got a number",
				"form_data.email":  "got a boolean",
				"form_data.amount": "must be a number, got a string",
				"form_data.urgent": "must be true or false",
				"form_data.due":    "must be a date string",
			}, nil},
		{"bad formats", map[string]any{"name": "x", "email": "Ada <ada@example.com>", "due": "01/12/2026"},
			map[string]string{"form_data.email": "is not an email address", "form_data.due": "is not a date"}, nil},
		{"non-finite number", map[string]any{"name": "x", "email": "a@b.co", "amount": math.Inf(1)},
			map[string]string{"form_data.amount": "finite"}, nil},
		{"nested values", map[string]any{"name": map[string]any{"first": "Ada"}, "email": []any{"a@b.co"}},
			map[string]string{"form_data.name": "got an object", "form_data.email": "got a list"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, ps := engine.ValidateForm("form_data", formFields, tc.data)
			got := map[string]string{}
			for _, p := range ps {
				got[p.Path] = p.Message
			}
			require.Len(t, got, len(tc.want), "problems: %v", ps)
			for path, msg := range tc.want {
				require.Contains(t, got[path], msg, path)
			}
			if tc.out != nil {
				require.Equal(t, tc.out, out)
			}
		})
	}
}

// FuzzValidateForm feeds arbitrary JSON objects as form data: no panic, and every accepted
// value has its field's type.
func FuzzValidateForm(f *testing.F) {
	f.Add(`{"name":"Ada","email":"ada@example.com","amount":1,"urgent":true,"due":"2026-01-02"}`)
	f.Add(`{"name":null,"email":"x","amount":"1","zzz":[1,2]}`)
	f.Add(`{}`)
	f.Fuzz(func(t *testing.T, raw string) {
		var data map[string]any
		if json.Unmarshal([]byte(raw), &data) != nil {
			return
		}
		out, ps := engine.ValidateForm("form_data", formFields, data)
		for _, p := range ps {
			require.NotEmpty(t, p.Message)
		}
		for k, v := range out {
			switch k {
			case "name", "email", "due":
				require.IsType(t, "", v)
			case "amount":
				require.IsType(t, 0.0, v)
			case "urgent":
				require.IsType(t, true, v)
			default:
				t.Fatalf("undeclared field %q accepted", k)
			}
		}
	})
}
