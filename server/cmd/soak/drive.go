package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/flowhook/flowhook/client"
	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/fakeproc"
)

func newAPI(baseURL, apiKey string) *client.Client {
	return client.New(&http.Client{Timeout: time.Minute}, baseURL, apiKey)
}

// system is one fake as the driver sees it: its control API's paths and the actions that
// end an item one way or the other.
type system struct {
	name     string // the control API's prefix: docusign, onespan, tickets
	items    string // the item list's path and key
	idField  string
	complete []string // actions that end in the "done" state
	decline  []string // actions that end in the "rejected" state
	// progress is the action played first on a reordered item, so that progress is held and
	// posted after the outcome ("" at OneSpan, whose complete posts the signing's progress
	// itself, and whose one signer has no progress of its own before a decline).
	progress string
	provider flowhookv1.Provider
}

var systems = []system{
	{name: "docusign", items: "envelopes", idField: "envelopeId", complete: []string{"complete"}, decline: []string{"decline"}, progress: "deliver", provider: flowhookv1.Provider_PROVIDER_DOCUSIGN},
	{name: "onespan", items: "packages", idField: "packageId", complete: []string{"complete"}, decline: []string{"decline"}, provider: flowhookv1.Provider_PROVIDER_ONESPAN},
	{name: "tickets", items: "tickets", idField: "id", complete: []string{"resolve", "approve"}, decline: []string{"reject"}, progress: "comment", provider: flowhookv1.Provider_PROVIDER_CONNECTOR},
}

const connectorName = "tickets"

// act is what the driver did to one item at a fake.
type act struct {
	system  string
	id      string // as the fake names it
	action  string
	want    string // the end state it implies: done or rejected
	early   bool   // fired before flowhook coupled the item
	reorder bool   // its notifications posted newest first (after the system's progress action)
	at      time.Time
	err     string // the fake refused it (a conflict) or could not be reached
	pending bool   // planned, not fired yet
}

// chaosEvent is one kill or restart, as it happened.
type chaosEvent struct {
	what      string
	at, ready time.Duration // since the drive started; ready: when it served again
	err       string
}

// driver drives the instances, plays the providers' part and does the chaos.
type driver struct {
	cfg      config
	api      *client.Client
	fakes    *fakeproc.Fakes
	db       *pgxpool.Pool
	pg       *postgres
	proxy    *proxy
	replicas []*replica
	logf     func(string, ...any)
	// fakesKeep is how many deliveries each fake keeps (fakeproviders -keep; -1: all).
	fakesKeep int

	workflows []string // by system index

	mu        sync.Mutex
	instances map[string]int // instance id → index
	startErrs []string
	acts      map[string]*act // by lower-case "system/id"
	chaos     []chaosEvent
	rss       map[int][]int64 // by pid, kB
	begun     time.Time
	started   atomic.Int64

	stopBackground func()        // ends the actor and the sampler (set by drive)
	quiet          time.Duration // since begun, when settle found the soak quiescent (0: never)
}

func (d *driver) startedCount() int64 { return d.started.Load() }

// fakesKeepAll is fakeproviders' -keep for every delivery: the soak's own fakes keep them all.
const fakesKeepAll = -1

func (d *driver) actedCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, a := range d.acts {
		if !a.pending {
			n++
		}
	}
	return n
}

// setUp configures the three providers against the fakes, as the SDK's harness does, turns
// the webhook receiver's debug option on (every notification is kept, so that every one can
// be accounted for), sets the fakes' duplicates and publishes one workflow per provider.
func (d *driver) setUp(ctx context.Context) error {
	var ds struct {
		AccountID      string   `json:"accountId"`
		IntegrationKey string   `json:"integrationKey"`
		UserID         string   `json:"userId"`
		PrivateKeyPem  string   `json:"privateKeyPem"`
		HMACKeys       []string `json:"hmacKeys"`
	}
	if _, err := d.fakes.Control(ctx, "GET", "/docusign/account", nil, &ds); err != nil {
		return err
	}
	if _, err := d.api.Settings.UpdateDocuSignSettings(ctx, connect.NewRequest(&flowhookv1.UpdateDocuSignSettingsRequest{
		AccountId: ds.AccountID, IntegrationKey: ds.IntegrationKey, UserId: ds.UserID, OauthBaseUrl: d.fakes.URLs.DocuSign,
		PrivateKeyPem: &ds.PrivateKeyPem, HmacKeys: ds.HMACKeys, ReplaceHmacKeys: true})); err != nil {
		return fmt.Errorf("DocuSign settings: %w", err)
	}
	var one struct {
		APIKey string `json:"apiKey"`
	}
	if _, err := d.fakes.Control(ctx, "GET", "/onespan/account", nil, &one); err != nil {
		return err
	}
	callbackKey := randomKey(24, base64.RawURLEncoding)
	if _, err := d.api.Settings.UpdateOneSpanSettings(ctx, connect.NewRequest(&flowhookv1.UpdateOneSpanSettingsRequest{
		BaseUrl: d.fakes.URLs.OneSpan, ApiKey: &one.APIKey, CallbackKey: &callbackKey, RegisterCallback: true})); err != nil {
		return fmt.Errorf("OneSpan settings: %w", err)
	}
	conn, err := d.fakes.TicketConnector(ctx, connectorName, "Tickets")
	if err != nil {
		return err
	}
	if _, err := d.api.Settings.CreateConnector(ctx, connect.NewRequest(conn)); err != nil {
		return fmt.Errorf("connector: %w", err)
	}
	sec, err := d.api.Settings.GetSecuritySettings(ctx, connect.NewRequest(&flowhookv1.GetSecuritySettingsRequest{}))
	if err != nil {
		return err
	}
	if _, err := d.api.Settings.UpdateSecuritySettings(ctx, connect.NewRequest(&flowhookv1.UpdateSecuritySettingsRequest{
		WebhookReceiverDebug: true, ExpectedRevision: sec.Msg.GetSettings().GetRevision()})); err != nil {
		return fmt.Errorf("security settings: %w", err)
	}
	for _, s := range systems {
		if _, err := d.fakes.Control(ctx, "PUT", "/"+s.name+"/duplicates", map[string]int{"count": d.cfg.Duplicates}, nil); err != nil {
			return err
		}
		created, err := d.api.Design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: draft(s)}))
		if err != nil {
			return fmt.Errorf("workflow %s: %w", s.name, err)
		}
		w := created.Msg.GetWorkflow()
		if _, err := d.api.Design.PublishWorkflow(ctx, connect.NewRequest(&flowhookv1.PublishWorkflowRequest{
			WorkflowId: w.GetId(), ExpectedRevision: w.GetRevision()})); err != nil {
			return fmt.Errorf("publish %s: %w", s.name, err)
		}
		d.workflows = append(d.workflows, w.GetId())
	}
	return nil
}

// draft is a workflow of one external state at s: its outcomes lead to "done" or "rejected".
func draft(s system) *flowhookv1.WorkflowDraft {
	ext := &flowhookv1.ExternalStep{Provider: s.provider, DocumentTitle: "Soak " + s.name,
		Signers: []*flowhookv1.Signer{{NameField: "signer_name", EmailField: "signer_email"}}}
	if s.provider == flowhookv1.Provider_PROVIDER_CONNECTOR {
		ext = &flowhookv1.ExternalStep{Provider: s.provider, Connector: connectorName, DocumentTitle: "Soak tickets"}
	}
	return &flowhookv1.WorkflowDraft{
		Name: "Soak " + s.name,
		States: []*flowhookv1.State{
			{Key: "start", Name: "Request", Kind: flowhookv1.StateKind_STATE_KIND_START, FormFields: []*flowhookv1.FormField{
				{Name: "signer_name", Label: "Signer", Type: flowhookv1.FieldType_FIELD_TYPE_STRING, Required: true},
				{Name: "signer_email", Label: "Email", Type: flowhookv1.FieldType_FIELD_TYPE_EMAIL, Required: true}}},
			{Key: "external", Name: "At " + s.name, Kind: flowhookv1.StateKind_STATE_KIND_EXTERNAL, External: ext},
			{Key: "done", Name: "Done", Kind: flowhookv1.StateKind_STATE_KIND_END},
			{Key: "rejected", Name: "Rejected", Kind: flowhookv1.StateKind_STATE_KIND_END},
		},
		Transitions: []*flowhookv1.Transition{
			{Key: "submit", FromState: "start", ToState: "external"},
			{Key: "finished", FromState: "external", ToState: "done", OnOutcome: flowhookv1.Outcome_OUTCOME_FINISHED},
			{Key: "approved", FromState: "external", ToState: "done", OnOutcome: flowhookv1.Outcome_OUTCOME_APPROVED},
			{Key: "denied", FromState: "external", ToState: "rejected", OnOutcome: flowhookv1.Outcome_OUTCOME_DENIED},
		},
	}
}

// drive starts the instances over the first 80% of the duration, plays the fakes' side until
// every item was acted on, and does the chaos at random moments meanwhile.
func (d *driver) drive(ctx context.Context) error {
	d.instances, d.acts, d.rss = map[string]int{}, map[string]*act{}, map[int][]int64{}
	d.begun = time.Now()
	rng := rand.New(rand.NewPCG(uint64(d.cfg.Seed), 1))
	// The actor and the sampler go on while the soak settles (items created late, by a job
	// retried after a kill, are acted on too): settle stops them.
	bgCtx, cancel := context.WithCancel(ctx)
	var bg sync.WaitGroup
	d.stopBackground = func() { cancel(); bg.Wait() }
	bg.Go(func() { d.sampleRSS(bgCtx) })
	bg.Go(func() { d.actor(bgCtx, rand.New(rand.NewPCG(uint64(d.cfg.Seed), 2))) })
	var chaos sync.WaitGroup
	chaos.Go(func() { d.doChaos(ctx, rng) })

	// Instances, evenly spread.
	gap := time.Duration(float64(d.cfg.Duration) * 0.8 / float64(d.cfg.Instances))
	sem := make(chan struct{}, d.cfg.Concurrency)
	var starts sync.WaitGroup
	for i := range d.cfg.Instances {
		if err := wait(ctx, time.Until(d.begun.Add(time.Duration(i)*gap))); err != nil {
			break
		}
		sem <- struct{}{}
		starts.Go(func() {
			defer func() { <-sem }()
			d.startInstance(ctx, i)
		})
	}
	starts.Wait()
	chaos.Wait()
	return wait(ctx, time.Until(d.begun.Add(d.cfg.Duration)))
}

// startInstance starts instance i, retrying through outages with the same request id.
func (d *driver) startInstance(ctx context.Context, i int) {
	form, _ := structpb.NewStruct(map[string]any{"signer_name": "Signer " + strconv.Itoa(i), "signer_email": fmt.Sprintf("signer%d@example.com", i)})
	req := &flowhookv1.StartInstanceRequest{WorkflowId: d.workflows[i%len(systems)], FormData: form, RequestId: fmt.Sprintf("soak-%d", i)}
	deadline := time.Now().Add(2 * time.Minute)
	var last error
	for attempt := 0; time.Now().Before(deadline); attempt++ {
		res, err := d.api.Instances.StartInstance(ctx, connect.NewRequest(req))
		if err == nil {
			d.mu.Lock()
			d.instances[res.Msg.GetInstance().GetId()] = i
			d.mu.Unlock()
			d.started.Add(1)
			return
		}
		last = err
		if connect.CodeOf(err) == connect.CodeInvalidArgument || ctx.Err() != nil {
			break
		}
		if wait(ctx, time.Duration(min(attempt+1, 10))*100*time.Millisecond) != nil {
			break
		}
	}
	d.mu.Lock()
	d.startErrs = append(d.startErrs, fmt.Sprintf("instance %d: %v", i, last))
	d.mu.Unlock()
}

// actor plays the signers and agents: it lists the fakes' items, decides each one's fate when
// it appears, acts at once on the early ones and on the others once flowhook has coupled them.
func (d *driver) actor(ctx context.Context, rng *rand.Rand) {
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	defer wg.Wait()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		var ready []*act
		waiting := false
		for _, s := range systems {
			var list map[string][]map[string]any
			if _, err := d.fakes.Control(ctx, "GET", "/"+s.name+"/"+s.items, nil, &list); err != nil {
				continue
			}
			for _, item := range list[s.items] {
				id, _ := item[s.idField].(string)
				key := s.name + "/" + strings.ToLower(id)
				d.mu.Lock()
				a, seen := d.acts[key]
				if !seen {
					a = &act{system: s.name, id: id, pending: true, want: "done", early: rng.Float64() < d.cfg.Early,
						reorder: rng.Float64() < d.cfg.Reorder}
					choices := s.complete
					if rng.Float64() < d.cfg.Decline {
						choices, a.want = s.decline, "rejected"
					}
					a.action = choices[rng.IntN(len(choices))]
					d.acts[key] = a
				}
				if a.pending {
					if a.early {
						a.pending = false
						ready = append(ready, a)
					} else {
						waiting = true
					}
				}
				d.mu.Unlock()
			}
		}
		if waiting {
			coupled, err := d.coupled(ctx)
			if err == nil {
				d.mu.Lock()
				for key, a := range d.acts {
					if a.pending && coupled[key] {
						a.pending = false
						ready = append(ready, a)
					}
				}
				d.mu.Unlock()
			}
		}
		for _, a := range ready {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				d.fire(ctx, a)
			})
		}
	}
}

// coupled returns the items flowhook has coupled to a work item, as "system/id" lower-case.
func (d *driver) coupled(ctx context.Context) (map[string]bool, error) {
	rows, err := d.db.Query(ctx, `SELECT provider, lower(external_id) FROM work_items WHERE external_id IS NOT NULL`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var provider, id string
		if err := rows.Scan(&provider, &id); err != nil {
			return nil, err
		}
		out[systemOf(provider)+"/"+id] = true
	}
	return out, rows.Err()
}

// systemOf names a work item's provider as the fakes' control API does.
func systemOf(provider string) string {
	switch {
	case provider == "DOCUSIGN":
		return "docusign"
	case provider == "ONESPAN":
		return "onespan"
	case strings.HasPrefix(provider, "connector:"):
		return "tickets"
	}
	return strings.ToLower(provider)
}

// fire plays one action at the fake; the fake answers once its notifications are posted. A
// reordered item gets its system's progress action first, both with {"reorder": true}: the
// fake holds the item's notifications until the outcome, then posts them newest first.
func (d *driver) fire(ctx context.Context, a *act) {
	at := time.Now()
	s := systemNamed(a.system)
	steps := []string{a.action}
	var body any
	if a.reorder {
		body = map[string]any{"reorder": true, "reason": "soak"}
		if s.progress != "" {
			steps = []string{s.progress, a.action}
		}
	}
	var err error
	for _, step := range steps {
		for attempt := range 5 {
			var status int
			status, err = d.fakes.Control(ctx, "POST", "/"+a.system+"/"+s.items+"/"+a.id+"/"+step, body, nil)
			if err == nil || status != 0 || ctx.Err() != nil {
				break
			}
			_ = wait(ctx, time.Duration(attempt+1)*200*time.Millisecond)
		}
		if err != nil {
			break
		}
	}
	d.mu.Lock()
	a.at = at
	if err != nil {
		a.err = err.Error()
	}
	d.mu.Unlock()
}

func systemNamed(name string) system {
	for _, s := range systems {
		if s.name == name {
			return s
		}
	}
	return system{}
}

// doChaos kills replicas and crashes PostgreSQL at random moments between 10% and 70% of the
// duration, one at a time; each is started again and waited for.
func (d *driver) doChaos(ctx context.Context, rng *rand.Rand) {
	type planned struct {
		at   time.Duration
		kill bool
	}
	var plan []planned
	for i := range d.cfg.Kills + d.cfg.Restarts {
		at := time.Duration((0.1 + 0.6*rng.Float64()) * float64(d.cfg.Duration))
		plan = append(plan, planned{at: at, kill: i < d.cfg.Kills})
	}
	sort.Slice(plan, func(i, j int) bool { return plan[i].at < plan[j].at })
	for _, p := range plan {
		if wait(ctx, time.Until(d.begun.Add(p.at))) != nil {
			return
		}
		ev := chaosEvent{at: time.Since(d.begun)}
		if p.kill {
			r := d.replicas[rng.IntN(len(d.replicas))]
			ev.what = fmt.Sprintf("SIGKILL replica %d", r.index)
			d.proxy.setLive(r.index, false)
			r.kill()
			if err := r.start(ctx); err != nil {
				ev.err = err.Error()
			}
			d.proxy.setLive(r.index, true)
		} else {
			ev.what = "PostgreSQL -m immediate"
			if err := d.pg.crash(ctx); err != nil {
				ev.err = err.Error()
			}
			if err := d.pg.start(ctx); err != nil {
				ev.err = err.Error()
			}
		}
		ev.ready = time.Since(d.begun)
		d.logf("%s at %.1fs, serving again at %.1fs %s", ev.what, ev.at.Seconds(), ev.ready.Seconds(), ev.err)
		d.mu.Lock()
		d.chaos = append(d.chaos, ev)
		d.mu.Unlock()
	}
}

// sampleRSS reads each live replica's resident memory once a second.
func (d *driver) sampleRSS(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		for _, r := range d.replicas {
			if r.exited() {
				continue
			}
			pid := r.pid()
			if kb, ok := vmRSS(pid); ok {
				d.mu.Lock()
				d.rss[pid] = append(d.rss[pid], kb)
				d.mu.Unlock()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// vmRSS is a process's VmRSS in kB, from /proc/<pid>/status.
func vmRSS(pid int) (int64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// settle waits until every instance has ended, no job is left to run — running, available,
// or waiting for its time (retryable after a failure during a crash, scheduled, snoozed; every
// kind, periodic ones too, but a timer waiting for its deadline: jobsLeft) — and no event is
// left PENDING or due in-process, on two polls a second apart, or the settle time is up; then
// it stops the actor and the sampler. A single quiet poll is not enough: a job that failed
// while PostgreSQL was down is retryable for a few seconds, and a late duplicate from a fake
// makes a new one.
func (d *driver) settle(ctx context.Context) {
	defer d.stopBackground()
	deadline := time.Now().Add(d.cfg.Settle)
	quietPolls := 0
	for time.Now().Before(deadline) {
		open, jobs, err := d.unsettled(ctx)
		if err == nil && open == 0 && jobs == 0 && d.started.Load() == int64(d.cfg.Instances) {
			if quietPolls++; quietPolls == 2 {
				d.quiet = time.Since(d.begun)
				d.logf("quiescent")
				return
			}
		} else {
			quietPolls = 0
		}
		if err == nil && (open > 0 || jobs > 0) {
			d.logf("settling: %d instances open, %d jobs (or events PENDING) not finished", open, jobs)
		}
		// What a fake holds after a failed delivery would wait for its daily retry: ask for it
		// now (the fakes' "redeliver now"; nothing when nothing is held).
		for _, s := range systems {
			_, _ = d.fakes.Control(ctx, "POST", "/"+s.name+"/redeliver", nil, nil)
		}
		if wait(ctx, time.Second) != nil {
			return
		}
	}
	d.logf("not quiescent after %s", d.cfg.Settle)
}

// unsettled counts what keeps the soak from quiescence: the instances open, and the jobs left
// (jobsLeft) with the events PENDING or due in-process.
func (d *driver) unsettled(ctx context.Context) (open, left int, err error) {
	err = d.db.QueryRow(ctx, `SELECT (SELECT count(*) FROM instances WHERE ended_at IS NULL),
		(SELECT count(*) FROM river_job WHERE `+jobsLeft+`)
		  + (SELECT count(*) FROM webhook_events WHERE verdict = 'PENDING' OR due_at IS NOT NULL)`).Scan(&open, &left)
	return open, left, err
}
