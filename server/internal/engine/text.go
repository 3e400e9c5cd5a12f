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

// CleanInbound checks and mends a parsed notification's text before anything stores or shows
// it. What names things — its type, its item's id, its dedupe key, our work item id — must be
// valid UTF-8 without control characters (NUL among them, which PostgreSQL cannot store in
// text: such a notification would fail every delivery): otherwise it is unparseable, and the
// error names the part. What the system says to people — its status and its reason — is
// mended instead (CleanLine, CleanProse), so that a stray control character in a decline
// reason does not cost the outcome.
func CleanInbound(ev InboundEvent) (InboundEvent, error) {
	for _, f := range []struct{ name, v string }{
		{"event type", ev.Type}, {"item id", ev.ExternalID}, {"dedupe key", ev.DedupeKey}, {"work item id", ev.WorkItemID},
	} {
		if !utf8.ValidString(f.v) {
			return ev, fmt.Errorf("its %s is not valid UTF-8", f.name)
		}
		if r, bad := ControlChar(f.v, false); bad {
			return ev, fmt.Errorf("its %s holds the control character %U", f.name, r)
		}
	}
	ev.Status, ev.Reason = CleanLine(ev.Status), CleanProse(ev.Reason)
	return ev, nil
}

// CleanLine is s as one line of valid UTF-8: invalid bytes replaced, control characters
// dropped.
func CleanLine(s string) string { return cleanText(s, false) }

// CleanProse is s as valid UTF-8 prose: invalid bytes replaced, control characters but line
// feeds and tabs dropped.
func CleanProse(s string) string { return cleanText(s, true) }

func cleanText(s string, prose bool) string {
	if _, bad := ControlChar(s, prose); !bad && utf8.ValidString(s) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && !(prose && (r == '\n' || r == '\t')) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}
