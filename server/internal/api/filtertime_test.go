package api_test

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/store"
)

// TestFilterZeroTime: a list filter's time bound at 0001-01-01T00:00:00Z, the zero time the
// store reads as no bound, is refused at its field instead of being dropped (an upper bound
// there would list every row); unset is no bound, and any later time is a bound.
func TestFilterZeroTime(t *testing.T) {
	t.Parallel()
	b := setup(t, store.SQLite)
	ctx := context.Background()
	zero := timestamppb.New(time.Time{})
	require.Equal(t, "0001-01-01T00:00:00Z", zero.AsTime().Format(time.RFC3339))

	_, err := b.eventLog.ListEvents(ctx, connect.NewRequest(&flowhookv1.ListEventsRequest{Filter: &flowhookv1.EventFilter{Until: zero}}))
	require.Contains(t, problems(t, requireCode(t, err, connect.CodeInvalidArgument)), "filter.until")
	_, err = b.eventLog.ListEvents(ctx, connect.NewRequest(&flowhookv1.ListEventsRequest{Filter: &flowhookv1.EventFilter{Since: zero}}))
	require.Contains(t, problems(t, requireCode(t, err, connect.CodeInvalidArgument)), "filter.since")
	_, err = b.instances.ListInstances(ctx, connect.NewRequest(&flowhookv1.ListInstancesRequest{Filter: &flowhookv1.InstanceFilter{CreatedBefore: zero}}))
	require.Contains(t, problems(t, requireCode(t, err, connect.CodeInvalidArgument)), "filter.created_before")
	_, err = b.instances.ListInstances(ctx, connect.NewRequest(&flowhookv1.ListInstancesRequest{Filter: &flowhookv1.InstanceFilter{OverdueBefore: zero}}))
	require.Contains(t, problems(t, requireCode(t, err, connect.CodeInvalidArgument)), "filter.overdue_before")
	_, err = b.instances.ListInstances(ctx, connect.NewRequest(&flowhookv1.ListInstancesRequest{Filter: &flowhookv1.InstanceFilter{CreatedAfter: zero}}))
	require.Contains(t, problems(t, requireCode(t, err, connect.CodeInvalidArgument)), "filter.created_after")

	// A second later is a bound.
	early := timestamppb.New(time.Time{}.Add(time.Second))
	_, err = b.eventLog.ListEvents(ctx, connect.NewRequest(&flowhookv1.ListEventsRequest{Filter: &flowhookv1.EventFilter{Until: early}}))
	require.NoError(t, err)
	list, err := b.instances.ListInstances(ctx, connect.NewRequest(&flowhookv1.ListInstancesRequest{Filter: &flowhookv1.InstanceFilter{CreatedBefore: early, OverdueBefore: early}}))
	require.NoError(t, err)
	require.Empty(t, list.Msg.GetInstances())
}
