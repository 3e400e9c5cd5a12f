package onespan_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/onespan"
	"github.com/flowhook/flowhook/server/internal/provider/providertest"
)

const settingsWebhook = "https://flowhook.example.com/webhooks/OneSpan"

func TestConfigCallbackKeyRoll(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	var c onespan.Config
	require.Empty(t, c.CallbackKeys(t0), "no key: nothing is accepted")

	c = c.Roll("first-callback-key-0001", t0, time.Hour)
	require.Equal(t, []string{"first-callback-key-0001"}, c.CallbackKeys(t0))
	require.Empty(t, c.PreviousCallbackKey, "the first key replaces nothing")
	require.Equal(t, c, c.Roll("", t0, time.Hour), "no key is no roll")

	// Rolling keeps the old key for the grace period, then drops it.
	c = c.Roll("second-callback-key-002", t0, time.Hour)
	require.Equal(t, []string{"second-callback-key-002", "first-callback-key-0001"}, c.CallbackKeys(t0.Add(59*time.Minute)))
	require.Equal(t, []string{"second-callback-key-002"}, c.CallbackKeys(t0.Add(time.Hour)))

	// The same key again is no roll: the grace of the previous one is unchanged.
	same := c.Roll("second-callback-key-002", t0.Add(30*time.Minute), time.Hour)
	require.Equal(t, c, same)

	// Stored and read back: the same config.
	c.BaseURL, c.APIKey = onespan.DefaultBaseURL, apiKey
	s := c.Settings()
	require.Equal(t, onespan.SettingsID, s.ID)
	back := onespan.ConfigFrom(s)
	require.True(t, c.PreviousValidUntil.Equal(back.PreviousValidUntil))
	back.PreviousValidUntil = c.PreviousValidUntil
	require.Equal(t, c, back)
	for k, v := range s.Plain {
		for _, secret := range []string{apiKey, "first-callback-key-0001", "second-callback-key-002"} {
			require.NotEqual(t, secret, v, "%s holds a secret in plain settings", k)
		}
	}

	// A config without keys stores none.
	require.Empty(t, onespan.Config{BaseURL: onespan.DefaultBaseURL}.Settings().Secrets)
}

func TestApplySettingsProblems(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		update map[string]any
		paths  []string
	}{
		{"a base URL that is not http(s)", map[string]any{"baseUrl": "ftp://sandbox.esignlive.com"}, []string{"base_url"}},
		{"a base URL with a query", map[string]any{"baseUrl": "https://sandbox.esignlive.com?x=1"}, []string{"base_url"}},
		{"a base URL with user info", map[string]any{"baseUrl": "https://user:pw-7f3a9c2e41d8@sandbox.esignlive.com"}, []string{"base_url"}},
		{"a base URL with an empty query", map[string]any{"baseUrl": "https://sandbox.esignlive.com?"}, []string{"base_url"}},
		{"a callback key not in ASCII", map[string]any{"callbackKey": "pässwort-callback-key-01"}, []string{"callback_key"}},
		{"an API key with a control character", map[string]any{"apiKey": "api-key-\x01-7f3a9c2e"}, []string{"api_key"}},
		{"a short API key", map[string]any{"apiKey": "short"}, []string{"api_key"}},
		{"an API key with a space", map[string]any{"apiKey": "two words-of-an-api-key"}, []string{"api_key"}},
		{"a short callback key", map[string]any{"callbackKey": "cb-key"}, []string{"callback_key"}},
		{"a callback key with a line break", map[string]any{"callbackKey": "cb-key-7f3a9c2e41d8\nX-Evil: 1"}, []string{"callback_key"}},
		{"a grace beyond 30 days", map[string]any{"callbackKeyGrace": "721h"}, []string{"callback_key_grace"}},
		{"a negative grace", map[string]any{"callbackKeyGrace": "-1s"}, []string{"callback_key_grace"}},
		{"a grace that is no duration", map[string]any{"callbackKeyGrace": "a day"}, []string{"callback_key_grace"}},
		{"everything at once", map[string]any{"baseUrl": "sandbox", "apiKey": "k", "callbackKey": "k", "callbackKeyGrace": "x"},
			[]string{"base_url", "api_key", "callback_key", "callback_key_grace"}},
		{"registering without keys", map[string]any{"registerCallback": true}, []string{"register_callback"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := onespan.Plugin{}.ApplySettings(engine.Settings{}, providertest.JSON(t, tc.update), time.Now())
			require.Equal(t, tc.paths, providertest.ProblemPaths(t, err))
			providertest.RequireNoSecret(t, err.Error(), "cb-key-7f3a9c2e41d8", "two words-of-an-api-key", "pw-7f3a9c2e41d8", "pässwort")
		})
	}
	t.Run("not JSON", func(t *testing.T) {
		t.Parallel()
		_, err := onespan.Plugin{}.ApplySettings(engine.Settings{}, []byte("{"), time.Now())
		require.Error(t, err)
	})
}

// TestSettingsRoundTrip: an update is stored as the settings group the client, the receiver
// and the view read back; a new callback key is rolled, the replaced one accepted for the
// grace period; the view never shows a key.
func TestSettingsRoundTrip(t *testing.T) {
	t.Parallel()
	p := onespan.Plugin{}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

	first, err := p.ApplySettings(engine.Settings{}, providertest.JSON(t, map[string]any{
		"baseUrl": " https://apps.esignlive.com/ ", "apiKey": apiKey, "callbackKey": callbackKeyOld + "-0123",
	}), now)
	require.NoError(t, err)
	require.Equal(t, onespan.Config{BaseURL: "https://apps.esignlive.com", APIKey: apiKey, CallbackKey: callbackKeyOld + "-0123"}, onespan.ConfigFrom(first))
	require.Equal(t, []string{callbackKeyOld + "-0123"}, p.Credentials(first, now))

	// A new callback key with a grace of an hour; the API key and the base URL are kept.
	second, err := p.ApplySettings(first, providertest.JSON(t, map[string]any{"callbackKey": callbackKey + "-abcd", "callbackKeyGrace": "3600s"}), now)
	require.NoError(t, err)
	require.Equal(t, onespan.Config{BaseURL: "https://apps.esignlive.com", APIKey: apiKey, CallbackKey: callbackKey + "-abcd",
		PreviousCallbackKey: callbackKeyOld + "-0123", PreviousValidUntil: now.Add(time.Hour)}, onespan.ConfigFrom(second))
	require.Equal(t, []string{callbackKey + "-abcd", callbackKeyOld + "-0123"}, p.Credentials(second, now.Add(59*time.Minute)))
	require.Equal(t, []string{callbackKey + "-abcd"}, p.Credentials(second, now.Add(time.Hour)))

	second.Revision, second.UpdatedAt = 7, now.In(time.FixedZone("CEST", 2*60*60))
	secrets := []string{apiKey, callbackKey + "-abcd", callbackKeyOld + "-0123"}
	view := p.ViewSettings(second, settingsWebhook, now)
	require.Equal(t, map[string]any{
		"baseUrl": "https://apps.esignlive.com", "apiKeySet": true, "callbackKeySet": true,
		"previousCallbackKeyValidUntil": "2026-05-01T13:00:00Z",
		"webhookUrl":                    settingsWebhook, "revision": float64(7), "updatedAt": "2026-05-01T12:00:00Z",
	}, providertest.JSONObject(t, view))
	providertest.RequireNoSecret(t, view, secrets...)
	later := providertest.JSONObject(t, p.ViewSettings(second, settingsWebhook, now.Add(time.Hour)))
	require.NotContains(t, later, "previousCallbackKeyValidUntil", "a key past its grace is not mentioned")

	// Without a grace (or with zero) the replaced key is accepted for a day; the same key
	// again changes nothing.
	for _, grace := range []string{"", "0s"} {
		third, err := p.ApplySettings(second, providertest.JSON(t, map[string]any{"callbackKey": "a-third-callback-key", "callbackKeyGrace": grace}), now)
		require.NoError(t, err)
		c := onespan.ConfigFrom(third)
		require.Equal(t, callbackKey+"-abcd", c.PreviousCallbackKey, grace)
		require.Equal(t, now.Add(onespan.DefaultCallbackKeyGrace), c.PreviousValidUntil, grace)
	}
	same, err := p.ApplySettings(second, providertest.JSON(t, map[string]any{"callbackKey": callbackKey + "-abcd"}), now.Add(time.Minute))
	require.NoError(t, err)
	require.Equal(t, now.Add(time.Hour), onespan.ConfigFrom(same).PreviousValidUntil)

	// The stored group makes a client; without an API key it is not configured.
	c, err := p.NewClient(system, second, providertest.HTTPClient(t), time.Now)
	require.NoError(t, err)
	require.IsType(t, &onespan.Client{}, c)
	require.Equal(t, "https://apps.esignlive.com/api", c.(*onespan.Client).APIRoot())
	_, err = p.NewClient(system, engine.Settings{}, nil, time.Now)
	require.ErrorIs(t, err, engine.ErrNotConfigured)
	require.Empty(t, providertest.JSONObject(t, p.ViewSettings(engine.Settings{}, "", now)), "nothing set, nothing shown")
}

// TestAuthenticate: the note says what matched or why nothing did, with counts, and never
// holds a key, not even a wrong one sent.
func TestAuthenticate(t *testing.T) {
	t.Parallel()
	const wrong = "a-wrong-callback-key-99"
	keys := []string{callbackKey, callbackKeyOld}
	cases := []struct {
		name   string
		header http.Header
		keys   []string
		reason string // "" passes
		note   string
	}{
		{"the previous key", authHeader("Basic " + callbackKeyOld), keys, "", "matches one of the 2 accepted now"},
		{"a wrong key", authHeader("Basic " + wrong), keys, "key mismatch", "(2 key(s) accepted now)"},
		{"a removed key", authHeader("Basic " + callbackKeyOld), []string{callbackKey}, "key mismatch", "(1 key(s) accepted now)"},
		{"Bearer", authHeader("Bearer " + callbackKey), keys, "no Basic credentials", "(2 key(s) accepted now)"},
		{"no header", http.Header{}, keys, "no Basic credentials", "(2 key(s) accepted now)"},
		{"no keys", authHeader("Basic " + callbackKey), nil, "no callback key configured", "(0 key(s) accepted now)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			auth := onespan.Plugin{}.Authenticate([]byte(`{}`), tc.header, tc.keys, time.Now())
			providertest.RequireAuthentication(t, auth, tc.reason, tc.note, callbackKey, callbackKeyOld, wrong)
		})
	}
}
