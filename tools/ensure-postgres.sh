#!/usr/bin/env bash
# Makes sure the PostgreSQL that the tests use answers at TEST_DATABASE_URL (default: the local
# server, user postgres, trust auth). A local cluster that is down is started; on a machine
# without PostgreSQL it is installed from Debian's packages first. Exits non-zero — and so
# fails the test run — when no database can be had.
set -euo pipefail
url=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}

ready() {
  command -v pg_isready >/dev/null 2>&1 && pg_isready -q -d "$url" 2>/dev/null &&
    psql "$url" -Atqc 'select 1' >/dev/null 2>&1
}
wait_ready() {
  for _ in $(seq 1 60); do ready && return 0; sleep 0.5; done
  return 1
}

if ready; then echo "PostgreSQL is up"; exit 0; fi

case "$url" in
  *@127.0.0.1:5432/*|*@localhost:5432/*|*@127.0.0.1/*|*@localhost/*) ;;
  *) echo "ensure-postgres: TEST_DATABASE_URL does not answer, and it is not the local server this script can start" >&2; exit 1 ;;
esac

installed_now=no
if ! ls -d /etc/postgresql/*/main >/dev/null 2>&1; then
  echo "PostgreSQL is not installed: installing it with apt"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
  installed_now=yes
fi
version=$(ls /etc/postgresql | sort -V | tail -n 1)
if [ "$installed_now" = yes ]; then
  # The tests connect over TCP as postgres without a password, as on the project's machines.
  hba=/etc/postgresql/$version/main/pg_hba.conf
  sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
fi
echo "starting PostgreSQL $version"
pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
if wait_ready; then echo "PostgreSQL is up"; exit 0; fi
echo "ensure-postgres: PostgreSQL did not come up at $url" >&2
exit 1
