package main

import (
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
)

// TestDevOneSpanFollowsTheDebugOption: in the embedded dev mode, the sandbox's OneSpan starts
// registered for every event (it can hold and reorder them all); turning the Webhook Receiver
// debug option on and off registers flowhook's callback there as at a real OneSpan account, and
// a completion still reaches flowhook with the outcomes alone registered.
func TestDevOneSpanFollowsTheDebugOption(t *testing.T) {
	t.Parallel()
	dev, key := startDev(t, t.TempDir(), map[string]string{"FLOWHOOK_BOOTSTRAP_ADMIN_KEY": "fh_dev_debug_chosen_key_0123456789"})
	c := newClients(dev.base, key)
	registered := func() string {
		t.Helper()
		res, err := c.settings.TestProviderConnection(t.Context(), connect.NewRequest(&flowhookv1.TestProviderConnectionRequest{Provider: flowhookv1.Provider_PROVIDER_ONESPAN}))
		require.NoError(t, err)
		require.True(t, res.Msg.GetOk(), res.Msg.GetMessage())
		return res.Msg.GetMessage()
	}
	setDebug := func(on bool) {
		t.Helper()
		cur, err := c.settings.GetSecuritySettings(t.Context(), connect.NewRequest(&flowhookv1.GetSecuritySettingsRequest{}))
		require.NoError(t, err)
		_, err = c.settings.UpdateSecuritySettings(t.Context(), connect.NewRequest(&flowhookv1.UpdateSecuritySettingsRequest{
			WebhookReceiverDebug: on, ExpectedRevision: cur.Msg.GetSettings().GetRevision()}))
		require.NoError(t, err)
	}

	require.Contains(t, registered(), "for the outcomes and the progress events")
	setDebug(true)
	require.Contains(t, registered(), "for the outcomes and the progress events")
	setDebug(false)
	require.Contains(t, registered(), "the callback is registered for the outcomes")
	require.NotContains(t, registered(), "progress")

	oneSpan := publish(t, c, signingDraft("OneSpan, outcomes alone", flowhookv1.Provider_PROVIDER_ONESPAN, ""))
	in := waiting(t, c, oneSpan)
	code, out, errOut := dev.sandbox(t, "complete", in.GetWorkItem().GetExternalId())
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `webhook PACKAGE_COMPLETE +→ \S+/webhooks/OneSpan HTTP 2\d\d`, out)
	require.NotContains(t, out, "SIGNER_COMPLETE")
	await(t, c, in.GetId(), completedIn("done"))
}
