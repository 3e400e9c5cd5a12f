package api_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/structpb"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/store"
)

// TestStartInstanceIdempotency: StartInstance with a request id used before answers the
// instance it started when the input is the same, and is AlreadyExists when it is not (as
// Stripe refuses a reused idempotency key), even after the instance's form data changed.
func TestStartInstanceIdempotency(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setup(t, d)
		p := newPeople(t, b)
		ctx := context.Background()

		// A workflow whose review form changes the amount the start form gave.
		draft := b.draft("Amended contract")
		draft.States[1].FormFields = []*flowhookv1.FormField{{Name: "amount", Type: flowhookv1.FieldType_FIELD_TYPE_NUMBER}}
		wf, err := b.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: draft}))
		require.NoError(t, err)
		workflowID := wf.Msg.GetWorkflow().GetId()
		_, err = b.design.PublishWorkflow(ctx, connect.NewRequest(&flowhookv1.PublishWorkflowRequest{WorkflowId: workflowID, ExpectedRevision: 1}))
		require.NoError(t, err)

		request := func() *flowhookv1.StartInstanceRequest {
			req := validStart(t, workflowID)
			req.RequestId = "po-2024-0042"
			return req
		}
		start := func(c clients, req *flowhookv1.StartInstanceRequest) (*flowhookv1.Instance, error) {
			res, err := c.instances.StartInstance(ctx, connect.NewRequest(req))
			if err != nil {
				return nil, err
			}
			return res.Msg.GetInstance(), nil
		}
		first, err := start(p.starter, request())
		require.NoError(t, err)

		again, err := start(p.starter, request())
		require.NoError(t, err)
		require.Equal(t, first.GetId(), again.GetId(), "the same input answers the first instance")

		for name, change := range map[string]func(*flowhookv1.StartInstanceRequest){
			"form data":      func(r *flowhookv1.StartInstanceRequest) { r.FormData.Fields["amount"] = structpb.NewNumberValue(99) },
			"form data left": func(r *flowhookv1.StartInstanceRequest) { delete(r.FormData.Fields, "amount") },
			"transition key": func(r *flowhookv1.StartInstanceRequest) { r.TransitionKey = "submit" },
			"version":        func(r *flowhookv1.StartInstanceRequest) { r.Version = 1 },
			"workflow":       func(r *flowhookv1.StartInstanceRequest) { r.WorkflowId = p.workflowID },
		} {
			req := request()
			change(req)
			_, err := start(p.starter, req)
			cerr := requireCode(t, err, connect.CodeAlreadyExists)
			require.Contains(t, cerr.Message(), `request_id "po-2024-0042" was already used to start instance `+first.GetId(), name)
			require.Contains(t, cerr.Message(), "use a new request id", name)
		}
		list, err := b.instances.ListInstances(ctx, connect.NewRequest(&flowhookv1.ListInstancesRequest{
			Filter: &flowhookv1.InstanceFilter{WorkflowId: workflowID}}))
		require.NoError(t, err)
		require.EqualValues(t, 1, list.Msg.GetTotalSize(), "refused requests started nothing")

		// The review changes the instance's form data; the first request still answers it.
		took, err := p.member.instances.TakeTransition(ctx, connect.NewRequest(&flowhookv1.TakeTransitionRequest{
			InstanceId: first.GetId(), TransitionKey: "reject", FormData: form(t, map[string]any{"amount": 900.0})}))
		require.NoError(t, err)
		require.InDelta(t, 900.0, took.Msg.GetInstance().GetFormData().AsMap()["amount"], 0)
		again, err = start(p.starter, request())
		require.NoError(t, err)
		require.Equal(t, first.GetId(), again.GetId())
		require.InDelta(t, 900.0, again.GetFormData().AsMap()["amount"], 0, "the instance as it is now")

		// The same request id of another user is another request.
		other, err := start(p.member, request())
		require.NoError(t, err)
		require.NotEqual(t, first.GetId(), other.GetId())
	})
}

// TestStartInstanceIdempotencyRace: two StartInstance calls with one request id and different
// input, at once, through two servers: one starts an instance, the other is AlreadyExists.
func TestStartInstanceIdempotencyRace(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setup(t, d)
		p := newPeople(t, b)
		r := b.replica(t)
		ctx := context.Background()
		const rounds = 5
		for round := range rounds {
			id := fmt.Sprintf("race-%d", round)
			ids := make([]string, 2)
			errs := make([]error, 2)
			var wg sync.WaitGroup
			for i := range 2 {
				req := validStart(t, p.workflowID)
				req.RequestId = id
				req.FormData.Fields["amount"] = structpb.NewNumberValue(float64(100 + i))
				c := p.starter
				if i == 1 {
					c = r.clientsWith(p.starter.opts...)
				}
				wg.Go(func() {
					res, err := c.instances.StartInstance(ctx, connect.NewRequest(req))
					errs[i] = err
					if err == nil {
						ids[i] = res.Msg.GetInstance().GetId()
					}
				})
			}
			wg.Wait()
			winner := -1
			for i, err := range errs {
				if err == nil {
					require.Equal(t, -1, winner, "round %d: both started an instance", round)
					winner = i
					continue
				}
				cerr := requireCode(t, err, connect.CodeAlreadyExists)
				require.Contains(t, cerr.Message(), "with other input")
			}
			require.NotEqual(t, -1, winner, "round %d: neither started an instance", round)
			// The winner's input is what the id stands for from now on.
			req := validStart(t, p.workflowID)
			req.RequestId = id
			req.FormData.Fields["amount"] = structpb.NewNumberValue(float64(100 + winner))
			again, err := p.starter.instances.StartInstance(ctx, connect.NewRequest(req))
			require.NoError(t, err)
			require.Equal(t, ids[winner], again.Msg.GetInstance().GetId())
		}
		list, err := b.instances.ListInstances(ctx, connect.NewRequest(&flowhookv1.ListInstancesRequest{}))
		require.NoError(t, err)
		require.EqualValues(t, rounds, list.Msg.GetTotalSize())
	})
}
