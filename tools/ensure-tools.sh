#!/usr/bin/env bash
# ensure-tools.sh TOOL...: installs each command that is missing with apt (Debian's package of
# the same name), as `make test` does for PostgreSQL and Chromium, and fails when it cannot.
set -euo pipefail
missing=()
for tool in "$@"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[ "${#missing[@]}" -eq 0 ] && exit 0
echo "ensure-tools: installing ${missing[*]} with apt"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
for tool in "${missing[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || { echo "ensure-tools: $tool is still missing after apt-get install" >&2; exit 1; }
done
