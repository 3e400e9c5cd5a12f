// Package docusign is flowhook's adapter for DocuSign eSignature REST v2.1 and Connect (JSON SIM).
//
// The Client implements engine.ProviderClient: it signs in with the OAuth JWT grant
// (impersonating one user), finds the account's REST base URI through /oauth/userinfo, and
// creates, reads, voids and downloads envelopes. Every envelope carries flowhook's work-item id
// as a text custom field and registers a per-envelope Connect webhook, so that a crash between
// DocuSign accepting an envelope and flowhook committing its id can be repaired with
// FindByWorkItem, and so that outcomes arrive without polling.
//
// The webhook side is three functions for the receiver: Verify checks the HMAC signatures over
// the raw body before anything parses it, ParseEvent reads the JSON SIM message, and
// DefaultOutcome maps an event to a workflow outcome.
//
// Errors from DocuSign are *engine.ProviderError values. A 400 with an errorCode is permanent
// (errors.Is(err, engine.ErrProviderPermanent)); rate limits and server errors are retried a
// bounded number of times and are otherwise transient. ENVELOPE_DOES_NOT_EXIST is also
// engine.ErrGone, and a download that can never be kept (too large, not a PDF)
// engine.ErrDocumentUnkeepable. No error or log line carries the access token, the private key
// or an HMAC key.
//
// The package docusignfake beside this one is a local DocuSign that follows the same shapes; the
// tests of this package run against it. The shapes come from reference/providers.md, part A.
package docusign
