package api_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/connector/connectorfake"
	"github.com/flowhook/flowhook/server/internal/provider/docusign/docusignfake"
	"github.com/flowhook/flowhook/server/internal/store"
)

// retryConfigureDocuSign points a running server at a new fake DocuSign served behind wrap
// (nil: as it is) and returns the fake.
func retryConfigureDocuSign(t *testing.T, b *testBundle, wrap func(http.Handler) http.Handler) *docusignfake.Fake {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	fake := docusignfake.New(docusignfake.Options{PublicKey: &key.PublicKey, HMACKeys: testHMACKeys})
	h := fake.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	_, err = b.settings.UpdateDocuSignSettings(context.Background(), connect.NewRequest(&flowhookv1.UpdateDocuSignSettingsRequest{
		AccountId: fake.AccountID(), IntegrationKey: fake.IntegrationKey(), UserId: fake.UserID(), OauthBaseUrl: srv.URL,
		PrivateKeyPem: &pemKey, HmacKeys: testHMACKeys, ReplaceHmacKeys: true}))
	require.NoError(t, err)
	return fake
}

// answerLostAfterCreate lets the first envelope create reach DocuSign, which creates the
// envelope, and answers it with a refusal instead of DocuSign's answer: the work item fails
// although its envelope exists.
func answerLostAfterCreate(next http.Handler) http.Handler {
	var done atomic.Bool
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/envelopes") || done.Swap(true) {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"errorCode":"ANSWER_LOST_IN_TEST","message":"The envelope was created; this answer replaced DocuSign's."}`))
	})
}

func retry(c clients, id string) (*flowhookv1.Instance, error) {
	res, err := c.instances.RetryInstance(context.Background(), connect.NewRequest(&flowhookv1.RetryInstanceRequest{InstanceId: id}))
	if err != nil {
		return nil, err
	}
	return res.Msg.GetInstance(), nil
}

// retryWaitFailed waits until the instance is FAILED and returns it.
func retryWaitFailed(t *testing.T, b *testBundle, id string) *flowhookv1.Instance {
	t.Helper()
	var in *flowhookv1.Instance
	require.Eventually(t, func() bool {
		in = flowsGet(b.clients, id)
		return in != nil && in.GetStatus() == flowhookv1.InstanceStatus_INSTANCE_STATUS_FAILED
	}, flowsWait, flowsTick, "the instance never FAILED")
	return in
}

// retryCreateJobs returns the create jobs of a work item, as enqueued.
func retryCreateJobs(t *testing.T, b *testBundle, workItemID string) []engine.CreateWorkItemJob {
	t.Helper()
	q := "SELECT json(args) FROM river_job WHERE kind = 'create_work_item' ORDER BY id" // SQLite keeps JSONB
	if b.app.DB().Dialect == store.Postgres {
		q = "SELECT args::text FROM river_job WHERE kind = 'create_work_item' ORDER BY id"
	}
	rows, err := b.app.DB().SQL.QueryContext(context.Background(), q)
	require.NoError(t, err)
	defer rows.Close()
	var out []engine.CreateWorkItemJob
	for rows.Next() {
		var raw []byte
		require.NoError(t, rows.Scan(&raw))
		var j engine.CreateWorkItemJob
		require.NoError(t, json.Unmarshal(raw, &j), "%s", raw)
		if j.WorkItemID == workItemID {
			out = append(out, j)
		}
	}
	require.NoError(t, rows.Err())
	return out
}

// TestRetryInstance: a DocuSign state with nothing configured FAILS the instance, visibly; an
// admin configures DocuSign and retries it: the same work item is created, one envelope.
func TestRetryInstance(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setup(t, d)
		p := newPeople(t, b)
		ctx := context.Background()
		id := flowsApprove(t, p)

		failed := retryWaitFailed(t, b, id)
		require.Equal(t, "sign", failed.GetStateKey())
		require.Contains(t, failed.GetReason(), "creating the DOCUSIGN work item failed")
		require.Contains(t, failed.GetReason(), "not configured")
		require.Equal(t, "FAILED", failed.GetWorkItem().GetStatus())
		wiID := failed.GetWorkItem().GetId()
		acts := flowsActivity(t, p.starter, id)
		require.Len(t, flowsFind(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_FAILED, "not configured"), 1, flowsTimeline(acts))

		// Only an admin retries, and only a well-formed, known id.
		for _, c := range []clients{p.starter, p.member} {
			_, err := retry(c, id)
			requireCode(t, err, connect.CodePermissionDenied)
		}
		_, err := retry(b.clients, "not-an-id")
		require.Contains(t, problems(t, requireCode(t, err, connect.CodeInvalidArgument)), "instance_id")
		_, err = retry(b.clients, uuid.Must(uuid.NewV7()).String())
		requireCode(t, err, connect.CodeNotFound)
		require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_FAILED, flowsGet(b.clients, id).GetStatus(), "refusals change nothing")

		fake := retryConfigureDocuSign(t, b, nil)
		got, err := retry(b.clients, id)
		require.NoError(t, err)
		require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_WAITING_EXTERNAL, got.GetStatus())
		require.Equal(t, failed.GetRevision()+1, got.GetRevision())
		require.Empty(t, got.GetReason())
		require.Equal(t, wiID, got.GetWorkItem().GetId(), "the same work item")
		require.Equal(t, "CREATING", got.GetWorkItem().GetStatus())

		// The retried job creates the envelope: looked for first, then created, once.
		require.Eventually(t, func() bool {
			in := flowsGet(b.clients, id)
			return in != nil && in.GetWorkItem().GetExternalId() != ""
		}, flowsWait, flowsTick, "the envelope was never coupled")
		envs := fake.Envelopes()
		require.Len(t, envs, 1)
		require.NotEmpty(t, envs[0].EnvelopeID)
		base := "/restapi/v2.1/accounts/" + fake.AccountID() + "/envelopes"
		require.Equal(t, 1, fake.CountRequests(http.MethodPost, base))
		require.Equal(t, 1, fake.CountRequests(http.MethodGet, base), "the retry looked for an envelope of the work item first")
		in := flowsGet(b.clients, id)
		require.Equal(t, envs[0].EnvelopeID, in.GetWorkItem().GetExternalId())
		require.Equal(t, "WAITING", in.GetWorkItem().GetStatus())
		require.Equal(t, wiID, in.GetWorkItem().GetId())

		acts = flowsActivity(t, p.starter, id)
		retried := flowsFind(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_RETRIED, "")
		require.Len(t, retried, 1, flowsTimeline(acts))
		who, err := b.identity.WhoAmI(ctx, connect.NewRequest(&flowhookv1.WhoAmIRequest{}))
		require.NoError(t, err)
		require.Equal(t, who.Msg.GetUser().GetId(), acts[retried[0]].GetActorId())
		require.Equal(t, "sign", acts[retried[0]].GetFromState())
		failedAt := flowsFind(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_FAILED, "")
		sent := flowsFind(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_EXTERNAL_PROGRESS, " sent to ")
		require.Len(t, sent, 1, flowsTimeline(acts))
		require.Less(t, failedAt[0], retried[0])
		require.Less(t, retried[0], sent[0])

		// Retrying what is not FAILED is refused, and enqueues nothing.
		_, err = retry(b.clients, id)
		cerr := requireCode(t, err, connect.CodeFailedPrecondition)
		require.Contains(t, cerr.Message(), "WAITING_EXTERNAL")
		require.Equal(t, []engine.CreateWorkItemJob{{WorkItemID: wiID, Retried: true}}, retryCreateJobs(t, b, wiID),
			"the retry's job, marked to look for what an earlier attempt made (the first creation was in-process)")

		// The envelope completes the instance as any other; a COMPLETED instance is no retry's.
		require.NoError(t, fake.Complete(envs[0].EnvelopeID))
		require.Eventually(t, func() bool {
			in := flowsGet(b.clients, id)
			return in != nil && in.GetStatus() == flowhookv1.InstanceStatus_INSTANCE_STATUS_COMPLETED
		}, flowsWait, flowsTick)
		_, err = retry(b.clients, id)
		cerr = requireCode(t, err, connect.CodeFailedPrecondition)
		require.Contains(t, cerr.Message(), "COMPLETED")

		// An ACTIVE instance neither.
		started, err := p.starter.instances.StartInstance(ctx, connect.NewRequest(validStart(t, p.workflowID)))
		require.NoError(t, err)
		_, err = retry(b.clients, started.Msg.GetInstance().GetId())
		cerr = requireCode(t, err, connect.CodeFailedPrecondition)
		require.Contains(t, cerr.Message(), `ACTIVE in "review"`)
	})
}

// TestRetryInstanceFindsEnvelope: DocuSign made the envelope, but the work item failed (the
// answer was a refusal); the retry couples that envelope instead of making a second.
func TestRetryInstanceFindsEnvelope(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setup(t, d)
		p := newPeople(t, b)
		fake := retryConfigureDocuSign(t, b, answerLostAfterCreate)
		id := flowsApprove(t, p)

		failed := retryWaitFailed(t, b, id)
		require.Contains(t, failed.GetReason(), "ANSWER_LOST_IN_TEST")
		envs := fake.Envelopes()
		require.Len(t, envs, 1)
		envID := envs[0].EnvelopeID
		require.NotEmpty(t, envID, "DocuSign created the envelope before the refusal")
		require.Empty(t, failed.GetWorkItem().GetExternalId())

		_, err := retry(b.clients, id)
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			in := flowsGet(b.clients, id)
			return in != nil && in.GetWorkItem().GetExternalId() != ""
		}, flowsWait, flowsTick, "the envelope was never coupled")
		in := flowsGet(b.clients, id)
		require.Equal(t, envID, in.GetWorkItem().GetExternalId(), "coupled to the envelope made before")
		require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_WAITING_EXTERNAL, in.GetStatus())
		require.Len(t, fake.Envelopes(), 1, "no second envelope")
		base := "/restapi/v2.1/accounts/" + fake.AccountID() + "/envelopes"
		require.Equal(t, 1, fake.CountRequests(http.MethodPost, base), "one create in all")
		acts := flowsActivity(t, p.starter, id)
		require.Len(t, flowsFind(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_EXTERNAL_PROGRESS, "DOCUSIGN "+envID+" sent to"), 1, flowsTimeline(acts))
	})
}

// TestRetryInstanceConcurrent: retries racing on one FAILED instance, through two servers:
// one wins, the others are refused, one create job is added.
func TestRetryInstanceConcurrent(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setup(t, d)
		p := newPeople(t, b)
		id := flowsApprove(t, p)
		wiID := retryWaitFailed(t, b, id).GetWorkItem().GetId()
		r := b.replica(t)
		fake := retryConfigureDocuSign(t, b, nil)

		const n = 6
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			c := b.clients
			if i%2 == 1 {
				c = r.clientsWith(b.opts...)
			}
			wg.Go(func() { _, errs[i] = retry(c, id) })
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			if err == nil {
				wins++
				continue
			}
			cerr := requireCode(t, err, connect.CodeFailedPrecondition)
			require.Contains(t, cerr.Message(), "only a FAILED instance can be retried")
		}
		require.Equal(t, 1, wins)
		require.Len(t, retryCreateJobs(t, b, wiID), 1, "the winner's job alone (the first creation was in-process)")
		require.Eventually(t, func() bool {
			in := flowsGet(b.clients, id)
			return in != nil && in.GetWorkItem().GetExternalId() != ""
		}, flowsWait, flowsTick)
		require.Len(t, fake.Envelopes(), 1)
		acts := flowsActivity(t, b.clients, id)
		require.Len(t, flowsFind(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_RETRIED, ""), 1, flowsTimeline(acts))
	})
}

// TestActivityKindNames: every kind of the engine's timeline reaches clients under its own
// name (RETRIED included), never as UNSPECIFIED or another kind's number.
func TestActivityKindNames(t *testing.T) {
	t.Parallel()
	for k := engine.ActivityStarted; ; k++ {
		name := k.String()
		if strings.HasPrefix(name, "UNKNOWN") {
			require.Greater(t, int(k), int(engine.ActivityRetried), "the engine's kinds end after RETRIED")
			break
		}
		v, ok := flowhookv1.ActivityKind_value["ACTIVITY_KIND_"+name]
		require.True(t, ok, "the API has no ACTIVITY_KIND_%s", name)
		require.EqualValues(t, k, v, "ACTIVITY_KIND_%s has another number", name)
	}
}

// TestRetryInstanceConnector: the ticketing system made the ticket but flowhook was answered
// with a refusal; the retry sends the create again under the same Idempotency-Key, and the
// system answers with the ticket it made: one ticket.
func TestRetryInstanceConnector(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setup(t, d)
		ctx := context.Background()
		fake := connectorfake.New(connectorfake.Options{AuthHeader: connectorfake.AuthHeader{Name: "Authorization", Value: ticketsToken}})
		var refused atomic.Bool
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost || r.URL.Path != "/tickets" || refused.Swap(true) {
				fake.Handler().ServeHTTP(w, r)
				return
			}
			fake.Handler().ServeHTTP(httptest.NewRecorder(), r)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = w.Write([]byte(`{"error":"answer replaced in test"}`))
		}))
		t.Cleanup(srv.Close)
		outcomes := map[string]flowhookv1.Outcome{}
		for typ, name := range connectorfake.Outcomes {
			outcomes[typ] = flowhookv1.Outcome(flowhookv1.Outcome_value["OUTCOME_"+name])
		}
		_, err := b.settings.CreateConnector(ctx, connect.NewRequest(&flowhookv1.CreateConnectorRequest{
			Name: "tickets", DisplayName: "Tickets", CreateUrl: connectorfake.CreateURL(srv.URL), StatusUrl: connectorfake.StatusURL(srv.URL),
			CancelUrl: connectorfake.CancelURL(srv.URL), Outcomes: outcomes, SigningSecret: fake.Secrets()[0], AuthHeader: "Authorization: " + ticketsToken}))
		require.NoError(t, err)
		wf, err := b.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: ticketsDraft("Credit check", "tickets")}))
		require.NoError(t, err)
		_, err = b.design.PublishWorkflow(ctx, connect.NewRequest(&flowhookv1.PublishWorkflowRequest{WorkflowId: wf.Msg.GetWorkflow().GetId(), ExpectedRevision: 1}))
		require.NoError(t, err)
		started, err := b.instances.StartInstance(ctx, connect.NewRequest(&flowhookv1.StartInstanceRequest{
			WorkflowId: wf.Msg.GetWorkflow().GetId(), FormData: form(t, map[string]any{"customer": "Ada", "amount": 10.0})}))
		require.NoError(t, err)
		id := started.Msg.GetInstance().GetId()

		failed := retryWaitFailed(t, b, id)
		require.Contains(t, failed.GetReason(), "answer replaced in test")
		require.Len(t, fake.Tickets(), 1, "the system made the ticket before the refusal")

		_, err = retry(b.clients, id)
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			in := flowsGet(b.clients, id)
			return in != nil && in.GetWorkItem().GetExternalId() != ""
		}, flowsWait, flowsTick, "the ticket was never coupled")
		tickets := fake.Tickets()
		require.Len(t, tickets, 1, "no second ticket")
		in := flowsGet(b.clients, id)
		require.Equal(t, tickets[0].ID, in.GetWorkItem().GetExternalId())
		require.Equal(t, failed.GetWorkItem().GetId(), tickets[0].WorkItemID)
		creates := 0
		for _, r := range fake.Requests() {
			if r.Method == http.MethodPost && r.Path == "/tickets" {
				creates++
				require.Equal(t, tickets[0].WorkItemID, r.Header.Get("Idempotency-Key"))
			}
		}
		require.Equal(t, 2, creates, "the refused create and the retry's, under one key")
	})
}

// TestCancelFailedInstanceVoidsWhatWasMade: DocuSign made the envelope and the answer was lost
// (a refusal in its place), so the instance FAILED; its starter cancels it rather than retry
// it. The failed work item is looked for by our id, found, coupled and voided at DocuSign,
// and closed CANCELLED; nothing new is created. A FAILED instance could not be cancelled
// before, and one whose step failed for good stayed FAILED with its envelope open.
func TestCancelFailedInstanceVoidsWhatWasMade(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setup(t, d)
		p := newPeople(t, b)
		fake := retryConfigureDocuSign(t, b, answerLostAfterCreate)
		id := flowsApprove(t, p)
		retryWaitFailed(t, b, id)
		envs := fake.Envelopes()
		require.Len(t, envs, 1)
		envID := envs[0].EnvelopeID
		require.NotEmpty(t, envID, "DocuSign made the envelope before the refusal")

		_, err := p.member.instances.CancelInstance(context.Background(), connect.NewRequest(&flowhookv1.CancelInstanceRequest{InstanceId: id, Reason: "not needed"}))
		requireCode(t, err, connect.CodePermissionDenied) // not its starter, not an admin
		res, err := p.starter.instances.CancelInstance(context.Background(), connect.NewRequest(&flowhookv1.CancelInstanceRequest{InstanceId: id, Reason: "no longer needed"}))
		require.NoError(t, err)
		require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_CANCELLED, res.Msg.GetInstance().GetStatus())
		require.Eventually(t, func() bool {
			st, _ := fake.EnvelopeStatus(envID)
			in := flowsGet(b.clients, id)
			return st == "voided" && in != nil && in.GetWorkItem().GetStatus() == "CANCELLED"
		}, flowsWait, flowsTick, "the envelope made before was never voided")
		require.Len(t, fake.Envelopes(), 1, "nothing created after the failure")
		_, err = p.starter.instances.CancelInstance(context.Background(), connect.NewRequest(&flowhookv1.CancelInstanceRequest{InstanceId: id, Reason: "again"}))
		requireCode(t, err, connect.CodeFailedPrecondition)
	})
}
