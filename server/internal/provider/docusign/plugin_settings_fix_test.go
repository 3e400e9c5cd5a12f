package docusign_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/docusign"
	"github.com/flowhook/flowhook/server/internal/provider/providertest"
)

// TestApplySettingsKeepsSavedHostAndAccount: an update of saved settings that names no OAuth
// host or account id keeps the saved ones (a private key rotated does not move the account to
// DocuSign's developer environment or to the user's default account); with nothing saved the
// developer environment and the default account apply, and values given replace the saved ones.
func TestApplySettingsKeepsSavedHostAndAccount(t *testing.T) {
	t.Parallel()
	p := docusign.Plugin{}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	key := string(pkcs1PEM(testKey()))
	ids := map[string]any{"integrationKey": settingsIntegKey, "userId": settingsUserID}
	with := func(extra map[string]any) map[string]any {
		m := map[string]any{}
		for k, v := range ids {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}

	fresh, err := p.ApplySettings(engine.Settings{}, providertest.JSON(t, with(map[string]any{"privateKeyPem": key})), now)
	require.NoError(t, err)
	require.Equal(t, docusign.DemoOAuthBaseURL, docusign.SettingsFrom(fresh).OAuthBaseURL, "nothing saved: the developer environment")
	require.Empty(t, docusign.SettingsFrom(fresh).AccountID, "nothing saved: the user's default account")

	saved, err := p.ApplySettings(engine.Settings{}, providertest.JSON(t, with(map[string]any{
		"accountId": settingsAccountID, "oauthBaseUrl": docusign.ProductionOAuthBaseURL, "privateKeyPem": key,
		"hmacKeys": []string{hmacKey}, "replaceHmacKeys": true})), now)
	require.NoError(t, err)
	saved.Revision = 2
	for name, update := range map[string]map[string]any{
		"a private key rotated": with(map[string]any{"privateKeyPem": key}),
		"empty values":          with(map[string]any{"accountId": "", "oauthBaseUrl": "  "}),
		"the ids alone":         with(nil),
	} {
		next, err := p.ApplySettings(saved, providertest.JSON(t, update), now)
		require.NoError(t, err, name)
		got := docusign.SettingsFrom(next)
		require.Equal(t, docusign.ProductionOAuthBaseURL, got.OAuthBaseURL, "%s keeps the saved OAuth host", name)
		require.Equal(t, settingsAccountID, got.AccountID, "%s keeps the saved account", name)
		require.Equal(t, []string{hmacKey}, got.HMACKeys)
		view := providertest.JSONObject(t, p.ViewSettings(next, settingsWebhook, now))
		require.Equal(t, docusign.ProductionOAuthBaseURL, view["oauthBaseUrl"])
		require.Equal(t, settingsAccountID, view["accountId"])
	}

	// Values given replace the saved ones.
	const other = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"
	moved, err := p.ApplySettings(saved, providertest.JSON(t, with(map[string]any{
		"accountId": other, "oauthBaseUrl": docusign.DemoOAuthBaseURL})), now)
	require.NoError(t, err)
	require.Equal(t, other, docusign.SettingsFrom(moved).AccountID)
	require.Equal(t, docusign.DemoOAuthBaseURL, docusign.SettingsFrom(moved).OAuthBaseURL)
}

// TestApplySettingsHMACKeysOnlyWithReplace: as UpdateDocuSignSettingsRequest says, hmac_keys are
// ignored without replace_hmac_keys (the saved keys stay, and nothing says they changed), and
// replace them with it.
func TestApplySettingsHMACKeysOnlyWithReplace(t *testing.T) {
	t.Parallel()
	p := docusign.Plugin{}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	base := map[string]any{"integrationKey": settingsIntegKey, "userId": settingsUserID, "privateKeyPem": string(pkcs1PEM(testKey()))}
	update := func(cur engine.Settings, keys []string, replace bool) engine.Settings {
		t.Helper()
		m := map[string]any{"hmacKeys": keys, "replaceHmacKeys": replace}
		for k, v := range base {
			m[k] = v
		}
		next, err := p.ApplySettings(cur, providertest.JSON(t, m), now)
		require.NoError(t, err)
		return next
	}
	saved := update(engine.Settings{}, []string{hmacKeyOld}, true)
	require.Equal(t, []string{hmacKeyOld}, docusign.SettingsFrom(saved).HMACKeys)
	require.Equal(t, saved.Secrets, update(saved, []string{hmacKey}, false).Secrets, "ignored without replace_hmac_keys")
	require.Equal(t, []string{hmacKey, hmacKeyOld}, docusign.SettingsFrom(update(saved, []string{hmacKey, hmacKeyOld}, true)).HMACKeys)
}
