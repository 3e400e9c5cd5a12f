// Inbox (/inbox): the HUMAN work assigned to the caller or one of their groups, oldest first,
// polled every 3 s. Each row opens the instance's Form Activity, where its form is filled.
import { useQuery } from "@connectrpc/connect-query";
import type { JsonObject } from "@flowhook/sdk";
import { keepPreviousData } from "@tanstack/react-query";
import { useState } from "react";
import { WorkflowDesignService, WorkflowInstanceService } from "../api";
import { Link } from "../router";
import { ErrorNote, label, Loading, Page, Pager, Time, usePaging } from "../ui";
import { useNames } from "./instance/names";
import { formValue, namer } from "./instance/timeline";
import { isOverdue, Overdue } from "./instance/when";
import "./instance/instance.css";

const PAGE_SIZE = 25;

export function Inbox() {
  const [tokens, setTokens] = useState<string[]>([""]);
  const paging = usePaging(tokens, setTokens);
  const names = useNames();
  const list = useQuery(
    WorkflowInstanceService.method.listAssignedToMe,
    { pageSize: PAGE_SIZE, pageToken: paging.token },
    { refetchInterval: 3000, placeholderData: keepPreviousData },
  );
  const rows = list.data?.instances ?? [];
  return (
    <Page title="Inbox">
      <p className="muted">Work waiting for you or one of your groups, the longest-waiting first.</p>
      {list.error && <ErrorNote error={list.error} title="Your inbox could not be read" />}
      {list.isPending && <Loading what="your inbox" />}
      {list.data && rows.length === 0 && paging.page === 0 && (
        <div className="card empty" id="inbox-empty">
          <p>
            <strong>Nothing is waiting for you.</strong>
          </p>
          <p className="muted">
            No work is assigned to you or your groups right now. <Link to="/start">Start a workflow</Link>.
          </p>
        </div>
      )}
      {rows.length > 0 && (
        <div className="table-wrap">
          <table id="inbox-table">
            <caption className="sr-only">Work assigned to you</caption>
            <thead>
              <tr>
                <th scope="col">Workflow</th>
                <th scope="col">State</th>
                <th scope="col">Details</th>
                <th scope="col">Assigned to</th>
                <th scope="col">Started</th>
                <th scope="col">Deadline</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((i) => (
                <tr key={i.id} data-instance-id={i.id} className={isOverdue(i.deadline) ? "overdue-row" : undefined}>
                  <td>
                    <Link to={`/instances/${i.id}`} id={`open-${i.id}`}>
                      {i.workflowName || "Workflow"}
                    </Link>{" "}
                    <span className="muted">v{i.version}</span>
                  </td>
                  <td>
                    <StateName workflowId={i.workflowId} version={i.version} stateKey={i.stateKey} />
                  </td>
                  <td className="details">
                    <Details workflowId={i.workflowId} version={i.version} data={i.formData} />
                  </td>
                  <td>{names.assignee(i.assignee)}</td>
                  <td>
                    <Time ts={i.createdAt} />
                  </td>
                  <td>
                    {i.deadline ? (
                      <>
                        <Time ts={i.deadline} /> <Overdue ts={i.deadline} />
                      </>
                    ) : (
                      <span className="muted">none</span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {list.data && (paging.page > 0 || list.data.nextPageToken) && (
        <Pager page={paging.page} next={list.data.nextPageToken} onNext={() => paging.next(list.data.nextPageToken)} onFirst={paging.first} />
      )}
    </Page>
  );
}

/** A workflow version (immutable: read once, shared by the rows of the same version). */
function useVersion(workflowId: string, version: number) {
  return useQuery(WorkflowDesignService.method.getWorkflowVersion, { workflowId, version }, { staleTime: Infinity, retry: false }).data?.version;
}

function StateName({ workflowId, version, stateKey }: { workflowId: string; version: number; stateKey: string }) {
  const name = useVersion(workflowId, version)?.states.find((s) => s.key === stateKey)?.name;
  return <>{name || label(stateKey)}</>;
}

/** The first few values of the form data, labelled: enough to tell the rows apart. */
function Details({ workflowId, version, data }: { workflowId: string; version: number; data?: JsonObject }) {
  const n = namer(useVersion(workflowId, version));
  const entries = Object.entries(data ?? {}).slice(0, 3);
  if (entries.length === 0) return <span className="muted">—</span>;
  return (
    <>
      {entries.map(([k, v], idx) => (
        <span key={k}>
          {idx > 0 && " · "}
          <span className="muted">{n.field(k)}:</span> {formValue(v).slice(0, 60)}
        </span>
      ))}
    </>
  );
}
