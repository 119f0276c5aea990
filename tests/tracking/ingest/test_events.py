"""Events: entering and leaving kecamatan and geofences, in one statement; a geofence deleted in
another process never breaks a batch."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.tracking.conftest import (
    CIPONDOH,
    make_supervisor,
    native,
    pings,
)
from tracking.areas import AssignedArea
from tracking.fixes import Fix, FixBatch
from tracking.ingest import events
from tracking.ingest.upload import Locked, Upload
from tracking.models import EventKind, TrackingEvent

pytestmark = pytest.mark.django_db


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


AT = datetime(2025, 3, 4, 1, 0, tzinfo=UTC)


def test_events_are_written_with_the_time_and_place_of_their_fix(city):
    sup = make_supervisor()
    fixes = FixBatch.from_items([Fix(0, AT, -6.18, 106.6), Fix(1, AT + timedelta(seconds=10), -6.19, 106.61)])
    found = [
        (0, EventKind.ENTER_KECAMATAN, {"kecamatan_code": "36.71.05"}),
        (1, EventKind.LEAVE_KECAMATAN, {"kecamatan_code": "36.71.05"}),
    ]
    upload = Upload(device=sup.device, source="test", received_at=AT, fixes=fixes, rejected=[], events=found)
    upload.locked = Locked(sup.pk, "offline", AssignedArea(), None, [], [])
    events.record(upload)
    got = TrackingEvent.objects.filter(supervisor=sup).order_by("time")
    assert [(e.kind, e.time, e.kecamatan_code, e.point.coords, e.geofence_id) for e in got] == [
        ("enter_kecamatan", AT, "36.71.05", (106.6, -6.18), None),
        ("leave_kecamatan", AT + timedelta(seconds=10), "36.71.05", (106.61, -6.19), None),
    ]


def test_no_events_no_statement(city):
    upload = Upload(device=None, source="test", received_at=AT, fixes=FixBatch.from_items([]), rejected=[])
    with CaptureQueriesContext(connection) as queries:
        events.record(upload)
    assert len(queries) == 0
