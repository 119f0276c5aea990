"""Tracking settings: each reads a TRACKING_-prefixed Django setting, with a default and its unit.

Read through this module (never `django.conf.settings` directly): `core.appsettings.AppSettings`
looks each name up at call time, remembers it (an upload reads ~20 of them) and forgets it on
`setting_changed`, so `override_settings` applies in tests. The environment is read only by
`geoapp/settings.py`.
"""

from core.appsettings import AppSettings

_app = AppSettings("TRACKING")


# --- Presence -------------------------------------------------------------------------------
def presence_window_s() -> int:
    return _app.get("TRACKING_PRESENCE_WINDOW_S", 300)  # seconds: a ping younger than this is fresh


def offline_after_s() -> int:
    return _app.get("TRACKING_OFFLINE_AFTER_S", 1800)  # seconds: no ping for longer -> offline


def area_margin_cap_m() -> float:
    return _app.get("TRACKING_AREA_MARGIN_CAP_M", 50.0)  # metres: most a fix's accuracy widens the area


def area_exit_pings() -> int:
    return _app.get("TRACKING_AREA_EXIT_PINGS", 2)  # consecutive outside fixes that confirm leaving


def area_exit_dwell_s() -> int:
    return _app.get("TRACKING_AREA_EXIT_DWELL_S", 120)  # seconds outside that confirm leaving anyway


# --- Filters (each switched on/off and tuned) ----------------------------------------------
def filter_invalid() -> bool:
    return _app.get("TRACKING_FILTER_INVALID", True)  # lat/lon out of range, NaN


def filter_zero() -> bool:
    return _app.get("TRACKING_FILTER_ZERO", True)  # exactly 0,0 (a phone with no fix)


def filter_future() -> bool:
    return _app.get("TRACKING_FILTER_FUTURE", True)  # drop fixes later than now + TRACKING_CLOCK_SKEW_S


def clock_skew_s() -> int:
    return _app.get("TRACKING_CLOCK_SKEW_S", 300)  # seconds a device clock may run ahead of ours


# Duplicates (same device, same device time) are always dropped: the history's primary key is
# (device, device_time), so a resent ping is answered as accepted and stored once.


def filter_accuracy() -> bool:
    return _app.get("TRACKING_FILTER_ACCURACY", True)  # drop fixes less precise than TRACKING_MAX_ACCURACY_M


def max_accuracy_m() -> float:
    return _app.get("TRACKING_MAX_ACCURACY_M", 150.0)  # metres: a fix less precise than this is dropped


def filter_speed() -> bool:
    return _app.get("TRACKING_FILTER_SPEED", True)  # drop fixes faster than TRACKING_MAX_SPEED_KMH


def max_speed_kmh() -> float:
    return _app.get("TRACKING_MAX_SPEED_KMH", 180.0)  # km/h from the previous accepted fix


def filter_mock() -> bool:
    return _app.get("TRACKING_FILTER_MOCK", True)  # flag mock fixes (kept, never counted as present)


def last_seen_every_s() -> int:
    return _app.get("TRACKING_LAST_SEEN_EVERY_S", 60)  # seconds: a device's last_seen_at is at most this stale


def max_batch() -> int:
    return _app.get("TRACKING_MAX_BATCH", 1000)  # pings in one native batch request


# --- Device auth --------------------------------------------------------------------------
def osmand_require_token() -> bool:
    # OsmAnd/Traccar Client send only an id; put `?token=` in the app's server URL.
    return _app.get("TRACKING_OSMAND_REQUIRE_TOKEN", True)


def auth_cache_s() -> float:
    # seconds a device that authenticated is remembered in-process (0 = look it up every request);
    # revocation still takes effect at once: the pipeline re-reads the device under lock.
    return _app.get("TRACKING_AUTH_CACHE_S", 60)


# --- History storage ------------------------------------------------------------------------
def retention_days() -> int:
    return _app.get("TRACKING_RETENTION_DAYS", 400)  # days of ping history kept (dropped by partition)


def partitions_ahead_days() -> int:
    return _app.get("TRACKING_PARTITIONS_AHEAD_DAYS", 7)  # daily partitions created ahead of today


# --- Attendance -----------------------------------------------------------------------------
def attendance_present_ratio() -> float:
    return _app.get("TRACKING_ATTENDANCE_PRESENT_RATIO", 0.8)  # share of shift present -> "present"


def attendance_min_gap_s() -> int:
    return _app.get("TRACKING_ATTENDANCE_MIN_GAP_S", 60)  # seconds: shorter gaps are not listed as evidence


def attendance_max_evidence() -> int:
    return _app.get("TRACKING_ATTENDANCE_MAX_EVIDENCE", 50)  # gaps/spells kept per day (the longest)
