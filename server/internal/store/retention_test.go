package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/ent"
	"github.com/flowhook/flowhook/ent/activity"
	"github.com/flowhook/flowhook/ent/workitem"
	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/eventlog"
	"github.com/flowhook/flowhook/server/internal/store"
)

const retentionDay = 24 * time.Hour

// finished creates an instance with a timeline of field changes and an assignment, and its
// work item's signed document when doc; then, unless status is open, ends it ago.
func (f instanceFixture) finished(t *testing.T, status engine.InstanceStatus, ago time.Duration, doc bool) engine.Instance {
	t.Helper()
	ctx := context.Background()
	inst, wi := f.waiting(t, "", "")
	_, err := f.st.CoupleWorkItem(ctx, wi.ID, "env-"+wi.ID, coupleAct("env-"+wi.ID))
	require.NoError(t, err)
	now := time.Now()
	acts := []engine.Activity{
		{Kind: engine.ActivityTransition, ActorID: f.userID, FromState: "start", ToState: "review", TransitionKey: "submit", CreatedAt: now,
			Message: "submitted for Ada Lovelace (was Ada), urgent: sent to ada lovelace",
			Changes: []engine.FieldChange{{Name: "name", Old: "Ada", New: "Ada Lovelace"}, {Name: "note", New: "urgent"}}},
		{Kind: engine.ActivityAssigned, ToState: "review", Assignee: &engine.Assignee{UserID: "u-legal"}, CreatedAt: now},
	}
	if doc {
		require.NoError(t, f.st.SaveDocument(ctx, wi.ID, "contract.pdf", "application/pdf", []byte("%PDF-1.7 "+inst.ID)))
	}
	next := inst
	next.FormData = map[string]any{"name": "Ada Lovelace", "note": "urgent"}
	next.Status, next.UpdatedAt = status, now
	if !status.Open() {
		ended := now.Add(-ago)
		next.EndedAt = &ended
	}
	out, err := f.st.UpdateInstance(ctx, next, inst.Revision, acts, engine.Effects{})
	require.NoError(t, err)
	return out
}

func erasure(cutoff time.Time, limit int, msg string) engine.Erasure {
	return engine.Erasure{Statuses: engine.RetainedStatuses, EndedBefore: cutoff, Limit: limit,
		Activity: engine.Activity{Kind: engine.ActivityErased, Message: msg, CreatedAt: time.Now()}}
}

// rawDetails reads the details column of an instance's activities as stored, by seq.
func rawDetails(t *testing.T, st *store.Store, instanceID string) map[int64]string {
	t.Helper()
	out := map[int64]string{}
	require.NoError(t, store.InTx(st, context.Background(), func(c *ent.Client) error {
		rows, err := c.Activity.Query().Where(activity.InstanceID(uuid.MustParse(instanceID))).All(context.Background())
		for _, r := range rows {
			out[r.Seq] = string(r.Details)
		}
		return err
	}))
	return out
}

// TestEraseFormDataAndDocuments: retention erases the form data, the values of the timeline's
// changes and the signed documents of COMPLETED and CANCELLED instances that ended before the
// cutoff, once, and touches nothing else: open, FAILED and recent instances, other instances'
// documents, the entries themselves, their field names, their assignees.
func TestEraseFormDataAndDocuments(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			completed := f.finished(t, engine.StatusCompleted, 40*retentionDay, true)
			cancelled := f.finished(t, engine.StatusCancelled, 35*retentionDay, false)
			failed := f.finished(t, engine.StatusFailed, 40*retentionDay, true)
			open := f.finished(t, engine.StatusWaitingExternal, 0, true)
			recent := f.finished(t, engine.StatusCompleted, 20*retentionDay, true)
			// A later kind's detail beside the changes stays as it is.
			require.NoError(t, store.InTx(f.st, ctx, func(c *ent.Client) error {
				return c.Activity.Update().Where(activity.InstanceID(uuid.MustParse(completed.ID)), activity.Seq(2)).
					SetDetails(json.RawMessage(`{"changes":[{"name":"name","old":"Ada","new":"Ada Lovelace"},{"name":"note","new":"urgent"}],"deadline":"2026-12-01T00:00:00Z"}`)).
					Exec(ctx)
			}))
			before := map[string][]engine.Activity{}
			for _, in := range []engine.Instance{completed, cancelled} {
				acts, _, err := f.st.ListActivity(ctx, in.ID, engine.Page{Size: 10})
				require.NoError(t, err)
				before[in.ID] = acts
			}
			untouched := map[string]map[int64]string{}
			for _, in := range []engine.Instance{failed, open, recent} {
				untouched[in.ID] = rawDetails(t, f.st, in.ID)
			}
			cutoff := time.Now().Add(-30 * retentionDay)

			n, err := f.st.EraseFormData(ctx, erasure(cutoff, 500, "form data erased by retention (ended more than 30 days ago)"))
			require.NoError(t, err)
			require.Equal(t, 2, n)
			for _, in := range []engine.Instance{completed, cancelled} {
				got, err := f.st.GetInstance(ctx, in.ID)
				require.NoError(t, err)
				require.Empty(t, got.FormData)
				require.NotNil(t, got.FormDataErasedAt)
				require.WithinDuration(t, time.Now(), *got.FormDataErasedAt, time.Minute)
				require.Nil(t, got.DocumentsErasedAt)
				require.Equal(t, in.Revision+1, got.Revision, "a change: a stale update from before it is refused")
				require.Equal(t, in.Status, got.Status)
				require.Equal(t, in.EndedAt.UTC().Truncate(time.Microsecond), got.EndedAt.UTC())

				acts, _, err := f.st.ListActivity(ctx, in.ID, engine.Page{Size: 10})
				require.NoError(t, err)
				require.Len(t, acts, 4, "coupling, transition, assignment, erasure")
				for i, was := range before[in.ID] {
					was.Changes, was.Message = acts[i].Changes, acts[i].Message
					require.Equal(t, was, acts[i], "the entry stays but for its changes' values and the values its message quotes")
				}
				require.Equal(t, "submitted for [erased] (was [erased]), [erased]: sent to [erased]", acts[1].Message,
					"values quoted in a message go, longest first, and in lower case too")
				require.Equal(t, before[in.ID][0].Message, acts[0].Message, "a message quoting no value stays")
				require.Equal(t, engine.ActivityTransition, acts[1].Kind)
				require.Equal(t, []engine.FieldChange{{Name: "name"}, {Name: "note"}}, acts[1].Changes, "names stay, values go")
				require.Equal(t, "submit", acts[1].TransitionKey)
				require.Equal(t, &engine.Assignee{UserID: "u-legal"}, acts[2].Assignee)
				require.Equal(t, engine.ActivityErased, acts[3].Kind)
				require.EqualValues(t, 4, acts[3].Seq)
				require.Equal(t, "form data erased by retention (ended more than 30 days ago)", acts[3].Message)
				ok, err := f.st.TookPart(ctx, in.ID, "u-legal", nil)
				require.NoError(t, err)
				require.True(t, ok, "a past assignee may still read it")
			}
			raw := rawDetails(t, f.st, completed.ID)
			require.JSONEq(t, `{"changes":[{"name":"name"},{"name":"note"}],"deadline":"2026-12-01T00:00:00Z"}`, raw[2])
			require.JSONEq(t, `{"assignee":{"userId":"u-legal"}}`, raw[3])
			for _, in := range []engine.Instance{failed, open, recent} {
				got, err := f.st.GetInstance(ctx, in.ID)
				require.NoError(t, err)
				require.Equal(t, map[string]any{"name": "Ada Lovelace", "note": "urgent"}, got.FormData, in.Status)
				require.Nil(t, got.FormDataErasedAt)
				require.Equal(t, in.Revision, got.Revision)
				require.Equal(t, untouched[in.ID], rawDetails(t, f.st, in.ID))
				acts, _, err := f.st.ListActivity(ctx, in.ID, engine.Page{Size: 10})
				require.NoError(t, err)
				require.Equal(t, "submitted for Ada Lovelace (was Ada), urgent: sent to ada lovelace", acts[1].Message, in.Status)
			}

			// Nothing is left: a second pass erases nothing and notes nothing.
			n, err = f.st.EraseFormData(ctx, erasure(cutoff, 500, "again"))
			require.NoError(t, err)
			require.Zero(t, n)

			// Documents: only the old finished instance that has one.
			n, err = f.st.EraseDocuments(ctx, erasure(cutoff, 500, "signed documents erased by retention (ended more than 30 days ago)"))
			require.NoError(t, err)
			require.Equal(t, 1, n)
			_, err = f.st.LatestSignedDocument(ctx, completed.ID)
			require.ErrorIs(t, err, engine.ErrNotFound)
			got, err := f.st.GetInstance(ctx, completed.ID)
			require.NoError(t, err)
			require.NotNil(t, got.DocumentsErasedAt)
			acts, _, err := f.st.ListActivity(ctx, completed.ID, engine.Page{Size: 10})
			require.NoError(t, err)
			require.Len(t, acts, 5)
			require.Equal(t, "signed documents erased by retention (ended more than 30 days ago)", acts[4].Message)
			got, err = f.st.GetInstance(ctx, cancelled.ID)
			require.NoError(t, err)
			require.Nil(t, got.DocumentsErasedAt, "it never had one: nothing was erased")
			for _, in := range []engine.Instance{failed, open, recent} {
				doc, err := f.st.LatestSignedDocument(ctx, in.ID)
				require.NoError(t, err, in.Status)
				require.Equal(t, "%PDF-1.7 "+in.ID, string(doc.Content), "its own document, kept")
				got, err := f.st.GetInstance(ctx, in.ID)
				require.NoError(t, err)
				require.Nil(t, got.DocumentsErasedAt)
			}
			n, err = f.st.EraseDocuments(ctx, erasure(cutoff, 500, "again"))
			require.NoError(t, err)
			require.Zero(t, n)
			acts, _, err = f.st.ListActivity(ctx, completed.ID, engine.Page{Size: 10})
			require.NoError(t, err)
			require.Len(t, acts, 5, "erased once")
		})
	}
}

// TestEraseInBatches: each call erases at most its limit, the longest ended first, until none
// is left; racing calls (two replicas) erase each instance once between them.
func TestEraseInBatches(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			var ids []string
			for i := range 5 {
				ids = append(ids, f.finished(t, engine.StatusCompleted, time.Duration(40-i)*retentionDay, false).ID)
			}
			cutoff := time.Now().Add(-30 * retentionDay)
			n, err := f.st.EraseFormData(ctx, erasure(cutoff, 2, "erased"))
			require.NoError(t, err)
			require.Equal(t, 2, n)
			for i, id := range ids {
				got, err := f.st.GetInstance(ctx, id)
				require.NoError(t, err)
				require.Equal(t, i < 2, got.FormDataErasedAt != nil, "the longest ended first (%d)", i)
			}

			// The other three, by two racing callers.
			var wg sync.WaitGroup
			counts := make([]int, 2)
			errs := make([]error, 2)
			for w := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						n, err := f.st.EraseFormData(ctx, erasure(cutoff, 1, "erased"))
						counts[w] += n
						if err != nil || n == 0 {
							errs[w] = err
							return
						}
					}
				}()
			}
			wg.Wait()
			require.NoError(t, errs[0])
			require.NoError(t, errs[1])
			require.Equal(t, 3, counts[0]+counts[1])
			for _, id := range ids {
				acts, _, err := f.st.ListActivity(ctx, id, engine.Page{Size: 10})
				require.NoError(t, err)
				erased := 0
				for _, a := range acts {
					if a.Kind == engine.ActivityErased {
						erased++
					}
				}
				require.Equal(t, 1, erased, id)
			}
		})
	}
}

// externalID is the provider's id of an instance's work item.
func externalID(t *testing.T, st *store.Store, instanceID string) string {
	t.Helper()
	var ext string
	require.NoError(t, store.InTx(st, context.Background(), func(c *ent.Client) error {
		wi, err := c.WorkItem.Query().Where(workitem.InstanceID(uuid.MustParse(instanceID))).Only(context.Background())
		if err == nil {
			ext = *wi.ExternalID
		}
		return err
	}))
	return ext
}

// TestEraseFormDataErasesItsEvents: erasing an instance's form data erases, in the same
// transaction, the bodies of its webhook events (which carry its signers' names and emails),
// their reasons and the steps that may quote a body, and marks them erased; every other
// event stays as it is. An erased event is still a duplicate of its redelivery, and one still
// PENDING is still decided.
func TestEraseFormDataErasesItsEvents(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			old := f.finished(t, engine.StatusCompleted, 40*retentionDay, false)
			recent := f.finished(t, engine.StatusCompleted, 20*retentionDay, false)
			failed := f.finished(t, engine.StatusFailed, 40*retentionDay, false)
			oldEnv, recentEnv, failedEnv := externalID(t, f.st, old.ID), externalID(t, f.st, recent.ID), externalID(t, f.st, failed.ID)
			body := []byte(`{"recipients":{"signers":[{"name":"Ada Lovelace","email":"ada@example.com"}]}}`)
			headers := map[string]string{"Content-Type": "application/json", "User-Agent": "DocuSign"}
			n := 0
			add := func(sys engine.System, ext string, v engine.Verdict, reason string) engine.StoredEvent {
				n++
				h := headers
				if n == 3 {
					h = nil // stored as JSON null
				}
				ev, created, err := f.st.InsertEvent(ctx, engine.StoredEvent{
					Event: engine.InboundEvent{System: sys, Type: "recipient-completed", ExternalID: ext, DedupeKey: fmt.Sprintf("k-%d", n)},
					Body:  body, Headers: h, RemoteAddr: "192.0.2.1", ReceivedAt: time.Now(), Verdict: v, Reason: reason, Size: int64(len(body))})
				require.NoError(t, err)
				require.True(t, created)
				return ev
			}
			decided := func(ext, instanceID string) engine.StoredEvent {
				ev := add(coupleDocuSign, ext, engine.VerdictPending, "")
				require.NoError(t, f.st.FinishEvent(ctx, engine.EventResult{EventID: ev.ID, Verdict: engine.VerdictProgress,
					Reason: "ada@example.com signed", InstanceID: instanceID}))
				return ev
			}
			applied := decided(oldEnv, old.ID)
			ignored := add(coupleDocuSign, oldEnv, engine.VerdictIgnored, "flowhook does not act on recipient-sent")
			pending := add(coupleDocuSign, oldEnv, engine.VerdictPending, "")
			kept := []engine.StoredEvent{decided(recentEnv, recent.ID), decided(failedEnv, failed.ID),
				add(coupleOneSpan, oldEnv, engine.VerdictIgnored, "another system's id"),
				add(coupleDocuSign, "", engine.VerdictUnparseable, "invalid character")}
			steps := []eventlog.Entry{
				{Step: eventlog.StepReceived, Message: "82 bytes of JSON from 192.0.2.1"},
				{Step: eventlog.StepParsed, Message: "unparseable: no signer ada@example.com"},
				{Step: eventlog.StepOutcome, Message: "recipient-completed is progress, not an outcome"},
				{Step: eventlog.StepVerdict, Message: "PROGRESS: ada@example.com signed (after 2ms)"},
				{Step: eventlog.StepReplayed, Message: "replayed by an administrator; it was PROGRESS after 1 attempt(s) (ada@example.com signed)"},
				{Step: eventlog.StepError, Message: "DocuSign refused: recipient Ada Lovelace unknown"},
			}
			for _, ev := range append([]engine.StoredEvent{applied, ignored, pending}, kept...) {
				for i := range steps {
					steps[i].ID, steps[i].At = engine.NewIDAt(time.Now()), time.Now()
				}
				require.NoError(t, f.st.AppendEventLog(ctx, ev.ID, steps))
			}
			messages := func(id string) []string {
				entries, err := f.st.EventLog(ctx, id)
				require.NoError(t, err)
				out := make([]string, len(entries))
				for i, e := range entries {
					out[i] = e.Message
				}
				return out
			}
			before := map[string]engine.StoredEvent{}
			for _, ev := range kept {
				got, err := f.st.GetEvent(ctx, ev.ID)
				require.NoError(t, err)
				before[ev.ID] = got
			}

			const why = "form data erased by retention (ended more than 30 days ago)"
			erased, err := f.st.EraseFormData(ctx, erasure(time.Now().Add(-30*retentionDay), 500, why))
			require.NoError(t, err)
			require.Equal(t, 1, erased)

			marked := map[string]string{"Content-Type": "application/json", "User-Agent": "DocuSign", engine.ErasedHeader: why}
			for _, tc := range []struct {
				ev       engine.StoredEvent
				verdict  engine.Verdict
				reason   string
				instance string
				headers  map[string]string
			}{
				{applied, engine.VerdictProgress, "[erased]", old.ID, marked},
				{ignored, engine.VerdictIgnored, "[erased]", "", marked},
				{pending, engine.VerdictPending, "", "", map[string]string{engine.ErasedHeader: why}}, // stored without headers
			} {
				got, err := f.st.GetEvent(ctx, tc.ev.ID)
				require.NoError(t, err)
				require.Empty(t, got.Body, "the body is gone")
				require.EqualValues(t, len(body), got.Size, "its size as received stays")
				require.Equal(t, tc.headers, got.Headers, "marked erased, the safe headers kept")
				require.Equal(t, tc.verdict, got.Verdict)
				require.Equal(t, tc.reason, got.Reason)
				require.Equal(t, tc.instance, got.InstanceID)
				require.Equal(t, tc.ev.Event.DedupeKey, got.Event.DedupeKey)
				require.Equal(t, tc.ev.Event.ExternalID, got.Event.ExternalID)
				require.Equal(t, []string{"82 bytes of JSON from 192.0.2.1", "[erased]", "recipient-completed is progress, not an outcome",
					"[erased]", "[erased]", "[erased]"}, messages(tc.ev.ID), "the steps that may quote the body")
			}
			for _, ev := range kept {
				got, err := f.st.GetEvent(ctx, ev.ID)
				require.NoError(t, err)
				require.Equal(t, before[ev.ID], got, "another instance's, another system's, or no instance's: kept")
				require.Equal(t, body, got.Body)
				require.Equal(t, steps[1].Message, messages(ev.ID)[1])
			}

			// A redelivery is still a duplicate.
			again, created, err := f.st.InsertEvent(ctx, engine.StoredEvent{
				Event: engine.InboundEvent{System: coupleDocuSign, Type: "recipient-completed", ExternalID: oldEnv, DedupeKey: applied.Event.DedupeKey},
				Body:  body, ReceivedAt: time.Now(), Verdict: engine.VerdictPending})
			require.NoError(t, err)
			require.False(t, created)
			require.Equal(t, applied.ID, again.ID)

			// The PENDING one is still decided (processing reads no body), and stays erased.
			require.NoError(t, f.st.FinishEvent(ctx, engine.EventResult{EventID: pending.ID, Verdict: engine.VerdictStale,
				Reason: "older than the work item's last event", InstanceID: old.ID}))
			got, err := f.st.GetEvent(ctx, pending.ID)
			require.NoError(t, err)
			require.Equal(t, engine.VerdictStale, got.Verdict)
			require.Equal(t, why, got.Headers[engine.ErasedHeader])
			require.Empty(t, got.Body)
		})
	}
}
