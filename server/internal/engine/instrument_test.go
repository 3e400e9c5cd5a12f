package engine_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/flowhook/flowhook/server/internal/engine"
)

// measured is External instrumented with a span recorder and a metric reader.
type measured struct {
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
}

func instrument(t *testing.T, x *engine.External) measured {
	t.Helper()
	m := measured{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(m.spans))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	require.NoError(t, x.Instrument(tp, sdkmetric.NewMeterProvider(sdkmetric.WithReader(m.reader))))
	return m
}

// points sums a metric's data points by one attribute's value (counters and histograms' counts).
func (m measured) points(t *testing.T, name, key string) map[string]int64 {
	t.Helper()
	return metricPoints(t, m.reader, name, key)
}

// metricPoints sums the data points of the metric name that reader collects by the value of
// their attribute key (counters' values, histograms' counts).
func metricPoints(t *testing.T, reader *sdkmetric.ManualReader, name, key string) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, mt := range sm.Metrics {
			if mt.Name != name {
				continue
			}
			switch d := mt.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					v, _ := dp.Attributes.Value(attribute.Key(key))
					out[v.AsString()] += dp.Value
				}
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					v, _ := dp.Attributes.Value(attribute.Key(key))
					out[v.AsString()] += int64(dp.Count)
				}
			}
		}
	}
	return out
}

// processSpans returns the ended webhook.process spans' verdicts, in order.
func (m measured) processSpans() []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range m.spans.Ended() {
		if s.Name() == "webhook.process" {
			out = append(out, s)
		}
	}
	return out
}

func spanAttr(s sdktrace.ReadOnlySpan, key string) string {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.Emit()
		}
	}
	return ""
}

// TestRedeliveryIsMeasuredAsDuplicate: a notification delivered again, decided as it arrives
// before its insert finds the first, applied nothing: its processing span and the processing
// histogram say DUPLICATE, not the verdict decided for it, and the progress is applied once.
func TestRedeliveryIsMeasuredAsDuplicate(t *testing.T) {
	t.Parallel()
	b := setupRoute(t, nil)
	m := instrument(t, b.external)
	at := time.Now()
	_, created := b.deliver(t, "envelope-delivered", "k-delivered", at)
	require.True(t, created)
	_, created = b.deliver(t, "envelope-delivered", "k-delivered", at)
	require.False(t, created, "a redelivery")

	spans := m.processSpans()
	require.Len(t, spans, 2)
	require.Equal(t, "PROGRESS", spanAttr(spans[0], "flowhook.webhook.verdict"))
	require.Equal(t, "DUPLICATE", spanAttr(spans[1], "flowhook.webhook.verdict"))
	require.Equal(t, map[string]int64{"progress": 1, "duplicate": 1}, m.points(t, "flowhook.webhook.process.duration", "verdict"))
	progress := 0
	for _, a := range b.store.activities(b.instance.ID) {
		if a.Kind == engine.ActivityExternalProgress && a.Message == "DOCUSIGN reported envelope-delivered" {
			progress++
		}
	}
	require.Equal(t, 1, progress, "applied once")
}

// TestConflictIsNotAFailure: a notification whose work item changed between its read and its
// write is read again and applied; the attempt that conflicted is not an error in its span nor
// measured (the one that saved is).
func TestConflictIsNotAFailure(t *testing.T) {
	t.Parallel()
	b := setupRoute(t, nil)
	m := instrument(t, b.external)
	var once sync.Once
	b.inbox.gate = func() {
		once.Do(func() { // another replica moves the work item first
			b.inbox.mu.Lock()
			defer b.inbox.mu.Unlock()
			wi := b.inbox.items[b.workItem.ID]
			wi.Revision++
			b.inbox.items[b.workItem.ID] = wi
		})
	}
	ev, created := b.deliver(t, "envelope-completed", "k-completed", time.Now())
	require.True(t, created)
	require.Equal(t, engine.VerdictApplied, ev.Verdict)

	spans := m.processSpans()
	require.Len(t, spans, 2, "read again once")
	require.Equal(t, "CONFLICT", spanAttr(spans[0], "flowhook.webhook.verdict"))
	require.Equal(t, "APPLIED", spanAttr(spans[1], "flowhook.webhook.verdict"))
	for _, s := range spans {
		require.NotEqual(t, codes.Error, s.Status().Code, "not a failure")
	}
	require.Equal(t, map[string]int64{"applied": 1}, m.points(t, "flowhook.webhook.process.duration", "verdict"))
}

// TestGivenUpIsCounted: a callback stored PENDING whose read-back failed on every attempt of
// its job is given up (IGNORED): that is its final verdict, counted in flowhook.webhooks once
// (a second give-up, or one of an event decided meanwhile, counts nothing).
func TestGivenUpIsCounted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, client, x := oneSpanRoute(t)
	m := instrument(t, x)
	refused := error(&engine.ProviderError{HTTPStatus: 401, Message: "Invalid API key."})
	client.fail.Store(&refused)
	ev := b.callback(t, x)
	_, err := x.Process(ctx, ev.ID)
	require.Error(t, err)
	require.NoError(t, x.GiveUp(ctx, ev.ID, engine.ProcessEventAttempts, err))
	require.Equal(t, engine.VerdictIgnored, b.inbox.event(t, "cb-1").Verdict)
	require.NoError(t, x.GiveUp(ctx, ev.ID, engine.ProcessEventAttempts, errors.New("again")))
	require.Equal(t, map[string]int64{"ignored": 1}, m.points(t, "flowhook.webhooks", "verdict"))
}
