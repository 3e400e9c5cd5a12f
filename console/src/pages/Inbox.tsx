import { Page } from "../ui";
export function Inbox() {
  return <Page title="Inbox">TODO</Page>;
}
