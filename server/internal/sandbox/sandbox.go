package sandbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/connector/connectorfake"
	"github.com/flowhook/flowhook/server/internal/provider/docusign"
	"github.com/flowhook/flowhook/server/internal/provider/onespan"
)

const (
	// Prefix is where the sandbox is mounted on flowhook's listener.
	Prefix = "/sandbox"
	// ConnectorName is the connector the sandbox creates for its ticketing system.
	ConnectorName = "sandbox"
	// Actor is who the settings the sandbox writes are updated by.
	Actor = "sandbox"
)

// GenericActions are the action names every system of the sandbox accepts, each mapped to
// the fake's own (see the package documentation).
var GenericActions = []string{"complete", "decline", "void", "expire", "delete"}

// Options configure a Sandbox.
type Options struct {
	// PublicURL is the server's base URL: the fakes are served at {PublicURL}/sandbox/…, and
	// flowhook's clients reach them there.
	PublicURL string
	// Providers edits the providers' settings, as the settings RPCs do.
	Providers engine.ProviderSettings
	// Connectors administers connectors, as the connector RPCs do.
	Connectors engine.Connectors
	// CallbackURL is where a system posts its notifications to flowhook.
	CallbackURL func(engine.System) string
	// Log receives what Setup did.
	Log *slog.Logger
}

// Binding says what a system of flowhook points at after Setup.
type Binding struct {
	// System is flowhook's name of the system: DOCUSIGN, ONESPAN, connector:sandbox.
	System string `json:"system"`
	// URL is the system's base URL in flowhook's settings.
	URL string `json:"url"`
	// Sandbox is true when the system is the sandbox's fake; false when an administrator
	// configured it otherwise, and Setup left it as it was.
	Sandbox bool `json:"sandbox"`
}

// Sandbox is the fake DocuSign, the fake OneSpan and the fake ticketing system, served on
// flowhook's own listener, with the control API that plays their users.
type Sandbox struct {
	opts     Options
	base     string // {public URL}/sandbox
	fakes    *Fakes
	systems  []system
	bindings []Binding
	handler  http.Handler
}

// New returns a sandbox with fakes and credentials of its own, generated now.
func New(opts Options) (*Sandbox, error) {
	if opts.Providers == nil || opts.Connectors == nil || opts.CallbackURL == nil {
		return nil, errors.New("sandbox: Providers, Connectors and CallbackURL are required")
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	base := strings.TrimRight(opts.PublicURL, "/") + Prefix
	fakes, err := NewFakes(FakesOptions{
		DocuSignBaseURI:    base + "/docusign",
		OneSpanCallbackURL: opts.CallbackURL(engine.System{Provider: onespan.Provider}),
	})
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	fakes.TicketsURL, fakes.DocuSignURL, fakes.OneSpanURL = base+"/tickets", base+"/docusign", base+"/onespan"
	s := &Sandbox{opts: opts, base: base, fakes: fakes, systems: fakes.systems()}
	mux := http.NewServeMux()
	mux.Handle(Prefix+"/docusign/", http.StripPrefix(Prefix+"/docusign", fakes.DocuSign.Handler()))
	mux.Handle(Prefix+"/onespan/", http.StripPrefix(Prefix+"/onespan", fakes.OneSpan.Handler()))
	mux.Handle(Prefix+"/tickets/", http.StripPrefix(Prefix+"/tickets", fakes.Tickets.Handler()))
	mux.Handle(Prefix+"/control/", http.StripPrefix(Prefix+"/control", fakes.Control()))
	mux.HandleFunc("GET "+Prefix+"/work-items", s.listWorkItems)
	mux.HandleFunc("POST "+Prefix+"/work-items/{id}/{action}", s.act)
	mux.HandleFunc("GET "+Prefix+"/{$}", s.index)
	mux.HandleFunc(Prefix+"/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such sandbox endpoint: GET /sandbox/ lists them")
	})
	s.handler = mux
	return s, nil
}

// URL is the sandbox's base URL: {public URL}/sandbox.
func (s *Sandbox) URL() string { return s.base }

// Fakes are the sandbox's fakes.
func (s *Sandbox) Fakes() *Fakes { return s.fakes }

// Handler serves everything under /sandbox/ (mount it at Prefix+"/").
func (s *Sandbox) Handler() http.Handler { return s.handler }

// Bindings says, after Setup, what each system points at.
func (s *Sandbox) Bindings() []Binding { return append([]Binding(nil), s.bindings...) }

// Setup points every provider that is not configured — or that an earlier sandbox
// configured, recognised by its URL's /sandbox/… path — at this sandbox's fakes, through the
// same settings editor and connector administration the RPCs use: DocuSign and OneSpan
// settings, and the connector named "sandbox". Settings an administrator gave for a real
// system are left as they are. It needs no request to the fakes, so it runs before the
// server serves.
func (s *Sandbox) Setup(ctx context.Context) error {
	s.bindings = nil
	if err := s.pointDocuSign(ctx); err != nil {
		return fmt.Errorf("sandbox: point DocuSign at the sandbox: %w", err)
	}
	if err := s.pointOneSpan(ctx); err != nil {
		return fmt.Errorf("sandbox: point OneSpan at the sandbox: %w", err)
	}
	if err := s.pointConnector(ctx); err != nil {
		return fmt.Errorf("sandbox: create the connector %q: %w", ConnectorName, err)
	}
	if err := s.repointConnectors(ctx); err != nil {
		return fmt.Errorf("sandbox: point connectors at the sandbox again: %w", err)
	}
	var fake, real []string
	for _, b := range s.bindings {
		if b.Sandbox {
			fake = append(fake, b.System)
		} else {
			real = append(real, b.System)
		}
	}
	s.opts.Log.WarnContext(ctx, "SANDBOX MODE: these providers are fakes served by this server; nothing sent to them reaches a real provider, and their work items are forgotten when the server stops",
		"sandbox_url", s.base, "fakes", strings.Join(fake, ","))
	if len(real) > 0 {
		s.opts.Log.WarnContext(ctx, "sandbox: these providers keep the settings an administrator gave them and are NOT the sandbox's", "systems", strings.Join(real, ","))
	}
	return nil
}

var unmarshal = protojson.UnmarshalOptions{DiscardUnknown: true}

// current reads a provider's settings view into m and returns its revision and base URL.
func (s *Sandbox) current(ctx context.Context, p engine.Provider, m proto.Message, baseURL func() string, revision func() int64) (int64, string, error) {
	view, err := s.opts.Providers.ViewSettings(ctx, p)
	if err != nil {
		return 0, "", err
	}
	if err := unmarshal.Unmarshal(view, m); err != nil {
		return 0, "", fmt.Errorf("read the settings: %w", err)
	}
	return revision(), baseURL(), nil
}

// update saves a provider's settings through its editor.
func (s *Sandbox) update(ctx context.Context, p engine.Provider, req proto.Message, revision int64) error {
	b, err := protojson.Marshal(req)
	if err != nil {
		return err
	}
	_, err = s.opts.Providers.UpdateSettings(ctx, p, b, revision, Actor)
	return err
}

func (s *Sandbox) pointDocuSign(ctx context.Context) error {
	var cur flowhookv1.DocuSignSettings
	rev, url, err := s.current(ctx, docusign.Provider, &cur, cur.GetOauthBaseUrl, cur.GetRevision)
	if err != nil {
		return err
	}
	if rev != 0 && !isSandboxURL(url, "docusign") {
		s.keep(ctx, "DOCUSIGN", url)
		return nil
	}
	f := s.fakes
	pemKey := f.DocuSignPEM
	err = s.update(ctx, docusign.Provider, &flowhookv1.UpdateDocuSignSettingsRequest{
		AccountId: f.DocuSign.AccountID(), IntegrationKey: f.DocuSign.IntegrationKey(), UserId: f.DocuSign.UserID(),
		OauthBaseUrl: s.base + "/docusign", PrivateKeyPem: &pemKey, HmacKeys: []string{f.DocuSignHMAC}, ReplaceHmacKeys: true,
		ExpectedRevision: rev,
	}, rev)
	if err != nil {
		return err
	}
	s.bound(ctx, "DOCUSIGN", s.base+"/docusign")
	return nil
}

func (s *Sandbox) pointOneSpan(ctx context.Context) error {
	var cur flowhookv1.OneSpanSettings
	rev, url, err := s.current(ctx, onespan.Provider, &cur, cur.GetBaseUrl, cur.GetRevision)
	if err != nil {
		return err
	}
	if rev != 0 && !isSandboxURL(url, "onespan") {
		s.keep(ctx, "ONESPAN", url)
		return nil
	}
	f := s.fakes
	apiKey, callbackKey := f.OneSpanAPIKey, f.OneSpanCallbackKey
	// The fake's callback is registered by NewFakes (the server does not serve yet, so
	// register_callback could not reach it).
	err = s.update(ctx, onespan.Provider, &flowhookv1.UpdateOneSpanSettingsRequest{
		BaseUrl: s.base + "/onespan", ApiKey: &apiKey, CallbackKey: &callbackKey, ExpectedRevision: rev,
	}, rev)
	if err != nil {
		return err
	}
	s.bound(ctx, "ONESPAN", s.base+"/onespan")
	return nil
}

// outcomeNames reads the fake's outcome table.
var outcomeNames = map[string]engine.Outcome{
	"APPROVED": engine.OutcomeApproved, "DENIED": engine.OutcomeDenied, "FINISHED": engine.OutcomeFinished,
	"DELETED": engine.OutcomeDeleted, "EXPIRED": engine.OutcomeExpired,
}

func (s *Sandbox) pointConnector(ctx context.Context) error {
	name := "connector:" + ConnectorName
	tickets := s.fakes.TicketsURL
	outcomes := make(map[string]engine.Outcome, len(connectorfake.Outcomes))
	for typ, o := range connectorfake.Outcomes {
		outcomes[typ] = outcomeNames[o]
	}
	in := engine.ConnectorInput{Name: ConnectorName, DisplayName: "Sandbox ticketing system (fake)",
		CreateURL: connectorfake.CreateURL(tickets), StatusURL: connectorfake.StatusURL(tickets), CancelURL: connectorfake.CancelURL(tickets),
		Outcomes: outcomes, SigningSecret: s.fakes.Tickets.Secrets()[0]}
	c, err := s.opts.Connectors.GetConnector(ctx, ConnectorName)
	switch {
	case errors.Is(err, engine.ErrNotFound):
		if _, _, err := s.opts.Connectors.CreateConnector(ctx, in, Actor); err != nil {
			return err
		}
	case err != nil:
		return err
	case !isSandboxURL(c.CreateURL, "tickets"):
		s.keep(ctx, name, c.CreateURL)
		return nil
	default:
		in.ExpectedRevision = c.Revision
		if _, err := s.opts.Connectors.UpdateConnector(ctx, in, Actor); err != nil {
			return err
		}
	}
	s.bound(ctx, name, tickets)
	return nil
}

// repointConnectors points again every other connector registered against an earlier
// sandbox's ticketing system (its create URL under /sandbox/tickets, as the README's example
// registers one) at this one: its URLs on this sandbox's address, and the signing secret of
// this start's fake (the earlier fake's secret, and perhaps its port, are gone with it: the
// connector's work items would fail and its webhooks be refused). Its name, outcomes and
// auth header stay as the administrator gave them.
func (s *Sandbox) repointConnectors(ctx context.Context) error {
	var all []engine.Connector
	for page := (engine.Page{Size: 100}); ; {
		cs, next, _, err := s.opts.Connectors.ListConnectors(ctx, page)
		if err != nil {
			return err
		}
		all = append(all, cs...)
		if next == "" {
			break
		}
		page.After = next
	}
	for _, c := range all {
		if c.Name == ConnectorName || !isSandboxURL(c.CreateURL, "tickets") || !s.ours(c.CreateURL) {
			continue
		}
		in := engine.ConnectorInput{Name: c.Name, DisplayName: c.DisplayName, Outcomes: c.Outcomes,
			CreateURL: s.ticketsURL(c.CreateURL), StatusURL: s.ticketsURL(c.StatusURL), CancelURL: s.ticketsURL(c.CancelURL),
			SigningSecret: s.fakes.Tickets.Secrets()[0], ExpectedRevision: c.Revision}
		if _, err := s.opts.Connectors.UpdateConnector(ctx, in, Actor); err != nil {
			// Not a reason to refuse to start: the connector stays as it was, and says so.
			s.opts.Log.WarnContext(ctx, "sandbox: connector "+c.Name+" could not be pointed at this sandbox; its work items may fail",
				"url", c.CreateURL, "error", err.Error())
			continue
		}
		s.bound(ctx, "connector:"+c.Name, s.fakes.TicketsURL)
	}
	return nil
}

// ours says whether raw, a sandbox's URL, is on this server's host or a loopback address (an
// earlier start of this machine's dev, on any port), not another server's sandbox that a
// connector was pointed at on purpose.
func (s *Sandbox) ours(raw string) bool {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return false
	}
	host := u.Hostname()
	if b, err := url.Parse(s.base); err == nil && strings.EqualFold(host, b.Hostname()) {
		return true
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ticketsURL is raw, a URL of an earlier sandbox's ticketing system, on this one's address
// ("" stays "": an optional URL not given).
func (s *Sandbox) ticketsURL(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if raw == "" || err != nil || !isSandboxURL(raw, "tickets") {
		return raw
	}
	out := s.fakes.TicketsURL + strings.TrimPrefix(strings.TrimRight(u.Path, "/"), Prefix+"/tickets")
	if u.RawQuery != "" {
		out += "?" + u.RawQuery
	}
	return out
}

func (s *Sandbox) bound(ctx context.Context, system, url string) {
	s.bindings = append(s.bindings, Binding{System: system, URL: url, Sandbox: true})
	s.opts.Log.InfoContext(ctx, "sandbox: "+system+" points at the sandbox", "url", url)
}

func (s *Sandbox) keep(ctx context.Context, system, url string) {
	s.bindings = append(s.bindings, Binding{System: system, URL: url})
	s.opts.Log.InfoContext(ctx, "sandbox: "+system+" is configured for another system: left as it is", "url", url)
}

// WorkItem is an item at one of the fakes, as GET /sandbox/work-items lists it.
type WorkItem struct {
	// System is flowhook's name of the system holding it: DOCUSIGN, ONESPAN,
	// connector:sandbox.
	System string `json:"system"`
	// ExternalID is the system's id of the item: a work item's external_id in flowhook.
	ExternalID string `json:"externalId"`
	// Status is the item's status at the system (the fake's own words).
	Status string `json:"status"`
	// Actions are the actions its state allows: the generic ones first, then the fake's own.
	Actions []string `json:"actions"`
}

// ActionResult answers POST /sandbox/work-items/{id}/{action}.
type ActionResult struct {
	System     string `json:"system"`
	ExternalID string `json:"externalId"`
	// Action is the action asked for; Performed the fake's own action it was played as.
	Action    string `json:"action"`
	Performed string `json:"performed"`
	// Status is the item's status afterwards.
	Status string `json:"status"`
	// Deliveries are the notifications the action posted to flowhook, each with the HTTP
	// status flowhook answered (0 and Error when it could not be reached).
	Deliveries []Delivery `json:"deliveries"`
	// Held are the item's notifications its fake holds after the action, not posted: a
	// delivery flowhook did not acknowledge made the fake mark its listener down (DocuSign
	// then queues every later message behind it) or keep the failed one. Redeliver is the
	// control API's path that posts them (POST), set when something is held.
	Held      []Held `json:"held,omitempty"`
	Redeliver string `json:"redeliver,omitempty"`
}

// actionsOf lists the actions an item accepts now: generic names first, then the fake's own.
func (sys system) actionsOf(id string) []string {
	own := sys.accepts(id)
	out := []string{}
	for _, g := range GenericActions {
		if slices.Contains(own, sys.aliases[g]) {
			out = append(out, g)
		}
	}
	for _, a := range own {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// known lists every action name a system has.
func (sys system) known() []string {
	out := append([]string(nil), GenericActions...)
	for _, a := range slices.Sorted(maps.Keys(sys.action.actions)) {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// WorkItems lists every item across the fakes.
func (s *Sandbox) WorkItems() []WorkItem {
	out := []WorkItem{}
	for _, sys := range s.systems {
		for _, id := range sys.ids() {
			status, _ := sys.action.status(id)
			out = append(out, WorkItem{System: sys.name, ExternalID: id, Status: status, Actions: sys.actionsOf(id)})
		}
	}
	return out
}

func (s *Sandbox) listWorkItems(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"workItems": s.WorkItems()})
}

func (s *Sandbox) index(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"sandbox": s.base,
		"systems": s.Bindings(),
		"note":    "The fakes keep their items in memory: they are forgotten when the server stops.",
		"endpoints": []string{
			"GET  /sandbox/work-items",
			"POST /sandbox/work-items/{externalId}/{action}  body {\"reason\": \"…\"} (optional)",
			"     /sandbox/control/{docusign|onespan|tickets}/…  the fakes' control API",
		},
	})
}

// find returns the system holding an item.
func (s *Sandbox) find(id string) (system, bool) {
	for _, sys := range s.systems {
		if _, ok := sys.action.status(id); ok {
			return sys, true
		}
	}
	return system{}, false
}

// act serves POST /sandbox/work-items/{id}/{action}: the fake holding the item plays the
// action and posts its real, signed notifications to flowhook before this answers.
func (s *Sandbox) act(w http.ResponseWriter, r *http.Request) {
	id, name := r.PathValue("id"), r.PathValue("action")
	sys, ok := s.find(id)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no work item %q at the sandbox (GET /sandbox/work-items lists them)", id))
		return
	}
	own := name
	if a, ok := sys.aliases[name]; ok {
		own = a
	}
	do, ok := sys.action.actions[own]
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown action %q for %s: want one of %s", name, sys.name, strings.Join(sys.known(), ", ")))
		return
	}
	reason, ok := readReason(w, r)
	if !ok {
		return
	}
	before := sys.count()
	if err := do(id, reason); err != nil {
		msg := err.Error()
		for _, p := range []string{"docusignfake: ", "onespanfake: ", "connectorfake: "} {
			msg = strings.TrimPrefix(msg, p)
		}
		writeError(w, http.StatusConflict, fmt.Sprintf("%s refuses %s: %s", sys.name, name, msg))
		return
	}
	status, _ := sys.action.status(id)
	res := ActionResult{System: sys.name, ExternalID: id, Action: name, Performed: own,
		Status: status, Deliveries: itemDeliveries(sys.since(before), id)}
	for _, h := range sys.held() {
		if h.ID == id {
			res.Held = append(res.Held, h)
		}
	}
	if len(res.Held) > 0 {
		res.Redeliver = Prefix + "/control" + sys.prefix + "/redeliver"
	}
	writeJSON(w, http.StatusOK, res)
}

// Leftovers lists the systems whose settings point at a sandbox (a URL under /sandbox/…): a
// server started without one (serve without --sandbox, after a dev or serve --sandbox start
// on the same database) has nothing there, and their work items would fail with a 404.
func Leftovers(ctx context.Context, providers engine.ProviderSettings, connectors engine.Connectors) ([]Binding, error) {
	var out []Binding
	var ds flowhookv1.DocuSignSettings
	var one flowhookv1.OneSpanSettings
	for _, c := range []struct {
		provider engine.Provider
		fake     string
		m        proto.Message
		url      func() string
	}{
		{docusign.Provider, "docusign", &ds, ds.GetOauthBaseUrl},
		{onespan.Provider, "onespan", &one, one.GetBaseUrl},
	} {
		view, err := providers.ViewSettings(ctx, c.provider)
		if err != nil {
			return nil, err
		}
		if err := unmarshal.Unmarshal(view, c.m); err != nil {
			return nil, fmt.Errorf("read the %s settings: %w", c.provider, err)
		}
		if u := c.url(); isSandboxURL(u, c.fake) {
			out = append(out, Binding{System: string(c.provider), URL: u, Sandbox: true})
		}
	}
	for page := (engine.Page{Size: 100}); ; {
		cs, next, _, err := connectors.ListConnectors(ctx, page)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			if isSandboxURL(c.CreateURL, "tickets") {
				out = append(out, Binding{System: "connector:" + c.Name, URL: c.CreateURL, Sandbox: true})
			}
		}
		if next == "" {
			return out, nil
		}
		page.After = next
	}
}
