#!/usr/bin/env bash
# Back up geoapp: the database (pg_dump custom format, all generations, reports, pings) and the
# media folder (photos and videos). Keeps the last KEEP days. Run nightly from cron as the
# geoapp user:  15 1 * * *  /srv/geoapp/deploy/backup.sh /backups/geoapp
#
# Restore:  createdb geoapp && pg_restore -d geoapp --no-owner DUMP.pgdump
#           tar -xzf MEDIA.tar.gz -C "$MEDIA_ROOT"
set -euo pipefail
DEST="${1:?usage: backup.sh DEST_DIR}"
KEEP="${KEEP:-14}"
: "${DATABASE_URL:?set DATABASE_URL (or source /etc/geoapp/geoapp.env)}"
MEDIA_ROOT="${MEDIA_ROOT:-/srv/geoapp-media}"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$DEST"
url="${DATABASE_URL/postgis:/postgresql:}"
pg_dump --format=custom --compress=6 --file="$DEST/geoapp-$stamp.pgdump" "$url"
tar -czf "$DEST/media-$stamp.tar.gz" -C "$MEDIA_ROOT" .
pg_restore --list "$DEST/geoapp-$stamp.pgdump" >/dev/null   # the dump is readable
find "$DEST" -name 'geoapp-*.pgdump' -mtime +"$KEEP" -delete
find "$DEST" -name 'media-*.tar.gz' -mtime +"$KEEP" -delete
echo "backup written: $DEST/geoapp-$stamp.pgdump, $DEST/media-$stamp.tar.gz"
