package onespan_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/onespan"
	"github.com/flowhook/flowhook/server/internal/provider/providertest"
)

// FuzzParseEvent: ParseEvent never panics, fails only with ErrMalformedEvent, fills what it
// promises, is deterministic, and gives a replay of the same fields the same dedupe key.
func FuzzParseEvent(f *testing.F) {
	seeds := providertest.Testdata(f, "events/*.json")
	for _, s := range []string{``, `{}`, `null`, `[]`, `{"name":"x","packageId":"y","createdDate":"2020-01-01T00:00:00Z"}`,
		`{"name":"x","packageId":"y","createdDate":"2020-01-01T00:00:00.5+01:00","message":null,"documentId":null,"@class":1}`,
		`{"name":"x","packageId":"y","createdDate":"2020-01-01T00:00:00Z","x":[[[[[[[[[]]]]]]]]]}`,
		`{"NAME":"x","PackageId":"y","createdDate":"2020-01-01T00:00:00Z"}`,
		`{"name":"x","name":"z","packageId":"y","createdDate":"2020-01-01T00:00:00Z"}`} {
		seeds = append(seeds, []byte(s))
	}
	providertest.FuzzParse(f, onespan.ParseEvent, system, []error{onespan.ErrMalformedEvent}, func(t *testing.T, body []byte, ev engine.InboundEvent) {
		require.LessOrEqual(t, len(ev.Type), 255)
		require.LessOrEqual(t, len(ev.ExternalID), 255)
		require.False(t, ev.OccurredAt.IsZero())

		var m map[string]json.RawMessage
		if json.Unmarshal(body, &m) != nil {
			return
		}
		// Keys that differ only in case are one field to encoding/json, the last one in the
		// document winning; re-encoding sorts them, which may change the winner: such a body
		// has no reformatted twin (testdata/fuzz/FuzzParseEvent/cf34fd88ccb2538f).
		seen := map[string]bool{}
		for k := range m {
			folded := strings.ToUpper(strings.ToLower(k)) // as encoding/json folds a name
			if seen[folded] {
				return
			}
			seen[folded] = true
		}
		// The same event re-encoded (a replay of the failure email's payload, reformatted)
		// keeps its key; @class and message do not take part in it.
		m["@class"] = json.RawMessage(`"com.silanis.esl.packages.event.ESLProcessEvent"`)
		m["message"] = json.RawMessage(`"replayed"`)
		resent, err := json.Marshal(m)
		require.NoError(t, err)
		ev2, err := onespan.ParseEvent(resent)
		if err != nil {
			return // re-encoding can push it over a limit
		}
		require.Equal(t, ev.DedupeKey, ev2.DedupeKey)
	}, seeds...)
}

// FuzzVerify: Verify never panics, accepts exactly the configured key behind a Basic scheme,
// and nothing else.
func FuzzVerify(f *testing.F) {
	f.Add("Basic cb-key-7f3a9c2e41d8", "cb-key-7f3a9c2e41d8")
	f.Add("basic  k ", "k")
	f.Add("Bearer k", "k")
	f.Add("Basic", "")
	f.Add("", "k")
	f.Add("Basic \x00", "\x00")
	f.Fuzz(func(t *testing.T, header, key string) {
		err := onespan.Verify(http.Header{"Authorization": {header}}, []string{key})
		if key == "" {
			require.ErrorIs(t, err, onespan.ErrNoKeys)
			return
		}
		v := strings.TrimSpace(header)
		i := strings.IndexAny(v, " \t")
		basic := i >= 0 && strings.EqualFold(v[:i], "Basic") && strings.Trim(v[i:], " \t") != ""
		switch {
		case !basic:
			require.ErrorIs(t, err, onespan.ErrNoCredentials)
		case strings.Trim(v[i:], " \t") == key:
			require.NoError(t, err)
		default:
			require.ErrorIs(t, err, onespan.ErrMismatch)
		}
	})
}
