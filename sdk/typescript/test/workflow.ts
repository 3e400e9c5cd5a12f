// A workflow every SDK test can publish: a start form, a DocuSign signature, a counter-signing
// step for a group, and the ends.
import { FieldType, Outcome, Provider, StateKind, type MessageInitShape, type WorkflowDraftSchema } from "@flowhook/sdk";

export function signingDraft(name: string, groupId: string): MessageInitShape<typeof WorkflowDraftSchema> {
  return {
    name,
    description: "Signed at DocuSign, then countersigned by legal",
    states: [
      {
        key: "start",
        name: "Request",
        kind: StateKind.START,
        formFields: [
          { name: "signer_name", label: "Signer", type: FieldType.STRING, required: true },
          { name: "signer_email", label: "Signer email", type: FieldType.EMAIL, required: true },
          { name: "amount", label: "Amount", type: FieldType.NUMBER },
        ],
      },
      {
        key: "sign",
        name: "Signature",
        kind: StateKind.EXTERNAL,
        external: {
          provider: Provider.DOCUSIGN,
          emailSubject: "Please sign your contract",
          documentTitle: "Contract",
          signers: [{ nameField: "signer_name", emailField: "signer_email" }],
        },
      },
      {
        key: "countersign",
        name: "Countersign",
        kind: StateKind.HUMAN,
        assignee: { assignee: { case: "groupId", value: groupId } },
        formFields: [{ name: "note", label: "Note", type: FieldType.STRING }],
      },
      { key: "done", name: "Done", kind: StateKind.END },
      { key: "rejected", name: "Rejected", kind: StateKind.END },
    ],
    transitions: [
      { key: "submit", fromState: "start", toState: "sign" },
      { key: "signed", fromState: "sign", toState: "countersign", onOutcome: Outcome.FINISHED },
      { key: "declined", fromState: "sign", toState: "rejected", onOutcome: Outcome.DENIED },
      { key: "archive", fromState: "countersign", toState: "done" },
    ],
  };
}
