package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRunBaseline: -baseline's rate is its output's last line; a command that fails, says
// nothing, or ends with anything but a positive number ends the run with why.
func TestRunBaseline(t *testing.T) {
	t.Parallel()
	rate, err := runBaseline(t.Context(), "echo 'pgbench (15.19)'; echo; echo ' 3312.37 '; echo")
	require.NoError(t, err)
	require.Equal(t, 3312.37, rate)

	for _, tc := range []struct{ command, msg string }{
		{"echo 'tps = 3312'", `got "tps = 3312"`},
		{"true", `got ""`},
		{"echo 0", `got "0"`},
		{"echo -5", `got "-5"`},
		{"echo NaN", `got "NaN"`},
		{"echo +Inf", `got "+Inf"`},
		{"echo 'no database' >&2; exit 3", "exit status 3: no database"},
	} {
		_, err := runBaseline(t.Context(), tc.command)
		require.Error(t, err, tc.command)
		require.Contains(t, err.Error(), "baseline: ")
		require.Contains(t, err.Error(), tc.msg, tc.command)
	}
}
