package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestParseVmRSS: the resident set is VmRSS's kilobytes, and a status without one (a kernel
// thread) or with another unit is an error, never a zero that reads as no memory.
func TestParseVmRSS(t *testing.T) {
	t.Parallel()
	status := "Name:\tflowhook\nVmPeak:\t 2000000 kB\nVmRSS:\t  112640 kB\nRssAnon:\t 90000 kB\n"
	n, err := parseVmRSS([]byte(status))
	require.NoError(t, err)
	require.Equal(t, int64(112640)<<10, n)

	for _, bad := range []string{"Name:\tkthreadd\nVmPeak:\t0 kB\n", "VmRSS:\t12 MB\n", "VmRSS:\tlots kB\n", "VmRSS:\t-5 kB\n", ""} {
		_, err := parseVmRSS([]byte(bad))
		require.Error(t, err, "%q", bad)
	}
}

// TestRSSSampler: a timed part's samples are taken at its start and at its end, in order, of
// every server together; a server gone during the part leaves no samples rather than a
// partial sum; no server or no interval samples nothing.
func TestRSSSampler(t *testing.T) {
	t.Parallel()
	own, err := rssBytes(os.Getpid())
	require.NoError(t, err)
	require.Positive(t, own)

	// An hour's interval: only the start's and the end's samples.
	s := startRSS([]int{os.Getpid(), os.Getpid()}, time.Hour)
	got := s.end()
	require.Len(t, got, 2)
	require.GreaterOrEqual(t, got[0].At, 0.0)
	require.GreaterOrEqual(t, got[1].At, got[0].At, "in order")
	for _, x := range got {
		// Both pids are this process: the sum is twice its resident set, give or take what
		// it allocated meanwhile.
		require.InDelta(t, float64(2*own)/(1<<20), x.MB, 64, "%+v", got)
	}

	gone := startRSS([]int{os.Getpid(), 1 << 30}, time.Hour)
	require.Empty(t, gone.end(), "a pid past the kernel's largest is never there")
	require.Nil(t, startRSS(nil, time.Second))
	require.Nil(t, startRSS([]int{os.Getpid()}, 0))
	require.Empty(t, (*rssSampler)(nil).end())

	// Over a minute, the row's check says where the memory went.
	var out bytes.Buffer
	printRow(&out, row{Scenario: "ingest-docusign", Mode: "open", TargetRate: 100, Seconds: 600, P50: 1, ServerCPU: -1, DBCPU: -1, LoadCPU: -1,
		RSS: []rssSample{{0, 90}, {10, 111.4}, {600, 112.6}}})
	require.True(t, strings.HasSuffix(strings.TrimSpace(out.String()), "rss 90 → 113 MB (max 113)"), out.String())
	out.Reset()
	printRow(&out, row{Scenario: "ingest-docusign", Mode: "open", TargetRate: 100, Seconds: 10, ServerCPU: -1, DBCPU: -1, LoadCPU: -1,
		RSS: []rssSample{{0, 90}, {10, 91}}})
	require.NotContains(t, out.String(), "rss", "ten seconds say nothing of a leak")

	_, err = parseFlags([]string{"-key", "k", "-rss-every", "-1s"}, &bytes.Buffer{})
	require.ErrorContains(t, err, "-rss-every")
}
