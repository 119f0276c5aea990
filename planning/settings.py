"""The planning app's settings (PLANNING_ prefixed Django settings), each with its default and unit."""

from django.conf import settings as dj
from django.urls import NoReverseMatch, reverse

from core.appsettings import AppSettings

_planning = AppSettings("PLANNING")


def tiles_url() -> str:
    # Base-map tiles for the interactive map; "" = no base map (offline use, tests).
    return _planning.get("PLANNING_TILES_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png")


def tiles_attribution() -> str:
    return _planning.get("PLANNING_TILES_ATTRIBUTION", "&copy; OpenStreetMap contributors")


def default_days() -> int:
    return _planning.get("PLANNING_DEFAULT_DAYS", 30)  # days: period when the API/page gets no dates


def max_days() -> int:
    return _planning.get("PLANNING_MAX_DAYS", 3660)  # days: longest period one request may cover


def grid_kind() -> str:
    return _planning.get("PLANNING_GRID_KIND", "hex")  # "hex" or "square": shape of the density cells


def grid_cell_m() -> float:
    return _planning.get("PLANNING_GRID_CELL_M", 500.0)  # metres: cell size (hex: centre to corner; square: side)


def grid_min_cell_m() -> float:
    return _planning.get("PLANNING_GRID_MIN_CELL_M", 50.0)  # metres: smallest cell size a request may ask for


def work_mem() -> str:
    # PostgreSQL work_mem for the aggregation's transaction (sorts per breakdown and percentile)
    return _planning.get("PLANNING_WORK_MEM", "64MB")


def png_dpi() -> int:
    return _planning.get("PLANNING_PNG_DPI", 150)  # dots per inch of the static PNG map


def timezone_name() -> str:
    """Hours and weekdays are counted in the project's zone (Django's TIME_ZONE: WIB)."""
    return dj.TIME_ZONE


def login_url() -> str:
    """Where the planners' page sends a signed-out visitor: PLANNING_LOGIN_URL, else the console's login
    (open to every role; the admin login only admits staff), else LOGIN_URL."""
    explicit = _planning.get("PLANNING_LOGIN_URL", "")
    if explicit:
        return explicit
    try:
        return reverse("console:login")
    except NoReverseMatch:
        return dj.LOGIN_URL
