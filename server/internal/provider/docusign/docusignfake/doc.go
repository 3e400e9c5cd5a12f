// Package docusignfake is a local DocuSign: the OAuth JWT grant, userinfo, the eSignature REST
// v2.1 envelope endpoints flowhook uses, and a Connect sender that posts JSON SIM messages
// signed with HMAC keys, all in the shapes of reference/providers.md (parts A and D).
//
// Tests start it with Start and point a docusign.Client at the URL; a sandbox mode can mount
// Handler. Test hooks (Deliver, Sign, Complete, Decline, Void, Expire) move envelopes the way
// signers and DocuSign would and deliver the Connect messages the real service sends, before
// they return, so tests need no sleeps. Knobs inject rate limits and server errors, expire and
// revoke tokens, drop a create's answer after the envelope exists, and duplicate, hold,
// reorder and retry Connect deliveries.
//
// Connect's own retries follow its acknowledgment rules (RetryPolicy): after a failure the
// listener is down and every later message for it is queued, untried, for the daily retry
// (RetryPending). Redeliver is the republish an administrator does from Connect's failure log:
// every failed or queued message (Backlog) at once, in order, each once.
//
// The fake shares no code with package docusign on purpose: it checks the client's JWT, HMAC
// and JSON against an independent reading of the same reference.
package docusignfake
