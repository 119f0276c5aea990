"""Ping ingestion and attendance benchmarks, in a scratch database (dropped after).

In one run, on the same partitioned table and indexes:
  (a)  raw binary COPY of pings into tracking_ping, 1000 rows per COPY, the same 15 columns the
       endpoint writes                                                  -> the limit (baseline)
  (a2) the database alone for the textbook alternative: binary COPY into a temporary staging
       table, then INSERT ... ON CONFLICT DO NOTHING RETURNING (what the pipeline falls back to)
  (b)  the native batch endpoint over real HTTP, 1000 pings per request (one phone's buffer,
       moving along a path), served as deployed: by the ingestion service (Granian, WSGI;
       deploy/geoapp-ingest.service) with a shared channel layer: GEOAPP_RELAY=worker, the
       request stores and queues one change for the worker  -> the target: >= 50 % of (a)
  (b1) the same with GEOAPP_RELAY=inline (`make run` without Redis): the other apps' receivers
       (the console's live push, dispatch's on-site detection) run in the request
  (bD) the same uploads through Daphne (the web service: ASGI), as they went before the
       ingestion service took them
  (w)  the worker's side of (b): announcing the queued changes (receivers run), untimed in (b)
  (c)  single pings in the OsmAnd form over real HTTP (to the ingestion service, relayed as (b))
  (d)  attendance for S supervisors over D days of 10-second pings (all-day shifts), in SQL

  (aK) / (bK) the same at K uploads at once (--concurrency, default 2 = one per core): K COPY
       streams against K phones posting to K ingestion processes (deployed: one per core), one
       phone each: the machine's throughput rather than one stream's latency

(a), (a2), (b), (b1) and (bD) run interleaved, batch by batch, so a busy machine slows all of them
alike. The servers are processes of their own on loopback, started as deployed (loadtest/common.py
starts them the same way for `make loadtest`); each phone keeps one keep-alive connection.
Request bodies and COPY rows are built before each timed call.

Defaults run in a few minutes. At the city's size:
  .venv/bin/python bench/bench_tracking.py --copy-batches 500 --http-batches 200 --single 5000 \
      --supervisors 300 --days 30
Profile 20 warm 1000-ping requests end to end instead (pyinstrument if installed, else cProfile):
  .venv/bin/python bench/bench_tracking.py --profile
Where the CPU goes (after the lines above): --cpu N runs N more of (a), (b) and (bD), taking turns
in blocks of 10, and prints the CPU each took per 1000 pings in this process (the client), in the
server's processes and in PostgreSQL's (read from /proc: only when PostgreSQL runs on this
machine). With both streams busy on every core, the rates compare as these totals do.
The database is `bench_tracking`, or $BENCH_TRACKING_DB.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import http.client
import json
import os
import random
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geoapp.settings")

from bench.scratch import ms as pct
from bench.scratch import scratch_database

BENCH_DB = os.environ.get("BENCH_TRACKING_DB", "bench_tracking")
COLUMNS = (
    "device_id, supervisor_id, device_time, received_at, point, accuracy, speed, heading, altitude, battery, "
    "mock, in_area, kecamatan_code, geofence_ids, source"
)
COPY_TYPES = [
    "int8", "int8", "timestamptz", "timestamptz", "bytea", "float8", "float8", "float8", "float8", "float8",
    "bool", "bool", "text", "int4[]", "text",
]  # fmt: skip
BATCH = 1000
STEP_S = 10  # seconds between a phone's fixes


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--copy-batches", type=int, default=100, help="COPY statements of 1000 rows (a)")
    p.add_argument("--staged-batches", type=int, default=None, help="staging + INSERT batches (a2); default = (a)")
    p.add_argument("--http-batches", type=int, default=100, help="batch requests of 1000 pings (b)")
    p.add_argument("--single", type=int, default=500, help="single OsmAnd requests (c)")
    p.add_argument("--concurrency", type=int, default=2, help="uploads at once for (aK)/(bK); 1 = skip")
    p.add_argument("--supervisors", type=int, default=30, help="supervisors for attendance (d)")
    p.add_argument("--days", type=int, default=1, help="days of 10-second pings for attendance (d)")
    p.add_argument("--profile", action="store_true", help="profile 20 warm 1000-ping requests and stop")
    p.add_argument("--cpu", type=int, default=0, help="then N batches each of (a), (b), (bD): CPU per 1000 pings")
    p.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    return p.parse_args()


def line(
    label: str,
    n: int,
    seconds: float,
    lat: list[float] | None = None,
    baseline: float | None = None,
    cpu: list[float] | None = None,
) -> float:
    rate = n / seconds if seconds else 0
    extra = f"  p50 {pct(lat, 0.5):6.1f} ms  p99 {pct(lat, 0.99):6.1f} ms" if lat else ""
    if cpu:
        extra += f"  app CPU {pct(cpu, 0.5):5.1f} ms"
    vs = f"  ({rate / baseline:5.1%} of COPY)" if baseline else ""
    print(f"{label:<40} {n:>8} pings {seconds:6.2f} s {rate:>8,.0f} pings/s{extra}{vs}", flush=True)
    return rate


def main() -> None:
    args = parse()
    with scratch_database(BENCH_DB, keep=args.keep):
        servers = Servers()
        try:
            run(args, servers)
        finally:
            servers.stop()


class Fleet:
    """The bench's phones: each batch is the next 1000 fixes of one phone moving along its path."""

    def __init__(self, phones, devices, now: datetime):
        self.phones = phones
        self.devices = devices
        self.now = now
        self.rng = random.Random(5)
        self.span = timedelta(seconds=STEP_S * BATCH)
        self.walkers: dict[tuple[datetime, int], object] = {}

    def path(self, phone, count: int) -> list[tuple[float, float]]:
        out = []
        for _ in range(count):
            phone.move(STEP_S, self.rng, wander=False)
            out.append((phone.lon, phone.lat))
        return out

    def batch(self, b: int, base: datetime):
        """(phone, start, [(lon, lat)] * 1000) for batch number b in the window starting at base.

        Each window has its own copy of each phone, so a phone's path is continuous in time
        within a window (the speed filter sees a plausible track).
        """
        key = (base, b % len(self.phones))
        if key not in self.walkers:
            self.walkers[key] = copy.copy(self.phones[key[1]])
        phone = self.walkers[key]
        start = base + (b // len(self.phones)) * self.span
        return phone, start, self.path(phone, BATCH)

    def copy_rows(self, phone, start: datetime, path, source: str) -> list[tuple]:
        import shapely

        dev = self.devices[phone.device_id]
        lons = [p[0] for p in path]
        lats = [p[1] for p in path]
        wkb = shapely.to_wkb(shapely.set_srid(shapely.points(lons, lats), 4326), include_srid=True).tolist()
        return [
            (dev.pk, dev.supervisor_id, start + timedelta(seconds=STEP_S * i), self.now, wkb[i], 10.0, 1.2, 90.0,
             20.0, 80.0, False, True, "36.71.01", [], source)
            for i in range(len(path))
        ]  # fmt: skip

    @staticmethod
    def body(start: datetime, path) -> bytes:
        pings = [
            {"time": (start + timedelta(seconds=STEP_S * i)).isoformat(), "lat": lat, "lon": lon, "accuracy": 10.0,
             "speed": 1.2, "heading": 90.0, "altitude": 20.0, "battery": 80.0}
            for i, (lon, lat) in enumerate(path)
        ]  # fmt: skip
        return json.dumps({"pings": pings}).encode()


class KeepAlive:
    """One keep-alive HTTP/1.1 connection (the standard library's client, as a phone's app keeps
    one). `requests` costs ~0.7 ms more per call on the client side, which is not the endpoint's."""

    def __init__(self, host: str, port: int):
        self.conn = http.client.HTTPConnection(host, port, timeout=60)

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        """(status, body) of one request. A connection the server closed while idle (as servers
        do after a while) is opened again, as a phone's app does."""
        try:
            self.conn.request(method, path, body=body, headers=headers or {})
        except (BrokenPipeError, ConnectionResetError):  # not sent: the server had closed it
            self.conn.close()
            self.conn.request(method, path, body=body, headers=headers or {})
        resp = self.conn.getresponse()
        return resp.status, resp.read()


def copy_into(table: str, rows: list[tuple]) -> None:
    from django.db import connection

    with connection.cursor() as cur:
        with cur.copy(f"COPY {table} ({COLUMNS}) FROM STDIN (FORMAT BINARY)") as cp:
            cp.set_types(COPY_TYPES)
            for r in rows:
                cp.write_row(r)


def staged_insert(rows: list[tuple]) -> int:
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS bench_staging (LIKE tracking_ping) ON COMMIT DELETE ROWS")
        copy_into("bench_staging", rows)
        cur.execute(
            f"INSERT INTO tracking_ping ({COLUMNS}) SELECT {COLUMNS} FROM bench_staging "
            "ON CONFLICT (device_id, device_time) DO NOTHING RETURNING device_time"
        )
        return len(cur.fetchall())


@contextlib.contextmanager
def relay_mode(value: str):
    """GEOAPP_RELAY for the block (the bench's HTTP server runs in this process)."""
    from django.conf import settings

    saved = settings.GEOAPP_RELAY
    settings.GEOAPP_RELAY = value
    try:
        yield
    finally:
        settings.GEOAPP_RELAY = saved


def profile(fleet: Fleet, base: datetime, count: int = 20) -> None:
    """Warm requests through Django's full stack in process, relayed to the worker as (b) is,
    profiled: each phone's first buffer warms, the next `count` buffers are profiled (their
    bodies built before the profiler starts)."""
    from django.test import Client

    client = Client()

    def prepare(b: int) -> tuple[bytes, dict]:
        phone, start, path = fleet.batch(b, base)
        return fleet.body(start, path), {"HTTP_AUTHORIZATION": f"Bearer {phone.token}",
                                         "HTTP_X_DEVICE_ID": phone.device_id}  # fmt: skip

    def request(body: bytes, headers: dict) -> None:
        r = client.post("/api/tracking/pings/", body, content_type="application/json", **headers)
        assert r.status_code == 200 and r.json()["stored"] == BATCH, r.content[:300]

    with relay_mode("worker"):
        for b in range(len(fleet.phones)):
            request(*prepare(b))  # warm: indexes, caches, partitions, connection
        todo = [prepare(len(fleet.phones) + b) for b in range(count)]
        try:
            from pyinstrument import Profiler
        except ImportError:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            for body, headers in todo:
                prof.runcall(request, body, headers)
            pstats.Stats(prof).sort_stats("cumulative").print_stats(40)
            return
        profiler = Profiler(interval=0.0002)
        profiler.start()
        for body, headers in todo:
            request(body, headers)
        profiler.stop()
    print(f"{count} requests of {BATCH} pings")
    print(profiler.output_text(unicode=False, color=False))


def _proc_cpu(pid: int | str, reaped: bool = False) -> tuple[str, float] | None:
    """(command name, CPU seconds used so far: user + system) of a process, from /proc; with
    `reaped`, plus that of its children that have ended (and been waited for)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if reaped else 0)
    return stat[stat.index("(") + 1 : stat.rindex(")")], ticks / os.sysconf("SC_CLK_TCK")


def postgres_cpu_s() -> float | None:
    """CPU seconds used so far by this machine's PostgreSQL processes (None: not found, e.g. remote),
    those that have ended included: a backend that exits (a server's connection closed after
    CONN_MAX_AGE) takes its CPU out of /proc, and the postmaster that reaped it counts it."""
    procs = (_proc_cpu(pid, reaped=True) for pid in os.listdir("/proc") if pid.isdigit())
    spent = [p[1] for p in procs if p is not None and p[0].startswith(("postgres", "postmaster"))]
    return sum(spent) if spent else None


def tree_cpu_s(pid: int) -> float:
    """CPU seconds used so far by process `pid` and its children (a server and its workers)."""
    from loadtest.common import process_tree

    return sum(p[1] for p in map(_proc_cpu, process_tree(pid)) if p is not None)


def cpu_split(n: int, jobs: dict[str, tuple[list, int | None]], block: int = 10) -> None:
    """Each kind's calls in blocks of `block`, the kinds taking turns (so PostgreSQL's background
    work, autovacuum after many inserts, falls on all alike): wall time and CPU (this process,
    the server's processes, PostgreSQL's) per call."""
    spent = {label: [0.0, 0.0, 0.0, 0.0] for label in jobs}  # wall, here, server, PostgreSQL
    for first in range(0, n, block):
        for label, (calls, server) in jobs.items():
            pg0, me0, wall0 = postgres_cpu_s(), time.process_time(), time.perf_counter()
            sv0 = tree_cpu_s(server) if server else 0.0
            for call in calls[first : min(first + block, n)]:
                call()
            pg1, me1, wall1 = postgres_cpu_s(), time.process_time(), time.perf_counter()
            total = spent[label]
            total[0] += wall1 - wall0
            total[1] += me1 - me0
            total[2] += tree_cpu_s(server) - sv0 if server else 0.0
            total[3] += pg1 - pg0 if pg0 is not None and pg1 is not None else float("nan")
    for label, (wall, me, sv, pg) in spent.items():
        wall, me, sv, pg = (x / n * 1000 for x in (wall, me, sv, pg))
        print(
            f"{label:<40} per 1000 pings: wall {wall:5.2f} ms, CPU {me:5.2f} ms here "
            f"+ {sv:5.2f} ms server + {pg:5.2f} ms PostgreSQL = {me + sv + pg:5.2f} ms",
            flush=True,
        )


class Servers:
    """The bench's servers, started as deployed (loadtest/common.py), on the bench's database."""

    def __init__(self) -> None:
        from loadtest import common as lc

        self.lc = lc
        self.env = lc.server_env(lc.project_db_url(BENCH_DB), GEOAPP_RELAY="worker")
        self.procs: dict[int, object] = {}  # port -> loadtest.common.Proc

    def ingest(self, name: str, workers: int = 1, relay: str = "worker") -> int:
        """The port of a new ingestion service (its log: var/loadtest/<name>.log)."""
        port = self.lc.free_port()
        env = {**self.env, "GEOAPP_RELAY": relay}
        self.procs[port] = self.lc.start_ingest(env, port, workers=workers, threads=2, name=name)
        return port

    def daphne(self, name: str) -> int:
        port = self.lc.free_port()
        self.procs[port] = self.lc.start_server(self.env, port, name=name)
        return port

    def pid(self, port: int) -> int:
        return self.procs[port].p.pid

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.stop()


def concurrent(args: argparse.Namespace, fleet: Fleet, servers: Servers, base_ak: datetime, base_bk: datetime) -> None:
    """(aK) K COPY streams at once against (bK) K phones uploading at once to K ingestion processes.

    The machine's throughput rather than one stream's latency: with K uploads in flight, one's
    Python runs while another's statements run. Each thread keeps to its own phones (no lock is
    shared); bodies and rows are built before the clock starts; (aK) and (bK) alternate in
    rounds so machine load hits them alike.
    """
    from django.db import connection

    k = args.concurrency
    n = args.http_batches - args.http_batches % k
    phones = len(fleet.phones) - len(fleet.phones) % k  # thread t takes phones t, t+k, ...: disjoint
    jobs = [r for r in range(n * 2) if r % len(fleet.phones) < phones][:n]
    rows = {t: [] for t in range(k)}
    bodies = {t: [] for t in range(k)}
    for i, r in enumerate(jobs):
        t = i % k
        phone, start, path = fleet.batch(r, base_ak)
        rows[t].append(fleet.copy_rows(phone, start, path, "copy-k"))
        phone, start, path = fleet.batch(r, base_bk)
        headers = {"Authorization": f"Bearer {phone.token}", "X-Device-Id": phone.device_id,
                   "Content-Type": "application/json"}  # fmt: skip
        bodies[t].append((fleet.body(start, path), headers))
    # K services of one process each, one phone to each (as nginx balances over upstreams): a
    # K-process service hands each connection to whichever process accepts it, and two phones'
    # connections on one process would measure that process, not the machine.
    clients = [KeepAlive("127.0.0.1", servers.ingest(f"bench-ingest-k{t}")) for t in range(k)]
    for t, client in enumerate(clients):  # warm each server with its first body: indexes, auth cache
        body, headers = bodies[t][0]
        assert client.request("POST", "/api/tracking/pings/", body, headers)[0] == 200
    lat = {"aK": [], "bK": []}
    took = {"aK": 0.0, "bK": 0.0}
    done = {"aK": 0, "bK": 0}

    def copy_worker(t: int, chunk: slice) -> None:
        for batch in rows[t][chunk]:
            s = time.perf_counter()
            copy_into("tracking_ping", batch)
            lat["aK"].append(time.perf_counter() - s)
        connection.close()

    def post_worker(t: int, chunk: slice) -> None:
        for body, headers in bodies[t][chunk]:
            s = time.perf_counter()
            status, answer = clients[t].request("POST", "/api/tracking/pings/", body, headers)
            lat["bK"].append(time.perf_counter() - s)
            assert status == 200 and json.loads(answer)["stored"] == BATCH, answer[:300]

    def timed(key: str, target, chunk: slice) -> None:
        threads = [threading.Thread(target=target, args=(t, chunk)) for t in range(k)]
        s = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        took[key] += time.perf_counter() - s
        done[key] += sum(len(rows[t][chunk]) for t in range(k)) * BATCH

    per_thread = n // k
    step = max(1, per_thread // 10)
    for first in range(1 if per_thread > 1 else 0, per_thread, step):  # the first body warmed its server
        chunk = slice(first, min(first + step, per_thread))
        timed("aK", copy_worker, chunk)
        timed("bK", post_worker, chunk)
    copy_k = line(f"(aK) {k} COPY streams at once", done["aK"], took["aK"], lat["aK"])
    line(f"(bK) {k} phones at once, {k} ingest processes", done["bK"], took["bK"], lat["bK"], copy_k)


def run(args: argparse.Namespace, servers: Servers) -> None:
    from django.core.management import call_command
    from django.db import connection
    from tqdm import tqdm

    from core import relay
    from kecamatan_boundaries.bootstrap import load_city_boundaries
    from tracking import attendance, partitions
    from tracking.duty import WIB, wib_date
    from tracking.models import Device
    from tracking.simulator import setup_fleet

    with connection.cursor() as cur:
        cur.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    call_command("migrate", verbosity=0)
    load_city_boundaries(log=lambda m: None)
    n_sup = max(args.supervisors, 10)
    phones = setup_fleet(n_sup, prefix="bench", seed=3)
    # (b1) gets supervisors of its own: on shared ones, whichever window is later would own the
    # latest position and the other would never move it (nor queue a change), a lighter path
    # than a phone's usual upload.
    phones_b1 = setup_fleet(n_sup, prefix="bench-inline", seed=4)
    phones_bd = setup_fleet(n_sup, prefix="bench-daphne", seed=6)
    devices = {d.device_id: d for d in Device.objects.all()}
    now = datetime.now(UTC).replace(microsecond=0)
    fleet = Fleet(phones, devices, now)
    fleet_b1 = Fleet(phones_b1, devices, now)
    fleet_bd = Fleet(phones_bd, devices, now)
    staged_batches = args.copy_batches if args.staged_batches is None else args.staged_batches
    rounds = max(args.copy_batches, staged_batches, args.http_batches)
    days_per_window = int(max(rounds, args.cpu) / len(phones) * fleet.span.total_seconds() / 86400) + 2
    base_a = now - timedelta(days=8 * days_per_window + 1)  # eight separate windows: no key collides
    base_a2 = base_a + timedelta(days=days_per_window)
    base_b = base_a2 + timedelta(days=days_per_window)
    base_b1 = base_b + timedelta(days=days_per_window)
    base_bd = base_b1 + timedelta(days=days_per_window)
    base_ak = base_bd + timedelta(days=days_per_window)
    base_bk = base_ak + timedelta(days=days_per_window)  # then (cpu)'s, ending at least a day before now
    partitions.ensure_days({(base_a + timedelta(days=d)).date() for d in range(8 * days_per_window + 3)})
    with connection.cursor() as cur:
        cur.execute("ANALYZE")

    if args.profile:
        profile(fleet, base_b)
        return

    port_b, port_bd = servers.ingest("bench-ingest"), servers.daphne("bench-daphne")
    http, http_bd = KeepAlive("127.0.0.1", port_b), KeepAlive("127.0.0.1", port_bd)
    http_b1 = KeepAlive("127.0.0.1", servers.ingest("bench-ingest-inline", relay="inline"))

    print(f"bench_tracking: {n_sup} supervisors, PostgreSQL {connection.pg_version}, {datetime.now():%Y-%m-%d %H:%M}")
    # Warm up, untimed, in a window of its own: the first request builds the in-process boundary
    # and geofence indexes and the auth cache; the first COPY warms the connection.
    base_warm = base_a - timedelta(days=1)
    partitions.ensure_days({(base_warm + timedelta(days=d)).date() for d in range(2)})
    for client, warm_fleet in ((http, fleet), (http_b1, fleet_b1), (http_bd, fleet_bd)):
        for r in range(3):
            phone, start, path = warm_fleet.batch(r, base_warm)
            status, answer = client.request(
                "POST", "/api/tracking/pings/", warm_fleet.body(start, path),
                {"Authorization": f"Bearer {phone.token}", "X-Device-Id": phone.device_id,
                 "Content-Type": "application/json"},
            )  # fmt: skip
            assert status == 200, answer[:300]
    copy_into("tracking_ping", fleet.copy_rows(*fleet.batch(len(phones), base_warm), "warm"))
    lat = {"a": [], "a2": [], "b": [], "b1": [], "bD": []}
    cpu = {"a": [], "a2": []}  # this process's CPU per COPY (p50); the servers' is --cpu's
    total = {"a": 0, "a2": 0, "b": 0, "b1": 0, "bD": 0}

    def post_batch(r: int, window: datetime, key: str, client: KeepAlive, fleet: Fleet) -> None:
        phone, start, path = fleet.batch(r, window)
        body = fleet.body(start, path)
        headers = {
            "Authorization": f"Bearer {phone.token}",
            "X-Device-Id": phone.device_id,
            "Content-Type": "application/json",
        }
        s = time.perf_counter()
        status, answer = client.request("POST", "/api/tracking/pings/", body, headers)
        lat[key].append(time.perf_counter() - s)
        assert status == 200 and json.loads(answer)["stored"] == BATCH, answer[:300]
        total[key] += BATCH

    for r in tqdm(range(rounds), desc="(a) / (a2) / (b) / (b1) / (bD) interleaved", leave=False):
        if r < args.copy_batches:
            phone, start, path = fleet.batch(r, base_a)
            rows = fleet.copy_rows(phone, start, path, "copy")
            c, s = time.process_time(), time.perf_counter()
            copy_into("tracking_ping", rows)
            lat["a"].append(time.perf_counter() - s)
            cpu["a"].append(time.process_time() - c)
            total["a"] += len(rows)
        if r < staged_batches:
            phone, start, path = fleet.batch(r, base_a2)
            rows = fleet.copy_rows(phone, start, path, "staged")
            c, s = time.process_time(), time.perf_counter()
            assert staged_insert(rows) == len(rows)
            lat["a2"].append(time.perf_counter() - s)
            cpu["a2"].append(time.process_time() - c)
            total["a2"] += len(rows)
        if r < args.http_batches:
            post_batch(r, base_b, "b", http, fleet)
            post_batch(r, base_b1, "b1", http_b1, fleet_b1)
            post_batch(r, base_bd, "bD", http_bd, fleet_bd)
    copy_rate = line("(a) binary COPY, 1000 rows each", total["a"], sum(lat["a"]), lat["a"], cpu=cpu["a"])
    if total["a2"]:
        line("(a2) staging COPY + INSERT ON CONFLICT", total["a2"], sum(lat["a2"]), lat["a2"], copy_rate, cpu["a2"])
    line("(b) batch endpoint, 1000 per request", total["b"], sum(lat["b"]), lat["b"], copy_rate)
    line("(b1) the same, receivers in the request", total["b1"], sum(lat["b1"]), lat["b1"], copy_rate)
    line("(bD) the same through Daphne (ASGI)", total["bD"], sum(lat["bD"]), lat["bD"], copy_rate)

    if args.concurrency > 1 and args.http_batches:
        concurrent(args, fleet, servers, base_ak, base_bk)

    if args.cpu:
        base_cpu = base_bk + timedelta(days=days_per_window)  # the eighth window

        def copy_call(r: int):
            rows = fleet.copy_rows(*fleet.batch(r, base_cpu), "cpu")
            return lambda: copy_into("tracking_ping", rows)

        def post_call(r: int, client: KeepAlive, phones: Fleet):
            phone, start, path = phones.batch(r, base_cpu)
            body = fleet.body(start, path)
            headers = {"Authorization": f"Bearer {phone.token}", "X-Device-Id": phone.device_id,
                       "Content-Type": "application/json"}  # fmt: skip

            def call() -> None:
                status, answer = client.request("POST", "/api/tracking/pings/", body, headers)
                assert status == 200, answer[:300]

            return call

        n = args.cpu
        cpu_split(n, {
            "(a) CPU, raw COPY": ([copy_call(r) for r in range(n)], None),
            "(b) CPU, batch endpoint": ([post_call(r, http, fleet_b1) for r in range(n)], servers.pid(port_b)),
            "(bD) CPU, through Daphne": ([post_call(r, http_bd, fleet_bd) for r in range(n)], servers.pid(port_bd)),
        })  # fmt: skip

    queued = relay.pending()
    s = time.perf_counter()
    with relay_mode("worker"):
        delivered = relay.drain(limit=queued + 10)
    took = time.perf_counter() - s
    print(
        f"(w) the worker announcing (b)'s changes: {delivered} in {took:.2f} s, "
        f"{1000 * took / max(delivered, 1):.1f} ms each (a supervisor's positions coalesce)"
    )

    # (c) single OsmAnd pings (Traccar Client form), each phone moving
    lat_c = []
    base_c = now - timedelta(hours=4)
    for i in tqdm(range(args.single), desc="(c) OsmAnd", leave=False):
        phone = phones[i % len(phones)]
        phone.move(STEP_S, fleet.rng, wander=False)
        stamp = base_c + timedelta(seconds=STEP_S * (i // len(phones)))
        params = {"id": phone.device_id, "token": phone.token, "timestamp": int(stamp.timestamp()),
                  "lat": phone.lat, "lon": phone.lon, "speed": 0, "accuracy": 10, "batt": 80}  # fmt: skip
        s = time.perf_counter()
        status, answer = http.request("GET", f"/tracking/osmand/?{urlencode(params)}")
        lat_c.append(time.perf_counter() - s)
        assert status == 200, answer[:300]
    line("(c) single OsmAnd pings", args.single, sum(lat_c), lat_c)
    servers.stop()

    # (d) attendance: S supervisors x D days of 10-second pings (all-day shifts), on a clean history
    att_phones = [copy.copy(p) for p in phones[: args.supervisors]]
    first_day = wib_date(now) - timedelta(days=args.days + 1)
    day_start = datetime.combine(first_day, datetime.min.time(), WIB)
    partitions.ensure_days({(day_start + timedelta(days=d)).astimezone(UTC).date() for d in range(args.days + 2)})
    with connection.cursor() as cur:
        cur.execute("TRUNCATE tracking_ping")
    n_rows = 0
    for p in tqdm(att_phones, desc="(d) history", leave=False):
        for k in range(0, 8640 * args.days, BATCH):
            count = min(BATCH, 8640 * args.days - k)
            start = day_start + timedelta(seconds=STEP_S * k)
            path = [(p.lon, p.lat)] * count
            copy_into("tracking_ping", fleet.copy_rows(p, start, path, "att"))
            n_rows += count
    with connection.cursor() as cur:
        cur.execute("ANALYZE tracking_ping")
    t0 = time.perf_counter()
    for d in range(args.days):
        attendance.compute_day(first_day + timedelta(days=d), [devices[p.device_id].supervisor_id for p in att_phones])
    line(f"(d) attendance {len(att_phones)} sup x {args.days} d", n_rows, time.perf_counter() - t0)


if __name__ == "__main__":
    main()
