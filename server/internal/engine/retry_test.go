package engine_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
)

// TestCreateFailureIsVisible: every way the creation of a work item fails for good leaves the
// instance FAILED with a readable reason, a FAILED entry in its timeline, and one WARN log
// record naming the instance, the work item, the system and the reason, and nothing else.
func TestCreateFailureIsVisible(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		configure func(b *runBundle)
		retried   bool // the attempt follows one that may have reached the provider
		last      bool // the job's last attempt
		reason    string
	}{
		{
			name:      "not configured",
			configure: func(b *runBundle) { b.providers.configure(nil) },
			reason:    "not configured",
		},
		{
			name: "refused by the provider",
			configure: func(b *runBundle) {
				b.client.createErr = fmt.Errorf("%w: HTTP 400 INVALID_REQUEST_PARAMETER", engine.ErrProviderPermanent)
			},
			reason: "HTTP 400 INVALID_REQUEST_PARAMETER",
		},
		{
			name:      "unreachable on the last attempt",
			configure: func(b *runBundle) { b.client.createErr = errors.New("dial tcp: connection refused") },
			last:      true,
			reason:    "the provider could not be reached (dial tcp: connection refused)",
		},
		{
			name:      "the lookup of a retried attempt refused",
			configure: func(b *runBundle) { b.client.findErr = fmt.Errorf("%w: HTTP 401", engine.ErrProviderPermanent) },
			retried:   true,
			reason:    "HTTP 401",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupRun(t)
			b.providers.configure(b.client)
			tc.configure(b)
			in := b.toSign(t)
			jobs := b.store.takeJobs()
			require.Len(t, jobs, 1)
			wiID := jobs[0].(engine.CreateWorkItemJob).WorkItemID
			require.NoError(t, b.creator.Create(context.Background(), wiID, tc.retried, tc.last))

			got := b.instance(t, in.ID)
			require.Equal(t, engine.StatusFailed, got.Status)
			require.Equal(t, in.Revision+1, got.Revision)
			require.NotNil(t, got.EndedAt)
			require.Contains(t, got.Reason, "creating the DOCUSIGN work item failed: ")
			require.Contains(t, got.Reason, tc.reason)
			require.Equal(t, engine.WorkItemFailed, got.WorkItem.Status)
			require.Equal(t, got.Reason, got.WorkItem.Error)

			acts := b.store.activities(in.ID)
			last := acts[len(acts)-1]
			require.Equal(t, engine.ActivityFailed, last.Kind)
			require.Equal(t, got.Reason, last.Message)
			require.Equal(t, "sign", last.FromState)

			warns := b.log.at(slog.LevelWarn)
			require.Len(t, warns, 1)
			require.Equal(t, map[string]string{"instance_id": in.ID, "work_item_id": wiID, "system": "DOCUSIGN",
				"state_key": "sign", "reason": got.Reason}, warns[0].attrs)
			require.Contains(t, warns[0].msg, "RetryInstance")
		})
	}

	t.Run("a transient failure before the last attempt is retried, not failed", func(t *testing.T) {
		t.Parallel()
		b := setupRun(t)
		b.providers.configure(b.client)
		b.client.createErr = errors.New("connection reset")
		in := b.toSign(t)
		wiID := b.store.takeJobs()[0].(engine.CreateWorkItemJob).WorkItemID
		require.ErrorContains(t, b.creator.Create(context.Background(), wiID, false, false), "connection reset")
		got := b.instance(t, in.ID)
		require.Equal(t, engine.StatusWaitingExternal, got.Status)
		require.Equal(t, engine.WorkItemCreating, got.WorkItem.Status)
		require.Empty(t, b.log.at(slog.LevelWarn))
	})
}

// TestRetryInstance: an admin retries an instance whose work item could not be created; the
// same work item is created, once.
func TestRetryInstance(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("after a failure that made nothing", func(t *testing.T) {
		t.Parallel()
		b := setupRun(t) // not configured
		in := b.toSign(t)
		first := b.work(t, false)
		require.Len(t, first, 1)
		require.False(t, first[0].Retried)
		failed := b.instance(t, in.ID)
		require.Equal(t, engine.StatusFailed, failed.Status)

		b.providers.configure(b.client)
		got, err := b.runner.Retry(ctx, admin, in.ID)
		require.NoError(t, err)
		require.Equal(t, engine.StatusWaitingExternal, got.Status)
		require.Equal(t, failed.Revision+1, got.Revision)
		require.Empty(t, got.Reason)
		require.Nil(t, got.EndedAt)
		require.Equal(t, "sign", got.StateKey)
		require.NotNil(t, got.WorkItem)
		require.Equal(t, first[0].WorkItemID, got.WorkItem.ID, "the same work item")
		require.Equal(t, engine.WorkItemCreating, got.WorkItem.Status)
		require.Equal(t, got.Revision, got.WorkItem.EnteredRevision)
		require.Empty(t, got.WorkItem.Error)

		acts := b.store.activities(in.ID)
		last := acts[len(acts)-1]
		require.Equal(t, engine.ActivityRetried, last.Kind)
		require.Equal(t, admin.UserID, last.ActorID)
		require.Equal(t, "sign", last.FromState)
		require.Contains(t, last.Message, "not configured", "the entry says what had failed")

		again := b.work(t, false)
		require.Equal(t, []engine.CreateWorkItemJob{{WorkItemID: first[0].WorkItemID, Retried: true}}, again)
		creates, finds, items := b.client.record()
		require.Equal(t, []string{first[0].WorkItemID}, finds, "it looked first")
		require.Equal(t, []string{first[0].WorkItemID}, creates, "then created, once")
		done := b.instance(t, in.ID)
		require.Equal(t, engine.StatusWaitingExternal, done.Status)
		require.Equal(t, engine.WorkItemWaiting, done.WorkItem.Status)
		require.Equal(t, items[first[0].WorkItemID], done.WorkItem.ExternalID)
		require.Equal(t, items[first[0].WorkItemID], done.ExternalID)
	})

	t.Run("after a failure that made the item", func(t *testing.T) {
		t.Parallel()
		b := setupRun(t)
		b.providers.configure(b.client)
		b.client.failAfterCreate = fmt.Errorf("%w: HTTP 400 the answer was refused", engine.ErrProviderPermanent)
		in := b.toSign(t)
		first := b.work(t, false)
		require.Equal(t, engine.StatusFailed, b.instance(t, in.ID).Status)
		_, _, items := b.client.record()
		require.Len(t, items, 1, "the provider made the item before answering an error")

		_, err := b.runner.Retry(ctx, admin, in.ID)
		require.NoError(t, err)
		b.work(t, false)
		creates, finds, items := b.client.record()
		require.Len(t, creates, 1, "the retry created nothing")
		require.Equal(t, []string{first[0].WorkItemID}, finds)
		got := b.instance(t, in.ID)
		require.Equal(t, engine.WorkItemWaiting, got.WorkItem.Status)
		require.Equal(t, items[first[0].WorkItemID], got.WorkItem.ExternalID, "coupled to the item made before")
	})

	t.Run("a retry that fails again fails the instance again, and may be retried", func(t *testing.T) {
		t.Parallel()
		b := setupRun(t)
		in := b.toSign(t)
		b.work(t, false)
		_, err := b.runner.Retry(ctx, admin, in.ID)
		require.NoError(t, err)
		b.work(t, false) // still not configured
		got := b.instance(t, in.ID)
		require.Equal(t, engine.StatusFailed, got.Status)
		require.Contains(t, got.Reason, "not configured")
		require.Len(t, b.log.at(slog.LevelWarn), 2, "each failure is logged")

		b.providers.configure(b.client)
		_, err = b.runner.Retry(ctx, admin, in.ID)
		require.NoError(t, err)
		b.work(t, false)
		require.Equal(t, engine.WorkItemWaiting, b.instance(t, in.ID).WorkItem.Status)
	})

	t.Run("refusals", func(t *testing.T) {
		t.Parallel()
		b := setupRun(t)
		failed := b.toSign(t)
		b.work(t, false)

		_, err := b.runner.Retry(ctx, starter, failed.ID)
		require.ErrorIs(t, err, engine.ErrPermissionDenied)

		_, err = b.runner.Retry(ctx, admin, "0190f5d2-6b1e-7c3a-9d4e-1f2a3b4c5d6e")
		require.ErrorIs(t, err, engine.ErrNotFound)

		active, err := b.runner.Start(ctx, starter, startInput(b.workflowID, "to_review"))
		require.NoError(t, err)
		_, err = b.runner.Retry(ctx, admin, active.ID)
		require.ErrorIs(t, err, engine.ErrFailedPrecondition)
		require.ErrorContains(t, err, `the instance is ACTIVE in "review"; only a FAILED instance can be retried`)

		completed, err := b.runner.Take(ctx, admin, engine.TakeInput{InstanceID: active.ID, TransitionKey: "finish"})
		require.NoError(t, err)
		_, err = b.runner.Retry(ctx, admin, completed.ID)
		require.ErrorContains(t, err, "the instance is COMPLETED")

		// Retried once; the second retry finds it waiting, and enqueues nothing.
		b.providers.configure(b.client)
		_, err = b.runner.Retry(ctx, admin, failed.ID)
		require.NoError(t, err)
		_, err = b.runner.Retry(ctx, admin, failed.ID)
		require.ErrorIs(t, err, engine.ErrFailedPrecondition)
		require.ErrorContains(t, err, "the instance is WAITING_EXTERNAL")
		require.Len(t, b.store.takeJobs(), 1)
	})

	t.Run("concurrent retries: one wins, the others change nothing", func(t *testing.T) {
		t.Parallel()
		b := setupRun(t)
		in := b.toSign(t)
		b.work(t, false)
		b.providers.configure(b.client)
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { _, errs[i] = b.runner.Retry(ctx, admin, in.ID) })
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			if err == nil {
				wins++
				continue
			}
			require.ErrorIs(t, err, engine.ErrFailedPrecondition)
		}
		require.Equal(t, 1, wins)
		retried := 0
		for _, a := range b.store.activities(in.ID) {
			if a.Kind == engine.ActivityRetried {
				retried++
			}
		}
		require.Equal(t, 1, retried)
		require.Len(t, b.work(t, false), 1, "one create job")
		creates, _, _ := b.client.record()
		require.Len(t, creates, 1)
	})
}

// TestCancelledWhileTheProviderCreates: an instance cancelled while its provider creates the
// item (the cancellation leaves a CREATING item to its creation) has the item voided as soon
// as it is coupled: the coupling says it found the instance cancelled, with its reason.
func TestCancelledWhileTheProviderCreates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupRun(t)
	b.providers.configure(b.client)
	in := b.toSign(t)
	const reason = "the order was withdrawn"
	b.client.onCreate = func() {
		_, err := b.runner.Cancel(ctx, admin, in.ID, reason)
		require.NoError(t, err)
	}
	jobs := b.work(t, false)
	require.Len(t, jobs, 1)
	_, _, items := b.client.record()
	ext := items[jobs[0].WorkItemID]
	require.NotEmpty(t, ext, "the provider made the item")
	require.Equal(t, []string{ext + ": " + reason}, b.client.cancelled(), "voided, with the cancellation's reason")
	got := b.instance(t, in.ID)
	require.Equal(t, engine.StatusCancelled, got.Status)
	require.Equal(t, engine.WorkItemCancelled, got.WorkItem.Status)
	require.Equal(t, ext, got.WorkItem.ExternalID)

	// Not cancelled: coupled, and nothing voided.
	b2 := setupRun(t)
	b2.providers.configure(b2.client)
	in2 := b2.toSign(t)
	b2.work(t, false)
	require.Empty(t, b2.client.cancelled())
	require.Equal(t, engine.WorkItemWaiting, b2.instance(t, in2.ID).WorkItem.Status)
}

// TestAbandonedRetriedCreation: an instance cancelled while its work item's creation waits to
// be retried (the first attempt's answer was lost, or it failed) has whatever that attempt
// made at the system voided, and nothing else: a searchable system is searched by our id; one
// that cannot be searched (ErrNotSupported) is sent the create again, which it answers with
// the item made before (or makes now, to be voided at once).
func TestAbandonedRetriedCreation(t *testing.T) {
	t.Parallel()
	const reason = "the order was withdrawn"
	for _, tc := range []struct {
		name         string
		unsearchable bool
		reached      bool // the first attempt made the item before its answer was lost
		creates      int  // create requests in all
		voided       bool
	}{
		{name: "searchable, made before", reached: true, creates: 1, voided: true},
		{name: "searchable, never made", creates: 1},
		{name: "unsearchable, made before", unsearchable: true, reached: true, creates: 2, voided: true},
		{name: "unsearchable, never made", unsearchable: true, creates: 2, voided: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setupRun(t)
			b.providers.configure(b.client)
			b.client.unsearchable = tc.unsearchable
			if tc.reached {
				b.client.failAfterCreate = errors.New("read tcp: connection reset by peer")
			} else {
				b.client.createErr = errors.New("read tcp: connection reset by peer")
			}
			in := b.toSign(t)
			wiID := b.store.takeJobs()[0].(engine.CreateWorkItemJob).WorkItemID
			require.Error(t, b.creator.Create(ctx, wiID, false, false), "the first attempt fails and is retried")
			b.client.createErr = nil
			_, err := b.runner.Cancel(ctx, admin, in.ID, reason)
			require.NoError(t, err)
			b.store.takeJobs()

			require.NoError(t, b.creator.Create(ctx, wiID, true, false))
			creates, finds, items := b.client.record()
			require.Len(t, creates, tc.creates)
			require.Equal(t, []string{wiID}, finds, "the retried attempt looks first")
			got := b.instance(t, in.ID)
			require.Equal(t, engine.StatusCancelled, got.Status)
			require.Equal(t, engine.WorkItemCancelled, got.WorkItem.Status)
			if !tc.voided {
				require.Empty(t, items, "nothing was made")
				require.Empty(t, b.client.cancelled())
				require.Empty(t, got.WorkItem.ExternalID)
				return
			}
			require.Len(t, items, 1, "one item at the system for the work item")
			ext := items[wiID]
			require.Equal(t, ext, got.WorkItem.ExternalID, "coupled, so that its later notifications are stale")
			require.Equal(t, []string{ext + ": " + reason}, b.client.cancelled(), "voided, with the cancellation's reason")
			var msgs []string
			for _, a := range b.store.activities(in.ID) {
				msgs = append(msgs, a.Message)
			}
			require.Contains(t, msgs, "DOCUSIGN "+ext+" was made for this work item; the instance moved on, so it is voided")
		})
	}
}

// TestCreationTakesTheInstanceAsWritten: an in-process creation given the instance as the
// start wrote it does not read it again; one cancelled after that write is still voided, since
// the coupling finds the instance as it is. Without it, the creation reads it.
func TestCreationTakesTheInstanceAsWritten(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupRun(t)
	b.providers.configure(b.client)
	committed := func(in engine.Instance, given bool) engine.WorkItem {
		t.Helper()
		var creations []engine.CreateWorkItemJob
		for _, j := range b.store.takeJobs() {
			if cj, ok := j.(engine.CreateWorkItemJob); ok {
				creations = append(creations, cj)
			}
		}
		require.Len(t, creations, 1)
		cj := creations[0]
		wi, err := b.store.GetWorkItem(ctx, cj.WorkItemID)
		require.NoError(t, err)
		cj.Item = &wi
		if given {
			cj.Instance = &in
		}
		require.NoError(t, b.creator.CreateCommitted(ctx, cj))
		got, err := b.store.GetWorkItem(ctx, wi.ID)
		require.NoError(t, err)
		return got
	}

	in := b.toSign(t)
	reads := b.store.reads()
	require.Equal(t, engine.WorkItemWaiting, committed(in, true).Status)
	require.Equal(t, reads, b.store.reads(), "the instance was not read")

	// Cancelled after the start's write, before the creation: made, then voided.
	in = b.toSign(t)
	_, err := b.runner.Cancel(ctx, admin, in.ID, "withdrawn")
	require.NoError(t, err)
	got := committed(in, true)
	require.Equal(t, engine.WorkItemCancelled, got.Status)
	require.Equal(t, []string{got.ExternalID + ": withdrawn"}, b.client.cancelled())
	require.Equal(t, engine.StatusCancelled, b.instance(t, in.ID).Status)

	in = b.toSign(t)
	reads = b.store.reads()
	require.Equal(t, engine.WorkItemWaiting, committed(in, false).Status)
	require.Equal(t, reads+1, b.store.reads(), "not given: read")
}

// TestSystemReusesAnID: a system that answers a new work item with an id another work item
// already has (a sandbox restarted, a connector numbering its tickets per process) fails the
// new item and its instance, with a reason that says so, rather than leaving it CREATING to be
// created again and answered the same for ever; the other item is untouched. A creation
// abandoned (its instance cancelled) that learns such an id closes without voiding it, since
// the item at the system is the other work item's.
func TestSystemReusesAnID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("creating", func(t *testing.T) {
		t.Parallel()
		b := setupRun(t)
		b.providers.configure(b.client)
		first := b.toSign(t)
		b.work(t, false)
		b.client.restart()
		second := b.toSign(t)
		b.work(t, false)

		got := b.instance(t, second.ID)
		require.Equal(t, engine.StatusFailed, got.Status)
		require.Equal(t, engine.WorkItemFailed, got.WorkItem.Status)
		require.Contains(t, got.Reason, "answered with the id env-1, which another work item already has")
		require.Empty(t, got.WorkItem.ExternalID)
		kept := b.instance(t, first.ID)
		require.Equal(t, engine.StatusWaitingExternal, kept.Status)
		require.Equal(t, engine.WorkItemWaiting, kept.WorkItem.Status)
		require.Equal(t, "env-1", kept.WorkItem.ExternalID)
	})
	t.Run("abandoned", func(t *testing.T) {
		t.Parallel()
		b := setupRun(t)
		b.providers.configure(b.client)
		b.client.unsearchable = true
		first := b.toSign(t)
		b.work(t, false)
		b.client.restart()
		b.client.createErr = errors.New("read tcp: connection reset by peer")
		second := b.toSign(t)
		wiID := b.store.takeJobs()[0].(engine.CreateWorkItemJob).WorkItemID
		require.Error(t, b.creator.Create(ctx, wiID, false, false))
		b.client.createErr = nil
		_, err := b.runner.Cancel(ctx, admin, second.ID, "withdrawn")
		require.NoError(t, err)
		b.store.takeJobs()

		require.NoError(t, b.creator.Create(ctx, wiID, true, false))
		got := b.instance(t, second.ID)
		require.Equal(t, engine.StatusCancelled, got.Status)
		require.Equal(t, engine.WorkItemCancelled, got.WorkItem.Status)
		require.Empty(t, b.client.cancelled(), "env-1 is the first instance's: not voided")
		require.Equal(t, engine.WorkItemWaiting, b.instance(t, first.ID).WorkItem.Status)
	})
}

// documentStore is the memory store with the document marks a fetch clears.
type documentStore struct {
	*memStore
	mu      sync.Mutex
	cleared []string
}

func (s *documentStore) ClearDocumentDue(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cleared = append(s.cleared, id)
	return nil
}

// TestFetchDocumentGivesUpOnAPermanentFailure: a signed document that can never be kept (over
// the size cap, an empty zip) or whose item is gone at the provider ends its fetch at once,
// said at WARN with the instance and the work item, its mark cleared. Any other failure is
// returned, its mark kept, for the job to try again later with backoff: a transient one (an
// answer that is not a PDF or zip: a proxy's page, say), and the permanent ones an administrator fixes — a refused or rotated credential (401),
// a forbidden call (403), a missing consent, settings not saved, a call the network policy
// refuses, a bare 404 (a wrong address, not a deletion).
func TestFetchDocumentGivesUpOnAPermanentFailure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	docusign := engine.System{Provider: "docusign"}
	onespan := engine.System{Provider: "onespan"}
	for _, tc := range []struct {
		name string
		err  error // nil: the system is not configured any more
		// reason is what the WARN says when the fetch gives up, "" when it must not.
		reason string
	}{
		{"too large", &engine.ProviderError{System: onespan, HTTPStatus: 200, Permanent: true, Unkeepable: true,
			Message: "the documents zip is larger than 67108864 bytes"}, "larger than"},
		{"not a PDF", &engine.ProviderError{System: docusign, HTTPStatus: 200,
			Message: "the combined document is not a PDF"}, ""},
		{"not a zip", &engine.ProviderError{System: onespan, HTTPStatus: 200,
			Message: "the documents download is not a zip"}, ""},
		{"empty zip", &engine.ProviderError{System: onespan, HTTPStatus: 200, Permanent: true, Unkeepable: true,
			Message: "the documents zip has no documents in it"}, "no documents"},
		{"package gone", &engine.ProviderError{System: onespan, HTTPStatus: 404, Code: "error.notFound", Permanent: true, Gone: true,
			Message: "The specified package does not exist."}, "does not exist"},
		{"envelope gone", &engine.ProviderError{System: docusign, HTTPStatus: 400, Code: "ENVELOPE_DOES_NOT_EXIST", Permanent: true, Gone: true,
			Message: "The envelope specified either does not exist or you have no access to it."}, "ENVELOPE_DOES_NOT_EXIST"},
		{"unreachable", errors.New("read tcp: connection reset by peer"), ""},
		{"key rotated", &engine.ProviderError{System: onespan, HTTPStatus: 401, Code: "error.unauthorised.noUser", Permanent: true,
			Message: "OneSpan refused the API key (check the API key and the base URL): Unauthorized"}, ""},
		{"token refused after a refresh", &engine.ProviderError{System: docusign, HTTPStatus: 401, Code: "USER_AUTHENTICATION_FAILED", Permanent: true,
			Message: "One or both of Username and Password are invalid."}, ""},
		{"forbidden", &engine.ProviderError{System: onespan, HTTPStatus: 403, Code: "error.forbidden", Permanent: true,
			Message: "the API key's user may not do this: Forbidden"}, ""},
		{"consent missing", &engine.ProviderError{System: docusign, HTTPStatus: 400, Code: "consent_required", Permanent: true,
			Message: "the impersonated user has not granted consent to the integration key"}, ""},
		{"refused by the network policy", fmt.Errorf("docusign: downloading a document: %w",
			fmt.Errorf("%w: the call to 169.254.169.254 is refused by the network policy", engine.ErrProviderPermanent)), ""},
		{"bare 404", &engine.ProviderError{System: onespan, HTTPStatus: 404, Permanent: true, Message: "Not Found"}, ""},
		{"not configured", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupRun(t)
			b.providers.configure(b.client)
			in := b.toSign(t)
			b.work(t, false)
			wi := b.instance(t, in.ID).WorkItem
			b.store.mu.Lock()
			resolved := b.store.items[wi.ID]
			resolved.Status, resolved.Outcome = engine.WorkItemResolved, engine.OutcomeFinished
			b.store.items[wi.ID] = resolved
			b.store.mu.Unlock()
			if tc.err == nil {
				b.providers.configure(nil)
			}
			b.client.downloadErr = tc.err
			st := &documentStore{memStore: b.store}
			creator := engine.NewCreator(st, st, b.runner, b.providers, nil, engine.SystemClock{}, slog.New(b.log))

			err := creator.FetchDocument(ctx, wi.ID)
			warned := b.log.at(slog.LevelWarn)
			if tc.reason == "" {
				require.Error(t, err, "returned for the job to try again")
				if tc.err != nil {
					require.ErrorIs(t, err, tc.err)
				} else {
					require.ErrorIs(t, err, engine.ErrNotConfigured)
				}
				require.Empty(t, st.cleared, "the mark stays for the job")
				require.Empty(t, warned)
				return
			}
			require.NoError(t, err, "not tried again")
			require.Equal(t, []string{wi.ID}, st.cleared)
			require.Len(t, warned, 1)
			require.Equal(t, "the signed document of a work item cannot be kept; it is not fetched again", warned[0].msg)
			require.Equal(t, in.ID, warned[0].attrs["instance_id"])
			require.Equal(t, wi.ID, warned[0].attrs["work_item_id"])
			require.Contains(t, warned[0].attrs["reason"], tc.reason)
		})
	}
}

// TestCancelFailedInstance: a FAILED instance can be cancelled, by an admin or its starter (it
// could only be retried before, and one whose step fails every time — a signer left blank on a
// start form, reached by a timer — stayed FAILED for good). Its failed work item goes to its
// creation once more as abandoned: what an attempt made at the system before failing is found
// by our id and voided; otherwise the item is closed. Nothing new is created.
func TestCancelFailedInstance(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, made := range []bool{true, false} {
		t.Run(fmt.Sprintf("the attempt made the item: %v", made), func(t *testing.T) {
			t.Parallel()
			b := setupRun(t)
			b.providers.configure(b.client)
			if made {
				b.client.failAfterCreate = fmt.Errorf("%w: HTTP 400 the answer was refused", engine.ErrProviderPermanent)
			} else {
				b.client.createErr = fmt.Errorf("%w: HTTP 400 refused", engine.ErrProviderPermanent)
			}
			in := b.toSign(t)
			first := b.work(t, false)
			require.Len(t, first, 1)
			failed := b.instance(t, in.ID)
			require.Equal(t, engine.StatusFailed, failed.Status)

			const reason = "nobody will sign this"
			got, err := b.runner.Cancel(ctx, admin, in.ID, reason)
			require.NoError(t, err)
			require.Equal(t, engine.StatusCancelled, got.Status)
			require.Equal(t, reason, got.Reason)
			require.NotNil(t, got.EndedAt)
			_, err = b.runner.Cancel(ctx, admin, in.ID, reason)
			require.ErrorIs(t, err, engine.ErrFailedPrecondition, "cancelled once")

			again := b.work(t, false)
			require.Equal(t, []engine.CreateWorkItemJob{{WorkItemID: first[0].WorkItemID, Retried: true}}, again)
			creates, finds, items := b.client.record()
			require.Len(t, creates, 1, "nothing created after the failure")
			require.Equal(t, []string{first[0].WorkItemID}, finds, "looked for by our id")
			done := b.instance(t, in.ID)
			require.Equal(t, engine.StatusCancelled, done.Status)
			require.Equal(t, engine.WorkItemCancelled, done.WorkItem.Status)
			if made {
				require.Equal(t, []string{items[first[0].WorkItemID] + ": " + reason}, b.client.cancelled(), "voided, with the reason")
			} else {
				require.Empty(t, b.client.cancelled())
			}
		})
	}
}
