package connector

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/connector/standardwebhooks"
	"github.com/flowhook/flowhook/server/internal/provider/rest"
)

// maxAnswer caps an answer of the outside system; answerQuote is how much of one a failure
// reason quotes.
const (
	maxAnswer   int64 = 1 << 20
	answerQuote       = 200
	maxIDLen          = 255
)

// Client calls one connector's outside system. It implements engine.ProviderClient and is safe
// for concurrent use.
type Client struct {
	sys engine.System
	cfg Config
	rc  rest.Client
	now func() time.Time
}

var _ engine.ProviderClient = (*Client)(nil)

// NewClient returns the client of a connector; httpClient nil means net/http's default client,
// now nil time.Now.
func NewClient(sys engine.System, cfg Config, httpClient *http.Client, now func() time.Time) *Client {
	if now == nil {
		now = time.Now
	}
	return &Client{sys: sys, cfg: cfg, rc: rest.Client{HTTP: httpClient, Now: now}, now: now}
}

// WithWait replaces how the client waits between tries (tests).
func (c *Client) WithWait(wait func(ctx context.Context, d time.Duration) error) *Client {
	c.rc.Wait = wait
	return c
}

// message is what flowhook posts: a Standard Webhooks payload.
type message struct {
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
	Data      any    `json:"data"`
}

type createData struct {
	WorkItemID      string         `json:"workItemId"`
	InstanceID      string         `json:"instanceId"`
	WorkflowID      string         `json:"workflowId"`
	WorkflowVersion int32          `json:"workflowVersion"`
	State           string         `json:"state"`
	FormData        map[string]any `json:"formData"`
	CallbackURL     string         `json:"callbackUrl"`
	Document        *document      `json:"document,omitempty"`
}

type document struct {
	Title       string `json:"title"`
	ContentType string `json:"contentType"`
	Base64      string `json:"base64"`
}

// call sends one signed request: the body (nil for a GET) is signed at each try with a fresh
// timestamp, under the message id, which stays the same across tries.
func (c *Client) call(ctx context.Context, method, target, msgID string, body []byte, header http.Header) (*rest.Response, error) {
	h := http.Header{}
	for k, vs := range header {
		h[k] = vs
	}
	if name, value, ok := strings.Cut(c.cfg.AuthHeader, ":"); ok {
		h.Set(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	req := rest.Request{Method: method, URL: target, Body: body, Accept: "application/json", Header: h,
		Idempotent: true, Limit: maxAnswer,
		Prepare: func(r *http.Request) error {
			// During a rotation's grace, with the previous secret too: the system may not have
			// the new one yet (Standard Webhooks carries a signature for each).
			return standardwebhooks.SetHeaders(r.Header, c.cfg.Secrets(c.now()), msgID, c.now(), body)
		}}
	if body != nil {
		req.ContentType = "application/json"
	}
	resp, err := c.rc.Do(ctx, req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text quotes the whole URL, query and all
		}
		if errors.Is(err, engine.ErrProviderPermanent) {
			// The HTTP client refused the call (a redirect to another host, a link-local
			// address): its reason, which names no credential, is shown to an administrator
			// (a connection test's report) as a permanent failure, not "could not be reached".
			return nil, &engine.ProviderError{System: c.sys, Permanent: true,
				Message: fmt.Sprintf("%s %s: %s", method, redactURL(target), err)}
		}
		return nil, fmt.Errorf("%s: %s %s: %w", c.sys, method, redactURL(target), err)
	}
	return resp, nil
}

// Create posts the work item to create_url under its Idempotency-Key (our work item id), so
// that a retry — after a lost answer or a crash — is answered with the item created the first
// time. The body is the same at every attempt, byte for byte (its timestamp is the work item's
// creation): a system following the Idempotency-Key draft refuses a key sent again with
// another payload. 2xx {"id": …} couples the id; 408, 429 and 5xx are tried again with
// backoff (and the job tries again later); any other answer is a permanent failure quoting it.
func (c *Client) Create(ctx context.Context, req engine.WorkItemRequest) (string, error) {
	data := createData{WorkItemID: req.WorkItemID, InstanceID: req.InstanceID, WorkflowID: req.WorkflowID,
		WorkflowVersion: req.WorkflowVersion, State: req.State, FormData: req.FormData, CallbackURL: req.CallbackURL}
	if data.FormData == nil {
		data.FormData = map[string]any{}
	}
	if d := req.Document; d != nil {
		data.Document = &document{Title: d.Title, ContentType: d.ContentType, Base64: base64.StdEncoding.EncodeToString(d.Content)}
	}
	created := req.CreatedAt
	if created.IsZero() {
		created = c.now() // a request that does not say
	}
	body, err := json.Marshal(message{Type: "workitem.create", Timestamp: created.UTC().Format(time.RFC3339), Data: data})
	if err != nil {
		return "", fmt.Errorf("%w: the work item cannot be sent as JSON: %w", engine.ErrProviderPermanent, err)
	}
	resp, err := c.call(ctx, http.MethodPost, c.cfg.CreateURL, "create_"+req.WorkItemID, body,
		http.Header{"Idempotency-Key": {req.WorkItemID}})
	if err != nil {
		return "", err
	}
	if !resp.OK() {
		return "", c.answerError(resp, "create")
	}
	var out struct {
		ID json.RawMessage `json:"id"`
	}
	_ = json.Unmarshal(resp.Body, &out)
	var id string
	if json.Unmarshal(out.ID, &id) != nil || strings.TrimSpace(id) == "" || len(id) > maxIDLen || strings.ContainsAny(id, "\r\n") {
		return "", &engine.ProviderError{System: c.sys, HTTPStatus: resp.Status, Permanent: true,
			Message: fmt.Sprintf("the create answer has no usable \"id\" (a string of 1 to %d characters): %s", maxIDLen, quoteAnswer(resp))}
	}
	return id, nil
}

// FindByWorkItem cannot search: the protocol has none, and none is needed, since the create is
// sent again under the same Idempotency-Key and answered with the item made before. It says so
// with engine.ErrNotSupported, so that a ticket an earlier attempt may have made for an
// instance that has since moved on is learnt that way and voided. Without a cancel_url nothing
// could void it: it finds nothing, and no create is sent only to learn an id.
func (c *Client) FindByWorkItem(context.Context, string, time.Time) (string, bool, error) {
	if c.cfg.CancelURL == "" {
		return "", false, nil
	}
	return "", false, fmt.Errorf("%w: connector %s cannot be searched; the create is sent again under its Idempotency-Key", engine.ErrNotSupported, c.cfg.Name)
}

// Status reads the item's latest event type from status_url (reconciliation).
func (c *Client) Status(ctx context.Context, externalID string) (engine.ExternalStatus, error) {
	if c.cfg.StatusURL == "" {
		return engine.ExternalStatus{}, fmt.Errorf("%w: connector %s has no status_url", engine.ErrNotSupported, c.cfg.Name)
	}
	// Each reading is a message of its own (a receiver may refuse a webhook-id it saw).
	resp, err := c.call(ctx, http.MethodGet, expand(c.cfg.StatusURL, externalID), "status_"+uuid.NewString(), nil, nil)
	if err != nil {
		return engine.ExternalStatus{}, err
	}
	if !resp.OK() {
		return engine.ExternalStatus{}, c.answerError(resp, "status")
	}
	var out struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	}
	if err := json.Unmarshal(resp.Body, &out); err != nil || strings.TrimSpace(out.Type) == "" || len(out.Type) > engine.MaxEventTypeLen {
		return engine.ExternalStatus{}, &engine.ProviderError{System: c.sys, HTTPStatus: resp.Status,
			Message: "the status answer has no \"type\": " + quoteAnswer(resp)}
	}
	st := engine.ExternalStatus{Status: out.Type, Reason: truncate(out.Reason, maxReason)}
	if o, ok := c.cfg.Outcomes[out.Type]; ok && o.Valid() {
		st.Outcome = o
	}
	return st, nil
}

// Cancel posts the cancellation to cancel_url.
func (c *Client) Cancel(ctx context.Context, externalID, reason string) error {
	if c.cfg.CancelURL == "" {
		return fmt.Errorf("%w: connector %s has no cancel_url", engine.ErrNotSupported, c.cfg.Name)
	}
	body, err := json.Marshal(message{Type: "workitem.cancel", Timestamp: c.now().UTC().Format(time.RFC3339),
		Data: map[string]string{"id": externalID, "reason": reason}})
	if err != nil {
		return err
	}
	resp, err := c.call(ctx, http.MethodPost, expand(c.cfg.CancelURL, externalID), "cancel_"+externalID, body, nil)
	if err != nil {
		return err
	}
	if !resp.OK() {
		return c.answerError(resp, "cancel")
	}
	return nil
}

// Download: a connector's system keeps no document for flowhook to fetch.
func (c *Client) Download(context.Context, string) ([]byte, error) { return nil, engine.ErrNoDocument }

// answerError is a non-2xx answer as a ProviderError quoting its start: 408, 429 and 5xx are
// transient, any other status permanent.
func (c *Client) answerError(resp *rest.Response, what string) error {
	return &engine.ProviderError{System: c.sys, HTTPStatus: resp.Status, Permanent: !rest.Transient(resp.Status),
		RetryAfter: resp.RetryAfter, Message: fmt.Sprintf("the %s was answered %d: %s", what, resp.Status, quoteAnswer(resp))}
}

// quoteAnswer is the start of an answer, printable.
func quoteAnswer(resp *rest.Response) string {
	if len(resp.Body) == 0 {
		return "(an empty body)"
	}
	return rest.QuoteN(string(resp.Body), answerQuote)
}

// expand puts the external id into a URL's {id}: escaped as a path segment in the path, as a
// query value in the query.
func expand(raw, id string) string {
	path, query, hasQuery := strings.Cut(raw, "?")
	out := strings.ReplaceAll(path, "{id}", url.PathEscape(id))
	if hasQuery {
		out += "?" + strings.ReplaceAll(query, "{id}", url.QueryEscape(id))
	}
	return out
}

// redactURL keeps a URL's query (which may carry a token) out of error text.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "the connector's URL"
	}
	u.RawQuery, u.User = "", nil
	return u.String()
}
