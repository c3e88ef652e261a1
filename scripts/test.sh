#!/usr/bin/env bash
# The README's test command: installs what the tests need on a fresh machine (Debian's chromium and a
# CJK font for the browser tests, PostgreSQL, Java for Spark, the package with its test extras), runs
# the linters (ruff, the import-linter contracts, generated files current), starts a throwaway
# PostgreSQL server on loopback for the engine-parity tests, and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive GX_ANALYTICS_ENABLED=false PIP_DISABLE_PIP_VERSION_CHECK=1

apt_install() {
  if [ "$(id -u)" != 0 ]; then echo "need root to apt-get install $*" >&2; return 1; fi
  if [ -z "${APT_UPDATED:-}" ]; then apt-get update -qq; APT_UPDATED=1; fi
  apt-get install -y -qq "$@" >/dev/null
}
command -v chromium >/dev/null || apt_install chromium chromium-driver
# Without a CJK font Chromium prints Chinese with no decodable text: its test PDFs would be rejected (text-undecodable).
command -v fc-list >/dev/null || apt_install fontconfig
[ -n "$(fc-list :lang=zh family)" ] || apt_install fonts-noto-cjk
PGBIN=/usr/lib/postgresql/15/bin
[ -x "$PGBIN/initdb" ] || apt_install postgresql-15
command -v java >/dev/null || apt_install openjdk-17-jre-headless

python3 -m pip install -q --root-user-action=ignore -e '.[test]'

# Lint first: they take seconds, the tests take minutes.
python3 -m ruff check .
python3 -m ruff format --check .
lint-imports --no-cache
python3 -m nianbao generate --check

# A throwaway PostgreSQL cluster, owned by the postgres user, listening on 127.0.0.1 only.
PGWORK=$(mktemp -d /tmp/nianbao-pg.XXXXXX)
chown postgres "$PGWORK"
PGPORT=${NIANBAO_PG_PORT:-54329}
runuser -u postgres -- "$PGBIN/initdb" -D "$PGWORK/data" -A trust -U postgres >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGWORK/data" -l "$PGWORK/log" -w \
  -o "-p $PGPORT -k $PGWORK -c listen_addresses=127.0.0.1" start >/dev/null
stop_pg() { runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGWORK/data" -m fast stop >/dev/null 2>&1 || true; rm -rf "$PGWORK"; }
trap stop_pg EXIT
runuser -u postgres -- "$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" nianbao
export NIANBAO_PG_URL="postgresql+psycopg2://postgres@127.0.0.1:$PGPORT/nianbao"

# Two workers, a test file to each in turn (pytest-xdist): a file's module fixtures stay on one worker,
# and each worker has a PostgreSQL database of its own (tests/conftest.py).
python3 -m pytest -n 2 --dist loadfile "$@"
