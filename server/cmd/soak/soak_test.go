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
// PostgreSQL, every notification ×3, and fails when it never became quiescent or on anything
// lost, doubled or stranded. It needs PostgreSQL's binaries (initdb, pg_ctl), not a running
// server: it starts its own. SOAK_INSTANCES changes M.
func TestSoak(t *testing.T) {
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
	require.Positive(t, rep.quiet, "quiescent: every instance ended, no job left, no event PENDING")
	require.Equal(t, cfg.Instances, rep.started, "every instance started")
	require.Len(t, rep.chaos, 2, "one kill and one restart happened")
	require.Empty(t, rep.lost, "lost")
	require.Empty(t, rep.doubled, "doubled")
	require.Empty(t, rep.stranded, "stranded")
	require.Empty(t, rep.grew, "memory grew")
	require.Positive(t, rep.judged, "a replica's memory was judged")
	require.Positive(t, rep.reordered, "items were reordered")
	require.Positive(t, rep.outcomeFirst, "an outcome reached flowhook before its progress")
	require.Zero(t, rep.late["APPLIED"], "no second outcome")
	require.Positive(t, rep.documentsKept, "signed documents were kept (the lost ones are in rep.lost)")
	require.True(t, rep.ok(), "the verdict is PASS")
}

// TestJudgeMemory: the bound on a replica's RSS (kB samples, one a second).
func TestJudgeMemory(t *testing.T) {
	t.Parallel()
	const mb = 1024
	series := func(n int, at func(i int) int64) []int64 {
		out := make([]int64, n)
		for i := range out {
			out[i] = at(i)
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		samples []int64
		judged  bool
		grew    bool
	}{
		{"too few samples", []int64{30 * mb, 300 * mb, 600 * mb}, false, false},
		{"flat", series(60, func(i int) int64 { return 80*mb + int64(i%5)*mb }), true, false},
		// A short run: 30 MB at start, the working set under load within seconds, GC peaks.
		{"warm-up of a short run", series(50, func(i int) int64 {
			if i < 5 {
				return 30*mb + int64(i)*15*mb
			}
			return 95*mb + int64(i%3)*10*mb
		}), true, false},
		{"doubled but small", series(30, func(i int) int64 { return 40*mb + int64(i)*2*mb }), true, false},
		{"large but not 1.5×", series(30, func(i int) int64 { return 300*mb + int64(i)*4*mb }), true, false},
		{"a leak", series(300, func(i int) int64 { return 80*mb + int64(i)*mb/2 }), true, true},
		{"one late spike is not growth", append(series(59, func(int) int64 { return 80 * mb }), 400*mb), true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := judgeMemory(tc.samples)
			require.Equal(t, tc.judged, m.samples >= minMemorySamples)
			require.Equal(t, tc.grew, m.grew(), "early %d MB, late %d MB", m.early/mb, m.late/mb)
			if tc.grew {
				require.Contains(t, m.verdict(), "GREW")
			}
		})
	}
}

func TestMedian(t *testing.T) {
	t.Parallel()
	in := []int64{5, 1, 4, 2, 3}
	require.EqualValues(t, 3, median(in))
	require.Equal(t, []int64{5, 1, 4, 2, 3}, in, "not changed")
	require.EqualValues(t, 2, median([]int64{4, 1, 3, 2}), "the lower middle")
}
