"""The fast batch path keeps every rule: column decoding = the per-ping reader, exact duplicates
(also when the direct COPY meets a conflict), revocation behind the auth cache, kecamatan lookup."""

import json
from datetime import timedelta

import numpy as np
import pytest
import shapely
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from tests.tracking.conftest import CIPONDOH, TANGERANG, make_supervisor
from tracking import pipeline
from tracking.models import Device, DropCount, Ping, hash_token
from tracking.protocols import Fix, FixBatch, _native_columns, _native_one, _time_us, _times

pytestmark = pytest.mark.django_db


def native(sup, body, token=None):
    return APIClient().post(
        "/api/tracking/pings/",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token or sup.token}",
        HTTP_X_DEVICE_ID=sup.device.device_id,
    )


def pings(t0, n, start=0):
    return [
        {"time": (t0 + timedelta(seconds=10 * (start + i))).isoformat(), "lat": CIPONDOH[1], "lon": CIPONDOH[0]}
        for i in range(n)
    ]


@pytest.fixture
def t0():
    return timezone.now().replace(microsecond=0) - timedelta(hours=1)


def test_column_decoder_answers_like_the_per_ping_reader():
    t = "2025-03-04T08:00:00+07:00"
    samples = [
        {"time": t, "lat": -6.18, "lon": 106.6, "accuracy": 5, "speed": 1.5, "heading": 90, "altitude": 3,
         "battery": 80, "mock": True},
        {"timestamp": 1741050000, "lat": "-6.18", "lon": "106.6"},  # epoch seconds, numbers as strings
        {"time": "1741050000123", "lat": -6.18, "lon": 106.6, "mock": "1"},  # milliseconds, flag as text
        {"time": "2025-03-04 01:00:00", "lat": -6.18, "lon": 106.6, "accuracy": None},  # naive = UTC
        {"time": t, "lat": True, "lon": 106.6},
        {"time": t, "lat": -6.18, "lon": "abc"},
        {"time": t, "lat": -6.18, "lon": 1e400},
        {"time": t, "lat": -6.18, "lon": 10**400},
        {"time": t, "lat": -6.18},
        {"time": "yesterday", "lat": -6.18, "lon": 106.6},
        {"lat": -6.18, "lon": 106.6},
        {"time": t, "lat": -6.18, "lon": 106.6, "battery": [80]},
        "not a ping",
        None,
    ]  # fmt: skip
    got = _native_columns(samples)
    want = FixBatch.from_items([_native_one(i, p) for i, p in enumerate(samples)])
    assert sorted(got.problems) == sorted(want.problems)
    assert [p.index for p in sorted(got.problems)] == list(range(4, len(samples)))
    order = np.argsort(got.index)
    for name in ("index", "time_us", "lat", "lon", "accuracy", "speed", "heading", "altitude", "battery", "mock"):
        np.testing.assert_array_equal(getattr(got, name)[order], getattr(want, name), err_msg=name)


def reference_times(values):
    """The value-by-value reader the batch path replaces: microseconds, and which are not times."""
    out, bad = [], []
    for v in values:
        try:
            out.append(_time_us(v))
            bad.append(False)
        except (ValueError, OverflowError):
            out.append(0)
            bad.append(True)
    return out, bad


def assert_times_like_reference(values):
    got, bad = _times(values)
    want, want_bad = reference_times(values)
    assert bad.tolist() == want_bad, values[:3]
    assert [g if not b else 0 for g, b in zip(got.tolist(), want_bad, strict=True)] == want, values[:3]


@pytest.mark.parametrize(
    "fmt",
    [
        "%Y-%m-%dT%H:%M:%S+00:00",
        "%Y-%m-%dT%H:%M:%SZ",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M:%S+07:00",
        "%Y-%m-%dT%H:%M:%S-03:30",
        "%Y-%m-%dT%H:%M:%S.%f+07:00",
        "%Y-%m-%dT%H:%M:%S.%fZ",
        "%Y-%m-%dT%H:%M:%S.%f",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S+0700",
        "%Y-%m-%dt%H:%M:%Sz",
    ],
)
def test_a_batch_of_iso_times_reads_like_the_per_ping_reader(fmt):
    from datetime import UTC, datetime

    rng = np.random.default_rng(4)
    base = datetime(2025, 3, 4, tzinfo=UTC).timestamp()
    moments = [datetime.fromtimestamp(base + float(s), tz=UTC) for s in rng.uniform(-5e8, 5e8, 300)]
    values = [m.strftime(fmt) for m in moments]
    assert_times_like_reference(values)
    for cut in (1, 3, 5):  # milliseconds and other fraction widths
        if ".%f" in fmt:
            assert_times_like_reference([v.replace(v[19 : 27 - cut], v[19 : 27 - cut][: 7 - cut]) for v in values])


@pytest.mark.parametrize(
    "odd",
    [
        "2025-02-30T08:00:00+00:00",  # no such day
        "2025-13-04T08:00:00+00:00",
        "2025-03-04T24:00:00+00:00",
        "2025-03-04T08:60:00+00:00",
        "2025-03-04T08:00:60+00:00",
        "0000-03-04T08:00:00+00:00",
        "0001-01-01T00:00:00+07:00",  # before datetime's first moment in UTC
        "9999-12-31T23:59:59-07:00",
        "2025-03-04T08:00:00+24:00",
        "2025-03-04T08:00:00+07:60",
        "2025-03-04T08:00:00+07:01",  # another offset than the batch's
        "2025-03-04 08:00:00+00:00",
        "2025-03-04T08:00:0 +00:00",
        "2025-03-04T08:00:00 00:00",
        "2025-03-04T08:00:00+00:0\u0660",
        "2025-03-04T08:00:00+00:\u00e90",
        "-025-03-04T08:00:00+00:00",
        "2025-03-04T08:00:00.+00:00",
        "1741050000000000000000000",
    ],
)
def test_one_odd_time_in_a_batch_is_judged_alone(odd):
    odd = odd.encode().decode("unicode_escape")
    values = ["2025-03-04T08:00:00+00:00", odd, "2025-03-04T08:00:10+00:00"]
    assert_times_like_reference(values)
    assert_times_like_reference([odd])
    assert_times_like_reference(values + [1741050000, None])


@pytest.mark.parametrize(
    "keys",
    [("time", "lat", "lon", "accuracy", "mock"), ("timestamp", "lat", "lon"), ("time", "timestamp", "lat", "lon")],
)
def test_uniform_batches_read_by_key_match_the_per_ping_reader(keys):
    values = {"time": "2025-03-04T01:00:00Z", "timestamp": 1741050000, "lat": -6.18, "lon": 106.6, "accuracy": 7,
              "mock": False}  # fmt: skip
    samples = [{k: values[k] for k in keys} for _ in range(3)]
    samples[1]["lat"] = "north"  # one bad value keeps the key set uniform
    got = _native_columns(samples)
    want = FixBatch.from_items([_native_one(i, p) for i, p in enumerate(samples)])
    assert got.problems == want.problems == [(1, "lat must be a number, not 'north'")]
    for name in ("index", "time_us", "lat", "lon", "accuracy", "mock"):
        np.testing.assert_array_equal(np.sort(getattr(got, name)), np.sort(getattr(want, name)), err_msg=name)


@pytest.mark.parametrize(
    "later",
    [{"accuracy": 9}, {"mock": True}, {"time": "2025-03-04T02:00:00Z"}, {"foo": 1}, {"timestamp": 1741050000}],
)
def test_a_field_only_later_pings_have_is_read(later):
    samples = [{"timestamp": 1741050000 + i, "lat": -6.18, "lon": 106.6, "extra": i} for i in range(4)]
    samples[2].update(later)
    del samples[3]["extra"]
    got = _native_columns(samples)
    want = FixBatch.from_items([_native_one(i, p) for i, p in enumerate(samples)])
    for name in ("index", "time_us", "lat", "lon", "accuracy", "mock"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)


def test_a_conflict_on_the_direct_copy_is_retried_through_on_conflict(city, t0, monkeypatch, caplog):
    sup = make_supervisor()
    assert native(sup, {"pings": pings(t0, 5)}).json()["stored"] == 5
    # Pretend the duplicate check saw nothing (as if another writer slipped in without the lock):
    # the direct COPY meets the primary key, and the batch is stored through the staging table.
    monkeypatch.setattr(pipeline, "_history_around", lambda device, fixes, want_previous: (None, np.array([])))
    r = native(sup, {"pings": pings(t0, 8)})
    assert r.status_code == 200
    assert (r.json()["stored"], r.json()["duplicates"]) == (3, 5)
    assert Ping.objects.count() == 8
    assert DropCount.objects.get(reason="duplicate").count == 5  # the failed attempt counted nothing
    assert "retrying through the staging table" in caplog.text


def test_a_fresh_upload_asks_no_history_and_the_speed_filter_still_sees_the_last_fix(city, t0):
    sup = make_supervisor()
    assert native(sup, {"pings": pings(t0, 5)}).json()["stored"] == 5
    far = {"time": (t0 + timedelta(seconds=60)).isoformat(), "lat": TANGERANG[1], "lon": TANGERANG[0]}
    with CaptureQueriesContext(connection) as queries:  # 4.7 km in 20 s after the last fix stored
        r = native(sup, {"pings": [far, *pings(t0, 2, start=7)]})
    assert r.json()["dropped"] == [{"index": 0, "reason": "impossible speed"}] and r.json()["stored"] == 2
    assert not [q for q in queries if "FROM tracking_ping" in q["sql"]]  # the latest position answered


def test_a_resent_mock_fix_newer_than_the_position_is_a_duplicate(city, t0, caplog):
    """Mock fixes never move the latest position; `last_mock_at` keeps the newest stored one, so a
    batch resent from it on is checked against the history, not taken as new."""
    sup = make_supervisor()
    first = pings(t0, 2)
    first[1]["mock"] = True
    assert native(sup, {"pings": first}).json()["stored"] == 2
    again = [first[1], *pings(t0, 1, start=2)]
    r = native(sup, {"pings": again})
    assert (r.json()["stored"], r.json()["duplicates"]) == (1, 1)
    assert Ping.objects.count() == 3
    assert "retrying through the staging table" not in caplog.text  # found by the lookup, not the key


def test_a_row_stored_outside_the_pipeline_is_still_a_duplicate(city, t0, caplog):
    """A row newer than the latest position that the pipeline did not write (a restore, a manual
    fix) is unknown to the position: the direct COPY meets the primary key, and the batch is stored
    through ON CONFLICT, the row counted as a duplicate."""
    sup = make_supervisor()
    assert native(sup, {"pings": pings(t0, 5)}).json()["stored"] == 5
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO tracking_ping (device_id, supervisor_id, device_time, received_at, point, source) "
            "VALUES (%s, %s, %s, now(), ST_SetSRID(ST_MakePoint(%s, %s), 4326), 'restore')",
            [sup.device.pk, sup.pk, t0 + timedelta(seconds=60), *CIPONDOH],
        )
    r = native(sup, {"pings": pings(t0, 3, start=5)})
    assert (r.json()["stored"], r.json()["duplicates"]) == (2, 1)
    assert Ping.objects.count() == 8 and Ping.objects.filter(source="restore").count() == 1
    assert "retrying through the staging table" in caplog.text


def test_duplicates_found_when_the_batch_spans_much_stored_history(city, t0):
    sup = make_supervisor()
    assert native(sup, {"pings": pings(t0, 30)}).json()["stored"] == 30
    # two fixes 290 s apart with 30 stored fixes between them: the exact lookup decides
    r = native(sup, {"pings": pings(t0, 1, start=5) + pings(t0, 1, start=40)})
    assert (r.json()["stored"], r.json()["duplicates"]) == (1, 1)


def test_revocation_and_new_token_take_effect_behind_the_auth_cache(city, t0):
    sup = make_supervisor()
    assert native(sup, {"pings": pings(t0, 1)}).status_code == 200  # now cached in this process
    # Revoked by another process (no signal reaches this one): refused at once under the lock.
    Device.objects.filter(pk=sup.device.pk).update(revoked_at=timezone.now())
    r = native(sup, {"pings": pings(t0, 1, start=1)})
    assert r.status_code == 403 and "revoked" in r.json()["detail"]
    Device.objects.filter(pk=sup.device.pk).update(revoked_at=None)
    assert native(sup, {"pings": pings(t0, 1, start=2)}).status_code == 200
    # A new token issued elsewhere: the old one is refused, the new one works at once.
    Device.objects.filter(pk=sup.device.pk).update(token_hash=hash_token("fresh-token"))
    assert native(sup, {"pings": pings(t0, 1, start=3)}).status_code == 401
    assert native(sup, {"pings": pings(t0, 1, start=4)}, token="fresh-token").status_code == 200
    assert Ping.objects.count() == 3


def test_kecamatan_codes_follow_the_boundary_index_rule(city):
    from kecamatan_boundaries.lookup import kecamatan_index
    from tracking.areas import kecamatan_codes

    index = kecamatan_index.get()
    minx, miny, maxx, maxy = shapely.total_bounds(index.geoms)
    rng = np.random.default_rng(4)
    lons = rng.uniform(minx - 0.01, maxx + 0.01, 3000)
    lats = rng.uniform(miny - 0.01, maxy + 0.01, 3000)
    # vertices (on shared borders) and points just beside them (gaps, slivers)
    verts = np.concatenate([shapely.get_coordinates(g)[::7] for g in index.geoms])
    lons = np.concatenate([lons, verts[:, 0], verts[:, 0] + 0.0003])
    lats = np.concatenate([lats, verts[:, 1], verts[:, 1] - 0.0003])
    # points on the in-process grid's cell edges and corners (tracking.areas._Grid), all over the city
    cell = 0.001
    gx, gy = np.meshgrid(np.arange(minx, maxx, cell * 7), np.arange(miny, maxy, cell * 5))
    lons = np.concatenate([lons, gx.ravel(), gx.ravel() + cell / 2, (gx + cell * 3).ravel()])
    lats = np.concatenate([lats, gy.ravel(), gy.ravel(), (gy + cell / 2).ravel()])
    want = [a.code if a else None for a in index.locate_many(lons, lats)]
    assert kecamatan_codes.locate(lons, lats) == want
    assert None in want and len(set(want)) == 14  # outside the city too


@pytest.fixture
def fresh_geofences():
    """Test transactions roll back without delete signals: drop this process's geofence index after."""
    from tracking.areas import geofence_index

    geofence_index.invalidate()
    yield
    geofence_index.invalidate()


def test_the_grid_over_a_province_stays_small_and_answers_by_the_same_rule():
    """Boundaries spanning degrees (a province loaded instead of a city) get larger cells, never
    more than MAX_CELLS; points answered by the grid are in the polygon it names, and in no other."""
    from shapely.geometry import Polygon as ShapelyPolygon

    from tracking.areas import _Grid

    west = ShapelyPolygon([(104, -8), (106.5, -8), (106.2, -5), (104, -5)])
    east = ShapelyPolygon([(106.5, -8), (109, -8), (109, -5), (106.2, -5)])  # shares an edge with west
    geoms = np.array([west, east], dtype=object)
    grid = _Grid(geoms)
    assert grid.nx * grid.ny <= _Grid.MAX_CELLS * 1.05 and grid.cell > _Grid.CELL_DEG
    rng = np.random.default_rng(8)
    lons, lats = rng.uniform(103.5, 109.5, 20_000), rng.uniform(-8.5, -4.5, 20_000)
    answered, candidates = grid.lookup(lons, lats)
    inside = shapely.intersects_xy(west, lons, lats) | shapely.intersects_xy(east, lons, lats)
    assert (answered[inside] >= 0).mean() > 0.95 and (answered[~inside] < 0).all()
    for i, geom in enumerate(geoms):
        mine = answered == i
        assert shapely.intersects_xy(geom, lons[mine], lats[mine]).all()
        assert not shapely.intersects_xy(geoms[1 - i], lons[mine], lats[mine]).any()
    assert candidates == [0, 1]  # points near the shared edge: both polygons are asked


def test_every_column_is_stored_as_sent_through_the_binary_copy(city, t0, fresh_geofences):
    from django.contrib.gis.geos import MultiPolygon, Polygon

    from tracking.models import Geofence, TrackingEvent

    lon, lat = CIPONDOH

    def square(code, d):
        poly = Polygon.from_bbox((lon - d, lat - d, lon + d, lat + d))
        return Geofence.objects.create(code=code, name=code, geom=MultiPolygon(poly, srid=4326))

    big, small = square("pasar", 0.01), square("pintu-air", 0.001)
    sup = make_supervisor(kecamatan=())
    sup.geofences.add(small)
    t = t0.replace(microsecond=123456)
    body = {
        "pings": [
            {"time": t.isoformat(), "lat": lat, "lon": lon, "accuracy": 4.5, "speed": 1.25, "heading": 270,
             "altitude": -2.5, "battery": 99},
            {"time": (t + timedelta(seconds=60)).isoformat(), "lat": lat + 0.005, "lon": lon, "accuracy": 8},
            {"time": (t + timedelta(seconds=120)).isoformat(), "lat": lat, "lon": lon, "mock": True},
        ]
    }  # fmt: skip
    r = native(sup, body)
    assert r.status_code == 200 and r.json()["stored"] == 3 and r.json()["mock"] == 1
    rows = list(Ping.objects.order_by("device_time"))
    first, second, third = rows
    assert first.device_time == t and first.received_at >= t0
    assert (first.point.x, first.point.y, first.point.srid) == (lon, lat, 4326)
    assert (first.accuracy, first.speed, first.heading, first.altitude, first.battery) == (4.5, 1.25, 270, -2.5, 99)
    assert (first.kecamatan_code, first.geofence_ids, first.in_area) == ("36.71.05", [big.pk, small.pk], True)
    assert (first.mock, first.source, first.device_id, first.supervisor_id) == (False, "native", sup.device.pk, sup.pk)
    assert (second.accuracy, second.speed, second.heading, second.altitude, second.battery) == (
        8,
        None,
        None,
        None,
        None,
    )
    assert (second.geofence_ids, second.in_area) == ([big.pk], False)
    assert third.mock and third.accuracy is None and third.geofence_ids == [big.pk, small.pk]
    kinds = list(TrackingEvent.objects.exclude(kind="presence").order_by("time", "id").values_list("kind", "geofence"))
    assert kinds == [
        ("enter_kecamatan", None), ("enter_geofence", big.pk), ("enter_geofence", small.pk),
        ("leave_geofence", small.pk),
    ]  # fmt: skip
    # each event with the time and place of the fix that caused it (microseconds and all)
    events = TrackingEvent.objects.exclude(kind="presence").order_by("time", "id")
    places = [(e.time, e.point.x, e.point.y, e.point.srid, e.kecamatan_code) for e in events]
    assert places == [
        (t, lon, lat, 4326, "36.71.05"), (t, lon, lat, 4326, ""), (t, lon, lat, 4326, ""),
        (t + timedelta(seconds=60), lon, lat + 0.005, 4326, ""),
    ]  # fmt: skip


def test_columns_left_out_of_the_copy_read_back_as_their_defaults(city, t0):
    """No geofence, no mock fix, no altitude in the whole batch: the COPY leaves those columns out
    and the rows read as if they had been written: an empty array, false, NULL. The same for
    rows stored through the staged retry (its table takes the defaults too)."""
    sup = make_supervisor()
    body = {"pings": [{**p, "accuracy": 5, "battery": 70} for p in pings(t0, 3)]}
    assert native(sup, body).json()["stored"] == 3
    fix = Fix(index=0, time=t0, lat=CIPONDOH[1], lon=CIPONDOH[0], accuracy=5, battery=70)
    enriched = pipeline.Enriched(["36.71.05"], [()], [True])
    columns, _payload = pipeline._copy_payload(sup.device, sup.pk, FixBatch.from_items([fix]), enriched, "native", t0)
    assert "geofence_ids" not in columns and "mock" not in columns and "altitude" not in columns
    with connection.cursor() as cur:  # a row of the same device written elsewhere: the batch is staged
        cur.execute(
            "INSERT INTO tracking_ping (device_id, supervisor_id, device_time, received_at, point, source) "
            "VALUES (%s, %s, %s, now(), ST_SetSRID(ST_MakePoint(0, 0), 4326), 'restore')",
            [sup.device.pk, sup.pk, t0 + timedelta(seconds=40)],
        )
    assert native(sup, {"pings": pings(t0, 3, start=3)}).json()["stored"] == 2
    rows = Ping.objects.filter(source="native").order_by("device_time")
    got = [(p.geofence_ids, p.mock, p.altitude, p.speed, p.kecamatan_code) for p in rows]
    assert got == [([], False, None, None, "36.71.05")] * 5


def test_a_geofence_deleted_elsewhere_does_not_break_the_batch(city, t0, fresh_geofences):
    from django.contrib.gis.geos import MultiPolygon, Polygon

    from tracking.areas import geofence_index
    from tracking.models import Geofence, TrackingEvent

    lon, lat = CIPONDOH
    fence = Geofence.objects.create(
        code="pos", name="pos", geom=MultiPolygon(Polygon.from_bbox((lon - 0.01, lat - 0.01, lon + 0.01, lat + 0.01)))
    )
    sup = make_supervisor()
    assert fence.pk in geofence_index.get().ids  # this process indexes it ...
    with connection.cursor() as cur:  # ... and another process deletes it (no signal reaches this one)
        cur.execute("DELETE FROM tracking_geofence WHERE id = %s", [fence.pk])
    assert fence.pk in geofence_index.get().ids
    r = native(sup, {"pings": pings(t0, 2)})
    assert r.status_code == 200 and r.json()["stored"] == 2
    assert not TrackingEvent.objects.filter(kind="enter_geofence").exists()


@pytest.mark.parametrize("seed", range(6))
def test_copy_payload_by_runs_equals_row_by_row(seed):
    """Runs of rows with equal kecamatan/geofences/unknowns are written as record arrays: byte for byte
    what joining row by row writes, whatever the runs (one, a few, many; unknowns in runs or scattered)."""
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from tracking.areas import Enriched

    rng = np.random.default_rng(seed)
    n = [1, 2, 40, 1000, 300, 7][seed]
    change = [0.5, 0.5, 0.1, 0.005, 0.3, 0.0][seed]

    def runs_of(choices):
        out, cur = [], choices[0]
        for _ in range(n):
            if rng.random() < change:
                cur = choices[rng.integers(len(choices))]
            out.append(cur)
        return out

    def column(kind):
        values = rng.uniform(-10, 100, n)
        if kind == "all-unknown":
            values[:] = np.nan
        elif kind == "runs":
            values[np.array(runs_of([True, False]))] = np.nan
        elif kind == "scattered":
            values[rng.random(n) < 0.3] = np.nan
        return values

    kinds = ["known", "all-unknown", "runs", "scattered", "runs"] if seed != 4 else ["known"] * 5
    fixes = FixBatch(
        index=np.arange(n, dtype=np.int64),
        time_us=np.arange(n, dtype=np.int64) * 10_000_000 + 1_741_000_000_000_000,
        lat=rng.uniform(-6.2, -6.1, n),
        lon=rng.uniform(106.6, 106.7, n),
        **{
            name: column(kind)
            for name, kind in zip(("accuracy", "speed", "heading", "altitude", "battery"), kinds, strict=True)
        },
        mock=rng.random(n) < 0.1,
    )
    enriched = Enriched(
        runs_of([None, "36.71.05", "36.71.01"]),
        runs_of([(), (3,), (3, 17), (5,)]),
        (rng.random(n) < 0.8).tolist(),
    )
    device = SimpleNamespace(pk=12)
    at = datetime(2025, 3, 4, 1, 2, 3, 456789, tzinfo=UTC)
    by_rows = pipeline._copy_payload(device, 7, fixes, enriched, "native", at, max_runs=0)
    by_runs = pipeline._copy_payload(device, 7, fixes, enriched, "native", at, max_runs=n)
    assert by_runs == by_rows


@override_settings(GEOAPP_RELAY="worker")
def test_the_latest_position_update_writes_every_field_as_save_would(city, t0):
    """...and queues the position's announcement for the worker in the same statement, only when
    it changed a row."""
    from django.contrib.gis.geos import Point

    from core.models import PendingSignal
    from tracking.models import LatestPosition
    from tracking.signals import POSITION

    columns = {f.column for f in LatestPosition._meta.concrete_fields} - {"supervisor_id"}
    assert all(f"{c} = " in pipeline.LATEST_UPDATE_SQL for c in columns)  # a new field must be written too
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
        assert pipeline._update_latest(lp, announce)
        got = LatestPosition.objects.get(pk=sup.pk)
        for f in LatestPosition._meta.concrete_fields:
            if f.name == "point":
                assert (got.point.coords, got.point.srid) == (lp.point.coords, 4326)
            else:
                assert getattr(got, f.attname) == getattr(lp, f.attname), f.name
    queued = list(PendingSignal.objects.values_list("topic", "key", "data"))
    assert queued == [(POSITION, str(sup.pk), {"n": 1})] * 2
    LatestPosition.objects.filter(pk=sup.pk).delete()
    assert not pipeline._update_latest(lp, announce)
    assert PendingSignal.objects.count() == 2  # nothing changed: nothing announced


def test_a_devices_last_seen_is_stamped_at_most_once_a_minute(city, t0):
    sup = make_supervisor()
    assert native(sup, {"pings": pings(t0, 1)}).status_code == 200
    first = Device.objects.get(pk=sup.device.pk).last_seen_at
    assert first is not None and timezone.now() - first < timedelta(minutes=1)
    assert native(sup, {"pings": pings(t0, 1, start=1)}).status_code == 200
    assert Device.objects.get(pk=sup.device.pk).last_seen_at == first  # no row written this time
    Device.objects.filter(pk=sup.device.pk).update(last_seen_at=first - timedelta(seconds=61))
    assert native(sup, {"pings": pings(t0, 1, start=2)}).status_code == 200
    assert Device.objects.get(pk=sup.device.pk).last_seen_at > first


def test_a_database_lost_during_the_copy_is_a_503_to_retry(city, t0, monkeypatch):
    import psycopg.copy

    sup = make_supervisor()

    def lost(self, buffer):
        raise psycopg.OperationalError("consuming input failed: server closed the connection unexpectedly")

    monkeypatch.setattr(psycopg.copy.Copy, "write", lost)
    r = native(sup, {"pings": pings(t0, 3)})
    assert r.status_code == 503 and r["Retry-After"]
    assert "nothing was stored" in r.json()["detail"]  # the transaction was rolled back with the COPY


def test_the_uploads_small_statements_are_prepared_on_the_server(city, t0):
    """core/prepared.py asks psycopg to prepare the lock, latest-position and relay statements;
    Django turns preparing off unless settings give psycopg a threshold (it did for a session:
    every upload parsed and planned them anew). After two uploads PostgreSQL holds them prepared."""
    sup = make_supervisor(name="Prepared")
    assert native(sup, {"pings": pings(t0, 5)}).status_code == 200
    assert native(sup, {"pings": pings(t0, 5, start=5)}).status_code == 200
    with connection.cursor() as cur:
        cur.execute("SELECT statement FROM pg_prepared_statements WHERE NOT from_sql")
        prepared = [row[0] for row in cur.fetchall()]
    assert any("FOR UPDATE OF s\n" in s for s in prepared), prepared  # the first upload's lock
    assert any("FOR UPDATE OF s, lp" in s for s in prepared), prepared  # the lock with the position
    assert any("UPDATE tracking_latestposition SET" in s for s in prepared), prepared


def test_the_uploads_prepared_statements_are_planned_once(city, t0):
    """Left to choose, PostgreSQL plans the latest position's UPDATE anew for at least its first
    five runs on a connection (and in the bench's log kept doing so: 0.2 ms a run); settings ask
    for the generic plan, made once per connection."""
    sup = make_supervisor(name="Planned")
    for k in range(7):  # PostgreSQL weighs a generic plan only after five custom ones
        assert native(sup, {"pings": pings(t0, 3, start=3 * k)}).status_code == 200
    with connection.cursor() as cur:
        cur.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE NOT from_sql AND statement LIKE %s",
            ["%UPDATE tracking_latestposition SET%"],
        )
        plans = cur.fetchall()
    assert plans and all(custom == 0 and generic >= 6 for generic, custom in plans), plans


def test_the_usual_upload_answers_byte_for_byte_as_drf_does(city, t0, monkeypatch):
    """NativePings answers a phone's usual batch without DRF's machinery; DRF's answer to the same
    upload is the reference: status, body bytes, content type and headers."""
    from tracking import views

    def upload(sup):
        bad = {"time": (t0 + timedelta(seconds=99)).isoformat(), "lat": 95.0, "lon": CIPONDOH[0]}
        return native(sup, {"pings": [*pings(t0, 5), bad, pings(t0, 1)[0]]})

    fast = upload(make_supervisor(name="Usual"))
    monkeypatch.setattr(views, "decode_native_json", lambda raw: None)  # the view's shortcut declines
    reference = upload(make_supervisor(name="Reference"))
    assert fast.status_code == reference.status_code == 200
    assert fast.content == reference.content
    assert json.loads(fast.content)["dropped"] == [{"index": 5, "reason": "invalid coordinates"}]
    for header in ("Content-Type", "Allow", "Vary"):
        assert fast[header] == reference[header], header


def test_the_usual_upload_refused_is_answered_as_before(city, t0):
    """Refusals found before the store (a wrong token) and under the lock (a device revoked after
    the auth cache accepted it) get the protocol's status and reason; nothing of theirs is stored."""
    sup = make_supervisor(name="Refused")
    wrong = native(sup, {"pings": pings(t0, 3)}, token="not-the-token")
    assert wrong.status_code == 401 and "wrong token" in wrong.json()["detail"]
    assert native(sup, {"pings": pings(t0, 3)}).status_code == 200  # now in the auth cache
    sup.device.revoke()
    revoked = native(sup, {"pings": pings(t0, 3, start=3)})
    assert revoked.status_code == 403 and "revoked" in revoked.json()["detail"]
    assert Ping.objects.filter(device_id=sup.device.pk).count() == 3


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
    got = pipeline._speed_drops(fixes, None)
    np.testing.assert_array_equal(got, _speed_reference(fixes, limit))
    if seed == 0:
        assert not got.any()
    if seed == 5:
        assert got.sum() > n // 2
