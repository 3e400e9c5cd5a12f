package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/structpb"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/provider/connector/standardwebhooks"
	"github.com/flowhook/flowhook/server/internal/provider/docusign/docusignfake"
)

// scenario is what one row measures.
type scenario struct {
	name string
	// consumes: each request uses up one prepared item (a transition ends its instance).
	consumes bool
	// prepare readies the items before the timed part: n of them when the scenario consumes
	// them, else a pool it cycles through (nil: no items).
	prepare func(ctx context.Context, n int) ([]item, error)
	do      func(ctx context.Context, it item, i int) error
	// moved counts the instances created since the run began (its items, prepared then, or
	// the instances it starts) that the scenario has moved so far (nil: it moves none); a row
	// reports the difference over its run, checked against the successful requests.
	moved func(ctx context.Context, since time.Time) (int64, error)
	// settles, when set, waits until the server has finished the background work the
	// scenario left (the signed documents to fetch, the work items to create and couple); the
	// wait counts in the scenario's time and CPU, so that its rate is one the server can
	// sustain.
	settles func(ctx context.Context) error
	note    string
}

func (b *bench) scenario(name string) scenario {
	completed := func(workflowID string) func(context.Context, time.Time) (int64, error) {
		return func(ctx context.Context, since time.Time) (int64, error) {
			return b.countStatus(ctx, workflowID, flowhookv1.InstanceStatus_INSTANCE_STATUS_COMPLETED, since)
		}
	}
	external := func(s string) func(context.Context, int) ([]item, error) {
		return func(ctx context.Context, n int) ([]item, error) { return b.prepareExternal(ctx, s, n) }
	}
	pool := func(s string) func(context.Context, int) ([]item, error) {
		return func(ctx context.Context, _ int) ([]item, error) { return b.ingestPool(ctx, s, b.ingestSize) }
	}
	// A list's pool is the HUMAN workflow's instances, which the runs before it made; with
	// -vacuum-db the database is vacuumed and analyzed first (vacuum.go).
	listPool := func(ctx context.Context, _ int) ([]item, error) {
		if _, err := b.humanPool(ctx); err != nil {
			return nil, err
		}
		if b.vacuumDB != "" {
			took, err := vacuum(ctx, b.vacuumDB)
			if err != nil {
				return nil, err
			}
			b.logf("vacuumed and analyzed the database in %s", took.Round(time.Millisecond))
		}
		return nil, nil
	}
	switch name {
	case "ingest-docusign":
		return scenario{name: name, prepare: pool("docusign"), do: b.docuSignEvent("envelope-sent", "sent"),
			note: "envelope-sent (progress) for coupled envelopes; inline: 200 after the event commits"}
	case "ingest-onespan":
		return scenario{name: name, consumes: true, prepare: external("onespan"), do: b.oneSpanCallback("PACKAGE_COMPLETE"), settles: b.settle,
			note: "PACKAGE_COMPLETE for coupled packages still SENT at the fake: 200 once stored PENDING; processing (in-process) reads the package back, unconfirmed: nothing moves; the time includes processing every callback (none left PENDING)"}
	case "ingest-connector":
		return scenario{name: name, prepare: pool("connector"), do: b.connectorEvent("ticket.commented"),
			note: "ticket.commented (progress) for coupled tickets; inline: 200 after the event commits"}
	case "transition-docusign":
		return scenario{name: name, consumes: true, prepare: external("docusign"), do: b.docuSignEvent("envelope-completed", "completed"),
			moved: completed(b.external["docusign"]), settles: b.documentsFetched,
			note: "envelope-completed; applied inline: the 200 comes after the transition commits, so latency = webhook → transition; the time includes fetching the signed documents"}
	case "transition-onespan":
		return scenario{name: name, consumes: true, prepare: external("onespan"), do: b.oneSpanComplete,
			moved: completed(b.external["onespan"]), settles: b.documentsFetched, note: "the fake completes the package and posts its callbacks (200 = stored PENDING); processing (in-process once stored) reads the package back and moves the instance, then fetches the signed documents: latency runs until that download reaches the fake (just after the move commits)"}
	case "transition-connector":
		return scenario{name: name, consumes: true, prepare: external("connector"), do: b.connectorEvent("ticket.resolved"),
			moved: completed(b.external["connector"]), note: "ticket.resolved; applied inline: the 200 comes after the transition commits"}
	case "start":
		return scenario{name: name, do: b.start, note: "StartInstance of the HUMAN workflow (START → HUMAN)"}
	case "start-external":
		return scenario{name: name, do: b.startConnector, moved: func(ctx context.Context, since time.Time) (int64, error) {
			return b.countStatus(ctx, b.startExternal, flowhookv1.InstanceStatus_INSTANCE_STATUS_WAITING_EXTERNAL, since)
		}, settles: b.coupled(b.startExternal),
			note: "StartInstance of a workflow whose first state is EXTERNAL (a connector's ticket): the 200 comes after the instance, its work item and the job that creates the ticket commit; the time includes creating and coupling every ticket"}
	case "take":
		return scenario{name: name, consumes: true, prepare: func(ctx context.Context, n int) ([]item, error) {
			return b.startMany(ctx, b.human, n, nil)
		}, do: b.take, moved: completed(b.human), note: "TakeTransition HUMAN → END as the assignee"}
	case "list-assigned":
		return scenario{name: name, prepare: listPool, do: b.listAssigned, note: "ListAssignedToMe as the assignee, 50 a page"}
	case "list-instances":
		return scenario{name: name, prepare: listPool, do: b.listInstances, note: "ListInstances {workflow, ACTIVE}, 50 a page, as admin"}
	}
	panic("unknown scenario " + name) // names are validated with the flags
}

var eventSeq atomic.Int64

// docuSignEvent posts a Connect JSON SIM message signed with the fake's HMAC key.
func (b *bench) docuSignEvent(event, status string) func(context.Context, item, int) error {
	return func(ctx context.Context, it item, _ int) error {
		at := time.Now().UTC().Add(time.Duration(eventSeq.Add(1)) * time.Microsecond).Format("2006-01-02T15:04:05.0000000Z")
		body := fmt.Appendf(nil, `{"event":%q,"apiVersion":"v2.1","uri":"/restapi/v2.1/accounts/%s/envelopes/%s","retryCount":0,`+
			`"configurationId":1,"generatedDateTime":%q,"data":{"accountId":%q,"envelopeId":%q,`+
			`"envelopeSummary":{"status":%q,"envelopeId":%q,"statusChangedDateTime":%q}}}`,
			event, b.docuSignAccount, it.externalID, at, b.docuSignAccount, it.externalID, status, it.externalID, at)
		h := http.Header{"Content-Type": {"application/json"}}
		h.Set("X-DocuSign-Signature-1", docusignfake.Signature(body, b.docuSignHMAC))
		h.Set("X-Authorization-Digest", "HMACSHA256")
		h.Set("X-DocuSign-AccountId", b.docuSignAccount)
		return b.post(ctx, "/webhooks/DocuSign", body, h)
	}
}

// oneSpanCallback posts a callback with the callback key.
func (b *bench) oneSpanCallback(event string) func(context.Context, item, int) error {
	return func(ctx context.Context, it item, _ int) error {
		at := time.Now().UTC().Add(time.Duration(eventSeq.Add(1)) * time.Millisecond).Format("2006-01-02T15:04:05.000Z")
		body := fmt.Appendf(nil, `{"@class":"com.silanis.esl.packages.event.ESLProcessEvent","name":%q,"sessionUser":"loadgen",`+
			`"packageId":%q,"message":null,"documentId":null,"createdDate":%q}`, event, it.externalID, at)
		h := http.Header{"Content-Type": {"application/json; charset=utf-8"}, "Authorization": {"Basic " + b.oneSpanKey}}
		return b.post(ctx, "/webhooks/OneSpan", body, h)
	}
}

// oneSpanComplete has the fake complete the package (it posts the callbacks) and, in the same
// request, wait until flowhook downloads the package's signed documents, which it does once the
// completion has moved the instance (the finish marks them due as it commits; the fetch starts
// right after). The fake answers when the download arrives ({"waitDownloads": …}), so latency
// runs to a moment just after the transition committed, and the run asks flowhook nothing:
// polling GetInstance for the move, about once a completion, was a sixth of the server's CPU.
// (The action and GET …/downloads?wait= were two requests until session 39: a fifth of the
// load's CPU a completion.) Every instance is checked COMPLETED after the run (moved).
func (b *bench) oneSpanComplete(ctx context.Context, it item, _ int) error {
	var got struct {
		Downloads int `json:"downloads"`
	}
	if _, err := b.fakes.Control(ctx, "POST", "/onespan/packages/"+it.externalID+"/complete", map[string]string{"waitDownloads": "1m"}, &got); err != nil {
		return err
	}
	if got.Downloads < 1 {
		return fmt.Errorf("package %s: no signed document fetched a minute after it completed", it.externalID)
	}
	return nil
}

// connectorEvent posts a ticket event signed the Standard Webhooks way.
func (b *bench) connectorEvent(typ string) func(context.Context, item, int) error {
	return func(ctx context.Context, it item, i int) error {
		now := time.Now()
		body := fmt.Appendf(nil, `{"type":%q,"timestamp":%q,"data":{"id":%q,"reason":"loadgen %d"}}`,
			typ, now.UTC().Format(time.RFC3339Nano), it.externalID, i)
		h := http.Header{"Content-Type": {"application/json"}}
		if err := standardwebhooks.SetHeaders(h, []string{b.connectorSecret}, "msg_"+randomKey(12), now, body); err != nil {
			return err
		}
		return b.post(ctx, "/webhooks/c2i/"+b.connector, body, h)
	}
}

// errStatus is a webhook answered with something other than 200.
var errStatus = errors.New("not 200")

// errNotAccepted is a webhook answered 200 whose body's status is not "accepted": flowhook's
// receiver (server/internal/webhook/receive.go) answers {"status":"accepted"} for an event it
// stored (applied, or PENDING with its job: what the ingest scenarios of OneSpan time), and
// 200 with "duplicate" for a redelivery or "ignored" for an event it does not act on, neither
// of which did the work a scenario times: such a request counts as an error, not as a rate.
var errNotAccepted = errors.New(`answered 200 but not {"status":"accepted"}`)

// documentsFetched waits until the server has no signed document left to fetch
// (flowhook_documents_due, on the first replica's /metrics: they share the database).
func (b *bench) documentsFetched(ctx context.Context) error {
	deadline := time.Now().Add(2 * time.Minute)
	tick := time.NewTicker(100 * time.Millisecond) // a scrape runs every gauge's query
	defer tick.Stop()
	for {
		n, err := b.documentsDue(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d signed documents still due two minutes after the run", n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// documentsDue reads flowhook_documents_due from the first replica's /metrics.
func (b *bench) documentsDue(ctx context.Context) (int64, error) {
	n, found := int64(0), false
	err := b.scrape(ctx, b.urls[0], func(name, _ string, v float64) {
		if name == "flowhook_documents_due" {
			n, found = int64(v), true
		}
	})
	if err == nil && !found {
		err = errors.New("/metrics has no flowhook_documents_due")
	}
	return n, err
}

func (b *bench) post(ctx context.Context, path string, body []byte, h http.Header) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.urls[b.turn()%uint64(len(b.urls))]+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header = h
	res, err := b.hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(res.Body, 512))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: POST %s: %d %s", errStatus, path, res.StatusCode, bytes.TrimSpace(msg))
	}
	var reply struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(msg, &reply); err != nil || reply.Status != "accepted" {
		return fmt.Errorf("%w: POST %s: %s", errNotAccepted, path, bytes.TrimSpace(msg))
	}
	return nil
}

func (b *bench) start(ctx context.Context, _ item, i int) error {
	_, err := b.adminAt().Instances.StartInstance(ctx, connect.NewRequest(&flowhookv1.StartInstanceRequest{
		WorkflowId: b.human, RequestId: "loadgen-" + b.suffix + "-s" + strconv.Itoa(i) + "-" + randomKey(6)}))
	return err
}

// startConnector starts an instance of start-external's workflow, which enters its EXTERNAL
// state at once.
func (b *bench) startConnector(ctx context.Context, _ item, i int) error {
	fd, err := structpb.NewStruct(map[string]any{"signer_name": "Signer " + strconv.Itoa(i), "signer_email": fmt.Sprintf("signer%d@example.com", i)})
	if err != nil {
		return err
	}
	_, err = b.adminAt().Instances.StartInstance(ctx, connect.NewRequest(&flowhookv1.StartInstanceRequest{
		WorkflowId: b.startExternal, FormData: fd, RequestId: "loadgen-" + b.suffix + "-x" + strconv.Itoa(i) + "-" + randomKey(6)}))
	return err
}

func (b *bench) take(ctx context.Context, it item, _ int) error {
	_, err := b.userAt().Instances.TakeTransition(ctx, connect.NewRequest(&flowhookv1.TakeTransitionRequest{
		InstanceId: it.instanceID, TransitionKey: "approve", ExpectedRevision: it.revision}))
	return err
}

func (b *bench) listAssigned(ctx context.Context, _ item, _ int) error {
	res, err := b.userAt().Instances.ListAssignedToMe(ctx, connect.NewRequest(&flowhookv1.ListAssignedToMeRequest{PageSize: 50}))
	if err == nil && len(res.Msg.GetInstances()) == 0 {
		err = errors.New("ListAssignedToMe: nothing assigned")
	}
	return err
}

func (b *bench) listInstances(ctx context.Context, _ item, _ int) error {
	res, err := b.adminAt().Instances.ListInstances(ctx, connect.NewRequest(&flowhookv1.ListInstancesRequest{
		Filter: &flowhookv1.InstanceFilter{WorkflowId: b.human, Status: flowhookv1.InstanceStatus_INSTANCE_STATUS_ACTIVE}, PageSize: 50}))
	if err == nil && len(res.Msg.GetInstances()) == 0 {
		err = errors.New("ListInstances: none")
	}
	return err
}

// humanPool makes sure the assignee has instances to list: 200 ACTIVE ones, once per run.
func (b *bench) humanPool(ctx context.Context) ([]item, error) {
	b.mu.Lock()
	pool := b.pools["human"]
	b.mu.Unlock()
	if len(pool) > 0 {
		return nil, nil
	}
	pool, err := b.startMany(ctx, b.human, 200, nil)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.pools["human"] = pool
	b.mu.Unlock()
	return nil, nil
}
