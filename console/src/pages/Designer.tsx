import { Page } from "../ui";
export function Designer(_: { workflowId?: string; version?: number }) {
  return <Page title="Designer">TODO</Page>;
}
