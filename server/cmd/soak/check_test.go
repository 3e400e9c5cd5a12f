package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/fakeproc"
	"github.com/flowhook/flowhook/server/internal/sandbox"
)

// TestReportOK: a soak passes only when it was quiescent and nothing was found.
func TestReportOK(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		r    report
		ok   bool
	}{
		{"quiescent, nothing found", report{quiet: 30 * time.Second}, true},
		{"never quiescent, nothing found", report{}, false},
		{"quiescent, something stranded", report{quiet: 30 * time.Second, stranded: []string{"1 process_event jobs left retryable"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.ok, tc.r.ok())
		})
	}
}

// checkBundle is a driver with nothing driven, on a migrated database, whose fake DocuSign
// posted the deliveries the test stores as events (so that none is lost or doubled).
type checkBundle struct {
	d  *driver
	db *pgxpool.Pool
}

func setupCheck(t *testing.T, quiet time.Duration, deliveries ...string) checkBundle {
	t.Helper()
	ctx := context.Background()
	db, err := pgxpool.New(ctx, dbtest.NewPostgres(t))
	require.NoError(t, err)
	t.Cleanup(db.Close)
	control := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		type delivery struct {
			ID         string `json:"id"`
			Event      string `json:"event"`
			StatusCode int    `json:"statusCode"`
		}
		list := []delivery{}
		if r.URL.Path == "/docusign/deliveries" {
			for _, id := range deliveries {
				list = append(list, delivery{ID: id, Event: "envelope-completed", StatusCode: http.StatusOK})
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"deliveries": list})
	}))
	t.Cleanup(control.Close)
	d := &driver{cfg: defaults(), db: db, fakes: fakeproc.Attach(fakeproc.URLs{Control: control.URL}, control.Client()),
		fakesKeep: sandbox.DefaultKeep, proxy: newProxy(nil, time.Second), logf: t.Logf, quiet: quiet}
	d.cfg.Instances = 0
	return checkBundle{d: d, db: db}
}

// job inserts a River job of kind in state; args as JSON.
func (b checkBundle) job(t *testing.T, kind, state, args string, scheduledAt time.Time) {
	t.Helper()
	_, err := b.db.Exec(context.Background(), `INSERT INTO river_job (kind, state, args, max_attempts, scheduled_at, finalized_at)
		VALUES ($1, $2::river_job_state, $3::jsonb, 25, $4, CASE WHEN $2 IN ('completed', 'cancelled', 'discarded') THEN now() END)`,
		kind, state, args, scheduledAt)
	require.NoError(t, err)
}

// event inserts a DocuSign webhook event with id external id ext and its verdict.
func (b checkBundle) event(t *testing.T, id, ext, verdict string, due bool) {
	t.Helper()
	var dueAt *time.Time
	if due {
		now := time.Now()
		dueAt = &now
	}
	_, err := b.db.Exec(context.Background(), `INSERT INTO webhook_events (id, provider, dedupe_key, event_type, external_id, body, received_at, verdict, due_at)
		VALUES ($1, 'DOCUSIGN', $2, 'envelope-completed', $2, '{}', now(), $3, $4)`, id, ext, verdict, dueAt)
	require.NoError(t, err)
}

// TestCheckReportsWhatIsLeft: every job in a state that is not final is reported (retryable,
// scheduled and pending too, not only running and available), but a timer waiting for its
// deadline and, once quiescent, a new run of a periodic job; every event left PENDING is
// reported, due or not, with a job or without one.
func TestCheckReportsWhatIsLeft(t *testing.T) {
	t.Parallel()
	const (
		applied  = "00000000-0000-0000-0000-000000000001"
		alone    = "00000000-0000-0000-0000-000000000002" // PENDING, no mark, no job
		withJob  = "00000000-0000-0000-0000-000000000003" // PENDING, its job snoozed
		due      = "00000000-0000-0000-0000-000000000004" // PENDING, due in-process
		orphaned = "00000000-0000-0000-0000-000000000005"
	)
	setup := func(t *testing.T, quiet time.Duration) checkBundle {
		b := setupCheck(t, quiet, "env-1", "env-2", "env-3", "env-4", "env-5")
		b.event(t, applied, "env-1", "APPLIED", false)
		b.event(t, alone, "env-2", "PENDING", false)
		b.event(t, withJob, "env-3", "PENDING", false)
		b.event(t, due, "env-4", "PENDING", true)
		b.event(t, orphaned, "env-5", "ORPHANED", false)
		now, later := time.Now(), time.Now().Add(time.Hour)
		b.job(t, "process_event", "scheduled", `{"event_id": "`+withJob+`"}`, later)
		b.job(t, "process_event", "retryable", `{"event_id": "`+applied+`"}`, later)
		b.job(t, "process_event", "completed", `{"event_id": "`+applied+`"}`, now)
		b.job(t, "create_work_item", "available", `{}`, now)
		b.job(t, "fetch_document", "running", `{}`, now)
		b.job(t, "cancel_work_item", "pending", `{}`, now)
		b.job(t, "cancel_work_item", "cancelled", `{}`, now)
		b.job(t, "fetch_document", "discarded", `{}`, now)
		b.job(t, "state_timeout", "scheduled", `{}`, later)               // waiting for its deadline
		b.job(t, "state_timeout", "scheduled", `{}`, now.Add(-time.Hour)) // overdue: stuck
		b.job(t, "sweep_events", "available", `{}`, now)
		b.job(t, "erase_by_retention", "scheduled", `{}`, later)
		return b
	}
	left := []string{
		"1 events stored PENDING left due, never processed",
		"2 events left PENDING, not due in-process: 1 with a process_event job not finished, 1 with none",
		"1 events left ORPHANED: no work item coupled to their id, yet each item at the fakes has one",
		"1 process_event jobs left scheduled",
		"1 process_event jobs left retryable",
		"1 create_work_item jobs left available",
		"1 fetch_document jobs left running",
		"1 cancel_work_item jobs left pending",
		"1 state_timeout jobs left scheduled",
	}

	t.Run("quiescent", func(t *testing.T) {
		t.Parallel()
		r, err := setup(t, 30*time.Second).d.check(context.Background())
		require.NoError(t, err)
		require.ElementsMatch(t, left, r.stranded)
		require.Empty(t, r.lost)
		require.Empty(t, r.doubled)
		require.Equal(t, map[string]int{"scheduled": 2, "retryable": 1, "available": 1, "running": 1, "pending": 1}, r.jobs)
		require.False(t, r.ok())
	})
	t.Run("not quiescent: the periodic jobs too", func(t *testing.T) {
		t.Parallel()
		r, err := setup(t, 0).d.check(context.Background())
		require.NoError(t, err)
		require.ElementsMatch(t, append(left, "1 sweep_events jobs left available", "1 erase_by_retention jobs left scheduled"), r.stranded)
		require.Equal(t, map[string]int{"scheduled": 3, "retryable": 1, "available": 2, "running": 1, "pending": 1}, r.jobs)
	})
	t.Run("nothing left", func(t *testing.T) {
		t.Parallel()
		b := setupCheck(t, 30*time.Second, "env-1")
		b.event(t, applied, "env-1", "APPLIED", false)
		b.job(t, "process_event", "completed", `{"event_id": "`+applied+`"}`, time.Now())
		b.job(t, "sweep_events", "running", `{}`, time.Now())
		r, err := b.d.check(context.Background())
		require.NoError(t, err)
		require.Empty(t, r.stranded)
		require.Empty(t, r.lost)
		require.Empty(t, r.doubled)
		require.True(t, r.ok())
	})
}

// TestUnsettled: what settle waits for counts every job check reports once quiescent, periodic
// ones too (one left over from the run keeps the soak from quiescence), and every event left
// PENDING, due or not; not a timer waiting for its deadline.
func TestUnsettled(t *testing.T) {
	t.Parallel()
	b := setupCheck(t, 0)
	count := func() int {
		open, left, err := b.d.unsettled(context.Background())
		require.NoError(t, err)
		require.Zero(t, open)
		return left
	}
	now, later := time.Now(), time.Now().Add(time.Hour)
	b.job(t, "process_event", "completed", `{}`, now)
	b.job(t, "state_timeout", "scheduled", `{}`, later)
	require.Zero(t, count(), "a finished job, a timer waiting for its deadline")
	b.event(t, "00000000-0000-0000-0000-000000000001", "env-1", "APPLIED", false)
	require.Zero(t, count(), "an event processed")
	b.event(t, "00000000-0000-0000-0000-000000000002", "env-2", "PENDING", false)
	require.Equal(t, 1, count(), "an event PENDING, neither due nor with a job")
	b.event(t, "00000000-0000-0000-0000-000000000003", "env-3", "PENDING", true)
	require.Equal(t, 2, count(), "an event due in-process")
	for i, state := range []string{"retryable", "scheduled", "pending", "available", "running"} {
		b.job(t, "process_event", state, `{}`, later)
		require.Equal(t, 3+i, count(), "a job %s", state)
	}
	b.job(t, "sweep_events", "running", `{}`, now)
	require.Equal(t, 8, count(), "a periodic job")
}

// TestCheckFakesListFull: a fake whose list of deliveries is as long as it keeps may have
// dropped older ones; those stored are then not reported as never posted, and the run fails
// saying why. Fakes that keep everything have no such limit.
func TestCheckFakesListFull(t *testing.T) {
	t.Parallel()
	ids := make([]string, sandbox.DefaultKeep)
	for i := range ids {
		ids[i] = "d-" + strconv.Itoa(i)
	}
	b := setupCheck(t, 30*time.Second, ids...)
	_, err := b.db.Exec(context.Background(), `INSERT INTO webhook_events (id, provider, dedupe_key, event_type, external_id, body, received_at, verdict)
		SELECT gen_random_uuid(), 'DOCUSIGN', 'd-' || i, 'envelope-completed', 'd-' || i, '{}', now(), 'APPLIED' FROM generate_series(0, $1 - 1) i`,
		sandbox.DefaultKeep)
	require.NoError(t, err)
	b.event(t, "00000000-0000-0000-0000-000000000001", "dropped-1", "APPLIED", false) // posted before the newest DefaultKeep
	r, err := b.d.check(context.Background())
	require.NoError(t, err)
	require.Empty(t, r.doubled)
	require.Empty(t, r.lost)
	require.Equal(t, []string{"docusign: the fake kept only its newest 10000 deliveries, older ones are not compared: drive fewer instances"}, r.stranded)
	require.False(t, r.ok())

	// Fakes keeping every delivery (the soak's own): as long a list is the whole story, and the
	// event stored that the fake never posted is reported.
	b.d.fakesKeep = fakesKeepAll
	r, err = b.d.check(context.Background())
	require.NoError(t, err)
	require.Empty(t, r.stranded)
	require.Equal(t, []string{"webhook docusign dropped-1 envelope-completed: stored, never posted by the fake"}, r.doubled)
	require.False(t, r.ok())
}
