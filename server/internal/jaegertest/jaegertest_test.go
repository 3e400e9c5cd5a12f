package jaegertest_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowhook/flowhook/server/internal/jaegertest"
)

func TestJaegerStoresWhatOTLPExports(t *testing.T) {
	j := jaegertest.Start(t)
	ctx := context.Background()

	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(j.OTLPTracesURL()))
	require.NoError(t, err)
	const service = "jaegertest-service"
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSyncer(exp),
		sdktrace.WithResource(resource.NewSchemaless(
			semconv.ServiceName(service), attribute.String("deployment.environment.name", "test"))),
	)
	t.Cleanup(func() { require.NoError(t, tp.Shutdown(context.Background())) })
	tracer := tp.Tracer("jaegertest")

	// The trace the link points to: one span on its own.
	_, other := tracer.Start(ctx, "other-root")
	other.End()
	linked := other.SpanContext()

	// The trace under test: a root, and a child with an event and a link to the other trace.
	rootCtx, root := tracer.Start(ctx, "root", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("test.case", t.Name()), attribute.Int64("test.count", 42),
			attribute.Bool("test.flag", true)))
	_, child := tracer.Start(rootCtx, "child", trace.WithLinks(trace.Link{
		SpanContext: linked,
		Attributes:  []attribute.KeyValue{attribute.String("link.reason", "retry")},
	}))
	child.AddEvent("delivery.attempt", trace.WithAttributes(
		attribute.String("http.status", "503"), attribute.Int("attempt", 2)))
	child.End()
	root.End()
	exported := time.Now()
	require.NoError(t, tp.ForceFlush(ctx))

	// Jaeger stores spans asynchronously: poll the search, filtered by a tag of the root only.
	var traces []jaegertest.Trace
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		found, err := j.FindTraces(ctx, service, map[string]string{"test.case": t.Name()}, 10)
		if assert.NoError(c, err) && assert.Len(c, found, 1) && assert.Len(c, found[0].Spans, 2) {
			traces = found
		}
	}, 20*time.Second, 20*time.Millisecond, "the trace never became queryable")
	t.Logf("trace queryable %v after the flush", time.Since(exported).Round(time.Millisecond))
	tr := traces[0]
	require.Equal(t, root.SpanContext().TraceID().String(), tr.TraceID)
	raw, err := json.MarshalIndent(tr, "", "  ")
	require.NoError(t, err)
	t.Logf("Jaeger's trace:\n%s", raw)

	require.Len(t, tr.SpansNamed("root"), 1)
	require.Len(t, tr.SpansNamed("child"), 1)
	require.Empty(t, tr.SpansNamed("other-root"))
	r, c := tr.SpansNamed("root")[0], tr.SpansNamed("child")[0]
	require.Equal(t, service, tr.ServiceName(r))

	// Attributes are tags; Tag renders any type as a string.
	for key, want := range map[string]string{
		"test.case": t.Name(), "test.count": "42", "test.flag": "true", "span.kind": "server",
	} {
		got, ok := r.Tag(key)
		require.True(t, ok, "tag %s missing", key)
		require.Equal(t, want, got, "tag %s", key)
	}
	_, ok := r.Tag("no.such.tag")
	require.False(t, ok)

	// The parent is a CHILD_OF reference; the link a FOLLOWS_FROM one to the other trace's span.
	parent, ok := c.Parent()
	require.True(t, ok)
	require.Equal(t, jaegertest.Reference{RefType: jaegertest.ChildOf, TraceID: tr.TraceID, SpanID: r.SpanID}, parent)
	require.Contains(t, c.References, jaegertest.Reference{
		RefType: jaegertest.FollowsFrom, TraceID: linked.TraceID().String(), SpanID: linked.SpanID().String(),
	})
	require.Len(t, c.References, 2)

	// The event is a log with its name in the "event" field.
	events := c.Events()
	require.Len(t, events, 1)
	require.Equal(t, "delivery.attempt", events[0].Name)
	require.Equal(t, map[string]string{"http.status": "503", "attempt": "2"}, events[0].Attributes)
	require.WithinDuration(t, exported, events[0].Time, time.Minute)

	// The other trace is there too, by ID; an unknown ID is ErrTraceNotFound.
	ot, err := j.GetTrace(ctx, linked.TraceID().String())
	require.NoError(t, err)
	require.Len(t, ot.SpansNamed("other-root"), 1)
	require.Equal(t, linked.SpanID().String(), ot.Spans[0].SpanID)
	_, err = j.GetTrace(ctx, "0123456789abcdef0123456789abcdef")
	require.ErrorIs(t, err, jaegertest.ErrTraceNotFound)

	// A tag no span has matches nothing.
	none, err := j.FindTraces(ctx, service, map[string]string{"test.case": "no such case"}, 10)
	require.NoError(t, err)
	require.Empty(t, none)
}
