import { Page } from "../ui";
export function InstancePage(_: { id: string }) {
  return <Page title="Form Activity">TODO</Page>;
}
