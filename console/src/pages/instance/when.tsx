// Deadlines (a badge when one has passed) and the end of an instance's changes.
import { InstanceStatus, timestampDate, type Timestamp } from "@flowhook/sdk";

/** Completed and cancelled instances change no more: polling stops. */
export function isFinal(status: InstanceStatus | undefined): boolean {
  return status === InstanceStatus.COMPLETED || status === InstanceStatus.CANCELLED;
}

export function isOverdue(ts: Timestamp | undefined): boolean {
  return ts !== undefined && timestampDate(ts).getTime() < Date.now();
}

export function Overdue({ ts }: { ts: Timestamp | undefined }) {
  if (!isOverdue(ts)) return null;
  return <span className="badge failed overdue">Overdue</span>;
}
