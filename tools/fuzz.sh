#!/usr/bin/env bash
# fuzz.sh runs every fuzz target of the module, one after another, each for FUZZTIME (default
# 30s), and prints a table: target, package, time run, executions, result. It exits non-zero
# when a target finds a failing input (go test writes it to the package's
# testdata/fuzz/<target>/, where every later `go test` replays it) or does not build.
#
#   FUZZTIME=10s bash tools/fuzz.sh             # every target, 10 s each
#   FUZZ='^FuzzVerify$' bash tools/fuzz.sh       # only the targets whose name matches
#   FUZZPKGS='./server/internal/api' bash tools/fuzz.sh
#   FUZZPARALLEL=1 bash tools/fuzz.sh            # workers per target (default: GOMAXPROCS)
#
# Targets are found with `go test -list '^Fuzz'` in the packages whose test files declare one.
set -euo pipefail

cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-30s}
FUZZ=${FUZZ:-.}
FUZZPKGS=${FUZZPKGS:-./...}

# Packages with a fuzz target: a cheap grep first, so that `go test -list` (which builds each
# test binary) runs only where there is something to list.
mapfile -t candidates < <(
	$GO list -f '{{.Dir}}|{{.ImportPath}}' $FUZZPKGS |
		while IFS='|' read -r dir path; do
			if grep -lqsE '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' "$dir"/*_test.go 2>/dev/null; then
				echo "$path"
			fi
		done
)
if [ ${#candidates[@]} -eq 0 ]; then
	echo "fuzz.sh: no fuzz targets in $FUZZPKGS" >&2
	exit 1
fi

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
declare -a rows=()
failed=0
module=$($GO list -m)
add_row() { rows+=("$(printf '%-24s %-42s %6s %10s  %s' "$1" "${2#"$module"/}" "$3" "$4" "$5")"); }

for pkg in "${candidates[@]}"; do
	if ! list=$($GO test -list '^Fuzz' "$pkg" 2>"$logs/list.err"); then
		add_row "-" "$pkg" "-" "-" "BUILD FAILED: $(head -n 3 "$logs/list.err" | tr '\n' ' ')"
		failed=1
		continue
	fi
	for target in $(grep -E '^Fuzz' <<<"$list" | grep -E -- "$FUZZ" || true); do
		log="$logs/$target.log"
		args=(test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME")
		[ -n "${FUZZPARALLEL:-}" ] && args+=(-parallel "$FUZZPARALLEL")
		start=$(date +%s)
		if $GO "${args[@]}" "$pkg" >"$log" 2>&1; then
			result=ok
		else
			written=$(grep -oE 'testdata/fuzz/[^ ]+' "$log" | head -n 1 || true)
			if [ -n "$written" ]; then
				result="FINDING: $written"
			else
				result="FAILED: $(grep -m 1 -E 'FAIL|panic|error' "$log" || tail -n 1 "$log")"
			fi
			failed=1
			echo "=== $target ($pkg)" >&2
			tail -n 40 "$log" >&2
		fi
		secs=$(($(date +%s) - start))
		execs=$(grep -oE 'execs: [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+' || echo -)
		add_row "$target" "$pkg" "${secs}s" "$execs" "$result"
	done
done

printf '%-24s %-42s %6s %10s  %s\n' TARGET PACKAGE TIME EXECS RESULT
printf '%s\n' "${rows[@]}"
exit $failed
