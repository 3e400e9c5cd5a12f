package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestWebhookAnswer: a webhook counts as answered only with 200 {"status":"accepted"}; the
// receiver's 200 for a redelivery ("duplicate") or an event it does not act on ("ignored")
// did none of the work a scenario times, and counts as an error, as any other answer does.
func TestWebhookAnswer(t *testing.T) {
	t.Parallel()
	var code int
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}))
	defer srv.Close()
	b := &bench{urls: []string{srv.URL}, hc: srv.Client()}
	post := func(c int, s string) error {
		code, body = c, s
		return b.post(context.Background(), "/webhooks/DocuSign", []byte(`{}`), http.Header{})
	}
	require.NoError(t, post(200, `{"status":"accepted"}`+"\n"))
	for _, s := range []string{`{"status":"duplicate"}`, `{"status":"ignored"}`, `{}`, ``, `accepted`} {
		err := post(200, s)
		require.ErrorIs(t, err, errNotAccepted, "%q", s)
	}
	require.ErrorIs(t, post(503, `{"error":"temporarily unavailable"}`), errStatus)
	require.ErrorIs(t, post(202, `{"status":"accepted"}`), errStatus)
}

// TestProblems: loadgen exits 3 after its rows are written when a row's check failed, and
// names each such row; rows without one are no problem.
func TestProblems(t *testing.T) {
	t.Parallel()
	require.NoError(t, problems(nil))
	rows := []row{
		{Scenario: "ingest-docusign", Mode: "closed", Workers: 8},
		{Scenario: "transition-docusign", Mode: "closed", Workers: 8, Problem: "5 answered 200 but 4 instances moved"},
		{Scenario: "transition-docusign", Mode: "open", TargetRate: 100, Problem: "100 answered 200 but 99 instances moved"},
	}
	require.NoError(t, problems(rows[:1]))
	err := problems(rows)
	require.ErrorContains(t, err, "2 rows with a problem")
	require.ErrorContains(t, err, "transition-docusign (closed ×8): 5 answered 200 but 4 instances moved")
	require.ErrorContains(t, err, "transition-docusign (open 100/s): 100 answered 200 but 99 instances moved")
	require.Equal(t, 3, exitProblem)
}

// TestStableSum: a sample of PostgreSQL's CPU is read again when a process ended (or began)
// while it was read: a backend reaped by the postmaster in the middle of a read was counted in
// neither (or both) of its own time and the postmaster's cutime.
func TestStableSum(t *testing.T) {
	t.Parallel()
	// The postmaster (1) and two backends; backend 3 is reaped during the first read, its 5 s
	// moving to the postmaster's cutime after the postmaster was read: that read misses them.
	lists := [][]int{{1, 2, 3}, {1, 2}, {1, 2}}
	reads := []time.Duration{10 * time.Second, 17 * time.Second}
	var listed, read int
	got := stableSum(func() []int {
		l := lists[min(listed, len(lists)-1)]
		listed++
		return l
	}, func([]int) time.Duration {
		d := reads[min(read, len(reads)-1)]
		read++
		return d
	})
	require.Equal(t, 17*time.Second, got, "the read after the set of processes stopped changing")
	require.Equal(t, 2, read)

	// A set that never settles ends at the bound with the last read.
	n := 0
	got = stableSum(func() []int { n++; return []int{n} }, func([]int) time.Duration { return time.Duration(n) })
	require.Positive(t, got)
	require.LessOrEqual(t, n, 101)
}
