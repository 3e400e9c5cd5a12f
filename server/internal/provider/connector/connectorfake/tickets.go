package connectorfake

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// createBody is a create call's body as the protocol has it. Pointers tell a field that is
// missing from one that is empty.
type createBody struct {
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
	Data      *struct {
		WorkItemID      string          `json:"workItemId"`
		InstanceID      string          `json:"instanceId"`
		WorkflowID      string          `json:"workflowId"`
		WorkflowVersion *int            `json:"workflowVersion"`
		State           string          `json:"state"`
		FormData        json.RawMessage `json:"formData"`
		CallbackURL     string          `json:"callbackUrl"`
		Document        *struct {
			Title       string `json:"title"`
			ContentType string `json:"contentType"`
			Base64      string `json:"base64"`
		} `json:"document"`
	} `json:"data"`
}

// cancelBody is a cancel call's body.
type cancelBody struct {
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
	Data      *struct {
		ID         string `json:"id"`
		WorkItemID string `json:"workItemId"`
		Reason     string `json:"reason"`
	} `json:"data"`
}

// problems collects what is wrong with a call, to answer all of it at once.
type problems []string

func (p *problems) check(ok bool, msg string) {
	if !ok {
		*p = append(*p, msg)
	}
}

// envelope checks the fields every flowhook call carries.
func (p *problems) envelope(typ, wantType, ts string) {
	p.check(typ == wantType, `type: want "`+wantType+`"`)
	_, err := time.Parse(time.RFC3339, ts)
	p.check(err == nil, "timestamp: want RFC 3339")
}

// answer writes 400 with every problem; it reports whether there were any.
func (p problems) answer(w http.ResponseWriter) bool {
	if len(p) == 0 {
		return false
	}
	writeJSON(w, http.StatusBadRequest, map[string]any{"error": strings.Join(p, "; "), "problems": []string(p)})
	return true
}

// jsonCall reads a JSON body into v, answering 415 or 400 itself when it cannot.
func jsonCall(w http.ResponseWriter, r *http.Request, body []byte, v any) bool {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "Content-Type: want application/json")
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		writeError(w, http.StatusBadRequest, "body: "+err.Error())
		return false
	}
	return true
}

// create is POST /tickets.
func (f *Fake) create(w http.ResponseWriter, r *http.Request, body []byte) {
	var req createBody
	if !jsonCall(w, r, body, &req) {
		return
	}
	key := r.Header.Get("Idempotency-Key")
	var p problems
	p.check(key != "", "Idempotency-Key header: required")
	p.envelope(req.Type, "workitem.create", req.Timestamp)
	p.check(req.Data != nil, "data: required")
	if p.answer(w) {
		return
	}
	d := req.Data
	p.check(d.WorkItemID != "", "data.workItemId: required")
	p.check(d.WorkItemID == key, "data.workItemId: want the Idempotency-Key")
	p.check(d.InstanceID != "", "data.instanceId: required")
	p.check(d.WorkflowID != "", "data.workflowId: required")
	p.check(d.WorkflowVersion != nil && *d.WorkflowVersion > 0, "data.workflowVersion: want a positive number")
	p.check(d.State != "", "data.state: required")
	var form map[string]any
	p.check(bytes.HasPrefix(bytes.TrimSpace(d.FormData), []byte("{")) && json.Unmarshal(d.FormData, &form) == nil,
		"data.formData: want an object")
	u, err := url.Parse(d.CallbackURL)
	p.check(err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "", "data.callbackUrl: want an absolute http(s) URL")
	var doc []byte
	if d.Document != nil {
		p.check(d.Document.Title != "", "data.document.title: required")
		p.check(d.Document.ContentType == "application/pdf", `data.document.contentType: want "application/pdf"`)
		doc, err = base64.StdEncoding.DecodeString(d.Document.Base64)
		p.check(err == nil && len(doc) > 0, "data.document.base64: want standard base64 of the document")
	}
	if p.answer(w) {
		return
	}

	f.mu.Lock()
	drop := f.dropCreate.Fire()
	if id, ok := f.byKey[key]; ok {
		latest := f.tickets[id].LatestType
		f.mu.Unlock()
		if drop {
			panic(http.ErrAbortHandler) // the server closes the connection without an answer
		}
		writeJSON(w, http.StatusOK, map[string]string{"id": id, "type": latest})
		return
	}
	now := f.now()
	t := &Ticket{
		ID: f.opts.IDPrefix + strconv.Itoa(len(f.order)+1), WorkItemID: key, InstanceID: d.InstanceID, WorkflowID: d.WorkflowID,
		WorkflowVersion: *d.WorkflowVersion, State: d.State, CallbackURL: d.CallbackURL, FormData: form, Created: now,
	}
	if d.Document != nil {
		t.Document, t.DocumentTitle, t.DocumentContentType = doc, d.Document.Title, d.Document.ContentType
	}
	f.tickets[t.ID] = t
	f.order = append(f.order, t.ID)
	f.byKey[key] = t.ID
	msg := f.eventLocked(t, TypeCreated, "")
	f.mu.Unlock()

	f.hooks.Dispatch(msg)
	if drop {
		panic(http.ErrAbortHandler)
	}
	writeJSON(w, http.StatusCreated, map[string]string{"id": t.ID, "type": TypeCreated})
}

// status is GET /tickets/{id}.
func (f *Fake) status(w http.ResponseWriter, r *http.Request, _ []byte) {
	f.mu.Lock()
	t, ok := f.tickets[r.PathValue("id")]
	var typ, reason string
	if ok {
		typ, reason = t.LatestType, t.Reason
	}
	f.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "no ticket "+r.PathValue("id"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"type": typ, "reason": reason})
}

// cancel is POST /tickets/{id}/cancel.
func (f *Fake) cancel(w http.ResponseWriter, r *http.Request, body []byte) {
	var req cancelBody
	if !jsonCall(w, r, body, &req) {
		return
	}
	id := r.PathValue("id")
	var p problems
	p.envelope(req.Type, "workitem.cancel", req.Timestamp)
	p.check(req.Data != nil, "data: required")
	if p.answer(w) {
		return
	}
	p.check(req.Data.ID == id, "data.id: want the id in the URL")
	if p.answer(w) {
		return
	}

	f.mu.Lock()
	t, ok := f.tickets[id]
	switch {
	case !ok:
		f.mu.Unlock()
		writeError(w, http.StatusNotFound, "no ticket "+id)
		return
	case req.Data.WorkItemID != "" && t.WorkItemID != req.Data.WorkItemID:
		f.mu.Unlock()
		writeError(w, http.StatusBadRequest, "data.workItemId: ticket "+id+" belongs to another work item")
		return
	case t.LatestType == TypeCancelled:
		f.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]string{"id": id, "type": TypeCancelled})
		return
	case t.Final():
		latest := t.LatestType
		f.mu.Unlock()
		writeError(w, http.StatusConflict, "ticket "+id+" is already "+latest)
		return
	}
	msg := f.eventLocked(t, TypeCancelled, req.Data.Reason)
	f.mu.Unlock()
	f.hooks.Dispatch(msg)
	writeJSON(w, http.StatusOK, map[string]string{"id": id, "type": TypeCancelled})
}
