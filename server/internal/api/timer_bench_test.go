package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/durationpb"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/store"
)

// BenchmarkTimerSpread measures how late state timers fire: the time from each instance's
// deadline to its TIMED_OUT entry (written by the firing, before it commits), on a real server,
// at light load (a handful of timers, one at a time) and with 10,000 timers due within the
// same minute. It reports p50, p99 and the worst lateness:
//
//	go test ./server/internal/api/ -run '^$' -bench BenchmarkTimerSpread -benchtime 1x -v
//
// The figures go in docs/performance.md; no test asserts them.
func BenchmarkTimerSpread(b *testing.B) {
	for _, d := range []store.Dialect{store.Postgres, store.SQLite} {
		for _, n := range []int{20, 10_000} {
			b.Run(fmt.Sprintf("%s/%d", d, n), func(b *testing.B) {
				for range b.N {
					timerSpread(b, d, n)
				}
			})
		}
	}
}

func timerSpread(b *testing.B, d store.Dialect, n int) {
	bundle := setup(b, d)
	ctx := context.Background()
	// Light load: 2 s timeouts, started one after another, so that a few are due at a time;
	// 10,000: 60 s timeouts, started as fast as 16 callers go (well within the minute).
	timeout, callers := 2*time.Second, 1
	if n > 100 {
		timeout, callers = 60*time.Second, 16
	}
	dr := bundle.draft("Timer spread")
	dr.States[1].Timeout = durationpb.New(timeout)
	wf, err := bundle.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: dr}))
	require.NoError(b, err)
	wfID := wf.Msg.GetWorkflow().GetId()
	_, err = bundle.design.PublishWorkflow(ctx, connect.NewRequest(&flowhookv1.PublishWorkflowRequest{WorkflowId: wfID, ExpectedRevision: 1}))
	require.NoError(b, err)

	ids := make([]string, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	// Light load is paced, open loop: one start every 100 ms spreads the deadlines over n/10 s.
	pace := time.NewTicker(100 * time.Millisecond)
	defer pace.Stop()
	started := time.Now()
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				res, err := bundle.instances.StartInstance(ctx, connect.NewRequest(validStart(b, wfID)))
				if err != nil {
					b.Error(err)
					return
				}
				ids[i] = res.Msg.GetInstance().GetId()
				if callers == 1 {
					<-pace.C
				}
			}
		}()
	}
	wg.Wait()
	b.Logf("%d instances started in %s", n, time.Since(started).Round(time.Millisecond))
	require.False(b, b.Failed())

	// Wait for every timer, reading the instances' ends from the database.
	require.Eventually(b, func() bool {
		var left int
		err := bundle.app.DB().SQL.QueryRowContext(ctx,
			`SELECT count(*) FROM instances WHERE workflow_id = `+placeholder(d, 1)+` AND status = 'ACTIVE'`, wfID).Scan(&left)
		return err == nil && left == 0
	}, timeout+5*time.Minute, 200*time.Millisecond, "not every timer fired")
	rows, err := bundle.app.DB().Client.Activity.Query().All(ctx)
	require.NoError(b, err)
	var late []time.Duration
	for _, r := range rows {
		if r.Kind != "TIMED_OUT" {
			continue
		}
		var det struct {
			Deadline time.Time `json:"deadline"`
		}
		require.NoError(b, json.Unmarshal(r.Details, &det))
		late = append(late, r.CreatedAt.Sub(det.Deadline))
	}
	require.Len(b, late, n, "every timer fired once")
	slices.Sort(late)
	pct := func(p float64) time.Duration { return late[min(len(late)-1, int(p*float64(len(late))))] }
	b.ReportMetric(float64(pct(0.5).Milliseconds()), "p50-late-ms")
	b.ReportMetric(float64(pct(0.99).Milliseconds()), "p99-late-ms")
	b.ReportMetric(float64(late[len(late)-1].Milliseconds()), "max-late-ms")
	b.Logf("%s, %d timers: lateness min %s p50 %s p99 %s max %s", d, n, late[0].Round(time.Millisecond),
		pct(0.5).Round(time.Millisecond), pct(0.99).Round(time.Millisecond), late[len(late)-1].Round(time.Millisecond))
}

func placeholder(d store.Dialect, i int) string {
	if d == store.Postgres {
		return fmt.Sprintf("$%d", i)
	}
	return "?"
}
