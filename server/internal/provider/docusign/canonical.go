package docusign

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
)

// The dedupe key's canonical form, written without decoding the message into maps.
//
// The key has always been the SHA-256 of the message decoded into map[string]any (numbers as
// json.Number) and encoded again by encoding/json, the top-level retryCount removed: keys
// sorted, the last of duplicate keys kept, no spaces, numbers as written, strings escaped as
// encoding/json escapes them. That round trip was 6% of the server's CPU under DocuSign
// notifications. canonicalObject writes the same bytes from the message's own text: it sorts
// each object's members by their decoded keys and copies numbers, literals and plain strings
// as they are; a string with an escape or a byte that encoding/json escapes (a control
// character, non-ASCII, <, >, &) goes through encoding/json, so that it comes out exactly as
// before. The key must not change: a redelivery across an upgrade must still be known
// (FuzzCanonicalObject holds it to the round trip).

var errNotJSON = errors.New("docusign: not a JSON object")

// maxDepth is encoding/json's own bound on nesting, which the round trip met first.
const maxDepth = 10000

// canonicalObject appends the canonical form of the JSON object b (the whole of b), without
// its top-level member drop, to out. It reads b once into a tree of its values' texts, then
// writes the tree, so that its time grows with b's length, however deep b nests.
func canonicalObject(out, b []byte, drop string) ([]byte, error) {
	b = skipSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return nil, errNotJSON
	}
	v, rest, err := parseValue(b, 0)
	if err != nil {
		return nil, err
	}
	if len(skipSpace(rest)) != 0 {
		return nil, errNotJSON
	}
	v.members = slices.DeleteFunc(v.members, func(m member) bool { return m.key == drop })
	return v.appendTo(out)
}

// value is a JSON value as read: an object's members (sorted by key, the last of duplicate
// keys kept), an array's elements, or the text of a string, number or literal.
type value struct {
	kind     byte // '{', '[', or 0 for a text
	text     []byte
	members  []member
	elements []*value
}

type member struct {
	key   string
	value *value
}

// parseValue reads the value at the start of b and returns it with the rest of b.
func parseValue(b []byte, depth int) (*value, []byte, error) {
	b = skipSpace(b)
	if len(b) == 0 {
		return nil, nil, errNotJSON
	}
	if (b[0] == '{' || b[0] == '[') && depth >= maxDepth {
		return nil, nil, errors.New("docusign: JSON nested too deeply")
	}
	switch b[0] {
	case '{':
		v := &value{kind: '{'}
		b = skipSpace(b[1:])
		if len(b) > 0 && b[0] == '}' {
			return v, b[1:], nil
		}
		for {
			raw, rest, err := stringLiteral(b)
			if err != nil {
				return nil, nil, err
			}
			key, err := decodeString(raw)
			if err != nil {
				return nil, nil, err
			}
			rest = skipSpace(rest)
			if len(rest) == 0 || rest[0] != ':' {
				return nil, nil, errNotJSON
			}
			m, rest, err := parseValue(rest[1:], depth+1)
			if err != nil {
				return nil, nil, err
			}
			v.members = append(v.members, member{key: key, value: m})
			end, rest, err := separator(rest, '}')
			if err != nil {
				return nil, nil, err
			}
			b = rest
			if end {
				break
			}
		}
		// Sorted by key, the last of duplicate keys kept, as decoding into a map keeps it.
		slices.SortStableFunc(v.members, func(x, y member) int { return strings.Compare(x.key, y.key) })
		kept := v.members[:0]
		for i, m := range v.members {
			if i+1 < len(v.members) && v.members[i+1].key == m.key {
				continue
			}
			kept = append(kept, m)
		}
		v.members = kept
		return v, b, nil
	case '[':
		v := &value{kind: '['}
		b = skipSpace(b[1:])
		if len(b) > 0 && b[0] == ']' {
			return v, b[1:], nil
		}
		for {
			e, rest, err := parseValue(b, depth+1)
			if err != nil {
				return nil, nil, err
			}
			v.elements = append(v.elements, e)
			end, rest, err := separator(rest, ']')
			if err != nil {
				return nil, nil, err
			}
			b = rest
			if end {
				return v, b, nil
			}
		}
	case '"':
		raw, rest, err := stringLiteral(b)
		if err != nil {
			return nil, nil, err
		}
		return &value{text: raw}, rest, nil
	}
	// A number or a literal (valid: the message was decoded before) runs to a delimiter.
	i := 0
	for i < len(b) && !strings.ContainsRune(",}] \t\r\n", rune(b[i])) {
		i++
	}
	if i == 0 {
		return nil, nil, errNotJSON
	}
	return &value{text: b[:i]}, b[i:], nil
}

// separator reads what follows a member or an element: a comma (end false) or the closing
// bracket (end true), and returns the rest after it.
func separator(b []byte, closing byte) (end bool, rest []byte, err error) {
	b = skipSpace(b)
	switch {
	case len(b) == 0:
		return false, nil, errNotJSON
	case b[0] == closing:
		return true, b[1:], nil
	case b[0] == ',':
		return false, skipSpace(b[1:]), nil
	}
	return false, nil, errNotJSON
}

// appendTo appends the value's canonical form to out.
func (v *value) appendTo(out []byte) ([]byte, error) {
	var err error
	switch v.kind {
	case '{':
		out = append(out, '{')
		for i, m := range v.members {
			if i > 0 {
				out = append(out, ',')
			}
			if out, err = appendString(out, m.key); err != nil {
				return nil, err
			}
			out = append(out, ':')
			if out, err = m.value.appendTo(out); err != nil {
				return nil, err
			}
		}
		return append(out, '}'), nil
	case '[':
		out = append(out, '[')
		for i, e := range v.elements {
			if i > 0 {
				out = append(out, ',')
			}
			if out, err = e.appendTo(out); err != nil {
				return nil, err
			}
		}
		return append(out, ']'), nil
	}
	if len(v.text) > 0 && v.text[0] == '"' && !plain(v.text) {
		s, err := decodeString(v.text)
		if err != nil {
			return nil, err
		}
		return appendString(out, s)
	}
	return append(out, v.text...), nil
}

// plain says a string literal (with its quotes) means its own text and encoding/json writes it
// back unchanged: no escape, and only printable ASCII other than <, > and &.
func plain(raw []byte) bool {
	for _, c := range raw[1 : len(raw)-1] {
		if c < 0x20 || c >= 0x80 || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// decodeString decodes a string literal (with its quotes); a plain one without encoding/json.
func decodeString(raw []byte) (string, error) {
	if plain(raw) {
		return string(raw[1 : len(raw)-1]), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", err
	}
	return s, nil
}

// appendString appends s as encoding/json writes a string.
func appendString(out []byte, s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			enc, err := json.Marshal(s)
			if err != nil {
				return nil, err
			}
			return append(out, enc...), nil
		}
	}
	out = append(out, '"')
	out = append(out, s...)
	return append(out, '"'), nil
}

// stringLiteral returns the string literal at the start of b (with its quotes) and the rest.
func stringLiteral(b []byte) ([]byte, []byte, error) {
	if len(b) == 0 || b[0] != '"' {
		return nil, nil, errNotJSON
	}
	for i := 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return b[:i+1], b[i+1:], nil
		}
	}
	return nil, nil, errNotJSON
}

func skipSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n') {
		b = b[1:]
	}
	return b
}
