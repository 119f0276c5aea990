"""Console bench: first load (bytes, time) and ping-to-marker delay, in a real headless Chromium.

    .venv/bin/python bench/bench_console.py                       # small: 200 reports, 30 supervisors
    .venv/bin/python bench/bench_console.py --reports 2000 --supervisors 300   # the city's size

Data goes into a separate database (`bench_console`, created and dropped here). Open reports come
through incidents' intake, supervisors through tracking's models with a device and a token; the
server is Daphne (HTTP + WebSocket) in its own process, as in production. Supervisors then move:
each round every one of them posts a ping to the native tracking API (`POST /api/tracking/pings/`)
from a thread pool, like the fleet simulator; the browser records when each ping's marker moved.

Figures, each beside its baseline measured in the same run:
- first load of /console/ until the map is live: bytes over the wire and seconds;
  baseline: the same reports fetched from the generic paginated API (GET /api/reports/).
- ping-to-marker delay p50/p95 (ms from sending the ping to the marker moving in the browser);
  baseline: the ping request's own round trip (p50/p95), the floor any push could reach.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import time as dtime
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geoapp.settings")
os.environ["CONSOLE_TILE_URL"] = ""  # no tiles: measure the app, not a tile server
os.environ["GEOAPP_TEST_DB"] = "bench_console"

import django  # noqa: E402

django.setup()

import requests  # noqa: E402
from django.contrib.gis.geos import Point  # noqa: E402
from django.db import connections  # noqa: E402
from django.test import override_settings  # noqa: E402
from django.test.utils import setup_databases, teardown_databases  # noqa: E402
from django.utils import timezone  # noqa: E402
from tqdm import tqdm  # noqa: E402

from console.testing import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

FIELD_OPDS = ["dishub", "dbmsda", "dkp", "satpolpp", "bpbd"]


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def known_points() -> list[tuple[float, float, str]]:
    import json

    data = json.loads((ROOT / "fixtures/kota_tangerang/kota_tangerang_kelurahan.geojson").read_text())
    return [
        (f["properties"]["src_centroid_lng"], f["properties"]["src_centroid_lat"], f["properties"]["kecamatan_code"])
        for f in data["features"]
    ]


def make_data(n_reports: int, n_sups: int) -> tuple[list[dict], str]:
    from django.contrib.auth.models import Group, User

    from incidents.bootstrap import bootstrap
    from incidents.intake import ReportInput, submit_report
    from incidents.models import OPD, Category
    from kecamatan_boundaries.bootstrap import load_city_boundaries
    from tracking.fixes import Fix
    from tracking.ingest.pipeline import ingest
    from tracking.models import Device, Shift, Supervisor

    load_city_boundaries(log=lambda m: None)
    bootstrap(log=lambda m: None)
    op = User.objects.create_user("bench-op", password="bench-password-123")
    op.groups.add(Group.objects.get(name="operator"))
    pts = known_points()
    rng = random.Random(6)
    cats = list(Category.objects.filter(opd__code__in=FIELD_OPDS))
    sups = []
    opds = {o.code: o for o in OPD.objects.filter(code__in=FIELD_OPDS)}
    now = timezone.now()
    for i in tqdm(range(n_sups), desc="supervisors", unit="sup"):
        lon, lat, kec = pts[i % len(pts)]
        sup = Supervisor.objects.create(name=f"Pengawas {i}", opd=opds[FIELD_OPDS[i % 5]], kecamatan_codes=[kec])
        Shift.objects.bulk_create(Shift(supervisor=sup, weekday=d, start=dtime(0), end=dtime(0)) for d in range(7))
        dev = Device(supervisor=sup, device_id=f"bench-{sup.pk}")
        token = dev.issue_token()
        dev.save()
        # supervisors first and on duty, so each report is dispatched as it comes in (as in the
        # city), not all at once when the first round of pings would bring them on duty
        ingest(dev, [Fix(index=0, time=now - timedelta(seconds=30), lat=lat, lon=lon, accuracy=10)], "bench")
        sups.append({"id": sup.pk, "device": dev.device_id, "token": token, "lon": lon, "lat": lat})
    from incidents.routing import OutsideCity

    made = 0
    with tqdm(total=n_reports, desc="reports", unit="report") as bar:
        while made < n_reports:
            lon, lat, _ = rng.choice(pts)
            try:
                submit_report(
                    ReportInput(
                        category=rng.choice(cats),
                        description=f"laporan uji {made}",
                        location=Point(lon + rng.uniform(-0.001, 0.001), lat + rng.uniform(-0.001, 0.001), srid=4326),
                        client_ref="bench",
                    )
                )
            except OutsideCity:  # a jittered border point fell outside: pick another
                continue
            made += 1
            bar.update()
    return sups, "bench-op"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reports", type=int, default=200, help="open reports (a flood day: 2000)")
    parser.add_argument("--supervisors", type=int, default=30, help="moving supervisors (the city: 300)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of pings from every supervisor")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between rounds")
    parser.add_argument("--keep-db", action="store_true", help="do not drop bench_console at the end")
    args = parser.parse_args()

    from daphne.testing import DaphneProcess
    from playwright.sync_api import sync_playwright

    from console.testing import make_asgi_application, point_at_test_database

    # Setting up 2,000 reports takes minutes; a wider presence window keeps the seeded supervisors
    # on duty meanwhile (the server process is forked from this one and inherits it), so the
    # measured rounds are plain moving pings, not the dispatcher catching up on a backlog.
    override_settings(TRACKING_PRESENCE_WINDOW_S=3600).enable()  # sends setting_changed (tracking/settings.py)
    print(f"==> database bench_console: {args.reports} reports, {args.supervisors} supervisors")
    cfg = setup_databases(verbosity=0, interactive=False, aliases={"default"})
    process = None
    try:
        sups, username = make_data(args.reports, args.supervisors)
        connections.close_all()
        process = DaphneProcess("127.0.0.1", make_asgi_application, setup=point_at_test_database)
        process.start()
        if not process.ready.wait(60):
            raise RuntimeError("Daphne did not start")
        base = f"http://127.0.0.1:{process.port.value}"

        # baseline: the generic reports API, every page
        t0 = time.perf_counter()
        api_bytes, url, pages = 0, f"{base}/api/reports/?page_size=1000", 0
        s = requests.Session()
        s.auth = (username, "bench-password-123")
        while url:
            r = s.get(url, timeout=120)
            api_bytes += len(r.content)
            pages += 1
            url = r.json().get("next")
        api_s = time.perf_counter() - t0

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            ctx = browser.new_context(viewport={"width": 1400, "height": 900})
            page = ctx.new_page()
            page.on("pageerror", lambda e: print("page error:", e))
            page.goto(f"{base}/console/login/?next=/console/")
            page.fill("input[name=username]", username)
            page.fill("input[name=password]", "bench-password-123")
            page.click("[data-testid=login-submit]")
            page.wait_for_url(f"{base}/console/")
            page.wait_for_function("window.consoleReady === true", timeout=120_000)
            page.wait_for_selector("#livestate[data-state=live]", timeout=60_000)
            load = page.evaluate(
                """() => {
                const nav = performance.getEntriesByType('navigation')[0];
                const res = performance.getEntriesByType('resource');
                const bytes = nav.transferSize + res.reduce((a, r) => a + (r.transferSize || 0), 0);
                const data = res.filter(r => r.name.includes('/console/api/') || r.name.includes('/api/kecamatan/'))
                                .reduce((a, r) => a + (r.transferSize || 0), 0);
                return {bytes, data, ms: performance.now() - nav.startTime, reports: window.consoleMap.reports.size};
            }"""
            )
            print(
                f"\nfirst load of /console/ ({load['reports']} reports, {len(sups)} supervisors on the map)\n"
                f"  console:  {load['bytes'] / 1024:8.0f} KiB over the wire ({load['data'] / 1024:.0f} KiB map data), "
                f"{load['ms'] / 1000:.2f} s to a live map\n"
                f"  baseline: {api_bytes / 1024:8.0f} KiB from GET /api/reports/ ({pages} pages of 1000), "
                f"{api_s:.2f} s, reports only, no map, no supervisors",
                flush=True,
            )
            page.evaluate(
                """() => { window.__seen = {};
                window.consoleMap.onChange((k, f) => {
                    if (k === 'supervisor' && f.t) window.__seen[f.id + '@' + Date.parse(f.t)] = Date.now();
                }); }"""
            )

            sent: dict[str, float] = {}
            rtts: list[float] = []
            failed: list[int] = []
            rng = random.Random(4)

            def ping(sup: dict, when: float) -> None:
                sup["lon"] += rng.uniform(-0.0002, 0.0002)
                sup["lat"] += rng.uniform(-0.0002, 0.0002)
                t_ms = int(when * 1000)
                body = {"pings": [{"time": t_ms, "lat": sup["lat"], "lon": sup["lon"], "accuracy": 8}]}
                start = time.time()
                sent[f"{sup['id']}@{t_ms}"] = start * 1000
                r = requests.post(
                    f"{base}/api/tracking/pings/",
                    json=body,
                    headers={"Authorization": f"Bearer {sup['token']}", "X-Device-Id": sup["device"]},
                    timeout=60,
                )
                if r.status_code != 200:
                    failed.append(r.status_code)
                    sent.pop(f"{sup['id']}@{t_ms}", None)
                    return
                rtts.append((time.time() - start) * 1000)

            with ThreadPoolExecutor(max_workers=16) as pool:
                for _ in tqdm(range(args.rounds), desc="ping rounds", unit="round"):
                    when = time.time()
                    list(pool.map(ping, sups, [when] * len(sups)))
                    time.sleep(args.interval)
            time.sleep(3)
            seen = page.evaluate("() => window.__seen")
            delays = [seen[k] - v for k, v in sent.items() if k in seen]
            browser.close()

        print()
        print(f"ping-to-marker delay ({len(delays)} of {len(sent)} pings seen moving a marker; {len(failed)} refused)")
        print(
            f"  console:  p50 {pct(delays, 50):7.0f} ms   p95 {pct(delays, 95):7.0f} ms"
            f"   max {max(delays or [0]):.0f} ms"
        )
        print(
            f"  baseline: p50 {pct(rtts, 50):7.0f} ms   p95 {pct(rtts, 95):7.0f} ms   (the ping request's round trip)"
        )
        if delays:
            print(f"  mean {statistics.mean(delays):.0f} ms")
    finally:
        if process is not None:
            process.terminate()
            process.join(10)
        if not args.keep_db:
            connections.close_all()
            teardown_databases(cfg, verbosity=0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
