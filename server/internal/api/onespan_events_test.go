package api_test

import (
	"context"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/provider/onespan"
	"github.com/flowhook/flowhook/server/internal/store"
)

// OneSpan's callback is registered for the outcomes, and for the progress events only while the
// Webhook Receiver debug option is on: turning the option on or off through the API registers
// flowhook's callback again, and the connection test says what is registered.
func TestOneSpanCallbackEventsFollowTheDebugOption(t *testing.T) {
	t.Parallel()
	b := setupOneSpan(t, store.SQLite)
	ctx := context.Background()
	events := func() []string {
		t.Helper()
		cb, ok := b.fake.RegisteredCallback()
		require.True(t, ok)
		require.Equal(t, b.baseURL+"/webhooks/OneSpan", cb.URL)
		require.Equal(t, b.callbackKey, cb.Key)
		return cb.Events
	}
	testConnection := func() string {
		t.Helper()
		res, err := b.settings.TestProviderConnection(ctx, connect.NewRequest(&flowhookv1.TestProviderConnectionRequest{Provider: flowhookv1.Provider_PROVIDER_ONESPAN}))
		require.NoError(t, err)
		require.True(t, res.Msg.GetOk(), res.Msg.GetMessage())
		return res.Msg.GetMessage()
	}
	setDebug := func(on bool) {
		t.Helper()
		cur, err := b.settings.GetSecuritySettings(ctx, connect.NewRequest(&flowhookv1.GetSecuritySettingsRequest{}))
		require.NoError(t, err)
		_, err = b.settings.UpdateSecuritySettings(ctx, connect.NewRequest(&flowhookv1.UpdateSecuritySettingsRequest{
			WebhookReceiverDebug: on, ExpectedRevision: cur.Msg.GetSettings().GetRevision()}))
		require.NoError(t, err)
	}

	require.Equal(t, onespan.OutcomeCallbackEvents, events(), "registered with the debug option off")
	require.Contains(t, testConnection(), "the callback is registered for the outcomes")

	setDebug(true)
	require.Equal(t, onespan.CallbackEvents, events())
	require.Contains(t, testConnection(), "for the outcomes and the progress events")

	// Registered again while the option is on: the progress events stay.
	cur, err := b.settings.GetOneSpanSettings(ctx, connect.NewRequest(&flowhookv1.GetOneSpanSettingsRequest{}))
	require.NoError(t, err)
	_, err = b.settings.UpdateOneSpanSettings(ctx, connect.NewRequest(&flowhookv1.UpdateOneSpanSettingsRequest{
		ExpectedRevision: cur.Msg.GetSettings().GetRevision(), RegisterCallback: true}))
	require.NoError(t, err)
	require.Equal(t, onespan.CallbackEvents, events())

	setDebug(false)
	require.Equal(t, onespan.OutcomeCallbackEvents, events())

	// OneSpan unreachable while the option changes: the option is saved all the same (the
	// registration is OneSpan's side; the connection test shows it).
	b.fake.FailNext(10, 401)
	setDebug(true)
	sec, err := b.settings.GetSecuritySettings(ctx, connect.NewRequest(&flowhookv1.GetSecuritySettingsRequest{}))
	require.NoError(t, err)
	require.True(t, sec.Msg.GetSettings().GetWebhookReceiverDebug())
}
