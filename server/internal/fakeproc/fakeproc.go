// Package fakeproc runs the provider fakes (server/cmd/fakeproviders) as a process of their own
// and calls their JSON control API. The chaos soak and the load tool both drive flowhook
// against them.
package fakeproc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"time"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
)

// URLs is the line fakeproviders prints once it listens: where each fake and the control API are.
type URLs struct {
	DocuSign string `json:"docusign"`
	OneSpan  string `json:"onespan"`
	Tickets  string `json:"tickets"`
	Control  string `json:"control"`
}

// Fakes is a client of the fakes' control API, and their process when Start ran it.
type Fakes struct {
	URLs URLs
	hc   *http.Client
	cmd  *exec.Cmd
	done chan struct{}
}

// PID is the fakes' process id when Start ran them (0 when attached to running fakes).
func (f *Fakes) PID() int {
	if f.cmd == nil || f.cmd.Process == nil {
		return 0
	}
	return f.cmd.Process.Pid
}

// Attach is a client of fakes that run already.
func Attach(urls URLs, hc *http.Client) *Fakes {
	return &Fakes{URLs: urls, hc: hc}
}

// Start runs bin (a fakeproviders binary) with args (its flags: "-keep", "-1") and returns
// once it printed its URLs. Its stderr, and its stdout after that first line, go to log (nil:
// discarded).
func Start(ctx context.Context, bin string, log io.Writer, hc *http.Client, args ...string) (*Fakes, error) {
	if log == nil {
		log = io.Discard
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = log
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	f := &Fakes{hc: hc, cmd: cmd, done: make(chan struct{})}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(log, stdout)
	}()
	go func() {
		_ = cmd.Wait()
		close(f.done)
	}()
	select {
	case line, ok := <-lines:
		if !ok {
			f.Stop()
			return nil, errors.New("fakeproviders exited before printing its URLs")
		}
		if err := json.Unmarshal([]byte(line), &f.URLs); err != nil || f.URLs.Control == "" {
			f.Stop()
			return nil, fmt.Errorf("fakeproviders printed %q, not its URLs", line)
		}
		return f, nil
	case <-time.After(time.Minute):
		f.Stop()
		return nil, errors.New("fakeproviders did not print its URLs within a minute")
	case <-ctx.Done():
		f.Stop()
		return nil, ctx.Err()
	}
}

// Stop ends the process Start ran (SIGTERM, then SIGKILL after 10 s), and waits for it;
// nothing for fakes attached to.
func (f *Fakes) Stop() {
	if f.cmd == nil {
		return
	}
	_ = f.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-f.done:
	case <-time.After(10 * time.Second):
		_ = f.cmd.Process.Kill()
		<-f.done
	}
}

// Control calls the control API: method path with body as JSON (nil: none), decoding a 200
// answer into v (nil: ignored). It returns the HTTP status, and an error for any other.
func (f *Fakes) Control(ctx context.Context, method, path string, body, v any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, f.URLs.Control+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := f.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return res.StatusCode, err
	}
	if res.StatusCode != http.StatusOK {
		return res.StatusCode, fmt.Errorf("fakes: %s %s: %d %s", method, path, res.StatusCode, strings.TrimSpace(string(raw)))
	}
	if v != nil {
		return res.StatusCode, json.Unmarshal(raw, v)
	}
	return res.StatusCode, nil
}

// TicketConnector reads the ticket fake's account and returns the request that registers it
// as connector name: its URLs, its signing secret and its event → outcome table.
func (f *Fakes) TicketConnector(ctx context.Context, name, displayName string) (*flowhookv1.CreateConnectorRequest, error) {
	var tk struct {
		SigningSecret string            `json:"signingSecret"`
		CreateURL     string            `json:"createUrl"`
		StatusURL     string            `json:"statusUrl"`
		CancelURL     string            `json:"cancelUrl"`
		Outcomes      map[string]string `json:"outcomes"`
	}
	if _, err := f.Control(ctx, "GET", "/tickets/account", nil, &tk); err != nil {
		return nil, err
	}
	outcomes := map[string]flowhookv1.Outcome{}
	for typ, o := range tk.Outcomes {
		outcomes[typ] = flowhookv1.Outcome(flowhookv1.Outcome_value["OUTCOME_"+o])
	}
	return &flowhookv1.CreateConnectorRequest{Name: name, DisplayName: displayName, CreateUrl: tk.CreateURL, StatusUrl: tk.StatusURL,
		CancelUrl: tk.CancelURL, Outcomes: outcomes, SigningSecret: tk.SigningSecret}, nil
}
