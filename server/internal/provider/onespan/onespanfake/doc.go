// Package onespanfake is a local OneSpan Sign: the REST endpoints flowhook uses under /api
// (packages, documents, signing status, callback configuration) and a callback sender that
// posts OneSpan's ESLProcessEvent JSON with the registered key as "Authorization: Basic {key}",
// all in the shapes of reference/providers.md (parts B and D).
//
// Tests start it with Start and point a onespan.Client at the URL; a sandbox mode can mount
// Handler. Test hooks (Activate, Sign, Complete, Decline, OptOut, Expire, Archive, Trash,
// Restore, Delete) move packages the way signers, senders and OneSpan would and deliver the
// callbacks the real service sends before they return, so tests need no sleeps. Only events
// listed in the registered callback configuration are sent (OneSpan's per-event opt-in).
//
// Delivery is OneSpan's: never retried. A failed delivery (a transport error or a non-2xx
// answer) is kept as the "callback failure email" with its JSON payload (FailedDeliveries),
// which a test can Replay, as an integrator would; Redeliver resends every failed callback not
// delivered since (Backlog) at once, in order, as OneSpan's support resends them on request.
// Later callbacks are not held behind a failed one: OneSpan keeps posting them. Knobs duplicate, hold and reorder
// deliveries, inject API failures, drop a create's answer after the package exists, make GET
// disagree with an event (SetStatus), and leave data attributes out of listings.
//
// Semantics the fake had to choose (UNCONFIRMED against the real service):
//   - DELETE /api/packages/{id} deletes the package for good: later reads answer 404, and a
//     PACKAGE_DELETE callback goes out. Trashing (the Trash hook, or POST /api/packages/{id}
//     with {"trashed":true}) keeps the package readable with "trashed": true and sends
//     PACKAGE_TRASH.
//   - Creating a SENT package sends PACKAGE_CREATE, then PACKAGE_ACTIVATE; a PACKAGE_DECLINE
//     or PACKAGE_OPT_OUT carries no message: the reason is in the package's messages[].
//   - Field positions are pixels at 93.6 dpi (PixelsPerPoint) from the page's top-left; a
//     field outside the page is refused with error.validation.invalidPageLocation, as OneSpan
//     does. Page count and size are read from the PDF's /Type /Page objects and first
//     /MediaBox; when they cannot be read, positions are not checked.
//   - A text anchor must occur in the PDF's bytes (the renderer writes uncompressed content
//     streams) and its document must have extraction enabled.
//   - Error messageKeys other than error.validation.invalidPageLocation and
//     error.validation.cannotChangePackageStatus are the fake's own.
//   - GET /api/callback answers 404 while no callback is registered; the listing's query takes
//     inbox, sent, drafts, trashed or a status name.
//
// The fake shares no code with package onespan on purpose: it checks the client's requests
// against an independent reading of the same reference.
package onespanfake
