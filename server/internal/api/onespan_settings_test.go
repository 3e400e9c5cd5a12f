package api_test

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/durationpb"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/store"
)

// TestOneSpanSettings: write-only secrets, the callback URL to configure, a rolled callback
// key with its grace period, optimistic concurrency and every bad value refused with its path.
func TestOneSpanSettings(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setup(t, d)
		ctx := context.Background()
		got, err := b.settings.GetOneSpanSettings(ctx, connect.NewRequest(&flowhookv1.GetOneSpanSettingsRequest{}))
		require.NoError(t, err)
		require.Zero(t, got.Msg.GetSettings().GetRevision())
		require.Equal(t, b.baseURL+"/webhooks/OneSpan", got.Msg.GetSettings().GetWebhookUrl())

		apiKey, first, second := "b25lc3Bhbi1hcGkta2V5LWZvci10ZXN0cw==", "first-callback-key-for-tests", "second-callback-key-for-tests"
		saved, err := b.settings.UpdateOneSpanSettings(ctx, connect.NewRequest(&flowhookv1.UpdateOneSpanSettingsRequest{
			ApiKey: &apiKey, CallbackKey: &first}))
		require.NoError(t, err)
		s := saved.Msg.GetSettings()
		require.Equal(t, "https://sandbox.esignlive.com", s.GetBaseUrl(), "the sandbox unless told otherwise")
		require.True(t, s.GetApiKeySet())
		require.True(t, s.GetCallbackKeySet())
		require.Nil(t, s.GetPreviousCallbackKeyValidUntil(), "the first key replaces none")
		require.EqualValues(t, 1, s.GetRevision())

		// Rolling the key: the old one stays valid for the grace asked for.
		before := time.Now()
		saved, err = b.settings.UpdateOneSpanSettings(ctx, connect.NewRequest(&flowhookv1.UpdateOneSpanSettingsRequest{
			BaseUrl: "https://apps.esignlive.com/", CallbackKey: &second, CallbackKeyGrace: durationpb.New(2 * time.Hour), ExpectedRevision: 1}))
		require.NoError(t, err)
		s = saved.Msg.GetSettings()
		require.Equal(t, "https://apps.esignlive.com", s.GetBaseUrl())
		require.True(t, s.GetApiKeySet(), "an unset api_key keeps the saved one")
		until := s.GetPreviousCallbackKeyValidUntil().AsTime()
		require.WithinRange(t, until, before.Add(2*time.Hour-time.Second), time.Now().Add(2*time.Hour+time.Second))

		// Secrets never come back, in any field.
		text := saved.Msg.String() + got.Msg.String()
		for _, secret := range []string{apiKey, first, second} {
			require.NotContains(t, text, secret)
		}

		_, err = b.settings.UpdateOneSpanSettings(ctx, connect.NewRequest(&flowhookv1.UpdateOneSpanSettingsRequest{ExpectedRevision: 1}))
		requireCode(t, err, connect.CodeAborted)

		short, spaced := "short", "has a space in it, sixteen+"
		_, err = b.settings.UpdateOneSpanSettings(ctx, connect.NewRequest(&flowhookv1.UpdateOneSpanSettingsRequest{
			BaseUrl: "ftp://example.com", ApiKey: &short, CallbackKey: &spaced,
			CallbackKeyGrace: durationpb.New(31 * 24 * time.Hour), ExpectedRevision: 2}))
		ps := problems(t, requireCode(t, err, connect.CodeInvalidArgument))
		require.Contains(t, ps, "base_url")
		require.Contains(t, ps, "api_key")
		require.Contains(t, ps, "callback_key")
		require.Contains(t, ps, "callback_key_grace")
	})
}

// TestOneSpanSettingsGraceOutOfRange: a callback_key_grace no duration can be (seconds beyond
// ±10,000 years) is refused at its field, not as a request that cannot be read.
func TestOneSpanSettingsGraceOutOfRange(t *testing.T) {
	t.Parallel()
	b := setup(t, store.SQLite)
	_, err := b.settings.UpdateOneSpanSettings(context.Background(), connect.NewRequest(&flowhookv1.UpdateOneSpanSettingsRequest{
		CallbackKeyGrace: &durationpb.Duration{Seconds: 1e15}}))
	ps := problems(t, requireCode(t, err, connect.CodeInvalidArgument))
	require.Contains(t, ps, "callback_key_grace")
	require.NotContains(t, ps, "")
}
