package client_test

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/flowhook/flowhook/client"
	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/flowhooktest"
)

// Connect with an API key and ask who it belongs to. (Each example runs its own server with
// flowhooktest; t stands in for the *testing.T a test would have.)
func ExampleNew() {
	t, stop := newExampleTB("ExampleNew")
	defer stop()
	srv := flowhooktest.Start(t)
	ctx := context.Background()

	c := client.New(nil, srv.URL, srv.AdminKey)
	me, err := c.Identity.WhoAmI(ctx, connect.NewRequest(&flowhookv1.WhoAmIRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println(me.Msg.GetUser().GetEmail(), me.Msg.GetUser().GetRoles())
	// Output:
	// admin@flowhook.local [ROLE_ADMIN]
}

// The whole story: an admin sets up a group, a member and a workflow whose signature step is
// a DocuSign envelope; an instance waits on DocuSign until the signer signs, then on the
// group's countersignature; the member countersigns, and the timeline tells what happened.
func Example_signingFlow() {
	t, stop := newExampleTB("Example_signingFlow")
	defer stop()
	srv := flowhooktest.Start(t)
	ctx := context.Background()
	admin := client.New(nil, srv.URL, srv.AdminKey)

	// People: the group "legal" and Alice, a member of it, with her own API key.
	group, err := admin.Identity.CreateGroup(ctx, connect.NewRequest(&flowhookv1.CreateGroupRequest{Name: "legal"}))
	if err != nil {
		t.Fatal(err)
	}
	legalID := group.Msg.GetGroup().GetId()
	user, err := admin.Identity.CreateUser(ctx, connect.NewRequest(&flowhookv1.CreateUserRequest{
		DisplayName: "Alice", Email: "alice@example.com", Roles: []flowhookv1.Role{flowhookv1.Role_ROLE_USER}}))
	if err != nil {
		t.Fatal(err)
	}
	aliceID := user.Msg.GetUser().GetId()
	if _, err := admin.Identity.AddGroupMember(ctx, connect.NewRequest(&flowhookv1.AddGroupMemberRequest{GroupId: legalID, UserId: aliceID})); err != nil {
		t.Fatal(err)
	}
	key, err := admin.Identity.CreateApiKey(ctx, connect.NewRequest(&flowhookv1.CreateApiKeyRequest{UserId: aliceID, Name: "laptop"}))
	if err != nil {
		t.Fatal(err)
	}
	alice := client.New(nil, srv.URL, key.Msg.GetSecret())

	// The workflow: start → sign (DocuSign) → countersign (legal) → done, or rejected when the
	// signer declines. Publishing makes version 1.
	draft := &flowhookv1.WorkflowDraft{
		Name: "Contract signing",
		States: []*flowhookv1.State{
			{Key: "start", Kind: flowhookv1.StateKind_STATE_KIND_START, FormFields: []*flowhookv1.FormField{
				{Name: "signer_name", Label: "Signer", Type: flowhookv1.FieldType_FIELD_TYPE_STRING, Required: true},
				{Name: "signer_email", Label: "Signer email", Type: flowhookv1.FieldType_FIELD_TYPE_EMAIL, Required: true},
			}},
			{Key: "sign", Kind: flowhookv1.StateKind_STATE_KIND_EXTERNAL, External: &flowhookv1.ExternalStep{
				Provider:      flowhookv1.Provider_PROVIDER_DOCUSIGN,
				EmailSubject:  "Please sign your contract",
				DocumentTitle: "Contract",
				Signers:       []*flowhookv1.Signer{{NameField: "signer_name", EmailField: "signer_email"}},
			}},
			{Key: "countersign", Kind: flowhookv1.StateKind_STATE_KIND_HUMAN,
				Assignee: &flowhookv1.Assignee{Assignee: &flowhookv1.Assignee_GroupId{GroupId: legalID}}},
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
	created, err := admin.Design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: draft}))
	if err != nil {
		t.Fatal(err)
	}
	wf := created.Msg.GetWorkflow()
	published, err := admin.Design.PublishWorkflow(ctx, connect.NewRequest(&flowhookv1.PublishWorkflowRequest{
		WorkflowId: wf.GetId(), ExpectedRevision: wf.GetRevision()}))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("published version", published.Msg.GetVersion().GetVersion())

	// Start an instance: it takes "submit" and waits on DocuSign.
	form, err := structpb.NewStruct(map[string]any{"signer_name": "Ada Lovelace", "signer_email": "ada@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	started, err := admin.Instances.StartInstance(ctx, connect.NewRequest(&flowhookv1.StartInstanceRequest{
		WorkflowId: wf.GetId(), FormData: form, RequestId: "contract-0001"}))
	if err != nil {
		t.Fatal(err)
	}
	id := started.Msg.GetInstance().GetId()
	fmt.Println("started:", started.Msg.GetInstance().GetStateKey(), started.Msg.GetInstance().GetStatus())

	// The envelope is created in the background; once it is coupled to the instance, its id
	// is the work item's external id.
	envelopeID, err := awaitEnvelope(ctx, admin, id)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("envelopes at DocuSign:", len(srv.DocuSign.Envelopes()))

	// Ada signs: DocuSign reports envelope-completed to the server's webhook, and the outcome
	// FINISHED takes "signed" to the countersignature.
	if err := srv.DocuSign.Complete(envelopeID); err != nil {
		t.Fatal(err)
	}
	var in *flowhookv1.Instance
	err = waitFor(ctx, "the instance reaches countersign", func(ctx context.Context) (bool, error) {
		got, err := admin.Instances.GetInstance(ctx, connect.NewRequest(&flowhookv1.GetInstanceRequest{InstanceId: id}))
		if err != nil {
			return false, err
		}
		in = got.Msg.GetInstance()
		return in.GetStateKey() == "countersign", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("signed:", in.GetStateKey(), in.GetStatus(), in.GetWorkItem().GetOutcome())

	// Alice finds it assigned to her (through legal) and archives it.
	mine, err := alice.Instances.ListAssignedToMe(ctx, connect.NewRequest(&flowhookv1.ListAssignedToMeRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("assigned to alice:", len(mine.Msg.GetInstances()), mine.Msg.GetInstances()[0].GetStateKey())
	taken, err := alice.Instances.TakeTransition(ctx, connect.NewRequest(&flowhookv1.TakeTransitionRequest{
		InstanceId: id, TransitionKey: "archive", ExpectedRevision: mine.Msg.GetInstances()[0].GetRevision()}))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("archived:", taken.Msg.GetInstance().GetStateKey(), taken.Msg.GetInstance().GetStatus())

	// The timeline (Form Activity), oldest first. Ids change on every run, so actors are
	// named and the envelope id is elided.
	activity, err := alice.Instances.ListActivity(ctx, connect.NewRequest(&flowhookv1.ListActivityRequest{InstanceId: id}))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{started.Msg.GetInstance().GetStartedBy(): "admin", aliceID: "alice"}
	for _, e := range activity.Msg.GetEntries() {
		line := []string{fmt.Sprint(e.GetSequence()), strings.TrimPrefix(e.GetKind().String(), "ACTIVITY_KIND_")}
		if e.GetFromState() != "" || e.GetToState() != "" {
			line = append(line, e.GetFromState()+"→"+e.GetToState())
		}
		if e.GetTransitionKey() != "" {
			line = append(line, "via "+e.GetTransitionKey())
		}
		if name, ok := names[e.GetActorId()]; ok {
			line = append(line, "by "+name)
		}
		if e.GetAssignee().GetGroupId() == legalID {
			line = append(line, "to legal")
		}
		if m := e.GetMessage(); m != "" {
			line = append(line, "("+strings.ReplaceAll(m, envelopeID, "<envelope>")+")")
		}
		fmt.Println(strings.Join(line, " "))
	}
	// Output:
	// published version 1
	// started: sign INSTANCE_STATUS_WAITING_EXTERNAL
	// envelopes at DocuSign: 1
	// signed: countersign INSTANCE_STATUS_ACTIVE OUTCOME_FINISHED
	// assigned to alice: 1 countersign
	// archived: done INSTANCE_STATUS_COMPLETED
	// 1 STARTED →start by admin (started "Contract signing" version 1)
	// 2 TRANSITION start→sign via submit by admin (took "submit" from "start" to "sign")
	// 3 WAITING_EXTERNAL →sign (waiting in "sign" for DOCUSIGN)
	// 4 EXTERNAL_PROGRESS →sign (DOCUSIGN <envelope> sent to ada@example.com)
	// 5 EXTERNAL_PROGRESS →sign (DOCUSIGN reported envelope-sent)
	// 6 EXTERNAL_PROGRESS →sign (DOCUSIGN reported recipient-completed)
	// 7 OUTCOME →sign (DOCUSIGN reported envelope-completed: outcome FINISHED)
	// 8 TRANSITION sign→countersign via signed (took "signed" from "sign" to "countersign")
	// 9 ASSIGNED →countersign to legal (waiting in "countersign" for its assignee)
	// 10 TRANSITION countersign→done via archive by alice (took "archive" from "countersign" to "done")
	// 11 COMPLETED →done (completed in "done")
}

// A draft with problems is refused with InvalidArgument, and Problems lists every one of them,
// each with the path of the field it concerns.
func ExampleProblems() {
	t, stop := newExampleTB("ExampleProblems")
	defer stop()
	srv := flowhooktest.Start(t)
	ctx := context.Background()
	c := client.New(nil, srv.URL, srv.AdminKey)

	broken := &flowhookv1.WorkflowDraft{
		Name: "Broken",
		States: []*flowhookv1.State{
			{Key: "review", Kind: flowhookv1.StateKind_STATE_KIND_HUMAN},
			{Key: "done", Kind: flowhookv1.StateKind_STATE_KIND_END},
		},
		Transitions: []*flowhookv1.Transition{
			{Key: "approve", FromState: "review", ToState: "archived"},
		},
	}
	_, err := c.Design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: broken}))
	fmt.Println(client.Code(err))
	for _, p := range client.Problems(err) {
		fmt.Printf("%s: %s\n", p.GetPath(), p.GetMessage())
	}
	// Output:
	// invalid_argument
	// workflow.states[0].assignee: a HUMAN state needs an assignee (a user or a group)
	// workflow.states: a workflow needs exactly one START state, found none
	// workflow.transitions[0].to_state: no state has the key "archived"
	// workflow.states[0]: no END state can be reached from state "review"
}

// A wrong API key is refused with Unauthenticated.
func Example_unauthenticated() {
	t, stop := newExampleTB("Example_unauthenticated")
	defer stop()
	srv := flowhooktest.Start(t)

	c := client.New(nil, srv.URL, "fh_not_a_key_of_this_server")
	_, err := c.Identity.WhoAmI(context.Background(), connect.NewRequest(&flowhookv1.WhoAmIRequest{}))
	fmt.Println(connect.CodeOf(err))
	// Output:
	// unauthenticated
}

// Items follows a listing's page tokens: one loop over every group, however many pages they
// take. Pages does the same page by page.
func ExampleItems() {
	t, stop := newExampleTB("ExampleItems")
	defer stop()
	srv := flowhooktest.Start(t)
	ctx := context.Background()
	c := client.New(nil, srv.URL, srv.AdminKey)
	for _, name := range []string{"legal", "finance", "sales", "support", "hr"} {
		if _, err := c.Identity.CreateGroup(ctx, connect.NewRequest(&flowhookv1.CreateGroupRequest{Name: name})); err != nil {
			t.Fatal(err)
		}
	}

	// Two groups a page, to show the walk; leave PageSize out for the server's default.
	groups := client.Items(ctx, c.Identity.ListGroups, &flowhookv1.ListGroupsRequest{PageSize: 2},
		(*flowhookv1.ListGroupsResponse).GetGroups)
	for g, err := range groups {
		if err != nil {
			t.Fatal(err)
		}
		fmt.Println(g.GetName())
	}
	pages := 0
	for _, err := range client.Pages(ctx, c.Identity.ListGroups, &flowhookv1.ListGroupsRequest{PageSize: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		pages++
	}
	fmt.Println(pages, "pages")
	// Output:
	// legal
	// finance
	// sales
	// support
	// hr
	// 3 pages
}

// The Event Log keeps every notification DocuSign sent, with what the server made of it.
func Example_eventLog() {
	t, stop := newExampleTB("Example_eventLog")
	defer stop()
	srv := flowhooktest.Start(t)
	ctx := context.Background()
	admin := client.New(nil, srv.URL, srv.AdminKey)

	// An instance of the contract workflow waits on its envelope, which the signer signs.
	_, workflowID, err := publishSigning(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	form, err := structpb.NewStruct(map[string]any{"signer_name": "Ada Lovelace", "signer_email": "ada@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	started, err := admin.Instances.StartInstance(ctx, connect.NewRequest(&flowhookv1.StartInstanceRequest{WorkflowId: workflowID, FormData: form}))
	if err != nil {
		t.Fatal(err)
	}
	id := started.Msg.GetInstance().GetId()
	envelopeID, err := awaitEnvelope(ctx, admin, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.DocuSign.Complete(envelopeID); err != nil {
		t.Fatal(err)
	}

	// The notifications about the envelope, once all are processed. ListEvents returns them
	// newest first by id, but ids only order them to the millisecond: sort them by the time
	// they were received, oldest first.
	if err := waitFor(ctx, "the notifications are processed", func(ctx context.Context) (bool, error) {
		return processed(ctx, admin, envelopeID)
	}); err != nil {
		t.Fatal(err)
	}
	res, err := admin.EventLog.ListEvents(ctx, connect.NewRequest(&flowhookv1.ListEventsRequest{
		Filter: &flowhookv1.EventFilter{ExternalId: envelopeID}}))
	if err != nil {
		t.Fatal(err)
	}
	events := res.Msg.GetEvents()
	slices.SortFunc(events, func(a, b *flowhookv1.Event) int {
		return a.GetReceivedAt().AsTime().Compare(b.GetReceivedAt().AsTime())
	})
	fmt.Println(res.Msg.GetTotalSize(), "events")
	for _, e := range events {
		fmt.Println(e.GetProvider(), e.GetEventType(), e.GetVerdict(), e.GetInstanceId() == id)
	}
	// Output:
	// 3 events
	// PROVIDER_DOCUSIGN envelope-sent VERDICT_PROGRESS true
	// PROVIDER_DOCUSIGN recipient-completed VERDICT_PROGRESS true
	// PROVIDER_DOCUSIGN envelope-completed VERDICT_APPLIED true
}

// An admin registers a connector: any outside system an EXTERNAL state can wait on, here a
// ticketing system. flowhook signs its calls to the system with the connector's secret, and
// checks the system's callbacks with it (Standard Webhooks); left empty, the secret is
// generated and returned this once. The system posts its events to the connector's webhook
// URL, and the outcomes table says which of them end the step.
func Example_connector() {
	t, stop := newExampleTB("Example_connector")
	defer stop()
	srv := flowhooktest.Start(t)
	ctx := context.Background()
	admin := client.New(nil, srv.URL, srv.AdminKey)

	created, err := admin.Settings.CreateConnector(ctx, connect.NewRequest(&flowhookv1.CreateConnectorRequest{
		Name:        "tickets",
		DisplayName: "Ticketing",
		CreateUrl:   "https://tickets.example.com/api/tickets",
		StatusUrl:   "https://tickets.example.com/api/tickets/{id}",
		CancelUrl:   "https://tickets.example.com/api/tickets/{id}/cancel",
		Outcomes: map[string]flowhookv1.Outcome{
			"ticket.approved": flowhookv1.Outcome_OUTCOME_APPROVED,
			"ticket.rejected": flowhookv1.Outcome_OUTCOME_DENIED,
		},
	}))
	if err != nil {
		t.Fatal(err)
	}
	c := created.Msg.GetConnector()
	secret := created.Msg.GetSigningSecret() // hand it to the ticketing system with the webhook URL
	webhook, err := url.Parse(c.GetWebhookUrl())
	if err != nil {
		t.Fatal(err)
	}
	// The webhook URL is the server's public URL (a random port here) and this path.
	fmt.Println("webhook path:", webhook.Path)
	fmt.Println("signing secret set:", c.GetSigningSecretSet(), "generated:", strings.HasPrefix(secret, "whsec_"))

	// The secret is write-only: no answer holds it again.
	got, err := admin.Settings.GetConnector(ctx, connect.NewRequest(&flowhookv1.GetConnectorRequest{Name: "tickets"}))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("get shows the secret:", strings.Contains(got.Msg.String(), secret))

	// A workflow's EXTERNAL state names the connector: entering it creates a ticket.
	draft := &flowhookv1.WorkflowDraft{
		Name: "Credit check",
		States: []*flowhookv1.State{
			{Key: "start", Kind: flowhookv1.StateKind_STATE_KIND_START},
			{Key: "ticket", Kind: flowhookv1.StateKind_STATE_KIND_EXTERNAL, External: &flowhookv1.ExternalStep{
				Provider: flowhookv1.Provider_PROVIDER_CONNECTOR, Connector: "tickets"}},
			{Key: "approved", Kind: flowhookv1.StateKind_STATE_KIND_END},
			{Key: "rejected", Kind: flowhookv1.StateKind_STATE_KIND_END},
		},
		Transitions: []*flowhookv1.Transition{
			{Key: "submit", FromState: "start", ToState: "ticket"},
			{Key: "approve", FromState: "ticket", ToState: "approved", OnOutcome: flowhookv1.Outcome_OUTCOME_APPROVED},
			{Key: "reject", FromState: "ticket", ToState: "rejected", OnOutcome: flowhookv1.Outcome_OUTCOME_DENIED},
		},
	}
	wf, err := admin.Design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: draft}))
	if err != nil {
		t.Fatal(err)
	}
	published, err := admin.Design.PublishWorkflow(ctx, connect.NewRequest(&flowhookv1.PublishWorkflowRequest{
		WorkflowId: wf.Msg.GetWorkflow().GetId(), ExpectedRevision: wf.Msg.GetWorkflow().GetRevision()}))
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range published.Msg.GetVersion().GetTransitions() {
		if tr.GetKey() == "submit" {
			fmt.Println("submit:", tr.GetActions()[0].GetKind())
		}
	}

	// While a published version names it, the connector stays.
	_, err = admin.Settings.DeleteConnector(ctx, connect.NewRequest(&flowhookv1.DeleteConnectorRequest{Name: "tickets"}))
	fmt.Println("delete:", connect.CodeOf(err))
	// Output:
	// webhook path: /webhooks/c2i/tickets
	// signing secret set: true generated: true
	// get shows the secret: false
	// submit: ACTION_KIND_CONNECTOR_CREATE_WORK_ITEM
	// delete: failed_precondition
}
