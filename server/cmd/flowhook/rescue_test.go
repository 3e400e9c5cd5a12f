package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/structpb"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/connector/connectorfake"
)

// replicaEnv makes the test binary run `flowhook <args>` instead of the tests (TestMain): a
// replica in a process of its own, which a test can kill with SIGKILL.
const replicaEnv = "FLOWHOOK_TEST_REPLICA"

func TestMain(m *testing.M) {
	if os.Getenv(replicaEnv) == "1" {
		ctx, stop := signalContext() // as main's
		code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// TestKilledReplicasJobIsRescued: replica A, a process of its own, is held by the fake
// ticketing system inside two pieces of work: the cancel_work_item job of a cancelled instance
// X (a River job), and the in-process creation of instance Y's ticket (a mark on its work item,
// no job). A is killed with SIGKILL, so the job's row stays `running` with no one working it,
// and Y's creation stays due. Replica B, on the same PostgreSQL database, becomes the leader
// once A's leadership lapses:
//   - its rescuer finds the cancel job running longer than RescueAfter (1.5 ×
//     FLOWHOOK_JOB_TIMEOUT, here 10 s → 15 s), makes it retryable, and B voids X's ticket;
//   - its sweep finds Y's creation due longer than CreationGrace (2 × the job timeout, 20 s)
//     and hands it to a create_work_item job marked retried, which B works: it looks for the
//     ticket first, and creates exactly one; Y moves on to its end on the ticket's outcome.
//
// The times from the kill to each are logged.
func TestKilledReplicasJobIsRescued(t *testing.T) {
	t.Parallel()
	url := dbtest.NewPostgres(t)
	const key = "fh_test_rescue_admin_key_0123456789"
	vars := map[string]string{
		"FLOWHOOK_DATABASE_URL":        url,
		"FLOWHOOK_BOOTSTRAP_ADMIN_KEY": key,
		"FLOWHOOK_SECRET_KEY":          "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0zMmJ5dGU=",
		// The held calls must outlast the start of B and the kill (the attempts would
		// otherwise time out in A and fail normally), and the rescue come soon after.
		"FLOWHOOK_JOB_TIMEOUT": "10s",
		"OTEL_SDK_DISABLED":    "true",
		// Two replicas at the default 30 each, beside another package's tests on the same
		// PostgreSQL (go test runs two at a time), came near its 100 connections.
		"FLOWHOOK_DB_MAX_CONNS": "8",
	}
	fake := connectorfake.New(connectorfake.Options{AuthHeader: connectorfake.AuthHeader{Name: "Authorization", Value: ticketsToken}})
	base := fake.Start(t)

	a := startReplica(t, vars)
	c := newClients(a.base, key)
	outcomes := map[string]flowhookv1.Outcome{}
	for typ, name := range connectorfake.Outcomes {
		outcomes[typ] = flowhookv1.Outcome(flowhookv1.Outcome_value["OUTCOME_"+name])
	}
	_, err := c.settings.CreateConnector(t.Context(), connect.NewRequest(&flowhookv1.CreateConnectorRequest{
		Name: "tickets", DisplayName: "Tickets", CreateUrl: connectorfake.CreateURL(base), StatusUrl: connectorfake.StatusURL(base),
		CancelUrl: connectorfake.CancelURL(base), Outcomes: outcomes, SigningSecret: fake.Secrets()[0], AuthHeader: "Authorization: " + ticketsToken}))
	require.NoError(t, err)
	workflowID := publish(t, c, signingDraft("Rescue", flowhookv1.Provider_PROVIDER_CONNECTOR, "tickets"))
	form, err := structpb.NewStruct(map[string]any{"signer_name": "Ada Lovelace", "signer_email": "ada@example.com"})
	require.NoError(t, err)
	start := func() string {
		started, err := c.instances.StartInstance(t.Context(), connect.NewRequest(&flowhookv1.StartInstanceRequest{
			WorkflowId: workflowID, FormData: form, TransitionKey: "submit"}))
		require.NoError(t, err)
		return started.Msg.GetInstance().GetId()
	}

	// X waits on its ticket, created in-process by A.
	x := start()
	xTicket := await(t, c, x, func(in *flowhookv1.Instance) bool { return in.GetWorkItem().GetExternalId() != "" }).GetWorkItem().GetExternalId()

	release := fake.HoldRequests()
	t.Cleanup(release)
	_, err = c.instances.CancelInstance(t.Context(), connect.NewRequest(&flowhookv1.CancelInstanceRequest{InstanceId: x, Reason: "withdrawn"}))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return fake.HeldRequests() == 1 }, 30*time.Second, 10*time.Millisecond, "A's cancel job reaches the fake")
	y := start()
	require.Eventually(t, func() bool { return fake.HeldRequests() == 2 }, 30*time.Second, 10*time.Millisecond, "A's creation of Y's ticket reaches the fake")

	// B serves before A dies: the replica that survives.
	b := startServer(t, vars, "serve", "-addr", "127.0.0.1:0")

	db, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	defer db.Close(context.Background())
	var jobID int64
	var state string
	require.NoError(t, db.QueryRow(t.Context(), "SELECT id, state FROM river_job WHERE kind = $1", engine.CancelWorkItemJob{}.Kind()).Scan(&jobID, &state))
	require.Equal(t, "running", state, "A is working the cancel job")
	creates := func() (n int) {
		require.NoError(t, db.QueryRow(t.Context(), "SELECT count(*) FROM river_job WHERE kind = $1", engine.CreateWorkItemJob{}.Kind()).Scan(&n))
		return n
	}
	require.Zero(t, creates(), "A creates in-process, without a job")

	require.NoError(t, a.cmd.Process.Kill()) // SIGKILL
	killed := time.Now()
	_ = a.cmd.Wait()
	// The fake drops the held calls once it sees A's connections close; only then is the gate
	// opened, so that the calls A made are never served.
	require.Eventually(t, func() bool { return fake.HeldRequests() == 0 }, 30*time.Second, 10*time.Millisecond)
	release()
	require.Len(t, fake.Tickets(), 1, "A's create made nothing")
	require.NoError(t, db.QueryRow(t.Context(), "SELECT state FROM river_job WHERE id = $1", jobID).Scan(&state))
	require.Equal(t, "running", state, "the killed replica's job is left running")
	var due bool
	require.NoError(t, db.QueryRow(t.Context(), "SELECT create_due_at IS NOT NULL FROM work_items WHERE instance_id = $1", y).Scan(&due))
	require.True(t, due, "Y's creation is left due")

	// Kill → rescue (B leader, RescueAfter) → backoff → scheduler → B works the cancel job; and
	// kill → sweep (B leader, CreationGrace) → B works the create job.
	cb := newClients(b.base, key)
	var errs string
	var rescued, swept time.Duration
	require.Eventually(t, func() bool {
		if rescued == 0 {
			err := db.QueryRow(context.Background(), "SELECT state, errors::text FROM river_job WHERE id = $1", jobID).Scan(&state, &errs)
			if err == nil && state == "completed" {
				rescued = time.Since(killed)
			}
		}
		if swept == 0 {
			got, err := cb.instances.GetInstance(context.Background(), connect.NewRequest(&flowhookv1.GetInstanceRequest{InstanceId: y}))
			if err == nil && got.Msg.GetInstance().GetWorkItem().GetExternalId() != "" {
				swept = time.Since(killed)
			}
		}
		return rescued > 0 && swept > 0
	}, 150*time.Second, 50*time.Millisecond, "the cancel job (state %s) and Y's creation are finished elsewhere", state)
	t.Logf("kill -9 → cancel job finished on the other replica: %s; Y's ticket created there: %s",
		rescued.Round(10*time.Millisecond), swept.Round(10*time.Millisecond))
	require.Contains(t, errs, "Stuck job rescued by JobRescuer", "B's rescuer, not a normal retry, brought the job back")
	xt, ok := fake.Ticket(xTicket)
	require.True(t, ok)
	require.Equal(t, connectorfake.TypeCancelled, xt.LatestType, "X's ticket is voided")

	var args string
	require.NoError(t, db.QueryRow(t.Context(), "SELECT args::text FROM river_job WHERE kind = $1", engine.CreateWorkItemJob{}.Kind()).Scan(&args))
	require.Contains(t, args, `"retried": true`, "the swept creation looks for the ticket first")
	tickets := fake.Tickets()
	require.Len(t, tickets, 2, "one ticket for Y")
	coupled := await(t, cb, y, func(in *flowhookv1.Instance) bool { return in.GetWorkItem().GetExternalId() != "" })
	require.Equal(t, tickets[1].ID, coupled.GetWorkItem().GetExternalId())
	require.Equal(t, coupled.GetWorkItem().GetId(), tickets[1].WorkItemID)
	require.NoError(t, fake.Approve(tickets[1].ID, "approved after the sweep"))
	await(t, cb, y, completedIn("done"))
	require.Len(t, fake.Tickets(), 2, "still one ticket for Y")
}

// ticketsToken is the connector's auth header value at the fake.
const ticketsToken = "Bearer tickets-api-token-0123456789"

// replica is `flowhook serve` in a process of its own.
type replica struct {
	cmd  *exec.Cmd
	base string
}

// startReplica runs `flowhook serve` with vars as its whole environment (plus PATH and HOME)
// in a child process of the test binary (TestMain) and returns once it serves.
func startReplica(t *testing.T, vars map[string]string) *replica {
	t.Helper()
	cmd := exec.Command(os.Args[0], "serve", "-addr", "127.0.0.1:0", "-log-format", "json")
	cmd.Env = []string{replicaEnv + "=1", "PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = cmd.Stdout
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := make(chan string, 1)
	go func() {
		scan := bufio.NewScanner(out)
		sent := false
		for scan.Scan() {
			var line struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if !sent && json.Unmarshal(scan.Bytes(), &line) == nil && line.Msg == "serving" {
				addr <- line.Addr
				sent = true
			}
			if strings.Contains(scan.Text(), `"level":"ERROR"`) {
				t.Logf("replica A: %s", scan.Text())
			}
		}
		if !sent {
			close(addr)
		}
	}()
	select {
	case a, ok := <-addr:
		require.True(t, ok, "replica A exited before it served")
		return &replica{cmd: cmd, base: "http://" + a}
	case <-time.After(60 * time.Second):
		t.Fatal("replica A never logged that it serves")
		return nil
	}
}
