package fakehook

// The pieces of a fake's server side beside its webhooks: what it records for tests to read
// (Log), the failures tests inject (Queue, SetRetryAfter) and its one-shot knobs (Trigger).

import (
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Log is a record a fake keeps for its tests to read — the requests it answered, the creates
// it received, the deliveries it made: entries in the order they were added, read as copies.
// It keeps them all unless told to keep only the newest (Keep), as a fake that runs for days
// must (flowhook dev's sandbox, the load tool's fakes). It is safe for concurrent use. Its lock
// is its own and is never held while anything else runs, so a fake may add to it while holding
// its own lock. The zero value is ready to use and keeps everything.
type Log[T any] struct {
	mu      sync.Mutex
	entries []T
	// dropped counts the entries added before entries[0] and let go; keep bounds what is read
	// (0: everything). entries holds up to twice keep, so that dropping is a copy now and then,
	// not one at every Add.
	dropped int
	keep    int
}

// Keep makes the log keep only its newest n entries from now on (n < 1: all of them, the
// default). Len and Since still count every entry ever added.
func (l *Log[T]) Keep(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.trim() // what the old bound let go stays gone
	l.keep = max(n, 0)
	l.trim()
}

// Add appends e.
func (l *Log[T]) Add(e T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, e)
	if l.keep > 0 && len(l.entries) >= 2*l.keep {
		l.trim()
	}
}

// trim lets go of all but the newest keep entries; the caller holds l.mu.
func (l *Log[T]) trim() {
	if l.keep == 0 || len(l.entries) <= l.keep {
		return
	}
	drop := len(l.entries) - l.keep
	n := copy(l.entries, l.entries[drop:])
	clear(l.entries[n:]) // what they referenced can be collected
	l.entries = l.entries[:n]
	l.dropped += drop
}

// kept are the entries a reader sees, the newest keep; the caller holds l.mu.
func (l *Log[T]) kept() []T {
	if l.keep > 0 && len(l.entries) > l.keep {
		return l.entries[len(l.entries)-l.keep:]
	}
	return l.entries
}

// All returns every entry kept, oldest first (nil when there is none).
func (l *Log[T]) All() []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.kept())
}

// Len is the number of entries ever added, those no longer kept included.
func (l *Log[T]) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dropped + len(l.entries)
}

// Since returns the entries added after the first n that are still kept, oldest first (nil
// when there is none): what was added since Len returned n, copied without copying the rest.
func (l *Log[T]) Since(n int) []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	kept := l.kept()
	first := l.dropped + len(l.entries) - len(kept) // the number of the oldest entry kept
	if n < first {
		n = first
	}
	if n >= l.dropped+len(l.entries) {
		return nil
	}
	return slices.Clone(l.entries[n-l.dropped:])
}

// Filter returns the entries kept that match accepts, oldest first (nil when there is none).
func (l *Log[T]) Filter(match func(T) bool) []T {
	var out []T
	for _, e := range l.All() {
		if match(e) {
			out = append(out, e)
		}
	}
	return out
}

// Count counts the entries kept that match accepts.
func (l *Log[T]) Count(match func(T) bool) int { return len(l.Filter(match)) }

// Queue holds the answers a test injected for a fake's next requests (FailNext), first in,
// first out. It is safe for concurrent use, and its lock is its own (a leaf, as Log's). The
// zero value is empty.
type Queue[T any] struct {
	mu    sync.Mutex
	items []T
}

// Push adds n copies of v (none when n < 1).
func (q *Queue[T]) Push(n int, v T) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for range n {
		q.items = append(q.items, v)
	}
}

// Pop takes the oldest item; false when there is none.
func (q *Queue[T]) Pop() (T, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var v T
	if len(q.items) == 0 {
		return v, false
	}
	v, q.items = q.items[0], q.items[1:]
	return v, true
}

// Trigger is a one-shot knob (DropNextCreateResponse): once armed, the next Fire reports true
// and disarms it; arming it twice is arming it once. It is safe for concurrent use; the zero
// value is not armed.
type Trigger struct {
	armed atomic.Bool
}

// Arm makes the next Fire report true.
func (t *Trigger) Arm() { t.armed.Store(true) }

// Fire reports whether the trigger was armed, and disarms it.
func (t *Trigger) Fire() bool { return t.armed.Swap(false) }

// SetRetryAfter sets a Retry-After header of d in whole seconds, rounded up, when d is
// positive, as the systems the fakes play send it.
func SetRetryAfter(h http.Header, d time.Duration) {
	if d > 0 {
		h.Set("Retry-After", strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10))
	}
}
