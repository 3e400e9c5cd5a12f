// Command fakeproviders runs local stand-ins for DocuSign, OneSpan Sign and a ticketing system
// reached through a connector, for developing a front end against a real flowhook with nothing
// outside the machine, and for the TypeScript SDK's tests. The fakes are the ones the Go tests
// use (server/internal/provider/…fake): they follow the real API shapes — the ticketing fake
// follows flowhook's connector protocol (Standard Webhooks signatures both ways) — so flowhook
// talks to them with its real clients, and they deliver webhooks (DocuSign Connect messages
// with HMAC signatures, OneSpan callbacks with the callback key, signed ticket events) back to
// flowhook exactly as the systems would.
//
//	fakeproviders [-addr 127.0.0.1]
//
// Each fake listens on its own free loopback port. Once they listen, one JSON line goes to
// stdout:
//
//	{"docusign":"http://127.0.0.1:41001","onespan":"http://127.0.0.1:41002","tickets":"http://127.0.0.1:41003","control":"http://127.0.0.1:41004"}
//
// The control URL serves a small JSON API that plays the signers', senders' and agents' part:
//
//	GET  /docusign/account                   accountId, integrationKey, userId, privateKeyPem, hmacKeys:
//	                                         what UpdateDocuSignSettings needs (oauth_base_url = the docusign URL)
//	GET  /docusign/envelopes                 envelopes created so far: envelopeId, status, subject
//	POST /docusign/envelopes/{id}/{action}   deliver | sign | complete | decline | void | expire;
//	                                         body {"reason": "…"} for decline and void
//	GET  /docusign/deliveries                every Connect message posted: envelopeId, event, statusCode, …
//	PUT  /docusign/duplicates                {"count": n}: post every message n times from now on (1 to 10)
//	GET  /onespan/account                    apiKey (UpdateOneSpanSettings: base_url = the onespan URL)
//	GET  /onespan/packages                   packages created so far: packageId, status, name
//	POST /onespan/packages/{id}/{action}     sign | complete | decline | optout | expire | archive | trash | delete
//	GET  /onespan/deliveries                 every callback posted: packageId, event, statusCode, …
//	PUT  /onespan/duplicates                 {"count": n}: post every callback n times from now on (1 to 10)
//	GET  /tickets/account                    signingSecret, createUrl, statusUrl, cancelUrl, outcomes (event
//	                                         type → outcome): what CreateConnector needs
//	PUT  /tickets/secret                     {"secret": "whsec_…"}: use a secret flowhook generated instead
//	GET  /tickets/tickets                    tickets created so far: id, workItemId, state, latestType, reason
//	POST /tickets/tickets/{id}/{action}      approve | reject | resolve | delete | expire | comment;
//	                                         body {"reason": "…"} (a comment's text)
//	GET  /tickets/deliveries                 every ticket event posted: id, event, statusCode, …
//	PUT  /tickets/duplicates                 {"count": n}: post every event n times from now on (1 to 10)
//
// An action answers once the system's notifications have been posted to flowhook, with the
// deliveries it made. The credentials are generated at start and live only in this process;
// the fakes hold everything in memory and forget it when the command stops (SIGINT/SIGTERM).
package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/flowhook/flowhook/server/internal/provider/connector/connectorfake"
	"github.com/flowhook/flowhook/server/internal/provider/connector/standardwebhooks"
	"github.com/flowhook/flowhook/server/internal/provider/docusign/docusignfake"
	"github.com/flowhook/flowhook/server/internal/provider/onespan/onespanfake"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "fakeproviders:", err)
		os.Exit(1)
	}
}

// URLs is the line the command prints once every fake listens.
type URLs struct {
	DocuSign string `json:"docusign"`
	OneSpan  string `json:"onespan"`
	Tickets  string `json:"tickets"`
	Control  string `json:"control"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fakeproviders", flag.ContinueOnError)
	fs.SetOutput(stderr)
	host := fs.String("addr", "127.0.0.1", "host (or IP) the fakes listen on, each on a free port")
	if err := fs.Parse(args); err != nil {
		return err
	}
	f, err := newFakes()
	if err != nil {
		return err
	}
	// Listen on every port first: the control API tells the ticketing fake's URL.
	const count = 4 // docusign, onespan, tickets, control
	lns := make([]net.Listener, 0, count)
	defer func() {
		for _, ln := range lns {
			ln.Close() // after Shutdown a no-op; on an early return, frees the ports
		}
	}()
	urls := make([]string, count)
	for i := range count {
		ln, err := net.Listen("tcp", net.JoinHostPort(*host, "0"))
		if err != nil {
			return fmt.Errorf("listen: %w", err)
		}
		lns = append(lns, ln)
		urls[i] = "http://" + ln.Addr().String()
	}
	f.ticketsURL = urls[2]
	handlers := []http.Handler{f.docuSign.Handler(), f.oneSpan.Handler(), f.tickets.Handler(), f.control()}
	servers := make([]*http.Server, count)
	errc := make(chan error, count)
	for i, h := range handlers {
		servers[i] = &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
		go func() { errc <- servers[i].Serve(lns[i]) }()
	}
	line, err := json.Marshal(URLs{DocuSign: urls[0], OneSpan: urls[1], Tickets: urls[2], Control: urls[3]})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, string(line))

	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(shutdown)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// fakes is one DocuSign account, one OneSpan account and one ticketing system with their
// credentials.
type fakes struct {
	docuSign      *docusignfake.Fake
	docuSignPEM   string
	docuSignHMAC  string
	oneSpan       *onespanfake.Fake
	oneSpanAPIKey string
	tickets       *connectorfake.Fake // its signing secret is generated in New
	ticketsURL    string              // the ticketing fake's base URL, once it listens
}

func newFakes() (*fakes, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	hmacKey := make([]byte, 32)
	if _, err := rand.Read(hmacKey); err != nil {
		return nil, err
	}
	f := &fakes{
		docuSignPEM:  string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})),
		docuSignHMAC: base64.StdEncoding.EncodeToString(hmacKey),
		oneSpan:      onespanfake.New(onespanfake.Options{}),
		tickets:      connectorfake.New(connectorfake.Options{}),
	}
	f.docuSign = docusignfake.New(docusignfake.Options{PublicKey: &key.PublicKey, HMACKeys: []string{f.docuSignHMAC}})
	f.oneSpanAPIKey = f.oneSpan.APIKey()
	return f, nil
}

// Delivery is one notification a fake posted to its listener.
type Delivery struct {
	ID         string `json:"id"`
	Event      string `json:"event"`
	URL        string `json:"url"`
	StatusCode int    `json:"statusCode"`
	Error      string `json:"error,omitempty"`
}

func (f *fakes) control() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /docusign/account", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{
			"accountId": f.docuSign.AccountID(), "integrationKey": f.docuSign.IntegrationKey(), "userId": f.docuSign.UserID(),
			"privateKeyPem": f.docuSignPEM, "hmacKeys": []string{f.docuSignHMAC}})
	})
	mux.HandleFunc("GET /onespan/account", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"apiKey": f.oneSpanAPIKey})
	})
	mux.HandleFunc("GET /tickets/account", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{
			"signingSecret": f.tickets.Secrets()[0], "createUrl": connectorfake.CreateURL(f.ticketsURL),
			"statusUrl": connectorfake.StatusURL(f.ticketsURL), "cancelUrl": connectorfake.CancelURL(f.ticketsURL),
			"outcomes": connectorfake.Outcomes})
	})
	mux.HandleFunc("PUT /tickets/secret", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Secret string `json:"secret"`
		}
		if !readBody(w, r, &body, `{"secret": "whsec_…"}`) {
			return
		}
		if _, err := standardwebhooks.ParseSecret(body.Secret); err != nil {
			writeError(w, http.StatusBadRequest, "secret: "+err.Error())
			return
		}
		_ = f.tickets.SetSecrets(body.Secret) // parsed above: it cannot fail
		writeJSON(w, http.StatusOK, map[string]string{"signingSecret": body.Secret})
	})
	for _, s := range f.systems() {
		s.register(mux)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such control endpoint; see `go doc ./server/cmd/fakeproviders`")
	})
	return mux
}

// system is one fake's part of the control API beside its account: its work items, the
// notifications it posted, the actions that move an item, and the duplicates knob.
type system struct {
	prefix     string     // "/docusign"
	items      string     // the items' path segment and JSON key: "envelopes"
	list       func() any // the items, for GET {prefix}/{items}
	deliveries func() []Delivery
	duplicates func(n int)
	action     actionHandler // its deliveries are filled in by register
}

func (s system) register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+s.prefix+"/"+s.items, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{s.items: s.list()})
	})
	mux.HandleFunc("GET "+s.prefix+"/deliveries", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"deliveries": s.deliveries()})
	})
	s.action.deliveries = s.deliveries
	mux.Handle("POST "+s.prefix+"/"+s.items+"/{id}/{action}", s.action)
	mux.HandleFunc("PUT "+s.prefix+"/duplicates", setDuplicates(s.duplicates))
}

func (f *fakes) systems() []system {
	return []system{{
		prefix: "/docusign", items: "envelopes", list: f.envelopes, duplicates: f.docuSign.SetDuplicates,
		deliveries: func() []Delivery {
			return convert(f.docuSign.Deliveries(), func(d docusignfake.Delivery) Delivery {
				return Delivery{ID: d.EnvelopeID, Event: d.Event, URL: d.URL, StatusCode: d.StatusCode, Error: d.Err}
			})
		},
		action: actionHandler{kind: "envelope", idField: "envelopeId", status: f.docuSign.EnvelopeStatus,
			actions: map[string]action{
				"deliver":  noReason(f.docuSign.Deliver),
				"sign":     noReason(f.docuSign.Sign),
				"complete": noReason(f.docuSign.Complete),
				"decline":  f.docuSign.Decline,
				"void":     f.docuSign.Void,
				"expire":   noReason(f.docuSign.Expire),
			}},
	}, {
		prefix: "/onespan", items: "packages", list: f.packages, duplicates: f.oneSpan.SetDuplicates,
		deliveries: func() []Delivery {
			return convert(f.oneSpan.Deliveries(), func(d onespanfake.Delivery) Delivery {
				return Delivery{ID: d.PackageID, Event: d.Event, URL: d.URL, StatusCode: d.StatusCode, Error: d.Err}
			})
		},
		action: actionHandler{kind: "package", idField: "packageId", status: f.oneSpanStatus,
			actions: map[string]action{
				"sign":     noReason(f.oneSpan.Sign),
				"complete": noReason(f.oneSpan.Complete),
				"decline":  f.oneSpan.Decline,
				"optout":   f.oneSpan.OptOut,
				"expire":   noReason(f.oneSpan.Expire),
				"archive":  noReason(f.oneSpan.Archive),
				"trash":    noReason(f.oneSpan.Trash),
				"delete":   noReason(f.oneSpan.Delete),
			}},
	}, {
		prefix: "/tickets", items: "tickets", list: f.ticketList, duplicates: f.tickets.SetDuplicates,
		deliveries: func() []Delivery {
			return convert(f.tickets.Deliveries(), func(d connectorfake.Delivery) Delivery {
				return Delivery{ID: d.TicketID, Event: d.Type, URL: d.URL, StatusCode: d.StatusCode, Error: d.Err}
			})
		},
		action: actionHandler{kind: "ticket", idField: "id", status: f.ticketType,
			actions: map[string]action{
				"approve": f.tickets.Approve,
				"reject":  f.tickets.Reject,
				"resolve": noReason(f.tickets.Resolve),
				"delete":  noReason(f.tickets.Delete),
				"expire":  noReason(f.tickets.Expire),
				"comment": f.tickets.Comment,
			}},
	}}
}

// envelopes lists the DocuSign envelopes created so far.
func (f *fakes) envelopes() any {
	type envelope struct {
		EnvelopeID string `json:"envelopeId"`
		Status     string `json:"status"`
		Subject    string `json:"subject"`
	}
	return convert(f.docuSign.Envelopes(), func(c docusignfake.CreateRequest) envelope {
		status, _ := f.docuSign.EnvelopeStatus(c.EnvelopeID)
		return envelope{EnvelopeID: c.EnvelopeID, Status: status, Subject: c.Definition.EmailSubject}
	})
}

// packages lists the OneSpan packages created so far.
func (f *fakes) packages() any {
	type pkg struct {
		PackageID string `json:"packageId"`
		Status    string `json:"status"`
		Name      string `json:"name"`
	}
	return convert(f.oneSpan.Packages(), func(c onespanfake.CreateRequest) pkg {
		status, _ := f.oneSpanStatus(c.ID)
		return pkg{PackageID: c.ID, Status: status, Name: c.Package.Name}
	})
}

// ticketList lists the tickets created so far.
func (f *fakes) ticketList() any {
	type ticket struct {
		ID         string `json:"id"`
		WorkItemID string `json:"workItemId"`
		State      string `json:"state"`
		LatestType string `json:"latestType"`
		Reason     string `json:"reason"`
	}
	return convert(f.tickets.Tickets(), func(t connectorfake.Ticket) ticket {
		return ticket{ID: t.ID, WorkItemID: t.WorkItemID, State: t.State, LatestType: t.LatestType, Reason: t.Reason}
	})
}

// oneSpanStatus is a package's status, DELETED once it is deleted.
func (f *fakes) oneSpanStatus(id string) (string, bool) {
	st, ok := f.oneSpan.State(id)
	if st.Deleted {
		return "DELETED", ok
	}
	return st.Status, ok
}

// ticketType is a ticket's latest event type.
func (f *fakes) ticketType(id string) (string, bool) {
	t, ok := f.tickets.Ticket(id)
	return t.LatestType, ok
}

// action plays one of a fake's hooks on a work item; reason is the body's, or a default.
type action func(id, reason string) error

// noReason is an action of a hook that takes no reason.
func noReason(hook func(id string) error) action {
	return func(id, _ string) error { return hook(id) }
}

// actionHandler serves POST …/{id}/{action} for one fake: it plays the action on the work item
// (an envelope, a package) and answers with its status and the notifications the action
// posted: 404 for an unknown item or action, 409 when the item's state does not allow it.
type actionHandler struct {
	kind, idField string
	status        func(id string) (string, bool)
	deliveries    func() []Delivery
	actions       map[string]action
}

func (h actionHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, ok := h.status(id); !ok {
		writeError(w, http.StatusNotFound, "no "+h.kind+" "+id)
		return
	}
	reason, ok := readReason(w, r)
	if !ok {
		return
	}
	do, ok := h.actions[r.PathValue("action")]
	if !ok {
		writeError(w, http.StatusNotFound, "unknown action "+r.PathValue("action"))
		return
	}
	before := len(h.deliveries())
	if err := do(id, reason); err != nil {
		writeError(w, http.StatusConflict, err.Error())
		return
	}
	status, _ := h.status(id)
	writeJSON(w, http.StatusOK, map[string]any{h.idField: id, "status": status, "deliveries": h.deliveries()[before:]})
}

// readReason reads the optional {"reason": "…"} body of an action.
func readReason(w http.ResponseWriter, r *http.Request) (string, bool) {
	var body struct {
		Reason string `json:"reason"`
	}
	if !readBody(w, r, &body, `{"reason": "…"}`) {
		return "", false
	}
	if body.Reason == "" {
		body.Reason = "no reason given"
	}
	return body.Reason, true
}

// readBody decodes an optional JSON body of at most 64 KiB into v; it answers the request
// itself (413, or 400 naming the shape wanted) and reports false when it cannot.
func readBody(w http.ResponseWriter, r *http.Request, v any, shape string) bool {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "body too large")
		return false
	}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, v); err != nil {
			writeError(w, http.StatusBadRequest, "body: want "+shape)
			return false
		}
	}
	return true
}

// setDuplicates serves PUT …/duplicates {"count": n}: every notification the fake posts from
// then on is posted n times (1 to 10), as providers do when they retry or resend.
func setDuplicates(set func(n int)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Count int `json:"count"`
		}
		if !readBody(w, r, &body, `{"count": 1 to 10}`) {
			return
		}
		if body.Count < 1 || body.Count > 10 {
			writeError(w, http.StatusBadRequest, "count: want 1 to 10")
			return
		}
		set(body.Count)
		writeJSON(w, http.StatusOK, map[string]int{"count": body.Count})
	}
}

// convert maps what a fake records (its deliveries, its items) to the control API's view: an
// empty list, never null.
func convert[R, V any](rs []R, to func(R) V) []V {
	out := make([]V, 0, len(rs))
	for _, r := range rs {
		out = append(out, to(r))
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
