"""Planning settings: each reads a PLANNING_-prefixed Django setting, with a default and its unit.

Read through these functions (never `django.conf.settings` directly) so `override_settings` and
per-environment values apply at call time.
"""

from django.conf import settings as dj


def _get(name: str, default):
    return getattr(dj, name, default)


def tiles_url() -> str:
    # Base-map tiles for the interactive map; "" = no base map (offline use, tests).
    return _get("PLANNING_TILES_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png")


def tiles_attribution() -> str:
    return _get("PLANNING_TILES_ATTRIBUTION", "&copy; OpenStreetMap contributors")


def default_days() -> int:
    return _get("PLANNING_DEFAULT_DAYS", 30)  # days: period when the API/page gets no dates


def max_days() -> int:
    return _get("PLANNING_MAX_DAYS", 3660)  # days: longest period one request may cover


def grid_kind() -> str:
    return _get("PLANNING_GRID_KIND", "hex")  # "hex" or "square": shape of the density cells


def grid_cell_m() -> float:
    return _get("PLANNING_GRID_CELL_M", 500.0)  # metres: cell size (hex: centre to corner; square: side)


def grid_min_cell_m() -> float:
    return _get("PLANNING_GRID_MIN_CELL_M", 50.0)  # metres: smallest cell size a request may ask for


def work_mem() -> str:
    # PostgreSQL work_mem for the aggregation's transaction (sorts per breakdown and percentile)
    return _get("PLANNING_WORK_MEM", "64MB")


def png_dpi() -> int:
    return _get("PLANNING_PNG_DPI", 150)  # dots per inch of the static PNG map


def timezone_name() -> str:
    return _get("TIME_ZONE", "Asia/Jakarta")  # hours and weekdays are counted in this zone (WIB)


def login_url() -> str:
    """Where the planners' page sends a signed-out visitor: PLANNING_LOGIN_URL, else the console's login
    (open to every role; the admin login only admits staff), else LOGIN_URL."""
    explicit = _get("PLANNING_LOGIN_URL", "")
    if explicit:
        return explicit
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse("console:login")
    except NoReverseMatch:
        return dj.LOGIN_URL
