#!/usr/bin/env bash
# Makes sure the Jaeger (v2 all-in-one, pinned by the tool module tools/jaeger) that the Go tests
# run is built, and prints its path. It is built once into a cache outside the repository,
# named after the Jaeger version and the tool module's go.sum, so that a version bump builds a
# new one; later runs find it there and return at once. The build (minutes when the Go build
# cache is cold) writes a temporary file that is renamed into place, so an interrupted or
# concurrent build never leaves a half-written binary behind. With --path, prints the path
# without building. Exits non-zero — and so fails the test run — when the build fails.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mod=$root/tools/jaeger

version=$(awk '$1 == "github.com/jaegertracing/jaeger" { print $2; exit }' "$mod/go.mod")
if [ -z "$version" ]; then
  echo "ensure-jaeger: no github.com/jaegertracing/jaeger requirement in $mod/go.mod" >&2; exit 1
fi
sum=$(sha256sum "$mod/go.sum" | cut -c1-12)
bin=${XDG_CACHE_HOME:-$HOME/.cache}/flowhook/jaeger-$version-$sum

if [ "${1:-}" = --path ] || [ -x "$bin" ]; then echo "$bin"; exit 0; fi

mkdir -p "$(dirname "$bin")"
tmp=$(mktemp -d "$bin.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "building Jaeger $version into $bin (a few minutes the first time)" >&2
# `go install` cannot build Jaeger (its module has replace directives): build it in the tool
# module, whose go.sum pins every dependency.
(cd "$mod" && GOWORK=off "${GO:-go}" build -trimpath -ldflags='-s -w' -o "$tmp/jaeger" \
  github.com/jaegertracing/jaeger/cmd/jaeger) >&2
mv -f "$tmp/jaeger" "$bin"
echo "$bin"
