package connector

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/connector/standardwebhooks"
)

// Limits of a connector's settings.
const (
	MaxURLLen         = 2048
	MaxDisplayNameLen = 200
	MaxOutcomes       = 100
	MaxAuthHeaderLen  = 4096
	// DefaultSecretGrace is how long a replaced signing secret still verifies callbacks by
	// default; MaxSecretGrace bounds it.
	DefaultSecretGrace = 24 * time.Hour
	MaxSecretGrace     = 30 * 24 * time.Hour
)

// Admin manages connectors (engine.Connectors): each is the settings group connector.{name},
// its secrets sealed at rest and never returned but for a generated signing secret, once.
type Admin struct {
	settings   engine.SettingsStore
	usage      engine.ConnectorUsage
	webhookURL func(engine.System) string
	now        func() time.Time
}

var _ engine.Connectors = (*Admin)(nil)

// NewAdmin is the connectors' administration (provider.ConnectorAdministration).
func (Plugin) NewAdmin(settings engine.SettingsStore, usage engine.ConnectorUsage, webhookURL func(engine.System) string, now func() time.Time) engine.Connectors {
	return NewAdmin(settings, usage, webhookURL, now)
}

// NewAdmin returns the connectors' administration; webhookURL gives a connector's
// /webhooks/c2i/{name} URL.
func NewAdmin(settings engine.SettingsStore, usage engine.ConnectorUsage, webhookURL func(engine.System) string, now func() time.Time) *Admin {
	return &Admin{settings: settings, usage: usage, webhookURL: webhookURL, now: now}
}

func system(name string) engine.System { return engine.System{Provider: Provider, Connector: name} }

// view is a connector as administrators see it.
func (a *Admin) view(s engine.Settings) engine.Connector {
	c := ConfigFrom(s)
	out := engine.Connector{
		Name:             c.Name,
		DisplayName:      c.DisplayName,
		CreateURL:        c.CreateURL,
		StatusURL:        c.StatusURL,
		CancelURL:        c.CancelURL,
		Outcomes:         c.Outcomes,
		Revision:         s.Revision,
		SigningSecretSet: c.SigningSecret != "",
		AuthHeaderName:   c.AuthHeaderName(),
		WebhookURL:       a.webhookURL(system(c.Name)),
		CreatedAt:        c.CreatedAt,
		UpdatedAt:        s.UpdatedAt,
		UpdatedBy:        s.UpdatedBy,
	}
	if c.PreviousSecret != "" && a.now().Before(c.PreviousValidUntil) {
		out.PreviousSecretValidUntil = c.PreviousValidUntil
	}
	for _, u := range []struct{ field, v string }{{"create_url", c.CreateURL}, {"status_url", c.StatusURL}, {"cancel_url", c.CancelURL}} {
		if u.v != "" && !strings.HasPrefix(strings.ToLower(u.v), "https://") {
			out.Warnings = append(out.Warnings, u.field+" is not https: requests, their signatures and the auth header travel in clear text")
		}
	}
	for _, u := range []struct{ field, v string }{{"status_url", c.StatusURL}, {"cancel_url", c.CancelURL}} {
		if u.v != "" && !strings.Contains(u.v, "{id}") {
			out.Warnings = append(out.Warnings, u.field+" has no {id}: every work item is asked about at the same URL")
		}
	}
	if c.StatusURL == "" {
		out.Warnings = append(out.Warnings, "no status_url: reconciliation cannot catch up on a callback that never arrives")
	}
	return out
}

// get reads a connector; ErrNotFound when there is none.
func (a *Admin) get(ctx context.Context, name string) (engine.Settings, error) {
	if !engine.ValidConnectorName(name) {
		return engine.Settings{}, fmt.Errorf("%w: no connector is named %q", engine.ErrNotFound, truncate(name, engine.MaxConnectorNameLen))
	}
	s, err := a.settings.GetSettings(ctx, SettingsPrefix+name)
	if err != nil {
		return engine.Settings{}, err
	}
	if s.Revision == 0 {
		return engine.Settings{}, fmt.Errorf("%w: no connector is named %q", engine.ErrNotFound, name)
	}
	return s, nil
}

// GetConnector returns a connector.
func (a *Admin) GetConnector(ctx context.Context, name string) (engine.Connector, error) {
	s, err := a.get(ctx, name)
	if err != nil {
		return engine.Connector{}, err
	}
	return a.view(s), nil
}

// ListConnectors returns connectors in name order.
func (a *Admin) ListConnectors(ctx context.Context, p engine.Page) ([]engine.Connector, string, int64, error) {
	if p.Size <= 0 {
		p.Size = engine.DefaultPageSize
	}
	after := ""
	if p.After != "" {
		after = SettingsPrefix + p.After
	}
	page, total, err := a.settings.ListSettings(ctx, SettingsPrefix, after, p.Size+1)
	if err != nil {
		return nil, "", 0, err
	}
	next := ""
	if len(page) > p.Size {
		page = page[:p.Size]
		next = strings.TrimPrefix(page[len(page)-1].ID, SettingsPrefix)
	}
	out := make([]engine.Connector, len(page))
	for i, s := range page {
		out[i] = a.view(s)
	}
	return out, next, total, nil
}

// MissingConnectors returns the names no connector has.
func (a *Admin) MissingConnectors(ctx context.Context, names []string) ([]string, error) {
	var missing []string
	for _, n := range names {
		if slices.Contains(missing, n) {
			continue
		}
		if _, err := a.get(ctx, n); errors.Is(err, engine.ErrNotFound) {
			missing = append(missing, n)
		} else if err != nil {
			return nil, err
		}
	}
	return missing, nil
}

// CreateConnector registers a connector. An empty signing secret is generated and returned,
// the only time it is shown.
func (a *Admin) CreateConnector(ctx context.Context, in engine.ConnectorInput, actor string) (engine.Connector, string, error) {
	ps := validate(in)
	if err := ps.Err(); err != nil {
		return engine.Connector{}, "", err
	}
	if _, err := a.get(ctx, in.Name); err == nil {
		return engine.Connector{}, "", fmt.Errorf("%w: a connector is named %q already", engine.ErrAlreadyExists, in.Name)
	} else if !errors.Is(err, engine.ErrNotFound) {
		return engine.Connector{}, "", err
	}
	secret, generated := in.SigningSecret, ""
	if secret == "" {
		secret = standardwebhooks.NewSecret()
		generated = secret
	}
	now := a.now()
	c := Config{Name: in.Name, DisplayName: displayName(in), CreateURL: strings.TrimSpace(in.CreateURL),
		StatusURL: strings.TrimSpace(in.StatusURL), CancelURL: strings.TrimSpace(in.CancelURL), Outcomes: in.Outcomes,
		CreatedAt: now, SigningSecret: secret, AuthHeader: normalizeHeader(in.AuthHeader)}
	st := c.Settings()
	st.UpdatedBy = actor
	saved, err := a.settings.PutSettings(ctx, st, 0)
	if errors.Is(err, engine.ErrConflict) {
		return engine.Connector{}, "", fmt.Errorf("%w: a connector is named %q already", engine.ErrAlreadyExists, in.Name)
	}
	if err != nil {
		return engine.Connector{}, "", err
	}
	return a.view(saved), generated, nil
}

// UpdateConnector replaces a connector's settings when it is at in.ExpectedRevision. Secrets
// left empty are kept; a new signing secret rolls the old one, which verifies callbacks for
// in.SecretGrace more (a day by default). Without a new signing secret, a grace ends the
// replaced secret's sooner, never later: an administrator who learns it leaked ends its grace
// (a nanosecond: now) without rolling the current one; 0 keeps it.
func (a *Admin) UpdateConnector(ctx context.Context, in engine.ConnectorInput, actor string) (engine.Connector, error) {
	ps := validate(in)
	if in.ExpectedRevision <= 0 {
		ps.Add("expected_revision", "is required: pass the revision you read")
	}
	if err := ps.Err(); err != nil {
		return engine.Connector{}, err
	}
	cur, err := a.get(ctx, in.Name)
	if err != nil {
		return engine.Connector{}, err
	}
	if cur.Revision != in.ExpectedRevision {
		return engine.Connector{}, fmt.Errorf("%w: connector %s is at revision %d, not %d", engine.ErrConflict, in.Name, cur.Revision, in.ExpectedRevision)
	}
	c := ConfigFrom(cur)
	now := a.now()
	c.DisplayName, c.CreateURL = displayName(in), strings.TrimSpace(in.CreateURL)
	c.StatusURL, c.CancelURL, c.Outcomes = strings.TrimSpace(in.StatusURL), strings.TrimSpace(in.CancelURL), in.Outcomes
	if in.SigningSecret != "" && in.SigningSecret != c.SigningSecret {
		grace := DefaultSecretGrace
		if in.SecretGrace > 0 {
			grace = in.SecretGrace
		}
		c.PreviousSecret, c.PreviousValidUntil, c.SigningSecret = c.SigningSecret, now.Add(grace), in.SigningSecret
	} else if end := now.Add(in.SecretGrace); in.SecretGrace > 0 && c.PreviousSecret != "" && end.Before(c.PreviousValidUntil) {
		// Shortened only: a client that sends a grace with every update must not keep a
		// replaced secret valid for ever.
		c.PreviousValidUntil = end
	}
	switch {
	case in.ClearAuthHeader:
		c.AuthHeader = ""
	case in.AuthHeader != "":
		c.AuthHeader = normalizeHeader(in.AuthHeader)
	}
	if c.PreviousSecret != "" && !now.Before(c.PreviousValidUntil) {
		c.PreviousSecret, c.PreviousValidUntil = "", time.Time{} // its grace is over
	}
	st := c.Settings()
	st.UpdatedBy = actor
	saved, err := a.settings.PutSettings(ctx, st, cur.Revision)
	if err != nil {
		return engine.Connector{}, err
	}
	return a.view(saved), nil
}

// DeleteConnector removes a connector no published workflow version and no open work item
// uses.
func (a *Admin) DeleteConnector(ctx context.Context, name string) error {
	if _, err := a.get(ctx, name); err != nil {
		return err
	}
	versions, open, err := a.usage.SystemUsage(ctx, system(name))
	if err != nil {
		return err
	}
	var uses []string
	if len(versions) > 0 {
		uses = append(uses, fmt.Sprintf("published workflow version(s) %s name it", strings.Join(versions, ", ")))
	}
	if open > 0 {
		uses = append(uses, fmt.Sprintf("%d work item(s) are being created or wait at it", open))
	}
	if len(uses) > 0 {
		return fmt.Errorf("%w: connector %s is in use: %s", engine.ErrFailedPrecondition, name, strings.Join(uses, "; "))
	}
	return a.settings.DeleteSettings(ctx, SettingsPrefix+name)
}

func displayName(in engine.ConnectorInput) string {
	if d := strings.TrimSpace(in.DisplayName); d != "" {
		return d
	}
	return in.Name
}

// normalizeHeader is "Name: value" with the spaces around each part trimmed.
func normalizeHeader(h string) string {
	name, value, ok := strings.Cut(h, ":")
	if !ok {
		return ""
	}
	return strings.TrimSpace(name) + ": " + strings.TrimSpace(value)
}

// validate lists every problem of a connector's settings, with the API's field names.
func validate(in engine.ConnectorInput) engine.Problems {
	var ps engine.Problems
	switch {
	case in.Name == "":
		ps.Add("name", "is required")
	case !engine.ValidConnectorName(in.Name):
		ps.Add("name", "must be lower case letters, digits and '-', starting with a letter or a digit, at most %d characters", engine.MaxConnectorNameLen)
	}
	switch n := utf8.RuneCountInString(in.DisplayName); {
	case !utf8.ValidString(in.DisplayName):
		ps.Add("display_name", "must be valid UTF-8")
	case engine.ControlProblem(strings.TrimSpace(in.DisplayName), false) != "": // kept trimmed
		ps.Add("display_name", "%s", engine.ControlProblem(strings.TrimSpace(in.DisplayName), false))
	case n > MaxDisplayNameLen:
		ps.Add("display_name", "must be at most %d characters, got %d", MaxDisplayNameLen, n)
	}
	checkURL(&ps, "create_url", in.CreateURL, true)
	checkURL(&ps, "status_url", in.StatusURL, false)
	checkURL(&ps, "cancel_url", in.CancelURL, false)
	if len(in.Outcomes) > MaxOutcomes {
		ps.Add("outcomes", "at most %d event types may have an outcome, got %d", MaxOutcomes, len(in.Outcomes))
	} else {
		types := make([]string, 0, len(in.Outcomes))
		for t := range in.Outcomes {
			types = append(types, t)
		}
		slices.Sort(types)
		for _, t := range types {
			p := fmt.Sprintf("outcomes[%q]", truncate(t, engine.MaxEventTypeLen))
			switch o := in.Outcomes[t]; {
			case strings.TrimSpace(t) == "" || len(t) > engine.MaxEventTypeLen || !utf8.ValidString(t) || engine.ControlProblem(t, false) != "":
				ps.Add(p, "an event type is 1 to %d characters of UTF-8", engine.MaxEventTypeLen)
			case o == engine.OutcomeUnspecified:
				ps.Add(p, "the outcome is required")
			case !o.Valid():
				ps.Add(p, "unknown outcome %d", int(o))
			}
		}
	}
	if in.SigningSecret != "" {
		if _, err := standardwebhooks.ParseSecret(in.SigningSecret); err != nil {
			ps.Add("signing_secret", "must be a Standard Webhooks secret: %q followed by the base64 of %d to %d random bytes (empty: one is generated)",
				standardwebhooks.SecretPrefix, standardwebhooks.MinKeyLen, standardwebhooks.MaxKeyLen)
		}
	}
	if in.AuthHeader != "" {
		checkHeader(&ps, in.AuthHeader)
	}
	if in.AuthHeader != "" && in.ClearAuthHeader {
		ps.Add("clear_auth_header", "cannot be set together with auth_header")
	}
	if in.SecretGrace < 0 || in.SecretGrace > MaxSecretGrace {
		ps.Add("signing_secret_grace", "must be between 0 (24 hours) and 30 days")
	}
	return ps
}

// checkURL accepts an absolute http(s) URL with a host and no fragment or user info; {id} may
// stand in its path or query.
func checkURL(ps *engine.Problems, field, raw string, required bool) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		if required {
			ps.Add(field, "is required")
		}
		return
	}
	if len(raw) > MaxURLLen {
		ps.Add(field, "must be at most %d characters", MaxURLLen)
		return
	}
	const placeholder = "flowhook-id-placeholder"
	u, err := url.Parse(strings.ReplaceAll(raw, "{id}", placeholder))
	switch {
	case err != nil:
		ps.Add(field, "is not a URL")
	case u.Scheme != "https" && u.Scheme != "http":
		ps.Add(field, "must be an http or https URL")
	case u.Host == "":
		ps.Add(field, "has no host")
	case strings.Contains(u.Host, placeholder):
		ps.Add(field, "{id} may stand in the path or the query, not in the host")
	case u.User != nil || u.Fragment != "":
		ps.Add(field, "must not carry user info or a fragment (put credentials in auth_header)")
	}
}

// checkHeader accepts "Name: value" with a token name and a value of one line.
func checkHeader(ps *engine.Problems, h string) {
	name, value, ok := strings.Cut(h, ":")
	name, value = strings.TrimSpace(name), strings.TrimSpace(value)
	switch {
	case len(h) > MaxAuthHeaderLen:
		ps.Add("auth_header", "must be at most %d characters", MaxAuthHeaderLen)
	case !ok || name == "" || value == "":
		ps.Add("auth_header", "must be \"Name: value\", e.g. \"Authorization: Bearer …\"")
	case !isToken(name):
		ps.Add("auth_header", "the header name may hold only letters, digits and !#$%%&'*+-.^_`|~")
	case strings.ContainsAny(value, "\r\n\x00"):
		ps.Add("auth_header", "the value must be one line")
	case strings.HasPrefix(strings.ToLower(name), "webhook-") || slices.ContainsFunc(reservedHeaders, func(r string) bool { return strings.EqualFold(r, name) }):
		ps.Add("auth_header", "%s is set by flowhook; choose another header", name)
	}
}

// reservedHeaders are set by flowhook on every call (or by HTTP itself): an auth header may not
// be one of them.
var reservedHeaders = []string{"Idempotency-Key", "Content-Type", "Content-Length", "Accept", "User-Agent", "Host",
	"Connection", "Transfer-Encoding", "Accept-Encoding"}

func isToken(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", r)) {
			return false
		}
	}
	return s != ""
}
