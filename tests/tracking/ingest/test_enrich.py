"""Enrich: kecamatan, geofences and the area with the accuracy margin, for the batch at once."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import shapely
from django.test import override_settings

from tests.tracking.conftest import (
    CIPONDOH,
    OUTSIDE_CITY,
    make_supervisor,
    native,
)
from tracking.areas import AssignedArea
from tracking.fixes import Fix, FixBatch
from tracking.ingest import enrich
from tracking.ingest.upload import Locked, Upload
from tracking.models import Ping

pytestmark = pytest.mark.django_db


def test_accuracy_margin_counts_a_fix_just_outside(client, city, t0):

    from kecamatan_boundaries.lookup import kecamatan_index

    sup = make_supervisor(kecamatan=("36.71.05",))
    index = kecamatan_index.get()
    poly = index.geoms[[a.code for a in index.areas].index("36.71.05")]
    # a point ~66 m east of Cipondoh's easternmost vertex: beyond the 50 m sliver tolerance
    minx, miny, maxx, maxy = poly.bounds
    edge = max(shapely.get_coordinates(poly), key=lambda c: c[0])
    lon, lat = edge[0] + 0.0006, edge[1]
    assert not poly.covers(shapely.Point(lon, lat))
    with override_settings(TRACKING_AREA_MARGIN_CAP_M=100):
        r = native(sup, {"pings": [
        {"time": t0.isoformat(), "lat": lat, "lon": lon, "accuracy": 80},
        {"time": (t0 + timedelta(seconds=10)).isoformat(), "lat": lat, "lon": lon, "accuracy": 5},
    ]})  # fmt: skip
    assert r.status_code == 200
    flags = list(Ping.objects.order_by("device_time").values_list("in_area", flat=True))
    assert flags == [True, False]


AT = datetime(2025, 3, 4, 1, 0, tzinfo=UTC)


def test_each_new_fix_is_named_and_an_empty_batch_asks_nothing(city):
    fixes = FixBatch.from_items([Fix(0, AT, CIPONDOH[1], CIPONDOH[0]), Fix(1, AT, OUTSIDE_CITY[1], OUTSIDE_CITY[0])])
    locked = Locked(1, "offline", AssignedArea(frozenset({"36.71.05"})), None, [], [])
    upload = Upload(device=None, source="test", received_at=AT, fixes=fixes, rejected=[], locked=locked)
    enrich.enrich(upload)
    assert (upload.enriched.kecamatan_codes, upload.enriched.in_area) == (["36.71.05", None], [True, False])
    empty = Upload(device=None, source="test", received_at=AT, fixes=fixes.take(np.zeros(2, dtype=bool)), rejected=[])
    empty.locked = locked
    enrich.enrich(empty)
    assert empty.enriched.kecamatan_codes == []
