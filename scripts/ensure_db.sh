#!/usr/bin/env bash
# Make sure a PostGIS database is up.
# - DATABASE_URL set: use it as it is (any PostGIS 3 server); only check that it answers.
# - otherwise: a project-local PostgreSQL 15 cluster under var/pg, listening only on a unix
#   socket in var/run (so it never collides with a system PostgreSQL on port 5432), created once
#   and started when stopped. PostgreSQL refuses to run as root, so as root the cluster belongs
#   to the "postgres" system user.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"

if [ -n "${DATABASE_URL:-}" ]; then
  exit 0
fi

PGBIN="$(ls -d /usr/lib/postgresql/15/bin 2>/dev/null || true)"
if [ -z "$PGBIN" ]; then
  PGBIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)"
fi
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
  echo "PostgreSQL server binaries not found (run scripts/ensure_system.sh as root)." >&2
  exit 1
fi

mkdir -p var
DATA="$ROOT/var/pg/data"
SOCK="$ROOT/var/run"
RUNAS=()
OWNER="$(id -un)"

if [ "$(id -u)" -eq 0 ]; then
  OWNER=postgres
  if ! id postgres >/dev/null 2>&1; then
    echo "PostgreSQL refuses to run as root and there is no 'postgres' user. Run:" >&2
    echo "    useradd --system --home /var/lib/postgresql --shell /bin/bash postgres" >&2
    exit 1
  fi
  RUNAS=(runuser -u postgres --)
  # The postgres user must be able to reach var/. When the project lives somewhere it cannot
  # traverse (e.g. under /root), keep the cluster in a folder of its own and link it from var/.
  if ! runuser -u postgres -- test -x "$ROOT/var" 2>/dev/null || [ ${#SOCK} -gt 90 ]; then
    ALT="/var/lib/postgresql/geoapp-$(printf '%s' "$ROOT" | md5sum | cut -c1-12)"
    mkdir -p "$ALT/data" "$ALT/run"
    chown -R postgres:postgres "$ALT"
    chmod 700 "$ALT/data"
    mkdir -p var/pg
    [ -L var/pg/data ] || { rmdir var/pg/data 2>/dev/null || true; ln -sfn "$ALT/data" var/pg/data; }
    [ -L var/run ] || { rmdir var/run 2>/dev/null || true; ln -sfn "$ALT/run" var/run; }
    DATA="$ALT/data"
    SOCK="$ALT/run"
  fi
fi

# run a command as the cluster's owner, from / (the project folder may be closed to it)
as_pg() { (cd / && "${RUNAS[@]}" "$@"); }

mkdir -p "$(dirname "$DATA")" "$SOCK"
if [ ! -L "$DATA" ]; then mkdir -p "$DATA"; fi
if [ "$(id -u)" -eq 0 ]; then
  chown postgres:postgres "$DATA" "$SOCK"
  [ -L "$ROOT/var/pg/data" ] || chown postgres:postgres "$ROOT/var/pg"
fi
chmod 700 "$DATA"

if [ ! -f "$DATA/PG_VERSION" ]; then
  echo "==> creating the project-local PostgreSQL cluster in var/pg"
  as_pg "$PGBIN/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >var/initdb.log 2>&1 \
    || { cat var/initdb.log >&2; exit 1; }
  cat >>"$DATA/postgresql.conf" <<CONF
# geoapp: unix socket only, under var/run
listen_addresses = ''
unix_socket_directories = '$SOCK'
max_connections = 200
shared_buffers = 256MB
fsync = on
CONF
fi

if ! as_pg "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
  echo "==> starting PostgreSQL (socket in var/run)"
  rm -f "$DATA/postmaster.pid"
  as_pg "$PGBIN/pg_ctl" -D "$DATA" -l "$(dirname "$DATA")/postgresql.log" -w -t 60 start >/dev/null \
    || { tail -20 "$(dirname "$DATA")/postgresql.log" >&2; exit 1; }
fi

PSQL=("$PGBIN/psql" -h "$SOCK" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt)
if [ "$("${PSQL[@]}" -c "select 1 from pg_roles where rolname='geoapp'")" != "1" ]; then
  "${PSQL[@]}" -c "create role geoapp login superuser"
fi
if [ "$("${PSQL[@]}" -c "select 1 from pg_database where datname='geoapp'")" != "1" ]; then
  "${PSQL[@]}" -c "create database geoapp owner geoapp"
fi
# postgis in template1 too, so test databases get it without extra privileges
"$PGBIN/psql" -h "$SOCK" -U postgres -d template1 -qAt -c "set client_min_messages=warning" -c "create extension if not exists postgis" >/dev/null
"$PGBIN/psql" -h "$SOCK" -U postgres -d geoapp -qAt -c "set client_min_messages=warning" -c "create extension if not exists postgis" >/dev/null
