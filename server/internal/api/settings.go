package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"connectrpc.com/connect"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/gen/flowhook/v1/flowhookv1connect"
	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider"
	"github.com/flowhook/flowhook/server/internal/provider/docusign"
)

// SettingsService implements ProviderSettingsService.
type SettingsService struct {
	settings    engine.SettingsStore
	security    *engine.Security
	registry    *provider.Registry
	callbackURL func(engine.Provider) string
	log         *slog.Logger
}

var _ flowhookv1connect.ProviderSettingsServiceHandler = (*SettingsService)(nil)

// NewSettingsService returns the settings service.
func NewSettingsService(settings engine.SettingsStore, security *engine.Security, registry *provider.Registry, callbackURL func(engine.Provider) string, log *slog.Logger) *SettingsService {
	return &SettingsService{settings: settings, security: security, registry: registry, callbackURL: callbackURL, log: log}
}

func (s *SettingsService) GetSecuritySettings(ctx context.Context, _ *connect.Request[flowhookv1.GetSecuritySettingsRequest]) (*connect.Response[flowhookv1.GetSecuritySettingsResponse], error) {
	st, err := s.settings.GetSettings(ctx, engine.SettingsSecurity)
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	return connect.NewResponse(&flowhookv1.GetSecuritySettingsResponse{Settings: securityToProto(engine.SecurityFrom(st))}), nil
}

func (s *SettingsService) UpdateSecuritySettings(ctx context.Context, req *connect.Request[flowhookv1.UpdateSecuritySettingsRequest]) (*connect.Response[flowhookv1.UpdateSecuritySettingsResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	var ps engine.Problems
	days := int(m.GetEventRetentionDays())
	switch {
	case days == 0:
		days = engine.DefaultEventRetentionDays
	case days < 1 || days > engine.MaxEventRetentionDays:
		ps.Add("event_retention_days", "must be between 1 and %d (0 means the default, %d)", engine.MaxEventRetentionDays, engine.DefaultEventRetentionDays)
	}
	if m.GetExpectedRevision() < 0 {
		ps.Add("expected_revision", "must not be negative")
	}
	if err := invalid(ps); err != nil {
		return nil, err
	}
	next := engine.SecuritySettings{WebhookReceiverDebug: m.GetWebhookReceiverDebug(), EventRetentionDays: days}
	saved, err := s.settings.PutSettings(ctx, engine.Settings{ID: engine.SettingsSecurity, Plain: next.Plain(), UpdatedBy: p.UserID}, m.GetExpectedRevision())
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	// This replica applies it now; the others within engine.SecurityTTL.
	s.security.Forget()
	sec := engine.SecurityFrom(saved)
	s.log.InfoContext(ctx, "security settings changed", "webhook_receiver_debug", sec.WebhookReceiverDebug,
		"event_retention_days", sec.EventRetentionDays, "by", p.UserID, "revision", sec.Revision)
	return connect.NewResponse(&flowhookv1.UpdateSecuritySettingsResponse{Settings: securityToProto(sec)}), nil
}

func securityToProto(s engine.SecuritySettings) *flowhookv1.SecuritySettings {
	return &flowhookv1.SecuritySettings{
		WebhookReceiverDebug: s.WebhookReceiverDebug,
		EventRetentionDays:   int32(s.EventRetentionDays),
		Revision:             s.Revision,
		UpdatedAt:            timestamp(s.UpdatedAt),
	}
}

func (s *SettingsService) GetDocuSignSettings(ctx context.Context, _ *connect.Request[flowhookv1.GetDocuSignSettingsRequest]) (*connect.Response[flowhookv1.GetDocuSignSettingsResponse], error) {
	st, err := s.settings.GetSettings(ctx, engine.SettingsDocuSign)
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	return connect.NewResponse(&flowhookv1.GetDocuSignSettingsResponse{Settings: s.docuSignToProto(st)}), nil
}

func (s *SettingsService) UpdateDocuSignSettings(ctx context.Context, req *connect.Request[flowhookv1.UpdateDocuSignSettingsRequest]) (*connect.Response[flowhookv1.UpdateDocuSignSettingsResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	cur, err := s.settings.GetSettings(ctx, engine.SettingsDocuSign)
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	var ps engine.Problems
	if m.GetExpectedRevision() != cur.Revision {
		return nil, toConnect(ctx, s.log, fmt.Errorf("%w: the settings are at revision %d, not %d", engine.ErrConflict, cur.Revision, m.GetExpectedRevision()))
	}
	oauth := strings.TrimSpace(m.GetOauthBaseUrl())
	if oauth == "" {
		oauth = docusign.DemoOAuthBaseURL // DocuSign's developer environment until told otherwise
	}
	next := engine.Settings{ID: engine.SettingsDocuSign, UpdatedBy: p.UserID, Plain: map[string]any{
		provider.KeyAccountID:      strings.TrimSpace(m.GetAccountId()),
		provider.KeyIntegrationKey: strings.TrimSpace(m.GetIntegrationKey()),
		provider.KeyUserID:         strings.TrimSpace(m.GetUserId()),
		provider.KeyOAuthBaseURL:   oauth,
	}, Secrets: map[string]string{}}
	for k, v := range cur.Secrets {
		next.Secrets[k] = v
	}
	if m.PrivateKeyPem != nil {
		next.Secrets[provider.KeyPrivateKey] = m.GetPrivateKeyPem()
	}
	if m.GetReplaceHmacKeys() {
		for i, k := range m.GetHmacKeys() {
			if strings.ContainsAny(k, "\r\n") {
				ps.Add(fmt.Sprintf("hmac_keys[%d]", i), "must be one line")
			}
		}
		next.Secrets[provider.KeyHMACKeys] = strings.Join(m.GetHmacKeys(), "\n")
	}
	if err := invalid(ps); err != nil {
		return nil, err
	}
	if err := provider.DocuSignSettings(next).Validate(); err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	saved, err := s.settings.PutSettings(ctx, next, cur.Revision)
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	return connect.NewResponse(&flowhookv1.UpdateDocuSignSettingsResponse{Settings: s.docuSignToProto(saved)}), nil
}

func (s *SettingsService) TestProviderConnection(ctx context.Context, req *connect.Request[flowhookv1.TestProviderConnectionRequest]) (*connect.Response[flowhookv1.TestProviderConnectionResponse], error) {
	switch req.Msg.GetProvider() {
	case flowhookv1.Provider_PROVIDER_DOCUSIGN:
	case flowhookv1.Provider_PROVIDER_ONESPAN:
		return s.testOneSpan(ctx)
	default:
		return nil, invalid(engine.Problems{{Path: "provider", Message: "must be PROVIDER_DOCUSIGN or PROVIDER_ONESPAN"}})
	}
	c, err := s.registry.DocuSign(ctx)
	if err != nil {
		if errors.Is(err, engine.ErrProviderPermanent) {
			return connect.NewResponse(&flowhookv1.TestProviderConnectionResponse{Message: err.Error()}), nil
		}
		return nil, toConnect(ctx, s.log, err)
	}
	info, err := c.TestConnection(ctx)
	if err != nil {
		var pe *engine.ProviderError
		if errors.As(err, &pe) || errors.Is(err, engine.ErrProviderPermanent) {
			return connect.NewResponse(&flowhookv1.TestProviderConnectionResponse{Message: err.Error()}), nil
		}
		return connect.NewResponse(&flowhookv1.TestProviderConnectionResponse{Message: "DocuSign could not be reached"}), nil
	}
	return connect.NewResponse(&flowhookv1.TestProviderConnectionResponse{Ok: true,
		Message:     fmt.Sprintf("signed in as %s for account %s", info.Name, info.AccountName),
		AccountName: info.AccountName, UserName: info.Name, BaseUri: info.BaseURI}), nil
}

func (s *SettingsService) docuSignToProto(st engine.Settings) *flowhookv1.DocuSignSettings {
	ds := provider.DocuSignSettings(st)
	return &flowhookv1.DocuSignSettings{
		AccountId:      ds.AccountID,
		IntegrationKey: ds.IntegrationKey,
		UserId:         ds.UserID,
		OauthBaseUrl:   ds.OAuthBaseURL,
		PrivateKeySet:  len(ds.PrivateKeyPEM) > 0,
		HmacKeyCount:   int32(len(ds.HMACKeys)),
		WebhookUrl:     s.callbackURL(engine.ProviderDocuSign),
		Revision:       st.Revision,
		UpdatedAt:      timestamp(st.UpdatedAt),
	}
}

// maxCallbackKeyGrace bounds how long a replaced OneSpan callback key is still accepted.
const maxCallbackKeyGrace = 30 * 24 * time.Hour

func (s *SettingsService) GetOneSpanSettings(ctx context.Context, _ *connect.Request[flowhookv1.GetOneSpanSettingsRequest]) (*connect.Response[flowhookv1.GetOneSpanSettingsResponse], error) {
	st, err := s.settings.GetSettings(ctx, engine.SettingsOneSpan)
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	return connect.NewResponse(&flowhookv1.GetOneSpanSettingsResponse{Settings: s.oneSpanToProto(st)}), nil
}

func (s *SettingsService) UpdateOneSpanSettings(ctx context.Context, req *connect.Request[flowhookv1.UpdateOneSpanSettingsRequest]) (*connect.Response[flowhookv1.UpdateOneSpanSettingsResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	cur, err := s.settings.GetSettings(ctx, engine.SettingsOneSpan)
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	if m.GetExpectedRevision() != cur.Revision {
		return nil, toConnect(ctx, s.log, fmt.Errorf("%w: the settings are at revision %d, not %d", engine.ErrConflict, cur.Revision, m.GetExpectedRevision()))
	}
	var ps engine.Problems
	base := strings.TrimRight(strings.TrimSpace(m.GetBaseUrl()), "/")
	if base == "" {
		base = provider.OneSpanSandboxURL
	}
	if u, err := url.Parse(base); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		ps.Add("base_url", "must be an http(s) URL such as %s", provider.OneSpanSandboxURL)
	}
	secret := func(path string, v *string, minLen int) {
		if v == nil {
			return
		}
		switch {
		case strings.ContainsAny(*v, "\r\n \t"):
			ps.Add(path, "must be one word (no spaces or line breaks)")
		case len(*v) < minLen || len(*v) > 1024:
			ps.Add(path, "must be %d to 1024 characters", minLen)
		}
	}
	secret("api_key", m.ApiKey, 8)
	secret("callback_key", m.CallbackKey, 16)
	grace := provider.DefaultCallbackKeyGrace
	if g := m.GetCallbackKeyGrace(); g != nil {
		switch d := g.AsDuration(); {
		case g.CheckValid() != nil || d < 0 || d > maxCallbackKeyGrace:
			ps.Add("callback_key_grace", "must be between 0 (24 hours) and 30 days")
		case d > 0:
			grace = d
		}
	}
	if err := invalid(ps); err != nil {
		return nil, err
	}
	next := provider.OneSpanConfigFrom(cur)
	next.BaseURL = base
	if m.ApiKey != nil {
		next.APIKey = m.GetApiKey()
	}
	if m.CallbackKey != nil {
		next = next.Roll(m.GetCallbackKey(), time.Now(), grace)
	}
	st := next.Settings()
	st.UpdatedBy = p.UserID
	if m.GetRegisterCallback() && (next.APIKey == "" || next.CallbackKey == "") {
		return nil, invalid(engine.Problems{{Path: "register_callback", Message: "needs an API key and a callback key"}})
	}
	saved, err := s.settings.PutSettings(ctx, st, cur.Revision)
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	if m.GetRegisterCallback() {
		c, err := s.registry.OneSpan(ctx)
		if err == nil {
			err = c.RegisterCallback(ctx, s.callbackURL(engine.ProviderOneSpan), next.CallbackKey, nil)
		}
		if err != nil {
			return nil, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("the settings are saved (revision %d), but registering the callback at OneSpan failed: %s",
				saved.Revision, providerMessage(err)))
		}
	}
	return connect.NewResponse(&flowhookv1.UpdateOneSpanSettingsResponse{Settings: s.oneSpanToProto(saved)}), nil
}

func (s *SettingsService) oneSpanToProto(st engine.Settings) *flowhookv1.OneSpanSettings {
	c := provider.OneSpanConfigFrom(st)
	out := &flowhookv1.OneSpanSettings{
		BaseUrl:        c.BaseURL,
		ApiKeySet:      c.APIKey != "",
		CallbackKeySet: c.CallbackKey != "",
		WebhookUrl:     s.callbackURL(engine.ProviderOneSpan),
		Revision:       st.Revision,
		UpdatedAt:      timestamp(st.UpdatedAt),
	}
	if c.PreviousCallbackKey != "" && time.Now().Before(c.PreviousValidUntil) {
		out.PreviousCallbackKeyValidUntil = timestamp(c.PreviousValidUntil)
	}
	return out
}

func (s *SettingsService) testOneSpan(ctx context.Context) (*connect.Response[flowhookv1.TestProviderConnectionResponse], error) {
	c, err := s.registry.OneSpan(ctx)
	if err != nil {
		if errors.Is(err, engine.ErrProviderPermanent) {
			return connect.NewResponse(&flowhookv1.TestProviderConnectionResponse{Message: err.Error()}), nil
		}
		return nil, toConnect(ctx, s.log, err)
	}
	info, err := c.TestConnection(ctx)
	if err != nil {
		return connect.NewResponse(&flowhookv1.TestProviderConnectionResponse{Message: providerMessage(err)}), nil
	}
	msg := fmt.Sprintf("signed in at %s; %d package(s) in the inbox", info.APIRoot, info.InboxPackages)
	want := s.callbackURL(engine.ProviderOneSpan)
	switch {
	case info.CallbackURL == "":
		msg += "; no callback is registered (save the settings with register_callback)"
	case info.CallbackURL != want:
		msg += fmt.Sprintf("; the callback registered is %s, not %s", info.CallbackURL, want)
	default:
		msg += "; the callback is registered"
	}
	return connect.NewResponse(&flowhookv1.TestProviderConnectionResponse{Ok: true, Message: msg, BaseUri: info.APIRoot}), nil
}

// providerMessage is a provider error's readable text; a transport error is named only.
func providerMessage(err error) string {
	var pe *engine.ProviderError
	if errors.As(err, &pe) || errors.Is(err, engine.ErrProviderPermanent) {
		return err.Error()
	}
	return "the provider could not be reached"
}
