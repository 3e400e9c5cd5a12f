package api

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
)

func TestPageToken(t *testing.T) {
	t.Parallel()
	var ps engine.Problems
	p := page(&ps, 0, encodePageToken("after-me", "alpha"), "alpha")
	require.Empty(t, ps)
	require.Equal(t, engine.Page{Size: engine.DefaultPageSize, After: "after-me"}, p)
	require.Equal(t, engine.MaxPageSize, page(&ps, 10_000, "", "").Size)
	require.Empty(t, encodePageToken("", "x"), "no position, no token")

	for _, bad := range []string{"%%%", "e30", "bm90IGpzb24", encodePageToken("x", "beta")} {
		var ps engine.Problems
		page(&ps, 10, bad, "alpha")
		require.Len(t, ps, 1, bad)
		require.Equal(t, "page_token", ps[0].Path)
	}
}

// FuzzPageToken feeds arbitrary tokens to the decoder: it must never panic, and it either
// accepts a token with a position or reports exactly one page_token problem.
func FuzzPageToken(f *testing.F) {
	f.Add(encodePageToken("0190f5d2-6b1e-7c3a-9d4e-1f2a3b4c5d6e", ""), "")
	f.Add(encodePageToken("3", "wf"), "wf")
	f.Add("eyJhIjoiIn0", "")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, token, filter string) {
		var ps engine.Problems
		p := page(&ps, 5, token, filter)
		switch {
		case token == "":
			require.Empty(t, ps)
		case len(ps) == 0:
			require.NotEmpty(t, p.After)
		default:
			require.Len(t, ps, 1)
			require.Equal(t, "page_token", ps[0].Path)
		}
	})
}
