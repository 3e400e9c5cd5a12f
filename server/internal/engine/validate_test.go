package engine_test

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider"
)

// The providers flowhook has: their specs are what drafts are validated against.
var catalog = provider.Specs()

const (
	docuSign  engine.Provider = "DOCUSIGN"
	oneSpan   engine.Provider = "ONESPAN"
	connector engine.Provider = "CONNECTOR"

	createEnvelope engine.ActionKind = "DOCUSIGN_CREATE_ENVELOPE"
	createPackage  engine.ActionKind = "ONESPAN_CREATE_PACKAGE"
)

// Indexes of the base draft's states and transitions, to keep the expected paths readable.
const (
	stStart    = 0 // START "start"
	stReview   = 1 // HUMAN "review"
	stSign     = 2 // EXTERNAL "sign"
	stDone     = 3 // END "done"
	stRejected = 4 // END "rejected"

	trSubmit   = 0 // start -> review
	trApprove  = 1 // review -> sign
	trReject   = 2 // review -> rejected
	trSigned   = 3 // sign -> done on FINISHED
	trDeclined = 4 // sign -> rejected on DENIED
)

// baseDraft returns a fresh, valid draft: every call builds new slices, maps and pointers.
func baseDraft() engine.Draft {
	return engine.Draft{
		Name:        "Purchase approval",
		Description: "Review a purchase request, then have it signed.",
		States: []engine.State{
			{
				Key:  "start",
				Name: "Request",
				Kind: engine.StateKindStart,
				FormFields: []engine.FormField{
					{Name: "name", Label: "Full name", Type: engine.FieldTypeString, Required: true},
					{Name: "email", Label: "Email", Type: engine.FieldTypeEmail, Required: true},
					{Name: "amount", Label: "Amount", Type: engine.FieldTypeNumber},
				},
			},
			{
				Key:      "review",
				Name:     "Finance review",
				Kind:     engine.StateKindHuman,
				Assignee: &engine.Assignee{GroupID: "finance"},
			},
			{
				Key:  "sign",
				Name: "Signature",
				Kind: engine.StateKindExternal,
				External: &engine.ExternalStep{
					Provider:      docuSign,
					EmailSubject:  "Please sign your purchase request",
					DocumentTitle: "Purchase request",
					Signers:       []engine.Signer{{NameField: "name", EmailField: "email"}},
					OutcomeOverrides: map[string]engine.Outcome{
						"envelope-voided": engine.OutcomeDenied,
					},
				},
			},
			{Key: "done", Name: "Done", Kind: engine.StateKindEnd},
			{Key: "rejected", Name: "Rejected", Kind: engine.StateKindEnd},
		},
		Transitions: []engine.Transition{
			{Key: "submit", Name: "Submit", From: "start", To: "review"},
			{Key: "approve", Name: "Approve", From: "review", To: "sign"},
			{Key: "reject", Name: "Reject", From: "review", To: "rejected"},
			{Key: "signed", From: "sign", To: "done", OnOutcome: engine.OutcomeFinished},
			{Key: "declined", From: "sign", To: "rejected", OnOutcome: engine.OutcomeDenied},
		},
	}
}

// cloneDraft deep-copies a draft, keeping nil slices and maps nil.
func cloneDraft(d engine.Draft) engine.Draft {
	out := d
	if d.States != nil {
		out.States = make([]engine.State, len(d.States))
		for i, s := range d.States {
			s.FormFields = slices.Clone(s.FormFields)
			if s.Assignee != nil {
				a := *s.Assignee
				s.Assignee = &a
			}
			if s.External != nil {
				e := *s.External
				e.Signers = slices.Clone(e.Signers)
				e.OutcomeOverrides = maps.Clone(e.OutcomeOverrides)
				s.External = &e
			}
			out.States[i] = s
		}
	}
	if d.Transitions != nil {
		out.Transitions = make([]engine.Transition, len(d.Transitions))
		for i, tr := range d.Transitions {
			tr.Actions = slices.Clone(tr.Actions)
			out.Transitions[i] = tr
		}
	}
	return out
}

func human(key string) engine.State {
	return engine.State{Key: key, Kind: engine.StateKindHuman, Assignee: &engine.Assignee{GroupID: "ops"}}
}

func end(key string) engine.State { return engine.State{Key: key, Kind: engine.StateKindEnd} }

func edge(key, from, to string) engine.Transition {
	return engine.Transition{Key: key, From: from, To: to}
}

// chainDraft is the base draft with n extra HUMAN states chained between start and review.
func chainDraft(n int) engine.Draft {
	d := baseDraft()
	d.Transitions = slices.Delete(d.Transitions, trSubmit, trSubmit+1)
	prev := "start"
	for i := range n {
		key := fmt.Sprintf("h%d", i)
		d.States = append(d.States, human(key))
		d.Transitions = append(d.Transitions, edge("to_"+key, prev, key))
		prev = key
	}
	d.Transitions = append(d.Transitions, edge("to_review", prev, "review"))
	return d
}

// want is an expected problem: its exact path and a distinctive substring of its message (or
// the whole message when exact).
type want struct {
	path  string
	msg   string
	exact bool
}

func p(path, msg string) want      { return want{path: path, msg: msg} }
func pExact(path, msg string) want { return want{path: path, msg: msg, exact: true} }
func (w want) String() string      { return fmt.Sprintf("%s: %q (exact=%v)", w.path, w.msg, w.exact) }
func (w want) matches(pr engine.Problem) bool {
	if pr.Path != w.path {
		return false
	}
	if w.exact {
		return pr.Message == w.msg
	}
	return strings.Contains(pr.Message, w.msg)
}

func formatProblems(ps engine.Problems) string {
	var b strings.Builder
	for _, pr := range ps {
		fmt.Fprintf(&b, "\n\t%s: %q", pr.Path, pr.Message)
	}
	return b.String()
}

// requireProblems asserts that got is exactly the wanted set of problems (in any order).
func requireProblems(t *testing.T, got engine.Problems, wants []want) {
	t.Helper()
	for _, pr := range got {
		require.NotEmpty(t, pr.Message, "problem at %q has no message", pr.Path)
	}
	used := make([]bool, len(got))
	var missing []string
	for _, w := range wants {
		found := false
		for i, pr := range got {
			if !used[i] && w.matches(pr) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			missing = append(missing, w.String())
		}
	}
	var extra engine.Problems
	for i, pr := range got {
		if !used[i] {
			extra = append(extra, pr)
		}
	}
	require.Empty(t, missing, "expected problems not reported; got:%s", formatProblems(got))
	require.Empty(t, extra, "unexpected problems reported; got:%s", formatProblems(got))
	require.Len(t, got, len(wants))
}

func TestBaseDraftIsValid(t *testing.T) {
	t.Parallel()
	d := baseDraft()
	require.Empty(t, engine.ValidateDraft(d, catalog))
	require.NoError(t, engine.ValidateDraft(d, catalog).Err())
}

func TestCloneDraftIsDeep(t *testing.T) {
	t.Parallel()
	orig := baseDraft()
	c := cloneDraft(orig)
	require.Equal(t, orig, c)

	c.States[stStart].FormFields[0].Name = "changed"
	c.States[stReview].Assignee.GroupID = "changed"
	c.States[stSign].External.Signers[0].NameField = "changed"
	c.States[stSign].External.OutcomeOverrides["envelope-voided"] = engine.OutcomeApproved
	c.Transitions[trSubmit].Key = "changed"
	require.Equal(t, baseDraft(), orig, "mutating the clone changed the original")
}

func TestValidateDraft(t *testing.T) {
	t.Parallel()

	long := func(n int) string { return strings.Repeat("x", n) }
	ext := func(d *engine.Draft) *engine.ExternalStep { return d.States[stSign].External }

	tests := []struct {
		name   string
		mutate func(d *engine.Draft)
		want   []want
	}{
		// Valid variants: the rules accept them.
		{
			name:   "valid: base draft",
			mutate: func(*engine.Draft) {},
		},
		{
			name:   "valid: user assignee instead of group",
			mutate: func(d *engine.Draft) { d.States[stReview].Assignee = &engine.Assignee{UserID: "u-123"} },
		},
		{
			name: "valid: HUMAN state with its own form fields",
			mutate: func(d *engine.Draft) {
				d.States[stReview].FormFields = []engine.FormField{
					{Name: "comment", Type: engine.FieldTypeString},
					{Name: "approved_on", Type: engine.FieldTypeDate},
					{Name: "ok", Type: engine.FieldTypeBool},
				}
			},
		},
		{
			name: "valid: START without form fields when no signer needs them",
			mutate: func(d *engine.Draft) {
				d.States[stStart].FormFields = nil
				d.States = slices.Delete(d.States, stSign, stSign+1)
				d.Transitions = []engine.Transition{
					edge("submit", "start", "review"),
					edge("approve", "review", "done"),
					edge("reject", "review", "rejected"),
				}
			},
		},
		{
			name: "valid: OneSpan provider with a OneSpan override",
			mutate: func(d *engine.Draft) {
				ext(d).Provider = oneSpan
				ext(d).OutcomeOverrides = map[string]engine.Outcome{"PACKAGE_DECLINE": engine.OutcomeDenied}
			},
		},
		{
			name: "valid: several signers and every outcome",
			mutate: func(d *engine.Draft) {
				d.States[stStart].FormFields = append(d.States[stStart].FormFields,
					engine.FormField{Name: "cosigner_name", Type: engine.FieldTypeString},
					engine.FormField{Name: "cosigner_email", Type: engine.FieldTypeEmail})
				ext(d).Signers = append(ext(d).Signers, engine.Signer{NameField: "cosigner_name", EmailField: "cosigner_email"})
				d.Transitions = append(d.Transitions,
					engine.Transition{Key: "approved", From: "sign", To: "done", OnOutcome: engine.OutcomeApproved},
					engine.Transition{Key: "deleted", From: "sign", To: "rejected", OnOutcome: engine.OutcomeDeleted},
					engine.Transition{Key: "expired", From: "sign", To: "rejected", OnOutcome: engine.OutcomeExpired})
			},
		},
		{
			name: "valid: same outcome leaving two different EXTERNAL states",
			mutate: func(d *engine.Draft) {
				cs := d.States[stSign]
				cs.Key = "countersign"
				cs.External = &engine.ExternalStep{
					Provider: oneSpan,
					Signers:  []engine.Signer{{NameField: "name", EmailField: "email"}},
				}
				d.States = append(d.States, cs)
				d.Transitions[trSigned].To = "countersign"
				d.Transitions = append(d.Transitions,
					engine.Transition{Key: "countersigned", From: "countersign", To: "done", OnOutcome: engine.OutcomeFinished},
					engine.Transition{Key: "countersign_declined", From: "countersign", To: "rejected", OnOutcome: engine.OutcomeDenied})
			},
		},
		{
			name: "valid: a cycle that can still reach END",
			mutate: func(d *engine.Draft) {
				d.States = append(d.States, human("rework"))
				d.Transitions = append(d.Transitions, edge("send_back", "review", "rework"), edge("resubmit", "rework", "review"))
			},
		},
		{
			name: "valid: timeouts of exactly MaxTimeout on HUMAN and EXTERNAL",
			mutate: func(d *engine.Draft) {
				d.States[stReview].Timeout = engine.MaxTimeout
				d.States[stSign].Timeout = engine.MaxTimeout
				d.Transitions[trReject].OnTimeout = true
				d.Transitions = append(d.Transitions, engine.Transition{Key: "expired", From: "sign", To: "rejected", OnOutcome: engine.OutcomeExpired})
			},
		},
		{
			name:   "timeout: a HUMAN state with a timeout needs a transition marked on_timeout",
			mutate: func(d *engine.Draft) { d.States[stReview].Timeout = time.Hour },
			want:   []want{p("states[1].timeout", `HUMAN state "review" has a timeout but no transition marked on_timeout`)},
		},
		{
			name:   "timeout: an EXTERNAL state with a timeout needs a transition on EXPIRED",
			mutate: func(d *engine.Draft) { d.States[stSign].Timeout = time.Hour },
			want:   []want{p("states[2].timeout", `EXTERNAL state "sign" has a timeout but no transition on OUTCOME_EXPIRED`)},
		},
		{
			name: "valid: a timeout of a nanosecond that leads out",
			mutate: func(d *engine.Draft) {
				d.States[stReview].Timeout = time.Nanosecond
				d.Transitions[trReject].OnTimeout = true
			},
		},
		{
			name: "timeout: a HUMAN state whose timeout re-enters it within a second",
			mutate: func(d *engine.Draft) {
				d.States[stReview].Timeout = time.Millisecond
				d.Transitions = append(d.Transitions, engine.Transition{Key: "remind", From: "review", To: "review", OnTimeout: true})
			},
			want: []want{p("states[1].timeout", `the timeouts of "review" → "review" lead back into "review" after 1ms: an instance would go round without end; make the round take at least 1s`)},
		},
		{
			name: "timeout: a round of two states' timeouts under a second",
			mutate: func(d *engine.Draft) {
				d.States[stReview].Timeout = 300 * time.Millisecond
				d.Transitions[trApprove].OnTimeout = true
				d.States[stSign].Timeout = 699 * time.Millisecond
				d.Transitions = append(d.Transitions, engine.Transition{Key: "expired", From: "sign", To: "review", OnOutcome: engine.OutcomeExpired})
			},
			want: []want{p("states[1].timeout", `the timeouts of "review" → "sign" → "review" lead back into "review" after 999ms`)},
		},
		{
			name: "valid: a round of timeouts taking a second",
			mutate: func(d *engine.Draft) {
				d.States[stReview].Timeout = 300 * time.Millisecond
				d.Transitions[trApprove].OnTimeout = true
				d.States[stSign].Timeout = 700 * time.Millisecond
				d.Transitions = append(d.Transitions, engine.Transition{Key: "expired", From: "sign", To: "review", OnOutcome: engine.OutcomeExpired})
			},
		},
		{
			name: "on_timeout: two transitions marked out of one state",
			mutate: func(d *engine.Draft) {
				d.States[stReview].Timeout = time.Hour
				d.Transitions[trApprove].OnTimeout = true
				d.Transitions[trReject].OnTimeout = true
			},
			want: []want{p("transitions[2].on_timeout", `state "review" already times out by transitions[1]`)},
		},
		{
			name:   "on_timeout: out of a HUMAN state without a timeout",
			mutate: func(d *engine.Draft) { d.Transitions[trReject].OnTimeout = true },
			want:   []want{p("transitions[2].on_timeout", `state "review" has no timeout`)},
		},
		{
			name: "on_timeout: out of an EXTERNAL state",
			mutate: func(d *engine.Draft) {
				d.States[stSign].Timeout = time.Hour
				d.Transitions[trDeclined].OnOutcome = engine.OutcomeExpired
				d.Transitions[trDeclined].OnTimeout = true
			},
			want: []want{p("transitions[4].on_timeout", `EXTERNAL state "sign" times out by its transition on OUTCOME_EXPIRED`)},
		},
		{
			name:   "on_timeout: out of START",
			mutate: func(d *engine.Draft) { d.Transitions[trSubmit].OnTimeout = true },
			want:   []want{p("transitions[0].on_timeout", `only transitions out of HUMAN states are taken on a timeout; "start" is START`)},
		},
		{
			name: "valid: key of exactly MaxKeyLen characters",
			mutate: func(d *engine.Draft) {
				k := "d" + long(engine.MaxKeyLen-1)
				d.States[stDone].Key = k
				d.Transitions[trSigned].To = k
			},
		},
		{
			name: "valid: keys with digits, '_', '-' and '.'",
			mutate: func(d *engine.Draft) {
				d.States[stDone].Key = "Done_2.final-v1"
				d.Transitions[trSigned].To = "Done_2.final-v1"
				d.Transitions[trSigned].Key = "s1.ok-done_"
			},
		},
		{
			name:   "valid: name of exactly MaxNameLen multi-byte runes",
			mutate: func(d *engine.Draft) { d.Name = strings.Repeat("é", engine.MaxNameLen) },
		},
		{
			name:   "valid: description of exactly MaxDescriptionLen runes",
			mutate: func(d *engine.Draft) { d.Description = long(engine.MaxDescriptionLen) },
		},
		{
			name:   "valid: email subject of exactly MaxEmailSubjectLen runes",
			mutate: func(d *engine.Draft) { ext(d).EmailSubject = strings.Repeat("ü", engine.MaxEmailSubjectLen) },
		},
		{
			name: "valid: exactly MaxTransitions transitions",
			mutate: func(d *engine.Draft) {
				for i := len(d.Transitions); i < engine.MaxTransitions; i++ {
					d.Transitions = append(d.Transitions, edge(fmt.Sprintf("reject%d", i), "review", "rejected"))
				}
			},
		},

		// Name and description.
		{
			name:   "name: empty",
			mutate: func(d *engine.Draft) { d.Name = "" },
			want:   []want{pExact("name", "is required")},
		},
		{
			name:   "name: only whitespace",
			mutate: func(d *engine.Draft) { d.Name = " \t\n " },
			want:   []want{pExact("name", "is required")},
		},
		{
			name:   "name: too long counts runes",
			mutate: func(d *engine.Draft) { d.Name = strings.Repeat("é", engine.MaxNameLen+1) },
			want:   []want{pExact("name", "must be at most 200 characters, got 201")},
		},
		{
			name:   "name: invalid UTF-8",
			mutate: func(d *engine.Draft) { d.Name = "Purchase \xff approval" },
			want:   []want{pExact("name", "must be valid UTF-8")},
		},
		{
			name:   "description: too long",
			mutate: func(d *engine.Draft) { d.Description = long(engine.MaxDescriptionLen + 1) },
			want:   []want{p("description", "must be at most 4000 characters, got 4001")},
		},
		{
			name:   "description: invalid UTF-8",
			mutate: func(d *engine.Draft) { d.Description = "\xc3\x28" },
			want:   []want{p("description", "must be valid UTF-8")},
		},

		// START and END.
		{
			name: "START: none (signers then have no start form)",
			mutate: func(d *engine.Draft) {
				d.States = slices.Delete(d.States, stStart, stStart+1)
				d.Transitions = slices.Delete(d.Transitions, trSubmit, trSubmit+1)
			},
			want: []want{
				p("states", "exactly one START state, found none"),
				// sign is now states[1]
				p("states[1].external.signers[0].name_field", `the start form has no field "name"`),
				p("states[1].external.signers[0].email_field", `the start form has no field "email"`),
			},
		},
		{
			name: "START: two",
			mutate: func(d *engine.Draft) {
				d.States = append(d.States, engine.State{Key: "start2", Kind: engine.StateKindStart})
			},
			want: []want{
				p("states[5].kind", "exactly one START state; states[0] is already START"),
				// Each START is walked from, and start2 leads nowhere.
				p("states[5]", `no END state can be reached from state "start2"`),
			},
		},
		{
			name: "START: three reports each extra one",
			mutate: func(d *engine.Draft) {
				d.States = append(d.States,
					engine.State{Key: "start2", Kind: engine.StateKindStart},
					engine.State{Key: "start3", Kind: engine.StateKindStart})
			},
			want: []want{
				p("states[5].kind", "states[0] is already START"),
				p("states[6].kind", "states[0] is already START"),
				p("states[5]", `no END state can be reached from state "start2"`),
				p("states[6]", `no END state can be reached from state "start3"`),
			},
		},
		{
			name: "END: none",
			mutate: func(d *engine.Draft) {
				d.States = d.States[:stDone]
				d.Transitions = d.Transitions[:trReject]
			},
			want: []want{p("states", "at least one END state, found none")},
		},
		{
			name: "START and END: neither",
			mutate: func(d *engine.Draft) {
				d.States = []engine.State{human("review")}
				d.Transitions = nil
			},
			want: []want{
				p("states", "exactly one START state, found none"),
				p("states", "at least one END state, found none"),
			},
		},
		{
			name: "START and END: no states at all",
			mutate: func(d *engine.Draft) {
				d.States = nil
				d.Transitions = nil
			},
			want: []want{
				p("states", "exactly one START state, found none"),
				p("states", "at least one END state, found none"),
			},
		},

		// State keys.
		{
			name:   "state key: duplicate",
			mutate: func(d *engine.Draft) { d.States = append(d.States, human("review")) },
			want:   []want{p("states[5].key", `duplicate state key "review" (also states[1])`)},
		},
		{
			name:   "state key: empty",
			mutate: func(d *engine.Draft) { d.States = append(d.States, end("")) },
			want:   []want{pExact("states[5].key", "is required")},
		},
		{
			name:   "state key: starts with a digit",
			mutate: func(d *engine.Draft) { d.States = append(d.States, end("9lives")) },
			want:   []want{p("states[5].key", `"9lives" must start with a letter`)},
		},
		{
			name:   "state key: starts with an underscore",
			mutate: func(d *engine.Draft) { d.States = append(d.States, end("_x")) },
			want:   []want{p("states[5].key", `"_x" must start with a letter`)},
		},
		{
			name:   "state key: holds a space",
			mutate: func(d *engine.Draft) { d.States = append(d.States, end("all done")) },
			want:   []want{p("states[5].key", `"all done" must start with a letter and hold only letters, digits`)},
		},
		{
			name:   "state key: non-ASCII letter",
			mutate: func(d *engine.Draft) { d.States = append(d.States, end("fertig_é")) },
			want:   []want{p("states[5].key", "must start with a letter")},
		},
		{
			name:   "state key: too long",
			mutate: func(d *engine.Draft) { d.States = append(d.States, end("k"+long(engine.MaxKeyLen))) },
			want:   []want{pExact("states[5].key", "must be at most 64 characters")},
		},
		{
			name:   "state key: renamed state leaves its transitions dangling",
			mutate: func(d *engine.Draft) { d.States[stReview].Key = "re view" },
			want: []want{
				p("states[1].key", `"re view" must start with a letter`),
				p("transitions[0].to_state", `no state has the key "review"`),
				p("transitions[1].from_state", `no state has the key "review"`),
				p("transitions[2].from_state", `no state has the key "review"`),
				// The graph is still walked, without the dangling transitions: START now leads
				// nowhere. The renamed state is reported for its key only.
				p("states[0]", `no END state can be reached from state "start"`),
				p("states[2]", `state "sign" cannot be reached from the START state`),
				p("states[3]", `state "done" cannot be reached from the START state`),
				p("states[4]", `state "rejected" cannot be reached from the START state`),
			},
		},
		{
			name:   "state name: too long",
			mutate: func(d *engine.Draft) { d.States[stReview].Name = long(engine.MaxNameLen + 1) },
			want:   []want{p("states[1].name", "must be at most 200 characters")},
		},
		{
			name:   "state name: invalid UTF-8",
			mutate: func(d *engine.Draft) { d.States[stDone].Name = "\xff" },
			want:   []want{p("states[3].name", "must be valid UTF-8")},
		},

		// Transition keys and names.
		{
			name:   "transition key: duplicate",
			mutate: func(d *engine.Draft) { d.Transitions[trDeclined].Key = "signed" },
			want:   []want{p("transitions[4].key", `duplicate transition key "signed" (also transitions[3])`)},
		},
		{
			name:   "transition key: may equal a state key",
			mutate: func(d *engine.Draft) { d.Transitions[trSubmit].Key = "review" },
		},
		{
			name:   "transition key: empty",
			mutate: func(d *engine.Draft) { d.Transitions[trSubmit].Key = "" },
			want:   []want{pExact("transitions[0].key", "is required")},
		},
		{
			name:   "transition key: bad format",
			mutate: func(d *engine.Draft) { d.Transitions[trSubmit].Key = "-submit" },
			want:   []want{p("transitions[0].key", `"-submit" must start with a letter`)},
		},
		{
			name:   "transition key: too long",
			mutate: func(d *engine.Draft) { d.Transitions[trSubmit].Key = "t" + long(engine.MaxKeyLen) },
			want:   []want{pExact("transitions[0].key", "must be at most 64 characters")},
		},
		{
			name:   "transition name: too long",
			mutate: func(d *engine.Draft) { d.Transitions[trApprove].Name = long(engine.MaxNameLen + 1) },
			want:   []want{p("transitions[1].name", "must be at most 200 characters, got 201")},
		},
		{
			name:   "transition name: invalid UTF-8",
			mutate: func(d *engine.Draft) { d.Transitions[trApprove].Name = "ok\xfe" },
			want:   []want{p("transitions[1].name", "must be valid UTF-8")},
		},

		// Transition ends.
		{
			name:   "transition: from a missing state",
			mutate: func(d *engine.Draft) { d.Transitions[trReject].From = "ghost" },
			want:   []want{p("transitions[2].from_state", `no state has the key "ghost"`)},
		},
		{
			name:   "transition: to a missing state (the graph is still checked without it)",
			mutate: func(d *engine.Draft) { d.Transitions[trSigned].To = "ghost" },
			want: []want{
				p("transitions[3].to_state", `no state has the key "ghost"`),
				p("states[3]", `state "done" cannot be reached from the START state`),
			},
		},
		{
			name:   "transition: empty from",
			mutate: func(d *engine.Draft) { d.Transitions[trReject].From = "" },
			want:   []want{pExact("transitions[2].from_state", "is required")},
		},
		{
			name:   "transition: empty to",
			mutate: func(d *engine.Draft) { d.Transitions[trReject].To = "" },
			want:   []want{pExact("transitions[2].to_state", "is required")},
		},
		{
			name: "transition: both ends missing",
			mutate: func(d *engine.Draft) {
				d.Transitions = append(d.Transitions, engine.Transition{Key: "nowhere"})
			},
			want: []want{
				pExact("transitions[5].from_state", "is required"),
				pExact("transitions[5].to_state", "is required"),
			},
		},
		{
			name:   "transition: keys are case-sensitive",
			mutate: func(d *engine.Draft) { d.Transitions[trReject].To = "Rejected" },
			want:   []want{p("transitions[2].to_state", `no state has the key "Rejected"`)},
		},
		{
			name:   "transition: out of an END state",
			mutate: func(d *engine.Draft) { d.Transitions = append(d.Transitions, edge("reopen", "done", "review")) },
			want:   []want{p("transitions[5].from_state", `END state "done" has no way out`)},
		},
		{
			name:   "transition: into the START state",
			mutate: func(d *engine.Draft) { d.Transitions = append(d.Transitions, edge("restart", "review", "start")) },
			want:   []want{p("transitions[5].to_state", `no transition may lead into the START state "start"`)},
		},
		{
			name:   "transition: START to itself",
			mutate: func(d *engine.Draft) { d.Transitions = append(d.Transitions, edge("again", "start", "start")) },
			want:   []want{p("transitions[5].to_state", `no transition may lead into the START state "start"`)},
		},

		// Graph.
		{
			name: "graph: state unreachable from START",
			mutate: func(d *engine.Draft) {
				d.States = append(d.States, human("orphan"))
				d.Transitions = append(d.Transitions, edge("orphan_done", "orphan", "done"))
			},
			want: []want{p("states[5]", `state "orphan" cannot be reached from the START state`)},
		},
		{
			name:   "graph: END state unreachable from START",
			mutate: func(d *engine.Draft) { d.States = append(d.States, end("lost")) },
			want:   []want{p("states[5]", `state "lost" cannot be reached from the START state`)},
		},
		{
			name: "graph: HUMAN state with no way out",
			mutate: func(d *engine.Draft) {
				d.States = append(d.States, human("limbo"))
				d.Transitions = append(d.Transitions, edge("to_limbo", "review", "limbo"))
			},
			want: []want{p("states[5]", `no END state can be reached from state "limbo"`)},
		},
		{
			name:   "graph: isolated HUMAN state",
			mutate: func(d *engine.Draft) { d.States = append(d.States, human("island")) },
			want: []want{
				p("states[5]", `state "island" cannot be reached from the START state`),
				p("states[5]", `no END state can be reached from state "island"`),
			},
		},
		{
			// Problems elsewhere (a missing name, a long subject) must not hide the graph's.
			name: "graph: isolated state reported next to other problems",
			mutate: func(d *engine.Draft) {
				d.Name = ""
				d.States[stSign].External.EmailSubject = strings.Repeat("s", 101)
				d.States = append(d.States, human("island"))
			},
			want: []want{
				p("name", "is required"),
				p("states[2].external.email_subject", "at most 100 characters"),
				p("states[5]", `state "island" cannot be reached from the START state`),
				p("states[5]", `no END state can be reached from state "island"`),
			},
		},
		{
			name: "graph: cycle with no exit",
			mutate: func(d *engine.Draft) {
				d.States = append(d.States, human("loop_a"), human("loop_b"))
				d.Transitions = append(d.Transitions,
					edge("enter_loop", "review", "loop_a"),
					edge("a_to_b", "loop_a", "loop_b"),
					edge("b_to_a", "loop_b", "loop_a"))
			},
			want: []want{
				p("states[5]", `no END state can be reached from state "loop_a"`),
				p("states[6]", `no END state can be reached from state "loop_b"`),
			},
		},
		{
			name: "graph: START cannot reach any END",
			mutate: func(d *engine.Draft) {
				d.Transitions = []engine.Transition{edge("submit", "start", "review")}
			},
			want: []want{
				p("states[0]", `no END state can be reached from state "start"`),
				p("states[1]", `no END state can be reached from state "review"`),
				p("states[2]", `state "sign" cannot be reached from the START state`),
				p("states[2]", `no END state can be reached from state "sign"`),
				p("states[3]", `state "done" cannot be reached from the START state`),
				p("states[4]", `state "rejected" cannot be reached from the START state`),
			},
		},

		// Assignees.
		{
			name:   "assignee: HUMAN without one",
			mutate: func(d *engine.Draft) { d.States[stReview].Assignee = nil },
			want:   []want{p("states[1].assignee", "a HUMAN state needs an assignee")},
		},
		{
			name: "assignee: both user and group",
			mutate: func(d *engine.Draft) {
				d.States[stReview].Assignee = &engine.Assignee{UserID: "u-1", GroupID: "finance"}
			},
			want: []want{pExact("states[1].assignee", "set either user_id or group_id, not both")},
		},
		{
			name:   "assignee: neither user nor group",
			mutate: func(d *engine.Draft) { d.States[stReview].Assignee = &engine.Assignee{} },
			want:   []want{pExact("states[1].assignee", "set either user_id or group_id")},
		},
		{
			name:   "assignee: blank user id",
			mutate: func(d *engine.Draft) { d.States[stReview].Assignee = &engine.Assignee{UserID: "   "} },
			want:   []want{pExact("states[1].assignee.user_id", "is required")},
		},
		{
			name:   "assignee: group id too long",
			mutate: func(d *engine.Draft) { d.States[stReview].Assignee.GroupID = long(2*engine.MaxKeyLen + 1) },
			want:   []want{p("states[1].assignee.group_id", "must be at most 128 characters, got 129")},
		},
		{
			name:   "assignee: user id invalid UTF-8",
			mutate: func(d *engine.Draft) { d.States[stReview].Assignee = &engine.Assignee{UserID: "u\x80"} },
			want:   []want{p("states[1].assignee.user_id", "must be valid UTF-8")},
		},
		{
			name:   "assignee: on an EXTERNAL state",
			mutate: func(d *engine.Draft) { d.States[stSign].Assignee = &engine.Assignee{GroupID: "finance"} },
			want:   []want{p("states[2].assignee", "only HUMAN states have an assignee; EXTERNAL states")},
		},
		{
			name:   "assignee: on an END state",
			mutate: func(d *engine.Draft) { d.States[stDone].Assignee = &engine.Assignee{UserID: "u-1"} },
			want:   []want{p("states[3].assignee", "only HUMAN states have an assignee; END states")},
		},
		{
			name:   "assignee: on the START state",
			mutate: func(d *engine.Draft) { d.States[stStart].Assignee = &engine.Assignee{} },
			want:   []want{p("states[0].assignee", "only HUMAN states have an assignee; START states")},
		},

		// External steps.
		{
			name:   "external: EXTERNAL state without its step",
			mutate: func(d *engine.Draft) { d.States[stSign].External = nil },
			want:   []want{p("states[2].external", "an EXTERNAL state needs its external step")},
		},
		{
			name: "external: step on a HUMAN state (not validated further)",
			mutate: func(d *engine.Draft) {
				d.States[stReview].External = &engine.ExternalStep{Provider: engine.Provider("99")}
			},
			want: []want{p("states[1].external", "only EXTERNAL states have an external step")},
		},
		{
			name:   "external: step on an END state",
			mutate: func(d *engine.Draft) { d.States[stDone].External = &engine.ExternalStep{} },
			want:   []want{p("states[3].external", "only EXTERNAL states have an external step")},
		},
		{
			name:   "external: step on the START state",
			mutate: func(d *engine.Draft) { d.States[stStart].External = &engine.ExternalStep{} },
			want:   []want{p("states[0].external", "only EXTERNAL states have an external step")},
		},
		{
			name:   "external: no provider",
			mutate: func(d *engine.Draft) { ext(d).Provider = engine.ProviderUnspecified },
			want:   []want{pExact("states[2].external.provider", "is required")},
		},
		{
			name:   "external: unknown provider",
			mutate: func(d *engine.Draft) { ext(d).Provider = engine.Provider("99") },
			want:   []want{pExact("states[2].external.provider", `unknown provider "99"`)},
		},
		{
			name:   "external: negative provider",
			mutate: func(d *engine.Draft) { ext(d).Provider = engine.Provider("-1") },
			want:   []want{pExact("states[2].external.provider", `unknown provider "-1"`)},
		},
		{
			name:   "external: email subject too long",
			mutate: func(d *engine.Draft) { ext(d).EmailSubject = long(engine.MaxEmailSubjectLen + 1) },
			want:   []want{p("states[2].external.email_subject", "must be at most 100 characters, got 101")},
		},
		{
			name:   "external: email subject invalid UTF-8",
			mutate: func(d *engine.Draft) { ext(d).EmailSubject = "sign \xff" },
			want:   []want{p("states[2].external.email_subject", "must be valid UTF-8")},
		},
		{
			name:   "external: document title too long",
			mutate: func(d *engine.Draft) { ext(d).DocumentTitle = long(engine.MaxNameLen + 1) },
			want:   []want{p("states[2].external.document_title", "must be at most 200 characters, got 201")},
		},

		// Signers.
		{
			name:   "signers: none",
			mutate: func(d *engine.Draft) { ext(d).Signers = nil },
			want:   []want{p("states[2].external.signers", "at least one signer is required")},
		},
		{
			name:   "signers: empty slice",
			mutate: func(d *engine.Draft) { ext(d).Signers = []engine.Signer{} },
			want:   []want{p("states[2].external.signers", "at least one signer is required")},
		},
		{
			name: "signers: too many (and signers past the limit are not checked)",
			mutate: func(d *engine.Draft) {
				for range engine.MaxSigners {
					ext(d).Signers = append(ext(d).Signers, engine.Signer{NameField: "name", EmailField: "email"})
				}
				ext(d).Signers[engine.MaxSigners] = engine.Signer{NameField: "missing"}
			},
			want: []want{p("states[2].external.signers", "at most 20 signers are allowed, got 21")},
		},
		{
			name:   "signers: name bound to a missing field",
			mutate: func(d *engine.Draft) { ext(d).Signers[0].NameField = "nickname" },
			want:   []want{p("states[2].external.signers[0].name_field", `the start form has no field "nickname"`)},
		},
		{
			name:   "signers: email bound to a missing field",
			mutate: func(d *engine.Draft) { ext(d).Signers[0].EmailField = "mail" },
			want:   []want{p("states[2].external.signers[0].email_field", `the start form has no field "mail"`)},
		},
		{
			name:   "signers: name not bound",
			mutate: func(d *engine.Draft) { ext(d).Signers[0].NameField = "" },
			want:   []want{p("states[2].external.signers[0].name_field", "is required: name a start-form field of type STRING")},
		},
		{
			name:   "signers: email not bound",
			mutate: func(d *engine.Draft) { ext(d).Signers[0] = engine.Signer{NameField: "name"} },
			want:   []want{p("states[2].external.signers[0].email_field", "is required: name a start-form field of type EMAIL")},
		},
		{
			name:   "signers: name bound to an EMAIL field",
			mutate: func(d *engine.Draft) { ext(d).Signers[0].NameField = "email" },
			want:   []want{p("states[2].external.signers[0].name_field", `start-form field "email" is EMAIL; a field of type STRING is required`)},
		},
		{
			name:   "signers: email bound to a NUMBER field",
			mutate: func(d *engine.Draft) { ext(d).Signers[0].EmailField = "amount" },
			want:   []want{p("states[2].external.signers[0].email_field", `start-form field "amount" is NUMBER; a field of type EMAIL is required`)},
		},
		{
			name: "signers: the second signer is checked too",
			mutate: func(d *engine.Draft) {
				ext(d).Signers = append(ext(d).Signers, engine.Signer{NameField: "amount", EmailField: "name"})
			},
			want: []want{
				p("states[2].external.signers[1].name_field", `start-form field "amount" is NUMBER; a field of type STRING is required`),
				p("states[2].external.signers[1].email_field", `start-form field "name" is STRING; a field of type EMAIL is required`),
			},
		},
		{
			name: "signers: a HUMAN state's form field is not the start form",
			mutate: func(d *engine.Draft) {
				d.States[stReview].FormFields = []engine.FormField{{Name: "cosigner", Type: engine.FieldTypeString}}
				ext(d).Signers[0].NameField = "cosigner"
			},
			want: []want{p("states[2].external.signers[0].name_field", `the start form has no field "cosigner"`)},
		},
		{
			name: "signers: bound field of an unknown type",
			mutate: func(d *engine.Draft) {
				d.States[stStart].FormFields[0].Type = engine.FieldType(9)
			},
			want: []want{
				pExact("states[0].form_fields[0].type", "unknown field type 9"),
				p("states[2].external.signers[0].name_field", `start-form field "name" is UNKNOWN(9); a field of type STRING is required`),
			},
		},

		// Outcome overrides.
		{
			name:   "overrides: unknown event",
			mutate: func(d *engine.Draft) { ext(d).OutcomeOverrides["bogus"] = engine.OutcomeApproved },
			want:   []want{p(`states[2].external.outcome_overrides["bogus"]`, `"bogus" is not an event DOCUSIGN reports`)},
		},
		{
			name:   "overrides: another provider's event",
			mutate: func(d *engine.Draft) { ext(d).OutcomeOverrides["PACKAGE_DECLINE"] = engine.OutcomeDenied },
			want:   []want{p(`states[2].external.outcome_overrides["PACKAGE_DECLINE"]`, `"PACKAGE_DECLINE" is not an event DOCUSIGN reports`)},
		},
		{
			name: "overrides: DocuSign event under OneSpan",
			mutate: func(d *engine.Draft) {
				ext(d).Provider = oneSpan
			},
			want: []want{p(`states[2].external.outcome_overrides["envelope-voided"]`, `"envelope-voided" is not an event ONESPAN reports`)},
		},
		{
			name: "overrides: a OneSpan event flowhook ignores",
			mutate: func(d *engine.Draft) {
				ext(d).Provider = oneSpan
				ext(d).OutcomeOverrides = map[string]engine.Outcome{"PACKAGE_EXPIRE": engine.OutcomeDeleted, "SIGNER_COMPLETE": engine.OutcomeApproved}
			},
			want: []want{p(`states[2].external.outcome_overrides["SIGNER_COMPLETE"]`,
				`flowhook ignores ONESPAN's "SIGNER_COMPLETE", so no override can apply to it: name one of PACKAGE_COMPLETE, PACKAGE_DECLINE`)},
		},
		{
			name:   "overrides: unspecified outcome",
			mutate: func(d *engine.Draft) { ext(d).OutcomeOverrides["envelope-declined"] = engine.OutcomeUnspecified },
			want:   []want{pExact(`states[2].external.outcome_overrides["envelope-declined"]`, "the outcome is required")},
		},
		{
			name:   "overrides: unknown outcome",
			mutate: func(d *engine.Draft) { ext(d).OutcomeOverrides["envelope-declined"] = engine.Outcome(9) },
			want:   []want{pExact(`states[2].external.outcome_overrides["envelope-declined"]`, "unknown outcome 9")},
		},
		{
			name:   "overrides: unknown event and unspecified outcome",
			mutate: func(d *engine.Draft) { ext(d).OutcomeOverrides["nope"] = engine.OutcomeUnspecified },
			want: []want{
				p(`states[2].external.outcome_overrides["nope"]`, `"nope" is not an event DOCUSIGN reports`),
				pExact(`states[2].external.outcome_overrides["nope"]`, "the outcome is required"),
			},
		},
		{
			name:   "overrides: event names are not checked for an unknown provider",
			mutate: func(d *engine.Draft) { ext(d).Provider = engine.Provider("7") },
			want:   []want{pExact("states[2].external.provider", `unknown provider "7"`)},
		},
		{
			name: "overrides: too many",
			mutate: func(d *engine.Draft) {
				for i := range engine.MaxOutcomeOverrides {
					ext(d).OutcomeOverrides[fmt.Sprintf("e%02d", i)] = engine.OutcomeUnspecified
				}
			},
			want: []want{p("states[2].external.outcome_overrides", "at most 50 overrides are allowed, got 51")},
		},

		// Outcomes on transitions.
		{
			name:   "on_outcome: missing out of EXTERNAL",
			mutate: func(d *engine.Draft) { d.Transitions[trSigned].OnOutcome = engine.OutcomeUnspecified },
			want:   []want{p("transitions[3].on_outcome", `a transition out of EXTERNAL state "sign" needs the outcome that takes it`)},
		},
		{
			name:   "on_outcome: unknown out of EXTERNAL",
			mutate: func(d *engine.Draft) { d.Transitions[trSigned].OnOutcome = engine.Outcome(77) },
			want:   []want{pExact("transitions[3].on_outcome", "unknown outcome 77")},
		},
		{
			name:   "on_outcome: two transitions out of EXTERNAL on the same outcome",
			mutate: func(d *engine.Draft) { d.Transitions[trDeclined].OnOutcome = engine.OutcomeFinished },
			want:   []want{p("transitions[4].on_outcome", `outcome FINISHED already leaves "sign" by transitions[3]`)},
		},
		{
			name: "on_outcome: three on the same outcome reports each later one",
			mutate: func(d *engine.Draft) {
				d.Transitions = append(d.Transitions,
					engine.Transition{Key: "denied_again", From: "sign", To: "done", OnOutcome: engine.OutcomeDenied},
					engine.Transition{Key: "denied_thrice", From: "sign", To: "rejected", OnOutcome: engine.OutcomeDenied})
			},
			want: []want{
				p("transitions[5].on_outcome", `outcome DENIED already leaves "sign" by transitions[4]`),
				p("transitions[6].on_outcome", `outcome DENIED already leaves "sign" by transitions[4]`),
			},
		},
		{
			name:   "on_outcome: on a transition out of a HUMAN state",
			mutate: func(d *engine.Draft) { d.Transitions[trApprove].OnOutcome = engine.OutcomeApproved },
			want:   []want{p("transitions[1].on_outcome", `only transitions out of EXTERNAL states carry an outcome; "review" is HUMAN`)},
		},
		{
			name:   "on_outcome: on a transition out of the START state",
			mutate: func(d *engine.Draft) { d.Transitions[trSubmit].OnOutcome = engine.Outcome(42) },
			want:   []want{p("transitions[0].on_outcome", `only transitions out of EXTERNAL states carry an outcome; "start" is START`)},
		},
		{
			name: "on_outcome: not checked when the from state is missing",
			mutate: func(d *engine.Draft) {
				d.Transitions[trReject].From = "ghost"
				d.Transitions[trReject].OnOutcome = engine.OutcomeApproved
			},
			want: []want{p("transitions[2].from_state", `no state has the key "ghost"`)},
		},

		// Form fields.
		{
			name: "form fields: duplicate names",
			mutate: func(d *engine.Draft) {
				d.States[stStart].FormFields = append(d.States[stStart].FormFields, engine.FormField{Name: "email", Type: engine.FieldTypeEmail})
			},
			want: []want{p("states[0].form_fields[3].name", `duplicate field name "email" (also states[0].form_fields[1])`)},
		},
		{
			name: "form fields: duplicate names on a HUMAN state",
			mutate: func(d *engine.Draft) {
				d.States[stReview].FormFields = []engine.FormField{
					{Name: "comment", Type: engine.FieldTypeString},
					{Name: "comment", Type: engine.FieldTypeBool},
				}
			},
			want: []want{p("states[1].form_fields[1].name", `duplicate field name "comment" (also states[1].form_fields[0])`)},
		},
		{
			name: "form fields: same name on two states is fine",
			mutate: func(d *engine.Draft) {
				d.States[stReview].FormFields = []engine.FormField{{Name: "amount", Type: engine.FieldTypeNumber}}
			},
		},
		{
			name: "form fields: a name asked again keeps its type",
			mutate: func(d *engine.Draft) {
				d.States[stReview].FormFields = []engine.FormField{{Name: "amount", Type: engine.FieldTypeString}}
			},
			want: []want{p(fmt.Sprintf("states[%d].form_fields[0].type", stReview), `field "amount" is NUMBER in states[0].form_fields[`)},
		},
		{
			name: "form fields: empty and bad names",
			mutate: func(d *engine.Draft) {
				d.States[stStart].FormFields = append(d.States[stStart].FormFields,
					engine.FormField{Name: "", Type: engine.FieldTypeString},
					engine.FormField{Name: "1st", Type: engine.FieldTypeString},
					engine.FormField{Name: "f" + long(engine.MaxKeyLen), Type: engine.FieldTypeString})
			},
			want: []want{
				pExact("states[0].form_fields[3].name", "is required"),
				p("states[0].form_fields[4].name", `"1st" must start with a letter`),
				pExact("states[0].form_fields[5].name", "must be at most 64 characters"),
			},
		},
		{
			name:   "form fields: label too long",
			mutate: func(d *engine.Draft) { d.States[stStart].FormFields[2].Label = long(engine.MaxNameLen + 1) },
			want:   []want{p("states[0].form_fields[2].label", "must be at most 200 characters, got 201")},
		},
		{
			name: "form fields: on an END state",
			mutate: func(d *engine.Draft) {
				d.States[stDone].FormFields = []engine.FormField{{Name: "x", Type: engine.FieldTypeString}}
			},
			want: []want{p("states[3].form_fields", "only START and HUMAN states have form fields")},
		},
		{
			name: "form fields: on an EXTERNAL state (not validated further)",
			mutate: func(d *engine.Draft) {
				d.States[stSign].FormFields = []engine.FormField{{Name: "", Type: engine.FieldType(99)}}
			},
			want: []want{p("states[2].form_fields", "only START and HUMAN states have form fields")},
		},
		{
			name:   "form fields: unknown type",
			mutate: func(d *engine.Draft) { d.States[stStart].FormFields[2].Type = engine.FieldType(17) },
			want:   []want{pExact("states[0].form_fields[2].type", "unknown field type 17")},
		},
		{
			name:   "form fields: negative type",
			mutate: func(d *engine.Draft) { d.States[stStart].FormFields[2].Type = engine.FieldType(-2) },
			want:   []want{pExact("states[0].form_fields[2].type", "unknown field type -2")},
		},
		{
			name:   "form fields: unspecified type",
			mutate: func(d *engine.Draft) { d.States[stStart].FormFields[2].Type = engine.FieldTypeUnspecified },
			want:   []want{pExact("states[0].form_fields[2].type", "is required")},
		},
		{
			name: "form fields: too many",
			mutate: func(d *engine.Draft) {
				for i := len(d.States[stStart].FormFields); i <= engine.MaxFormFields; i++ {
					d.States[stStart].FormFields = append(d.States[stStart].FormFields, engine.FormField{Name: "", Type: engine.FieldType(99)})
				}
			},
			want: []want{p("states[0].form_fields", "at most 100 form fields are allowed, got 101")},
		},

		// State kinds.
		{
			name:   "kind: unknown (the state's other rules are not applied)",
			mutate: func(d *engine.Draft) { d.States[stReview].Kind = engine.StateKind(42) },
			want:   []want{pExact("states[1].kind", "unknown state kind 42")},
		},
		{
			name:   "kind: negative",
			mutate: func(d *engine.Draft) { d.States[stDone].Kind = engine.StateKind(-3) },
			want:   []want{pExact("states[3].kind", "unknown state kind -3")},
		},
		{
			name:   "kind: unspecified",
			mutate: func(d *engine.Draft) { d.States[stReview].Kind = engine.StateKindUnspecified },
			want:   []want{pExact("states[1].kind", "is required")},
		},
		{
			name:   "kind: unknown on the EXTERNAL state makes its outcomes stray",
			mutate: func(d *engine.Draft) { d.States[stSign].Kind = engine.StateKind(42) },
			want: []want{
				pExact("states[2].kind", "unknown state kind 42"),
				p("transitions[3].on_outcome", `only transitions out of EXTERNAL states carry an outcome; "sign" is UNKNOWN(42)`),
				p("transitions[4].on_outcome", `only transitions out of EXTERNAL states carry an outcome; "sign" is UNKNOWN(42)`),
			},
		},

		// Timeouts.
		{
			name:   "timeout: negative",
			mutate: func(d *engine.Draft) { d.States[stReview].Timeout = -time.Second },
			want:   []want{pExact("states[1].timeout", "must not be negative")},
		},
		{
			name:   "timeout: one nanosecond below zero",
			mutate: func(d *engine.Draft) { d.States[stSign].Timeout = -time.Nanosecond },
			want:   []want{pExact("states[2].timeout", "must not be negative")},
		},
		{
			name:   "timeout: negative on an END state",
			mutate: func(d *engine.Draft) { d.States[stDone].Timeout = -time.Second },
			want:   []want{pExact("states[3].timeout", "must not be negative")},
		},
		{
			name:   "timeout: over MaxTimeout",
			mutate: func(d *engine.Draft) { d.States[stSign].Timeout = engine.MaxTimeout + time.Nanosecond },
			want:   []want{pExact("states[2].timeout", "must be at most "+engine.MaxTimeout.String())},
		},
		{
			name:   "timeout: on an END state",
			mutate: func(d *engine.Draft) { d.States[stDone].Timeout = time.Hour },
			want:   []want{pExact("states[3].timeout", "only HUMAN and EXTERNAL states can time out")},
		},
		{
			name:   "timeout: on the START state",
			mutate: func(d *engine.Draft) { d.States[stStart].Timeout = time.Nanosecond },
			want:   []want{pExact("states[0].timeout", "only HUMAN and EXTERNAL states can time out")},
		},

		// Size limits.
		{
			name: "limits: MaxStates+1 broken states is a single problem",
			mutate: func(d *engine.Draft) {
				for len(d.States) <= engine.MaxStates {
					d.States = append(d.States, engine.State{Kind: engine.StateKind(-1), Timeout: -1})
				}
			},
			want: []want{pExact("states", "at most 200 states are allowed, got 201")},
		},
		{
			name: "limits: MaxTransitions+1 transitions is a single problem",
			mutate: func(d *engine.Draft) {
				for len(d.Transitions) <= engine.MaxTransitions {
					d.Transitions = append(d.Transitions, engine.Transition{From: "ghost"})
				}
			},
			want: []want{pExact("transitions", "at most 1000 transitions are allowed, got 1001")},
		},
		{
			name: "limits: name problems are still reported with too many states",
			mutate: func(d *engine.Draft) {
				d.Name = ""
				for len(d.States) <= engine.MaxStates {
					d.States = append(d.States, end(""))
				}
			},
			want: []want{
				pExact("name", "is required"),
				pExact("states", "at most 200 states are allowed, got 201"),
			},
		},

		// Many problems at once.
		{
			name: "several problems are all listed",
			mutate: func(d *engine.Draft) {
				d.Name = ""
				d.States[stReview].Assignee = nil
				ext(d).Signers[0].EmailField = "amount"
				d.States[stDone].Timeout = time.Hour
				d.States = append(d.States, end("done"))
				d.Transitions[trDeclined].OnOutcome = engine.OutcomeFinished
				d.Transitions = append(d.Transitions, edge("submit", "done", "start"))
			},
			want: []want{
				pExact("name", "is required"),
				p("states[1].assignee", "a HUMAN state needs an assignee"),
				p("states[2].external.signers[0].email_field", `start-form field "amount" is NUMBER`),
				p("states[3].timeout", "only HUMAN and EXTERNAL states can time out"),
				p("states[5].key", `duplicate state key "done" (also states[3])`),
				p("transitions[4].on_outcome", `outcome FINISHED already leaves "sign" by transitions[3]`),
				p("transitions[5].key", `duplicate transition key "submit" (also transitions[0])`),
				p("transitions[5].from_state", `END state "done" has no way out`),
				p("transitions[5].to_state", `no transition may lead into the START state "start"`),
			},
		},
		// Reachability is checked whatever else is wrong (issue 14): from every START, over
		// the transitions that join two states, next to the problems that used to hide it.
		{
			name: "several problems: two STARTs, a dangling transition, an orphan and a dead end",
			mutate: func(d *engine.Draft) {
				d.Name = ""
				d.States = append(d.States,
					engine.State{Key: "start2", Kind: engine.StateKindStart}, // [5]
					human("orphan"), // [6]
					human("limbo"))  // [7]
				d.Transitions = append(d.Transitions,
					edge("from_start2", "start2", "review"), // [5]: start2 can end
					edge("escape", "orphan", "done"),        // [6]: orphan can end, but nothing leads to it
					edge("stuck", "review", "limbo"),        // [7]: limbo has no way out
					edge("dangling", "review", "ghost"))     // [8]
			},
			want: []want{
				pExact("name", "is required"),
				p("states[5].kind", "exactly one START state; states[0] is already START"),
				p("transitions[8].to_state", `no state has the key "ghost"`),
				pExact("states[6]", `state "orphan" cannot be reached from any START state`),
				pExact("states[7]", `no END state can be reached from state "limbo"`),
			},
		},
		{
			name: "several problems: no START, a dangling transition and a cycle with no exit",
			mutate: func(d *engine.Draft) {
				d.States = slices.Delete(d.States, stStart, stStart+1) // review is now [0], sign [1]
				d.Transitions = slices.Delete(d.Transitions, trSubmit, trSubmit+1)
				d.States = append(d.States, human("loop_a"), human("loop_b")) // [4], [5]
				d.Transitions = append(d.Transitions,
					edge("a_b", "loop_a", "loop_b"),   // [4]
					edge("b_a", "loop_b", "loop_a"),   // [5]
					edge("into", "review", "loop_a"),  // [6]
					edge("lost", "review", "nowhere")) // [7]
			},
			want: []want{
				p("states", "exactly one START state, found none"),
				p("states[1].external.signers[0].name_field", `the start form has no field "name"`),
				p("states[1].external.signers[0].email_field", `the start form has no field "email"`),
				p("transitions[7].to_state", `no state has the key "nowhere"`),
				// Without a START nothing is "unreachable from it"; the END checks still run.
				pExact("states[4]", `no END state can be reached from state "loop_a"`),
				pExact("states[5]", `no END state can be reached from state "loop_b"`),
			},
		},
		{
			name: "several problems: a bad key leaves START stranded, an END is unreachable, END has a way out",
			mutate: func(d *engine.Draft) {
				d.States[stReview].Key = ""
				d.States = append(d.States, end("lost"))                                  // [5]
				d.Transitions = append(d.Transitions, edge("reopen", "done", "rejected")) // [5]
			},
			want: []want{
				pExact("states[1].key", "is required"),
				p("transitions[0].to_state", `no state has the key "review"`),
				p("transitions[1].from_state", `no state has the key "review"`),
				p("transitions[2].from_state", `no state has the key "review"`),
				p("transitions[5].from_state", `END state "done" has no way out`),
				pExact("states[0]", `no END state can be reached from state "start"`),
				pExact("states[2]", `state "sign" cannot be reached from the START state`),
				pExact("states[3]", `state "done" cannot be reached from the START state`),
				pExact("states[4]", `state "rejected" cannot be reached from the START state`),
				pExact("states[5]", `state "lost" cannot be reached from the START state`),
			},
		},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := cloneDraft(baseDraft())
			tc.mutate(&d)
			before := cloneDraft(d)

			got := engine.ValidateDraft(d, catalog)

			requireProblems(t, got, tc.want)
			require.Equal(t, before, d, "ValidateDraft changed its input")
			require.Equal(t, got, engine.ValidateDraft(d, catalog), "ValidateDraft is not deterministic")
			if len(tc.want) == 0 {
				require.NoError(t, got.Err())
			} else {
				problems, ok := engine.IsValidation(got.Err())
				require.True(t, ok)
				require.Equal(t, []engine.Problem(got), problems)
			}
		})
	}
}

func TestValidateDraftStateLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		extra int
		want  []want
	}{
		{name: "exactly MaxStates", extra: engine.MaxStates - len(baseDraft().States)},
		{
			name:  "MaxStates+1 well-formed states",
			extra: engine.MaxStates - len(baseDraft().States) + 1,
			want:  []want{pExact("states", "at most 200 states are allowed, got 201")},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := chainDraft(tc.extra)
			requireProblems(t, engine.ValidateDraft(d, catalog), tc.want)
		})
	}
}

func TestValidateDraftOverrideProblemsAreSorted(t *testing.T) {
	t.Parallel()
	d := baseDraft()
	d.States[stSign].External.OutcomeOverrides = map[string]engine.Outcome{
		"zeta": engine.OutcomeApproved, "alpha": engine.OutcomeApproved, "mu": engine.OutcomeApproved,
		"beta": engine.OutcomeApproved, "omega": engine.OutcomeApproved,
	}
	var paths []string
	for _, pr := range engine.ValidateDraft(d, catalog) {
		paths = append(paths, pr.Path)
	}
	const prefix = "states[2].external.outcome_overrides"
	require.Equal(t, []string{
		prefix + `["alpha"]`, prefix + `["beta"]`, prefix + `["mu"]`, prefix + `["omega"]`, prefix + `["zeta"]`,
	}, paths)
}

func TestProblemsPrefixedAndErr(t *testing.T) {
	t.Parallel()
	d := baseDraft()
	d.Name = ""
	d.States[stReview].Assignee = nil
	ps := engine.ValidateDraft(d, catalog)
	prefixed := ps.Prefixed("workflow")
	require.Equal(t, engine.Problems{
		{Path: "workflow.name", Message: "is required"},
		{Path: "workflow.states[1].assignee", Message: ps[1].Message},
	}, prefixed)
	require.Equal(t, "name", ps[0].Path, "Prefixed changed its receiver")

	err := prefixed.Err()
	require.EqualError(t, err, "invalid: workflow.name: is required; workflow.states[1].assignee: "+ps[1].Message)
	require.NoError(t, engine.ValidateDraft(baseDraft(), catalog).Prefixed("workflow").Err())
}

func TestWithActions(t *testing.T) {
	t.Parallel()

	envelope := []engine.Action{{Kind: createEnvelope}}
	pkg := []engine.Action{{Kind: createPackage}}

	tests := []struct {
		name   string
		mutate func(d *engine.Draft)
		want   [][]engine.Action // per transition
	}{
		{
			name: "DocuSign target gets a create-envelope action",
			want: [][]engine.Action{nil, envelope, nil, nil, nil},
		},
		{
			name:   "OneSpan target gets a create-package action",
			mutate: func(d *engine.Draft) { d.States[stSign].External.Provider = oneSpan },
			want:   [][]engine.Action{nil, pkg, nil, nil, nil},
		},
		{
			name: "caller-supplied actions are discarded",
			mutate: func(d *engine.Draft) {
				for i := range d.Transitions {
					d.Transitions[i].Actions = []engine.Action{
						{Kind: createPackage},
						{Kind: createEnvelope},
						{Kind: engine.ActionKind("SEND_FAX")},
					}
				}
			},
			want: [][]engine.Action{nil, envelope, nil, nil, nil},
		},
		{
			name: "every transition into an EXTERNAL state gets the action",
			mutate: func(d *engine.Draft) {
				d.Transitions = append(d.Transitions, edge("fast_track", "start", "sign"))
			},
			want: [][]engine.Action{nil, envelope, nil, nil, nil, envelope},
		},
		{
			name: "each EXTERNAL state's own provider decides",
			mutate: func(d *engine.Draft) {
				cs := d.States[stSign]
				cs.Key = "countersign"
				cs.External = &engine.ExternalStep{Provider: oneSpan}
				d.States = append(d.States, cs)
				d.Transitions[trSigned].To = "countersign"
			},
			want: [][]engine.Action{nil, envelope, nil, pkg, nil},
		},
		{
			name:   "unspecified provider gets none",
			mutate: func(d *engine.Draft) { d.States[stSign].External.Provider = engine.ProviderUnspecified },
			want:   [][]engine.Action{nil, nil, nil, nil, nil},
		},
		{
			name:   "unknown provider gets none",
			mutate: func(d *engine.Draft) { d.States[stSign].External.Provider = engine.Provider("99") },
			want:   [][]engine.Action{nil, nil, nil, nil, nil},
		},
		{
			name:   "EXTERNAL state without a step gets none",
			mutate: func(d *engine.Draft) { d.States[stSign].External = nil },
			want:   [][]engine.Action{nil, nil, nil, nil, nil},
		},
		{
			name: "a step on a non-EXTERNAL state gets none",
			mutate: func(d *engine.Draft) {
				d.States[stReview].External = &engine.ExternalStep{Provider: docuSign}
				d.States[stSign].External.Provider = engine.ProviderUnspecified
			},
			want: [][]engine.Action{nil, nil, nil, nil, nil},
		},
		{
			name: "transition to a missing state gets none",
			mutate: func(d *engine.Draft) {
				d.Transitions[trApprove].To = "ghost"
				d.Transitions[trApprove].Actions = envelope
			},
			want: [][]engine.Action{nil, nil, nil, nil, nil},
		},
		{
			name:   "no transitions",
			mutate: func(d *engine.Draft) { d.Transitions = nil },
			want:   [][]engine.Action{},
		},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := cloneDraft(baseDraft())
			if tc.mutate != nil {
				tc.mutate(&d)
			}
			before := cloneDraft(d)

			got := engine.WithActions(d, catalog)

			require.Equal(t, before, d, "WithActions changed its input")
			require.Len(t, got.Transitions, len(tc.want))
			for i, w := range tc.want {
				require.Equal(t, w, got.Transitions[i].Actions, "transitions[%d].actions", i)
			}
			// Nothing but the actions changes.
			for i, tr := range d.Transitions {
				tr.Actions = tc.want[i]
				require.Equal(t, tr, got.Transitions[i], "transitions[%d]", i)
			}
			rest := got
			rest.Transitions = d.Transitions
			require.Equal(t, d, rest)
		})
	}
}

func TestWithActionsResultIsIndependent(t *testing.T) {
	t.Parallel()
	d := baseDraft()
	got := engine.WithActions(d, catalog)
	require.Equal(t, []engine.Action{{Kind: createEnvelope}}, got.Transitions[trApprove].Actions)
	got.Transitions[trApprove].Key = "changed"
	got.Transitions[trApprove].Actions[0].Kind = createPackage
	require.Equal(t, baseDraft().Transitions, d.Transitions)
	again := engine.WithActions(d, catalog)
	require.Equal(t, []engine.Action{{Kind: createEnvelope}}, again.Transitions[trApprove].Actions)
}

func TestDefinitionRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		draft    engine.Draft
		contains []string
	}{
		{
			name:  "base draft",
			draft: baseDraft(),
			contains: []string{
				`"kind":"START"`, `"kind":"HUMAN"`, `"kind":"EXTERNAL"`, `"kind":"END"`,
				`"type":"STRING"`, `"type":"EMAIL"`, `"type":"NUMBER"`,
				`"provider":"DOCUSIGN"`,
				`"onOutcome":"FINISHED"`, `"onOutcome":"DENIED"`,
				`"outcomeOverrides":{"envelope-voided":"DENIED"}`,
			},
		},
		{
			name:  "published form with actions",
			draft: engine.WithActions(baseDraft(), catalog),
			contains: []string{
				`"actions":[{"kind":"DOCUSIGN_CREATE_ENVELOPE"}]`,
				`"kind":"EXTERNAL"`,
			},
		},
		{
			name: "OneSpan with actions",
			draft: func() engine.Draft {
				d := baseDraft()
				d.States[stSign].External.Provider = oneSpan
				d.States[stSign].External.OutcomeOverrides = map[string]engine.Outcome{"PACKAGE_EXPIRE": engine.OutcomeExpired}
				return engine.WithActions(d, catalog)
			}(),
			contains: []string{
				`"provider":"ONESPAN"`,
				`"actions":[{"kind":"ONESPAN_CREATE_PACKAGE"}]`,
				`"PACKAGE_EXPIRE":"EXPIRED"`,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, err := engine.MarshalDefinition(tc.draft)
			require.NoError(t, err)
			js := string(b)
			for _, c := range tc.contains {
				require.Contains(t, js, c)
			}
			// Enums are stored as names, never numbers.
			for _, field := range []string{"kind", "type", "provider", "onOutcome"} {
				for n := range 10 {
					require.NotContains(t, js, fmt.Sprintf(`"%s":%d`, field, n))
				}
			}

			got, err := engine.UnmarshalDefinition(b)
			require.NoError(t, err)
			require.Equal(t, tc.draft, got)
			require.Empty(t, engine.ValidateDraft(got, catalog))
		})
	}
}

func TestUnmarshalDefinitionEnums(t *testing.T) {
	t.Parallel()
	b, err := engine.MarshalDefinition(engine.WithActions(baseDraft(), catalog))
	require.NoError(t, err)
	base := string(b)

	tests := []struct {
		name    string
		old     string
		new     string
		wantErr string // empty: the JSON reads back
		check   func(t *testing.T, d engine.Draft)
	}{
		{name: "unknown state kind", old: `"kind":"EXTERNAL"`, new: `"kind":"WEBHOOK"`, wantErr: `unknown value "WEBHOOK"`},
		{name: "state kind in lower case", old: `"kind":"EXTERNAL"`, new: `"kind":"external"`, wantErr: `unknown value "external"`},
		{name: "state kind as the unknown name", old: `"kind":"EXTERNAL"`, new: `"kind":"UNKNOWN(3)"`, wantErr: `unknown value "UNKNOWN(3)"`},
		{name: "state kind as a number", old: `"kind":"EXTERNAL"`, new: `"kind":3`, wantErr: "cannot unmarshal number"},
		{name: "unknown field type", old: `"type":"EMAIL"`, new: `"type":"PHONE"`, wantErr: `unknown value "PHONE"`},
		{name: "unknown outcome", old: `"onOutcome":"FINISHED"`, new: `"onOutcome":"DONE"`, wantErr: `unknown value "DONE"`},
		{name: "unknown override outcome", old: `"envelope-voided":"DENIED"`, new: `"envelope-voided":"REJECTED"`, wantErr: `unknown value "REJECTED"`},
		{
			name: "UNSPECIFIED reads as unspecified",
			old:  `"onOutcome":"FINISHED"`, new: `"onOutcome":"UNSPECIFIED"`,
			check: func(t *testing.T, d engine.Draft) {
				require.Equal(t, engine.OutcomeUnspecified, d.Transitions[trSigned].OnOutcome)
			},
		},
		{
			name: "empty name reads as unspecified",
			old:  `"kind":"EXTERNAL"`, new: `"kind":""`,
			check: func(t *testing.T, d engine.Draft) {
				require.Equal(t, engine.StateKindUnspecified, d.States[stSign].Kind)
				requireProblems(t, engine.ValidateDraft(d, catalog), []want{
					pExact("states[2].kind", "is required"),
					p("transitions[3].on_outcome", `"sign" is UNSPECIFIED`),
					p("transitions[4].on_outcome", `"sign" is UNSPECIFIED`),
				})
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, 1, strings.Count(base, tc.old), "the base JSON should hold %s once", tc.old)
			d, err := engine.UnmarshalDefinition([]byte(strings.Replace(base, tc.old, tc.new, 1)))
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			tc.check(t, d)
		})
	}
}

func TestUnmarshalDefinitionMalformed(t *testing.T) {
	t.Parallel()
	for _, in := range []string{``, `{`, `[]`, `{"states":{}}`, `{"name":1}`} {
		_, err := engine.UnmarshalDefinition([]byte(in))
		require.Error(t, err, "input %q", in)
	}
}

// fuzzArgs are FuzzValidateDraft's inputs. keys: comma-separated state keys; kinds: one 4-bit
// StateKind per state (15 stands for -1); shape: 4 bits per state (1 assignee, 2 external step,
// 4 form fields, 8 timeout); edges: semicolon-separated "from>to[>outcome]"; field: the name of
// the form field, signer binding, group id and override event; fieldType: its type (negative:
// an override with outcome -fieldType); provider: the external step's provider.
type fuzzArgs struct {
	name, keys   string
	kinds, shape int64
	edges, field string
	fieldType    int
	provider     int
	timeout      int64
}

var fuzzSeeds = []fuzzArgs{
	{"Purchase", "start,review,sign,done,rejected", 0x44321, 0x00a14,
		"start>review;review>sign;review>rejected;sign>done>3;sign>rejected>2;sign>rejected>5", "name", 1, 1, int64(time.Hour)},
	{"", "", 0, 0, "", "", 0, 0, 0},
	{"x", "a,a,b", 0x421, 0x1f, "a>b;b>a;a>a", "email", 5, 2, -1},
	{"bad\xff", "start,,9x,end", 0x4f51, 0x7777, "start>;>end;start>end>99", "", 42, 99, 1 << 62},
	{"n", "s,h,e", 0x421, 0x014, "s>h;h>e;e>s;h>h>1", "name", 0, -3, int64(time.Minute)},
	{"n", "s,x,e", 0x431, 0x024, "s>x;x>e>3;x>e>3;x>s>2", "name", 1, 2, 0},
	{"n", "s,x,e", 0x431, 0x024, "s>x;x>e>3;x>e>2", "name", -2, 2, 0},
}

func fuzzDraft(a fuzzArgs) engine.Draft {
	name, keys, kinds, shape, edges, field := a.name, a.keys, a.kinds, a.shape, a.edges, a.field
	fieldType, provider, timeout := a.fieldType, a.provider, a.timeout
	d := engine.Draft{Name: name}
	if keys != "" {
		for i, key := range strings.Split(keys, ",") {
			if i > engine.MaxStates+1 {
				break
			}
			nib := func(v int64) int64 { return (v >> (4 * (i % 16))) & 0xF }
			kind := engine.StateKind(nib(kinds))
			if kind == 15 {
				kind = -1
			}
			s := engine.State{Key: key, Name: key, Kind: kind}
			bits := nib(shape)
			if bits&1 != 0 {
				s.Assignee = &engine.Assignee{GroupID: field}
			}
			if bits&2 != 0 {
				s.External = &engine.ExternalStep{
					Provider: []engine.Provider{"", docuSign, oneSpan, connector, "ADOBE_SIGN"}[(provider%5+5)%5],
					Signers:  []engine.Signer{{NameField: field, EmailField: "email"}},
				}
				if fieldType < 0 {
					s.External.OutcomeOverrides = map[string]engine.Outcome{field: engine.Outcome(-fieldType)}
				}
			}
			if bits&4 != 0 {
				s.FormFields = []engine.FormField{
					{Name: field, Type: engine.FieldType(fieldType)},
					{Name: "email", Type: engine.FieldTypeEmail},
				}
			}
			if bits&8 != 0 {
				s.Timeout = time.Duration(timeout)
			}
			d.States = append(d.States, s)
		}
	}
	if edges != "" {
		for i, e := range strings.Split(edges, ";") {
			if i > engine.MaxTransitions+1 {
				break
			}
			parts := strings.SplitN(e, ">", 3)
			tr := engine.Transition{Key: fmt.Sprintf("t%d", i), From: parts[0]}
			if len(parts) > 1 {
				tr.To = parts[1]
			}
			if len(parts) > 2 {
				if o, err := strconv.Atoi(parts[2]); err == nil {
					tr.OnOutcome = engine.Outcome(o)
				} else {
					tr.Name = parts[2]
				}
			}
			d.Transitions = append(d.Transitions, tr)
		}
	}
	return d
}

// TestFuzzDraft checks the fuzz target's draft builder, so that its seeds reach both the valid
// and the invalid branches.
func TestFuzzDraft(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		seed fuzzArgs
		want []want
	}{
		{name: "base-like seed is valid", seed: fuzzSeeds[0]},
		{
			name: "empty seed",
			seed: fuzzSeeds[1],
			want: []want{
				pExact("name", "is required"),
				p("states", "exactly one START state, found none"),
				p("states", "at least one END state, found none"),
			},
		},
		{
			name: "duplicate outcome out of EXTERNAL",
			seed: fuzzSeeds[5],
			want: []want{
				p("transitions[2].on_outcome", `outcome FINISHED already leaves "x" by transitions[1]`),
				p("transitions[3].to_state", `no transition may lead into the START state "s"`),
			},
		},
		{name: "OneSpan with an override on a bound field name", seed: fuzzSeeds[6], want: []want{
			pExact("states[0].form_fields[0].type", "unknown field type -2"),
			p("states[1].external.signers[0].name_field", `start-form field "name" is UNKNOWN(-2)`),
			p(`states[1].external.outcome_overrides["name"]`, `"name" is not an event ONESPAN reports`),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			requireProblems(t, engine.ValidateDraft(fuzzDraft(tc.seed), catalog), tc.want)
		})
	}
	d := fuzzDraft(fuzzSeeds[0])
	require.Len(t, d.States, 5)
	require.Equal(t, engine.StateKindExternal, d.States[2].Kind)
	require.Equal(t, time.Hour, d.States[2].Timeout)
	require.Equal(t, engine.OutcomeDenied, d.Transitions[4].OnOutcome)
}

// FuzzValidateDraft builds drafts from fuzzed data (see fuzzArgs) and checks that ValidateDraft
// never panics, that every problem has a path and a readable message, that it is deterministic
// and leaves its input alone, and that a draft it accepts is well-formed and survives storage.
func FuzzValidateDraft(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s.name, s.keys, s.kinds, s.shape, s.edges, s.field, s.fieldType, s.provider, s.timeout)
	}
	f.Fuzz(func(t *testing.T, name, keys string, kinds, shape int64, edges, field string, fieldType, provider int, timeout int64) {
		d := fuzzDraft(fuzzArgs{name, keys, kinds, shape, edges, field, fieldType, provider, timeout})
		before := cloneDraft(d)

		var ps engine.Problems
		require.NotPanics(t, func() { ps = engine.ValidateDraft(d, catalog) })

		for _, pr := range ps {
			require.NotEmpty(t, pr.Path, "problem without a path: %q", pr.Message)
			require.NotEmpty(t, pr.Message, "problem at %q has no message", pr.Path)
			require.True(t, utf8.ValidString(pr.Path), "path is not valid UTF-8: %q", pr.Path)
			require.True(t, utf8.ValidString(pr.Message), "message is not valid UTF-8: %q", pr.Message)
		}
		require.Equal(t, before, d, "ValidateDraft changed its input")
		require.Equal(t, ps, engine.ValidateDraft(d, catalog), "ValidateDraft is not deterministic")

		if len(ps) > 0 {
			return
		}
		// An accepted draft has one START, an END, and reads back as it was written.
		var starts, ends int
		for _, s := range d.States {
			switch s.Kind {
			case engine.StateKindStart:
				starts++
			case engine.StateKindEnd:
				ends++
			}
		}
		require.Equal(t, 1, starts)
		require.Positive(t, ends)
		b, err := engine.MarshalDefinition(engine.WithActions(d, catalog))
		require.NoError(t, err)
		got, err := engine.UnmarshalDefinition(b)
		require.NoError(t, err)
		require.Equal(t, engine.WithActions(d, catalog), got)
	})
}
