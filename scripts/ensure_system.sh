#!/usr/bin/env bash
# Make sure the Debian packages geoapp needs are present: PostgreSQL 15 with PostGIS 3,
# GDAL/GEOS/PROJ for GeoDjango, and Chromium for the browser tests.
# Installs them when running as root with apt; otherwise prints the exact command to run.
set -euo pipefail

PKGS=(postgresql-15 postgresql-15-postgis-3 postgresql-contrib gdal-bin libgdal-dev libgeos-c1v5 libproj25 binutils chromium chromium-driver gettext)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y ${missing[*]}"
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "geoapp needs these Debian packages, which are missing: ${missing[*]}" >&2
  echo "Run this as root, then run make again:" >&2
  echo "    $cmd" >&2
  exit 1
fi

echo "==> installing Debian packages: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
echo "==> Debian packages installed"
