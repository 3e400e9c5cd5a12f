package api_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace/noop"

	"github.com/flowhook/flowhook/server/internal/telemetry"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/store"
)

// State timeouts end to end: a real server on each database, timers that fire within the
// test (short timeouts, waited for by their result, never by sleeping), restarts, replicas and
// the DocuSign fake.

// timedWorkflow publishes the bundle's draft with the review timing out after review (by
// "reject", marked on_timeout) and, when sign > 0, the signature after sign (by a new
// transition on EXPIRED, to "rejected").
func timedWorkflow(t *testing.T, b *testBundle, review, sign time.Duration) string {
	t.Helper()
	ctx := context.Background()
	d := b.draft("Timed contract")
	d.States[1].Timeout = durationpb.New(review)
	if sign > 0 {
		d.States[2].Timeout = durationpb.New(sign)
		d.Transitions = append(d.Transitions, &flowhookv1.Transition{Key: "expired", FromState: "sign", ToState: "rejected",
			OnOutcome: flowhookv1.Outcome_OUTCOME_EXPIRED})
	}
	wf, err := b.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: d}))
	require.NoError(t, err)
	_, err = b.design.PublishWorkflow(ctx, connect.NewRequest(&flowhookv1.PublishWorkflowRequest{WorkflowId: wf.Msg.GetWorkflow().GetId(), ExpectedRevision: 1}))
	require.NoError(t, err)
	return wf.Msg.GetWorkflow().GetId()
}

func startTimed(t *testing.T, c clients, workflowID string) *flowhookv1.Instance {
	t.Helper()
	res, err := c.instances.StartInstance(context.Background(), connect.NewRequest(validStart(t, workflowID)))
	require.NoError(t, err)
	return res.Msg.GetInstance()
}

// timerJobsDone counts the timer jobs River has finished with (completed: fired or found
// nothing to do).
func timerJobsDone(t *testing.T, b *testBundle) int {
	t.Helper()
	var n int
	require.NoError(t, b.app.DB().SQL.QueryRowContext(context.Background(),
		`SELECT count(*) FROM river_job WHERE kind = 'state_timeout' AND state = 'completed'`).Scan(&n))
	return n
}

// countKind counts a kind's entries in a timeline.
func countKind(entries []*flowhookv1.ActivityEntry, kind flowhookv1.ActivityKind) int {
	return len(flowsFind(entries, kind, ""))
}

func TestStateTimeouts(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setup(t, d)
		ctx := context.Background()

		t.Run("a HUMAN state's timer takes its on_timeout transition", func(t *testing.T) {
			wf := timedWorkflow(t, b, time.Second, 0)
			before := time.Now()
			in := startTimed(t, b.clients, wf)
			require.Equal(t, "review", in.GetStateKey())
			require.NotNil(t, in.GetDeadline(), "the instance shows its deadline")
			dl := in.GetDeadline().AsTime()
			require.False(t, dl.Before(before.Add(time.Second).Truncate(time.Millisecond)), "deadline %s", dl)
			require.True(t, dl.Before(time.Now().Add(time.Second)), "deadline %s", dl)

			var got *flowhookv1.Instance
			require.Eventually(t, func() bool {
				got = flowsGet(b.clients, in.GetId())
				return got.GetStatus() == flowhookv1.InstanceStatus_INSTANCE_STATUS_COMPLETED
			}, flowsRetryWait, flowsTick, "the timer never fired")
			require.Equal(t, "rejected", got.GetStateKey())
			require.Nil(t, got.GetDeadline(), "an ended instance has no deadline")
			acts := flowsActivity(t, b.clients, in.GetId())
			set := flowsFind(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_DEADLINE_SET, "")
			require.Len(t, set, 1, flowsTimeline(acts))
			require.True(t, dl.Equal(acts[set[0]].GetDeadline().AsTime()))
			fired := flowsFind(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_TIMED_OUT, "")
			require.Len(t, fired, 1, flowsTimeline(acts))
			require.Equal(t, "timer", acts[fired[0]].GetActorId())
			require.True(t, dl.Equal(acts[fired[0]].GetDeadline().AsTime()))
			require.False(t, acts[fired[0]].GetCreatedAt().AsTime().Before(dl), "never before the deadline")
			took := acts[fired[0]+1]
			require.Equal(t, flowhookv1.ActivityKind_ACTIVITY_KIND_TRANSITION, took.GetKind())
			require.Equal(t, "reject", took.GetTransitionKey())
			require.Equal(t, "timer", took.GetActorId())
			require.Empty(t, took.GetChanges())
		})

		t.Run("a timer whose state was left does nothing", func(t *testing.T) {
			wf := timedWorkflow(t, b, time.Second, 0)
			in := startTimed(t, b.clients, wf)
			done := timerJobsDone(t, b)
			taken, err := b.instances.TakeTransition(ctx, connect.NewRequest(&flowhookv1.TakeTransitionRequest{InstanceId: in.GetId(), TransitionKey: "reject"}))
			require.NoError(t, err)
			require.Nil(t, taken.Msg.GetInstance().GetDeadline())
			// The durable timer runs at its deadline and finds the state left.
			require.Eventually(t, func() bool { return timerJobsDone(t, b) > done }, flowsRetryWait, flowsTick)
			got := flowsGet(b.clients, in.GetId())
			require.Equal(t, taken.Msg.GetInstance().GetRevision(), got.GetRevision(), "nothing changed")
			acts := flowsActivity(t, b.clients, in.GetId())
			require.Zero(t, countKind(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_TIMED_OUT), flowsTimeline(acts))
			for _, a := range acts {
				require.NotEqual(t, "timer", a.GetActorId(), flowsTimeline(acts))
			}
		})

		t.Run("overdue_before lists open instances past a time", func(t *testing.T) {
			wf := timedWorkflow(t, b, time.Hour, 0)
			in := startTimed(t, b.clients, wf)
			list := func(at time.Time) []string {
				res, err := b.instances.ListInstances(ctx, connect.NewRequest(&flowhookv1.ListInstancesRequest{
					Filter: &flowhookv1.InstanceFilter{WorkflowId: wf, OverdueBefore: timestamppb.New(at)}}))
				require.NoError(t, err)
				require.EqualValues(t, len(res.Msg.GetInstances()), res.Msg.GetTotalSize())
				var ids []string
				for _, i := range res.Msg.GetInstances() {
					ids = append(ids, i.GetId())
				}
				return ids
			}
			require.Empty(t, list(time.Now()))
			require.Equal(t, []string{in.GetId()}, list(time.Now().Add(2*time.Hour)))
			_, err := b.instances.ListInstances(ctx, connect.NewRequest(&flowhookv1.ListInstancesRequest{
				Filter: &flowhookv1.InstanceFilter{OverdueBefore: &timestamppb.Timestamp{Seconds: 1, Nanos: -1}}}))
			require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))
		})

		t.Run("a timeout needs its way out", func(t *testing.T) {
			dr := b.draft("Untimed way out")
			dr.States[1].Timeout = durationpb.New(time.Hour)
			dr.Transitions[2].OnTimeout = false
			res, err := b.design.ValidateWorkflow(ctx, connect.NewRequest(&flowhookv1.ValidateWorkflowRequest{Workflow: dr}))
			require.NoError(t, err)
			require.Len(t, res.Msg.GetProblems(), 1)
			require.Equal(t, "states[1].timeout", res.Msg.GetProblems()[0].GetPath())
			require.Contains(t, res.Msg.GetProblems()[0].GetMessage(), "on_timeout")
			dr.States[2].Timeout = durationpb.New(time.Hour)
			dr.Transitions[2].OnTimeout = true
			res, err = b.design.ValidateWorkflow(ctx, connect.NewRequest(&flowhookv1.ValidateWorkflowRequest{Workflow: dr}))
			require.NoError(t, err)
			require.Len(t, res.Msg.GetProblems(), 1)
			require.Equal(t, "states[2].timeout", res.Msg.GetProblems()[0].GetPath())
			require.Contains(t, res.Msg.GetProblems()[0].GetMessage(), "OUTCOME_EXPIRED")
		})
	})
}

// TestTimerSurvivesRestart: the server that set the timer stops before the deadline; the one
// started after it on the same database fires it.
func TestTimerSurvivesRestart(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setup(t, d)
		wf := timedWorkflow(t, b, 2*time.Second, 0)
		in := startTimed(t, b.clients, wf)
		b.stop()
		r := b.replica(t)
		require.Eventually(t, func() bool {
			return flowsGet(r.clients, in.GetId()).GetStatus() == flowhookv1.InstanceStatus_INSTANCE_STATUS_COMPLETED
		}, flowsRetryWait, flowsTick, "the timer was lost with the server that set it")
		acts := flowsActivity(t, r.clients, in.GetId())
		require.Equal(t, 1, countKind(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_TIMED_OUT), flowsTimeline(acts))
	})
}

// TestTimerFiresOnceOnTwoReplicas: the replica that set the timer and another that armed it at
// its start both fire it at the deadline, and the durable job runs too; one firing takes
// effect.
func TestTimerFiresOnceOnTwoReplicas(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setup(t, d)
		wf := timedWorkflow(t, b, 3*time.Second, 0)
		done := timerJobsDone(t, b)
		var ids []string
		for range 5 {
			ids = append(ids, startTimed(t, b.clients, wf).GetId())
		}
		r := b.replica(t) // arms the timers due within seconds as it starts
		require.Eventually(t, func() bool { return timerJobsDone(t, b) >= done+len(ids) }, flowsRetryWait, flowsTick)
		for _, id := range ids {
			got := flowsGet(r.clients, id)
			require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_COMPLETED, got.GetStatus())
			acts := flowsActivity(t, b.clients, id)
			require.Equal(t, 1, countKind(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_TIMED_OUT), flowsTimeline(acts))
			require.Len(t, flowsFind(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_COMPLETED, ""), 1, flowsTimeline(acts))
		}
	})
}

// TestExternalTimeout: the signature's timeout is the outcome EXPIRED: the EXPIRED route is
// taken, the envelope is voided at DocuSign with a reason naming the timeout, and DocuSign's
// notification of the void, arriving after, is STALE.
func TestExternalTimeout(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setupDocuSign(t, d)
		ctx := context.Background()
		wf := timedWorkflow(t, b.testBundle, time.Hour, 2*time.Second)
		in := startTimed(t, b.starter, wf)
		_, err := b.member.instances.TakeTransition(ctx, connect.NewRequest(&flowhookv1.TakeTransitionRequest{InstanceId: in.GetId(), TransitionKey: "approve"}))
		require.NoError(t, err)
		var envID string
		require.Eventually(t, func() bool {
			envID = flowsGet(b.clients, in.GetId()).GetWorkItem().GetExternalId()
			return envID != ""
		}, flowsRetryWait, flowsTick, "the envelope was never coupled")

		got := b.settled(t, in.GetId(), "rejected")
		require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_COMPLETED, got.GetStatus())
		require.Equal(t, "EXPIRED", got.GetWorkItem().GetStatus())
		require.Equal(t, flowhookv1.Outcome_OUTCOME_EXPIRED, got.GetWorkItem().GetOutcome())
		acts := flowsActivity(t, b.clients, in.GetId())
		fired := flowsFind(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_TIMED_OUT, "")
		require.Len(t, fired, 1, flowsTimeline(acts))
		require.Contains(t, acts[fired[0]].GetMessage(), "outcome EXPIRED")
		require.Equal(t, "expired", acts[fired[0]+1].GetTransitionKey())

		require.Eventually(t, func() bool {
			status, ok := b.fake.EnvelopeStatus(envID)
			return ok && status == "voided"
		}, flowsRetryWait, flowsTick, "the envelope was never voided")
		require.Eventually(t, func() bool {
			res, err := b.eventLog.ListEvents(ctx, connect.NewRequest(&flowhookv1.ListEventsRequest{
				Filter: &flowhookv1.EventFilter{ExternalId: envID, EventType: "envelope-voided"}}))
			return err == nil && len(res.Msg.GetEvents()) == 1 && res.Msg.GetEvents()[0].GetVerdict() == flowhookv1.Verdict_VERDICT_STALE
		}, flowsRetryWait, flowsTick, "the void's notification is not STALE")
		require.Equal(t, "EXPIRED", flowsGet(b.clients, in.GetId()).GetWorkItem().GetStatus(), "a late webhook changes nothing")
		// The cancel job records the void once DocuSign has answered it.
		require.Eventually(t, func() bool {
			acts = flowsActivity(t, b.clients, in.GetId())
			return len(flowsFind(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_EXTERNAL_PROGRESS, "voided DOCUSIGN "+envID)) == 1
		}, flowsRetryWait, flowsTick, "the void is not in the timeline")
		require.Equal(t, "EXPIRED", flowsGet(b.clients, in.GetId()).GetWorkItem().GetStatus(), "voided, still EXPIRED")
	})
}

// TestTimerMetrics: the timers that take effect are counted by path and their lateness is
// measured, on /metrics.
func TestTimerMetrics(t *testing.T) {
	t.Parallel()
	tel, err := telemetry.New(noop.NewTracerProvider())
	require.NoError(t, err)
	b := setupWith(t, store.Postgres, tel, nil)
	wf := timedWorkflow(t, b, time.Second, 0)
	in := startTimed(t, b.clients, wf)
	require.Eventually(t, func() bool {
		return flowsGet(b.clients, in.GetId()).GetStatus() == flowhookv1.InstanceStatus_INSTANCE_STATUS_COMPLETED
	}, flowsRetryWait, flowsTick, "the timer never fired")
	// Counted as the firing returns, a moment after it committed.
	require.Eventually(t, func() bool {
		measured, _ := scrape(t, b, "flowhook_timer_lateness_seconds_count")
		return measured == 1
	}, flowsRetryWait, flowsTick, "the firing was not measured")
	alarm, _ := scrape(t, b, "flowhook_timers_fired_total", `path="alarm"`)
	job, _ := scrape(t, b, "flowhook_timers_fired_total", `path="job"`)
	require.Equal(t, 1.0, alarm+job, "one timer took effect, by one path")
}
