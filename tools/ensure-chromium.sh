#!/usr/bin/env bash
# Makes sure a headless Chromium is there for the SDK's browser tests
# (sdk/typescript/test/browser.test.ts): $FLOWHOOK_CHROMIUM, or one of the usual names on PATH.
# On a machine without one, Debian's chromium-headless-shell is installed with apt. Exits
# non-zero — and so fails the test run — when none can be had; the tests never skip.
set -euo pipefail

if [ -n "${FLOWHOOK_CHROMIUM:-}" ]; then
  [ -x "$FLOWHOOK_CHROMIUM" ] && { echo "Chromium: $FLOWHOOK_CHROMIUM"; exit 0; }
  echo "ensure-chromium: FLOWHOOK_CHROMIUM=$FLOWHOOK_CHROMIUM is not an executable" >&2
  exit 1
fi
for name in chromium-headless-shell chromium chromium-browser google-chrome; do
  if command -v "$name" >/dev/null 2>&1; then echo "Chromium: $(command -v "$name")"; exit 0; fi
done

echo "no Chromium for the browser tests: installing chromium-headless-shell with apt"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq chromium-headless-shell >/dev/null
command -v chromium-headless-shell >/dev/null 2>&1 && { echo "Chromium: $(command -v chromium-headless-shell)"; exit 0; }
echo "ensure-chromium: chromium-headless-shell could not be installed" >&2
exit 1
