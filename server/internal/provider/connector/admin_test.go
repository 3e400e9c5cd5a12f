package connector_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/connector"
	swh "github.com/flowhook/flowhook/server/internal/provider/connector/standardwebhooks"
	"github.com/flowhook/flowhook/server/internal/provider/providertest"
)

// settingsStore is an in-memory engine.SettingsStore that keeps groups as the database does:
// plain values read back from JSON, a revision per save, checked on every save.
type settingsStore struct {
	now func() time.Time

	mu     sync.Mutex
	groups map[string]engine.Settings
	gets   []string
	puts   int
	err    error // every call fails with it when set
	// beforePut runs before a save is checked (a concurrent writer).
	beforePut func()
}

var _ engine.SettingsStore = (*settingsStore)(nil)

func newSettingsStore(now func() time.Time) *settingsStore {
	return &settingsStore{now: now, groups: map[string]engine.Settings{}}
}

// copyGroup is a group as a read returns it: its own maps, plain values through JSON.
func copyGroup(s engine.Settings) (engine.Settings, error) {
	b, err := json.Marshal(s.Plain)
	if err != nil {
		return engine.Settings{}, err
	}
	out := s
	out.Plain = map[string]any{}
	if err := json.Unmarshal(b, &out.Plain); err != nil {
		return engine.Settings{}, err
	}
	if out.Plain == nil {
		out.Plain = map[string]any{}
	}
	out.Secrets = maps.Clone(s.Secrets)
	if out.Secrets == nil {
		out.Secrets = map[string]string{}
	}
	return out, nil
}

func (s *settingsStore) GetSettings(_ context.Context, id string) (engine.Settings, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gets = append(s.gets, id)
	if s.err != nil {
		return engine.Settings{}, s.err
	}
	g, ok := s.groups[id]
	if !ok {
		return engine.Settings{ID: id, Plain: map[string]any{}, Secrets: map[string]string{}}, nil
	}
	return copyGroup(g)
}

func (s *settingsStore) PutSettings(_ context.Context, in engine.Settings, expectedRevision int64) (engine.Settings, error) {
	s.mu.Lock()
	hook := s.beforePut
	s.mu.Unlock()
	if hook != nil {
		hook()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.puts++
	if s.err != nil {
		return engine.Settings{}, s.err
	}
	if cur := s.groups[in.ID].Revision; cur != expectedRevision {
		return engine.Settings{}, fmt.Errorf("%w: settings %s are at revision %d, not %d", engine.ErrConflict, in.ID, cur, expectedRevision)
	}
	saved, err := copyGroup(in)
	if err != nil {
		return engine.Settings{}, err
	}
	saved.Revision, saved.UpdatedAt = expectedRevision+1, s.now()
	s.groups[in.ID] = saved
	return copyGroup(saved)
}

func (s *settingsStore) ListSettings(_ context.Context, prefix, after string, limit int) ([]engine.Settings, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, 0, s.err
	}
	var ids []string
	for id := range s.groups {
		if strings.HasPrefix(id, prefix) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	total := int64(len(ids))
	var out []engine.Settings
	for _, id := range ids {
		if id <= after || len(out) >= limit {
			continue
		}
		g, err := copyGroup(s.groups[id])
		if err != nil {
			return nil, 0, err
		}
		out = append(out, g)
	}
	return out, total, nil
}

func (s *settingsStore) DeleteSettings(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if _, ok := s.groups[id]; !ok {
		return fmt.Errorf("%w: settings %s", engine.ErrNotFound, id)
	}
	delete(s.groups, id)
	return nil
}

// group is a stored group as it is.
func (s *settingsStore) group(id string) (engine.Settings, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.groups[id]
	return g, ok
}

func (s *settingsStore) setErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

// connectorUsage is an in-memory engine.ConnectorUsage.
type connectorUsage struct {
	mu    sync.Mutex
	uses  map[engine.System]use
	asked []engine.System
	err   error
}

type use struct {
	versions []string
	open     int
}

func (u *connectorUsage) SystemUsage(_ context.Context, s engine.System) ([]string, int, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.asked = append(u.asked, s)
	if u.err != nil {
		return nil, 0, u.err
	}
	return slices.Clone(u.uses[s].versions), u.uses[s].open, nil
}

type adminBundle struct {
	admin *connector.Admin
	store *settingsStore
	usage *connectorUsage
	clock *providertest.Clock
}

func webhookURL(s engine.System) string {
	return "https://flowhook.example/webhooks/c2i/" + s.Connector
}

func setupAdmin(t *testing.T) *adminBundle {
	t.Helper()
	b := &adminBundle{clock: providertest.NewClock(), usage: &connectorUsage{uses: map[engine.System]use{}}}
	b.store = newSettingsStore(b.clock.Now)
	b.admin = connector.NewAdmin(b.store, b.usage, webhookURL, b.clock.Now)
	return b
}

// stored is the stored group of a connector read as a Config.
func (b *adminBundle) stored(t *testing.T, name string) (engine.Settings, connector.Config) {
	t.Helper()
	g, ok := b.store.group(connector.SettingsPrefix + name)
	require.True(t, ok, "connector %s is stored", name)
	return g, connector.ConfigFrom(g)
}

func (b *adminBundle) create(t *testing.T, in engine.ConnectorInput) engine.Connector {
	t.Helper()
	c, _, err := b.admin.CreateConnector(t.Context(), in, "admin@example.com")
	require.NoError(t, err)
	return c
}

// connectorInput is a valid connector named name.
func connectorInput(name string) engine.ConnectorInput {
	return engine.ConnectorInput{
		Name:        name,
		DisplayName: "Ticket desk",
		CreateURL:   "https://tickets.example/items",
		StatusURL:   "https://tickets.example/items/{id}",
		CancelURL:   "https://tickets.example/items/{id}/cancel",
		Outcomes:    map[string]engine.Outcome{"ticket.resolved": engine.OutcomeFinished, "ticket.rejected": engine.OutcomeDenied},
	}
}

func TestAdminCreate(t *testing.T) {
	t.Parallel()

	t.Run("a generated secret is returned once and stored", func(t *testing.T) {
		t.Parallel()
		b := setupAdmin(t)
		c, secret, err := b.admin.CreateConnector(t.Context(), connectorInput("tickets"), "admin@example.com")
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(secret, swh.SecretPrefix), secret)
		key, err := swh.ParseSecret(secret)
		require.NoError(t, err)
		require.Len(t, key, 32)

		now := b.clock.Now()
		require.Equal(t, engine.Connector{
			Name:             "tickets",
			DisplayName:      "Ticket desk",
			CreateURL:        "https://tickets.example/items",
			StatusURL:        "https://tickets.example/items/{id}",
			CancelURL:        "https://tickets.example/items/{id}/cancel",
			Outcomes:         map[string]engine.Outcome{"ticket.resolved": engine.OutcomeFinished, "ticket.rejected": engine.OutcomeDenied},
			Revision:         1,
			SigningSecretSet: true,
			WebhookURL:       "https://flowhook.example/webhooks/c2i/tickets",
			CreatedAt:        now,
			UpdatedAt:        now,
			UpdatedBy:        "admin@example.com",
		}, c)
		providertest.RequireNoSecret(t, c, secret)

		g, cfg := b.stored(t, "tickets")
		require.Equal(t, secret, cfg.SigningSecret)
		require.Empty(t, cfg.PreviousSecret)
		require.Equal(t, []string{secret}, connector.Plugin{}.Credentials(g, now))
		providertest.RequireNoSecret(t, g.Plain, secret)

		got, err := b.admin.GetConnector(t.Context(), "tickets")
		require.NoError(t, err)
		require.Equal(t, c, got)

		_, other, err := b.admin.CreateConnector(t.Context(), connectorInput("erp"), "admin@example.com")
		require.NoError(t, err)
		require.NotEqual(t, secret, other, "each connector gets its own secret")
	})

	t.Run("a given secret is kept and not returned", func(t *testing.T) {
		t.Parallel()
		b := setupAdmin(t)
		in := connectorInput("tickets")
		in.SigningSecret = secretCurrent
		c, secret, err := b.admin.CreateConnector(t.Context(), in, "admin@example.com")
		require.NoError(t, err)
		require.Empty(t, secret)
		require.True(t, c.SigningSecretSet)
		providertest.RequireNoSecret(t, c, secretCurrent)
		_, cfg := b.stored(t, "tickets")
		require.Equal(t, secretCurrent, cfg.SigningSecret)
	})

	t.Run("the display name defaults to the name", func(t *testing.T) {
		t.Parallel()
		b := setupAdmin(t)
		for name, display := range map[string]string{"a": "", "b": "  \t", "c": "  Help desk  "} {
			in := connectorInput(name)
			in.DisplayName = display
			c := b.create(t, in)
			want := strings.TrimSpace(display)
			if want == "" {
				want = name
			}
			require.Equal(t, want, c.DisplayName, "%q", display)
		}
	})

	t.Run("URLs are trimmed", func(t *testing.T) {
		t.Parallel()
		b := setupAdmin(t)
		in := connectorInput("tickets")
		in.CreateURL, in.StatusURL, in.CancelURL = " https://tickets.example/items\n", "\thttps://tickets.example/items/{id} ", "  "
		c := b.create(t, in)
		require.Equal(t, "https://tickets.example/items", c.CreateURL)
		require.Equal(t, "https://tickets.example/items/{id}", c.StatusURL)
		require.Empty(t, c.CancelURL)
	})

	t.Run("the auth header is normalized, stored sealed and never shown", func(t *testing.T) {
		t.Parallel()
		b := setupAdmin(t)
		in := connectorInput("tickets")
		in.AuthHeader = "  X-Api-Key :   " + apiKey + "  "
		c := b.create(t, in)
		require.Equal(t, "X-Api-Key", c.AuthHeaderName)
		providertest.RequireNoSecret(t, c, apiKey)
		g, cfg := b.stored(t, "tickets")
		require.Equal(t, "X-Api-Key: "+apiKey, cfg.AuthHeader)
		require.Equal(t, "X-Api-Key", g.Plain[connector.KeyAuthHeaderName])
		providertest.RequireNoSecret(t, g.Plain, apiKey)
	})

	t.Run("a taken name", func(t *testing.T) {
		t.Parallel()
		b := setupAdmin(t)
		first := b.create(t, connectorInput("tickets"))
		in := connectorInput("tickets")
		in.DisplayName = "Another desk"
		c, secret, err := b.admin.CreateConnector(t.Context(), in, "other@example.com")
		require.ErrorIs(t, err, engine.ErrAlreadyExists)
		require.Contains(t, err.Error(), `"tickets"`)
		require.Equal(t, engine.Connector{}, c)
		require.Empty(t, secret)
		got, err := b.admin.GetConnector(t.Context(), "tickets")
		require.NoError(t, err)
		require.Equal(t, first, got, "the first one is left as it was")
	})

	t.Run("a name taken by a concurrent create", func(t *testing.T) {
		t.Parallel()
		b := setupAdmin(t)
		b.store.beforePut = func() {
			b.store.mu.Lock()
			b.store.beforePut = nil
			b.store.mu.Unlock()
			b.create(t, connectorInput("tickets"))
		}
		_, secret, err := b.admin.CreateConnector(t.Context(), connectorInput("tickets"), "other@example.com")
		require.ErrorIs(t, err, engine.ErrAlreadyExists)
		require.Empty(t, secret)
	})

	t.Run("an invalid connector is not stored", func(t *testing.T) {
		t.Parallel()
		b := setupAdmin(t)
		in := connectorInput("tickets")
		in.CreateURL = "ftp://tickets.example/items"
		_, secret, err := b.admin.CreateConnector(t.Context(), in, "admin@example.com")
		require.Equal(t, []string{"create_url"}, providertest.ProblemPaths(t, err))
		require.Empty(t, secret)
		require.Zero(t, b.store.puts)
	})

	t.Run("a store error", func(t *testing.T) {
		t.Parallel()
		b := setupAdmin(t)
		b.store.setErr(engine.ErrUnavailable)
		_, secret, err := b.admin.CreateConnector(t.Context(), connectorInput("tickets"), "admin@example.com")
		require.ErrorIs(t, err, engine.ErrUnavailable)
		require.Empty(t, secret)
	})
}

// TestAdminValidation: every problem of a connector's settings is listed at once, with the
// API's field names, on create and on update alike, and no problem quotes a credential.
func TestAdminValidation(t *testing.T) {
	t.Parallel()
	const (
		hdrValue = "hv-0c3d5f7a9b"
		password = "pw-hunter2x"
	)
	shortKey := swh.SecretPrefix + base64.StdEncoding.EncodeToString(make([]byte, swh.MinKeyLen-1))
	longKey := swh.SecretPrefix + base64.StdEncoding.EncodeToString(make([]byte, swh.MaxKeyLen+1))
	bareKey := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32)))
	outcomes := func(n int) map[string]engine.Outcome {
		m := map[string]engine.Outcome{}
		for i := range n {
			m[fmt.Sprintf("type.%03d", i)] = engine.OutcomeFinished
		}
		return m
	}
	tests := []struct {
		name  string
		edit  func(*engine.ConnectorInput)
		paths []string // nil: valid
		msg   string   // the first problem's message contains it
	}{
		{name: "valid", edit: func(*engine.ConnectorInput) {}},
		{name: "nothing", edit: func(in *engine.ConnectorInput) { *in = engine.ConnectorInput{} }, paths: []string{"name", "create_url"}, msg: "is required"},

		{name: "a one-letter name", edit: func(in *engine.ConnectorInput) { in.Name = "a" }},
		{name: "a name of digits and dashes", edit: func(in *engine.ConnectorInput) { in.Name = "1-erp-2" }},
		{name: "a name of 63 characters", edit: func(in *engine.ConnectorInput) { in.Name = strings.Repeat("n", engine.MaxConnectorNameLen) }},
		{name: "a name of 64 characters", edit: func(in *engine.ConnectorInput) { in.Name = strings.Repeat("n", engine.MaxConnectorNameLen+1) },
			paths: []string{"name"}, msg: "at most 63 characters"},
		{name: "an upper-case name", edit: func(in *engine.ConnectorInput) { in.Name = "Tickets" }, paths: []string{"name"}, msg: "must be lower case letters"},
		{name: "a name starting with a dash", edit: func(in *engine.ConnectorInput) { in.Name = "-tickets" }, paths: []string{"name"}},
		{name: "a name with an underscore", edit: func(in *engine.ConnectorInput) { in.Name = "tick_ets" }, paths: []string{"name"}},
		{name: "a name with a slash", edit: func(in *engine.ConnectorInput) { in.Name = "../security" }, paths: []string{"name"}},
		{name: "a name with an accent", edit: func(in *engine.ConnectorInput) { in.Name = "tïckets" }, paths: []string{"name"}},

		{name: "a display name of 200 characters", edit: func(in *engine.ConnectorInput) { in.DisplayName = strings.Repeat("é", connector.MaxDisplayNameLen) }},
		{name: "a display name of 201 characters", edit: func(in *engine.ConnectorInput) { in.DisplayName = strings.Repeat("é", connector.MaxDisplayNameLen+1) },
			paths: []string{"display_name"}, msg: "must be at most 200 characters, got 201"},
		{name: "a display name that is not UTF-8", edit: func(in *engine.ConnectorInput) { in.DisplayName = "desk \xff" },
			paths: []string{"display_name"}, msg: "must be valid UTF-8"},

		{name: "no create_url", edit: func(in *engine.ConnectorInput) { in.CreateURL = "" }, paths: []string{"create_url"}, msg: "is required"},
		{name: "a blank create_url", edit: func(in *engine.ConnectorInput) { in.CreateURL = " \n" }, paths: []string{"create_url"}, msg: "is required"},
		{name: "an http create_url", edit: func(in *engine.ConnectorInput) { in.CreateURL = "http://tickets.example/items" }},
		{name: "an upper-case scheme", edit: func(in *engine.ConnectorInput) { in.CreateURL = "HTTPS://tickets.example/items" }},
		{name: "a port, a query and {id}", edit: func(in *engine.ConnectorInput) { in.CreateURL = "https://tickets.example:8443/items?queue={id}&x=1" }},
		{name: "an ftp create_url", edit: func(in *engine.ConnectorInput) { in.CreateURL = "ftp://tickets.example/items" },
			paths: []string{"create_url"}, msg: "must be an http or https URL"},
		{name: "a create_url without a scheme", edit: func(in *engine.ConnectorInput) { in.CreateURL = "tickets.example/items" },
			paths: []string{"create_url"}, msg: "must be an http or https URL"},
		{name: "a relative create_url", edit: func(in *engine.ConnectorInput) { in.CreateURL = "/items" },
			paths: []string{"create_url"}, msg: "must be an http or https URL"},
		{name: "a create_url without a host", edit: func(in *engine.ConnectorInput) { in.CreateURL = "https:///items" },
			paths: []string{"create_url"}, msg: "has no host"},
		{name: "a create_url of a scheme only", edit: func(in *engine.ConnectorInput) { in.CreateURL = "https://" },
			paths: []string{"create_url"}, msg: "has no host"},
		{name: "a create_url with user info", edit: func(in *engine.ConnectorInput) {
			in.CreateURL = "https://flowhook:" + password + "@tickets.example/items"
		},
			paths: []string{"create_url"}, msg: "must not carry user info or a fragment"},
		{name: "a create_url with a user", edit: func(in *engine.ConnectorInput) { in.CreateURL = "https://flowhook@tickets.example/items" },
			paths: []string{"create_url"}, msg: "must not carry user info or a fragment"},
		{name: "a create_url with a fragment", edit: func(in *engine.ConnectorInput) { in.CreateURL = "https://tickets.example/items#new" },
			paths: []string{"create_url"}, msg: "must not carry user info or a fragment"},
		{name: "a create_url with a control character", edit: func(in *engine.ConnectorInput) { in.CreateURL = "https://tickets.example/it\x7fems" },
			paths: []string{"create_url"}, msg: "is not a URL"},
		{name: "a create_url with a space in its host", edit: func(in *engine.ConnectorInput) { in.CreateURL = "https://tickets example/items" },
			paths: []string{"create_url"}, msg: "is not a URL"},
		{name: "a create_url of 2048 characters", edit: func(in *engine.ConnectorInput) {
			in.CreateURL = "https://tickets.example/" + strings.Repeat("p", connector.MaxURLLen-len("https://tickets.example/"))
		}},
		{name: "a create_url of 2049 characters", edit: func(in *engine.ConnectorInput) {
			in.CreateURL = "https://tickets.example/" + strings.Repeat("p", connector.MaxURLLen+1-len("https://tickets.example/"))
		}, paths: []string{"create_url"}, msg: "must be at most 2048 characters"},

		{name: "no status_url nor cancel_url", edit: func(in *engine.ConnectorInput) { in.StatusURL, in.CancelURL = "", "" }},
		{name: "status_url and cancel_url without {id}", edit: func(in *engine.ConnectorInput) {
			in.StatusURL, in.CancelURL = "https://tickets.example/status", "https://tickets.example/cancel"
		}},
		{name: "{id} in the query", edit: func(in *engine.ConnectorInput) { in.StatusURL = "https://tickets.example/status?ticket={id}" }},
		{name: "a bad status_url", edit: func(in *engine.ConnectorInput) { in.StatusURL = "mailto:desk@tickets.example" },
			paths: []string{"status_url"}, msg: "must be an http or https URL"},
		{name: "a status_url with a fragment after {id}", edit: func(in *engine.ConnectorInput) { in.StatusURL = "https://tickets.example/items/{id}#top" },
			paths: []string{"status_url"}, msg: "fragment"},
		{name: "a bad cancel_url", edit: func(in *engine.ConnectorInput) { in.CancelURL = "https:///items/{id}/cancel" },
			paths: []string{"cancel_url"}, msg: "has no host"},
		{name: "a cancel_url too long", edit: func(in *engine.ConnectorInput) {
			in.CancelURL = "https://tickets.example/" + strings.Repeat("c", connector.MaxURLLen)
		},
			paths: []string{"cancel_url"}, msg: "at most 2048"},

		{name: "no outcomes", edit: func(in *engine.ConnectorInput) { in.Outcomes = nil }},
		{name: "100 outcomes", edit: func(in *engine.ConnectorInput) { in.Outcomes = outcomes(connector.MaxOutcomes) }},
		{name: "101 outcomes", edit: func(in *engine.ConnectorInput) { in.Outcomes = outcomes(connector.MaxOutcomes + 1) },
			paths: []string{"outcomes"}, msg: "at most 100 event types may have an outcome, got 101"},
		{name: "an event type of 100 characters", edit: func(in *engine.ConnectorInput) {
			in.Outcomes = map[string]engine.Outcome{strings.Repeat("t", engine.MaxEventTypeLen): engine.OutcomeDeleted}
		}},
		{name: "an event type of 101 characters", edit: func(in *engine.ConnectorInput) {
			in.Outcomes = map[string]engine.Outcome{strings.Repeat("t", engine.MaxEventTypeLen+1): engine.OutcomeDeleted}
		}, paths: []string{`outcomes["` + strings.Repeat("t", engine.MaxEventTypeLen) + `…"]`}, msg: "an event type is 1 to 100 characters of UTF-8"},
		{name: "an empty event type", edit: func(in *engine.ConnectorInput) { in.Outcomes = map[string]engine.Outcome{"": engine.OutcomeApproved} },
			paths: []string{`outcomes[""]`}, msg: "an event type is 1 to 100 characters"},
		{name: "a blank event type", edit: func(in *engine.ConnectorInput) { in.Outcomes = map[string]engine.Outcome{"  ": engine.OutcomeApproved} },
			paths: []string{`outcomes["  "]`}},
		{name: "an event type that is not UTF-8", edit: func(in *engine.ConnectorInput) {
			in.Outcomes = map[string]engine.Outcome{"t\xff": engine.OutcomeApproved}
		},
			paths: []string{`outcomes["t\xff"]`}},
		{name: "no outcome", edit: func(in *engine.ConnectorInput) {
			in.Outcomes = map[string]engine.Outcome{"ticket.resolved": engine.OutcomeUnspecified}
		},
			paths: []string{`outcomes["ticket.resolved"]`}, msg: "the outcome is required"},
		{name: "an unknown outcome", edit: func(in *engine.ConnectorInput) {
			in.Outcomes = map[string]engine.Outcome{"ticket.resolved": engine.Outcome(99)}
		},
			paths: []string{`outcomes["ticket.resolved"]`}, msg: "unknown outcome 99"},
		{name: "a negative outcome", edit: func(in *engine.ConnectorInput) {
			in.Outcomes = map[string]engine.Outcome{"ticket.resolved": engine.Outcome(-1)}
		},
			paths: []string{`outcomes["ticket.resolved"]`}, msg: "unknown outcome -1"},
		{name: "several bad outcomes, in the order of their types", edit: func(in *engine.ConnectorInput) {
			in.Outcomes = map[string]engine.Outcome{"z": engine.Outcome(7), "a": engine.OutcomeUnspecified, "m": engine.OutcomeExpired, "": engine.OutcomeDenied}
		}, paths: []string{`outcomes[""]`, `outcomes["a"]`, `outcomes["z"]`}},

		{name: "a signing secret", edit: func(in *engine.ConnectorInput) { in.SigningSecret = secretCurrent }},
		{name: "a signing secret without its prefix", edit: func(in *engine.ConnectorInput) { in.SigningSecret = bareKey }},
		{name: "a signing secret too short", edit: func(in *engine.ConnectorInput) { in.SigningSecret = shortKey },
			paths: []string{"signing_secret"}, msg: `must be a Standard Webhooks secret: "whsec_" followed by the base64 of 24 to 64 random bytes`},
		{name: "a signing secret too long", edit: func(in *engine.ConnectorInput) { in.SigningSecret = longKey }, paths: []string{"signing_secret"}},
		{name: "a signing secret that is not base64", edit: func(in *engine.ConnectorInput) { in.SigningSecret = "whsec_" + hdrValue + "!!!!" },
			paths: []string{"signing_secret"}},
		{name: "a signing secret of another kind", edit: func(in *engine.ConnectorInput) { in.SigningSecret = "sk_live_" + hdrValue }, paths: []string{"signing_secret"}},

		{name: "an auth header", edit: func(in *engine.ConnectorInput) { in.AuthHeader = "Authorization: Bearer " + hdrValue }},
		{name: "an auth header with a colon in its value", edit: func(in *engine.ConnectorInput) { in.AuthHeader = "Authorization: Basic a:" + hdrValue }},
		{name: "an auth header of token characters", edit: func(in *engine.ConnectorInput) { in.AuthHeader = "X-Key_1!#$%&'*+.^`|~: " + hdrValue }},
		{name: "an auth header without a colon", edit: func(in *engine.ConnectorInput) { in.AuthHeader = "Bearer " + hdrValue },
			paths: []string{"auth_header"}, msg: `must be "Name: value"`},
		{name: "an auth header without a name", edit: func(in *engine.ConnectorInput) { in.AuthHeader = " : " + hdrValue },
			paths: []string{"auth_header"}, msg: `must be "Name: value"`},
		{name: "an auth header without a value", edit: func(in *engine.ConnectorInput) { in.AuthHeader = "X-Api-Key:  " },
			paths: []string{"auth_header"}, msg: `must be "Name: value"`},
		{name: "an auth header name with a space", edit: func(in *engine.ConnectorInput) { in.AuthHeader = "X Api Key: " + hdrValue },
			paths: []string{"auth_header"}, msg: "the header name may hold only letters, digits and !#$%&'*+-.^_`|~"},
		{name: "an auth header name with a non-ASCII letter", edit: func(in *engine.ConnectorInput) { in.AuthHeader = "X-Clé: " + hdrValue },
			paths: []string{"auth_header"}, msg: "the header name may hold only"},
		{name: "an auth header of two lines", edit: func(in *engine.ConnectorInput) { in.AuthHeader = "X-Api-Key: " + hdrValue + "\r\nX-Admin: yes" },
			paths: []string{"auth_header"}, msg: "the value must be one line"},
		{name: "an auth header with a NUL", edit: func(in *engine.ConnectorInput) { in.AuthHeader = "X-Api-Key: " + hdrValue + "\x00" },
			paths: []string{"auth_header"}, msg: "the value must be one line"},
		{name: "an auth header of 4096 characters", edit: func(in *engine.ConnectorInput) {
			in.AuthHeader = "X-Api-Key: " + strings.Repeat("v", connector.MaxAuthHeaderLen-len("X-Api-Key: "))
		}},
		{name: "an auth header of 4097 characters", edit: func(in *engine.ConnectorInput) {
			in.AuthHeader = "X-Api-Key: " + strings.Repeat("v", connector.MaxAuthHeaderLen+1-len("X-Api-Key: "))
		}, paths: []string{"auth_header"}, msg: "must be at most 4096 characters"},
		{name: "webhook-signature is reserved", edit: func(in *engine.ConnectorInput) { in.AuthHeader = "webhook-signature: " + hdrValue },
			paths: []string{"auth_header"}, msg: "webhook-signature is set by flowhook; choose another header"},
		{name: "Webhook-Id is reserved", edit: func(in *engine.ConnectorInput) { in.AuthHeader = "Webhook-Id: " + hdrValue },
			paths: []string{"auth_header"}, msg: "Webhook-Id is set by flowhook"},
		{name: "WEBHOOK-TIMESTAMP is reserved", edit: func(in *engine.ConnectorInput) { in.AuthHeader = "WEBHOOK-TIMESTAMP: " + hdrValue },
			paths: []string{"auth_header"}, msg: "is set by flowhook"},
		{name: "any webhook- header is reserved", edit: func(in *engine.ConnectorInput) { in.AuthHeader = "Webhook-Token: " + hdrValue },
			paths: []string{"auth_header"}, msg: "is set by flowhook"},
		{name: "Idempotency-Key is reserved", edit: func(in *engine.ConnectorInput) { in.AuthHeader = "idempotency-key: " + hdrValue },
			paths: []string{"auth_header"}, msg: "is set by flowhook"},
		{name: "Content-Type is reserved", edit: func(in *engine.ConnectorInput) { in.AuthHeader = "Content-Type: " + hdrValue },
			paths: []string{"auth_header"}, msg: "is set by flowhook"},
		{name: "Host is reserved", edit: func(in *engine.ConnectorInput) { in.AuthHeader = "HOST: " + hdrValue },
			paths: []string{"auth_header"}, msg: "is set by flowhook"},
		{name: "Content-Length is reserved", edit: func(in *engine.ConnectorInput) { in.AuthHeader = "Content-Length: " + hdrValue },
			paths: []string{"auth_header"}, msg: "is set by flowhook"},
		{name: "Accept is reserved", edit: func(in *engine.ConnectorInput) { in.AuthHeader = "Accept: " + hdrValue },
			paths: []string{"auth_header"}, msg: "is set by flowhook"},
		{name: "User-Agent is reserved", edit: func(in *engine.ConnectorInput) { in.AuthHeader = "user-agent: " + hdrValue },
			paths: []string{"auth_header"}, msg: "is set by flowhook"},
		{name: "{id} in the host", edit: func(in *engine.ConnectorInput) { in.StatusURL = "https://{id}.tickets.example/status" },
			paths: []string{"status_url"}, msg: "not in the host"},
		{name: "clearing the auth header", edit: func(in *engine.ConnectorInput) { in.ClearAuthHeader = true }},
		{name: "clearing and setting the auth header", edit: func(in *engine.ConnectorInput) {
			in.AuthHeader, in.ClearAuthHeader = "X-Api-Key: "+hdrValue, true
		}, paths: []string{"clear_auth_header"}, msg: "cannot be set together with auth_header"},
		{name: "clearing and setting a bad auth header", edit: func(in *engine.ConnectorInput) {
			in.AuthHeader, in.ClearAuthHeader = hdrValue, true
		}, paths: []string{"auth_header", "clear_auth_header"}},

		{name: "no grace: the default", edit: func(in *engine.ConnectorInput) { in.SecretGrace = 0 }},
		{name: "a grace of 30 days", edit: func(in *engine.ConnectorInput) { in.SecretGrace = connector.MaxSecretGrace }},
		{name: "a negative grace", edit: func(in *engine.ConnectorInput) { in.SecretGrace = -time.Nanosecond },
			paths: []string{"signing_secret_grace"}, msg: "must be between 0 (24 hours) and 30 days"},
		{name: "a grace over 30 days", edit: func(in *engine.ConnectorInput) { in.SecretGrace = connector.MaxSecretGrace + time.Nanosecond },
			paths: []string{"signing_secret_grace"}},

		{name: "every problem at once", edit: func(in *engine.ConnectorInput) {
			*in = engine.ConnectorInput{
				Name:            "Tickets Desk",
				DisplayName:     strings.Repeat("d", connector.MaxDisplayNameLen+1),
				CreateURL:       "https://flowhook:" + password + "@tickets.example/items",
				StatusURL:       "ftp://tickets.example/{id}",
				CancelURL:       "https:///cancel",
				Outcomes:        map[string]engine.Outcome{"b": engine.OutcomeUnspecified, "a": engine.Outcome(42), "ok": engine.OutcomeApproved},
				SigningSecret:   "whsec_" + password,
				AuthHeader:      "webhook-signature: v1," + hdrValue,
				ClearAuthHeader: true,
				SecretGrace:     -time.Hour,
			}
		}, paths: []string{"name", "display_name", "create_url", "status_url", "cancel_url", `outcomes["a"]`, `outcomes["b"]`,
			"signing_secret", "auth_header", "clear_auth_header", "signing_secret_grace"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupAdmin(t)
			existing := b.create(t, connectorInput("tickets"))

			in := connectorInput("tickets")
			in.Name = "other"
			tc.edit(&in)
			_, _, createErr := b.admin.CreateConnector(t.Context(), in, "admin@example.com")

			in.Name = "tickets"
			tc.edit(&in) // the same input, for the existing connector (unless the edit names another)
			in.ExpectedRevision = existing.Revision
			_, updateErr := b.admin.UpdateConnector(t.Context(), in, "admin@example.com")

			if tc.paths == nil {
				require.NoError(t, createErr)
				require.NoError(t, updateErr)
				return
			}
			for _, err := range []error{createErr, updateErr} {
				require.Equal(t, tc.paths, providertest.ProblemPaths(t, err))
				var ve *engine.ValidationError
				require.ErrorAs(t, err, &ve)
				if tc.msg != "" {
					require.Contains(t, ve.Problems[0].Message, tc.msg)
				}
				providertest.RequireNoSecret(t, err.Error(), hdrValue, password, secretCurrent)
				providertest.RequireNoSecret(t, ve.Problems, hdrValue, password, secretCurrent)
			}
			got, err := b.admin.GetConnector(t.Context(), "tickets")
			require.NoError(t, err)
			require.Equal(t, existing, got, "a refused update changes nothing")
			_, err = b.admin.GetConnector(t.Context(), "other")
			require.ErrorIs(t, err, engine.ErrNotFound, "a refused create stores nothing")
		})
	}
}

func TestAdminUpdate(t *testing.T) {
	t.Parallel()
	// setup registers "tickets" signed with secretPrevious and an auth header, at revision 1.
	setup := func(t *testing.T) (*adminBundle, engine.Connector) {
		t.Helper()
		b := setupAdmin(t)
		in := connectorInput("tickets")
		in.SigningSecret, in.AuthHeader = secretPrevious, "X-Api-Key: "+apiKey
		return b, b.create(t, in)
	}
	update := func(t *testing.T, b *adminBundle, rev int64, edit func(*engine.ConnectorInput)) (engine.Connector, error) {
		t.Helper()
		in := connectorInput("tickets")
		in.ExpectedRevision = rev
		if edit != nil {
			edit(&in)
		}
		return b.admin.UpdateConnector(t.Context(), in, "editor@example.com")
	}

	t.Run("a stale revision", func(t *testing.T) {
		t.Parallel()
		b, c := setup(t)
		_, err := update(t, b, 2, func(in *engine.ConnectorInput) { in.DisplayName = "New" })
		require.ErrorIs(t, err, engine.ErrConflict)
		require.Contains(t, err.Error(), "connector tickets is at revision 1, not 2")
		got, err := b.admin.GetConnector(t.Context(), "tickets")
		require.NoError(t, err)
		require.Equal(t, c, got)
	})

	t.Run("no expected revision", func(t *testing.T) {
		t.Parallel()
		b, _ := setup(t)
		_, err := update(t, b, 0, nil)
		require.Equal(t, []string{"expected_revision"}, providertest.ProblemPaths(t, err))
		_, err = update(t, b, -1, func(in *engine.ConnectorInput) { in.CreateURL = "" })
		require.Equal(t, []string{"create_url", "expected_revision"}, providertest.ProblemPaths(t, err), "listed with the other problems")
	})

	t.Run("an unknown connector", func(t *testing.T) {
		t.Parallel()
		b, _ := setup(t)
		_, err := update(t, b, 1, func(in *engine.ConnectorInput) { in.Name = "erp" })
		require.ErrorIs(t, err, engine.ErrNotFound)
	})

	t.Run("a concurrent update wins", func(t *testing.T) {
		t.Parallel()
		b, _ := setup(t)
		b.store.beforePut = func() {
			b.store.mu.Lock()
			b.store.beforePut = nil
			b.store.mu.Unlock()
			_, err := update(t, b, 1, func(in *engine.ConnectorInput) { in.DisplayName = "First" })
			require.NoError(t, err)
		}
		_, err := update(t, b, 1, func(in *engine.ConnectorInput) { in.DisplayName = "Second" })
		require.ErrorIs(t, err, engine.ErrConflict)
		got, err := b.admin.GetConnector(t.Context(), "tickets")
		require.NoError(t, err)
		require.Equal(t, "First", got.DisplayName)
	})

	t.Run("the settings are replaced; empty secrets are kept", func(t *testing.T) {
		t.Parallel()
		b, c := setup(t)
		b.clock.Advance(time.Hour)
		got, err := update(t, b, 1, func(in *engine.ConnectorInput) {
			in.DisplayName = "  Help desk "
			in.CreateURL = " https://desk.example/v2/items "
			in.StatusURL = ""
			in.CancelURL = "https://desk.example/v2/items/{id}/close"
			in.Outcomes = map[string]engine.Outcome{"closed": engine.OutcomeFinished}
		})
		require.NoError(t, err)
		require.Equal(t, engine.Connector{
			Name:             "tickets",
			DisplayName:      "Help desk",
			CreateURL:        "https://desk.example/v2/items",
			CancelURL:        "https://desk.example/v2/items/{id}/close",
			Outcomes:         map[string]engine.Outcome{"closed": engine.OutcomeFinished},
			Revision:         2,
			SigningSecretSet: true,
			AuthHeaderName:   "X-Api-Key",
			WebhookURL:       "https://flowhook.example/webhooks/c2i/tickets",
			Warnings:         []string{"no status_url: reconciliation cannot catch up on a callback that never arrives"},
			CreatedAt:        c.CreatedAt,
			UpdatedAt:        b.clock.Now(),
			UpdatedBy:        "editor@example.com",
		}, got)
		_, cfg := b.stored(t, "tickets")
		require.Equal(t, secretPrevious, cfg.SigningSecret)
		require.Empty(t, cfg.PreviousSecret)
		require.Equal(t, "X-Api-Key: "+apiKey, cfg.AuthHeader)

		got, err = update(t, b, 2, func(in *engine.ConnectorInput) { in.Outcomes = nil })
		require.NoError(t, err)
		require.Empty(t, got.Outcomes, "the outcomes are replaced as a whole")
		require.EqualValues(t, 3, got.Revision)
	})

	t.Run("a new secret rolls the old one for a day by default", func(t *testing.T) {
		t.Parallel()
		b, _ := setup(t)
		now := b.clock.Now()
		got, err := update(t, b, 1, func(in *engine.ConnectorInput) { in.SigningSecret = secretCurrent })
		require.NoError(t, err)
		require.Equal(t, now.Add(connector.DefaultSecretGrace), got.PreviousSecretValidUntil)
		require.Equal(t, now.Add(24*time.Hour), got.PreviousSecretValidUntil)
		providertest.RequireNoSecret(t, got, secretCurrent, secretPrevious, apiKey)
		g, cfg := b.stored(t, "tickets")
		require.Equal(t, secretCurrent, cfg.SigningSecret)
		require.Equal(t, secretPrevious, cfg.PreviousSecret)
		require.Equal(t, []string{secretCurrent, secretPrevious}, connector.Plugin{}.Credentials(g, now.Add(24*time.Hour-time.Second)))
		require.Equal(t, []string{secretCurrent}, connector.Plugin{}.Credentials(g, now.Add(24*time.Hour)))
	})

	t.Run("a new secret with a grace of its own", func(t *testing.T) {
		t.Parallel()
		b, _ := setup(t)
		now := b.clock.Now()
		got, err := update(t, b, 1, func(in *engine.ConnectorInput) { in.SigningSecret, in.SecretGrace = secretCurrent, 90*time.Minute })
		require.NoError(t, err)
		require.Equal(t, now.Add(90*time.Minute), got.PreviousSecretValidUntil)
		_, cfg := b.stored(t, "tickets")
		require.Equal(t, now.Add(90*time.Minute), cfg.PreviousValidUntil)
	})

	t.Run("the same secret again does not roll", func(t *testing.T) {
		t.Parallel()
		b, _ := setup(t)
		got, err := update(t, b, 1, func(in *engine.ConnectorInput) { in.SigningSecret = secretPrevious })
		require.NoError(t, err)
		require.True(t, got.PreviousSecretValidUntil.IsZero())
		_, cfg := b.stored(t, "tickets")
		require.Equal(t, secretPrevious, cfg.SigningSecret)
		require.Empty(t, cfg.PreviousSecret)
	})

	t.Run("the previous secret is dropped once its grace is over", func(t *testing.T) {
		t.Parallel()
		b, _ := setup(t)
		rolled := b.clock.Now()
		_, err := update(t, b, 1, func(in *engine.ConnectorInput) { in.SigningSecret, in.SecretGrace = secretCurrent, time.Hour })
		require.NoError(t, err)

		b.clock.Advance(30 * time.Minute)
		got, err := update(t, b, 2, nil)
		require.NoError(t, err)
		require.Equal(t, rolled.Add(time.Hour), got.PreviousSecretValidUntil, "an update during the grace keeps it as it was")
		_, cfg := b.stored(t, "tickets")
		require.Equal(t, secretPrevious, cfg.PreviousSecret)

		b.clock.Advance(30 * time.Minute) // the grace ends now
		view, err := b.admin.GetConnector(t.Context(), "tickets")
		require.NoError(t, err)
		require.True(t, view.PreviousSecretValidUntil.IsZero(), "a view does not show a grace that is over")

		got, err = update(t, b, 3, nil)
		require.NoError(t, err)
		require.True(t, got.PreviousSecretValidUntil.IsZero())
		g, cfg := b.stored(t, "tickets")
		require.Equal(t, secretCurrent, cfg.SigningSecret)
		require.Empty(t, cfg.PreviousSecret)
		require.NotContains(t, g.Secrets, connector.KeyPreviousSecret)
		require.NotContains(t, g.Plain, connector.KeyPreviousValidUntil)
	})

	// An administrator who learns the replaced secret leaked ends its grace without rolling the
	// current one: a grace without a new secret shortens the one running, never lengthens it.
	t.Run("a grace without a new secret ends the previous one's sooner", func(t *testing.T) {
		t.Parallel()
		b, _ := setup(t)
		rolled := b.clock.Now()
		_, err := update(t, b, 1, func(in *engine.ConnectorInput) { in.SigningSecret = secretCurrent })
		require.NoError(t, err)
		b.clock.Advance(time.Hour)

		got, err := update(t, b, 2, func(in *engine.ConnectorInput) { in.SecretGrace = 48 * time.Hour })
		require.NoError(t, err)
		require.Equal(t, rolled.Add(24*time.Hour), got.PreviousSecretValidUntil, "never lengthened")

		got, err = update(t, b, 3, func(in *engine.ConnectorInput) { in.SecretGrace = 2 * time.Hour })
		require.NoError(t, err)
		require.Equal(t, b.clock.Now().Add(2*time.Hour), got.PreviousSecretValidUntil, "shortened to two hours from now")

		got, err = update(t, b, 4, func(in *engine.ConnectorInput) {
			in.SigningSecret, in.SecretGrace = secretCurrent, time.Nanosecond // the current secret again: no roll
		})
		require.NoError(t, err)
		g, cfg := b.stored(t, "tickets")
		require.Equal(t, secretCurrent, cfg.SigningSecret, "the current secret is kept")
		require.Equal(t, b.clock.Now().Add(time.Nanosecond), got.PreviousSecretValidUntil)
		require.Equal(t, []string{secretCurrent}, connector.Plugin{}.Credentials(g, b.clock.Now().Add(time.Nanosecond)),
			"the previous secret is refused from now on")

		b.clock.Advance(time.Second)
		got, err = update(t, b, 5, func(in *engine.ConnectorInput) { in.SecretGrace = time.Hour })
		require.NoError(t, err)
		require.True(t, got.PreviousSecretValidUntil.IsZero(), "a grace that is over does not start again")
		_, cfg = b.stored(t, "tickets")
		require.Empty(t, cfg.PreviousSecret)
	})

	t.Run("rolling again replaces the previous secret", func(t *testing.T) {
		t.Parallel()
		b, _ := setup(t)
		_, err := update(t, b, 1, func(in *engine.ConnectorInput) { in.SigningSecret = secretCurrent })
		require.NoError(t, err)
		b.clock.Advance(time.Minute)
		_, err = update(t, b, 2, func(in *engine.ConnectorInput) { in.SigningSecret = secretOther })
		require.NoError(t, err)
		g, cfg := b.stored(t, "tickets")
		require.Equal(t, secretOther, cfg.SigningSecret)
		require.Equal(t, secretCurrent, cfg.PreviousSecret)
		require.Equal(t, b.clock.Now().Add(24*time.Hour), cfg.PreviousValidUntil)
		require.Equal(t, []string{secretOther, secretCurrent}, connector.Plugin{}.Credentials(g, b.clock.Now()))
	})

	authTests := []struct {
		name     string
		edit     func(*engine.ConnectorInput)
		stored   string
		viewName string
	}{
		{"kept when empty", func(*engine.ConnectorInput) {}, "X-Api-Key: " + apiKey, "X-Api-Key"},
		{"replaced", func(in *engine.ConnectorInput) { in.AuthHeader = " authorization :  Bearer tok-2x9q " }, "authorization: Bearer tok-2x9q", "authorization"},
		{"cleared", func(in *engine.ConnectorInput) { in.ClearAuthHeader = true }, "", ""},
	}
	for _, tc := range authTests {
		t.Run("the auth header "+tc.name, func(t *testing.T) {
			t.Parallel()
			b, _ := setup(t)
			got, err := update(t, b, 1, tc.edit)
			require.NoError(t, err)
			require.Equal(t, tc.viewName, got.AuthHeaderName)
			providertest.RequireNoSecret(t, got, apiKey, "tok-2x9q")
			g, cfg := b.stored(t, "tickets")
			require.Equal(t, tc.stored, cfg.AuthHeader)
			if tc.stored == "" {
				require.NotContains(t, g.Secrets, connector.KeyAuthHeader)
				require.NotContains(t, g.Plain, connector.KeyAuthHeaderName)
			}
		})
	}
}

func TestAdminWarnings(t *testing.T) {
	t.Parallel()
	const (
		createHTTP = "create_url is not https: requests, their signatures and the auth header travel in clear text"
		statusHTTP = "status_url is not https: requests, their signatures and the auth header travel in clear text"
		cancelHTTP = "cancel_url is not https: requests, their signatures and the auth header travel in clear text"
		statusNoID = "status_url has no {id}: every work item is asked about at the same URL"
		cancelNoID = "cancel_url has no {id}: every work item is asked about at the same URL"
		noStatus   = "no status_url: reconciliation cannot catch up on a callback that never arrives"
	)
	tests := []struct {
		name                 string
		create, status, stop string
		want                 []string
	}{
		{"https with {id}", "https://t.example/items", "https://t.example/items/{id}", "https://t.example/items/{id}/cancel", nil},
		{"{id} in the query", "https://t.example/items", "https://t.example/status?id={id}", "https://t.example/cancel?id={id}", nil},
		{"an upper-case scheme", "HTTPS://t.example/items", "Https://t.example/items/{id}", "", nil},
		{"an http create_url", "http://t.example/items", "https://t.example/items/{id}", "https://t.example/items/{id}/cancel", []string{createHTTP}},
		{"no cancel_url", "https://t.example/items", "https://t.example/items/{id}", "", nil},
		{"no status_url", "https://t.example/items", "", "https://t.example/items/{id}/cancel", []string{noStatus}},
		{"no status_url nor cancel_url", "https://t.example/items", "", "", []string{noStatus}},
		{"a cancel_url without {id}", "https://t.example/items", "https://t.example/items/{id}", "https://t.example/cancel", []string{cancelNoID}},
		{"everything", "http://t.example/items", "http://t.example/status", "http://t.example/cancel",
			[]string{createHTTP, statusHTTP, cancelHTTP, statusNoID, cancelNoID}},
		{"http without a status_url", "http://t.example/items", "", "", []string{createHTTP, noStatus}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupAdmin(t)
			in := connectorInput("tickets")
			in.CreateURL, in.StatusURL, in.CancelURL = tc.create, tc.status, tc.stop
			c := b.create(t, in)
			require.Equal(t, tc.want, c.Warnings)
			got, err := b.admin.GetConnector(t.Context(), "tickets")
			require.NoError(t, err)
			require.Equal(t, tc.want, got.Warnings)
			list, _, _, err := b.admin.ListConnectors(t.Context(), engine.Page{Size: 10})
			require.NoError(t, err)
			require.Len(t, list, 1)
			require.Equal(t, tc.want, list[0].Warnings)
		})
	}
}

func TestAdminGetConnector(t *testing.T) {
	t.Parallel()
	b := setupAdmin(t)
	b.create(t, connectorInput("tickets"))
	long := strings.Repeat("a", 100)
	tests := []struct {
		name    string
		lookup  string
		asked   bool   // the store is asked
		message string // the error says
	}{
		{"unknown", "erp", true, `no connector is named "erp"`},
		{"empty", "", false, `no connector is named ""`},
		{"upper case", "Tickets", false, `no connector is named "Tickets"`},
		{"a path", "../security", false, `no connector is named "../security"`},
		{"a long name is quoted by its start", long, false, `no connector is named "` + long[:engine.MaxConnectorNameLen] + `…"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := b.admin.GetConnector(t.Context(), tc.lookup)
			require.ErrorIs(t, err, engine.ErrNotFound)
			require.Contains(t, err.Error(), tc.message)
			require.NotContains(t, err.Error(), long[:engine.MaxConnectorNameLen+1])
			b.store.mu.Lock()
			asked := slices.Contains(b.store.gets, connector.SettingsPrefix+tc.lookup)
			b.store.mu.Unlock()
			require.Equal(t, tc.asked, asked)
		})
	}
}

func TestAdminMissingConnectors(t *testing.T) {
	t.Parallel()
	b := setupAdmin(t)
	b.create(t, connectorInput("tickets"))
	b.create(t, connectorInput("erp"))
	tests := []struct {
		name  string
		names []string
		want  []string
	}{
		{"none asked", nil, nil},
		{"all exist", []string{"tickets", "erp", "tickets"}, nil},
		{"some are missing, once each, in order", []string{"kyc", "tickets", "crm", "kyc", "erp", "crm"}, []string{"kyc", "crm"}},
		{"names no connector may have", []string{"Tickets", "", "tickets", "../erp"}, []string{"Tickets", "", "../erp"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := b.admin.MissingConnectors(t.Context(), tc.names)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}

	t.Run("a store error", func(t *testing.T) {
		t.Parallel()
		b := setupAdmin(t)
		b.store.setErr(engine.ErrUnavailable)
		got, err := b.admin.MissingConnectors(t.Context(), []string{"tickets"})
		require.ErrorIs(t, err, engine.ErrUnavailable)
		require.Nil(t, got)
	})
}

func TestAdminListConnectors(t *testing.T) {
	t.Parallel()
	b := setupAdmin(t)
	for _, n := range []string{"delta", "alpha", "echo", "charlie", "bravo"} {
		b.create(t, connectorInput(n))
	}
	// Groups that are not connectors are neither listed nor counted.
	for _, id := range []string{"security", "docusign", "connectorx", "connector"} {
		_, err := b.store.PutSettings(t.Context(), engine.Settings{ID: id, Plain: map[string]any{"x": 1}}, 0)
		require.NoError(t, err)
	}
	tests := []struct {
		name  string
		page  engine.Page
		names []string
		next  string
	}{
		{"the first page", engine.Page{Size: 2}, []string{"alpha", "bravo"}, "bravo"},
		{"the second page", engine.Page{Size: 2, After: "bravo"}, []string{"charlie", "delta"}, "delta"},
		{"the last page", engine.Page{Size: 2, After: "delta"}, []string{"echo"}, ""},
		{"a page of exactly all", engine.Page{Size: 5}, []string{"alpha", "bravo", "charlie", "delta", "echo"}, ""},
		{"a page larger than all", engine.Page{Size: 50}, []string{"alpha", "bravo", "charlie", "delta", "echo"}, ""},
		{"a page of one", engine.Page{Size: 1}, []string{"alpha"}, "alpha"},
		{"after a name no connector has", engine.Page{Size: 2, After: "b"}, []string{"bravo", "charlie"}, "charlie"},
		{"after the last", engine.Page{Size: 2, After: "echo"}, nil, ""},
		{"no size: the default page", engine.Page{}, []string{"alpha", "bravo", "charlie", "delta", "echo"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			list, next, total, err := b.admin.ListConnectors(t.Context(), tc.page)
			require.NoError(t, err)
			require.EqualValues(t, 5, total)
			require.Equal(t, tc.next, next)
			names := []string{}
			for _, c := range list {
				names = append(names, c.Name)
				require.Equal(t, webhookURL(engine.System{Provider: connector.Provider, Connector: c.Name}), c.WebhookURL)
				require.True(t, c.SigningSecretSet)
				require.EqualValues(t, 1, c.Revision)
			}
			if tc.names == nil {
				tc.names = []string{}
			}
			require.Equal(t, tc.names, names)
		})
	}

	t.Run("every page in turn", func(t *testing.T) {
		t.Parallel()
		var all []string
		page := engine.Page{Size: 2}
		for range 10 {
			list, next, _, err := b.admin.ListConnectors(t.Context(), page)
			require.NoError(t, err)
			for _, c := range list {
				all = append(all, c.Name)
			}
			if next == "" {
				break
			}
			page.After = next
		}
		require.Equal(t, []string{"alpha", "bravo", "charlie", "delta", "echo"}, all)
	})
}

func TestAdminDeleteConnector(t *testing.T) {
	t.Parallel()
	tickets := engine.System{Provider: connector.Provider, Connector: "tickets"}
	tests := []struct {
		name     string
		delete   string
		use      use
		usageErr error
		want     error
		message  []string
		asked    bool // usage is asked
		deleted  bool
	}{
		{name: "unused", delete: "tickets", asked: true, deleted: true},
		{name: "named by published versions", delete: "tickets", use: use{versions: []string{"refunds/3", "onboarding/1"}},
			want: engine.ErrFailedPrecondition, asked: true,
			message: []string{"connector tickets is in use: published workflow version(s) refunds/3, onboarding/1 name it"}},
		{name: "open work items", delete: "tickets", use: use{open: 2}, want: engine.ErrFailedPrecondition, asked: true,
			message: []string{"connector tickets is in use: 2 work item(s) are being created or wait at it"}},
		{name: "both", delete: "tickets", use: use{versions: []string{"refunds/3"}, open: 1}, want: engine.ErrFailedPrecondition, asked: true,
			message: []string{"published workflow version(s) refunds/3 name it; 1 work item(s) are being created or wait at it"}},
		{name: "the usage cannot be read", delete: "tickets", usageErr: engine.ErrUnavailable, want: engine.ErrUnavailable, asked: true},
		{name: "unknown", delete: "erp", want: engine.ErrNotFound, message: []string{`no connector is named "erp"`}},
		{name: "an invalid name", delete: "Tickets Desk", want: engine.ErrNotFound},
		{name: "empty", delete: "", want: engine.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupAdmin(t)
			b.create(t, connectorInput("tickets"))
			b.create(t, connectorInput("other"))
			b.usage.uses[tickets] = tc.use
			b.usage.uses[engine.System{Provider: connector.Provider, Connector: "other"}] = use{versions: []string{"x/1"}, open: 9}
			b.usage.err = tc.usageErr

			err := b.admin.DeleteConnector(t.Context(), tc.delete)
			if tc.want == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tc.want)
			}
			for _, m := range tc.message {
				require.Contains(t, err.Error(), m)
			}
			if tc.asked {
				require.Equal(t, []engine.System{tickets}, b.usage.asked)
			} else {
				require.Empty(t, b.usage.asked)
			}
			_, err = b.admin.GetConnector(t.Context(), "tickets")
			if tc.deleted {
				require.ErrorIs(t, err, engine.ErrNotFound)
				_, ok := b.store.group("connector.tickets")
				require.False(t, ok)
				// The name is free again.
				c := b.create(t, connectorInput("tickets"))
				require.EqualValues(t, 1, c.Revision)
			} else {
				require.NoError(t, err, "not deleted")
			}
			_, err = b.admin.GetConnector(t.Context(), "other")
			require.NoError(t, err, "another connector is left alone")
		})
	}
}
