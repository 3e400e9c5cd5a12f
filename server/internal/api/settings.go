package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/gen/flowhook/v1/flowhookv1connect"
	"github.com/flowhook/flowhook/server/internal/engine"
)

// SettingsService implements ProviderSettingsService. A provider's settings group travels
// between this service and the provider as the JSON form of the RPC's messages
// (engine.ProviderSettings), so that nothing here knows a provider's fields.
type SettingsService struct {
	settings   engine.SettingsStore
	security   *engine.Security
	providers  engine.ProviderSettings
	connectors engine.Connectors
	log        *slog.Logger
}

var _ flowhookv1connect.ProviderSettingsServiceHandler = (*SettingsService)(nil)

// NewSettingsService returns the settings service.
func NewSettingsService(settings engine.SettingsStore, security *engine.Security, providers engine.ProviderSettings, connectors engine.Connectors, log *slog.Logger) *SettingsService {
	return &SettingsService{settings: settings, security: security, providers: providers, connectors: connectors, log: log}
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
	formDays, docDays := int(m.GetFormDataRetentionDays()), int(m.GetDocumentRetentionDays())
	if formDays < 0 || formDays > engine.MaxDataRetentionDays {
		ps.Add("form_data_retention_days", "must be between 0 (keep for ever) and %d", engine.MaxDataRetentionDays)
	}
	if docDays < 0 || docDays > engine.MaxDataRetentionDays {
		ps.Add("document_retention_days", "must be between 0 (keep for ever) and %d", engine.MaxDataRetentionDays)
	}
	prev, err := s.settings.GetSettings(ctx, engine.SettingsSecurity)
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	// 0 means "never saved" (SecuritySettings.revision), not "whatever is saved": without this,
	// the store would answer that the settings were saved concurrently.
	if prev.Revision > 0 && m.GetExpectedRevision() == 0 {
		ps.Add("expected_revision", "is required: pass the revision GetSecuritySettings returned")
	}
	if err := invalid(ps); err != nil {
		return nil, err
	}
	next := engine.SecuritySettings{WebhookReceiverDebug: m.GetWebhookReceiverDebug(), EventRetentionDays: days,
		FormDataRetentionDays: formDays, DocumentRetentionDays: docDays}
	saved, err := s.settings.PutSettings(ctx, engine.Settings{ID: engine.SettingsSecurity, Plain: next.Plain(), UpdatedBy: p.UserID}, m.GetExpectedRevision())
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	// This replica applies it now; the others within engine.SecurityTTL.
	s.security.Forget()
	sec := engine.SecurityFrom(saved)
	if prevSec := engine.SecurityFrom(prev); prevSec.WebhookReceiverDebug != sec.WebhookReceiverDebug {
		// What a provider is registered for may follow the option (OneSpan's progress events).
		// The option is saved whatever the provider says; the connection test shows what is
		// registered there.
		// Bounded: a provider that does not answer must not hold the option's answer (its
		// client tries a failing call again with backoff).
		fctx, cancel := context.WithTimeout(ctx, debugFollowTimeout)
		err := s.providers.DebugChanged(fctx, sec.WebhookReceiverDebug)
		cancel()
		if err != nil {
			s.log.WarnContext(ctx, "the Webhook Receiver debug option changed, but a provider's registration could not follow it",
				"webhook_receiver_debug", sec.WebhookReceiverDebug, "error", err.Error())
		}
	}
	logSettingsChange(ctx, s.log, "security settings changed", engine.SettingsSecurity, p.UserID, m,
		securityToProto(engine.SecurityFrom(prev)), securityToProto(sec))
	return connect.NewResponse(&flowhookv1.UpdateSecuritySettingsResponse{Settings: securityToProto(sec)}), nil
}

// debugFollowTimeout bounds how long UpdateSecuritySettings waits for the providers to follow a
// change of the debug option.
const debugFollowTimeout = 10 * time.Second

func securityToProto(s engine.SecuritySettings) *flowhookv1.SecuritySettings {
	return &flowhookv1.SecuritySettings{
		WebhookReceiverDebug:  s.WebhookReceiverDebug,
		EventRetentionDays:    int32(s.EventRetentionDays),
		FormDataRetentionDays: int32(s.FormDataRetentionDays),
		DocumentRetentionDays: int32(s.DocumentRetentionDays),
		Revision:              s.Revision,
		UpdatedAt:             timestamp(s.UpdatedAt),
	}
}

func (s *SettingsService) GetDocuSignSettings(ctx context.Context, _ *connect.Request[flowhookv1.GetDocuSignSettingsRequest]) (*connect.Response[flowhookv1.GetDocuSignSettingsResponse], error) {
	out := &flowhookv1.DocuSignSettings{}
	if err := s.view(ctx, providerFromProto(flowhookv1.Provider_PROVIDER_DOCUSIGN), out); err != nil {
		return nil, err
	}
	return connect.NewResponse(&flowhookv1.GetDocuSignSettingsResponse{Settings: out}), nil
}

func (s *SettingsService) UpdateDocuSignSettings(ctx context.Context, req *connect.Request[flowhookv1.UpdateDocuSignSettingsRequest]) (*connect.Response[flowhookv1.UpdateDocuSignSettingsResponse], error) {
	out := &flowhookv1.DocuSignSettings{}
	if err := s.update(ctx, providerFromProto(flowhookv1.Provider_PROVIDER_DOCUSIGN), req.Msg, req.Msg.GetExpectedRevision(), out); err != nil {
		return nil, err
	}
	return connect.NewResponse(&flowhookv1.UpdateDocuSignSettingsResponse{Settings: out}), nil
}

func (s *SettingsService) GetOneSpanSettings(ctx context.Context, _ *connect.Request[flowhookv1.GetOneSpanSettingsRequest]) (*connect.Response[flowhookv1.GetOneSpanSettingsResponse], error) {
	out := &flowhookv1.OneSpanSettings{}
	if err := s.view(ctx, providerFromProto(flowhookv1.Provider_PROVIDER_ONESPAN), out); err != nil {
		return nil, err
	}
	return connect.NewResponse(&flowhookv1.GetOneSpanSettingsResponse{Settings: out}), nil
}

func (s *SettingsService) UpdateOneSpanSettings(ctx context.Context, req *connect.Request[flowhookv1.UpdateOneSpanSettingsRequest]) (*connect.Response[flowhookv1.UpdateOneSpanSettingsResponse], error) {
	out := &flowhookv1.OneSpanSettings{}
	if err := s.update(ctx, providerFromProto(flowhookv1.Provider_PROVIDER_ONESPAN), req.Msg, req.Msg.GetExpectedRevision(), out); err != nil {
		return nil, err
	}
	return connect.NewResponse(&flowhookv1.UpdateOneSpanSettingsResponse{Settings: out}), nil
}

// view reads a provider's settings into its message.
func (s *SettingsService) view(ctx context.Context, p engine.Provider, out proto.Message) error {
	b, err := s.providers.ViewSettings(ctx, p)
	if err != nil {
		return toConnect(ctx, s.log, err)
	}
	return s.decode(ctx, b, out)
}

// update hands a provider its update request and reads the settings it saved into out.
func (s *SettingsService) update(ctx context.Context, p engine.Provider, req proto.Message, expectedRevision int64, out proto.Message) error {
	caller, err := principal(ctx)
	if err != nil {
		return err
	}
	if expectedRevision < 0 {
		return invalid(engine.Problems{{Path: "expected_revision", Message: "must not be negative"}})
	}
	if err := invalid(badDurations(req)); err != nil {
		return err
	}
	b, err := protojson.Marshal(req)
	if err != nil {
		return invalid(engine.Problems{{Path: "", Message: "the request cannot be read: " + err.Error()}})
	}
	before := out.ProtoReflect().New().Interface()
	if err := s.view(ctx, p, before); err != nil {
		return err
	}
	saved, err := s.providers.UpdateSettings(ctx, p, b, expectedRevision, caller.UserID)
	if err != nil {
		// Saved, but its follow-up failed (registering a callback): the change is logged too.
		after := out.ProtoReflect().New().Interface()
		if errors.Is(err, engine.ErrFailedPrecondition) && s.view(ctx, p, after) == nil && revision(after) > revision(before) {
			logSettingsChange(ctx, s.log, "provider settings changed", p.String(), caller.UserID, req, before, after)
		}
		return toConnect(ctx, s.log, err)
	}
	if err := s.decode(ctx, saved, out); err != nil {
		return err
	}
	logSettingsChange(ctx, s.log, "provider settings changed", p.String(), caller.UserID, req, before, out)
	return nil
}

// badDurations names the durations of a settings update that JSON cannot carry to the provider
// (seconds beyond ±10,000 years, nanos out of range), which protojson.Marshal would refuse
// without saying which field it was.
func badDurations(req proto.Message) engine.Problems {
	var ps engine.Problems
	req.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Message() != nil && !fd.IsList() && !fd.IsMap() {
			if d, ok := v.Message().Interface().(*durationpb.Duration); ok && d.CheckValid() != nil {
				ps.Add(string(fd.Name()), "is not a valid duration (its seconds or nanos are out of range)")
			}
		}
		return true
	})
	return ps
}

// revision is a settings message's revision field (0 when it has none).
func revision(m proto.Message) int64 {
	f := m.ProtoReflect().Descriptor().Fields().ByName("revision")
	if f == nil {
		return 0
	}
	return m.ProtoReflect().Get(f).Int()
}

// decode reads a provider's settings message; a field the message lacks is this server's
// mistake, not the caller's.
func (s *SettingsService) decode(ctx context.Context, b []byte, out proto.Message) error {
	if err := protojson.Unmarshal(b, out); err != nil {
		return toConnect(ctx, s.log, fmt.Errorf("a provider's settings do not fit %T: %w", out, err))
	}
	return nil
}

func (s *SettingsService) TestProviderConnection(ctx context.Context, req *connect.Request[flowhookv1.TestProviderConnectionRequest]) (*connect.Response[flowhookv1.TestProviderConnectionResponse], error) {
	var ps engine.Problems
	p := req.Msg.GetProvider()
	connector := req.Msg.GetConnector()
	switch {
	case p == flowhookv1.Provider_PROVIDER_UNSPECIFIED || !knownProvider(p):
		ps.Add("provider", "is required: the provider whose connection to test")
	case p == flowhookv1.Provider_PROVIDER_CONNECTOR && connector == "":
		ps.Add("connector", "is required when provider is PROVIDER_CONNECTOR: the connector whose connection to test")
	case connector != "" && !engine.ValidConnectorName(connector):
		ps.Add("connector", "is not a connector name (lower case letters, digits and '-')")
	}
	if err := invalid(ps); err != nil {
		return nil, err
	}
	rep, err := s.providers.TestConnection(ctx, engine.System{Provider: providerFromProto(p), Connector: connector})
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	return connect.NewResponse(&flowhookv1.TestProviderConnectionResponse{Ok: rep.OK, Message: rep.Message,
		AccountName: rep.AccountName, UserName: rep.UserName, BaseUri: rep.BaseURI}), nil
}

// maxConnectorGrace bounds how long a replaced signing secret still verifies callbacks.
const maxConnectorGrace = 30 * 24 * time.Hour

func (s *SettingsService) CreateConnector(ctx context.Context, req *connect.Request[flowhookv1.CreateConnectorRequest]) (*connect.Response[flowhookv1.CreateConnectorResponse], error) {
	caller, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	in := engine.ConnectorInput{Name: m.GetName(), DisplayName: m.GetDisplayName(), CreateURL: m.GetCreateUrl(),
		StatusURL: m.GetStatusUrl(), CancelURL: m.GetCancelUrl(), Outcomes: outcomesFromProto(m.GetOutcomes()),
		SigningSecret: m.GetSigningSecret(), AuthHeader: m.GetAuthHeader()}
	c, secret, err := s.connectors.CreateConnector(ctx, in, caller.UserID)
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	logSettingsChange(ctx, s.log, "connector created", "connector."+c.Name, caller.UserID, m, nil, connectorToProto(c))
	return connect.NewResponse(&flowhookv1.CreateConnectorResponse{Connector: connectorToProto(c), SigningSecret: secret}), nil
}

func (s *SettingsService) GetConnector(ctx context.Context, req *connect.Request[flowhookv1.GetConnectorRequest]) (*connect.Response[flowhookv1.GetConnectorResponse], error) {
	if err := invalid(connectorNameRequired(req.Msg.GetName())); err != nil {
		return nil, err
	}
	c, err := s.connectors.GetConnector(ctx, req.Msg.GetName())
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	return connect.NewResponse(&flowhookv1.GetConnectorResponse{Connector: connectorToProto(c)}), nil
}

func (s *SettingsService) ListConnectors(ctx context.Context, req *connect.Request[flowhookv1.ListConnectorsRequest]) (*connect.Response[flowhookv1.ListConnectorsResponse], error) {
	var ps engine.Problems
	p := page(ctx, &ps, req.Msg.GetPageSize(), req.Msg.GetPageToken(), "")
	if err := invalid(ps); err != nil {
		return nil, err
	}
	list, next, total, err := s.connectors.ListConnectors(ctx, p)
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	out := &flowhookv1.ListConnectorsResponse{NextPageToken: encodePageToken(ctx, next, ""), TotalSize: total}
	for _, c := range list {
		out.Connectors = append(out.Connectors, connectorToProto(c))
	}
	return connect.NewResponse(out), nil
}

func (s *SettingsService) UpdateConnector(ctx context.Context, req *connect.Request[flowhookv1.UpdateConnectorRequest]) (*connect.Response[flowhookv1.UpdateConnectorResponse], error) {
	caller, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	in := engine.ConnectorInput{Name: m.GetName(), DisplayName: m.GetDisplayName(), CreateURL: m.GetCreateUrl(),
		StatusURL: m.GetStatusUrl(), CancelURL: m.GetCancelUrl(), Outcomes: outcomesFromProto(m.GetOutcomes()),
		SigningSecret: m.GetSigningSecret(), AuthHeader: m.GetAuthHeader(), ClearAuthHeader: m.GetClearAuthHeader(),
		ExpectedRevision: m.GetExpectedRevision()}
	if g := m.GetSigningSecretGrace(); g != nil {
		if d := g.AsDuration(); g.CheckValid() != nil || d < 0 || d > maxConnectorGrace {
			return nil, invalid(engine.Problems{{Path: "signing_secret_grace", Message: "must be between 0 (24 hours) and 30 days"}})
		} else {
			in.SecretGrace = d
		}
	}
	// Read for the log only: UpdateConnector says what is wrong with the request.
	before, _ := s.connectors.GetConnector(ctx, in.Name)
	c, err := s.connectors.UpdateConnector(ctx, in, caller.UserID)
	if err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	logSettingsChange(ctx, s.log, "connector updated", "connector."+c.Name, caller.UserID, m, connectorToProto(before), connectorToProto(c))
	return connect.NewResponse(&flowhookv1.UpdateConnectorResponse{Connector: connectorToProto(c)}), nil
}

func (s *SettingsService) DeleteConnector(ctx context.Context, req *connect.Request[flowhookv1.DeleteConnectorRequest]) (*connect.Response[flowhookv1.DeleteConnectorResponse], error) {
	caller, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := invalid(connectorNameRequired(req.Msg.GetName())); err != nil {
		return nil, err
	}
	if err := s.connectors.DeleteConnector(ctx, req.Msg.GetName()); err != nil {
		return nil, toConnect(ctx, s.log, err)
	}
	s.log.InfoContext(ctx, "connector deleted", "group", "connector."+req.Msg.GetName(), "by", caller.UserID)
	return connect.NewResponse(&flowhookv1.DeleteConnectorResponse{}), nil
}

// connectorNameRequired: a request naming no connector is the caller's mistake, not a connector
// that is not there (any other name that cannot be a connector's names none: NotFound).
func connectorNameRequired(name string) engine.Problems {
	var ps engine.Problems
	if name == "" {
		ps.Add("name", "is required: the connector's name")
	}
	return ps
}

func outcomesFromProto(m map[string]flowhookv1.Outcome) map[string]engine.Outcome {
	out := make(map[string]engine.Outcome, len(m))
	for k, v := range m {
		out[k] = outcomeFromProto(v)
	}
	return out
}

func connectorToProto(c engine.Connector) *flowhookv1.Connector {
	out := &flowhookv1.Connector{Name: c.Name, DisplayName: c.DisplayName, CreateUrl: c.CreateURL, StatusUrl: c.StatusURL,
		CancelUrl: c.CancelURL, Revision: c.Revision, SigningSecretSet: c.SigningSecretSet, WebhookUrl: c.WebhookURL,
		CreatedAt: timestamp(c.CreatedAt), UpdatedAt: timestamp(c.UpdatedAt), AuthHeaderSet: c.AuthHeaderName != "",
		AuthHeaderName: c.AuthHeaderName, Warnings: c.Warnings, PreviousSigningSecretValidUntil: timestamp(c.PreviousSecretValidUntil)}
	if len(c.Outcomes) > 0 {
		out.Outcomes = make(map[string]flowhookv1.Outcome, len(c.Outcomes))
		for k, v := range c.Outcomes {
			out.Outcomes[k] = outcomeToProto(v)
		}
	}
	return out
}
