"""`make loadtest`: the LIVE Room under a working day's load, on loopback, bounded in time and count.

It makes its own database (`loadtest` on the project's PostgreSQL server; dropped afterwards unless
--keep-db), migrates and bootstraps it, makes supervisors with devices through the ORM, starts
Daphne and the worker, then:

  phase 1  300 phones ping every 10 s (native, OsmAnd and OwnTracks in turn), citizens file
           reports, 11 operators' consoles hold a WebSocket open;
  phase 2  the same, plus 10,000 devices each uploading the fixes it buffered (one batch each).

Afterwards every accepted (2xx) ping and report must be in the database exactly once, and it
prints latency percentiles and answers per kind. Exit status 1 when anything accepted is missing.

    .venv/bin/python loadtest/run_load.py                       # defaults: about 7 minutes, every device once
    .venv/bin/python loadtest/run_load.py --phase1 600 --phase2 900 --buffer 30   # longer
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests
from tqdm import tqdm

from loadtest import common as c

MARKER = "[loadtest]"


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--phones", type=int, default=300, help="phones pinging live (default 300)")
    p.add_argument("--interval", type=float, default=10, help="seconds between a phone's fixes (10)")
    p.add_argument("--phase1", type=float, default=75, help="seconds of phase 1 (75)")
    p.add_argument("--devices", type=int, default=10_000, help="devices uploading a buffered batch in phase 2")
    p.add_argument("--upload-every", type=float, default=300, help="seconds between a buffering device's uploads (300)")
    p.add_argument("--buffer", type=int, default=60, help="fixes per buffered batch (60 = 10 minutes at 10 s)")
    p.add_argument("--phase2", type=float, default=300, help="seconds of phase 2 (300: each device uploads once)")
    p.add_argument("--servers", type=int, default=2, help="Daphne processes (behind the client's round robin)")
    p.add_argument(
        "--ingest-workers",
        type=int,
        default=2,
        help="the ingestion service's processes (Granian, WSGI) taking the phones' uploads, as nginx routes "
        "them (deploy/); 0 = uploads go to Daphne. Needs Redis (the worker relays to the consoles)",
    )
    p.add_argument("--ingest-threads", type=int, default=2, help="threads per ingestion process (2)")
    p.add_argument("--consoles", type=int, default=11, help="console WebSocket clients (11 operators)")
    p.add_argument("--citizens", type=int, default=10, help="citizens filing reports (10)")
    p.add_argument("--report-every", type=float, default=6, help="seconds between one citizen's reports (6)")
    p.add_argument("--concurrency", type=int, default=48, help="HTTP client threads per pool (48)")
    p.add_argument("--db", default="loadtest", help="database name (recreated)")
    p.add_argument("--keep-db", action="store_true", help="keep the database afterwards")
    p.add_argument("--no-redis", action="store_true", help="in-memory channel layer even if Redis runs")
    return p.parse_args()


def main() -> int:
    args = parse()
    started = time.monotonic()
    db_url = c.project_db_url(args.db)
    c.log(f"database {args.db}: create, migrate, bootstrap")
    c.recreate_database(db_url)
    c.prepare_database(db_url)
    c.django_setup(db_url)
    c.log(f"fleet: {args.phones} phones + {args.devices} devices, {args.consoles} operators, {args.citizens} citizens")
    phones = c.make_fleet(args.phones, "lt-phone")
    devices = c.make_fleet(args.devices, "lt-dev") if args.devices else []
    for d in devices:
        d.protocol = "native"  # buffered uploads are batches
    operators = [c.session_for(u) for u in c.make_users("operator", args.consoles, "lt-op")]
    citizens = [c.session_for(u) for u in c.make_users("citizen", args.citizens, "lt-cit")]

    from django.db import connections

    connections.close_all()
    redis = None if args.no_redis else c.redis_url_if_running()
    n_servers = args.servers if redis else 1  # the in-memory layer reaches one process's sockets only
    ports = [c.free_port() for _ in range(n_servers)]
    env = c.server_env(db_url, REDIS_URL=redis)
    bases = [f"http://127.0.0.1:{p}" for p in ports]
    webs = [c.start_server(env, p, name=f"web-{i}") for i, p in enumerate(ports)]
    ingest_base = None
    if redis and args.ingest_workers:
        ingest_port = c.free_port()
        webs.append(c.start_ingest(env, ingest_port, args.ingest_workers, args.ingest_threads))
        ingest_base = f"http://127.0.0.1:{ingest_port}"
    worker = c.start_worker(env)
    c.log(
        f"{n_servers} Daphne server(s) {bases}, "
        + (f"ingestion service {ingest_base} ({args.ingest_workers} x {args.ingest_threads}), " if ingest_base else "")
        + f"worker, channel layer: {'Redis ' + redis if redis else 'in-memory'}"
    )
    counter = iter(range(10**12))

    def pick() -> str:
        return bases[next(counter) % len(bases)]  # round robin, as nginx's upstream would

    def pick_ingest() -> str:
        return ingest_base or pick()  # nginx sends the ping URLs to the ingestion service

    books = c.Books()
    stop = threading.Event()
    consoles = [c.ConsoleSocket(ports[i % len(ports)], key, stop, f"console-{i}") for i, key in enumerate(operators)]
    for s in consoles:
        s.start()
    for s in consoles:
        s.connected.wait(timeout=20)
    c.log(f"consoles connected: {sum(s.connected.is_set() for s in consoles)}/{len(consoles)}")

    local = threading.local()

    def http() -> requests.Session:
        if not hasattr(local, "s"):
            local.s = requests.Session()
        return local.s

    pool = ThreadPoolExecutor(max_workers=args.concurrency)  # the live phones and citizens
    pool2 = ThreadPoolExecutor(max_workers=args.concurrency)  # the buffering devices: never queued behind phones
    lag: list[float] = []
    lag2: list[float] = []
    rng = random.Random(7)
    end_all = [time.monotonic() + args.phase1 + args.phase2 + 60]

    def phone_tick(phone: c.Phone, due: float) -> None:
        lag.append(max(0.0, time.monotonic() - due))
        lon, lat = phone.step(rng)
        t = max(c.now(), phone.t + 1)
        phone.t = t
        c.send_pings(http(), pick_ingest(), phone, [(t, lon, lat)], books, f"ping {phone.protocol}", end_all[0])

    def phones_loop(until: threading.Event) -> None:
        """Each phone every `interval` seconds, spread evenly over the interval."""
        step = args.interval / max(1, len(phones))
        t0 = time.monotonic()
        k = 0
        while not until.is_set():
            due = t0 + k * step
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(phone_tick, phones[k % len(phones)], due)
            k += 1

    def citizen_loop(key: str, until: threading.Event, seed: int) -> None:
        r = random.Random(seed)
        client = c.SessionClient(pick(), key)
        time.sleep(r.uniform(0, args.report_every))
        while not until.is_set():
            c.file_report(client, books, "report", end_all[0], r, MARKER)
            until.wait(r.uniform(0.5, 1.5) * args.report_every)

    load_stop = threading.Event()
    backlog: list[int] = []  # changes waiting for the worker's relay, sampled every 2 s

    def watch_relay(until: threading.Event) -> None:
        from django.db import connection

        from core.models import PendingSignal

        while not until.wait(2):
            backlog.append(PendingSignal.objects.count())
        connection.close()

    threads = [threading.Thread(target=phones_loop, args=(load_stop,), daemon=True)]
    threads.append(threading.Thread(target=watch_relay, args=(load_stop,), daemon=True))
    threads += [
        threading.Thread(target=citizen_loop, args=(key, load_stop, i), daemon=True) for i, key in enumerate(citizens)
    ]
    for t in threads:
        t.start()

    c.log(f"phase 1: {len(phones)} phones every {args.interval:g} s + citizens, {args.phase1:g} s")
    for _ in tqdm(range(int(args.phase1)), desc="phase 1", unit="s", leave=False):
        time.sleep(1)

    sent2 = 0
    if devices:
        period = args.upload_every / len(devices)
        c.log(
            f"phase 2: + {len(devices)} devices each uploading {args.buffer} buffered fixes every"
            f" {args.upload_every:g} s ({1 / period:.1f} batches/s offered), {args.phase2:g} s"
        )
        t0 = time.monotonic()
        deadline2 = t0 + args.phase2
        planned = min(len(devices), int(args.phase2 / period))
        bar = tqdm(total=planned, desc="phase 2 batches", unit="batch", leave=False)

        def upload(dev: c.Phone, due: float) -> None:
            lag2.append(max(0.0, time.monotonic() - due))
            try:
                end = c.now() - 1
                fixes = []
                for j in range(args.buffer):
                    lon, lat = dev.step(rng)
                    fixes.append((end - (args.buffer - 1 - j) * args.interval, lon, lat))
                c.send_pings(http(), pick_ingest(), dev, fixes, books, "batch native", end_all[0])
            finally:
                bar.update(1)

        for k, dev in enumerate(devices):
            due = t0 + k * period
            if due > deadline2:
                break
            if (delay := due - time.monotonic()) > 0:
                time.sleep(delay)
            pool2.submit(upload, dev, due)
            sent2 += 1
        if (rest := deadline2 - time.monotonic()) > 0:
            time.sleep(rest)
        bar.close()

    load_stop.set()
    for t in threads:
        t.join(timeout=120)
    # what the server did not get to in time is not sent (and so not accepted): counted, not waited for
    time.sleep(10)
    unsent = sum(p._work_queue.qsize() for p in (pool, pool2))
    pool.shutdown(wait=True, cancel_futures=True)
    pool2.shutdown(wait=True, cancel_futures=True)
    # the worker announces what is still queued (dispatch, consoles): how long it takes shows whether it kept up
    from core.models import PendingSignal

    queued_at_stop = PendingSignal.objects.count()
    t_relay = time.monotonic()
    while PendingSignal.objects.exists() and time.monotonic() - t_relay < 120:
        time.sleep(0.5)
    relay_drain_s, relay_left = time.monotonic() - t_relay, PendingSignal.objects.count()
    time.sleep(2)  # the last live events reach the consoles
    from django.db.models import Max

    from console.models import LiveEvent

    last_before_close = LiveEvent.objects.aggregate(last=Max("id"))["last"] or 0
    stop.set()
    for s in consoles:
        s.join(timeout=5)
    for web in webs:
        web.stop()
    worker.stop()

    first = min((s.first_seq for s in consoles if s.first_seq is not None), default=0)
    while_open = LiveEvent.objects.exclude(kind="pruned").filter(id__gt=first, id__lte=last_before_close)
    published = dict(Counter(while_open.values_list("kind", flat=True)))
    published_ids = set(while_open.values_list("id", flat=True))
    after_close = LiveEvent.objects.exclude(kind="pruned").filter(id__gt=last_before_close).count()
    ok, lines = c.audit(books, MARKER)
    lag.sort()
    print()
    print(
        f"== loadtest {c.wib_now()}: {args.phones} phones / {args.interval:g} s for {args.phase1 + args.phase2:g} s,"
        f" {sent2} of {len(devices)} buffered devices scheduled ({args.buffer} fixes each), {args.consoles} consoles,"
        f" {args.citizens} citizens; Daphne"
        + (f" + ingestion service ({args.ingest_workers} x {args.ingest_threads})" if ingest_base else "")
        + f" + worker, {'Redis' if redis else 'in-memory'} channel layer"
    )
    for line in books.figures():
        print("  " + line)
    for name, values in (("phones", lag), ("buffered uploads", sorted(lag2))):
        if values:
            print(
                f"  {name}: start lag behind schedule (client queue) p50 {values[len(values) // 2]:.1f} s,"
                f" max {values[-1]:.1f} s"
            )
    print(
        f"  retries after 503/429/errors: {dict(books.retries) or 0}; requests still queued at the end (not sent,"
        f" so not accepted): {unsent}"
    )
    print(
        f"  worker relay (changes queued for dispatch and the consoles): backlog max {max(backlog, default=0)},"
        f" p50 {sorted(backlog)[len(backlog) // 2] if backlog else 0} (sampled every 2 s); {queued_at_stop} queued"
        f" when the load stopped, announced in {relay_drain_s:.1f} s, {relay_left} left"
    )
    missed = [len(published_ids - s.seqs) for s in consoles]
    print(
        f"  consoles: live events published while connected {sum(published.values())} {published};"
        f" missed per console min {min(missed, default=0)} max {max(missed, default=0)};"
        f" reconnects {sum(s.reconnects for s in consoles)}; resyncs {sum(s.resyncs for s in consoles)};"
        f" published after the consoles closed (not counted) {after_close}"
    )
    for line in lines:
        print("  " + line)
    print(
        f"  RESULT: {'nothing lost, nothing stored twice' if ok else 'LOSS OR DOUBLES (see above)'}"
        f" (whole run {time.monotonic() - started:.0f} s)"
    )
    connections.close_all()
    if not args.keep_db:
        c.drop_database(db_url)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
