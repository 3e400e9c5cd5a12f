package engine

import "sync"

// immutableCache holds values that never change once written (a published version's
// definition, the version an instance runs), so every replica may keep them without
// coordination. It is emptied when full rather than evicting one by one, which is simple and
// enough: what it forgot is read again.
type immutableCache[V any] struct {
	mu    sync.Mutex
	m     map[string]V
	limit int // 0: defaultCacheLimit
}

const defaultCacheLimit = 1024

func (c *immutableCache[V]) get(k string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	return v, ok
}

func (c *immutableCache[V]) put(k string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	limit := c.limit
	if limit == 0 {
		limit = defaultCacheLimit
	}
	if c.m == nil || len(c.m) >= limit {
		c.m = make(map[string]V)
	}
	c.m[k] = v
}
