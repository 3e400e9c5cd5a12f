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
		os.Exit(run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestKilledReplicasJobIsRescued: replica A, a process of its own, runs the create job of a
// connector work item and is held inside it by the fake ticketing system; A is killed with
// SIGKILL, so the job's row stays `running` with no one working it. Replica B, on the same
// PostgreSQL database, becomes the leader once A's leadership lapses; its rescuer finds the job
// running longer than RescueAfter (1.5 × FLOWHOOK_JOB_TIMEOUT, here 10 s → 15 s), makes it
// retryable, and B creates the ticket: exactly one, and the instance moves on to its end on the
// ticket's outcome. The time from the kill to the job's completion is logged.
func TestKilledReplicasJobIsRescued(t *testing.T) {
	t.Parallel()
	url := dbtest.NewPostgres(t)
	const key = "fh_test_rescue_admin_key_0123456789"
	vars := map[string]string{
		"FLOWHOOK_DATABASE_URL":        url,
		"FLOWHOOK_BOOTSTRAP_ADMIN_KEY": key,
		"FLOWHOOK_SECRET_KEY":          "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0zMmJ5dGU=",
		// The held create must outlast the start of B and the kill (the attempt would
		// otherwise time out in A and fail normally), and the rescue come soon after.
		"FLOWHOOK_JOB_TIMEOUT": "10s",
		"OTEL_SDK_DISABLED":    "true",
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

	release := fake.HoldRequests()
	t.Cleanup(release)
	form, err := structpb.NewStruct(map[string]any{"signer_name": "Ada Lovelace", "signer_email": "ada@example.com"})
	require.NoError(t, err)
	started, err := c.instances.StartInstance(t.Context(), connect.NewRequest(&flowhookv1.StartInstanceRequest{
		WorkflowId: workflowID, FormData: form, TransitionKey: "submit"}))
	require.NoError(t, err)
	instanceID := started.Msg.GetInstance().GetId()
	require.Eventually(t, func() bool { return fake.HeldRequests() == 1 }, 30*time.Second, 10*time.Millisecond, "A's create reaches the fake")

	// B serves before A dies: the replica that survives.
	b := startServer(t, vars, "serve", "-addr", "127.0.0.1:0")

	db, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	defer db.Close(context.Background())
	kind := engine.CreateWorkItemJob{}.Kind()
	var jobID int64
	var state string
	require.NoError(t, db.QueryRow(t.Context(), "SELECT id, state FROM river_job WHERE kind = $1", kind).Scan(&jobID, &state))
	require.Equal(t, "running", state, "A is working the create job")

	require.NoError(t, a.cmd.Process.Kill()) // SIGKILL
	killed := time.Now()
	_ = a.cmd.Wait()
	// The fake drops the held call once it sees A's connection close; only then is the gate
	// opened, so that the call A made is never served.
	require.Eventually(t, func() bool { return fake.HeldRequests() == 0 }, 30*time.Second, 10*time.Millisecond)
	release()
	require.Empty(t, fake.Tickets(), "A's call created nothing")
	require.NoError(t, db.QueryRow(t.Context(), "SELECT state FROM river_job WHERE id = $1", jobID).Scan(&state))
	require.Equal(t, "running", state, "the killed replica's job is left running")

	// Kill → rescue (B leader, RescueAfter) → backoff → scheduler → B works it.
	var errs string
	require.Eventually(t, func() bool {
		err := db.QueryRow(context.Background(), "SELECT state, errors::text FROM river_job WHERE id = $1", jobID).Scan(&state, &errs)
		return err == nil && state == "completed"
	}, 120*time.Second, 50*time.Millisecond, "the create job is finished elsewhere (state %s)", state)
	t.Logf("kill -9 → create job finished on the other replica: %s", time.Since(killed).Round(10*time.Millisecond))
	require.Contains(t, errs, "Stuck job rescued by JobRescuer", "B's rescuer, not a normal retry, brought the job back")

	cb := newClients(b.base, key)
	tickets := fake.Tickets()
	require.Len(t, tickets, 1, "one ticket")
	coupled := await(t, cb, instanceID, func(in *flowhookv1.Instance) bool { return in.GetWorkItem().GetExternalId() != "" })
	require.Equal(t, tickets[0].ID, coupled.GetWorkItem().GetExternalId())
	require.Equal(t, coupled.GetWorkItem().GetId(), tickets[0].WorkItemID)
	require.NoError(t, fake.Approve(tickets[0].ID, "approved after the rescue"))
	await(t, cb, instanceID, completedIn("done"))
	require.Len(t, fake.Tickets(), 1, "still one ticket")
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
