package api_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/types/known/durationpb"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/store"
	"github.com/flowhook/flowhook/server/internal/telemetry"
	"github.com/flowhook/flowhook/server/internal/webhook"
)

// tracedDocuSign is a DocuSign bundle whose spans are recorded in memory.
func tracedDocuSign(t *testing.T, d store.Dialect) (docuSignBundle, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { require.NoError(t, tp.Shutdown(context.Background())) })
	tel, err := telemetry.New(tp)
	require.NoError(t, err)
	return setupDocuSignWith(t, d, tel, nil), rec
}

// enableDebug turns the Webhook Receiver debug option on.
func (b docuSignBundle) enableDebug(t testing.TB) { b.setDebug(t, true) }

// setDebug sets the Webhook Receiver debug option (this server applies it at once).
func (b docuSignBundle) setDebug(t testing.TB, on bool) {
	t.Helper()
	ctx := context.Background()
	cur, err := b.settings.GetSecuritySettings(ctx, connect.NewRequest(&flowhookv1.GetSecuritySettingsRequest{}))
	require.NoError(t, err)
	_, err = b.settings.UpdateSecuritySettings(ctx, connect.NewRequest(&flowhookv1.UpdateSecuritySettingsRequest{
		WebhookReceiverDebug: on, ExpectedRevision: cur.Msg.GetSettings().GetRevision()}))
	require.NoError(t, err)
}

// spansNamed returns the ended spans with the name whose attribute key has the value.
func spansNamed(rec *tracetest.SpanRecorder, name, key, value string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() != name {
			continue
		}
		for _, a := range s.Attributes() {
			if string(a.Key) == key && a.Value.Emit() == value {
				out = append(out, s)
			}
		}
	}
	return out
}

func attr(s sdktrace.ReadOnlySpan, key string) string {
	for _, a := range s.Attributes() {
		if string(a.Key) == key {
			return a.Value.Emit()
		}
	}
	return ""
}

func linkTo(links []sdktrace.Link, kind string) (trace.SpanContext, bool) {
	for _, l := range links {
		for _, a := range l.Attributes {
			if a.Key == "flowhook.link" && a.Value.AsString() == kind {
				return l.SpanContext, true
			}
		}
	}
	return trace.SpanContext{}, false
}

// TestWebhookTraces follows a DocuSign envelope through the spans: the transition that created
// it, the webhook request (a new trace, with the debug steps as events), and the processing
// span that links back to both; and searches every span for secrets.
func TestWebhookTraces(t *testing.T) {
	t.Parallel()
	b, rec := tracedDocuSign(t, store.Postgres)
	b.enableDebug(t)
	ctx := context.Background()

	id, envID := b.toSignature(t)
	require.NoError(t, b.fake.Complete(envID))
	b.settled(t, id, "done")
	// A span ends just after what it did became visible (a job's after its commit, a request's
	// after its answer): wait until those read below have ended.
	require.Eventually(t, func() bool {
		var job, ingest, process bool
		for _, s := range rec.Ended() {
			mine := attr(s, "flowhook.external_id") == envID
			switch s.Name() {
			case "create_work_item":
				job = true
			case webhook.SpanName:
				ingest = ingest || mine && attr(s, "flowhook.event.type") == "envelope-completed"
			case "webhook.process":
				process = process || mine && attr(s, "flowhook.webhook.verdict") == "APPLIED"
			}
		}
		return job && ingest && process
	}, 20*time.Second, 10*time.Millisecond, "the spans of the envelope's story never all ended")

	// The transition that entered the DocuSign state: its span is the work item's origin.
	var approve sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == "flowhook.v1.WorkflowInstanceService/TakeTransition" {
			approve = s
		}
	}
	require.NotNil(t, approve, "the TakeTransition RPC is a span")

	// The in-process creation is a span (as a job's would be) linked to the transition that
	// entered the state.
	var created bool
	for _, s := range rec.Ended() {
		if s.Name() == "create_work_item" {
			require.Equal(t, "inprocess", attr(s, "flowhook.create.path"))
			link, ok := linkTo(s.Links(), "work_item.created")
			created = created || ok && link.TraceID() == approve.SpanContext().TraceID() && link.SpanID() == approve.SpanContext().SpanID()
		}
	}
	require.True(t, created, "the create_work_item span links to the transition")

	// Each webhook request is a server span in a trace of its own.
	ingests := spansNamed(rec, webhook.SpanName, "flowhook.external_id", envID)
	require.NotEmpty(t, ingests)
	var completed sdktrace.ReadOnlySpan
	for _, s := range ingests {
		require.Equal(t, trace.SpanKindServer, s.SpanKind())
		require.False(t, s.Parent().IsValid(), "a public endpoint starts a new trace")
		require.Equal(t, "DOCUSIGN", attr(s, "flowhook.provider"))
		require.Equal(t, "200", attr(s, "http.response.status_code"))
		require.NotEmpty(t, attr(s, "flowhook.event.id"))
		if attr(s, "flowhook.event.type") == "envelope-completed" {
			completed = s
		}
	}
	require.NotNil(t, completed, "the envelope-completed notification")
	require.Equal(t, "APPLIED", attr(completed, "flowhook.webhook.verdict"))
	require.Equal(t, id, attr(completed, "flowhook.instance_id"))
	var events []string
	for _, e := range completed.Events() {
		events = append(events, e.Name)
	}
	require.Subset(t, events, []string{"webhook.received", "webhook.authenticated", "webhook.parsed"}, "the debug steps are span events")

	// The processing span is a child of the request, linked to the transition that created the
	// envelope.
	var process sdktrace.ReadOnlySpan
	for _, s := range spansNamed(rec, "webhook.process", "flowhook.external_id", envID) {
		if s.SpanContext().TraceID() == completed.SpanContext().TraceID() {
			process = s
		}
	}
	require.NotNil(t, process, "the processing span of the envelope-completed notification")
	require.Equal(t, completed.SpanContext().SpanID(), process.Parent().SpanID())
	origin, ok := linkTo(process.Links(), "work_item.created")
	require.True(t, ok, "a link to the transition that created the work item")
	require.Equal(t, approve.SpanContext().TraceID(), origin.TraceID())
	require.Equal(t, approve.SpanContext().SpanID(), origin.SpanID())
	_, ok = linkTo(process.Links(), "webhook.received")
	require.False(t, ok, "the request that delivered it is the parent, not a link")
	require.Len(t, process.Links(), 1)
	require.Equal(t, "APPLIED", attr(process, "flowhook.webhook.verdict"))
	require.Equal(t, "signed", attr(process, "flowhook.transition"))
	var steps []string
	for _, e := range process.Events() {
		steps = append(steps, e.Name)
	}
	require.Equal(t, []string{"webhook.matched", "webhook.outcome", "webhook.transition", "webhook.verdict"}, steps)

	// The Event Log entries carry the trace: an admin jumps from the log to Jaeger.
	listed, err := b.eventLog.ListEvents(ctx, connect.NewRequest(&flowhookv1.ListEventsRequest{
		Filter: &flowhookv1.EventFilter{ExternalId: envID, EventType: "envelope-completed"}}))
	require.NoError(t, err)
	require.Len(t, listed.Msg.GetEvents(), 1)
	require.Equal(t, completed.SpanContext().TraceID().String(), listed.Msg.GetEvents()[0].GetTraceId())
	got, err := b.eventLog.GetEvent(ctx, connect.NewRequest(&flowhookv1.GetEventRequest{Id: listed.Msg.GetEvents()[0].GetId()}))
	require.NoError(t, err)
	require.NotEmpty(t, got.Msg.GetEntries())
	for _, e := range got.Msg.GetEntries() {
		require.Equal(t, completed.SpanContext().TraceID().String(), e.GetTraceId(), "%s: %s", e.GetStep(), e.GetMessage())
	}

	// No secret, signature or key anywhere in any span, event or link.
	secrets := append([]string{bootstrapKey, "PRIVATE KEY"}, testHMACKeys...)
	for _, d := range b.fake.Deliveries() {
		for k, v := range d.Header {
			if strings.HasPrefix(strings.ToLower(k), "x-docusign-signature") {
				secrets = append(secrets, v...)
			}
		}
	}
	require.Greater(t, len(secrets), 4, "signatures were sent")
	var values []string
	addAll := func(kvs []attribute.KeyValue) {
		for _, a := range kvs {
			values = append(values, string(a.Key)+"="+a.Value.Emit())
		}
	}
	for _, s := range rec.Ended() {
		values = append(values, s.Name(), s.Status().Description)
		addAll(s.Attributes())
		for _, e := range s.Events() {
			values = append(values, e.Name)
			addAll(e.Attributes)
		}
		for _, l := range s.Links() {
			addAll(l.Attributes)
		}
	}
	all := strings.Join(values, "\n")
	for _, secret := range secrets {
		require.NotContains(t, all, secret)
	}
}

// TestWebhookTraceOfAnEarlyNotification: a notification that beats the coupling is processed
// later (in-process once the coupling commits, or by its job), in a span that still links to
// the request that delivered it and to the transition that created the work item.
func TestWebhookTraceOfAnEarlyNotification(t *testing.T) {
	t.Parallel()
	b, rec := tracedDocuSign(t, store.Postgres)
	b.enableDebug(t)
	ctx := context.Background()

	// DocuSign creates the envelope but its answer is lost, and it completes at once: the
	// notification arrives before flowhook knows the envelope's id.
	// The fake holds the create job's retry (its lookup) until the notification is in.
	b.fake.DropNextCreateResponse()
	release := b.fake.HoldLookups()
	t.Cleanup(release)
	started, err := b.starter.instances.StartInstance(ctx, connect.NewRequest(validStart(t, b.workflowID)))
	require.NoError(t, err)
	id := started.Msg.GetInstance().GetId()
	_, err = b.member.instances.TakeTransition(ctx, connect.NewRequest(&flowhookv1.TakeTransitionRequest{InstanceId: id, TransitionKey: "approve"}))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(b.fake.Envelopes()) == 1 }, 20*time.Second, 10*time.Millisecond)
	envID := b.fake.Envelopes()[0].EnvelopeID
	require.NoError(t, b.fake.Complete(envID))
	release()
	b.settled(t, id, "done")

	// The processing span ends just after its commit, which the instance's state shows first.
	var viaJob sdktrace.ReadOnlySpan
	require.Eventually(t, func() bool {
		for _, s := range spansNamed(rec, "webhook.process", "flowhook.external_id", envID) {
			if attr(s, "flowhook.webhook.verdict") == "APPLIED" && attr(s, "flowhook.process.path") != "inline" {
				viaJob = s
			}
		}
		return viaJob != nil
	}, 20*time.Second, 10*time.Millisecond, "the notification was applied after the coupling")
	_, ok := linkTo(viaJob.Links(), "work_item.created")
	require.True(t, ok)
	ingest, ok := linkTo(viaJob.Links(), "webhook.received")
	require.True(t, ok)
	var delivered bool
	for _, s := range spansNamed(rec, webhook.SpanName, "flowhook.external_id", envID) {
		delivered = delivered || s.SpanContext().SpanID() == ingest.SpanID()
	}
	require.True(t, delivered, "the link leads to the request that delivered the notification")
	// The job's own span (River's middleware), or the in-process one, is the parent; it ends
	// just after the commit.
	parent := map[string]string{"job": "river.work/process_event", "inprocess": "process_event"}[attr(viaJob, "flowhook.process.path")]
	require.NotEmpty(t, parent, attr(viaJob, "flowhook.process.path"))
	require.Eventually(t, func() bool { return parentName(rec, viaJob) == parent }, 20*time.Second, 10*time.Millisecond, "path %s parent %q (%s)", attr(viaJob, "flowhook.process.path"), parentName(rec, viaJob), viaJob.Parent().SpanID())

	// The create job that retried the lost answer can be followed from the attempt that
	// failed: its run links to its insert, made in that attempt's trace.
	var run sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == "river.work/create_work_item" {
			run = s
		}
	}
	require.NotNil(t, run, "the create job ran")
	require.Len(t, run.Links(), 1)
	insert := spanByID(rec, run.Links()[0].SpanContext.SpanID())
	require.NotNil(t, insert, "the job's insert was traced")
	attempt := spanByID(rec, insert.Parent().SpanID())
	require.NotNil(t, attempt, "the insert has a parent")
	require.Equal(t, "create_work_item", attempt.Name())
	require.Equal(t, "inprocess", attr(attempt, "flowhook.create.path"))
	_, ok = linkTo(attempt.Links(), "work_item.created")
	require.True(t, ok, "the attempt links to the transition")
}

// TestTimerCreatedWorkItemIsTraced: a HUMAN state's timeout (fired by the in-process alarm)
// takes its transition into the DocuSign state: the timer's firing has a span, the envelope's
// creation belongs to its trace, and the envelope's webhook links back to it.
func TestTimerCreatedWorkItemIsTraced(t *testing.T) {
	t.Parallel()
	b, rec := tracedDocuSign(t, store.Postgres)
	ctx := context.Background()
	d := b.draft("Timed to sign")
	d.States[1].Timeout = durationpb.New(time.Second)
	d.Transitions[1].OnTimeout = true // approve: review → sign
	d.Transitions[2].OnTimeout = false
	wf, err := b.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: d}))
	require.NoError(t, err)
	_, err = b.design.PublishWorkflow(ctx, connect.NewRequest(&flowhookv1.PublishWorkflowRequest{WorkflowId: wf.Msg.GetWorkflow().GetId(), ExpectedRevision: 1}))
	require.NoError(t, err)
	started, err := b.starter.instances.StartInstance(ctx, connect.NewRequest(validStart(t, wf.Msg.GetWorkflow().GetId())))
	require.NoError(t, err)
	id := started.Msg.GetInstance().GetId()
	var envID string
	require.Eventually(t, func() bool {
		got, err := b.instances.GetInstance(ctx, connect.NewRequest(&flowhookv1.GetInstanceRequest{InstanceId: id}))
		if err == nil {
			envID = got.Msg.GetInstance().GetWorkItem().GetExternalId()
		}
		return envID != ""
	}, 20*time.Second, 10*time.Millisecond)
	require.NoError(t, b.fake.Complete(envID))
	b.settled(t, id, "done")

	var process sdktrace.ReadOnlySpan
	require.Eventually(t, func() bool {
		for _, s := range spansNamed(rec, "webhook.process", "flowhook.external_id", envID) {
			if attr(s, "flowhook.webhook.verdict") == "APPLIED" {
				process = s
			}
		}
		return process != nil
	}, 20*time.Second, 10*time.Millisecond)
	created, ok := linkTo(process.Links(), "work_item.created")
	require.True(t, ok, "the webhook's processing links to the transition that created the envelope")
	var timer sdktrace.ReadOnlySpan
	for _, s := range spansNamed(rec, "state_timeout", "flowhook.instance_id", id) {
		if attr(s, "flowhook.timer.fired") == "true" {
			timer = s
		}
	}
	if timer == nil { // the durable job fired it (River's scheduler beat the alarm)
		for _, s := range rec.Ended() {
			if s.Name() == "river.work/state_timeout" && s.SpanContext().TraceID() == created.TraceID() {
				timer = s
			}
		}
	}
	require.NotNil(t, timer, "the firing has a span")
	require.Equal(t, timer.SpanContext().TraceID(), created.TraceID(), "the link leads to the timer's trace")
}

func spanByID(rec *tracetest.SpanRecorder, id trace.SpanID) sdktrace.ReadOnlySpan {
	for _, s := range rec.Ended() {
		if s.SpanContext().SpanID() == id {
			return s
		}
	}
	return nil
}

func parentName(rec *tracetest.SpanRecorder, s sdktrace.ReadOnlySpan) string {
	for _, p := range rec.Ended() {
		if p.SpanContext().SpanID() == s.Parent().SpanID() {
			return p.Name()
		}
	}
	return ""
}
