"""The one ingestion pipeline for every protocol: decode -> filter -> enrich -> store -> events.

Views decode (protocols.py) and authenticate, then call `ingest(device, items, source)`; the
simulator, the benchmarks and tests reach the same path through HTTP. Each stage drops a fix
with a reason; reasons are counted per day and device (`DropCount`) and returned to the caller
by the fix's index in the request.

Order matters: a batch may come in any order (a phone uploading what it buffered offline), so
fixes are sorted by device time before the speed filter and the latest-position walk. History
takes every accepted fix; the latest position only moves forward.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from django.contrib.gis.geos import Point
from django.db import connection, transaction
from django.utils import timezone

from . import partitions, presence
from . import settings as ts
from .areas import assigned_area, enrich, to_metric
from .models import Device, EventKind, LatestPosition, Supervisor, TrackingEvent
from .protocols import Fix, Problem
from .signals import position_updated

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


def _basic_filters(fix: Fix, cfg: FilterConfig) -> str | None:
    """The per-fix predicates, in Traccar's order; each switched by a setting."""
    if cfg.invalid and not (-90 <= fix.lat <= 90 and -180 <= fix.lon <= 180):
        return INVALID
    if cfg.zero and fix.lat == 0 and fix.lon == 0:
        return ZERO
    if cfg.future_after is not None and fix.time > cfg.future_after:
        return FUTURE
    if fix.time < cfg.oldest:  # always: there is no partition to hold it
        return TOO_OLD
    if cfg.max_accuracy is not None and fix.accuracy is not None and fix.accuracy > cfg.max_accuracy:
        return ACCURACY
    return None


def _previous_fix(device: Device, before: datetime) -> tuple[datetime, float, float] | None:
    """The newest stored, non-mock fix of this device before `before` (one indexed query)."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT device_time, ST_X(point), ST_Y(point) FROM tracking_ping "
            "WHERE device_id = %s AND device_time < %s AND device_time >= %s AND NOT mock "
            "ORDER BY device_time DESC LIMIT 1",
            [device.pk, before, before - timedelta(days=1)],
        )
        row = cur.fetchone()
    return row


def _speed_filter(device: Device, fixes: list[Fix]) -> list[Problem]:
    """Drop fixes that imply moving faster than TRACKING_MAX_SPEED_KMH from the previous accepted one.

    Walks in device time from the stored fix just before the batch; mock fixes are neither
    judged nor used as the previous fix (they are flagged anyway).
    """
    real = [f for f in fixes if not f.mock]
    if not ts.filter_speed() or not real:
        return []
    prev = _previous_fix(device, real[0].time)
    times = [p[0] for p in ([prev] if prev else [])] + [f.time for f in real]
    lons = ([prev[1]] if prev else []) + [f.lon for f in real]
    lats = ([prev[2]] if prev else []) + [f.lat for f in real]
    xs, ys = to_metric(np.array(lons), np.array(lats))
    offset = 1 if prev else 0
    limit = ts.max_speed_kmh() / 3.6
    dropped: list[Problem] = []
    last = 0 if prev else None  # index into times/xs of the previous accepted fix
    for j, fix in enumerate(real):
        k = j + offset
        if last is not None:
            dt = (times[k] - times[last]).total_seconds()
            if dt > 0:
                metres = float(np.hypot(xs[k] - xs[last], ys[k] - ys[last]))
                if metres / dt > limit:
                    dropped.append(Problem(fix.index, SPEED))
                    continue
        last = k
    return dropped


# --- store ------------------------------------------------------------------------------------------
INSERT_SQL = """
INSERT INTO tracking_ping (device_id, supervisor_id, device_time, received_at, point, accuracy, speed,
                           heading, altitude, battery, mock, in_area, kecamatan_code, geofence_ids, source)
SELECT %s, %s, u.t, %s, ST_SetSRID(ST_MakePoint(u.x, u.y), 4326), u.acc, u.spd, u.hdg, u.alt, u.bat,
       u.mck, u.ina, u.kec, u.gf::integer[], %s
FROM unnest(%s::timestamptz[], %s::float8[], %s::float8[], %s::float8[], %s::float8[], %s::float8[],
            %s::float8[], %s::float8[], %s::boolean[], %s::boolean[], %s::text[], %s::text[])
     AS u(t, x, y, acc, spd, hdg, alt, bat, mck, ina, kec, gf)
ON CONFLICT (device_id, device_time) DO NOTHING
RETURNING device_time
"""


def _store(device: Device, fixes: list[Fix], source: str, received_at: datetime) -> set[datetime]:
    """Bulk insert in one statement; returns the device times actually inserted (new ones)."""
    if not fixes:
        return set()
    with connection.cursor() as cur:
        cur.execute(
            INSERT_SQL,
            [
                device.pk,
                device.supervisor_id,
                received_at,
                source,
                [f.time for f in fixes],
                [f.lon for f in fixes],
                [f.lat for f in fixes],
                [f.accuracy for f in fixes],
                [f.speed for f in fixes],
                [f.heading for f in fixes],
                [f.altitude for f in fixes],
                [f.battery for f in fixes],
                [f.mock for f in fixes],
                [f.in_area for f in fixes],
                [f.kecamatan_code for f in fixes],
                ["{" + ",".join(map(str, f.geofence_ids)) + "}" for f in fixes],
            ],
        )
        return {row[0] for row in cur.fetchall()}


def _count_drops(device: Device, day, reasons: Counter) -> None:
    if not reasons:
        return
    with connection.cursor() as cur:
        for reason, n in reasons.items():
            cur.execute(
                "INSERT INTO tracking_dropcount (day, device_id, reason, count) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (day, device_id, reason) DO UPDATE SET count = tracking_dropcount.count + EXCLUDED.count",
                [day, device.pk, reason, n],
            )


# --- events --------------------------------------------------------------------------------------------
def _advance_latest(supervisor: Supervisor, device: Device, fixes: list[Fix], received_at: datetime) -> None:
    """Move the latest position forward through the newly stored fixes, in time order, with events."""
    # Lock the supervisor row (it always exists) so concurrent batches of one supervisor queue up,
    # including the very first, when there is no LatestPosition row to lock yet.
    list(Supervisor.objects.select_for_update().filter(pk=supervisor.pk).values_list("pk", flat=True))
    lp = LatestPosition.objects.filter(pk=supervisor.pk).first()
    previous_time = lp.device_time if lp else None
    newer_mock = [f.time for f in fixes if f.mock and (lp is None or f.time > lp.device_time)]
    real = [f for f in fixes if not f.mock and (lp is None or f.time > lp.device_time)]
    if lp is not None and newer_mock:
        lp.last_mock_at = max(newer_mock + ([lp.last_mock_at] if lp.last_mock_at else []))
    if not real:
        if lp is not None and newer_mock:
            lp.save(update_fields=["last_mock_at"])
        return
    window = ts.presence_window_s()
    exit_pings, exit_dwell = ts.area_exit_pings(), ts.area_exit_dwell_s()
    events: list[TrackingEvent] = []
    for f in real:
        had_track = lp is not None
        fresh = had_track and (f.time - lp.device_time).total_seconds() <= window
        prev_kec = lp.kecamatan_code if had_track else ""
        prev_gf = set(lp.geofence_ids) if had_track else set()
        kec = f.kecamatan_code or ""
        if kec != prev_kec:
            if prev_kec:
                events.append(_event(supervisor, EventKind.LEAVE_KECAMATAN, f, kecamatan_code=prev_kec))
            if kec:
                events.append(_event(supervisor, EventKind.ENTER_KECAMATAN, f, kecamatan_code=kec))
        now_gf = set(f.geofence_ids)
        for gid in sorted(prev_gf - now_gf):
            events.append(_event(supervisor, EventKind.LEAVE_GEOFENCE, f, geofence_id=gid))
        for gid in sorted(now_gf - prev_gf):
            events.append(_event(supervisor, EventKind.ENTER_GEOFENCE, f, geofence_id=gid))
        if not had_track:
            lp = LatestPosition(supervisor=supervisor)
        if f.in_area:
            lp.outside_since, lp.outside_count, lp.area_confirmed_out = None, 0, False
        else:
            continuing = fresh and not lp.in_area and lp.outside_since is not None
            if continuing:
                lp.outside_count += 1
            else:
                lp.outside_since, lp.outside_count = f.time, 1
            # Hysteresis only on a live track that was inside: a first fix, or one after a
            # silence, has nothing to smooth against and counts at once.
            lp.area_confirmed_out = (
                not fresh
                or (continuing and lp.area_confirmed_out)
                or lp.outside_count >= exit_pings
                or (f.time - lp.outside_since).total_seconds() >= exit_dwell
            )
        lp.device = device
        lp.device_time = f.time
        lp.received_at = received_at
        lp.accuracy, lp.speed, lp.heading, lp.battery = f.accuracy, f.speed, f.heading, f.battery
        lp.mock = False
        lp.kecamatan_code = kec
        lp.geofence_ids = sorted(now_gf)
        lp.in_area = f.in_area
    lp.point = Point(real[-1].lon, real[-1].lat, srid=4326)  # one GEOS object, not one per fix
    if newer_mock:
        lp.last_mock_at = max(newer_mock)
    lp.save()
    TrackingEvent.objects.bulk_create(events)
    position = lp
    transaction.on_commit(
        lambda: position_updated.send(
            sender=LatestPosition, supervisor_id=supervisor.pk, position=position, previous_time=previous_time
        )
    )


def _event(supervisor: Supervisor, kind: str, fix: Fix, **extra) -> TrackingEvent:
    point = Point(fix.lon, fix.lat, srid=4326)
    return TrackingEvent(supervisor=supervisor, kind=kind, time=fix.time, point=point, **extra)


# --- the pipeline ------------------------------------------------------------------------------------
def ingest(
    device: Device, items: list[Fix | Problem], source: str, received_at: datetime | None = None
) -> IngestResult:
    """Filter, enrich and store decoded fixes of one device; update position, events and presence."""
    now = received_at or timezone.now()
    result = IngestResult()
    fixes: list[Fix] = []
    for item in items:
        (result.rejected if isinstance(item, Problem) else fixes).append(item)
    cfg = FilterConfig.load(now)
    kept: list[Fix] = []
    for fix in fixes:
        reason = _basic_filters(fix, cfg)
        if reason:
            result.dropped.append(Problem(fix.index, reason))
        else:
            if not cfg.keep_mock_flag:
                fix.mock = False
            kept.append(fix)
    kept.sort(key=lambda f: (f.time, f.index))
    unique: list[Fix] = []
    for fix in kept:  # twice in one batch: the first is stored, the rest are duplicates
        if unique and unique[-1].time == fix.time:
            result.duplicates.append(fix.index)
        else:
            unique.append(fix)
    if unique:
        partitions.ensure_days({partitions.utc_day(f.time) for f in unique})  # DDL outside the batch's transaction
    supervisor = device.supervisor
    with transaction.atomic():
        speed_dropped = _speed_filter(device, unique)
        if speed_dropped:
            gone = {p.index for p in speed_dropped}
            result.dropped.extend(speed_dropped)
            unique = [f for f in unique if f.index not in gone]
        if unique:
            area = assigned_area(supervisor)
            enriched = enrich([f.lon for f in unique], [f.lat for f in unique], [f.accuracy for f in unique], area)
            for f, kec, gf, inside in zip(
                unique, enriched.kecamatan_codes, enriched.geofence_ids, enriched.in_area, strict=True
            ):
                f.kecamatan_code, f.geofence_ids, f.in_area = kec, tuple(gf), inside
        inserted = _store(device, unique, source, now)
        new = [f for f in unique if f.time in inserted]
        result.stored = [f.index for f in new]
        result.mock = [f.index for f in new if f.mock]
        result.duplicates.extend(f.index for f in unique if f.time not in inserted)
        reasons = Counter(p.reason for p in result.dropped)
        reasons.update({DUPLICATE: len(result.duplicates)} if result.duplicates else {})
        _count_drops(device, timezone.localdate(now), reasons)
        if new:
            _advance_latest(supervisor, device, new, now)
        Device.objects.filter(pk=device.pk).update(last_seen_at=now)
        _judge_presence(supervisor, now)
    if result.dropped or result.rejected:
        log.info(
            "device %s: %s",
            device.device_id,
            ", ".join(f"#{p.index} {p.reason}" for p in sorted(result.dropped + result.rejected)[:20]),
        )
    return result


def _judge_presence(supervisor: Supervisor, at: datetime) -> None:
    lp = LatestPosition.objects.filter(pk=supervisor.pk).first()
    day = presence.wib_date(at)
    windows = presence.shift_windows([supervisor.pk], day - timedelta(days=1), day)[supervisor.pk]
    presence.record(presence.evaluate(supervisor.pk, lp, presence.shift_at(windows, at), at))
