package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
)

// settingsRecorder is the settings editor: views by provider, and the updates it was given.
type settingsRecorder struct {
	views   map[engine.Provider]string
	updates map[engine.Provider]map[string]any
}

func (s *settingsRecorder) ViewSettings(_ context.Context, p engine.Provider) ([]byte, error) {
	return []byte(s.views[p]), nil
}

func (s *settingsRecorder) UpdateSettings(_ context.Context, p engine.Provider, update []byte, rev int64, actor string) ([]byte, error) {
	var m map[string]any
	if err := json.Unmarshal(update, &m); err != nil {
		return nil, err
	}
	if actor != Actor {
		return nil, fmt.Errorf("actor %q", actor)
	}
	s.updates[p] = m
	return []byte(`{}`), nil
}

func (s *settingsRecorder) TestConnection(context.Context, engine.System) (engine.ConnectionReport, error) {
	return engine.ConnectionReport{}, nil
}

func (s *settingsRecorder) DebugChanged(context.Context, bool) error { return nil }

// connectorRecorder is the connector administration with at most one connector named
// sandbox (have) and others.
type connectorRecorder struct {
	engine.Connectors // not called
	have              *engine.Connector
	others            []engine.Connector
	created, updated  *engine.ConnectorInput
	updates           map[string]engine.ConnectorInput
}

func (c *connectorRecorder) ListConnectors(_ context.Context, p engine.Page) ([]engine.Connector, string, int64, error) {
	var all []engine.Connector
	if c.have != nil {
		all = append(all, *c.have)
	}
	all = append(all, c.others...)
	// One connector a page: the listing is read to its end.
	i := 0
	if p.After != "" {
		fmt.Sscan(p.After, &i)
	}
	if i >= len(all) {
		return nil, "", int64(len(all)), nil
	}
	next := ""
	if i+1 < len(all) {
		next = fmt.Sprint(i + 1)
	}
	return all[i : i+1], next, int64(len(all)), nil
}

func (c *connectorRecorder) GetConnector(_ context.Context, name string) (engine.Connector, error) {
	if c.have == nil || c.have.Name != name {
		return engine.Connector{}, fmt.Errorf("%w: connector %s", engine.ErrNotFound, name)
	}
	return *c.have, nil
}

func (c *connectorRecorder) CreateConnector(_ context.Context, in engine.ConnectorInput, _ string) (engine.Connector, string, error) {
	c.created = &in
	return engine.Connector{Name: in.Name}, "", nil
}

func (c *connectorRecorder) UpdateConnector(_ context.Context, in engine.ConnectorInput, _ string) (engine.Connector, error) {
	if in.Name == ConnectorName {
		c.updated = &in
	}
	if c.updates == nil {
		c.updates = map[string]engine.ConnectorInput{}
	}
	c.updates[in.Name] = in
	return engine.Connector{Name: in.Name}, nil
}

func newSandbox(t *testing.T, views map[engine.Provider]string, conn *engine.Connector) (*Sandbox, *settingsRecorder, *connectorRecorder) {
	t.Helper()
	st := &settingsRecorder{views: views, updates: map[engine.Provider]map[string]any{}}
	cr := &connectorRecorder{have: conn}
	s, err := New(Options{PublicURL: "http://127.0.0.1:8080/", Providers: st, Connectors: cr,
		CallbackURL: func(sys engine.System) string { return "http://127.0.0.1:8080/webhooks/" + string(sys.Provider) }})
	require.NoError(t, err)
	return s, st, cr
}

// TestSetupPointsOnlyUnconfiguredOrSandboxSystems: unconfigured systems and those an earlier
// sandbox configured (any port) are pointed at this one; a real account is left alone.
func TestSetupPointsOnlyUnconfiguredOrSandboxSystems(t *testing.T) {
	t.Parallel()
	s, st, cr := newSandbox(t, map[engine.Provider]string{
		"DOCUSIGN": `{"revision":"0"}`,
		"ONESPAN":  `{"baseUrl":"http://127.0.0.1:40000/sandbox/onespan","revision":"3"}`,
	}, &engine.Connector{Name: ConnectorName, CreateURL: "http://127.0.0.1:40000/sandbox/tickets/tickets", Revision: 7})
	require.NoError(t, s.Setup(context.Background()))
	require.Equal(t, "http://127.0.0.1:8080/sandbox/docusign", st.updates["DOCUSIGN"]["oauthBaseUrl"])
	require.Equal(t, s.fakes.DocuSignPEM, st.updates["DOCUSIGN"]["privateKeyPem"])
	require.Equal(t, []any{s.fakes.DocuSignHMAC}, st.updates["DOCUSIGN"]["hmacKeys"])
	require.Equal(t, "http://127.0.0.1:8080/sandbox/onespan", st.updates["ONESPAN"]["baseUrl"])
	require.Equal(t, "3", st.updates["ONESPAN"]["expectedRevision"])
	require.Equal(t, s.fakes.OneSpanCallbackKey, st.updates["ONESPAN"]["callbackKey"])
	require.Nil(t, cr.created)
	require.NotNil(t, cr.updated)
	require.EqualValues(t, 7, cr.updated.ExpectedRevision)
	require.Equal(t, "http://127.0.0.1:8080/sandbox/tickets/tickets", cr.updated.CreateURL)
	require.Equal(t, s.fakes.Tickets.Secrets()[0], cr.updated.SigningSecret)
	require.Equal(t, engine.OutcomeApproved, cr.updated.Outcomes["ticket.approved"])
	for _, b := range s.Bindings() {
		require.True(t, b.Sandbox, b.System)
	}

	real, st, cr := newSandbox(t, map[engine.Provider]string{
		"DOCUSIGN": `{"oauthBaseUrl":"https://account-d.docusign.com","revision":"2"}`,
		"ONESPAN":  `{"revision":"0"}`,
	}, &engine.Connector{Name: ConnectorName, CreateURL: "https://tickets.example.com/api/tickets", Revision: 1})
	require.NoError(t, real.Setup(context.Background()))
	require.NotContains(t, st.updates, engine.Provider("DOCUSIGN"), "a real account is left alone")
	require.Contains(t, st.updates, engine.Provider("ONESPAN"))
	require.Nil(t, cr.created)
	require.Nil(t, cr.updated, "an admin's connector named sandbox is left alone")
	require.Equal(t, []Binding{
		{System: "DOCUSIGN", URL: "https://account-d.docusign.com"},
		{System: "ONESPAN", URL: "http://127.0.0.1:8080/sandbox/onespan", Sandbox: true},
		{System: "connector:sandbox", URL: "https://tickets.example.com/api/tickets"},
	}, real.Bindings())

	fresh, _, cr := newSandbox(t, map[engine.Provider]string{"DOCUSIGN": `{}`, "ONESPAN": `{}`}, nil)
	require.NoError(t, fresh.Setup(context.Background()))
	require.NotNil(t, cr.created, "the connector is created when missing")
	require.Equal(t, ConnectorName, cr.created.Name)
}

// TestSetupPointsTheAdminsSandboxConnectorsAgain: a connector an administrator registered
// against an earlier sandbox's ticketing system on this machine (the README's example:
// another port, the earlier fake's secret) is pointed at this one — its URLs on this
// address, this fake's secret — keeping its name, outcomes and display name; a connector of a
// real system, or of another server's sandbox, is left alone.
func TestSetupPointsTheAdminsSandboxConnectorsAgain(t *testing.T) {
	t.Parallel()
	s, _, cr := newSandbox(t, map[engine.Provider]string{"DOCUSIGN": `{}`, "ONESPAN": `{}`}, nil)
	outcomes := map[string]engine.Outcome{"ticket.approved": engine.OutcomeApproved}
	cr.others = []engine.Connector{
		{Name: "tickets", DisplayName: "Ticketing", Revision: 4, Outcomes: outcomes,
			CreateURL: "http://127.0.0.1:40000/sandbox/tickets/tickets", StatusURL: "http://127.0.0.1:40000/sandbox/tickets/tickets/{id}"},
		{Name: "helpdesk", Revision: 2, CreateURL: "https://helpdesk.example.com/api/tickets"},
		{Name: "demo", Revision: 3, CreateURL: "https://demo.example.com/sandbox/tickets/tickets"},
	}
	require.NoError(t, s.Setup(context.Background()))
	got, ok := cr.updates["tickets"]
	require.True(t, ok, "pointed again")
	require.Equal(t, engine.ConnectorInput{Name: "tickets", DisplayName: "Ticketing", Outcomes: outcomes,
		CreateURL: "http://127.0.0.1:8080/sandbox/tickets/tickets", StatusURL: "http://127.0.0.1:8080/sandbox/tickets/tickets/{id}",
		SigningSecret: s.fakes.Tickets.Secrets()[0], ExpectedRevision: 4}, got)
	require.NotContains(t, cr.updates, "helpdesk", "a real system's connector is left alone")
	require.NotContains(t, cr.updates, "demo", "another server's sandbox is left alone")
	require.Contains(t, s.Bindings(), Binding{System: "connector:tickets", URL: "http://127.0.0.1:8080/sandbox/tickets", Sandbox: true})
}

func TestIsSandboxURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url, fake string
		want      bool
	}{
		{"http://127.0.0.1:8080/sandbox/docusign", "docusign", true},
		{"http://127.0.0.1:9999/sandbox/docusign/", "docusign", true},
		{"https://flowhook.example.com/sandbox/tickets/tickets", "tickets", true},
		{"https://account-d.docusign.com", "docusign", false},
		{"http://127.0.0.1:8080/sandbox/docusign-real", "docusign", false},
		{"http://127.0.0.1:8080/sandbox/onespan", "docusign", false},
		{"::not a url", "docusign", false},
	} {
		require.Equal(t, tc.want, isSandboxURL(tc.url, tc.fake), tc.url)
	}
}

// TestWorkItemsAPIErrors: unknown ids, actions and endpoints are 404 with a JSON error.
func TestWorkItemsAPIErrors(t *testing.T) {
	t.Parallel()
	s, _, _ := newSandbox(t, map[engine.Provider]string{"DOCUSIGN": `{}`, "ONESPAN": `{}`}, nil)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	do := func(method, path string) (int, string) {
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(""))
		require.NoError(t, err)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		require.Equal(t, "application/json", res.Header.Get("Content-Type"))
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	code, body := do("GET", "/sandbox/work-items")
	require.Equal(t, http.StatusOK, code)
	require.JSONEq(t, `{"workItems":[]}`, body)
	code, body = do("POST", "/sandbox/work-items/TCK-9/complete")
	require.Equal(t, http.StatusNotFound, code)
	require.Contains(t, body, `no work item \"TCK-9\" at the sandbox`)
	code, body = do("GET", "/sandbox/elsewhere")
	require.Equal(t, http.StatusNotFound, code)
	require.Contains(t, body, "no such sandbox endpoint")
	code, body = do("GET", "/sandbox/control/docusign/envelopes")
	require.Equal(t, http.StatusOK, code)
	require.JSONEq(t, `{"envelopes":[]}`, body)
	code, body = do("GET", "/sandbox/")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `"sandbox":"http://127.0.0.1:8080/sandbox"`)
}
