package api_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/jaegertest"
	"github.com/flowhook/flowhook/server/internal/store"
	"github.com/flowhook/flowhook/server/internal/telemetry"
	"github.com/flowhook/flowhook/server/internal/webhook"
)

// TestWebhookTraceInJaeger runs a DocuSign flow with the Webhook Receiver debug option on,
// exporting over OTLP to a real Jaeger, and reads the webhook's trace back from Jaeger's HTTP
// API the way an operator would: by the envelope's id. The processing span must reference the
// transition that created the envelope (in another trace) and carry the debug steps.
func TestWebhookTraceInJaeger(t *testing.T) {
	t.Parallel()
	j := jaegertest.Start(t)
	ctx := context.Background()
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(j.OTLPTracesURL()))
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(50*time.Millisecond)),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName(telemetry.ServiceName))))
	t.Cleanup(func() { require.NoError(t, tp.Shutdown(context.Background())) })
	tel, err := telemetry.New(tp)
	require.NoError(t, err)

	b := setupDocuSignWith(t, store.Postgres, tel, nil)
	b.enableDebug(t)
	id, envID := b.toSignature(t)
	require.NoError(t, b.fake.Complete(envID))
	b.settled(t, id, "done")
	require.NoError(t, tp.ForceFlush(ctx))

	// The operator's search: the service and the envelope's id.
	var webhookTrace jaegertest.Trace
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		traces, err := j.FindTraces(ctx, telemetry.ServiceName, map[string]string{
			"flowhook.external_id": envID, "flowhook.event.type": "envelope-completed"}, 20)
		require.NoError(c, err)
		require.Len(c, traces, 1)
		require.Len(c, traces[0].SpansNamed(webhook.SpanName), 1)
		require.Len(c, traces[0].SpansNamed("webhook.process"), 1)
		webhookTrace = traces[0]
	}, 20*time.Second, 50*time.Millisecond, "Jaeger output:\n%s", j.Output())

	ingest := webhookTrace.SpansNamed(webhook.SpanName)[0]
	_, hasParent := ingest.Parent()
	require.False(t, hasParent, "the webhook request is the root of its trace")
	for key, want := range map[string]string{"flowhook.provider": "DOCUSIGN", "flowhook.webhook.verdict": "APPLIED",
		"flowhook.instance_id": id, "http.response.status_code": "200", "span.kind": "server"} {
		got, ok := ingest.Tag(key)
		require.True(t, ok, "tag %s missing from %v", key, ingest.Tags)
		require.Equal(t, want, got, key)
	}
	require.Subset(t, eventNames(ingest), []string{"webhook.received", "webhook.authenticated", "webhook.parsed"})

	process := webhookTrace.SpansNamed("webhook.process")[0]
	parent, ok := process.Parent()
	require.True(t, ok, "references: %v", process.References)
	require.Equal(t, ingest.SpanID, parent.SpanID)
	require.Equal(t, []string{"webhook.matched", "webhook.outcome", "webhook.transition", "webhook.verdict"}, eventNames(process))
	for _, e := range process.Events() {
		require.NotEmpty(t, e.Attributes["flowhook.message"], e.Name)
	}

	// The transition that created the envelope, days earlier in real life: its own trace.
	var approve jaegertest.Span
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		traces, err := j.FindTraces(ctx, telemetry.ServiceName, map[string]string{"rpc.method": "flowhook.v1.WorkflowInstanceService/TakeTransition"}, 20)
		require.NoError(c, err)
		require.Len(c, traces, 1)
		spans := traces[0].SpansNamed("flowhook.v1.WorkflowInstanceService/TakeTransition")
		require.Len(c, spans, 1)
		approve = spans[0]
	}, 20*time.Second, 50*time.Millisecond)
	require.NotEqual(t, approve.TraceID, process.TraceID)
	var links []jaegertest.Reference
	for _, r := range process.References {
		if r.RefType == jaegertest.FollowsFrom {
			links = append(links, r)
		}
	}
	require.Contains(t, links, jaegertest.Reference{RefType: jaegertest.FollowsFrom, TraceID: approve.TraceID, SpanID: approve.SpanID},
		"the processing span links to the transition that created the work item")
	require.Len(t, links, 1, "the request that delivered the notification is the parent")

	// The Event Log names the same trace: an admin can jump from one to the other.
	listed, err := b.eventLog.ListEvents(ctx, connect.NewRequest(&flowhookv1.ListEventsRequest{
		Filter: &flowhookv1.EventFilter{ExternalId: envID, EventType: "envelope-completed"}}))
	require.NoError(t, err)
	require.Len(t, listed.Msg.GetEvents(), 1)
	require.Equal(t, webhookTrace.TraceID, listed.Msg.GetEvents()[0].GetTraceId())
	full, err := j.GetTrace(ctx, listed.Msg.GetEvents()[0].GetTraceId())
	require.NoError(t, err)
	require.Equal(t, webhookTrace.TraceID, full.TraceID)
}

func eventNames(s jaegertest.Span) []string {
	var out []string
	for _, e := range s.Events() {
		out = append(out, e.Name)
	}
	return slices.Clip(out)
}
