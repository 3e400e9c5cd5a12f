#!/usr/bin/env bash
# The report of a `make bench` sitting (sourced by tools/bench.sh, and by loadgen's
# TestBenchReport with made-up rows): the table of every row as ratios to pgbench's mean (and,
# for a row with a baseline, to the pgbench run seconds before it), then the sitting against
# issue 18's targets, each met or not by the mean, with the ratio beside it too.
#
# Reads: OUT (the sitting's folder: closed.json, open.json, replicas-N.json, lists.txt,
# memory.json, as loadgen and the lists' benchmark wrote them), tps1 and tps2 (pgbench's two
# runs, default mode: the verdicts' baseline), tps1p and tps2p (the same with -M prepared, run
# right after each; empty or unset: not run), WORKERS (pgbench's clients, as loadgen's workers),
# pg_p50/pg_p99/pg_p999 (PostgreSQL alone at 10/s; empty: not measured), replica_files (an
# array of replicas-N.json), LISTS (0: the lists were not run) and MEMORY (the memory run's
# length; empty: not run). Needs jq, awk, bc and column.
#
# A row with a problem (its check failed: say, fewer instances moved than requests answered
# 200) is never met ("NOT met: <problem>") and is marked in the table; a row with errors or
# dropped sends is not met either, and its percentiles are lower bounds (≥: loadgen's
# percentiles_lower_bound).

ratios() { # file replicas
  jq -r --argjson a "$tps1" --argjson b "$tps2" --arg rep "$2" '
    (($a + $b) / 2) as $pg
    | .rows[]
    | (if .percentiles_lower_bound then "≥" else "" end) as $lb
    | "\($rep)\t\(.scenario)\t\(if .mode == "open" then "\(.target_rate)/s paced" else "\(.workers) workers" end)\t\(.rate | floor)\t\((.rate / $pg * 100 | floor) / 100)\t\(if (.baseline_rate // 0) > 0 then "\((.rate / .baseline_rate * 100 | floor) / 100) (\(.baseline_rate | floor))" else "-" end)\t\($lb)\(.p50_ms)\t\($lb)\(.p99_ms)\t\($lb)\(.p999_ms)\t\(.errors + .dropped)\t\(.server_cpu_ms_per_req * 100 | round / 100)\t\(.db_cpu_ms_per_req * 100 | round / 100)\t\(.load_cpu_ms_per_req * 100 | round / 100)\t\(
      [(.lanes // {}) | to_entries[] | "\({"events": "ev", "statements": "st", "verdicts": "vd"}[.key] // .key[0:2]) \(.value.writes_per_batch * 10 | round / 10) \(.value.busy * 100 | round)%"] | if length > 0 then join(" ") else "-" end)\t\(
      if (.problem // "") != "" then "PROBLEM: \(.problem)" else "-" end)"
  ' "$1"
}
# targets: the sitting against issue 18's targets, each with the CPU its path took a request in
# all (flowhook, PostgreSQL and the load, which share the machine's cores) and the rate those
# cores could give at that cost if nothing ever waited: where that ceiling is below a target,
# no waiting removed would reach it on this machine. Beside them, the write lanes: a lane whose
# writer was busy nearly all the time is what that path waited on.
targets() {
  jq -rs --argjson a "$tps1" --argjson b "$tps2" --argjson cores "$(nproc)" '
    (($a + $b) / 2) as $pg
    | (.[0].rows + .[1].rows) as $rows
    | def problem(r): r.problem // "";
      # A row with a problem is never met, whatever its rate; errors and drops fail it too.
      def verdict(ok; r): if problem(r) != "" then "NOT met: \(problem(r))" elif ok then "met" else "NOT met" end;
      def x(v): (v * 100 | floor) / 100;
      def clean(r): r.errors + r.dropped == 0 and problem(r) == "";
      def lb(r): if r.percentiles_lower_bound then "≥" else "" end;
      def ceiling(r): (r.server_cpu_ms_per_req + r.db_cpu_ms_per_req + r.load_cpu_ms_per_req) as $c
        | (r.server_cpu_ms_per_req + r.db_cpu_ms_per_req) as $own
        | if ([r.server_cpu_ms_per_req, r.db_cpu_ms_per_req, r.load_cpu_ms_per_req] | min) >= 0 and $own > 0 then "; \($c * 100 | round / 100) ms of CPU a request in all (the load'"'"'s \(r.load_cpu_ms_per_req * 100 | round / 100)), which \($cores) cores turn into \($cores * 1000 / $c | floor)/s at most (\(x($cores * 1000 / $c / $pg)) ×); flowhook'"'"'s and PostgreSQL'"'"'s alone, \($cores * 1000 / $own | floor)/s (\(x($cores * 1000 / $own / $pg)) ×)" else "" end;
      def lanes(r): [(r.lanes // {}) | to_entries[] | "\(.key) \(.value.writes_per_batch * 10 | round / 10) a batch, busy \(.value.busy * 100 | round)%"]
        | if length > 0 then "; write lanes: \(join(", "))" else "" end;
      def beside(r): if (r.baseline_rate // 0) > 0 then "; \(x(r.rate / r.baseline_rate)) × the pgbench run just before it (\(r.baseline_rate | floor) tps)" else "" end;
      def measured(rows; what): [rows] | if length > 0 then .[] else "  \(what): not measured in this sitting" end;
      def closed(name; min): measured(
        $rows[] | select(.mode == "closed" and .scenario == name)
        | "  \(name): \(x(.rate / $pg)) × (\(.rate | floor)/s) \(verdict(.rate / $pg >= min and clean(.); .))\(beside(.))\(ceiling(.))\(lanes(.))"; name);
      def paced(rate; max; strict): measured(
        $rows[] | select(.mode == "open" and .target_rate == rate)
        | "  paced \(rate)/s: \(.rate | floor)/s, p99 \(lb(.))\(.p99_ms) ms \(verdict((if strict then .p99_ms < max else .p99_ms <= max end) and clean(.); .))\(
            [$rows[] | select(.mode == "closed" and .scenario == "transition-docusign" and .rate < rate)][0]
            | if . then "; the closed loop made \(.rate | floor)/s: \(rate)/s is past what this machine serves" else "" end)"; "paced \(rate)/s");
      "Against issue 18'"'"'s targets (ratios to pgbench'"'"'s mean, \($pg | floor) tps):",
      "webhook ingest ≥ 0.5 ×", closed("ingest-docusign"; 0.5), closed("ingest-onespan"; 0.5), closed("ingest-connector"; 0.5),
      "webhook → transition committed ≥ 0.25 ×", closed("transition-docusign"; 0.25), closed("transition-onespan"; 0.25), closed("transition-connector"; 0.25),
      "StartInstance and TakeTransition ≥ 0.25 ×", closed("start"; 0.25), closed("take"; 0.25),
      "webhook → transition paced: p99 ≤ 10 ms at 10/s, < 100 ms at 1,000/s", paced(10; 10; false), paced(1000; 100; true),
      empty
  ' "$OUT/closed.json" "$OUT/open.json"
  lists_target
  memory_target
  prepared_ratios
}
# prepared_ratios: the closed-loop rows against pgbench -M prepared's mean (tps1p, tps2p; unset:
# not run, nothing said). flowhook's statements are prepared (pgx), and pgbench's default mode,
# the verdicts' baseline (comparable with every earlier sitting), sends them as text: the
# prepared rate is the stricter baseline, beside the verdicts, not instead of them.
prepared_ratios() {
  [ -n "${tps1p:-}" ] && [ -n "${tps2p:-}" ] || return 0
  jq -r --argjson a "$tps1p" --argjson b "$tps2p" '
    (($a + $b) / 2) as $pp
    | "Against pgbench -M prepared (\($a | floor) and \($b | floor) tps, mean \($pp | floor)): the stricter baseline, as flowhook prepares its statements; the verdicts above stay against the default mode'"'"'s mean, as in every earlier sitting:",
      "  \([.rows[] | select(.mode == "closed") | "\(.scenario) \((.rate / $pp * 100 | floor) / 100) ×"] | if length > 0 then join(", ") else "no closed-loop row" end)"
  ' "$OUT/closed.json"
}
# lists_target: the slowest p99 of each list in BenchmarkInstanceLists' output, against 10 ms.
# Every case must be there with its p99 (server/internal/api/instances_bench_test.go: 4 users
# of ListAssignedToMe, 8 filters of ListInstances): a case that failed (--- FAIL), is missing
# or has no p99-ms makes its list NOT met, never a verdict on the cases that happened to pass.
lists_target() {
  echo "ListAssignedToMe and ListInstances p99 < 10 ms with 100,000 instances (one call at a time)"
  if [ "$LISTS" = 0 ]; then
    echo "  not measured (BENCH_LISTS=0)"
    return
  fi
  awk -v expected="ListAssignedToMe=4 ListInstances=8" '
    BEGIN {
      nl = split(expected, e, " ")
      for (i = 1; i <= nl; i++) { split(e[i], kv, "="); order[i] = kv[1]; want[kv[1]] = kv[2]; worst[kv[1]] = -1 }
    }
    # A failed case: "--- FAIL: BenchmarkInstanceLists/List/Case-2", after its name or on a line of its own.
    /--- FAIL: BenchmarkInstanceLists\// {
      s = $0; sub(/.*--- FAIL: /, "", s); sub(/[ \t].*/, "", s)
      split(s, name, "/"); sub(/-[0-9]+$/, "", name[3])
      if (!((name[2], name[3]) in seen)) { seen[name[2], name[3]] = 1; failed[name[2]] = failed[name[2]] " " name[3]; cases++ }
      next
    }
    /^BenchmarkInstanceLists\// {
      split($1, name, "/"); list = name[2]; sub(/-[0-9]+$/, "", name[3]); p99 = -1
      if ((list, name[3]) in seen) next
      seen[list, name[3]] = 1; cases++
      for (i = 2; i < NF; i++) if ($(i + 1) == "p99-ms") p99 = $i + 0
      if (p99 < 0) { nop99[list] = nop99[list] " " name[3]; next }
      n[list]++
      if (p99 > worst[list]) { worst[list] = p99; which[list] = name[3] }
    }
    END {
      if (cases == 0) { print "  NOT measured: BenchmarkInstanceLists reported nothing (see lists.txt)"; exit }
      for (i = 1; i <= nl; i++) {
        l = order[i]; why = ""
        if (failed[l] != "") why = why "; failed:" failed[l]
        if (nop99[l] != "") why = why "; no p99:" nop99[l]
        if (n[l] < want[l]) why = why sprintf("; %d of %d cases with a p99", n[l], want[l])
        if (worst[l] < 0) { printf "  %s: NOT met: no case measured%s (see lists.txt)\n", l, why; continue }
        printf "  %s: slowest p99 %.2f ms (%s, of %d cases) %s%s\n", l, worst[l], which[l], n[l], (worst[l] < 10 && why == "" ? "met" : "NOT met"), why
      }
    }' "$OUT/lists.txt"
}
# memory_target: flat when the resident memory of the run's last minute stays within 10% of the
# second minute's (the first is the heap growing to its working size).
memory_target() {
  echo "memory flat over 10 minutes at half the saturated rate"
  if [ -z "$MEMORY" ]; then
    echo "  not measured (BENCH_MEMORY=10m measures it: ten more minutes)"
    return
  fi
  if [ ! -s "$OUT/memory.json" ]; then
    echo "  NOT measured: no memory run (see the log above)"
    return
  fi
  jq -r --arg dur "$MEMORY" '
    .rows[0] as $r | ($r.server_rss // []) as $s | ($s | last // {at_s: 0}).at_s as $lastat
    | if ($s | length) == 0 then "  NOT measured: the server'"'"'s memory could not be read"
      elif $lastat < 180 then "  \($dur) is too short to judge (at least 3 minutes: the first is the heap growing)"
      else
        ([$s[] | select(.at_s >= 60 and .at_s <= 120) | .mb] | max) as $base
        | ([$s[] | select(.at_s >= $lastat - 60) | .mb] | max) as $tail
        | ([$s[] | .mb] | max) as $peak
        | (($tail / $base - 1) * 100 | round) as $growth
        | "  ingest-docusign paced at \($r.target_rate)/s for \($dur) (\($r.count) notifications, \($r.errors + $r.dropped) errors and dropped): resident \($base) MB in the second minute, \($tail) MB in the last, \($peak) at most: \(if $growth >= 0 then "+" else "" end)\($growth)% \(if ($r.problem // "") != "" then "NOT met: \($r.problem)" elif $growth <= 10 and $r.errors + $r.dropped == 0 then "met" else "NOT met" end)"
      end' "$OUT/memory.json"
}

# report prints the sitting: pgbench's rates, the table and the targets.
report() {
  printf 'PostgreSQL (pgbench, insert+update, %s clients): %.0f and %.0f tps, mean %.0f (the ratios'"'"' baseline)\n' "$WORKERS" "$tps1" "$tps2" "$(echo "($tps1 + $tps2) / 2" | bc -l)"
  if [ -n "${tps1p:-}" ] && [ -n "${tps2p:-}" ]; then
    printf 'PostgreSQL (the same, pgbench -M prepared, as flowhook prepares its statements): %.0f and %.0f tps, mean %.0f: the stricter baseline (see the end)\n' "$tps1p" "$tps2p" "$(echo "($tps1p + $tps2p) / 2" | bc -l)"
  fi
  if [ -n "$pg_p99" ]; then
    printf 'PostgreSQL alone paced at 10/s (the same script, one client, 300 transactions): p50 %s / p99 %s / p99.9 %s ms\n' "$pg_p50" "$pg_p99" "$pg_p999"
    jq -r --argjson p50 "$pg_p50" --argjson p99 "$pg_p99" '.rows[] | select(.mode == "open" and .target_rate == 10)
      | "flowhook paced at 10/s: p50 \(.p50_ms) / p99 \(.p99_ms) ms, \((.p50_ms / $p50 * 10 | round) / 10) × and \((.p99_ms / $p99 * 10 | round) / 10) × PostgreSQL alone"' "$OUT/open.json"
  fi
  echo
  {
    printf 'replicas\tscenario\tload\trate/s\t× pgbench\t× pgbench beside (its tps)\tp50 ms\tp99 ms\tp99.9 ms\terrors+dropped\tserver CPU ms/req\tdb CPU ms/req\tload CPU ms/req\twrite lanes\tcheck\n'
    ratios "$OUT/closed.json" 1
    ratios "$OUT/open.json" 1
    for f in "${replica_files[@]}"; do ratios "$f" "$(basename "$f" .json | sed 's/replicas-//')"; done
  } | column -t -s $'\t'
  echo "(≥: some requests failed or were dropped; they are in the percentiles at the time they took, or how late they were when dropped, so these are lower bounds)"
  echo
  targets
}
