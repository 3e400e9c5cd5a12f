package api

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/auth"
	"github.com/flowhook/flowhook/server/internal/engine"
)

// pagedCtx is the context of a paged RPC of caller, as pagingInterceptor and the
// authenticator leave it.
func pagedCtx(key, procedure, caller string) context.Context {
	ctx := auth.WithPrincipal(context.Background(), engine.Principal{UserID: caller})
	return context.WithValue(ctx, pagerCtxKey{}, pager{key: []byte(key), procedure: procedure})
}

const testPageKey = "0123456789abcdef0123456789abcdef"

// pageProblem returns the one page_token problem of decoding token in ctx for filter.
func pageProblem(t *testing.T, ctx context.Context, token, filter string) string {
	t.Helper()
	var ps engine.Problems
	p := page(ctx, &ps, 10, token, filter)
	require.Len(t, ps, 1, "token %q", token)
	require.Equal(t, "page_token", ps[0].Path)
	require.Empty(t, p.After)
	return ps[0].Message
}

func TestPageToken(t *testing.T) {
	t.Parallel()
	ctx := pagedCtx(testPageKey, "/flowhook.v1.S/ListA", "user-1")
	token := encodePageToken(ctx, "after-me", "alpha")
	require.NotContains(t, token, "after-me", "the position is not readable as is")
	var ps engine.Problems
	p := page(ctx, &ps, 0, token, "alpha")
	require.Empty(t, ps)
	require.Equal(t, engine.Page{Size: engine.DefaultPageSize, After: "after-me"}, p)
	require.Equal(t, engine.MaxPageSize, page(ctx, &ps, 10_000, "", "").Size)
	require.Empty(t, encodePageToken(ctx, "", "x"), "no position, no token")

	// Each binding is recognised, and said.
	require.Contains(t, pageProblem(t, pagedCtx(testPageKey, "/flowhook.v1.S/ListB", "user-1"), token, "alpha"), "another RPC")
	require.Contains(t, pageProblem(t, pagedCtx(testPageKey, "/flowhook.v1.S/ListA", "user-2"), token, "alpha"), "another caller")
	require.Contains(t, pageProblem(t, ctx, token, "beta"), "another filter")
	// Another server key: not ours at all.
	require.Contains(t, pageProblem(t, pagedCtx(strings.Repeat("k", 32), "/flowhook.v1.S/ListA", "user-1"), token, "alpha"), "not a token")

	// Every byte of the token counts, and so does every character of its text.
	raw, err := base64.RawURLEncoding.DecodeString(token)
	require.NoError(t, err)
	for i := range raw {
		for _, bit := range []byte{0x01, 0x80} {
			edited := append([]byte(nil), raw...)
			edited[i] ^= bit
			require.Contains(t, pageProblem(t, ctx, base64.RawURLEncoding.EncodeToString(edited), "alpha"), "not a token", "byte %d", i)
		}
	}
	for i := range token {
		for _, c := range []byte{'A', 'B', '_'} {
			if token[i] == c {
				continue
			}
			edited := token[:i] + string(c) + token[i+1:]
			pageProblem(t, ctx, edited, "alpha")
		}
	}
	for n := 0; n < len(token); n++ {
		if n > 0 {
			pageProblem(t, ctx, token[:n], "alpha")
		}
	}
	// Hand-made tokens, of today's and of the old format.
	for _, bad := range []string{"%%%", "e30", "bm90IGpzb24", `{"a":"x","f":"<nil>"}`,
		base64.RawURLEncoding.EncodeToString([]byte(`{"a":"x","f":"<nil>"}`)),
		base64.RawURLEncoding.EncodeToString([]byte(`{"a":"x","f":"alpha","t":99}`)),
		token + "A", token + token, strings.Repeat("A", 5000)} {
		require.Contains(t, pageProblem(t, ctx, bad, "alpha"), "not a token", bad)
	}
	// A handler that pages without the interceptor refuses tokens rather than trust them.
	require.Contains(t, pageProblem(t, context.Background(), token, "alpha"), "cannot be checked")
	require.Empty(t, encodePageToken(context.Background(), "after-me", "alpha"))
}

// FuzzPageToken feeds arbitrary tokens to the decoder: it must never panic, and it either
// accepts a token with a position or reports exactly one page_token problem. A token it did
// not issue is never accepted.
func FuzzPageToken(f *testing.F) {
	ctx := pagedCtx(testPageKey, "/flowhook.v1.S/ListA", "user-1")
	f.Add(encodePageToken(ctx, "0190f5d2-6b1e-7c3a-9d4e-1f2a3b4c5d6e", ""), "")
	f.Add(encodePageToken(ctx, "3", "wf"), "wf")
	f.Add("eyJhIjoiIn0", "")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, token, filter string) {
		var ps engine.Problems
		p := page(ctx, &ps, 5, token, filter)
		switch {
		case token == "":
			require.Empty(t, ps)
		case len(ps) == 0:
			require.NotEmpty(t, p.After)
			require.Equal(t, token, encodePageToken(ctx, p.After, filter), "only tokens it issued are accepted")
		default:
			require.Len(t, ps, 1)
			require.Equal(t, "page_token", ps[0].Path)
		}
	})
}
