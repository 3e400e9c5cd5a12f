package api_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/provider/onespan/onespanfake"
	"github.com/flowhook/flowhook/server/internal/store"
	"github.com/flowhook/flowhook/server/internal/telemetry"
)

// oneSpanBundle is a server, its people, a workflow whose signature is a OneSpan package, and
// a fake OneSpan it is configured for (callback registered through the settings).
type oneSpanBundle struct {
	*testBundle
	people
	fake        *onespanfake.Fake
	callbackKey string
	workflowID  string
}

const oneSpanCallbackKey = "onespan-callback-key-for-tests"

func setupOneSpan(t testing.TB, d store.Dialect) oneSpanBundle {
	t.Helper()
	return setupOneSpanWith(t, d, nil)
}

// setupOneSpanWith is setupOneSpan with telemetry (nil: none).
func setupOneSpanWith(t testing.TB, d store.Dialect, tel *telemetry.Telemetry) oneSpanBundle {
	t.Helper()
	return setupOneSpanDesign(t, d, tel, nil)
}

// setupOneSpanDesign is setupOneSpanWith with the OneSpan state's outcome_overrides.
func setupOneSpanDesign(t testing.TB, d store.Dialect, tel *telemetry.Telemetry, overrides map[string]flowhookv1.Outcome) oneSpanBundle {
	t.Helper()
	b := setupWith(t, d, tel, nil)
	p := newPeople(t, b)
	ctx := context.Background()
	fake := onespanfake.New(onespanfake.Options{})
	fakeURL := fake.Start(t)
	apiKey, key := fake.APIKey(), oneSpanCallbackKey
	saved, err := b.settings.UpdateOneSpanSettings(ctx, connect.NewRequest(&flowhookv1.UpdateOneSpanSettingsRequest{
		BaseUrl: fakeURL, ApiKey: &apiKey, CallbackKey: &key, RegisterCallback: true}))
	require.NoError(t, err)
	require.True(t, saved.Msg.GetSettings().GetApiKeySet())
	cb, ok := fake.RegisteredCallback()
	require.True(t, ok, "the callback was registered at OneSpan")
	require.Equal(t, b.baseURL+"/webhooks/OneSpan", cb.URL)
	require.Contains(t, cb.Events, "PACKAGE_COMPLETE")

	d2 := b.draft("OneSpan signing")
	sign := d2.States[2]
	sign.External.Provider = flowhookv1.Provider_PROVIDER_ONESPAN
	sign.External.OutcomeOverrides = overrides
	d2.States = append(d2.States,
		&flowhookv1.State{Key: "expired", Name: "Expired", Kind: flowhookv1.StateKind_STATE_KIND_END},
		&flowhookv1.State{Key: "withdrawn", Name: "Withdrawn", Kind: flowhookv1.StateKind_STATE_KIND_END})
	d2.Transitions = append(d2.Transitions,
		&flowhookv1.Transition{Key: "lapsed", FromState: "sign", ToState: "expired", OnOutcome: flowhookv1.Outcome_OUTCOME_EXPIRED},
		&flowhookv1.Transition{Key: "deleted", FromState: "sign", ToState: "withdrawn", OnOutcome: flowhookv1.Outcome_OUTCOME_DELETED},
		&flowhookv1.Transition{Key: "accepted", FromState: "sign", ToState: "done", OnOutcome: flowhookv1.Outcome_OUTCOME_APPROVED})
	wf, err := b.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: d2}))
	require.NoError(t, err)
	_, err = b.design.PublishWorkflow(ctx, connect.NewRequest(&flowhookv1.PublishWorkflowRequest{WorkflowId: wf.Msg.GetWorkflow().GetId(), ExpectedRevision: 1}))
	require.NoError(t, err)
	return oneSpanBundle{testBundle: b, people: p, fake: fake, callbackKey: key, workflowID: wf.Msg.GetWorkflow().GetId()}
}

// toSignature starts an instance, has it approved, and returns it with its package id once the
// package exists at OneSpan and is coupled.
func (b oneSpanBundle) toSignature(t *testing.T) (string, string) {
	t.Helper()
	ctx := context.Background()
	started, err := b.starter.instances.StartInstance(ctx, connect.NewRequest(validStart(t, b.workflowID)))
	require.NoError(t, err)
	id := started.Msg.GetInstance().GetId()
	_, err = b.member.instances.TakeTransition(ctx, connect.NewRequest(&flowhookv1.TakeTransitionRequest{InstanceId: id, TransitionKey: "approve"}))
	require.NoError(t, err)
	var pkg string
	require.Eventually(t, func() bool {
		got, err := b.instances.GetInstance(ctx, connect.NewRequest(&flowhookv1.GetInstanceRequest{InstanceId: id}))
		pkg = got.Msg.GetInstance().GetWorkItem().GetExternalId()
		return err == nil && pkg != ""
	}, 20*time.Second, 10*time.Millisecond, "the package was never created and coupled")
	return id, pkg
}

func (b oneSpanBundle) settled(t *testing.T, id, state string) *flowhookv1.Instance {
	t.Helper()
	var in *flowhookv1.Instance
	require.Eventually(t, func() bool {
		got, err := b.instances.GetInstance(context.Background(), connect.NewRequest(&flowhookv1.GetInstanceRequest{InstanceId: id}))
		in = got.Msg.GetInstance()
		return err == nil && in.GetStateKey() == state
	}, 20*time.Second, 10*time.Millisecond, "the instance never reached %q", state)
	return in
}

func (b oneSpanBundle) events(t *testing.T, f *flowhookv1.EventFilter) []*flowhookv1.Event {
	t.Helper()
	res, err := b.eventLog.ListEvents(context.Background(), connect.NewRequest(&flowhookv1.ListEventsRequest{Filter: f, PageSize: 100}))
	require.NoError(t, err)
	return res.Msg.GetEvents()
}

// postCallback posts a OneSpan callback body with the Authorization header given.
func (b oneSpanBundle) postCallback(t *testing.T, body []byte, authorization string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.baseURL+"/webhooks/OneSpan", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	res, err := b.httpClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	return res.StatusCode
}

// TestOneSpanEndToEnd: a OneSpan package is created from the start form, and each handled
// callback — complete, decline, expire, trash — moves its instance on, after flowhook read the
// package back from OneSpan.
func TestOneSpanEndToEnd(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setupOneSpan(t, d)

		id, pkg := b.toSignature(t)
		created := b.fake.Packages()
		require.Len(t, created, 1)
		p := created[0].Package
		require.Equal(t, pkg, created[0].ID)
		require.Equal(t, "SENT", p.Status)
		require.True(t, p.Autocomplete != nil && *p.Autocomplete)
		require.Len(t, p.Roles, 1)
		require.Equal(t, "ada@example.com", p.Roles[0].Signers[0].Email)
		require.Len(t, created[0].Files, 1)
		require.True(t, bytes.HasPrefix(created[0].Files[0].Data, []byte("%PDF")))

		require.NoError(t, b.fake.Complete(pkg))
		b.settled(t, id, "done")
		// The signed documents come as OneSpan's zip.
		var doc *flowhookv1.GetSignedDocumentResponse
		require.Eventually(t, func() bool {
			res, err := b.starter.instances.GetSignedDocument(context.Background(), connect.NewRequest(&flowhookv1.GetSignedDocumentRequest{InstanceId: id}))
			if err != nil {
				return false
			}
			doc = res.Msg
			return true
		}, 20*time.Second, 10*time.Millisecond)
		require.Equal(t, "application/zip", doc.GetContentType())
		require.Equal(t, "signed-documents.zip", doc.GetName())
		require.True(t, bytes.HasPrefix(doc.GetContent(), []byte("PK\x03\x04")))

		id2, pkg2 := b.toSignature(t)
		require.NoError(t, b.fake.Decline(pkg2, "wrong amount"))
		b.settled(t, id2, "rejected")

		id3, pkg3 := b.toSignature(t)
		require.NoError(t, b.fake.Expire(pkg3))
		b.settled(t, id3, "expired")

		id4, pkg4 := b.toSignature(t)
		require.NoError(t, b.fake.Trash(pkg4))
		b.settled(t, id4, "withdrawn")

		// Every handled callback was read back from OneSpan and stored once, APPLIED.
		for _, pkgID := range []string{pkg, pkg2, pkg3, pkg4} {
			var applied int
			for _, e := range b.events(t, &flowhookv1.EventFilter{ExternalId: pkgID}) {
				if e.GetVerdict() == flowhookv1.Verdict_VERDICT_APPLIED {
					applied++
				}
			}
			require.Equal(t, 1, applied, "package %s", pkgID)
		}
	})
}

// TestOneSpanCallbackKey: a wrong, missing or expired key is refused before anything is read;
// a rolled key is accepted alongside the new one during its grace period.
func TestOneSpanCallbackKey(t *testing.T) {
	t.Parallel()
	b := setupOneSpan(t, store.Postgres)
	ctx := context.Background()
	body := []byte(`{"@class":"com.silanis.esl.packages.event.ESLProcessEvent","name":"PACKAGE_ACTIVATE","sessionUser":"u1","packageId":"LWsUTvGgE4WpOvaQPT16idnxNj8=","message":null,"documentId":null,"createdDate":"2026-11-27T14:12:34.544Z"}`)
	require.Equal(t, http.StatusUnauthorized, b.postCallback(t, body, ""))
	require.Equal(t, http.StatusUnauthorized, b.postCallback(t, body, "Basic wrong-key-wrong-key-wrong"))
	require.Equal(t, http.StatusUnauthorized, b.postCallback(t, body, "Bearer "+oneSpanCallbackKey))
	require.Equal(t, http.StatusOK, b.postCallback(t, body, "Basic "+oneSpanCallbackKey))

	// Roll the key with a grace period: both work; then roll again with a 1 ns grace, and the
	// one before is refused at once (the settings are read again within 2 s).
	cur, err := b.settings.GetOneSpanSettings(ctx, connect.NewRequest(&flowhookv1.GetOneSpanSettingsRequest{}))
	require.NoError(t, err)
	next := "onespan-callback-key-rolled-01"
	_, err = b.settings.UpdateOneSpanSettings(ctx, connect.NewRequest(&flowhookv1.UpdateOneSpanSettingsRequest{
		BaseUrl: cur.Msg.GetSettings().GetBaseUrl(), CallbackKey: &next, ExpectedRevision: cur.Msg.GetSettings().GetRevision()}))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return b.postCallback(t, body, "Basic "+next) == http.StatusOK }, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, http.StatusOK, b.postCallback(t, body, "Basic "+oneSpanCallbackKey), "the previous key within its grace")

	last := "onespan-callback-key-rolled-02"
	_, err = b.settings.UpdateOneSpanSettings(ctx, connect.NewRequest(&flowhookv1.UpdateOneSpanSettingsRequest{
		BaseUrl: cur.Msg.GetSettings().GetBaseUrl(), CallbackKey: &last, CallbackKeyGrace: nil, ExpectedRevision: cur.Msg.GetSettings().GetRevision() + 1}))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return b.postCallback(t, body, "Basic "+last) == http.StatusOK }, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, http.StatusOK, b.postCallback(t, body, "Basic "+next), "the key just replaced, within its grace")
	require.Equal(t, http.StatusUnauthorized, b.postCallback(t, body, "Basic "+oneSpanCallbackKey), "two keys back: only one previous key is kept")
}

// TestOneSpanIgnoredAndDisagreeing: events flowhook does not act on are answered 200 and kept
// only while debugging; a callback whose package OneSpan reports otherwise changes nothing.
func TestOneSpanIgnoredAndDisagreeing(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setupOneSpan(t, d)
		ctx := context.Background()
		id, pkg := b.toSignature(t)
		activate := []byte(`{"@class":"com.silanis.esl.packages.event.ESLProcessEvent","name":"PACKAGE_ACTIVATE","sessionUser":"u1","packageId":"` + pkg + `","message":null,"documentId":null,"createdDate":"2026-11-27T14:12:34.544Z"}`)
		require.Equal(t, http.StatusOK, b.postCallback(t, activate, "Basic "+oneSpanCallbackKey))
		require.Empty(t, b.events(t, &flowhookv1.EventFilter{ExternalId: pkg, EventType: "PACKAGE_ACTIVATE"}), "debug off: not kept")

		cur, err := b.settings.GetSecuritySettings(ctx, connect.NewRequest(&flowhookv1.GetSecuritySettingsRequest{}))
		require.NoError(t, err)
		_, err = b.settings.UpdateSecuritySettings(ctx, connect.NewRequest(&flowhookv1.UpdateSecuritySettingsRequest{WebhookReceiverDebug: true, ExpectedRevision: cur.Msg.GetSettings().GetRevision()}))
		require.NoError(t, err)
		signed := []byte(`{"@class":"com.silanis.esl.packages.event.ESLProcessEvent","name":"SIGNER_COMPLETE","sessionUser":"u1","packageId":"` + pkg + `","message":null,"documentId":null,"createdDate":"2026-11-27T14:13:00.000Z"}`)
		require.Equal(t, http.StatusOK, b.postCallback(t, signed, "Basic "+oneSpanCallbackKey))
		ignored := b.events(t, &flowhookv1.EventFilter{ExternalId: pkg, EventType: "SIGNER_COMPLETE"})
		require.Len(t, ignored, 1, "debug on: kept")
		require.Equal(t, flowhookv1.Verdict_VERDICT_IGNORED, ignored[0].GetVerdict())
		got, err := b.eventLog.GetEvent(ctx, connect.NewRequest(&flowhookv1.GetEventRequest{Id: ignored[0].GetId()}))
		require.NoError(t, err)
		require.NotEmpty(t, got.Msg.GetEntries())
		require.NotContains(t, got.Msg.GetHeaders(), "Authorization")
		// Replayed, it stays IGNORED: a replay applies nothing the receiver would not (until
		// session 43 it became PROGRESS, wrote the work item and the timeline from an
		// unconfirmed callback).
		activity := func() int {
			t.Helper()
			res, err := b.instances.ListActivity(ctx, connect.NewRequest(&flowhookv1.ListActivityRequest{InstanceId: id, PageSize: 100}))
			require.NoError(t, err)
			return len(res.Msg.GetEntries())
		}
		entries := activity()
		replayed, err := b.eventLog.ReplayEvent(ctx, connect.NewRequest(&flowhookv1.ReplayEventRequest{Id: ignored[0].GetId()}))
		require.NoError(t, err)
		require.Equal(t, flowhookv1.Verdict_VERDICT_IGNORED, replayed.Msg.GetEvent().GetVerdict())
		require.Equal(t, "flowhook does not act on SIGNER_COMPLETE", replayed.Msg.GetEvent().GetVerdictReason())
		require.Equal(t, entries, activity(), "no activity")

		// A PACKAGE_COMPLETE for a package OneSpan still reports SENT (forged with a leaked
		// key, or simply wrong): nothing moves, and the event says why.
		complete := []byte(`{"@class":"com.silanis.esl.packages.event.ESLProcessEvent","name":"PACKAGE_COMPLETE","sessionUser":"u1","packageId":"` + pkg + `","message":null,"documentId":null,"createdDate":"2026-11-27T14:14:00.000Z"}`)
		require.Equal(t, http.StatusOK, b.postCallback(t, complete, "Basic "+oneSpanCallbackKey))
		var ev *flowhookv1.Event
		require.Eventually(t, func() bool {
			list := b.events(t, &flowhookv1.EventFilter{ExternalId: pkg, EventType: "PACKAGE_COMPLETE"})
			if len(list) != 1 || list[0].GetVerdict() == flowhookv1.Verdict_VERDICT_PENDING {
				return false
			}
			ev = list[0]
			return true
		}, 20*time.Second, 10*time.Millisecond)
		require.Equal(t, flowhookv1.Verdict_VERDICT_IGNORED, ev.GetVerdict())
		require.Contains(t, ev.GetVerdictReason(), "disagrees")
		got2, err := b.instances.GetInstance(ctx, connect.NewRequest(&flowhookv1.GetInstanceRequest{InstanceId: id}))
		require.NoError(t, err)
		require.Equal(t, "sign", got2.Msg.GetInstance().GetStateKey())
	})
}

// TestOneSpanOverride: a OneSpan state may map a package-ending event to another outcome (here
// PACKAGE_DECLINE to EXPIRED, PACKAGE_COMPLETE to APPROVED). The read-back confirms the event —
// the package is DECLINED — and the state's outcome moves the instance; reconciliation, which
// feeds what it finds through the same pipeline, agrees. A completed package's signed
// documents are kept whatever the state calls its completion. An override of an event flowhook
// ignores (SIGNER_COMPLETE) could never apply: the design is refused, saying why.
func TestOneSpanOverride(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setupOneSpanDesign(t, d, nil, map[string]flowhookv1.Outcome{
			"PACKAGE_DECLINE": flowhookv1.Outcome_OUTCOME_EXPIRED, "PACKAGE_COMPLETE": flowhookv1.Outcome_OUTCOME_APPROVED})
		ctx := context.Background()

		signed, signedPkg := b.toSignature(t)
		require.NoError(t, b.fake.Complete(signedPkg))
		require.Equal(t, flowhookv1.Outcome_OUTCOME_APPROVED, b.settled(t, signed, "done").GetWorkItem().GetOutcome())
		require.Equal(t, "application/zip", awaitSignedDocument(t, b.starter.instances, signed, 20*time.Second).GetContentType())

		id, pkg := b.toSignature(t)
		require.NoError(t, b.fake.Decline(pkg, "not today"))
		in := b.settled(t, id, "expired")
		require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_COMPLETED, in.GetStatus())
		require.Equal(t, []string{"APPLIED"}, osfSettled(t, b, pkg, "PACKAGE_DECLINE", 1))

		// Reconciliation reads the second package DECLINED and moves its instance the same way.
		id2, pkg2 := b.toSignature(t)
		b.fake.HoldDeliveries(true)
		require.NoError(t, b.fake.Decline(pkg2, "lost callback"))
		_, err := b.eventLog.ReconcileWorkItems(ctx, connect.NewRequest(&flowhookv1.ReconcileWorkItemsRequest{Provider: flowhookv1.Provider_PROVIDER_ONESPAN}))
		require.NoError(t, err)
		b.settled(t, id2, "expired")

		draft := b.draft("OneSpan progress override")
		draft.States[2].External.Provider = flowhookv1.Provider_PROVIDER_ONESPAN
		draft.States[2].External.OutcomeOverrides = map[string]flowhookv1.Outcome{"SIGNER_COMPLETE": flowhookv1.Outcome_OUTCOME_APPROVED}
		_, err = b.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: draft}))
		require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err), "%v", err)
		require.ErrorContains(t, err, `flowhook ignores ONESPAN's "SIGNER_COMPLETE", so no override can apply to it`)
	})
}

// TestOneSpanLostCallbackReconciled: OneSpan never resends a failed callback; reconciliation
// finds the completed package and moves the instance on.
func TestOneSpanLostCallbackReconciled(t *testing.T) {
	t.Parallel()
	b := setupOneSpan(t, store.Postgres)
	ctx := context.Background()
	id, pkg := b.toSignature(t)
	b.fake.HoldDeliveries(true) // the callbacks are lost
	require.NoError(t, b.fake.Complete(pkg))
	require.Equal(t, "sign", b.settled(t, id, "sign").GetStateKey())

	rep, err := b.eventLog.ReconcileWorkItems(ctx, connect.NewRequest(&flowhookv1.ReconcileWorkItemsRequest{Provider: flowhookv1.Provider_PROVIDER_ONESPAN}))
	require.NoError(t, err)
	require.EqualValues(t, 1, rep.Msg.GetChecked())
	require.EqualValues(t, 1, rep.Msg.GetOutcomesFound())
	require.EqualValues(t, 1, rep.Msg.GetEventsStored())
	b.settled(t, id, "done")
}

// TestOneSpanCallbackBeforeCoupling: OneSpan created the package but its answer was lost, and
// the package completes at once. The callback arrives before flowhook knows the package id: it
// waits, the create job's retry finds the package by our work-item id (no second package), and
// the waiting callback is then confirmed and applied once.
func TestOneSpanCallbackBeforeCoupling(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setupOneSpan(t, d)
		ctx := context.Background()
		b.fake.DropNextCreateResponse()
		release := b.fake.HoldLookups() // the retry's lookup waits until the callback is in
		t.Cleanup(release)
		started, err := b.starter.instances.StartInstance(ctx, connect.NewRequest(validStart(t, b.workflowID)))
		require.NoError(t, err)
		id := started.Msg.GetInstance().GetId()
		_, err = b.member.instances.TakeTransition(ctx, connect.NewRequest(&flowhookv1.TakeTransitionRequest{InstanceId: id, TransitionKey: "approve"}))
		require.NoError(t, err)
		require.Eventually(t, func() bool { return len(b.fake.Packages()) == 1 && b.fake.Packages()[0].ID != "" }, 20*time.Second, 10*time.Millisecond)
		pkg := b.fake.Packages()[0].ID
		require.NoError(t, b.fake.Complete(pkg))
		early, err := b.instances.GetInstance(ctx, connect.NewRequest(&flowhookv1.GetInstanceRequest{InstanceId: id}))
		require.NoError(t, err)
		require.Equal(t, "CREATING", early.Msg.GetInstance().GetWorkItem().GetStatus())
		release()

		done := b.settled(t, id, "done")
		require.Equal(t, pkg, done.GetWorkItem().GetExternalId())
		require.Len(t, b.fake.Packages(), 1, "the retry found the package rather than creating another")
		var applied int
		for _, e := range b.events(t, &flowhookv1.EventFilter{ExternalId: pkg, EventType: "PACKAGE_COMPLETE"}) {
			if e.GetVerdict() == flowhookv1.Verdict_VERDICT_APPLIED {
				applied++
			}
		}
		require.Equal(t, 1, applied)
	})
}

// TestOneSpanCancelDeletesThePackage: cancelling an instance that waits on a OneSpan package
// deletes the package in the background; the PACKAGE_DELETE callback that follows changes
// nothing. The connection test says the callback is registered.
func TestOneSpanCancelDeletesThePackage(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setupOneSpan(t, d)
		ctx := context.Background()
		test, err := b.settings.TestProviderConnection(ctx, connect.NewRequest(&flowhookv1.TestProviderConnectionRequest{Provider: flowhookv1.Provider_PROVIDER_ONESPAN}))
		require.NoError(t, err)
		require.True(t, test.Msg.GetOk(), test.Msg.GetMessage())
		require.Contains(t, test.Msg.GetMessage(), "the callback is registered")

		id, pkg := b.toSignature(t)
		res, err := b.starter.instances.CancelInstance(ctx, connect.NewRequest(&flowhookv1.CancelInstanceRequest{InstanceId: id, Reason: "withdrawn by the customer"}))
		require.NoError(t, err)
		require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_CANCELLED, res.Msg.GetInstance().GetStatus())
		revision := res.Msg.GetInstance().GetRevision()
		require.Eventually(t, func() bool {
			st, ok := b.fake.State(pkg)
			got, err := b.instances.GetInstance(ctx, connect.NewRequest(&flowhookv1.GetInstanceRequest{InstanceId: id}))
			return ok && st.Deleted && err == nil && got.Msg.GetInstance().GetWorkItem().GetStatus() == "CANCELLED"
		}, 20*time.Second, 10*time.Millisecond, "the package was never deleted at OneSpan")

		// OneSpan reports the deletion: stored, and nothing moves.
		require.Eventually(t, func() bool {
			evs := b.events(t, &flowhookv1.EventFilter{ExternalId: pkg, EventType: "PACKAGE_DELETE"})
			return len(evs) == 1 && evs[0].GetVerdict() == flowhookv1.Verdict_VERDICT_STALE
		}, 20*time.Second, 10*time.Millisecond)
		got, err := b.instances.GetInstance(ctx, connect.NewRequest(&flowhookv1.GetInstanceRequest{InstanceId: id}))
		require.NoError(t, err)
		require.Equal(t, revision, got.Msg.GetInstance().GetRevision())
		require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_CANCELLED, got.Msg.GetInstance().GetStatus())
	})
}
