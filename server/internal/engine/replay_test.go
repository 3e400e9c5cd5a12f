package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
)

// replayStore is routeStore saving what replays decide.
type replayStore struct {
	*routeStore
	replayed []engine.EventResult
}

func (s *replayStore) ReplayEvent(_ context.Context, _ engine.StoredEvent, _ int, r engine.EventResult) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replayed = append(s.replayed, r)
	return nil
}

// TestReplayRefusesAnErasedEvent: an event whose body retention erased is not replayed (its
// empty body would be parsed into UNPARSEABLE): FailedPrecondition, saying why, and nothing
// saved or noted. The same event with its body is replayed.
func TestReplayRefusesAnErasedEvent(t *testing.T) {
	t.Parallel()
	for _, erased := range []bool{true, false} {
		b := setupRoute(t, nil)
		inbox := &replayStore{routeStore: b.inbox}
		x := engine.NewExternal(inbox, b.store, b.runner, routeProviders{&memProviders{}}, engine.SystemClock{}, routeWindow)
		ev := engine.StoredEvent{ID: engine.NewIDAt(time.Now()), ReceivedAt: time.Now(), Attempts: 1,
			Event: engine.InboundEvent{System: engine.System{Provider: docuSign}, Type: "envelope-delivered", ExternalID: "env-1", DedupeKey: "k-1"},
			Body:  []byte(`{"event":"envelope-delivered","data":{"envelopeId":"env-1"}}`), Headers: map[string]string{"Content-Type": "application/json"},
			Verdict: engine.VerdictIgnored, Reason: "not processed after 5 attempts"}
		if erased {
			ev.Body, ev.Reason = []byte{}, "[erased]"
			ev.Headers[engine.ErasedHeader] = "form data erased by retention (ended more than 7 days ago)"
		}
		inbox.mu.Lock()
		inbox.events = append(inbox.events, ev)
		inbox.mu.Unlock()

		got, before, steps, err := x.Replay(context.Background(), ev.ID, "u-admin")
		if !erased {
			require.NoError(t, err)
			require.Equal(t, engine.VerdictIgnored, before)
			require.Len(t, inbox.replayed, 1, "replayed")
			require.NotEmpty(t, steps)
			continue
		}
		require.ErrorIs(t, err, engine.ErrFailedPrecondition)
		require.ErrorContains(t, err, "erased with its instance's form data (form data erased by retention (ended more than 7 days ago)); it cannot be replayed")
		require.Empty(t, inbox.replayed, "nothing saved: not an UNPARSEABLE verdict for the empty body")
		require.Empty(t, steps, "nothing noted")
		require.Zero(t, got.ID)
		require.Equal(t, ev, inbox.event(t, "k-1"), "the event is as it was")
	}
}

// TestReplayTellsAReadBackFailure: a replay of a OneSpan callback whose package cannot be read
// back (OneSpan refusing the API key) fails with the system's words, and its steps say so —
// not that the database is unavailable, nor that the replay will be retried (it is not).
func TestReplayTellsAReadBackFailure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, client, _ := oneSpanRoute(t)
	x := engine.NewExternal(b.inbox, b.store, b.runner, oneSpanTable{readBackProviders{routeProviders{&memProviders{}}, client}}, engine.SystemClock{}, routeWindow)
	refused := error(&engine.ProviderError{HTTPStatus: 401, Message: "Invalid API key."})
	client.fail.Store(&refused)
	ev, created, err := x.Receive(ctx, engine.StoredEvent{Event: engine.InboundEvent{System: engine.System{Provider: "ONESPAN"},
		Type: "PACKAGE_COMPLETE", ExternalID: "env-1", DedupeKey: "cb-1", OccurredAt: time.Now()},
		Body: []byte(`{"event":"PACKAGE_COMPLETE","data":{"envelopeId":"env-1"}}`)})
	require.NoError(t, err)
	require.True(t, created)

	_, _, steps, err := x.Replay(ctx, ev.ID, "u-admin")
	var rb *engine.ReadBackError
	require.ErrorAs(t, err, &rb)
	var story []string
	for _, s := range steps {
		story = append(story, string(s.Step)+": "+s.Message)
		require.NotContains(t, s.Message, "database")
		require.NotContains(t, s.Message, "retried")
	}
	require.Contains(t, story, "ERROR: the replay failed: "+rb.Error(), "%q", story)
	require.Contains(t, rb.Error(), "Invalid API key.")
	require.Equal(t, engine.VerdictPending, b.inbox.event(t, "cb-1").Verdict, "left as it was")
}
