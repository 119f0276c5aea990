"""Store: every column as sent through the binary COPY, into the partitioned history; a conflict on
the direct COPY is retried through the staging table; a database lost mid-COPY is a 503."""

from datetime import timedelta

import numpy as np
import pytest
from django.db import connection

from tests.tracking.conftest import (
    CIPONDOH,
    make_supervisor,
    native,
    pings,
)
from tracking.areas import Enriched
from tracking.fixes import Fix, FixBatch
from tracking.ingest import copy, history
from tracking.models import DropCount, Ping, TrackingEvent

pytestmark = pytest.mark.django_db


def test_a_conflict_on_the_direct_copy_is_retried_through_on_conflict(city, t0, monkeypatch, caplog):
    sup = make_supervisor()
    assert native(sup, {"pings": pings(t0, 5)}).json()["stored"] == 5
    # Pretend the duplicate check saw nothing (as if another writer slipped in without the lock):
    # the direct COPY meets the primary key, and the batch is stored through the staging table.
    monkeypatch.setattr(history, "around", lambda device, fixes, want_previous: (None, np.array([])))
    r = native(sup, {"pings": pings(t0, 8)})
    assert r.status_code == 200
    assert (r.json()["stored"], r.json()["duplicates"]) == (3, 5)
    assert Ping.objects.count() == 8
    assert DropCount.objects.get(reason="duplicate").count == 5  # the failed attempt counted nothing
    assert "retrying through the staging table" in caplog.text


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


def test_every_column_is_stored_as_sent_through_the_binary_copy(city, t0, fresh_geofences):
    from django.contrib.gis.geos import MultiPolygon, Polygon

    from tracking.models import Geofence

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
    enriched = Enriched(["36.71.05"], [()], [True])
    columns, _payload = copy.copy_payload(sup.device, sup.pk, FixBatch.from_items([fix]), enriched, "native", t0)
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


def test_a_database_lost_during_the_copy_is_a_503_to_retry(city, t0, monkeypatch):
    import psycopg.copy

    sup = make_supervisor()

    def lost(self, buffer):
        raise psycopg.OperationalError("consuming input failed: server closed the connection unexpectedly")

    monkeypatch.setattr(psycopg.copy.Copy, "write", lost)
    r = native(sup, {"pings": pings(t0, 3)})
    assert r.status_code == 503 and r["Retry-After"]
    assert "nothing was stored" in r.json()["detail"]  # the transaction was rolled back with the COPY
