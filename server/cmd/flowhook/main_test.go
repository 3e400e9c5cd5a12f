package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRunCommands(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	cases := []struct {
		name     string
		args     []string
		env      map[string]string
		code     int
		stdout   string
		stderr   string
		noStderr string
	}{
		{name: "no command", code: 2, stderr: "usage: flowhook"},
		{name: "unknown command", args: []string{"launch"}, code: 2, stderr: `unknown command "launch"`},
		{name: "version", args: []string{"version"}, code: 0, stdout: "flowhook dev (commit "},
		{name: "help", args: []string{"help"}, code: 0, stdout: "commands:"},
		{name: "bad config", args: []string{"serve", "-addr", "nowhere"}, code: 1, stderr: `addr "nowhere": want host:port`},
		{name: "bad database url, password hidden", args: []string{"migrate"},
			env: map[string]string{"FLOWHOOK_DATABASE_URL": "mysql://u:sekret@h/db"}, code: 1, stderr: "not supported", noStderr: "sekret"},
		{name: "migrate embedded", args: []string{"migrate", "-data-dir", filepath.Join(dataDir, "db")}, code: 0, stderr: "database is up to date"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, func(k string) string { return tc.env[k] }, &stdout, &stderr)
			require.Equal(t, tc.code, code, "stderr: %s", stderr.String())
			require.True(t, strings.Contains(stdout.String(), tc.stdout), "stdout: %s", stdout.String())
			require.True(t, strings.Contains(stderr.String(), tc.stderr), "stderr: %s", stderr.String())
			if tc.noStderr != "" {
				require.NotContains(t, stderr.String(), tc.noStderr)
			}
		})
	}
}

// TestServeOnPortZero: with -addr 127.0.0.1:0 the server takes a free port, and the default
// public URL (the webhook URLs providers call) names that port, not 0.
func TestServeOnPortZero(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	env := map[string]string{"FLOWHOOK_BOOTSTRAP_ADMIN_KEY": "fh_test_port_zero_key_0123456789"}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, []string{"-addr", "127.0.0.1:0", "-data-dir", t.TempDir()}, func(k string) string { return env[k] }, io.Discard, pw)
		pw.Close()
	}()
	var serving struct {
		Msg       string `json:"msg"`
		Addr      string `json:"addr"`
		PublicURL string `json:"public_url"`
	}
	scan := bufio.NewScanner(pr)
	for scan.Scan() {
		if json.Unmarshal(scan.Bytes(), &serving) == nil && serving.Msg == "serving" {
			break
		}
	}
	require.Equal(t, "serving", serving.Msg, "the server never logged that it serves")
	_, port, err := net.SplitHostPort(serving.Addr)
	require.NoError(t, err)
	require.NotEqual(t, "0", port)
	require.Equal(t, "http://"+serving.Addr, serving.PublicURL)
	res, err := http.Get(serving.PublicURL + "/healthz")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)

	cancel()
	go func() { _, _ = io.Copy(io.Discard, pr) }() // the drain logs
	require.NoError(t, <-done)
}
