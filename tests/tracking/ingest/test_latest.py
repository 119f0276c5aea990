"""The latest position only moves forward; the walk (events and exit hysteresis) gives exactly what
stepping through every fix gives; its UPDATE writes every field as `save` would."""

import random
from datetime import timedelta

import numpy as np
import pytest
from django.contrib.gis.geos import Point
from django.test import override_settings

from tests.tracking.conftest import (
    CIPONDOH,
    TANGERANG,
    make_supervisor,
    native,
    pings,
)
from tracking.ingest import latest
from tracking.ingest.latest import Track, moves, walk
from tracking.models import DropCount, EventKind, LatestPosition, Ping, Supervisor, TrackingEvent
from tracking.signals import position_updated


def test_batch_any_order_late_ping_never_moves_latest_back(client, supervisor, t0):
    seen = []
    position_updated.connect(lambda **kw: seen.append(kw["position"].device_time), weak=False, dispatch_uid="t-ing")
    try:
        pings = [
            {"time": (t0 + timedelta(seconds=s)).isoformat(), "lat": CIPONDOH[1], "lon": CIPONDOH[0], "accuracy": 10}
            for s in (60, 0, 30, 90)
        ]
        r = native(supervisor, {"pings": pings})
        assert r.status_code == 200 and r.json()["stored"] == 4
        assert LatestPosition.objects.get().device_time == t0 + timedelta(seconds=90)
        # A late upload of an older buffered ping: stored in history, latest stays.
        late = {"time": (t0 - timedelta(minutes=5)).isoformat(), "lat": TANGERANG[1], "lon": TANGERANG[0]}
        r = native(supervisor, late)
        assert r.status_code == 200 and r.json()["stored"] == 1
        assert LatestPosition.objects.get().device_time == t0 + timedelta(seconds=90)
        assert LatestPosition.objects.get().kecamatan_code == "36.71.05"
        # Resent batch: accepted, stored once.
        r = native(supervisor, {"pings": pings})
        assert r.status_code == 200 and r.json()["duplicates"] == 4 and r.json()["stored"] == 0
        assert Ping.objects.count() == 5
        assert DropCount.objects.get(reason="duplicate").count == 4
    finally:
        position_updated.disconnect(dispatch_uid="t-ing")


def test_leaving_area_takes_two_fixes_and_events_are_recorded(client, city, t0):
    from tracking import presence

    sup = make_supervisor(kecamatan=("36.71.05",))

    def p(s, where):
        return {
            "time": (t0 + timedelta(seconds=s)).isoformat(),
            "lat": where[1],
            "lon": where[0],
            "accuracy": 5,
        }

    # 4.7 km between the two centroids: 2 minutes apart keeps it under the speed limit
    assert native(sup, {"pings": [p(0, CIPONDOH), p(120, TANGERANG)]}).status_code == 200
    lp = LatestPosition.objects.get()
    assert not lp.in_area and lp.outside_count == 1 and not lp.area_confirmed_out
    s = Supervisor.objects.select_related("latest_position").get(pk=sup.pk)
    assert presence.presence_for([s], t0 + timedelta(seconds=130))[sup.pk].state == "on_duty"
    assert native(sup, {"pings": [p(150, TANGERANG)]}).status_code == 200
    lp.refresh_from_db()
    assert lp.area_confirmed_out and lp.outside_count == 2
    s = Supervisor.objects.select_related("latest_position").get(pk=sup.pk)
    assert presence.presence_for([s], t0 + timedelta(seconds=160))[sup.pk].state == "out_of_area"
    kinds = list(
        TrackingEvent.objects.filter(supervisor=sup)
        .exclude(kind="presence")
        .order_by("time", "id")
        .values_list("kind", "kecamatan_code")
    )
    assert kinds == [("enter_kecamatan", "36.71.05"), ("leave_kecamatan", "36.71.05"), ("enter_kecamatan", "36.71.01")]
    # back inside: one fix is enough
    assert native(sup, {"pings": [p(300, CIPONDOH)]}).status_code == 200
    lp.refresh_from_db()
    assert lp.in_area and not lp.area_confirmed_out


@override_settings(GEOAPP_RELAY="worker")
def test_the_latest_position_update_writes_every_field_as_save_would(city, t0):
    """...and queues the position's announcement for the worker in the same statement, only when
    it changed a row."""

    from core.models import PendingSignal
    from tracking.models import LatestPosition
    from tracking.signals import POSITION

    columns = {f.column for f in LatestPosition._meta.concrete_fields} - {"supervisor_id"}
    assert all(f"{c} = " in latest.LATEST_UPDATE_SQL for c in columns)  # a new field must be written too
    sup = make_supervisor()
    assert native(sup, {"pings": pings(t0, 2)}).status_code == 200
    PendingSignal.objects.all().delete()
    announce = {"name": POSITION, "key": sup.pk, "data": {"n": 1}, "inline": lambda: None}
    for fences, accuracy in (([3, 17], None), ([], 4.5)):
        lp = LatestPosition.objects.get(pk=sup.pk)
        lp.point = Point(106.61, -6.170001, srid=4326)
        lp.device_time, lp.received_at = t0 + timedelta(hours=1), t0 + timedelta(hours=2)
        lp.accuracy, lp.speed, lp.heading, lp.battery, lp.mock = accuracy, 1.5, None, 80.0, False
        lp.kecamatan_code, lp.geofence_ids, lp.in_area = "", fences, False
        lp.outside_since, lp.outside_count, lp.area_confirmed_out, lp.last_mock_at = t0, 4, True, t0
        assert latest.update_latest(lp, announce)
        got = LatestPosition.objects.get(pk=sup.pk)
        for f in LatestPosition._meta.concrete_fields:
            if f.name == "point":
                assert (got.point.coords, got.point.srid) == (lp.point.coords, 4326)
            else:
                assert getattr(got, f.attname) == getattr(lp, f.attname), f.name
    queued = list(PendingSignal.objects.values_list("topic", "key", "data"))
    assert queued == [(POSITION, str(sup.pk), {"n": 1})] * 2
    LatestPosition.objects.filter(pk=sup.pk).delete()
    assert not latest.update_latest(lp, announce)
    assert PendingSignal.objects.count() == 2  # nothing changed: nothing announced


WINDOW_US, EXIT_PINGS, EXIT_DWELL_US = 300_000_000, 3, 120_000_000


def step_by_step(track: Track, times, kecs, gfs, inside):
    """Stepping through every fix, one by one: the reference `walk` must equal."""
    had, prev_t, prev_kec, prev_gf, prev_in = track.had, track.t, track.kec, track.gf, track.inside
    out_since, out_count, confirmed = track.out_since, track.out_count, track.confirmed
    events = []
    for j, tt in enumerate(times):
        fresh = had and tt - prev_t <= WINDOW_US
        kec = kecs[j]
        if kec != prev_kec:
            if prev_kec:
                events.append((j, EventKind.LEAVE_KECAMATAN, {"kecamatan_code": prev_kec}))
            if kec:
                events.append((j, EventKind.ENTER_KECAMATAN, {"kecamatan_code": kec}))
        gf = gfs[j]
        if gf != prev_gf:
            for gid in sorted(set(prev_gf) - set(gf)):
                events.append((j, EventKind.LEAVE_GEOFENCE, {"geofence_id": gid}))
            for gid in sorted(set(gf) - set(prev_gf)):
                events.append((j, EventKind.ENTER_GEOFENCE, {"geofence_id": gid}))
        ins = bool(inside[j])
        if ins:
            out_since, out_count, confirmed = None, 0, False
        else:
            continuing = fresh and not prev_in and out_since is not None
            if continuing:
                out_count += 1
            else:
                out_since, out_count = tt, 1
            confirmed = (
                not fresh or (continuing and confirmed) or out_count >= EXIT_PINGS or tt - out_since >= EXIT_DWELL_US
            )
        had, prev_t, prev_kec, prev_gf, prev_in = True, tt, kec, gf, ins
    return Track(had, prev_t, prev_kec, prev_gf, prev_in, out_since, out_count, confirmed), events


def batch(rng: random.Random, n: int, change: float, out: float):
    """n fixes in time order; each fix changes kecamatan/geofences with probability `change` and is
    outside with probability `out` (in runs), with an occasional silence longer than the window."""
    t = rng.randrange(10**15, 2 * 10**15)
    times, kecs, gfs, inside = [], [], [], []
    kec, gf, ins = rng.choice(["", "36.71.05"]), (), True
    for _ in range(n):
        t += rng.choice([10_000_000] * 8 + [60_000_000, 400_000_000])
        if rng.random() < change:
            kec = rng.choice(["", "36.71.01", "36.71.05", "36.71.07"])
        if rng.random() < change:
            gf = tuple(sorted(rng.sample([3, 5, 8], rng.randrange(0, 3))))
        if rng.random() < out:
            ins = not ins
        times.append(t)
        kecs.append(kec)
        gfs.append(gf)
        inside.append(ins)
    return times, kecs, gfs, np.array(inside, dtype=bool)


def starts(rng: random.Random, first_t: int):
    yield Track()
    for _ in range(3):
        out = rng.random() < 0.5
        yield Track(
            had=True,
            t=first_t - rng.choice([10_000_000, 1_000_000_000]),
            kec=rng.choice(["", "36.71.05"]),
            gf=rng.choice([(), (5,), (3, 8)]),
            inside=not out,
            out_since=first_t - 50_000_000 if out else None,
            out_count=rng.randrange(1, 4) if out else 0,
            confirmed=out and rng.random() < 0.5,
        )


@pytest.mark.parametrize(
    "n,change,out",
    [
        (1, 0.5, 0.5),
        (5, 0.5, 0.5),
        (50, 0.2, 0.2),
        (300, 0.01, 0.01),
        (300, 0.0, 0.0),
        (200, 0.0, 0.6),
        (100, 0.9, 0.9),
    ],
)
def test_walk_equals_stepping_through_every_fix(n, change, out):
    rng = random.Random(n * 1000 + int(change * 100) + int(out * 10))
    for _ in range(40):
        times, kecs, gfs, inside = batch(rng, n, change, out)
        for track in starts(rng, times[0]):
            got = walk(track, times, kecs, gfs, inside, WINDOW_US, EXIT_PINGS, EXIT_DWELL_US)
            assert got == step_by_step(track, times, kecs, gfs, inside)


@pytest.mark.parametrize("n,change,out", [(1, 0.5, 0.5), (50, 0.2, 0.2), (300, 0.01, 0.01), (100, 0.9, 0.9)])
def test_changes_found_on_integers_walk_the_same(n, change, out):
    """The pipeline's usual upload gives `walk` the changes found on kecamatan numbers (`moves`)
    and the codes as enrich names them (None outside every kecamatan): the same events and state."""
    rng = random.Random(n * 7 + int(change * 100))
    number = {"": -1, "36.71.01": 0, "36.71.05": 4, "36.71.07": 6}
    for _ in range(40):
        times, kecs, gfs, inside = batch(rng, n, change, out)
        codes = [k or None for k in kecs]
        numbered = np.array([number[k] for k in kecs])
        for track in starts(rng, times[0]):
            moved = moves(track, codes, numbered, gfs)
            got = walk(track, times, codes, gfs, inside, WINDOW_US, EXIT_PINGS, EXIT_DWELL_US, moved=moved)
            assert got == step_by_step(track, times, kecs, gfs, inside)


def test_a_batch_that_stays_put_visits_no_fix_for_events():
    track = Track(True, 0, "36.71.05", (5,), True)
    times = list(range(10, 10_010, 10))
    final, events = walk(
        track, times, ["36.71.05"] * 1000, [(5,)] * 1000, np.ones(1000, dtype=bool), WINDOW_US, 3, EXIT_DWELL_US
    )
    assert events == [] and final == Track(True, times[-1], "36.71.05", (5,), True, None, 0, False)
