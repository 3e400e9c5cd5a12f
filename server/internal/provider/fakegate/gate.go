// Package fakegate holds a provider fake's requests at a point a test chooses: the fakes use
// it to hold the lookups a create job's retry makes, so that a test can act in the window
// between a lost create answer and the retry's coupling without racing River's backoff.
package fakegate

import (
	"context"
	"sync"
)

// Gate is open until Hold closes it. The zero value is open; it is safe for concurrent use.
type Gate struct {
	mu      sync.Mutex
	closed  chan struct{} // nil when open; closed (the channel) when released
	waiting int
}

// Hold makes Wait block from now on until release is called. release may be called more than
// once, and a test should also defer it (t.Cleanup) so that no request stays held.
func (g *Gate) Hold() (release func()) {
	ch := make(chan struct{})
	g.mu.Lock()
	g.closed = ch
	g.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			if g.closed == ch {
				g.closed = nil
			}
			g.mu.Unlock()
			close(ch)
		})
	}
}

// Wait returns true once the gate is open, or false when ctx ends first (the request's client
// went away).
func (g *Gate) Wait(ctx context.Context) bool {
	g.mu.Lock()
	ch := g.closed
	if ch != nil {
		g.waiting++
	}
	g.mu.Unlock()
	if ch == nil {
		return true
	}
	defer func() {
		g.mu.Lock()
		g.waiting--
		g.mu.Unlock()
	}()
	select {
	case <-ch:
		return true
	case <-ctx.Done():
		return false
	}
}

// Waiting is how many requests the gate holds now.
func (g *Gate) Waiting() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.waiting
}
