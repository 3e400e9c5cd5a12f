package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/flowhook/flowhook/ent/eventlogentry"
	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/config"
	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/docusign/docusignfake"
	"github.com/flowhook/flowhook/server/internal/store"
	"github.com/flowhook/flowhook/server/internal/telemetry"
	"github.com/flowhook/flowhook/server/internal/webhook"
)

// The Event Log (EventLogService) and the security settings that drive it, end to end: a real
// server on each database, a fake DocuSign posting signed Connect messages, and hand-made
// posts for what DocuSign never sends (bad signatures, wrong content types, oversized bodies,
// notifications for envelopes nobody knows). Background work is awaited with
// require.Eventually.

// Steps, short.
const (
	stReceived      = flowhookv1.EventStep_EVENT_STEP_RECEIVED
	stRejected      = flowhookv1.EventStep_EVENT_STEP_REJECTED
	stAuthenticated = flowhookv1.EventStep_EVENT_STEP_AUTHENTICATED
	stParsed        = flowhookv1.EventStep_EVENT_STEP_PARSED
	stDeduplicated  = flowhookv1.EventStep_EVENT_STEP_DEDUPLICATED
	stMatched       = flowhookv1.EventStep_EVENT_STEP_MATCHED
	stBuffered      = flowhookv1.EventStep_EVENT_STEP_BUFFERED
	stOutcome       = flowhookv1.EventStep_EVENT_STEP_OUTCOME
	stTransition    = flowhookv1.EventStep_EVENT_STEP_TRANSITION
	stVerdict       = flowhookv1.EventStep_EVENT_STEP_VERDICT
	stReplayed      = flowhookv1.EventStep_EVENT_STEP_REPLAYED
	stError         = flowhookv1.EventStep_EVENT_STEP_ERROR
)

var elTraceID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// elTelemetry is telemetry with a real SDK tracer provider (trace ids reach the Event Log),
// whose ended spans rec keeps, and a Prometheus registry of its own.
func elTelemetry(t *testing.T) (*telemetry.Telemetry, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	tel, err := telemetry.New(tp)
	require.NoError(t, err)
	// Registered before the server's cleanup, so run after it.
	t.Cleanup(func() {
		require.NoError(t, tel.Shutdown(context.Background()))
		require.NoError(t, tp.Shutdown(context.Background()))
	})
	return tel, rec
}

// elClock is a fixed clock.
type elClock time.Time

func (c elClock) Now() time.Time { return time.Time(c) }

// elSecurity saves the security settings and returns them.
func elSecurity(t *testing.T, c clients, debug bool, days int32, expected int64) *flowhookv1.SecuritySettings {
	t.Helper()
	res, err := c.settings.UpdateSecuritySettings(context.Background(), connect.NewRequest(&flowhookv1.UpdateSecuritySettingsRequest{
		WebhookReceiverDebug: debug, EventRetentionDays: days, ExpectedRevision: expected}))
	require.NoError(t, err)
	return res.Msg.GetSettings()
}

// elReply is the server's answer to one webhook post.
type elReply struct {
	status int
	body   string
}

// elPost posts a body to the DocuSign webhook with the headers (Content-Type among them).
func elPost(t *testing.T, b *testBundle, body []byte, header map[string]string) elReply {
	t.Helper()
	r, err := elTryPost(b, body, header)
	require.NoError(t, err)
	return r
}

// elTryPost is elPost for polling conditions and goroutines: it calls no require.
func elTryPost(b *testBundle, body []byte, header map[string]string) (elReply, error) {
	req, err := http.NewRequest(http.MethodPost, b.baseURL+"/webhooks/DocuSign", bytes.NewReader(body))
	if err != nil {
		return elReply{}, err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := b.httpClient.Do(req)
	if err != nil {
		return elReply{}, err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	return elReply{status: res.StatusCode, body: string(out)}, err
}

// elPostSigned posts a JSON body signed with the current Connect key, as DocuSign does.
func elPostSigned(t *testing.T, b *testBundle, body []byte) elReply {
	t.Helper()
	return elPost(t, b, body, map[string]string{"Content-Type": "application/json",
		"X-DocuSign-Signature-1": docusignfake.Signature(body, testHMACKeys[1])})
}

// elPostForged posts a JSON body signed with a key nobody configured.
func elPostForged(t *testing.T, b *testBundle, body []byte) elReply {
	t.Helper()
	return elPost(t, b, body, map[string]string{"Content-Type": "application/json",
		"X-DocuSign-Signature-1": docusignfake.Signature(body, "not-a-configured-key")})
}

// elSIM is a minimal JSON SIM message for an envelope; each call makes another message.
func elSIM(t *testing.T, event, status, envelopeID, accountID string) []byte {
	t.Helper()
	at := time.Now().UTC().Format("2006-01-02T15:04:05.0000000Z")
	out, err := json.Marshal(map[string]any{
		"event": event, "apiVersion": "v2.1", "retryCount": 0, "configurationId": 1, "generatedDateTime": at,
		"uri": "/restapi/v2.1/accounts/" + accountID + "/envelopes/" + envelopeID,
		"data": map[string]any{"accountId": accountID, "envelopeId": envelopeID, "nonce": uuid.NewString(),
			"envelopeSummary": map[string]any{"envelopeId": envelopeID, "status": status, "statusChangedDateTime": at}},
	})
	require.NoError(t, err)
	return out
}

// elList returns every event matching the filter, newest first, 200 a page.
func elList(t *testing.T, c clients, f *flowhookv1.EventFilter) []*flowhookv1.Event {
	t.Helper()
	var out []*flowhookv1.Event
	token := ""
	for {
		res, err := c.eventLog.ListEvents(context.Background(), connect.NewRequest(&flowhookv1.ListEventsRequest{Filter: f, PageSize: 200, PageToken: token}))
		require.NoError(t, err)
		out = append(out, res.Msg.GetEvents()...)
		if token = res.Msg.GetNextPageToken(); token == "" {
			return out
		}
	}
}

// elTry lists for a polling condition: nil when the call fails.
func elTry(c clients, f *flowhookv1.EventFilter) []*flowhookv1.Event {
	res, err := c.eventLog.ListEvents(context.Background(), connect.NewRequest(&flowhookv1.ListEventsRequest{Filter: f, PageSize: 200}))
	if err != nil {
		return nil
	}
	return res.Msg.GetEvents()
}

// elTotal is how many events match the filter.
func elTotal(t *testing.T, c clients, f *flowhookv1.EventFilter) int64 {
	t.Helper()
	n, err := elTryTotal(c, f)
	require.NoError(t, err)
	return n
}

// elTryTotal is elTotal for polling conditions.
func elTryTotal(c clients, f *flowhookv1.EventFilter) (int64, error) {
	res, err := c.eventLog.ListEvents(context.Background(), connect.NewRequest(&flowhookv1.ListEventsRequest{Filter: f, PageSize: 1}))
	if err != nil {
		return 0, err
	}
	return res.Msg.GetTotalSize(), nil
}

// elAwait waits until exactly one event matches the filter with the verdict, and returns it.
func elAwait(t *testing.T, c clients, f *flowhookv1.EventFilter, v flowhookv1.Verdict, wait time.Duration) *flowhookv1.Event {
	t.Helper()
	var got []*flowhookv1.Event
	require.Eventually(t, func() bool {
		got = elTry(c, f)
		return len(got) == 1 && got[0].GetVerdict() == v
	}, wait, flowsTick, "never exactly one %v event for %v", v, f)
	return got[0]
}

// elQuiet waits until no event of the envelope is PENDING.
func elQuiet(t *testing.T, c clients, envelopeID string) {
	t.Helper()
	require.Eventually(t, func() bool {
		evs := elTry(c, &flowhookv1.EventFilter{ExternalId: envelopeID})
		if len(evs) == 0 {
			return false
		}
		for _, e := range evs {
			if e.GetVerdict() == flowhookv1.Verdict_VERDICT_PENDING {
				return false
			}
		}
		return true
	}, flowsRetryWait, flowsTick, "events of %s stayed PENDING", envelopeID)
}

// elNewest returns the newest event matching the filter.
func elNewest(t *testing.T, c clients, f *flowhookv1.EventFilter) *flowhookv1.Event {
	t.Helper()
	res, err := c.eventLog.ListEvents(context.Background(), connect.NewRequest(&flowhookv1.ListEventsRequest{Filter: f, PageSize: 1}))
	require.NoError(t, err)
	require.NotEmpty(t, res.Msg.GetEvents(), "no event matches %v", f)
	return res.Msg.GetEvents()[0]
}

// elAwaitJobStory waits until the Event Log of an event processed by a job holds the job's
// VERDICT step after the first delivered steps, and returns its entries: a job writes its steps
// just after it saved the verdict, so the verdict is seen before them.
func elAwaitJobStory(t *testing.T, c clients, id string, delivered int) []*flowhookv1.EventLogEntry {
	t.Helper()
	var entries []*flowhookv1.EventLogEntry
	require.Eventually(t, func() bool {
		entries = elGet(t, c, id).GetEntries()
		return len(entries) > delivered && slices.Contains(elSteps(entries[delivered:]), stVerdict)
	}, flowsRetryWait, flowsTick, "the job's steps never reached the Event Log")
	return entries
}

func elGet(t *testing.T, c clients, id string) *flowhookv1.GetEventResponse {
	t.Helper()
	res, err := c.eventLog.GetEvent(context.Background(), connect.NewRequest(&flowhookv1.GetEventRequest{Id: id}))
	require.NoError(t, err)
	return res.Msg
}

func elSteps(entries []*flowhookv1.EventLogEntry) []flowhookv1.EventStep {
	out := make([]flowhookv1.EventStep, len(entries))
	for i, e := range entries {
		out[i] = e.GetStep()
	}
	return out
}

// elStory renders entries for failure messages.
func elStory(entries []*flowhookv1.EventLogEntry) string {
	var b strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&b, "%s %s %q trace=%s\n", e.GetElapsed().AsDuration(), e.GetStep(), e.GetMessage(), e.GetTraceId())
	}
	return b.String()
}

// elRequireSteps asserts the entries' steps, in order.
func elRequireSteps(t *testing.T, entries []*flowhookv1.EventLogEntry, want ...flowhookv1.EventStep) {
	t.Helper()
	require.Equal(t, want, elSteps(entries), elStory(entries))
}

// elRequireDelivery asserts what holds for the entries of one delivery: ids, times and
// elapsed in order, and (tracing real) all in the trace of the request.
func elRequireDelivery(t *testing.T, entries []*flowhookv1.EventLogEntry, traceID string) {
	t.Helper()
	for i, e := range entries {
		require.NotEmpty(t, e.GetId(), elStory(entries))
		require.NotEmpty(t, e.GetMessage(), elStory(entries))
		require.NotNil(t, e.GetAt(), elStory(entries))
		require.NotNil(t, e.GetElapsed(), elStory(entries))
		if traceID != "" {
			require.Equal(t, traceID, e.GetTraceId(), "entry %d is not in the delivery's trace:\n%s", i, elStory(entries))
			require.Len(t, e.GetSpanId(), 16, elStory(entries))
		}
		if i > 0 {
			prev := entries[i-1]
			require.Less(t, prev.GetId(), e.GetId(), elStory(entries))
			require.False(t, e.GetAt().AsTime().Before(prev.GetAt().AsTime()), elStory(entries))
			require.GreaterOrEqual(t, e.GetElapsed().AsDuration(), prev.GetElapsed().AsDuration(), elStory(entries))
		}
	}
}

// elRequireJobStory asserts the steps jobs wrote for an event: BUFFERED while its work item is
// unknown, then one VERDICT whose message starts with verdict, preceded by the steps want (in
// that order). Each step is in a trace (the job's). A run that raced the one that saved (both
// read the event PENDING) leaves its own MATCHED, OUTCOME... and an ERROR saying it reads again,
// without a VERDICT.
func elRequireJobStory(t *testing.T, entries []*flowhookv1.EventLogEntry, verdict string, want ...flowhookv1.EventStep) {
	t.Helper()
	allowed := append([]flowhookv1.EventStep{stBuffered, stVerdict, stError}, want...)
	at := -1
	for i, e := range entries {
		require.Contains(t, allowed, e.GetStep(), elStory(entries))
		require.Regexp(t, elTraceID, e.GetTraceId(), "a job's step has a trace too:\n%s", elStory(entries))
		if e.GetStep() == stVerdict {
			require.Equal(t, -1, at, "one verdict:\n%s", elStory(entries))
			at = i
			require.True(t, strings.HasPrefix(e.GetMessage(), verdict), elStory(entries))
		}
	}
	require.NotEqual(t, -1, at, "no verdict:\n%s", elStory(entries))
	next := 0
	for _, s := range elSteps(entries[:at]) {
		if next < len(want) && s == want[next] {
			next++
		}
	}
	require.Equal(t, len(want), next, "the steps %v before the verdict:\n%s", want, elStory(entries))
}

// elActivity returns an instance's whole timeline.
func elActivity(t *testing.T, c clients, id string) []*flowhookv1.ActivityEntry {
	t.Helper()
	var out []*flowhookv1.ActivityEntry
	token := ""
	for {
		res, err := c.instances.ListActivity(context.Background(), connect.NewRequest(&flowhookv1.ListActivityRequest{InstanceId: id, PageToken: token}))
		require.NoError(t, err)
		out = append(out, res.Msg.GetEntries()...)
		if token = res.Msg.GetNextPageToken(); token == "" {
			return out
		}
	}
}

// elCount counts the activities of a kind whose message contains text (from state from, if
// not empty).
func elCount(acts []*flowhookv1.ActivityEntry, kind flowhookv1.ActivityKind, from, text string) int {
	n := 0
	for _, a := range acts {
		if a.GetKind() == kind && (from == "" || a.GetFromState() == from) && strings.Contains(a.GetMessage(), text) {
			n++
		}
	}
	return n
}

// elApprove starts an instance and approves it into "sign", without waiting for its envelope.
func elApprove(t *testing.T, b docuSignBundle) string {
	t.Helper()
	ctx := context.Background()
	started, err := b.starter.instances.StartInstance(ctx, connect.NewRequest(validStart(t, b.workflowID)))
	require.NoError(t, err)
	id := started.Msg.GetInstance().GetId()
	_, err = b.member.instances.TakeTransition(ctx, connect.NewRequest(&flowhookv1.TakeTransitionRequest{InstanceId: id, TransitionKey: "approve"}))
	require.NoError(t, err)
	return id
}

// elCreatedEnvelope waits for the envelope DocuSign created after the first before ones (its
// answer may be lost).
func elCreatedEnvelope(t *testing.T, f *docusignfake.Fake, before int) string {
	t.Helper()
	var envID string
	require.Eventually(t, func() bool {
		envs := f.Envelopes()
		if len(envs) <= before || envs[before].EnvelopeID == "" {
			return false
		}
		envID = envs[before].EnvelopeID
		return true
	}, flowsWait, flowsTick, "no envelope was created")
	return envID
}

// elDelivery returns the fake's only Connect post of an event for an envelope.
func elDelivery(t *testing.T, f *docusignfake.Fake, envelopeID, event string) docusignfake.Delivery {
	t.Helper()
	var out []docusignfake.Delivery
	for _, d := range f.Deliveries() {
		if d.EnvelopeID == envelopeID && d.Event == event {
			out = append(out, d)
		}
	}
	require.Len(t, out, 1, "posts of %s for %s", event, envelopeID)
	require.Equal(t, http.StatusOK, out[0].StatusCode, out[0].Err)
	return out[0]
}

// elRequireNoSignature asserts no kept header authenticates the notification.
func elRequireNoSignature(t *testing.T, headers map[string]string) {
	t.Helper()
	for k, v := range headers {
		require.False(t, strings.HasPrefix(strings.ToLower(k), "x-docusign-signature"), "kept %s: %s", k, v)
		require.NotEqual(t, "authorization", strings.ToLower(k), "kept %s", k)
	}
}

var (
	elMetricLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)`)
	elLabel      = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)
)

// elMetrics reads GET /metrics: the text, and the sum of the samples of name whose labels
// include labels (false when there is none).
func elMetrics(t *testing.T, b *testBundle, name string, labels map[string]string) (float64, bool, string) {
	t.Helper()
	res, err := b.httpClient.Get(b.baseURL + "/metrics")
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	sum, found := 0.0, false
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 0, 1<<16), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		m := elMetricLine.FindStringSubmatch(line)
		if m == nil || m[1] != name {
			continue
		}
		got := map[string]string{}
		for _, l := range elLabel.FindAllStringSubmatch(m[2], -1) {
			got[l[1]] = l[2]
		}
		match := true
		for k, v := range labels {
			if got[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		v, err := strconv.ParseFloat(m[3], 64)
		require.NoError(t, err, line)
		sum, found = sum+v, true
	}
	require.NoError(t, sc.Err())
	return sum, found, string(raw)
}

// TestSecuritySettings: defaults, optimistic concurrency, validation and who may touch them.
func TestSecuritySettings(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setup(t, d)
		ctx := context.Background()

		got, err := b.settings.GetSecuritySettings(ctx, connect.NewRequest(&flowhookv1.GetSecuritySettingsRequest{}))
		require.NoError(t, err)
		def := got.Msg.GetSettings()
		require.False(t, def.GetWebhookReceiverDebug(), "the debug option is off by default")
		require.EqualValues(t, engine.DefaultEventRetentionDays, def.GetEventRetentionDays())
		require.EqualValues(t, 30, def.GetEventRetentionDays())
		require.Zero(t, def.GetRevision(), "never saved")

		before := time.Now().Add(-time.Minute)
		first := elSecurity(t, b.clients, true, 90, 0)
		require.True(t, first.GetWebhookReceiverDebug())
		require.EqualValues(t, 90, first.GetEventRetentionDays())
		require.EqualValues(t, 1, first.GetRevision())
		require.True(t, first.GetUpdatedAt().AsTime().After(before), "updated_at %v", first.GetUpdatedAt().AsTime())
		got, err = b.settings.GetSecuritySettings(ctx, connect.NewRequest(&flowhookv1.GetSecuritySettingsRequest{}))
		require.NoError(t, err)
		require.True(t, proto.Equal(first, got.Msg.GetSettings()), "get returns what update returned: %v, %v", first, got.Msg.GetSettings())

		// 0 means the default.
		second := elSecurity(t, b.clients, false, 0, 1)
		require.False(t, second.GetWebhookReceiverDebug())
		require.EqualValues(t, 30, second.GetEventRetentionDays())
		require.EqualValues(t, 2, second.GetRevision())

		// Stale revisions: Aborted, nothing saved (0 once saved: InvalidArgument, see
		// TestSecuritySettingsUpdateRequiresExpectedRevision).
		for _, stale := range []int64{1, 3} {
			_, err = b.settings.UpdateSecuritySettings(ctx, connect.NewRequest(&flowhookv1.UpdateSecuritySettingsRequest{
				WebhookReceiverDebug: true, EventRetentionDays: 7, ExpectedRevision: stale}))
			cerr := requireCode(t, err, connect.CodeAborted)
			require.Contains(t, cerr.Message(), "read them again", "expected_revision %d", stale)
		}

		// Out of range: InvalidArgument on the field.
		for _, days := range []int32{-1, 3651, -3650} {
			_, err = b.settings.UpdateSecuritySettings(ctx, connect.NewRequest(&flowhookv1.UpdateSecuritySettingsRequest{
				WebhookReceiverDebug: true, EventRetentionDays: days, ExpectedRevision: 2}))
			ps := problems(t, requireCode(t, err, connect.CodeInvalidArgument))
			require.Contains(t, ps, "event_retention_days", "days %d", days)
			require.Contains(t, ps["event_retention_days"], "less than or equal to 3650")
		}
		_, err = b.settings.UpdateSecuritySettings(ctx, connect.NewRequest(&flowhookv1.UpdateSecuritySettingsRequest{ExpectedRevision: -1}))
		require.Contains(t, problems(t, requireCode(t, err, connect.CodeInvalidArgument)), "expected_revision")

		got, err = b.settings.GetSecuritySettings(ctx, connect.NewRequest(&flowhookv1.GetSecuritySettingsRequest{}))
		require.NoError(t, err)
		require.True(t, proto.Equal(second, got.Msg.GetSettings()), "refused updates changed nothing: %v", got.Msg.GetSettings())

		// The bounds themselves are accepted.
		require.EqualValues(t, 1, elSecurity(t, b.clients, false, 1, 2).GetEventRetentionDays())
		last := elSecurity(t, b.clients, true, 3650, 3)
		require.EqualValues(t, 3650, last.GetEventRetentionDays())
		require.EqualValues(t, 4, last.GetRevision())

		// Administrators only.
		u, err := b.identity.CreateUser(ctx, connect.NewRequest(&flowhookv1.CreateUserRequest{
			DisplayName: "eve", Email: "eve@example.com", Roles: []flowhookv1.Role{flowhookv1.Role_ROLE_USER}}))
		require.NoError(t, err)
		k, err := b.identity.CreateApiKey(ctx, connect.NewRequest(&flowhookv1.CreateApiKeyRequest{UserId: u.Msg.GetUser().GetId(), Name: "test"}))
		require.NoError(t, err)
		eve := b.as(k.Msg.GetSecret())
		_, err = eve.settings.GetSecuritySettings(ctx, connect.NewRequest(&flowhookv1.GetSecuritySettingsRequest{}))
		requireCode(t, err, connect.CodePermissionDenied)
		_, err = eve.settings.UpdateSecuritySettings(ctx, connect.NewRequest(&flowhookv1.UpdateSecuritySettingsRequest{ExpectedRevision: 4}))
		requireCode(t, err, connect.CodePermissionDenied)
		_, err = eve.eventLog.ListEvents(ctx, connect.NewRequest(&flowhookv1.ListEventsRequest{}))
		requireCode(t, err, connect.CodePermissionDenied)
		_, err = eve.eventLog.ReplayEvent(ctx, connect.NewRequest(&flowhookv1.ReplayEventRequest{Id: uuid.NewString()}))
		requireCode(t, err, connect.CodePermissionDenied)
		_, err = b.as("").eventLog.GetEvent(ctx, connect.NewRequest(&flowhookv1.GetEventRequest{Id: uuid.NewString()}))
		requireCode(t, err, connect.CodeUnauthenticated)
	})
}

// TestSecuritySettingsReachReplica: the debug option switched on one server is applied by
// another on the same database within a few seconds, and switched off again the same way.
func TestSecuritySettingsReachReplica(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setupDocuSign(t, d)
		r := b.replica(t)
		ctx := context.Background()
		rejected := &flowhookv1.EventFilter{Verdict: flowhookv1.Verdict_VERDICT_REJECTED}
		// forge posts a forged notification to the replica (no require: a polling condition).
		forge := func() bool {
			body := elSIM(t, "envelope-completed", "completed", uuid.NewString(), b.fake.AccountID())
			a, err := elTryPost(r, body, map[string]string{"Content-Type": "application/json",
				"X-DocuSign-Signature-1": docusignfake.Signature(body, "not-a-configured-key")})
			return err == nil && a.status == http.StatusUnauthorized
		}

		// Off: the replica keeps nothing of a forged notification.
		require.True(t, forge())
		require.Zero(t, elTotal(t, b.clients, rejected))

		on := elSecurity(t, b.clients, true, 0, 0)
		got, err := r.settings.GetSecuritySettings(ctx, connect.NewRequest(&flowhookv1.GetSecuritySettingsRequest{}))
		require.NoError(t, err)
		require.True(t, proto.Equal(on, got.Msg.GetSettings()), "the replica reads the saved settings: %v", got.Msg.GetSettings())

		start := time.Now()
		require.Eventually(t, func() bool {
			n, err := elTryTotal(b.clients, rejected)
			return forge() && err == nil && n > 0
		}, 10*time.Second, 50*time.Millisecond, "the replica never applied the debug option")
		t.Logf("the replica applied the debug option after %s", time.Since(start).Round(time.Millisecond))
		ev := elNewest(t, b.clients, rejected)
		elRequireSteps(t, elGet(t, b.clients, ev.GetId()).GetEntries(), stReceived, stRejected)

		// An authentic notification through the replica: its story is kept too.
		unknown := uuid.NewString()
		a := elPostSigned(t, r, elSIM(t, "envelope-completed", "completed", unknown, b.fake.AccountID()))
		require.Equal(t, http.StatusOK, a.status, a.body)
		pending := elAwait(t, b.clients, &flowhookv1.EventFilter{ExternalId: unknown}, flowhookv1.Verdict_VERDICT_PENDING, flowsWait)
		entries := elGet(t, b.clients, pending.GetId()).GetEntries()
		require.GreaterOrEqual(t, len(entries), 5, elStory(entries))
		elRequireSteps(t, entries[:5], stReceived, stAuthenticated, stParsed, stBuffered, stVerdict)

		// Off again, on the first server: the replica stops keeping rejected notifications.
		elSecurity(t, b.clients, false, 0, on.GetRevision())
		require.Eventually(t, func() bool {
			before, err := elTryTotal(b.clients, rejected)
			if err != nil || !forge() {
				return false
			}
			after, err := elTryTotal(b.clients, rejected)
			return err == nil && after == before
		}, 10*time.Second, 50*time.Millisecond, "the replica never applied the debug option's removal")
	})
}

// TestEventLogDebugOffAndMetrics: with the debug option off, handled notifications are listed
// with their verdict, raw body and trace but no steps; forged ones are only counted.
func TestEventLogDebugOffAndMetrics(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		tel, rec := elTelemetry(t)
		b := setupDocuSignWith(t, d, tel, nil)
		ctx := context.Background()
		id, envID := b.toSignature(t)
		elQuiet(t, b.clients, envID)
		require.NoError(t, b.fake.Complete(envID))
		in := b.settled(t, id, "done")

		sent := elDelivery(t, b.fake, envID, "envelope-completed")
		ev := elAwait(t, b.clients, &flowhookv1.EventFilter{ExternalId: envID, EventType: "envelope-completed"}, flowhookv1.Verdict_VERDICT_APPLIED, flowsWait)
		require.NotEmpty(t, ev.GetId())
		require.Equal(t, flowhookv1.Provider_PROVIDER_DOCUSIGN, ev.GetProvider())
		require.Equal(t, "envelope-completed", ev.GetEventType())
		require.Equal(t, envID, ev.GetExternalId())
		require.Equal(t, id, ev.GetInstanceId())
		require.Equal(t, in.GetWorkItem().GetId(), ev.GetWorkItemId())
		require.Equal(t, `took "signed" to "done"`, ev.GetVerdictReason())
		require.EqualValues(t, 1, ev.GetAttempts())
		require.EqualValues(t, len(sent.Body), ev.GetSizeBytes())
		require.True(t, strings.HasPrefix(ev.GetRemoteAddr(), "127.0.0.1:"), ev.GetRemoteAddr())
		require.NotNil(t, ev.GetReceivedAt())
		require.NotNil(t, ev.GetProcessedAt())
		require.False(t, ev.GetProcessedAt().AsTime().Before(ev.GetReceivedAt().AsTime()))
		require.NotNil(t, ev.GetProviderTime(), "generatedDateTime")
		require.Regexp(t, elTraceID, ev.GetTraceId())
		require.NotEqual(t, strings.Repeat("0", 32), ev.GetTraceId())
		// The trace is the one of the request that delivered it (its span ends once answered).
		require.Eventually(t, func() bool {
			for _, s := range rec.Ended() {
				if s.Name() == webhook.SpanName && s.SpanContext().TraceID().String() == ev.GetTraceId() {
					return true
				}
			}
			return false
		}, flowsWait, flowsTick, "no %q span has the event's trace id", webhook.SpanName)

		got := elGet(t, b.clients, ev.GetId())
		require.True(t, proto.Equal(ev, got.GetEvent()), "get: %v\nlist: %v", got.GetEvent(), ev)
		require.Empty(t, got.GetEntries(), "no steps with the debug option off")
		require.Equal(t, sent.Body, got.GetBody(), "the body exactly as DocuSign sent it")
		require.Equal(t, "application/json", got.GetHeaders()["Content-Type"])
		require.Equal(t, b.fake.AccountID(), got.GetHeaders()["X-Docusign-Accountid"])
		require.Equal(t, "HMACSHA256", got.GetHeaders()["X-Authorization-Digest"])
		elRequireNoSignature(t, got.GetHeaders())

		// Forged notifications, with a wrong signature or none: refused, not kept, counted.
		all := &flowhookv1.EventFilter{}
		before := elTotal(t, b.clients, all)
		rejectedBefore, _, _ := elMetrics(t, b.testBundle, "flowhook_webhooks_total", map[string]string{"provider": "DOCUSIGN", "verdict": "rejected"})
		body := elSIM(t, "envelope-completed", "completed", envID, b.fake.AccountID())
		a := elPostForged(t, b.testBundle, body)
		require.Equal(t, http.StatusUnauthorized, a.status, a.body)
		a = elPost(t, b.testBundle, body, map[string]string{"Content-Type": "application/json"})
		require.Equal(t, http.StatusUnauthorized, a.status, a.body)
		require.Equal(t, before, elTotal(t, b.clients, all), "rejected notifications are not kept with the debug option off")
		require.Empty(t, elTry(b.clients, &flowhookv1.EventFilter{Verdict: flowhookv1.Verdict_VERDICT_REJECTED}))

		rejected, found, text := elMetrics(t, b.testBundle, "flowhook_webhooks_total", map[string]string{"provider": "DOCUSIGN", "verdict": "rejected"})
		require.True(t, found, "no flowhook_webhooks_total{provider=\"DOCUSIGN\",verdict=\"rejected\"} in:\n%s", text)
		require.Zero(t, rejectedBefore, "DocuSign sent nothing forged")
		require.EqualValues(t, 2, rejected)
		applied, found, _ := elMetrics(t, b.testBundle, "flowhook_webhooks_total", map[string]string{"provider": "DOCUSIGN", "verdict": "applied"})
		require.True(t, found)
		require.GreaterOrEqual(t, applied, 1.0)
		progress, found, _ := elMetrics(t, b.testBundle, "flowhook_webhooks_total", map[string]string{"provider": "DOCUSIGN", "verdict": "progress"})
		require.True(t, found)
		require.GreaterOrEqual(t, progress, 1.0, "recipient-completed at least")
		_, found, _ = elMetrics(t, b.testBundle, "flowhook_webhook_ingest_duration_seconds_count", map[string]string{"provider": "DOCUSIGN"})
		require.True(t, found, "the ingest latency histogram")

		// The instance is where the first completion put it.
		require.Equal(t, in.GetRevision(), b.instance(t, id).GetRevision())
		_, err := b.eventLog.GetEvent(ctx, connect.NewRequest(&flowhookv1.GetEventRequest{Id: uuid.NewString()}))
		requireCode(t, err, connect.CodeNotFound)
	})
}

// TestEventLogDebugStories: with the debug option on, each verdict has its story, step by step,
// in the trace of the request (or job) that wrote it.
func TestEventLogDebugStories(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		tel, _ := elTelemetry(t)
		b := setupDocuSignWith(t, d, tel, nil)
		elSecurity(t, b.clients, true, 0, 0)
		acct := b.fake.AccountID()
		id, envID := b.toSignature(t)
		elQuiet(t, b.clients, envID)
		rev := b.instance(t, id).GetRevision()

		t.Run("PENDING envelope-sent processed by its job", func(t *testing.T) {
			// The fake posts envelope-sent before it answers the create: before the coupling.
			ev := elAwait(t, b.clients, &flowhookv1.EventFilter{ExternalId: envID, EventType: "envelope-sent"}, flowhookv1.Verdict_VERDICT_PROGRESS, flowsWait)
			entries := elAwaitJobStory(t, b.clients, ev.GetId(), 5)
			require.GreaterOrEqual(t, len(entries), 8, elStory(entries))
			elRequireSteps(t, entries[:5], stReceived, stAuthenticated, stParsed, stBuffered, stVerdict)
			elRequireDelivery(t, entries[:5], ev.GetTraceId())
			require.Contains(t, entries[4].GetMessage(), "stored PENDING, to be processed once stored")
			elRequireJobStory(t, entries[5:], "PROGRESS (after ", stMatched, stOutcome)
		})

		t.Run("PROGRESS", func(t *testing.T) {
			require.NoError(t, b.fake.Deliver(envID))
			ev := elAwait(t, b.clients, &flowhookv1.EventFilter{ExternalId: envID, EventType: "envelope-delivered"}, flowhookv1.Verdict_VERDICT_PROGRESS, flowsWait)
			require.Equal(t, id, ev.GetInstanceId())
			entries := elGet(t, b.clients, ev.GetId()).GetEntries()
			elRequireSteps(t, entries, stReceived, stAuthenticated, stParsed, stMatched, stOutcome, stVerdict)
			elRequireDelivery(t, entries, ev.GetTraceId())
			require.Contains(t, entries[2].GetMessage(), "envelope-delivered for envelope "+envID)
			require.Contains(t, entries[3].GetMessage(), "of instance "+id)
			require.Contains(t, entries[4].GetMessage(), "envelope-delivered is progress, not an outcome")
			require.True(t, strings.HasPrefix(entries[5].GetMessage(), "PROGRESS (after "), entries[5].GetMessage())
			require.Equal(t, rev, b.instance(t, id).GetRevision(), "progress moves nothing")
		})

		var applied *flowhookv1.Event
		var appliedEntries []*flowhookv1.EventLogEntry
		t.Run("APPLIED", func(t *testing.T) {
			require.NoError(t, b.fake.Complete(envID))
			b.settled(t, id, "done")
			applied = elAwait(t, b.clients, &flowhookv1.EventFilter{ExternalId: envID, EventType: "envelope-completed"}, flowhookv1.Verdict_VERDICT_APPLIED, flowsWait)
			got := elGet(t, b.clients, applied.GetId())
			appliedEntries = got.GetEntries()
			elRequireSteps(t, appliedEntries, stReceived, stAuthenticated, stParsed, stMatched, stOutcome, stTransition, stVerdict)
			require.Regexp(t, elTraceID, applied.GetTraceId())
			elRequireDelivery(t, appliedEntries, applied.GetTraceId())
			sent := elDelivery(t, b.fake, envID, "envelope-completed")
			msgs := make([]string, len(appliedEntries))
			for i, e := range appliedEntries {
				msgs[i] = e.GetMessage()
			}
			require.Equal(t, fmt.Sprintf("%d bytes of JSON from %s", len(sent.Body), applied.GetRemoteAddr()), msgs[0])
			require.Equal(t, "HMAC-SHA256 signature matches one of the 2 configured key(s)", msgs[1])
			require.Contains(t, msgs[2], "envelope-completed for envelope "+envID+` (status "completed")`)
			require.Contains(t, msgs[3], "work item "+applied.GetWorkItemId())
			require.Contains(t, msgs[3], "of instance "+id+", which is WAITING_EXTERNAL in state \"sign\"")
			require.Equal(t, "envelope-completed maps to the outcome FINISHED", msgs[4])
			require.Equal(t, `took "signed" from "sign" to "done"; the instance is now COMPLETED`, msgs[5])
			require.True(t, strings.HasPrefix(msgs[6], `APPLIED: took "signed" to "done" (after `), msgs[6])
			require.Equal(t, sent.Body, got.GetBody())
			elRequireNoSignature(t, got.GetHeaders())
			require.Equal(t, rev+1, b.instance(t, id).GetRevision())
		})

		t.Run("redelivery DEDUPLICATED", func(t *testing.T) {
			require.NotNil(t, applied)
			sent := elDelivery(t, b.fake, envID, "envelope-completed")
			a := elPostSigned(t, b.testBundle, sent.Body)
			require.Equal(t, http.StatusOK, a.status, a.body)
			require.Contains(t, a.body, `"duplicate"`)
			evs := elList(t, b.clients, &flowhookv1.EventFilter{ExternalId: envID, EventType: "envelope-completed"})
			require.Len(t, evs, 1, "no second event")
			require.Equal(t, applied.GetId(), evs[0].GetId())
			require.Equal(t, flowhookv1.Verdict_VERDICT_APPLIED, evs[0].GetVerdict())
			require.Equal(t, applied.GetAttempts(), evs[0].GetAttempts())

			entries := elGet(t, b.clients, applied.GetId()).GetEntries()
			require.Greater(t, len(entries), len(appliedEntries), elStory(entries))
			for i, e := range appliedEntries {
				require.True(t, proto.Equal(e, entries[i]), "the first delivery's steps stay as they were:\n%s", elStory(entries))
			}
			again := entries[len(appliedEntries):]
			require.Equal(t, stReceived, again[0].GetStep(), elStory(again))
			last := again[len(again)-1]
			require.Equal(t, stDeduplicated, last.GetStep(), elStory(again))
			require.Contains(t, last.GetMessage(), "a redelivery of event "+applied.GetId())
			require.Contains(t, last.GetMessage(), "(verdict APPLIED); nothing changed")
			dedup := 0
			for _, s := range elSteps(entries) {
				if s == stDeduplicated {
					dedup++
				}
			}
			require.Equal(t, 1, dedup, elStory(entries))
			// Another request, another trace.
			require.Regexp(t, elTraceID, again[0].GetTraceId())
			require.NotEqual(t, applied.GetTraceId(), again[0].GetTraceId())
			elRequireDelivery(t, again, again[0].GetTraceId())
			require.Equal(t, rev+1, b.instance(t, id).GetRevision(), "a redelivery moves nothing")
		})

		t.Run("STALE", func(t *testing.T) {
			a := elPostSigned(t, b.testBundle, elSIM(t, "envelope-delivered", "delivered", envID, acct))
			require.Equal(t, http.StatusOK, a.status, a.body)
			evs := elList(t, b.clients, &flowhookv1.EventFilter{ExternalId: envID, Verdict: flowhookv1.Verdict_VERDICT_STALE})
			require.Len(t, evs, 1)
			ev := evs[0]
			require.Equal(t, "envelope-delivered", ev.GetEventType())
			require.Equal(t, "envelope-delivered arrived after the work item was resolved", ev.GetVerdictReason())
			entries := elGet(t, b.clients, ev.GetId()).GetEntries()
			elRequireSteps(t, entries, stReceived, stAuthenticated, stParsed, stMatched, stOutcome, stVerdict)
			elRequireDelivery(t, entries, ev.GetTraceId())
			require.Contains(t, entries[3].GetMessage(), "(resolved, provider status completed)")
			require.Equal(t, "STALE: envelope-delivered arrived after the work item was resolved", strings.Split(entries[5].GetMessage(), " (after ")[0])
			require.Equal(t, rev+1, b.instance(t, id).GetRevision())
		})

		rejected := &flowhookv1.EventFilter{Verdict: flowhookv1.Verdict_VERDICT_REJECTED}
		t.Run("REJECTED bad signature", func(t *testing.T) {
			body := elSIM(t, "envelope-completed", "completed", envID, acct)
			before := elTotal(t, b.clients, rejected)
			a := elPost(t, b.testBundle, body, map[string]string{"Content-Type": "application/json",
				"X-DocuSign-Signature-1": docusignfake.Signature(body, "not-a-configured-key"), "User-Agent": "forger/1.0"})
			require.Equal(t, http.StatusUnauthorized, a.status, a.body)
			require.Equal(t, before+1, elTotal(t, b.clients, rejected))
			ev := elNewest(t, b.clients, rejected)
			require.Empty(t, ev.GetEventType(), "never parsed")
			require.Empty(t, ev.GetExternalId(), "never parsed")
			require.Empty(t, ev.GetInstanceId())
			require.EqualValues(t, len(body), ev.GetSizeBytes())
			require.Contains(t, ev.GetVerdictReason(), "HMAC: signature mismatch")
			require.Regexp(t, elTraceID, ev.GetTraceId())
			got := elGet(t, b.clients, ev.GetId())
			require.Equal(t, body, got.GetBody())
			require.Equal(t, "forger/1.0", got.GetHeaders()["User-Agent"])
			require.Equal(t, "application/json", got.GetHeaders()["Content-Type"])
			elRequireNoSignature(t, got.GetHeaders())
			elRequireSteps(t, got.GetEntries(), stReceived, stRejected)
			elRequireDelivery(t, got.GetEntries(), ev.GetTraceId())
			require.Equal(t, "HMAC: signature mismatch (2 key(s) configured, 1 signature header(s) sent)", got.GetEntries()[1].GetMessage())
			for _, e := range got.GetEntries() {
				require.NotContains(t, e.GetMessage(), docusignfake.Signature(body, "not-a-configured-key"), "no signature in the log")
				require.NotContains(t, e.GetMessage(), testHMACKeys[1], "no key in the log")
			}

			// No signature at all.
			a = elPost(t, b.testBundle, body, map[string]string{"Content-Type": "application/json"})
			require.Equal(t, http.StatusUnauthorized, a.status, a.body)
			ev = elNewest(t, b.clients, rejected)
			entries := elGet(t, b.clients, ev.GetId()).GetEntries()
			elRequireSteps(t, entries, stReceived, stRejected)
			require.Equal(t, "HMAC: no signature header (2 key(s) configured, 0 signature header(s) sent)", entries[1].GetMessage())
		})

		t.Run("REJECTED 415", func(t *testing.T) {
			body := elSIM(t, "envelope-completed", "completed", envID, acct)
			before := elTotal(t, b.clients, rejected)
			a := elPost(t, b.testBundle, body, map[string]string{"Content-Type": "text/plain",
				"X-DocuSign-Signature-1": docusignfake.Signature(body, testHMACKeys[1])})
			require.Equal(t, http.StatusUnsupportedMediaType, a.status, a.body)
			require.Equal(t, before+1, elTotal(t, b.clients, rejected))
			ev := elNewest(t, b.clients, rejected)
			require.Contains(t, ev.GetVerdictReason(), "unsupported content type")
			got := elGet(t, b.clients, ev.GetId())
			elRequireNoSignature(t, got.GetHeaders())
			elRequireSteps(t, got.GetEntries(), stReceived, stRejected)
			elRequireDelivery(t, got.GetEntries(), ev.GetTraceId())
			require.Contains(t, got.GetEntries()[0].GetMessage(), `Content-Type "text/plain"`)
			require.Contains(t, got.GetEntries()[1].GetMessage(), "unsupported content type")
		})

		t.Run("REJECTED 413", func(t *testing.T) {
			big := bytes.Repeat([]byte("x"), 2<<20)
			before := elTotal(t, b.clients, rejected)
			a := elPost(t, b.testBundle, big, map[string]string{"Content-Type": "application/json",
				"X-DocuSign-Signature-1": docusignfake.Signature(big, testHMACKeys[1])})
			require.Equal(t, http.StatusRequestEntityTooLarge, a.status, a.body)
			require.Equal(t, before+1, elTotal(t, b.clients, rejected))
			ev := elNewest(t, b.clients, rejected)
			require.Contains(t, ev.GetVerdictReason(), "larger than 1 MiB")
			require.Greater(t, ev.GetSizeBytes(), int64(webhook.MaxRejectedBody))
			got := elGet(t, b.clients, ev.GetId())
			require.Len(t, got.GetBody(), webhook.MaxRejectedBody, "only the first 64 KiB are kept")
			require.Equal(t, big[:webhook.MaxRejectedBody], got.GetBody())
			elRequireNoSignature(t, got.GetHeaders())
			elRequireSteps(t, got.GetEntries(), stReceived, stRejected)
			elRequireDelivery(t, got.GetEntries(), ev.GetTraceId())
			require.Contains(t, got.GetEntries()[0].GetMessage(), "more than 1048576 bytes")
			require.Equal(t, "the body is larger than 1 MiB", got.GetEntries()[1].GetMessage())
		})

		t.Run("UNPARSEABLE", func(t *testing.T) {
			junk := []byte(`{"event": ` + strconv.Quote(uuid.NewString()))
			a := elPostSigned(t, b.testBundle, junk)
			require.Equal(t, http.StatusOK, a.status, a.body)
			require.Contains(t, a.body, `"accepted"`)
			ev := elNewest(t, b.clients, &flowhookv1.EventFilter{Verdict: flowhookv1.Verdict_VERDICT_UNPARSEABLE})
			require.Equal(t, "unparseable", ev.GetEventType())
			require.NotEmpty(t, ev.GetVerdictReason())
			require.Empty(t, ev.GetInstanceId())
			got := elGet(t, b.clients, ev.GetId())
			require.Equal(t, junk, got.GetBody())
			elRequireSteps(t, got.GetEntries(), stReceived, stAuthenticated, stParsed, stVerdict)
			elRequireDelivery(t, got.GetEntries(), ev.GetTraceId())
			require.Equal(t, "unparseable: "+ev.GetVerdictReason(), got.GetEntries()[2].GetMessage())
			require.True(t, strings.HasPrefix(got.GetEntries()[3].GetMessage(), "UNPARSEABLE ("+ev.GetVerdictReason()+") (after "), elStory(got.GetEntries()))
		})

		t.Run("PENDING, then applied by its job", func(t *testing.T) {
			// The create's answer is lost: the envelope exists at DocuSign, and its completion
			// arrives, before the job's retry couples it.
			// The fake holds the retry's lookup until the completion is stored PENDING.
			b.fake.DropNextCreateResponse()
			release := b.fake.HoldLookups()
			t.Cleanup(release)
			id2 := elApprove(t, b)
			env2 := elCreatedEnvelope(t, b.fake, 1)
			require.NotEqual(t, envID, env2)
			require.NoError(t, b.fake.Complete(env2))
			elDelivery(t, b.fake, env2, "envelope-completed")
			early := b.instance(t, id2)
			require.Equal(t, "CREATING", early.GetWorkItem().GetStatus())
			done := &flowhookv1.EventFilter{ExternalId: env2, EventType: "envelope-completed"}
			ev := elAwait(t, b.clients, done, flowhookv1.Verdict_VERDICT_PENDING, flowsWait)
			release()
			first := elGet(t, b.clients, ev.GetId()).GetEntries()
			require.GreaterOrEqual(t, len(first), 5, elStory(first))
			elRequireSteps(t, first[:5], stReceived, stAuthenticated, stParsed, stBuffered, stVerdict)
			elRequireDelivery(t, first[:5], ev.GetTraceId())
			require.Contains(t, first[3].GetMessage(), "no work item has the DOCUSIGN id "+env2+" yet")
			require.Contains(t, first[4].GetMessage(), "stored PENDING, to be processed once stored")

			b.settled(t, id2, "done")
			ev = elAwait(t, b.clients, done, flowhookv1.Verdict_VERDICT_APPLIED, flowsWait)
			require.Equal(t, id2, ev.GetInstanceId())
			entries := elAwaitJobStory(t, b.clients, ev.GetId(), 5)
			require.Greater(t, len(entries), 5, elStory(entries))
			for i, e := range entries[:5] {
				require.True(t, proto.Equal(first[i], e), elStory(entries))
			}
			// Then the job's runs: BUFFERED while the envelope is unknown, then the story of
			// the run that applied it.
			job := entries[5:]
			elRequireJobStory(t, job, `APPLIED: took "signed" to "done" (after `, stMatched, stOutcome, stTransition)
			i := slices.Index(elSteps(job), stMatched)
			require.Contains(t, job[i].GetMessage(), "of instance "+id2)
		})
	})
}

// TestEventLogOrphaned: an event for an envelope nobody knows waits for the orphan window, with
// its job's attempts in its story, then is ORPHANED.
func TestEventLogOrphaned(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		tel, _ := elTelemetry(t)
		b := setupDocuSignWith(t, d, tel, func(c *config.Config) { c.OrphanWindow = time.Second })
		elSecurity(t, b.clients, true, 0, 0)
		unknown := uuid.NewString()
		a := elPostSigned(t, b.testBundle, elSIM(t, "envelope-completed", "completed", unknown, b.fake.AccountID()))
		require.Equal(t, http.StatusOK, a.status, a.body)
		require.Contains(t, a.body, `"accepted"`)

		f := &flowhookv1.EventFilter{ExternalId: unknown}
		ev := elAwait(t, b.clients, f, flowhookv1.Verdict_VERDICT_ORPHANED, flowsOrphanWait)
		require.Equal(t, "no work item has the DOCUSIGN id "+unknown+" after 1s", ev.GetVerdictReason())
		require.Empty(t, ev.GetInstanceId())
		require.Empty(t, ev.GetWorkItemId())
		require.NotNil(t, ev.GetProcessedAt())
		require.GreaterOrEqual(t, ev.GetProcessedAt().AsTime().Sub(ev.GetReceivedAt().AsTime()), time.Second, "not before the window")
		require.EqualValues(t, 1, ev.GetAttempts())

		// The job writes its steps to the Event Log just after it saved the verdict.
		var entries []*flowhookv1.EventLogEntry
		require.Eventually(t, func() bool {
			entries = elGet(t, b.clients, ev.GetId()).GetEntries()
			return len(entries) > 5 && entries[len(entries)-1].GetStep() == stVerdict
		}, flowsRetryWait, flowsTick, "the job's steps never reached the Event Log")
		elRequireSteps(t, entries[:5], stReceived, stAuthenticated, stParsed, stBuffered, stVerdict)
		elRequireDelivery(t, entries[:5], ev.GetTraceId())
		for _, e := range entries[5 : len(entries)-1] {
			require.Equal(t, stBuffered, e.GetStep(), elStory(entries))
			require.Contains(t, e.GetMessage(), unknown)
		}
		last := entries[len(entries)-1]
		require.Equal(t, stVerdict, last.GetStep(), elStory(entries))
		require.True(t, strings.HasPrefix(last.GetMessage(), "ORPHANED: no work item has the DOCUSIGN id "+unknown+" after 1s (after "), last.GetMessage())
		require.Regexp(t, elTraceID, last.GetTraceId())
	})
}

// TestEventLogList: newest first, each filter narrows, pages are whole and carry the total.
func TestEventLogList(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setupDocuSign(t, d)
		ctx := context.Background()
		acct := b.fake.AccountID()
		id, envID := b.toSignature(t)
		elQuiet(t, b.clients, envID)
		require.NoError(t, b.fake.Complete(envID))
		b.settled(t, id, "done")
		elQuiet(t, b.clients, envID)
		// Envelopes nobody knows (PENDING for the 15 minutes of the window) and junk.
		for _, e := range []struct{ event, status string }{{"envelope-completed", "completed"}, {"envelope-delivered", "delivered"}, {"envelope-voided", "voided"}} {
			a := elPostSigned(t, b.testBundle, elSIM(t, e.event, e.status, uuid.NewString(), acct))
			require.Equal(t, http.StatusOK, a.status, a.body)
		}
		a := elPostSigned(t, b.testBundle, []byte(`[1, 2`))
		require.Equal(t, http.StatusOK, a.status, a.body)

		all := elList(t, b.clients, nil)
		require.GreaterOrEqual(t, len(all), 7)
		require.Equal(t, int64(len(all)), elTotal(t, b.clients, nil))
		for i := 1; i < len(all); i++ {
			require.Greater(t, all[i-1].GetId(), all[i].GetId(), "newest first (ids are UUIDv7)")
			require.False(t, all[i-1].GetReceivedAt().AsTime().Truncate(time.Millisecond).Before(all[i].GetReceivedAt().AsTime().Truncate(time.Millisecond)),
				"newest first: %v before %v", all[i-1].GetReceivedAt().AsTime(), all[i].GetReceivedAt().AsTime())
		}
		ids := func(evs []*flowhookv1.Event) []string {
			out := make([]string, len(evs))
			for i, e := range evs {
				out[i] = e.GetId()
			}
			return out
		}
		where := func(keep func(*flowhookv1.Event) bool) []string {
			out := []string{}
			for _, e := range all {
				if keep(e) {
					out = append(out, e.GetId())
				}
			}
			return out
		}
		// since and until taken from events' own received times: the second oldest and the
		// second newest. By time, not by place in the list: ids order events by millisecond
		// only, and two events of one millisecond may be listed in either order.
		n := len(all)
		times := make([]time.Time, n)
		for i, e := range all {
			times[i] = e.GetReceivedAt().AsTime()
		}
		slices.SortFunc(times, time.Time.Compare)
		require.True(t, times[1].After(times[0]) && times[n-2].After(times[n-3]), "distinct received times where the bounds fall: %v", times)
		since, until := timestamppb.New(times[1]), timestamppb.New(times[n-2])
		require.True(t, until.AsTime().After(since.AsTime()))
		cases := []struct {
			name string
			f    *flowhookv1.EventFilter
			keep func(*flowhookv1.Event) bool
			want int // -1: at least one, fewer than all
		}{
			{"provider", &flowhookv1.EventFilter{Provider: flowhookv1.Provider_PROVIDER_DOCUSIGN}, func(*flowhookv1.Event) bool { return true }, n},
			{"other provider", &flowhookv1.EventFilter{Provider: flowhookv1.Provider_PROVIDER_ONESPAN}, func(*flowhookv1.Event) bool { return false }, 0},
			{"verdict APPLIED", &flowhookv1.EventFilter{Verdict: flowhookv1.Verdict_VERDICT_APPLIED}, func(e *flowhookv1.Event) bool {
				return e.GetVerdict() == flowhookv1.Verdict_VERDICT_APPLIED
			}, 1},
			{"verdict PENDING", &flowhookv1.EventFilter{Verdict: flowhookv1.Verdict_VERDICT_PENDING}, func(e *flowhookv1.Event) bool {
				return e.GetVerdict() == flowhookv1.Verdict_VERDICT_PENDING
			}, 3},
			{"verdict UNPARSEABLE", &flowhookv1.EventFilter{Verdict: flowhookv1.Verdict_VERDICT_UNPARSEABLE}, func(e *flowhookv1.Event) bool {
				return e.GetVerdict() == flowhookv1.Verdict_VERDICT_UNPARSEABLE
			}, 1},
			{"event_type", &flowhookv1.EventFilter{EventType: "envelope-completed"}, func(e *flowhookv1.Event) bool {
				return e.GetEventType() == "envelope-completed"
			}, 2},
			{"external_id", &flowhookv1.EventFilter{ExternalId: envID}, func(e *flowhookv1.Event) bool { return e.GetExternalId() == envID }, -1},
			{"instance_id", &flowhookv1.EventFilter{InstanceId: id}, func(e *flowhookv1.Event) bool { return e.GetInstanceId() == id }, -1},
			{"since", &flowhookv1.EventFilter{Since: since}, func(e *flowhookv1.Event) bool {
				return !e.GetReceivedAt().AsTime().Before(since.AsTime())
			}, n - 1},
			{"until", &flowhookv1.EventFilter{Until: until}, func(e *flowhookv1.Event) bool {
				return e.GetReceivedAt().AsTime().Before(until.AsTime())
			}, n - 2},
			{"since and until", &flowhookv1.EventFilter{Since: since, Until: until}, func(e *flowhookv1.Event) bool {
				at := e.GetReceivedAt().AsTime()
				return !at.Before(since.AsTime()) && at.Before(until.AsTime())
			}, n - 3},
			{"all at once", &flowhookv1.EventFilter{Provider: flowhookv1.Provider_PROVIDER_DOCUSIGN, Verdict: flowhookv1.Verdict_VERDICT_APPLIED,
				EventType: "envelope-completed", ExternalId: envID, InstanceId: id, Since: since, Until: until}, func(e *flowhookv1.Event) bool {
				return e.GetVerdict() == flowhookv1.Verdict_VERDICT_APPLIED && e.GetExternalId() == envID
			}, 1},
			{"nothing", &flowhookv1.EventFilter{ExternalId: envID, Verdict: flowhookv1.Verdict_VERDICT_PENDING}, func(*flowhookv1.Event) bool { return false }, 0},
		}
		for _, c := range cases {
			want := where(c.keep)
			switch {
			case c.want >= 0:
				require.Len(t, want, c.want, "%s: the fixture is not what the test expects", c.name)
			default:
				require.NotEmpty(t, want, c.name)
				require.Less(t, len(want), n, c.name)
			}
			got := elList(t, b.clients, c.f)
			require.Equal(t, want, ids(got), "%s: %v", c.name, c.f)
			require.Equal(t, int64(len(want)), elTotal(t, b.clients, c.f), c.name)
		}
		// Every listed event is the one GetEvent returns (without its body).
		for _, e := range all {
			require.True(t, proto.Equal(e, elGet(t, b.clients, e.GetId()).GetEvent()), "%v", e)
		}

		// Pages of two: whole, in order, each with the total.
		paged := func(f *flowhookv1.EventFilter, want []string) {
			t.Helper()
			var got []string
			token, pages := "", 0
			for {
				res, err := b.eventLog.ListEvents(ctx, connect.NewRequest(&flowhookv1.ListEventsRequest{Filter: f, PageSize: 2, PageToken: token}))
				require.NoError(t, err)
				pages++
				require.Equal(t, int64(len(want)), res.Msg.GetTotalSize(), "page %d", pages)
				require.LessOrEqual(t, len(res.Msg.GetEvents()), 2)
				got = append(got, ids(res.Msg.GetEvents())...)
				if token = res.Msg.GetNextPageToken(); token == "" {
					break
				}
				require.Len(t, res.Msg.GetEvents(), 2, "only the last page is short")
				require.Less(t, pages, 100)
			}
			require.Equal(t, want, got, "no duplicates, no gaps")
			require.Equal(t, (len(want)+1)/2, pages)
		}
		paged(nil, ids(all))
		paged(&flowhookv1.EventFilter{Verdict: flowhookv1.Verdict_VERDICT_PENDING}, where(func(e *flowhookv1.Event) bool {
			return e.GetVerdict() == flowhookv1.Verdict_VERDICT_PENDING
		}))

		// total_size is counted on every page, so it includes events that arrived meanwhile;
		// newer ones wait for the next listing (the position is kept).
		res, err := b.eventLog.ListEvents(ctx, connect.NewRequest(&flowhookv1.ListEventsRequest{PageSize: 2}))
		require.NoError(t, err)
		a = elPostSigned(t, b.testBundle, elSIM(t, "envelope-sent", "sent", uuid.NewString(), acct))
		require.Equal(t, http.StatusOK, a.status, a.body)
		next, err := b.eventLog.ListEvents(ctx, connect.NewRequest(&flowhookv1.ListEventsRequest{PageSize: 2, PageToken: res.Msg.GetNextPageToken()}))
		require.NoError(t, err)
		require.Equal(t, int64(n+1), next.Msg.GetTotalSize())
		require.Equal(t, ids(all)[2:4], ids(next.Msg.GetEvents()))
		require.Len(t, elList(t, b.clients, nil), n+1)
	})
}

// TestEventLogRejectsBadInput: malformed filters, pages and ids are InvalidArgument with the
// field's problem; an unknown id is NotFound.
func TestEventLogRejectsBadInput(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setup(t, d)
		ctx := context.Background()
		// Events without DocuSign: with the debug option on, refused notifications are kept.
		elSecurity(t, b.clients, true, 0, 0)
		for i := range 3 {
			a := elPost(t, b, []byte(fmt.Sprintf(`{"n":%d}`, i)), map[string]string{"Content-Type": "application/json"})
			require.Equal(t, http.StatusUnauthorized, a.status, a.body)
		}
		var evs []*flowhookv1.Event
		require.Eventually(t, func() bool {
			evs = elTry(b.clients, nil)
			return len(evs) == 3
		}, flowsWait, flowsTick)
		entries := elGet(t, b.clients, evs[0].GetId()).GetEntries()
		elRequireSteps(t, entries, stReceived, stRejected)
		require.Contains(t, entries[1].GetMessage(), "no HMAC key configured")

		first, err := b.eventLog.ListEvents(ctx, connect.NewRequest(&flowhookv1.ListEventsRequest{PageSize: 1}))
		require.NoError(t, err)
		token := first.Msg.GetNextPageToken()
		require.NotEmpty(t, token)
		require.EqualValues(t, 3, first.Msg.GetTotalSize())

		list := func(r *flowhookv1.ListEventsRequest) map[string]string {
			t.Helper()
			_, err := b.eventLog.ListEvents(ctx, connect.NewRequest(r))
			return problems(t, requireCode(t, err, connect.CodeInvalidArgument))
		}
		at := timestamppb.New(time.Now())
		cases := []struct {
			name string
			req  *flowhookv1.ListEventsRequest
			path string
			text string
		}{
			{"negative page_size", &flowhookv1.ListEventsRequest{PageSize: -1}, "page_size", "greater than or equal to 0"},
			{"garbage page_token", &flowhookv1.ListEventsRequest{PageToken: "not a token!"}, "page_token", "not a token"},
			{"base64 page_token", &flowhookv1.ListEventsRequest{PageToken: "eyJ4IjoxfQ"}, "page_token", "not a token"},
			{"token of another filter", &flowhookv1.ListEventsRequest{PageSize: 1, PageToken: token,
				Filter: &flowhookv1.EventFilter{Verdict: flowhookv1.Verdict_VERDICT_REJECTED}}, "page_token", "another filter"},
			{"instance_id", &flowhookv1.ListEventsRequest{Filter: &flowhookv1.EventFilter{InstanceId: "not-a-uuid"}}, "filter.instance_id", "valid UUID"},
			{"verdict 99", &flowhookv1.ListEventsRequest{Filter: &flowhookv1.EventFilter{Verdict: 99}}, "filter.verdict", "defined enum values"},
			{"provider 99", &flowhookv1.ListEventsRequest{Filter: &flowhookv1.EventFilter{Provider: 99}}, "filter.provider", "defined enum values"},
			{"until before since", &flowhookv1.ListEventsRequest{Filter: &flowhookv1.EventFilter{Since: at,
				Until: timestamppb.New(at.AsTime().Add(-time.Second))}}, "filter.until", "after since"},
			{"until equal to since", &flowhookv1.ListEventsRequest{Filter: &flowhookv1.EventFilter{Since: at, Until: at}}, "filter.until", "after since"},
			{"since out of range", &flowhookv1.ListEventsRequest{Filter: &flowhookv1.EventFilter{
				Since: &timestamppb.Timestamp{Seconds: 253402300800}}}, "filter.since", "not a valid timestamp"},
			{"until out of range", &flowhookv1.ListEventsRequest{Filter: &flowhookv1.EventFilter{
				Until: &timestamppb.Timestamp{Seconds: -62135596801}}}, "filter.until", "not a valid timestamp"},
			{"nanos out of range", &flowhookv1.ListEventsRequest{Filter: &flowhookv1.EventFilter{
				Since: &timestamppb.Timestamp{Seconds: 1, Nanos: -1}}}, "filter.since", "not a valid timestamp"},
			{"event_type too long", &flowhookv1.ListEventsRequest{Filter: &flowhookv1.EventFilter{EventType: strings.Repeat("e", 256)}}, "filter.event_type", "255"},
			{"external_id too long", &flowhookv1.ListEventsRequest{Filter: &flowhookv1.EventFilter{ExternalId: strings.Repeat("e", 256)}}, "filter.external_id", "255"},
		}
		for _, c := range cases {
			ps := list(c.req)
			require.Contains(t, ps, c.path, c.name)
			require.Contains(t, ps[c.path], c.text, c.name)
		}
		// Every problem at once.
		ps := list(&flowhookv1.ListEventsRequest{PageSize: -5, Filter: &flowhookv1.EventFilter{Provider: 99, Verdict: 99, InstanceId: "x"}})
		for _, p := range []string{"page_size", "filter.provider", "filter.verdict", "filter.instance_id"} {
			require.Contains(t, ps, p)
		}

		// The token goes on with its own filter; oversized pages are lowered, not refused.
		rest, err := b.eventLog.ListEvents(ctx, connect.NewRequest(&flowhookv1.ListEventsRequest{PageSize: 1000, PageToken: token}))
		require.NoError(t, err)
		require.Len(t, rest.Msg.GetEvents(), 2)
		require.EqualValues(t, 3, rest.Msg.GetTotalSize())
		require.Empty(t, rest.Msg.GetNextPageToken())

		for _, bad := range []string{"", "not-a-uuid", strings.Repeat("0", 32), "{" + uuid.NewString() + "}"} {
			_, err = b.eventLog.GetEvent(ctx, connect.NewRequest(&flowhookv1.GetEventRequest{Id: bad}))
			require.Contains(t, problems(t, requireCode(t, err, connect.CodeInvalidArgument)), "id", "%q", bad)
			_, err = b.eventLog.ReplayEvent(ctx, connect.NewRequest(&flowhookv1.ReplayEventRequest{Id: bad}))
			require.Contains(t, problems(t, requireCode(t, err, connect.CodeInvalidArgument)), "id", "%q", bad)
		}
		_, err = b.eventLog.GetEvent(ctx, connect.NewRequest(&flowhookv1.GetEventRequest{Id: uuid.NewString()}))
		requireCode(t, err, connect.CodeNotFound)
		_, err = b.eventLog.ReplayEvent(ctx, connect.NewRequest(&flowhookv1.ReplayEventRequest{Id: uuid.NewString()}))
		requireCode(t, err, connect.CodeNotFound)
	})
}

// TestReplayEvent: what a replay does with each kind of stored event.
func TestReplayEvent(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setupDocuSign(t, d)
		ctx := context.Background()
		me, err := b.identity.WhoAmI(ctx, connect.NewRequest(&flowhookv1.WhoAmIRequest{}))
		require.NoError(t, err)
		adminID := me.Msg.GetUser().GetId()
		replay := func(id string) (*flowhookv1.ReplayEventResponse, error) {
			res, err := b.eventLog.ReplayEvent(ctx, connect.NewRequest(&flowhookv1.ReplayEventRequest{Id: id}))
			if err != nil {
				return nil, err
			}
			return res.Msg, nil
		}

		t.Run("APPLIED changes nothing", func(t *testing.T) {
			id, envID := b.toSignature(t)
			elQuiet(t, b.clients, envID)
			require.NoError(t, b.fake.Complete(envID))
			b.settled(t, id, "done")
			ev := elAwait(t, b.clients, &flowhookv1.EventFilter{ExternalId: envID, EventType: "envelope-completed"}, flowhookv1.Verdict_VERDICT_APPLIED, flowsWait)
			in := b.instance(t, id)
			acts := elActivity(t, b.starter, id)
			require.Empty(t, elGet(t, b.clients, ev.GetId()).GetEntries(), "the debug option is off")

			res, err := replay(ev.GetId())
			require.NoError(t, err)
			require.True(t, proto.Equal(ev, res.GetEvent()), "the event unchanged:\n%v\n%v", ev, res.GetEvent())
			require.Equal(t, flowhookv1.Verdict_VERDICT_APPLIED, res.GetPreviousVerdict())
			elRequireSteps(t, res.GetEntries(), stReplayed, stVerdict)
			require.Equal(t, fmt.Sprintf(`replayed by user %s; it was APPLIED after 1 attempt(s) (took "signed" to "done")`, adminID), res.GetEntries()[0].GetMessage())
			require.Equal(t, "APPLIED already took effect; nothing is applied twice", res.GetEntries()[1].GetMessage())
			// A replay's steps are kept whatever the debug option.
			kept := elGet(t, b.clients, ev.GetId()).GetEntries()
			require.Len(t, kept, 2)
			for i, k := range kept {
				r := res.GetEntries()[i]
				require.Equal(t, r.GetId(), k.GetId())
				require.Equal(t, r.GetStep(), k.GetStep())
				require.Equal(t, r.GetMessage(), k.GetMessage())
				require.Equal(t, r.GetTraceId(), k.GetTraceId())
				require.Equal(t, r.GetSpanId(), k.GetSpanId())
				// Kept to the microsecond.
				require.WithinDuration(t, r.GetAt().AsTime(), k.GetAt().AsTime(), time.Microsecond)
				require.InDelta(t, r.GetElapsed().AsDuration(), k.GetElapsed().AsDuration(), float64(time.Microsecond))
			}
			// Nothing applied twice.
			after := b.instance(t, id)
			require.Equal(t, in.GetRevision(), after.GetRevision())
			require.Equal(t, "done", after.GetStateKey())
			require.Len(t, elActivity(t, b.starter, id), len(acts))

			// A PROGRESS event neither.
			sent := elAwait(t, b.clients, &flowhookv1.EventFilter{ExternalId: envID, EventType: "envelope-sent"}, flowhookv1.Verdict_VERDICT_PROGRESS, flowsWait)
			res, err = replay(sent.GetId())
			require.NoError(t, err)
			require.True(t, proto.Equal(sent, res.GetEvent()))
			require.Equal(t, flowhookv1.Verdict_VERDICT_PROGRESS, res.GetPreviousVerdict())
			elRequireSteps(t, res.GetEntries(), stReplayed, stVerdict)
			require.Len(t, elActivity(t, b.starter, id), len(acts))
		})

		t.Run("UNPARSEABLE is read again", func(t *testing.T) {
			junk := []byte(`{"event": "envelope-completed", "data": ` + strconv.Quote(uuid.NewString()))
			a := elPostSigned(t, b.testBundle, junk)
			require.Equal(t, http.StatusOK, a.status, a.body)
			ev := elNewest(t, b.clients, &flowhookv1.EventFilter{Verdict: flowhookv1.Verdict_VERDICT_UNPARSEABLE})
			require.EqualValues(t, 0, ev.GetAttempts(), "never processed")
			res, err := replay(ev.GetId())
			require.NoError(t, err)
			require.Equal(t, flowhookv1.Verdict_VERDICT_UNPARSEABLE, res.GetPreviousVerdict())
			require.Equal(t, flowhookv1.Verdict_VERDICT_UNPARSEABLE, res.GetEvent().GetVerdict(), "the parser still cannot read it")
			require.EqualValues(t, 1, res.GetEvent().GetAttempts())
			require.NotNil(t, res.GetEvent().GetProcessedAt())
			elRequireSteps(t, res.GetEntries(), stReplayed, stVerdict)
			require.True(t, strings.HasPrefix(res.GetEntries()[1].GetMessage(), "UNPARSEABLE: "), res.GetEntries()[1].GetMessage())
			require.Equal(t, junk, elGet(t, b.clients, ev.GetId()).GetBody(), "the body is kept as received")
		})

		t.Run("PENDING waits again", func(t *testing.T) {
			unknown := uuid.NewString()
			a := elPostSigned(t, b.testBundle, elSIM(t, "envelope-completed", "completed", unknown, b.fake.AccountID()))
			require.Equal(t, http.StatusOK, a.status, a.body)
			ev := elAwait(t, b.clients, &flowhookv1.EventFilter{ExternalId: unknown}, flowhookv1.Verdict_VERDICT_PENDING, flowsWait)
			res, err := replay(ev.GetId())
			require.NoError(t, err)
			require.Equal(t, flowhookv1.Verdict_VERDICT_PENDING, res.GetPreviousVerdict())
			require.Equal(t, flowhookv1.Verdict_VERDICT_PENDING, res.GetEvent().GetVerdict())
			require.Equal(t, "waiting for its work item to be coupled", res.GetEvent().GetVerdictReason())
			require.Equal(t, ev.GetAttempts(), res.GetEvent().GetAttempts(), "still undecided: not an attempt")
			elRequireSteps(t, res.GetEntries(), stReplayed, stParsed, stBuffered, stVerdict)
			require.Contains(t, res.GetEntries()[2].GetMessage(), unknown)
			require.Equal(t, "PENDING: waiting for its work item to be coupled", res.GetEntries()[3].GetMessage())
		})

		t.Run("REJECTED cannot be replayed", func(t *testing.T) {
			elSecurity(t, b.clients, true, 0, 0)
			a := elPostForged(t, b.testBundle, elSIM(t, "envelope-completed", "completed", uuid.NewString(), b.fake.AccountID()))
			require.Equal(t, http.StatusUnauthorized, a.status, a.body)
			var ev *flowhookv1.Event
			require.Eventually(t, func() bool {
				evs := elTry(b.clients, &flowhookv1.EventFilter{Verdict: flowhookv1.Verdict_VERDICT_REJECTED})
				if len(evs) != 1 {
					return false
				}
				ev = evs[0]
				return true
			}, flowsWait, flowsTick)
			before := elGet(t, b.clients, ev.GetId())
			_, err := replay(ev.GetId())
			cerr := requireCode(t, err, connect.CodeFailedPrecondition)
			require.Contains(t, cerr.Message(), "never authenticated")
			after := elGet(t, b.clients, ev.GetId())
			require.True(t, proto.Equal(before, after), "a refused replay changes nothing:\n%v\n%v", before, after)
			elRequireSteps(t, after.GetEntries(), stReceived, stRejected)
		})
	})
}

// TestReplayEventConcurrently: an event orphaned before its envelope was coupled is picked up
// and applied by the coupling itself (issue 15: nothing waits for reconciliation); ten replays
// at once afterwards apply nothing twice.
func TestReplayEventConcurrently(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		// Any event for an envelope not coupled yet is orphaned at once.
		b := setupDocuSignWith(t, d, nil, func(c *config.Config) { c.OrphanWindow = time.Millisecond })
		ctx := context.Background()
		// The create's answer is lost: DocuSign has the envelope; flowhook couples it only on
		// the create job's retry, whose lookup the fake holds until the completion is orphaned.
		b.fake.DropNextCreateResponse()
		release := b.fake.HoldLookups()
		t.Cleanup(release)
		id := elApprove(t, b)
		envID := elCreatedEnvelope(t, b.fake, 0)
		require.NoError(t, b.fake.Complete(envID))
		elDelivery(t, b.fake, envID, "envelope-completed")
		done := &flowhookv1.EventFilter{ExternalId: envID, EventType: "envelope-completed"}
		orphan := elAwait(t, b.clients, done, flowhookv1.Verdict_VERDICT_ORPHANED, flowsWait)
		require.Empty(t, orphan.GetInstanceId())
		require.EqualValues(t, 1, orphan.GetAttempts())
		release()

		// The retried create finds the envelope and couples it, and the coupling picks up the
		// orphaned completion: the instance moves on by itself.
		require.Eventually(t, func() bool {
			in := elInstance(b.clients, id)
			return in != nil && in.GetStatus() == flowhookv1.InstanceStatus_INSTANCE_STATUS_COMPLETED
		}, flowsRetryWait, flowsTick, "the coupling never applied the orphaned completion")
		in := b.instance(t, id)
		require.Equal(t, "done", in.GetStateKey())
		require.Equal(t, envID, in.GetWorkItem().GetExternalId())
		require.Equal(t, flowhookv1.Outcome_OUTCOME_FINISHED, in.GetWorkItem().GetOutcome())
		picked := elGet(t, b.clients, orphan.GetId())
		require.Equal(t, flowhookv1.Verdict_VERDICT_APPLIED, picked.GetEvent().GetVerdict())
		require.Equal(t, `took "signed" to "done"`, picked.GetEvent().GetVerdictReason())
		require.EqualValues(t, 2, picked.GetEvent().GetAttempts(), "the orphaning and the pick-up")
		require.Equal(t, 1, countSteps(picked.GetEntries(), stReplayed, "picked up again when work item "), elStory(picked.GetEntries()))

		const n = 10
		type answer struct {
			res *flowhookv1.ReplayEventResponse
			err error
		}
		answers := make([]answer, n)
		gate := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-gate
				res, err := b.eventLog.ReplayEvent(ctx, connect.NewRequest(&flowhookv1.ReplayEventRequest{Id: orphan.GetId()}))
				if err != nil {
					answers[i] = answer{err: err}
					return
				}
				answers[i] = answer{res: res.Msg}
			})
		}
		close(gate)
		wg.Wait()
		for i, a := range answers {
			require.NoError(t, a.err, "replay %d", i)
			ev := a.res.GetEvent()
			require.Equal(t, flowhookv1.Verdict_VERDICT_APPLIED, ev.GetVerdict(), "replay %d", i)
			require.Equal(t, flowhookv1.Verdict_VERDICT_APPLIED, a.res.GetPreviousVerdict(), "replay %d", i)
			require.Equal(t, id, ev.GetInstanceId(), "replay %d", i)
			require.Equal(t, in.GetWorkItem().GetId(), ev.GetWorkItemId(), "replay %d", i)
			require.EqualValues(t, 2, ev.GetAttempts(), "replay %d: a replay of an applied event is no attempt", i)
			last := a.res.GetEntries()[len(a.res.GetEntries())-1]
			require.Equal(t, "APPLIED already took effect; nothing is applied twice", last.GetMessage(), elStory(a.res.GetEntries()))
		}

		after := b.instance(t, id)
		require.Equal(t, in.GetRevision(), after.GetRevision(), "the replays moved nothing")
		acts := elActivity(t, b.starter, id)
		require.Equal(t, 1, elCount(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_OUTCOME, "", "reported envelope-completed: outcome FINISHED"))
		require.Equal(t, 1, elCount(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_TRANSITION, "sign", ""))
		require.Equal(t, 1, elCount(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_COMPLETED, "", ""))
		got := elGet(t, b.clients, orphan.GetId())
		require.Equal(t, n, countSteps(got.GetEntries(), stReplayed, "replayed by user "), elStory(got.GetEntries()))
		require.Equal(t, n, countSteps(got.GetEntries(), stVerdict, "APPLIED already took effect"), elStory(got.GetEntries()))
	})
}

// countSteps counts the entries of a step whose message starts with prefix.
func countSteps(entries []*flowhookv1.EventLogEntry, step flowhookv1.EventStep, prefix string) int {
	c := 0
	for _, e := range entries {
		if e.GetStep() == step && strings.HasPrefix(e.GetMessage(), prefix) {
			c++
		}
	}
	return c
}

// elInstance reads an instance for a polling condition: nil when the call fails.
func elInstance(c clients, id string) *flowhookv1.Instance {
	got, err := c.instances.GetInstance(context.Background(), connect.NewRequest(&flowhookv1.GetInstanceRequest{InstanceId: id}))
	if err != nil {
		return nil
	}
	return got.Msg.GetInstance()
}

// TestEventLogPurge: the retention purge deletes processed events and their steps once they
// are older than the retention, never PENDING events, and follows the retention setting.
func TestEventLogPurge(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setupDocuSign(t, d)
		ctx := context.Background()
		on := elSecurity(t, b.clients, true, 0, 0)
		id, envID := b.toSignature(t)
		elQuiet(t, b.clients, envID)
		require.NoError(t, b.fake.Complete(envID))
		b.settled(t, id, "done")
		elQuiet(t, b.clients, envID)
		unknown := uuid.NewString()
		a := elPostSigned(t, b.testBundle, elSIM(t, "envelope-completed", "completed", unknown, b.fake.AccountID()))
		require.Equal(t, http.StatusOK, a.status, a.body)
		a = elPostForged(t, b.testBundle, elSIM(t, "envelope-completed", "completed", unknown, b.fake.AccountID()))
		require.Equal(t, http.StatusUnauthorized, a.status, a.body)

		all := elList(t, b.clients, nil)
		var pending, processed []string
		for _, e := range all {
			if e.GetVerdict() == flowhookv1.Verdict_VERDICT_PENDING {
				pending = append(pending, e.GetId())
			} else {
				processed = append(processed, e.GetId())
			}
		}
		require.Equal(t, []string{elNewest(t, b.clients, &flowhookv1.EventFilter{ExternalId: unknown}).GetId()}, pending)
		require.GreaterOrEqual(t, len(processed), 4, "sent, recipient-completed, completed, rejected")
		entriesOf := func(ids []string) int {
			t.Helper()
			uids := make([]uuid.UUID, len(ids))
			for i, s := range ids {
				uids[i] = uuid.MustParse(s)
			}
			n, err := b.app.DB().Client.EventLogEntry.Query().Where(eventlogentry.EventIDIn(uids...)).Count(ctx)
			require.NoError(t, err)
			return n
		}
		kept := entriesOf(processed)
		require.Positive(t, kept, "the debug option wrote steps")

		st := store.New(b.app.DB())
		ahead := elClock(time.Now().Add(31 * 24 * time.Hour))

		// Kept 60 days: a month on, nothing goes.
		sixty := elSecurity(t, b.clients, true, 60, on.GetRevision())
		require.EqualValues(t, 60, sixty.GetEventRetentionDays())
		purged, err := engine.PurgeEventLog(ctx, st, engine.NewSecurity(st, engine.SystemClock{}), ahead)
		require.NoError(t, err)
		require.Zero(t, purged)
		ids := func(evs []*flowhookv1.Event) []string {
			out := make([]string, len(evs))
			for i, e := range evs {
				out[i] = e.GetId()
			}
			return out
		}
		require.Equal(t, ids(all), ids(elList(t, b.clients, nil)), "nothing purged within the retention")
		require.Equal(t, kept, entriesOf(processed))

		// Now too: nothing is old yet.
		purged, err = engine.PurgeEventLog(ctx, st, engine.NewSecurity(st, engine.SystemClock{}), engine.SystemClock{})
		require.NoError(t, err)
		require.Zero(t, purged)

		// Back to the default, 30 days: a month on, what was processed goes with its steps.
		thirty := elSecurity(t, b.clients, true, 0, sixty.GetRevision())
		require.EqualValues(t, 30, thirty.GetEventRetentionDays())
		purged, err = engine.PurgeEventLog(ctx, st, engine.NewSecurity(st, engine.SystemClock{}), ahead)
		require.NoError(t, err)
		require.GreaterOrEqual(t, purged, len(processed)+kept, "the events and their steps")
		left := elList(t, b.clients, nil)
		require.Len(t, left, 1, "only the PENDING event stays")
		require.Equal(t, pending[0], left[0].GetId())
		require.Equal(t, flowhookv1.Verdict_VERDICT_PENDING, left[0].GetVerdict())
		require.Zero(t, entriesOf(processed), "no step outlives its event")
		for _, pid := range processed {
			_, err := b.eventLog.GetEvent(ctx, connect.NewRequest(&flowhookv1.GetEventRequest{Id: pid}))
			requireCode(t, err, connect.CodeNotFound)
		}
		// The instance itself is untouched.
		require.Equal(t, "done", b.instance(t, id).GetStateKey())
	})
}
