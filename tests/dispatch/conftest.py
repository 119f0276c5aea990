"""Dispatch test helpers: reports and supervisors placed on the real Kota Tangerang boundaries.

Supervisors get their position through tracking's real ingestion pipeline (enrichment, area,
presence, signals), reports through incidents' real intake, so the dispatcher is tested on what
production would hand it.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
import shapely
from django.contrib.gis.geos import Point
from django.core.cache import cache
from django.utils import timezone
from pyproj import Transformer
from rest_framework.test import APIClient

from tests.tracking.conftest import make_supervisor

CIPONDOH = "36.71.05"
TANGERANG = "36.71.01"
KARAWACI = "36.71.07"

_to_utm = Transformer.from_crs(4326, 32748, always_xy=True)
_to_wgs = Transformer.from_crs(32748, 4326, always_xy=True)
_names = itertools.count(1)


def utm(lon: float, lat: float) -> tuple[float, float]:
    return _to_utm.transform(lon, lat)


def wgs(x: float, y: float) -> tuple[float, float]:
    return _to_wgs.transform(x, y)


def offset(lonlat: tuple[float, float], east_m: float = 0, north_m: float = 0) -> tuple[float, float]:
    x, y = utm(*lonlat)
    return wgs(x + east_m, y + north_m)


def metric(geom) -> shapely.Geometry:
    return shapely.transform(shapely.from_wkb(bytes(geom.wkb)), _xy_to_utm)


def _xy_to_utm(coords):
    import numpy as np

    x, y = _to_utm.transform(coords[:, 0], coords[:, 1])
    return np.column_stack([x, y])


def border_pair(city, a: str, b: str, depth_m: float) -> tuple[tuple, tuple, tuple]:
    """A point on the shared border of kecamatan a and b, and points `depth_m` inside a and inside b
    along the border's normal (checked against the real polygons)."""
    ga, gb = metric(city[a].geom), metric(city[b].geom)
    shared = shapely.intersection(ga.boundary, gb.buffer(1.0))
    line = max(getattr(shared, "geoms", [shared]), key=lambda g: g.length)
    mid = line.interpolate(0.5, normalized=True)
    near = line.interpolate(min(line.length, line.project(mid) + 5))
    dx, dy = near.x - mid.x, near.y - mid.y
    norm = (dx * dx + dy * dy) ** 0.5
    nx, ny = -dy / norm, dx / norm
    p1 = shapely.Point(mid.x + nx * depth_m, mid.y + ny * depth_m)
    p2 = shapely.Point(mid.x - nx * depth_m, mid.y - ny * depth_m)
    in_a, in_b = (p1, p2) if ga.contains(p1) else (p2, p1)
    assert ga.contains(in_a), "the normal left kecamatan a: use a smaller depth"
    assert depth_m > 500 or gb.contains(in_b), "the normal left kecamatan b: use a smaller depth"
    return wgs(mid.x, mid.y), wgs(in_a.x, in_a.y), wgs(in_b.x, in_b.y)


def interior(city, code: str) -> tuple[float, float]:
    """A point well inside the kecamatan (representative point of its polygon)."""
    g = shapely.from_wkb(bytes(city[code].geom.wkb))
    p = g.point_on_surface()
    return (p.x, p.y)


def ping(sup, lonlat, *, at=None, mock=False, accuracy=10.0, device=None):
    """One fix through tracking's pipeline, as the phone would send it."""
    from tracking.fixes import Fix
    from tracking.ingest.pipeline import ingest

    at = at or timezone.now()
    fix = Fix(index=0, time=at, lat=lonlat[1], lon=lonlat[0], accuracy=accuracy, mock=mock)
    return ingest(device or sup.device, [fix], "test", received_at=timezone.now())


def supervisor_at(lonlat, *, opd="dbmsda", kecamatan=(CIPONDOH,), age_s=0, **kw):
    sup = make_supervisor(name=f"Pengawas {next(_names)}", opd=opd, kecamatan=kecamatan, **kw)
    ping(sup, lonlat, at=timezone.now() - timedelta(seconds=age_s))
    return sup


def report_at(lonlat, category="jalan-rusak", **kw):
    """A report through incidents' intake (routed to the category's OPD)."""
    from incidents.intake import ReportInput, submit_report

    return submit_report(
        ReportInput(category=category, description="uji", location=Point(*lonlat, srid=4326), **kw)
    ).report


@pytest.fixture
def refdata(city):
    from incidents.bootstrap import bootstrap
    from incidents.models import Category

    bootstrap(log=lambda m: None)
    return {c.code: c for c in Category.objects.select_related("opd")}


@pytest.fixture(autouse=True)
def _isolate(tmp_path, settings):
    from tracking import partitions

    # a test's rollback drops the day partitions it made; forget them so the next test re-creates them
    partitions.forget()
    settings.MEDIA_ROOT = str(tmp_path / "media")
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def operator_client(refdata):
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user("op-disp", password="pw-op-disp")
    user.groups.add(Group.objects.get(name="operator"))
    c = APIClient()
    c.force_authenticate(user)
    return c


@pytest.fixture
def quiet():
    """No automatic dispatch while the scene is set up (transactional tests run on_commit at once)."""
    from dispatch import receivers
    from incidents.signals import report_routed
    from tracking.signals import position_updated, presence_changed

    wiring = [
        (report_routed, receivers.on_report_routed, "dispatch_on_routed"),
        (position_updated, receivers.on_position_updated, "dispatch_on_position"),
        (presence_changed, receivers.on_presence_changed, "dispatch_on_presence"),
    ]
    for signal, _, uid in wiring:
        signal.disconnect(dispatch_uid=uid)
    yield
    for signal, fn, uid in wiring:
        signal.connect(fn, dispatch_uid=uid)


def phone(sup) -> APIClient:
    """A client with the supervisor's phone credentials (device token)."""
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Bearer {sup.token}", HTTP_X_DEVICE_ID=sup.device.device_id)
    return c


@pytest.fixture
def offered(refdata, city):
    """A report in Cipondoh offered to the nearer of two supervisors: (report, order, first, second)."""
    from dispatch import dispatcher
    from dispatch.models import Order

    def inside(depth_m):
        return border_pair(city, CIPONDOH, TANGERANG, depth_m=depth_m)[1]

    first = supervisor_at(inside(400))
    second = supervisor_at(inside(800))
    report = report_at(inside(300))
    dispatcher.dispatch(report, trigger="test")
    order = Order.objects.get(report=report)
    assert order.supervisor_id == first.pk
    return report, order, first, second
