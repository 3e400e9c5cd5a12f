package provider_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider"
	"github.com/flowhook/flowhook/server/internal/provider/connector"
	"github.com/flowhook/flowhook/server/internal/provider/connector/standardwebhooks"
	"github.com/flowhook/flowhook/server/internal/provider/docusign"
	"github.com/flowhook/flowhook/server/internal/provider/onespan"
)

// memSettings is an in-memory engine.SettingsStore that counts its reads. Each save is stamped
// a microsecond after the one before, as the store stamps updated_at (sameTime: every save at
// one time, as two saves within a clock tick are).
type memSettings struct {
	mu       sync.Mutex
	m        map[string]engine.Settings
	reads    int
	saves    int
	sameTime bool
	fail     error
}

func newMemSettings() *memSettings { return &memSettings{m: map[string]engine.Settings{}} }

func (s *memSettings) GetSettings(_ context.Context, id string) (engine.Settings, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	if s.fail != nil {
		return engine.Settings{}, s.fail
	}
	if st, ok := s.m[id]; ok {
		return st, nil
	}
	return engine.Settings{ID: id, Plain: map[string]any{}, Secrets: map[string]string{}}, nil
}

func (s *memSettings) PutSettings(_ context.Context, in engine.Settings, expected int64) (engine.Settings, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m[in.ID].Revision != expected {
		return engine.Settings{}, engine.ErrConflict
	}
	// Stored as the database does: plain values through JSON.
	b, err := json.Marshal(in.Plain)
	if err != nil {
		return engine.Settings{}, err
	}
	in.Plain = map[string]any{}
	if err := json.Unmarshal(b, &in.Plain); err != nil {
		return engine.Settings{}, err
	}
	in.Revision = expected + 1
	in.UpdatedAt = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	if s.saves++; !s.sameTime {
		in.UpdatedAt = in.UpdatedAt.Add(time.Duration(s.saves) * time.Microsecond)
	}
	s.m[in.ID] = in
	return in, nil
}

func (s *memSettings) ListSettings(_ context.Context, prefix, after string, limit int) ([]engine.Settings, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id := range s.m {
		if strings.HasPrefix(id, prefix) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	var out []engine.Settings
	for _, id := range ids {
		if id > after && len(out) < limit {
			out = append(out, s.m[id])
		}
	}
	return out, int64(len(ids)), nil
}

func (s *memSettings) DeleteSettings(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[id]; !ok {
		return engine.ErrNotFound
	}
	delete(s.m, id)
	return nil
}

func (s *memSettings) readCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads
}

// clock is a settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newRegistry(t *testing.T) (*provider.Registry, *memSettings, *clock) {
	t.Helper()
	st := newMemSettings()
	clk := &clock{t: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)}
	return provider.NewRegistry(st, "https://flowhook.example.com/", http.DefaultClient, clk.now, provider.Builtin()...), st, clk
}

func putConnector(t *testing.T, st *memSettings, name string, secrets ...string) connector.Config {
	t.Helper()
	c := connector.Config{Name: name, CreateURL: "https://tickets.example.com/tickets", SigningSecret: secrets[0],
		Outcomes: map[string]engine.Outcome{"ticket.approved": engine.OutcomeApproved}, CreatedAt: time.Now()}
	cur, err := st.GetSettings(context.Background(), connector.SettingsPrefix+name)
	require.NoError(t, err)
	_, err = st.PutSettings(context.Background(), c.Settings(), cur.Revision)
	require.NoError(t, err)
	return c
}

func TestRegistryCatalog(t *testing.T) {
	t.Parallel()
	r, _, _ := newRegistry(t)
	var names []engine.Provider
	for _, s := range r.Specs() {
		names = append(names, s.Provider)
		got, ok := r.Spec(s.Provider)
		require.True(t, ok)
		require.Equal(t, s.Route, got.Route)
		require.NotEmpty(t, s.Action, "%s: a transition into its state creates its work item", s.Provider)
	}
	require.Equal(t, []engine.Provider{docusign.Provider, onespan.Provider, connector.Provider}, names, "Builtin's order")
	_, ok := r.Spec("ADOBE_SIGN")
	require.False(t, ok)
	for i, s := range provider.Specs() {
		require.Equal(t, names[i], s.Provider, "provider.Specs() is the same catalog")
	}

	require.Equal(t, "https://flowhook.example.com/webhooks/DocuSign", r.CallbackURL(engine.System{Provider: docusign.Provider}))
	require.Equal(t, "https://flowhook.example.com/webhooks/OneSpan", r.CallbackURL(engine.System{Provider: onespan.Provider}))
	require.Equal(t, "https://flowhook.example.com/webhooks/c2i/tickets", r.CallbackURL(engine.System{Provider: connector.Provider, Connector: "tickets"}))
	require.Empty(t, r.CallbackURL(engine.System{Provider: "ADOBE_SIGN"}))
}

// Routes name providers without regard to case; a connector's route exists once it is
// registered, and its credentials are its secrets (the previous one during its grace).
func TestRegistryReceiving(t *testing.T) {
	t.Parallel()
	r, st, clk := newRegistry(t)
	ctx := context.Background()
	for _, route := range []string{"DocuSign", "docusign", "DOCUSIGN"} {
		rc, ok, err := r.Receiving(ctx, route, "")
		require.NoError(t, err)
		require.True(t, ok, route)
		require.Equal(t, engine.System{Provider: docusign.Provider}, rc.System())
		require.Equal(t, "/webhooks/{provider}", rc.Route())
	}
	for _, tc := range []struct{ route, connector string }{
		{"Unknown", ""}, {"c2i", ""}, {"DocuSign", "tickets"}, {"c2i", "tickets"}, {"c2i", "Not A Name"},
	} {
		_, ok, err := r.Receiving(ctx, tc.route, tc.connector)
		require.NoError(t, err)
		require.False(t, ok, "%s/%s", tc.route, tc.connector)
	}

	old, next := standardwebhooks.NewSecret(), standardwebhooks.NewSecret()
	cfg := putConnector(t, st, "tickets", old)
	clk.advance(3 * time.Second) // past the cached "no such connector"
	rc, ok, err := r.Receiving(ctx, "C2I", "tickets")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, engine.System{Provider: connector.Provider, Connector: "tickets"}, rc.System())
	require.Equal(t, "/webhooks/c2i/{connector}", rc.Route())
	creds, err := rc.Credentials(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{old}, creds)

	// Rolled with an hour's grace: both, until the hour is over; re-read within seconds.
	cfg.PreviousSecret, cfg.PreviousValidUntil, cfg.SigningSecret = old, clk.now().Add(time.Hour), next
	cur, err := st.GetSettings(ctx, connector.SettingsPrefix+"tickets")
	require.NoError(t, err)
	_, err = st.PutSettings(ctx, cfg.Settings(), cur.Revision)
	require.NoError(t, err)
	reads := st.readCount()
	creds, err = rc.Credentials(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{old}, creds, "read at most two seconds ago")
	require.Equal(t, reads, st.readCount(), "no read per notification")
	clk.advance(3 * time.Second)
	creds, err = rc.Credentials(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{next, old}, creds)
	clk.advance(time.Hour)
	creds, err = rc.Credentials(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{next}, creds, "the grace is checked at every call")

	// A database that does not answer is an error, not a 404.
	st.mu.Lock()
	st.fail = errors.New("database down")
	st.mu.Unlock()
	clk.advance(3 * time.Second)
	_, _, err = r.Receiving(ctx, "c2i", "tickets")
	require.Error(t, err)
}

// A system's client is built from its settings and kept while their revision stays; its
// events map through its table; a stored body reads back as the system's.
func TestRegistryClientsAndOutcomes(t *testing.T) {
	t.Parallel()
	r, st, clk := newRegistry(t)
	ctx := context.Background()
	tickets := engine.System{Provider: connector.Provider, Connector: "tickets"}
	_, err := r.Client(ctx, tickets)
	require.ErrorIs(t, err, engine.ErrProviderPermanent)
	require.ErrorIs(t, err, engine.ErrNotConfigured)
	require.Contains(t, err.Error(), `no connector is named "tickets"`)
	_, err = r.Client(ctx, engine.System{Provider: docusign.Provider})
	require.ErrorIs(t, err, engine.ErrNotConfigured)
	_, err = r.Client(ctx, engine.System{Provider: docusign.Provider, Connector: "tickets"})
	require.ErrorIs(t, err, engine.ErrProviderPermanent, "DocuSign has no connectors")
	_, err = r.Client(ctx, engine.System{Provider: "ADOBE_SIGN"})
	require.ErrorIs(t, err, engine.ErrProviderPermanent)

	cfg := putConnector(t, st, "tickets", standardwebhooks.NewSecret())
	c1, err := r.Client(ctx, tickets)
	require.NoError(t, err)
	c2, err := r.Client(ctx, tickets)
	require.NoError(t, err)
	require.Same(t, c1, c2, "kept while the settings' revision stays")
	cfg.Outcomes["ticket.closed"] = engine.OutcomeFinished
	cur, err := st.GetSettings(ctx, connector.SettingsPrefix+"tickets")
	require.NoError(t, err)
	_, err = st.PutSettings(ctx, cfg.Settings(), cur.Revision)
	require.NoError(t, err)
	c3, err := r.Client(ctx, tickets)
	require.NoError(t, err)
	require.NotSame(t, c1, c3, "rebuilt when the settings change")

	clk.advance(3 * time.Second)
	for _, tc := range []struct {
		sys     engine.System
		event   string
		reason  string
		outcome engine.Outcome
		ok      bool
	}{
		{tickets, "ticket.approved", "", engine.OutcomeApproved, true},
		{tickets, "ticket.closed", "", engine.OutcomeFinished, true},
		{tickets, "ticket.commented", "", engine.OutcomeUnspecified, false},
		{engine.System{Provider: docusign.Provider}, "envelope-voided", "Envelope has expired.", engine.OutcomeExpired, true},
		{engine.System{Provider: onespan.Provider}, "PACKAGE_OPT_OUT", "", engine.OutcomeDenied, true},
		{engine.System{Provider: "ADOBE_SIGN"}, "agreement-signed", "", engine.OutcomeUnspecified, false},
	} {
		o, ok, err := r.Outcome(ctx, tc.sys, tc.event, tc.reason)
		require.NoError(t, err)
		require.Equal(t, tc.ok, ok, "%s %s", tc.sys, tc.event)
		require.Equal(t, tc.outcome, o, "%s %s", tc.sys, tc.event)
	}

	ev, err := r.Parse(tickets, []byte(`{"type":"ticket.approved","timestamp":"2026-12-03T10:00:00Z","data":{"id":"TCK-9"}}`))
	require.NoError(t, err)
	require.Equal(t, tickets, ev.System)
	require.Equal(t, "TCK-9", ev.ExternalID)

	systems, err := r.Systems(ctx, connector.Provider)
	require.NoError(t, err)
	require.Equal(t, []engine.System{tickets}, systems)
	systems, err = r.Systems(ctx, docusign.Provider)
	require.NoError(t, err)
	require.Equal(t, []engine.System{{Provider: docusign.Provider}}, systems)
}

// revisionSettings is memSettings that also reads a group's revision alone, as the store does.
type revisionSettings struct {
	*memSettings
	revisions int
}

func (s *revisionSettings) SettingsRevision(_ context.Context, id string) (int64, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revisions++
	return s.m[id].Revision, s.m[id].UpdatedAt, nil
}

// TestRegistryClientRevision: with a store that reads revisions alone, a client built already
// is checked by its settings' revision, with no whole read (no secrets opened); a change of
// the settings rebuilds it at once, and their removal makes the system not configured.
func TestRegistryClientRevision(t *testing.T) {
	t.Parallel()
	st := &revisionSettings{memSettings: newMemSettings()}
	clk := &clock{t: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)}
	r := provider.NewRegistry(st, "https://flowhook.example.com/", http.DefaultClient, clk.now, provider.Builtin()...)
	ctx := context.Background()
	tickets := engine.System{Provider: connector.Provider, Connector: "tickets"}
	cfg := putConnector(t, st.memSettings, "tickets", standardwebhooks.NewSecret())
	c1, err := r.Client(ctx, tickets)
	require.NoError(t, err)
	reads := st.readCount()
	c2, err := r.Client(ctx, tickets)
	require.NoError(t, err)
	require.Same(t, c1, c2)
	require.Equal(t, reads, st.readCount(), "no whole read for a client built already")
	require.Equal(t, 1, st.revisions)

	// RecentClient (a document's download): no read at all while the check is recent.
	c4, err := r.RecentClient(ctx, tickets)
	require.NoError(t, err)
	require.Same(t, c1, c4)
	require.Equal(t, 1, st.revisions, "checked a moment ago")
	clk.advance(3 * time.Second)
	c4, err = r.RecentClient(ctx, tickets)
	require.NoError(t, err)
	require.Same(t, c1, c4)
	require.Equal(t, 2, st.revisions, "checked again once the check is old")

	cfg.Outcomes["ticket.closed"] = engine.OutcomeFinished
	cur, err := st.GetSettings(ctx, connector.SettingsPrefix+"tickets")
	require.NoError(t, err)
	_, err = st.PutSettings(ctx, cfg.Settings(), cur.Revision)
	require.NoError(t, err)
	c3, err := r.Client(ctx, tickets)
	require.NoError(t, err)
	require.NotSame(t, c1, c3, "rebuilt when the settings change")
	clk.advance(3 * time.Second)
	cfg.Outcomes["ticket.reopened"] = engine.OutcomeDenied
	cur, err = st.GetSettings(ctx, connector.SettingsPrefix+"tickets")
	require.NoError(t, err)
	_, err = st.PutSettings(ctx, cfg.Settings(), cur.Revision)
	require.NoError(t, err)
	c5, err := r.RecentClient(ctx, tickets)
	require.NoError(t, err)
	require.NotSame(t, c3, c5, "a change older than the check is seen")

	require.NoError(t, st.DeleteSettings(ctx, connector.SettingsPrefix+"tickets"))
	_, err = r.Client(ctx, tickets)
	require.ErrorIs(t, err, engine.ErrNotConfigured, "removed settings are seen at once")
}

// A provider's settings travel as the JSON of its API messages: a view never holds a secret,
// an update is checked against its revision and by the provider.
func TestRegistrySettingsBridge(t *testing.T) {
	t.Parallel()
	r, _, _ := newRegistry(t)
	ctx := context.Background()
	view, err := r.ViewSettings(ctx, onespan.Provider)
	require.NoError(t, err)
	require.JSONEq(t, `{"webhookUrl":"https://flowhook.example.com/webhooks/OneSpan"}`, string(view))

	_, err = r.UpdateSettings(ctx, onespan.Provider, []byte(`{"apiKey":"an-api-key-0123","callbackKey":"a-callback-key-0123456789"}`), 3, "admin")
	require.ErrorIs(t, err, engine.ErrConflict)
	_, err = r.UpdateSettings(ctx, onespan.Provider, []byte(`{"apiKey":"short"}`), 0, "admin")
	ps, ok := engine.IsValidation(err)
	require.True(t, ok, "%v", err)
	require.Equal(t, "api_key", ps[0].Path)

	saved, err := r.UpdateSettings(ctx, onespan.Provider, []byte(`{"apiKey":"an-api-key-0123","callbackKey":"a-callback-key-0123456789"}`), 0, "admin")
	require.NoError(t, err)
	require.NotContains(t, string(saved), "an-api-key-0123")
	require.NotContains(t, string(saved), "a-callback-key-0123456789")
	var v struct {
		BaseURL        string `json:"baseUrl"`
		APIKeySet      bool   `json:"apiKeySet"`
		CallbackKeySet bool   `json:"callbackKeySet"`
		Revision       int64  `json:"revision"`
	}
	require.NoError(t, json.Unmarshal(saved, &v))
	require.Equal(t, onespan.DefaultBaseURL, v.BaseURL)
	require.True(t, v.APIKeySet)
	require.True(t, v.CallbackKeySet)
	require.EqualValues(t, 1, v.Revision)

	// A follow-up that fails leaves the settings saved and says so: here OneSpan refuses the
	// API key when the callback is registered.
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"code":401,"messageKey":"error.unauthorised.noApiKey","message":"Invalid API key."}`))
	}))
	t.Cleanup(refusing.Close)
	_, err = r.UpdateSettings(ctx, onespan.Provider, []byte(`{"baseUrl":"`+refusing.URL+`","registerCallback":true}`), 1, "admin")
	require.ErrorIs(t, err, engine.ErrFailedPrecondition)
	require.Contains(t, err.Error(), "the settings are saved (revision 2), but registering the callback at OneSpan failed")
	require.Contains(t, err.Error(), "HTTP 401")

	_, err = r.ViewSettings(ctx, connector.Provider)
	require.ErrorIs(t, err, engine.ErrFailedPrecondition, "connectors have RPCs of their own")
	_, err = r.ViewSettings(ctx, "ADOBE_SIGN")
	require.ErrorIs(t, err, engine.ErrNotFound)

	rep, err := r.TestConnection(ctx, engine.System{Provider: docusign.Provider})
	require.NoError(t, err)
	require.False(t, rep.OK)
	require.Contains(t, rep.Message, "not configured")
}

// TestHTTPClientKeepsConnections checks that the provider clients' HTTP client reuses its
// connections when requests to one host run concurrently: rounds of 8 at a time (the
// in-process read-backs' concurrency) open 8 connections in all, not one per request past the
// second as net/http's default transport does.
func TestHTTPClientKeepsConnections(t *testing.T) {
	t.Parallel()
	var (
		mu     sync.Mutex
		opened int
	)
	release := make(chan struct{})
	arrived := make(chan struct{}, 8)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release // all 8 in flight at once, so that each round needs 8 connections
		w.WriteHeader(http.StatusNoContent)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			mu.Lock()
			opened++
			mu.Unlock()
		}
	}
	srv.Start()
	defer srv.Close()

	hc := provider.HTTPClient(10 * time.Second)
	for range 3 {
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := hc.Get(srv.URL)
				if !assert.NoError(t, err) {
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				assert.Equal(t, http.StatusNoContent, resp.StatusCode)
			}()
		}
		for range 8 {
			<-arrived
		}
		for range 8 {
			release <- struct{}{}
		}
		wg.Wait()
	}
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, 8, opened)
}

// TestSettingsSavedHereApplyAtOnce: settings saved through the registry (a provider's, a
// connector's) are what this replica checks notifications with from the next one on, not up
// to credentialsTTL later: a rolled connector secret is accepted at once, and a connector
// deleted here has no route at once; a change saved elsewhere still takes up to the TTL.
func TestSettingsSavedHereApplyAtOnce(t *testing.T) {
	t.Parallel()
	r, st, _ := newRegistry(t)
	ctx := context.Background()
	admin := r.Connectors(unused{})
	old, next := standardwebhooks.NewSecret(), standardwebhooks.NewSecret()
	in := engine.ConnectorInput{Name: "tickets", CreateURL: "https://tickets.example.com/tickets",
		Outcomes: map[string]engine.Outcome{"ticket.approved": engine.OutcomeApproved}, SigningSecret: old}
	c, _, err := admin.CreateConnector(ctx, in, "admin")
	require.NoError(t, err)
	rc, ok, err := r.Receiving(ctx, "c2i", "tickets")
	require.NoError(t, err)
	require.True(t, ok, "created here: routed at once")
	creds, err := rc.Credentials(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{old}, creds)

	in.SigningSecret, in.SecretGrace, in.ExpectedRevision = next, time.Hour, c.Revision
	c, err = admin.UpdateConnector(ctx, in, "admin")
	require.NoError(t, err)
	reads := st.readCount()
	creds, err = rc.Credentials(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{next, old}, creds, "the new secret at once, the old one for its grace")
	require.Equal(t, reads, st.readCount(), "from the save, not a read")

	// Saved by another replica: seen within the TTL, as before.
	cur, err := st.GetSettings(ctx, connector.SettingsPrefix+"tickets")
	require.NoError(t, err)
	third := standardwebhooks.NewSecret()
	cfg := connector.ConfigFrom(cur)
	cfg.SigningSecret, cfg.PreviousSecret, cfg.PreviousValidUntil = third, "", time.Time{}
	_, err = st.PutSettings(ctx, cfg.Settings(), cur.Revision)
	require.NoError(t, err)
	creds, err = rc.Credentials(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{next, old}, creds, "read here at most two seconds ago")

	require.NoError(t, admin.DeleteConnector(ctx, "tickets"))
	_, ok, err = r.Receiving(ctx, "c2i", "tickets")
	require.NoError(t, err)
	require.False(t, ok, "deleted here: no route at once")
}

// unused is the usage of a connector nothing uses.
type unused struct{}

func (unused) SystemUsage(context.Context, engine.System) ([]string, int, error) { return nil, 0, nil }

// recordingSystem is a connector's outside system that answers every create and keeps where
// each came and the auth header it carried.
type recordingSystem struct {
	*httptest.Server
	mu    sync.Mutex
	auths []string
}

func newRecordingSystem(t *testing.T) *recordingSystem {
	t.Helper()
	s := &recordingSystem{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.auths = append(s.auths, r.Header.Get("Authorization"))
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"TCK-1"}`)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *recordingSystem) calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.auths)
}

// TestRegistryClientRecreated: a connector deleted and created again under its name is at
// revision 1 again, as the one deleted was; the client built for the one deleted (its URLs,
// auth header and secret) is not used for the new one, whether the delete and the create went
// through this replica's registry or another's, and whether or not the store reads a revision
// alone. A registry that finds the settings gone keeps no client for them either (RecentClient
// would hand it out).
func TestRegistryClientRecreated(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		elsewhere bool // deleted and created again through another replica's registry
		revisions bool // the store reads a revision alone, as store.Store does
		sameTime  bool // both rows stamped alike: only the delete seen here tells them apart
		between   bool // this registry asks for the client while the connector is gone
	}{
		{name: "here", revisions: true},
		{name: "here, stamped alike", revisions: true, sameTime: true},
		{name: "here, without revisions", sameTime: true},
		{name: "elsewhere", elsewhere: true, revisions: true},
		{name: "elsewhere, without revisions", elsewhere: true},
		{name: "elsewhere, asked for between", elsewhere: true, revisions: true, sameTime: true, between: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mem := newMemSettings()
			mem.sameTime = tc.sameTime
			var st engine.SettingsStore = mem
			if tc.revisions {
				st = &revisionSettings{memSettings: mem}
			}
			clk := &clock{t: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)}
			newReg := func() *provider.Registry {
				return provider.NewRegistry(st, "https://flowhook.example.com/", http.DefaultClient, clk.now, provider.Builtin()...)
			}
			r := newReg()
			admin := r.Connectors(unused{})
			if tc.elsewhere {
				admin = newReg().Connectors(unused{})
			}
			ctx := context.Background()
			tickets := engine.System{Provider: connector.Provider, Connector: "tickets"}
			staging, production := newRecordingSystem(t), newRecordingSystem(t)
			input := func(sys *recordingSystem, token string) engine.ConnectorInput {
				return engine.ConnectorInput{Name: "tickets", CreateURL: sys.URL + "/tickets", AuthHeader: "Authorization: Bearer " + token,
					Outcomes: map[string]engine.Outcome{"ticket.approved": engine.OutcomeApproved}}
			}
			req := engine.WorkItemRequest{WorkItemID: "wi-1", InstanceID: "in-1", State: "ticket"}

			first, _, err := admin.CreateConnector(ctx, input(staging, "staging"), "admin")
			require.NoError(t, err)
			require.EqualValues(t, 1, first.Revision)
			c1, err := r.Client(ctx, tickets)
			require.NoError(t, err)
			_, err = c1.Create(ctx, req)
			require.NoError(t, err)
			require.Equal(t, []string{"Bearer staging"}, staging.calls())

			require.NoError(t, admin.DeleteConnector(ctx, "tickets"))
			if tc.between {
				_, err = r.Client(ctx, tickets)
				require.ErrorIs(t, err, engine.ErrNotConfigured, "deleted")
				_, err = r.RecentClient(ctx, tickets)
				require.ErrorIs(t, err, engine.ErrNotConfigured, "found gone a moment ago: no client kept")
			}
			again, _, err := admin.CreateConnector(ctx, input(production, "production"), "admin")
			require.NoError(t, err)
			require.EqualValues(t, 1, again.Revision, "created again: at revision 1, as the one deleted was")

			c2, err := r.Client(ctx, tickets)
			require.NoError(t, err)
			require.False(t, c1 == c2, "a client for the connector created again")
			_, err = c2.Create(ctx, req)
			require.NoError(t, err)
			require.Equal(t, []string{"Bearer staging"}, staging.calls(), "nothing more to the system deleted")
			require.Equal(t, []string{"Bearer production"}, production.calls(), "the new system, with its own auth header")
		})
	}
}
