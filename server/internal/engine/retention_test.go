package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
)

// memSettings is a settings store holding the security group, kept as the real store keeps
// it: JSON (so its numbers come back as float64).
type memSettings struct {
	engine.SettingsStore
	plain []byte
	err   error
}

func (m *memSettings) GetSettings(_ context.Context, id string) (engine.Settings, error) {
	if m.err != nil {
		return engine.Settings{}, m.err
	}
	out := engine.Settings{ID: id}
	if m.plain != nil {
		out.Revision = 1
		if err := json.Unmarshal(m.plain, &out.Plain); err != nil {
			return engine.Settings{}, err
		}
	}
	return out, nil
}

// fixedClock always tells the same time.
type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

// retentionBundle is a Retention over the fakes, its clock at now.
type retentionBundle struct {
	store     *memStore
	settings  *memSettings
	retention *engine.Retention
	now       time.Time
}

func setupRetention(t *testing.T, formDays, docDays int) *retentionBundle {
	t.Helper()
	b := &retentionBundle{store: newMemStore(), settings: &memSettings{}, now: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)}
	b.store.docs = map[string][]engine.SignedDocument{}
	b.set(t, formDays, docDays)
	clock := fixedClock(b.now)
	b.retention = engine.NewRetention(b.store, engine.NewSecurity(b.settings, clock), clock)
	return b
}

// set saves the retentions as UpdateSecuritySettings would.
func (b *retentionBundle) set(t *testing.T, formDays, docDays int) {
	t.Helper()
	plain, err := json.Marshal(engine.SecuritySettings{EventRetentionDays: 30, FormDataRetentionDays: formDays, DocumentRetentionDays: docDays}.Plain())
	require.NoError(t, err)
	b.settings.plain = plain
}

// instance adds an instance in status that ended ago before now (open ones never ended),
// with a timeline of field changes and an assignment, and a signed document when doc.
func (b *retentionBundle) instance(t *testing.T, status engine.InstanceStatus, ago time.Duration, doc bool) engine.Instance {
	t.Helper()
	created := b.now.Add(-ago - time.Hour)
	in := engine.Instance{ID: engine.NewIDAt(created), WorkflowID: "wf-1", Version: 1, StateKey: "done", Status: status, Revision: 3,
		FormData: map[string]any{"name": "Ada Lovelace", "email": "ada@example.com"}, StartedBy: "u-starter", CreatedAt: created, UpdatedAt: created}
	if !status.Open() {
		ended := b.now.Add(-ago)
		in.EndedAt = &ended
	}
	acts := []engine.Activity{
		{Kind: engine.ActivityStarted, ActorID: "u-starter", ToState: "start", CreatedAt: created,
			Changes: []engine.FieldChange{{Name: "email", New: "ada@example.com"}, {Name: "name", New: "Ada Lovelace"}}},
		{Kind: engine.ActivityAssigned, ToState: "review", Assignee: &engine.Assignee{GroupID: "legal"}, CreatedAt: created},
		{Kind: engine.ActivityTransition, ActorID: "u-legal", FromState: "review", ToState: "done", TransitionKey: "finish", CreatedAt: created,
			Changes: []engine.FieldChange{{Name: "name", Old: "Ada Lovelace", New: "Ada King"}}},
	}
	_, err := b.store.CreateInstance(context.Background(), in, acts, engine.Effects{})
	require.NoError(t, err)
	if doc {
		b.store.docs[in.ID] = []engine.SignedDocument{{WorkItemID: "wi-" + in.ID, Name: "contract.pdf", Content: []byte("%PDF")}}
	}
	return in
}

func (b *retentionBundle) get(t *testing.T, id string) engine.Instance {
	t.Helper()
	in, err := b.store.GetInstance(context.Background(), id)
	require.NoError(t, err)
	return in
}

// TestRetentionErasesFinishedInstancesPastTheirRetention: with form data kept 30 days and
// documents 90, only COMPLETED and CANCELLED instances that ended longer ago than that lose
// them; the timeline keeps its entries and field names, and says what went.
func TestRetentionErasesFinishedInstancesPastTheirRetention(t *testing.T) {
	t.Parallel()
	b := setupRetention(t, 30, 90)
	day := 24 * time.Hour
	completed40 := b.instance(t, engine.StatusCompleted, 40*day, true) // form data goes, the document stays
	cancelled100 := b.instance(t, engine.StatusCancelled, 100*day, true)
	completed100NoDoc := b.instance(t, engine.StatusCompleted, 100*day, false)
	failed := b.instance(t, engine.StatusFailed, 100*day, true) // may still be retried
	open := b.instance(t, engine.StatusActive, 100*day, false)
	recent := b.instance(t, engine.StatusCompleted, 29*day, true)

	erased, err := b.retention.Run(context.Background())
	require.NoError(t, err)
	require.Equal(t, engine.Erased{FormData: 3, Documents: 1}, erased)

	formMsg := "form data erased by retention (ended more than 30 days ago)"
	docMsg := "signed documents erased by retention (ended more than 90 days ago)"
	for _, c := range []struct {
		in         engine.Instance
		form, docs bool
	}{
		{completed40, true, false},
		{cancelled100, true, true},
		{completed100NoDoc, true, false},
		{failed, false, false},
		{open, false, false},
		{recent, false, false},
	} {
		got := b.get(t, c.in.ID)
		acts := b.store.activities(c.in.ID)
		var erasedMsgs []string
		for _, a := range acts {
			if a.Kind == engine.ActivityErased {
				erasedMsgs = append(erasedMsgs, a.Message)
				require.Equal(t, b.now, a.CreatedAt)
				require.Empty(t, a.ActorID, "the platform, not a user")
			}
		}
		var want []string
		if c.form {
			want = append(want, formMsg)
			require.Empty(t, got.FormData, c.in.Status)
			require.Equal(t, &b.now, got.FormDataErasedAt)
			// Every entry stays; the changes keep their names, not their values.
			require.Len(t, acts, 3+len(want)+btoi(c.docs))
			require.Equal(t, []engine.FieldChange{{Name: "email"}, {Name: "name"}}, acts[0].Changes)
			require.Equal(t, []engine.FieldChange{{Name: "name"}}, acts[2].Changes)
		} else {
			require.Equal(t, c.in.FormData, got.FormData, c.in.Status)
			require.Nil(t, got.FormDataErasedAt)
			require.Equal(t, "Ada King", acts[2].Changes[0].New)
			require.Equal(t, "Ada Lovelace", acts[2].Changes[0].Old)
		}
		require.Equal(t, &engine.Assignee{GroupID: "legal"}, acts[1].Assignee, "the assignee is not form data")
		if c.docs {
			want = append(want, docMsg)
			require.Equal(t, &b.now, got.DocumentsErasedAt)
			require.Empty(t, b.store.docs[c.in.ID])
		} else {
			require.Nil(t, got.DocumentsErasedAt)
		}
		require.Equal(t, want, erasedMsgs, "%s ended %v", c.in.Status, c.in.EndedAt)
	}
	for _, id := range []string{completed40.ID, failed.ID, recent.ID} {
		require.Len(t, b.store.docs[id], 1, "kept")
	}

	// Every call asked for the finished statuses only, in batches, up to the cutoffs.
	for _, e := range b.store.erasures {
		require.Equal(t, []engine.InstanceStatus{engine.StatusCompleted, engine.StatusCancelled}, e.Statuses)
		require.Equal(t, engine.RetentionBatch, e.Limit)
		require.Equal(t, engine.ActivityErased, e.Activity.Kind)
	}
	require.Equal(t, b.now.Add(-30*day), b.store.erasures[0].EndedBefore)
	require.Equal(t, b.now.Add(-90*day), b.store.erasures[len(b.store.erasures)-1].EndedBefore)

	// A second run finds nothing left: what was erased is not erased (nor noted) again.
	before := len(b.store.activities(cancelled100.ID))
	erased, err = b.retention.Run(context.Background())
	require.NoError(t, err)
	require.Zero(t, erased)
	require.Len(t, b.store.activities(cancelled100.ID), before)
}

func btoi(v bool) int {
	if v {
		return 1
	}
	return 0
}

// TestRetentionKeepsForEverByDefault: with both retentions 0 (never set) nothing is asked of
// the store, however old an instance is.
func TestRetentionKeepsForEverByDefault(t *testing.T) {
	t.Parallel()
	b := setupRetention(t, 0, 0)
	b.settings.plain = nil // never saved
	old := b.instance(t, engine.StatusCompleted, 20*365*24*time.Hour, true)
	erased, err := b.retention.Run(context.Background())
	require.NoError(t, err)
	require.Zero(t, erased)
	require.Empty(t, b.store.erasures)
	require.Equal(t, old.FormData, b.get(t, old.ID).FormData)
	require.Len(t, b.store.docs[old.ID], 1)

	// Documents only: the form data stays.
	b2 := setupRetention(t, 0, 1)
	old2 := b2.instance(t, engine.StatusCancelled, 25*time.Hour, true)
	erased, err = b2.retention.Run(context.Background())
	require.NoError(t, err)
	require.Equal(t, engine.Erased{Documents: 1}, erased)
	require.Equal(t, old2.FormData, b2.get(t, old2.ID).FormData)
	acts := b2.store.activities(old2.ID)
	require.Equal(t, "signed documents erased by retention (ended more than 1 day ago)", acts[len(acts)-1].Message)
}

// TestRetentionWorksInBatches: a backlog larger than a batch is erased batch by batch until
// none is left, each batch its own call (its own transaction in the store).
func TestRetentionWorksInBatches(t *testing.T) {
	t.Parallel()
	b := setupRetention(t, 7, 0)
	n := 2*engine.RetentionBatch + 3
	for i := range n {
		b.instance(t, engine.StatusCompleted, time.Duration(8*24+i)*time.Hour, false)
	}
	keep := b.instance(t, engine.StatusCompleted, 6*24*time.Hour, false)
	erased, err := b.retention.Run(context.Background())
	require.NoError(t, err)
	require.Equal(t, n, erased.FormData)
	require.Len(t, b.store.erasures, 4, "500, 500, 3, then none left")
	left := 0
	for _, in := range b.store.instances {
		if in.FormDataErasedAt == nil {
			left++
			require.Equal(t, keep.ID, in.ID)
		}
	}
	require.Equal(t, 1, left)
}

// TestRetentionErrors: a settings read or a store call that fails fails the run (the job is
// retried); the batches done before stay done.
func TestRetentionErrors(t *testing.T) {
	t.Parallel()
	b := setupRetention(t, 1, 1)
	b.settings.err = errors.New("database down")
	_, err := b.retention.Run(context.Background())
	require.ErrorContains(t, err, "database down")
	require.Empty(t, b.store.erasures)

	b = setupRetention(t, 1, 1)
	b.store.eraseFail = fmt.Errorf("%w: busy", engine.ErrConflict)
	_, err = b.retention.Run(context.Background())
	require.ErrorIs(t, err, engine.ErrConflict)
	require.Len(t, b.store.erasures, 1, "documents are not tried after the form data failed")

	// A cancelled context stops between batches.
	b = setupRetention(t, 1, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = b.retention.Run(ctx)
	require.ErrorIs(t, err, context.Canceled)
}

// TestSecuritySettingsRetentions: the retentions travel through the stored form; 0 (the
// default) keeps for ever, and a stored value out of range keeps for ever too.
func TestSecuritySettingsRetentions(t *testing.T) {
	t.Parallel()
	s := &memSettings{}
	read := func() engine.SecuritySettings {
		st, err := s.GetSettings(context.Background(), engine.SettingsSecurity)
		require.NoError(t, err)
		return engine.SecurityFrom(st)
	}
	got := read()
	require.Zero(t, got.FormDataRetentionDays)
	require.Zero(t, got.DocumentRetentionDays)
	require.Equal(t, engine.DefaultEventRetentionDays, got.EventRetentionDays)

	want := engine.SecuritySettings{EventRetentionDays: 30, FormDataRetentionDays: 365, DocumentRetentionDays: engine.MaxDataRetentionDays}
	s.plain, _ = json.Marshal(want.Plain())
	got = read()
	require.Equal(t, 365, got.FormDataRetentionDays)
	require.Equal(t, engine.MaxDataRetentionDays, got.DocumentRetentionDays)

	s.plain = []byte(`{"form_data_retention_days": -1, "document_retention_days": 36501}`)
	got = read()
	require.Zero(t, got.FormDataRetentionDays)
	require.Zero(t, got.DocumentRetentionDays)
}
