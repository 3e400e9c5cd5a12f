package engine_test

import (
	"context"
	"maps"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
)

// TestStartIdempotency: a request id used again with the same input answers the instance it
// started; with other input it is refused, as Stripe refuses a reused idempotency key.
func TestStartIdempotency(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	first := func() engine.StartInput {
		in := startInput("wf-1", "to_review")
		in.RequestID = "order-4711"
		return in
	}

	tests := []struct {
		name    string
		mutate  func(in *engine.StartInput)
		same    bool
		invalid bool // the input is refused on its own
	}{
		{name: "the same input", mutate: func(*engine.StartInput) {}, same: true},
		{name: "the same email in other case (validation lower-cases it)", same: true, mutate: func(in *engine.StartInput) {
			in.FormData["email"] = "Ada@Example.COM"
		}},
		{name: "another form value", mutate: func(in *engine.StartInput) { in.FormData["amount"] = 1300.0 }},
		{name: "a form value left out", mutate: func(in *engine.StartInput) { delete(in.FormData, "amount") }},
		{name: "an invalid form", mutate: func(in *engine.StartInput) { in.FormData["amount"] = "lots" }, invalid: true},
		{name: "another transition", mutate: func(in *engine.StartInput) { in.TransitionKey = "to_sign" }},
		{name: "another version asked for", mutate: func(in *engine.StartInput) { in.Version = 1 }},
		{name: "another workflow", mutate: func(in *engine.StartInput) { in.WorkflowID = "wf-2" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupRun(t)
			b.store.publish("wf-2", runDraft())
			started, err := b.runner.Start(ctx, starter, first())
			require.NoError(t, err)
			require.NotEmpty(t, started.RequestFingerprint)

			again := first()
			again.FormData = maps.Clone(again.FormData)
			tc.mutate(&again)
			got, err := b.runner.Start(ctx, starter, again)
			if tc.same {
				require.NoError(t, err)
				require.Equal(t, started.ID, got.ID)
			} else {
				require.ErrorIs(t, err, engine.ErrAlreadyExists)
				require.ErrorContains(t, err, `request_id "order-4711" was already used to start instance `+started.ID+" with ")
			}
			// Another starter's request id is another request.
			other, err := b.runner.Start(ctx, engine.Principal{UserID: "u-other", Roles: []engine.Role{engine.RoleUser}}, again)
			if tc.invalid {
				_, isInvalid := engine.IsValidation(err)
				require.True(t, isInvalid, "%v", err)
				return
			}
			require.NoError(t, err)
			require.NotEqual(t, started.ID, other.ID)
		})
	}

	t.Run("the instance's form data changed since: the same request still answers it", func(t *testing.T) {
		t.Parallel()
		b := setupRun(t)
		started, err := b.runner.Start(ctx, starter, first())
		require.NoError(t, err)
		changed := started
		changed.FormData = map[string]any{"name": "Ada King", "email": "ada@example.com"}
		_, err = b.store.UpdateInstance(ctx, changed, started.Revision, nil, engine.Effects{})
		require.NoError(t, err)
		got, err := b.runner.Start(ctx, starter, first())
		require.NoError(t, err)
		require.Equal(t, started.ID, got.ID)
		require.Equal(t, "Ada King", got.FormData["name"])
	})

	t.Run("a new version published since: latest still means the version started", func(t *testing.T) {
		t.Parallel()
		b := setupRun(t)
		started, err := b.runner.Start(ctx, starter, first())
		require.NoError(t, err)
		v2 := runDraft()
		v2.States[0].FormFields = v2.States[0].FormFields[:2] // amount is no field of version 2
		b.store.publish("wf-1", v2)
		got, err := b.runner.Start(ctx, starter, first())
		require.NoError(t, err)
		require.Equal(t, started.ID, got.ID)
		require.EqualValues(t, 1, got.Version)
	})

	t.Run("the workflow archived since: the same request still answers it, a new one is refused", func(t *testing.T) {
		t.Parallel()
		b := setupRun(t)
		started, err := b.runner.Start(ctx, starter, first())
		require.NoError(t, err)
		_, err = b.store.SetArchived(ctx, "wf-1", true)
		require.NoError(t, err)
		got, err := b.runner.Start(ctx, starter, first())
		require.NoError(t, err)
		require.Equal(t, started.ID, got.ID)
		other := first()
		other.RequestID = "another request"
		_, err = b.runner.Start(ctx, starter, other)
		require.ErrorIs(t, err, engine.ErrFailedPrecondition)
	})

	t.Run("an instance without a fingerprint compares its workflow only", func(t *testing.T) {
		t.Parallel()
		b := setupRun(t)
		b.store.publish("wf-2", runDraft())
		legacy := first()
		started, err := b.runner.Start(ctx, starter, legacy)
		require.NoError(t, err)
		old := started
		old.RequestFingerprint = "" // as stored before fingerprints were kept
		b.store.mu.Lock()
		b.store.instances[old.ID] = old
		b.store.mu.Unlock()

		other := first()
		other.FormData = map[string]any{"name": "Someone Else", "email": "else@example.com"}
		got, err := b.runner.Start(ctx, starter, other)
		require.NoError(t, err)
		require.Equal(t, started.ID, got.ID)
		other.WorkflowID = "wf-2"
		_, err = b.runner.Start(ctx, starter, other)
		require.ErrorIs(t, err, engine.ErrAlreadyExists)
		require.ErrorContains(t, err, "with another workflow")
	})

	t.Run("a racing start with other input wins: this one is refused", func(t *testing.T) {
		t.Parallel()
		b := setupRun(t)
		var winner engine.Instance
		b.store.beforeCreate = func() {
			in := first()
			in.FormData = map[string]any{"name": "Racer", "email": "racer@example.com"}
			var err error
			winner, err = b.runner.Start(ctx, starter, in)
			require.NoError(t, err)
		}
		_, err := b.runner.Start(ctx, starter, first())
		require.ErrorIs(t, err, engine.ErrAlreadyExists)
		require.ErrorContains(t, err, winner.ID)

		// The same race with the same input answers the winner.
		b.store.beforeCreate = func() {
			in := first()
			in.RequestID = "order-4712"
			var err error
			winner, err = b.runner.Start(ctx, starter, in)
			require.NoError(t, err)
		}
		in := first()
		in.RequestID = "order-4712"
		got, err := b.runner.Start(ctx, starter, in)
		require.NoError(t, err)
		require.Equal(t, winner.ID, got.ID)
	})

	t.Run("without a request id every start is new", func(t *testing.T) {
		t.Parallel()
		b := setupRun(t)
		in := startInput("wf-1", "to_review")
		a, err := b.runner.Start(ctx, starter, in)
		require.NoError(t, err)
		c, err := b.runner.Start(ctx, starter, in)
		require.NoError(t, err)
		require.NotEqual(t, a.ID, c.ID)
		require.Empty(t, a.RequestFingerprint)
	})
}

func TestStartFingerprint(t *testing.T) {
	t.Parallel()
	in := engine.StartInput{WorkflowID: "wf-1", Version: 0, TransitionKey: "go"}
	data := map[string]any{"b": 1.0, "a": "x", "c": true}
	fp := engine.StartFingerprint(in, data)
	require.Regexp(t, `^v1:[0-9a-f]{64}$`, fp)
	require.Equal(t, fp, engine.StartFingerprint(in, map[string]any{"c": true, "a": "x", "b": 1.0}), "key order does not matter")
	for name, other := range map[string]string{
		"workflow":   engine.StartFingerprint(engine.StartInput{WorkflowID: "wf-2", TransitionKey: "go"}, data),
		"version":    engine.StartFingerprint(engine.StartInput{WorkflowID: "wf-1", Version: 1, TransitionKey: "go"}, data),
		"transition": engine.StartFingerprint(engine.StartInput{WorkflowID: "wf-1"}, data),
		"value":      engine.StartFingerprint(in, map[string]any{"b": 2.0, "a": "x", "c": true}),
		"type":       engine.StartFingerprint(in, map[string]any{"b": "1", "a": "x", "c": true}),
		"no data":    engine.StartFingerprint(in, nil),
	} {
		require.NotEqual(t, fp, other, name)
	}
}
