package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const signalAdminKey = "fh_test_signal_admin_key_0123456789"

// TestSecondSignalEndsTheDrain: the first SIGINT starts a graceful shutdown, which waits here
// for a request whose body never finishes (the drain may take -shutdown-timeout, ten minutes);
// a second SIGINT ends the process at once, as Ctrl-C's default does, instead of being
// swallowed by the first one's handler. The server is a process of its own (TestMain), with
// main's signal handling.
func TestSecondSignalEndsTheDrain(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(os.Args[0], "serve", "-addr", "127.0.0.1:0", "-log-format", "json", "-data-dir", t.TempDir(),
		"-shutdown-timeout", "10m", "-read-timeout", "10m")
	cmd.Env = []string{replicaEnv + "=1", "PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "OTEL_SDK_DISABLED=true",
		"FLOWHOOK_BOOTSTRAP_ADMIN_KEY=" + signalAdminKey}
	out, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	lines := make(chan string, 100)
	go func() {
		scan := bufio.NewScanner(out)
		for scan.Scan() {
			var line struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(scan.Bytes(), &line) == nil {
				select {
				case lines <- line.Msg + " " + line.Addr:
				default:
				}
			}
		}
		exited <- cmd.Wait()
	}()
	await := func(prefix string) string {
		t.Helper()
		deadline := time.After(time.Minute) // liveness only
		for {
			select {
			case l := <-lines:
				if strings.HasPrefix(l, prefix) {
					return strings.TrimSpace(strings.TrimPrefix(l, prefix))
				}
			case <-deadline:
				t.Fatalf("the server never logged %q", prefix)
			}
		}
	}
	addr := await("serving")

	// A request whose handler reads its body: "100 Continue" says the handler has started
	// reading it, so the connection is active and the drain has to wait for it. It carries the
	// key: a call without one is refused before its body is read.
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.Write([]byte("POST /flowhook.v1.IdentityService/WhoAmI HTTP/1.1\r\nHost: " + addr +
		"\r\nContent-Type: application/json\r\nAuthorization: Bearer " + signalAdminKey +
		"\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n"))
	require.NoError(t, err)
	status, err := bufio.NewReader(conn).ReadString('\n')
	require.NoError(t, err)
	require.Contains(t, status, "100 Continue")
	_, err = conn.Write([]byte("{"))
	require.NoError(t, err)

	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	await("shutting down")
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	select {
	case err := <-exited:
		var exit *exec.ExitError
		require.True(t, errors.As(err, &exit), "the process ended: %v", err)
		ws, ok := exit.Sys().(syscall.WaitStatus)
		require.True(t, ok)
		require.True(t, ws.Signaled(), "ended by the second signal, not by the end of the drain: %v", err)
		require.Equal(t, syscall.SIGINT, ws.Signal())
		exited <- err // for the cleanup
	case <-time.After(time.Minute): // liveness only: the drain itself would take ten minutes
		t.Fatal("the second SIGINT did not end the process: it waits for the drain")
	}
}
