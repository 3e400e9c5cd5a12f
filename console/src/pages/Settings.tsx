import { Page } from "../ui";
export function Settings(_: { tab?: string }) {
  return <Page title="Settings">TODO</Page>;
}
