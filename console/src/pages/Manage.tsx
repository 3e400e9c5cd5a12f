import { Page } from "../ui";
export function Manage() {
  return <Page title="Workflow Manage">TODO</Page>;
}
