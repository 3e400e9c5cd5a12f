package engine

import (
	"context"
	"sync"
)

// itemLocks lets one notification of a work item at a time be read, decided and saved in
// this process.
//
// A notification's result is decided on the work item (and instance) as read, and saved only
// if they are still at the revisions read. Two notifications of one envelope handled at once
// both read the same revision, and one of them loses: it reads again and decides again, and
// after three losses it is stored PENDING for a job; decided again after newer notifications
// were applied, it ends STALE. Under a high rate per work item (a busy envelope, a chatty
// ticket: ten minutes at 1,280 a second over 200 envelopes) 4% were left to jobs and 18%
// ended STALE, and the server fell behind. Handled one after the other, the second reads what the first wrote and never
// loses. Notifications of different work items never wait for each other, and the store's
// group commit still writes them together.
//
// The lock covers this process only: across replicas, the revision check and the retry stay
// what keeps results right. A waiter gives up when its context ends.
type itemLocks struct {
	mu   sync.Mutex
	held map[string]*itemLock
	// waiting, when set (tests), is called when a caller starts to wait for a held lock.
	waiting func(key string)
}

// itemLock is one key's lock: a token in a channel of one, so that a wait can be cancelled,
// and how many callers hold or wait for it, so that the last one removes it.
type itemLock struct {
	token chan struct{}
	refs  int
}

// lock takes key's lock, waiting while another caller holds it, and returns its release.
func (l *itemLocks) lock(ctx context.Context, key string) (func(), error) {
	l.mu.Lock()
	if l.held == nil {
		l.held = make(map[string]*itemLock)
	}
	k, ok := l.held[key]
	if !ok {
		k = &itemLock{token: make(chan struct{}, 1)}
		l.held[key] = k
	}
	k.refs++
	waiting := l.waiting
	l.mu.Unlock()

	select {
	case k.token <- struct{}{}:
	default:
		if waiting != nil {
			waiting(key)
		}
		select {
		case k.token <- struct{}{}:
		case <-ctx.Done():
			l.drop(key, k)
			return nil, ctx.Err()
		}
	}
	return func() {
		<-k.token
		l.drop(key, k)
	}, nil
}

// drop forgets one holder or waiter of k, and k itself after the last.
func (l *itemLocks) drop(key string, k *itemLock) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if k.refs--; k.refs == 0 {
		delete(l.held, key)
	}
}

// itemKey is the lock key of the work item an event names.
func itemKey(e InboundEvent) string {
	return e.System.String() + "\x00" + e.ExternalID
}
