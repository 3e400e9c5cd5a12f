import { Page } from "../ui";
export function EventLog(_: { eventId?: string }) {
  return <Page title="Event Log">TODO</Page>;
}
