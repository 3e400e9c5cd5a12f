package engine_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
)

// lookups is a directory and a connector registry that know nobody and record what they are
// asked.
type lookups struct {
	engine.IdentityStore // nil: Validate asks MissingAssignees alone
	users, groups        [][]string
	connectors           [][]string
}

func (l *lookups) MissingAssignees(_ context.Context, users, groups []string) ([]string, []string, error) {
	l.users, l.groups = append(l.users, users), append(l.groups, groups)
	return users, groups, nil
}

func (l *lookups) MissingConnectors(_ context.Context, names []string) ([]string, error) {
	l.connectors = append(l.connectors, names)
	return names, nil
}

// TestValidateLooksEachNameUpOnce: however many states name an assignee or a connector, it is
// looked up once, and every state naming one that does not exist is reported.
func TestValidateLooksEachNameUpOnce(t *testing.T) {
	t.Parallel()
	l := &lookups{}
	designer := engine.NewDesigner(nil, l, catalog, l)
	d := baseDraft()
	for i := range 80 {
		d.States = append(d.States,
			engine.State{Key: fmt.Sprintf("h%d", i), Kind: engine.StateKindHuman, Assignee: &engine.Assignee{UserID: "u-1"}},
			engine.State{Key: fmt.Sprintf("g%d", i), Kind: engine.StateKindHuman, Assignee: &engine.Assignee{GroupID: "finance"}})
	}
	for i := range 35 {
		d.States = append(d.States, engine.State{Key: fmt.Sprintf("x%d", i), Kind: engine.StateKindExternal,
			External: &engine.ExternalStep{Provider: connector, Connector: "tickets"}})
	}
	require.Len(t, d.States, engine.MaxStates)
	ps, err := designer.Validate(context.Background(), d)
	require.NoError(t, err)
	require.Equal(t, [][]string{{"u-1"}}, l.users)
	require.Equal(t, [][]string{{"finance"}}, l.groups)
	require.Equal(t, [][]string{{"tickets"}}, l.connectors)
	count := map[string]int{}
	for _, p := range ps {
		for _, suffix := range []string{"assignee.user_id", "assignee.group_id", "external.connector"} {
			if strings.HasSuffix(p.Path, suffix) {
				count[suffix]++
			}
		}
	}
	require.Equal(t, map[string]int{"assignee.user_id": 80, "assignee.group_id": 80 + 1, "external.connector": 35}, count)
}

// TestValidateOversizedLooksNothingUp: a draft over the size limits is its size problem alone;
// none of its assignees or connectors is looked up (a lookup of tens of thousands of ids is
// more than a database takes in one query).
func TestValidateOversizedLooksNothingUp(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		grow    func(d *engine.Draft)
		problem engine.Problem
	}{
		{"states", func(d *engine.Draft) {
			for i := range engine.MaxStates {
				d.States = append(d.States, engine.State{Key: fmt.Sprintf("h%d", i), Kind: engine.StateKindHuman,
					Assignee: &engine.Assignee{UserID: fmt.Sprintf("u-%d", i)}})
			}
		}, engine.Problem{Path: "states", Message: "at most 200 states are allowed, got 205"}},
		{"transitions", func(d *engine.Draft) {
			for i := range engine.MaxTransitions {
				d.Transitions = append(d.Transitions, engine.Transition{Key: fmt.Sprintf("t%d", i), From: "start", To: "review"})
			}
		}, engine.Problem{Path: "transitions", Message: "at most 1000 transitions are allowed, got 1005"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			l := &lookups{}
			d := baseDraft()
			d.States[stSign].External = &engine.ExternalStep{Provider: connector, Connector: "tickets"}
			c.grow(&d)
			ps, err := engine.NewDesigner(nil, l, catalog, l).Validate(context.Background(), d)
			require.NoError(t, err)
			require.Equal(t, engine.Problems{c.problem}, ps)
			require.Empty(t, l.users)
			require.Empty(t, l.groups)
			require.Empty(t, l.connectors)
		})
	}
}
