package main

import (
	"bytes"
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
