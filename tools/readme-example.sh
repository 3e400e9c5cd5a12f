#!/usr/bin/env bash
# Runs README.md's worked example exactly as written, so that it cannot rot (`make test-readme`,
# part of `make test`). The README marks its parts with HTML comments before their code fences:
#
#   <!-- readme-example: server -->   the first terminal's command (`flowhook dev`); run here in
#                                     the background, on a fresh data directory and a free port,
#                                     given through FLOWHOOK_DATA_DIR and FLOWHOOK_ADDR
#   <!-- readme-example -->           the second terminal's blocks, run in order in one
#                                     `bash -euo pipefail`, with FLOWHOOK_ADDR exported
#
# Every `call` in the README fails on an error and the example checks its own results (jq -e),
# so a step that goes wrong fails this script. The server must then stop cleanly on Ctrl-C.
# Needs curl and jq (installed with apt when missing).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

bash tools/ensure-tools.sh curl jq

# blocks MARK: the code of every fenced block that follows a line "<!-- MARK -->".
blocks() {
  awk -v mark="<!-- $1 -->" '
    $0 == mark { armed = 1; next }
    armed && /^```/ { inside = 1; armed = 0; next }
    inside && /^```/ { inside = 0; print ""; next }
    inside { print }
  ' README.md
}

server=$(blocks "readme-example: server")
example=$(blocks "readme-example")
if [ -z "$server" ] || [ -z "$example" ]; then
  echo "readme-example: README.md has no marked server command or example blocks" >&2
  exit 1
fi

work=$(mktemp -d)
log=$work/server.log
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL -- "-$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# A free loopback port: one nothing answers on.
port=""
for _ in $(seq 1 50); do
  candidate=$((20000 + RANDOM % 30000))
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then port=$candidate; break; fi
done
[ -n "$port" ] || { echo "readme-example: no free port found" >&2; exit 1; }
export FLOWHOOK_ADDR=127.0.0.1:$port
export FLOWHOOK_DATA_DIR=$work/data

echo "readme-example: starting the server as the README does: $server"
setsid bash -c "$server" >"$log" 2>&1 &
pid=$!
deadline=$((SECONDS + 300)) # the first `go run` compiles the binary
until curl -fsS "http://$FLOWHOOK_ADDR/readyz" >/dev/null 2>&1; do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "readme-example: the server exited before it was ready:" >&2; cat "$log" >&2; exit 1
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "readme-example: the server was not ready within 300 s:" >&2; cat "$log" >&2; exit 1
  fi
  sleep 0.2
done

echo "readme-example: running the worked example ($(printf '%s\n' "$example" | grep -c .) lines)"
start=$SECONDS
if ! (cd "$root" && bash -euo pipefail -c "$example") >"$work/example.out" 2>&1; then
  echo "readme-example: the worked example failed; its output:" >&2; cat "$work/example.out" >&2
  echo "readme-example: the server's log:" >&2; tail -n 60 "$log" >&2
  exit 1
fi
echo "readme-example: the worked example passed in $((SECONDS - start)) s"
[ -z "${README_EXAMPLE_VERBOSE:-}" ] || cat "$work/example.out"

# The server stops cleanly on Ctrl-C, as in a terminal: it drains and logs "stopped". (`go run`
# itself exits 1 once interrupted, whatever the server's status, so its status says nothing.)
kill -INT -- "-$pid"
wait "$pid" || true
pid=""
if ! grep -Eq 'msg=stopped|"msg":"stopped"' "$log"; then
  echo "readme-example: the server did not stop cleanly on SIGINT; its log:" >&2; tail -n 40 "$log" >&2; exit 1
fi
if grep -q 'panic\|DATA RACE' "$log"; then
  echo "readme-example: the server's log shows a panic or a data race:" >&2; cat "$log" >&2; exit 1
fi
echo "readme-example: ok"
