package engine_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
)

// flakySettings is a settings store that fails while down.
type flakySettings struct {
	engine.SettingsStore
	mu    sync.Mutex
	down  bool
	debug bool
}

func (f *flakySettings) GetSettings(context.Context, string) (engine.Settings, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return engine.Settings{}, errors.New("connection refused")
	}
	return engine.Settings{ID: engine.SettingsSecurity, Plain: map[string]any{engine.KeyWebhookReceiverDebug: f.debug}}, nil
}

func (f *flakySettings) set(down, debug bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down, f.debug = down, debug
}

// TestDebugWhenSettingsCannotBeRead: a replica that cannot read its settings, and never could,
// keeps every notification (debug on), so that none it acts on is only acknowledged; once read,
// the last value read holds through an outage.
func TestDebugWhenSettingsCannotBeRead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := &settableClock{at: time.Now()}
	store := &flakySettings{}
	sec := engine.NewSecurity(store, clock)

	store.set(true, false)
	require.True(t, sec.Debug(ctx), "never read: on, so nothing is only acknowledged")

	store.set(false, false)
	require.False(t, sec.Debug(ctx), "read: off")

	store.set(true, true)
	clock.at = clock.at.Add(time.Minute)
	require.False(t, sec.Debug(ctx), "down again: the last value read")
	sec.Forget()
	require.False(t, sec.Debug(ctx), "forgotten, still down: the last value read")

	store.set(false, true)
	require.True(t, sec.Debug(ctx), "read again: on")
}

// settableClock is a clock the test moves.
type settableClock struct{ at time.Time }

func (c *settableClock) Now() time.Time { return c.at }
