package worker

import (
	"context"
	"sync"
	"time"
)

// recorder is what the fakes of the in-process workers' ports share: the lock over what they
// record, and the cutoffs the leader's sweep was called with (it hands nothing over).
type recorder struct {
	mu      sync.Mutex
	cutoffs []time.Time
}

// handOverDue is a sweep's HandOverFunc.
func (r *recorder) handOverDue(_ context.Context, cutoff time.Time, _ int) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cutoffs = append(r.cutoffs, cutoff)
	return 0, nil
}

// wait runs fn under the lock.
func (r *recorder) wait(fn func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fn()
}
