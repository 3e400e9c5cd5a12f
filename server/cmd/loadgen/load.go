package main

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// request makes request i of a run; an error counts as one.
type request func(ctx context.Context, i int) error

// shape is how a run sends: a closed loop of workers, or an open loop paced at a rate.
type shape struct {
	open        bool
	workers     int
	rate        float64 // a second
	duration    time.Duration
	count       int // at most this many requests (0: no bound but the duration)
	maxInflight int
	maxLag      time.Duration
}

// outcome is what a run measured. Latencies are in microseconds, of every request: a failed
// one at the time it took to fail, and (open loop) a dropped send at how late it was when it
// was dropped. Neither did what the row times, so when there are any the percentiles are lower
// bounds (the row's percentiles_lower_bound), never the survivors' alone, which would look
// better the more was dropped.
type outcome struct {
	hist     *hdrhistogram.Histogram
	ok       int64
	errors   int64
	dropped  int64 // open loop: sends that could not start within maxLag of their time
	elapsed  time.Duration
	firstErr error
}

// recorder collects latencies from many goroutines.
type recorder struct {
	mu       sync.Mutex
	hist     *hdrhistogram.Histogram
	ok, errs atomic.Int64
	firstErr error
}

func newRecorder() *recorder {
	// 1 µs to 5 minutes, 3 significant figures.
	return &recorder{hist: hdrhistogram.New(1, int64(5*time.Minute/time.Microsecond), 3)}
}

// record counts a request that took d, and err when it failed; either way d is in the
// histogram.
func (r *recorder) record(d time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.errs.Add(1)
		if r.firstErr == nil {
			r.firstErr = err
		}
	} else {
		r.ok.Add(1)
	}
	r.latency(d)
}

// latency puts d in the histogram (r.mu held).
func (r *recorder) latency(d time.Duration) {
	_ = r.hist.RecordValue(min(max(1, d.Microseconds()), r.hist.HighestTrackableValue()))
}

// dropped puts a dropped send in the histogram at lag, how late it was when dropped: what it
// would have taken is at least that.
func (r *recorder) dropped(lag time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.latency(lag)
}

func (r *recorder) outcome(elapsed time.Duration, dropped int64) outcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	return outcome{hist: r.hist, ok: r.ok.Load(), errors: r.errs.Load(), dropped: dropped, elapsed: elapsed, firstErr: r.firstErr}
}

// closedLoop runs s.workers workers, each sending its next request as soon as the last one
// answered, until the duration is over, s.count requests were made, or limit (the items
// prepared; 0: none needed) are used up. Requests under way at the end finish and count.
func closedLoop(ctx context.Context, s shape, limit int, do request) outcome {
	bound := bound(s.count, limit)
	rec := newRecorder()
	var next atomic.Int64
	start := time.Now()
	end := start.Add(s.duration)
	var wg sync.WaitGroup
	for range s.workers {
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(end) {
				i := int(next.Add(1)) - 1
				if bound > 0 && i >= bound {
					return
				}
				t0 := time.Now()
				err := do(ctx, i)
				if ctx.Err() != nil {
					return // interrupted: not a failure of the server
				}
				rec.record(time.Since(t0), err)
			}
		})
	}
	wg.Wait()
	return rec.outcome(time.Since(start), 0)
}

// clock is the open loop's time: real, or a test's.
type clock interface {
	Now() time.Time
	// SleepUntil returns at t, or with ctx's error.
	SleepUntil(ctx context.Context, t time.Time) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// preciseWindow is the end of a wait that SleepUntil sleeps in the kernel (sleepPrecise)
// instead of on a Go timer. Go's timers wake an idle process through the netpoller, whose
// wait has millisecond resolution: measured here at 10/s, sends went out 0.68 ms after their
// intended time at the median and 1.47 ms at p99, all of it counted as the server's latency
// (an open loop measures from the intended time). Sleeping the last stretch in the kernel
// brought that to 0.18 / 0.87 ms, as close as pgbench's own schedule (-R), which the 10/s row
// is compared with.
const preciseWindow = 2 * time.Millisecond

// SleepUntil returns at t (not before), or with ctx's error. A cancellation during the last
// preciseWindow is seen when it ends.
func (realClock) SleepUntil(ctx context.Context, t time.Time) error {
	if d := time.Until(t) - preciseWindow; d > 0 {
		tm := time.NewTimer(d)
		defer tm.Stop()
		select {
		case <-tm.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for d := time.Until(t); d > 0; d = time.Until(t) {
		sleepPrecise(d)
	}
	return ctx.Err()
}

// openLoop schedules sends at fixed intervals (1/rate) over the duration and measures each
// one's latency from its intended time, not from when it went out: when the server (or the
// cap on outstanding requests) holds the sender up, the wait counts. At most s.maxInflight
// requests are outstanding; a send waits for a slot, and one that cannot start within
// s.maxLag of its intended time is dropped (counted, not sent, and its lateness recorded).
func openLoop(ctx context.Context, clk clock, s shape, limit int, do request) outcome {
	total := max(1, int(s.rate*s.duration.Seconds()))
	if b := bound(s.count, limit); b > 0 {
		total = min(total, b)
	}
	rec := newRecorder()
	slots := make(chan struct{}, s.maxInflight)
	var dropped int64
	start := clk.Now()
	var wg sync.WaitGroup
loop:
	for i := range total {
		intended := start.Add(time.Duration(float64(i) / s.rate * float64(time.Second)))
		if err := clk.SleepUntil(ctx, intended); err != nil {
			break
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			break loop
		}
		if lag := clk.Now().Sub(intended); s.maxLag > 0 && lag > s.maxLag {
			<-slots
			dropped++
			rec.dropped(lag)
			continue
		}
		wg.Go(func() {
			defer func() { <-slots }()
			err := do(ctx, i)
			if ctx.Err() == nil { // interrupted: not a failure of the server
				rec.record(clk.Now().Sub(intended), err)
			}
		})
	}
	wg.Wait()
	return rec.outcome(clk.Now().Sub(start), dropped)
}

// bound is the smaller of two bounds, 0 being none.
func bound(a, b int) int {
	switch {
	case a == 0:
		return b
	case b == 0:
		return a
	}
	return min(a, b)
}
