package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// DocumentInput is what the document renderer turns into the PDF to sign.
type DocumentInput struct {
	Title        string
	WorkflowName string
	Reference    string
	Fields       []DocumentField
	Signers      []Party
	CreatedAt    time.Time
}

// DocumentField is one labelled value of the start form.
type DocumentField struct{ Label, Value string }

// RenderFunc renders a document and returns the PDF and each signer's anchor text.
type RenderFunc func(DocumentInput) (Rendered, error)

// Rendered is a rendered document: the PDF, and for each signer (in order) the anchor text and
// the box where they sign.
type Rendered struct {
	PDF     []byte
	Anchors []string
	Boxes   []Box
}

// Creator creates work items at their providers and voids them on cancellation.
type Creator struct {
	work      WorkStore
	instances InstanceStore
	runner    *Runner
	providers Providers
	render    RenderFunc
	clock     Clock
	log       *slog.Logger
}

// NewCreator returns the work-item side of the engine. It logs each work item whose creation
// failed for good (nil: nothing is logged).
func NewCreator(work WorkStore, instances InstanceStore, runner *Runner, providers Providers, render RenderFunc, clock Clock, log *slog.Logger) *Creator {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Creator{work: work, instances: instances, runner: runner, providers: providers, render: render, clock: clock, log: log}
}

// Create creates a CREATING work item at its provider and couples the provider's id. retried
// says an earlier attempt may have reached the provider: then it first looks for the item
// carrying our id, so that a crash between the provider's answer and our commit does not
// create a second one. A permanent failure, or any failure on the last attempt, fails the work
// item and its instance with a readable reason; other failures are returned to be retried.
func (c *Creator) Create(ctx context.Context, workItemID string, retried, lastAttempt bool) error {
	wi, err := c.work.GetWorkItem(ctx, workItemID)
	if err != nil {
		return err
	}
	return c.create(ctx, wi, nil, retried, lastAttempt)
}

// CreateCommitted is the in-process creation of a work item whose first write committed (the
// job as the store gave it, with the item as written when it has it): a first attempt, never
// the last, so that what fails is returned, for a job that looks for the item by our id first
// (Retried) to go on with.
func (c *Creator) CreateCommitted(ctx context.Context, job CreateWorkItemJob) error {
	if job.Item == nil || job.Item.ID != job.WorkItemID {
		return c.Create(ctx, job.WorkItemID, job.Retried, false)
	}
	// Nothing but a creation moves a work item off CREATING before it is coupled (a
	// cancellation leaves it to the creation, as abandon says), and each of those writes is
	// conditional on CREATING: the item as inserted is as good as one read again. So is its
	// instance as that write left it: an instance that moves on (a cancellation) after it may
	// as well move on after a read, during the provider's call, and the coupling, which finds
	// the instance as it is, voids the item either way (a read only narrowed that window).
	inst := job.Instance
	if inst != nil && inst.ID != job.Item.InstanceID {
		inst = nil
	}
	return c.create(ctx, *job.Item, inst, job.Retried, false)
}

// create creates wi at its provider; inst is its instance when the caller has it as written,
// nil to read it.
func (c *Creator) create(ctx context.Context, wi WorkItem, written *Instance, retried, lastAttempt bool) error {
	if wi.Status != WorkItemCreating {
		return nil
	}
	var inst Instance
	if written != nil {
		inst = *written
	} else {
		var err error
		if inst, err = c.instances.GetInstance(ctx, wi.InstanceID); err != nil {
			return err
		}
	}
	c.runner.pin(inst) // for its provider's first notifications
	if movedOn(inst.Status, inst.Revision, wi) {
		return c.abandon(ctx, wi, inst, retried, lastAttempt)
	}
	def, err := c.runner.definition(ctx, inst.WorkflowID, inst.Version)
	if err != nil {
		if lastAttempt && !errors.Is(err, context.Canceled) {
			// Left CREATING, the instance would wait for ever without a word.
			c.log.ErrorContext(ctx, "reading the workflow version of a work item failed on its last attempt",
				slog.String("work_item_id", wi.ID), slog.String("error", err.Error()))
			return c.failWith(ctx, wi, fmt.Sprintf("version %d of the workflow could not be read (see the server log)", inst.Version))
		}
		return err
	}
	req, err := c.request(def, inst, wi)
	if err != nil {
		return c.fail(ctx, wi, err)
	}
	client, err := c.providers.Client(ctx, wi.System)
	if err != nil {
		return c.failOrRetry(ctx, wi, err, lastAttempt)
	}
	externalID, found := "", false
	if retried {
		// ErrNotSupported: the system cannot be searched, and the create sent again under the
		// same id is answered with the item an earlier attempt made.
		if externalID, found, err = client.FindByWorkItem(ctx, wi.ID, wi.CreatedAt); err != nil && !errors.Is(err, ErrNotSupported) {
			return c.failOrRetry(ctx, wi, err, lastAttempt)
		}
	}
	if !found {
		if externalID, err = client.Create(ctx, req); err != nil {
			return c.failOrRetry(ctx, wi, err, lastAttempt)
		}
	}
	msg := fmt.Sprintf("%s created %s", wi.System, externalID)
	if len(req.Parties) > 0 {
		names := make([]string, len(req.Parties))
		for i, s := range req.Parties {
			names[i] = s.Email
		}
		msg = fmt.Sprintf("%s %s sent to %s", wi.System, externalID, strings.Join(names, ", "))
	}
	coupled, err := c.work.CoupleWorkItem(ctx, wi.ID, externalID, Activity{Kind: ActivityExternalProgress, ToState: wi.StateKey,
		CreatedAt: c.clock.Now(), Message: msg})
	if errors.Is(err, ErrConflict) {
		return c.duplicate(ctx, client, wi, externalID, err) // coupled or ended by a racing attempt
	}
	if errors.Is(err, ErrExternalIDTaken) {
		// Left CREATING, the item would be created again and again under the same id and
		// answered the same: the instance would wait for ever, and the other item's
		// notifications would never be this one's.
		return c.failWith(ctx, wi, idTaken(wi, externalID))
	}
	if err != nil {
		return err
	}
	// The instance may have been cancelled while the provider was creating the item: the
	// cancel job left a CREATING item to this job, so it is voided here, now that it has an id.
	// The coupling says how it found the instance: no second read.
	if movedOn(coupled.InstanceStatus, coupled.InstanceRevision, wi) {
		return c.Cancel(ctx, wi.ID, nonEmpty(coupled.InstanceReason, "the instance moved on"), lastAttempt)
	}
	return nil
}

// duplicate ends the item externalID that this attempt created (or found) for wi when its
// coupling conflicted: a racing attempt (a job beside an in-process creation, a retry after a
// lost answer) coupled wi first, or closed or failed it. When wi holds another id, or none
// because it was closed (its instance moved on), ours is an item nobody waits for, open at the
// provider (a signer asked to sign an envelope nothing will read): it is voided, naming the one
// in use, and a failure to void is logged at WARN with its id, for an administrator, as no
// retry would (it finds wi no longer CREATING). A wi that FAILED holds none but may be run
// again (RetryInstance, under the same id), and then finds ours: it is left open. When wi holds
// ours (a system that answers a create sent again under our id with the item it made),
// nothing is left over. When wi is still CREATING the conflict was not a coupling (an early
// event changed under it): err is returned, and the retry finds ours by our id.
func (c *Creator) duplicate(ctx context.Context, client ProviderClient, wi WorkItem, externalID string, err error) error {
	stored, rerr := c.work.GetWorkItem(ctx, wi.ID)
	if rerr != nil {
		c.log.WarnContext(ctx, "the coupling of a work item conflicted with another attempt, and reading it again failed: the item this attempt made may be a duplicate left open",
			slog.String("instance_id", wi.InstanceID), slog.String("work_item_id", wi.ID), slog.String("system", wi.System.String()),
			slog.String("external_id", externalID), slog.String("error", rerr.Error()))
		return nil
	}
	switch {
	case stored.Status == WorkItemCreating:
		return err
	case stored.ExternalID == externalID:
		return nil
	case stored.ExternalID == "" && stored.Status == WorkItemFailed:
		// RetryInstance runs the step again under the same id, and its lookup finds ours:
		// voided, it would couple a dead item.
		c.log.InfoContext(ctx, "a work item failed while this attempt created it; its item is left for RetryInstance to find",
			slog.String("work_item_id", wi.ID), slog.String("system", wi.System.String()), slog.String("external_id", externalID))
		return nil
	}
	reason := fmt.Sprintf("a duplicate of %s, made for the same flowhook work item %s", stored.ExternalID, wi.ID)
	if stored.ExternalID == "" {
		reason = fmt.Sprintf("made for flowhook work item %s after it was closed", wi.ID)
	}
	if cerr := client.Cancel(ctx, externalID, reason); cerr != nil {
		c.log.WarnContext(ctx, "voiding a duplicate work item at its provider failed; it stays open there",
			slog.String("instance_id", wi.InstanceID), slog.String("work_item_id", wi.ID), slog.String("system", wi.System.String()),
			slog.String("external_id", externalID), slog.String("coupled_external_id", stored.ExternalID), slog.String("error", publicText(cerr)))
		return nil
	}
	c.log.InfoContext(ctx, "voided a duplicate work item at its provider",
		slog.String("work_item_id", wi.ID), slog.String("system", wi.System.String()),
		slog.String("external_id", externalID), slog.String("coupled_external_id", stored.ExternalID))
	return nil
}

// idTaken says that the system answered a work item with an id another work item has.
func idTaken(wi WorkItem, externalID string) string {
	return fmt.Sprintf("%s answered with the id %s, which another work item already has (the system must give each work item an id of its own)", wi.System, externalID)
}

// movedOn reports whether an instance at status and revision no longer waits on the work item.
func movedOn(status InstanceStatus, revision int64, wi WorkItem) bool {
	return status != StatusWaitingExternal || revision != wi.EnteredRevision
}

// abandon ends a work item whose instance moved on (was cancelled, or its state timed out)
// before it was coupled. An earlier attempt may have reached the provider: then the item it
// created is found by our id, coupled and voided, so that nobody is asked to sign for a
// cancelled instance, nor works a ticket nobody waits for. A system that cannot be searched
// (FindByWorkItem's ErrNotSupported) is sent the create again under the same id, which it
// answers with the item the earlier attempt made — or makes it now, to be voided at once:
// one that may exist at the system is never left open there unknown.
func (c *Creator) abandon(ctx context.Context, wi WorkItem, inst Instance, retried, lastAttempt bool) error {
	if retried {
		client, err := c.providers.Client(ctx, wi.System)
		if err != nil {
			return c.failOrRetry(ctx, wi, err, lastAttempt)
		}
		externalID, found, err := client.FindByWorkItem(ctx, wi.ID, wi.CreatedAt)
		if errors.Is(err, ErrNotSupported) {
			externalID, found, err = c.createAgain(ctx, client, wi, inst)
		}
		if err != nil {
			return c.failOrRetry(ctx, wi, err, lastAttempt)
		}
		if found {
			_, err := c.work.CoupleWorkItem(ctx, wi.ID, externalID, Activity{Kind: ActivityExternalProgress, ToState: wi.StateKey,
				CreatedAt: c.clock.Now(), Message: fmt.Sprintf("%s %s was made for this work item; the instance moved on, so it is voided", wi.System, externalID)})
			if errors.Is(err, ErrExternalIDTaken) {
				// The id is another work item's: voiding it would void that one's.
				return c.work.CloseWorkItem(ctx, wi.ID, WorkItemCancelled, "the instance moved on; "+idTaken(wi, externalID)+", so nothing was voided", nil)
			}
			if err != nil && !errors.Is(err, ErrConflict) {
				return err
			}
			return c.Cancel(ctx, wi.ID, nonEmpty(inst.Reason, "the instance moved on"), lastAttempt)
		}
	}
	return c.work.CloseWorkItem(ctx, wi.ID, WorkItemCancelled, "the instance moved on before the work item was created", nil)
}

// createAgain sends a work item's create again, for abandon, to learn the id of what an
// earlier attempt made at a system that cannot be searched. A request that cannot be built now
// could not have been sent before, and one the system refuses for good made nothing: found is
// false for both.
func (c *Creator) createAgain(ctx context.Context, client ProviderClient, wi WorkItem, inst Instance) (string, bool, error) {
	def, err := c.runner.definition(ctx, inst.WorkflowID, inst.Version)
	if err != nil {
		return "", false, err
	}
	req, err := c.request(def, inst, wi)
	if err != nil {
		return "", false, nil
	}
	externalID, err := client.Create(ctx, req)
	if errors.Is(err, ErrProviderPermanent) {
		return "", false, nil
	}
	return externalID, err == nil, err
}

// request builds the provider request from the state's external step and the instance: the
// document rendered from the start form when the provider signs one or the step includes it,
// and the parties named by the step's signers.
func (c *Creator) request(def Draft, inst Instance, wi WorkItem) (WorkItemRequest, error) {
	state, ok := def.State(wi.StateKey)
	if !ok || state.External == nil {
		return WorkItemRequest{}, fmt.Errorf("%w: state %q is not an EXTERNAL state of version %d", ErrProviderPermanent, wi.StateKey, inst.Version)
	}
	ext := state.External
	spec, ok := c.providers.Spec(ext.Provider)
	if !ok {
		return WorkItemRequest{}, fmt.Errorf("%w: no provider is named %s", ErrProviderPermanent, ext.Provider)
	}
	var start State
	for _, s := range def.States {
		if s.Kind == StateKindStart {
			start = s
		}
	}
	in := DocumentInput{
		Title:        nonEmpty(ext.DocumentTitle, def.Name),
		WorkflowName: def.Name,
		Reference:    inst.ID,
		CreatedAt:    wi.CreatedAt,
	}
	for _, f := range start.FormFields {
		label := nonEmpty(f.Label, f.Name)
		v, ok := inst.FormData[f.Name]
		value := ""
		if ok && v != nil {
			value = fmt.Sprint(v)
		}
		in.Fields = append(in.Fields, DocumentField{Label: label, Value: value})
	}
	for i, s := range ext.Signers {
		name, _ := inst.FormData[s.NameField].(string)
		email, _ := inst.FormData[s.EmailField].(string)
		if name == "" || email == "" {
			if !spec.Signers {
				continue // a party the form left out; nobody signs anything
			}
			return WorkItemRequest{}, fmt.Errorf("%w: signer %d has no name or email in the start form (fields %q, %q)",
				ErrProviderPermanent, i+1, s.NameField, s.EmailField)
		}
		in.Signers = append(in.Signers, Party{Name: name, Email: email})
	}
	req := WorkItemRequest{
		WorkItemID:      wi.ID,
		InstanceID:      inst.ID,
		WorkflowID:      inst.WorkflowID,
		WorkflowVersion: inst.Version,
		WorkflowName:    def.Name,
		State:           wi.StateKey,
		FormData:        inst.FormData,
		Subject:         nonEmpty(ext.EmailSubject, in.Title),
		CallbackURL:     c.providers.CallbackURL(wi.System),
		CreatedAt:       wi.CreatedAt,
	}
	if spec.Signers {
		req.Subject = nonEmpty(ext.EmailSubject, truncateText("Please sign: "+in.Title, MaxEmailSubjectLen-1))
	}
	if spec.Signers || ext.IncludeDocument {
		doc, err := c.render(in)
		if err != nil {
			return WorkItemRequest{}, fmt.Errorf("%w: rendering the document: %w", ErrProviderPermanent, err)
		}
		for i := range in.Signers {
			if i < len(doc.Anchors) {
				in.Signers[i].Anchor = doc.Anchors[i]
			}
			if i < len(doc.Boxes) {
				b := doc.Boxes[i]
				in.Signers[i].Box = &b
			}
		}
		req.Document = &Document{Title: in.Title, ContentType: "application/pdf", Content: doc.PDF}
	}
	req.Parties = in.Signers
	return req, nil
}

func (c *Creator) failOrRetry(ctx context.Context, wi WorkItem, err error, lastAttempt bool) error {
	if errors.Is(err, ErrProviderPermanent) || lastAttempt {
		return c.fail(ctx, wi, err)
	}
	return err
}

// fail fails the work item and, when it still waits on it, its instance, with a reason an
// administrator can act on (publicText: never a credential), logged at WARN so that a failed
// instance is seen without anyone asking for it. RetryInstance runs the step again.
func (c *Creator) fail(ctx context.Context, wi WorkItem, cause error) error {
	return c.failWith(ctx, wi, publicText(cause))
}

func (c *Creator) failWith(ctx context.Context, wi WorkItem, why string) error {
	reason := fmt.Sprintf("creating the %s work item failed: %s", wi.System, why)
	err := c.work.FailWorkItem(ctx, wi.ID, reason, Activity{Kind: ActivityFailed, FromState: wi.StateKey,
		CreatedAt: c.clock.Now(), Message: reason})
	if errors.Is(err, ErrConflict) {
		return nil // coupled or closed by a racing attempt: nothing failed
	}
	if err != nil {
		return err
	}
	c.log.WarnContext(ctx, "work item creation failed; the instance is FAILED until an admin retries it (RetryInstance)",
		slog.String("instance_id", wi.InstanceID), slog.String("work_item_id", wi.ID),
		slog.String("system", wi.System.String()), slog.String("state_key", wi.StateKey), slog.String("reason", reason))
	return nil
}

// Cancel voids an open work item at its provider because its instance was cancelled.
func (c *Creator) Cancel(ctx context.Context, workItemID, reason string, lastAttempt bool) error {
	wi, err := c.work.GetWorkItem(ctx, workItemID)
	if err != nil {
		return err
	}
	now := c.clock.Now()
	if wi.Status != WorkItemWaiting && wi.Status != WorkItemExpired {
		// CREATING: the create job may be talking to the provider right now; it sees the
		// cancelled instance and voids whatever it created (Create, abandon). EXPIRED: its
		// state timed out, and it is cancelled at the provider, keeping that status.
		return nil
	}
	closed := WorkItemCancelled
	if wi.Status == WorkItemExpired {
		closed = WorkItemExpired
	}
	client, err := c.providers.Client(ctx, wi.System)
	if err == nil {
		err = client.Cancel(ctx, wi.ExternalID, reason)
	}
	if err != nil && !errors.Is(err, ErrProviderPermanent) && !errors.Is(err, ErrNotSupported) && !lastAttempt {
		return err
	}
	act := Activity{Kind: ActivityExternalProgress, FromState: wi.StateKey, CreatedAt: now,
		Message: fmt.Sprintf("voided %s %s: %s", wi.System, wi.ExternalID, reason)}
	note := ""
	if err != nil {
		note = publicText(err)
		act.Message = fmt.Sprintf("could not void %s %s: %s", wi.System, wi.ExternalID, note)
	}
	return c.work.CloseWorkItem(ctx, wi.ID, closed, note, &act)
}

// FetchDocument downloads and keeps the signed document of a resolved work item whose
// document is due (DownloadDocument).
func (c *Creator) FetchDocument(ctx context.Context, workItemID string) error {
	wi, err := c.work.GetWorkItem(ctx, workItemID)
	if err != nil {
		return err
	}
	doc, err := c.DownloadDocument(ctx, wi)
	if errors.Is(err, ErrDocumentUnkeepable) || errors.Is(err, ErrGone) {
		// Larger than the cap, an empty zip, gone at the provider: trying again for weeks
		// (River's attempts) would download the same thing each time and then drop it unsaid.
		// Said once, at WARN, like a failed creation; the mark is cleared. Any other failure,
		// permanent ones too (a refused or rotated credential, a missing consent, settings not
		// saved, a call the network policy refuses), is the job's to retry with backoff: an
		// administrator fixes it, and the document is fetched then.
		c.log.WarnContext(ctx, "the signed document of a work item cannot be kept; it is not fetched again",
			slog.String("instance_id", wi.InstanceID), slog.String("work_item_id", wi.ID),
			slog.String("system", wi.System.String()), slog.String("reason", publicText(err)))
		return c.work.ClearDocumentDue(ctx, wi.ID)
	}
	if err != nil {
		return err
	}
	if doc == nil {
		return c.work.ClearDocumentDue(ctx, wi.ID)
	}
	return c.work.SaveDocument(ctx, wi.ID, doc.Name, doc.ContentType, doc.Content)
}

// recentClients is a provider port that also gives a client whose settings were checked a
// moment ago (provider.Registry.RecentClient).
type recentClients interface {
	RecentClient(ctx context.Context, s System) (ProviderClient, error)
}

// recentClient is the client for work whose failure is retried later with the settings then
// current — a document's download (the document stays due and a job fetches it) or a status
// read back for a stored event (the event is handed to a job): a client checked against its
// settings a moment ago will do, which spares a read of the settings' revision per call.
func recentClient(ctx context.Context, p Providers, s System) (ProviderClient, error) {
	if rc, ok := p.(recentClients); ok {
		return rc.RecentClient(ctx, s)
	}
	return p.Client(ctx, s)
}

// DownloadFor is DownloadDocument for a fetch_document job: of the work item it carries, as
// its resolution wrote it, or else as read now.
func (c *Creator) DownloadFor(ctx context.Context, job FetchDocumentJob) (*SignedDocument, error) {
	if job.Item != nil && job.Item.ID == job.WorkItemID {
		return c.DownloadDocument(ctx, *job.Item)
	}
	wi, err := c.work.GetWorkItem(ctx, job.WorkItemID)
	if err != nil {
		return nil, err
	}
	return c.DownloadDocument(ctx, wi)
}

// DownloadDocument downloads the signed document of a resolved work item from its provider;
// nil when there is none to keep (the work item is not resolved, or the provider keeps none).
// Only a work item whose item finished at the provider has its document due: resolved
// FINISHED, or resolved otherwise by a state that maps the provider's "finished" to another
// outcome (an envelope-completed that a state calls APPROVED was still signed).
func (c *Creator) DownloadDocument(ctx context.Context, wi WorkItem) (*SignedDocument, error) {
	if wi.Status != WorkItemResolved || wi.ExternalID == "" {
		return nil, nil
	}
	client, err := recentClient(ctx, c.providers, wi.System)
	if err != nil {
		return nil, err
	}
	content, err := client.Download(ctx, wi.ExternalID)
	if errors.Is(err, ErrNoDocument) {
		return nil, nil // the outside system keeps no result document
	}
	if err != nil {
		return nil, err
	}
	// DocuSign gives one combined PDF; OneSpan a zip of the package's documents.
	doc := &SignedDocument{WorkItemID: wi.ID, Name: "signed.pdf", ContentType: "application/pdf", Content: content}
	if bytes.HasPrefix(content, []byte("PK\x03\x04")) {
		doc.Name, doc.ContentType = "signed-documents.zip", "application/zip"
	}
	return doc, nil
}

// publicText is an error's text for an administrator: provider errors are readable and hold
// no credentials; anything else is summarised.
func publicText(err error) string {
	var pe *ProviderError
	var ve *ValidationError
	switch {
	case errors.As(err, &pe):
		return pe.Error()
	case errors.As(err, &ve):
		return ve.Error()
	case errors.Is(err, ErrProviderPermanent), errors.Is(err, ErrNotSupported), errors.Is(err, ErrNotConfigured):
		return err.Error()
	default:
		return "the provider could not be reached (" + truncateText(err.Error(), 200) + ")"
	}
}
