package client_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/flowhook/flowhook/client"
	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
)

// exampleTB is the testing.TB an example hands to flowhooktest.Start, since examples get no
// *testing.T. It implements what Start uses (Helper, Cleanup, TempDir, Fatalf, Errorf) and the
// rest of the usual reporting methods; the embedded testing.TB is nil and only satisfies the
// interface's unexported method, so calling any other method panics. Fatal and Fatalf panic
// with the message, which fails the example; Error and Errorf record it, and stop panics with
// it after running the cleanups.
type exampleTB struct {
	testing.TB

	name string

	mu       sync.Mutex
	cleanups []func()
	errs     []string
}

// newExampleTB returns an exampleTB and the function that ends it: it runs the cleanups, last
// registered first, like the end of a test. Defer it.
func newExampleTB(name string) (*exampleTB, func()) {
	t := &exampleTB{name: name}
	return t, t.stop
}

func (t *exampleTB) stop() {
	for {
		t.mu.Lock()
		if len(t.cleanups) == 0 {
			t.mu.Unlock()
			break
		}
		f := t.cleanups[len(t.cleanups)-1]
		t.cleanups = t.cleanups[:len(t.cleanups)-1]
		t.mu.Unlock()
		t.runCleanup(f)
	}
	t.mu.Lock()
	errs := slices.Clone(t.errs)
	t.mu.Unlock()
	if len(errs) > 0 {
		panic(t.name + ": " + strings.Join(errs, "; "))
	}
}

// runCleanup runs f, recording a Fatal inside it rather than skipping the other cleanups.
func (t *exampleTB) runCleanup(f func()) {
	defer func() {
		if r := recover(); r != nil {
			t.record(fmt.Sprint(r))
		}
	}()
	f()
}

func (t *exampleTB) record(msg string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.errs = append(t.errs, msg)
}

func (t *exampleTB) Helper()      {}
func (t *exampleTB) Name() string { return t.name }

func (t *exampleTB) Cleanup(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cleanups = append(t.cleanups, f)
}

func (t *exampleTB) TempDir() string {
	dir, err := os.MkdirTemp("", "flowhook-example-")
	if err != nil {
		t.Fatalf("TempDir: %v", err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("TempDir: remove %s: %v", dir, err)
		}
	})
	return dir
}

func (t *exampleTB) Log(args ...any)                 { fmt.Fprintln(os.Stderr, args...) }
func (t *exampleTB) Logf(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
func (t *exampleTB) Error(args ...any)               { t.record(fmt.Sprint(args...)) }
func (t *exampleTB) Errorf(format string, args ...any) {
	t.record(fmt.Sprintf(format, args...))
}
func (t *exampleTB) Fail()    { t.record("failed") }
func (t *exampleTB) FailNow() { panic(t.name + ": failed") }
func (t *exampleTB) Failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.errs) > 0
}
func (t *exampleTB) Fatal(args ...any) { panic(t.name + ": " + fmt.Sprint(args...)) }
func (t *exampleTB) Fatalf(format string, args ...any) {
	panic(t.name + ": " + fmt.Sprintf(format, args...))
}

// waitFor calls cond every 10 ms until it reports true, for at most 20 seconds. An error from
// cond ends the wait at once.
func waitFor(ctx context.Context, what string, cond func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := cond(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			return fmt.Errorf("%s: %w", what, err)
		case ok:
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: not within 20 s", what)
		case <-tick.C:
		}
	}
}

// signingDraft is the contract workflow of the examples: a start form with the signer, a
// DocuSign signature, a countersignature by the group, and two ends.
func signingDraft(groupID string) *flowhookv1.WorkflowDraft {
	return &flowhookv1.WorkflowDraft{
		Name: "Contract signing",
		States: []*flowhookv1.State{
			{Key: "start", Kind: flowhookv1.StateKind_STATE_KIND_START, FormFields: []*flowhookv1.FormField{
				{Name: "signer_name", Label: "Signer", Type: flowhookv1.FieldType_FIELD_TYPE_STRING, Required: true},
				{Name: "signer_email", Label: "Signer email", Type: flowhookv1.FieldType_FIELD_TYPE_EMAIL, Required: true},
			}},
			{Key: "sign", Name: "Signature", Kind: flowhookv1.StateKind_STATE_KIND_EXTERNAL, External: &flowhookv1.ExternalStep{
				Provider:      flowhookv1.Provider_PROVIDER_DOCUSIGN,
				EmailSubject:  "Please sign your contract",
				DocumentTitle: "Contract",
				Signers:       []*flowhookv1.Signer{{NameField: "signer_name", EmailField: "signer_email"}},
			}},
			{Key: "countersign", Name: "Countersignature", Kind: flowhookv1.StateKind_STATE_KIND_HUMAN,
				Assignee: &flowhookv1.Assignee{Assignee: &flowhookv1.Assignee_GroupId{GroupId: groupID}}},
			{Key: "done", Kind: flowhookv1.StateKind_STATE_KIND_END},
			{Key: "rejected", Kind: flowhookv1.StateKind_STATE_KIND_END},
		},
		Transitions: []*flowhookv1.Transition{
			{Key: "submit", FromState: "start", ToState: "sign"},
			{Key: "signed", FromState: "sign", ToState: "countersign", OnOutcome: flowhookv1.Outcome_OUTCOME_FINISHED},
			{Key: "declined", FromState: "sign", ToState: "rejected", OnOutcome: flowhookv1.Outcome_OUTCOME_DENIED},
			{Key: "archive", FromState: "countersign", ToState: "done"},
		},
	}
}

// publishSigning creates the group "legal" and publishes signingDraft assigned to it, as the
// admin; it returns the group's and the workflow's ids.
func publishSigning(ctx context.Context, admin *client.Client) (groupID, workflowID string, err error) {
	group, err := admin.Identity.CreateGroup(ctx, connect.NewRequest(&flowhookv1.CreateGroupRequest{Name: "legal"}))
	if err != nil {
		return "", "", err
	}
	groupID = group.Msg.GetGroup().GetId()
	created, err := admin.Design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: signingDraft(groupID)}))
	if err != nil {
		return "", "", err
	}
	wf := created.Msg.GetWorkflow()
	if _, err := admin.Design.PublishWorkflow(ctx, connect.NewRequest(&flowhookv1.PublishWorkflowRequest{
		WorkflowId: wf.GetId(), ExpectedRevision: wf.GetRevision()})); err != nil {
		return "", "", err
	}
	return groupID, wf.GetId(), nil
}

// awaitEnvelope waits until the instance's envelope exists and is coupled to it, and until
// every notification DocuSign sent about it so far has been processed. (DocuSign reports
// envelope-sent before the create call returns, so the server holds it until the coupling;
// waiting for it makes the timeline and the Event Log the same on every run.) It returns the
// envelope's id. The caller must be an admin, to read the Event Log.
func awaitEnvelope(ctx context.Context, admin *client.Client, instanceID string) (string, error) {
	var envelopeID string
	err := waitFor(ctx, "the envelope is created and coupled", func(ctx context.Context) (bool, error) {
		got, err := admin.Instances.GetInstance(ctx, connect.NewRequest(&flowhookv1.GetInstanceRequest{InstanceId: instanceID}))
		if err != nil {
			return false, err
		}
		envelopeID = got.Msg.GetInstance().GetWorkItem().GetExternalId()
		return envelopeID != "", nil
	})
	if err != nil {
		return "", err
	}
	err = waitFor(ctx, "DocuSign's notifications are processed", func(ctx context.Context) (bool, error) {
		return processed(ctx, admin, envelopeID)
	})
	return envelopeID, err
}

// processed reports whether the Event Log has notifications about the envelope and none of
// them still waits to be processed.
func processed(ctx context.Context, admin *client.Client, envelopeID string) (bool, error) {
	events, err := admin.EventLog.ListEvents(ctx, connect.NewRequest(&flowhookv1.ListEventsRequest{
		Filter: &flowhookv1.EventFilter{ExternalId: envelopeID}}))
	if err != nil {
		return false, err
	}
	for _, e := range events.Msg.GetEvents() {
		if e.GetVerdict() == flowhookv1.Verdict_VERDICT_PENDING {
			return false, nil
		}
	}
	return len(events.Msg.GetEvents()) > 0, nil
}
