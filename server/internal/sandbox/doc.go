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
// memory: they are forgotten when the server stops.
//
// Routes, unauthenticated (they exist only in sandbox mode):
//
//	GET  /sandbox/                                  what the sandbox serves and what each system points at
//	GET  /sandbox/work-items                        every item at the fakes: system, externalId, status, actions
//	POST /sandbox/work-items/{externalId}/{action}  body {"reason": "…"} (optional): the fake holding the item
//	                                                plays the action and posts its real, signed webhook to
//	                                                flowhook, then answers with the deliveries (HTTP statuses)
//	     /sandbox/docusign/…, /sandbox/onespan/…, /sandbox/tickets/…   the fakes' own APIs
//	     /sandbox/control/{docusign|onespan|tickets}/…                 the fakes' control API (Fakes.Control)
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
package sandbox
