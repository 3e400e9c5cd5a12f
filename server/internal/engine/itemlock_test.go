package engine

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestItemLocks: a key is held by one caller at a time; a waiter whose context ends gives up
// with its error; a key nobody holds or waits for is forgotten.
func TestItemLocks(t *testing.T) {
	t.Parallel()
	var l itemLocks
	ctx := context.Background()
	unlockA, err := l.lock(ctx, "a")
	require.NoError(t, err)
	unlockB, err := l.lock(ctx, "b")
	require.NoError(t, err, "another key is free")

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = l.lock(cancelled, "a")
	require.ErrorIs(t, err, context.Canceled)

	waited := make(chan string, 1)
	l.waiting = func(key string) { waited <- key }
	done := make(chan func(), 1)
	go func() {
		unlock, err := l.lock(ctx, "a")
		if err != nil {
			panic(err)
		}
		done <- unlock
	}()
	require.Equal(t, "a", <-waited)
	unlockA()
	(<-done)()
	unlockB()
	require.Empty(t, l.held, "every key was released")
}
