package engine

// OnItemWait has f called whenever a notification starts to wait for another of the same work
// item (itemlock.go).
func OnItemWait(x *External, f func(key string)) {
	x.items.mu.Lock()
	defer x.items.mu.Unlock()
	x.items.waiting = f
}
