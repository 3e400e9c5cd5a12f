package engine

import (
	"fmt"
	"math"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on form data.
const (
	MaxFieldValueLen = 10_000
	MaxFormDataKeys  = MaxFormFields
)

// ValidateForm checks data against a form: every value of the declared type, every required
// field present (a blank string is absent), no undeclared fields. Paths are "<prefix>.<field>".
// It returns the data with empty optional values dropped.
func ValidateForm(prefix string, fields []FormField, data map[string]any) (map[string]any, Problems) {
	var ps Problems
	out := make(map[string]any, len(data))
	declared := make(map[string]FormField, len(fields))
	for _, f := range fields {
		declared[f.Name] = f
	}
	if len(data) > MaxFormDataKeys {
		ps.Add(prefix, "at most %d fields are allowed, got %d", MaxFormDataKeys, len(data))
		return nil, ps
	}
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		path := prefix + "." + k
		f, ok := declared[k]
		if !ok {
			ps.Add(path, "%q is not a field of this form", truncateText(k, MaxKeyLen))
			continue
		}
		v := data[k]
		if blank(v) {
			continue // absent; required fields are checked below
		}
		if s, ok := v.(string); ok && f.Type == FieldTypeString && strings.Contains(s, "\r\n") {
			v = strings.ReplaceAll(s, "\r\n", "\n") // text from Windows: its line breaks kept as "\n"
		}
		if msg := checkValue(f.Type, v); msg != "" {
			ps.Add(path, "%s", msg)
			continue
		}
		if s, ok := v.(string); ok && f.Type == FieldTypeEmail {
			v = strings.ToLower(s)
		}
		out[k] = v
	}
	for _, f := range fields {
		if !f.Required {
			continue
		}
		if _, ok := out[f.Name]; ok {
			continue
		}
		if v, present := data[f.Name]; present && !blank(v) {
			continue // present but of the wrong type: reported above
		}
		ps.Add(prefix+"."+f.Name, "is required")
	}
	return out, ps
}

// blank reports a value that says nothing: none, or a string of nothing but white space (as
// the console's forms read one), which a required field does not accept.
func blank(v any) bool {
	s, ok := v.(string)
	return v == nil || ok && strings.TrimSpace(s) == ""
}

func checkValue(t FieldType, v any) string {
	switch t {
	case FieldTypeString:
		s, ok := v.(string)
		if !ok {
			return fmt.Sprintf("must be a string, got %s", typeName(v))
		}
		if !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxFieldValueLen {
			return fmt.Sprintf("must be valid UTF-8 of at most %d characters", MaxFieldValueLen)
		}
		if p := ControlProblem(s, true); p != "" {
			return p
		}
	case FieldTypeNumber:
		n, ok := v.(float64)
		if !ok {
			return fmt.Sprintf("must be a number, got %s", typeName(v))
		}
		if math.IsNaN(n) || math.IsInf(n, 0) {
			return "must be a finite number"
		}
	case FieldTypeBool:
		if _, ok := v.(bool); !ok {
			return fmt.Sprintf("must be true or false, got %s", typeName(v))
		}
	case FieldTypeDate:
		s, ok := v.(string)
		if !ok {
			return fmt.Sprintf("must be a date string YYYY-MM-DD, got %s", typeName(v))
		}
		if _, err := time.Parse(time.DateOnly, s); err != nil {
			return fmt.Sprintf("%q is not a date of the form YYYY-MM-DD", truncateText(s, 32))
		}
	case FieldTypeEmail:
		s, ok := v.(string)
		if !ok {
			return fmt.Sprintf("must be an email address string, got %s", typeName(v))
		}
		// 254 bytes as stored: lower-cased (some letters take more bytes in lower case).
		if a, err := mail.ParseAddress(s); err != nil || a.Address != s || len(s) > 254 || len(strings.ToLower(s)) > 254 || !MailDomainOK(s) {
			return fmt.Sprintf("%q is not an email address", truncateText(s, 64))
		}
	default:
		return fmt.Sprintf("has an unknown type %d", int(t))
	}
	return ""
}

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// diffForm returns the changes that merging next into prev makes, in field order.
func diffForm(prev, next map[string]any) []FieldChange {
	keys := make([]string, 0, len(next))
	for k := range next {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var out []FieldChange
	for _, k := range keys {
		old, had := prev[k]
		if had && fmt.Sprint(old) == fmt.Sprint(next[k]) {
			continue
		}
		c := FieldChange{Name: k, New: next[k]}
		if had {
			c.Old = old
		}
		out = append(out, c)
	}
	return out
}

// MailDomainOK reports whether an address's domain is one mail can be delivered to over the
// Internet: two or more dot-separated labels of letters (any script), digits and hyphens, none
// starting or ending with a hyphen. net/mail also takes "ada@example", "ada@[127.0.0.1]" and
// "ada@-example.com", which a provider refuses when it sends the signing request, too late.
func MailDomainOK(addr string) bool {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return false
	}
	labels := strings.Split(addr[at+1:], ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '-' {
				return false
			}
		}
	}
	return true
}
