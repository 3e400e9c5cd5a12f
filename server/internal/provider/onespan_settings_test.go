package provider_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/provider"
)

func TestOneSpanCallbackKeyRoll(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	var c provider.OneSpanConfig
	require.Empty(t, c.CallbackKeys(t0), "no key: nothing is accepted")

	c = c.Roll("first-callback-key-0001", t0, time.Hour)
	require.Equal(t, []string{"first-callback-key-0001"}, c.CallbackKeys(t0))
	require.Empty(t, c.PreviousCallbackKey, "the first key replaces nothing")

	// Rolling keeps the old key for the grace period, then drops it.
	c = c.Roll("second-callback-key-002", t0, time.Hour)
	require.Equal(t, []string{"second-callback-key-002", "first-callback-key-0001"}, c.CallbackKeys(t0.Add(59*time.Minute)))
	require.Equal(t, []string{"second-callback-key-002"}, c.CallbackKeys(t0.Add(time.Hour)))

	// The same key again is no roll: the grace of the previous one is unchanged.
	same := c.Roll("second-callback-key-002", t0.Add(30*time.Minute), time.Hour)
	require.Equal(t, c, same)

	// Stored and read back: the same config.
	back := provider.OneSpanConfigFrom(c.Settings())
	require.Equal(t, c.CallbackKey, back.CallbackKey)
	require.Equal(t, c.PreviousCallbackKey, back.PreviousCallbackKey)
	require.True(t, c.PreviousValidUntil.Equal(back.PreviousValidUntil))
}
