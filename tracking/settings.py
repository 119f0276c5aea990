"""Tracking settings: each reads a TRACKING_-prefixed Django setting, with a default and its unit.

Read through this module (never `django.conf.settings` directly) so tests can override with
`override_settings` and the values are looked up at call time (they are functions of the
settings object, not frozen at import).
"""

from django.conf import settings as dj
from django.core.signals import setting_changed

_UNSET = object()  # the setting is not in Django's settings
_UNREAD = object()
_read: dict[str, object] = {}


def _get(name: str, default):
    """The setting, or `default` when it is not set. Remembered per name: an upload reads ~20 of
    them, and Django's lookup of a name that is not set raises and catches an AttributeError each
    time (~0.15 ms per upload). `override_settings` and the like send `setting_changed`, which
    forgets what was read."""
    value = _read.get(name, _UNREAD)
    if value is _UNREAD:
        value = _read[name] = getattr(dj, name, _UNSET)
    return default if value is _UNSET else value


def _forget(**kwargs) -> None:
    _read.clear()


setting_changed.connect(_forget, dispatch_uid="tracking.settings.forget")


# --- Presence -------------------------------------------------------------------------------
def presence_window_s() -> int:
    return _get("TRACKING_PRESENCE_WINDOW_S", 300)  # seconds: a ping younger than this is fresh


def offline_after_s() -> int:
    return _get("TRACKING_OFFLINE_AFTER_S", 1800)  # seconds: no ping for longer -> offline


def area_margin_cap_m() -> float:
    return _get("TRACKING_AREA_MARGIN_CAP_M", 50.0)  # metres: most a fix's accuracy widens the area


def area_exit_pings() -> int:
    return _get("TRACKING_AREA_EXIT_PINGS", 2)  # consecutive outside fixes that confirm leaving


def area_exit_dwell_s() -> int:
    return _get("TRACKING_AREA_EXIT_DWELL_S", 120)  # seconds outside that confirm leaving anyway


# --- Filters (each switched on/off and tuned) ----------------------------------------------
def filter_invalid() -> bool:
    return _get("TRACKING_FILTER_INVALID", True)  # lat/lon out of range, NaN


def filter_zero() -> bool:
    return _get("TRACKING_FILTER_ZERO", True)  # exactly 0,0 (a phone with no fix)


def filter_future() -> bool:
    return _get("TRACKING_FILTER_FUTURE", True)


def clock_skew_s() -> int:
    return _get("TRACKING_CLOCK_SKEW_S", 300)  # seconds a device clock may run ahead of ours


# Duplicates (same device, same device time) are always dropped: the history's primary key is
# (device, device_time), so a resent ping is answered as accepted and stored once.


def filter_accuracy() -> bool:
    return _get("TRACKING_FILTER_ACCURACY", True)


def max_accuracy_m() -> float:
    return _get("TRACKING_MAX_ACCURACY_M", 150.0)  # metres: a fix less precise than this is dropped


def filter_speed() -> bool:
    return _get("TRACKING_FILTER_SPEED", True)


def max_speed_kmh() -> float:
    return _get("TRACKING_MAX_SPEED_KMH", 180.0)  # km/h from the previous accepted fix


def filter_mock() -> bool:
    return _get("TRACKING_FILTER_MOCK", True)  # flag mock fixes (kept, never counted as present)


def last_seen_every_s() -> int:
    return _get("TRACKING_LAST_SEEN_EVERY_S", 60)  # seconds: a device's last_seen_at is at most this stale


def max_batch() -> int:
    return _get("TRACKING_MAX_BATCH", 1000)  # pings in one native batch request


# --- Device auth --------------------------------------------------------------------------
def osmand_require_token() -> bool:
    # OsmAnd/Traccar Client send only an id; put `?token=` in the app's server URL.
    return _get("TRACKING_OSMAND_REQUIRE_TOKEN", True)


def auth_cache_s() -> float:
    # seconds a device that authenticated is remembered in-process (0 = look it up every request);
    # revocation still takes effect at once: the pipeline re-reads the device under lock.
    return _get("TRACKING_AUTH_CACHE_S", 60)


# --- History storage ------------------------------------------------------------------------
def retention_days() -> int:
    return _get("TRACKING_RETENTION_DAYS", 400)  # days of ping history kept (dropped by partition)


def partitions_ahead_days() -> int:
    return _get("TRACKING_PARTITIONS_AHEAD_DAYS", 7)  # daily partitions created ahead of today


# --- Attendance -----------------------------------------------------------------------------
def attendance_present_ratio() -> float:
    return _get("TRACKING_ATTENDANCE_PRESENT_RATIO", 0.8)  # share of shift present -> "present"


def attendance_min_gap_s() -> int:
    return _get("TRACKING_ATTENDANCE_MIN_GAP_S", 60)  # seconds: shorter gaps are not listed as evidence


def attendance_max_evidence() -> int:
    return _get("TRACKING_ATTENDANCE_MAX_EVIDENCE", 50)  # gaps/spells kept per day (the longest)
