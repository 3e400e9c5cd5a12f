// Deadlines: a badge when one has passed.
import { timestampDate, type Timestamp } from "@flowhook/sdk";

export function isOverdue(ts: Timestamp | undefined): boolean {
  return ts !== undefined && timestampDate(ts).getTime() < Date.now();
}

export function Overdue({ ts }: { ts: Timestamp | undefined }) {
  if (!isOverdue(ts)) return null;
  return <span className="badge failed overdue">Overdue</span>;
}
