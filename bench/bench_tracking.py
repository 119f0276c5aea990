"""Ping ingestion and attendance benchmarks, in a scratch database `bench_tracking` (dropped after).

In one run, on the same partitioned table and indexes:
  (a) raw binary COPY of pings into tracking_ping, 1000 rows per COPY  -> the limit (baseline)
  (b) the native batch endpoint over real HTTP, 1000 pings per request -> the issue wants >= 50 % of (a)
  (c) single pings in the OsmAnd form over real HTTP
  (d) attendance for S supervisors over D days of 10-second pings (all-day shifts), in SQL

Defaults run in a few minutes. The issue's sizes:
  .venv/bin/python bench/bench_tracking.py --copy-batches 500 --http-batches 200 --single 5000 \
      --supervisors 300 --days 30
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geoapp.settings")

import geoapp.settings as project_settings  # noqa: E402

BENCH_DB = os.environ.get("BENCH_TRACKING_DB", "bench_tracking")
COPY_TYPES = ["int8", "int8", "timestamptz", "timestamptz", "bytea", "float8", "bool", "bool", "text", "text"]


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--copy-batches", type=int, default=100, help="COPY statements of 1000 rows (a)")
    p.add_argument("--http-batches", type=int, default=50, help="batch requests of 1000 pings (b)")
    p.add_argument("--single", type=int, default=500, help="single OsmAnd requests (c)")
    p.add_argument("--supervisors", type=int, default=30, help="supervisors for attendance (d)")
    p.add_argument("--days", type=int, default=1, help="days of 10-second pings for attendance (d)")
    p.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    return p.parse_args()


def admin_conn():
    import psycopg

    db = project_settings.DATABASES["default"]
    return psycopg.connect(
        host=db.get("HOST") or None, port=db.get("PORT") or None, user=db.get("USER") or None,
        password=db.get("PASSWORD") or None, dbname="postgres", autocommit=True,
    )  # fmt: skip


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


def line(label: str, n: int, seconds: float, lat: list[float] | None = None, baseline: float | None = None) -> float:
    rate = n / seconds if seconds else 0
    extra = f"  p50 {pct(lat, 0.5):7.1f} ms  p99 {pct(lat, 0.99):7.1f} ms" if lat else ""
    vs = f"  ({rate / baseline:5.1%} of COPY)" if baseline else ""
    print(f"{label:<38} {n:>9} pings  {seconds:7.2f} s  {rate:>10,.0f} pings/s{extra}{vs}")
    return rate


def main() -> None:
    args = parse()
    with admin_conn() as c:
        c.execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")
        c.execute(f"CREATE DATABASE {BENCH_DB}")
    project_settings.DATABASES["default"]["NAME"] = BENCH_DB
    project_settings.DEBUG = False
    project_settings.ALLOWED_HOSTS = ["*"]
    import django

    django.setup()
    try:
        run(args)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            with admin_conn() as c:
                c.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")


def run(args: argparse.Namespace) -> None:
    import requests
    import shapely
    from django.core.management import call_command
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application
    from django.db import connection
    from tqdm import tqdm

    from kecamatan_boundaries.bootstrap import load_city_boundaries
    from tracking import attendance, partitions
    from tracking.models import Device
    from tracking.presence import wib_date
    from tracking.simulator import setup_fleet

    with connection.cursor() as cur:
        cur.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    call_command("migrate", verbosity=0)
    load_city_boundaries(log=lambda m: None)
    n_sup = max(args.supervisors, 10)
    phones = setup_fleet(n_sup, prefix="bench", seed=3)
    devices = {d.device_id: d for d in Device.objects.all()}
    now = datetime.now(UTC).replace(microsecond=0)

    def rows_for(phone, start: datetime, count: int):
        dev = devices[phone.device_id]
        wkb = shapely.to_wkb(shapely.set_srid(shapely.Point(phone.lon, phone.lat), 4326), include_srid=True)
        return [
            (
                dev.pk,
                dev.supervisor_id,
                start + timedelta(seconds=10 * i),
                now,
                wkb,
                10.0,
                False,
                True,
                "36.71.01",
                "copy",
            )
            for i in range(count)
        ]

    def copy_rows(rows) -> None:
        with connection.cursor() as cur:
            with cur.copy(
                "COPY tracking_ping (device_id, supervisor_id, device_time, received_at, point, accuracy, mock,"
                " in_area, kecamatan_code, source) FROM STDIN (FORMAT BINARY)"
            ) as cp:
                cp.set_types(COPY_TYPES)
                for r in rows:
                    cp.write_row(r)

    span = timedelta(seconds=10 * 1000)  # one device's 1000 buffered pings
    partitions.ensure_days({(now - timedelta(days=d)).date() for d in range(0, 5 + args.days)} | {now.date()})

    print(f"bench_tracking: {n_sup} supervisors, PostgreSQL {connection.pg_version}, {datetime.now():%Y-%m-%d %H:%M}")
    # (a) raw binary COPY, the limit
    lat, total = [], 0
    t0 = time.perf_counter()
    for b in tqdm(range(args.copy_batches), desc="(a) COPY", leave=False):
        phone = phones[b % len(phones)]
        rows = rows_for(phone, now - timedelta(hours=70) + (b // len(phones)) * span, 1000)
        s = time.perf_counter()
        copy_rows(rows)
        lat.append(time.perf_counter() - s)
        total += len(rows)
    copy_rate = line("(a) binary COPY, 1000 rows each", total, time.perf_counter() - t0, lat)

    app = get_wsgi_application()
    server = ThreadedWSGIServer(("127.0.0.1", 0), WSGIRequestHandler, allow_reuse_address=True)
    WSGIRequestHandler.log_message = lambda *a, **k: None
    server.set_app(app)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    http = requests.Session()

    # (b) native batch endpoint, 1000 pings per request, each request one phone's buffer
    lat, total = [], 0
    t0 = time.perf_counter()
    for b in tqdm(range(args.http_batches), desc="(b) batch", leave=False):
        phone = phones[b % len(phones)]
        start = now - timedelta(hours=40) + (b // len(phones)) * span
        pings = [
            {
                "time": (start + timedelta(seconds=10 * i)).isoformat(),
                "lat": phone.lat,
                "lon": phone.lon,
                "accuracy": 10,
            }
            for i in range(1000)
        ]
        s = time.perf_counter()
        r = http.post(
            f"{base}/api/tracking/pings/",
            json={"pings": pings},
            headers={"Authorization": f"Bearer {phone.token}", "X-Device-Id": phone.device_id},
        )
        lat.append(time.perf_counter() - s)
        assert r.status_code == 200 and r.json()["stored"] == 1000, r.text[:300]
        total += 1000
    line("(b) batch endpoint, 1000 per request", total, time.perf_counter() - t0, lat, copy_rate)

    # (c) single OsmAnd pings (Traccar Client form)
    lat = []
    t0 = time.perf_counter()
    for i in tqdm(range(args.single), desc="(c) OsmAnd", leave=False):
        phone = phones[i % len(phones)]
        ts = now - timedelta(hours=4) + timedelta(seconds=10 * (i // len(phones)))
        s = time.perf_counter()
        r = http.get(
            f"{base}/tracking/osmand/",
            params={"id": phone.device_id, "token": phone.token, "timestamp": int(ts.timestamp()),
                    "lat": phone.lat, "lon": phone.lon, "speed": 0, "accuracy": 10, "batt": 80},
        )  # fmt: skip
        lat.append(time.perf_counter() - s)
        assert r.status_code == 200, r.text[:300]
    line("(c) single OsmAnd pings", args.single, time.perf_counter() - t0, lat, copy_rate)
    server.shutdown()

    # (d) attendance: S supervisors x D days of 10-second pings (all-day shifts)
    att_phones = phones[: args.supervisors]
    first_day = wib_date(now) - timedelta(days=args.days + 1)
    from tracking.presence import WIB

    day_start = datetime.combine(first_day, datetime.min.time(), WIB)
    partitions.ensure_days({(day_start + timedelta(days=d)).astimezone(UTC).date() for d in range(args.days + 2)})
    with connection.cursor() as cur:
        cur.execute("DELETE FROM tracking_ping WHERE source = 'copy'")
    n_rows = 0
    for p in tqdm(att_phones, desc="(d) history", leave=False):
        rows = rows_for(p, day_start, 8640 * args.days)
        rows = [r[:9] + ("att",) for r in rows]
        copy_rows(rows)
        n_rows += len(rows)
    with connection.cursor() as cur:
        cur.execute("ANALYZE tracking_ping")
    t0 = time.perf_counter()
    for d in range(args.days):
        attendance.compute_day(first_day + timedelta(days=d), [devices[p.device_id].supervisor_id for p in att_phones])
    line(f"(d) attendance {len(att_phones)} sup x {args.days} d", n_rows, time.perf_counter() - t0)


if __name__ == "__main__":
    main()
