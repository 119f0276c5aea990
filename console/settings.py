"""Console settings: each reads a CONSOLE_-prefixed Django setting at call time, with a default and its unit."""

import os

from django.conf import settings as dj


def _get(name: str, default):
    return getattr(dj, name, default)


def tile_url() -> str:
    """Base-map tiles ({z}/{x}/{y}); empty = no base map (the boundary layers still work)."""
    return _get(
        "CONSOLE_TILE_URL", os.environ.get("CONSOLE_TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png")
    )


def tile_attribution() -> str:
    return _get("CONSOLE_TILE_ATTRIBUTION", "&copy; OpenStreetMap contributors")


def cctv_radius_m() -> float:
    return _get("CONSOLE_CCTV_RADIUS_M", 500.0)  # metres: cameras this close to a report are listed


def candidate_radius_m() -> float:
    return _get("CONSOLE_CANDIDATE_RADIUS_M", 15000.0)  # metres: supervisors farther away are not listed


def candidate_limit() -> int:
    return _get("CONSOLE_CANDIDATE_LIMIT", 10)  # supervisors listed as dispatch candidates


def live_keep_s() -> int:
    return _get("CONSOLE_LIVE_KEEP_S", 3600)  # seconds of live events kept for reconnecting browsers


def live_replay_max() -> int:
    return _get("CONSOLE_LIVE_REPLAY_MAX", 2000)  # events replayed on reconnect; more = full reload


def closed_visible_h() -> int:
    return _get("CONSOLE_CLOSED_VISIBLE_H", 12)  # hours a finished report stays on the map


def overdue_factor() -> float:
    return _get("CONSOLE_OVERDUE_FACTOR", 1.0)  # x the category's target minutes: past it = overdue


def ping_batch_max() -> int:
    return _get("CONSOLE_FIELD_PING_BATCH_MAX", 500)  # pings per upload from the field app
