package api_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/gen/flowhook/v1/flowhookv1connect"
	"github.com/flowhook/flowhook/server/internal/config"
	"github.com/flowhook/flowhook/server/internal/provider/docusign/docusignfake"
	"github.com/flowhook/flowhook/server/internal/store"
	"github.com/flowhook/flowhook/server/internal/telemetry"
)

// docuSignBundle is a server, its people, and a fake DocuSign it is configured for.
type docuSignBundle struct {
	*testBundle
	people
	fake *docusignfake.Fake
}

var testHMACKeys = []string{"old-connect-key", "current-connect-key"}

func setupDocuSign(t testing.TB, d store.Dialect) docuSignBundle {
	t.Helper()
	return setupDocuSignWith(t, d, nil, nil)
}

// setupDocuSignWith is setupDocuSign with telemetry and a configuration change (see setupWith).
func setupDocuSignWith(t testing.TB, d store.Dialect, tel *telemetry.Telemetry, configure func(*config.Config)) docuSignBundle {
	t.Helper()
	b := setupWith(t, d, tel, configure)
	p := newPeople(t, b)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	fake := docusignfake.New(docusignfake.Options{PublicKey: &key.PublicKey, HMACKeys: testHMACKeys})
	fakeURL := fake.Start(t)
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	ctx := context.Background()
	saved, err := b.settings.UpdateDocuSignSettings(ctx, connect.NewRequest(&flowhookv1.UpdateDocuSignSettingsRequest{
		AccountId: fake.AccountID(), IntegrationKey: fake.IntegrationKey(), UserId: fake.UserID(), OauthBaseUrl: fakeURL,
		PrivateKeyPem: &pemKey, HmacKeys: testHMACKeys, ReplaceHmacKeys: true}))
	require.NoError(t, err)
	require.True(t, saved.Msg.GetSettings().GetPrivateKeySet())
	require.EqualValues(t, 2, saved.Msg.GetSettings().GetHmacKeyCount())
	require.Equal(t, b.baseURL+"/webhooks/DocuSign", saved.Msg.GetSettings().GetWebhookUrl())
	return docuSignBundle{testBundle: b, people: p, fake: fake}
}

// toSignature starts an instance and has the member approve it, so that it waits on DocuSign,
// and returns it once its envelope exists.
func (b docuSignBundle) toSignature(t *testing.T) (instanceID, envelopeID string) {
	t.Helper()
	ctx := context.Background()
	before := len(b.fake.Envelopes())
	started, err := b.starter.instances.StartInstance(ctx, connect.NewRequest(validStart(t, b.workflowID)))
	require.NoError(t, err)
	id := started.Msg.GetInstance().GetId()
	_, err = b.member.instances.TakeTransition(ctx, connect.NewRequest(&flowhookv1.TakeTransitionRequest{InstanceId: id, TransitionKey: "approve"}))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		got, err := b.instances.GetInstance(ctx, connect.NewRequest(&flowhookv1.GetInstanceRequest{InstanceId: id}))
		return err == nil && got.Msg.GetInstance().GetWorkItem().GetExternalId() != ""
	}, 20*time.Second, 10*time.Millisecond, "the envelope was never created and coupled")
	envs := b.fake.Envelopes()
	require.Len(t, envs, before+1)
	return id, envs[len(envs)-1].EnvelopeID
}

// settled waits until the instance is in the state: a notification that raced a job applying
// an earlier one of the same envelope is applied by its own job, a moment later.
func (b docuSignBundle) settled(t *testing.T, id, state string) *flowhookv1.Instance {
	t.Helper()
	var in *flowhookv1.Instance
	require.Eventually(t, func() bool {
		in = b.instance(t, id)
		return in.GetStateKey() == state
	}, 20*time.Second, 10*time.Millisecond, "the instance never reached %q", state)
	return in
}

func (b docuSignBundle) instance(t *testing.T, id string) *flowhookv1.Instance {
	t.Helper()
	got, err := b.instances.GetInstance(context.Background(), connect.NewRequest(&flowhookv1.GetInstanceRequest{InstanceId: id}))
	require.NoError(t, err)
	return got.Msg.GetInstance()
}

func TestDocuSignEndToEnd(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setupDocuSign(t, d)
		ctx := context.Background()

		test, err := b.settings.TestProviderConnection(ctx, connect.NewRequest(&flowhookv1.TestProviderConnectionRequest{Provider: flowhookv1.Provider_PROVIDER_DOCUSIGN}))
		require.NoError(t, err)
		require.True(t, test.Msg.GetOk(), test.Msg.GetMessage())

		id, envID := b.toSignature(t)
		in := b.instance(t, id)
		require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_WAITING_EXTERNAL, in.GetStatus())
		require.Equal(t, envID, in.GetWorkItem().GetExternalId())
		require.Equal(t, "WAITING", in.GetWorkItem().GetStatus())

		// The envelope DocuSign received: subject, signer from the start form, our id, the webhook.
		env := b.fake.Envelopes()[0].Definition
		require.Equal(t, "Please sign your contract", env.EmailSubject)
		require.Equal(t, "sent", env.Status)
		require.Len(t, env.Recipients.Signers, 1)
		require.Equal(t, "Ada Lovelace", env.Recipients.Signers[0].Name)
		require.Equal(t, "ada@example.com", env.Recipients.Signers[0].Email)
		require.Equal(t, "/sn1/", env.Recipients.Signers[0].Tabs.SignHereTabs[0].AnchorString)
		require.Equal(t, in.GetWorkItem().GetId(), env.CustomFields.TextCustomFields[0].Value)
		require.Equal(t, b.baseURL+"/webhooks/DocuSign", env.EventNotification.URL)
		require.Equal(t, "true", env.EventNotification.IncludeHMAC)

		// DocuSign reports completion: the instance takes "signed" to END.
		require.NoError(t, b.fake.Complete(envID))
		done := b.settled(t, id, "done")
		require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_COMPLETED, done.GetStatus())
		require.Equal(t, flowhookv1.Outcome_OUTCOME_FINISHED, done.GetWorkItem().GetOutcome())
		for _, dl := range b.fake.Deliveries() {
			require.Equal(t, http.StatusOK, dl.StatusCode, "%s: %s", dl.Event, dl.Err)
		}

		// The combined signed PDF is fetched in the background and kept with the instance.
		doc := awaitSignedDocument(t, b.starter.instances, id, 20*time.Second)
		require.Equal(t, "application/pdf", doc.GetContentType())
		require.True(t, strings.HasPrefix(string(doc.GetContent()), "%PDF-"))
		require.Len(t, doc.GetSha256(), 64)
		_, err = b.outsider.instances.GetSignedDocument(ctx, connect.NewRequest(&flowhookv1.GetSignedDocumentRequest{InstanceId: id}))
		requireCode(t, err, connect.CodePermissionDenied)

		// A late envelope-delivered changes nothing.
		require.Error(t, b.fake.Deliver(envID), "DocuSign itself refuses to deliver a completed envelope")
		acts, err := b.starter.instances.ListActivity(ctx, connect.NewRequest(&flowhookv1.ListActivityRequest{InstanceId: id}))
		require.NoError(t, err)
		var messages []string
		for _, e := range acts.Msg.GetEntries() {
			messages = append(messages, e.GetKind().String()+" "+e.GetMessage())
		}
		joined := strings.Join(messages, "\n")
		require.Contains(t, joined, "ACTIVITY_KIND_OUTCOME DOCUSIGN reported envelope-completed: outcome FINISHED")
		require.Contains(t, joined, "ACTIVITY_KIND_COMPLETED")

		// Declined: the other way out.
		id2, env2 := b.toSignature(t)
		require.NoError(t, b.fake.Decline(env2, "I do not agree"))
		rejected := b.settled(t, id2, "rejected")
		require.Equal(t, flowhookv1.Outcome_OUTCOME_DENIED, rejected.GetWorkItem().GetOutcome())

		// Voided: the state overrides envelope-voided to DENIED.
		id3, env3 := b.toSignature(t)
		require.NoError(t, b.fake.Void(env3, "wrong amount"))
		b.settled(t, id3, "rejected")
	})
}

func TestDocuSignWebhookRejectsBadInput(t *testing.T) {
	t.Parallel()
	b := setupDocuSign(t, store.Postgres)
	body := `{"event":"envelope-completed","apiVersion":"v2.1","retryCount":0,"generatedDateTime":"2026-11-27T10:00:00.0000000Z","data":{"envelopeId":"4f1c2f8e-0000-0000-0000-000000000001"}}`
	post := func(contentType, body string, header map[string]string) int {
		req, err := http.NewRequest(http.MethodPost, b.baseURL+"/webhooks/docusign", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", contentType)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		res, err := b.httpClient.Do(req)
		require.NoError(t, err)
		require.NoError(t, res.Body.Close())
		return res.StatusCode
	}
	good := docusignfake.Signature([]byte(body), testHMACKeys[1])
	require.Equal(t, http.StatusUnauthorized, post("application/json", body, nil))
	require.Equal(t, http.StatusUnauthorized, post("application/json", body, map[string]string{"X-DocuSign-Signature-1": docusignfake.Signature([]byte(body), "not-a-key")}))
	require.Equal(t, http.StatusUnauthorized, post("application/json", body+" ", map[string]string{"X-DocuSign-Signature-1": good}))
	require.Equal(t, http.StatusUnsupportedMediaType, post("text/plain", body, map[string]string{"X-DocuSign-Signature-1": good}))
	big := strings.Repeat("x", 2<<20)
	require.Equal(t, http.StatusRequestEntityTooLarge, post("application/json", big, map[string]string{"X-DocuSign-Signature-1": docusignfake.Signature([]byte(big), testHMACKeys[0])}))
	// Signed with the older key, in the second header: accepted; an unknown envelope waits.
	require.Equal(t, http.StatusOK, post("application/json; charset=utf-8", body, map[string]string{
		"X-DocuSign-Signature-1": docusignfake.Signature([]byte(body), "stale"), "X-DocuSign-Signature-2": good}))
	// Authentic but not JSON: stored as unparseable, acknowledged so DocuSign stops retrying.
	junk := `{"event": `
	require.Equal(t, http.StatusOK, post("application/json", junk, map[string]string{"X-DocuSign-Signature-1": docusignfake.Signature([]byte(junk), testHMACKeys[0])}))
}

// TestDocuSignCancelledWhileCreating cancels an instance whose envelope DocuSign created but
// whose answer was lost: the retry finds the envelope by our id and voids it rather than
// leaving a signer with an envelope for a cancelled instance.
func TestDocuSignCancelledWhileCreating(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setupDocuSign(t, d)
		ctx := context.Background()
		b.fake.DropNextCreateResponse()
		release := b.fake.HoldLookups() // the retry's lookup waits until the instance is cancelled
		t.Cleanup(release)
		started, err := b.starter.instances.StartInstance(ctx, connect.NewRequest(validStart(t, b.workflowID)))
		require.NoError(t, err)
		id := started.Msg.GetInstance().GetId()
		_, err = b.member.instances.TakeTransition(ctx, connect.NewRequest(&flowhookv1.TakeTransitionRequest{InstanceId: id, TransitionKey: "approve"}))
		require.NoError(t, err)
		require.Eventually(t, func() bool { return len(b.fake.Envelopes()) == 1 }, 20*time.Second, 10*time.Millisecond)
		envID := b.fake.Envelopes()[0].EnvelopeID
		require.NotEmpty(t, envID, "DocuSign created it; only its answer was lost")

		_, err = b.starter.instances.CancelInstance(ctx, connect.NewRequest(&flowhookv1.CancelInstanceRequest{InstanceId: id, Reason: "withdrawn"}))
		require.NoError(t, err)
		creating := b.instance(t, id)
		require.Equal(t, "CREATING", creating.GetWorkItem().GetStatus(), "cancelled before the retry coupled the envelope")
		require.Empty(t, creating.GetWorkItem().GetExternalId())
		release()
		require.Eventually(t, func() bool {
			status, ok := b.fake.EnvelopeStatus(envID)
			return ok && status == "voided" && b.instance(t, id).GetWorkItem().GetStatus() == "CANCELLED"
		}, 45*time.Second, 20*time.Millisecond, "the envelope created before the cancellation was never voided")
		require.Len(t, b.fake.Envelopes(), 1, "no second envelope")
		in := b.instance(t, id)
		require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_CANCELLED, in.GetStatus())
		require.Equal(t, envID, in.GetWorkItem().GetExternalId())
	})
}

// awaitSignedDocument waits up to wait for the instance's signed document to be kept, and
// returns it.
func awaitSignedDocument(t *testing.T, c flowhookv1connect.WorkflowInstanceServiceClient, id string, wait time.Duration) *flowhookv1.GetSignedDocumentResponse {
	t.Helper()
	var doc *flowhookv1.GetSignedDocumentResponse
	require.Eventually(t, func() bool {
		res, err := c.GetSignedDocument(context.Background(), connect.NewRequest(&flowhookv1.GetSignedDocumentRequest{InstanceId: id}))
		if err != nil {
			return false
		}
		doc = res.Msg
		return true
	}, wait, 10*time.Millisecond, "the signed document of %s was never kept", id)
	return doc
}
