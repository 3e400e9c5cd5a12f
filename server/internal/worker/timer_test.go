package worker

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowhook/flowhook/server/internal/engine"
)

// TestTimerJobSnoozes: a state_timeout job snoozes — spending no attempt — while its deadline
// has not passed on this replica's clock (until the deadline) and while a notification sent
// before the deadline is being processed (outcomePendingSnooze); other failures are retried
// as failures, and a firing is done.
func TestTimerJobSnoozes(t *testing.T) {
	t.Parallel()
	failing := errors.New("the database is unavailable")
	for _, tt := range []struct {
		name   string
		err    error
		snooze time.Duration // 0: not a snooze
	}{
		{"an outcome sent before the deadline is pending", fmt.Errorf("%w: OneSpan pkg-1", engine.ErrOutcomePending), outcomePendingSnooze},
		{"a clock behind", fmt.Errorf("%w: review", engine.ErrTooEarly), -1},
		{"fired", nil, 0},
		{"failed", failing, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := &timerWorker{fire: func(context.Context, engine.StateTimeoutJob) (bool, error) { return tt.err == nil, tt.err }}
			job := &river.Job[engine.StateTimeoutJob]{Args: engine.StateTimeoutJob{InstanceID: "i-1", StateKey: "sign", Deadline: time.Now().Add(time.Hour)}}
			err := w.Work(context.Background(), job)
			var snooze *river.JobSnoozeError
			switch {
			case tt.snooze > 0:
				require.ErrorAs(t, err, &snooze)
				require.Equal(t, tt.snooze, snooze.Duration)
			case tt.snooze < 0:
				require.ErrorAs(t, err, &snooze)
				require.Greater(t, snooze.Duration, 59*time.Minute, "until the deadline")
			default:
				require.False(t, errors.As(err, &snooze))
				require.Equal(t, tt.err, err)
			}
		})
	}
}

// TestAlarmSpan: a timer the alarm fires has a span of its own (the transition a timeout takes
// belongs to its trace), saying whether it fired; a firing left to its job as planned (the
// deadline not reached on this replica's clock, an outcome sent before it still being
// processed) is not an error, a failure is.
func TestAlarmSpan(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	job := engine.StateTimeoutJob{InstanceID: "i-1", StateKey: "review", Deadline: time.Now()}
	for _, c := range []struct {
		fired bool
		err   error
		code  codes.Code
	}{
		{true, nil, codes.Unset},
		{false, engine.ErrTooEarly, codes.Unset},
		{false, engine.ErrOutcomePending, codes.Unset},
		{false, errors.New("the database is unavailable"), codes.Error},
	} {
		var inSpan bool
		fire := traced(tp.Tracer("test"), func(ctx context.Context, _ engine.StateTimeoutJob) (bool, error) {
			inSpan = trace.SpanContextFromContext(ctx).IsValid()
			return c.fired, c.err
		})
		fired, err := fire(context.Background(), job)
		require.Equal(t, c.fired, fired)
		require.ErrorIs(t, err, c.err)
		require.True(t, inSpan, "fired in its span")
		spans := rec.Ended()
		s := spans[len(spans)-1]
		require.Equal(t, "state_timeout", s.Name())
		require.Equal(t, c.code, s.Status().Code, "%v", c.err)
	}
}
