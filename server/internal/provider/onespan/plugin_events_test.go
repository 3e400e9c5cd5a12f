package onespan_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/onespan"
	"github.com/flowhook/flowhook/server/internal/provider/onespan/onespanfake"
	"github.com/flowhook/flowhook/server/internal/provider/providertest"
)

// flowhook registers its callback for the outcomes, and for the progress events only while
// the Webhook Receiver debug option is on: with it off OneSpan would post, for each package, a
// DOCUMENT_SIGNED per document and signer and a SIGNER_COMPLETE per signer that flowhook
// answers and drops. Turning the option on or off registers flowhook's callback again; a
// callback registered for another listener is left alone.
func TestCallbackEventsFollowTheDebugOption(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *setupConfig) { c.fake = func(o *onespanfake.Options) { o.CallbackURL = "" } })
	p := onespan.Plugin{}
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	saved, err := p.ApplySettings(engine.Settings{}, providertest.JSON(t, map[string]any{
		"baseUrl": b.url, "apiKey": apiKey, "callbackKey": callbackKey,
	}), now)
	require.NoError(t, err)
	client := func() (engine.ProviderClient, error) { return b.client, nil }
	register := providertest.JSON(t, map[string]any{"registerCallback": true})
	registered := func() onespanfake.Callback {
		t.Helper()
		cb, ok := b.fake.RegisteredCallback()
		require.True(t, ok)
		return cb
	}
	posts := func() int { return b.fake.CountRequests(http.MethodPost, "/api/callback") }

	// Debug off: the outcomes alone, and a completion posts PACKAGE_COMPLETE alone.
	require.NoError(t, p.SettingsSaved(t.Context(), saved, client, register, b.hook.URL, false))
	require.Equal(t, onespanfake.Callback{URL: b.hook.URL, Key: callbackKey, Events: onespan.OutcomeCallbackEvents}, registered())
	id := b.create(t, "wi_debug_off")
	require.NoError(t, b.fake.Complete(id))
	require.Equal(t, []string{"PACKAGE_COMPLETE"}, b.hook.Types())

	// Saved again with the option on: the progress events too.
	require.NoError(t, p.SettingsSaved(t.Context(), saved, client, register, b.hook.URL, true))
	require.Equal(t, onespan.CallbackEvents, registered().Events)
	for _, ev := range onespan.ProgressCallbackEvents {
		require.Contains(t, registered().Events, ev)
	}
	for _, ev := range onespan.OutcomeCallbackEvents {
		require.Contains(t, registered().Events, ev)
	}

	// The option turned off, then on: each registers flowhook's callback again, once.
	before := posts()
	changed, err := p.DebugChanged(t.Context(), saved, client, b.hook.URL, false)
	require.NoError(t, err)
	require.True(t, changed)
	require.Equal(t, onespan.OutcomeCallbackEvents, registered().Events)
	require.Equal(t, callbackKey, registered().Key)
	changed, err = p.DebugChanged(t.Context(), saved, client, b.hook.URL, false)
	require.NoError(t, err)
	require.False(t, changed, "already registered so")
	changed, err = p.DebugChanged(t.Context(), saved, client, b.hook.URL, true)
	require.NoError(t, err)
	require.True(t, changed)
	require.Equal(t, onespan.CallbackEvents, registered().Events)
	require.Equal(t, before+2, posts())

	// A callback registered for another listener is not flowhook's to change.
	other := "https://elsewhere.example.com/onespan"
	require.NoError(t, b.client.RegisterCallback(t.Context(), other, "another-listener-key", []string{"PACKAGE_COMPLETE"}))
	before = posts()
	changed, err = p.DebugChanged(t.Context(), saved, client, b.hook.URL, false)
	require.NoError(t, err)
	require.False(t, changed)
	require.Equal(t, onespanfake.Callback{URL: other, Key: "another-listener-key", Events: []string{"PACKAGE_COMPLETE"}}, registered())
	require.Equal(t, before, posts())

	// Without saved keys flowhook registered nothing: nothing is read or written.
	reads := b.fake.CountRequests(http.MethodGet, "/api/callback")
	changed, err = p.DebugChanged(t.Context(), engine.Settings{}, client, b.hook.URL, true)
	require.NoError(t, err)
	require.False(t, changed)
	require.Equal(t, reads, b.fake.CountRequests(http.MethodGet, "/api/callback"))

	// OneSpan failing is said, naming what failed.
	require.NoError(t, b.client.RegisterCallback(t.Context(), b.hook.URL, callbackKey, onespan.OutcomeCallbackEvents))
	b.fake.FailNext(1, http.StatusUnauthorized)
	_, err = p.DebugChanged(t.Context(), saved, client, b.hook.URL, true)
	require.ErrorContains(t, err, "OneSpan")
}
