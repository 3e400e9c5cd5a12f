// Whole lists: the users, groups, connectors and workflows that fill pickers and name lookups are
// read page after page (the SDK's `pages` follows the tokens and stops on one it was given
// before), not just the first page, up to a bound that AllNote states when a list reaches it.
import type { DescMessage, DescMethodUnary, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type { CallOptions } from "@connectrpc/connect";
import { callUnaryMethod, useTransport } from "@connectrpc/connect-query";
import { pages } from "@flowhook/sdk";
import { useQuery, type UseQueryResult } from "@tanstack/react-query";

/** Entries asked for per page: the server's maximum. */
export const ALL_PAGE_SIZE = 500;
/** Pages read at most (10,000 entries): a list cut there says so with AllNote. */
export const ALL_MAX_PAGES = 20;

/** A list's entries across its pages; complete is false when the bound cut it. */
export type All<T> = { items: T[]; complete: boolean };

type Options = { enabled?: boolean; staleTime?: number; retry?: boolean | number };

/**
 * Every entry of a list RPC: `pick` takes them out of each page (the request's pageSize and
 * pageToken are the hook's). The answer has useQuery's shape (data, error, isPending), its data
 * the entries of all pages.
 *
 * ```ts
 * const users = useAll(IdentityService.method.listUsers, {}, (r) => r.users, { staleTime: 60_000 });
 * ```
 */
export function useAll<I extends DescMessage, O extends DescMessage, T>(
  method: DescMethodUnary<I, O>,
  request: MessageInitShape<I>,
  pick: (res: MessageShape<O>) => readonly T[],
  options: Options = {},
): UseQueryResult<All<T>> {
  const transport = useTransport();
  return useQuery({
    queryKey: ["all", method.parent.typeName, method.name, request],
    queryFn: async ({ signal }) => {
      const list = (page: { pageSize: number; pageToken?: string }, o?: CallOptions) =>
        callUnaryMethod(transport, method, { ...request, ...page }, { signal: o?.signal }) as Promise<MessageShape<O> & { nextPageToken: string }>;
      const items: T[] = [];
      let n = 0;
      for await (const page of pages(list, { pageSize: ALL_PAGE_SIZE }, { signal })) {
        items.push(...pick(page));
        if (++n === ALL_MAX_PAGES && page.nextPageToken !== "") return { items, complete: false };
      }
      return { items, complete: true };
    },
    ...options,
  });
}

/** Says that a list stopped at the bound: what lies past it is not offered here. */
export function AllNote({ list, what, rest = "flowhook has more" }: { list: { data?: All<unknown> }; what: string; rest?: string }) {
  if (!list.data || list.data.complete) return null;
  return (
    <p className="notice">
      Only the first {list.data.items.length.toLocaleString("en")} {what} are listed here: {rest}.
    </p>
  );
}
