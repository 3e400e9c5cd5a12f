// Inbox (/inbox): the HUMAN work assigned to the caller or one of their groups, oldest first,
// polled every 3 s. Each row opens the instance's Form Activity, where its form is filled.
import { useQuery } from "@connectrpc/connect-query";
import { keepPreviousData } from "@tanstack/react-query";
import { useState } from "react";
import { WorkflowDesignService, WorkflowInstanceService } from "../api";
import { Link } from "../router";
import { ErrorNote, label, Loading, Page, Pager, Time, usePaging } from "../ui";
import { useNames } from "./work/names";
import { isOverdue, Overdue } from "./work/when";
import "./work/work.css";

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

/** A state's name in its workflow version (versions are immutable: read once, shared by rows). */
function StateName({ workflowId, version, stateKey }: { workflowId: string; version: number; stateKey: string }) {
  const v = useQuery(WorkflowDesignService.method.getWorkflowVersion, { workflowId, version }, { staleTime: Infinity, retry: false });
  const name = v.data?.version?.states.find((s) => s.key === stateKey)?.name;
  return <>{name || label(stateKey)}</>;
}
