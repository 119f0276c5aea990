"""The one ingestion pipeline for every protocol: decode -> filter -> enrich -> store -> events.

Views decode (protocols.py) and authenticate, then call `ingest(device, items, source)`; the
simulator, the benchmarks and tests reach the same path through HTTP. Each stage drops a fix
with a reason; reasons are counted per day and device (`DropCount`) and returned to the caller
by the fix's index in the request.

Order matters: a batch may come in any order (a phone uploading what it buffered offline), so
fixes are sorted by device time before the speed filter and the latest-position walk. History
takes every accepted fix; the latest position only moves forward.

Cost (a batch of 1000 is one phone's buffer; see bench/bench_tracking.py): the fixes travel as
numpy columns (`FixBatch`), never as 1000 Python objects; the whole request is a handful of
statements whatever its size; those on small tables are prepared (core/prepared.py: planned once
per connection):
  1. the lock: one statement locks the supervisor's row and their latest position (so two
     uploads of one phone or supervisor queue up, and one that waited reads the position the
     other just wrote), stamps the device's `last_seen_at` once a minute and reads its current
     token and revocation, the assigned area and the shifts (a supervisor with no position yet:
     the lock, then the position in a statement of its own);
  2. history around the batch: the previous stored fix (speed filter) and which of the batch's
     times are already stored (duplicates). The usual upload, newer than anything the device has
     stored, gets both from the latest position without a query (`_history_from_latest`); any
     other asks one UNION ALL on the primary key. Not prepared: a generic plan on the
     partitioned table would lock every partition at each run;
  3. one binary COPY straight into the partitioned history, its payload built with numpy. Under
     the lock, step 2 is exact, so the COPY cannot meet a duplicate. Should anything else have
     written the same key, the transaction is retried once through a temporary staging table and
     INSERT ... ON CONFLICT DO NOTHING RETURNING (measured: staging + INSERT costs ~1.5-2x a
     direct COPY in the database);
  4. the latest position: one UPDATE (or INSERT) that also queues the worker's announcement
     (`relay.send_if`), events in one bulk insert, drop counters in one statement and presence
     only when something changed.
Pipelining these round trips (psycopg's pipeline mode) and running Python while the COPY was in
flight made the single-stream bench faster but the server under load much slower (requests
hold their connection and the supervisor's lock longer while threads wait for the GIL):
`make loadtest` decides such changes, not the bench alone.
Signals (`position_updated`, `presence_changed`) go out once per batch, after commit, with
the final position, so the receivers of other apps run once per batch, never per fix.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import chain
from operator import ne

import numpy as np
from django.contrib.gis.geos import Point
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core import prepared, relay
from core.signals import send_logged

from . import partitions, presence
from . import settings as ts
from .areas import AssignedArea, Enriched, enrich, geofence_index, to_metric
from .models import Device, EventKind, Geofence, LatestPosition
from .protocols import BadToken, Fix, FixBatch, Problem, RevokedDevice, UnknownDevice, from_us, to_us
from .signals import POSITION, position_updated

log = logging.getLogger("tracking.pipeline")

# Reasons that mean the fix itself is bad input (a single-ping protocol answers 400);
# the others are quality drops the phone cannot fix by resending (answered 200).
INVALID = "invalid coordinates"
ZERO = "zero coordinates"
FUTURE = "future timestamp"
TOO_OLD = "older than retention"
ACCURACY = "poor accuracy"
SPEED = "impossible speed"
DUPLICATE = "duplicate"
REFUSING_REASONS = {INVALID, ZERO, FUTURE, TOO_OLD}


@dataclass
class IngestResult:
    stored: list[int] = field(default_factory=list)  # request indexes stored now
    duplicates: list[int] = field(default_factory=list)  # already stored before (or twice in the batch)
    mock: list[int] = field(default_factory=list)  # stored, flagged mock (never counts for attendance)
    dropped: list[Problem] = field(default_factory=list)  # filtered out, with the reason
    rejected: list[Problem] = field(default_factory=list)  # could not be decoded

    @property
    def accepted(self) -> int:
        return len(self.stored) + len(self.duplicates)

    @property
    def refused(self) -> list[Problem]:
        """Problems that are bad input (for single-ping protocols: a 400)."""
        return self.rejected + [p for p in self.dropped if p.reason in REFUSING_REASONS]

    def as_dict(self) -> dict:
        return {
            "stored": len(self.stored),
            "duplicates": len(self.duplicates),
            "mock": len(self.mock),
            "dropped": [{"index": p.index, "reason": p.reason} for p in sorted(self.dropped)],
            "rejected": [{"index": p.index, "reason": p.reason} for p in sorted(self.rejected)],
        }


# --- filter ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FilterConfig:
    """The filter settings, read once per request (not once per fix)."""

    invalid: bool
    zero: bool
    future_after: datetime | None
    oldest: datetime
    max_accuracy: float | None
    keep_mock_flag: bool

    @classmethod
    def load(cls, now: datetime) -> FilterConfig:
        return cls(
            invalid=ts.filter_invalid(),
            zero=ts.filter_zero(),
            future_after=now + timedelta(seconds=ts.clock_skew_s()) if ts.filter_future() else None,
            oldest=partitions.oldest_accepted(now),
            max_accuracy=ts.max_accuracy_m() if ts.filter_accuracy() else None,
            keep_mock_flag=ts.filter_mock(),
        )


def _basic_filters(batch: FixBatch, cfg: FilterConfig, result: IngestResult) -> FixBatch:
    """The per-fix predicates in Traccar's order, each switched by a setting, over whole columns.

    A fix is dropped for the first predicate it fails. Returns the kept fixes sorted by
    (device time, request index), with repeats of one time in the batch counted as duplicates
    (the first in request order is kept).
    """
    lat, lon, t = batch.lat, batch.lon, batch.time_us
    checks: list[tuple[str, np.ndarray]] = []
    if cfg.invalid:
        checks.append((INVALID, ~((lat >= -90) & (lat <= 90) & (lon >= -180) & (lon <= 180))))
    if cfg.zero:
        checks.append((ZERO, (lat == 0) & (lon == 0)))
    if cfg.future_after is not None:
        checks.append((FUTURE, t > to_us(cfg.future_after)))
    checks.append((TOO_OLD, t < to_us(cfg.oldest)))  # always: there is no partition to hold it
    if cfg.max_accuracy is not None:
        checks.append((ACCURACY, batch.accuracy > cfg.max_accuracy))  # NaN (unknown) passes
    keep = np.ones(len(batch), dtype=bool)
    for reason, bad in checks:
        hit = keep & bad
        if hit.any():
            result.dropped.extend(Problem(i, reason) for i in batch.index[hit].tolist())
            keep &= ~bad
    kept = batch if keep.all() and cfg.keep_mock_flag else batch.take(np.nonzero(keep)[0])  # a copy to change
    if not cfg.keep_mock_flag:
        kept.mock[:] = False
    t = kept.time_us
    if (t[1:] > t[:-1]).all():  # a phone's usual batch: already in time order, no time twice
        return kept
    kept = kept.take(np.lexsort((kept.index, kept.time_us)))
    repeat_ = np.zeros(len(kept), dtype=bool)
    repeat_[1:] = kept.time_us[1:] == kept.time_us[:-1]
    if repeat_.any():
        result.duplicates.extend(kept.index[repeat_].tolist())
        kept = kept.take(~repeat_)
    return kept


def _speed_drops(fixes: FixBatch, prev: tuple[int, float, float] | None) -> np.ndarray:
    """Mask of fixes implying a speed above TRACKING_MAX_SPEED_KMH from the previous accepted fix.

    Walks in device time from the stored fix just before the batch; mock fixes are neither
    judged nor used as the previous fix. Vectorised: when no step between neighbours is too
    fast, nothing is dropped; only then is the sequential walk needed (a drop changes what
    the next fix is compared with).
    """
    drop = np.zeros(len(fixes), dtype=bool)
    real = np.nonzero(~fixes.mock)[0]
    if not len(real):
        return drop
    t, lons, lats = fixes.time_us[real], fixes.lon[real], fixes.lat[real]
    if prev is not None:
        t = np.concatenate([[prev[0]], t])
        lons = np.concatenate([[prev[1]], lons])
        lats = np.concatenate([[prev[2]], lats])
    limit = ts.max_speed_kmh() / 3.6  # m/s
    step_s = np.diff(t) / 1e6
    # First a bound no projection is needed for: a step is at most |dlat| + |dlon| (radians) of
    # the equator's radius, and UTM stretches by under 0.2 % across its zone (1 % allowed). When
    # no step can be too fast by it (a phone walking or driving), the batch is done.
    bound_m = np.radians(np.abs(np.diff(lats)) + np.abs(np.diff(lons))) * (6_378_137 * 1.01)
    if not ((step_s > 0) & (bound_m > limit * step_s)).any():
        return drop
    xs, ys = to_metric(lons, lats)
    step_m = np.hypot(np.diff(xs), np.diff(ys))
    if not ((step_s > 0) & (step_m > limit * step_s)).any():
        return drop
    offset = 1 if prev is not None else 0
    last = 0 if prev is not None else None  # index into t/xs of the previous accepted fix
    for j in range(len(real)):
        k = j + offset
        if last is not None:
            dt = (t[k] - t[last]) / 1e6
            if dt > 0 and float(np.hypot(xs[k] - xs[last], ys[k] - ys[last])) / dt > limit:
                drop[real[j]] = True
                continue
        last = k
    return drop


# --- lock and read --------------------------------------------------------------------------------
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


@dataclass
class _Locked:
    """What one batch needs, read under the lock in one statement."""

    supervisor_id: int
    presence_state: str
    area: AssignedArea
    latest: LatestPosition | None
    weekly: list[tuple[int, time, time]]
    overrides: list[tuple[date, bool, time | None, time | None]]


def _clock(value: str | None) -> time | None:
    return None if value is None else time.fromisoformat(value)


def _lock(device: Device, now: datetime) -> _Locked:
    """Lock the supervisor (every device of theirs queues behind it) and re-check the device's right to
    send. The device's `last_seen_at` is stamped only when older than TRACKING_LAST_SEEN_EVERY_S, so
    most uploads write no device row (a row version, WAL and vacuum work each time otherwise)."""
    day = presence.wib_date(now)
    params = {
        "now": now,
        "stamp_before": now - timedelta(seconds=ts.last_seen_every_s()),
        "device": device.pk,
        "first": day - timedelta(days=1),
        "last": day,
    }
    with prepared.cursor() as cur:  # small tables: prepared (core/prepared.py)
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
    verified = getattr(device, "verified_hash", None)  # set by protocols.authenticate
    if verified is not None and verified != token_hash:
        raise BadToken(f"device {device.device_id!r}: wrong token")
    latest = None
    if lp_row is not None:
        lp_device, x, y = lp_row[:3]
        latest = LatestPosition(
            supervisor_id=sup_id,
            device_id=lp_device,
            point=Point(x, y, srid=4326),
            **dict(zip(LP_FIELDS, lp_row[3:], strict=True)),
        )
        latest._state.adding = False
        latest._state.db = connection.alias
    return _Locked(
        supervisor_id=sup_id,
        presence_state=state,
        area=AssignedArea(frozenset(codes or []), frozenset(fences or [])),
        latest=latest,
        weekly=[(w, _clock(a), _clock(b)) for w, a, b in weekly],
        overrides=[(date.fromisoformat(d), off, _clock(a), _clock(b)) for d, off, a, b in overrides],
    )


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


def _history_around(device: Device, fixes: FixBatch, want_previous: bool) -> tuple[tuple | None, np.ndarray]:
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


DAY_US = 86_400_000_000


def _utc_day(us: int) -> date:
    """The UTC day of a time in µs since the epoch (the day its history partition holds)."""
    return date(1970, 1, 1) + timedelta(days=int(us // DAY_US))


def _history_from_latest(
    locked: _Locked, device: Device, fixes: FixBatch, want_previous: bool
) -> tuple[tuple | None, np.ndarray] | None:
    """What `_history_around` would answer, read off the latest position without a query, when the
    whole batch is newer than anything this device has stored: a phone's usual upload of what it
    recorded since the last one (the history lookup was ~0.7 ms of an ~13 ms upload).

    Under the lock the latest position holds the supervisor's newest stored fix that is not mock
    and `last_mock_at` their newest stored mock fix: every stored fix newer than the position
    moves one of them. So when the position is this device's and the batch starts after both,
    none of the batch is stored yet and the fix before it (for the speed filter) is the
    position itself. Otherwise (another device of the supervisor, a late or resent batch, no
    position yet): None, and the history is asked. A row written into the history by something
    other than this pipeline would meet the primary key in the COPY, and the batch would be
    retried through ON CONFLICT, which asks the history.
    """
    lp = locked.latest
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


# --- store ------------------------------------------------------------------------------------------
# The COPY is written in PostgreSQL's binary format, built with numpy for the whole batch: each
# row is a field count, then per field a length and the value in its wire format (big-endian).
# Fixed-width fields that are never NULL form one numpy record per row; only the few variable
# ones (a float column with unknowns, kecamatan code, geofence ids) are bytes per row, taken from
# small caches. No Python dumper runs per value (psycopg's write_row costs ~5 ms per 1000 rows).
#   device_time/received_at: timestamptz = int8 microseconds since 2000-01-01 UTC
#   point: EWKB (little-endian inside, as PostGIS reads it), SRID 4326
FLOAT_COLUMNS = ("accuracy", "speed", "heading", "altitude", "battery")
PG_EPOCH_US = to_us(datetime(2000, 1, 1, tzinfo=UTC))
COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" * 2  # signature, flags, no extension
COPY_TRAILER = b"\xff\xff"
EWKB_POINT_4326 = (1, 0x20000001, 4326)  # little-endian, Point with SRID flag, SRID
NULL = b"\xff\xff\xff\xff"
INT4_OID = 23
_text_cache: dict[str | None, bytes] = {}
_int4_array_cache: dict[tuple[int, ...], bytes] = {}


def _text_field(value: str | None) -> bytes:
    if value not in _text_cache:
        _text_cache[value] = NULL if value is None else len(value.encode()).to_bytes(4, "big") + value.encode()
    return _text_cache[value]


def _int4_array_field(ids: tuple[int, ...]) -> bytes:
    """int4[] in array_recv's format: ndim, has-null flag, element type, then dimension and items."""
    if ids not in _int4_array_cache:
        if not ids:
            body = np.array([0, 0, INT4_OID], dtype=">i4").tobytes()
        else:
            items = np.empty(2 * len(ids), dtype=">i4")
            items[0::2], items[1::2] = 4, ids
            body = np.array([1, 0, INT4_OID, len(ids), 1], dtype=">i4").tobytes() + items.tobytes()
        if len(_int4_array_cache) > 10_000:
            _int4_array_cache.clear()
        _int4_array_cache[ids] = len(body).to_bytes(4, "big") + body
    return _int4_array_cache[ids]


MAX_RUNS = 32  # past this many runs of rows with equal variable fields, joining row by row is cheaper


def _copy_payload(
    device: Device,
    supervisor_id: int,
    fixes: FixBatch,
    enriched: Enriched,
    source: str,
    received_at: datetime,
    max_runs: int = MAX_RUNS,
) -> tuple[str, bytes]:
    """(column list, binary COPY stream) for the new fixes.

    A column whose every value is its default in the table is left out of the COPY: no geofence
    anywhere in the batch (`geofence_ids` defaults to an empty array, migration 0003), no mock fix
    (`mock` defaults to false), an optional value no fix has (NULL). PostgreSQL reads fewer fields
    per row: ~0.45 ms of ~7 ms per 1000 rows for the empty arrays alone (backend CPU, schedstat).
    """
    n = len(fixes)
    dense = [c for c in FLOAT_COLUMNS if not np.isnan(getattr(fixes, c)).any()]
    sparse = [c for c in FLOAT_COLUMNS if c not in dense and not np.isnan(getattr(fixes, c)).all()]
    with_mock = bool(fixes.mock.any())
    with_fences = any(enriched.geofence_ids)
    src = source.encode()
    fixed = [
        ("device_id", ">i8"), ("supervisor_id", ">i8"), ("device_time", ">i8"), ("received_at", ">i8"),
        *([("mock", "u1")] if with_mock else []), ("in_area", "u1"), *((c, ">f8") for c in dense),
    ]  # fmt: skip
    fields = [("count", ">i2")]
    for name, kind in fixed:
        fields += [(f"{name}_len", ">i4"), (name, kind)]
    fields += [
        ("point_len", ">i4"), ("ewkb_order", "u1"), ("ewkb_type", "<u4"), ("ewkb_srid", "<u4"),
        ("x", "<f8"), ("y", "<f8"), ("source_len", ">i4"), ("source", f"S{len(src)}"),
    ]  # fmt: skip
    rec = np.zeros(n, dtype=np.dtype(fields))
    rec["count"] = len(fixed) + 3 + with_fences + len(sparse)  # + point, source, kecamatan_code
    for name, width in [("device_id", 8), ("supervisor_id", 8), ("device_time", 8), ("received_at", 8)]:
        rec[f"{name}_len"] = width
    rec["device_id"], rec["supervisor_id"] = device.pk, supervisor_id
    rec["device_time"] = fixes.time_us - PG_EPOCH_US
    rec["received_at"] = to_us(received_at) - PG_EPOCH_US
    if with_mock:
        rec["mock_len"], rec["mock"] = 1, fixes.mock
    rec["in_area_len"], rec["in_area"] = 1, enriched.in_area
    for c in dense:
        rec[f"{c}_len"], rec[c] = 8, getattr(fixes, c)
    rec["point_len"] = 25
    rec["ewkb_order"], rec["ewkb_type"], rec["ewkb_srid"] = EWKB_POINT_4326
    rec["x"], rec["y"] = fixes.lon, fixes.lat
    rec["source_len"], rec["source"] = len(src), src
    null = np.isnan(np.column_stack([getattr(fixes, c) for c in sparse])) if sparse else np.zeros((n, 0), bool)
    starts = _runs(enriched, null, with_fences)
    if len(starts) <= max_runs:
        stream = _stream_by_runs(rec, fixes, enriched, sparse, null, starts, with_fences)
    else:
        stream = _stream_by_rows(rec, fixes, enriched, sparse, with_fences)
    columns = ", ".join(
        [name for name, _kind in fixed] + ["point", "source", "kecamatan_code"]
        + (["geofence_ids"] if with_fences else []) + sparse
    )  # fmt: skip
    return columns, COPY_SIGNATURE + stream + COPY_TRAILER


def _runs(enriched: Enriched, null: np.ndarray, with_fences: bool = True) -> list[int]:
    """Where each run of consecutive rows with the same variable fields starts (kecamatan code,
    geofences, which optional values are unknown): within a run every row has the same layout."""
    codes, fences, numbered = enriched.kecamatan_codes, enriched.geofence_ids, enriched.kecamatan_index
    n = len(codes)
    change = np.ones(n, dtype=bool)
    if n > 1:
        if numbered is not None:
            change[1:] = numbered[1:] != numbered[:-1]
        else:
            change[1:] = np.fromiter(map(ne, codes[1:], codes[:-1]), dtype=bool, count=n - 1)
        if with_fences:
            change[1:] |= np.fromiter(map(ne, fences[1:], fences[:-1]), dtype=bool, count=n - 1)
        change[1:] |= (null[1:] != null[:-1]).any(axis=1)
    return np.flatnonzero(change).tolist()


def _stream_by_runs(
    rec: np.ndarray,
    fixes: FixBatch,
    enriched: Enriched,
    sparse: list[str],
    null: np.ndarray,
    starts: list[int],
    with_fences: bool = True,
) -> bytes:
    """The rows, one numpy record array per run: the fixed part, then the run's kecamatan and
    geofence fields as one constant value, then the optional values (NULL or a float8)."""
    heads = rec.view(np.dtype((np.void, rec.dtype.itemsize)))
    parts = []
    for a, b in zip(starts, [*starts[1:], len(rec)], strict=True):
        tail = _text_field(enriched.kecamatan_codes[a])
        if with_fences:
            tail += _int4_array_field(tuple(enriched.geofence_ids[a]))
        fields = [("head", heads.dtype), ("tail", f"V{len(tail)}")]
        for k, c in enumerate(sparse):
            fields += [(f"{c}_null", ">i4")] if null[a, k] else [(f"{c}_len", ">i4"), (c, ">f8")]
        run = np.empty(b - a, dtype=np.dtype(fields))
        run["head"] = heads[a:b]
        run["tail"] = np.void(tail)
        for k, c in enumerate(sparse):
            if null[a, k]:
                run[f"{c}_null"] = -1  # NULL's length
            else:
                run[f"{c}_len"], run[c] = 8, getattr(fixes, c)[a:b]
        parts.append(run.tobytes())
    return b"".join(parts)


def _stream_by_rows(
    rec: np.ndarray, fixes: FixBatch, enriched: Enriched, sparse: list[str], with_fences: bool = True
) -> bytes:
    """The rows joined one by one: for batches whose variable fields change all the time."""
    n, width = len(rec), rec.dtype.itemsize
    raw = rec.tobytes()
    tails = [[_text_field(k) for k in enriched.kecamatan_codes]]
    if with_fences:
        tails.append([_int4_array_field(tuple(g)) for g in enriched.geofence_ids])
    for c in sparse:
        values = getattr(fixes, c)
        packed = np.empty(n, dtype=[("len", ">i4"), ("v", ">f8")])
        packed["len"], packed["v"] = 8, values
        packed_raw = packed.tobytes()
        tails.append([NULL if v != v else packed_raw[12 * i : 12 * i + 12] for i, v in enumerate(values.tolist())])
    heads = [raw[i * width : (i + 1) * width] for i in range(n)]
    return b"".join(chain.from_iterable(zip(heads, *tails, strict=True)))


def _store(columns: str, payload: bytes, staged: bool, day: date | None = None) -> set[int] | None:
    """COPY the rows into the history. Direct: returns None (every row is new, checked under lock).

    A batch within one UTC `day` goes straight into that day's partition (`ingest` made sure it
    exists): PostgreSQL then skips routing each row through the parent, ~0.3 ms of an upload's
    ~7 ms in the database (measured with /proc's schedstat of the backend). Across midnight, the parent routes.

    Staged (the retry after an unexpected conflict): COPY into a temporary table, then
    INSERT ... ON CONFLICT DO NOTHING RETURNING; returns the device times (µs) actually inserted.
    COPY is psycopg's own cursor method: wrapped here so that its errors come out as Django's (a
    restart mid-COPY is an OperationalError: 503 and a retry, not a 500; a key conflict an
    IntegrityError: the staged retry).
    """
    with connection.cursor() as cur, connection.wrap_database_errors:
        if staged:
            cur.execute(
                "CREATE TEMP TABLE IF NOT EXISTS tracking_ping_staging (LIKE tracking_ping INCLUDING DEFAULTS) "
                "ON COMMIT DELETE ROWS"
            )
            cur.execute("TRUNCATE tracking_ping_staging")
        if staged:
            target = "tracking_ping_staging"
        else:  # a batch within one UTC day (the usual upload) straight into its partition
            target = partitions.table_name(day) if day is not None else "tracking_ping"
        with cur.copy(f"COPY {target} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(payload)
        if not staged:
            return None
        cur.execute(
            f"INSERT INTO tracking_ping ({columns}) SELECT {columns} FROM tracking_ping_staging "
            "ON CONFLICT (device_id, device_time) DO NOTHING RETURNING device_time"
        )
        return {to_us(row[0]) for row in cur.fetchall()}


def _count_drops(device: Device, day: date, reasons: Counter) -> None:
    """Add to the per-day drop counters in one statement (none when nothing was dropped)."""
    if not reasons:
        return
    with prepared.cursor() as cur:
        cur.execute(
            "INSERT INTO tracking_dropcount (day, device_id, reason, count) "
            "SELECT %s, %s, u.reason, u.n FROM unnest(%s::text[], %s::int[]) AS u(reason, n) "
            "ON CONFLICT (day, device_id, reason) DO UPDATE SET count = tracking_dropcount.count + EXCLUDED.count",
            [day, device.pk, list(reasons), list(reasons.values())],
        )


# --- latest position and events ----------------------------------------------------------------------
@dataclass
class Track:
    """The latest position's state that each next fix is compared with (times in µs)."""

    had: bool = False  # a position exists before this fix
    t: int = 0
    kec: str = ""
    gf: tuple[int, ...] = ()
    inside: bool = False
    out_since: int | None = None
    out_count: int = 0
    confirmed: bool = False


Transition = tuple[int, str, dict]  # (position in the walked fixes, event kind, event fields)


def walk(
    track: Track,
    times: list[int],
    kecs: list[str],
    gfs: list[tuple[int, ...]],
    inside: np.ndarray,
    window_us: int,
    exit_pings: int,
    exit_dwell_us: int,
    moved: np.ndarray | None = None,
) -> tuple[Track, list[Transition]]:
    """Move `track` through fixes in time order: the kecamatan/geofence transitions and the state after.

    Equivalent to stepping fix by fix, without visiting most fixes (a phone mostly stays where
    it is): events only come where the kecamatan or the geofence set differs from the fix
    before, found by one C-level comparison of neighbours (or given as `moved` by a caller that
    found them on integers; a kecamatan of None is then read as ""); the exit hysteresis
    (outside_since, outside_count, area_confirmed_out) is reset by every fix inside the area, so
    only the run of fixes outside after the last one inside is stepped through.
    """
    n = len(times)
    kec_seq = [track.kec, *kecs]
    gf_seq = [track.gf, *gfs]
    if moved is None:
        moved = np.fromiter(map(ne, kec_seq[1:], kec_seq[:-1]), dtype=bool, count=n)
        moved |= np.fromiter(map(ne, gf_seq[1:], gf_seq[:-1]), dtype=bool, count=n)
    transitions: list[Transition] = []
    for j in np.flatnonzero(moved).tolist():
        prev_kec, kec = kec_seq[j] or "", kec_seq[j + 1] or ""
        if kec != prev_kec:
            if prev_kec:
                transitions.append((j, EventKind.LEAVE_KECAMATAN, {"kecamatan_code": prev_kec}))
            if kec:
                transitions.append((j, EventKind.ENTER_KECAMATAN, {"kecamatan_code": kec}))
        prev_gf, gf = gf_seq[j], gf_seq[j + 1]
        if gf != prev_gf:
            for gid in sorted(set(prev_gf) - set(gf)):
                transitions.append((j, EventKind.LEAVE_GEOFENCE, {"geofence_id": gid}))
            for gid in sorted(set(gf) - set(prev_gf)):
                transitions.append((j, EventKind.ENTER_GEOFENCE, {"geofence_id": gid}))
    ins = np.flatnonzero(inside)
    last_in = int(ins[-1]) if len(ins) else -1
    if last_in >= 0:
        had, prev_t, prev_in, out_since, out_count, confirmed = True, times[last_in], True, None, 0, False
    else:
        had, prev_t, prev_in = track.had, track.t, track.inside
        out_since, out_count, confirmed = track.out_since, track.out_count, track.confirmed
    for tt in times[last_in + 1 :]:
        fresh = had and tt - prev_t <= window_us
        continuing = fresh and not prev_in and out_since is not None
        if continuing:
            out_count += 1
        else:
            out_since, out_count = tt, 1
        # Hysteresis only on a live track that was inside: a first fix, or one after a
        # silence, has nothing to smooth against and counts at once.
        confirmed = (
            not fresh or (continuing and confirmed) or out_count >= exit_pings or tt - out_since >= exit_dwell_us
        )
        had, prev_t, prev_in = True, tt, False
    final = Track(True, times[-1], kec_seq[-1] or "", gf_seq[-1], last_in == n - 1, out_since, out_count, confirmed)
    return final, transitions


def moves(track: Track, codes: list[str | None], numbered: np.ndarray, fences: list[tuple[int, ...]]) -> np.ndarray:
    """`walk`'s `moved` found on integers: where each fix's kecamatan (`numbered`: equal numbers,
    equal codes) or geofences differ from the fix before, the first fix from `track`. Comparing
    1000 strings and 1000 tuples pairwise cost ~0.1 ms; most batches are in no geofence at all."""
    moved = np.empty(len(codes), dtype=bool)
    if not len(codes):
        return moved
    moved[0] = (codes[0] or "") != track.kec or fences[0] != track.gf
    moved[1:] = numbered[1:] != numbered[:-1]
    if any(fences):
        moved[1:] |= np.fromiter(map(ne, fences[1:], fences[:-1]), dtype=bool, count=len(fences) - 1)
    return moved


LATEST_UPDATE_SQL = """
UPDATE tracking_latestposition SET
    device_id = %(device_id)s, point = ST_SetSRID(ST_MakePoint(%(x)s, %(y)s), 4326), device_time = %(device_time)s,
    received_at = %(received_at)s, accuracy = %(accuracy)s, speed = %(speed)s, heading = %(heading)s,
    battery = %(battery)s, mock = %(mock)s, kecamatan_code = %(kecamatan_code)s,
    geofence_ids = %(geofence_ids)s::int4[], in_area = %(in_area)s, outside_since = %(outside_since)s,
    outside_count = %(outside_count)s, area_confirmed_out = %(area_confirmed_out)s, last_mock_at = %(last_mock_at)s
WHERE supervisor_id = %(supervisor_id)s
"""


def _update_latest(lp: LatestPosition, announce: dict) -> bool:
    """Write every field of the existing row in one UPDATE (what `lp.save()` writes, without the
    ORM's ~1 ms of field preparation and SQL compiling; the model has no save signals), and queue
    its announcement in the same round trip (`relay.send_if`). False when there is no row to update
    (nothing announced)."""
    params = {
        "supervisor_id": lp.supervisor_id,
        "device_id": lp.device_id,
        "x": lp.point.x,
        "y": lp.point.y,
        **{name: getattr(lp, name) for name in LATEST_WRITTEN},
        "geofence_ids": list(lp.geofence_ids),
    }
    return relay.send_if(LATEST_UPDATE_SQL + "RETURNING supervisor_id", params, **announce)


LATEST_WRITTEN = (
    "device_time", "received_at", "accuracy", "speed", "heading", "battery", "mock", "kecamatan_code", "in_area",
    "outside_since", "outside_count", "area_confirmed_out", "last_mock_at",
)  # fmt: skip


def _advance_latest(
    locked: _Locked, device: Device, new: FixBatch, enriched: Enriched, received_at: datetime
) -> LatestPosition | None:
    """Move the latest position forward through the newly stored fixes, in time order, with events.

    `walk` over plain lists; model objects only for the events and the final row, written
    with one UPDATE (or INSERT) and one bulk insert. Returns the position (None before any).
    """
    lp = locked.latest
    sid = locked.supervisor_id
    t = new.time_us
    newer = t > to_us(lp.device_time) if lp is not None else np.ones(len(new), dtype=bool)
    newest_mock = int(t[newer & new.mock].max()) if (newer & new.mock).any() else None
    real = np.nonzero(newer & ~new.mock)[0]
    if newest_mock is not None and lp is not None:
        mock_at = from_us(newest_mock)
        lp.last_mock_at = max(mock_at, lp.last_mock_at) if lp.last_mock_at else mock_at
    if not len(real):
        if lp is not None and newest_mock is not None:
            LatestPosition.objects.filter(pk=sid).update(last_mock_at=lp.last_mock_at)
        return lp
    previous_time = lp.device_time if lp is not None else None
    track = Track()
    if lp is not None:
        track = Track(
            had=True,
            t=to_us(lp.device_time),
            kec=lp.kecamatan_code or "",
            gf=tuple(sorted(lp.geofence_ids or [])),
            inside=lp.in_area,
            out_since=to_us(lp.outside_since) if lp.outside_since else None,
            out_count=lp.outside_count,
            confirmed=lp.area_confirmed_out,
        )
    idx = real.tolist()
    codes, fences, numbered = enriched.kecamatan_codes, enriched.geofence_ids, enriched.kecamatan_index
    moved = None
    if len(idx) == len(codes) and numbered is not None:  # the usual fresh upload: changes found on integers
        kecs, gfs = codes, fences
        inside = np.asarray(enriched.in_area, dtype=bool)
        moved = moves(track, codes, numbered, fences)
    else:  # some stored fixes are older than the position (or the kecamatan are not numbered)
        kecs = [codes[i] or "" for i in idx]
        gfs = [tuple(fences[i]) for i in idx]
        inside = np.asarray(enriched.in_area, dtype=bool)[real]
    final, transitions = walk(
        track,
        t[real].tolist(),
        kecs,
        gfs,
        inside,
        window_us=ts.presence_window_s() * 1_000_000,
        exit_pings=ts.area_exit_pings(),
        exit_dwell_us=ts.area_exit_dwell_s() * 1_000_000,
        moved=moved,
    )
    last = int(real[-1])
    if lp is None:
        lp = LatestPosition(supervisor_id=sid, last_mock_at=from_us(newest_mock) if newest_mock is not None else None)
    lp.device_id = device.pk
    lp.point = Point(float(new.lon[last]), float(new.lat[last]), srid=4326)
    lp.device_time = from_us(t[last])
    lp.received_at = received_at
    lp.accuracy, lp.speed, lp.heading, lp.battery = (
        None if np.isnan(v) else float(v)
        for v in (new.accuracy[last], new.speed[last], new.heading[last], new.battery[last])
    )
    lp.mock = False
    lp.kecamatan_code = final.kec
    lp.geofence_ids = list(final.gf)
    lp.in_area = final.inside
    lp.outside_since = from_us(final.out_since) if final.out_since is not None else None
    lp.outside_count = final.out_count
    lp.area_confirmed_out = final.confirmed
    position = lp
    announce = {
        "name": POSITION,
        "key": sid,
        "data": {"previous_time": previous_time.isoformat() if previous_time else None},
        "inline": lambda: send_logged(
            position_updated, LatestPosition, supervisor_id=sid, position=position, previous_time=previous_time
        ),
    }
    if previous_time is None or not _update_latest(lp, announce):
        lp.save(force_insert=previous_time is None)  # gone meanwhile: Django's save inserts it again
        relay.send(**announce)
    fences = {extra["geofence_id"] for _j, _kind, extra in transitions if "geofence_id" in extra}
    if fences:  # a geofence deleted in another process may linger in this one's index for a while
        alive = set(Geofence.objects.filter(pk__in=fences).values_list("pk", flat=True))
        if alive != fences:
            geofence_index.invalidate()
            transitions = [
                (j, kind, extra)
                for j, kind, extra in transitions
                if "geofence_id" not in extra or extra["geofence_id"] in alive
            ]
    if transitions:
        _insert_events(sid, [(idx[j], kind, extra) for j, kind, extra in transitions], new, received_at)
    return lp


EVENTS_SQL = """
INSERT INTO tracking_trackingevent
    (supervisor_id, kind, time, point, kecamatan_code, geofence_id, old_state, new_state, reason, created_at)
SELECT %(supervisor)s, u.kind, timestamptz 'epoch' + u.us * interval '1 microsecond',
       ST_SetSRID(ST_MakePoint(u.x, u.y), 4326), u.kecamatan, u.geofence, '', '', '', %(created)s
FROM unnest(%(kinds)s::text[], %(us)s::int8[], %(xs)s::float8[], %(ys)s::float8[], %(kecamatan)s::text[],
            %(geofence)s::int8[]) AS u(kind, us, x, y, kecamatan, geofence)
"""


def _insert_events(supervisor_id: int, events: list[tuple[int, str, dict]], fixes: FixBatch, created: datetime) -> None:
    """The kecamatan/geofence events (fix index, kind, fields) in one prepared statement: what
    `bulk_create` wrote, without a model instance and a GEOS point per event (~0.3 ms per upload
    that crosses a border)."""
    at = [i for i, _kind, _extra in events]
    with prepared.cursor() as cur:
        cur.execute(
            EVENTS_SQL,
            {
                "supervisor": supervisor_id,
                "created": created,
                "kinds": [str(kind) for _i, kind, _extra in events],
                "us": fixes.time_us[at].tolist(),
                "xs": fixes.lon[at].tolist(),
                "ys": fixes.lat[at].tolist(),
                "kecamatan": [extra.get("kecamatan_code", "") for _i, _kind, extra in events],
                "geofence": [extra.get("geofence_id") for _i, _kind, extra in events],
            },
        )


def _judge_presence(locked: _Locked, latest: LatestPosition | None, at: datetime) -> None:
    """Presence from the state read under the lock: no query unless it changed."""
    day = presence.wib_date(at)
    windows = presence.windows_from(locked.weekly, locked.overrides, day - timedelta(days=1), day)
    judged = presence.evaluate(locked.supervisor_id, latest, presence.shift_at(windows, at), at)
    presence.record(judged, current=locked.presence_state, latest=latest)


# --- the pipeline ------------------------------------------------------------------------------------
@dataclass
class _Written:
    speed_dropped: list[Problem] = field(default_factory=list)
    stored: list[int] = field(default_factory=list)
    mock: list[int] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)


def _write(device: Device, fixes: FixBatch, result: IngestResult, source: str, now: datetime, staged: bool) -> _Written:
    """Everything after the per-fix filters, in one transaction under the supervisor's lock."""
    locked = _lock(device, now)
    out = _Written()
    new = fixes
    enriched = Enriched([], [], [])
    if len(fixes):
        speed = ts.filter_speed()
        known = None if staged else _history_from_latest(locked, device, fixes, want_previous=speed)
        prev, stored_before = known or _history_around(device, fixes, want_previous=speed)
        if speed:
            drop = _speed_drops(fixes, prev)
            if drop.any():
                out.speed_dropped = [Problem(i, SPEED) for i in fixes.index[drop].tolist()]
                fixes = fixes.take(~drop)
        seen = np.isin(fixes.time_us, stored_before)
        out.duplicates = fixes.index[seen].tolist()
        new = fixes.take(~seen)
        if len(new):
            enriched = enrich(new.lon, new.lat, new.accuracy, locked.area)
            columns, payload = _copy_payload(device, locked.supervisor_id, new, enriched, source, now)
            first, last = _utc_day(new.time_us[0]), _utc_day(new.time_us[-1])  # sorted by time
            day = first if first == last else None
            inserted = _store(columns, payload, staged, day)
            if inserted is not None and len(inserted) < len(new):  # staged: conflicts are duplicates
                got = np.isin(new.time_us, np.fromiter(inserted, dtype=np.int64, count=len(inserted)))
                out.duplicates += new.index[~got].tolist()
                enriched = enriched.take(got)
                new = new.take(got)
        out.stored = new.index.tolist()
        out.mock = new.index[new.mock].tolist()
    reasons = Counter(p.reason for p in result.dropped + out.speed_dropped)
    n_duplicates = len(result.duplicates) + len(out.duplicates)
    if n_duplicates:
        reasons[DUPLICATE] += n_duplicates
    _count_drops(device, timezone.localdate(now), reasons)
    latest = _advance_latest(locked, device, new, enriched, now) if len(new) else locked.latest
    _judge_presence(locked, latest, now)
    return out


def ingest(
    device: Device, items: FixBatch | list[Fix | Problem], source: str, received_at: datetime | None = None
) -> IngestResult:
    """Filter, enrich and store decoded fixes of one device; update position, events and presence."""
    now = received_at or timezone.now()
    batch = items if isinstance(items, FixBatch) else FixBatch.from_items(items)
    result = IngestResult(rejected=list(batch.problems))
    fixes = _basic_filters(batch, FilterConfig.load(now), result)
    if len(fixes):  # DDL outside the batch's transaction
        first, last = _utc_day(fixes.time_us[0]), _utc_day(fixes.time_us[-1])  # sorted by time
        days = {first} if first == last else {_utc_day(us) for us in np.unique(fixes.time_us // DAY_US) * DAY_US}
        partitions.ensure_days(days)
    try:
        with transaction.atomic():
            out = _write(device, fixes, result, source, now, staged=False)
    except IntegrityError:
        # Someone wrote one of these keys without the lock: store through ON CONFLICT instead.
        log.warning("device %s: conflict on direct COPY; retrying through the staging table", device.device_id)
        with transaction.atomic():
            out = _write(device, fixes, result, source, now, staged=True)
    result.dropped.extend(out.speed_dropped)
    result.stored = out.stored
    result.mock = out.mock
    result.duplicates.extend(out.duplicates)
    if result.dropped or result.rejected:
        log.info(
            "device %s: %s",
            device.device_id,
            ", ".join(f"#{p.index} {p.reason}" for p in sorted(result.dropped + result.rejected)[:20]),
        )
    return result
