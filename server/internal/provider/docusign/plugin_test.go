package docusign_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/docusign"
	"github.com/flowhook/flowhook/server/internal/provider/docusign/docusignfake"
	"github.com/flowhook/flowhook/server/internal/provider/providertest"
)

const (
	settingsAccountID = "fe0b61a3-3b9b-4ce1-8d5c-2a7e1b6f4d11"
	settingsIntegKey  = "7d2b6a4c-1111-4222-8333-944455556666"
	settingsUserID    = "4799e5e9-1559-4915-9862-cf4713bbcacc"
	settingsWebhook   = "https://flowhook.example.com/webhooks/DocuSign"
)

// pemSecret is a line of the private key's PEM body: what must never be shown.
func pemSecret() string { return strings.Split(string(pkcs1PEM(testKey())), "\n")[1] }

func TestApplySettingsProblems(t *testing.T) {
	t.Parallel()
	key := string(pkcs1PEM(testKey()))
	valid := map[string]any{"accountId": settingsAccountID, "integrationKey": settingsIntegKey, "userId": settingsUserID, "privateKeyPem": key}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for k, v := range valid {
			m[k] = v
		}
		m[k] = v
		return m
	}
	cases := []struct {
		name   string
		update map[string]any
		paths  []string
	}{
		{"nothing", map[string]any{}, []string{"integration_key", "user_id", "private_key_pem"}},
		{"ids that are not GUIDs", with("accountId", "acct"), []string{"account_id"}},
		{"every id wrong", func() map[string]any {
			m := with("accountId", "acct")
			m["integrationKey"], m["userId"] = "ik", "user"
			return m
		}(), []string{"account_id", "integration_key", "user_id"}},
		{"an OAuth URL that is not http(s)", with("oauthBaseUrl", "ftp://account-d.docusign.com"), []string{"oauth_base_url"}},
		{"a private key that is not PEM", with("privateKeyPem", "MIIEowIBAAKCAQEA"), []string{"private_key_pem"}},
		{"an HMAC key of two lines", func() map[string]any {
			m := with("hmacKeys", []string{hmacKey, "one\ntwo"})
			m["replaceHmacKeys"] = true
			return m
		}(), []string{"hmac_keys[1]"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := docusign.Plugin{}.ApplySettings(engine.Settings{}, providertest.JSON(t, tc.update), time.Now())
			require.Equal(t, tc.paths, providertest.ProblemPaths(t, err))
			require.NotContains(t, err.Error(), pemSecret(), "a problem never quotes the key")
		})
	}
	t.Run("not JSON", func(t *testing.T) {
		t.Parallel()
		_, err := docusign.Plugin{}.ApplySettings(engine.Settings{}, []byte("{"), time.Now())
		require.Error(t, err)
	})
}

// TestSettingsRoundTrip: an update is stored as the settings group the client, the receiver
// and the view read back; secrets are kept unless the update replaces them.
func TestSettingsRoundTrip(t *testing.T) {
	t.Parallel()
	p := docusign.Plugin{}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	key := string(pkcs1PEM(testKey()))
	first, err := p.ApplySettings(engine.Settings{}, providertest.JSON(t, map[string]any{
		"accountId": " " + settingsAccountID + " ", "integrationKey": settingsIntegKey, "userId": settingsUserID,
		"privateKeyPem": key, "hmacKeys": []string{hmacKey, hmacKeyOld}, "replaceHmacKeys": true,
	}), now)
	require.NoError(t, err)
	want := docusign.Settings{AccountID: settingsAccountID, IntegrationKey: settingsIntegKey, UserID: settingsUserID,
		OAuthBaseURL: docusign.DemoOAuthBaseURL, PrivateKeyPEM: []byte(key), HMACKeys: []string{hmacKey, hmacKeyOld}}
	require.Equal(t, want, docusign.SettingsFrom(first), "trimmed, and DocuSign's developer environment by default")
	require.Equal(t, []string{hmacKey, hmacKeyOld}, p.Credentials(first, now))
	for _, secret := range []string{key, hmacKey} {
		for k, v := range first.Plain {
			require.NotEqual(t, secret, v, "%s holds a secret in plain settings", k)
		}
	}

	// The view says what is set, never what it is.
	first.Revision, first.UpdatedAt = 3, now.In(time.FixedZone("CEST", 2*60*60))
	view := p.ViewSettings(first, settingsWebhook, now)
	require.Equal(t, map[string]any{
		"accountId": settingsAccountID, "integrationKey": settingsIntegKey, "userId": settingsUserID,
		"oauthBaseUrl": docusign.DemoOAuthBaseURL, "privateKeySet": true, "hmacKeyCount": float64(2),
		"webhookUrl": settingsWebhook, "revision": float64(3), "updatedAt": "2026-05-01T12:00:00Z",
	}, providertest.JSONObject(t, view))
	providertest.RequireNoSecret(t, view, pemSecret(), hmacKey, hmacKeyOld)

	// An update without the secrets keeps them, and without an account id the saved one;
	// replacing the HMAC keys with none clears them.
	second, err := p.ApplySettings(first, providertest.JSON(t, map[string]any{
		"integrationKey": settingsIntegKey, "userId": settingsUserID, "oauthBaseUrl": docusign.ProductionOAuthBaseURL,
	}), now)
	require.NoError(t, err)
	want.OAuthBaseURL = docusign.ProductionOAuthBaseURL
	require.Equal(t, want, docusign.SettingsFrom(second))
	third, err := p.ApplySettings(second, providertest.JSON(t, map[string]any{
		"integrationKey": settingsIntegKey, "userId": settingsUserID, "hmacKeys": []string{}, "replaceHmacKeys": true,
	}), now)
	require.NoError(t, err)
	require.Empty(t, docusign.SettingsFrom(third).HMACKeys)
	require.Empty(t, p.Credentials(third, now))
	require.Equal(t, map[string]any{"accountId": settingsAccountID, "integrationKey": settingsIntegKey, "userId": settingsUserID,
		"oauthBaseUrl": docusign.ProductionOAuthBaseURL, "privateKeySet": true}, providertest.JSONObject(t, p.ViewSettings(third, "", now)))

	// The stored group makes a client; an incomplete one is not configured.
	c, err := p.NewClient(system, first, providertest.HTTPClient(t), time.Now)
	require.NoError(t, err)
	require.IsType(t, &docusign.Client{}, c)
	_, err = p.NewClient(system, engine.Settings{}, nil, time.Now)
	require.ErrorIs(t, err, engine.ErrNotConfigured)
	require.Empty(t, providertest.JSONObject(t, p.ViewSettings(engine.Settings{}, "", now)), "nothing set, nothing shown")
}

// TestAuthenticate: the note says what matched or why nothing did, with counts, and never
// holds a key or a signature.
func TestAuthenticate(t *testing.T) {
	t.Parallel()
	body := providertest.ReadTestdata(t, "events", "envelope-completed.json")
	good := docusignfake.Signature(body, hmacKey)
	keys := []string{hmacKeyOld, hmacKey}
	cases := []struct {
		name   string
		body   []byte
		header http.Header
		keys   []string
		reason string // "" passes
		note   string
	}{
		{"signed by the second key", body, sigHeader(good), keys, "", "matches one of the 2 configured key(s)"},
		{"signed by a removed key", body, sigHeader(good), []string{hmacKeyOld}, "signature mismatch", "(1 key(s) configured, 1 signature header(s) sent)"},
		{"a changed body", append(body[:len(body):len(body)], ' '), sigHeader(good), keys, "signature mismatch", "(2 key(s) configured, 1 signature header(s) sent)"},
		{"two wrong signatures", body, sigHeader("bm9wZQ==", docusignfake.Signature(body, "other")), keys, "signature mismatch", "2 signature header(s) sent"},
		{"no signature", body, http.Header{}, keys, "no signature header", "(2 key(s) configured, 0 signature header(s) sent)"},
		{"no keys", body, sigHeader(good), nil, "no HMAC key configured", "(0 key(s) configured, 1 signature header(s) sent)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			auth := docusign.Plugin{}.Authenticate(tc.body, tc.header, tc.keys, time.Now())
			providertest.RequireAuthentication(t, auth, tc.reason, tc.note, hmacKey, hmacKeyOld, good)
		})
	}
}
