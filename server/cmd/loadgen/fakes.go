package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// fakeURLs is the line fakeproviders prints once it listens.
type fakeURLs struct {
	DocuSign string `json:"docusign"`
	OneSpan  string `json:"onespan"`
	Tickets  string `json:"tickets"`
	Control  string `json:"control"`
}

// fakes is a client of the fakes' control API, and the process when the tool started it.
type fakes struct {
	urls fakeURLs
	hc   *http.Client
	cmd  *exec.Cmd
	done chan struct{}
}

// openFakes connects to the running fakes cfg names, or starts fakeproviders.
func openFakes(ctx context.Context, cfg config, hc *http.Client, logf func(string, ...any)) (*fakes, error) {
	switch {
	case strings.HasPrefix(cfg.Fakes, "{"):
		f := &fakes{hc: hc}
		if err := json.Unmarshal([]byte(cfg.Fakes), &f.urls); err != nil {
			return nil, fmt.Errorf("-fakes: %w", err)
		}
		return f, f.check()
	case cfg.Fakes != "":
		f := &fakes{hc: hc, urls: fakeURLs{Control: cfg.Fakes, DocuSign: cfg.FakesDS, OneSpan: cfg.FakesOS}}
		if f.urls.DocuSign == "" || f.urls.OneSpan == "" {
			return nil, errors.New("-fakes: a control URL needs -fakes-docusign and -fakes-onespan (or give the JSON line fakeproviders printed)")
		}
		return f, f.check()
	}
	bin := cfg.FakesBin
	if bin == "" {
		dir, err := os.MkdirTemp("", "loadgen-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir) // a running binary may be unlinked
		bin = filepath.Join(dir, "fakeproviders")
		logf("building fakeproviders")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/flowhook/flowhook/server/cmd/fakeproviders")
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build ./server/cmd/fakeproviders (run from the repository, or give -fakes-bin): %w\n%s", err, out)
		}
	}
	return startFakes(ctx, bin, hc)
}

// check refuses fakes off the loopback interface.
func (f *fakes) check() error {
	for _, u := range []string{f.urls.DocuSign, f.urls.OneSpan, f.urls.Control} {
		if err := loopbackOnly(u); err != nil {
			return fmt.Errorf("fakes: %w", err)
		}
	}
	return nil
}

func startFakes(ctx context.Context, bin string, hc *http.Client) (*fakes, error) {
	cmd := exec.Command(bin)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	f := &fakes{hc: hc, cmd: cmd, done: make(chan struct{})}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		_ = cmd.Wait()
		close(f.done)
	}()
	select {
	case line, ok := <-lines:
		if ok && json.Unmarshal([]byte(line), &f.urls) == nil && f.urls.Control != "" {
			return f, nil
		}
		f.stop()
		return nil, fmt.Errorf("fakeproviders printed %q, not its URLs", line)
	case <-time.After(time.Minute):
		f.stop()
		return nil, errors.New("fakeproviders did not print its URLs within a minute")
	case <-ctx.Done():
		f.stop()
		return nil, ctx.Err()
	}
}

// stop ends the fakes the tool started (nothing for fakes it was given).
func (f *fakes) stop() {
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

// control calls the control API: method path with body as JSON, decoding a 200 into v.
func (f *fakes) control(ctx context.Context, method, path string, body, v any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, f.urls.Control+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := f.hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("fakes: %s %s: %d %s", method, path, res.StatusCode, strings.TrimSpace(string(raw)))
	}
	if v != nil {
		return json.Unmarshal(raw, v)
	}
	return nil
}
