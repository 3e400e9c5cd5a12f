package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/worker"
)

// report is what the check found.
type report struct {
	cfg                         config
	elapsed                     time.Duration
	instances, started          int
	ends                        map[string]int // end state → instances
	early, reordered            int
	multi                       int            // reordered items with progress to post after the outcome
	outcomeFirst                int            // reordered items whose outcome reached flowhook before a progress event
	late                        map[string]int // verdict → events received after their work item's outcome event
	deliveries, distinct, acked int            // notifications posted (duplicates included), distinct, acknowledged distinct
	stored                      int            // webhook_events rows (not REJECTED)
	chaos                       []chaosEvent
	lost, doubled, stranded     []string
	latencies                   []time.Duration
	jobs                        map[string]int // River job state → count, of the jobs left (see jobsLeft)
	// documents of finished DocuSign and OneSpan work items: kept, or still due (marked for
	// the in-process fetch, or handed to a job, which the sweep does after its grace)
	documentsKept, documentsDue int
	memory                      []string
	grew                        []string // replicas whose memory was not flat
	judged                      int      // replicas with enough samples to judge
	retried                     int64
	quiet, driving              time.Duration // when the soak was quiescent (0: never), and the driving phase
}

// ok: nothing lost, doubled, stranded or grown, and the soak quiescent. A soak never
// quiescent (settle gave up) still had instances open, jobs to run or events to process when
// it was checked: what the check could not see yet is not a pass.
func (r *report) ok() bool {
	return r.quiet > 0 && len(r.lost)+len(r.doubled)+len(r.stranded)+len(r.grew) == 0
}

// jobsLeft is the condition on river_job of the jobs a quiescent soak has none of: every job
// in a state that is not final (running, available, pending, retryable after a failure,
// scheduled, snoozed), but a state's timer waiting for its deadline. StateTimeoutJob is
// scheduled for the deadline in the transaction that enters the state, and leaving the state
// makes it a no-op, not a cancelled job: an instance that ended before its deadline leaves it
// scheduled until then (the soak's workflows have no timeouts; one that had would never be
// quiescent without this). Settle waits for none left; check reports those left.
var jobsLeft = `state NOT IN ('completed', 'cancelled', 'discarded')
	AND NOT (kind = '` + engine.StateTimeoutJob{}.Kind() + `' AND state = 'scheduled' AND scheduled_at > now())`

// periodicKinds are the jobs River's periodic enqueuer inserts on the leader's schedule: the
// sweeps of marks (every 15 s or a minute, and when a replica becomes leader) and the
// housekeeping (purge, reconcile, erase by retention). A new run of one may be available,
// running or snoozed at any moment of normal operation, so once the soak was quiescent (settle
// counted every kind, so none was left over from the run) check does not count them. When it
// was not, they are reported like any other: a sweep or a housekeeping run stranded by a kill
// is what kept it from quiescence.
var periodicKinds = []string{
	worker.SweepCreationsJob{}.Kind(), worker.SweepEventsJob{}.Kind(), worker.SweepDocumentsJob{}.Kind(),
	engine.PurgeEventLogJob{}.Kind(), engine.ReconcileJob{}.Kind(), engine.RetentionJob{}.Kind(),
}

// check compares the database with the fakes once the soak settled. Read-only.
func (d *driver) check(ctx context.Context) (*report, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r := &report{cfg: d.cfg, instances: d.cfg.Instances, started: int(d.started.Load()), ends: map[string]int{},
		chaos: d.chaos, jobs: map[string]int{}, late: map[string]int{}, retried: d.proxy.retried.Load(), quiet: d.quiet, driving: d.cfg.Duration}
	for _, e := range d.startErrs {
		r.stranded = append(r.stranded, "not started: "+e)
	}
	for _, c := range d.chaos {
		if c.err != "" {
			r.stranded = append(r.stranded, fmt.Sprintf("%s: %s", c.what, c.err))
		}
	}

	// What the fakes posted: distinct notifications, and whether any copy was acknowledged.
	type note struct{ system, id, event string }
	acked := map[note]bool{}
	full := map[string]bool{} // systems whose fake kept only its newest deliveries
	for _, s := range systems {
		var list struct {
			Deliveries []struct {
				ID         string `json:"id"`
				Event      string `json:"event"`
				StatusCode int    `json:"statusCode"`
			} `json:"deliveries"`
		}
		if _, err := d.fakes.Control(ctx, "GET", "/"+s.name+"/deliveries", nil, &list); err != nil {
			return nil, err
		}
		// Fakes that keep only their newest deliveries (d.fakesKeep; the soak starts its own
		// keeping all): a list that long may have lost older ones, which the comparison below
		// would take for notifications stored and never posted.
		if d.fakesKeep > 0 && len(list.Deliveries) >= d.fakesKeep {
			full[s.name] = true
			r.stranded = append(r.stranded, fmt.Sprintf("%s: the fake kept only its newest %d deliveries, older ones are not compared: drive fewer instances",
				s.name, len(list.Deliveries)))
		}
		for _, dl := range list.Deliveries {
			r.deliveries++
			n := note{s.name, strings.ToLower(dl.ID), dl.Event}
			acked[n] = acked[n] || (dl.StatusCode >= 200 && dl.StatusCode < 300)
		}
	}
	r.distinct = len(acked)
	for _, ok := range acked {
		if ok {
			r.acked++
		}
	}

	// What flowhook stored.
	stored := map[note]int{}
	rows, err := d.db.Query(ctx, `SELECT provider, lower(external_id), event_type, count(*) FROM webhook_events
		WHERE verdict <> 'REJECTED' GROUP BY 1, 2, 3`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var provider, id, event string
		var n int
		if err := rows.Scan(&provider, &id, &event, &n); err != nil {
			return nil, err
		}
		stored[note{systemOf(provider), id, event}] = n
		r.stored += n
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for n, ok := range acked {
		switch c := stored[n]; {
		case !ok:
			r.stranded = append(r.stranded, fmt.Sprintf("webhook %s %s %s: never acknowledged (the fake holds it for its daily retry)", n.system, n.id, n.event))
		case c == 0:
			r.lost = append(r.lost, fmt.Sprintf("webhook %s %s %s: acknowledged, not stored", n.system, n.id, n.event))
		case c > 1:
			r.doubled = append(r.doubled, fmt.Sprintf("webhook %s %s %s: stored %d times", n.system, n.id, n.event, c))
		}
	}
	for n, c := range stored {
		if _, ok := acked[n]; !ok && c > 0 && !full[n.system] {
			r.doubled = append(r.doubled, fmt.Sprintf("webhook %s %s %s: stored, never posted by the fake", n.system, n.id, n.event))
		}
	}

	// Instances, their work items and their outcomes.
	type inst struct {
		state, status string
		ended         bool
		items         []string // "system/id" of work items ("" for one not coupled)
		wiStatus      []string
		outcomes      int
		outcomeAt     time.Time
	}
	insts := map[string]*inst{}
	rows, err = d.db.Query(ctx, `SELECT i.id::text, i.state_key, i.status, i.ended_at IS NOT NULL,
			(SELECT count(*) FROM activities a WHERE a.instance_id = i.id AND a.kind = 'OUTCOME'),
			coalesce((SELECT min(a.created_at) FROM activities a WHERE a.instance_id = i.id AND a.kind = 'OUTCOME'), 'epoch')
		FROM instances i`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id string
		in := &inst{}
		if err := rows.Scan(&id, &in.state, &in.status, &in.ended, &in.outcomes, &in.outcomeAt); err != nil {
			return nil, err
		}
		insts[id] = in
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = d.db.Query(ctx, `SELECT instance_id::text, provider, lower(coalesce(external_id, '')), status FROM work_items`)
	if err != nil {
		return nil, err
	}
	owner := map[string]string{} // "system/id" → instance
	for rows.Next() {
		var instID, provider, ext, status string
		if err := rows.Scan(&instID, &provider, &ext, &status); err != nil {
			return nil, err
		}
		key := ""
		if ext != "" {
			key = systemOf(provider) + "/" + ext
			owner[key] = instID
		}
		if in := insts[instID]; in != nil {
			in.items = append(in.items, key)
			in.wiStatus = append(in.wiStatus, status)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}

	// Every item at a fake belongs to exactly one work item; what was done to it decides
	// where its instance ends.
	want := map[string]*act{}
	for key, a := range d.acts {
		if a.early {
			r.early++
		}
		if a.reorder && !a.pending {
			r.reordered++
			// A OneSpan decline is one callback: nothing to reorder.
			if a.system != "onespan" || a.want == "done" {
				r.multi++
			}
		}
		id, ok := owner[key]
		if !ok {
			r.doubled = append(r.doubled, fmt.Sprintf("%s: an item at the fake no work item is coupled to (created twice?)", key))
			continue
		}
		want[id] = a
		if a.err != "" {
			r.stranded = append(r.stranded, fmt.Sprintf("%s: %s refused: %s", key, a.action, a.err))
		}
	}
	if len(insts) != r.started {
		r.doubled = append(r.doubled, fmt.Sprintf("%d instances in the database, %d started", len(insts), r.started))
	}
	for id, in := range insts {
		r.ends[in.state]++
		if len(in.items) != 1 {
			r.doubled = append(r.doubled, fmt.Sprintf("instance %s: %d work items for its one external step", id, len(in.items)))
		}
		if slices.Contains(in.items, "") {
			r.stranded = append(r.stranded, fmt.Sprintf("instance %s: a work item never coupled to an item at the provider", id))
		}
		a := want[id]
		switch {
		case a == nil:
			r.stranded = append(r.stranded, fmt.Sprintf("instance %s: in %s, %s; nothing was acted on at the provider", id, in.state, in.status))
			continue
		case a.pending:
			r.stranded = append(r.stranded, fmt.Sprintf("instance %s: its %s %s was never acted on", id, a.system, a.id))
			continue
		case in.outcomes == 0:
			r.lost = append(r.lost, fmt.Sprintf("instance %s: %s %s %s, no outcome applied (%s in %s)", id, a.system, a.action, a.id, in.status, in.state))
		case in.outcomes > 1:
			r.doubled = append(r.doubled, fmt.Sprintf("instance %s: %d outcomes applied", id, in.outcomes))
		}
		if !in.ended || in.state != a.want {
			r.stranded = append(r.stranded, fmt.Sprintf("instance %s: %s in %q, want ended in %q (%s %s %s)", id, in.status, in.state, a.want, a.system, a.action, a.id))
		}
		if in.outcomes > 0 && !a.early && !a.at.IsZero() {
			r.latencies = append(r.latencies, in.outcomeAt.Sub(a.at))
		}
	}
	sort.Slice(r.latencies, func(i, j int) bool { return r.latencies[i] < r.latencies[j] })

	// Events that arrived after their work item's outcome (reordered progress, late events of
	// other kinds) must not take effect: one received once the outcome was applied (resolved_at)
	// is STALE or DUPLICATE, never APPLIED or PROGRESS. One received after the outcome but
	// before it was applied (both PENDING before the coupling, say) may come first in the
	// processing, as PROGRESS: it cannot move the instance, and the outcome is checked above.
	// received_at and resolved_at are both the replicas' clock, on this one host.
	rows, err = d.db.Query(ctx, `SELECT w.provider, lower(w.external_id), e.event_type, e.verdict, e.received_at > w.resolved_at
		FROM webhook_events e
		JOIN work_items w ON e.work_item_id = w.id::text
		JOIN webhook_events o ON o.work_item_id = e.work_item_id AND o.verdict = 'APPLIED' AND o.id <> e.id
		WHERE w.resolved_at IS NOT NULL AND e.verdict <> 'REJECTED' AND (e.received_at > o.received_at OR e.received_at > w.resolved_at)`)
	if err != nil {
		return nil, err
	}
	first := map[string]bool{}
	for rows.Next() {
		var provider, id, event, verdict string
		var applied bool
		if err := rows.Scan(&provider, &id, &event, &verdict, &applied); err != nil {
			return nil, err
		}
		key := systemOf(provider) + "/" + id
		r.late[verdict]++
		if applied && (verdict == "APPLIED" || verdict == "PROGRESS") {
			r.doubled = append(r.doubled, fmt.Sprintf("webhook %s %s: received after the outcome was applied, yet %s", key, event, verdict))
		}
		if a := d.acts[key]; a != nil && a.reorder {
			first[key] = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	r.outcomeFirst = len(first)
	if d.cfg.Verbose {
		// A few reordered items flowhook did not see outcome first, with their events in the
		// order received: why (a failed delivery redelivered later, one notification only).
		shown := 0
		for key, a := range d.acts {
			if !a.reorder || a.pending || first[key] || shown == 5 {
				continue
			}
			shown++
			var trail []string
			rows, err := d.db.Query(ctx, `SELECT event_type, verdict, work_item_id <> '' FROM webhook_events
				WHERE lower(external_id) = $1 ORDER BY received_at`, strings.ToLower(a.id))
			if err != nil {
				return nil, err
			}
			for rows.Next() {
				var event, verdict string
				var matched bool
				if err := rows.Scan(&event, &verdict, &matched); err != nil {
					return nil, err
				}
				trail = append(trail, fmt.Sprintf("%s %s matched=%t", event, verdict, matched))
			}
			if err := rows.Err(); err != nil {
				return nil, err
			}
			d.logf("reordered %s (%s, early %t) not seen outcome first: %s", key, a.action, a.early, strings.Join(trail, "; "))
		}
	}

	// Signed documents: every finished work item of a provider that keeps one has its document,
	// or its mark (a replica killed before the fetch leaves it for the sweep), or a fetch job.
	rows, err = d.db.Query(ctx, `SELECT w.id::text, d.work_item_id IS NOT NULL,
	    w.document_due_at IS NOT NULL OR EXISTS (SELECT 1 FROM river_job j WHERE j.kind = 'fetch_document'
	      AND j.args->>'work_item_id' = w.id::text AND j.state NOT IN ('completed', 'discarded', 'cancelled'))
	  FROM work_items w LEFT JOIN signed_documents d ON d.work_item_id = w.id
	  WHERE w.status = 'RESOLVED' AND w.outcome = 'FINISHED' AND w.provider IN ('DOCUSIGN', 'ONESPAN')`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id string
		var kept, due bool
		if err := rows.Scan(&id, &kept, &due); err != nil {
			return nil, err
		}
		switch {
		case kept:
			r.documentsKept++
		case due:
			r.documentsDue++
		default:
			r.lost = append(r.lost, fmt.Sprintf("work item %s: finished, its signed document neither kept nor due", id))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}

	// Events not processed. Still due in-process: a replica died with them queued and the
	// sweep has not handed them to jobs yet. PENDING without the mark: handed to a job not
	// finished, or to none (then nothing would ever process them, and settle, which counts
	// them, was not quiescent). ORPHANED: its id found no work item, yet every item at the
	// fakes is coupled to one (the coupling picks an ORPHANED event up again).
	// UNPARSEABLE: the fakes post only what flowhook reads.
	var due, pending, withJob, orphaned, unparseable int
	if err := d.db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE due_at IS NOT NULL),
			count(*) FILTER (WHERE verdict = 'PENDING' AND due_at IS NULL),
			count(*) FILTER (WHERE verdict = 'PENDING' AND due_at IS NULL AND EXISTS (SELECT 1 FROM river_job j
			  WHERE j.kind = $1 AND j.args->>'event_id' = e.id::text AND j.state NOT IN ('completed', 'cancelled', 'discarded'))),
			count(*) FILTER (WHERE verdict = 'ORPHANED'),
			count(*) FILTER (WHERE verdict = 'UNPARSEABLE')
		FROM webhook_events e`, engine.ProcessEventJob{}.Kind()).Scan(&due, &pending, &withJob, &orphaned, &unparseable); err != nil {
		return nil, err
	}
	if due > 0 {
		r.stranded = append(r.stranded, fmt.Sprintf("%d events stored PENDING left due, never processed", due))
	}
	if pending > 0 {
		r.stranded = append(r.stranded, fmt.Sprintf("%d events left PENDING, not due in-process: %d with a %s job not finished, %d with none",
			pending, withJob, engine.ProcessEventJob{}.Kind(), pending-withJob))
	}
	if orphaned > 0 {
		r.stranded = append(r.stranded, fmt.Sprintf("%d events left ORPHANED: no work item coupled to their id, yet each item at the fakes has one", orphaned))
	}
	if unparseable > 0 {
		r.lost = append(r.lost, fmt.Sprintf("%d events UNPARSEABLE", unparseable))
	}
	// Jobs left, but new runs of the periodic ones once quiescent (periodicKinds).
	rows, err = d.db.Query(ctx, `SELECT state::text, kind, count(*) FROM river_job
		WHERE `+jobsLeft+` AND NOT ($1 AND kind = ANY($2)) GROUP BY 1, 2`, r.quiet > 0, periodicKinds)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var state, kind string
		var n int
		if err := rows.Scan(&state, &kind, &n); err != nil {
			return nil, err
		}
		r.jobs[state] += n
		r.stranded = append(r.stranded, fmt.Sprintf("%d %s jobs left %s", n, kind, state))
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}

	// Memory of the replicas still running: flat, or grown.
	for _, rep := range d.replicas {
		if rep.exited() {
			r.stranded = append(r.stranded, fmt.Sprintf("replica %d exited by itself", rep.index))
			continue
		}
		s := d.rss[rep.pid()]
		m := judgeMemory(s)
		line := fmt.Sprintf("replica %d (pid %d, %d samples): first %d MB, last %d MB, max %d MB", rep.index, rep.pid(), len(s),
			first0(s)/1024, last0(s)/1024, max0(s)/1024)
		switch {
		case m.samples < minMemorySamples:
			line += fmt.Sprintf("; too few samples to judge (want %d)", minMemorySamples)
		default:
			line += fmt.Sprintf("; median first third %d MB, last third %d MB: %s", m.early/1024, m.late/1024, m.verdict())
		}
		if m.samples >= minMemorySamples {
			r.judged++
		}
		if m.grew() {
			r.grew = append(r.grew, line)
		}
		r.memory = append(r.memory, line)
	}
	return r, nil
}

// Memory is judged by the medians of a replica's first and last thirds of samples (one a
// second, from its start or restart to quiescence): it grew when the last third's median is
// above both growthFactor × the first third's and the first third's + growthSlack. Medians,
// not single samples, so that one GC cycle's peak or one scavenge does not decide. Both bounds
// at once: the ratio alone would flag a 50-second run, whose first third still holds the
// climb from the start-up RSS (~30 MB) to the working set under load, and a Go heap grows to
// about twice its live size between collections (GOGC=100); the slack alone would not scale.
// A leak is caught once it passes 64 MB: over 2,000 instances, about 32 KB each.
const (
	growthFactor     = 1.5
	growthSlack      = 64 << 10 // kB
	minMemorySamples = 9        // three a third
)

type memoryJudgement struct {
	samples     int
	early, late int64 // kB: medians of the first and last thirds
}

func judgeMemory(kb []int64) memoryJudgement {
	m := memoryJudgement{samples: len(kb)}
	if len(kb) < minMemorySamples {
		return m
	}
	third := len(kb) / 3
	m.early, m.late = median(kb[:third]), median(kb[len(kb)-third:])
	return m
}

func (m memoryJudgement) grew() bool {
	return m.samples >= minMemorySamples && float64(m.late) > growthFactor*float64(m.early) && m.late-m.early > growthSlack
}

func (m memoryJudgement) verdict() string {
	if m.grew() {
		return fmt.Sprintf("GREW (over %.1f× and +%d MB)", growthFactor, growthSlack>>10)
	}
	return fmt.Sprintf("flat (bound: %.1f× and +%d MB)", growthFactor, growthSlack>>10)
}

// median of kB samples (the lower middle for an even count); the slice is not changed.
func median(kb []int64) int64 {
	s := slices.Clone(kb)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

func first0(s []int64) int64 {
	if len(s) == 0 {
		return 0
	}
	return s[0]
}

func last0(s []int64) int64 {
	if len(s) == 0 {
		return 0
	}
	return s[len(s)-1]
}

func max0(s []int64) int64 {
	if len(s) == 0 {
		return 0
	}
	return slices.Max(s)
}

// print writes the table, then the first problems of each kind.
// counts is m's entries, each as format makes it of its key (%[1]s) and count (%[2]d), sorted
// and comma separated; none when m is empty.
func counts(m map[string]int, format, none string) string {
	out := make([]string, 0, len(m))
	for k, n := range m {
		out = append(out, fmt.Sprintf(format, k, n))
	}
	if len(out) == 0 {
		return none
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

func (r *report) print(w io.Writer) {
	c := r.cfg
	row := func(name, format string, args ...any) {
		fmt.Fprintf(w, "  %-16s %s\n", name, fmt.Sprintf(format, args...))
	}
	verdict := "PASS"
	if !r.ok() {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "soak %s: %d replicas, duplicates ×%d, seed %d, %s\n", verdict, c.Replicas, c.Duplicates, c.Seed, r.elapsed.Round(100*time.Millisecond))
	row("instances", "%d started of %d (%s; %d items acted on early)", r.started, r.instances, counts(r.ends, "%[1]s %[2]d", ""), r.early)
	row("reordered", "%d items newest first (%d with progress to post after the outcome), %d seen outcome first by flowhook",
		r.reordered, r.multi, r.outcomeFirst)
	row("after outcome", "events received after their item's outcome: %s (none may take effect once it is applied)", counts(r.late, "%[1]s %[2]d", "none"))
	row("webhooks", "%d posted, %d distinct, %d acknowledged, %d stored", r.deliveries, r.distinct, r.acked, r.stored)
	kills, restarts := 0, 0
	for _, e := range r.chaos {
		if strings.HasPrefix(e.what, "SIGKILL") {
			kills++
		} else {
			restarts++
		}
	}
	row("kills", "%d", kills)
	row("restarts", "%d", restarts)
	for _, e := range r.chaos {
		row("", "%s at %.1fs, serving again at %.1fs", e.what, e.at.Seconds(), e.ready.Seconds())
	}
	row("proxy retries", "%d", r.retried)
	if r.quiet > 0 {
		row("quiescent", "at %.1fs (driving ended at %.1fs)", r.quiet.Seconds(), r.driving.Seconds())
	} else {
		row("quiescent", "never, within -settle %s", r.cfg.Settle)
	}
	row("lost", "%d", len(r.lost))
	row("doubled", "%d", len(r.doubled))
	row("stranded", "%d", len(r.stranded))
	row("jobs left", "%s", counts(r.jobs, "%[2]d %[1]s", "none"))
	row("signed documents", "%d kept, %d still due (the sweep hands a mark to a job after its grace)", r.documentsKept, r.documentsDue)
	row("latency", "p50 %s, p99 %s, max %s (action at the fake to outcome applied; %d instances)",
		percentile(r.latencies, 50).Round(time.Millisecond), percentile(r.latencies, 99).Round(time.Millisecond),
		percentile(r.latencies, 100).Round(time.Millisecond), len(r.latencies))
	memory := "flat"
	switch {
	case len(r.grew) > 0:
		memory = fmt.Sprintf("GREW on %d replica(s)", len(r.grew))
	case r.judged == 0:
		memory = "not judged (too few samples)"
	}
	row("memory", "%s (RSS of the replicas running at the end, sampled every second)", memory)
	for _, m := range r.memory {
		row("", "%s", m)
	}
	for _, p := range []struct {
		name string
		list []string
	}{{"lost", r.lost}, {"doubled", r.doubled}, {"stranded", r.stranded}, {"grew", r.grew}} {
		sort.Strings(p.list)
		for i, s := range p.list {
			if i == 10 {
				fmt.Fprintf(w, "  … and %d more %s\n", len(p.list)-10, p.name)
				break
			}
			fmt.Fprintf(w, "  %s: %s\n", p.name, s)
		}
	}
}
