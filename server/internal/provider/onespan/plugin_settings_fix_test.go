package onespan_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/onespan"
	"github.com/flowhook/flowhook/server/internal/provider/providertest"
)

// TestApplySettingsKeepsSavedBaseURL: an update that names no base URL keeps the saved one, so
// that an API key rotated with {apiKey} alone is sent to the account's own host, not to the
// sandbox; the sandbox is the default only when nothing was saved, and a URL given replaces
// the saved one.
func TestApplySettingsKeepsSavedBaseURL(t *testing.T) {
	t.Parallel()
	p := onespan.Plugin{}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	const prod = "https://apps.esignlive.com"

	fresh, err := p.ApplySettings(engine.Settings{}, providertest.JSON(t, map[string]any{"apiKey": apiKey}), now)
	require.NoError(t, err)
	require.Equal(t, onespan.DefaultBaseURL, onespan.ConfigFrom(fresh).BaseURL, "nothing saved: the sandbox")

	saved, err := p.ApplySettings(engine.Settings{}, providertest.JSON(t, map[string]any{"baseUrl": prod, "apiKey": apiKey}), now)
	require.NoError(t, err)
	saved.Revision = 4
	const rotated = "rotated-api-key-0123456789"
	for _, update := range []map[string]any{
		{"apiKey": rotated},
		{"baseUrl": "", "callbackKey": callbackKey},
		{"baseUrl": "  "},
		{},
	} {
		next, err := p.ApplySettings(saved, providertest.JSON(t, update), now)
		require.NoError(t, err, update)
		require.Equal(t, prod, onespan.ConfigFrom(next).BaseURL, "%v keeps the saved base URL", update)
		require.Equal(t, prod, providertest.JSONObject(t, p.ViewSettings(next, settingsWebhook, now))["baseUrl"])
	}

	// The rotated key goes to the saved host.
	next, err := p.ApplySettings(saved, providertest.JSON(t, map[string]any{"apiKey": rotated}), now)
	require.NoError(t, err)
	require.Equal(t, rotated, onespan.ConfigFrom(next).APIKey)
	c, err := p.NewClient(system, next, providertest.HTTPClient(t), time.Now)
	require.NoError(t, err)
	require.Equal(t, prod+"/api", c.(*onespan.Client).APIRoot())

	// A base URL given replaces the saved one, the sandbox's too.
	for _, base := range []string{onespan.DefaultBaseURL, "https://apps.eu.esignlive.com"} {
		moved, err := p.ApplySettings(saved, providertest.JSON(t, map[string]any{"baseUrl": base + "/"}), now)
		require.NoError(t, err)
		require.Equal(t, base, onespan.ConfigFrom(moved).BaseURL)
	}
}
