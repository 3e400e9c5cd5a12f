// Walking flowhook's list RPCs. Every one takes `pageSize` and `pageToken` and answers a page
// with `nextPageToken`, empty on the last page; these helpers follow the tokens so that a caller
// writes one loop, and ask for a page only when the loop wants it.

import type { CallOptions } from "@connectrpc/connect";

/** A list RPC of a flowhook client, such as `client.instances.listAssignedToMe`. */
export type ListCall<Req extends { pageToken?: string }, Res extends { nextPageToken: string }> = (
  request: Req,
  options?: CallOptions,
) => Promise<Res>;

/**
 * The responses of a list RPC, page after page, from the request's `pageToken` (the first page
 * when it is empty) to the last. The next page is asked for when the loop asks for it, so a
 * `break` makes no further call. A failed call rejects the loop with its `ConnectError`;
 * `options` (a `signal`, `timeoutMs`, headers) apply to every call.
 *
 * ```ts
 * for await (const page of pages(client.eventLog.listEvents, { filter: { externalId }, pageSize: 100 })) {
 *   console.log(page.totalSize, page.events.length);
 * }
 * ```
 */
export async function* pages<Req extends { pageToken?: string }, Res extends { nextPageToken: string }>(
  list: ListCall<Req, Res>,
  request: Req,
  options?: CallOptions,
): AsyncGenerator<Res, void, undefined> {
  let token = request.pageToken ?? "";
  // The tokens the walk has asked with, from a kept one it starts from on.
  const seen = new Set<string>(token === "" ? [] : [token]);
  for (let n = 1; ; n++) {
    const res = await list({ ...request, pageToken: token }, options);
    yield res;
    token = res.nextPageToken;
    if (token === "") {
      return;
    }
    // A server that hands back a token it gave before, or the one the walk started from,
    // would be followed for ever.
    if (seen.has(token)) {
      throw new Error(`flowhook: page ${n} of the list answered a page token an earlier page had; stopping`);
    }
    seen.add(token);
  }
}

/**
 * The items of a list RPC across all its pages: `pick` takes them out of each response.
 *
 * ```ts
 * for await (const inst of items(client.instances.listAssignedToMe, {}, (r) => r.instances)) {
 *   console.log(inst.id, inst.stateKey);
 * }
 * ```
 */
export async function* items<Req extends { pageToken?: string }, Res extends { nextPageToken: string }, T>(
  list: ListCall<Req, Res>,
  request: Req,
  pick: (res: Res) => readonly T[],
  options?: CallOptions,
): AsyncGenerator<T, void, undefined> {
  for await (const page of pages(list, request, options)) {
    yield* pick(page);
  }
}
