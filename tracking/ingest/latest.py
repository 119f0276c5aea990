"""The latest position walked forward through the newly stored fixes, in device time, with events.

`LatestPosition` only moves forward: a late upload of buffered fixes goes into the history (and
attendance) but never drags the live map back, and mock fixes never move it (`last_mock_at`
keeps the newest). The walk finds the kecamatan/geofence transitions (events.py writes them)
and the exit hysteresis (outside_since, outside_count, area_confirmed_out; the rule is duty.py's)
over plain lists and integers, without a model object per fix; the final row is written with
one UPDATE that also queues its announcement (`relay.send_if`), or an INSERT for a first fix.
`position_updated` goes out once per batch, after commit, with the final position.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from operator import ne

import numpy as np
from django.contrib.gis.geos import Point

from core import relay
from core.signals import send_logged

from .. import settings as ts
from ..areas import Enriched
from ..fixes import FixBatch, from_us, to_us
from ..models import Device, EventKind, LatestPosition
from ..signals import POSITION, position_updated
from .upload import Event, Locked, Upload


def advance(upload: Upload) -> None:
    """The position after this upload (the one read under the lock when nothing new was stored)."""
    upload.latest = upload.locked.latest
    if len(upload.fixes):
        upload.latest, upload.events = _advance(
            upload.locked, upload.device, upload.fixes, upload.enriched, upload.received_at
        )


def _advance(
    locked: Locked, device: Device, new: FixBatch, enriched: Enriched, received_at: datetime
) -> tuple[LatestPosition | None, list[Event]]:
    """(the position, None before any; the events, by row of `new`).

    `walk` over plain lists; a model object only for the final row, written with one UPDATE
    (or INSERT).
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
        return lp, []
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
    if previous_time is None or not update_latest(lp, announce):
        lp.save(force_insert=previous_time is None)  # gone meanwhile: Django's save inserts it again
        relay.send(**announce)
    return lp, [(idx[j], kind, extra) for j, kind, extra in transitions]


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


def update_latest(lp: LatestPosition, announce: dict) -> bool:
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
