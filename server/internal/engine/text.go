package engine

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ControlChar returns the first control character of s that a text may not hold (C0, DEL
// and C1; NUL included, which PostgreSQL cannot store in text at all). A one-line text —
// a name, a label, a key, an email, a display name — holds none; prose (a description, a
// reason, a form's text) may hold line feeds and tabs.
func ControlChar(s string, prose bool) (rune, bool) {
	for _, r := range s {
		if unicode.IsControl(r) && !(prose && (r == '\n' || r == '\t')) {
			return r, true
		}
	}
	return 0, false
}

// ControlProblem says what is wrong with a text holding a control character ("" when it
// holds none that it may not).
func ControlProblem(s string, prose bool) string {
	r, ok := ControlChar(s, prose)
	switch {
	case !ok:
		return ""
	case prose:
		return fmt.Sprintf("must not contain control characters other than line feeds and tabs (found %U)", r)
	default:
		return fmt.Sprintf("must not contain control characters (found %U)", r)
	}
}

// checkTextOf checks a text field: required, valid UTF-8, at most max characters, and no
// control characters but, in prose, line feeds and tabs.
func checkTextOf(ps *Problems, path, s string, max int, required, prose bool) {
	switch {
	case required && strings.TrimSpace(s) == "":
		ps.Add(path, "is required")
	case !utf8.ValidString(s):
		ps.Add(path, "must be valid UTF-8")
	case ControlProblem(s, prose) != "":
		ps.Add(path, "%s", ControlProblem(s, prose))
	case utf8.RuneCountInString(s) > max:
		ps.Add(path, "must be at most %d characters, got %d", max, utf8.RuneCountInString(s))
	}
}

// checkProse checks a text that may span lines: a description, a reason.
func checkProse(ps *Problems, path, s string, max int, required bool) {
	checkTextOf(ps, path, s, max, required, true)
}
