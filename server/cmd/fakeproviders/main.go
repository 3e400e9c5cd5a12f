// Command fakeproviders runs local stand-ins for DocuSign, OneSpan Sign and a ticketing system
// reached through a connector, for developing a front end against a real flowhook with nothing
// outside the machine, and for the TypeScript SDK's tests. The fakes are the ones the Go tests
// use (server/internal/provider/…fake): they follow the real API shapes — the ticketing fake
// follows flowhook's connector protocol (Standard Webhooks signatures both ways) — so flowhook
// talks to them with its real clients, and they deliver webhooks (DocuSign Connect messages
// with HMAC signatures, OneSpan callbacks with the callback key, signed ticket events) back to
// flowhook exactly as the systems would.
//
//	fakeproviders [-addr 127.0.0.1] [-keep 10000]
//
// Each fake listens on its own free loopback port. Once they listen, one JSON line goes to
// stdout:
//
//	{"docusign":"http://127.0.0.1:41001","onespan":"http://127.0.0.1:41002","tickets":"http://127.0.0.1:41003","control":"http://127.0.0.1:41004"}
//
// The control URL serves a small JSON API that plays the signers', senders' and agents' part:
//
//	GET  /docusign/account                   accountId, integrationKey, userId, privateKeyPem, hmacKeys,
//	                                         oauthBaseUrl: what UpdateDocuSignSettings needs
//	GET  /docusign/envelopes                 envelopes created so far: envelopeId, status, subject
//	POST /docusign/envelopes/{id}/{action}   deliver | sign | complete | decline | void | expire;
//	                                         body {"reason": "…"} for decline and void
//	GET  /docusign/deliveries                the Connect messages posted (the newest -keep): envelopeId, event, statusCode, …
//	GET  /docusign/held                      Connect's failure log: messages that failed and those queued
//	                                         untried behind them while the listener is down (id, event, url, tried)
//	POST /docusign/redeliver                 republish the held messages now, in order, each once (instead of
//	                                         Connect's daily retry): the deliveries made, and what is still held
//	PUT  /docusign/duplicates                {"count": n}: post every message n times from now on (1 to 10)
//	GET  /onespan/account                    apiKey, baseUrl (and callbackKey when callbacks are registered):
//	                                         what UpdateOneSpanSettings needs
//	GET  /onespan/packages                   packages created so far: packageId, status, name
//	POST /onespan/packages/{id}/{action}     sign | complete | decline | optout | expire | archive | trash | delete;
//	                                         body {"waitDownloads": "30s"} (0s–1m): answered once flowhook downloaded
//	                                         the signed documents too (or when the wait passed), with downloads
//	GET  /onespan/packages/{id}/downloads    how often its documents were downloaded; ?wait=30s[&atLeast=1]:
//	                                         answered once they were at least atLeast times (or when wait passed)
//	GET  /onespan/deliveries                 the callbacks posted (the newest -keep): packageId, event, statusCode, …
//	GET  /onespan/held                       callbacks that failed (OneSpan never retries; later ones still go)
//	POST /onespan/redeliver                  resend them now, in order, each once: deliveries made, still held
//	PUT  /onespan/duplicates                 {"count": n}: post every callback n times from now on (1 to 10)
//	GET  /tickets/account                    signingSecret, createUrl, statusUrl, cancelUrl, outcomes (event
//	                                         type → outcome): what CreateConnector needs
//	PUT  /tickets/secret                     {"secret": "whsec_…"}: use a secret flowhook generated instead
//	GET  /tickets/tickets                    tickets created so far: id, workItemId, state, latestType, reason
//	POST /tickets/tickets/{id}/{action}      approve | reject | resolve | delete | expire | comment;
//	                                         body {"reason": "…"} (a comment's text)
//	GET  /tickets/deliveries                 the ticket events posted (the newest -keep): id, event, statusCode, …
//	GET  /tickets/held                       events whose delivery failed (later ones still go)
//	POST /tickets/redeliver                  redeliver them now, in order, each once, signed anew: deliveries
//	                                         made, still held
//	PUT  /tickets/duplicates                 {"count": n}: post every event n times from now on (1 to 10)
//
// An action answers once the system's notifications have been posted to flowhook, with the
// deliveries it made. An action's body may also say {"reorder": true}: from that action on,
// the item's notifications (the action's own included) are held until the item ends, then
// posted all at once, newest first, so that its outcome arrives before the progress that
// preceded it. A notification flowhook did not acknowledge (down, or not 2xx) is held:
// DocuSign then queues every later message for that listener until its retry, a day later at
// the real service; POST …/redeliver posts what is held at once, as the real systems'
// republish or resend does, and a second one posts nothing. The credentials are generated at
// start and live only in this process; the fakes hold everything in memory and forget it when
// the command stops (SIGINT/SIGTERM). Of the requests they answered and the notifications they
// posted, each keeps only its newest -keep (default 10,000; -1 keeps all), so that a long run
// (the load tool's) does not grow with its traffic; items are all kept.
//
// The same fakes and control API are what `flowhook dev` serves on its own listener under
// /sandbox/ (package server/internal/sandbox), with the control API at /sandbox/control/….
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/flowhook/flowhook/server/internal/sandbox"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "fakeproviders:", err)
		os.Exit(1)
	}
}

// URLs is the line the command prints once every fake listens.
type URLs struct {
	DocuSign string `json:"docusign"`
	OneSpan  string `json:"onespan"`
	Tickets  string `json:"tickets"`
	Control  string `json:"control"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fakeproviders", flag.ContinueOnError)
	fs.SetOutput(stderr)
	host := fs.String("addr", "127.0.0.1", "host (or IP) the fakes listen on, each on a free port")
	keep := fs.Int("keep", sandbox.DefaultKeep, "how many of its newest requests and deliveries each fake keeps (-1: all)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *keep == 0 || *keep < -1 {
		return fmt.Errorf("-keep %d: want a positive count, or -1 for all", *keep)
	}
	f, err := sandbox.NewFakes(sandbox.FakesOptions{Keep: *keep})
	if err != nil {
		return err
	}
	// Listen on every port first: the control API tells the ticketing fake's URL.
	const count = 4 // docusign, onespan, tickets, control
	lns := make([]net.Listener, 0, count)
	defer func() {
		for _, ln := range lns {
			ln.Close() // after Shutdown a no-op; on an early return, frees the ports
		}
	}()
	urls := make([]string, count)
	for i := range count {
		ln, err := net.Listen("tcp", net.JoinHostPort(*host, "0"))
		if err != nil {
			return fmt.Errorf("listen: %w", err)
		}
		lns = append(lns, ln)
		urls[i] = "http://" + ln.Addr().String()
	}
	f.DocuSignURL, f.OneSpanURL, f.TicketsURL = urls[0], urls[1], urls[2]
	handlers := []http.Handler{f.DocuSign.Handler(), f.OneSpan.Handler(), f.Tickets.Handler(), f.Control()}
	servers := make([]*http.Server, count)
	errc := make(chan error, count)
	for i, h := range handlers {
		servers[i] = &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
		go func() { errc <- servers[i].Serve(lns[i]) }()
	}
	line, err := json.Marshal(URLs{DocuSign: urls[0], OneSpan: urls[1], Tickets: urls[2], Control: urls[3]})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, string(line))

	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(shutdown)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
