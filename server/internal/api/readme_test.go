package api_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
)

// TestREADMEListsEveryVerdict: the README's Event Log section names every verdict ListEvents
// may return, so that a newcomer reading one in an answer finds what it means.
func TestREADMEListsEveryVerdict(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../../README.md")
	require.NoError(t, err)
	// The sentence that lists them: "kept with its verdict (APPLIED, …)".
	m := regexp.MustCompile(`(?s)kept with its verdict \((.*?)\) and\s+readable by admins`).FindSubmatch(raw)
	require.NotNil(t, m, "the README's list of verdicts moved")
	list := string(m[1])
	values := flowhookv1.Verdict(0).Descriptor().Values()
	for i := range values.Len() {
		name := strings.TrimPrefix(string(values.Get(i).Name()), "VERDICT_")
		if name == "UNSPECIFIED" {
			continue
		}
		require.Regexp(t, `\b`+name+`\b`, list, "the README does not say what %s means", name)
	}
}
