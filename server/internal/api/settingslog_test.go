package api_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/config"
	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/store"
	"github.com/flowhook/flowhook/server/internal/testlog"
)

// logLines returns the JSON records in l whose message is msg.
func logLines(t *testing.T, l *testlog.Buffer, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.String()), "\n") {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// names turns a logged list into strings.
func names(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, x := range list {
		out = append(out, x.(string))
	}
	return out
}

// lastLine returns the one new record with msg since seen of them, asserting there is one.
func lastLine(t *testing.T, l *testlog.Buffer, msg string, seen int) map[string]any {
	t.Helper()
	recs := logLines(t, l, msg)
	require.Len(t, recs, seen+1, "one line for %q", msg)
	rec := recs[seen]
	require.Equal(t, "INFO", rec["level"])
	return rec
}

// Changes of provider and security settings and of connectors are logged, one INFO line each:
// who, which group, which fields — and for secrets only set, replaced or cleared, never a value.
func TestSettingsChangesLogged(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		logs := &testlog.Buffer{} // the server's goroutines write it
		cfg := config.Default()
		opts := dbtest.Options(t, d)
		cfg.DatabaseURL, cfg.DataDir = opts.DatabaseURL, opts.DataDir
		cfg.BootstrapAdminKey = bootstrapKey
		cfg.MaxRequestBytes = 1 << 20
		if d == store.Postgres {
			cfg.SecretKey = "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0zMmJ5dGU=" // 32 bytes, tests only
		}
		b := serveWithLog(t, cfg, nil, slog.New(slog.NewJSONHandler(logs, nil)))
		ctx := context.Background()
		me, err := b.identity.WhoAmI(ctx, connect.NewRequest(&flowhookv1.WhoAmIRequest{}))
		require.NoError(t, err)
		admin := me.Msg.GetUser().GetId()

		key, err := rsa.GenerateKey(rand.Reader, 2048)
		require.NoError(t, err)
		pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
		hmacKey, hmacKey2 := "hmac-key-never-logged-1", "hmac-key-never-logged-2"
		const accountID = "8a1c3e57-5b2d-4f4e-9c1a-2b3c4d5e6f70"
		ds, err := b.settings.UpdateDocuSignSettings(ctx, connect.NewRequest(&flowhookv1.UpdateDocuSignSettingsRequest{
			AccountId: accountID, IntegrationKey: "1b2c3d4e-5f60-4718-8293-a4b5c6d7e8f9", UserId: "2c3d4e5f-6071-4829-93a4-b5c6d7e8f9a0",
			PrivateKeyPem: &pemKey, HmacKeys: []string{hmacKey}, ReplaceHmacKeys: true}))
		require.NoError(t, err)
		rec := lastLine(t, logs, "provider settings changed", 0)
		require.Equal(t, "DOCUSIGN", rec["group"])
		require.Equal(t, admin, rec["by"])
		require.Subset(t, names(rec["changed"]), []string{"account_id", "integration_key", "user_id"})
		require.NotContains(t, names(rec["changed"]), "revision")
		require.Equal(t, []string{"hmac_keys: set", "private_key_pem: set"}, names(rec["secrets"]))

		// Only the HMAC keys, replaced: no plain field changed.
		_, err = b.settings.UpdateDocuSignSettings(ctx, connect.NewRequest(&flowhookv1.UpdateDocuSignSettingsRequest{
			AccountId: accountID, IntegrationKey: "1b2c3d4e-5f60-4718-8293-a4b5c6d7e8f9", UserId: "2c3d4e5f-6071-4829-93a4-b5c6d7e8f9a0",
			HmacKeys: []string{hmacKey2}, ReplaceHmacKeys: true, ExpectedRevision: ds.Msg.GetSettings().GetRevision()}))
		require.NoError(t, err)
		rec = lastLine(t, logs, "provider settings changed", 1)
		require.Empty(t, names(rec["changed"]))
		require.Equal(t, []string{"hmac_keys: replaced"}, names(rec["secrets"]))

		apiKey, callbackKey := "onespan-api-key-never-logged", "onespan-callback-key-never-logged"
		_, err = b.settings.UpdateOneSpanSettings(ctx, connect.NewRequest(&flowhookv1.UpdateOneSpanSettingsRequest{
			BaseUrl: "https://sandbox.esignlive.example", ApiKey: &apiKey, CallbackKey: &callbackKey}))
		require.NoError(t, err)
		rec = lastLine(t, logs, "provider settings changed", 2)
		require.Equal(t, "ONESPAN", rec["group"])
		require.Equal(t, []string{"base_url"}, names(rec["changed"]))
		require.Equal(t, []string{"api_key: set", "callback_key: set"}, names(rec["secrets"]))
		callbackKey2 := "onespan-callback-key-2-never-logged"
		_, err = b.settings.UpdateOneSpanSettings(ctx, connect.NewRequest(&flowhookv1.UpdateOneSpanSettingsRequest{
			BaseUrl: "https://sandbox.esignlive.example", CallbackKey: &callbackKey2, ExpectedRevision: 1}))
		require.NoError(t, err)
		rec = lastLine(t, logs, "provider settings changed", 3)
		require.Equal(t, []string{"callback_key: replaced"}, names(rec["secrets"]))

		sec, err := b.settings.UpdateSecuritySettings(ctx, connect.NewRequest(&flowhookv1.UpdateSecuritySettingsRequest{WebhookReceiverDebug: true}))
		require.NoError(t, err)
		rec = lastLine(t, logs, "security settings changed", 0)
		require.Equal(t, "security", rec["group"])
		require.Equal(t, admin, rec["by"])
		require.Equal(t, []string{"webhook_receiver_debug"}, names(rec["changed"]))

		// The retentions: their names, as any plain field's.
		_, err = b.settings.UpdateSecuritySettings(ctx, connect.NewRequest(&flowhookv1.UpdateSecuritySettingsRequest{WebhookReceiverDebug: true,
			FormDataRetentionDays: 365, DocumentRetentionDays: 730, ExpectedRevision: sec.Msg.GetSettings().GetRevision()}))
		require.NoError(t, err)
		rec = lastLine(t, logs, "security settings changed", 1)
		require.Equal(t, []string{"document_retention_days", "form_data_retention_days"}, names(rec["changed"]))

		created, err := b.settings.CreateConnector(ctx, connect.NewRequest(&flowhookv1.CreateConnectorRequest{
			Name: "tickets", CreateUrl: "https://tickets.example.test/tickets", AuthHeader: "Authorization: Bearer header-never-logged"}))
		require.NoError(t, err)
		signing := created.Msg.GetSigningSecret()
		require.NotEmpty(t, signing)
		rec = lastLine(t, logs, "connector created", 0)
		require.Equal(t, "connector.tickets", rec["group"])
		require.Equal(t, admin, rec["by"])
		require.Contains(t, names(rec["changed"]), "create_url")
		require.Equal(t, []string{"auth_header: set", "signing_secret: set"}, names(rec["secrets"]))

		c := created.Msg.GetConnector()
		_, err = b.settings.UpdateConnector(ctx, connect.NewRequest(&flowhookv1.UpdateConnectorRequest{
			Name: "tickets", DisplayName: "Tickets", CreateUrl: c.GetCreateUrl(), ClearAuthHeader: true,
			SigningSecret: "whsec_" + "bmV3LXNpZ25pbmctc2VjcmV0LW5ldmVyLWxvZ2dlZA==", ExpectedRevision: c.GetRevision()}))
		require.NoError(t, err)
		rec = lastLine(t, logs, "connector updated", 0)
		require.Equal(t, []string{"auth_header_name", "display_name"}, names(rec["changed"]), "the header's name is not secret")
		require.Equal(t, []string{"auth_header: cleared", "signing_secret: replaced"}, names(rec["secrets"]))

		_, err = b.settings.DeleteConnector(ctx, connect.NewRequest(&flowhookv1.DeleteConnectorRequest{Name: "tickets"}))
		require.NoError(t, err)
		rec = lastLine(t, logs, "connector deleted", 0)
		require.Equal(t, "connector.tickets", rec["group"])
		require.Equal(t, admin, rec["by"])

		all := logs.String()
		for _, secret := range []string{"PRIVATE KEY", hmacKey, hmacKey2, apiKey, callbackKey, callbackKey2, signing, "header-never-logged",
			"bmV3LXNpZ25pbmctc2VjcmV0LW5ldmVyLWxvZ2dlZA", bootstrapKey} {
			require.NotContains(t, all, secret)
		}
	})
}
