package engine_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
)

// voidFailingClient is the fake provider whose voids fail (after recording them).
type voidFailingClient struct{ *memClient }

func (c voidFailingClient) Cancel(ctx context.Context, externalID, reason string) error {
	_ = c.memClient.Cancel(ctx, externalID, reason)
	return &engine.ProviderError{HTTPStatus: 503, Code: "UNAVAILABLE", Message: "try later"}
}

// voidFailingProviders hands out voidFailingClient.
type voidFailingProviders struct{ *memProviders }

func (p voidFailingProviders) Client(ctx context.Context, s engine.System) (engine.ProviderClient, error) {
	c, err := p.memProviders.Client(ctx, s)
	if err != nil {
		return nil, err
	}
	return voidFailingClient{c.(*memClient)}, nil
}

// conflictOnceStore answers the first coupling ErrConflict without writing anything, as the
// store does when an early event changed under the coupling.
type conflictOnceStore struct {
	*memStore
	conflicted bool
}

func (s *conflictOnceStore) CoupleWorkItem(ctx context.Context, id, externalID string, act engine.Activity) (engine.Coupled, error) {
	if !s.conflicted {
		s.conflicted = true
		return engine.Coupled{}, fmt.Errorf("%w: an event changed while work item %s was coupled", engine.ErrConflict, id)
	}
	return s.memStore.CoupleWorkItem(ctx, id, externalID, act)
}

// TestCreateCouplingConflict: an attempt whose coupling conflicts because a racing attempt
// coupled the work item to another item, or closed it, voids the item it created, naming the
// one in use (a failed void is logged at WARN with its id); one coupled to the same item, or
// FAILED (RetryInstance would find ours by our id), voids nothing; a conflict that left the
// work item CREATING is returned, for the retry to find ours and couple it.
func TestCreateCouplingConflict(t *testing.T) {
	t.Parallel()
	act := engine.Activity{Kind: engine.ActivityExternalProgress, ToState: "sign"}
	for _, tc := range []struct {
		name string
		// race is what a racing attempt does to the work item while this one creates it.
		race      func(t *testing.T, st *memStore, wiID string)
		voidFails bool
		conflict  bool // the store's coupling conflicts once without a racing attempt
		voided    []string
		status    engine.WorkItemStatus
		externID  string
		warn      bool
		wantErr   error
	}{
		{name: "coupled to another item", race: func(t *testing.T, st *memStore, wiID string) {
			_, err := st.CoupleWorkItem(context.Background(), wiID, "env-other", act)
			require.NoError(t, err)
		}, voided: []string{"env-1: a duplicate of env-other, made for the same flowhook work item %s"},
			status: engine.WorkItemWaiting, externID: "env-other"},
		{name: "coupled to another item, the void fails", race: func(t *testing.T, st *memStore, wiID string) {
			_, err := st.CoupleWorkItem(context.Background(), wiID, "env-other", act)
			require.NoError(t, err)
		}, voidFails: true, voided: []string{"env-1: a duplicate of env-other, made for the same flowhook work item %s"},
			status: engine.WorkItemWaiting, externID: "env-other", warn: true},
		{name: "coupled to the same item", race: func(t *testing.T, st *memStore, wiID string) {
			_, err := st.CoupleWorkItem(context.Background(), wiID, "env-1", act)
			require.NoError(t, err)
		}, status: engine.WorkItemWaiting, externID: "env-1"},
		{name: "closed, its instance moved on", race: func(t *testing.T, st *memStore, wiID string) {
			require.NoError(t, st.CloseWorkItem(context.Background(), wiID, engine.WorkItemCancelled, "the instance moved on", nil))
		}, voided: []string{"env-1: made for flowhook work item %s after it was closed"}, status: engine.WorkItemCancelled},
		{name: "failed, to be retried", race: func(t *testing.T, st *memStore, wiID string) {
			require.NoError(t, st.FailWorkItem(context.Background(), wiID, "refused", engine.Activity{Kind: engine.ActivityFailed}))
		}, status: engine.WorkItemFailed},
		{name: "still creating", conflict: true, status: engine.WorkItemCreating, wantErr: engine.ErrConflict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setupRun(t)
			b.providers.configure(b.client)
			b.toSign(t)
			jobs := b.store.takeJobs()
			require.Len(t, jobs, 1)
			wiID := jobs[0].(engine.CreateWorkItemJob).WorkItemID

			var work engine.WorkStore = b.store
			if tc.conflict {
				work = &conflictOnceStore{memStore: b.store}
			}
			var providers engine.Providers = b.providers
			if tc.voidFails {
				providers = voidFailingProviders{b.providers}
			}
			render := func(engine.DocumentInput) (engine.Rendered, error) {
				return engine.Rendered{PDF: []byte("%PDF-1.7 test"), Anchors: []string{"/sn1/"}}, nil
			}
			creator := engine.NewCreator(work, b.store, b.runner, providers, render, engine.SystemClock{}, slog.New(b.log))
			if tc.race != nil {
				raced := false
				b.client.onCreate = func() {
					if !raced {
						raced = true
						tc.race(t, b.store, wiID)
					}
				}
			}

			err := creator.Create(ctx, wiID, false, false)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
			} else {
				require.NoError(t, err)
			}
			var voided []string
			for _, v := range tc.voided {
				voided = append(voided, fmt.Sprintf(v, wiID))
			}
			require.Equal(t, voided, b.client.cancelled(), "only an item nobody waits for is voided")
			wi, err := b.store.GetWorkItem(ctx, wiID)
			require.NoError(t, err)
			require.Equal(t, tc.status, wi.Status)
			require.Equal(t, tc.externID, wi.ExternalID, "the racing attempt's coupling stands")

			var warned []string
			for _, r := range b.log.at(slog.LevelWarn) {
				if r.attrs["external_id"] == "env-1" {
					warned = append(warned, r.msg)
				}
			}
			if tc.warn {
				require.Equal(t, []string{"voiding a duplicate work item at its provider failed; it stays open there"}, warned)
			} else {
				require.Empty(t, warned)
			}

			if tc.conflict {
				// The retry finds ours by our id and couples it: no second item.
				require.NoError(t, creator.Create(ctx, wiID, true, false))
				creates, _, items := b.client.record()
				require.Len(t, creates, 1)
				wi, err := b.store.GetWorkItem(ctx, wiID)
				require.NoError(t, err)
				require.Equal(t, engine.WorkItemWaiting, wi.Status)
				require.Equal(t, items[wiID], wi.ExternalID)
			}
		})
	}
}
