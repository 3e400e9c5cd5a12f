package api_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/dbtest"
)

// BenchmarkEnvelopeCreation measures how long an instance that enters a DocuSign state waits for
// its envelope, on each database: from the answer to the TakeTransition that entered the state
// to the work item coupled to the envelope the create job made at the fake (the job's fetch,
// the PDF, DocuSign's create call, the coupling commit). One instance at a time; p50 and p99.
func BenchmarkEnvelopeCreation(b *testing.B) {
	for _, d := range dbtest.Dialects {
		b.Run(string(d), func(b *testing.B) {
			bundle := setupDocuSign(b, d)
			ctx := context.Background()
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				started, err := bundle.starter.instances.StartInstance(ctx, connect.NewRequest(validStart(b, bundle.workflowID)))
				if err != nil {
					b.Fatal(err)
				}
				id := started.Msg.GetInstance().GetId()
				if _, err := bundle.member.instances.TakeTransition(ctx, connect.NewRequest(&flowhookv1.TakeTransitionRequest{InstanceId: id, TransitionKey: "approve"})); err != nil {
					b.Fatal(err)
				}
				entered := time.Now()
				require.Eventually(b, func() bool {
					got, err := bundle.instances.GetInstance(ctx, connect.NewRequest(&flowhookv1.GetInstanceRequest{InstanceId: id}))
					return err == nil && got.Msg.GetInstance().GetWorkItem().GetExternalId() != ""
				}, 30*time.Second, time.Millisecond, "instance %s: no envelope", id)
				lat = append(lat, time.Since(entered))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}
