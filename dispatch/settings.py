"""Dispatch settings: each reads a DISPATCH_-prefixed Django setting, with a default and its unit.

Functions, not constants, so `override_settings` in tests and per-environment values apply at
call time (through `core.appsettings`, which remembers what it read until a setting changes).
"""

from core.appsettings import AppSettings

_s = AppSettings("DISPATCH")


# --- The dispatcher ---------------------------------------------------------------------------
def max_open_orders() -> int:
    return _s.get("DISPATCH_MAX_OPEN_ORDERS", 3)  # open orders (offered..on site) one supervisor may hold


def tie_tolerance_m() -> float:
    # metres: candidates this much farther than the nearest count as tied; the lighter workload wins
    return _s.get("DISPATCH_TIE_TOLERANCE_M", 50.0)


def max_candidates() -> int:
    return _s.get("DISPATCH_MAX_CANDIDATES", 200)  # nearest supervisors of the OPD in the kecamatan judged per decision


def suggestions() -> int:
    return _s.get("DISPATCH_SUGGESTIONS", 5)  # outside-the-rule suggestions kept when nobody fits


def exclude_mock() -> bool:
    return _s.get("DISPATCH_EXCLUDE_MOCK", True)  # a phone now sending mock locations is not trusted


def field_agencies_only() -> bool:
    # OPDs without field supervisors (is_field_agency=False) are notified, not dispatched to
    return _s.get("DISPATCH_FIELD_AGENCIES_ONLY", True)


# --- Orders -----------------------------------------------------------------------------------------
def ack_timeout_s(priority: int) -> int:
    """Seconds an offer waits for acknowledgement before it goes to the next candidate, by priority."""
    table = _s.get("DISPATCH_ACK_TIMEOUT_S", {1: 120, 2: 300, 3: 600, 4: 900})  # priority -> seconds
    return int(table.get(int(priority), table.get(3, 600)))


def on_site_radius_m() -> float:
    return _s.get("DISPATCH_ON_SITE_RADIUS_M", 75.0)  # metres from the report: a ping this close = on site


def resolve_requires_photo() -> bool:
    return _s.get("DISPATCH_RESOLVE_REQUIRES_PHOTO", True)  # resolving an order needs a photo of the work


# --- Response-time targets (besides each category's target_dispatch/resolve_minutes) ---------------
def target_ack_minutes(priority: int) -> int:
    table = _s.get("DISPATCH_TARGET_ACK_MINUTES", {1: 5, 2: 10, 3: 20, 4: 30})  # minutes, report -> acknowledged
    return int(table.get(int(priority), 20))


def target_arrive_minutes(priority: int) -> int:
    table = _s.get("DISPATCH_TARGET_ARRIVE_MINUTES", {1: 20, 2: 30, 3: 60, 4: 120})  # minutes, report -> on site
    return int(table.get(int(priority), 60))


# --- Maternity room booking ---------------------------------------------------------------------
def maternity_categories() -> list[str]:
    return _s.get("DISPATCH_MATERNITY_CATEGORIES", ["kamar-bersalin"])  # category codes that book a room
