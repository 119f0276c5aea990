"""Report intake throughput and the cost of routing, in one run, against a baseline.

(a) baseline: a plain Django view that parses the JSON body and echoes it back;
(b) POST /api/reports/ with the same JSON (no media): validation, kecamatan/kelurahan lookup,
    OPD, duplicate check, report + timeline rows, all in one transaction; in thirds: with the
    other apps' receivers (dispatch, the console) detached, with them in the request
    (GEOAPP_RELAY=inline), and relayed to the worker (GEOAPP_RELAY=worker), whose announcing of
    those changes (dispatch included) is then timed on its own;
(c) routing alone, per report: kecamatan + kelurahan (PostGIS), OPD, duplicate check.

Both (a) and (b) go through Django's in-process test client (the same WSGI stack, no sockets),
sequentially, so the difference is what intake adds. Runs in its own database `bench_intake`
(created, migrated, dropped unless --keep-db).

    .venv/bin/python bench/bench_intake.py [--reports 500] [--routing 1000] [--keep-db]
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geoapp.settings")

import django

django.setup()

import numpy as np  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.gis.geos import Point  # noqa: E402
from django.db import connection  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.urls import include, path  # noqa: E402
from django.utils import timezone  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402
from tqdm import tqdm  # noqa: E402

from incidents.signals import report_changed, report_routed  # noqa: E402

SIGNALS = (report_changed, report_routed)
FIXTURE = Path(settings.BASE_DIR) / "fixtures" / "kota_tangerang" / "kota_tangerang_kelurahan.geojson"


@csrf_exempt
def echo(request):
    """The baseline: parse the JSON and send it back."""
    return HttpResponse(json.dumps(json.loads(request.body)), content_type="application/json")


urlpatterns = [path("bench/echo/", echo), path("", include("incidents.urls"))]


def percentiles(samples: list[float]) -> tuple[float, float]:
    ms = sorted(s * 1000 for s in samples)
    return statistics.median(ms), ms[min(len(ms) - 1, int(len(ms) * 0.99))]


def points(n: int, seed: int) -> list[tuple[float, float]]:
    """Kelurahan centroids jittered by up to ~400 m, kept inside the city: realistic spread, some duplicates."""
    from kecamatan_boundaries.models import Kecamatan

    feats = json.loads(FIXTURE.read_text())["features"]
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        p = feats[rng.integers(len(feats))]["properties"]
        lon = float(p["src_centroid_lng"] + rng.uniform(-0.0036, 0.0036))
        lat = float(p["src_centroid_lat"] + rng.uniform(-0.0036, 0.0036))
        if Kecamatan.objects.at(Point(lon, lat, srid=4326)) is not None:
            out.append((lon, lat))
    return out


def detach_receivers() -> list:
    """Intake alone: other apps (dispatch, live console) hook report_routed/report_changed."""
    saved = []
    for sig in SIGNALS:
        saved.append(list(sig.receivers))
        sig.receivers = []
        sig.sender_receivers_cache.clear()
    return saved


def restore_receivers(saved: list) -> None:
    for sig, receivers in zip(SIGNALS, saved, strict=True):
        sig.receivers = receivers
        sig.sender_receivers_cache.clear()


def run(label: str, fn, items) -> list[float]:
    times = []
    for item in tqdm(items, desc=label, leave=False):
        start = time.perf_counter()
        fn(item)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=500, help="reports POSTed (and echo requests)")
    parser.add_argument("--routing", type=int, default=1000, help="points routed in (c)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()

    connection.settings_dict["TEST"]["NAME"] = "bench_intake"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        from incidents.bootstrap import bootstrap as incidents_bootstrap
        from kecamatan_boundaries.bootstrap import load_city_boundaries

        load_city_boundaries(log=lambda m: None)
        incidents_bootstrap(log=lambda m: None)
        bench(args)
    finally:
        if not args.keep_db:
            connection.creation.destroy_test_db(old_name, verbosity=0)


def bench(args) -> None:
    from core import relay
    from incidents import routing
    from incidents.models import Category, Report

    codes = list(Category.objects.values_list("code", flat=True))
    rng = np.random.default_rng(args.seed)
    pts = points(args.reports, args.seed)
    bodies = [
        json.dumps(
            {
                "category": codes[rng.integers(len(codes))],
                "description": "Bench: laporan uji intake " + "x" * 120,
                "location": {"type": "Point", "coordinates": [lon, lat]},
                "reporter_name": "Bench",
                "reporter_phone": "+62811000000",
            }
        )
        for lon, lat in pts
    ]
    client = Client()
    with override_settings(ROOT_URLCONF=__name__, INCIDENTS_ANON_RATE="100000000/hour", DEBUG=False):
        for body in bodies[:20]:  # warm up: connections, caches, imports
            client.post("/bench/echo/", body, content_type="application/json")

        def echo_one(body):
            r = client.post("/bench/echo/", body, content_type="application/json")
            assert r.status_code == 200

        def intake_one(body):
            r = client.post("/api/reports/", body, content_type="application/json")
            assert r.status_code == 201, r.content

        t0 = time.perf_counter()
        echo_times = run("echo", echo_one, bodies)
        echo_wall = time.perf_counter() - t0
        third = len(bodies) // 3
        saved = detach_receivers()
        t0 = time.perf_counter()
        intake_times = run("intake", intake_one, bodies[:third])
        intake_wall = time.perf_counter() - t0
        restore_receivers(saved)
        with override_settings(GEOAPP_RELAY="inline"):
            t0 = time.perf_counter()
            hooked_times = run("intake + receivers", intake_one, bodies[third : 2 * third])
            hooked_wall = time.perf_counter() - t0
        with override_settings(GEOAPP_RELAY="worker"):
            t0 = time.perf_counter()
            relayed_times = run("intake, receivers in the worker", intake_one, bodies[2 * third :])
            relayed_wall = time.perf_counter() - t0
            t0 = time.perf_counter()
            announced = relay.drain(limit=10 * len(bodies))
            drain_wall = time.perf_counter() - t0
        hooked = sorted({r[0][0] for sig in SIGNALS for r in sig.receivers if isinstance(r[0][0], str)})

    # (c) routing alone on more points
    route_pts = points(args.routing, args.seed + 1)
    since = timezone.now() - timezone.timedelta(hours=24)
    categories = list(Category.objects.select_related("opd"))

    def locate(p):
        routing.locate(Point(p[0], p[1], srid=4326))

    def route_all(p):
        point = Point(p[0], p[1], srid=4326)
        place = routing.locate(point)
        category = categories[hash(p) % len(categories)]
        routing.opd_for(category)
        list(Report.objects.likely_duplicates_of(category, point, since)[:5])
        return place

    def dup_only(p):
        point = Point(p[0], p[1], srid=4326)
        list(Report.objects.likely_duplicates_of(categories[0], point, since)[:5])

    locate_times = run("kecamatan+kelurahan", locate, route_pts)
    dup_times = run("duplicate check", dup_only, route_pts)
    route_times = run("routing total", route_all, route_pts)

    n = args.reports
    print(f"\nIntake, {n} JSON reports without media, sequential, in-process client ({Report.objects.count()} stored)")
    print(f"{'':44} {'reports/s':>10} {'p50 ms':>8} {'p99 ms':>8}")
    for label, times, wall in [
        ("baseline: parse + echo view", echo_times, echo_wall),
        ("POST /api/reports/ (intake alone)", intake_times, intake_wall),
        ("POST /api/reports/ + receivers in the request", hooked_times, hooked_wall),
        ("POST /api/reports/, receivers in the worker", relayed_times, relayed_wall),
    ]:
        p50, p99 = percentiles(times)
        print(f"{label:44} {len(times) / wall:10.1f} {p50:8.2f} {p99:8.2f}")
    print(f"  (receivers connected in this project: {', '.join(hooked) or 'none'})")
    print(
        f"  the worker then announced {announced} changes of the last {len(relayed_times)} reports (incl. the"
        f" dispatch it ran) in {drain_wall:.2f} s: {len(relayed_times) / drain_wall:.1f} reports/s"
    )
    print(f"\nRouting cost per report ({args.routing} points, {Report.objects.count()} reports in the table)")
    print(f"{'':44} {'per s':>10} {'p50 ms':>8} {'p99 ms':>8}")
    for label, times in [
        ("kecamatan + kelurahan (PostGIS)", locate_times),
        ("duplicate check (250 m, 24 h)", dup_times),
        ("all routing (+ OPD from category)", route_times),
    ]:
        p50, p99 = percentiles(times)
        print(f"{label:44} {len(times) / sum(times):10.1f} {p50:8.2f} {p99:8.2f}")


if __name__ == "__main__":
    main()
