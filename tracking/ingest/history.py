"""History around the batch, read under the lock: the stored fix before it and its times already stored.

The speed filter compares the batch's first real fix with the stored fix before it; the
duplicate filter drops the fixes whose (device, time) key is stored. Under the lock both answers
are exact, so the COPY that follows cannot meet a duplicate.

Two ways to answer, one seam (`read`): the usual upload, newer than anything the device has
stored, gets both from the latest position without a query (`from_latest`); any other, and the
staged retry, asks the history (`around`).
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from django.db import connection

from .. import settings as ts
from ..fixes import DAY_US, FixBatch, from_us, to_us
from ..models import Device, LatestPosition
from .upload import Upload

HISTORY_SQL = """
(SELECT false, device_time, ST_X(point), ST_Y(point) FROM tracking_ping
  WHERE device_id = %(device)s AND device_time < %(before)s AND device_time >= %(since)s AND NOT mock
  ORDER BY device_time DESC LIMIT 1)
UNION ALL
(SELECT true, device_time, NULL, NULL FROM tracking_ping
  WHERE device_id = %(device)s AND device_time BETWEEN %(first)s AND %(last)s
  ORDER BY device_time LIMIT %(limit)s)
"""
STORED_AMONG_SQL = """
SELECT device_time FROM tracking_ping
WHERE device_id = %(device)s AND device_time BETWEEN %(first)s AND %(last)s
  AND device_time = ANY(ARRAY(SELECT timestamptz 'epoch' + u * interval '1 microsecond'
                              FROM unnest(%(times)s::int8[]) AS u))
"""


def read(upload: Upload) -> None:
    """The previous stored fix (when the speed filter wants it) and the batch's times already stored."""
    if not len(upload.fixes):
        return
    want_previous = ts.filter_speed()
    device, fixes = upload.device, upload.fixes
    known = None if upload.staged else from_latest(upload.locked.latest, device, fixes, want_previous)
    upload.previous, upload.stored_before = known or around(device, fixes, want_previous)


def around(device: Device, fixes: FixBatch, want_previous: bool) -> tuple[tuple | None, np.ndarray]:
    """(previous stored non-mock fix before the batch's first real fix, times already stored).

    One statement on the primary key (device, time), pruned to the partitions the batch
    touches: the previous fix (up to a day back) and the stored times between the batch's
    first and last fix. A fresh upload finds none; a resent one finds its own. Only when the
    batch spans so much stored history that the range is longer than twice the batch (a stray
    old fix next to new ones) is the check redone as an exact lookup of the batch's times.
    Not prepared: on the partitioned history a generic plan would lock every partition at each run
    (PostgreSQL 15), where a plan made for these times touches one or two.
    """
    real = fixes.time_us[~fixes.mock]
    before = from_us(real[0]) if want_previous and len(real) else None
    params = {
        "device": device.pk,
        "before": before,
        "since": before - timedelta(days=1) if before else None,
        "first": from_us(fixes.time_us[0]),
        "last": from_us(fixes.time_us[-1]),
        "limit": 2 * len(fixes) + 1,
    }
    with connection.cursor() as cur:
        cur.execute(HISTORY_SQL, params)
        rows = cur.fetchall()
        prev = next(((to_us(t), x, y) for dup, t, x, y in rows if not dup), None)
        stored = [t for dup, t, _x, _y in rows if dup]
        if len(stored) >= params["limit"]:
            cur.execute(STORED_AMONG_SQL, {**params, "times": fixes.time_us.tolist()})
            stored = [row[0] for row in cur.fetchall()]
    return prev, np.array([to_us(t) for t in stored], dtype=np.int64)


def from_latest(
    lp: LatestPosition | None, device: Device, fixes: FixBatch, want_previous: bool
) -> tuple[tuple | None, np.ndarray] | None:
    """What `around` would answer, read off the latest position without a query, when the whole
    batch is newer than anything this device has stored: a phone's usual upload of what it
    recorded since the last one (the history lookup costs ~0.7 ms of an ~13 ms upload).

    Under the lock the latest position holds the supervisor's newest stored fix that is not mock
    and `last_mock_at` their newest stored mock fix: every stored fix newer than the position
    moves one of them. So when the position is this device's and the batch starts after both,
    none of the batch is stored yet and the fix before it (for the speed filter) is the
    position itself. Otherwise (another device of the supervisor, a late or resent batch, no
    position yet): None, and the history is asked. A row written into the history by something
    other than this pipeline would meet the primary key in the COPY, and the batch would be
    retried through ON CONFLICT, which asks the history.
    """
    if lp is None or lp.device_id != device.pk:
        return None
    position_us = to_us(lp.device_time)
    newest = max(position_us, to_us(lp.last_mock_at)) if lp.last_mock_at is not None else position_us
    if fixes.time_us[0] <= newest:  # sorted by time
        return None
    prev = None
    real = fixes.time_us[~fixes.mock]
    if want_previous and len(real) and real[0] - position_us <= DAY_US:  # as HISTORY_SQL: a day back
        prev = (position_us, lp.point.x, lp.point.y)
    return prev, np.empty(0, dtype=np.int64)
