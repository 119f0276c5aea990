"""`make faults`: break things under traffic and prove nothing accepted is lost or stored twice.

It makes a throwaway PostgreSQL cluster of its own (restarting the shared one would break
everybody else's work), migrates and bootstraps it, starts Daphne, the ingestion service and the
worker, and tries:

  1. PostgreSQL restarted (`pg_ctl restart -m fast`) twice while phones ping (three protocols,
     to the ingestion service as nginx routes them; the rest goes to Daphne), citizens file
     reports (with Idempotency-Key) and supervisors' phones acknowledge their orders: clients get
     503 + Retry-After and retry; afterwards every accepted ping and report is stored once, no
     report has two open orders, every acknowledged order is acknowledged;
  2. the worker killed with SIGKILL while it runs due escalation timers, then restarted: every
     timer fires exactly once (one expiry, one escalation decision per order);
  3. Redis absent (REDIS_URL pointing at a port where nothing listens): reports and pings still
     answer 2xx; then a Redis of our own stopped and started again: the console reconnects and
     gets the events made after;
  4. media storage full (every write fails with ENOSPC after a partial file): the citizen gets a
     clear 507, no report is stored, no partial file is left;
  5. the ingestion service SIGKILLed with its workers twice while phones upload (single fixes and
     10-fix buffers), started again on the same port: cut-off uploads are resent; every accepted
     ping is stored once.

Prints what was tried and the result of each; exit status 1 if any check failed.

    .venv/bin/python loadtest/run_faults.py [--only pg,worker,redis,media,ingest] [--keep]
"""

from __future__ import annotations

import argparse
import io
import random
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests

from loadtest import common as c

MARKER = "[faults]"
RESULTS: list[tuple[str, bool, str]] = []


def result(name: str, ok: bool, detail: str) -> None:
    RESULTS.append((name, ok, detail))
    c.log(f"{'PASS' if ok else 'FAIL'} {name}: {detail}")


# --- 1. database restarts under traffic ---------------------------------------------------------
def phone_traffic(
    base: str, phone: c.Phone, books: c.Books, stop: threading.Event, deadline: float, seed: int, size: int = 1
) -> None:
    """A phone until `stop`: `size` fixes a second apart, sent together every `size` seconds (1: a
    fix a second in its protocol; more: a native phone's buffer), retried as a phone does."""
    rng = random.Random(seed)
    http = requests.Session()
    kind = f"ping {phone.protocol}" if size == 1 else f"batch {phone.protocol}"
    while not stop.is_set():
        fixes = []
        for _ in range(size):
            lon, lat = phone.step(rng)
            phone.t = max(c.now() - size + 1, phone.t + 1)
            fixes.append((phone.t, lon, lat))
        c.send_pings(http, base, phone, fixes, books, kind, deadline)
        stop.wait(size)


def faults_at_thirds(
    seconds: float, threads: list[threading.Thread], stop: threading.Event, fault: Callable[[int], str]
) -> list[str]:
    """Start the traffic, apply `fault(1)` and `fault(2)` at 1/3 and 2/3 of `seconds`, then stop the
    traffic and wait for it; returns what each fault said."""
    for t in threads:
        t.start()
    said = []
    for n in (1, 2):
        time.sleep(seconds / 3)
        said.append(fault(n))
    time.sleep(seconds / 3)
    stop.set()
    for t in threads:
        t.join(timeout=90)
    return said


def print_books(books: c.Books, audit_lines: list[str], faults: list[str]) -> None:
    for line in [*books.figures(), *audit_lines]:
        print("    " + line)
    print(f"    retries: {dict(books.retries)}; {'; '.join(faults)}")


def scenario_pg(cluster: c.Cluster, env: dict, phones: list[c.Phone], citizens: list[str], seconds: float) -> None:
    port, ingest_port = c.free_port(), c.free_port()
    base, ingest = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{ingest_port}"
    web = c.start_server(env, port, name="faults-web")
    ingest_service = c.start_ingest(env, ingest_port, name="faults-ingest")  # the pings' server, as deployed
    worker = c.start_worker(env, name="faults-worker")
    books = c.Books()
    stop = threading.Event()
    acks: dict[int, int] = {}  # order id -> HTTP status of the acknowledge that succeeded
    deadline = time.monotonic() + seconds + 60

    def supervisor_app(phone: c.Phone) -> None:
        """The SIGAP phone: polls its orders and acknowledges new offers (retrying on 503)."""
        http = requests.Session()
        auth = {"Authorization": f"Bearer {phone.token}", "X-Device-Id": phone.device_id}
        while not stop.is_set():
            try:
                r = http.get(base + "/api/my/orders/", headers=auth, timeout=30)
                books.note("my orders", r.status_code, r.elapsed.total_seconds())
                offers = [o["id"] for o in r.json() if o.get("state") == "offered"] if r.status_code == 200 else []
            except (requests.RequestException, ValueError) as exc:
                books.note("my orders", type(exc).__name__, None)
                offers = []
            for oid in offers:
                while time.monotonic() < deadline:
                    try:
                        a = http.post(base + f"/api/my/orders/{oid}/acknowledge/", headers=auth, timeout=30)
                        books.note("acknowledge", a.status_code, a.elapsed.total_seconds())
                    except requests.RequestException as exc:
                        books.note("acknowledge", type(exc).__name__, None)
                        time.sleep(0.5)
                        continue
                    if a.status_code in (200, 201):
                        with books.lock:
                            acks[oid] = a.status_code
                    if a.status_code not in (429, 502, 503, 504):
                        break
                    time.sleep(float(a.headers.get("Retry-After", 1)))
            stop.wait(1.0)

    def citizen_loop(key: str, seed: int) -> None:
        rng = random.Random(seed)
        client = c.SessionClient(base, key)
        while not stop.is_set():
            c.file_report(client, books, "report", deadline, rng, MARKER)
            stop.wait(1.0)

    threads = [
        threading.Thread(target=phone_traffic, args=(ingest, p, books, stop, deadline, i), daemon=True)
        for i, p in enumerate(phones)
    ]
    threads += [
        threading.Thread(target=supervisor_app, args=(p,), daemon=True) for p in phones[:: max(1, len(phones) // 20)]
    ]
    threads += [threading.Thread(target=citizen_loop, args=(k, i), daemon=True) for i, k in enumerate(citizens)]

    def restart(n: int) -> str:
        label = ("during ingestion", "during dispatch")[n - 1]
        took = cluster.restart()
        c.log(f"PostgreSQL restarted ({label}) in {took:.1f} s")
        return f"{label}: restarted in {took:.1f} s"

    restarts = faults_at_thirds(seconds, threads, stop, restart)
    web.stop()
    ingest_service.stop()
    worker.stop()

    from django.db import connections
    from django.db.models import Count

    from dispatch.models import Order
    from dispatch.orders import open_states

    connections.close_all()
    ok, lines = c.audit(books, MARKER)
    statuses = {k: dict(v) for k, v in books.statuses.items()}
    n503 = sum(v.get(503, 0) for v in books.statuses.values())
    n5xx = sum(n for v in books.statuses.values() for s, n in v.items() if isinstance(s, int) and s >= 500 and s != 503)
    doubles = (
        Order.objects.filter(state__in=open_states()).values("report").annotate(n=Count("id")).filter(n__gt=1).count()
    )
    acked_states = dict(Order.objects.filter(pk__in=list(acks)).values_list("pk", "state"))
    not_acked = [oid for oid in acks if acked_states.get(oid) in (None, "offered")]
    print_books(books, lines, restarts)
    result(
        "PostgreSQL restart x2 (ingestion + dispatch)",
        ok and n503 > 0 and n5xx == 0 and doubles == 0 and not not_acked,
        f"{n503} answers 503 (retried), other 5xx {n5xx}; {lines[0]}; {lines[-1]}; reports with two open orders"
        f" {doubles}; acknowledged orders {len(acks)}, not acknowledged in the database {len(not_acked)}",
    )
    del statuses


# --- 5. the ingestion service killed mid-upload ---------------------------------------------------
def scenario_ingest(env: dict, phones: list[c.Phone], seconds: float) -> None:
    """Phones upload (a fix a second in the three protocols; every third native phone a 10-fix
    buffer every 10 s) to the ingestion service, which is SIGKILLed with its workers twice, mid-upload, and
    started again on the same port a second later (systemd's Restart=always, RestartSec=2). An
    upload cut off either committed or rolled back: the phone resends, and the history's key
    turns a resend of what was stored into duplicates. Afterwards every accepted ping is stored
    once."""
    port = c.free_port()
    base = f"http://127.0.0.1:{port}"
    service = c.start_ingest(env, port, name="faults-ingest-kill")
    books = c.Books()
    stop = threading.Event()
    deadline = time.monotonic() + seconds + 60

    threads = [  # every third phone (all native) uploads a 10-fix buffer every 10 s
        threading.Thread(
            target=phone_traffic, args=(base, p, books, stop, deadline, i, 10 if i % 3 == 0 else 1), daemon=True
        )
        for i, p in enumerate(phones)
    ]

    def kill(n: int) -> str:
        nonlocal service
        killed = c.kill_tree(service.p.pid)
        service.p.wait()
        c.log(f"ingestion service SIGKILLed ({killed} processes); starting it again")
        time.sleep(1)
        started = time.monotonic()
        service = c.start_ingest(env, port, name=f"faults-ingest-kill-{n}")
        return f"kill {n}: {killed} processes, answering again {time.monotonic() - started + 1:.1f} s later"

    kills = faults_at_thirds(seconds, threads, stop, kill)
    service.stop()

    from django.db import connections

    connections.close_all()
    ok, lines = c.audit(books, f"{MARKER} ingest")  # no reports here: scenario 1's are not this one's
    cut = sum(n for v in books.statuses.values() for s, n in v.items() if not isinstance(s, int))
    n5xx = sum(n for v in books.statuses.values() for s, n in v.items() if isinstance(s, int) and s >= 500)
    print_books(books, lines, kills)
    result(
        "ingestion service SIGKILLed x2 mid-upload",
        ok and cut > 0 and n5xx == 0,
        f"{cut} uploads cut off or refused a connection (resent), 5xx {n5xx}; {lines[0]}",
    )


# --- 2. the worker killed during escalations ----------------------------------------------------
def scenario_worker(env: dict, phones: list[c.Phone], trials: int = 3, timers: int = 12) -> None:
    from django.contrib.gis.geos import Point
    from django.db import connections
    from django.db.models import Count
    from django.utils import timezone

    from core.models import Job
    from dispatch.models import Decision, Order, OrderStep
    from incidents.intake import ReportInput, submit_report

    points = c.kecamatan_points()
    all_ok = True
    details = []
    for trial in range(trials):
        reports = []
        for i in range(timers):
            _, lon, lat = points[(trial * timers + i) % len(points)]
            reports.append(
                submit_report(
                    ReportInput(
                        category=["kemacetan", "pohon-tumbang", "jalan-rusak"][i % 3],
                        description=f"{MARKER} eskalasi {trial}-{i}",
                        location=Point(lon + 0.0005, lat + 0.0005, srid=4326),
                    )
                ).report
            )
        orders = list(Order.objects.filter(report__in=reports, state="offered"))
        keys = [f"offer-timeout:{o.pk}" for o in orders]
        Job.objects.filter(key__in=keys, state="pending").update(run_at=timezone.now() - timedelta(seconds=1))
        connections.close_all()
        worker = c.start_worker(env, name=f"faults-worker-kill-{trial}", poll=0.2)
        t0 = time.monotonic()
        killed_at = None
        while time.monotonic() - t0 < 60:
            done = Job.objects.filter(key__in=keys, state="done").count()
            if done >= 1 + trial:  # part of the way through the due timers
                worker.kill()  # SIGKILL: no cleanup, maybe mid-transaction
                killed_at = done
                break
            time.sleep(0.05)
        if killed_at is None:
            worker.kill()
        worker = c.start_worker(env, name=f"faults-worker-restart-{trial}", poll=0.2)
        t1 = time.monotonic()
        while time.monotonic() - t1 < 60 and Job.objects.filter(key__in=keys, state="pending").count():
            time.sleep(0.2)
        worker.stop()
        connections.close_all()
        expired = dict(
            OrderStep.objects.filter(order__in=orders, kind="expired")
            .values("order")
            .annotate(n=Count("id"))
            .values_list("order", "n")
        )
        escalations = dict(
            Decision.objects.filter(report__in=reports, trigger="escalation")
            .values("report")
            .annotate(n=Count("id"))
            .values_list("report", "n")
        )
        pending = Job.objects.filter(key__in=keys, state="pending").count()
        once = all(expired.get(o.pk) == 1 for o in orders) and all(escalations.get(o.report_id) == 1 for o in orders)
        ok = bool(orders) and pending == 0 and once
        all_ok &= ok
        details.append(
            f"trial {trial + 1}: {len(orders)} timers due, SIGKILL after {killed_at} done; after restart pending"
            f" {pending}, expiries per order {sorted(set(expired.values())) or [0]},"
            f" escalation decisions per report {sorted(set(escalations.values())) or [0]}"
        )
    for d in details:
        print("    " + d)
    result("worker SIGKILL during escalations", all_ok, "; ".join(details))


# --- 3. Redis absent, then restarted --------------------------------------------------------------
def scenario_redis(db_url: str, phone: c.Phone, operator_key: str, citizen_key: str) -> None:
    dead_port = c.free_port()
    env = c.server_env(db_url, REDIS_URL=f"redis://127.0.0.1:{dead_port}/0")
    port = c.free_port()
    base = f"http://127.0.0.1:{port}"
    web = c.start_server(env, port, name="faults-web-noredis")
    worker = c.start_worker(env, name="faults-worker-noredis")  # with REDIS_URL it announces the changes
    books = c.Books()
    rng = random.Random(3)
    deadline = time.monotonic() + 30
    rep = c.file_report(c.SessionClient(base, citizen_key), books, "report", deadline, rng, MARKER)
    lon, lat = phone.step(rng)
    phone.t = max(c.now(), phone.t + 1)
    ping = c.send_pings(requests.Session(), base, phone, [(phone.t, lon, lat)], books, "ping", deadline)
    stop = threading.Event()
    sock = c.ConsoleSocket(port, operator_key, stop, "console-noredis")
    sock.start()
    time.sleep(3)
    stop.set()
    web.stop()
    worker.stop()
    answers = {k: dict(v) for k, v in books.statuses.items()}
    result(
        "Redis absent (nothing listening)",
        rep and ping,
        f"report and ping answers {answers}; console socket {'refused' if not sock.hellos else 'open'}"
        f" ({', '.join(sock.refused) or 'no error'}); the live map needs Redis, intake does not",
    )

    if not shutil.which("redis-server"):
        result("Redis restarted", True, "skipped: no redis-server on this machine")
        return
    rport = c.free_port()
    rdir = c.ROOT / "var" / "loadtest" / "redis"
    rdir.mkdir(parents=True, exist_ok=True)

    def redis_up() -> subprocess.Popen:
        p = subprocess.Popen(
            ["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--save", "", "--dir", str(rdir)],
            stdout=subprocess.DEVNULL,
        )
        time.sleep(0.5)
        return p

    redis = redis_up()
    env = c.server_env(db_url, REDIS_URL=f"redis://127.0.0.1:{rport}/0")
    web = c.start_server(env, port, name="faults-web-redis")
    worker = c.start_worker(env, name="faults-worker-redis", poll=0.2)
    stop = threading.Event()
    sock = c.ConsoleSocket(port, operator_key, stop, "console-redis")
    sock.start()
    sock.connected.wait(15)
    before = sock.events
    c.file_report(c.SessionClient(base, citizen_key), books, "report", time.monotonic() + 30, rng, MARKER)
    waited = time.monotonic()
    while sock.events == before and time.monotonic() - waited < 20:  # the worker announces it once it is up
        time.sleep(0.2)
    got_before = sock.events - before
    redis.kill()
    redis.wait()
    during = c.file_report(
        c.SessionClient(base, citizen_key), books, "report (Redis down)", time.monotonic() + 30, rng, MARKER
    )
    time.sleep(2)
    redis = redis_up()
    t0 = time.monotonic()
    reconnects_before = sock.reconnects
    mark = sock.events
    c.file_report(c.SessionClient(base, citizen_key), books, "report", time.monotonic() + 30, rng, MARKER)
    while time.monotonic() - t0 < 20 and sock.events == mark:
        time.sleep(0.2)
        if sock.events == mark and time.monotonic() - t0 > 5:
            c.file_report(c.SessionClient(base, citizen_key), books, "report", time.monotonic() + 30, rng, MARKER)
            time.sleep(1)
    after = sock.events - mark
    stop.set()
    web.stop()
    worker.stop()
    redis.kill()
    redis.wait()
    result(
        "Redis stopped and started again",
        got_before > 0 and during and after > 0,
        f"console events before {got_before}; report while Redis was down: {'2xx' if during else 'FAILED'};"
        f" console reconnects {sock.reconnects - reconnects_before + (sock.reconnects if reconnects_before else 0)},"
        f" events after Redis came back {after} (in {time.monotonic() - t0:.1f} s)",
    )


# --- 4. media storage full ------------------------------------------------------------------------
def scenario_media(db_url: str, citizen_key: str) -> None:
    from PIL import Image

    from incidents.models import Report

    media_root = c.ROOT / "var" / "loadtest" / "media-full"
    shutil.rmtree(media_root, ignore_errors=True)
    media_root.mkdir(parents=True)
    env = c.server_env(db_url, DJANGO_SETTINGS_MODULE="loadtest.full_disk_settings", MEDIA_ROOT=str(media_root))
    port = c.free_port()
    base = f"http://127.0.0.1:{port}"
    web = c.start_server(env, port, name="faults-web-diskfull")
    img = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 30, 30)).save(img, "JPEG", quality=95)
    client = c.SessionClient(base, citizen_key)
    _, lon, lat = c.kecamatan_points()[4]
    key = f"diskfull-{random.randrange(10**9)}"
    r = client.http.post(
        base + "/api/reports/",
        data={"category": "banjir", "description": f"{MARKER} disk full", "lat": lat, "lon": lon},
        files={"files": ("banjir.jpg", img.getvalue(), "image/jpeg")},
        headers={**client.headers, "Idempotency-Key": key},
        timeout=60,
    )
    web.stop()
    stored = Report.objects.filter(idempotency_key=key).count()
    left = [p for p in media_root.rglob("*") if p.is_file()]
    try:
        message = r.json().get("detail", r.text[:120])
    except ValueError:
        message = r.text[:120]
    result(
        "media storage full",
        r.status_code in (503, 507) and stored == 0 and not left,
        f"answer {r.status_code} {message!r}; reports stored {stored}; files left on disk {len(left)}",
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", default="pg,worker,redis,media,ingest", help="comma-separated scenarios")
    p.add_argument("--phones", type=int, default=65, help="phones pinging every second during the restarts")
    p.add_argument("--citizens", type=int, default=4)
    p.add_argument("--seconds", type=float, default=30, help="traffic time around the two restarts")
    p.add_argument("--keep", action="store_true", help="keep the throwaway cluster afterwards")
    args = p.parse_args()
    only = set(args.only.split(","))
    started = time.monotonic()
    cluster = c.Cluster()
    c.log(f"throwaway PostgreSQL cluster in {cluster.root}")
    cluster.create()
    db_url = cluster.url()
    try:
        c.log("migrate + bootstrap")
        c.prepare_database(db_url)
        c.django_setup(db_url)
        phones = c.make_fleet(args.phones, "ft-phone")
        citizens = [c.session_for(u) for u in c.make_users("citizen", args.citizens + 1, "ft-cit")]
        operator = c.session_for(c.make_users("operator", 1, "ft-op")[0])
        ingest_phones = c.make_fleet(30, "ft-ingest") if "ingest" in only else []  # books of their own
        from django.db import connections

        connections.close_all()
        env = c.server_env(db_url)
        if "pg" in only:
            c.log(f"1. PostgreSQL restarts: {args.phones} phones, {args.citizens} citizens, {args.seconds:g} s")
            scenario_pg(cluster, env, phones, citizens[:-1], args.seconds)
        if "worker" in only:
            c.log("2. worker SIGKILL during escalations")
            scenario_worker(env, phones)
        if "redis" in only:
            c.log("3. Redis absent, then restarted")
            scenario_redis(db_url, phones[0], operator, citizens[-1])
        if "media" in only:
            c.log("4. media storage full")
            scenario_media(db_url, citizens[-1])
        if "ingest" in only:
            c.log(f"5. ingestion service SIGKILLed twice: {len(ingest_phones)} phones, {args.seconds:g} s")
            scenario_ingest(env, ingest_phones, args.seconds)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            cluster.destroy()
    print()
    print(f"== faults {c.wib_now()} ({time.monotonic() - started:.0f} s)")
    for name, ok, detail in RESULTS:
        print(f"  {'PASS' if ok else 'FAIL'}  {name}: {detail}")
    return 0 if RESULTS and all(ok for _, ok, _ in RESULTS) else 1


if __name__ == "__main__":
    sys.exit(main())
