package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/flowhook/flowhook/client"
	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/fakeproc"
)

// system is one outside system as the tool drives it.
type system struct {
	name     string // docusign, onespan, connector
	provider flowhookv1.Provider
}

var systems = []system{
	{"docusign", flowhookv1.Provider_PROVIDER_DOCUSIGN},
	{"onespan", flowhookv1.Provider_PROVIDER_ONESPAN},
	{"connector", flowhookv1.Provider_PROVIDER_CONNECTOR},
}

// bench is flowhook as set up for one run: the clients, the credentials the webhooks are
// signed with, and the workflows.
type bench struct {
	baseURL string   // the replica the set-up talks to (the first of urls)
	urls    []string // every replica: the timed requests go round robin
	hc      *http.Client
	admin   *client.Client
	user    *client.Client   // the assignee of the HUMAN workflow
	admins  []*client.Client // admin and user at each replica, in the order of urls
	users   []*client.Client
	rr      atomic.Uint64
	fakes   *fakeproc.Fakes
	suffix  string
	logf    func(string, ...any)

	adminKey        string
	docuSignAccount string
	docuSignHMAC    string
	oneSpanKey      string // the callback key
	connector       string // its name
	startExternal   string // the workflow start-external starts
	connectorSecret string

	external map[string]string // workflow id by system name
	human    string            // the HUMAN workflow's id

	ingestSize int    // items in an ingest pool
	vacuumDB   string // -vacuum-db
	baseline   string // -baseline

	mu    sync.Mutex
	pools map[string][]item // ingest pools by system, kept across a sweep
}

// item is an instance prepared for a scenario.
type item struct {
	instanceID string
	externalID string
	revision   int64
}

// setUp points DocuSign, OneSpan and a new connector at the fakes, creates the assignee with
// a key of its own, and publishes the workflows: one EXTERNAL state per system, and one
// HUMAN state.
func setUp(ctx context.Context, b *bench) error {
	var ds struct {
		AccountID      string   `json:"accountId"`
		IntegrationKey string   `json:"integrationKey"`
		UserID         string   `json:"userId"`
		PrivateKeyPem  string   `json:"privateKeyPem"`
		HMACKeys       []string `json:"hmacKeys"`
	}
	if _, err := b.fakes.Control(ctx, "GET", "/docusign/account", nil, &ds); err != nil {
		return err
	}
	if len(ds.HMACKeys) == 0 {
		return fmt.Errorf("the DocuSign fake has no HMAC key")
	}
	b.docuSignAccount, b.docuSignHMAC = ds.AccountID, ds.HMACKeys[0]
	dsNow, err := b.admin.Settings.GetDocuSignSettings(ctx, connect.NewRequest(&flowhookv1.GetDocuSignSettingsRequest{}))
	if err != nil {
		return fmt.Errorf("DocuSign settings: %w", err)
	}
	if _, err := b.admin.Settings.UpdateDocuSignSettings(ctx, connect.NewRequest(&flowhookv1.UpdateDocuSignSettingsRequest{
		AccountId: ds.AccountID, IntegrationKey: ds.IntegrationKey, UserId: ds.UserID, OauthBaseUrl: b.fakes.URLs.DocuSign,
		PrivateKeyPem: &ds.PrivateKeyPem, HmacKeys: ds.HMACKeys, ReplaceHmacKeys: true,
		ExpectedRevision: dsNow.Msg.GetSettings().GetRevision()})); err != nil {
		return fmt.Errorf("DocuSign settings: %w", err)
	}
	var one struct {
		APIKey string `json:"apiKey"`
	}
	if _, err := b.fakes.Control(ctx, "GET", "/onespan/account", nil, &one); err != nil {
		return err
	}
	b.oneSpanKey = randomKey(24)
	osNow, err := b.admin.Settings.GetOneSpanSettings(ctx, connect.NewRequest(&flowhookv1.GetOneSpanSettingsRequest{}))
	if err != nil {
		return fmt.Errorf("OneSpan settings: %w", err)
	}
	if _, err := b.admin.Settings.UpdateOneSpanSettings(ctx, connect.NewRequest(&flowhookv1.UpdateOneSpanSettingsRequest{
		BaseUrl: b.fakes.URLs.OneSpan, ApiKey: &one.APIKey, CallbackKey: &b.oneSpanKey, RegisterCallback: true,
		ExpectedRevision: osNow.Msg.GetSettings().GetRevision()})); err != nil {
		return fmt.Errorf("OneSpan settings: %w", err)
	}
	b.connector = "loadgen-" + b.suffix
	conn, err := b.fakes.TicketConnector(ctx, b.connector, "Loadgen tickets "+b.suffix)
	if err != nil {
		return err
	}
	b.connectorSecret = conn.GetSigningSecret()
	if _, err := b.admin.Settings.CreateConnector(ctx, connect.NewRequest(conn)); err != nil {
		return fmt.Errorf("connector: %w", err)
	}

	u, err := b.admin.Identity.CreateUser(ctx, connect.NewRequest(&flowhookv1.CreateUserRequest{
		DisplayName: "Loadgen " + b.suffix, Email: "loadgen-" + b.suffix + "@example.com", Roles: []flowhookv1.Role{flowhookv1.Role_ROLE_USER}}))
	if err != nil {
		return fmt.Errorf("user: %w", err)
	}
	key, err := b.admin.Identity.CreateApiKey(ctx, connect.NewRequest(&flowhookv1.CreateApiKeyRequest{
		UserId: u.Msg.GetUser().GetId(), Name: "loadgen " + b.suffix}))
	if err != nil {
		return fmt.Errorf("user's key: %w", err)
	}
	b.user = client.New(b.hc, b.baseURL, key.Msg.GetSecret())
	for _, u := range b.urls {
		b.admins = append(b.admins, client.New(b.hc, u, b.adminKey))
		b.users = append(b.users, client.New(b.hc, u, key.Msg.GetSecret()))
	}

	b.external = map[string]string{}
	for _, s := range systems {
		id, err := publish(ctx, b.admin, externalDraft(s, b.connector, b.suffix))
		if err != nil {
			return fmt.Errorf("workflow %s: %w", s.name, err)
		}
		b.external[s.name] = id
	}
	// start-external's own workflow (the connector's shape), so that its instances are the
	// only ones it counts.
	b.startExternal, err = publish(ctx, b.admin, externalDraft(system{"start-external", flowhookv1.Provider_PROVIDER_CONNECTOR}, b.connector, b.suffix))
	if err != nil {
		return fmt.Errorf("start-external workflow: %w", err)
	}
	b.human, err = publish(ctx, b.admin, humanDraft(u.Msg.GetUser().GetId(), b.suffix))
	if err != nil {
		return fmt.Errorf("HUMAN workflow: %w", err)
	}
	b.pools = map[string][]item{}
	return nil
}

func publish(ctx context.Context, c *client.Client, d *flowhookv1.WorkflowDraft) (string, error) {
	created, err := c.Design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: d}))
	if err != nil {
		return "", err
	}
	w := created.Msg.GetWorkflow()
	if _, err := c.Design.PublishWorkflow(ctx, connect.NewRequest(&flowhookv1.PublishWorkflowRequest{
		WorkflowId: w.GetId(), ExpectedRevision: w.GetRevision()})); err != nil {
		return "", err
	}
	return w.GetId(), nil
}

// externalDraft is a workflow of one EXTERNAL state at s: its outcomes lead to END states.
func externalDraft(s system, connector, suffix string) *flowhookv1.WorkflowDraft {
	ext := &flowhookv1.ExternalStep{Provider: s.provider, DocumentTitle: "Loadgen " + s.name,
		Signers: []*flowhookv1.Signer{{NameField: "signer_name", EmailField: "signer_email"}}}
	if s.provider == flowhookv1.Provider_PROVIDER_CONNECTOR {
		ext = &flowhookv1.ExternalStep{Provider: s.provider, Connector: connector, DocumentTitle: "Loadgen ticket"}
	}
	return &flowhookv1.WorkflowDraft{
		Name: "Loadgen " + s.name + " " + suffix,
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
			{Key: "deleted", FromState: "external", ToState: "rejected", OnOutcome: flowhookv1.Outcome_OUTCOME_DELETED},
			{Key: "expired", FromState: "external", ToState: "rejected", OnOutcome: flowhookv1.Outcome_OUTCOME_EXPIRED},
		},
	}
}

// humanDraft is a workflow of one HUMAN state assigned to userID, with one way out.
func humanDraft(userID, suffix string) *flowhookv1.WorkflowDraft {
	return &flowhookv1.WorkflowDraft{
		Name: "Loadgen review " + suffix,
		States: []*flowhookv1.State{
			{Key: "start", Name: "Request", Kind: flowhookv1.StateKind_STATE_KIND_START},
			{Key: "review", Name: "Review", Kind: flowhookv1.StateKind_STATE_KIND_HUMAN,
				Assignee: &flowhookv1.Assignee{Assignee: &flowhookv1.Assignee_UserId{UserId: userID}}},
			{Key: "done", Name: "Done", Kind: flowhookv1.StateKind_STATE_KIND_END},
		},
		Transitions: []*flowhookv1.Transition{
			{Key: "submit", FromState: "start", ToState: "review"},
			{Key: "approve", FromState: "review", ToState: "done"},
		},
	}
}

// startMany starts n instances of a workflow, 16 at a time, and returns them.
func (b *bench) startMany(ctx context.Context, workflowID string, n int, form func(i int) map[string]any) ([]item, error) {
	items := make([]item, n)
	errs := make(chan error, 1)
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			var fd *structpb.Struct
			if form != nil {
				fd, _ = structpb.NewStruct(form(i))
			}
			res, err := b.admin.Instances.StartInstance(ctx, connect.NewRequest(&flowhookv1.StartInstanceRequest{
				WorkflowId: workflowID, FormData: fd, RequestId: "loadgen-" + b.suffix + "-" + randomKey(9)}))
			if err != nil {
				select {
				case errs <- err:
				default:
				}
				return
			}
			items[i] = item{instanceID: res.Msg.GetInstance().GetId(), revision: res.Msg.GetInstance().GetRevision()}
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		return nil, fmt.Errorf("StartInstance: %w", err)
	default:
	}
	return items, nil
}

// prepareExternal starts n instances of system s's workflow and waits until every one waits
// on a work item coupled to its external id.
func (b *bench) prepareExternal(ctx context.Context, s string, n int) ([]item, error) {
	began := time.Now()
	started, err := b.startMany(ctx, b.external[s], n, func(i int) map[string]any {
		return map[string]any{"signer_name": "Signer " + strconv.Itoa(i), "signer_email": fmt.Sprintf("signer%d@example.com", i)}
	})
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, it := range started {
		want[it.instanceID] = true
	}
	var ready []item
	for ctx.Err() == nil {
		_, coupled, err := b.waitingExternal(ctx, b.external[s])
		if err != nil {
			return nil, err
		}
		ready = ready[:0]
		for _, it := range coupled {
			if want[it.instanceID] {
				ready = append(ready, it)
			}
		}
		if len(ready) == n {
			b.logf("%d %s instances coupled in %s", n, s, time.Since(began).Round(time.Millisecond))
			return ready, b.settle(ctx)
		}
		if time.Since(began) > 2*time.Minute+time.Duration(n)*20*time.Millisecond {
			return nil, fmt.Errorf("%d of %d %s instances coupled after %s", len(ready), n, s, time.Since(began).Round(time.Second))
		}
		if err := (realClock{}).SleepUntil(ctx, time.Now().Add(200*time.Millisecond)); err != nil {
			break
		}
	}
	return nil, ctx.Err()
}

// settle waits until no stored notification is PENDING: the fakes notify as they create each
// item (often before its coupling commits), and the jobs that apply those notifications would
// otherwise still run, and be counted, in the timed part that follows the preparation. It also
// ends ingest-onespan's timed part: its callbacks are processed after their 200, and a run
// that stopped at the last 200 left thousands still to read back, uncounted, when processing
// fell behind (session 27).
func (b *bench) settle(ctx context.Context) error {
	began := time.Now()
	for {
		res, err := b.admin.EventLog.ListEvents(ctx, connect.NewRequest(&flowhookv1.ListEventsRequest{
			Filter: &flowhookv1.EventFilter{Verdict: flowhookv1.Verdict_VERDICT_PENDING}, PageSize: 1}))
		if err != nil {
			return fmt.Errorf("ListEvents: %w", err)
		}
		if res.Msg.GetTotalSize() == 0 {
			b.logf("no notification pending after %s", time.Since(began).Round(time.Millisecond))
			return nil
		}
		if time.Since(began) > 2*time.Minute {
			return fmt.Errorf("%d notifications still PENDING after %s", res.Msg.GetTotalSize(), time.Since(began).Round(time.Second))
		}
		if err := (realClock{}).SleepUntil(ctx, time.Now().Add(100*time.Millisecond)); err != nil {
			return err
		}
	}
}

// waitingExternal lists a workflow's WAITING_EXTERNAL instances: how many there are, and those
// whose work item is coupled to its external id (created at the provider and waiting there).
func (b *bench) waitingExternal(ctx context.Context, workflowID string) (int, []item, error) {
	waiting, token := 0, ""
	var coupled []item
	for {
		res, err := b.admin.Instances.ListInstances(ctx, connect.NewRequest(&flowhookv1.ListInstancesRequest{
			Filter:   &flowhookv1.InstanceFilter{WorkflowId: workflowID, Status: flowhookv1.InstanceStatus_INSTANCE_STATUS_WAITING_EXTERNAL},
			PageSize: 500, PageToken: token}))
		if err != nil {
			return 0, nil, fmt.Errorf("ListInstances: %w", err)
		}
		for _, in := range res.Msg.GetInstances() {
			waiting++
			if wi := in.GetWorkItem(); wi.GetExternalId() != "" && wi.GetStatus() == "WAITING" {
				coupled = append(coupled, item{instanceID: in.GetId(), externalID: wi.GetExternalId(), revision: in.GetRevision()})
			}
		}
		if token = res.Msg.GetNextPageToken(); token == "" {
			return waiting, coupled, nil
		}
	}
}

// coupled waits until every instance of workflowID waits on a work item coupled to its
// external id (created at the provider by the job its start enqueued).
func (b *bench) coupled(workflowID string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		began := time.Now()
		for {
			waiting, coupled, err := b.waitingExternal(ctx, workflowID)
			if err != nil {
				return err
			}
			if len(coupled) == waiting {
				b.logf("%d instances coupled %s after the run", waiting, time.Since(began).Round(time.Millisecond))
				return nil
			}
			if time.Since(began) > 2*time.Minute {
				return fmt.Errorf("%d of %d instances still not coupled two minutes after the run", waiting-len(coupled), waiting)
			}
			if err := (realClock{}).SleepUntil(ctx, time.Now().Add(250*time.Millisecond)); err != nil {
				return err
			}
		}
	}
}

// ingestPool is the coupled items an ingest scenario of system s posts progress for: prepared
// once per run.
func (b *bench) ingestPool(ctx context.Context, s string, n int) ([]item, error) {
	b.mu.Lock()
	pool := b.pools[s]
	b.mu.Unlock()
	if len(pool) > 0 {
		return pool, nil
	}
	pool, err := b.prepareExternal(ctx, s, n)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.pools[s] = pool
	b.mu.Unlock()
	return pool, nil
}

// countStatus is the number of a workflow's instances created after since in a status.
func (b *bench) countStatus(ctx context.Context, workflowID string, status flowhookv1.InstanceStatus, since time.Time) (int64, error) {
	res, err := b.admin.Instances.ListInstances(ctx, connect.NewRequest(&flowhookv1.ListInstancesRequest{
		Filter: &flowhookv1.InstanceFilter{WorkflowId: workflowID, Status: status, CreatedAfter: timestamppb.New(since)}, PageSize: 1}))
	if err != nil {
		return 0, err
	}
	if res.Msg.GetTotalSizeEstimated() {
		return 0, errUncounted
	}
	return res.Msg.GetTotalSize(), nil
}

// errUncounted: more than 10,000 instances matched, which the server estimates rather than
// counts (ListInstancesResponse.total_size_estimated); a run's check says so.
var errUncounted = errors.New("more than 10,000 instances: not counted exactly")

// randomKey is the base64 (URL alphabet) of n random bytes.
func randomKey(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// runSuffix names this run's objects: short, lower-case, unique enough.
func runSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// turn is the next request's place in the round robin over the replicas.
func (b *bench) turn() uint64 { return b.rr.Add(1) }

// adminAt and userAt are the admin's and the assignee's clients at the next replica.
func (b *bench) adminAt() *client.Client { return b.admins[b.turn()%uint64(len(b.admins))] }
func (b *bench) userAt() *client.Client  { return b.users[b.turn()%uint64(len(b.users))] }
