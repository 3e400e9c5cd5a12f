package engine_test

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

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
		{"Windows line breaks", map[string]any{"name": "line one\r\nline two", "email": "a@b.co"}, nil,
			map[string]any{"name": "line one\nline two", "email": "a@b.co"}},
		{"a lone carriage return", map[string]any{"name": "line one\rline two", "email": "a@b.co"},
			map[string]string{"form_data.name": "U+000D"}, nil},
		{"email domains mail cannot reach", map[string]any{"name": "x", "email": "ada@example"},
			map[string]string{"form_data.email": "is not an email address"}, nil},
		{"email to an address literal", map[string]any{"name": "x", "email": "ada@[127.0.0.1]"},
			map[string]string{"form_data.email": "is not an email address"}, nil},
		{"email domain label with a hyphen first", map[string]any{"name": "x", "email": "a@-example.com"},
			map[string]string{"form_data.email": "is not an email address"}, nil},
		{"email in another script", map[string]any{"name": "x", "email": "ada@bücher.de"}, nil,
			map[string]any{"name": "x", "email": "ada@bücher.de"}},
		{"email longer than 254 bytes once lower-cased", map[string]any{"name": "x", "email": strings.Repeat("Ⱥ", 121) + "@example.com"},
			map[string]string{"form_data.email": "is not an email address"}, nil},
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

// FuzzValidateForm builds form data from typed values, each field of the form absent, null,
// blank, of its type (as fuzzed, or made valid) or of another type, with perhaps a field the
// form does not declare or more fields than a form may have. ValidateForm never panics; it
// refuses, each at its path, a required field that is missing or blank, a value of the wrong
// type and an undeclared field; a value of its field's type it accepts unless it breaks the
// type's rules, and returns it as given (an email lower-cased); and data it accepts, sent
// again as JSON, or given again as it returned it, it accepts again, to the same data.
func FuzzValidateForm(f *testing.F) {
	// shape: three bits a field of formFields, in order (0 absent, 1 null, 2 blank, 3 the
	// fuzzed value, 4 and 5 a valid value made from it, 6 a scalar of another type, 7 an
	// object or a list), then two bits for what else the data holds (0 nothing, 1 an
	// undeclared null, 2 an undeclared string, 3 more fields than a form may have).
	shape := func(kinds ...uint32) uint32 {
		var s uint32
		for i, k := range kinds {
			s |= k << (3 * i)
		}
		return s
	}
	f.Add(shape(3, 3, 3, 3, 3), "Ada", "ada@example.com", 12.5, true, "2026-01-02", int32(0), "")
	f.Add(shape(4, 4, 4, 4, 4), "Ada\x00", "Ada.L", math.NaN(), false, "", int32(740000), "")
	f.Add(shape(0, 1, 2, 0, 1), " ", "", 0.0, false, "", int32(0), "")
	f.Add(shape(6, 6, 6, 6, 6), "12", "", 1.0, true, "", int32(0), "")
	f.Add(shape(7, 7, 6, 6, 7), "x", "", 1.0, false, "", int32(0), "")
	f.Add(shape(4, 4, 0, 0, 3), "", "", 0.0, false, "2026-1-2", int32(0), "")
	f.Add(shape(3, 3, 3, 3, 3, 1), "line\nand\ttab", "Ada <ada@example.com>", math.Inf(1), false, "01/12/2026", int32(-5), "zzz")
	f.Add(shape(3, 3, 3, 3, 3, 2), "\xff", "ADA@EXAMPLE.COM", math.Copysign(0, -1), true, "2026-02-30", int32(3652058), "name")
	f.Add(shape(5, 5, 5, 5, 5, 3), strings.Repeat("é", engine.MaxFieldValueLen+1), "a@b.co", 1e308, true, "0000-01-01", int32(1), "")
	f.Fuzz(func(t *testing.T, shape uint32, str, email string, num float64, flag bool, date string, day int32, extra string) {
		const prefix = "form_data"
		// valid are values of each field's type that it accepts, made from the fuzzed ones.
		safe := strings.Map(func(r rune) rune {
			if r < ' ' || r > '~' {
				return -1
			}
			return r
		}, str)
		if strings.TrimSpace(safe) == "" || len(safe) > engine.MaxFieldValueLen {
			safe = "x"
		}
		local := strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, email)
		local = "u" + local[:min(len(local), 60)]
		finite := num
		if math.IsNaN(finite) || math.IsInf(finite, 0) {
			finite = float64(len(str))
		}
		const days = 3_652_059 // 0001-01-01 to 9999-12-31
		validDate := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(uint32(day)%days)).Format(time.DateOnly)
		valid := map[string]any{"name": safe, "email": local + "@Example.COM", "amount": finite, "urgent": !flag, "due": validDate}
		fuzzed := map[string]any{"name": str, "email": email, "amount": num, "urgent": flag, "due": date}
		// other is a value of another type than the field's, and the name of its type.
		other := func(f engine.FormField, composite bool) (any, string) {
			switch {
			case composite && flag:
				return map[string]any{"v": str}, "an object"
			case composite:
				return []any{str}, "a list"
			case flag && f.Type != engine.FieldTypeBool:
				return flag, "a boolean"
			case flag || f.Type == engine.FieldTypeNumber:
				return "x" + str, "a string" // not blank
			default:
				return num, "a number"
			}
		}

		data := map[string]any{}
		wrong := map[string]string{} // field → the type name of its wrong value
		for i, field := range formFields {
			switch shape >> (3 * i) & 7 {
			case 0: // absent
			case 1:
				data[field.Name] = nil
			case 2:
				data[field.Name] = []string{"", " ", " \t\r\n"}[i%3]
			case 3:
				data[field.Name] = fuzzed[field.Name]
			case 4, 5:
				data[field.Name] = valid[field.Name]
			case 6, 7:
				data[field.Name], wrong[field.Name] = other(field, shape>>(3*i)&7 == 7)
			}
		}
		undeclared := extra
		if slices.ContainsFunc(formFields, func(f engine.FormField) bool { return f.Name == extra }) {
			undeclared = "x_" + extra
		}
		switch shape >> 15 & 3 {
		case 1:
			data[undeclared] = nil
		case 2:
			data[undeclared] = str
		case 3:
			for len(data) <= engine.MaxFormDataKeys {
				data[fmt.Sprintf("x_%d", len(data))] = str
			}
			out, ps := engine.ValidateForm(prefix, formFields, data)
			require.Nil(t, out)
			require.Len(t, ps, 1)
			require.Equal(t, prefix, ps[0].Path)
			require.Contains(t, ps[0].Message, fmt.Sprintf("at most %d fields", engine.MaxFormDataKeys))
			return
		}

		out, ps := engine.ValidateForm(prefix, formFields, data)
		problems := map[string][]string{} // path → messages
		for _, p := range ps {
			require.NotEmpty(t, p.Message)
			problems[p.Path] = append(problems[p.Path], p.Message)
		}
		for path, msgs := range problems {
			require.Len(t, msgs, 1, "one problem a path: %s", path)
			name, ok := strings.CutPrefix(path, prefix+".")
			require.True(t, ok, "a problem at %q", path)
			_, inData := data[name]
			require.True(t, inData || slices.ContainsFunc(formFields, func(f engine.FormField) bool { return f.Name == name && f.Required }),
				"a problem at %q, which is neither given nor required", path)
		}
		for k := range out {
			_, inData := data[k]
			require.True(t, inData, "%q returned but not given", k)
		}
		if _, ok := data[undeclared]; ok {
			require.NotContains(t, out, undeclared)
			require.Len(t, problems[prefix+"."+undeclared], 1)
			require.Contains(t, problems[prefix+"."+undeclared][0], "is not a field of this form")
		}
		for _, field := range formFields {
			path := prefix + "." + field.Name
			v, given := data[field.Name]
			got, accepted := out[field.Name]
			msgs := problems[path]
			require.Equal(t, accepted, len(msgs) == 0 && given && !isBlank(v), "%s: returned %v, problems %q", path, accepted, msgs)
			switch {
			case isBlank(v): // absent, null or blank
				if field.Required {
					require.Equal(t, []string{"is required"}, msgs, "%s missing: %#v", path, v)
				} else {
					require.Empty(t, msgs, "%s, optional, missing: %#v", path, v)
				}
				continue
			case wrong[field.Name] != "":
				require.False(t, accepted, "%s: %#v of the wrong type accepted", path, v)
				require.Contains(t, msgs[0], "got "+wrong[field.Name], path)
				continue
			case v == valid[field.Name]:
				require.True(t, accepted, "%s: a valid %#v refused: %q", path, v, msgs)
			}
			if !accepted {
				require.NotContains(t, msgs[0], "is required", path)
			}
			// A value of the field's type: accepted as the type's rules say, and returned as
			// given.
			switch field.Type {
			case engine.FieldTypeString:
				s := strings.ReplaceAll(v.(string), "\r\n", "\n") // Windows' line breaks kept as "\n"
				require.Equal(t, utf8.ValidString(s) && utf8.RuneCountInString(s) <= engine.MaxFieldValueLen && engine.ControlProblem(s, true) == "",
					accepted, "%s: %q: %q", path, s, msgs)
				v = s
			case engine.FieldTypeNumber:
				n := v.(float64)
				require.Equal(t, !math.IsNaN(n) && !math.IsInf(n, 0), accepted, "%s: %v: %q", path, n, msgs)
			case engine.FieldTypeBool:
				require.True(t, accepted, "%s: %v: %q", path, v, msgs)
			case engine.FieldTypeDate:
				d, err := time.Parse(time.DateOnly, v.(string))
				require.Equal(t, err == nil, accepted, "%s: %q: %q", path, v, msgs)
				if accepted {
					require.Equal(t, v, d.Format(time.DateOnly), "a date accepted is written YYYY-MM-DD")
				}
			case engine.FieldTypeEmail:
				if accepted {
					require.LessOrEqual(t, len(v.(string)), 254, path)
					require.Contains(t, v, "@", path)
					require.True(t, engine.MailDomainOK(v.(string)), path)
					v = strings.ToLower(v.(string)) // kept lower-cased
				}
			}
			if accepted {
				require.Equal(t, v, got, path)
			}
		}
		if len(ps) > 0 {
			return
		}

		// Accepted: the same data sent as JSON, and the data as returned, are accepted again,
		// to the same.
		b, err := json.Marshal(data)
		require.NoError(t, err, "accepted data is JSON")
		var again map[string]any
		require.NoError(t, json.Unmarshal(b, &again))
		out2, ps2 := engine.ValidateForm(prefix, formFields, again)
		require.Empty(t, ps2, "accepted, then refused as JSON: %s", b)
		require.Equal(t, out, out2, "%s", b)
		out3, ps3 := engine.ValidateForm(prefix, formFields, out)
		require.Empty(t, ps3, "its own output refused: %#v", out)
		require.Equal(t, out, out3)
	})
}

func isBlank(v any) bool {
	s, ok := v.(string)
	return v == nil || ok && strings.TrimSpace(s) == ""
}
