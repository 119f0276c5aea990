"""The lock: one statement locks the supervisor and their latest position and reads what the batch needs.

Every device of a supervisor queues behind the supervisor's row, so two uploads of one phone or
supervisor run one after the other, and the one that waited reads the position the other just
wrote. The same statement re-checks the device's right to send (revocation, token, an inactive
supervisor: the auth cache only ever accepts, auth.py), stamps the device's `last_seen_at` at
most once every TRACKING_LAST_SEEN_EVERY_S, and reads the assigned area and the shifts. A
supervisor with no position yet: the lock, then the position in a statement of its own. These
statements touch small tables and are prepared (core/prepared.py: planned once per connection).
"""

from __future__ import annotations

from datetime import date, time, timedelta

from django.contrib.gis.geos import Point
from django.db import connection

from core import prepared

from .. import settings as ts
from ..areas import AssignedArea
from ..auth import BadToken, RevokedDevice, UnknownDevice
from ..duty import wib_date
from ..models import LatestPosition
from .upload import Locked, Upload

_LOCK_HEAD = """
WITH d AS (SELECT supervisor_id, token_hash, revoked_at FROM tracking_device WHERE id = %(device)s),
stamp AS (
    UPDATE tracking_device SET last_seen_at = %(now)s
    WHERE id = %(device)s AND (last_seen_at IS NULL OR last_seen_at < %(stamp_before)s)
)
SELECT s.id, s.active, s.presence_state, s.kecamatan_codes, d.token_hash, d.revoked_at,
       ARRAY(SELECT sg.geofence_id FROM tracking_supervisor_geofences sg
             JOIN tracking_geofence g ON g.id = sg.geofence_id
             WHERE sg.supervisor_id = s.id AND g.active),
       (SELECT coalesce(json_agg(json_build_array(weekday, start, "end")), '[]')
          FROM tracking_shift WHERE supervisor_id = s.id),
       (SELECT coalesce(json_agg(json_build_array(date, off, start, "end")), '[]')
          FROM tracking_shiftoverride WHERE supervisor_id = s.id AND date BETWEEN %(first)s AND %(last)s)"""
_LATEST_COLUMNS = """lp.device_id, ST_X(lp.point), ST_Y(lp.point), lp.device_time, lp.received_at, lp.accuracy,
       lp.speed, lp.heading, lp.battery, lp.mock, lp.kecamatan_code, lp.geofence_ids, lp.in_area, lp.outside_since,
       lp.outside_count, lp.area_confirmed_out, lp.last_mock_at"""
# The usual upload: the supervisor and their latest position locked and read in one statement.
# Locking the position's row too is what makes this read exact: a statement that waited for a
# lock gets the newest version of every row it locks (PostgreSQL re-reads them), so the position
# the upload we waited for had just written is the one seen here. Rows it does not lock it sees
# as they were before it waited.
LOCK_WITH_LATEST_SQL = f"""{_LOCK_HEAD},
       {_LATEST_COLUMNS}
FROM d
JOIN tracking_supervisor s ON s.id = d.supervisor_id
JOIN tracking_latestposition lp ON lp.supervisor_id = s.id
FOR UPDATE OF s, lp
"""
# No row from it: a supervisor with no position yet (or an unknown device). Lock the supervisor
# alone, then read the position in a statement of its own, after the lock (see above).
LOCK_SQL = f"""{_LOCK_HEAD}
FROM d
JOIN tracking_supervisor s ON s.id = d.supervisor_id
FOR UPDATE OF s
"""
LATEST_SQL = f"""
SELECT {_LATEST_COLUMNS}
FROM tracking_latestposition lp WHERE lp.supervisor_id = %s
"""
LP_FIELDS = (
    "device_time", "received_at", "accuracy", "speed", "heading", "battery", "mock", "kecamatan_code",
    "geofence_ids", "in_area", "outside_since", "outside_count", "area_confirmed_out", "last_mock_at",
)  # fmt: skip

LATEST_FIELDS = ("supervisor_id", "device_id", "point", *LP_FIELDS)  # LatestPosition's concrete fields, in order


def _clock(value: str | None) -> time | None:
    return None if value is None else time.fromisoformat(value)


def lock(upload: Upload) -> None:
    """Lock the supervisor and re-check the device's right to send, or refuse (404/403/401).

    The device's `last_seen_at` is stamped only when older than TRACKING_LAST_SEEN_EVERY_S, so
    most uploads write no device row (a row version, WAL and vacuum work each time otherwise)."""
    device, now = upload.device, upload.received_at
    day = wib_date(now)
    params = {
        "now": now,
        "stamp_before": now - timedelta(seconds=ts.last_seen_every_s()),
        "device": device.pk,
        "first": day - timedelta(days=1),
        "last": day,
    }
    with prepared.cursor() as cur:
        cur.execute(LOCK_WITH_LATEST_SQL, params)
        row = cur.fetchone()
        lp_row = row[9:] if row is not None else None
        if row is None:
            cur.execute(LOCK_SQL, params)
            row = cur.fetchone()
            if row is not None:
                cur.execute(LATEST_SQL, [row[0]])
                lp_row = cur.fetchone()
    if row is None:
        raise UnknownDevice(f"unknown device {device.device_id!r}: register it first")
    sup_id, active, state, codes, token_hash, revoked_at, fences, weekly, overrides = row[:9]
    if revoked_at is not None:
        raise RevokedDevice(f"device {device.device_id!r} was revoked on {revoked_at:%Y-%m-%d %H:%M} UTC")
    if not active:
        raise RevokedDevice(f"device {device.device_id!r}: its supervisor is no longer active")
    verified = getattr(device, "verified_hash", None)  # set by auth.authenticate
    if verified is not None and verified != token_hash:
        raise BadToken(f"device {device.device_id!r}: wrong token")
    latest = None
    if lp_row is not None:
        lp_device, x, y = lp_row[:3]
        values = [sup_id, lp_device, Point(x, y, srid=4326), *lp_row[3:]]
        latest = LatestPosition.from_db(connection.alias, LATEST_FIELDS, values)
    upload.locked = Locked(
        supervisor_id=sup_id,
        presence_state=state,
        area=AssignedArea(frozenset(codes or []), frozenset(fences or [])),
        latest=latest,
        weekly=[(w, _clock(a), _clock(b)) for w, a, b in weekly],
        overrides=[(date.fromisoformat(d), off, _clock(a), _clock(b)) for d, off, a, b in overrides],
    )
