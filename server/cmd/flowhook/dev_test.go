package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/structpb"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/gen/flowhook/v1/flowhookv1connect"
	"github.com/flowhook/flowhook/server/internal/app"
	"github.com/flowhook/flowhook/server/internal/config"
)

// clients are the RPC clients of a server, as one caller.
type clients struct {
	design    flowhookv1connect.WorkflowDesignServiceClient
	instances flowhookv1connect.WorkflowInstanceServiceClient
	settings  flowhookv1connect.ProviderSettingsServiceClient
	identity  flowhookv1connect.IdentityServiceClient
}

func newClients(base, key string) clients {
	auth := connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+key)
			return next(ctx, req)
		}
	}))
	hc := &http.Client{Timeout: 30 * time.Second}
	return clients{
		design:    flowhookv1connect.NewWorkflowDesignServiceClient(hc, base, auth),
		instances: flowhookv1connect.NewWorkflowInstanceServiceClient(hc, base, auth),
		settings:  flowhookv1connect.NewProviderSettingsServiceClient(hc, base, auth),
		identity:  flowhookv1connect.NewIdentityServiceClient(hc, base, auth),
	}
}

var generatedKey = regexp.MustCompile(`(?m)^  Admin API key +(fh_\S+)`)

// startDev runs `flowhook dev` on dataDir and returns it with the admin key it printed (or
// the one given in vars).
func startDev(t *testing.T, dataDir string, vars map[string]string) (*running, string) {
	t.Helper()
	s := startServer(t, vars, "dev", "-addr", "127.0.0.1:0", "-data-dir", dataDir)
	banner := s.stdout.String()
	require.Contains(t, banner, "SANDBOX MODE: nothing reaches a real provider")
	m := apiLine.FindStringSubmatch(banner)
	require.NotNil(t, m, banner)
	require.Equal(t, s.base, m[1])
	require.Contains(t, banner, s.base+"/metrics")
	require.Contains(t, banner, s.base+"/sandbox/")
	require.Contains(t, banner, s.base+"/console/")
	require.Contains(t, banner, "rm -rf "+dataDir)
	require.Contains(t, banner, "FLOWHOOK_ADDR="+s.addr+" flowhook sandbox list", "the port bound, not the default")
	require.Contains(t, banner, "FLOWHOOK_ADDR="+s.addr+" flowhook sandbox complete <external id>", "every hint names it")
	require.Contains(t, banner, "forgotten when flowhook dev stops")
	require.Contains(t, s.stderr.String(), `"level":"WARN","msg":"SANDBOX MODE`)
	if k := vars["FLOWHOOK_BOOTSTRAP_ADMIN_KEY"]; k != "" {
		require.NotContains(t, banner, k, "a chosen key is never printed")
		return s, k
	}
	if m := generatedKey.FindStringSubmatch(banner); m != nil {
		require.NotContains(t, s.stderr.String(), m[1], "the key is never logged")
		return s, m[1]
	}
	return s, ""
}

// TestDevBannerBehindAPublicURL: with FLOWHOOK_PUBLIC_URL (a tunnel in front of dev), the
// banner's next step still names the address the sandbox command reaches: the one bound.
func TestDevBannerBehindAPublicURL(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"FLOWHOOK_PUBLIC_URL": "https://tunnel.example/flowhook"}, "dev", "-addr", "127.0.0.1:0", "-data-dir", t.TempDir())
	banner := s.stdout.String()
	require.Contains(t, banner, "https://tunnel.example/flowhook/sandbox/", "providers are given the public URL")
	require.Contains(t, banner, "FLOWHOOK_ADDR="+s.addr+" flowhook sandbox list")
	require.NotContains(t, banner, "FLOWHOOK_ADDR=https")
}

// signingDraft is start → an EXTERNAL state at provider → done (FINISHED or APPROVED) or
// rejected (DENIED, DELETED, EXPIRED).
func signingDraft(name string, provider flowhookv1.Provider, connector string) *flowhookv1.WorkflowDraft {
	ext := &flowhookv1.ExternalStep{Provider: provider, Connector: connector, IncludeDocument: true}
	if connector == "" {
		ext.EmailSubject, ext.DocumentTitle = "Please sign", "Contract"
		ext.Signers = []*flowhookv1.Signer{{NameField: "signer_name", EmailField: "signer_email"}}
	}
	return &flowhookv1.WorkflowDraft{
		Name: name,
		States: []*flowhookv1.State{
			{Key: "start", Kind: flowhookv1.StateKind_STATE_KIND_START, FormFields: []*flowhookv1.FormField{
				{Name: "signer_name", Label: "Signer", Type: flowhookv1.FieldType_FIELD_TYPE_STRING, Required: true},
				{Name: "signer_email", Label: "Email", Type: flowhookv1.FieldType_FIELD_TYPE_EMAIL, Required: true},
			}},
			{Key: "sign", Name: "Signature", Kind: flowhookv1.StateKind_STATE_KIND_EXTERNAL, External: ext},
			{Key: "done", Kind: flowhookv1.StateKind_STATE_KIND_END},
			{Key: "rejected", Kind: flowhookv1.StateKind_STATE_KIND_END},
		},
		Transitions: []*flowhookv1.Transition{
			{Key: "submit", FromState: "start", ToState: "sign"},
			{Key: "signed", FromState: "sign", ToState: "done", OnOutcome: flowhookv1.Outcome_OUTCOME_FINISHED},
			{Key: "approved", FromState: "sign", ToState: "done", OnOutcome: flowhookv1.Outcome_OUTCOME_APPROVED},
			{Key: "declined", FromState: "sign", ToState: "rejected", OnOutcome: flowhookv1.Outcome_OUTCOME_DENIED},
			{Key: "deleted", FromState: "sign", ToState: "rejected", OnOutcome: flowhookv1.Outcome_OUTCOME_DELETED},
			{Key: "expired", FromState: "sign", ToState: "rejected", OnOutcome: flowhookv1.Outcome_OUTCOME_EXPIRED},
		},
	}
}

// publish creates and publishes a workflow and returns its id.
func publish(t *testing.T, c clients, draft *flowhookv1.WorkflowDraft) string {
	t.Helper()
	created, err := c.design.CreateWorkflow(t.Context(), connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: draft}))
	require.NoError(t, err)
	id := created.Msg.GetWorkflow().GetId()
	_, err = c.design.PublishWorkflow(t.Context(), connect.NewRequest(&flowhookv1.PublishWorkflowRequest{WorkflowId: id, ExpectedRevision: 1}))
	require.NoError(t, err)
	return id
}

// waiting starts an instance and returns it once it waits at its system with an external id.
func waiting(t *testing.T, c clients, workflowID string) *flowhookv1.Instance {
	t.Helper()
	form, err := structpb.NewStruct(map[string]any{"signer_name": "Ada Lovelace", "signer_email": "ada@example.com"})
	require.NoError(t, err)
	started, err := c.instances.StartInstance(t.Context(), connect.NewRequest(&flowhookv1.StartInstanceRequest{
		WorkflowId: workflowID, FormData: form, TransitionKey: "submit"}))
	require.NoError(t, err)
	return await(t, c, started.Msg.GetInstance().GetId(), func(in *flowhookv1.Instance) bool {
		return in.GetStatus() == flowhookv1.InstanceStatus_INSTANCE_STATUS_WAITING_EXTERNAL && in.GetWorkItem().GetExternalId() != ""
	})
}

// await waits (require.Eventually) until done says so of an instance, failing at once on FAILED.
func await(t *testing.T, c clients, id string, done func(*flowhookv1.Instance) bool) *flowhookv1.Instance {
	t.Helper()
	var (
		in  *flowhookv1.Instance
		err error
	)
	// The condition runs on another goroutine: it only records, and the test checks after.
	require.Eventually(t, func() bool {
		var got *connect.Response[flowhookv1.GetInstanceResponse]
		if got, err = c.instances.GetInstance(t.Context(), connect.NewRequest(&flowhookv1.GetInstanceRequest{InstanceId: id})); err != nil {
			return true
		}
		in = got.Msg.GetInstance()
		return in.GetStatus() == flowhookv1.InstanceStatus_INSTANCE_STATUS_FAILED || done(in)
	}, 30*time.Second, 20*time.Millisecond, "instance %s never got there", id)
	require.NoError(t, err)
	require.NotEqual(t, flowhookv1.InstanceStatus_INSTANCE_STATUS_FAILED, in.GetStatus(), "instance failed: %v", in)
	return in
}

// signedDocument waits for an instance's signed document, which is fetched from the provider
// after the outcome (NotFound until then).
func signedDocument(t *testing.T, c clients, id string) *flowhookv1.GetSignedDocumentResponse {
	t.Helper()
	var (
		doc *flowhookv1.GetSignedDocumentResponse
		err error
	)
	require.Eventually(t, func() bool {
		var got *connect.Response[flowhookv1.GetSignedDocumentResponse]
		got, err = c.instances.GetSignedDocument(t.Context(), connect.NewRequest(&flowhookv1.GetSignedDocumentRequest{InstanceId: id}))
		if err == nil {
			doc = got.Msg
		}
		return err == nil || connect.CodeOf(err) != connect.CodeNotFound
	}, 30*time.Second, 20*time.Millisecond, "no signed document for %s", id)
	require.NoError(t, err)
	return doc
}

func completedIn(state string) func(*flowhookv1.Instance) bool {
	return func(in *flowhookv1.Instance) bool {
		return in.GetStatus() == flowhookv1.InstanceStatus_INSTANCE_STATUS_COMPLETED && in.GetStateKey() == state
	}
}

// TestDevDocuSignLoop: with nothing configured, an instance entering a DocuSign state gets an
// envelope at the sandbox; `flowhook sandbox complete` makes the fake send its signed Connect
// webhook; the instance completes and the signed PDF is kept. Decline takes the declined
// transition; the command's errors are one line each.
func TestDevDocuSignLoop(t *testing.T) {
	t.Parallel()
	dev, key := startDev(t, t.TempDir(), nil)
	require.NotEmpty(t, key, "dev generated and printed a key")
	c := newClients(dev.base, key)

	// The settings API shows what the sandbox configured.
	ds, err := c.settings.GetDocuSignSettings(t.Context(), connect.NewRequest(&flowhookv1.GetDocuSignSettingsRequest{}))
	require.NoError(t, err)
	require.Equal(t, dev.base+"/sandbox/docusign", ds.Msg.GetSettings().GetOauthBaseUrl())
	require.True(t, ds.Msg.GetSettings().GetPrivateKeySet())
	test, err := c.settings.TestProviderConnection(t.Context(), connect.NewRequest(&flowhookv1.TestProviderConnectionRequest{Provider: flowhookv1.Provider_PROVIDER_DOCUSIGN}))
	require.NoError(t, err)
	require.True(t, test.Msg.GetOk(), test.Msg.GetMessage())

	code, out, _ := dev.sandbox(t, "list")
	require.Equal(t, 0, code)
	require.Contains(t, out, "No work items at the sandbox yet")

	wf := publish(t, c, signingDraft("DocuSign loop", flowhookv1.Provider_PROVIDER_DOCUSIGN, ""))
	in := waiting(t, c, wf)
	envelope := in.GetWorkItem().GetExternalId()

	code, out, errOut := dev.sandbox(t, "list")
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `DOCUSIGN +`+envelope+` +sent +complete, decline, void, expire, delete, deliver, sign`, out)

	code, out, errOut = dev.sandbox(t, "shred", envelope)
	require.Equal(t, 1, code)
	require.Empty(t, out)
	require.Equal(t, `flowhook: unknown action "shred" for DOCUSIGN: want one of complete, decline, void, expire, delete, deliver, sign`+"\n", errOut)

	code, out, errOut = dev.sandbox(t, "complete", envelope)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "DOCUSIGN "+envelope+": complete; status now completed")
	require.Regexp(t, `webhook envelope-completed +→ `+regexp.QuoteMeta(dev.base)+`/webhooks/DocuSign HTTP 2\d\d`, out)

	done := await(t, c, in.GetId(), completedIn("done"))
	require.Equal(t, flowhookv1.Outcome_OUTCOME_FINISHED, done.GetWorkItem().GetOutcome())
	pdf := signedDocument(t, c, in.GetId())
	require.Equal(t, "application/pdf", pdf.GetContentType())
	require.True(t, bytes.HasPrefix(pdf.GetContent(), []byte("%PDF")), "the signed document is a PDF")

	code, _, errOut = dev.sandbox(t, "complete", envelope)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "flowhook: DOCUSIGN refuses complete: envelope "+envelope+" is completed")
	require.Equal(t, 1, strings.Count(errOut, "\n"))

	// Decline, with a reason: the declined transition.
	in = waiting(t, c, wf)
	code, out, errOut = dev.sandbox(t, "decline", in.GetWorkItem().GetExternalId(), "--reason", "wrong amount")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "status now declined")
	await(t, c, in.GetId(), completedIn("rejected"))

	// delete is a void at DocuSign: DELETED.
	in = waiting(t, c, wf)
	code, out, errOut = dev.sandbox(t, "-reason", "withdrawn", "delete", in.GetWorkItem().GetExternalId())
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "delete (as void); status now voided")
	deleted := await(t, c, in.GetId(), completedIn("rejected"))
	require.Equal(t, flowhookv1.Outcome_OUTCOME_DELETED, deleted.GetWorkItem().GetOutcome())

	code, _, errOut = dev.sandbox(t, "complete", "no-such-envelope")
	require.Equal(t, 1, code)
	require.Equal(t, `flowhook: no work item "no-such-envelope" at the sandbox (GET /sandbox/work-items lists them)`+"\n", errOut)
}

// TestDevOneSpanAndConnectorLoops: the OneSpan package and the sandbox connector's ticket
// go the same way.
func TestDevOneSpanAndConnectorLoops(t *testing.T) {
	t.Parallel()
	dev, key := startDev(t, t.TempDir(), map[string]string{"FLOWHOOK_BOOTSTRAP_ADMIN_KEY": "fh_dev_loops_chosen_key_0123456789"})
	c := newClients(dev.base, key)
	require.Contains(t, dev.stdout.String(), "$FLOWHOOK_BOOTSTRAP_ADMIN_KEY (fh_dev_l…), the first admin's key")

	os, err := c.settings.GetOneSpanSettings(t.Context(), connect.NewRequest(&flowhookv1.GetOneSpanSettingsRequest{}))
	require.NoError(t, err)
	require.Equal(t, dev.base+"/sandbox/onespan", os.Msg.GetSettings().GetBaseUrl())
	conn, err := c.settings.GetConnector(t.Context(), connect.NewRequest(&flowhookv1.GetConnectorRequest{Name: "sandbox"}))
	require.NoError(t, err)
	require.Equal(t, dev.base+"/sandbox/tickets/tickets", conn.Msg.GetConnector().GetCreateUrl())

	oneSpan := publish(t, c, signingDraft("OneSpan loop", flowhookv1.Provider_PROVIDER_ONESPAN, ""))
	in := waiting(t, c, oneSpan)
	code, out, errOut := dev.sandbox(t, "complete", in.GetWorkItem().GetExternalId())
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "ONESPAN "+in.GetWorkItem().GetExternalId()+": complete; status now COMPLETED")
	require.Regexp(t, `webhook PACKAGE_COMPLETE +→ \S+/webhooks/OneSpan HTTP 2\d\d`, out)
	await(t, c, in.GetId(), completedIn("done"))
	zip := signedDocument(t, c, in.GetId())
	require.Equal(t, "application/zip", zip.GetContentType(), "OneSpan's signed documents come as a zip")
	require.True(t, bytes.HasPrefix(zip.GetContent(), []byte("PK\x03\x04")))

	in = waiting(t, c, oneSpan)
	code, out, errOut = dev.sandbox(t, "void", in.GetWorkItem().GetExternalId())
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "void (as trash)")
	await(t, c, in.GetId(), completedIn("rejected"))

	tickets := publish(t, c, signingDraft("Ticket loop", flowhookv1.Provider_PROVIDER_CONNECTOR, "sandbox"))
	in = waiting(t, c, tickets)
	ticket := in.GetWorkItem().GetExternalId()
	require.True(t, strings.HasPrefix(ticket, "TCK-"), ticket)
	code, out, errOut = dev.sandbox(t, "list")
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `connector:sandbox +`+ticket+` +ticket.created +complete, decline, void, expire, delete, approve, reject, resolve, comment`, out)
	code, out, errOut = dev.sandbox(t, "comment", ticket, "-reason", "looking into it")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "status now ticket.commented")
	code, out, errOut = dev.sandbox(t, "approve", ticket)
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `webhook ticket.approved +→ \S+/webhooks/c2i/sandbox HTTP 2\d\d`, out)
	approved := await(t, c, in.GetId(), completedIn("done"))
	require.Equal(t, flowhookv1.Outcome_OUTCOME_APPROVED, approved.GetWorkItem().GetOutcome())

	in = waiting(t, c, tickets)
	code, out, errOut = dev.sandbox(t, "decline", in.GetWorkItem().GetExternalId())
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "decline (as reject)")
	denied := await(t, c, in.GetId(), completedIn("rejected"))
	require.Equal(t, flowhookv1.Outcome_OUTCOME_DENIED, denied.GetWorkItem().GetOutcome())
}

// TestDevRestartRepointsAndAdoptsKey: a second dev on the same data dir (another port, new
// fake credentials) re-points the sandbox's settings, takes FLOWHOOK_BOOTSTRAP_ADMIN_KEY as
// an admin key although the first admin exists, and the loop works again.
func TestDevRestartRepointsAndAdoptsKey(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	first, generated := startDev(t, dataDir, nil)
	c := newClients(first.base, generated)
	wf := publish(t, c, signingDraft("Across restarts", flowhookv1.Provider_PROVIDER_DOCUSIGN, ""))
	require.Equal(t, 0, first.stop())

	chosen := "fh_readme_key_chosen_after_first_run_42"
	second, key := startDev(t, dataDir, map[string]string{"FLOWHOOK_BOOTSTRAP_ADMIN_KEY": chosen})
	require.NotEqual(t, first.base, second.base, "another port")
	require.Contains(t, second.stdout.String(), "added now to admin@flowhook.local's keys")
	c = newClients(second.base, key)
	me, err := c.identity.WhoAmI(t.Context(), connect.NewRequest(&flowhookv1.WhoAmIRequest{}))
	require.NoError(t, err)
	require.Equal(t, "admin@flowhook.local", me.Msg.GetUser().GetEmail())
	_, err = newClients(second.base, generated).identity.WhoAmI(t.Context(), connect.NewRequest(&flowhookv1.WhoAmIRequest{}))
	require.NoError(t, err, "the first key still works")

	ds, err := c.settings.GetDocuSignSettings(t.Context(), connect.NewRequest(&flowhookv1.GetDocuSignSettingsRequest{}))
	require.NoError(t, err)
	require.Equal(t, second.base+"/sandbox/docusign", ds.Msg.GetSettings().GetOauthBaseUrl())

	in := waiting(t, c, wf)
	code, _, errOut := second.sandbox(t, "complete", in.GetWorkItem().GetExternalId())
	require.Equal(t, 0, code, errOut)
	await(t, c, in.GetId(), completedIn("done"))
	require.Equal(t, 0, second.stop())

	// A third start with the same key: already an admin's, nothing added.
	third, _ := startDev(t, dataDir, map[string]string{"FLOWHOOK_BOOTSTRAP_ADMIN_KEY": chosen})
	require.Contains(t, third.stdout.String(), "already an admin's key")
}

// TestDevKeepsRealProviderSettings: settings an admin gave for a real account are left alone
// at the next start, and the log says so.
func TestDevKeepsRealProviderSettings(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	first, key := startDev(t, dataDir, nil)
	c := newClients(first.base, key)
	cur, err := c.settings.GetOneSpanSettings(t.Context(), connect.NewRequest(&flowhookv1.GetOneSpanSettingsRequest{}))
	require.NoError(t, err)
	_, err = c.settings.UpdateOneSpanSettings(t.Context(), connect.NewRequest(&flowhookv1.UpdateOneSpanSettingsRequest{
		BaseUrl: "https://apps.esignlive.com", ExpectedRevision: cur.Msg.GetSettings().GetRevision()}))
	require.NoError(t, err)
	require.Equal(t, 0, first.stop())

	second, _ := startDev(t, dataDir, nil)
	c = newClients(second.base, key)
	got, err := c.settings.GetOneSpanSettings(t.Context(), connect.NewRequest(&flowhookv1.GetOneSpanSettingsRequest{}))
	require.NoError(t, err)
	require.Equal(t, "https://apps.esignlive.com", got.Msg.GetSettings().GetBaseUrl())
	require.Contains(t, second.stderr.String(), `NOT the sandbox's","systems":"ONESPAN"`)
	ds, err := c.settings.GetDocuSignSettings(t.Context(), connect.NewRequest(&flowhookv1.GetDocuSignSettingsRequest{}))
	require.NoError(t, err)
	require.Equal(t, second.base+"/sandbox/docusign", ds.Msg.GetSettings().GetOauthBaseUrl())
}

// TestServeWithoutSandbox: production mode has no /sandbox and configures nothing; the
// sandbox command says so. With --sandbox the same sandbox is there.
func TestServeWithoutSandbox(t *testing.T) {
	t.Parallel()
	key := "fh_serve_without_sandbox_key_0123"
	srv := startServer(t, map[string]string{"FLOWHOOK_BOOTSTRAP_ADMIN_KEY": key}, "serve", "-addr", "127.0.0.1:0", "-data-dir", t.TempDir())
	res, err := http.Get(srv.base + "/sandbox/work-items")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	c := newClients(srv.base, key)
	ds, err := c.settings.GetDocuSignSettings(t.Context(), connect.NewRequest(&flowhookv1.GetDocuSignSettingsRequest{}))
	require.NoError(t, err)
	require.Zero(t, ds.Msg.GetSettings().GetRevision(), "DocuSign left unconfigured")
	os, err := c.settings.GetOneSpanSettings(t.Context(), connect.NewRequest(&flowhookv1.GetOneSpanSettingsRequest{}))
	require.NoError(t, err)
	require.Zero(t, os.Msg.GetSettings().GetRevision(), "OneSpan left unconfigured")
	list, err := c.settings.ListConnectors(t.Context(), connect.NewRequest(&flowhookv1.ListConnectorsRequest{}))
	require.NoError(t, err)
	require.Empty(t, list.Msg.GetConnectors())
	require.NotContains(t, srv.stderr.String(), "SANDBOX")

	code, out, errOut := srv.sandbox(t, "list")
	require.Equal(t, 1, code)
	require.Empty(t, out)
	require.Equal(t, "flowhook: the server at "+srv.base+" has no sandbox: start it with 'flowhook dev' (or 'flowhook serve --sandbox')\n", errOut)

	with := startServer(t, map[string]string{"FLOWHOOK_BOOTSTRAP_ADMIN_KEY": key, "FLOWHOOK_SANDBOX": "true"}, "serve", "-addr", "127.0.0.1:0", "-data-dir", t.TempDir())
	require.Contains(t, with.stderr.String(), `"level":"WARN","msg":"SANDBOX MODE`)
	code, out, errOut = with.sandbox(t, "list")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "No work items at the sandbox yet")
}

// TestSandboxNoServer: nothing listening is one clear line.
func TestSandboxNoServer(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"sandbox", "complete", "abc", "-addr", addr}, env(nil), &stdout, &stderr)
	require.Equal(t, 1, code)
	require.Equal(t, "flowhook: no flowhook server answers at http://"+addr+" (start one with 'flowhook dev', or set FLOWHOOK_ADDR / -addr)\n", stderr.String())

	// An external id that begins with '-' (a OneSpan package id may) is the id, not a flag:
	// the command gets as far as the server, before or after -addr.
	for _, args := range [][]string{{"sandbox", "void", "-G8RqcFNZPNT7b_oR3medMVU8TY=", "-addr", addr}, {"sandbox", "-addr", addr, "void", "-G8RqcFNZPNT7b_oR3medMVU8TY="}} {
		stdout.Reset()
		stderr.Reset()
		require.Equal(t, 1, run(t.Context(), args, env(nil), &stdout, &stderr))
		require.Contains(t, stderr.String(), "no flowhook server answers at http://"+addr, args)
	}
	// Before the action, an unknown flag is still one.
	stderr.Reset()
	require.Equal(t, 1, run(t.Context(), []string{"sandbox", "-bogus", "void", "x", "-addr", addr}, env(nil), &stdout, &stderr))
	require.Contains(t, stderr.String(), "flag provided but not defined: -bogus")
}

// TestDevSandboxHeldWebhooks: once flowhook refused one of the fake DocuSign's Connect
// messages (here its HMAC key was changed), the fake marks the listener down and queues the
// later ones, as DocuSign does; `flowhook sandbox complete` then says the webhook is held,
// how to post it, and exits 1 — not "no webhook sent" with 0 while the instance never moves.
// The redelivery it names posts it, once flowhook knows the key again.
func TestDevSandboxHeldWebhooks(t *testing.T) {
	t.Parallel()
	dev, key := startDev(t, t.TempDir(), nil)
	c := newClients(dev.base, key)
	in := waiting(t, c, publish(t, c, signingDraft("Held webhooks", flowhookv1.Provider_PROVIDER_DOCUSIGN, "")))
	envelope := in.GetWorkItem().GetExternalId()

	setHMAC := func(keys ...string) {
		t.Helper()
		ds, err := c.settings.GetDocuSignSettings(t.Context(), connect.NewRequest(&flowhookv1.GetDocuSignSettingsRequest{}))
		require.NoError(t, err)
		cur := ds.Msg.GetSettings()
		_, err = c.settings.UpdateDocuSignSettings(t.Context(), connect.NewRequest(&flowhookv1.UpdateDocuSignSettingsRequest{
			AccountId: cur.GetAccountId(), IntegrationKey: cur.GetIntegrationKey(), UserId: cur.GetUserId(), OauthBaseUrl: cur.GetOauthBaseUrl(),
			HmacKeys: keys, ReplaceHmacKeys: true, ExpectedRevision: cur.GetRevision()}))
		require.NoError(t, err)
	}
	setHMAC("bm90IHRoZSBzYW5kYm94J3Mga2V5IGF0IGFsbCwgbm90IGF0IGFsbA==")
	code, out, errOut := dev.sandbox(t, "deliver", envelope)
	require.Equal(t, 1, code, out)
	require.Regexp(t, `webhook recipient-delivered +→ \S+/webhooks/DocuSign HTTP 401\n`+
		`  webhook recipient-delivered +→ \S+/webhooks/DocuSign held for redelivery\n`+
		`  webhook envelope-delivered +→ \S+/webhooks/DocuSign held, not posted\n`, out)
	redeliver := dev.base + "/sandbox/control/docusign/redeliver"
	require.Equal(t, "flowhook: flowhook did not accept 1 of the 1 webhooks (see the Event Log: EventLogService.ListEvents); "+
		"the sandbox holds 2 webhook(s) of "+envelope+" until they are redelivered: curl -X POST "+redeliver+"\n", errOut)

	code, out, errOut = dev.sandbox(t, "complete", envelope)
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "DOCUSIGN "+envelope+": complete; status now completed")
	require.Regexp(t, `webhook envelope-completed +→ \S+/webhooks/DocuSign held, not posted`, out)
	require.NotContains(t, out, "no webhook sent")
	require.Contains(t, errOut, "the sandbox holds 4 webhook(s) of "+envelope+" until they are redelivered: curl -X POST "+redeliver)

	res, err := http.Get(dev.base + "/sandbox/control/docusign/account")
	require.NoError(t, err)
	var account struct {
		HMACKeys []string `json:"hmacKeys"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&account))
	require.NoError(t, res.Body.Close())
	setHMAC(account.HMACKeys...)
	res, err = http.Post(redeliver, "application/json", nil)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	require.Equal(t, http.StatusOK, res.StatusCode)
	await(t, c, in.GetId(), completedIn("done"))
}

// TestDevBannerHints: every command the banner suggests pasting in a second terminal names the
// address bound, unless it is the sandbox command's default, where none does.
func TestDevBannerHints(t *testing.T) {
	t.Parallel()
	for addr, prefix := range map[string]string{
		"127.0.0.1:8080":  "",
		"127.0.0.1:18481": "FLOWHOOK_ADDR=127.0.0.1:18481 ",
	} {
		cfg := config.Default()
		cfg.Addr, cfg.PublicURL, cfg.DataDir = addr, "http://"+addr, "./.flowhook"
		var out bytes.Buffer
		banner(&out, cfg, &app.App{}, true, addr)
		_, next, ok := strings.Cut(out.String(), "\nNext, in a second terminal")
		require.True(t, ok, out.String())
		var hints []string
		for _, line := range strings.Split(next, "\n") {
			if strings.Contains(line, "flowhook sandbox ") {
				hints = append(hints, line)
			}
		}
		require.Len(t, hints, 2, next)
		require.Equal(t, "  "+prefix+"flowhook sandbox list", hints[0], addr)
		require.True(t, strings.HasPrefix(hints[1], "  "+prefix+"flowhook sandbox complete <external id>"), "%s: %q", addr, hints[1])
	}
}
