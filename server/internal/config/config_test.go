package config_test

import (
	"errors"
	"flag"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/config"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	c, err := config.Load("serve", nil, env(nil), io.Discard)
	require.NoError(t, err)
	require.True(t, c.Embedded())
	require.Equal(t, "127.0.0.1:8080", c.Addr)
	require.Equal(t, "./flowhook-data", c.DataDir)
	require.Equal(t, "http://127.0.0.1:8080", c.PublicURL)
	require.Equal(t, slog.LevelInfo, c.LogLevel)
}

// TestDefaultPublicURL: without a public URL, the one providers are given names a host, also
// when flowhook listens on every interface (":8080", the usual spelling in a container). The
// debug listener may be on loopback only.
func TestDefaultPublicURL(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]string{
		":8080":          "http://127.0.0.1:8080",
		"0.0.0.0:8080":   "http://127.0.0.1:8080",
		"[::]:8080":      "http://127.0.0.1:8080",
		"10.0.0.5:8080":  "http://10.0.0.5:8080",
		"localhost:8080": "http://localhost:8080",
	} {
		c, err := config.Load("serve", []string{"-addr", addr}, env(nil), io.Discard)
		require.NoError(t, err)
		require.Equal(t, want, c.PublicURL, addr)
		require.Equal(t, want, config.DefaultPublicURL(addr), addr)
	}
	for _, addr := range []string{"127.0.0.1:6060", "[::1]:6060", "localhost:0"} {
		c, err := config.Load("serve", []string{"-debug-addr", addr}, env(nil), io.Discard)
		require.NoError(t, err, addr)
		require.Equal(t, addr, c.DebugAddr)
	}
}

func TestLoadEnvThenFlags(t *testing.T) {
	t.Parallel()
	c, err := config.Load("serve",
		[]string{"-addr", ":9090", "-log-level", "debug"},
		env(map[string]string{
			"FLOWHOOK_ADDR":             "0.0.0.0:7000",
			"FLOWHOOK_DATABASE_URL":     "postgres://flowhook@db:5432/flowhook",
			"FLOWHOOK_SHUTDOWN_TIMEOUT": "5s",
			"FLOWHOOK_PUBLIC_URL":       "https://flowhook.example.com",
			"FLOWHOOK_CORS_ORIGINS":     " https://app.example.com/, http://localhost:5173 ,,",
		}), io.Discard)
	require.NoError(t, err)
	require.Equal(t, ":9090", c.Addr, "a flag wins over its variable")
	require.False(t, c.Embedded())
	require.Equal(t, 5*time.Second, c.ShutdownTimeout)
	require.Equal(t, slog.LevelDebug, c.LogLevel)
	require.Equal(t, "https://flowhook.example.com", c.PublicURL)
	require.Equal(t, []string{"https://app.example.com", "http://localhost:5173"}, c.CORSOrigins)

	// A variable that does not parse is no problem when its flag is given: the flag wins. One
	// whose flag is not given still is.
	c, err = config.Load("serve", []string{"-job-timeout", "2m", "-db-max-conns", "8", "-sandbox=false"},
		env(map[string]string{"FLOWHOOK_JOB_TIMEOUT": "2", "FLOWHOOK_DB_MAX_CONNS": "many", "FLOWHOOK_SANDBOX": "maybe"}), io.Discard)
	require.NoError(t, err)
	require.Equal(t, 2*time.Minute, c.JobTimeout)
	require.Equal(t, 8, c.DBMaxConns)
	_, err = config.Load("serve", []string{"-job-timeout", "2m"},
		env(map[string]string{"FLOWHOOK_JOB_TIMEOUT": "2", "FLOWHOOK_READ_TIMEOUT": "soon"}), io.Discard)
	require.EqualError(t, err, `FLOWHOOK_READ_TIMEOUT: "soon" is not a duration (e.g. 30s, 2m)`)
}

func TestLoadReportsEveryProblem(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want []string
	}{
		{"bad duration in env", nil, map[string]string{"FLOWHOOK_READ_TIMEOUT": "soon"}, []string{`FLOWHOOK_READ_TIMEOUT: "soon" is not a duration`}},
		{"bad number in env", nil, map[string]string{"FLOWHOOK_DB_MAX_CONNS": "many"}, []string{`FLOWHOOK_DB_MAX_CONNS: "many" is not a whole number`}},
		{"too few connections", nil, map[string]string{"FLOWHOOK_DB_MAX_CONNS": "3"}, []string{`db max conns 3: want 4 to 10000 (0: 30)`}},
		{"negative connections", []string{"-db-max-conns", "-1"}, nil, []string{`db max conns -1: want 4 to 10000`}},
		{"several at once", []string{"-addr", "nowhere", "-log-format", "xml", "-log-level", "loud"}, nil, []string{
			`log level "loud"`,
		}},
		{"validation lists all", []string{"-addr", "nowhere", "-log-format", "xml", "-read-timeout", "0s"}, nil, []string{
			`addr "nowhere": want host:port`, `log format "xml"`, "read timeout 0s: must be positive",
		}},
		{"unsupported database", []string{"-database-url", "mysql://root@db/x"}, nil, []string{`database URL: scheme "mysql" is not supported`}},
		{"password never echoed", []string{"-database-url", "mysql://root:hunter2@db/x"}, nil, []string{"scheme"}},
		{"bad port", []string{"-addr", "127.0.0.1:99999"}, nil, []string{"port must be a number from 0 to 65535"}},
		{"bad public url", []string{"-public-url", "ftp://x"}, nil, []string{`public URL "ftp://x"`}},
		{"stray argument", []string{"extra"}, nil, []string{"unexpected arguments: extra"}},
		{"debug listener on every interface", []string{"-debug-addr", ":6060"}, nil, []string{`debug-addr ":6060": Go's profiles have no authentication`}},
		{"debug listener on a public address", nil, map[string]string{"FLOWHOOK_DEBUG_ADDR": "10.1.2.3:6060"}, []string{`debug-addr "10.1.2.3:6060"`, "loopback only"}},
		{"debug listener on a wildcard address", []string{"-debug-addr", "0.0.0.0:6060"}, nil, []string{`debug-addr "0.0.0.0:6060"`}},
		{"bad CORS origins", []string{"-cors-origins", "app.example.com,https://x.example.com/app,https://ok.example.com,*"}, nil, []string{
			`CORS origin "app.example.com"`, `CORS origin "https://x.example.com/app"`,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Load("serve", tc.args, env(tc.env), io.Discard)
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
			require.NotContains(t, err.Error(), "hunter2")
		})
	}
}

// Two keys for the tests (base64 of 32 bytes); never real ones.
const (
	keyA = "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0zMmJ5dGU="
	keyB = "YW5vdGhlci10ZXN0LWtleS1vZi0zMi1ieXRlcy1sb24="
)

// FLOWHOOK_SECRET_KEY is a ring: one key, or several comma-separated, each checked at load
// (before anything touches the database) by position, never echoing a key. serve, migrate and
// rotate-secrets read it; dev does not.
func TestLoadSecretKeyRing(t *testing.T) {
	t.Parallel()
	for _, cmd := range []config.Command{config.Serve, config.Migrate, config.RotateSecrets} {
		c, err := config.Load(cmd, nil, env(map[string]string{"FLOWHOOK_SECRET_KEY": keyB + "," + keyA}), io.Discard)
		require.NoError(t, err, cmd)
		require.Equal(t, keyB+","+keyA, c.SecretKey, cmd)
		for _, tc := range []struct{ key, want string }{
			{"not a key!", "FLOWHOOK_SECRET_KEY: not base64"},
			{"c2hvcnQ=", "FLOWHOOK_SECRET_KEY: want 32 bytes of base64 (e.g. `openssl rand -base64 32`), got 5 bytes"},
			{keyB + ",not a key!", "FLOWHOOK_SECRET_KEY: key 2 of 2: not base64"},
			{keyA + "," + keyA, "FLOWHOOK_SECRET_KEY: key 2 of 2: the same key as key 1"},
			{",", "FLOWHOOK_SECRET_KEY: no key"},
		} {
			_, err := config.Load(cmd, []string{"-log-format", "xml"}, env(map[string]string{"FLOWHOOK_SECRET_KEY": tc.key}), io.Discard)
			require.ErrorContains(t, err, tc.want, "%s %q", cmd, tc.key)
			require.ErrorContains(t, err, `log format "xml"`, "reported with every other problem")
			require.NotContains(t, err.Error(), keyA)
			require.NotContains(t, err.Error(), keyB)
		}
	}
	dev, err := config.Load(config.Dev, nil, env(map[string]string{"FLOWHOOK_SECRET_KEY": "not a key!"}), io.Discard)
	require.NoError(t, err, "dev keeps its key in its data dir")
	require.Empty(t, dev.SecretKey)

	rot, err := config.Load(config.RotateSecrets, []string{"-database-url", "postgres://x@db/flowhook"}, env(nil), io.Discard)
	require.NoError(t, err)
	require.False(t, rot.Embedded())
	_, err = config.Load(config.RotateSecrets, []string{"-addr", ":1"}, env(nil), io.Discard)
	require.ErrorContains(t, err, "flag provided but not defined: -addr (see 'flowhook rotate-secrets -h')")
}

func TestLoadHelp(t *testing.T) {
	t.Parallel()
	_, err := config.Load("serve", []string{"-h"}, env(nil), io.Discard)
	require.True(t, errors.Is(err, flag.ErrHelp))
}

// TestLoadPerCommand: dev has its own defaults and reads neither the database URL nor the
// secret key; each command knows only its own flags.
func TestLoadPerCommand(t *testing.T) {
	t.Parallel()
	vars := env(map[string]string{"FLOWHOOK_DATABASE_URL": "postgres://x@db/flowhook", "FLOWHOOK_SECRET_KEY": keyA,
		"FLOWHOOK_BOOTSTRAP_ADMIN_KEY": "fh_a_key_of_twenty_chars_or_more"})
	dev, err := config.Load(config.Dev, nil, vars, io.Discard)
	require.NoError(t, err)
	require.True(t, dev.Embedded(), "dev is always embedded")
	require.Empty(t, dev.SecretKey)
	require.Equal(t, "./.flowhook", dev.DataDir)
	require.Equal(t, "text", dev.LogFormat)
	require.True(t, dev.Sandbox)
	require.True(t, dev.AdoptBootstrapKey)
	require.Equal(t, "fh_a_key_of_twenty_chars_or_more", dev.BootstrapAdminKey)

	serve, err := config.Load(config.Serve, []string{"-sandbox"}, vars, io.Discard)
	require.NoError(t, err)
	require.True(t, serve.Sandbox)
	require.False(t, serve.AdoptBootstrapKey)
	require.Equal(t, keyA, serve.SecretKey)
	serve, err = config.Load(config.Serve, nil, env(map[string]string{"FLOWHOOK_SANDBOX": "true"}), io.Discard)
	require.NoError(t, err)
	require.True(t, serve.Sandbox)

	_, err = config.Load(config.Migrate, []string{"-addr", ":1"}, env(nil), io.Discard)
	require.ErrorContains(t, err, "flag provided but not defined: -addr (see 'flowhook migrate -h')")
	_, err = config.Load(config.Dev, []string{"-sandbox"}, env(nil), io.Discard)
	require.ErrorContains(t, err, "flag provided but not defined: -sandbox")
	_, err = config.Load("launch", nil, env(nil), io.Discard)
	require.ErrorContains(t, err, `unknown command "launch"`)
}

// TestPublicURLDefault: PublicURLDefault says that no public URL was given, by flag or
// variable; one given that equals the default http://{addr} was given all the same.
func TestPublicURLDefault(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want bool
	}{
		{"nothing", []string{"-addr", "127.0.0.1:18483"}, nil, true},
		{"empty variable", []string{"-addr", "127.0.0.1:18483"}, map[string]string{"FLOWHOOK_PUBLIC_URL": ""}, true},
		{"variable equal to the default", []string{"-addr", "127.0.0.1:18483"}, map[string]string{"FLOWHOOK_PUBLIC_URL": "http://127.0.0.1:18483"}, false},
		{"flag equal to the default", []string{"-addr", "127.0.0.1:18483", "-public-url", "http://127.0.0.1:18483"}, nil, false},
		{"another URL", nil, map[string]string{"FLOWHOOK_PUBLIC_URL": "https://flowhook.example.com"}, false},
	} {
		for _, cmd := range []config.Command{config.Serve, config.Dev} {
			c, err := config.Load(cmd, tc.args, env(tc.env), io.Discard)
			require.NoError(t, err, "%s %s", cmd, tc.name)
			require.Equal(t, tc.want, c.PublicURLDefault, "%s %s", cmd, tc.name)
		}
	}
	c, err := config.Load(config.Serve, []string{"-addr", "127.0.0.1:18483"}, env(nil), io.Discard)
	require.NoError(t, err)
	require.Equal(t, "http://127.0.0.1:18483", c.PublicURL)
}
