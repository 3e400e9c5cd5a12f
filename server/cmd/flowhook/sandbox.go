package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/flowhook/flowhook/server/internal/sandbox"
)

const sandboxUsage = `usage: flowhook sandbox list [flags]
       flowhook sandbox <action> <external id> [flags]

Act as the outside system against a running flowhook dev (or serve --sandbox) server: list
the work items at the sandbox's fake DocuSign, OneSpan and ticketing system, or make the
fake holding a work item do something and send its real, signed webhook to flowhook.

actions:
  complete   the item is done: every signer signs (DocuSign, OneSpan); a ticket is resolved
  decline    a signer declines; a ticket is rejected
  void       the sender voids the envelope; a OneSpan package is trashed; a ticket deleted
  expire     the item passes its deadline
  delete     a OneSpan package or a ticket is deleted; a DocuSign envelope is voided
             (DocuSign has no deletion of an envelope out for signature)
  and each system's own: deliver, sign (DocuSign); sign, optout, archive, trash (OneSpan);
  approve, reject, resolve, comment (tickets). 'flowhook sandbox list' shows what each
  item accepts now.

flags:
`

// sandboxCommand runs `flowhook sandbox …`: a client of the sandbox's control API.
func sandboxCommand(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("flowhook sandbox", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addr := fs.String("addr", "127.0.0.1:8080", "host:port of the flowhook server (env FLOWHOOK_ADDR)")
	if v := getenv("FLOWHOOK_ADDR"); v != "" {
		*addr = v
	}
	reason := fs.String("reason", "", "the reason sent with the action (a decline's, a void's, a comment's text)")
	// Flags may come before, between or after the two words. An external id may begin with
	// '-' (OneSpan's are URL-safe base64): after the action, an argument that names no flag is
	// the id.
	var words []string
	for {
		if len(words) == 1 && len(args) > 0 && isWord(fs, args[0]) {
			words, args = append(words, args[0]), args[1:]
			continue
		}
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(stdout, sandboxUsage)
				fs.SetOutput(stdout)
				fs.PrintDefaults()
				fs.SetOutput(io.Discard)
				return err
			}
			return fmt.Errorf("%w (see 'flowhook sandbox -h')", err)
		}
		if fs.NArg() == 0 {
			break
		}
		words = append(words, fs.Arg(0))
		args = fs.Args()[1:]
	}
	base, err := serverURL(*addr)
	if err != nil {
		return err
	}
	c := sandboxClient{base: base, http: &http.Client{Timeout: 2 * time.Minute}}
	switch {
	case len(words) == 0:
		return errors.New("sandbox: want 'list' or an action and an external id (see 'flowhook sandbox -h')")
	case len(words) == 1 && words[0] == "list":
		return c.list(ctx, stdout)
	case words[0] == "list":
		// Not the action "list" on an item: list takes no external id.
		return fmt.Errorf("sandbox: list takes no external id, got %q (see 'flowhook sandbox -h')", strings.Join(words, " "))
	case len(words) == 2:
		return c.act(ctx, stdout, words[0], words[1], *reason)
	default:
		return fmt.Errorf("sandbox: want 'list' or an action and an external id, got %q (see 'flowhook sandbox -h')", strings.Join(words, " "))
	}
}

// serverURL is the base URL of the server listening on addr, as `flowhook dev` reads it: a
// host left out or unspecified (:8080, 0.0.0.0:8080) is this machine.
func serverURL(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("addr %q: want host:port, e.g. 127.0.0.1:8080", addr)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port), nil
}

type sandboxClient struct {
	base string
	http *http.Client
}

// call makes a request to the sandbox and decodes its JSON answer into out; every failure is
// one readable sentence.
func (c sandboxClient) call(ctx context.Context, method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) && ctx.Err() == nil {
			return fmt.Errorf("no flowhook server answers at %s (start one with 'flowhook dev', or set FLOWHOOK_ADDR / -addr)", c.base)
		}
		return err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("read the answer of %s: %w", c.base, err)
	}
	var e struct {
		Error string `json:"error"`
	}
	isJSON := strings.HasPrefix(res.Header.Get("Content-Type"), "application/json")
	switch {
	case res.StatusCode == http.StatusOK && isJSON:
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("the answer of %s is not the sandbox's: %w", c.base, err)
		}
		return nil
	case isJSON && json.Unmarshal(raw, &e) == nil && e.Error != "":
		return errors.New(e.Error)
	case res.StatusCode == http.StatusNotFound:
		return fmt.Errorf("the server at %s has no sandbox: start it with 'flowhook dev' (or 'flowhook serve --sandbox')", c.base)
	default:
		return fmt.Errorf("the server at %s answered %s", c.base, res.Status)
	}
}

func (c sandboxClient) list(ctx context.Context, w io.Writer) error {
	var out struct {
		WorkItems []sandbox.WorkItem `json:"workItems"`
	}
	if err := c.call(ctx, http.MethodGet, sandbox.Prefix+"/work-items", nil, &out); err != nil {
		return err
	}
	if len(out.WorkItems) == 0 {
		fmt.Fprintln(w, "No work items at the sandbox yet: start an instance of a workflow that enters an EXTERNAL state.")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SYSTEM\tEXTERNAL ID\tSTATUS\tACTIONS")
	for _, it := range out.WorkItems {
		actions := strings.Join(it.Actions, ", ")
		if actions == "" {
			actions = "(none: finished)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", it.System, it.ExternalID, it.Status, actions)
	}
	return tw.Flush()
}

func (c sandboxClient) act(ctx context.Context, w io.Writer, action, id, reason string) error {
	var body any
	if reason != "" {
		body = map[string]string{"reason": reason}
	}
	var out sandbox.ActionResult
	path := sandbox.Prefix + "/work-items/" + url.PathEscape(id) + "/" + url.PathEscape(action)
	if err := c.call(ctx, http.MethodPost, path, body, &out); err != nil {
		return err
	}
	as := out.Action
	if out.Performed != out.Action {
		as += " (as " + out.Performed + ")"
	}
	fmt.Fprintf(w, "%s %s: %s; status now %s\n", out.System, out.ExternalID, as, out.Status)
	failed := 0
	for _, d := range out.Deliveries {
		result := fmt.Sprintf("HTTP %d", d.StatusCode)
		if d.StatusCode == 0 {
			result = "not delivered: " + d.Error
		}
		if d.StatusCode < 200 || d.StatusCode > 299 {
			failed++
		}
		fmt.Fprintf(w, "  webhook %-24s → %s %s\n", d.Event, d.URL, result)
	}
	for _, h := range out.Held {
		// A fake keeps what flowhook did not accept and, as DocuSign does once its listener
		// is down, may queue the later ones untried.
		held := "held, not posted"
		if h.Tried {
			held = "held for redelivery"
		}
		fmt.Fprintf(w, "  webhook %-24s → %s %s\n", h.Event, h.URL, held)
	}
	if len(out.Deliveries) == 0 && len(out.Held) == 0 {
		fmt.Fprintln(w, "  no webhook sent (flowhook is not subscribed to this event)")
	}
	var problems []string
	if failed > 0 {
		problems = append(problems, fmt.Sprintf("flowhook did not accept %d of the %d webhooks (see the Event Log: EventLogService.ListEvents)", failed, len(out.Deliveries)))
	}
	if len(out.Held) > 0 {
		problems = append(problems, fmt.Sprintf("the sandbox holds %d webhook(s) of %s until they are redelivered: curl -X POST %s%s",
			len(out.Held), out.ExternalID, c.base, out.Redeliver))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// isWord says whether arg, in an id's place, is the id: it names none of fs's flags (nor help),
// and is not "--".
func isWord(fs *flag.FlagSet, arg string) bool {
	if !strings.HasPrefix(arg, "-") {
		return false
	}
	name, _, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
	return arg != "--" && name != "" && name != "h" && name != "help" && fs.Lookup(name) == nil
}
