package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/config"
	"github.com/flowhook/flowhook/server/internal/provider/connector/connectorfake"
	"github.com/flowhook/flowhook/server/internal/provider/connector/standardwebhooks"
	"github.com/flowhook/flowhook/server/internal/store"
	"github.com/flowhook/flowhook/server/internal/telemetry"
	"github.com/flowhook/flowhook/server/internal/webhook"
)

// The connector flows end to end: a real server on each database, the fake ticketing system
// as the outside system behind a connector, signed calls both ways, and assertions on what the
// API, the fake and the Event Log show. Background work is awaited with require.Eventually.

// connectorBundle is a server with a connector "tickets" to a fake ticketing system and a
// published workflow whose "ticket" state waits on it.
type connectorBundle struct {
	*testBundle
	fake       *connectorfake.Fake
	base       string // the fake's URL
	secret     string
	workflowID string
}

const ticketsToken = "Bearer tickets-api-token-0123456789"

func setupConnector(t *testing.T, d store.Dialect, configure func(*config.Config)) connectorBundle {
	t.Helper()
	return setupConnectorWith(t, d, nil, configure)
}

// setupConnectorWith is setupConnector with telemetry (nil: none).
func setupConnectorWith(t *testing.T, d store.Dialect, tel *telemetry.Telemetry, configure func(*config.Config)) connectorBundle {
	t.Helper()
	b := setupWith(t, d, tel, configure)
	ctx := context.Background()
	fake := connectorfake.New(connectorfake.Options{AuthHeader: connectorfake.AuthHeader{Name: "Authorization", Value: ticketsToken}})
	base := fake.Start(t)
	c := connectorBundle{testBundle: b, fake: fake, base: base, secret: fake.Secrets()[0]}
	outcomes := map[string]flowhookv1.Outcome{}
	for typ, name := range connectorfake.Outcomes {
		outcomes[typ] = flowhookv1.Outcome(flowhookv1.Outcome_value["OUTCOME_"+name])
	}
	_, err := b.settings.CreateConnector(ctx, connect.NewRequest(&flowhookv1.CreateConnectorRequest{
		Name: "tickets", DisplayName: "Tickets", CreateUrl: connectorfake.CreateURL(base), StatusUrl: connectorfake.StatusURL(base),
		CancelUrl: connectorfake.CancelURL(base), Outcomes: outcomes, SigningSecret: c.secret, AuthHeader: "Authorization: " + ticketsToken}))
	require.NoError(t, err)
	wf, err := b.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: ticketsDraft("Credit check", "tickets")}))
	require.NoError(t, err)
	c.workflowID = wf.Msg.GetWorkflow().GetId()
	_, err = b.design.PublishWorkflow(ctx, connect.NewRequest(&flowhookv1.PublishWorkflowRequest{WorkflowId: c.workflowID, ExpectedRevision: 1}))
	require.NoError(t, err)
	return c
}

// start starts an instance for a customer; it enters the ticket state at once.
func (c connectorBundle) start(t *testing.T, customer string) *flowhookv1.Instance {
	t.Helper()
	form, err := structpb.NewStruct(map[string]any{"customer": customer, "amount": 1200.5})
	require.NoError(t, err)
	started, err := c.instances.StartInstance(context.Background(), connect.NewRequest(&flowhookv1.StartInstanceRequest{
		WorkflowId: c.workflowID, FormData: form}))
	require.NoError(t, err)
	inst := started.Msg.GetInstance()
	require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_WAITING_EXTERNAL, inst.GetStatus())
	require.Equal(t, flowhookv1.Provider_PROVIDER_CONNECTOR, inst.GetProvider())
	require.Equal(t, "tickets", inst.GetConnector())
	return inst
}

// coupled waits until the instance's work item has the system's id, and returns the ticket.
func (c connectorBundle) coupled(t *testing.T, instanceID string) connectorfake.Ticket {
	t.Helper()
	var ticket string
	require.Eventually(t, func() bool {
		inst := flowsGet(c.clients, instanceID)
		ticket = inst.GetWorkItem().GetExternalId()
		return ticket != ""
	}, flowsRetryWait, flowsTick, "the ticket is coupled")
	tk, ok := c.fake.Ticket(ticket)
	require.True(t, ok, "the fake has %s", ticket)
	return tk
}

// settled waits until the instance is no longer waiting and returns it.
func (c connectorBundle) settled(t *testing.T, instanceID string) *flowhookv1.Instance {
	t.Helper()
	var inst *flowhookv1.Instance
	require.Eventually(t, func() bool {
		inst = flowsGet(c.clients, instanceID)
		return inst != nil && inst.GetStatus() != flowhookv1.InstanceStatus_INSTANCE_STATUS_WAITING_EXTERNAL
	}, flowsRetryWait, flowsTick)
	return inst
}

// callback posts a callback to /webhooks/c2i/{name} signed with secret at ts ("" secret: no
// signature headers); it returns the answer's status.
func (c connectorBundle) callback(t *testing.T, name, secret string, ts time.Time, typ, ticket string) int {
	t.Helper()
	return c.post(t, name, secret, ts, fmt.Appendf(nil, `{"type":%q,"timestamp":%q,"data":{"id":%q,"reason":"posted by the test"}}`,
		typ, ts.UTC().Format(time.RFC3339), ticket))
}

// post posts body as a callback to /webhooks/c2i/{name}, signed as callback signs.
func (c connectorBundle) post(t *testing.T, name, secret string, ts time.Time, body []byte) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.baseURL+"/webhooks/c2i/"+name, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		require.NoError(t, standardwebhooks.SetHeaders(req.Header, []string{secret}, "msg_"+uuid.NewString(), ts, body))
	}
	res, err := c.httpClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	return res.StatusCode
}

// TestConnectorCallbackText: a signed callback's text is stored as PostgreSQL and the API can
// keep it. A reason of many multi-byte characters, cut for the timeline, is cut between
// characters (cut inside one, the write failed on every delivery: 503 for ever); a control
// character in what names the ticket makes the callback unparseable (kept, 200), not a 503.
func TestConnectorCallbackText(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		c := setupConnector(t, d, nil)
		inst := c.start(t, "Ada Lovelace")
		tk := c.coupled(t, inst.GetId())
		now := time.Now()
		reason := "a" + strings.Repeat("€", 100) // 301 bytes: a cut at 200 falls inside a "€"
		body, err := json.Marshal(map[string]any{"type": connectorfake.TypeRejected, "timestamp": now.UTC().Format(time.RFC3339),
			"data": map[string]any{"id": tk.ID, "reason": reason}})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, c.post(t, "tickets", c.secret, now, body))
		moved := c.settled(t, inst.GetId())
		require.Equal(t, "rejected", moved.GetStateKey())
		var outcome string
		for _, a := range flowsActivity(t, c.clients, inst.GetId()) {
			require.True(t, utf8.ValidString(a.GetMessage()), "%q", a.GetMessage())
			if strings.Contains(a.GetMessage(), "outcome DENIED") {
				outcome = a.GetMessage()
			}
		}
		require.Contains(t, outcome, "(a"+strings.Repeat("€", 66)+"…)", "cut at 200 bytes, between characters")

		for _, bad := range []string{`TCK-\u0000-1`, `TCK-\u001b[31m`} { // JSON escapes of NUL and ESC
			raw := fmt.Appendf(nil, `{"type":%q,"timestamp":%q,"data":{"id":"%s","reason":"r"}}`, connectorfake.TypeResolved, now.UTC().Format(time.RFC3339), bad)
			require.Equal(t, http.StatusOK, c.post(t, "tickets", c.secret, now, raw), "kept as unparseable, not refused for ever")
		}
		evs := elTry(c.clients, &flowhookv1.EventFilter{Verdict: flowhookv1.Verdict_VERDICT_UNPARSEABLE})
		require.Len(t, evs, 2, "each kept once the 200 was sent")
		for _, ev := range evs {
			require.Contains(t, ev.GetVerdictReason(), "its item id holds the control character U+00")
		}
	})
}

func TestConnectorFlows(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		c := setupConnector(t, d, nil)
		ctx := context.Background()

		t.Run("the create is signed and carries the work item", func(t *testing.T) {
			inst := c.start(t, "Ada Lovelace")
			tk := c.coupled(t, inst.GetId())
			wi := flowsGet(c.clients, inst.GetId()).GetWorkItem()
			require.Equal(t, flowhookv1.Provider_PROVIDER_CONNECTOR, wi.GetProvider())
			require.Equal(t, "tickets", wi.GetConnector())
			require.Equal(t, wi.GetId(), tk.WorkItemID, "Idempotency-Key and data.workItemId are the work item's id")
			require.Equal(t, inst.GetId(), tk.InstanceID)
			require.Equal(t, c.workflowID, tk.WorkflowID)
			require.Equal(t, 1, tk.WorkflowVersion)
			require.Equal(t, "ticket", tk.State)
			require.Equal(t, c.baseURL+"/webhooks/c2i/tickets", tk.CallbackURL)
			require.Equal(t, "Ada Lovelace", tk.FormData["customer"])
			require.Equal(t, "application/pdf", tk.DocumentContentType)
			require.True(t, bytes.HasPrefix(tk.Document, []byte("%PDF-")), "include_document sends the rendered start form")
			var creates []connectorfake.Request
			for _, r := range c.fake.Requests() {
				if r.Method == http.MethodPost && r.Path == "/tickets" {
					creates = append(creates, r)
				}
			}
			require.NotEmpty(t, creates)
			last := creates[len(creates)-1]
			require.True(t, last.Verified, "signed with the connector's secret and its auth header: %s", last.VerifyError)
			require.Equal(t, wi.GetId(), last.Header.Get("Idempotency-Key"))
			require.Equal(t, ticketsToken, last.Header.Get("Authorization"))
			require.NotEmpty(t, last.Header.Get("Webhook-Signature"))
			var msg struct {
				Type      string `json:"type"`
				Timestamp string `json:"timestamp"`
			}
			require.NoError(t, json.Unmarshal(last.Body, &msg))
			require.Equal(t, "workitem.create", msg.Type)
			_, err := time.Parse(time.RFC3339, msg.Timestamp)
			require.NoError(t, err)

			// ticket.created was posted before the create answered: it waited for the coupling
			// and was then applied as progress.
			require.Eventually(t, func() bool {
				return strings.Join(flowsVerdicts(c.testBundle, tk.ID, connectorfake.TypeCreated), ",") == "PROGRESS"
			}, flowsRetryWait, flowsTick)
		})

		for _, tc := range []struct {
			typ        string
			transition string
			end        string
			outcome    flowhookv1.Outcome
		}{
			{connectorfake.TypeApproved, "approved", "done", flowhookv1.Outcome_OUTCOME_APPROVED},
			{connectorfake.TypeRejected, "denied", "rejected", flowhookv1.Outcome_OUTCOME_DENIED},
			{connectorfake.TypeResolved, "finished", "done", flowhookv1.Outcome_OUTCOME_FINISHED},
			{connectorfake.TypeDeleted, "deleted", "rejected", flowhookv1.Outcome_OUTCOME_DELETED},
			{connectorfake.TypeExpired, "expired", "rejected", flowhookv1.Outcome_OUTCOME_EXPIRED},
		} {
			t.Run(tc.typ+" takes "+tc.transition, func(t *testing.T) {
				inst := c.start(t, "Customer "+tc.typ)
				tk := c.coupled(t, inst.GetId())
				require.NoError(t, c.fake.Send(tk.ID, tc.typ, "because "+tc.typ))
				done := c.settled(t, inst.GetId())
				require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_COMPLETED, done.GetStatus())
				require.Equal(t, tc.end, done.GetStateKey())
				require.Equal(t, tc.outcome, done.GetWorkItem().GetOutcome())
				acts := flowsActivity(t, c.clients, inst.GetId())
				require.Len(t, flowsFind(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_OUTCOME, "connector:tickets reported "+tc.typ+": outcome "), 1, flowsTimeline(acts))
				require.Len(t, flowsFind(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_TRANSITION, `took "`+tc.transition+`"`), 1, flowsTimeline(acts))
				require.Equal(t, []string{"APPLIED"}, flowsVerdicts(c.testBundle, tk.ID, tc.typ))
			})
		}

		t.Run("an unmapped type is progress only", func(t *testing.T) {
			inst := c.start(t, "Grace Hopper")
			tk := c.coupled(t, inst.GetId())
			require.NoError(t, c.fake.Comment(tk.ID, "looking into it"))
			require.Eventually(t, func() bool {
				return len(flowsFind(flowsActivity(t, c.clients, inst.GetId()), flowhookv1.ActivityKind_ACTIVITY_KIND_EXTERNAL_PROGRESS, "reported ticket.commented")) == 1
			}, flowsWait, flowsTick)
			require.Equal(t, []string{"PROGRESS"}, flowsVerdicts(c.testBundle, tk.ID, connectorfake.TypeCommented))
			got := flowsGet(c.clients, inst.GetId())
			require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_WAITING_EXTERNAL, got.GetStatus())
			require.Equal(t, "WAITING", got.GetWorkItem().GetStatus())
			require.Equal(t, flowhookv1.Outcome_OUTCOME_UNSPECIFIED, got.GetWorkItem().GetOutcome())
		})

		t.Run("ten deliveries of one callback move the instance once", func(t *testing.T) {
			inst := c.start(t, "Alan Turing")
			tk := c.coupled(t, inst.GetId())
			c.fake.SetDuplicates(10)
			t.Cleanup(func() { c.fake.SetDuplicates(1) })
			require.NoError(t, c.fake.Approve(tk.ID, "fine"))
			done := c.settled(t, inst.GetId())
			require.Equal(t, "done", done.GetStateKey())
			n := 0
			for _, dl := range c.fake.Deliveries() {
				if dl.TicketID == tk.ID && dl.Type == connectorfake.TypeApproved {
					require.True(t, dl.OK(), "every redelivery is acknowledged")
					n++
				}
			}
			require.Equal(t, 10, n)
			acts := flowsActivity(t, c.clients, inst.GetId())
			require.Equal(t, 1, flowsTransitionsFrom(acts, "ticket"), flowsTimeline(acts))
			require.Equal(t, []string{"APPLIED"}, flowsVerdicts(c.testBundle, tk.ID, connectorfake.TypeApproved), "stored once")
		})

		t.Run("callbacks in reverse order: the outcome wins, the late progress is stale", func(t *testing.T) {
			inst := c.start(t, "Katherine Johnson")
			tk := c.coupled(t, inst.GetId())
			c.fake.HoldDeliveries(true)
			require.NoError(t, c.fake.Comment(tk.ID, "first"))
			require.NoError(t, c.fake.Resolve(tk.ID))
			c.fake.HoldDeliveries(false)
			require.NoError(t, c.fake.FlushReverse())
			done := c.settled(t, inst.GetId())
			require.Equal(t, flowhookv1.Outcome_OUTCOME_FINISHED, done.GetWorkItem().GetOutcome())
			require.Equal(t, []string{"STALE"}, flowsVerdicts(c.testBundle, tk.ID, connectorfake.TypeCommented))
		})

		t.Run("cancelling a waiting instance cancels the ticket", func(t *testing.T) {
			inst := c.start(t, "Margaret Hamilton")
			tk := c.coupled(t, inst.GetId())
			_, err := c.instances.CancelInstance(ctx, connect.NewRequest(&flowhookv1.CancelInstanceRequest{InstanceId: inst.GetId(), Reason: "withdrawn"}))
			require.NoError(t, err)
			require.Eventually(t, func() bool {
				got, _ := c.fake.Ticket(tk.ID)
				return got.LatestType == connectorfake.TypeCancelled
			}, flowsRetryWait, flowsTick)
			got, _ := c.fake.Ticket(tk.ID)
			require.Equal(t, "withdrawn", got.Reason)
			require.Eventually(t, func() bool {
				acts := flowsActivity(t, c.clients, inst.GetId())
				return len(flowsFind(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_EXTERNAL_PROGRESS, "voided connector:tickets "+tk.ID+": withdrawn")) == 1
			}, flowsRetryWait, flowsTick)
			// The system posted ticket.cancelled before it answered the cancel, while the work
			// item was still open: an event without an outcome, recorded as progress.
			require.Equal(t, []string{"PROGRESS"}, flowsVerdicts(c.testBundle, tk.ID, connectorfake.TypeCancelled))
			require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_CANCELLED, flowsGet(c.clients, inst.GetId()).GetStatus())
		})

		t.Run("reconciliation reads the status when a callback never arrives", func(t *testing.T) {
			inst := c.start(t, "Barbara Liskov")
			tk := c.coupled(t, inst.GetId())
			// The system signs with a secret flowhook does not have: its callback is refused.
			c.fake.SignCallbacksWith(standardwebhooks.NewSecret())
			require.NoError(t, c.fake.Approve(tk.ID, "approved while we were not listening"))
			c.fake.SignCallbacksWith("")
			require.Equal(t, []string{connectorfake.TypeApproved}, c.fake.Undelivered())
			require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_WAITING_EXTERNAL, flowsGet(c.clients, inst.GetId()).GetStatus())

			rep, err := c.eventLog.ReconcileWorkItems(ctx, connect.NewRequest(&flowhookv1.ReconcileWorkItemsRequest{Provider: flowhookv1.Provider_PROVIDER_CONNECTOR}))
			require.NoError(t, err)
			require.GreaterOrEqual(t, rep.Msg.GetChecked(), int32(1))
			require.Equal(t, int32(1), rep.Msg.GetOutcomesFound(), "problems: %v", rep.Msg.GetProblems())
			require.Equal(t, int32(1), rep.Msg.GetEventsStored())
			done := c.settled(t, inst.GetId())
			require.Equal(t, "done", done.GetStateKey())
			evs, err := c.eventLog.ListEvents(ctx, connect.NewRequest(&flowhookv1.ListEventsRequest{Filter: &flowhookv1.EventFilter{
				Provider: flowhookv1.Provider_PROVIDER_CONNECTOR, Connector: "tickets", ExternalId: tk.ID, EventType: connectorfake.TypeApproved}}))
			require.NoError(t, err)
			require.Len(t, evs.Msg.GetEvents(), 1)
			ev := evs.Msg.GetEvents()[0]
			require.Equal(t, flowhookv1.Verdict_VERDICT_APPLIED, ev.GetVerdict())
			require.Equal(t, "reconciliation", ev.GetRemoteAddr())
			require.Equal(t, "tickets", ev.GetConnector())
			// The refused callback, delivered now, is a duplicate of what reconciliation found.
			for _, dl := range c.fake.Redeliver() {
				require.True(t, dl.OK())
			}
		})

		t.Run("the connection test reaches the system with the connector's credentials", func(t *testing.T) {
			res, err := c.settings.TestProviderConnection(ctx, connect.NewRequest(&flowhookv1.TestProviderConnectionRequest{
				Provider: flowhookv1.Provider_PROVIDER_CONNECTOR, Connector: "tickets"}))
			require.NoError(t, err)
			require.True(t, res.Msg.GetOk(), res.Msg.GetMessage())
			res, err = c.settings.TestProviderConnection(ctx, connect.NewRequest(&flowhookv1.TestProviderConnectionRequest{
				Provider: flowhookv1.Provider_PROVIDER_CONNECTOR, Connector: "nobody"}))
			require.NoError(t, err)
			require.False(t, res.Msg.GetOk())
			require.Contains(t, res.Msg.GetMessage(), `no connector is named "nobody"`)
			_, err = c.settings.TestProviderConnection(ctx, connect.NewRequest(&flowhookv1.TestProviderConnectionRequest{
				Provider: flowhookv1.Provider_PROVIDER_CONNECTOR}))
			require.Contains(t, problems(t, requireCode(t, err, connect.CodeInvalidArgument)), "connector", "a connector's name is needed")
		})

		t.Run("a connector in use is not deleted", func(t *testing.T) {
			c.start(t, "Frances Allen")
			_, err := c.settings.DeleteConnector(ctx, connect.NewRequest(&flowhookv1.DeleteConnectorRequest{Name: "tickets"}))
			msg := requireCode(t, err, connect.CodeFailedPrecondition).Message()
			require.Contains(t, msg, "work item(s) are being created or wait at it")
			require.Contains(t, msg, c.workflowID+"/1")
		})

		t.Run("Workflow Manage and the Event Log filter by connector", func(t *testing.T) {
			all, err := c.instances.ListInstances(ctx, connect.NewRequest(&flowhookv1.ListInstancesRequest{Filter: &flowhookv1.InstanceFilter{
				Provider: flowhookv1.Provider_PROVIDER_CONNECTOR}}))
			require.NoError(t, err)
			one, err := c.instances.ListInstances(ctx, connect.NewRequest(&flowhookv1.ListInstancesRequest{Filter: &flowhookv1.InstanceFilter{
				Provider: flowhookv1.Provider_PROVIDER_CONNECTOR, Connector: "tickets"}}))
			require.NoError(t, err)
			require.NotZero(t, all.Msg.GetTotalSize())
			require.Equal(t, all.Msg.GetTotalSize(), one.Msg.GetTotalSize())
			none, err := c.instances.ListInstances(ctx, connect.NewRequest(&flowhookv1.ListInstancesRequest{Filter: &flowhookv1.InstanceFilter{
				Provider: flowhookv1.Provider_PROVIDER_CONNECTOR, Connector: "other"}}))
			require.NoError(t, err)
			require.Zero(t, none.Msg.GetTotalSize())
			docusign, err := c.instances.ListInstances(ctx, connect.NewRequest(&flowhookv1.ListInstancesRequest{Filter: &flowhookv1.InstanceFilter{
				Provider: flowhookv1.Provider_PROVIDER_DOCUSIGN}}))
			require.NoError(t, err)
			require.Zero(t, docusign.Msg.GetTotalSize())
			_, err = c.instances.ListInstances(ctx, connect.NewRequest(&flowhookv1.ListInstancesRequest{Filter: &flowhookv1.InstanceFilter{Connector: "tickets"}}))
			require.Contains(t, problems(t, requireCode(t, err, connect.CodeInvalidArgument)), "filter.connector")
			// With another provider the filter would match nothing: refused, not an empty page.
			_, err = c.instances.ListInstances(ctx, connect.NewRequest(&flowhookv1.ListInstancesRequest{Filter: &flowhookv1.InstanceFilter{
				Provider: flowhookv1.Provider_PROVIDER_DOCUSIGN, Connector: "tickets"}}))
			require.Equal(t, "goes with the provider PROVIDER_CONNECTOR, not PROVIDER_DOCUSIGN",
				problems(t, requireCode(t, err, connect.CodeInvalidArgument))["filter.connector"])
			_, err = c.eventLog.ListEvents(ctx, connect.NewRequest(&flowhookv1.ListEventsRequest{Filter: &flowhookv1.EventFilter{
				Provider: flowhookv1.Provider_PROVIDER_ONESPAN, Connector: "tickets"}}))
			require.Contains(t, problems(t, requireCode(t, err, connect.CodeInvalidArgument)), "filter.connector")
			evs, err := c.eventLog.ListEvents(ctx, connect.NewRequest(&flowhookv1.ListEventsRequest{Filter: &flowhookv1.EventFilter{
				Provider: flowhookv1.Provider_PROVIDER_CONNECTOR, Connector: "tickets"}}))
			require.NoError(t, err)
			require.NotEmpty(t, evs.Msg.GetEvents())
			for _, ev := range evs.Msg.GetEvents() {
				require.Equal(t, flowhookv1.Provider_PROVIDER_CONNECTOR, ev.GetProvider())
				require.Equal(t, "tickets", ev.GetConnector())
			}
		})
	})
}

// Callbacks that are not signed right are refused with 401 before anything is parsed, and
// kept only as REJECTED while debugging; a rotated secret is accepted for its grace period.
func TestConnectorCallbackAuthentication(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		c := setupConnector(t, d, nil)
		ctx := context.Background()
		_, err := c.settings.UpdateSecuritySettings(ctx, connect.NewRequest(&flowhookv1.UpdateSecuritySettingsRequest{WebhookReceiverDebug: true}))
		require.NoError(t, err)
		now := time.Now()
		const ticket = "TCK-NOT-COUPLED"
		stored := func(verdict flowhookv1.Verdict) int {
			evs, err := c.eventLog.ListEvents(ctx, connect.NewRequest(&flowhookv1.ListEventsRequest{Filter: &flowhookv1.EventFilter{
				Provider: flowhookv1.Provider_PROVIDER_CONNECTOR, Connector: "tickets", Verdict: verdict}}))
			require.NoError(t, err)
			return int(evs.Msg.GetTotalSize())
		}
		require.Eventually(t, func() bool { return flowsGetSecurityDebug(t, c.testBundle) }, flowsWait, flowsTick)

		for _, tc := range []struct {
			name   string
			secret string
			at     time.Time
			status int
		}{
			{"a secret flowhook does not have", standardwebhooks.NewSecret(), now, http.StatusUnauthorized},
			{"no signature headers", "", now, http.StatusUnauthorized},
			{"a timestamp six minutes old", c.secret, now.Add(-6 * time.Minute), http.StatusUnauthorized},
			{"a timestamp six minutes ahead", c.secret, now.Add(6 * time.Minute), http.StatusUnauthorized},
		} {
			require.Equal(t, tc.status, c.callback(t, "tickets", tc.secret, tc.at, connectorfake.TypeApproved, ticket), tc.name)
		}
		// Too large, or not JSON: refused before anything is verified.
		for _, tc := range []struct {
			contentType string
			body        []byte
			status      int
		}{
			{"application/json", bytes.Repeat([]byte(" "), 300<<10), http.StatusRequestEntityTooLarge},
			{"text/plain", []byte(`{"type":"ticket.approved"}`), http.StatusUnsupportedMediaType},
		} {
			res, err := c.httpClient.Post(c.baseURL+"/webhooks/c2i/tickets", tc.contentType, bytes.NewReader(tc.body))
			require.NoError(t, err)
			require.NoError(t, res.Body.Close())
			require.Equal(t, tc.status, res.StatusCode)
		}
		require.Equal(t, 6, stored(flowhookv1.Verdict_VERDICT_REJECTED), "kept as REJECTED while debugging")
		require.Zero(t, stored(flowhookv1.Verdict_VERDICT_PENDING), "nothing else was stored")
		require.Equal(t, http.StatusNotFound, c.callback(t, "nobody", c.secret, now, connectorfake.TypeApproved, ticket), "an unknown connector")
		require.Equal(t, http.StatusNotFound, c.callback(t, "Not_A_Name", c.secret, now, connectorfake.TypeApproved, ticket))

		// Rotated with an hour's grace, the old secret still verifies; the new one does too.
		next := standardwebhooks.NewSecret()
		got, err := c.settings.GetConnector(ctx, connect.NewRequest(&flowhookv1.GetConnectorRequest{Name: "tickets"}))
		require.NoError(t, err)
		update := func(secret string, grace time.Duration) {
			cur := got.Msg.GetConnector()
			res, err := c.settings.UpdateConnector(ctx, connect.NewRequest(&flowhookv1.UpdateConnectorRequest{Name: "tickets",
				CreateUrl: cur.GetCreateUrl(), StatusUrl: cur.GetStatusUrl(), CancelUrl: cur.GetCancelUrl(), Outcomes: cur.GetOutcomes(),
				SigningSecret: secret, SigningSecretGrace: durationpb.New(grace), ExpectedRevision: cur.GetRevision()}))
			require.NoError(t, err)
			got = connect.NewResponse(&flowhookv1.GetConnectorResponse{Connector: res.Msg.GetConnector()})
		}
		update(next, time.Hour)
		require.Eventually(t, func() bool {
			return c.callback(t, "tickets", next, time.Now(), connectorfake.TypeCommented, ticket) == http.StatusOK
		}, flowsWait, flowsTick, "every replica takes the new secret within seconds")
		require.Equal(t, http.StatusOK, c.callback(t, "tickets", c.secret, time.Now(), connectorfake.TypeCommented, ticket), "the old one within its grace")

		// Rolled again with a grace of a nanosecond, the secret before is refused at once.
		update(standardwebhooks.NewSecret(), time.Nanosecond)
		require.Eventually(t, func() bool {
			return c.callback(t, "tickets", next, time.Now(), connectorfake.TypeCommented, ticket) == http.StatusUnauthorized
		}, flowsWait, flowsTick, "the replaced secret, after its grace")
	})
}

// flowsGetSecurityDebug says whether the debug option is on as the server reads it.
func flowsGetSecurityDebug(t *testing.T, b *testBundle) bool {
	t.Helper()
	s, err := b.settings.GetSecuritySettings(context.Background(), connect.NewRequest(&flowhookv1.GetSecuritySettingsRequest{}))
	require.NoError(t, err)
	return s.Msg.GetSettings().GetWebhookReceiverDebug()
}

// What the system answers a create decides: a 4xx or a 2xx without an id fails the instance
// with the answer quoted; 5xx and timeouts are tried again under the same Idempotency-Key.
func TestConnectorCreateFailures(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		c := setupConnector(t, d, func(cfg *config.Config) { cfg.ProviderTimeout = 500 * time.Millisecond })

		t.Run("a 4xx fails the instance, quoting the answer", func(t *testing.T) {
			c.fake.FailNext(1, connectorfake.Failure{Status: http.StatusUnprocessableEntity, Body: `{"error":"customer unknown to the credit system"}`})
			inst := c.start(t, "Unknown Customer")
			failed := c.settled(t, inst.GetId())
			require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_FAILED, failed.GetStatus())
			require.Contains(t, failed.GetReason(), "422")
			require.Contains(t, failed.GetReason(), "customer unknown to the credit system")
			require.Contains(t, failed.GetReason(), "connector:tickets")
		})

		t.Run("a 2xx without an id is a permanent failure that says so", func(t *testing.T) {
			c.fake.FailNext(1, connectorfake.Failure{Status: http.StatusOK, Body: `{"ticket":"made"}`})
			inst := c.start(t, "No Id")
			failed := c.settled(t, inst.GetId())
			require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_FAILED, failed.GetStatus())
			require.Contains(t, failed.GetReason(), `no usable "id"`)
		})

		t.Run("503s with Retry-After are tried again", func(t *testing.T) {
			before := len(c.fake.Tickets())
			c.fake.FailNext(2, connectorfake.Failure{Status: http.StatusServiceUnavailable, RetryAfter: time.Second})
			inst := c.start(t, "Patient Customer")
			tk := c.coupled(t, inst.GetId())
			require.Len(t, c.fake.Tickets(), before+1, "one ticket")
			wi := flowsGet(c.clients, inst.GetId()).GetWorkItem()
			require.Equal(t, wi.GetId(), tk.WorkItemID)
		})

		t.Run("a create that times out is tried again under the same key", func(t *testing.T) {
			before := len(c.fake.Tickets())
			release := c.fake.HoldRequests()
			inst := c.start(t, "Slow System")
			// The client gives up on the held call (twice: the first try and its retry).
			require.Eventually(t, func() bool {
				gaveUp := 0
				for _, r := range c.fake.Requests() {
					if r.Path == "/tickets" && r.Status == 0 {
						gaveUp++
					}
				}
				return gaveUp >= 2
			}, flowsRetryWait, flowsTick)
			release()
			tk := c.coupled(t, inst.GetId())
			require.Len(t, c.fake.Tickets(), before+1, "one ticket, whatever the tries")
			keys := map[string]bool{}
			for _, r := range c.fake.Requests() {
				if r.Path == "/tickets" && r.Method == http.MethodPost && r.Header.Get("Idempotency-Key") == tk.WorkItemID {
					keys[r.Header.Get("Webhook-Id")] = true
				}
			}
			require.Len(t, keys, 1, "every try is the same message")
		})
	})
}

// A connector's callback is traced and counted as DocuSign's are: a server span of its own
// (route /webhooks/c2i/{connector}, provider connector:tickets), a processing span linked to the
// transition that created the ticket, and the metrics labelled with the connector.
func TestConnectorTracesAndMetrics(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { require.NoError(t, tp.Shutdown(context.Background())) })
	tel, err := telemetry.New(tp)
	require.NoError(t, err)
	c := setupConnectorWith(t, store.Postgres, tel, nil)

	inst := c.start(t, "Traced Customer")
	tk := c.coupled(t, inst.GetId())
	waiting, ok := scrape(t, c.testBundle, "flowhook_work_items_waiting", `provider="connector:tickets"`)
	require.True(t, ok)
	require.GreaterOrEqual(t, waiting, 1.0)
	require.NoError(t, c.fake.Approve(tk.ID, "traced"))
	c.settled(t, inst.GetId())

	const route = "/webhooks/c2i/{connector}"
	var ingest, process, start sdktrace.ReadOnlySpan
	require.Eventually(t, func() bool {
		for _, s := range rec.Ended() {
			switch {
			case s.Name() == "POST "+route && attr(s, "flowhook.external_id") == tk.ID && attr(s, "flowhook.event.type") == connectorfake.TypeApproved:
				ingest = s
			case s.Name() == "webhook.process" && attr(s, "flowhook.external_id") == tk.ID && attr(s, "flowhook.webhook.verdict") == "APPLIED":
				process = s
			case s.Name() == "flowhook.v1.WorkflowInstanceService/StartInstance":
				start = s
			}
		}
		return ingest != nil && process != nil && start != nil
	}, 20*time.Second, 10*time.Millisecond, "the spans of the ticket's story never all ended")
	require.NotEqual(t, webhook.SpanName, ingest.Name())
	require.Equal(t, route, attr(ingest, "http.route"))
	require.Equal(t, "connector:tickets", attr(ingest, "flowhook.provider"))
	require.Equal(t, "200", attr(ingest, "http.response.status_code"))
	require.False(t, ingest.Parent().IsValid(), "a public endpoint starts a new trace")
	require.Equal(t, ingest.SpanContext().TraceID(), process.SpanContext().TraceID(), "processed as it arrived")
	origin, ok := linkTo(process.Links(), "work_item.created")
	require.True(t, ok, "the processing span links to the transition that created the ticket")
	require.Equal(t, start.SpanContext().TraceID(), origin.TraceID())
	for _, s := range rec.Ended() {
		for _, a := range s.Attributes() {
			require.NotContains(t, a.Value.Emit(), c.secret, "no secret in span %s", s.Name())
			require.NotContains(t, a.Value.Emit(), ticketsToken, "no auth header in span %s", s.Name())
		}
	}

	applied, ok := scrape(t, c.testBundle, "flowhook_webhooks_total", `provider="connector:tickets"`, `verdict="applied"`)
	require.True(t, ok)
	require.Equal(t, 1.0, applied)
	_, ok = scrape(t, c.testBundle, "flowhook_webhook_process_duration_seconds_count", `provider="connector:tickets"`)
	require.True(t, ok)
}
