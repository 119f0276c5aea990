"""The filters, each switched by its setting: per-fix predicates, time order and duplicates in the
batch, the speed filter against the rule in metres."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from django.test import override_settings
from django.utils import timezone

from tests.tracking.conftest import (
    CIPONDOH,
    OUTSIDE_CITY,
    native,
)
from tracking.fixes import Fix, FixBatch
from tracking.ingest import filters
from tracking.ingest.upload import Drop, Upload
from tracking.models import DropCount, LatestPosition, Ping

NOW = datetime(2025, 3, 4, 1, 0, tzinfo=UTC)


def upload_of(*rows) -> Upload:
    """An upload received at NOW of fixes (seconds after NOW, lat, lon, accuracy, mock), indexed in order."""
    fixes = [
        Fix(index=i, time=NOW + timedelta(seconds=s), lat=lat, lon=lon, accuracy=acc, mock=mock)
        for i, (s, lat, lon, acc, mock) in enumerate(rows)
    ]
    return Upload(device=None, source="test", received_at=NOW, fixes=FixBatch.from_items(fixes), rejected=[])


def test_each_fix_is_dropped_for_the_first_predicate_it_fails():
    upload = upload_of(
        (0, -6.18, 106.6, 5, False),  # kept
        (1, 95, 0, 500, False),  # invalid, and poor accuracy: invalid
        (2, 0, 0, 5, False),  # zero
        (900, -6.18, 106.6, 5, False),  # 15 min ahead of the server's clock
        (-500 * 86400, -6.18, 106.6, 5, False),  # past the retention
        (3, -6.18, 106.6, 151, False),  # poor accuracy
        (4, -6.18, 106.6, None, True),  # unknown accuracy passes; a mock fix is kept, flagged
    )
    filters.per_fix(upload)
    assert {p.index: p.reason for p in upload.dropped} == {
        1: Drop.INVALID, 2: Drop.ZERO, 3: Drop.FUTURE, 4: Drop.TOO_OLD, 5: Drop.ACCURACY,
    }  # fmt: skip
    assert upload.fixes.index.tolist() == [0, 6] and upload.fixes.mock.tolist() == [False, True]


def test_predicates_switched_off_pass_their_fixes(settings):
    settings.TRACKING_FILTER_INVALID = False
    settings.TRACKING_FILTER_ZERO = False
    settings.TRACKING_FILTER_FUTURE = False
    settings.TRACKING_FILTER_ACCURACY = False
    settings.TRACKING_FILTER_MOCK = False
    upload = upload_of((0, 95, 0, 500, True), (1, 0, 0, 5, False), (900, -6.18, 106.6, 5, False))
    filters.per_fix(upload)
    assert upload.dropped == [] and upload.fixes.index.tolist() == [0, 1, 2]
    assert not upload.fixes.mock.any()  # the mock flag is cleared
    old = upload_of((-500 * 86400, -6.18, 106.6, 5, False))
    filters.per_fix(old)
    assert old.dropped == [(0, Drop.TOO_OLD)]  # always: no partition would hold it


def test_a_batch_in_any_order_is_sorted_and_a_time_twice_is_a_duplicate():
    upload = upload_of(*[(s, -6.18, 106.6, 5, False) for s in (20, 0, 10, 0)])
    filters.in_time_order(upload)
    assert upload.fixes.index.tolist() == [1, 2, 0] and upload.duplicates == [3]
    in_order = upload_of(*[(s, -6.18, 106.6, 5, False) for s in (0, 10)])
    batch = in_order.fixes
    filters.in_time_order(in_order)
    assert in_order.fixes is batch  # the usual batch: nothing to do


def test_stored_times_are_duplicates():
    upload = upload_of(*[(s, -6.18, 106.6, 5, False) for s in (0, 10, 20)])
    upload.stored_before = upload.fixes.time_us[[1]]
    filters.already_stored(upload)
    assert upload.fixes.index.tolist() == [0, 2] and upload.duplicates == [1]


def test_accuracy_speed_and_mock_filters(client, supervisor, t0):
    def p(s, where=CIPONDOH, **kw):
        return {
            "time": (t0 + timedelta(seconds=s)).isoformat(),
            "lat": where[1],
            "lon": where[0],
            **kw,
        }

    r = native(supervisor, {"pings": [p(0), p(10, accuracy=500), p(20, where=OUTSIDE_CITY), p(30, mock=True)]})
    out = r.json()
    assert r.status_code == 200
    assert {d["index"]: d["reason"] for d in out["dropped"]} == {1: "poor accuracy", 2: "impossible speed"}
    assert out["stored"] == 2 and out["mock"] == 1
    assert Ping.objects.filter(mock=True).count() == 1
    lp = LatestPosition.objects.get()
    assert lp.device_time == t0 and lp.last_mock_at == t0 + timedelta(seconds=30)  # mock never moves it
    assert DropCount.objects.get(reason="poor accuracy").count == 1
    with override_settings(TRACKING_FILTER_ACCURACY=False, TRACKING_FILTER_SPEED=False, TRACKING_FILTER_MOCK=False):
        r = native(supervisor, {"pings": [p(40, accuracy=500), p(50, where=OUTSIDE_CITY), p(60, mock=True)]})
        assert r.json()["stored"] == 3 and r.json()["dropped"] == []
        assert not Ping.objects.get(device_time=t0 + timedelta(seconds=60)).mock


def test_zero_and_future_filters_switch_off(client, supervisor, t0):
    with override_settings(TRACKING_FILTER_ZERO=False, TRACKING_FILTER_SPEED=False):
        r = native(supervisor, {"time": t0.isoformat(), "lat": 0, "lon": 0})
        assert r.status_code == 200 and r.json()["stored"] == 1
    ahead = timezone.now() + timedelta(minutes=4)
    r = native(supervisor, {"time": ahead.isoformat(), "lat": CIPONDOH[1], "lon": CIPONDOH[0]})
    assert r.status_code == 200  # within the 5-minute clock-skew allowance
    with override_settings(TRACKING_CLOCK_SKEW_S=60):
        later = ahead + timedelta(seconds=1)
        r = native(supervisor, {"time": later.isoformat(), "lat": CIPONDOH[1], "lon": CIPONDOH[0]})
        assert r.status_code == 400


def _speed_reference(fixes: FixBatch, limit_ms: float) -> np.ndarray:
    """The speed filter's rule fix by fix, every distance in UTM metres (no shortcut)."""
    from tracking.areas import to_metric

    xs, ys = to_metric(fixes.lon, fixes.lat)
    drop = np.zeros(len(fixes), dtype=bool)
    last = None
    for i in range(len(fixes)):
        if last is not None:
            dt = (fixes.time_us[i] - fixes.time_us[last]) / 1e6
            if dt > 0 and float(np.hypot(xs[i] - xs[last], ys[i] - ys[last])) / dt > limit_ms:
                drop[i] = True
                continue
        last = i
    return drop


@pytest.mark.parametrize("seed", range(6))
def test_speed_drops_equal_the_rule_in_metres_at_every_pace(seed, settings):
    """The filter skips projecting a batch whose every step is slow by a bound in degrees; at any
    pace (walking, driving, steps around the limit, jumps) it drops exactly the fixes the rule in
    metres drops."""
    settings.TRACKING_MAX_SPEED_KMH = 180
    limit = 180 / 3.6
    rng = np.random.default_rng(seed)
    n = 400
    pace = [0.02, 0.3, 0.9, 1.0, 1.1, 3.0][seed] * limit  # m/s of the track's typical step
    bearing = rng.uniform(0, 2 * np.pi, n)
    step_m = rng.uniform(0.5, 1.5, n) * pace * 10
    lat = -6.18 + np.cumsum(step_m * np.cos(bearing)) / 111_000
    lon = 106.63 + np.cumsum(step_m * np.sin(bearing)) / 110_300
    fixes = FixBatch(
        index=np.arange(n),
        time_us=1_700_000_000_000_000 + np.arange(n, dtype=np.int64) * 10_000_000,
        lat=lat,
        lon=lon,
        accuracy=np.full(n, 5.0),
        speed=np.full(n, np.nan),
        heading=np.full(n, np.nan),
        altitude=np.full(n, np.nan),
        battery=np.full(n, np.nan),
        mock=np.zeros(n, dtype=bool),
    )
    got = filters.speed_drops(fixes, None, limit)
    np.testing.assert_array_equal(got, _speed_reference(fixes, limit))
    if seed == 0:
        assert not got.any()
    if seed == 5:
        assert got.sum() > n // 2
