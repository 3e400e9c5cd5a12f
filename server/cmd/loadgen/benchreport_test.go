package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// benchReport is tools/bench-report.sh, which make bench sources to print its sitting.
const benchReport = "../../../tools/bench-report.sh"

// runTargets writes rows as loadgen would (closed.json, open.json, memory.json) and lists as
// the lists' benchmark would, then runs the report's targets with env, and returns its output.
func runTargets(t *testing.T, closed, open, memory []row, lists string, env ...string) string {
	t.Helper()
	return runReport(t, "targets", closed, open, memory, lists, env...)
}

// runReport is runTargets with any of the report's commands (command is bash, $OUT the folder).
func runReport(t *testing.T, command string, closed, open, memory []row, lists string, env ...string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, writeJSON(filepath.Join(dir, "closed.json"), closed))
	require.NoError(t, writeJSON(filepath.Join(dir, "open.json"), open))
	if memory != nil {
		require.NoError(t, writeJSON(filepath.Join(dir, "memory.json"), memory))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "lists.txt"), []byte(lists), 0o644))
	report, err := filepath.Abs(benchReport)
	require.NoError(t, err)
	cmd := exec.Command("bash", "-c", `set -euo pipefail; source "$REPORT"; `+command)
	cmd.Env = append(os.Environ(), append([]string{"REPORT=" + report, "OUT=" + dir, "tps1=4200", "tps2=3800"}, env...)...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	return string(out)
}

// TestBenchReport: make bench's verdicts, from rows as loadgen writes them (so that a field
// renamed in loadgen's JSON breaks this test, not a sitting): each target met or not against
// pgbench's mean (here 4,000 tps), a row with errors never met, the CPU in all with the load's
// share and the ceiling without it, the lists' slowest p99, memory flat or growing, and what
// was not measured (a row, the lists, memory) said so.
func TestBenchReport(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("jq"); err != nil {
		t.Fatal("jq is needed by make bench's report (make test installs it: tools/ensure-tools.sh jq)")
	}
	closedRow := func(name string, rate, srv, db, load float64) row {
		return row{Scenario: name, Mode: "closed", Workers: 8, Rate: rate, Count: int64(rate * 10), Seconds: 10,
			ServerCPU: srv, DBCPU: db, LoadCPU: load, Lanes: map[string]laneUse{"events": {WritesPerBatch: 3.8, Busy: 0.85}}}
	}
	take := closedRow("take", 2100, 0.3, 0.27, 0.1)
	take.Errors = 3
	start := closedRow("start", 2000, -1, 0.28, 0.11) // the server's CPU not measured: no ceiling
	// Rows with -baseline's pgbench beside them (make bench's): their ratio to it is shown
	// too; the verdict stays the mean's.
	oneSpan, docuSign := closedRow("ingest-onespan", 1800, 0.35, 0.27, 0.21), closedRow("transition-docusign", 1200, 0.43, 0.52, 0.2)
	oneSpan.Baseline, docuSign.Baseline = 3500.9, 4800
	closed := []row{
		closedRow("ingest-docusign", 2500, 0.24, 0.22, 0.09),
		oneSpan,
		closedRow("ingest-connector", 2400, 0.24, 0.23, 0.1),
		docuSign,
		closedRow("transition-onespan", 700, 0.73, 0.77, 0.83),
		closedRow("transition-connector", 1900, 0.3, 0.36, 0.09),
		start,
		take,
	}
	open := []row{
		{Scenario: "transition-docusign", Mode: "open", TargetRate: 10, Rate: 10, Count: 300, P50: 3, P99: 5.6},
		{Scenario: "transition-docusign", Mode: "open", TargetRate: 1000, Rate: 990, Count: 9900, P50: 40, P99: 120},
	}
	// Every case of BenchmarkInstanceLists: 4 users of ListAssignedToMe, 8 filters of
	// ListInstances (server/internal/api/instances_bench_test.go).
	assignedLines := []string{
		"BenchmarkInstanceLists/ListAssignedToMe/Hot-2   300   2000000 ns/op   1.4 p50-ms   4.95 p99-ms   50.00 rows/op\n",
		"BenchmarkInstanceLists/ListAssignedToMe/Quiet-2   300   2000000 ns/op   1.2 p50-ms   3.10 p99-ms   50.00 rows/op\n",
		"BenchmarkInstanceLists/ListAssignedToMe/Late-2   300   2000000 ns/op   1.1 p50-ms   2.90 p99-ms   50.00 rows/op\n",
		"BenchmarkInstanceLists/ListAssignedToMe/Busy-2   300   2000000 ns/op   1.5 p50-ms   6.34 p99-ms   50.00 rows/op\n",
	}
	instancesLines := []string{"BenchmarkInstanceLists/ListInstances/All-2   300   3000000 ns/op   3.6 p50-ms   7.48 p99-ms   50.00 rows/op   100000 total_size\n"}
	for _, c := range []string{"StatusActive", "WorkflowState", "ProviderExternalID", "CreatedRangeMid", "CreatedRangeRecent", "CreatedBeforeMid"} {
		instancesLines = append(instancesLines, "BenchmarkInstanceLists/ListInstances/"+c+"-2   300   3000000 ns/op   2.1 p50-ms   5.00 p99-ms   50.00 rows/op   100 total_size\n")
	}
	instancesLines = append(instancesLines, "BenchmarkInstanceLists/ListInstances/WorkflowStatus-2   300   3000000 ns/op   4.1 p50-ms   10.40 p99-ms   50.00 rows/op   100 total_size\n")
	listsOf := func(assigned, instances []string, tail string) string {
		return "goos: linux\n" + strings.Join(assigned, "") + strings.Join(instances, "") + tail
	}
	lists := listsOf(assignedLines, instancesLines, "PASS\n")
	samples := func(mb func(at float64) float64) []rssSample {
		var s []rssSample
		for at := 0.0; at <= 600; at += 10 {
			s = append(s, rssSample{At: at, MB: mb(at)})
		}
		return s
	}
	memoryRow := func(rss []rssSample) []row {
		return []row{{Scenario: "ingest-docusign", Mode: "open", TargetRate: 1250, Rate: 1250, Count: 750000, Seconds: 600, RSS: rss}}
	}
	flat := memoryRow(samples(func(at float64) float64 { return 108 + float64(int(at)%30)/10 }))

	out := runTargets(t, closed, open, flat, lists, "LISTS=1", "MEMORY=10m")
	for _, want := range []string{
		"Against issue 18's targets (ratios to pgbench's mean, 4000 tps):",
		"  ingest-docusign: 0.62 × (2500/s) met; 0.55 ms of CPU a request in all (the load's 0.09), which ",
		"  ingest-onespan: 0.45 × (1800/s) NOT met; 0.51 × the pgbench run just before it (3500 tps); 0.83 ms of CPU a request in all (the load's 0.21), which ",
		"  transition-docusign: 0.3 × (1200/s) met; 0.25 × the pgbench run just before it (4800 tps); 1.15 ms",
		"  transition-onespan: 0.17 × (700/s) NOT met; 2.33 ms of CPU a request in all (the load's 0.83), which ",
		"  start: 0.5 × (2000/s) met; write lanes: events 3.8 a batch, busy 85%\n",
		"  take: 0.52 × (2100/s) NOT met;", // its rate would do, but 3 requests failed
		"  paced 10/s: 10/s, p99 5.6 ms met",
		"  paced 1000/s: 990/s, p99 120 ms NOT met",
		"  ListAssignedToMe: slowest p99 6.34 ms (Busy, of 4 cases) met\n",
		"  ListInstances: slowest p99 10.40 ms (WorkflowStatus, of 8 cases) NOT met\n",
		"  ingest-docusign paced at 1250/s for 10m (750000 notifications, 0 errors and dropped): resident 110 MB in the second minute, 110 MB in the last, 110 at most: +0% met",
	} {
		require.Contains(t, out, want, "%s", out)
	}
	// The ceiling without the load: 2 cores at flowhook's and PostgreSQL's 1.5 ms a completion.
	cores := strings.TrimSpace(mustRun(t, "nproc"))
	var n int
	_, err := fmt.Sscan(cores, &n)
	require.NoError(t, err)
	require.Contains(t, out, fmt.Sprintf("flowhook's and PostgreSQL's alone, %d/s", int(float64(n)*1000/1.5)), "%s", out)

	// Memory that keeps growing is not flat; a run too short to tell says so; nothing run,
	// nothing claimed.
	leak := memoryRow(samples(func(at float64) float64 { return 100 + at/10 }))
	out = runTargets(t, closed, open, leak, lists, "LISTS=1", "MEMORY=10m")
	require.Contains(t, out, "resident 112 MB in the second minute, 160 MB in the last, 160 at most: +43% NOT met", "%s", out)
	short := memoryRow(samples(func(float64) float64 { return 100 })[:13])
	out = runTargets(t, closed, open, short, lists, "LISTS=1", "MEMORY=2m")
	require.Contains(t, out, "2m is too short to judge", "%s", out)
	out = runTargets(t, closed, open, nil, "", "LISTS=0", "MEMORY=")
	require.Contains(t, out, "  not measured (BENCH_LISTS=0)\n", "%s", out)
	require.Contains(t, out, "  not measured (BENCH_MEMORY=10m measures it: ten more minutes)\n", "%s", out)
	// A row the sitting did not run (BENCH_SWEEP without 1000, a scenario left out) is said to
	// be unmeasured, not left out of the verdicts.
	out = runTargets(t, closed[:len(closed)-1], open[:1], flat, lists, "LISTS=1", "MEMORY=10m")
	require.Contains(t, out, "  take: not measured in this sitting\n", "%s", out)
	require.Contains(t, out, "  paced 1000/s: not measured in this sitting\n", "%s", out)
	require.Contains(t, out, "  paced 10/s: 10/s, p99 5.6 ms met\n", "%s", out)
	out = runTargets(t, closed, open, nil, "FAIL\n", "LISTS=1", "MEMORY=10m")
	require.Contains(t, out, "  NOT measured: BenchmarkInstanceLists reported nothing (see lists.txt)\n", "%s", out)
	require.Contains(t, out, "  NOT measured: no memory run (see the log above)\n", "%s", out)

	// The lists: a case that failed, one missing, or one without its p99 is never passed over:
	// the list is NOT met, whatever the cases that passed say.
	fastInstances := append(append([]string{}, instancesLines[:7]...), strings.Replace(instancesLines[7], "10.40 p99-ms", "9.00 p99-ms", 1))
	out = runTargets(t, closed, open, flat, listsOf(assignedLines, fastInstances, "PASS\n"), "LISTS=1", "MEMORY=10m")
	require.Contains(t, out, "  ListInstances: slowest p99 9.00 ms (WorkflowStatus, of 8 cases) met\n", "%s", out)
	failed := listsOf(assignedLines[:3], fastInstances,
		"BenchmarkInstanceLists/ListAssignedToMe/Busy-2         \t--- FAIL: BenchmarkInstanceLists/ListAssignedToMe/Busy-2\n"+
			"    instances_bench_test.go:114: deadline exceeded\n--- FAIL: BenchmarkInstanceLists\nFAIL\n")
	out = runTargets(t, closed, open, flat, failed, "LISTS=1", "MEMORY=10m")
	require.Contains(t, out, "  ListAssignedToMe: slowest p99 4.95 ms (Hot, of 3 cases) NOT met; failed: Busy; 3 of 4 cases with a p99\n", "%s", out)
	require.Contains(t, out, "  ListInstances: slowest p99 9.00 ms (WorkflowStatus, of 8 cases) met\n", "%s", out)
	out = runTargets(t, closed, open, flat, listsOf(assignedLines[1:], fastInstances, "PASS\n"), "LISTS=1", "MEMORY=10m")
	require.Contains(t, out, "  ListAssignedToMe: slowest p99 6.34 ms (Busy, of 3 cases) NOT met; 3 of 4 cases with a p99\n", "%s", out)
	noP99 := append([]string{"BenchmarkInstanceLists/ListAssignedToMe/Hot-2   300   2000000 ns/op   1.4 p50-ms   50.00 rows/op\n"}, assignedLines[1:]...)
	out = runTargets(t, closed, open, flat, listsOf(noP99, fastInstances, "PASS\n"), "LISTS=1", "MEMORY=10m")
	require.Contains(t, out, "  ListAssignedToMe: slowest p99 6.34 ms (Busy, of 3 cases) NOT met; no p99: Hot; 3 of 4 cases with a p99\n", "%s", out)
	out = runTargets(t, closed, open, flat, listsOf(assignedLines, nil, "--- FAIL: BenchmarkInstanceLists\nFAIL\n"), "LISTS=1", "MEMORY=10m")
	require.Contains(t, out, "  ListInstances: NOT met: no case measured; 0 of 8 cases with a p99 (see lists.txt)\n", "%s", out)
}

// TestBenchReportProblems: a row whose check failed (loadgen's problem) is never met,
// whatever its rate or p99, and the table marks it; a row whose percentiles are lower bounds
// (requests failed or dropped) shows them with ≥.
func TestBenchReportProblems(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("jq"); err != nil {
		t.Fatal("jq is needed by make bench's report (make test installs it: tools/ensure-tools.sh jq)")
	}
	moved := int64(11990)
	closed := []row{
		{Scenario: "ingest-docusign", Mode: "closed", Workers: 8, Rate: 2500, Count: 25000, Seconds: 10, ServerCPU: 0.2, DBCPU: 0.2, LoadCPU: 0.1},
		{Scenario: "transition-docusign", Mode: "closed", Workers: 8, Rate: 1200, Count: 12000, Seconds: 10, ServerCPU: 0.4, DBCPU: 0.5, LoadCPU: 0.2,
			Moved: &moved, Problem: "12000 answered 200 but 11990 instances moved"},
	}
	open := []row{
		{Scenario: "transition-docusign", Mode: "open", TargetRate: 10, Rate: 10, Count: 300, P50: 3, P99: 5.6, Problem: "300 answered 200 but 299 instances moved"},
		{Scenario: "transition-docusign", Mode: "open", TargetRate: 1000, Rate: 990, Count: 9900, Dropped: 100, P50: 40, P99: 90, P999: 130, LowerBound: true},
	}
	out := runTargets(t, closed, open, nil, "", "LISTS=0", "MEMORY=")
	for _, want := range []string{
		"  ingest-docusign: 0.62 × (2500/s) met;",
		"  transition-docusign: 0.3 × (1200/s) NOT met: 12000 answered 200 but 11990 instances moved;", // its rate would do
		"  paced 10/s: 10/s, p99 5.6 ms NOT met: 300 answered 200 but 299 instances moved\n",
		"  paced 1000/s: 990/s, p99 ≥90 ms NOT met\n", // 100 dropped
	} {
		require.Contains(t, out, want, "%s", out)
	}
	require.NotContains(t, out, "Against pgbench -M prepared", "not run: not reported")

	table := runReport(t, `ratios "$OUT/closed.json" 1; ratios "$OUT/open.json" 1`, closed, open, nil, "")
	lines := strings.Split(strings.TrimSpace(table), "\n")
	require.Len(t, lines, 4, "%s", table)
	require.True(t, strings.HasSuffix(lines[0], "\t-"), "no problem: %q", lines[0])
	require.True(t, strings.HasSuffix(lines[1], "\tPROBLEM: 12000 answered 200 but 11990 instances moved"), "%q", lines[1])
	require.Contains(t, lines[2], "\tPROBLEM: 300 answered 200 but 299 instances moved", "%q", lines[2])
	require.Contains(t, lines[3], "\t≥40\t≥90\t≥130\t100\t", "lower bounds: %q", lines[3])
	require.Contains(t, lines[2], "\t3\t5.6\t0\t", "exact: %q", lines[2])

	// pgbench -M prepared, when run: the closed-loop rows against its mean too, the stricter
	// baseline, the verdicts unchanged.
	out = runTargets(t, closed, open, nil, "", "LISTS=0", "MEMORY=", "tps1p=4900", "tps2p=5100")
	require.Contains(t, out, "Against pgbench -M prepared (4900 and 5100 tps, mean 5000): the stricter baseline, as flowhook prepares its statements; the verdicts above stay against the default mode's mean, as in every earlier sitting:\n"+
		"  ingest-docusign 0.5 ×, transition-docusign 0.24 ×\n", "%s", out)
	require.Contains(t, out, "  ingest-docusign: 0.62 × (2500/s) met;", "%s", out)
}

func mustRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	require.NoError(t, err)
	return string(out)
}
