package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/flowhook/flowhook/server/internal/fakeproc"
)

// openFakes connects to the running fakes cfg names, or starts fakeproviders.
func openFakes(ctx context.Context, cfg config, hc *http.Client, logf func(string, ...any)) (*fakeproc.Fakes, error) {
	switch {
	case strings.HasPrefix(cfg.Fakes, "{"):
		var urls fakeproc.URLs
		if err := json.Unmarshal([]byte(cfg.Fakes), &urls); err != nil {
			return nil, fmt.Errorf("-fakes: %w", err)
		}
		return fakeproc.Attach(urls, hc), checkFakes(urls)
	case cfg.Fakes != "":
		urls := fakeproc.URLs{Control: cfg.Fakes, DocuSign: cfg.FakesDS, OneSpan: cfg.FakesOS}
		if urls.DocuSign == "" || urls.OneSpan == "" {
			return nil, errors.New("-fakes: a control URL needs -fakes-docusign and -fakes-onespan (or give the JSON line fakeproviders printed)")
		}
		return fakeproc.Attach(urls, hc), checkFakes(urls)
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
	return fakeproc.Start(ctx, bin, os.Stderr, hc)
}

// checkFakes refuses fakes off the loopback interface.
func checkFakes(urls fakeproc.URLs) error {
	for _, u := range []string{urls.DocuSign, urls.OneSpan, urls.Control} {
		if err := loopbackOnly(u); err != nil {
			return fmt.Errorf("fakes: %w", err)
		}
	}
	return nil
}
