// Quickstart: design, publish and run a small approval workflow with @flowhook/sdk.
//
//   go run ./server/cmd/flowhook serve          # prints the bootstrap admin key once
//   cd sdk/typescript
//   FLOWHOOK_API_KEY=<that key> npm run example # FLOWHOOK_URL defaults to http://127.0.0.1:8080
//
// It needs no provider: the workflow's one step is a HUMAN state assigned to the caller.
import {
  ActivityKind,
  Code,
  FieldType,
  StateKind,
  createFlowhookClient,
  describeError,
  errorCode,
  items,
  validationProblems,
} from "@flowhook/sdk";

const baseUrl = process.env["FLOWHOOK_URL"] ?? "http://127.0.0.1:8080";
const apiKey = process.env["FLOWHOOK_API_KEY"];
if (!apiKey) {
  console.error("Set FLOWHOOK_API_KEY to an API key (the admin key `flowhook serve` printed on its first start).");
  process.exit(2);
}

const flowhook = createFlowhookClient({ baseUrl, apiKey });

// Who am I? (IdentityService)
const me = await flowhook.identity.whoAmI({});
console.log(`signed in as ${me.user?.email}`);

// A draft with a mistake: the designer sees every problem at once (WorkflowDesignService).
try {
  await flowhook.design.createWorkflow({
    workflow: { name: "Broken", states: [{ key: "start", kind: StateKind.START }], transitions: [{ key: "go", fromState: "start", toState: "nowhere" }] },
  });
} catch (err) {
  if (errorCode(err) !== Code.InvalidArgument) throw err;
  console.log(`a broken draft is refused with ${validationProblems(err).length} problems:`);
  console.log(describeError(err));
}

// The real thing: start → review (assigned to me) → approved | rejected.
const created = await flowhook.design.createWorkflow({
  workflow: {
    name: `Expense approval ${new Date().toISOString()}`,
    description: "An expense, approved by its reviewer",
    states: [
      {
        key: "start",
        name: "Expense",
        kind: StateKind.START,
        formFields: [
          { name: "purpose", label: "Purpose", type: FieldType.STRING, required: true },
          { name: "amount", label: "Amount", type: FieldType.NUMBER, required: true },
        ],
      },
      {
        key: "review",
        name: "Review",
        kind: StateKind.HUMAN,
        assignee: { assignee: { case: "userId", value: me.user!.id } },
        formFields: [{ name: "comment", label: "Comment", type: FieldType.STRING }],
      },
      { key: "approved", name: "Approved", kind: StateKind.END },
      { key: "rejected", name: "Rejected", kind: StateKind.END },
    ],
    transitions: [
      { key: "submit", fromState: "start", toState: "review" },
      { key: "approve", fromState: "review", toState: "approved" },
      { key: "reject", fromState: "review", toState: "rejected" },
    ],
  },
});
const workflow = created.workflow!;
const { version } = await flowhook.design.publishWorkflow({ workflowId: workflow.id, expectedRevision: workflow.revision });
console.log(`published "${workflow.draft?.name.replace(/ \d{4}-.*/, "")}" version ${version?.version}`);

// Start an instance (WorkflowInstanceService); it lands in my "assigned to me" list.
const started = await flowhook.instances.startInstance({
  workflowId: workflow.id,
  formData: { purpose: "Conference travel", amount: 420.5 },
  requestId: crypto.randomUUID(), // retries with the same id return the same instance
});
console.log(`started an instance: it waits in "${started.instance?.stateKey}"`);

// Read it back by its id. listAssignedToMe lists it too, among any older work of mine: walk
// that list with items() rather than looking on its first page only.
const { instance: todo } = await flowhook.instances.getInstance({ instanceId: started.instance!.id });
if (!todo) throw new Error("the started instance is gone");
console.log(`assigned to me: ${todo.workflowName.replace(/ \d{4}-.*/, "")} in "${todo.stateKey}", amount ${todo.formData?.["amount"]}`);

const took = await flowhook.instances.takeTransition({
  instanceId: todo.id,
  transitionKey: "approve",
  formData: { comment: "Within budget" },
  expectedRevision: todo.revision, // refused with Aborted if someone acted first
});
console.log(`approved: the instance is now "${took.instance?.stateKey}"`);

// The instance's timeline (Form Activity), every page of it.
for await (const e of items(flowhook.instances.listActivity, { instanceId: todo.id }, (r) => r.entries)) {
  const move = e.transitionKey ? ` ${e.transitionKey}: ${e.fromState} → ${e.toState}` : "";
  console.log(`  ${e.sequence}. ${ActivityKind[e.kind]}${move}`);
}

// Admins see provider settings and the Event Log (ProviderSettingsService, EventLogService).
const security = await flowhook.settings.getSecuritySettings({});
console.log(`webhook receiver debug is ${security.settings?.webhookReceiverDebug ? "on" : "off"}`);
const events = await flowhook.eventLog.listEvents({ pageSize: 10 });
console.log(`the Event Log holds ${events.totalSize} provider notifications`);
