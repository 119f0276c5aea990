"""Console settings: CONSOLE_-prefixed Django settings read at call time, each with its default and unit."""

from core.appsettings import AppSettings

_console = AppSettings("CONSOLE")
OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"


def tile_url() -> str:
    """Base-map tiles ({z}/{x}/{y}); empty = no base map (the boundary layers still work)."""
    return _console.get("CONSOLE_TILE_URL", OSM_TILES)


def tile_attribution() -> str:
    return _console.get("CONSOLE_TILE_ATTRIBUTION", "&copy; OpenStreetMap contributors")


def cctv_radius_m() -> float:
    return _console.get("CONSOLE_CCTV_RADIUS_M", 500.0)  # metres: cameras this close to a report are listed


def live_keep_s() -> int:
    return _console.get("CONSOLE_LIVE_KEEP_S", 3600)  # seconds of live events kept for reconnecting browsers


def live_replay_max() -> int:
    return _console.get("CONSOLE_LIVE_REPLAY_MAX", 2000)  # events replayed on reconnect; more = full reload


def closed_visible_h() -> int:
    return _console.get("CONSOLE_CLOSED_VISIBLE_H", 12)  # hours a finished report stays on the map


def overdue_factor() -> float:
    return _console.get("CONSOLE_OVERDUE_FACTOR", 1.0)  # x the category's target minutes: past it = overdue
