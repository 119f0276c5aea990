"""Dispatch benchmarks, in a scratch database `bench_dispatch` (dropped after).

In one run, on the same data:
  (a) the dispatch decision (candidates, presence, workload, ranking) with the KNN query on the
      latest-position GiST index, p50/p95 over R reports at random places in the city;
  (b) the baseline: the same decision, but the spatial step computes the geodesic distance to
      every supervisor of the OPD with index scans switched off;
  (c) the full dispatch (decision + order + report status + timer, committed);
  (d) report -> "my orders": POST /api/reports/ through Django's full request stack (the
      dispatcher runs when the report is routed), then GET /api/my/orders/ with the chosen
      supervisor's device token until the order is there.

Supervisors are spread at random over the 13 kecamatan, 5 field OPDs, all-day shifts, ~85 %
with a fresh fix. The ping history (10-second pings in daily partitions) is there so table and
cache sizes are realistic; the decision itself reads only the latest positions.

Defaults run in a few minutes. A whole city at full scale:
  .venv/bin/python bench/bench_dispatch.py --supervisors 10000 --pings 10000000
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geoapp.settings")

from bench.scratch import ms, scratch_database

BENCH_DB = "bench_dispatch"
FIELD_OPDS = ["dishub", "dbmsda", "dkp", "satpolpp", "bpbd"]
CATEGORY_OF = {
    "dishub": "kemacetan",
    "dbmsda": "jalan-rusak",
    "dkp": "sampah",
    "satpolpp": "gangguan-keamanan-ketertiban",
    "bpbd": "banjir",
}


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--supervisors", type=int, default=2000, help="supervisors (full scale: 10000)")
    p.add_argument("--pings", type=int, default=500_000, help="rows of ping history (full scale: 10000000)")
    p.add_argument("--reports", type=int, default=200, help="decisions timed")
    p.add_argument("--latency", type=int, default=50, help="report -> my orders round trips")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    return p.parse_args()


def show(label: str, values: list[float], baseline: list[float] | None = None) -> None:
    if not values:
        print(f"{label:<52} n=    0")
        return
    extra = ""
    if baseline:
        extra = f"   ({statistics.median(baseline) / statistics.median(values):5.1f}x faster than the baseline p50)"
    print(f"{label:<52} n={len(values):>5}  p50 {ms(values, 0.5):8.2f} ms  p95 {ms(values, 0.95):8.2f} ms{extra}")


def main() -> None:
    args = parse()
    # The bench posts many reports from one client: lift the anonymous rate limit.
    with scratch_database(BENCH_DB, keep=args.keep, INCIDENTS_ANON_RATE="1000000/hour"):
        run(args)


def random_points(rng: random.Random, n: int) -> list[tuple[float, float, str]]:
    """(lon, lat, kecamatan code) uniformly inside the city."""
    import numpy as np

    from kecamatan_boundaries.lookup import kecamatan_index

    index = kecamatan_index.get()
    out: list[tuple[float, float, str]] = []
    while len(out) < n:
        lons = np.array([rng.uniform(106.57, 106.73) for _ in range(n)])
        lats = np.array([rng.uniform(-6.26, -6.12) for _ in range(n)])
        for lon, lat, area in zip(lons, lats, index.locate_many(lons, lats), strict=True):
            if area is not None:
                out.append((float(lon), float(lat), area.code))
    return out[:n]


def setup(args, rng):
    from django.contrib.gis.geos import Point
    from django.db import connection, transaction
    from django.utils import timezone
    from tqdm import tqdm

    from incidents.models import OPD
    from tracking import partitions
    from tracking.models import Device, LatestPosition, Shift, Supervisor

    opds = {o.code: o for o in OPD.objects.filter(code__in=FIELD_OPDS)}
    now = timezone.now()
    places = random_points(rng, args.supervisors)
    tokens: dict[int, str] = {}
    with transaction.atomic():
        sups = Supervisor.objects.bulk_create(
            [
                Supervisor(name=f"Pengawas {i}", opd=opds[FIELD_OPDS[i % 5]], kecamatan_codes=[kec])
                for i, (_, _, kec) in enumerate(places)
            ],
            batch_size=2000,
        )
        Shift.objects.bulk_create(
            [Shift(supervisor=s, weekday=d, start="00:00", end="00:00") for s in sups for d in range(7)],
            batch_size=5000,
        )
        devices = []
        for s in sups:
            d = Device(supervisor=s, device_id=f"bench-{s.pk}")
            tokens[s.pk] = d.issue_token()
            devices.append(d)
        Device.objects.bulk_create(devices, batch_size=2000)
        LatestPosition.objects.bulk_create(
            [
                LatestPosition(
                    supervisor=s,
                    device=d,
                    point=Point(lon, lat, srid=4326),
                    device_time=now - timedelta(seconds=rng.uniform(0, 240) if rng.random() < 0.85 else 3600),
                    received_at=now,
                    accuracy=10,
                    kecamatan_code=kec,
                    in_area=True,
                )
                for s, d, (lon, lat, kec) in zip(sups, devices, places, strict=True)
            ],
            batch_size=2000,
        )
    # ping history: 10-second pings going back from now, spread over the devices
    per_device = max(1, args.pings // len(devices))
    days = {
        (now - timedelta(seconds=10 * per_device)).date() + timedelta(days=i)
        for i in range((10 * per_device) // 86400 + 2)
    }
    partitions.ensure_days(days)
    chunk = max(1, 200_000 // per_device)
    with tqdm(total=per_device * len(devices), desc="ping history", unit="ping") as bar:
        for start in range(0, len(devices), chunk):
            ids = [d.pk for d in devices[start : start + chunk]]
            with connection.cursor() as cur:
                cur.execute(
                    "INSERT INTO tracking_ping (device_id, supervisor_id, device_time, received_at, point, accuracy, "
                    "mock, in_area, kecamatan_code, source) "
                    "SELECT d.id, d.supervisor_id, %s - make_interval(secs => 10 * g), %s, lp.point, 10, false, true, "
                    "lp.kecamatan_code, 'bench' FROM tracking_device d "
                    "JOIN tracking_latestposition lp ON lp.supervisor_id = d.supervisor_id "
                    "CROSS JOIN generate_series(1, %s) g WHERE d.id = ANY(%s) ON CONFLICT DO NOTHING",
                    [now, now, per_device, ids],
                )
            bar.update(per_device * len(ids))
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    return tokens


def refresh_fixes(seed: int) -> None:
    """Fresh fixes again (set-up takes minutes): ~85 % pinged within the last minute, the rest an hour ago."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT setseed(%s)", [seed / 1000])
        cur.execute(
            "UPDATE tracking_latestposition SET device_time = now() - CASE WHEN random() < 0.85 "
            "THEN make_interval(secs => random() * 60) ELSE interval '1 hour' END"
        )


def nearest_without_index(report, kecamatan, *, inside: bool, limit: int):
    """Baseline: the geodesic distance to every supervisor of the OPD, no index, then the kecamatan filter."""
    from django.db import connection

    from kecamatan_boundaries.models import Kecamatan

    with connection.cursor() as cur:
        cur.execute("SET LOCAL enable_indexscan = off")
        cur.execute("SET LOCAL enable_bitmapscan = off")
        cur.execute(
            f"""SELECT * FROM (
                  SELECT lp.supervisor_id, ST_Distance(lp.point::geography, r.pt::geography) AS d,
                         ST_Covers(k.geom, lp.point) AS inside
                  FROM tracking_latestposition lp JOIN tracking_supervisor s ON s.id = lp.supervisor_id
                  CROSS JOIN (SELECT ST_SetSRID(ST_MakePoint(%s, %s), 4326) AS pt) r
                  CROSS JOIN (SELECT geom FROM {Kecamatan._meta.db_table} WHERE id = %s) k
                  WHERE s.opd_id = %s AND s.active ORDER BY d) x
                WHERE inside = %s LIMIT %s""",
            [report.location.x, report.location.y, kecamatan.pk, report.opd_id, inside, limit],
        )
        rows = cur.fetchall()
    return [(sid, float(d)) for sid, d, _ in rows]


def run(args) -> None:
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.test import Client
    from tqdm import tqdm

    from dispatch import candidates, dispatcher
    from dispatch.models import Order
    from incidents.bootstrap import bootstrap as incidents_bootstrap
    from incidents.intake import ReportInput, submit_report
    from incidents.signals import report_routed
    from kecamatan_boundaries.bootstrap import load_city_boundaries

    rng = random.Random(args.seed)
    with connection.cursor() as cur:
        cur.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    call_command("migrate", verbosity=0)
    load_city_boundaries(log=lambda m: None)
    incidents_bootstrap(log=lambda m: None)
    t0 = time.perf_counter()
    tokens = setup(args, rng)
    print(
        f"set-up: {args.supervisors} supervisors, ~{args.pings:,} pings of history in {time.perf_counter() - t0:.0f} s"
    )

    # reports at random places, without automatic dispatch (we time the decision ourselves)
    from django.contrib.gis.geos import Point

    report_routed.disconnect(dispatch_uid="dispatch_on_routed")
    reports = []
    for i, (lon, lat, _) in enumerate(tqdm(random_points(rng, args.reports), desc="reports")):
        opd = FIELD_OPDS[i % 5]
        reports.append(
            submit_report(ReportInput(category=CATEGORY_OF[opd], location=Point(lon, lat, srid=4326))).report
        )

    def decide(report):
        return candidates.rank(candidates.judge(report))

    refresh_fixes(args.seed)
    knn, base, chosen_same = [], [], 0
    original = candidates.nearest_positions
    for report in tqdm(reports, desc="decisions (KNN vs baseline)"):
        with transaction.atomic():
            t = time.perf_counter()
            a = decide(report)
            knn.append(time.perf_counter() - t)
        candidates.nearest_positions = nearest_without_index
        try:
            with transaction.atomic():
                t = time.perf_counter()
                b = decide(report)
                base.append(time.perf_counter() - t)
        finally:
            candidates.nearest_positions = original
        chosen_same += [c.supervisor_id for c in a[:1]] == [c.supervisor_id for c in b[:1]]

    # the spatial step alone: candidates in the kecamatan, nearest first
    spatial_knn, spatial_base = [], []
    for report in tqdm(reports, desc="spatial step alone"):
        kec = candidates.current_kecamatan(report)
        with transaction.atomic():
            t = time.perf_counter()
            candidates.nearest_positions(report, kec, inside=True, limit=200)
            spatial_knn.append(time.perf_counter() - t)
        with transaction.atomic():
            t = time.perf_counter()
            nearest_without_index(report, kec, inside=True, limit=200)
            spatial_base.append(time.perf_counter() - t)

    refresh_fixes(args.seed)
    full = []
    for report in tqdm(reports, desc="full dispatch (committed)"):
        t = time.perf_counter()
        dispatcher.dispatch(report.pk, trigger="bench")
        full.append(time.perf_counter() - t)
    offered = Order.objects.count()

    # report -> my orders, through the request stack, automatic dispatch on routing
    from dispatch.receivers import on_report_routed

    report_routed.connect(on_report_routed, dispatch_uid="dispatch_on_routed")
    Order.objects.update(state="resolved")  # free everyone's workload for a clean latency run
    refresh_fixes(args.seed)
    client = Client()
    latency, missing = [], 0
    for i, (lon, lat, _) in enumerate(tqdm(random_points(rng, args.latency), desc="report -> my orders")):
        opd = FIELD_OPDS[i % 5]
        t = time.perf_counter()
        r = client.post(
            "/api/reports/", {"category": CATEGORY_OF[opd], "lat": lat, "lon": lon}, content_type="application/json"
        )
        assert r.status_code == 201, r.content
        order = Order.objects.filter(report__public_id=r.json()["id"]).first()
        if order is None:
            missing += 1  # nobody fitting in that kecamatan: awaiting, not an order
            continue
        headers = {
            "Authorization": f"Bearer {tokens[order.supervisor_id]}",
            "X-Device-Id": f"bench-{order.supervisor_id}",
        }
        mine = client.get("/api/my/orders/", headers=headers).json()
        assert any(o["report"]["public_id"] == r.json()["id"] for o in mine)
        latency.append(time.perf_counter() - t)

    print()
    print(f"supervisors {args.supervisors}, ping history {args.pings:,}, reports {len(reports)} ({offered} offered)")
    show("(b) decision, baseline: distance to every supervisor", base)
    show("(a) decision, KNN on the latest-position GiST index", knn, base)
    print(f"    same winner in both: {chosen_same}/{len(reports)}")
    show("    spatial step alone, baseline (no index)", spatial_base)
    show("    spatial step alone, KNN + bbox on the GiST index", spatial_knn, spatial_base)
    show("(c) full dispatch (decision + order + timer, committed)", full)
    show("(d) report POST -> order in GET /api/my/orders/", latency)
    if missing:
        print(f"    {missing} of {args.latency} reports found nobody fitting (awaiting) and are not in the figure")


if __name__ == "__main__":
    main()
