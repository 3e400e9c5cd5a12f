// Package provider is the registry of flowhook's providers: the outside systems that action
// EXTERNAL states. Each provider is one package below this one (docusign, onespan, connector)
// implementing Plugin, and one line of Builtin. The Registry implements the engine's provider
// port over them — specs, clients built from the settings administrators change at run time
// (rebuilt when they are saved again, reused otherwise, so that an access token outlives one
// job), event tables, the webhook side of each system and the settings API — and is all the
// rest of flowhook sees of any provider.
package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/connector"
	"github.com/flowhook/flowhook/server/internal/provider/docusign"
	"github.com/flowhook/flowhook/server/internal/provider/onespan"
)

// Builtin lists flowhook's providers. Adding one is a package and a line here.
func Builtin() []Plugin {
	return []Plugin{
		docusign.Plugin{},
		onespan.Plugin{},
		connector.Plugin{},
	}
}

// Specs is the catalog of the plugins' specs (Builtin's, when none are given).
func Specs(plugins ...Plugin) engine.Specs {
	if len(plugins) == 0 {
		plugins = Builtin()
	}
	out := make(engine.Specs, len(plugins))
	for i, p := range plugins {
		out[i] = p.Spec()
	}
	return out
}

// credentialsTTL is how long settings read for a notification are reused: every notification
// needs its system's keys, and a rotation reaches every replica within this time without a
// database read per webhook.
const credentialsTTL = 2 * time.Second

// maxCachedSettings bounds the settings kept for credentialsTTL.
const maxCachedSettings = 1024

// Registry holds the providers and implements the engine's provider port over them.
type Registry struct {
	plugins   []Plugin
	specs     engine.Specs // specs[i] is plugins[i]'s, read once
	settings  engine.SettingsStore
	saving    engine.SettingsStore // settings, for writes: see savedHere
	http      *http.Client
	now       func() time.Time
	publicURL string

	mu      sync.Mutex
	clients map[string]cachedClient // by settings group (one per system)
	read    map[string]cachedSettings
}

// cachedClient is a client with the version of the settings it was built from: their revision
// and the time they were saved. The revision alone does not name a version: a group deleted
// and saved again (a connector re-created under its name, perhaps for another system) starts
// at revision 1 again.
type cachedClient struct {
	revision  int64
	updatedAt time.Time
	client    engine.ProviderClient
	checked   time.Time // when its settings' version was last seen to match
}

// builtFrom says whether the client was built from the settings at revision and updatedAt.
func (c cachedClient) builtFrom(revision int64, updatedAt time.Time) bool {
	return c.revision == revision && c.updatedAt.Equal(updatedAt)
}

type cachedSettings struct {
	settings engine.Settings
	at       time.Time
}

var (
	_ engine.Providers        = (*Registry)(nil)
	_ engine.ProviderSettings = (*Registry)(nil)
)

// HTTPClient is the client the registry's provider clients share (every call flowhook makes
// to an outside system: DocuSign, OneSpan, connectors): each request bounded by timeout, and
// as many idle connections kept per provider host as the in-process fetchers and processors
// use at once (net/http keeps 2 by default and closes the rest, so with 4 downloads and 8
// read-backs at a time most calls opened a connection, a TLS handshake against a real
// provider). It follows a redirect only on the host it called (sameHostRedirects) and connects
// to no link-local, multicast or unspecified address (refuseAddress).
func HTTPClient(timeout time.Duration) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 32
	// http.DefaultTransport's dialer, which also checks each address it connects to.
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: refuseAddress}
	t.DialContext = dialer.DialContext
	return &http.Client{Timeout: timeout, Transport: t, CheckRedirect: sameHostRedirects}
}

// maxRedirects is how many redirects a call follows, net/http's default.
const maxRedirects = 10

// sameHostRedirects follows a redirect only to the origin (scheme, host and port) the call was
// made to. A request carries the credentials of the system it was made for — a connector's
// auth header and signature headers, which net/http forwards across hosts (it strips only
// Authorization and cookies) — and a system that sends flowhook elsewhere is misconfigured or
// hostile: the call fails, naming both hosts. Neither DocuSign nor OneSpan redirects an API
// call, a token request or a document download to another host (providers.md A2, A9, B7).
func sameHostRedirects(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	if from, to := origin(via[0].URL), origin(req.URL); from != to {
		return &refusedCall{msg: fmt.Sprintf("%s redirected to %s, another host: flowhook follows a redirect only on the host it called, "+
			"since the request carries that system's credentials", from, to)}
	}
	return nil
}

// origin is a URL's scheme://host:port, the port written out and the host in lower case (no
// path, query or user, which may carry credentials).
func origin(u *url.URL) string {
	scheme, port := strings.ToLower(u.Scheme), u.Port()
	if port == "" {
		switch scheme {
		case "http":
			port = "80"
		case "https":
			port = "443"
		}
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// The metadata services that answer outside link-local addresses (the others' is
// 169.254.169.254): AWS's over IPv6, and Alibaba Cloud's.
var (
	awsMetadataIPv6 = netip.MustParseAddr("fd00:ec2::254")
	alibabaMetadata = netip.MustParseAddr("100.100.100.200")
)

// refuseAddress is the outside-systems dialer's Control: it sees each address connected to
// once a name is resolved, so a name that resolves to a refused address is caught too. Loopback
// and private addresses stay allowed (fakes run on 127.0.0.1; systems on a private network).
// A proxy from the environment is connected to, not the system behind it: the proxy's
// address is checked, and the proxy resolves the system's name.
func refuseAddress(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &refusedCall{msg: fmt.Sprintf("%q is not an IP address and port: flowhook does not call it", address)}
	}
	ip := ap.Addr().Unmap()
	var what string
	switch {
	case ip.IsLinkLocalUnicast():
		what = "a link-local address (such as a cloud's metadata service)"
	case ip.WithZone("") == awsMetadataIPv6 || ip == alibabaMetadata:
		what = "a cloud's metadata service"
	case ip.IsMulticast():
		what = "a multicast address"
	case ip.IsUnspecified():
		what = "an unspecified address"
	default:
		return nil
	}
	return &refusedCall{msg: fmt.Sprintf("%s is %s: flowhook does not call it", ap.Addr(), what)}
}

// refusedCall is a call the outside-systems client will not make: a setting (or the system's
// own configuration) has to change, so it is permanent (errors.Is engine.ErrProviderPermanent)
// rather than tried again later. Its text names no path, query or credential.
type refusedCall struct{ msg string }

func (e *refusedCall) Error() string { return e.msg }

func (e *refusedCall) Is(target error) bool { return target == engine.ErrProviderPermanent }

// NewRegistry returns a registry of the plugins over the settings store; publicURL is the base
// of the webhook URLs providers report to.
func NewRegistry(settings engine.SettingsStore, publicURL string, httpClient *http.Client, now func() time.Time, plugins ...Plugin) *Registry {
	r := &Registry{plugins: plugins, specs: Specs(plugins...), settings: settings, http: httpClient, now: now,
		publicURL: strings.TrimRight(publicURL, "/"), clients: map[string]cachedClient{}, read: map[string]cachedSettings{}}
	r.saving = savedHere{SettingsStore: settings, r: r}
	return r
}

// savedHere is the settings store as the registry and the connectors' administration write
// it: a group saved or deleted through this replica is what its notifications are checked
// with from the next one on, rather than up to credentialsTTL later (an administrator who
// changed a key saw the old one still accepted, the new one refused).
type savedHere struct {
	engine.SettingsStore
	r *Registry
}

func (s savedHere) PutSettings(ctx context.Context, g engine.Settings, expectedRevision int64) (engine.Settings, error) {
	saved, err := s.SettingsStore.PutSettings(ctx, g, expectedRevision)
	if err == nil {
		s.r.remember(saved.ID, saved)
	}
	return saved, err
}

func (s savedHere) DeleteSettings(ctx context.Context, id string) error {
	err := s.SettingsStore.DeleteSettings(ctx, id)
	s.r.mu.Lock()
	delete(s.r.read, id)
	delete(s.r.clients, id)
	s.r.mu.Unlock()
	return err
}

// Spec describes a provider.
func (r *Registry) Spec(p engine.Provider) (engine.ProviderSpec, bool) { return r.specs.Spec(p) }

// Specs lists every provider in Builtin's order.
func (r *Registry) Specs() []engine.ProviderSpec { return slices.Clone(r.specs) }

// plugin returns a provider's plugin and spec.
func (r *Registry) plugin(p engine.Provider) (Plugin, engine.ProviderSpec, bool) {
	for i, s := range r.specs {
		if s.Provider == p {
			return r.plugins[i], s, true
		}
	}
	return nil, engine.ProviderSpec{}, false
}

// notConfigured says a system has no settings.
func notConfigured(sys engine.System, spec engine.ProviderSpec) error {
	if sys.Connector != "" {
		return fmt.Errorf("%w: %w: no %s is named %q", engine.ErrProviderPermanent, engine.ErrNotConfigured, spec.Name, sys.Connector)
	}
	return fmt.Errorf("%w: %w", engine.ErrProviderPermanent, engine.ErrNotConfigured)
}

func (r *Registry) lookup(sys engine.System) (Plugin, engine.ProviderSpec, error) {
	pl, spec, ok := r.plugin(sys.Provider)
	if !ok {
		return nil, engine.ProviderSpec{}, fmt.Errorf("%w: no provider is named %s", engine.ErrProviderPermanent, sys.Provider)
	}
	if spec.Connectors != (sys.Connector != "") {
		return nil, spec, fmt.Errorf("%w: %s is not a %s system", engine.ErrProviderPermanent, sys, spec.Name)
	}
	return pl, spec, nil
}

// revisioner is a settings store that reads a group's revision and the time it was saved
// alone (0 and the zero time: never saved).
type revisioner interface {
	SettingsRevision(ctx context.Context, id string) (int64, time.Time, error)
}

// Client returns the client of a system for its current settings.
func (r *Registry) Client(ctx context.Context, sys engine.System) (engine.ProviderClient, error) {
	pl, spec, err := r.lookup(sys)
	if err != nil {
		return nil, err
	}
	key := pl.SettingsID(sys.Connector)
	if rs, ok := r.settings.(revisioner); ok {
		// A client built already needs only its settings' version checked: reading the
		// whole group means opening its sealed secrets.
		r.mu.Lock()
		c, cached := r.clients[key]
		r.mu.Unlock()
		if cached {
			rev, at, err := rs.SettingsRevision(ctx, key)
			if err != nil {
				return nil, err
			}
			if c.builtFrom(rev, at) {
				r.mu.Lock()
				if cur, ok := r.clients[key]; ok && cur.client == c.client {
					cur.checked = r.now()
					r.clients[key] = cur
				}
				r.mu.Unlock()
				return c.client, nil
			}
		}
	}
	s, err := r.settings.GetSettings(ctx, key)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.Revision == 0 {
		delete(r.clients, key) // nor is it handed out by RecentClient
		return nil, notConfigured(sys, spec)
	}
	if c, ok := r.clients[key]; ok && c.builtFrom(s.Revision, s.UpdatedAt) {
		return c.client, nil
	}
	c, err := pl.NewClient(sys, s, r.http, r.now)
	if err != nil {
		if errors.Is(err, engine.ErrNotConfigured) {
			return nil, fmt.Errorf("%w: %w", engine.ErrProviderPermanent, err)
		}
		return nil, err
	}
	r.clients[key] = cachedClient{revision: s.Revision, updatedAt: s.UpdatedAt, client: c, checked: r.now()}
	return c, nil
}

// RecentClient is Client for work that a settings change may reach up to credentialsTTL late,
// because a failure is retried later with the settings then current (a signed document's
// download: its mark stays, and a job fetches it): a client whose settings were checked that
// recently is returned without reading them again.
func (r *Registry) RecentClient(ctx context.Context, sys engine.System) (engine.ProviderClient, error) {
	pl, _, err := r.lookup(sys)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	c, ok := r.clients[pl.SettingsID(sys.Connector)]
	r.mu.Unlock()
	if now := r.now(); ok && now.Sub(c.checked) < credentialsTTL && !now.Before(c.checked) {
		return c.client, nil
	}
	return r.Client(ctx, sys)
}

// recent returns a system's settings read (or saved here) at most credentialsTTL ago.
func (r *Registry) recent(ctx context.Context, pl Plugin, sys engine.System) (engine.Settings, error) {
	key := pl.SettingsID(sys.Connector)
	now := r.now()
	r.mu.Lock()
	c, ok := r.read[key]
	r.mu.Unlock()
	if ok && now.Sub(c.at) < credentialsTTL && !now.Before(c.at) {
		return c.settings, nil
	}
	s, err := r.settings.GetSettings(ctx, key)
	if err != nil {
		return engine.Settings{}, err
	}
	r.remember(key, s)
	return s, nil
}

// remember keeps a settings group, read or saved now, for credentialsTTL.
func (r *Registry) remember(id string, s engine.Settings) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.read) >= maxCachedSettings {
		// Names come from request paths (/webhooks/c2i/{name}): the cache must not grow
		// with whatever anyone posts to. Emptied when full, it refills with the live ones.
		clear(r.read)
	}
	r.read[id] = cachedSettings{settings: s, at: now}
}

// Outcome maps an event of a system by its provider's table (a connector's own, from its
// settings read at most credentialsTTL ago).
func (r *Registry) Outcome(ctx context.Context, sys engine.System, eventType, reason string) (engine.Outcome, bool, error) {
	pl, spec, err := r.lookup(sys)
	if err != nil {
		return engine.OutcomeUnspecified, false, nil // no table: progress
	}
	var s engine.Settings
	if spec.Connectors {
		if s, err = r.recent(ctx, pl, sys); err != nil {
			return engine.OutcomeUnspecified, false, err
		}
	}
	o, ok := pl.Outcome(s, eventType, reason)
	return o, ok, nil
}

// Parse reads a stored notification of a system again.
func (r *Registry) Parse(sys engine.System, body []byte) (engine.InboundEvent, error) {
	pl, _, err := r.lookup(sys)
	if err != nil {
		return engine.InboundEvent{}, err
	}
	ev, err := pl.ParseEvent(body, nil)
	if err != nil {
		return engine.InboundEvent{}, err
	}
	ev.System = sys
	return ev, nil
}

// Systems lists the systems of a provider: itself, or each of its connectors.
func (r *Registry) Systems(ctx context.Context, p engine.Provider) ([]engine.System, error) {
	pl, spec, ok := r.plugin(p)
	if !ok {
		return nil, nil
	}
	if !spec.Connectors {
		return []engine.System{{Provider: p}}, nil
	}
	prefix := pl.SettingsID("")
	var out []engine.System
	for after := ""; ; {
		page, _, err := r.settings.ListSettings(ctx, prefix, after, 200)
		if err != nil {
			return nil, err
		}
		for _, s := range page {
			out = append(out, engine.System{Provider: p, Connector: strings.TrimPrefix(s.ID, prefix)})
		}
		if len(page) < 200 {
			return out, nil
		}
		after = page[len(page)-1].ID
	}
}

// CallbackURL is {public URL}/webhooks/{route}[/{connector}].
func (r *Registry) CallbackURL(sys engine.System) string {
	_, spec, ok := r.plugin(sys.Provider)
	if !ok {
		return ""
	}
	u := r.publicURL + "/webhooks/" + spec.Route
	if sys.Connector != "" {
		u += "/" + sys.Connector
	}
	return u
}

// Receiving returns how the notifications that arrive at /webhooks/{route}[/{connector}] are
// received: the route names the provider without regard to case; false when no provider has
// the route, or no connector the name.
func (r *Registry) Receiving(ctx context.Context, route, connector string) (engine.Receiving, bool, error) {
	for i, pl := range r.plugins {
		spec := r.specs[i]
		if !strings.EqualFold(spec.Route, route) || spec.Connectors != (connector != "") {
			continue
		}
		sys := engine.System{Provider: spec.Provider, Connector: connector}
		if spec.Connectors {
			if !engine.ValidConnectorName(connector) {
				return nil, false, nil
			}
			s, err := r.recent(ctx, pl, sys)
			if err != nil {
				return nil, false, err
			}
			if s.Revision == 0 {
				return nil, false, nil
			}
		}
		credentials := func(ctx context.Context) ([]string, error) {
			s, err := r.recent(ctx, pl, sys)
			if err != nil {
				return nil, err
			}
			// A grace period is checked at every call, not at every read.
			return pl.Credentials(s, r.now()), nil
		}
		return receiving{pl: pl, route: spec.Route, acts: spec.Acts, sys: sys, credentials: credentials, now: r.now}, true, nil
	}
	return nil, false, nil
}

// NewReceiving is a system's webhook side over its provider's plugin: credentials says what a
// notification may be authenticated with now.
func NewReceiving(pl Plugin, sys engine.System, credentials func(context.Context) ([]string, error), now func() time.Time) engine.Receiving {
	spec := pl.Spec()
	return receiving{pl: pl, route: spec.Route, acts: spec.Acts, sys: sys, credentials: credentials, now: now}
}

type receiving struct {
	pl          Plugin
	route       string
	acts        []string // the spec's Acts: nil, every event
	sys         engine.System
	credentials func(context.Context) ([]string, error)
	now         func() time.Time
}

func (v receiving) System() engine.System { return v.sys }

// Route is the pattern the router names spans by: "/webhooks/{provider}" for a provider's
// one system, "/webhooks/c2i/{connector}" for a connector.
func (v receiving) Route() string {
	if v.sys.Connector != "" {
		return "/webhooks/" + v.route + "/{connector}"
	}
	return "/webhooks/{provider}"
}

func (v receiving) Limits() engine.InboundLimits { return v.pl.Limits() }

func (v receiving) Credentials(ctx context.Context) ([]string, error) { return v.credentials(ctx) }

func (v receiving) Authenticate(body []byte, h http.Header, creds []string) engine.Authentication {
	return v.pl.Authenticate(body, h, creds, v.now())
}

func (v receiving) Parse(body []byte, h http.Header) (engine.InboundEvent, error) {
	ev, err := v.pl.ParseEvent(body, h)
	if err != nil {
		return engine.InboundEvent{}, err
	}
	ev.System = v.sys
	return ev, nil
}

// Handles: the events the spec says flowhook acts on (ProviderSpec.Acts), the ones
// outcome_overrides may name too.
func (v receiving) Handles(eventType string) bool {
	return engine.ProviderSpec{Acts: v.acts}.ActsOn(eventType)
}

// Connectors is the administration of connectors, by the provider that has them; nil when no
// provider does.
func (r *Registry) Connectors(usage engine.ConnectorUsage) engine.Connectors {
	for _, pl := range r.plugins {
		if a, ok := pl.(ConnectorAdministration); ok {
			return a.NewAdmin(r.saving, usage, r.CallbackURL, r.now)
		}
	}
	return nil
}

// editor returns the settings editor of a provider.
func (r *Registry) editor(p engine.Provider) (Plugin, SettingsEditor, error) {
	pl, spec, ok := r.plugin(p)
	if !ok {
		return nil, nil, fmt.Errorf("%w: no provider is named %s", engine.ErrNotFound, p)
	}
	ed, ok := pl.(SettingsEditor)
	if !ok {
		return nil, nil, fmt.Errorf("%w: %s has no settings of its own", engine.ErrFailedPrecondition, spec.Name)
	}
	return pl, ed, nil
}

// ViewSettings returns a provider's settings message as JSON.
func (r *Registry) ViewSettings(ctx context.Context, p engine.Provider) ([]byte, error) {
	pl, ed, err := r.editor(p)
	if err != nil {
		return nil, err
	}
	s, err := r.settings.GetSettings(ctx, pl.SettingsID(""))
	if err != nil {
		return nil, err
	}
	return json.Marshal(ed.ViewSettings(s, r.CallbackURL(engine.System{Provider: p}), r.now()))
}

// UpdateSettings applies an update to a provider's settings when they are at
// expectedRevision, saves them, and runs the provider's follow-up (registering a callback):
// when that fails the settings stay saved and the error says so.
func (r *Registry) UpdateSettings(ctx context.Context, p engine.Provider, update []byte, expectedRevision int64, actor string) ([]byte, error) {
	pl, ed, err := r.editor(p)
	if err != nil {
		return nil, err
	}
	cur, err := r.settings.GetSettings(ctx, pl.SettingsID(""))
	if err != nil {
		return nil, err
	}
	if expectedRevision != cur.Revision {
		return nil, fmt.Errorf("%w: the settings are at revision %d, not %d", engine.ErrConflict, cur.Revision, expectedRevision)
	}
	next, err := ed.ApplySettings(cur, update, r.now())
	if err != nil {
		return nil, err
	}
	// What a follow-up registers may depend on the debug option (OneSpan's callback events).
	sec, err := r.settings.GetSettings(ctx, engine.SettingsSecurity)
	if err != nil {
		return nil, err
	}
	debug := engine.SecurityFrom(sec).WebhookReceiverDebug
	next.ID, next.UpdatedBy = pl.SettingsID(""), actor
	saved, err := r.saving.PutSettings(ctx, next, cur.Revision)
	if err != nil {
		return nil, err
	}
	sys := engine.System{Provider: p}
	webhookURL := r.CallbackURL(sys)
	client := func() (engine.ProviderClient, error) { return r.Client(ctx, sys) }
	if err := ed.SettingsSaved(ctx, saved, client, update, webhookURL, debug); err != nil {
		return nil, fmt.Errorf("%w: the settings are saved (revision %d), but %s", engine.ErrFailedPrecondition, saved.Revision, followUpText(err))
	}
	return json.Marshal(ed.ViewSettings(saved, webhookURL, r.now()))
}

// DebugChanged has every provider whose registration depends on the Webhook Receiver debug
// option (DebugFollower) follow it, with its saved settings; the error names each provider that
// could not, and why (followUpText). A provider with nothing registered has nothing to follow.
func (r *Registry) DebugChanged(ctx context.Context, debug bool) error {
	var errs []error
	for i, pl := range r.plugins {
		f, ok := pl.(DebugFollower)
		if !ok {
			continue
		}
		spec := r.specs[i]
		saved, err := r.settings.GetSettings(ctx, pl.SettingsID(""))
		if err != nil {
			return err
		}
		sys := engine.System{Provider: spec.Provider}
		client := func() (engine.ProviderClient, error) { return r.Client(ctx, sys) }
		if _, err := f.DebugChanged(ctx, saved, client, r.CallbackURL(sys), debug); err != nil {
			errs = append(errs, fmt.Errorf("%s: %s", spec.Name, followUpText(err)))
		}
	}
	return errors.Join(errs...)
}

// followUpText is a follow-up's failure, readable: what the provider refused (its error holds
// no credential), or that it could not be reached (a transport error's text is not shown).
func followUpText(err error) string {
	var pe *engine.ProviderError
	if errors.As(err, &pe) || errors.Is(err, engine.ErrProviderPermanent) {
		return err.Error()
	}
	return "the provider could not be reached"
}

// TestConnection signs in at a system with its saved settings.
func (r *Registry) TestConnection(ctx context.Context, sys engine.System) (engine.ConnectionReport, error) {
	pl, spec, err := r.lookup(sys)
	if err != nil {
		return engine.ConnectionReport{Message: err.Error()}, nil
	}
	t, ok := pl.(Tester)
	if !ok {
		return engine.ConnectionReport{Message: spec.Name + " has no connection test"}, nil
	}
	c, err := r.Client(ctx, sys)
	if err != nil {
		if errors.Is(err, engine.ErrProviderPermanent) {
			return engine.ConnectionReport{Message: err.Error()}, nil
		}
		return engine.ConnectionReport{}, err
	}
	return t.TestConnection(ctx, c, r.CallbackURL(sys)), nil
}
