"""Constructed reports on the real Kota Tangerang boundaries, with the expected numbers worked out here.

`scenario` builds a deterministic mix of reports in March 2024 (the period), in the previous
period of the same length (30 Jan - 29 Feb 2024) and outside both, with known times to dispatch
and resolve, reporters' contact details that must never appear in an export, and one report
outside the city. `expected_*` helpers recompute every number in plain Python from the specs.
"""

from __future__ import annotations

import json
import random
import statistics
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.contrib.gis.geos import Point

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "kota_tangerang"
WIB = ZoneInfo("Asia/Jakarta")
PERIOD = (date(2024, 3, 1), date(2024, 3, 31))
PREVIOUS = (date(2024, 1, 30), date(2024, 2, 29))
SECRET_PHONE = "+62 812 7777 0001"
SECRET_EMAIL = "warga.rahasia@example.org"
SECRET_NAME = "Siti Rahasiawati"
SECRET_HANDLE = "@rahasia_warga"


def kelurahan_points() -> list[dict]:
    data = json.loads((FIXTURES / "kota_tangerang_kelurahan.geojson").read_text())
    return [
        {
            "code": f["properties"]["code"],
            "kecamatan_code": f["properties"]["kecamatan_code"],
            "lat": f["properties"]["src_centroid_lat"],
            "lon": f["properties"]["src_centroid_lng"],
        }
        for f in data["features"]
    ]


@pytest.fixture(autouse=True)
def _no_tiles(settings):
    """Tests never fetch base-map tiles."""
    settings.PLANNING_TILES_URL = ""


@pytest.fixture
def refdata(city):
    """OPDs, categories and role groups, as `manage.py bootstrap` loads them."""
    from incidents.bootstrap import bootstrap

    bootstrap(log=lambda m: None)
    from incidents.models import Category

    return {c.code: c for c in Category.objects.select_related("opd")}


@dataclass
class Spec:
    kelurahan: str | None  # None = outside the city
    kecamatan: str | None
    category: str
    opd: str
    channel: str
    status: str
    created: datetime  # aware
    dispatch_min: float | None
    resolve_min: float | None


def wib(y, m, d, hh=0, mm=0, ss=0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=WIB)


def make_specs(categories: dict, seed: int = 7) -> list[Spec]:
    rng = random.Random(seed)
    points = kelurahan_points()
    # a few kecamatan get most reports so the ranking is clear; others get some or none
    busy = [p for p in points if p["kecamatan_code"] in ("36.71.01", "36.71.04", "36.71.09")]
    cats = ["banjir", "kemacetan", "pohon-tumbang", "lampu-lalu-lintas-mati"]
    cats = [c for c in cats if c in categories] or list(categories)[:4]
    channels = ["app", "web", "twitter", "open311"]
    specs: list[Spec] = []

    def add(created: datetime, where: dict | None | str = "random", **kw) -> None:
        if where == "random":
            where = rng.choice(busy) if rng.random() < 0.7 else rng.choice(points)
        code = kw.pop("category", rng.choice(cats))
        dispatch = kw.pop("dispatch_min", rng.choice([None, rng.randint(1, 90)]))
        resolve = kw.pop("resolve_min", rng.choice([None, rng.randint(60, 3000)]) if dispatch else None)
        status = "resolved" if resolve else ("dispatched" if dispatch else "routed")
        specs.append(
            Spec(
                where["code"] if where else None,
                where["kecamatan_code"] if where else None,
                code,
                categories[code].opd.code,
                kw.pop("channel", rng.choice(channels)),
                status,
                created,
                dispatch,
                resolve,
            )
        )

    start = wib(2024, 3, 1)
    for _ in range(160):  # the period
        add(start + timedelta(seconds=rng.randint(0, 31 * 86400 - 1)))
    prev = wib(2024, 1, 30)
    for _ in range(70):  # the previous period
        add(prev + timedelta(seconds=rng.randint(0, 31 * 86400 - 1)))
    for created in (wib(2024, 1, 29, 23, 59), wib(2024, 4, 1, 0, 0), wib(2024, 5, 3, 10)):  # outside both
        add(created)
    # the edges: first and last second of the period (03:00 WIB on 1 March is still 29 Feb in UTC)
    add(wib(2024, 3, 1, 0, 0, 0), points[0])
    add(wib(2024, 3, 1, 3, 0), points[1])
    add(wib(2024, 3, 31, 23, 59, 59), points[2])
    add(wib(2024, 2, 29, 23, 59, 59), points[3])  # previous period
    add(wib(2024, 3, 10, 9), None)  # outside the city (no kecamatan)
    return specs


def create_reports(specs: list[Spec], categories: dict, city: dict) -> list:
    from incidents.models import Report
    from kecamatan_boundaries.models import Kelurahan

    kel = {k.code: k for k in Kelurahan.objects.current()}
    points = {p["code"]: p for p in kelurahan_points()}
    rows = []
    for i, s in enumerate(specs):
        if s.kelurahan:
            p = points[s.kelurahan]
            location = Point(p["lon"], p["lat"], srid=4326)
        else:
            location = Point(106.8456, -6.2088, srid=4326)  # Jakarta
        c = categories[s.category]
        rows.append(
            Report(
                category=c,
                opd=c.opd,
                location=location,
                kecamatan=city[s.kecamatan] if s.kecamatan else None,
                kelurahan=kel[s.kelurahan] if s.kelurahan else None,
                status=s.status,
                channel=s.channel,
                description=f"laporan uji {i}",
                reporter_name=SECRET_NAME,
                reporter_phone=SECRET_PHONE,
                reporter_email=SECRET_EMAIL,
                reporter_handle=SECRET_HANDLE,
                created_at=s.created,
                routed_at=s.created,
                dispatched_at=s.created + timedelta(minutes=s.dispatch_min) if s.dispatch_min else None,
                resolved_at=s.created + timedelta(minutes=s.resolve_min) if s.resolve_min else None,
            )
        )
    return Report.objects.bulk_create(rows)


def in_period(s: Spec, period=PERIOD) -> bool:
    start = wib(period[0].year, period[0].month, period[0].day)
    end = wib(period[1].year, period[1].month, period[1].day) + timedelta(days=1)
    return start <= s.created < end


def p(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def expected(specs: list[Spec], key, *, targets: dict, previous=PREVIOUS, period=PERIOD) -> dict:
    """key(spec) -> group; returns group -> numbers, worked out without SQL."""
    out: dict = {}
    current = [s for s in specs if in_period(s, period)]
    total = len(current)
    groups = {key(s) for s in specs if in_period(s, period) or in_period(s, previous)}
    for g in groups:
        cur = [s for s in current if key(s) == g]
        prev = [s for s in specs if in_period(s, previous) and key(s) == g]
        d = [s.dispatch_min for s in cur if s.dispatch_min is not None]
        r = [s.resolve_min for s in cur if s.resolve_min is not None]
        over_d = [s for s in cur if s.dispatch_min is not None and s.dispatch_min > targets[s.category][0]]
        over_r = [s for s in cur if s.resolve_min is not None and s.resolve_min > targets[s.category][1]]
        out[g] = {
            "reports": len(cur),
            "previous": len(prev),
            "share_pct": 100 * len(cur) / total if total else 0,
            "dispatched": len(d),
            "dispatch_median_min": statistics.median(d) if d else None,
            "dispatch_p90_min": p(d, 90),
            "dispatch_over_target_pct": 100 * len(over_d) / len(d) if d else None,
            "resolved": len(r),
            "resolve_median_min": statistics.median(r) if r else None,
            "resolve_p90_min": p(r, 90),
            "resolve_over_target_pct": 100 * len(over_r) / len(r) if r else None,
        }
    return out


@pytest.fixture
def scenario(refdata, city):
    specs = make_specs(refdata)
    create_reports(specs, refdata, city)
    targets = {c.code: (c.target_dispatch_minutes, c.target_resolve_minutes) for c in refdata.values()}
    return {"specs": specs, "targets": targets, "categories": refdata}


@pytest.fixture
def planner(refdata):
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user("planner1", password="pw-planner1")
    user.groups.add(Group.objects.get(name="planner"))
    return user


@pytest.fixture
def operator_user(refdata):
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user("operator1", password="pw-operator1")
    user.groups.add(Group.objects.get(name="operator"))
    return user
