#!/usr/bin/env bash
# Front-end assets come from the npm registry at set-up and are served by the app (no CDN).
# Copies what the pages use into geoapp/static/vendor/. Quick when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
VENDOR=geoapp/static/vendor
STAMP=node_modules/.geoapp-installed

if ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing Node.js and npm (Debian packages)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  else
    echo "npm is missing. Run as root:  apt-get update && apt-get install -y nodejs npm" >&2
    exit 1
  fi
fi

if [ ! -f "$STAMP" ] || [ package.json -nt "$STAMP" ] || [ package-lock.json -nt "$STAMP" ]; then
  echo "==> installing front-end packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  touch "$STAMP"
fi

if [ ! -f "$VENDOR/.copied" ] || [ "$STAMP" -nt "$VENDOR/.copied" ] || [ "$0" -nt "$VENDOR/.copied" ]; then
  rm -rf "$VENDOR"
  mkdir -p "$VENDOR/leaflet" "$VENDOR/leaflet.markercluster" "$VENDOR/leaflet.heat" "$VENDOR/ol"
  cp -r node_modules/leaflet/dist/* "$VENDOR/leaflet/"
  cp node_modules/leaflet/LICENSE "$VENDOR/leaflet/"
  cp node_modules/leaflet.markercluster/dist/*.js node_modules/leaflet.markercluster/dist/*.css "$VENDOR/leaflet.markercluster/"
  cp node_modules/leaflet.markercluster/MIT-LICENCE.txt "$VENDOR/leaflet.markercluster/" 2>/dev/null || true
  cp node_modules/leaflet.heat/dist/leaflet-heat.js "$VENDOR/leaflet.heat/"
  cp node_modules/ol/dist/ol.js node_modules/ol/ol.css "$VENDOR/ol/"
  cp node_modules/ol/LICENSE.md "$VENDOR/ol/" 2>/dev/null || true
  touch "$VENDOR/.copied"
fi
