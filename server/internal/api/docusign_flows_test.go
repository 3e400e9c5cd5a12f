package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/ent"
	"github.com/flowhook/flowhook/ent/signeddocument"
	"github.com/flowhook/flowhook/ent/webhookevent"
	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/config"
	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/provider/docusign"
	"github.com/flowhook/flowhook/server/internal/provider/docusign/docusignfake"
	"github.com/flowhook/flowhook/server/internal/store"
)

// The DocuSign flows of issue 4 end to end: a real server on each database, a fake DocuSign
// that creates envelopes and posts signed Connect messages back to it, and assertions on what
// the API, the fake and the database show. Background work (River jobs) is awaited with
// require.Eventually, never with sleeps.

const (
	// flowsWait bounds what the inline path or one job does (milliseconds normally).
	flowsWait = 20 * time.Second
	// flowsRetryWait bounds what needs a River retry or snooze (about 1 s backoff plus the
	// scheduler's pass).
	flowsRetryWait = 45 * time.Second
	flowsTick      = 20 * time.Millisecond
	// flowsOrphanWait bounds orphaning: an event that could not be applied as it arrived is
	// looked at again by its job, snoozed with a growing delay until the window has passed.
	flowsOrphanWait = 60 * time.Second
)

// flowsConfigureDocuSign points a running server at a new fake DocuSign, as setupDocuSign does.
func flowsConfigureDocuSign(t *testing.T, b *testBundle) docuSignBundle {
	t.Helper()
	p := newPeople(t, b)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	fake := docusignfake.New(docusignfake.Options{PublicKey: &key.PublicKey, HMACKeys: testHMACKeys})
	fakeURL := fake.Start(t)
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	_, err = b.settings.UpdateDocuSignSettings(context.Background(), connect.NewRequest(&flowhookv1.UpdateDocuSignSettingsRequest{
		AccountId: fake.AccountID(), IntegrationKey: fake.IntegrationKey(), UserId: fake.UserID(), OauthBaseUrl: fakeURL,
		PrivateKeyPem: &pemKey, HmacKeys: testHMACKeys, ReplaceHmacKeys: true}))
	require.NoError(t, err)
	return docuSignBundle{testBundle: b, people: p, fake: fake}
}

// flowsSetupDocuSign is setupDocuSign on a server whose configuration mutate changed.
func flowsSetupDocuSign(t *testing.T, d store.Dialect, mutate func(*config.Config)) docuSignBundle {
	t.Helper()
	cfg := config.Default()
	opts := dbtest.Options(t, d)
	cfg.DatabaseURL, cfg.DataDir = opts.DatabaseURL, opts.DataDir
	cfg.DBMaxConns = 12
	cfg.MaxRequestBytes = 1 << 20
	cfg.BootstrapAdminKey = bootstrapKey
	if d == store.Postgres {
		cfg.SecretKey = "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0zMmJ5dGU=" // 32 bytes, tests only
	}
	mutate(&cfg)
	b := serve(t, cfg)
	g, err := b.identity.CreateGroup(context.Background(), connect.NewRequest(&flowhookv1.CreateGroupRequest{Name: "legal"}))
	require.NoError(t, err)
	b.legalGroupID = g.Msg.GetGroup().GetId()
	return flowsConfigureDocuSign(t, b)
}

// flowsApprove starts an instance and has the member approve it into "sign", without waiting
// for its envelope.
func flowsApprove(t *testing.T, p people) string {
	t.Helper()
	ctx := context.Background()
	started, err := p.starter.instances.StartInstance(ctx, connect.NewRequest(validStart(t, p.workflowID)))
	require.NoError(t, err)
	id := started.Msg.GetInstance().GetId()
	took, err := p.member.instances.TakeTransition(ctx, connect.NewRequest(&flowhookv1.TakeTransitionRequest{InstanceId: id, TransitionKey: "approve"}))
	require.NoError(t, err)
	require.Equal(t, "sign", took.Msg.GetInstance().GetStateKey())
	require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_WAITING_EXTERNAL, took.Msg.GetInstance().GetStatus())
	return id
}

// flowsGet reads an instance for a polling condition: nil when the call fails.
func flowsGet(c clients, id string) *flowhookv1.Instance {
	got, err := c.instances.GetInstance(context.Background(), connect.NewRequest(&flowhookv1.GetInstanceRequest{InstanceId: id}))
	if err != nil {
		return nil
	}
	return got.Msg.GetInstance()
}

// flowsActivity returns an instance's whole timeline, page by page.
func flowsActivity(t *testing.T, c clients, id string) []*flowhookv1.ActivityEntry {
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

// flowsFind returns the indexes of the entries of a kind whose message contains text.
func flowsFind(entries []*flowhookv1.ActivityEntry, kind flowhookv1.ActivityKind, text string) []int {
	var out []int
	for i, e := range entries {
		if e.GetKind() == kind && strings.Contains(e.GetMessage(), text) {
			out = append(out, i)
		}
	}
	return out
}

// flowsTimeline renders entries for failure messages.
func flowsTimeline(entries []*flowhookv1.ActivityEntry) string {
	var b strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&b, "%d %s %s→%s %q\n", e.GetSequence(), e.GetKind(), e.GetFromState(), e.GetToState(), e.GetMessage())
	}
	return b.String()
}

// flowsTransitionsFrom counts the TRANSITION entries out of a state.
func flowsTransitionsFrom(entries []*flowhookv1.ActivityEntry, state string) int {
	n := 0
	for _, e := range entries {
		if e.GetKind() == flowhookv1.ActivityKind_ACTIVITY_KIND_TRANSITION && e.GetFromState() == state {
			n++
		}
	}
	return n
}

// flowsEvents returns the stored webhook events of an envelope, oldest first.
func flowsEvents(t *testing.T, b *testBundle, envelopeID string) []*ent.WebhookEvent {
	t.Helper()
	evs, err := b.app.DB().Client.WebhookEvent.Query().Where(webhookevent.ExternalID(envelopeID)).
		Order(ent.Asc(webhookevent.FieldReceivedAt), ent.Asc(webhookevent.FieldID)).All(context.Background())
	require.NoError(t, err)
	return evs
}

// flowsVerdicts returns the verdicts of an envelope's stored events of one type (nil on error,
// for polling conditions).
func flowsVerdicts(b *testBundle, envelopeID, eventType string) []string {
	evs, err := b.app.DB().Client.WebhookEvent.Query().
		Where(webhookevent.ExternalID(envelopeID), webhookevent.EventType(eventType)).All(context.Background())
	if err != nil {
		return nil
	}
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = string(e.Verdict)
	}
	return out
}

// flowsDeliveries returns the fake's Connect posts for an envelope and event.
func flowsDeliveries(f *docusignfake.Fake, envelopeID, event string) []docusignfake.Delivery {
	var out []docusignfake.Delivery
	for _, d := range f.Deliveries() {
		if d.EnvelopeID == envelopeID && d.Event == event {
			out = append(out, d)
		}
	}
	return out
}

// flowsRequireAllDelivered asserts every Connect post the fake made was acknowledged with 200.
func flowsRequireAllDelivered(t *testing.T, f *docusignfake.Fake) {
	t.Helper()
	ds := f.Deliveries()
	require.NotEmpty(t, ds)
	for i, d := range ds {
		require.Equal(t, http.StatusOK, d.StatusCode, "delivery %d (%s of %s, retry %d): %s", i, d.Event, d.EnvelopeID, d.RetryCount, d.Err)
	}
}

// flowsRewrite turns a real Connect message of the fake into another event of the same
// envelope: same shape, a new generatedDateTime, the envelope's status as given.
func flowsRewrite(t *testing.T, template []byte, event, status string) []byte {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(template))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&m))
	at := time.Now().UTC().Format("2006-01-02T15:04:05.0000000Z")
	m["event"], m["retryCount"], m["generatedDateTime"] = event, 0, at
	data, ok := m["data"].(map[string]any)
	require.True(t, ok, "the message has no data object: %s", template)
	sum, ok := data["envelopeSummary"].(map[string]any)
	require.True(t, ok, "the message has no envelopeSummary: %s", template)
	sum["status"], sum["statusChangedDateTime"] = status, at
	switch status {
	case "completed":
		sum["completedDateTime"] = at
	case "voided":
		sum["voidedDateTime"] = at
	}
	out, err := json.Marshal(m)
	require.NoError(t, err)
	return out
}

// flowsSIM is a minimal JSON SIM message for an envelope, as DocuSign's Connect would post.
func flowsSIM(t *testing.T, event, status, envelopeID, accountID string) []byte {
	t.Helper()
	at := time.Now().UTC().Format("2006-01-02T15:04:05.0000000Z")
	out, err := json.Marshal(map[string]any{
		"event": event, "apiVersion": "v2.1", "retryCount": 0, "configurationId": 1, "generatedDateTime": at,
		"uri": "/restapi/v2.1/accounts/" + accountID + "/envelopes/" + envelopeID,
		"data": map[string]any{"accountId": accountID, "envelopeId": envelopeID,
			"envelopeSummary": map[string]any{"envelopeId": envelopeID, "status": status, "statusChangedDateTime": at}},
	})
	require.NoError(t, err)
	return out
}

// flowsAnswer is the server's answer to one webhook post.
type flowsAnswer struct {
	status int
	header http.Header
	body   string
	err    error
}

// flowsPost posts a Connect message signed with the current HMAC key, as DocuSign does. It
// calls no require, so that goroutines may use it.
func flowsPost(client *http.Client, baseURL string, body []byte) flowsAnswer {
	req, err := http.NewRequest(http.MethodPost, baseURL+"/webhooks/DocuSign", bytes.NewReader(body))
	if err != nil {
		return flowsAnswer{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-DocuSign-Signature-1", docusignfake.Signature(body, testHMACKeys[1]))
	res, err := client.Do(req)
	if err != nil {
		return flowsAnswer{err: err}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return flowsAnswer{status: res.StatusCode, header: res.Header, body: string(b), err: err}
}

// TestDocuSignCancelWhileWaiting: CancelInstance voids the envelope in the background with the
// reason, the activity says so, and the envelope-voided webhook that follows changes nothing.
func TestDocuSignCancelWhileWaiting(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setupDocuSign(t, d)
		ctx := context.Background()
		id, envID := b.toSignature(t)
		waiting := b.instance(t, id)
		const reason = "customer withdrew"

		res, err := b.starter.instances.CancelInstance(ctx, connect.NewRequest(&flowhookv1.CancelInstanceRequest{InstanceId: id, Reason: reason}))
		require.NoError(t, err)
		require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_CANCELLED, res.Msg.GetInstance().GetStatus())
		require.Equal(t, reason, res.Msg.GetInstance().GetReason())
		require.Equal(t, waiting.GetRevision()+1, res.Msg.GetInstance().GetRevision())

		// The void runs in a job: the envelope is voided at DocuSign and the work item closed.
		require.Eventually(t, func() bool {
			st, _ := b.fake.EnvelopeStatus(envID)
			in := flowsGet(b.clients, id)
			return st == "voided" && in != nil && in.GetWorkItem().GetStatus() == "CANCELLED"
		}, flowsWait, flowsTick, "the envelope was never voided and the work item never CANCELLED")

		// The void reason DocuSign got is ours: the envelope-voided message carries it.
		voided := flowsDeliveries(b.fake, envID, "envelope-voided")
		require.Len(t, voided, 1)
		require.Equal(t, http.StatusOK, voided[0].StatusCode, voided[0].Err)
		ev, err := docusign.ParseEvent(voided[0].Body)
		require.NoError(t, err)
		require.Equal(t, reason, ev.Reason)
		require.Equal(t, "voided", ev.Status)
		require.Equal(t, 1, b.fake.CountRequests(http.MethodPut, "/restapi/v2.1/accounts/"+b.fake.AccountID()+"/envelopes/"+envID))

		// The activity records the cancellation, then the void, and no outcome.
		acts := flowsActivity(t, b.starter, id)
		cancelled := flowsFind(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_CANCELLED, reason)
		voids := flowsFind(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_EXTERNAL_PROGRESS, "voided DOCUSIGN "+envID+": "+reason)
		require.Len(t, cancelled, 1, flowsTimeline(acts))
		require.Len(t, voids, 1, flowsTimeline(acts))
		require.Less(t, cancelled[0], voids[0], flowsTimeline(acts))
		require.Equal(t, "sign", acts[voids[0]].GetFromState())
		require.Empty(t, flowsFind(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_OUTCOME, ""), flowsTimeline(acts))

		// The envelope-voided DocuSign sent on our void was recorded as stale.
		require.Eventually(t, func() bool {
			v := flowsVerdicts(b.testBundle, envID, "envelope-voided")
			return len(v) == 1 && v[0] == string(webhookevent.VerdictSTALE)
		}, flowsWait, flowsTick)

		// A later envelope-voided (another message, so another dedupe key) and a late
		// envelope-completed move nothing either.
		sent := flowsDeliveries(b.fake, envID, "envelope-sent")
		require.Len(t, sent, 1)
		for _, late := range []struct{ event, status string }{{"envelope-voided", "voided"}, {"envelope-completed", "completed"}} {
			a := flowsPost(b.httpClient, b.baseURL, flowsRewrite(t, sent[0].Body, late.event, late.status))
			require.NoError(t, a.err)
			require.Equal(t, http.StatusOK, a.status, a.body)
			require.Contains(t, a.body, `"accepted"`)
		}
		require.Eventually(t, func() bool {
			voids := flowsVerdicts(b.testBundle, envID, "envelope-voided")
			done := flowsVerdicts(b.testBundle, envID, "envelope-completed")
			return len(voids) == 2 && voids[0] == "STALE" && voids[1] == "STALE" && len(done) == 1 && done[0] == "STALE"
		}, flowsWait, flowsTick)

		after := b.instance(t, id)
		require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_CANCELLED, after.GetStatus())
		require.Equal(t, "sign", after.GetStateKey())
		require.Equal(t, reason, after.GetReason())
		require.Equal(t, res.Msg.GetInstance().GetRevision(), after.GetRevision())
		require.Equal(t, "CANCELLED", after.GetWorkItem().GetStatus())
		require.Equal(t, flowhookv1.Outcome_OUTCOME_UNSPECIFIED, after.GetWorkItem().GetOutcome())
		require.Equal(t, envID, after.GetWorkItem().GetExternalId())
		require.Len(t, flowsActivity(t, b.starter, id), len(acts), "late events add nothing to the timeline")
		flowsRequireAllDelivered(t, b.fake)
	})
}

// TestDocuSignDuplicateDeliveries: ten deliveries of one envelope-completed, one after the other
// (DocuSign's duplicates) or all at once through two replicas, move the instance once.
func TestDocuSignDuplicateDeliveries(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		const n = 10
		// requireMovedOnce checks the instance took "signed" exactly once.
		requireMovedOnce := func(t *testing.T, b docuSignBundle, id, envID string, waitingRevision int64) {
			t.Helper()
			require.Eventually(t, func() bool {
				in := flowsGet(b.clients, id)
				return in != nil && in.GetStateKey() == "done"
			}, flowsWait, flowsTick, "the instance never reached done")
			in := b.instance(t, id)
			require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_COMPLETED, in.GetStatus())
			require.Equal(t, waitingRevision+1, in.GetRevision(), "one transition, one revision")
			require.Equal(t, "RESOLVED", in.GetWorkItem().GetStatus())
			require.Equal(t, flowhookv1.Outcome_OUTCOME_FINISHED, in.GetWorkItem().GetOutcome())
			acts := flowsActivity(t, b.starter, id)
			require.Equal(t, 1, flowsTransitionsFrom(acts, "sign"), flowsTimeline(acts))
			require.Len(t, flowsFind(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_OUTCOME, "reported envelope-completed"), 1, flowsTimeline(acts))
			require.Len(t, flowsFind(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_COMPLETED, ""), 1, flowsTimeline(acts))
		}

		t.Run("the fake posts each message ten times", func(t *testing.T) {
			t.Parallel()
			b := setupDocuSign(t, d)
			id, envID := b.toSignature(t)
			rev := b.instance(t, id).GetRevision()
			b.fake.SetDuplicates(n)
			require.NoError(t, b.fake.Complete(envID))

			posts := flowsDeliveries(b.fake, envID, "envelope-completed")
			require.Len(t, posts, n)
			for _, p := range posts {
				require.Equal(t, posts[0].Body, p.Body, "the same bytes each time")
			}
			flowsRequireAllDelivered(t, b.fake)
			requireMovedOnce(t, b, id, envID, rev)
			// Stored once per message: one envelope-completed row, applied.
			require.Equal(t, []string{"APPLIED"}, flowsVerdicts(b.testBundle, envID, "envelope-completed"))
			require.Len(t, flowsVerdicts(b.testBundle, envID, "recipient-completed"), 1)
		})

		t.Run("ten concurrent posts through two replicas", func(t *testing.T) {
			t.Parallel()
			b := setupDocuSign(t, d)
			r := b.replica(t)
			id, envID := b.toSignature(t)
			rev := b.instance(t, id).GetRevision()
			sent := flowsDeliveries(b.fake, envID, "envelope-sent")
			require.Len(t, sent, 1)
			body := flowsRewrite(t, sent[0].Body, "envelope-completed", "completed")

			answers := make([]flowsAnswer, n)
			gate := make(chan struct{})
			var wg sync.WaitGroup
			for i := range n {
				target := b.testBundle
				if i%2 == 1 {
					target = r
				}
				wg.Go(func() {
					<-gate
					answers[i] = flowsPost(target.httpClient, target.baseURL, body)
				})
			}
			close(gate)
			wg.Wait()
			accepted := 0
			for i, a := range answers {
				require.NoError(t, a.err, "post %d", i)
				require.Equal(t, http.StatusOK, a.status, "post %d: %s", i, a.body)
				if strings.Contains(a.body, `"accepted"`) {
					accepted++
				} else {
					require.Contains(t, a.body, `"duplicate"`, "post %d", i)
				}
			}
			require.Equal(t, 1, accepted, "one post stores the event; the others find it stored")
			requireMovedOnce(t, b, id, envID, rev)
			require.Equal(t, []string{"APPLIED"}, flowsVerdicts(b.testBundle, envID, "envelope-completed"))

			// DocuSign's own envelope-completed for the envelope (other bytes, another dedupe
			// key) arrives later: a DUPLICATE outcome that changes nothing.
			require.NoError(t, b.fake.Complete(envID))
			flowsRequireAllDelivered(t, b.fake)
			require.Eventually(t, func() bool {
				v := flowsVerdicts(b.testBundle, envID, "envelope-completed")
				return len(v) == 2 && ((v[0] == "APPLIED" && v[1] == "DUPLICATE") || (v[0] == "DUPLICATE" && v[1] == "APPLIED"))
			}, flowsWait, flowsTick)
			requireMovedOnce(t, b, id, envID, rev)
		})
	})
}

// TestDocuSignCompletedThenDelivered: Connect does not keep order; an envelope-delivered that
// arrives after envelope-completed is stale and the instance stays completed.
func TestDocuSignCompletedThenDelivered(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setupDocuSign(t, d)
		id, envID := b.toSignature(t)
		rev := b.instance(t, id).GetRevision()

		b.fake.HoldDeliveries(true)
		require.NoError(t, b.fake.Deliver(envID))
		require.NoError(t, b.fake.Complete(envID))
		require.Equal(t, []string{"recipient-delivered", "envelope-delivered", "recipient-completed", "envelope-completed"}, b.fake.Held())
		b.fake.HoldDeliveries(false)
		// envelope-completed first, then envelope-delivered, then the recipient events.
		require.NoError(t, b.fake.Flush(3, 1, 2, 0))
		require.Empty(t, b.fake.Held())

		var order []string
		for _, dl := range b.fake.Deliveries() {
			order = append(order, dl.Event)
		}
		require.Equal(t, []string{"envelope-sent", "envelope-completed", "envelope-delivered", "recipient-completed", "recipient-delivered"}, order)
		flowsRequireAllDelivered(t, b.fake)

		require.Eventually(t, func() bool {
			return len(flowsVerdicts(b.testBundle, envID, "envelope-delivered")) == 1 &&
				len(flowsVerdicts(b.testBundle, envID, "recipient-delivered")) == 1 &&
				!slices.Contains(flowsVerdicts(b.testBundle, envID, "envelope-delivered"), "PENDING") &&
				!slices.Contains(flowsVerdicts(b.testBundle, envID, "recipient-delivered"), "PENDING") &&
				!slices.Contains(flowsVerdicts(b.testBundle, envID, "recipient-completed"), "PENDING")
		}, flowsWait, flowsTick, "the late events were never processed")
		require.Equal(t, []string{"APPLIED"}, flowsVerdicts(b.testBundle, envID, "envelope-completed"))
		require.Equal(t, []string{"STALE"}, flowsVerdicts(b.testBundle, envID, "envelope-delivered"))
		require.Equal(t, []string{"STALE"}, flowsVerdicts(b.testBundle, envID, "recipient-delivered"))
		require.Equal(t, []string{"STALE"}, flowsVerdicts(b.testBundle, envID, "recipient-completed"))

		in := b.instance(t, id)
		require.Equal(t, "done", in.GetStateKey())
		require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_COMPLETED, in.GetStatus())
		require.Equal(t, rev+1, in.GetRevision())
		require.Equal(t, "RESOLVED", in.GetWorkItem().GetStatus())
		require.Equal(t, flowhookv1.Outcome_OUTCOME_FINISHED, in.GetWorkItem().GetOutcome())
		acts := flowsActivity(t, b.starter, id)
		require.Empty(t, flowsFind(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_EXTERNAL_PROGRESS, "reported envelope-delivered"), flowsTimeline(acts))
		require.Equal(t, 1, flowsTransitionsFrom(acts, "sign"), flowsTimeline(acts))

		// Another terminal outcome after the first does not regress it either.
		sent := flowsDeliveries(b.fake, envID, "envelope-sent")
		require.Len(t, sent, 1)
		a := flowsPost(b.httpClient, b.baseURL, flowsRewrite(t, sent[0].Body, "envelope-declined", "declined"))
		require.NoError(t, a.err)
		require.Equal(t, http.StatusOK, a.status, a.body)
		require.Eventually(t, func() bool {
			v := flowsVerdicts(b.testBundle, envID, "envelope-declined")
			return len(v) == 1 && v[0] == "STALE"
		}, flowsWait, flowsTick)
		again := b.instance(t, id)
		require.Equal(t, "done", again.GetStateKey())
		require.Equal(t, in.GetRevision(), again.GetRevision())
		require.Equal(t, flowhookv1.Outcome_OUTCOME_FINISHED, again.GetWorkItem().GetOutcome())
		require.Len(t, flowsActivity(t, b.starter, id), len(acts))
	})
}

// TestDocuSignWebhookBeforeCoupling: events that beat the commit coupling the envelope to the
// instance are kept and applied once the coupling exists.
func TestDocuSignWebhookBeforeCoupling(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		t.Run("envelope-sent before the create is answered", func(t *testing.T) {
			t.Parallel()
			b := setupDocuSign(t, d)
			id, envID := b.toSignature(t)

			// The fake posted envelope-sent before it answered the create, so before the
			// coupling; it was acknowledged all the same.
			ds := b.fake.Deliveries()
			require.NotEmpty(t, ds)
			require.Equal(t, "envelope-sent", ds[0].Event)
			require.Equal(t, envID, ds[0].EnvelopeID)
			require.Equal(t, http.StatusOK, ds[0].StatusCode, ds[0].Err)

			var acts []*flowhookv1.ActivityEntry
			require.Eventually(t, func() bool {
				res, err := b.starter.instances.ListActivity(context.Background(), connect.NewRequest(&flowhookv1.ListActivityRequest{InstanceId: id}))
				if err != nil {
					return false
				}
				acts = res.Msg.GetEntries()
				return len(flowsFind(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_EXTERNAL_PROGRESS, "DOCUSIGN reported envelope-sent")) == 1
			}, flowsRetryWait, flowsTick, "the early envelope-sent was lost")
			acts = flowsActivity(t, b.starter, id)
			coupled := flowsFind(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_EXTERNAL_PROGRESS, "DOCUSIGN "+envID+" sent to ada@example.com")
			progress := flowsFind(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_EXTERNAL_PROGRESS, "DOCUSIGN reported envelope-sent")
			require.Len(t, coupled, 1, flowsTimeline(acts))
			require.Len(t, progress, 1, flowsTimeline(acts))
			require.Less(t, coupled[0], progress[0], flowsTimeline(acts))

			evs := flowsEvents(t, b.testBundle, envID)
			require.Len(t, evs, 1)
			require.Equal(t, "envelope-sent", evs[0].EventType)
			require.Equal(t, webhookevent.VerdictPROGRESS, evs[0].Verdict)
			require.Equal(t, id, evs[0].InstanceID)
			require.False(t, evs[0].ReceivedAt.After(acts[coupled[0]].GetCreatedAt().AsTime()),
				"received %s, coupled %s: the event came first", evs[0].ReceivedAt, acts[coupled[0]].GetCreatedAt().AsTime())

			in := b.instance(t, id)
			require.Equal(t, "WAITING", in.GetWorkItem().GetStatus(), "progress does not resolve the work item")
			require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_WAITING_EXTERNAL, in.GetStatus())
		})

		t.Run("envelope-completed for an envelope not coupled yet", func(t *testing.T) {
			t.Parallel()
			b := setupDocuSign(t, d)
			// The create's answer is lost, so the envelope exists at DocuSign while our work
			// item waits for the job's retry to find it. The fake holds the retry's lookup until
			// the completion has arrived.
			b.fake.DropNextCreateResponse()
			release := b.fake.HoldLookups()
			t.Cleanup(release)
			id := flowsApprove(t, b.people)
			var envID string
			require.Eventually(t, func() bool {
				envs := b.fake.Envelopes()
				if len(envs) == 0 || envs[0].EnvelopeID == "" {
					return false
				}
				envID = envs[0].EnvelopeID
				return true
			}, flowsWait, flowsTick, "no envelope was created")
			rev := b.instance(t, id).GetRevision()

			require.NoError(t, b.fake.Complete(envID))
			done := flowsDeliveries(b.fake, envID, "envelope-completed")
			require.Len(t, done, 1)
			require.Equal(t, http.StatusOK, done[0].StatusCode, "an unknown envelope's event is acknowledged: %s", done[0].Err)
			// It did arrive before the coupling: the work item is still being created.
			early := b.instance(t, id)
			require.Equal(t, "CREATING", early.GetWorkItem().GetStatus())
			require.Empty(t, early.GetWorkItem().GetExternalId())
			require.Equal(t, []string{"PENDING"}, flowsVerdicts(b.testBundle, envID, "envelope-completed"))
			release()

			// The job's retry finds the envelope by our id and couples it; the waiting event
			// is applied at once.
			require.Eventually(t, func() bool {
				in := flowsGet(b.clients, id)
				return in != nil && in.GetStateKey() == "done"
			}, flowsRetryWait, flowsTick, "the early envelope-completed was never applied")
			in := b.instance(t, id)
			require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_COMPLETED, in.GetStatus())
			require.Equal(t, rev+1, in.GetRevision())
			require.Equal(t, envID, in.GetWorkItem().GetExternalId())
			require.Equal(t, "RESOLVED", in.GetWorkItem().GetStatus())
			require.Equal(t, flowhookv1.Outcome_OUTCOME_FINISHED, in.GetWorkItem().GetOutcome())
			require.Equal(t, []string{"APPLIED"}, flowsVerdicts(b.testBundle, envID, "envelope-completed"))
			require.Len(t, b.fake.Envelopes(), 1, "one envelope")

			acts := flowsActivity(t, b.starter, id)
			coupled := flowsFind(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_EXTERNAL_PROGRESS, "DOCUSIGN "+envID+" sent to")
			outcome := flowsFind(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_OUTCOME, "DOCUSIGN reported envelope-completed: outcome FINISHED")
			require.Len(t, coupled, 1, flowsTimeline(acts))
			require.Len(t, outcome, 1, flowsTimeline(acts))
			require.Less(t, coupled[0], outcome[0], flowsTimeline(acts))
			require.Equal(t, 1, flowsTransitionsFrom(acts, "sign"), flowsTimeline(acts))

			// A signed event for an envelope nobody knows is acknowledged and moves nothing.
			unknown := uuid.NewString()
			a := flowsPost(b.httpClient, b.baseURL, flowsSIM(t, "envelope-completed", "completed", unknown, b.fake.AccountID()))
			require.NoError(t, a.err)
			require.Equal(t, http.StatusOK, a.status, a.body)
			require.Equal(t, []string{"PENDING"}, flowsVerdicts(b.testBundle, unknown, "envelope-completed"))
			require.Equal(t, in.GetRevision(), b.instance(t, id).GetRevision())
		})
	})
}

// TestDocuSignOrphanedAfterWindow: an event for an envelope that never becomes known is
// retried for the orphan window, then marked ORPHANED.
func TestDocuSignOrphanedAfterWindow(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := flowsSetupDocuSign(t, d, func(c *config.Config) { c.OrphanWindow = time.Second })
		unknown := uuid.NewString()
		body := flowsSIM(t, "envelope-completed", "completed", unknown, b.fake.AccountID())
		a := flowsPost(b.httpClient, b.baseURL, body)
		require.NoError(t, a.err)
		require.Equal(t, http.StatusOK, a.status, a.body)
		require.Contains(t, a.body, `"accepted"`)
		require.Equal(t, []string{"PENDING"}, flowsVerdicts(b.testBundle, unknown, "envelope-completed"), "within the window it waits")

		require.Eventually(t, func() bool {
			v := flowsVerdicts(b.testBundle, unknown, "envelope-completed")
			return len(v) == 1 && v[0] == "ORPHANED"
		}, flowsOrphanWait, 50*time.Millisecond, "the event was never orphaned")
		evs := flowsEvents(t, b.testBundle, unknown)
		require.Len(t, evs, 1)
		require.Contains(t, evs[0].VerdictReason, unknown)
		require.Contains(t, evs[0].VerdictReason, "1s")
		require.NotNil(t, evs[0].ProcessedAt)
		require.Empty(t, evs[0].InstanceID)
		require.Empty(t, evs[0].WorkItemID)
		require.GreaterOrEqual(t, evs[0].ProcessedAt.Sub(evs[0].ReceivedAt), time.Second, "not before the window")

		// DocuSign's retry of it is a duplicate of the orphan, still acknowledged.
		again := flowsPost(b.httpClient, b.baseURL, body)
		require.NoError(t, again.err)
		require.Equal(t, http.StatusOK, again.status, again.body)
		require.Contains(t, again.body, `"duplicate"`)
		require.Equal(t, []string{"ORPHANED"}, flowsVerdicts(b.testBundle, unknown, "envelope-completed"))
	})
}

// TestDocuSignDatabaseDown: while the database refuses connections the webhook answers 503 with
// Retry-After; DocuSign's retry after it is back is stored and applied: nothing is lost.
func TestDocuSignDatabaseDown(t *testing.T) {
	t.Parallel()
	b := setupDocuSign(t, store.Postgres)
	ctx := context.Background()
	id, envID := b.toSignature(t)
	rev := b.instance(t, id).GetRevision()
	// Retry as often as the test needs (DocuSign: ten times, then daily).
	b.fake.SetRetryPolicy(docusignfake.RetryPolicy{Max: 1000})
	sent := flowsDeliveries(b.fake, envID, "envelope-sent")
	require.Len(t, sent, 1)

	u, err := url.Parse(b.cfg.DatabaseURL)
	require.NoError(t, err)
	name := strings.TrimPrefix(u.Path, "/")
	require.True(t, strings.HasPrefix(name, "flowhook_test_"), name)
	admin, err := pgx.Connect(ctx, dbtest.AdminURL())
	require.NoError(t, err)
	t.Cleanup(func() { admin.Close(context.Background()) })
	allow := func(on bool) error {
		_, err := admin.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s ALLOW_CONNECTIONS %t", pgx.Identifier{name}.Sanitize(), on))
		return err
	}
	// Whatever happens below, the database accepts connections again before the server stops.
	t.Cleanup(func() { _ = allow(true) })

	// Down: no new connections, and every open one is terminated.
	require.NoError(t, allow(false))
	// (A connection that was being opened as the ALTER committed may need a second pass.) Each
	// pass waits, in PostgreSQL, for the sessions it signalled to end: without the wait a session
	// still exiting was counted again on the next pass, and a fast machine ran out of passes.
	terminated := -1
	for pass := 0; terminated != 0; pass++ {
		require.Less(t, pass, 100, "sessions keep appearing on a database that refuses connections")
		require.NoError(t, admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid, 10000)) FROM pg_stat_activity
			WHERE datname = $1 AND pid <> pg_backend_pid()`, name).Scan(&terminated))
	}

	res, err := b.httpClient.Get(b.baseURL + "/readyz")
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	require.Equal(t, http.StatusServiceUnavailable, res.StatusCode, "not ready without the database")

	// A signed notification: 503 with Retry-After, so that DocuSign retries.
	a := flowsPost(b.httpClient, b.baseURL, flowsRewrite(t, sent[0].Body, "envelope-delivered", "delivered"))
	require.NoError(t, a.err)
	require.Equal(t, http.StatusServiceUnavailable, a.status, a.body)
	require.NotEmpty(t, a.header.Get("Retry-After"))

	// DocuSign's completion arrives meanwhile: refused, so Connect keeps it for a retry.
	require.NoError(t, b.fake.Complete(envID))
	ds := b.fake.Deliveries()
	last := ds[len(ds)-1]
	require.Equal(t, "recipient-completed", last.Event)
	require.Equal(t, http.StatusServiceUnavailable, last.StatusCode, last.Err)
	require.Equal(t, []string{"recipient-completed", "envelope-completed"}, b.fake.Pending())
	_, err = b.instances.GetInstance(ctx, connect.NewRequest(&flowhookv1.GetInstanceRequest{InstanceId: id}))
	requireCode(t, err, connect.CodeUnavailable)

	// Up again: DocuSign's retries (each with a higher retryCount) are acknowledged. The first
	// ones may still meet a connection the pool has not yet found dead: those answer 503 and
	// are retried, as DocuSign would.
	require.NoError(t, allow(true))
	require.Eventually(t, func() bool {
		b.fake.RetryPending()
		return len(b.fake.Pending()) == 0
	}, flowsWait, 50*time.Millisecond, "DocuSign's retries were never acknowledged")
	require.Empty(t, b.fake.Dropped())
	for _, dl := range b.fake.Deliveries()[len(ds):] {
		require.Contains(t, []int{http.StatusOK, http.StatusServiceUnavailable}, dl.StatusCode, "%s: %s", dl.Event, dl.Err)
	}
	retried := flowsDeliveries(b.fake, envID, "recipient-completed")
	require.Equal(t, http.StatusOK, retried[len(retried)-1].StatusCode)
	require.Positive(t, retried[len(retried)-1].RetryCount)

	require.Eventually(t, func() bool {
		in := flowsGet(b.clients, id)
		return in != nil && in.GetStateKey() == "done"
	}, flowsWait, flowsTick, "the completion was lost")
	in := b.instance(t, id)
	require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_COMPLETED, in.GetStatus())
	require.Equal(t, rev+1, in.GetRevision())
	require.Equal(t, flowhookv1.Outcome_OUTCOME_FINISHED, in.GetWorkItem().GetOutcome())
	require.Equal(t, []string{"APPLIED"}, flowsVerdicts(b.testBundle, envID, "envelope-completed"), "stored once, whatever the retries")
	require.Empty(t, flowsVerdicts(b.testBundle, envID, "envelope-delivered"), "the refused post stored nothing")

	res, err = b.httpClient.Get(b.baseURL + "/readyz")
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	require.Equal(t, http.StatusOK, res.StatusCode)
}

// TestDocuSignCrashBetweenCreateAndCommit: DocuSign created the envelope but its answer was
// lost; the job's retry finds the envelope by our work-item id instead of creating a second.
func TestDocuSignCrashBetweenCreateAndCommit(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setupDocuSign(t, d)
		b.fake.DropNextCreateResponse()
		id := flowsApprove(t, b.people)

		require.Eventually(t, func() bool {
			in := flowsGet(b.clients, id)
			return in != nil && in.GetWorkItem().GetExternalId() != ""
		}, flowsRetryWait, flowsTick, "the envelope was never coupled")

		envs := b.fake.Envelopes()
		var created []string
		for _, e := range envs {
			if e.EnvelopeID != "" {
				created = append(created, e.EnvelopeID)
			}
		}
		require.Len(t, created, 1, "exactly one envelope at DocuSign")
		envID := created[0]
		base := "/restapi/v2.1/accounts/" + b.fake.AccountID() + "/envelopes"
		require.Equal(t, 1, b.fake.CountRequests(http.MethodPost, base), "no second create")
		require.GreaterOrEqual(t, b.fake.CountRequests(http.MethodGet, base), 1, "the retry looked the envelope up")

		in := b.instance(t, id)
		require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_WAITING_EXTERNAL, in.GetStatus())
		require.Equal(t, "sign", in.GetStateKey())
		require.Equal(t, "WAITING", in.GetWorkItem().GetStatus())
		require.Equal(t, envID, in.GetWorkItem().GetExternalId())
		require.Equal(t, in.GetWorkItem().GetId(), envs[0].Definition.CustomFields.TextCustomFields[0].Value)
		acts := flowsActivity(t, b.starter, id)
		require.Len(t, flowsFind(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_EXTERNAL_PROGRESS, " sent to "), 1, flowsTimeline(acts))
		require.Len(t, flowsFind(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_EXTERNAL_PROGRESS, "DOCUSIGN "+envID+" sent to ada@example.com"), 1, flowsTimeline(acts))
		require.Empty(t, flowsFind(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_FAILED, ""), flowsTimeline(acts))

		// The coupled envelope works as any other.
		require.NoError(t, b.fake.Complete(envID))
		require.Eventually(t, func() bool {
			in := flowsGet(b.clients, id)
			return in != nil && in.GetStateKey() == "done"
		}, flowsWait, flowsTick)
		require.Len(t, b.fake.Envelopes(), 1)
	})
}

// TestDocuSignNotConfigured: without DocuSign settings, entering the EXTERNAL state fails the
// instance with a reason an administrator can act on.
func TestDocuSignNotConfigured(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setup(t, d)
		p := newPeople(t, b)
		id := flowsApprove(t, p)

		require.Eventually(t, func() bool {
			in := flowsGet(b.clients, id)
			return in != nil && in.GetStatus() == flowhookv1.InstanceStatus_INSTANCE_STATUS_FAILED
		}, flowsWait, flowsTick, "the instance never FAILED")
		in := flowsGet(b.clients, id)
		require.NotNil(t, in)
		require.Equal(t, "sign", in.GetStateKey())
		require.Contains(t, in.GetReason(), "not configured")
		require.Contains(t, in.GetReason(), "DOCUSIGN")
		require.Equal(t, "FAILED", in.GetWorkItem().GetStatus())
		require.Empty(t, in.GetWorkItem().GetExternalId())

		acts := flowsActivity(t, p.starter, id)
		failed := flowsFind(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_FAILED, "not configured")
		require.Len(t, failed, 1, flowsTimeline(acts))
		require.Equal(t, len(acts)-1, failed[0], "the failure is the last entry")
		require.Equal(t, in.GetReason(), acts[failed[0]].GetMessage())
		require.Equal(t, "sign", acts[failed[0]].GetFromState())

		// Nothing to retry: the in-process creation failed it for good, and gave no job.
		flowsNoCreateLeft(t, b)

		// And no HMAC key to check a notification against: refused.
		a := flowsPost(b.httpClient, b.baseURL, flowsSIM(t, "envelope-completed", "completed", uuid.NewString(), uuid.NewString()))
		require.NoError(t, a.err)
		require.Equal(t, http.StatusUnauthorized, a.status, a.body)
	})
}

// flowsNoCreateLeft checks that a creation that failed for good left nothing to do: no
// create_work_item job, and no work item whose creation is still due.
func flowsNoCreateLeft(t *testing.T, b *testBundle) {
	t.Helper()
	var jobs, due int
	db := b.app.DB().SQL
	require.NoError(t, db.QueryRowContext(context.Background(), "SELECT count(*) FROM river_job WHERE kind = 'create_work_item'").Scan(&jobs))
	require.NoError(t, db.QueryRowContext(context.Background(), "SELECT count(*) FROM work_items WHERE create_due_at IS NOT NULL").Scan(&due))
	require.Zero(t, jobs, "no create job")
	require.Zero(t, due, "no creation due")
}

// TestDocuSignRefusedCreate: DocuSign answers the create with a 400: the instance FAILED at once
// with DocuSign's errorCode in the reason, and the create is not tried again.
func TestDocuSignRefusedCreate(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setupDocuSign(t, d)
		const msg = "The request contained at least one invalid parameter. Invalid value specified for emailSubject."
		b.fake.FailNext(1, docusignfake.Failure{Status: http.StatusBadRequest, Code: "INVALID_REQUEST_PARAMETER", Message: msg})
		id := flowsApprove(t, b.people)

		require.Eventually(t, func() bool {
			in := flowsGet(b.clients, id)
			return in != nil && in.GetStatus() == flowhookv1.InstanceStatus_INSTANCE_STATUS_FAILED
		}, flowsWait, flowsTick, "the instance never FAILED")
		in := b.instance(t, id)
		require.Equal(t, "sign", in.GetStateKey())
		require.Contains(t, in.GetReason(), "HTTP 400")
		require.Contains(t, in.GetReason(), "INVALID_REQUEST_PARAMETER")
		require.Contains(t, in.GetReason(), msg)
		require.Equal(t, "FAILED", in.GetWorkItem().GetStatus())

		acts := flowsActivity(t, b.starter, id)
		failed := flowsFind(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_FAILED, "INVALID_REQUEST_PARAMETER")
		require.Len(t, failed, 1, flowsTimeline(acts))
		require.Equal(t, in.GetReason(), acts[failed[0]].GetMessage())

		// No retries: one create, refused, in-process, and no job after it.
		flowsNoCreateLeft(t, b.testBundle)
		base := "/restapi/v2.1/accounts/" + b.fake.AccountID() + "/envelopes"
		require.Equal(t, 1, b.fake.CountRequests(http.MethodPost, base))
		require.Zero(t, b.fake.CountRequests(http.MethodGet, base), "nothing to look for after a refusal")
		require.Empty(t, b.fake.Envelopes(), "DocuSign created nothing")
	})
}

// TestDocuSignFinishedKeepsSignedPDF: after envelope-completed the combined signed PDF is
// downloaded and kept with the instance.
func TestDocuSignFinishedKeepsSignedPDF(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setupDocuSign(t, d)
		ctx := context.Background()
		id, envID := b.toSignature(t)
		wiID := b.instance(t, id).GetWorkItem().GetId()
		require.NoError(t, b.fake.Complete(envID))

		var doc *ent.SignedDocument
		require.Eventually(t, func() bool {
			got, err := b.app.DB().Client.SignedDocument.Query().Where(signeddocument.WorkItemID(uuid.MustParse(wiID))).Only(ctx)
			if err != nil {
				return false
			}
			doc = got
			return true
		}, flowsWait, flowsTick, "the signed document was never stored")
		require.True(t, bytes.HasPrefix(doc.Content, []byte("%PDF-")), "%q", doc.Content[:min(len(doc.Content), 16)])
		require.Contains(t, string(doc.Content), "Envelope "+envID, "DocuSign's combined document of this envelope")
		require.Contains(t, string(doc.Content), `Contract \(completed\)`, "the document as signed")
		require.NotContains(t, string(doc.Content), "Certificate of Completion", "without the certificate")
		sum := sha256.Sum256(doc.Content)
		require.Equal(t, hex.EncodeToString(sum[:]), doc.Sha256)
		require.Equal(t, id, doc.InstanceID.String())
		require.Equal(t, "application/pdf", doc.ContentType)
		require.Equal(t, "signed.pdf", doc.Name)
		require.Equal(t, 1, b.fake.CountRequests(http.MethodGet, "/restapi/v2.1/accounts/"+b.fake.AccountID()+"/envelopes/"+envID+"/documents/combined"))

		// The starter reads it through the API.
		got, err := b.starter.instances.GetSignedDocument(ctx, connect.NewRequest(&flowhookv1.GetSignedDocumentRequest{InstanceId: id}))
		require.NoError(t, err)
		require.Equal(t, doc.Content, got.Msg.GetContent())
		require.Equal(t, doc.Sha256, got.Msg.GetSha256())
		require.Equal(t, wiID, got.Msg.GetWorkItemId())
		require.Equal(t, "application/pdf", got.Msg.GetContentType())
		_, err = b.outsider.instances.GetSignedDocument(ctx, connect.NewRequest(&flowhookv1.GetSignedDocumentRequest{InstanceId: id}))
		requireCode(t, err, connect.CodePermissionDenied)
	})
}
