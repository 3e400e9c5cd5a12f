// Package flowhooktest runs a real flowhook server in-process, for the tests and examples of
// code that calls the flowhook API.
//
// Start runs what `flowhook serve` runs (app.New and Serve) on an embedded SQLite database
// in a temporary directory, on a loopback port, with a random bootstrap admin key and a local
// DocuSign (a faithful fake of its REST API and Connect webhooks) configured as the server's
// DocuSign account. Nothing leaves the machine, and everything stops when the test ends:
//
//	func TestContracts(t *testing.T) {
//		srv := flowhooktest.Start(t)
//		admin := client.New(nil, srv.URL, srv.AdminKey) // package github.com/flowhook/flowhook/client
//		// … publish a workflow with an EXTERNAL DocuSign state, start an instance, and poll
//		// GetInstance until its work_item.external_id, the envelope's id, is set …
//		if err := srv.DocuSign.Complete(envelopeID); err != nil {
//			t.Fatal(err)
//		}
//		// … the instance takes the state's OUTCOME_FINISHED transition …
//	}
//
// The server speaks Connect, gRPC and gRPC-Web on one port, over HTTP/1.1 and cleartext
// HTTP/2 (h2c, which gRPC clients need). Its logs are discarded and its spans go nowhere.
//
// Of testing.TB, Start calls only Helper, Cleanup, TempDir and Fatalf (from the goroutine that
// called it), and Errorf (from its cleanups), so a stand-in that embeds testing.TB and
// implements those can drive it from an example function, which gets no *testing.T.
package flowhooktest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/trace/noop"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/gen/flowhook/v1/flowhookv1connect"
	"github.com/flowhook/flowhook/server/internal/app"
	"github.com/flowhook/flowhook/server/internal/config"
	"github.com/flowhook/flowhook/server/internal/provider/docusign/docusignfake"
	"github.com/flowhook/flowhook/server/internal/telemetry"
)

// startTimeout bounds the start-up: migrations, the first answer of /healthz, and the
// DocuSign configuration.
const startTimeout = 30 * time.Second

// Server is a running flowhook server and the DocuSign account it is configured with.
type Server struct {
	// URL is the base URL of the API and of the webhooks, e.g. http://127.0.0.1:41234 (no
	// trailing slash). It is also the server's public URL: DocuSign calls back to
	// URL + "/webhooks/DocuSign".
	URL string
	// AdminKey is the API key of the bootstrap admin (admin@flowhook.local, ROLE_ADMIN),
	// random for every server. Send it as "Authorization: Bearer <AdminKey>".
	AdminKey string
	// DocuSign is the (fake) DocuSign account the server creates its envelopes in.
	DocuSign *DocuSign
}

// DocuSign is the local DocuSign account a Server is configured with. Its methods act as the
// envelopes' signers would, and return once DocuSign's Connect notifications have been
// delivered to the server. They are safe for concurrent use.
//
// As the real DocuSign does, it sends envelope-sent while the server's create call is still
// waiting for its answer, so the server keeps that notification until the envelope is coupled
// to its instance and processes it a moment later, in the background. A test that compares an
// instance's timeline or the Event Log waits until EventLogService.ListEvents shows no PENDING
// event for the envelope before moving it on.
type DocuSign struct {
	fake *docusignfake.Fake
}

// Envelopes returns the ids of the envelopes created so far, oldest first. The server creates
// an envelope in the background when an instance enters an EXTERNAL DocuSign state; the id is
// also the instance's work_item.external_id once the envelope is coupled to it.
func (d *DocuSign) Envelopes() []string {
	var ids []string
	for _, c := range d.fake.Envelopes() {
		if c.EnvelopeID != "" { // refused creates have none
			ids = append(ids, c.EnvelopeID)
		}
	}
	return ids
}

// Complete has every remaining signer of the envelope sign it: DocuSign sends
// recipient-completed for each, then envelope-completed (the outcome OUTCOME_FINISHED), to the
// server's /webhooks/DocuSign. It fails when the envelope does not exist or is no longer out
// for signature, or when the server did not acknowledge a notification.
func (d *DocuSign) Complete(envelopeID string) error {
	return d.acknowledged(envelopeID, func() error { return d.fake.Complete(envelopeID) })
}

// Decline has the envelope's current signer decline it with the reason: DocuSign sends
// recipient-declined, then envelope-declined (the outcome OUTCOME_DENIED), to the server. It
// fails like Complete.
func (d *DocuSign) Decline(envelopeID, reason string) error {
	return d.acknowledged(envelopeID, func() error { return d.fake.Decline(envelopeID, reason) })
}

// acknowledged runs move and reports the first of its notifications the server did not answer
// with a 2xx (DocuSign would retry it later; a test wants to know now).
func (d *DocuSign) acknowledged(envelopeID string, move func() error) error {
	before := d.fake.DeliveryCount()
	if err := move(); err != nil {
		return fmt.Errorf("flowhooktest: DocuSign: %w", err)
	}
	for _, dl := range d.fake.DeliveriesSince(before) {
		if dl.EnvelopeID != envelopeID || dl.OK() {
			continue
		}
		if dl.StatusCode == 0 {
			return fmt.Errorf("flowhooktest: DocuSign could not deliver %s of envelope %s: %s", dl.Event, envelopeID, dl.Err)
		}
		return fmt.Errorf("flowhooktest: the server answered %d to %s of envelope %s", dl.StatusCode, dl.Event, envelopeID)
	}
	return nil
}

// Start runs a flowhook server until the test ends (tb.Cleanup stops it, drains it and
// removes its database). It fails the test, saying why, when the server cannot start.
func Start(tb testing.TB) *Server {
	tb.Helper()
	adminKey := "fh_" + randomText(32)
	hmacKey := randomText(32)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatalf("flowhooktest: generate the DocuSign integration's RSA key: %v", err)
	}

	// DocuSign first: its cleanup, registered first, runs after the server has stopped, so
	// that no job of a draining server finds it gone.
	connectPosts := &http.Transport{} // DocuSign Connect's, to the server's webhook
	fake := docusignfake.New(docusignfake.Options{
		PublicKey:  &rsaKey.PublicKey,
		HMACKeys:   []string{hmacKey},
		HTTPClient: &http.Client{Timeout: startTimeout, Transport: connectPosts},
	})
	docuSign := httptest.NewServer(fake.Handler())
	tb.Cleanup(func() {
		docuSign.Close()
		connectPosts.CloseIdleConnections()
	})

	dataDir := tb.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("flowhooktest: listen on a loopback port: %v", err)
	}
	baseURL := "http://" + ln.Addr().String()
	cfg := config.Default()
	cfg.Addr = ln.Addr().String()
	cfg.DataDir = dataDir
	cfg.PublicURL = baseURL // DocuSign calls back to this very server
	cfg.BootstrapAdminKey = adminKey
	if err := cfg.Validate(); err != nil {
		ln.Close()
		tb.Fatalf("flowhooktest: configuration: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler), &telemetry.Telemetry{TracerProvider: noop.NewTracerProvider()})
	if err != nil {
		cancel()
		ln.Close()
		tb.Fatalf("flowhooktest: start the server: %v", err)
	}
	exited := make(chan struct{})
	var serveErr error
	go func() {
		defer close(exited)
		serveErr = a.Serve(ctx, ln)
	}()
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
	tb.Cleanup(func() {
		hc.CloseIdleConnections()
		cancel()
		<-exited
		if serveErr != nil {
			tb.Errorf("flowhooktest: the server stopped with an error: %v", serveErr)
		}
		if err := a.Close(); err != nil {
			tb.Errorf("flowhooktest: close the database: %v", err)
		}
	})

	if err := waitHealthy(hc, baseURL, exited, &serveErr); err != nil {
		tb.Fatalf("flowhooktest: %v", err)
	}
	if err := configureDocuSign(hc, baseURL, adminKey, fake, docuSign.URL, rsaKey, hmacKey); err != nil {
		tb.Fatalf("flowhooktest: configure DocuSign: %v", err)
	}
	return &Server{URL: baseURL, AdminKey: adminKey, DocuSign: &DocuSign{fake: fake}}
}

// waitHealthy polls GET /healthz until it answers 200, or returns why it never will: Serve
// returned (its error is read once exited is closed), or the start-up timed out.
func waitHealthy(hc *http.Client, baseURL string, exited <-chan struct{}, serveErr *error) error {
	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		res, err := probe(hc, baseURL+"/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET /healthz: %s", res.Status)
		}
		last = err
		select {
		case <-exited:
			return fmt.Errorf("the server stopped before it answered: %v", *serveErr)
		case <-deadline.C:
			return fmt.Errorf("the server did not answer within %s: %v", startTimeout, last)
		case <-tick.C:
		}
	}
}

// probe is one GET of url, given a second: a server that accepted the connection but stopped
// serving must not hold up waitHealthy, which watches for that.
func probe(hc *http.Client, url string) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	res, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, res.Body) // small; read while the context lives
	return res, nil
}

// configureDocuSign saves the fake as the server's DocuSign account through the API, as an
// admin would, and checks that the server can sign in to it.
func configureDocuSign(hc *http.Client, baseURL, adminKey string, fake *docusignfake.Fake, fakeURL string, key *rsa.PrivateKey, hmacKey string) error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	settings := flowhookv1connect.NewProviderSettingsServiceClient(hc, baseURL)
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	update := connect.NewRequest(&flowhookv1.UpdateDocuSignSettingsRequest{
		AccountId: fake.AccountID(), IntegrationKey: fake.IntegrationKey(), UserId: fake.UserID(), OauthBaseUrl: fakeURL,
		PrivateKeyPem: &pemKey, HmacKeys: []string{hmacKey}, ReplaceHmacKeys: true,
	})
	update.Header().Set("Authorization", "Bearer "+adminKey)
	saved, err := settings.UpdateDocuSignSettings(ctx, update)
	if err != nil {
		return err
	}
	s := saved.Msg.GetSettings()
	if want := baseURL + "/webhooks/DocuSign"; !s.GetPrivateKeySet() || s.GetHmacKeyCount() != 1 || s.GetWebhookUrl() != want {
		return fmt.Errorf("saved settings: private key set %t, %d HMAC keys, webhook URL %q (want true, 1, %q)",
			s.GetPrivateKeySet(), s.GetHmacKeyCount(), s.GetWebhookUrl(), want)
	}
	test := connect.NewRequest(&flowhookv1.TestProviderConnectionRequest{Provider: flowhookv1.Provider_PROVIDER_DOCUSIGN})
	test.Header().Set("Authorization", "Bearer "+adminKey)
	res, err := settings.TestProviderConnection(ctx, test)
	if err != nil {
		return err
	}
	if !res.Msg.GetOk() {
		return fmt.Errorf("the connection test failed: %s", res.Msg.GetMessage())
	}
	return nil
}

// randomText is n random bytes from crypto/rand, base64url-encoded (no spaces, no padding).
func randomText(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}
