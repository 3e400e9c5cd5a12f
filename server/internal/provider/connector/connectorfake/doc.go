// Package connectorfake is a local ticketing service that stands in for "any outside system"
// flowhook reaches through a connector. It speaks flowhook's connector protocol exactly, so it
// doubles as the protocol's reference: what follows is what a system must do to be a
// connector's other side.
//
// # The protocol
//
// Every call flowhook makes is signed the Standard Webhooks way (package standardwebhooks):
// headers webhook-id, webhook-timestamp and webhook-signature, an HMAC-SHA256 over
// "<id>.<timestamp>.<body>" keyed with the connector's signing secret ("whsec_…"), the
// timestamp within five minutes of the system's clock. A connector may also carry one auth
// header of the system's own (for example "Authorization: Bearer …"), sent as configured.
// Answers are JSON; an error answer is {"error": "…"}.
//
// Create — POST <create_url>, with Content-Type: application/json and Idempotency-Key: the
// work item id:
//
//	{"type": "workitem.create", "timestamp": "<RFC 3339>",
//	 "data": {"workItemId": "…", "instanceId": "…", "workflowId": "…", "workflowVersion": 3,
//	          "state": "<the EXTERNAL state's key>", "formData": {…},
//	          "callbackUrl": "<where the system posts its events>",
//	          "document": {"title": "…", "contentType": "application/pdf", "base64": "…"}}}
//
// document is present only when the step sends one; workflowVersion is a number and formData
// an object (possibly empty). The system answers 2xx with {"id": "<its id for the item>"}
// (extra fields are ignored). A create repeated with the same Idempotency-Key — flowhook's
// retry after a lost answer — must answer with the same id and create nothing.
//
// Status — GET <status_url>, the URL's {id} replaced by the system's id, signed over the empty
// body. The answer is {"type": "<the latest event type of the item>", "reason": "…"} (reason
// may be empty), or 404 for an id the system does not know.
//
// Cancel — POST <cancel_url>, {id} replaced, signed:
//
//	{"type": "workitem.cancel", "timestamp": "<RFC 3339>",
//	 "data": {"id": "<the system's id>", "workItemId": "…", "reason": "…"}}
//
// workItemId may be left out; when present it must be the work item the ticket was created
// for. reason may be empty.
//
// Callbacks — the system posts each event of an item to the create's callbackUrl, with
// Content-Type: application/json and Standard Webhooks headers signed with the same secret:
// a fresh webhook-id per event, kept (with the body) when the same event is sent again; the
// timestamp of the sending, so a redelivery is signed anew:
//
//	{"type": "<event type>", "timestamp": "<RFC 3339>", "data": {"id": "<the system's id>", "reason": "…"}}
//
// Event types are the system's own; the connector's outcome table maps the final ones to
// flowhook outcomes, and any other type is progress.
//
// # This fake
//
// Routes: POST /tickets (create), GET /tickets/{id} (status), POST /tickets/{id}/cancel, so a
// connector's URLs are CreateURL, StatusURL and CancelURL of the fake's base URL. Ticket ids
// are TCK-1, TCK-2, … (Options.IDPrefix). A create answers 201 {"id", "type"} and posts ticket.created before it
// answers (a receiver must cope with an event for an item it has not coupled yet); a repeated
// Idempotency-Key answers 200 with the same id. A cancel marks the ticket ticket.cancelled and
// posts that event; cancelling again is 200 and changes nothing; cancelling a ticket that
// reached another final type is 409. The fake's event types and the outcomes a connector
// configured for it maps them to are the Type constants and Outcomes.
//
// It checks every call: the auth header when Options.AuthHeader sets one, then the signature
// against any of its secrets (401 with the reason otherwise), then the JSON shape (400; 415
// for another Content-Type). Every call is recorded (Requests) with whether it verified and
// why not, and every ticket (Tickets) with what the create carried. A callback's body is an
// Event.
//
// Test hooks (Approve, Reject, Resolve, Delete, Expire, Comment, and Send for any type) play
// the system's users and post the event before they return, so tests need no sleeps. Knobs
// inject failures (FailNext), hold calls until a test releases them or the caller gives up
// (HoldRequests, to make flowhook's client time out), lose a create's answer after the ticket
// exists (DropNextCreateResponse), rotate secrets (SetSecrets), and make callbacks misbehave:
// duplicates, holding and reordering, a wrong secret, a skewed timestamp, no signature
// headers. A callback the listener did not acknowledge (a transport error or a non-2xx answer)
// waits (Backlog) until Redeliver sends every waiting callback again, in order, each once:
// same webhook-id and body, new timestamp and signature. Later callbacks are not held behind a
// failed one.
//
// The fake shares no code with flowhook's connector client on purpose: it checks the client
// against an independent reading of the same protocol.
package connectorfake
