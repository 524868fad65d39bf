#!/usr/bin/env bash
# Runs the suite against a real PostgreSQL server.
# - DATABASE_URL set: use it.
# - Otherwise try postgres://postgres@127.0.0.1:5432/painclinic (trust auth, as on CI machines).
# - CI=true: a missing server is a failure; elsewhere it is skipped with a clear message.
set -euo pipefail
cd "$(dirname "$0")/.."
url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/painclinic}"
if ! .venv/bin/python - "$url" <<'PY' 2>/tmp/painclinic-pg-probe.err
import sys, psycopg, dj_database_url
cfg = dj_database_url.parse(sys.argv[1])
psycopg.connect(host=cfg["HOST"] or None, port=cfg["PORT"] or None, user=cfg["USER"] or None,
                password=cfg["PASSWORD"] or None, dbname="postgres", connect_timeout=5).close()
PY
then
  if [ "${CI:-}" = "true" ] && command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "PostgreSQL not answering; trying to start the local cluster"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    sleep 3
  fi
  if ! .venv/bin/python -c "import psycopg,sys; psycopg.connect('$url'.rsplit('/',1)[0]+'/postgres', connect_timeout=5).close()" 2>/dev/null; then
    if [ "${CI:-}" = "true" ]; then
      echo "FAIL: CI=true requires PostgreSQL at $url (set DATABASE_URL)." >&2
      cat /tmp/painclinic-pg-probe.err >&2
      exit 1
    fi
    echo "SKIPPED: the PostgreSQL suite (no server at $url; set DATABASE_URL to run it)."
    exit 0
  fi
fi
echo "PostgreSQL suite against $url"
DATABASE_URL="$url" .venv/bin/pytest -q -p xdist -n 2 -m "not browser" tests/web
