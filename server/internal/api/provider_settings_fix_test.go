package api_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/config"
	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/store"
	"github.com/flowhook/flowhook/server/internal/testlog"
)

// settingsServer is a server whose JSON log the test reads.
func settingsServer(t *testing.T, d store.Dialect) (*testBundle, *testlog.Buffer) {
	t.Helper()
	logs := &testlog.Buffer{}
	cfg := config.Default()
	opts := dbtest.Options(t, d)
	cfg.DatabaseURL, cfg.DataDir = opts.DatabaseURL, opts.DataDir
	cfg.BootstrapAdminKey = bootstrapKey
	cfg.MaxRequestBytes = 1 << 20
	if d == store.Postgres {
		cfg.SecretKey = "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0zMmJ5dGU=" // 32 bytes, tests only
	}
	return serveWithLog(t, cfg, nil, slog.New(slog.NewJSONHandler(logs, nil))), logs
}

// An update of saved OneSpan settings that leaves base_url empty keeps the saved host: an API
// key rotated with {api_key, expected_revision} alone is not moved to the sandbox, and the log
// says only what changed. A callback key sent again unchanged is not logged as replaced.
func TestOneSpanSettingsUpdateKeepsSavedBaseURL(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b, logs := settingsServer(t, d)
		ctx := context.Background()
		const host = "https://apps.esignlive.com"
		apiKey, callbackKey := "onespan-api-key-for-the-fix-test", "onespan-callback-key-for-the-fix"
		saved, err := b.settings.UpdateOneSpanSettings(ctx, connect.NewRequest(&flowhookv1.UpdateOneSpanSettingsRequest{
			BaseUrl: host, ApiKey: &apiKey, CallbackKey: &callbackKey}))
		require.NoError(t, err)
		require.Equal(t, host, saved.Msg.GetSettings().GetBaseUrl())

		rotated := "onespan-api-key-rotated-for-the-fix"
		res, err := b.settings.UpdateOneSpanSettings(ctx, connect.NewRequest(&flowhookv1.UpdateOneSpanSettingsRequest{
			ApiKey: &rotated, ExpectedRevision: saved.Msg.GetSettings().GetRevision()}))
		require.NoError(t, err)
		require.Equal(t, host, res.Msg.GetSettings().GetBaseUrl(), "an empty base_url keeps the saved host")
		require.EqualValues(t, 2, res.Msg.GetSettings().GetRevision())
		got, err := b.settings.GetOneSpanSettings(ctx, connect.NewRequest(&flowhookv1.GetOneSpanSettingsRequest{}))
		require.NoError(t, err)
		require.Equal(t, host, got.Msg.GetSettings().GetBaseUrl())
		rec := lastLine(t, logs, "provider settings changed", 1)
		require.Empty(t, names(rec["changed"]), "the base URL was kept")
		require.Equal(t, []string{"api_key: replaced"}, names(rec["secrets"]))

		// The same callback key again: nothing rolled, nothing replaced.
		res, err = b.settings.UpdateOneSpanSettings(ctx, connect.NewRequest(&flowhookv1.UpdateOneSpanSettingsRequest{
			CallbackKey: &callbackKey, ExpectedRevision: 2}))
		require.NoError(t, err)
		require.Nil(t, res.Msg.GetSettings().GetPreviousCallbackKeyValidUntil())
		rec = lastLine(t, logs, "provider settings changed", 2)
		require.Empty(t, names(rec["changed"]))
		require.Empty(t, names(rec["secrets"]), "the callback key is the one saved")
	})
}

// An update of saved DocuSign settings that leaves oauth_base_url and account_id empty keeps
// the saved host and account (a private key rotated stays on production, in its account).
// hmac_keys without replace_hmac_keys are ignored, as the API says, and are not logged as
// replaced; with it they replace the saved keys.
func TestDocuSignSettingsUpdateKeepsSavedValues(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b, logs := settingsServer(t, d)
		ctx := context.Background()
		const (
			accountID = "8a1c3e57-5b2d-4f4e-9c1a-2b3c4d5e6f70"
			integKey  = "1b2c3d4e-5f60-4718-8293-a4b5c6d7e8f9"
			userID    = "2c3d4e5f-6071-4829-93a4-b5c6d7e8f9a0"
			prod      = "https://account.docusign.com"
		)
		saved, err := b.settings.UpdateDocuSignSettings(ctx, connect.NewRequest(&flowhookv1.UpdateDocuSignSettingsRequest{
			AccountId: accountID, IntegrationKey: integKey, UserId: userID, OauthBaseUrl: prod,
			PrivateKeyPem: &pemKey, HmacKeys: []string{"hmac-key-for-the-fix-1"}, ReplaceHmacKeys: true}))
		require.NoError(t, err)
		require.Equal(t, prod, saved.Msg.GetSettings().GetOauthBaseUrl())

		res, err := b.settings.UpdateDocuSignSettings(ctx, connect.NewRequest(&flowhookv1.UpdateDocuSignSettingsRequest{
			IntegrationKey: integKey, UserId: userID, PrivateKeyPem: &pemKey, ExpectedRevision: 1}))
		require.NoError(t, err)
		s := res.Msg.GetSettings()
		require.Equal(t, prod, s.GetOauthBaseUrl(), "an empty oauth_base_url keeps the saved host")
		require.Equal(t, accountID, s.GetAccountId(), "an empty account_id keeps the saved account")
		got, err := b.settings.GetDocuSignSettings(ctx, connect.NewRequest(&flowhookv1.GetDocuSignSettingsRequest{}))
		require.NoError(t, err)
		require.Equal(t, prod, got.Msg.GetSettings().GetOauthBaseUrl())
		require.Equal(t, accountID, got.Msg.GetSettings().GetAccountId())
		rec := lastLine(t, logs, "provider settings changed", 1)
		require.Empty(t, names(rec["changed"]), "the host and the account were kept")

		// hmac_keys without replace_hmac_keys: ignored, and not logged as replaced.
		res, err = b.settings.UpdateDocuSignSettings(ctx, connect.NewRequest(&flowhookv1.UpdateDocuSignSettingsRequest{
			IntegrationKey: integKey, UserId: userID, HmacKeys: []string{"hmac-key-for-the-fix-2", "hmac-key-for-the-fix-3"},
			ExpectedRevision: 2}))
		require.NoError(t, err)
		require.EqualValues(t, 1, res.Msg.GetSettings().GetHmacKeyCount(), "the saved key is kept")
		rec = lastLine(t, logs, "provider settings changed", 2)
		require.Empty(t, names(rec["secrets"]), "no HMAC key changed")

		// With replace_hmac_keys they replace the saved one.
		res, err = b.settings.UpdateDocuSignSettings(ctx, connect.NewRequest(&flowhookv1.UpdateDocuSignSettingsRequest{
			IntegrationKey: integKey, UserId: userID, HmacKeys: []string{"hmac-key-for-the-fix-2", "hmac-key-for-the-fix-3"},
			ReplaceHmacKeys: true, ExpectedRevision: 3}))
		require.NoError(t, err)
		require.EqualValues(t, 2, res.Msg.GetSettings().GetHmacKeyCount())
		rec = lastLine(t, logs, "provider settings changed", 3)
		require.Equal(t, []string{"hmac_keys: replaced"}, names(rec["secrets"]))
	})
}

// UpdateSecuritySettings without expected_revision when the settings were saved already is
// refused as InvalidArgument on expected_revision, saying what to pass (not that the settings
// were saved concurrently); nothing is saved.
func TestSecuritySettingsUpdateRequiresExpectedRevision(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setup(t, d)
		ctx := context.Background()
		first, err := b.settings.UpdateSecuritySettings(ctx, connect.NewRequest(&flowhookv1.UpdateSecuritySettingsRequest{
			EventRetentionDays: 14}))
		require.NoError(t, err, "0: never saved")
		require.EqualValues(t, 1, first.Msg.GetSettings().GetRevision())

		_, err = b.settings.UpdateSecuritySettings(ctx, connect.NewRequest(&flowhookv1.UpdateSecuritySettingsRequest{
			WebhookReceiverDebug: true}))
		cerr := requireCode(t, err, connect.CodeInvalidArgument)
		require.NotContains(t, cerr.Message(), "concurrently")
		ps := problems(t, cerr)
		require.Equal(t, map[string]string{"expected_revision": "is required: pass the revision GetSecuritySettings returned"}, ps)

		got, err := b.settings.GetSecuritySettings(ctx, connect.NewRequest(&flowhookv1.GetSecuritySettingsRequest{}))
		require.NoError(t, err)
		require.EqualValues(t, 1, got.Msg.GetSettings().GetRevision(), "nothing saved")
		require.False(t, got.Msg.GetSettings().GetWebhookReceiverDebug())

		// A stale revision is still Aborted; the current one saves.
		_, err = b.settings.UpdateSecuritySettings(ctx, connect.NewRequest(&flowhookv1.UpdateSecuritySettingsRequest{
			WebhookReceiverDebug: true, ExpectedRevision: 2}))
		requireCode(t, err, connect.CodeAborted)
		saved, err := b.settings.UpdateSecuritySettings(ctx, connect.NewRequest(&flowhookv1.UpdateSecuritySettingsRequest{
			WebhookReceiverDebug: true, ExpectedRevision: 1}))
		require.NoError(t, err)
		require.True(t, saved.Msg.GetSettings().GetWebhookReceiverDebug())
		require.EqualValues(t, 2, saved.Msg.GetSettings().GetRevision())
	})
}
