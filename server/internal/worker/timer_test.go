package worker

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

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
