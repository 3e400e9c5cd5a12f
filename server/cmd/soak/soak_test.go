package main

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSoak runs a short soak: 150 instances through two replicas, one SIGKILL and one crash of
// PostgreSQL, every notification ×3, and fails on anything lost, doubled or stranded. It
// needs PostgreSQL's binaries (initdb, pg_ctl), not a running server: it starts its own.
// SOAK_INSTANCES changes M.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("the soak builds and runs the binaries: not in -short")
	}
	cfg := defaults()
	cfg.Instances, cfg.Replicas, cfg.Kills, cfg.Restarts = 150, 2, 1, 1
	// A job running on the killed replica stays running until the leader's rescuer takes it:
	// 1.5 × the job timeout (FLOWHOOK_JOB_TIMEOUT, 10 s here) plus up to 45 s (the rescuer runs
	// every 30 s on the leader, and a new leader can take 15 s). The settle bound is only an
	// upper bound: the soak stops waiting as soon as everything is done.
	cfg.Duration, cfg.Settle = 20*time.Second, 5*time.Minute
	cfg.JobTimeout = 10 * time.Second
	if n, err := strconv.Atoi(os.Getenv("SOAK_INSTANCES")); err == nil {
		cfg.Instances = n
	}
	require.NoError(t, cfg.validate())
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	var out bytes.Buffer
	rep, err := run(ctx, cfg, &out)
	t.Log("\n" + out.String())
	require.NoError(t, err)
	require.Equal(t, cfg.Instances, rep.started, "every instance started")
	require.Len(t, rep.chaos, 2, "one kill and one restart happened")
	require.Empty(t, rep.lost, "lost")
	require.Empty(t, rep.doubled, "doubled")
	require.Empty(t, rep.stranded, "stranded")
}
