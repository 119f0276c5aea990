"""The latest-position walk (events and exit hysteresis) gives exactly what stepping through
every fix gives, on constructed batches full of transitions, gaps and exits."""

from __future__ import annotations

import random

import numpy as np
import pytest

from tracking.models import EventKind
from tracking.pipeline import Track, moves, walk

WINDOW_US, EXIT_PINGS, EXIT_DWELL_US = 300_000_000, 3, 120_000_000


def step_by_step(track: Track, times, kecs, gfs, inside):
    """The fix-by-fix loop the pipeline used before `walk` (the reference)."""
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
