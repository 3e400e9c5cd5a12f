package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/durationpb"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/provider/onespan/onespanfake"
	"github.com/flowhook/flowhook/server/internal/store"
)

// The OneSpan flows end to end, mirroring the DocuSign ones: a real server on each database, a
// fake OneSpan that creates packages and posts its callbacks ("Authorization: Basic {key}",
// never retried) back to it, and hand-made callbacks for what the fake does not send. Every
// handled callback is stored PENDING and its job reads the package back before anything moves,
// so outcomes are awaited with require.Eventually (never with sleeps).

// osfEvent is a OneSpan callback body as OneSpan posts it, createdDate to the millisecond.
func osfEvent(t *testing.T, name, packageID, sessionUser string, at time.Time) []byte {
	t.Helper()
	body, err := json.Marshal(onespanfake.Event{Class: "com.silanis.esl.packages.event.ESLProcessEvent", Name: name,
		SessionUser: sessionUser, PackageID: packageID, CreatedDate: at.UTC().Format("2006-01-02T15:04:05.000Z")})
	require.NoError(t, err)
	return body
}

// osfAnswer is the server's answer to one callback.
type osfAnswer struct {
	status int
	body   string
}

// osfTryPost posts a callback with the Authorization header given ("" for none); it calls no
// require, for polling conditions.
func osfTryPost(b oneSpanBundle, body []byte, authorization string) (osfAnswer, error) {
	req, err := http.NewRequest(http.MethodPost, b.baseURL+"/webhooks/OneSpan", bytes.NewReader(body))
	if err != nil {
		return osfAnswer{}, err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	res, err := b.httpClient.Do(req)
	if err != nil {
		return osfAnswer{}, err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	return osfAnswer{status: res.StatusCode, body: strings.TrimSpace(string(out))}, err
}

func osfPost(t *testing.T, b oneSpanBundle, body []byte, authorization string) osfAnswer {
	t.Helper()
	a, err := osfTryPost(b, body, authorization)
	require.NoError(t, err)
	return a
}

// osfInstance reads an instance.
func osfInstance(t *testing.T, b oneSpanBundle, id string) *flowhookv1.Instance {
	t.Helper()
	got, err := b.instances.GetInstance(context.Background(), connect.NewRequest(&flowhookv1.GetInstanceRequest{InstanceId: id}))
	require.NoError(t, err)
	return got.Msg.GetInstance()
}

// osfDeliveries returns the fake's callback posts of an event for a package.
func osfDeliveries(f *onespanfake.Fake, packageID, event string) []onespanfake.Delivery {
	var out []onespanfake.Delivery
	for _, d := range f.Deliveries() {
		if d.PackageID == packageID && d.Event == event {
			out = append(out, d)
		}
	}
	return out
}

// osfRequireAllDelivered asserts flowhook answered every callback the fake posted with 2xx.
func osfRequireAllDelivered(t *testing.T, f *onespanfake.Fake) {
	t.Helper()
	ds := f.Deliveries()
	require.NotEmpty(t, ds)
	for i, d := range ds {
		require.True(t, d.OK(), "delivery %d (%s of %s): %d %s", i, d.Event, d.PackageID, d.StatusCode, d.Err)
	}
	require.Empty(t, f.FailedDeliveries())
}

// osfSettled waits until a package's events of a type are all processed (none PENDING), and
// returns their verdicts.
func osfSettled(t *testing.T, b oneSpanBundle, packageID, eventType string, n int) []string {
	t.Helper()
	var v []string
	require.Eventually(t, func() bool {
		v = flowsVerdicts(b.testBundle, packageID, eventType)
		return len(v) == n && !slices.Contains(v, "PENDING")
	}, flowsRetryWait, flowsTick, "the %s events of %s were never all processed", eventType, packageID)
	return v
}

// osfRequireMovedOnce asserts an instance left "sign" for state once, on outcome, with one
// outcome activity reporting event.
func osfRequireMovedOnce(t *testing.T, b oneSpanBundle, id, state string, waitingRevision int64, outcome flowhookv1.Outcome, event string) *flowhookv1.Instance {
	t.Helper()
	in := b.settled(t, id, state)
	require.Equal(t, waitingRevision+1, in.GetRevision(), "one transition, one revision")
	require.Equal(t, "RESOLVED", in.GetWorkItem().GetStatus())
	require.Equal(t, outcome, in.GetWorkItem().GetOutcome())
	acts := flowsActivity(t, b.starter, id)
	require.Equal(t, 1, flowsTransitionsFrom(acts, "sign"), flowsTimeline(acts))
	require.Len(t, flowsFind(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_OUTCOME, ""), 1, flowsTimeline(acts))
	want := "ONESPAN reported " + event + ": outcome " + strings.TrimPrefix(outcome.String(), "OUTCOME_")
	require.Len(t, flowsFind(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_OUTCOME, want), 1, flowsTimeline(acts))
	return in
}

// osfDebug turns the Webhook Receiver debug option on.
func osfDebug(t *testing.T, b oneSpanBundle) {
	t.Helper()
	ctx := context.Background()
	cur, err := b.settings.GetSecuritySettings(ctx, connect.NewRequest(&flowhookv1.GetSecuritySettingsRequest{}))
	require.NoError(t, err)
	_, err = b.settings.UpdateSecuritySettings(ctx, connect.NewRequest(&flowhookv1.UpdateSecuritySettingsRequest{
		WebhookReceiverDebug: true, ExpectedRevision: cur.Msg.GetSettings().GetRevision()}))
	require.NoError(t, err)
}

// osfRollKey saves a new callback key at flowhook only (OneSpan is not told), the previous one
// accepted for grace (nil: the default).
func osfRollKey(t *testing.T, b oneSpanBundle, key string, grace *durationpb.Duration) *flowhookv1.OneSpanSettings {
	t.Helper()
	ctx := context.Background()
	cur, err := b.settings.GetOneSpanSettings(ctx, connect.NewRequest(&flowhookv1.GetOneSpanSettingsRequest{}))
	require.NoError(t, err)
	saved, err := b.settings.UpdateOneSpanSettings(ctx, connect.NewRequest(&flowhookv1.UpdateOneSpanSettingsRequest{
		BaseUrl: cur.Msg.GetSettings().GetBaseUrl(), CallbackKey: &key, CallbackKeyGrace: grace,
		ExpectedRevision: cur.Msg.GetSettings().GetRevision()}))
	require.NoError(t, err)
	return saved.Msg.GetSettings()
}

// osfAwaitKey waits until flowhook accepts a callback key (it reads its keys again within 2 s).
func osfAwaitKey(t *testing.T, b oneSpanBundle, key string) {
	t.Helper()
	// PACKAGE_ACTIVATE is answered and, with the debug option off, not kept: a harmless probe.
	probe := osfEvent(t, "PACKAGE_ACTIVATE", "probe-package-id-for-keys=", "probe", time.Now())
	require.Eventually(t, func() bool {
		a, err := osfTryPost(b, probe, "Basic "+key)
		return err == nil && a.status == http.StatusOK
	}, 10*time.Second, flowsTick, "the callback key was never accepted")
}

// osfEntries waits until an event's Event Log holds a VERDICT whose message starts with
// verdict, and returns its entries.
func osfEntries(t *testing.T, b oneSpanBundle, eventID, verdict string) *flowhookv1.GetEventResponse {
	t.Helper()
	var got *flowhookv1.GetEventResponse
	require.Eventually(t, func() bool {
		res, err := b.eventLog.GetEvent(context.Background(), connect.NewRequest(&flowhookv1.GetEventRequest{Id: eventID}))
		if err != nil {
			return false
		}
		got = res.Msg
		for _, e := range got.GetEntries() {
			if e.GetStep() == stVerdict && strings.HasPrefix(e.GetMessage(), verdict) {
				return true
			}
		}
		return false
	}, flowsRetryWait, flowsTick, "no %s verdict in the Event Log of %s", verdict, eventID)
	return got
}

// TestOneSpanHandledEventsRoute: each handled callback takes the instance where its outcome
// leads — opt-out to "rejected", delete (either spelling) and archive to "withdrawn" — once the
// package read back from OneSpan agrees; an archive after completion changes nothing.
func TestOneSpanHandledEventsRoute(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setupOneSpan(t, d)

		t.Run("PACKAGE_OPT_OUT is DENIED", func(t *testing.T) {
			id, pkg := b.toSignature(t)
			rev := osfInstance(t, b, id).GetRevision()
			const reason = "prefers to sign on paper"
			require.NoError(t, b.fake.OptOut(pkg, reason))
			posts := osfDeliveries(b.fake, pkg, "PACKAGE_OPT_OUT")
			require.Len(t, posts, 1)
			require.Equal(t, http.StatusOK, posts[0].StatusCode, posts[0].Err)

			osfRequireMovedOnce(t, b, id, "rejected", rev, flowhookv1.Outcome_OUTCOME_DENIED, "PACKAGE_OPT_OUT")
			require.Equal(t, []string{"APPLIED"}, osfSettled(t, b, pkg, "PACKAGE_OPT_OUT", 1))
			// The callback carries no message: the reason was read back from the package.
			acts := flowsActivity(t, b.starter, id)
			require.Len(t, flowsFind(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_OUTCOME, "("+reason+")"), 1, flowsTimeline(acts))
		})

		t.Run("PACKAGE_DELETE is DELETED", func(t *testing.T) {
			id, pkg := b.toSignature(t)
			rev := osfInstance(t, b, id).GetRevision()
			require.NoError(t, b.fake.Delete(pkg))
			st, known := b.fake.State(pkg)
			require.True(t, known)
			require.True(t, st.Deleted, "GET answers 404 now")
			osfRequireMovedOnce(t, b, id, "withdrawn", rev, flowhookv1.Outcome_OUTCOME_DELETED, "PACKAGE_DELETE")
			require.Equal(t, []string{"APPLIED"}, osfSettled(t, b, pkg, "PACKAGE_DELETE", 1))
		})

		t.Run("PACKAGE_DELETED, the other spelling, is DELETED too", func(t *testing.T) {
			id, pkg := b.toSignature(t)
			rev := osfInstance(t, b, id).GetRevision()
			// The package is deleted at OneSpan; its PACKAGE_DELETE is held back, and a
			// PACKAGE_DELETED (the spelling some accounts send) arrives instead.
			b.fake.HoldDeliveries(true)
			defer b.fake.HoldDeliveries(false)
			require.NoError(t, b.fake.Delete(pkg))
			require.Equal(t, []string{"PACKAGE_DELETE"}, b.fake.Held())
			a := osfPost(t, b, osfEvent(t, "PACKAGE_DELETED", pkg, b.fake.SenderID(), time.Now()), "Basic "+b.callbackKey)
			require.Equal(t, http.StatusOK, a.status, a.body)
			require.Equal(t, `{"status":"accepted"}`, a.body)

			in := osfRequireMovedOnce(t, b, id, "withdrawn", rev, flowhookv1.Outcome_OUTCOME_DELETED, "PACKAGE_DELETED")
			require.Equal(t, []string{"APPLIED"}, osfSettled(t, b, pkg, "PACKAGE_DELETED", 1))

			// OneSpan's own PACKAGE_DELETE comes later: the same outcome, a DUPLICATE.
			b.fake.HoldDeliveries(false)
			require.NoError(t, b.fake.Flush())
			require.Empty(t, b.fake.Held())
			osfRequireAllDelivered(t, b.fake)
			require.Equal(t, []string{"DUPLICATE"}, osfSettled(t, b, pkg, "PACKAGE_DELETE", 1))
			again := osfInstance(t, b, id)
			require.Equal(t, "withdrawn", again.GetStateKey())
			require.Equal(t, in.GetRevision(), again.GetRevision())
		})

		t.Run("PACKAGE_ARCHIVE while waiting is DELETED", func(t *testing.T) {
			id, pkg := b.toSignature(t)
			rev := osfInstance(t, b, id).GetRevision()
			require.NoError(t, b.fake.Archive(pkg))
			st, _ := b.fake.State(pkg)
			require.Equal(t, "ARCHIVED", st.Status)
			osfRequireMovedOnce(t, b, id, "withdrawn", rev, flowhookv1.Outcome_OUTCOME_DELETED, "PACKAGE_ARCHIVE")
			require.Equal(t, []string{"APPLIED"}, osfSettled(t, b, pkg, "PACKAGE_ARCHIVE", 1))
		})

		t.Run("PACKAGE_ARCHIVE after completion changes nothing", func(t *testing.T) {
			id, pkg := b.toSignature(t)
			rev := osfInstance(t, b, id).GetRevision()
			require.NoError(t, b.fake.Complete(pkg))
			done := osfRequireMovedOnce(t, b, id, "done", rev, flowhookv1.Outcome_OUTCOME_FINISHED, "PACKAGE_COMPLETE")
			require.Equal(t, []string{"APPLIED"}, osfSettled(t, b, pkg, "PACKAGE_COMPLETE", 1))
			acts := flowsActivity(t, b.starter, id)

			// OneSpan archives finished packages: terminal outcomes never regress.
			require.NoError(t, b.fake.Archive(pkg))
			v := osfSettled(t, b, pkg, "PACKAGE_ARCHIVE", 1)
			require.Contains(t, []string{"STALE", "DUPLICATE"}, v[0])
			evs := b.events(t, &flowhookv1.EventFilter{ExternalId: pkg, EventType: "PACKAGE_ARCHIVE"})
			require.Len(t, evs, 1)
			require.Contains(t, evs[0].GetVerdictReason(), "FINISHED")
			after := osfInstance(t, b, id)
			require.Equal(t, "done", after.GetStateKey())
			require.Equal(t, done.GetRevision(), after.GetRevision())
			require.Equal(t, flowhookv1.Outcome_OUTCOME_FINISHED, after.GetWorkItem().GetOutcome())
			require.Len(t, flowsActivity(t, b.starter, id), len(acts), "nothing added to the timeline")
		})

		osfRequireAllDelivered(t, b.fake)
	})
}

// TestOneSpanDuplicateDeliveries: every callback posted three times (same bytes) moves the
// instance once; the redeliveries are answered "duplicate" and noted as such.
func TestOneSpanDuplicateDeliveries(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		const n = 3
		b := setupOneSpan(t, d)
		osfDebug(t, b)
		id, pkg := b.toSignature(t)
		rev := osfInstance(t, b, id).GetRevision()
		b.fake.SetDuplicates(n)
		require.NoError(t, b.fake.Complete(pkg))

		posts := osfDeliveries(b.fake, pkg, "PACKAGE_COMPLETE")
		require.Len(t, posts, n)
		for _, p := range posts {
			require.Equal(t, posts[0].Body, p.Body, "the same bytes each time")
		}
		require.Len(t, osfDeliveries(b.fake, pkg, "SIGNER_COMPLETE"), n)
		osfRequireAllDelivered(t, b.fake)

		osfRequireMovedOnce(t, b, id, "done", rev, flowhookv1.Outcome_OUTCOME_FINISHED, "PACKAGE_COMPLETE")
		require.Equal(t, []string{"APPLIED"}, osfSettled(t, b, pkg, "PACKAGE_COMPLETE", 1), "stored once")
		require.Equal(t, []string{"IGNORED"}, flowsVerdicts(b.testBundle, pkg, "SIGNER_COMPLETE"), "kept once (debug option on)")
		require.Equal(t, []string{"IGNORED"}, flowsVerdicts(b.testBundle, pkg, "DOCUMENT_SIGNED"))

		// Each redelivery left its steps on the event it repeats, ending DEDUPLICATED.
		evs := b.events(t, &flowhookv1.EventFilter{ExternalId: pkg, EventType: "PACKAGE_COMPLETE"})
		require.Len(t, evs, 1)
		countDeduplicated := func(entries []*flowhookv1.EventLogEntry) int {
			k := 0
			for _, e := range entries {
				if e.GetStep() == stDeduplicated {
					k++
					require.Contains(t, e.GetMessage(), "a redelivery of event "+evs[0].GetId())
				}
			}
			return k
		}
		got := osfEntries(t, b, evs[0].GetId(), "APPLIED")
		require.Equal(t, n-1, countDeduplicated(got.GetEntries()), elStory(got.GetEntries()))

		// One more post of the same bytes is answered "duplicate" and moves nothing.
		a := osfPost(t, b, posts[0].Body, "Basic "+b.callbackKey)
		require.Equal(t, http.StatusOK, a.status, a.body)
		require.Equal(t, `{"status":"duplicate"}`, a.body)
		got = osfEntries(t, b, evs[0].GetId(), "APPLIED")
		require.Equal(t, n, countDeduplicated(got.GetEntries()), elStory(got.GetEntries()))
		osfRequireMovedOnce(t, b, id, "done", rev, flowhookv1.Outcome_OUTCOME_FINISHED, "PACKAGE_COMPLETE")
		require.Equal(t, []string{"APPLIED"}, flowsVerdicts(b.testBundle, pkg, "PACKAGE_COMPLETE"))
	})
}

// TestOneSpanOutOfOrder: OneSpan does not keep order. A package completed then archived, its
// callbacks delivered last first (PACKAGE_ARCHIVE before PACKAGE_COMPLETE), ends signed: the
// archive of a completed package is not a withdrawal, and nothing is applied twice.
func TestOneSpanOutOfOrder(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setupOneSpan(t, d)
		id, pkg := b.toSignature(t)
		rev := osfInstance(t, b, id).GetRevision()
		before := len(b.fake.Deliveries())

		b.fake.HoldDeliveries(true)
		require.NoError(t, b.fake.Complete(pkg))
		require.NoError(t, b.fake.Archive(pkg))
		// The debug option is off: the callback is registered for the outcomes alone.
		require.Equal(t, []string{"PACKAGE_COMPLETE", "PACKAGE_ARCHIVE"}, b.fake.Held())
		b.fake.HoldDeliveries(false)
		require.NoError(t, b.fake.FlushReverse())
		require.Empty(t, b.fake.Held())

		var order []string
		for _, dl := range b.fake.Deliveries()[before:] {
			order = append(order, dl.Event)
		}
		require.Equal(t, []string{"PACKAGE_ARCHIVE", "PACKAGE_COMPLETE"}, order)
		osfRequireAllDelivered(t, b.fake)

		osfRequireMovedOnce(t, b, id, "done", rev, flowhookv1.Outcome_OUTCOME_FINISHED, "PACKAGE_COMPLETE")
		require.Equal(t, []string{"APPLIED"}, osfSettled(t, b, pkg, "PACKAGE_COMPLETE", 1))
		// Read back, the archived package was completed: the archive is not confirmed as a
		// withdrawal (IGNORED) or, processed after the completion, is late (STALE).
		archive := osfSettled(t, b, pkg, "PACKAGE_ARCHIVE", 1)
		require.Contains(t, []string{"IGNORED", "STALE"}, archive[0])
		in := osfInstance(t, b, id)
		require.Equal(t, "done", in.GetStateKey())
		require.Equal(t, rev+1, in.GetRevision())
		require.Equal(t, flowhookv1.Outcome_OUTCOME_FINISHED, in.GetWorkItem().GetOutcome())
		acts := flowsActivity(t, b.starter, id)
		require.Empty(t, flowsFind(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_OUTCOME, "PACKAGE_ARCHIVE"), flowsTimeline(acts))
		require.Empty(t, flowsFind(acts, flowhookv1.ActivityKind_ACTIVITY_KIND_OUTCOME, "DELETED"), flowsTimeline(acts))
	})
}

// TestOneSpanDeclinedThenArchived: the signer declines, then the sender archives the package
// (OneSpan archives finished packages), and both callbacks reach flowhook, in order, after
// both happened (OneSpan was slow, or flowhook's job was). The decline is authentic and came
// first: the instance must end "rejected" (DENIED), and the archive must not regress it.
//
// It fails today: the job reads the package back as ARCHIVED, which Status maps to DELETED, so
// the PACKAGE_DECLINE is IGNORED ("disagrees") and the PACKAGE_ARCHIVE is then APPLIED: the
// instance ends "withdrawn". PostgreSQL only: nothing here depends on the database.
func TestOneSpanDeclinedThenArchived(t *testing.T) {
	t.Parallel()
	b := setupOneSpan(t, store.Postgres)
	id, pkg := b.toSignature(t)
	rev := osfInstance(t, b, id).GetRevision()

	b.fake.HoldDeliveries(true)
	require.NoError(t, b.fake.Decline(pkg, "wrong amount"))
	require.NoError(t, b.fake.Archive(pkg))
	require.Equal(t, []string{"PACKAGE_DECLINE", "PACKAGE_ARCHIVE"}, b.fake.Held())
	b.fake.HoldDeliveries(false)
	require.NoError(t, b.fake.Flush()) // in the order they happened
	osfRequireAllDelivered(t, b.fake)

	decline := osfSettled(t, b, pkg, "PACKAGE_DECLINE", 1)
	archive := osfSettled(t, b, pkg, "PACKAGE_ARCHIVE", 1)
	in := osfInstance(t, b, id)
	evs := b.events(t, &flowhookv1.EventFilter{ExternalId: pkg})
	var story strings.Builder
	for _, e := range evs {
		story.WriteString(e.GetEventType() + " " + e.GetVerdict().String() + ": " + e.GetVerdictReason() + "\n")
	}
	require.Equal(t, "rejected", in.GetStateKey(), "a declined package that was archived afterwards was withdrawn instead:\n%s", story.String())
	require.Equal(t, []string{"APPLIED"}, decline, story.String())
	require.Contains(t, []string{"STALE", "DUPLICATE"}, archive[0], story.String())
	osfRequireMovedOnce(t, b, id, "rejected", rev, flowhookv1.Outcome_OUTCOME_DENIED, "PACKAGE_DECLINE")
}

// TestOneSpanFailedDeliveryReplayed: the callback key was changed at OneSpan but not in
// flowhook, so flowhook refuses OneSpan's callbacks (401) and OneSpan, which never retries,
// mails the failures. Once flowhook has the key, replaying the failed PACKAGE_COMPLETE moves
// the instance on, once, however often it is replayed.
func TestOneSpanFailedDeliveryReplayed(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setupOneSpan(t, d)
		ctx := context.Background()
		id, pkg := b.toSignature(t)
		rev := osfInstance(t, b, id).GetRevision()

		// An administrator registers another key at OneSpan (POST /api/callback), and forgets
		// flowhook.
		const atOneSpan = "onespan-key-set-at-onespan-only-5e1d"
		cur, err := b.settings.GetOneSpanSettings(ctx, connect.NewRequest(&flowhookv1.GetOneSpanSettingsRequest{}))
		require.NoError(t, err)
		cb, ok := b.fake.RegisteredCallback()
		require.True(t, ok)
		reg, err := json.Marshal(onespanfake.Callback{URL: cb.URL, Key: atOneSpan, Events: cb.Events})
		require.NoError(t, err)
		req, err := http.NewRequest(http.MethodPost, cur.Msg.GetSettings().GetBaseUrl()+"/api/callback", bytes.NewReader(reg))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Basic "+b.fake.APIKey())
		res, err := b.httpClient.Do(req)
		require.NoError(t, err)
		require.NoError(t, res.Body.Close())
		require.Equal(t, http.StatusOK, res.StatusCode)

		require.NoError(t, b.fake.Complete(pkg))
		failed := b.fake.FailedDeliveries()
		var names []string
		at := -1
		for i, f := range failed {
			names = append(names, f.Event)
			require.Equal(t, http.StatusUnauthorized, f.StatusCode, f.Err)
			require.Equal(t, "Basic "+atOneSpan, f.Header.Get("Authorization"))
			if f.Event == "PACKAGE_COMPLETE" {
				at = i
			}
		}
		require.Equal(t, []string{"PACKAGE_COMPLETE"}, names, "registered for the outcomes alone (the debug option is off)")
		require.Empty(t, flowsVerdicts(b.testBundle, pkg, "PACKAGE_COMPLETE"), "refused before anything was stored")
		require.Equal(t, "sign", osfInstance(t, b, id).GetStateKey())

		// Replayed before flowhook has the key: refused again, and no new failure email.
		again, err := b.fake.Replay(at)
		require.NoError(t, err)
		require.True(t, again.Replay)
		require.Equal(t, http.StatusUnauthorized, again.StatusCode)
		require.Len(t, b.fake.FailedDeliveries(), len(failed))

		// flowhook gets the key OneSpan sends; the failure email's payload is replayed.
		osfRollKey(t, b, atOneSpan, nil)
		osfAwaitKey(t, b, atOneSpan)
		replayed, err := b.fake.Replay(at)
		require.NoError(t, err)
		require.True(t, replayed.Replay)
		require.Equal(t, "PACKAGE_COMPLETE", replayed.Event)
		require.Equal(t, failed[at].Body, replayed.Body, "the payload as first posted")
		require.Equal(t, http.StatusOK, replayed.StatusCode, replayed.Err)

		osfRequireMovedOnce(t, b, id, "done", rev, flowhookv1.Outcome_OUTCOME_FINISHED, "PACKAGE_COMPLETE")
		require.Equal(t, []string{"APPLIED"}, osfSettled(t, b, pkg, "PACKAGE_COMPLETE", 1))

		// Replayed once more (the email forwarded twice): stored once, applied once.
		twice, err := b.fake.Replay(at)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, twice.StatusCode, twice.Err)
		a := osfPost(t, b, failed[at].Body, "Basic "+atOneSpan)
		require.Equal(t, `{"status":"duplicate"}`, a.body)
		require.Equal(t, []string{"APPLIED"}, flowsVerdicts(b.testBundle, pkg, "PACKAGE_COMPLETE"))
		osfRequireMovedOnce(t, b, id, "done", rev, flowhookv1.Outcome_OUTCOME_FINISHED, "PACKAGE_COMPLETE")
		require.Len(t, b.fake.FailedDeliveries(), len(failed), "successful replays send no email")
	})
}

// TestOneSpanReplayWhenReadBackFails: a callback replayed while OneSpan refuses flowhook's API
// key cannot be confirmed: ReplayEvent answers FailedPrecondition with OneSpan's own words (not
// a bare internal error), and the event and the instance are unchanged. Once the key is right
// again, a replay (or the callback's job, whichever comes first) moves the instance, once.
func TestOneSpanReplayWhenReadBackFails(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setupOneSpan(t, d)
		ctx := context.Background()
		id, pkg := b.toSignature(t)
		rev := osfInstance(t, b, id).GetRevision()
		key := b.fake.APIKey()
		b.fake.SetAPIKey("a-key-flowhook-does-not-have-7c2f")
		require.NoError(t, b.fake.Complete(pkg))
		ev := elAwait(t, b.clients, &flowhookv1.EventFilter{ExternalId: pkg, EventType: "PACKAGE_COMPLETE"}, flowhookv1.Verdict_VERDICT_PENDING, flowsWait)

		_, err := b.eventLog.ReplayEvent(ctx, connect.NewRequest(&flowhookv1.ReplayEventRequest{Id: ev.GetId()}))
		cerr := requireCode(t, err, connect.CodeFailedPrecondition)
		require.Contains(t, cerr.Message(), "ONESPAN "+pkg+" could not be read back to confirm the notification: ONESPAN: HTTP 401")
		require.True(t, strings.HasSuffix(cerr.Message(), "; the event is unchanged"), cerr.Message())
		require.Equal(t, []string{"PENDING"}, flowsVerdicts(b.testBundle, pkg, "PACKAGE_COMPLETE"))
		in := osfInstance(t, b, id)
		require.Equal(t, "sign", in.GetStateKey())
		require.Equal(t, rev, in.GetRevision())

		b.fake.SetAPIKey(key)
		res, err := b.eventLog.ReplayEvent(ctx, connect.NewRequest(&flowhookv1.ReplayEventRequest{Id: ev.GetId()}))
		require.NoError(t, err)
		require.Equal(t, flowhookv1.Verdict_VERDICT_APPLIED, res.Msg.GetEvent().GetVerdict())
		osfRequireMovedOnce(t, b, id, "done", rev, flowhookv1.Outcome_OUTCOME_FINISHED, "PACKAGE_COMPLETE")
		require.Equal(t, []string{"APPLIED"}, flowsVerdicts(b.testBundle, pkg, "PACKAGE_COMPLETE"))
	})
}

// TestOneSpanCallbackKeyAfterGrace: a key rolled with a grace of 1 ns is refused as soon as
// flowhook reads its keys again; the refusal, with the debug option on, is kept as REJECTED
// without the key.
func TestOneSpanCallbackKeyAfterGrace(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setupOneSpan(t, d)
		ctx := context.Background()
		old := b.callbackKey
		const next = "onespan-callback-key-after-grace-77"

		// Until the server reads its keys again (within 2 s) the new key is refused; from then
		// on it is the only one accepted.
		saved := osfRollKey(t, b, next, durationpb.New(time.Nanosecond))
		require.True(t, saved.GetCallbackKeySet())
		require.Nil(t, saved.GetPreviousCallbackKeyValidUntil(), "the previous key's grace is over already")
		osfAwaitKey(t, b, next)
		// Debug on only now, so that the refused probes above were not kept.
		osfDebug(t, b)

		body := osfEvent(t, "PACKAGE_COMPLETE", "LWsUTvGgE4WpOvaQPT16idnxNj8=", "u1", time.Now())
		a := osfPost(t, b, body, "Basic "+old)
		require.Equal(t, http.StatusUnauthorized, a.status, a.body)
		require.NotContains(t, a.body, old)
		require.Empty(t, b.events(t, &flowhookv1.EventFilter{ExternalId: "LWsUTvGgE4WpOvaQPT16idnxNj8="}), "refused before parsing")

		rejected := b.events(t, &flowhookv1.EventFilter{Provider: flowhookv1.Provider_PROVIDER_ONESPAN, Verdict: flowhookv1.Verdict_VERDICT_REJECTED})
		require.Len(t, rejected, 1)
		require.Contains(t, rejected[0].GetVerdictReason(), "key mismatch (1 key(s) accepted now)")
		got, err := b.eventLog.GetEvent(ctx, connect.NewRequest(&flowhookv1.GetEventRequest{Id: rejected[0].GetId()}))
		require.NoError(t, err)
		require.Equal(t, body, got.Msg.GetBody())
		elRequireSteps(t, got.Msg.GetEntries(), stReceived, stRejected)
		for k, v := range got.Msg.GetHeaders() {
			require.NotEqual(t, "authorization", strings.ToLower(k))
			require.NotContains(t, v, old)
		}
		text := got.Msg.String()
		for _, key := range []string{old, next} {
			require.NotContains(t, text, key)
		}

		// The new key is accepted (a handled event: stored PENDING for its job).
		a = osfPost(t, b, body, "Basic "+next)
		require.Equal(t, http.StatusOK, a.status, a.body)
		require.Equal(t, `{"status":"accepted"}`, a.body)
	})
}

// TestOneSpanDebugTrail: with the Webhook Receiver debug option on, a completed package's
// PACKAGE_COMPLETE tells its whole story: received, authenticated by the key, parsed, stored
// PENDING because nothing signs it; then the job matched it, read the package back, confirmed
// the outcome and took the transition.
func TestOneSpanDebugTrail(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		b := setupOneSpan(t, d)
		osfDebug(t, b)
		id, pkg := b.toSignature(t)
		rev := osfInstance(t, b, id).GetRevision()
		require.NoError(t, b.fake.Complete(pkg))
		osfRequireAllDelivered(t, b.fake)
		in := osfRequireMovedOnce(t, b, id, "done", rev, flowhookv1.Outcome_OUTCOME_FINISHED, "PACKAGE_COMPLETE")

		evs := b.events(t, &flowhookv1.EventFilter{ExternalId: pkg, EventType: "PACKAGE_COMPLETE"})
		require.Len(t, evs, 1)
		got := osfEntries(t, b, evs[0].GetId(), "APPLIED")
		entries := got.GetEntries()
		elRequireSteps(t, entries,
			stReceived, stAuthenticated, stParsed, stBuffered, stVerdict, // the delivery
			stMatched, stOutcome, stOutcome, stTransition, stVerdict) // the job
		elRequireDelivery(t, entries[:5], "")
		elRequireDelivery(t, entries[5:], "")
		require.Less(t, entries[4].GetId(), entries[5].GetId(), elStory(entries))
		require.False(t, entries[5].GetAt().AsTime().Before(entries[4].GetAt().AsTime()), "the job ran after the delivery was stored")
		story := elStory(entries)
		require.Contains(t, entries[1].GetMessage(), "callback key matches", story)
		require.Contains(t, entries[2].GetMessage(), "PACKAGE_COMPLETE for package "+pkg, story)
		require.Contains(t, entries[3].GetMessage(), "not signed", story)
		require.Contains(t, entries[3].GetMessage(), "reads the "+pkg+" back", story)
		require.True(t, strings.HasPrefix(entries[4].GetMessage(), "stored PENDING"), story)
		require.Contains(t, entries[5].GetMessage(), id, story)
		require.Contains(t, entries[6].GetMessage(), "PACKAGE_COMPLETE maps to the outcome FINISHED", story)
		require.Contains(t, entries[7].GetMessage(), "confirms", story)
		require.Contains(t, entries[7].GetMessage(), `"COMPLETED"`, story)
		require.Contains(t, entries[8].GetMessage(), `took "signed" from "sign" to "done"`, story)
		require.True(t, strings.HasPrefix(entries[9].GetMessage(), "APPLIED"), story)

		ev := got.GetEvent()
		require.Equal(t, flowhookv1.Verdict_VERDICT_APPLIED, ev.GetVerdict())
		require.Equal(t, id, ev.GetInstanceId())
		require.Equal(t, in.GetWorkItem().GetId(), ev.GetWorkItemId())
		require.Equal(t, flowhookv1.Provider_PROVIDER_ONESPAN, ev.GetProvider())
		posts := osfDeliveries(b.fake, pkg, "PACKAGE_COMPLETE")
		require.Len(t, posts, 1)
		require.Equal(t, posts[0].Body, got.GetBody())
		require.Equal(t, "application/json; charset=utf-8", got.GetHeaders()["Content-Type"])
		for k := range got.GetHeaders() {
			require.NotEqual(t, "authorization", strings.ToLower(k))
		}
		require.NotContains(t, got.String(), b.callbackKey)
	})
}
