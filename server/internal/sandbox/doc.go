// Package sandbox runs flowhook's outside systems inside flowhook, for `flowhook dev` (and
// `flowhook serve --sandbox`): the fake DocuSign, the fake OneSpan and the fake ticketing
// system of the provider packages' …fake subpackages, mounted on the server's own listener
// under /sandbox/, so that the whole external loop — work item created, signed, signed
// webhook, transition, signed document kept — runs on one laptop with no account anywhere.
//
// At start (Setup) every provider that is not configured is pointed at the sandbox through
// the same settings editor and connector administration the RPCs use, so the settings API
// shows it: DocuSign (oauth_base_url {public URL}/sandbox/docusign), OneSpan (base_url
// {public URL}/sandbox/onespan) and a connector named "sandbox" for the ticketing fake. The
// fakes' credentials are generated in memory at each start, so settings a sandbox wrote
// earlier — recognised by a URL whose path is /sandbox/… — are re-pointed every time; settings
// an administrator gave for a real system are never touched. The fakes keep their items in
// memory: they are forgotten when the server stops. Of the requests they answered and the
// notifications they posted, each fake keeps its newest 10,000 (DefaultKeep; GET
// /sandbox/control/{system}/deliveries lists those), so a sandbox left running for days does
// not grow with its traffic.
//
// Routes, unauthenticated (they exist only in sandbox mode):
//
//	GET  /sandbox/                                  what the sandbox serves and what each system points at
//	GET  /sandbox/work-items                        every item at the fakes: system, externalId, status, actions
//	POST /sandbox/work-items/{externalId}/{action}  body {"reason": "…"} (optional): the fake holding the item
//	                                                plays the action and posts its real, signed webhook to
//	                                                flowhook, then answers with the deliveries (HTTP statuses)
//	                                                and the item's webhooks the fake holds (held, redeliver)
//	     /sandbox/docusign/…, /sandbox/onespan/…, /sandbox/tickets/…   the fakes' own APIs
//	     /sandbox/control/{docusign|onespan|tickets}/…                 the fakes' control API (Fakes.Control)
//	GET  /sandbox/control/{docusign|onespan|tickets}/held              notifications held after a failed delivery
//	POST /sandbox/control/{docusign|onespan|tickets}/redeliver         post them now, in order, each once
//
// Actions: complete, decline, void, expire and delete on every system, mapped to each fake's
// own — DocuSign: complete, decline, void, expire, and delete is a void (DocuSign has no
// deletion of an envelope out for signature; flowhook takes a voided envelope as DELETED);
// OneSpan: complete, decline, expire, delete, and void is trash (DELETED, the package stays
// readable); tickets: complete is resolve (FINISHED), decline is reject (DENIED), void is
// delete (DELETED). Each fake's own actions are accepted too: deliver and sign (DocuSign);
// sign, optout, archive and trash (OneSpan); approve, reject, resolve and comment (tickets).
// An unknown id or action is 404, an action the item's state refuses 409, each with
// {"error": "…"}.
//
// A notification flowhook did not acknowledge (a server restarting, a 5xx) is held by its fake:
// DocuSign marks the listener down and queues every later Connect message behind it for its
// daily retry; OneSpan and the ticketing system keep the failed one and go on posting. Held
// notifications are listed by GET …/held ({"held": [{id, event, url, tried}]}); POST
// …/redeliver is the real systems' republish (DocuSign's Connect failures → republish,
// OneSpan's resend, the ticketing system's redelivery): it posts every held notification at
// once, oldest first, each once, and answers {"deliveries": [{id, event, url, statusCode,
// error}], "held": [what is still held]}. At DocuSign a listener still down stops it at its
// first failure, so nothing goes out of order.
//
// Reordering is asked per item, on the control API's actions only: POST
// /sandbox/control/{system}/{items}/{id}/{action} with {"reorder": true} holds that item's
// notifications, this action's included, until the item ends — it no longer accepts its
// completion: signed, declined, voided, expired, deleted — and then posts them all at once,
// newest first, each with its duplicates. The outcome then reaches flowhook before the
// progress that led to it, which flowhook must take as STALE. So at DocuSign deliver
// {"reorder": true} then complete posts envelope-completed, recipient-completed,
// envelope-delivered, recipient-delivered; at the ticketing system comment then reject posts
// ticket.rejected, then ticket.commented; at OneSpan complete alone posts PACKAGE_COMPLETE,
// SIGNER_COMPLETE, DOCUMENT_SIGNED. An action's answer lists under "reordering" the events
// still held for its item ([] once it ended); other items' notifications go out as usual
// meanwhile; an action the item's state refuses holds nothing. The sandbox's own
// POST /sandbox/work-items/… route does not reorder (asking it to is a 400).
//
// A OneSpan action may also wait for flowhook's download of the package's signed documents,
// which follows once its outcome has moved the instance: {"waitDownloads": "30s"} (at most a
// minute) answers when the download has arrived, or when the wait has passed, with "downloads"
// (how many there were) beside the deliveries — the action and GET
// /onespan/packages/{id}/downloads?wait= in one request (the load tool's OneSpan
// completions). Control API only, as reordering is.
package sandbox
