#!/usr/bin/env bash
# make bench: flowhook's throughput and latency as ratios to PostgreSQL's own rate, measured in
# the same sitting on the same PostgreSQL, so that the machine's noise cancels.
#
#   1. pgbench runs tools/bench/pgbench.sql (one insert of a webhook-sized row plus one update
#      per transaction: the least a durable webhook needs), BENCH_WORKERS clients (as many as
#      loadgen's workers; 8 by default), BENCH_PGBENCH_SECONDS, in its default (simple
#      protocol) mode: the verdicts' baseline, as in every earlier sitting. Right after it the
#      same runs with -M prepared: flowhook prepares its statements (pgx), so that rate is the
#      stricter baseline (on one machine here: simple 6,700–7,750 tps, prepared 8,450–9,120),
#      reported beside the verdicts, not instead of them.
#   2. flowhook serve (built here, no race detector) runs on a fresh database of that
#      PostgreSQL, with its profiles on a debug listener. BENCH_PROFILE=1 saves a CPU profile of
#      flowhook into BENCH_OUT/cpu.pprof: 3 × BENCH_SECONDS (30 s by default) from the moment
#      the first flowhook is ready, so loadgen's set-up, each scenario's preparation and as
#      many closed-loop scenarios as fit (the first few, in loadgen's order: ingest first), not
#      the paced runs, the replicas nor the lists.
#   3. server/cmd/loadgen drives it through the real HTTP endpoints (signed webhooks of real
#      coupled work items, StartInstance/TakeTransition, the lists), closed loop and paced (each
#      rate for at least 300 requests, so that its p99 is not one request), and reports rates,
#      p50/p99/p99.9, the CPU per request of flowhook, PostgreSQL and the load (loadgen and
#      the fakes it started, which share the machine), and how flowhook's write lanes grouped
#      the writes (flowhook_group_commit_*: writes a batch, and how busy each lane's writer was).
#   4. The same with 2 and 3 replicas on one database (BENCH_REPLICAS="2 3"), requests round
#      robin, for the webhook, start and take scenarios.
#      Before each closed-loop row's timed part, pgbench runs the same script for
#      BENCH_BASELINE_SECONDS (loadgen -baseline; 0: not run): each row's rate is also set
#      against PostgreSQL's own rate seconds before it, which these machines' drift (a fifth
#      within minutes) does not move.
#   5. pgbench runs again (and again with -M prepared); the ratios are to the mean of the two
#      default-mode runs, and ratios.txt ends with the closed-loop rows against the mean of the
#      two prepared runs too. Before the paced runs, pgbench also runs the same script paced
#      at 10/s with one client: PostgreSQL's own latency at light load, which the 10/s row is
#      compared with.
#   6. With BENCH_MEMORY (a duration, e.g. 10m), one flowhook on a fresh database takes DocuSign
#      notifications paced at half the sitting's saturated ingest rate for that long, its
#      resident memory read every 10 s: flat or not (issue 18's memory target).
#   7. BenchmarkInstanceLists (server/internal/api) times ListAssignedToMe and ListInstances
#      one call at a time on 100,000 instances, BENCH_LISTS_CALLS calls each (BENCH_LISTS=0
#      skips it): their p99 against the 10 ms target.
#
# Output: the table on stdout, and BENCH_OUT (default bench-out/) holds ratios.txt (the table
# and the targets), the rows as JSON (closed.json, open.json, replicas-N.json, memory.json),
# pgbench.txt (every pgbench run) and pgbench.json (their rates), lists.txt, latency.svg
# (p50/p99 against offered load) and the server's log. Everything talks to 127.0.0.1 only.
# Needs PostgreSQL (started when down, as for the tests) with pgbench and psql.
#
# A row whose check failed (loadgen's problem: say, fewer instances moved than requests
# answered 200; loadgen then exits 3 after writing its rows) does not stop the sitting: the
# rest is measured, the table marks the row PROBLEM, its target says NOT met, and the bench
# exits 3 at the end, after the report, so that the sitting's output is kept but is not taken
# for a clean result. Any other failure (loadgen's exit 1 or 2, pgbench, psql) ends the sitting
# at once, with a non-zero status. On exit, however it comes (Ctrl-C too), the flowhook
# processes started so far, the profile's curl and an unfinished BenchmarkInstanceLists are
# stopped, and the databases made for the sitting dropped: flowhook_bench, pgbench_bench, and
# the flowhook_test_* database of an interrupted BenchmarkInstanceLists (found by the
# application_name its connections carry; one it had not connected to yet stays).
set -euo pipefail
cd "$(dirname "$0")/.."

PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
OUT=${BENCH_OUT:-bench-out}
SECONDS_EACH=${BENCH_SECONDS:-10}
PGBENCH_SECONDS=${BENCH_PGBENCH_SECONDS:-15}
WORKERS=${BENCH_WORKERS:-8}
PGBENCH_JOBS=$((WORKERS < 2 ? WORKERS : 2))
# Items prepared for a scenario that uses one per request (a transition, a take), closed loop
# or at a paced rate:
# enough for the whole run at the rates reached here. With loadgen's default (3,000) the
# DocuSign completions ran out after about 4 s of the 10, and the fixed costs of a run (cold
# statements, the documents' settle) weighed on its rate by a fifth.
POOL=${BENCH_POOL:-10000}
SWEEP=${BENCH_SWEEP:-10,100,250,500,1000}
MEMORY=${BENCH_MEMORY:-}
LISTS=${BENCH_LISTS:-1}
LISTS_CALLS=${BENCH_LISTS_CALLS:-300}
BASELINE_SECONDS=${BENCH_BASELINE_SECONDS:-5}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
rm -f "$OUT/memory.json" # an earlier sitting's is not this one's

bash tools/ensure-postgres.sh >/dev/null
for tool in pgbench psql jq bc curl python3 setsid; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is needed (apt-get install postgresql-client jq)" >&2; exit 1; }
done

work=$(mktemp -d)
server_pid="" profile_pid="" lists_pid="" lists_app="flowhook_bench_lists_$$"
cleanup() {
  if [ -n "$profile_pid" ]; then kill "$profile_pid" 2>/dev/null || true; fi
  stop_lists 2>/dev/null || true
  stop_replicas 2>/dev/null || true
  psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS flowhook_bench WITH (FORCE)" -c "DROP DATABASE IF EXISTS pgbench_bench WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
stop_replicas() {
  [ -n "$server_pid" ] || return 0
  for p in ${server_pid//,/ }; do kill "$p" 2>/dev/null || true; done
  for p in ${server_pid//,/ }; do wait "$p" 2>/dev/null || true; done
  server_pid=""
}
# stop_lists: an unfinished BenchmarkInstanceLists (its own session, so that Ctrl-C reaches it
# only through here) is stopped, and the flowhook_test_* database it was connected to (its
# connections carry application_name $lists_app) dropped: the test's own cleanup never runs.
stop_lists() {
  [ -n "$lists_pid" ] || return 0
  local dbs
  dbs=$(psql -XAtq "$PG/postgres" -c "SELECT DISTINCT datname FROM pg_stat_activity WHERE application_name = '$lists_app' AND datname LIKE 'flowhook\_test\_%'" 2>/dev/null) || dbs=""
  kill -- "-$lists_pid" 2>/dev/null || kill "$lists_pid" 2>/dev/null || true
  wait "$lists_pid" 2>/dev/null || true
  for d in $dbs; do psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS \"$d\" WITH (FORCE)" >/dev/null 2>&1 || true; done
  lists_pid=""
}

echo "bench: building flowhook, fakeproviders and loadgen"
go build -o "$work/flowhook" ./server/cmd/flowhook
go build -o "$work/fakeproviders" ./server/cmd/fakeproviders
go build -o "$work/loadgen" ./server/cmd/loadgen

# tps_of: the rate in pgbench's output, its last "tps =" line (older pgbench print two: with
# and without the connections' time).
tps_of() { sed -n 's/^tps = \([0-9.]*\) .*/\1/p' | tail -1; }
# run_pgbench [flag…]: the script on a fresh pgbench_bench, WORKERS clients, PGBENCH_SECONDS,
# with pgbench's flags (-M prepared); prints its tps.
run_pgbench() {
  psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS pgbench_bench WITH (FORCE)" -c "CREATE DATABASE pgbench_bench" >/dev/null
  psql -q "$PG/pgbench_bench" -f tools/bench/pgbench-init.sql >/dev/null 2>&1
  pgbench -n -c "$WORKERS" -j "$PGBENCH_JOBS" -T "$PGBENCH_SECONDS" "$@" -f tools/bench/pgbench.sql "$PG/pgbench_bench" 2>/dev/null | tee -a "$OUT/pgbench.txt" | tps_of
}
: >"$OUT/pgbench.txt"
echo "bench: pgbench (insert + update per transaction, $WORKERS clients, ${PGBENCH_SECONDS}s; default mode, then -M prepared)"
tps1=$(run_pgbench)
tps1p=$(run_pgbench -M prepared)
echo "bench: pgbench ${tps1} tps (-M prepared: ${tps1p})"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
key="fh_bench_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
secret="$(head -c 32 /dev/urandom | base64)"
# start_replicas N: N flowhook serve on a fresh database flowhook_bench; sets urls and
# server_pid (each pid as soon as its process starts, so that a replica that never gets ready,
# or a Ctrl-C, leaves none running).
start_replicas() {
  stop_replicas
  psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS flowhook_bench WITH (FORCE)" -c "CREATE DATABASE flowhook_bench" >/dev/null
  FLOWHOOK_DATABASE_URL="$PG/flowhook_bench?sslmode=disable" FLOWHOOK_SECRET_KEY="$secret" \
    "$work/flowhook" migrate -log-level warn >>"$OUT/flowhook.log" 2>&1
  urls=""
  for i in $(seq 1 "$1"); do
    local port dport
    port=$(free_port) dport=$(free_port)
    FLOWHOOK_DATABASE_URL="$PG/flowhook_bench?sslmode=disable" FLOWHOOK_SECRET_KEY="$secret" \
      FLOWHOOK_BOOTSTRAP_ADMIN_KEY="$key" OTEL_TRACES_EXPORTER=none \
      "$work/flowhook" serve -addr "127.0.0.1:$port" -debug-addr "127.0.0.1:$dport" -log-level warn >>"$OUT/flowhook.log" 2>&1 &
    server_pid="${server_pid:+$server_pid,}$!" urls="${urls:+$urls,}http://127.0.0.1:$port"
    [ "$i" = 1 ] && debug="127.0.0.1:$dport"
    for _ in $(seq 1 300); do
      curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
      sleep 0.1
    done
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null || { echo "bench: flowhook did not start:" >&2; tail -20 "$OUT/flowhook.log" >&2; exit 1; }
  done
}
# loadgen: its exit status 3 (every scenario ran, its rows written, but a row's check failed)
# lets the sitting go on (the report says NOT met, and the bench exits 3 at the end); any other
# failure ends the sitting.
loadgen() {
  local rc=0
  "$work/loadgen" -key "$key" -fakes-bin "$work/fakeproviders" -server-pid "$server_pid" -url "$urls" "$@" || rc=$?
  [ "$rc" = 0 ] || [ "$rc" = 3 ] || return "$rc"
}

: >"$OUT/flowhook.log"
start_replicas 1
if [ "${BENCH_PROFILE:-0}" = 1 ]; then
  # From now, 3 × BENCH_SECONDS: loadgen's set-up, preparations and first closed-loop scenarios.
  curl -fsS "http://$debug/debug/pprof/profile?seconds=$((SECONDS_EACH * 3))" -o "$OUT/cpu.pprof" &
  profile_pid=$!
fi
echo "bench: loadgen against one flowhook (pid $server_pid), closed loop, $WORKERS workers, ${SECONDS_EACH}s a scenario"
# The lists come last, on the instances the runs before them made; -vacuum-db vacuums and
# analyzes the database before each, as a deployment's autovacuum would have (it is off on CI
# machines, and unanalyzed tables are planned on guesses).
# Each row's baseline: pgbench's rate seconds before its timed part (its items prepared), on the
# pgbench database the first run left.
baseline=()
if [ "$BASELINE_SECONDS" != 0 ]; then
  baseline=(-baseline "pgbench -n -c $WORKERS -j $PGBENCH_JOBS -T $BASELINE_SECONDS -f tools/bench/pgbench.sql '$PG/pgbench_bench' 2>/dev/null | sed -n 's/^tps = \([0-9.]*\) .*/\1/p' | tail -1")
fi
loadgen -mode closed -workers "$WORKERS" -duration "${SECONDS_EACH}s" -pool-max "$POOL" -vacuum-db "$PG/flowhook_bench?sslmode=disable" \
  "${baseline[@]}" -json "$OUT/closed.json" | tee "$OUT/closed.txt"
# The closed-loop runs leave tens of thousands of dead rows in every table they wrote. A
# deployment's autovacuum clears them as they come; where autovacuum is off (as on CI machines),
# the paced runs would meet them all, which a deployment never does, so the bench vacuums here
# what autovacuum would have (and checkpoints, so that the checkpointer's writes of the closed
# runs are not in the paced ones' time). With it, 300 requests at 10/s after 40,000
# closed-loop requests had p99 10.6–11.3 ms in three runs of four (25.0 in the other); without
# it 12.0–24.1 ms in seven (docs/performance-history.md, session 17).
psql -q "$PG/flowhook_bench" -c "VACUUM ANALYZE" -c "CHECKPOINT" >/dev/null ||
  echo "bench: VACUUM ANALYZE and CHECKPOINT failed (they need the database's owner and pg_checkpoint); the paced runs meet the closed runs' dead rows" >&2
# PostgreSQL's own latency at light load, the floor under the 10/s row: the same script, one
# client, paced at 10/s for 300 transactions (as many as loadgen's 10/s row), measured from each
# transaction's scheduled time as loadgen measures from a send's intended time. On an idle
# machine every round trip wakes two processes, so even PostgreSQL alone takes milliseconds here.
echo "bench: pgbench paced at 10/s (one client, 300 transactions)"
pg_p50="" pg_p99="" pg_p999=""
if pgbench -n -c 1 -j 1 -R 10 -t 300 -l --log-prefix="$work/pgpaced" -f tools/bench/pgbench.sql "$PG/pgbench_bench" >"$OUT/pgbench-paced.txt" 2>&1; then
  # The per-transaction log's third field is the latency in µs; nearest-rank percentiles, as HDR's.
  read -r pg_p50 pg_p99 pg_p999 < <(cat "$work"/pgpaced.* | awk '{print $3}' | sort -n |
    awk '{a[NR] = $1} END { n = NR; split("0.5 0.99 0.999", q, " "); for (i = 1; i <= 3; i++) { r = int(q[i] * n); if (r < q[i] * n) r++; printf "%.2f ", a[r] / 1000 } print "" }') || true
fi
if [ -n "$pg_p99" ]; then
  echo "bench: PostgreSQL alone at 10/s: p50 ${pg_p50} / p99 ${pg_p99} / p99.9 ${pg_p999} ms"
else
  echo "bench: pgbench paced at 10/s failed (see $OUT/pgbench-paced.txt); the 10/s row is shown without it" >&2
fi
echo "bench: loadgen, paced (open loop): webhook → transition at each rate"
# Each rate gets the items its whole run uses (rate × time, up to POOL): with loadgen's default
# of 3,000, the rates past 300/s ran out early, and the 1,000/s row was a three-second burst.
loadgen -scenario transition-docusign -sweep "$SWEEP" -duration "${SECONDS_EACH}s" -min-requests 300 -pool-max "$POOL" -svg "$OUT/latency.svg" -json "$OUT/open.json" | tee "$OUT/open.txt"
if [ -n "$profile_pid" ]; then
  wait "$profile_pid" || echo "bench: the CPU profile failed (see $OUT/flowhook.log)" >&2
  profile_pid=""
fi
replica_files=()
for n in ${BENCH_REPLICAS:-2 3}; do
  start_replicas "$n"
  echo "bench: $n replicas on the same PostgreSQL, requests round robin"
  loadgen -mode closed -workers "$WORKERS" -duration "${SECONDS_EACH}s" -pool-max "$POOL" -scenario "ingest-docusign,transition-docusign,start,take" \
    -json "$OUT/replicas-$n.json" | tee "$OUT/replicas-$n.txt"
  replica_files+=("$OUT/replicas-$n.json")
done
stop_replicas

echo "bench: pgbench again (default mode, then -M prepared)"
tps2=$(run_pgbench)
tps2p=$(run_pgbench -M prepared)
echo "bench: pgbench ${tps2} tps (-M prepared: ${tps2p})"
jq -n --argjson clients "$WORKERS" --argjson seconds "$PGBENCH_SECONDS" --argjson s1 "$tps1" --argjson s2 "$tps2" --argjson p1 "$tps1p" --argjson p2 "$tps2p" \
  '{clients: $clients, seconds: $seconds, simple: [$s1, $s2], simple_mean: (($s1 + $s2) / 2), prepared: [$p1, $p2], prepared_mean: (($p1 + $p2) / 2)}' >"$OUT/pgbench.json"

# Memory: half the sitting's saturated ingest rate, for BENCH_MEMORY, on one fresh flowhook
# whose resident memory loadgen reads every 10 s (the row's server_rss).
memory_rate=""
if [ -n "$MEMORY" ]; then
  memory_rate=$(jq -r '[.rows[] | select(.mode == "closed" and .scenario == "ingest-docusign")][0].rate // 0 | . / 2 | floor' "$OUT/closed.json")
  if [ "${memory_rate:-0}" -gt 0 ]; then
    start_replicas 1
    echo "bench: memory: ingest-docusign paced at ${memory_rate}/s (half the closed loop's rate) for $MEMORY"
    loadgen -mode open -rate "$memory_rate" -duration "$MEMORY" -scenario ingest-docusign -rss-every 10s \
      -json "$OUT/memory.json" | tee "$OUT/memory.txt"
    stop_replicas
  else
    echo "bench: memory not measured: no ingest-docusign rate in this sitting" >&2
  fi
fi

# The lists, one call at a time on 100,000 instances (the Go benchmark seeds its own database).
if [ "$LISTS" != 0 ]; then
  echo "bench: the lists on 100,000 instances (BenchmarkInstanceLists, $LISTS_CALLS calls each)"
  # In a session of its own, its connections named (application_name): see stop_lists.
  TEST_DATABASE_URL="$PG/postgres?sslmode=disable&application_name=$lists_app" setsid go test ./server/internal/api/ -run '^$' \
    -bench BenchmarkInstanceLists -benchtime "${LISTS_CALLS}x" -count 1 >"$OUT/lists.txt" 2>&1 &
  lists_pid=$!
  wait "$lists_pid" || echo "bench: BenchmarkInstanceLists failed (see $OUT/lists.txt)" >&2
  lists_pid=""
  grep -E '^BenchmarkInstanceLists/|--- FAIL' "$OUT/lists.txt" || true
fi

# The table and the targets (tools/bench-report.sh).
source tools/bench-report.sh
report | tee "$OUT/ratios.txt"
echo "bench: results in $OUT"
row_files=("$OUT/closed.json" "$OUT/open.json" "${replica_files[@]}")
[ ! -s "$OUT/memory.json" ] || row_files+=("$OUT/memory.json")
problem_rows=$(jq -s '[.[].rows[] | select((.problem // "") != "")] | length' "${row_files[@]}")
if [ "$problem_rows" -gt 0 ]; then
  echo "bench: $problem_rows rows had a problem (PROBLEM in the table: a check failed, so they are no result); exit status 3" >&2
  exit 3
fi
