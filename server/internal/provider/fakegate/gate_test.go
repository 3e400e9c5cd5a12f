package fakegate

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestGate(t *testing.T) {
	var g Gate
	require.True(t, g.Wait(t.Context()), "the zero gate is open")
	require.Zero(t, g.Waiting())

	release := g.Hold()
	t.Cleanup(release)
	passed := make(chan bool, 2)
	for range 2 {
		go func() { passed <- g.Wait(t.Context()) }()
	}
	require.Eventually(t, func() bool { return g.Waiting() == 2 }, 5*time.Second, time.Millisecond)
	select {
	case <-passed:
		t.Fatal("a held request passed before the release")
	default:
	}

	// A request whose client went away stops waiting, and says so.
	ctx, cancel := context.WithCancel(t.Context())
	cancelled := make(chan bool, 1)
	go func() { cancelled <- g.Wait(ctx) }()
	require.Eventually(t, func() bool { return g.Waiting() == 3 }, 5*time.Second, time.Millisecond)
	cancel()
	require.False(t, <-cancelled)

	release()
	require.True(t, <-passed)
	require.True(t, <-passed)
	require.Zero(t, g.Waiting())
	release() // a second release is harmless
	require.True(t, g.Wait(t.Context()), "open again after the release")

	// A new hold after a release holds again, and its release does not touch an older one's.
	again := g.Hold()
	done := make(chan bool, 1)
	go func() { done <- g.Wait(t.Context()) }()
	require.Eventually(t, func() bool { return g.Waiting() == 1 }, 5*time.Second, time.Millisecond)
	release()
	require.Equal(t, 1, g.Waiting(), "an old release leaves the new hold alone")
	again()
	require.True(t, <-done)
}
