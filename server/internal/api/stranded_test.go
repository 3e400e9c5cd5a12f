package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/ent/webhookevent"
	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/config"
	"github.com/flowhook/flowhook/server/internal/provider/docusign/docusignfake"
	"github.com/flowhook/flowhook/server/internal/store"
)

// strandedWindow is the early-event window of these tests: an event whose envelope is not
// coupled is ORPHANED by its first job run.
const strandedWindow = time.Millisecond

// strandedCreated waits until the fake has created one envelope and returns its id.
func strandedCreated(t *testing.T, f *docusignfake.Fake) string {
	t.Helper()
	var id string
	require.Eventually(t, func() bool {
		for _, e := range f.Envelopes() {
			if e.EnvelopeID != "" {
				id = e.EnvelopeID
				return true
			}
		}
		return false
	}, flowsWait, flowsTick, "DocuSign never created the envelope")
	return id
}

// strandedOrphaned waits until the envelope has an event of the type, and every event of the
// envelope is ORPHANED.
func strandedOrphaned(t *testing.T, b *testBundle, envID, eventType string) {
	t.Helper()
	require.Eventually(t, func() bool {
		evs, err := b.app.DB().Client.WebhookEvent.Query().Where(webhookevent.ExternalID(envID)).All(context.Background())
		if err != nil {
			return false
		}
		found := false
		for _, e := range evs {
			if e.Verdict != webhookevent.VerdictORPHANED {
				return false
			}
			found = found || e.EventType == eventType
		}
		return found
	}, flowsOrphanWait, flowsTick, "the events of %s (%s among them) were never all ORPHANED", envID, eventType)
}

// strandedRequirePickedUp asserts the outcome moved the instance, once, after the envelope
// was coupled, and that the Event Log of each event ORPHANED before says it was picked up.
func strandedRequirePickedUp(t *testing.T, b *testBundle, c clients, f *docusignfake.Fake, id, envID string) {
	t.Helper()
	require.Eventually(t, func() bool {
		in := flowsGet(b.clients, id)
		return in != nil && in.GetStatus() == flowhookv1.InstanceStatus_INSTANCE_STATUS_COMPLETED
	}, flowsRetryWait, flowsTick, "the instance never moved on by itself")
	in := flowsGet(b.clients, id)
	require.Equal(t, "done", in.GetStateKey())
	require.Equal(t, envID, in.GetWorkItem().GetExternalId())
	require.Equal(t, "RESOLVED", in.GetWorkItem().GetStatus())
	require.Equal(t, flowhookv1.Outcome_OUTCOME_FINISHED, in.GetWorkItem().GetOutcome())

	// Every event of the envelope is decided; the outcome was applied once, progress that came
	// after it is stale.
	for _, typ := range []string{"envelope-sent", "recipient-completed"} {
		require.Eventually(t, func() bool {
			v := flowsVerdicts(b, envID, typ)
			return len(v) == 1 && (v[0] == "PROGRESS" || v[0] == "STALE")
		}, flowsWait, flowsTick, "%s was never decided: %v", typ, flowsVerdicts(b, envID, typ))
	}
	require.Equal(t, []string{"APPLIED"}, flowsVerdicts(b, envID, "envelope-completed"))
	acts := flowsActivity(t, c, id)
	require.Len(t, flowsFind(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_OUTCOME, ""), 1, flowsTimeline(acts))
	outcome := flowsFind(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_OUTCOME, "DOCUSIGN reported envelope-completed: outcome FINISHED")
	coupled := flowsFind(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_EXTERNAL_PROGRESS, "DOCUSIGN "+envID+" sent to ada@example.com")
	require.Len(t, outcome, 1, flowsTimeline(acts))
	require.Len(t, coupled, 1, flowsTimeline(acts))
	require.Less(t, coupled[0], outcome[0], flowsTimeline(acts))
	require.Equal(t, 1, flowsTransitionsFrom(acts, "sign"), flowsTimeline(acts))
	base := "/restapi/v2.1/accounts/" + f.AccountID() + "/envelopes"
	require.Equal(t, 1, f.CountRequests(http.MethodPost, base), "one envelope")

	evs := flowsEvents(t, b, envID)
	require.Len(t, evs, 3, "envelope-sent, recipient-completed, envelope-completed")
	for _, ev := range evs {
		require.Equal(t, in.GetWorkItem().GetId(), ev.WorkItemID)
		require.Equal(t, id, ev.InstanceID)
		require.EqualValues(t, 2, ev.Attempts, "orphaned, then decided")
		res := elGet(t, b.clients, ev.ID.String())
		var picked []string
		for _, e := range res.GetEntries() {
			if e.GetStep() == stReplayed {
				picked = append(picked, e.GetMessage())
			}
		}
		require.Len(t, picked, 1, elStory(res.GetEntries()))
		require.True(t, strings.HasPrefix(picked[0], "picked up again when work item "+in.GetWorkItem().GetId()+
			" was coupled to DOCUSIGN "+envID+"; it was ORPHANED (no work item has the DOCUSIGN id "+envID+" after 1ms)"), picked[0])
	}

	// DocuSign's redelivery of the outcome is a duplicate and moves nothing.
	ds := flowsDeliveries(f, envID, "envelope-completed")
	require.NotEmpty(t, ds)
	a := flowsPost(b.httpClient, b.baseURL, ds[0].Body)
	require.NoError(t, a.err)
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Contains(t, a.body, `"duplicate"`)
	require.Equal(t, in.GetRevision(), flowsGet(b.clients, id).GetRevision())
	acts = flowsActivity(t, c, id)
	require.Len(t, flowsFind(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_OUTCOME, ""), 1, flowsTimeline(acts))
}

// TestStrandedOutcomeAfterCrash: DocuSign created the envelope but the answer never reached
// flowhook (a replica died before the coupling committed). The envelope's events arrive, are
// acknowledged, and end ORPHANED after the early-event window; the create job's retry then
// finds the envelope and couples it, picking the events up again: the instance completes by
// itself, the outcome applied once, and the Event Log says why the events were processed again.
func TestStrandedOutcomeAfterCrash(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := flowsSetupDocuSign(t, d, func(c *config.Config) { c.OrphanWindow = strandedWindow })
		b.fake.DropNextCreateResponse()
		// The retry's lookup waits here until the events are ORPHANED.
		release := b.fake.HoldLookups()
		t.Cleanup(release)
		id := flowsApprove(t, b.people)

		envID := strandedCreated(t, b.fake)
		strandedOrphaned(t, b.testBundle, envID, "envelope-sent")
		require.NoError(t, b.fake.Complete(envID))
		strandedOrphaned(t, b.testBundle, envID, "envelope-completed")
		for _, ds := range [][]docusignfake.Delivery{flowsDeliveries(b.fake, envID, "envelope-sent"), flowsDeliveries(b.fake, envID, "envelope-completed")} {
			require.Len(t, ds, 1)
			require.Equal(t, http.StatusOK, ds[0].StatusCode, "acknowledged")
		}
		require.Eventually(t, func() bool { return b.fake.HeldLookups() == 1 }, flowsRetryWait, flowsTick,
			"the create job's retry never looked the envelope up")
		in := flowsGet(b.clients, id)
		require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_WAITING_EXTERNAL, in.GetStatus())
		require.Equal(t, "CREATING", in.GetWorkItem().GetStatus())

		release()
		strandedRequirePickedUp(t, b.testBundle, b.starter, b.fake, id, envID)
	})
}

// TestStrandedOutcomeAfterRetryInstance: DocuSign created the envelope but answered with a
// refusal, so the instance FAILED; the envelope's events were ORPHANED. An admin's
// RetryInstance runs the create job again, which finds and couples the envelope: the same
// pick-up.
func TestStrandedOutcomeAfterRetryInstance(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setupWith(t, d, nil, func(c *config.Config) { c.OrphanWindow = strandedWindow })
		p := newPeople(t, b)
		fake := retryConfigureDocuSign(t, b, answerLostAfterCreate)
		id := flowsApprove(t, p)

		failed := retryWaitFailed(t, b, id)
		require.Contains(t, failed.GetReason(), "ANSWER_LOST_IN_TEST")
		envID := strandedCreated(t, fake)
		strandedOrphaned(t, b, envID, "envelope-sent")
		require.NoError(t, fake.Complete(envID))
		strandedOrphaned(t, b, envID, "envelope-completed")
		require.Equal(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_FAILED, flowsGet(b.clients, id).GetStatus())

		_, err := retry(b.clients, id)
		require.NoError(t, err)
		strandedRequirePickedUp(t, b, p.starter, fake, id, envID)
	})
}
