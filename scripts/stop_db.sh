#!/usr/bin/env bash
# Stop the project-local PostgreSQL cluster (no-op when DATABASE_URL is used).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${DATABASE_URL:-}" ] && exit 0
[ -e var/pg/data ] || exit 0
DATA="$(readlink -f var/pg/data)"
[ -f "$DATA/PG_VERSION" ] || exit 0
PGBIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
cd /
if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$PGBIN/pg_ctl" -D "$DATA" -m fast stop || true
else "$PGBIN/pg_ctl" -D "$DATA" -m fast stop || true; fi
