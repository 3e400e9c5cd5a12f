package api_test

import (
	"context"
	"testing"

	"connectrpc.com/connect"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/dbtest"
)

// BenchmarkDesign measures the design API end to end — Connect over HTTP/1.1 to a real server
// on each database — per call: create (validate + insert), get, a page of 50, publish.
func BenchmarkDesign(b *testing.B) {
	for _, d := range dbtest.Dialects {
		b.Run(string(d), func(b *testing.B) {
			bundle := setup(b, d)
			ctx := context.Background()
			draft := bundle.draft("Bench")
			var ids []string
			b.Run("CreateWorkflow", func(b *testing.B) {
				for i := 0; b.Loop(); i++ {
					res, err := bundle.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: draft}))
					if err != nil {
						b.Fatal(err)
					}
					ids = append(ids, res.Msg.GetWorkflow().GetId())
				}
			})
			b.Run("GetWorkflow", func(b *testing.B) {
				for i := 0; b.Loop(); i++ {
					if _, err := bundle.design.GetWorkflow(ctx, connect.NewRequest(&flowhookv1.GetWorkflowRequest{WorkflowId: ids[i%len(ids)]})); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("ListWorkflows50", func(b *testing.B) {
				for b.Loop() {
					if _, err := bundle.design.ListWorkflows(ctx, connect.NewRequest(&flowhookv1.ListWorkflowsRequest{PageSize: 50, NameFilter: "bench"})); err != nil {
						b.Fatal(err)
					}
				}
			})
			// Each iteration saves a new draft revision and publishes it as the next version.
			b.Run("UpdateAndPublish", func(b *testing.B) {
				// From the workflow's current revision: with -count, this runs again on it.
				id := ids[0]
				cur, err := bundle.design.GetWorkflow(ctx, connect.NewRequest(&flowhookv1.GetWorkflowRequest{WorkflowId: id}))
				if err != nil {
					b.Fatal(err)
				}
				rev := cur.Msg.GetWorkflow().GetRevision()
				for b.Loop() {
					if _, err := bundle.design.UpdateWorkflow(ctx, connect.NewRequest(&flowhookv1.UpdateWorkflowRequest{WorkflowId: id, Workflow: draft, ExpectedRevision: rev})); err != nil {
						b.Fatal(err)
					}
					rev++
					if _, err := bundle.design.PublishWorkflow(ctx, connect.NewRequest(&flowhookv1.PublishWorkflowRequest{WorkflowId: id, ExpectedRevision: rev})); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
