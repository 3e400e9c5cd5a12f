package engine

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on the size of a draft. A request over them is refused with a problem, so that one
// design cannot make every later read of it expensive.
const (
	MaxStates           = 200
	MaxTransitions      = 1000
	MaxFormFields       = 100
	MaxSigners          = 20
	MaxOutcomeOverrides = 50
	MaxNameLen          = 200
	MaxDescriptionLen   = 4000
	MaxKeyLen           = 64
	MaxEmailSubjectLen  = 100 // DocuSign's limit for an envelope's emailSubject
	MaxTimeout          = 366 * 24 * time.Hour
	// MinTimeoutRound is the least time a round of timeouts may take: states whose timeouts
	// lead from one to the next and back (a reminder loop) go round at most once a second.
	MinTimeoutRound = time.Second
)

var keyPattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]*$`)

// MaxConnectorNameLen bounds a connector's name.
const MaxConnectorNameLen = 63

var connectorNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// ValidConnectorName reports whether name may name a connector: lower case letters, digits
// and '-', starting with a letter or digit, at most MaxConnectorNameLen characters. It becomes
// part of URLs (/webhooks/c2i/{name}) and metric labels.
func ValidConnectorName(name string) bool {
	return len(name) <= MaxConnectorNameLen && connectorNamePattern.MatchString(name)
}

// ValidateDraft returns every problem of a draft, with paths relative to it
// (e.g. "states[2].assignee"); an empty result means the draft can be saved and published.
// Its EXTERNAL steps are checked against the providers' specs.
func ValidateDraft(d Draft, providers Catalog) Problems {
	var ps Problems
	checkText(&ps, "name", d.Name, MaxNameLen, true)
	checkProse(&ps, "description", d.Description, MaxDescriptionLen, false)
	if len(d.States) > MaxStates {
		ps.Add("states", "at most %d states are allowed, got %d", MaxStates, len(d.States))
		return ps
	}
	if len(d.Transitions) > MaxTransitions {
		ps.Add("transitions", "at most %d transitions are allowed, got %d", MaxTransitions, len(d.Transitions))
		return ps
	}

	states := validateStates(&ps, d.States, providers)
	validateTransitions(&ps, d, states)
	// Reachability is checked whatever else is wrong, so that one call lists every problem:
	// see validateGraph for what it walks.
	validateGraph(&ps, d, states)
	return ps
}

// oversized reports a draft with more states or transitions than allowed: ValidateDraft says
// so and checks nothing else, and nothing is looked up for it (Designer.Validate).
func oversized(d Draft) bool { return len(d.States) > MaxStates || len(d.Transitions) > MaxTransitions }

// validateStates checks each state on its own and returns the index of each valid key.
func validateStates(ps *Problems, states []State, providers Catalog) map[string]int {
	index := make(map[string]int, len(states))
	var starts, ends []int
	for i, s := range states {
		path := fmt.Sprintf("states[%d]", i)
		if checkKey(ps, path+".key", s.Key) {
			if j, dup := index[s.Key]; dup {
				ps.Add(path+".key", "duplicate state key %q (also states[%d])", s.Key, j)
			} else {
				index[s.Key] = i
			}
		}
		checkText(ps, path+".name", s.Name, MaxNameLen, false)
		switch {
		case s.Kind == StateKindUnspecified:
			ps.Add(path+".kind", "is required")
		case !s.Kind.Valid():
			ps.Add(path+".kind", "unknown state kind %d", int(s.Kind))
		}
		switch s.Kind {
		case StateKindStart:
			starts = append(starts, i)
		case StateKindEnd:
			ends = append(ends, i)
		}

		if s.Kind == StateKindStart || s.Kind == StateKindHuman {
			validateFormFields(ps, path+".form_fields", s.FormFields)
		} else if len(s.FormFields) > 0 && s.Kind.Valid() {
			ps.Add(path+".form_fields", "only START and HUMAN states have form fields")
		}

		switch {
		case s.Kind == StateKindHuman && s.Assignee == nil:
			ps.Add(path+".assignee", "a HUMAN state needs an assignee (a user or a group)")
		case s.Kind == StateKindHuman:
			validateAssignee(ps, path+".assignee", *s.Assignee)
		case s.Assignee != nil && s.Kind.Valid():
			ps.Add(path+".assignee", "only HUMAN states have an assignee; %s states are assigned to nobody", s.Kind)
		}

		switch {
		case s.Kind == StateKindExternal && s.External == nil:
			ps.Add(path+".external", "an EXTERNAL state needs its external step (its provider, and what the provider needs)")
		case s.Kind != StateKindExternal && s.External != nil && s.Kind.Valid():
			ps.Add(path+".external", "only EXTERNAL states have an external step")
		}

		switch {
		case s.Timeout < 0:
			ps.Add(path+".timeout", "must not be negative")
		case s.Timeout > MaxTimeout:
			ps.Add(path+".timeout", "must be at most %s", MaxTimeout)
		case s.Timeout > 0 && s.Kind != StateKindHuman && s.Kind != StateKindExternal && s.Kind.Valid():
			ps.Add(path+".timeout", "only HUMAN and EXTERNAL states can time out")
		}
	}

	switch {
	case len(starts) == 0:
		ps.Add("states", "a workflow needs exactly one START state, found none")
	case len(starts) > 1:
		for _, i := range starts[1:] {
			ps.Add(fmt.Sprintf("states[%d].kind", i), "a workflow needs exactly one START state; states[%d] is already START", starts[0])
		}
	}
	if len(ends) == 0 {
		ps.Add("states", "a workflow needs at least one END state, found none")
	}

	validateFieldTypes(ps, states)

	// External steps are checked against the start form, so they come once all states are read.
	var startForm []FormField
	if len(starts) > 0 {
		startForm = states[starts[0]].FormFields
	}
	for i, s := range states {
		if s.Kind == StateKindExternal && s.External != nil {
			validateExternal(ps, fmt.Sprintf("states[%d].external", i), *s.External, startForm, providers)
		}
	}
	return index
}

func validateFormFields(ps *Problems, path string, fields []FormField) {
	if len(fields) > MaxFormFields {
		ps.Add(path, "at most %d form fields are allowed, got %d", MaxFormFields, len(fields))
		return
	}
	seen := make(map[string]int, len(fields))
	for i, f := range fields {
		p := fmt.Sprintf("%s[%d]", path, i)
		if checkKey(ps, p+".name", f.Name) {
			if j, dup := seen[f.Name]; dup {
				ps.Add(p+".name", "duplicate field name %q (also %s[%d])", f.Name, path, j)
			} else {
				seen[f.Name] = i
			}
		}
		checkText(ps, p+".label", f.Label, MaxNameLen, false)
		switch {
		case f.Type == FieldTypeUnspecified:
			ps.Add(p+".type", "is required")
		case !f.Type.Valid():
			ps.Add(p+".type", "unknown field type %d", int(f.Type))
		}
	}
}

// validateFieldTypes: an instance keeps one value for each field name, which any START or
// HUMAN state asking for the name replaces, so every state that asks for a name asks for the
// same type. Otherwise a reviewer's NUMBER "signer_email" would overwrite the start form's
// EMAIL, and the signature step built from it would fail.
func validateFieldTypes(ps *Problems, states []State) {
	type first struct {
		state, field int
		typ          FieldType
	}
	seen := map[string]first{}
	for i, s := range states {
		if s.Kind != StateKindStart && s.Kind != StateKindHuman {
			continue
		}
		for j, f := range s.FormFields {
			if f.Name == "" || !f.Type.Valid() {
				continue
			}
			prev, ok := seen[f.Name]
			switch {
			case !ok:
				seen[f.Name] = first{i, j, f.Type}
			case prev.state != i && prev.typ != f.Type:
				ps.Add(fmt.Sprintf("states[%d].form_fields[%d].type", i, j),
					"field %q is %s in states[%d].form_fields[%d]: an instance keeps one value for each name, so every state that asks for it must ask for %s",
					f.Name, prev.typ, prev.state, prev.field, prev.typ)
			}
		}
	}
}

func validateAssignee(ps *Problems, path string, a Assignee) {
	switch {
	case a.UserID == "" && a.GroupID == "":
		ps.Add(path, "set either user_id or group_id")
	case a.UserID != "" && a.GroupID != "":
		ps.Add(path, "set either user_id or group_id, not both")
	case a.UserID != "":
		checkText(ps, path+".user_id", a.UserID, MaxKeyLen*2, true)
	default:
		checkText(ps, path+".group_id", a.GroupID, MaxKeyLen*2, true)
	}
}

func validateExternal(ps *Problems, path string, e ExternalStep, startForm []FormField, providers Catalog) {
	spec, known := providers.Spec(e.Provider)
	switch {
	case e.Provider == ProviderUnspecified:
		ps.Add(path+".provider", "is required")
	case !known:
		ps.Add(path+".provider", "unknown provider %q", truncateText(string(e.Provider), MaxKeyLen))
	}
	switch {
	case !known:
	case spec.Connectors && e.Connector == "":
		ps.Add(path+".connector", "is required: name the connector the work item is created with")
	case spec.Connectors && !ValidConnectorName(e.Connector):
		ps.Add(path+".connector", "%q is not a connector name (lower case letters, digits and '-', at most %d characters)",
			truncateText(e.Connector, MaxKeyLen), MaxConnectorNameLen)
	case !spec.Connectors && e.Connector != "":
		ps.Add(path+".connector", "only a provider with connectors takes one; %s has none", spec.Name)
	}
	checkText(ps, path+".email_subject", e.EmailSubject, MaxEmailSubjectLen, false)
	checkText(ps, path+".document_title", e.DocumentTitle, MaxNameLen, false)

	fields := make(map[string]FieldType, len(startForm))
	for _, f := range startForm {
		fields[f.Name] = f.Type
	}
	// A signature provider needs someone to sign; to others the parties are optional.
	switch {
	case len(e.Signers) == 0 && (!known || spec.Signers):
		ps.Add(path+".signers", "at least one signer is required")
	case len(e.Signers) > MaxSigners:
		ps.Add(path+".signers", "at most %d signers are allowed, got %d", MaxSigners, len(e.Signers))
	}
	for i, s := range e.Signers {
		if i >= MaxSigners {
			break
		}
		p := fmt.Sprintf("%s.signers[%d]", path, i)
		checkBoundField(ps, p+".name_field", s.NameField, fields, FieldTypeString)
		checkBoundField(ps, p+".email_field", s.EmailField, fields, FieldTypeEmail)
	}

	if len(e.OutcomeOverrides) > MaxOutcomeOverrides {
		ps.Add(path+".outcome_overrides", "at most %d overrides are allowed, got %d", MaxOutcomeOverrides, len(e.OutcomeOverrides))
		return
	}
	events := make([]string, 0, len(e.OutcomeOverrides))
	for ev := range e.OutcomeOverrides {
		events = append(events, ev)
	}
	slices.Sort(events) // problems in a stable order
	for _, ev := range events {
		p := fmt.Sprintf("%s.outcome_overrides[%q]", path, truncateText(ev, MaxEventTypeLen))
		switch {
		case known && !spec.KnowsEvent(ev):
			if spec.Events == nil {
				ps.Add(p, "an event type is 1 to %d characters", MaxEventTypeLen)
			} else {
				ps.Add(p, "%q is not an event %s reports", truncateText(ev, MaxEventTypeLen), e.Provider)
			}
		case known && !spec.ActsOn(ev):
			ps.Add(p, "flowhook ignores %s's %q, so no override can apply to it: name one of %s", e.Provider, ev, strings.Join(spec.Acts, ", "))
		}
		switch o := e.OutcomeOverrides[ev]; {
		case o == OutcomeUnspecified:
			ps.Add(p, "the outcome is required")
		case !o.Valid():
			ps.Add(p, "unknown outcome %d", int(o))
		}
	}
}

func checkBoundField(ps *Problems, path, name string, fields map[string]FieldType, want FieldType) {
	if name == "" {
		ps.Add(path, "is required: name a start-form field of type %s", want)
		return
	}
	typ, ok := fields[name]
	switch {
	case !ok:
		ps.Add(path, "the start form has no field %q", name)
	case typ != want:
		ps.Add(path, "start-form field %q is %s; a field of type %s is required", name, typ, want)
	}
}

// validateTransitions checks each transition on its own and against the states.
func validateTransitions(ps *Problems, d Draft, states map[string]int) {
	keys := make(map[string]int, len(d.Transitions))
	// outcomes[from][outcome] = index of the first transition out of from on that outcome
	outcomes := make(map[string]map[Outcome]int)
	// onTimeout[from] = index of the transition out of from marked on_timeout
	onTimeout := make(map[string]int)
	for i, t := range d.Transitions {
		path := fmt.Sprintf("transitions[%d]", i)
		if checkKey(ps, path+".key", t.Key) {
			if j, dup := keys[t.Key]; dup {
				ps.Add(path+".key", "duplicate transition key %q (also transitions[%d])", t.Key, j)
			} else {
				keys[t.Key] = i
			}
		}
		checkText(ps, path+".name", t.Name, MaxNameLen, false)

		var from, to State
		fromOK, toOK := false, false
		if t.From == "" {
			ps.Add(path+".from_state", "is required")
		} else if j, ok := states[t.From]; !ok {
			ps.Add(path+".from_state", "no state has the key %q", t.From)
		} else {
			from, fromOK = d.States[j], true
		}
		if t.To == "" {
			ps.Add(path+".to_state", "is required")
		} else if j, ok := states[t.To]; !ok {
			ps.Add(path+".to_state", "no state has the key %q", t.To)
		} else {
			to, toOK = d.States[j], true
		}
		if fromOK && from.Kind == StateKindEnd {
			ps.Add(path+".from_state", "END state %q has no way out", from.Key)
		}
		if toOK && to.Kind == StateKindStart {
			ps.Add(path+".to_state", "no transition may lead into the START state %q", to.Key)
		}

		if !fromOK {
			continue
		}
		switch {
		case from.Kind == StateKindExternal && t.OnOutcome == OutcomeUnspecified:
			ps.Add(path+".on_outcome", "a transition out of EXTERNAL state %q needs the outcome that takes it", from.Key)
		case from.Kind == StateKindExternal && !t.OnOutcome.Valid():
			ps.Add(path+".on_outcome", "unknown outcome %d", int(t.OnOutcome))
		case from.Kind == StateKindExternal:
			byOutcome := outcomes[from.Key]
			if byOutcome == nil {
				byOutcome = make(map[Outcome]int)
				outcomes[from.Key] = byOutcome
			}
			if j, dup := byOutcome[t.OnOutcome]; dup {
				ps.Add(path+".on_outcome", "outcome %s already leaves %q by transitions[%d]", t.OnOutcome, from.Key, j)
			} else {
				byOutcome[t.OnOutcome] = i
			}
		case t.OnOutcome != OutcomeUnspecified:
			ps.Add(path+".on_outcome", "only transitions out of EXTERNAL states carry an outcome; %q is %s", from.Key, from.Kind)
		}
		switch {
		case t.OnTimeout && from.Kind == StateKindExternal:
			ps.Add(path+".on_timeout", "EXTERNAL state %q times out by its transition on OUTCOME_EXPIRED, not on_timeout", from.Key)
		case t.OnTimeout && from.Kind != StateKindHuman:
			ps.Add(path+".on_timeout", "only transitions out of HUMAN states are taken on a timeout; %q is %s", from.Key, from.Kind)
		case t.OnTimeout && from.Timeout <= 0:
			ps.Add(path+".on_timeout", "state %q has no timeout: give it one, or unmark this transition", from.Key)
		case t.OnTimeout:
			if j, dup := onTimeout[from.Key]; dup {
				ps.Add(path+".on_timeout", "state %q already times out by transitions[%d]; exactly one transition is taken on its timeout", from.Key, j)
			} else {
				onTimeout[from.Key] = i
			}
		}
	}
	// A state with a timeout needs the way out its timer takes.
	for i, s := range d.States {
		if j, ok := states[s.Key]; s.Timeout <= 0 || s.Timeout > MaxTimeout || !ok || j != i {
			continue // an invalid or duplicate key is reported as such
		}
		switch s.Kind {
		case StateKindHuman:
			if _, ok := onTimeout[s.Key]; !ok {
				ps.Add(fmt.Sprintf("states[%d].timeout", i), "HUMAN state %q has a timeout but no transition marked on_timeout: mark exactly one of its transitions to take when it passes", s.Key)
			}
		case StateKindExternal:
			if _, ok := outcomes[s.Key][OutcomeExpired]; !ok {
				ps.Add(fmt.Sprintf("states[%d].timeout", i), "EXTERNAL state %q has a timeout but no transition on OUTCOME_EXPIRED: its timeout is that outcome, so give it one", s.Key)
			}
		}
	}
	validateTimeoutRounds(ps, d, states, onTimeout, outcomes)
}

// validateTimeoutRounds refuses a round of timeouts faster than MinTimeoutRound: states whose
// timers lead from one to the next and back to the first, with nobody acting in between. A
// HUMAN review with a 1 ms timeout whose on_timeout transition re-enters it would move each
// instance a thousand times a second, for ever (and an EXTERNAL one would create a work item at
// its provider each time). A slower round is a design (a reminder every day), kept.
func validateTimeoutRounds(ps *Problems, d Draft, states map[string]int, onTimeout map[string]int, outcomes map[string]map[Outcome]int) {
	// next[i] is the state index state i's timer moves into, if any: each state has one
	// timeout transition at most, so the timers make a graph of single steps.
	next := make(map[int]int)
	for i, s := range d.States {
		if j, ok := states[s.Key]; s.Timeout <= 0 || s.Timeout > MaxTimeout || !ok || j != i {
			continue
		}
		t, ok := onTimeout[s.Key]
		if s.Kind == StateKindExternal {
			t, ok = outcomes[s.Key][OutcomeExpired]
		} else if s.Kind != StateKindHuman {
			ok = false
		}
		if !ok {
			continue
		}
		if to, found := states[d.Transitions[t].To]; found {
			next[i] = to
		}
	}
	reported := make(map[int]bool)
	for start := range d.States {
		if _, ok := next[start]; !ok || reported[start] {
			continue
		}
		round, path := d.States[start].Timeout, []int{start}
		at, back := next[start], false
		for steps := 0; steps < len(d.States); steps++ {
			if at == start {
				back = true
				break
			}
			j, ok := next[at]
			if !ok {
				break
			}
			round += d.States[at].Timeout
			path = append(path, at)
			at = j
		}
		if !back || round >= MinTimeoutRound {
			continue
		}
		keys := make([]string, 0, len(path)+1)
		for _, i := range path {
			reported[i] = true
			keys = append(keys, strconv.Quote(d.States[i].Key))
		}
		keys = append(keys, strconv.Quote(d.States[start].Key))
		ps.Add(fmt.Sprintf("states[%d].timeout", start), "the timeouts of %s lead back into %q after %s: an instance would go round without end; make the round take at least %s",
			strings.Join(keys, " → "), d.States[start].Key, round, MinTimeoutRound)
	}
}

// truncateText is s cut to at most n bytes, at a character's start (a cut inside one would
// leave invalid UTF-8, which PostgreSQL refuses to store), with "…" when it was cut.
func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// validateGraph checks that every state lies on a path from a START state to an END state.
// It walks what the draft does say, so that its other problems do not hide these: the states
// whose key is valid (a duplicate is the state that first had the key, and a state with an
// invalid key is reported for its key only), the transitions joining two of them (a dangling
// one is reported by validateTransitions), and every START state. Without a START state
// nothing is reported as unreachable from it, and without an END nothing as unable to end:
// validateStates reports the missing kind once instead.
func validateGraph(ps *Problems, d Draft, states map[string]int) {
	out := make(map[string][]string, len(states))
	in := make(map[string][]string, len(states))
	for _, t := range d.Transitions {
		_, fromOK := states[t.From]
		_, toOK := states[t.To]
		if fromOK && toOK {
			out[t.From] = append(out[t.From], t.To)
			in[t.To] = append(in[t.To], t.From)
		}
	}
	var starts, ends []string
	for i, s := range d.States {
		if j, ok := states[s.Key]; !ok || j != i {
			continue
		}
		switch s.Kind {
		case StateKindStart:
			starts = append(starts, s.Key)
		case StateKindEnd:
			ends = append(ends, s.Key)
		}
	}
	fromStart := reach(out, starts...)
	toEnd := reach(in, ends...)
	for i, s := range d.States {
		if j, ok := states[s.Key]; !ok || j != i {
			continue
		}
		path := fmt.Sprintf("states[%d]", i)
		switch {
		case len(starts) == 0:
		case len(starts) == 1 && !fromStart[s.Key]:
			ps.Add(path, "state %q cannot be reached from the START state", s.Key)
		case !fromStart[s.Key]:
			ps.Add(path, "state %q cannot be reached from any START state", s.Key)
		}
		// A state of unknown kind is reported for its kind: whether it needs a way out is
		// not known.
		if len(ends) > 0 && !toEnd[s.Key] && s.Kind.Valid() {
			ps.Add(path, "no END state can be reached from state %q", s.Key)
		}
	}
}

func reach(edges map[string][]string, from ...string) map[string]bool {
	seen := make(map[string]bool)
	queue := slices.Clone(from)
	for _, f := range from {
		seen[f] = true
	}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, m := range edges[n] {
			if !seen[m] {
				seen[m] = true
				queue = append(queue, m)
			}
		}
	}
	return seen
}

func checkKey(ps *Problems, path, key string) bool {
	switch {
	case key == "":
		ps.Add(path, "is required")
	case !keyPattern.MatchString(key):
		ps.Add(path, "%q must start with a letter and hold only letters, digits, '_', '-' and '.'", truncateText(key, MaxKeyLen))
	case len(key) > MaxKeyLen:
		ps.Add(path, "must be at most %d characters", MaxKeyLen)
	default:
		return true
	}
	return false
}

// checkText checks a one-line text (a name, a label): see checkTextOf (text.go).
func checkText(ps *Problems, path, s string, max int, required bool) {
	checkTextOf(ps, path, s, max, required, false)
}
