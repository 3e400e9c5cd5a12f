import { Page } from "../ui";
export function Start(_: { workflowId?: string }) {
  return <Page title="Start">TODO</Page>;
}
