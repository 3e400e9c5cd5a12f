package store

import (
	"sync"
	"sync/atomic"
	"time"
)

// lane is a queue of writes that are written in batches, one batch at a time, with no timer
// and no goroutine of its own: the first caller to find nobody writing leads. It takes what
// queued behind it (up to maxBatch in all), writes them, answers each, and passes the lead to
// the first caller still queued. A lone write at low load is written at once; under load, a
// batch is whatever arrived while the one before it was being written. The group commit of
// inbound events (groupcommit.go) and the pipeline of one-statement writes (pipeline.go) are
// lanes.
type lane[T any] struct {
	mu      sync.Mutex
	queue   []*waiter[T]
	leading bool
	// batches, writes and busy (nanoseconds spent in write) count what the lane has written,
	// for its metrics (Store.Lanes).
	batches, writes, busy atomic.Int64
}

type waiter[T any] struct {
	item T
	// done receives once: lead (this caller leads the next batch) or its write is done.
	done chan bool
}

// do has item written in a batch by write, which must answer every item of the batch it is
// given (the first is the leader's own) and must not panic, and returns once it has been.
func (l *lane[T]) do(item T, write func(batch []T)) {
	w := &waiter[T]{item: item, done: make(chan bool, 1)}
	l.mu.Lock()
	if l.leading {
		l.queue = append(l.queue, w)
		l.mu.Unlock()
		if lead := <-w.done; !lead {
			return
		}
	} else {
		l.leading = true
		l.mu.Unlock()
	}

	l.mu.Lock()
	n := min(len(l.queue), maxBatch-1)
	queued := l.queue[:n]
	l.queue = append(l.queue[:0:0], l.queue[n:]...)
	l.mu.Unlock()
	batch := make([]T, 0, n+1)
	batch = append(batch, item)
	for _, q := range queued {
		batch = append(batch, q.item)
	}

	start := time.Now()
	write(batch)
	l.busy.Add(int64(time.Since(start)))
	l.batches.Add(1)
	l.writes.Add(int64(len(batch)))
	for _, q := range queued {
		q.done <- false
	}

	l.mu.Lock()
	if len(l.queue) == 0 {
		l.leading = false
		l.mu.Unlock()
		return
	}
	next := l.queue[0]
	l.queue = l.queue[1:]
	l.mu.Unlock()
	next.done <- true
}
