// Package onespan is flowhook's adapter for OneSpan Sign (formerly eSignLive): its REST API under
// {host}/api and its callback (event notification) webhook.
//
// The Client implements engine.ProviderClient. Every request carries the account's API key as
// "Authorization: Basic {apiKey}", the key as is (it is not base64 of user:password). Create
// sends one multipart/form-data POST /api/packages with the Package JSON (part "payload") and
// the PDF (part "file"); the package carries flowhook's work-item id in its free "data"
// attributes, so that a crash between OneSpan accepting a package and flowhook committing its id
// can be repaired with FindByWorkItem, which lists recently updated packages and matches that
// attribute.
//
// # Signature placement
//
// A signer with a Box gets a SIGNATURE/FULLNAME field at that position. The Box is in PDF points
// (1/72 inch) from the top-left, while OneSpan's document engine renders pages at 93.6 dpi and
// takes field positions in those pixels (a US Letter page is 796 × 1030 px): positions are
// multiplied by PixelsPerPoint (1.3) and rounded down, so a box at the page's edge stays inside
// it. A signer without a Box gets a text anchor (extractAnchor on the Anchor text, with
// extraction enabled on the document) of AnchorFieldWidth × AnchorFieldHeight pixels.
//
// # Callbacks
//
// OneSpan has one callback configuration per account (RegisterCallback, GetCallback), not one
// per package: the WorkItemRequest's CallbackURL is not sent with a package. Callbacks carry no
// body signature; the shared callback key arrives as "Authorization: Basic {key}". The webhook
// side is Verify (the key, in constant time, before anything parses the body), ParseEvent, and
// DefaultOutcome. Since nothing binds the body to the key, the receiver treats an event as a
// hint and reads the package back (Status) before the workflow moves. OneSpan does not retry a
// failed callback: the reconciliation sweep (Status) is what repairs a lost one.
//
// # Errors
//
// Errors from OneSpan are *engine.ProviderError values carrying OneSpan's messageKey as Code. A
// 4xx is permanent (errors.Is(err, engine.ErrProviderPermanent)); 408, 429 and 5xx are
// transient and retried a bounded number of times when the request is idempotent (a create is
// retried only on 429). A 404 with OneSpan's error body is also engine.ErrGone, and a download
// that can never be kept (too large, not a zip, an empty zip) engine.ErrDocumentUnkeepable. No
// error carries the API key or a callback key.
//
// The package onespanfake beside this one is a local OneSpan Sign that follows the same shapes;
// the tests of this package run against it. The shapes come from reference/providers.md, part B.
package onespan
