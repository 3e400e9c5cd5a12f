package api_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/store"
)

// TestRetention: an admin sets how long finished instances keep their form data and signed
// documents; past it, retention erases them — the instance keeps its timeline, whose changes
// keep their field names without values and which says what retention erased — while open and
// recent instances keep theirs.
func TestRetention(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setupDocuSign(t, d)
		ctx := context.Background()

		// The review asks for a comment, so that a TRANSITION entry carries a change.
		draft := b.draft("Reviewed contract")
		draft.States[1].FormFields = []*flowhookv1.FormField{{Name: "comment", Type: flowhookv1.FieldType_FIELD_TYPE_STRING}}
		wf, err := b.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: draft}))
		require.NoError(t, err)
		wfID := wf.Msg.GetWorkflow().GetId()
		_, err = b.design.PublishWorkflow(ctx, connect.NewRequest(&flowhookv1.PublishWorkflowRequest{WorkflowId: wfID, ExpectedRevision: 1}))
		require.NoError(t, err)
		started, err := b.starter.instances.StartInstance(ctx, connect.NewRequest(validStart(t, wfID)))
		require.NoError(t, err)
		id := started.Msg.GetInstance().GetId()
		_, err = b.member.instances.TakeTransition(ctx, connect.NewRequest(&flowhookv1.TakeTransitionRequest{InstanceId: id,
			TransitionKey: "approve", FormData: form(t, map[string]any{"comment": "fine by legal"})}))
		require.NoError(t, err)
		var envID string
		require.Eventually(t, func() bool {
			envID = b.instance(t, id).GetWorkItem().GetExternalId()
			return envID != ""
		}, 20*time.Second, 10*time.Millisecond, "the envelope was never created and coupled")
		require.NoError(t, b.fake.Complete(envID))
		b.settled(t, id, "done")
		require.Eventually(t, func() bool {
			_, err := b.starter.instances.GetSignedDocument(ctx, connect.NewRequest(&flowhookv1.GetSignedDocumentRequest{InstanceId: id}))
			return err == nil
		}, 20*time.Second, 10*time.Millisecond, "the signed document was never fetched")
		// Another instance, still waiting for its signature.
		waiting, _ := b.toSignature(t)

		// Kept for ever by default; both retentions (and the Event Log's) are shown.
		got, err := b.settings.GetSecuritySettings(ctx, connect.NewRequest(&flowhookv1.GetSecuritySettingsRequest{}))
		require.NoError(t, err)
		require.Zero(t, got.Msg.GetSettings().GetFormDataRetentionDays())
		require.Zero(t, got.Msg.GetSettings().GetDocumentRetentionDays())
		require.EqualValues(t, engine.DefaultEventRetentionDays, got.Msg.GetSettings().GetEventRetentionDays())
		saved, err := b.settings.UpdateSecuritySettings(ctx, connect.NewRequest(&flowhookv1.UpdateSecuritySettingsRequest{
			FormDataRetentionDays: 30, DocumentRetentionDays: 60, EventRetentionDays: 14}))
		require.NoError(t, err)
		require.EqualValues(t, 30, saved.Msg.GetSettings().GetFormDataRetentionDays())
		require.EqualValues(t, 60, saved.Msg.GetSettings().GetDocumentRetentionDays())
		got, err = b.settings.GetSecuritySettings(ctx, connect.NewRequest(&flowhookv1.GetSecuritySettingsRequest{}))
		require.NoError(t, err)
		require.EqualValues(t, 30, got.Msg.GetSettings().GetFormDataRetentionDays())
		require.EqualValues(t, 60, got.Msg.GetSettings().GetDocumentRetentionDays())
		require.EqualValues(t, 14, got.Msg.GetSettings().GetEventRetentionDays())

		// The daily job's run, today and two months on.
		st := store.New(b.app.DB())
		run := func(at time.Time) engine.Erased {
			t.Helper()
			erased, err := engine.NewRetention(st, engine.NewSecurity(st, engine.SystemClock{}), elClock(at)).Run(ctx)
			require.NoError(t, err)
			return erased
		}
		require.Zero(t, run(time.Now()), "it ended just now")
		require.NotEmpty(t, b.instance(t, id).GetFormData().GetFields())
		require.Equal(t, engine.Erased{FormData: 1, Documents: 1}, run(time.Now().Add(61*24*time.Hour)))

		in := b.instance(t, id)
		require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_COMPLETED, in.GetStatus())
		require.Empty(t, in.GetFormData().GetFields())
		require.NotNil(t, in.GetFormDataErasedAt())
		require.NotNil(t, in.GetDocumentsErasedAt())
		require.Equal(t, "done", in.GetStateKey())
		for _, c := range []clients{b.starter, b.clients} {
			_, err = c.instances.GetSignedDocument(ctx, connect.NewRequest(&flowhookv1.GetSignedDocumentRequest{InstanceId: id}))
			requireCode(t, err, connect.CodeNotFound)
		}

		acts, err := b.starter.instances.ListActivity(ctx, connect.NewRequest(&flowhookv1.ListActivityRequest{InstanceId: id}))
		require.NoError(t, err)
		var erasedMsgs []string
		changed := map[string][]string{} // by kind and transition: the field names
		sentTo := 0
		for _, e := range acts.Msg.GetEntries() {
			// No message quotes the form any more: the signer's email is gone from "sent to". As a
			// word: a random envelope id may hold the letters ("…-4ada-…").
			require.NotRegexp(t, `(?i)\bada\b|lovelace`, e.GetMessage())
			if strings.Contains(e.GetMessage(), " sent to [erased]") {
				sentTo++
			}
			if e.GetKind() == flowhookv1.ActivityKind_ACTIVITY_KIND_ERASED {
				erasedMsgs = append(erasedMsgs, e.GetMessage())
			}
			for _, c := range e.GetChanges() {
				require.Nil(t, c.GetOldValue(), "%s %s", e.GetKind(), c.GetName())
				require.Nil(t, c.GetNewValue(), "%s %s", e.GetKind(), c.GetName())
				key := e.GetKind().String() + " " + e.GetTransitionKey()
				changed[key] = append(changed[key], c.GetName())
			}
		}
		require.Equal(t, 1, sentTo, "the envelope's entry says it was sent, to whom is erased")
		require.Equal(t, []string{
			"form data erased by retention (ended more than 30 days ago)",
			"signed documents erased by retention (ended more than 60 days ago)",
		}, erasedMsgs)
		require.Equal(t, map[string][]string{
			"ACTIVITY_KIND_STARTED ":           {"amount", "signer_email", "signer_name"},
			"ACTIVITY_KIND_TRANSITION approve": {"comment"},
		}, changed)
		last := acts.Msg.GetEntries()[len(acts.Msg.GetEntries())-1]
		require.Equal(t, flowhookv1.ActivityKind_ACTIVITY_KIND_ERASED, last.GetKind())
		require.Empty(t, last.GetActorId())
		require.True(t, strings.Contains(last.GetMessage(), "erased by retention"))

		// The instance still waiting keeps everything; a second run finds nothing left.
		w := b.instance(t, waiting)
		require.Equal(t, "Ada Lovelace", w.GetFormData().GetFields()["signer_name"].GetStringValue())
		require.Nil(t, w.GetFormDataErasedAt())
		require.Nil(t, w.GetDocumentsErasedAt())
		require.Zero(t, run(time.Now().Add(61*24*time.Hour)))
	})
}

// TestSecuritySettingsRetentionRanges: a retention below 0 or above 36500 days is refused,
// field by field; the bounds themselves are accepted.
func TestSecuritySettingsRetentionRanges(t *testing.T) {
	t.Parallel()
	b := setup(t, store.SQLite)
	ctx := context.Background()
	for _, c := range []struct {
		req  *flowhookv1.UpdateSecuritySettingsRequest
		path []string
	}{
		{&flowhookv1.UpdateSecuritySettingsRequest{FormDataRetentionDays: -1}, []string{"form_data_retention_days"}},
		{&flowhookv1.UpdateSecuritySettingsRequest{DocumentRetentionDays: -30}, []string{"document_retention_days"}},
		{&flowhookv1.UpdateSecuritySettingsRequest{FormDataRetentionDays: engine.MaxDataRetentionDays + 1}, []string{"form_data_retention_days"}},
		{&flowhookv1.UpdateSecuritySettingsRequest{FormDataRetentionDays: 36501, DocumentRetentionDays: 100000},
			[]string{"form_data_retention_days", "document_retention_days"}},
	} {
		_, err := b.settings.UpdateSecuritySettings(ctx, connect.NewRequest(c.req))
		ps := problems(t, requireCode(t, err, connect.CodeInvalidArgument))
		for _, p := range c.path {
			require.Contains(t, ps, p, c.req)
		}
		require.Len(t, ps, len(c.path), ps)
	}
	got, err := b.settings.GetSecuritySettings(ctx, connect.NewRequest(&flowhookv1.GetSecuritySettingsRequest{}))
	require.NoError(t, err)
	require.Zero(t, got.Msg.GetSettings().GetRevision(), "nothing was saved")

	saved, err := b.settings.UpdateSecuritySettings(ctx, connect.NewRequest(&flowhookv1.UpdateSecuritySettingsRequest{
		FormDataRetentionDays: engine.MaxDataRetentionDays, DocumentRetentionDays: 1}))
	require.NoError(t, err)
	require.EqualValues(t, engine.MaxDataRetentionDays, saved.Msg.GetSettings().GetFormDataRetentionDays())
	require.EqualValues(t, 1, saved.Msg.GetSettings().GetDocumentRetentionDays())
	// 0 again: kept for ever.
	saved, err = b.settings.UpdateSecuritySettings(ctx, connect.NewRequest(&flowhookv1.UpdateSecuritySettingsRequest{
		ExpectedRevision: saved.Msg.GetSettings().GetRevision()}))
	require.NoError(t, err)
	require.Zero(t, saved.Msg.GetSettings().GetFormDataRetentionDays())
	require.Zero(t, saved.Msg.GetSettings().GetDocumentRetentionDays())
}
