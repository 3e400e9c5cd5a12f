package engine_test

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
)

// memStore is an in-memory fake of the engine's persistence ports (Store, InstanceStore,
// WorkStore) with the real store's semantics where the engine relies on them: conditional
// updates on revisions, one instance per starter and request id, effects committed with their
// change, FailWorkItem only on a CREATING work item. Methods these tests do not reach are the
// embedded interfaces' (nil): calling one fails the test loudly.
type memStore struct {
	engine.Store
	engine.InstanceStore
	engine.WorkStore

	mu            sync.Mutex
	tookPartErr   error                       // when set, TookPart fails with it
	instanceReads int                         // GetInstance calls
	versions      map[string][]engine.Version // by workflow id; [0] is version 1
	instances     map[string]engine.Instance
	acts          map[string][]engine.Activity
	items         map[string]engine.WorkItem
	jobs          []engine.Job
	requests      map[string]string    // starter, request id → instance id
	archived      map[string]time.Time // by workflow id, while archived
	// beforeCreate, when set, runs once as CreateInstance begins: a racing start.
	beforeCreate func()
	// docs are the signed documents kept, by instance id; erasures the RetentionStore calls.
	docs      map[string][]engine.SignedDocument
	erasures  []engine.Erasure
	eraseFail error // when set, the RetentionStore's calls fail with it
	// beforeUpdate, when set, runs once as UpdateInstance begins: a racing change.
	beforeUpdate func()
}

func newMemStore() *memStore {
	return &memStore{
		versions:  map[string][]engine.Version{},
		instances: map[string]engine.Instance{},
		acts:      map[string][]engine.Activity{},
		items:     map[string]engine.WorkItem{},
		requests:  map[string]string{},
		archived:  map[string]time.Time{},
	}
}

// publish adds the next version of a workflow.
func (s *memStore) publish(workflowID string, d engine.Draft) engine.Version {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := engine.Version{WorkflowID: workflowID, Version: int32(len(s.versions[workflowID]) + 1), Definition: d, PublishedAt: time.Now()}
	s.versions[workflowID] = append(s.versions[workflowID], v)
	return v
}

func (s *memStore) GetWorkflow(_ context.Context, id string) (engine.Workflow, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	vs, ok := s.versions[id]
	if !ok {
		return engine.Workflow{}, fmt.Errorf("%w: workflow %s", engine.ErrNotFound, id)
	}
	wf := engine.Workflow{ID: id, LatestVersion: int32(len(vs))}
	if at, ok := s.archived[id]; ok {
		wf.ArchivedAt = &at
	}
	return wf, nil
}

// SetArchived archives or unarchives a workflow; the first archiving's time stands.
func (s *memStore) SetArchived(ctx context.Context, id string, archive bool) (engine.Workflow, error) {
	s.mu.Lock()
	if _, ok := s.versions[id]; !ok {
		s.mu.Unlock()
		return engine.Workflow{}, fmt.Errorf("%w: workflow %s", engine.ErrNotFound, id)
	}
	_, was := s.archived[id]
	switch {
	case archive && !was:
		s.archived[id] = time.Now()
	case !archive:
		delete(s.archived, id)
	}
	s.mu.Unlock()
	return s.GetWorkflow(ctx, id)
}

func (s *memStore) GetVersion(_ context.Context, id string, n int32) (engine.Version, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	vs := s.versions[id]
	if n == 0 {
		n = int32(len(vs))
	}
	if n < 1 || int(n) > len(vs) {
		return engine.Version{}, fmt.Errorf("%w: version %d of workflow %s", engine.ErrNotFound, n, id)
	}
	v := vs[n-1]
	_, v.WorkflowArchived = s.archived[id]
	return v, nil
}

func (s *memStore) VersionHead(ctx context.Context, id string, n int32) (engine.Version, error) {
	v, err := s.GetVersion(ctx, id, n)
	v.Definition = engine.Draft{}
	return v, err
}

func (s *memStore) CreateInstance(_ context.Context, in engine.Instance, acts []engine.Activity, eff engine.Effects) (engine.Instance, error) {
	if f := s.beforeCreate; f != nil {
		s.beforeCreate = nil
		f()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := in.StartedBy + "\x00" + in.RequestID
	if _, dup := s.requests[key]; dup && in.RequestID != "" {
		return engine.Instance{}, engine.ErrDuplicateRequest
	}
	if in.RequestID != "" {
		s.requests[key] = in.ID
	}
	s.instances[in.ID] = in
	s.appendLocked(in.ID, acts)
	if err := s.applyLocked(eff); err != nil {
		return engine.Instance{}, err
	}
	return in, nil
}

func (s *memStore) InstanceByRequest(_ context.Context, startedBy, requestID string) (engine.Instance, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.requests[startedBy+"\x00"+requestID]
	if !ok {
		return engine.Instance{}, fmt.Errorf("%w: request %q", engine.ErrNotFound, requestID)
	}
	return s.instances[id], nil
}

func (s *memStore) GetInstance(_ context.Context, id string) (engine.Instance, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.instanceReads++
	in, ok := s.instances[id]
	if !ok {
		return engine.Instance{}, fmt.Errorf("%w: instance %s", engine.ErrNotFound, id)
	}
	return in, nil
}

func (s *memStore) InstanceWithWorkItem(ctx context.Context, id string) (engine.Instance, error) {
	in, err := s.GetInstance(ctx, id)
	if err != nil || in.System.Provider == engine.ProviderUnspecified {
		return in, err
	}
	switch wi, err := s.CurrentWorkItem(ctx, id); {
	case err == nil:
		in.WorkItem = &wi
	case !errors.Is(err, engine.ErrNotFound):
		return engine.Instance{}, err
	}
	return in, nil
}

func (s *memStore) UpdateInstance(_ context.Context, in engine.Instance, expected int64, acts []engine.Activity, eff engine.Effects) (engine.Instance, error) {
	if f := s.beforeUpdate; f != nil {
		s.beforeUpdate = nil
		f()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.instances[in.ID]
	if !ok {
		return engine.Instance{}, fmt.Errorf("%w: instance %s", engine.ErrNotFound, in.ID)
	}
	if cur.Revision != expected {
		return engine.Instance{}, fmt.Errorf("%w: the instance changed concurrently", engine.ErrConflict)
	}
	for _, wi := range eff.RetriedWorkItems {
		if got := s.items[wi.ID]; got.Status != engine.WorkItemFailed || got.Revision != wi.Revision {
			return engine.Instance{}, fmt.Errorf("%w: work item %s changed concurrently", engine.ErrConflict, wi.ID)
		}
	}
	for _, wi := range eff.ExpiredWorkItems {
		if got := s.items[wi.ID]; got.Status != engine.WorkItemWaiting || got.Revision != wi.Revision {
			return engine.Instance{}, fmt.Errorf("%w: work item %s changed concurrently", engine.ErrConflict, wi.ID)
		}
	}
	in.Revision = expected + 1
	in.WorkItem = nil
	s.instances[in.ID] = in
	s.appendLocked(in.ID, acts)
	if err := s.applyLocked(eff); err != nil {
		return engine.Instance{}, err
	}
	return in, nil
}

func (s *memStore) applyLocked(eff engine.Effects) error {
	for _, wi := range eff.NewWorkItems {
		s.items[wi.ID] = wi
	}
	for _, wi := range eff.RetriedWorkItems {
		cur := s.items[wi.ID]
		cur.Status, cur.EnteredRevision, cur.Error, cur.UpdatedAt = engine.WorkItemCreating, wi.EnteredRevision, "", wi.UpdatedAt
		cur.Revision++
		s.items[wi.ID] = cur
	}
	for _, wi := range eff.ExpiredWorkItems {
		wi.Revision++
		s.items[wi.ID] = wi
	}
	s.jobs = append(s.jobs, eff.Jobs...)
	return nil
}

func (s *memStore) appendLocked(instanceID string, acts []engine.Activity) {
	for _, a := range acts {
		a.InstanceID = instanceID
		a.Seq = int64(len(s.acts[instanceID]) + 1)
		s.acts[instanceID] = append(s.acts[instanceID], a)
	}
}

func (s *memStore) CurrentWorkItem(_ context.Context, instanceID string) (engine.WorkItem, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []engine.WorkItem
	for _, wi := range s.items {
		if wi.InstanceID == instanceID {
			all = append(all, wi)
		}
	}
	if len(all) == 0 {
		return engine.WorkItem{}, fmt.Errorf("%w: instance %s has no work item", engine.ErrNotFound, instanceID)
	}
	return slices.MaxFunc(all, func(a, b engine.WorkItem) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	}), nil
}

func (s *memStore) GetWorkItem(_ context.Context, id string) (engine.WorkItem, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	wi, ok := s.items[id]
	if !ok {
		return engine.WorkItem{}, fmt.Errorf("%w: work item %s", engine.ErrNotFound, id)
	}
	return wi, nil
}

func (s *memStore) CoupleWorkItem(_ context.Context, id, externalID string, act engine.Activity) (engine.Coupled, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	wi := s.items[id]
	if wi.Status != engine.WorkItemCreating {
		return engine.Coupled{}, fmt.Errorf("%w: work item %s is no longer being created", engine.ErrConflict, id)
	}
	for _, other := range s.items {
		if other.ID != id && other.System == wi.System && other.ExternalID == externalID {
			return engine.Coupled{}, fmt.Errorf("%w: %s", engine.ErrExternalIDTaken, externalID)
		}
	}
	wi.Status, wi.ExternalID = engine.WorkItemWaiting, externalID
	wi.Revision++
	s.items[id] = wi
	in := s.instances[wi.InstanceID]
	in.ExternalID = externalID
	s.instances[wi.InstanceID] = in
	s.appendLocked(wi.InstanceID, []engine.Activity{act})
	return engine.Coupled{WorkItem: wi, InstanceStatus: in.Status, InstanceRevision: in.Revision, InstanceReason: in.Reason}, nil
}

func (s *memStore) FailWorkItem(_ context.Context, id, reason string, act engine.Activity) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	wi := s.items[id]
	if wi.Status != engine.WorkItemCreating {
		return fmt.Errorf("%w: work item %s is no longer being created", engine.ErrConflict, id)
	}
	wi.Status, wi.Error = engine.WorkItemFailed, reason
	wi.Revision++
	s.items[id] = wi
	in := s.instances[wi.InstanceID]
	if in.Revision != wi.EnteredRevision || in.Status != engine.StatusWaitingExternal {
		return nil
	}
	now := time.Now()
	in.Status, in.Reason, in.EndedAt = engine.StatusFailed, reason, &now
	in.Revision++
	s.instances[in.ID] = in
	s.appendLocked(in.ID, []engine.Activity{act})
	return nil
}

func (s *memStore) CloseWorkItem(_ context.Context, id string, status engine.WorkItemStatus, note string, act *engine.Activity) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	wi := s.items[id]
	wi.Status, wi.Error = status, note
	wi.Revision++
	s.items[id] = wi
	if act != nil {
		s.appendLocked(wi.InstanceID, []engine.Activity{*act})
	}
	return nil
}

// TookPart reports whether the user acted on the instance, or it was ever assigned to the
// user or one of the groups (its ASSIGNED entries), as the store answers it.
func (s *memStore) TookPart(_ context.Context, instanceID, userID string, groupIDs []string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tookPartErr != nil {
		return false, s.tookPartErr
	}
	for _, a := range s.acts[instanceID] {
		if a.ActorID == userID {
			return true, nil
		}
		if as := a.Assignee; as != nil && (as.UserID == userID || (as.GroupID != "" && slices.Contains(groupIDs, as.GroupID))) {
			return true, nil
		}
	}
	return false, nil
}

// activities returns an instance's timeline.
func (s *memStore) activities(id string) []engine.Activity {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.acts[id])
}

// takeJobs returns the jobs enqueued since the last call.
func (s *memStore) takeJobs() []engine.Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.jobs
	s.jobs = nil
	return out
}

// memProviders is the provider port with one fake DocuSign client, or none (not configured).
type memProviders struct {
	engine.Providers
	mu     sync.Mutex
	client *memClient
}

func (p *memProviders) Spec(pr engine.Provider) (engine.ProviderSpec, bool) { return catalog.Spec(pr) }
func (p *memProviders) Specs() []engine.ProviderSpec                        { return catalog.Specs() }
func (p *memProviders) CallbackURL(s engine.System) string {
	return "https://flowhook.test/webhooks/" + s.String()
}

func (p *memProviders) Client(_ context.Context, s engine.System) (engine.ProviderClient, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client == nil {
		return nil, fmt.Errorf("%w: %s: %w", engine.ErrProviderPermanent, s, engine.ErrNotConfigured)
	}
	return p.client, nil
}

// Parse reads a body as DocuSign's parser would, in short (an empty one does not parse): the
// event, the envelope and, from its summary, the status and the void reason.
func (p *memProviders) Parse(_ engine.System, body []byte) (engine.InboundEvent, error) {
	var b struct {
		Event string `json:"event"`
		Data  struct {
			EnvelopeID      string `json:"envelopeId"`
			EnvelopeSummary struct {
				Status       string `json:"status"`
				VoidedReason string `json:"voidedReason"`
			} `json:"envelopeSummary"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return engine.InboundEvent{}, err
	}
	return engine.InboundEvent{Type: b.Event, ExternalID: b.Data.EnvelopeID,
		Status: b.Data.EnvelopeSummary.Status, Reason: b.Data.EnvelopeSummary.VoidedReason}, nil
}

// configure sets the client (nil: not configured).
func (p *memProviders) configure(c *memClient) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.client = c
}

// memClient is a fake provider: it keeps each item it created by our work item id, and can
// fail a create before or after making the item.
type memClient struct {
	engine.ProviderClient
	mu      sync.Mutex
	items   map[string]string // work item id → external id
	creates []string          // work item ids of the creates received
	finds   []string          // work item ids looked up
	// createErr answers the next creates without creating anything; failAfterCreate answers
	// the next create with an error after the item was made; findErr answers lookups.
	createErr       error
	failAfterCreate error
	findErr         error
	cancels         []string // "external id: reason" of each Cancel
	// unsearchable: FindByWorkItem answers ErrNotSupported and a create sent again for a work
	// item is answered with the item made for it (a connector's Idempotency-Key).
	unsearchable bool
	// onCreate, when set, runs in each create before the item is made (outside the lock).
	onCreate func()
	// downloadErr answers the downloads of signed documents.
	downloadErr error
}

func (c *memClient) Download(context.Context, string) ([]byte, error) {
	if c.downloadErr != nil {
		return nil, c.downloadErr
	}
	return []byte("%PDF-1.7 signed"), nil
}

func newMemClient() *memClient { return &memClient{items: map[string]string{}} }

// restart is the system forgetting its items and numbering them from 1 again.
func (c *memClient) restart() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.items = map[string]string{}
}

func (c *memClient) Create(_ context.Context, req engine.WorkItemRequest) (string, error) {
	if c.onCreate != nil {
		c.onCreate()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.creates = append(c.creates, req.WorkItemID)
	if c.createErr != nil {
		return "", c.createErr
	}
	if id, ok := c.items[req.WorkItemID]; ok && c.unsearchable {
		return id, nil
	}
	id := fmt.Sprintf("env-%d", len(c.items)+1)
	c.items[req.WorkItemID] = id
	if err := c.failAfterCreate; err != nil {
		c.failAfterCreate = nil
		return "", err
	}
	return id, nil
}

func (c *memClient) FindByWorkItem(_ context.Context, workItemID string, _ time.Time) (string, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.finds = append(c.finds, workItemID)
	if c.findErr != nil {
		return "", false, c.findErr
	}
	if c.unsearchable {
		return "", false, fmt.Errorf("%w: no search; the create is sent again", engine.ErrNotSupported)
	}
	id, ok := c.items[workItemID]
	return id, ok, nil
}

// record returns what the client saw: creates, lookups and the items it holds.
// Cancel records the external ids cancelled (voided) and why.
func (c *memClient) Cancel(_ context.Context, externalID, reason string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cancels = append(c.cancels, externalID+": "+reason)
	return nil
}

func (c *memClient) cancelled() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.cancels)
}

func (c *memClient) record() (creates, finds []string, items map[string]string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.creates), slices.Clone(c.finds), maps.Clone(c.items)
}

// logRecorder keeps every log record.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logRecorder) WithGroup(string) slog.Handler            { return h }
func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r.Clone())
	return nil
}

// at returns the records of a level, each as its message and attributes.
func (h *logRecorder) at(level slog.Level) []loggedRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []loggedRecord
	for _, r := range h.records {
		if r.Level != level {
			continue
		}
		lr := loggedRecord{msg: r.Message, attrs: map[string]string{}}
		r.Attrs(func(a slog.Attr) bool {
			lr.attrs[a.Key] = a.Value.String()
			return true
		})
		out = append(out, lr)
	}
	return out
}

type loggedRecord struct {
	msg   string
	attrs map[string]string
}

// Users of the engine tests.
var (
	admin   = engine.Principal{UserID: "u-admin", Roles: []engine.Role{engine.RoleAdmin}}
	starter = engine.Principal{UserID: "u-starter", Roles: []engine.Role{engine.RoleUser}}
)

// runDraft is a workflow whose START leads straight into a DocuSign signature ("to_sign")
// or into a HUMAN review ("to_review").
func runDraft() engine.Draft {
	return engine.Draft{
		Name: "Contract",
		States: []engine.State{
			{Key: "start", Kind: engine.StateKindStart, FormFields: []engine.FormField{
				{Name: "name", Type: engine.FieldTypeString, Required: true},
				{Name: "email", Type: engine.FieldTypeEmail, Required: true},
				{Name: "amount", Type: engine.FieldTypeNumber},
			}},
			{Key: "sign", Kind: engine.StateKindExternal, External: &engine.ExternalStep{
				Provider: docuSign, Signers: []engine.Signer{{NameField: "name", EmailField: "email"}}}},
			{Key: "review", Kind: engine.StateKindHuman, Assignee: &engine.Assignee{GroupID: "legal"}},
			{Key: "done", Kind: engine.StateKindEnd},
		},
		Transitions: []engine.Transition{
			{Key: "to_sign", From: "start", To: "sign"},
			{Key: "to_review", From: "start", To: "review"},
			{Key: "signed", From: "sign", To: "done", OnOutcome: engine.OutcomeFinished},
			{Key: "finish", From: "review", To: "done"},
		},
	}
}

// runBundle is a Runner and a Creator over the fakes.
type runBundle struct {
	store      *memStore
	providers  *memProviders
	client     *memClient
	log        *logRecorder
	runner     *engine.Runner
	creator    *engine.Creator
	workflowID string
}

func setupRun(t *testing.T) *runBundle {
	t.Helper()
	st := newMemStore()
	b := &runBundle{store: st, providers: &memProviders{}, client: newMemClient(), log: &logRecorder{}, workflowID: "wf-1"}
	st.publish(b.workflowID, runDraft())
	b.runner = engine.NewRunner(st, st, engine.SystemClock{})
	render := func(engine.DocumentInput) (engine.Rendered, error) {
		return engine.Rendered{PDF: []byte("%PDF-1.7 test"), Anchors: []string{"/sn1/"}}, nil
	}
	b.creator = engine.NewCreator(st, st, b.runner, b.providers, render, engine.SystemClock{}, slog.New(b.log))
	return b
}

func startInput(workflowID, transition string) engine.StartInput {
	return engine.StartInput{WorkflowID: workflowID, TransitionKey: transition,
		FormData: map[string]any{"name": "Ada Lovelace", "email": "ada@example.com", "amount": 1200.5}}
}

// toSign starts an instance into the signature step; its create job is waiting.
func (b *runBundle) toSign(t *testing.T) engine.Instance {
	t.Helper()
	in, err := b.runner.Start(context.Background(), starter, startInput(b.workflowID, "to_sign"))
	require.NoError(t, err)
	require.Equal(t, engine.StatusWaitingExternal, in.Status)
	return in
}

// work runs the create jobs enqueued so far as the worker would on their first attempt (last
// says it is also their last), and returns them.
func (b *runBundle) work(t *testing.T, last bool) []engine.CreateWorkItemJob {
	t.Helper()
	var out []engine.CreateWorkItemJob
	for _, j := range b.store.takeJobs() {
		cj, ok := j.(engine.CreateWorkItemJob)
		require.True(t, ok, "unexpected job %T", j)
		out = append(out, cj)
		require.NoError(t, b.creator.Create(context.Background(), cj.WorkItemID, cj.Retried, last))
	}
	return out
}

func (b *runBundle) instance(t *testing.T, id string) engine.Instance {
	t.Helper()
	in, err := b.runner.Get(context.Background(), admin, id)
	require.NoError(t, err)
	return in
}

// EraseFormData is the RetentionStore's: Limit eligible instances at a time, the longest
// ended first, as the real store picks them.
func (s *memStore) EraseFormData(_ context.Context, e engine.Erasure) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.erasures = append(s.erasures, e)
	if s.eraseFail != nil {
		return 0, s.eraseFail
	}
	list := s.erasableLocked(e, func(in engine.Instance) bool { return in.FormDataErasedAt == nil })
	for _, in := range list {
		at := e.Activity.CreatedAt
		in.FormData, in.FormDataErasedAt = map[string]any{}, &at
		in.Revision++
		s.instances[in.ID] = in
		for i, a := range s.acts[in.ID] {
			if len(a.Changes) == 0 {
				continue
			}
			names := make([]engine.FieldChange, len(a.Changes))
			for j, c := range a.Changes {
				names[j] = engine.FieldChange{Name: c.Name}
			}
			s.acts[in.ID][i].Changes = names
		}
		s.appendLocked(in.ID, []engine.Activity{e.Activity})
	}
	return len(list), nil
}

// EraseDocuments is the RetentionStore's: instances that still keep a signed document.
func (s *memStore) EraseDocuments(_ context.Context, e engine.Erasure) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.erasures = append(s.erasures, e)
	if s.eraseFail != nil {
		return 0, s.eraseFail
	}
	list := s.erasableLocked(e, func(in engine.Instance) bool { return len(s.docs[in.ID]) > 0 })
	for _, in := range list {
		at := e.Activity.CreatedAt
		in.DocumentsErasedAt = &at
		in.Revision++
		s.instances[in.ID] = in
		delete(s.docs, in.ID)
		s.appendLocked(in.ID, []engine.Activity{e.Activity})
	}
	return len(list), nil
}

func (s *memStore) erasableLocked(e engine.Erasure, which func(engine.Instance) bool) []engine.Instance {
	var out []engine.Instance
	for _, in := range s.instances {
		if slices.Contains(e.Statuses, in.Status) && in.EndedAt != nil && in.EndedAt.Before(e.EndedBefore) && which(in) {
			out = append(out, in)
		}
	}
	slices.SortFunc(out, func(a, b engine.Instance) int { return cmp.Or(a.EndedAt.Compare(*b.EndedAt), cmp.Compare(a.ID, b.ID)) })
	return out[:min(len(out), e.Limit)]
}

// reads is how many times the instances were read.
func (s *memStore) reads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.instanceReads
}

// forCallback is WorkItemForCallback of the fakes: withInstance, then EarlierPending (the
// store reads them in one query).
func forCallback(ctx context.Context, s interface {
	WorkItemByExternal(context.Context, engine.System, string) (engine.WorkItem, error)
	GetInstance(context.Context, string) (engine.Instance, error)
	EarlierPending(context.Context, engine.StoredEvent) (bool, error)
}, ev engine.StoredEvent) (engine.WorkItem, engine.Instance, bool, error) {
	wi, in, err := withInstance(ctx, s, ev.Event.System, ev.Event.ExternalID)
	if err != nil {
		return wi, in, false, err
	}
	earlier, err := s.EarlierPending(ctx, ev)
	return wi, in, earlier, err
}

// withInstance is WorkItemWithInstance of the fakes: the work item, then its instance (the
// store joins them).
func withInstance(ctx context.Context, s interface {
	WorkItemByExternal(context.Context, engine.System, string) (engine.WorkItem, error)
	GetInstance(context.Context, string) (engine.Instance, error)
}, sys engine.System, externalID string) (engine.WorkItem, engine.Instance, error) {
	wi, err := s.WorkItemByExternal(ctx, sys, externalID)
	if err != nil {
		return engine.WorkItem{}, engine.Instance{}, err
	}
	in, err := s.GetInstance(ctx, wi.InstanceID)
	return wi, in, err
}
