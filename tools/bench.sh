#!/usr/bin/env bash
# make bench: flowhook's throughput and latency as ratios to PostgreSQL's own rate, measured in
# the same sitting on the same PostgreSQL, so that the machine's noise cancels.
#
#   1. pgbench runs tools/bench/pgbench.sql (one insert of a webhook-sized row plus one update
#      per transaction: the least a durable webhook needs), 8 clients, BENCH_PGBENCH_SECONDS.
#   2. flowhook serve (built here, no race detector) runs on a fresh database of that
#      PostgreSQL, with its profiles on a debug listener (BENCH_PROFILE=1 saves a CPU profile
#      of the load into BENCH_OUT).
#   3. server/cmd/loadgen drives it through the real HTTP endpoints (signed webhooks of real
#      coupled work items, StartInstance/TakeTransition, the lists), closed loop and paced,
#      and reports rates, p50/p99/p99.9 and the CPU per request of flowhook and PostgreSQL.
#   4. pgbench runs again; the ratios are to the mean of the two pgbench runs.
#
# Output: the table on stdout, and BENCH_OUT (default bench-out/) holds rows.json, pgbench.txt,
# latency.svg (p50/p99 against offered load) and the server's log. Everything talks to
# 127.0.0.1 only. Needs PostgreSQL (started when down, as for the tests) with pgbench and psql.
set -euo pipefail
cd "$(dirname "$0")/.."

PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
OUT=${BENCH_OUT:-bench-out}
SECONDS_EACH=${BENCH_SECONDS:-10}
PGBENCH_SECONDS=${BENCH_PGBENCH_SECONDS:-15}
WORKERS=${BENCH_WORKERS:-8}
SWEEP=${BENCH_SWEEP:-10,100,250,500,1000}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

bash tools/ensure-postgres.sh >/dev/null
for tool in pgbench psql jq; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is needed (apt-get install postgresql-client jq)" >&2; exit 1; }
done

work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; fi
  psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS flowhook_bench WITH (FORCE)" -c "DROP DATABASE IF EXISTS pgbench_bench WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "bench: building flowhook, fakeproviders and loadgen"
go build -o "$work/flowhook" ./server/cmd/flowhook
go build -o "$work/fakeproviders" ./server/cmd/fakeproviders
go build -o "$work/loadgen" ./server/cmd/loadgen

run_pgbench() {
  psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS pgbench_bench WITH (FORCE)" -c "CREATE DATABASE pgbench_bench" >/dev/null
  psql -q "$PG/pgbench_bench" -f tools/bench/pgbench-init.sql >/dev/null 2>&1
  pgbench -n -c 8 -j 2 -T "$PGBENCH_SECONDS" -f tools/bench/pgbench.sql "$PG/pgbench_bench" 2>/dev/null | tee -a "$OUT/pgbench.txt" |
    sed -n 's/^tps = \([0-9.]*\) .*/\1/p'
}
: >"$OUT/pgbench.txt"
echo "bench: pgbench (insert + update per transaction, 8 clients, ${PGBENCH_SECONDS}s)"
tps1=$(run_pgbench)
echo "bench: pgbench ${tps1} tps"

psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS flowhook_bench WITH (FORCE)" -c "CREATE DATABASE flowhook_bench" >/dev/null
key="fh_bench_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
FLOWHOOK_DATABASE_URL="$PG/flowhook_bench?sslmode=disable" \
  FLOWHOOK_SECRET_KEY="$(head -c 32 /dev/urandom | base64)" \
  FLOWHOOK_BOOTSTRAP_ADMIN_KEY="$key" \
  OTEL_TRACES_EXPORTER=none \
  "$work/flowhook" serve -addr "127.0.0.1:$port" -debug-addr "127.0.0.1:$dport" -log-level warn >"$OUT/flowhook.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 300); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { echo "bench: flowhook exited:" >&2; cat "$OUT/flowhook.log" >&2; exit 1; }
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null

if [ "${BENCH_PROFILE:-0}" = 1 ]; then
  (curl -fsS "http://127.0.0.1:$dport/debug/pprof/profile?seconds=$((SECONDS_EACH * 2))" -o "$OUT/cpu.pprof" || true) &
fi

echo "bench: loadgen against flowhook (pid $server_pid), ${SECONDS_EACH}s a scenario"
"$work/loadgen" -url "http://127.0.0.1:$port" -key "$key" -server-pid "$server_pid" \
  -mode closed -workers "$WORKERS" -duration "${SECONDS_EACH}s" -json "$OUT/closed.json" | tee "$OUT/closed.txt"
"$work/loadgen" -url "http://127.0.0.1:$port" -key "$key" -server-pid "$server_pid" -scenario transition-docusign \
  -mode open -sweep "$SWEEP" -duration "${SECONDS_EACH}s" -svg "$OUT/latency.svg" -json "$OUT/open.json" | tee "$OUT/open.txt"
wait

echo "bench: pgbench again"
tps2=$(run_pgbench)
echo "bench: pgbench ${tps2} tps"

jq -s --argjson a "$tps1" --argjson b "$tps2" -r '
  (($a + $b) / 2) as $pg
  | "\nPostgreSQL (pgbench insert+update, 8 clients): \($a | floor) and \($b | floor) tps, mean \($pg | floor)\n",
    "scenario\tload\trate/s\t× pgbench\tp50 ms\tp99 ms\tp99.9 ms\terrors\tserver CPU ms/req\tdb CPU ms/req",
    (add[] | "\(.scenario)\t\(.load)\t\(.rate | floor)\t\((.rate / $pg * 100 | floor) / 100)\t\(.p50_ms)\t\(.p99_ms)\t\(.p999_ms)\t\(.errors)\t\(.server_cpu_ms_per_req)\t\(.db_cpu_ms_per_req)")
' "$OUT/closed.json" "$OUT/open.json" | column -t -s $'\t' | tee "$OUT/ratios.txt"
echo "bench: results in $OUT"
