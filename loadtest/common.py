"""Shared pieces of `make loadtest` and `make faults`: databases, the server and worker processes,
a fleet of supervisors with device tokens, phones that ping in each protocol, citizens, a small
WebSocket client for the console, and the books that prove nothing accepted was lost.

Everything runs on loopback: the server is Daphne (`geoapp.asgi:application`, as deploy/ runs it)
and the worker is `manage.py run_worker`, both children of the script, on a database of their own.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import requests

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable
SECRET_KEY = "loadtest-" + "k" * 50  # the same key in this process and the server: sessions are made here
KECAMATAN_FILE = ROOT / "fixtures" / "kota_tangerang" / "kota_tangerang_kecamatan.geojson"
FIELD_OPDS = ["dishub", "dbmsda", "dkp", "satpolpp", "bpbd"]
CATEGORIES = ["kemacetan", "banjir", "pohon-tumbang", "jalan-rusak", "sampah", "gangguan-keamanan-ketertiban"]


def log(msg: str) -> None:
    """A progress line stamped in WIB (the process's local zone changes once Django is set up)."""
    print(f"[{datetime.now(UTC) + timedelta(hours=7):%H:%M:%S}] {msg}", flush=True)


# --- databases ------------------------------------------------------------------------------------
def pg_bin() -> Path:
    for cand in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (cand / "pg_ctl").exists():
            return cand
    raise SystemExit("PostgreSQL server binaries not found (scripts/ensure_system.sh)")


def socket_url(sock_dir: str, dbname: str, user: str = "geoapp") -> str:
    return f"postgis://{user}@{quote(str(sock_dir), safe='')}/{dbname}"


def project_db_url(dbname: str) -> str:
    """A database `dbname` on the same server as the project's (DATABASE_URL or var/run)."""
    base = os.environ.get("DATABASE_URL")
    if base:
        head, _, _ = base.rpartition("/")
        return f"{head}/{dbname}"
    return socket_url(str((ROOT / "var" / "run").resolve()), dbname)


def admin_connect(url: str):
    import dj_database_url
    import psycopg

    cfg = dj_database_url.parse(url)
    return psycopg.connect(
        dbname="postgres",
        user=cfg["USER"] or None,
        host=cfg["HOST"] or None,
        port=cfg["PORT"] or None,
        password=cfg["PASSWORD"] or None,
        autocommit=True,
    )


def recreate_database(url: str) -> None:
    name = url.rpartition("/")[2]
    with admin_connect(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    name = url.rpartition("/")[2]
    with admin_connect(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def server_env(db_url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=db_url,
        DEBUG="0",
        SECRET_KEY=SECRET_KEY,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    env.pop("REDIS_URL", None)
    env.update({k: v for k, v in extra.items() if v is not None})
    return env


def prepare_database(db_url: str) -> None:
    """migrate + bootstrap (boundaries, OPDs, categories, roles), as `make run` does."""
    env = server_env(db_url)
    for cmd in (["migrate", "--noinput", "-v", "0"], ["bootstrap"]):
        subprocess.run([PY, "manage.py", *cmd], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def django_setup(db_url: str) -> None:
    """Point this process's ORM at the test database (before anything imports models)."""
    os.environ["DATABASE_URL"] = db_url
    os.environ["DEBUG"] = "0"
    os.environ["SECRET_KEY"] = SECRET_KEY
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geoapp.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


# --- processes ----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    """A child process (server or worker) with its output in a log file under var/loadtest/."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str]):
        self.name, self.argv, self.env = name, argv, env
        self.logfile = ROOT / "var" / "loadtest" / f"{name}.log"
        self.logfile.parent.mkdir(parents=True, exist_ok=True)
        self.p: subprocess.Popen | None = None

    def start(self) -> Proc:
        out = open(self.logfile, "ab")  # noqa: SIM115 - closed with the process
        self.p = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        return self

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.p and self.p.poll() is None:
            self.p.send_signal(sig)
            try:
                self.p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()

    def stop(self) -> None:
        self.kill(signal.SIGINT if self.name.startswith("worker") else signal.SIGTERM)

    def alive(self) -> bool:
        return bool(self.p and self.p.poll() is None)


def start_server(env: dict[str, str], port: int, name: str = "web") -> Proc:
    # No access log, as deploy/geoapp-web.service: Daphne's would write OsmAnd's ?token= into the log file.
    argv = [PY, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "--access-log", "/dev/null"]
    proc = Proc(name, [*argv, "geoapp.asgi:application"], env)
    proc.start()
    _await_health(proc, port)
    return proc


def _await_health(proc: Proc, port: int) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if not proc.alive():
            raise SystemExit(f"the server died at start; see {proc.logfile}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code in (200, 503):
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise SystemExit(f"the server did not answer /healthz in 90 s; see {proc.logfile}")


def start_ingest(env: dict[str, str], port: int, workers: int = 2, threads: int = 2, name: str = "ingest") -> Proc:
    """The ingestion service as deployed (deploy/geoapp-ingest.service): Granian, WSGI."""
    from core.serving import INGEST_ENV, ingest_argv

    proc = Proc(name, ingest_argv(port, workers, threads), {**env, **INGEST_ENV})
    proc.start()
    _await_health(proc, port)
    return proc


def process_tree(pid: int) -> list[int]:
    """`pid` and every process under it (a server and its workers), read from /proc."""
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        seen.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            continue
    return seen


def kill_tree(pid: int, sig: int = signal.SIGKILL) -> int:
    """Signal a process and every process under it (as systemd's control group would); returns
    how many were signalled."""
    seen = process_tree(pid)
    for p in seen:
        try:
            os.kill(p, sig)
        except ProcessLookupError:
            pass
    return len(seen)


def start_worker(env: dict[str, str], name: str = "worker", poll: float = 0.5) -> Proc:
    return Proc(name, [PY, "manage.py", "run_worker", "--poll", str(poll)], env).start()


def redis_url_if_running(db: int = 7) -> str | None:
    """The machine's Redis on 127.0.0.1:6379 (database `db`, away from others' keys), if it answers."""
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            if s.recv(16).startswith(b"+PONG"):
                return f"redis://127.0.0.1:6379/{db}"
    except OSError:
        pass
    return None


# --- the fleet ----------------------------------------------------------------------------------
def kecamatan_points() -> list[tuple[str, float, float]]:
    """(code, lon, lat) of a known point inside each kecamatan (src_centroid from the fixture)."""
    data = json.loads(KECAMATAN_FILE.read_text())
    out = []
    for f in data["features"]:
        p = f["properties"]
        code = p.get("code") or p.get("kode") or p.get("KODE")
        out.append((code, float(p["src_centroid_lng"]), float(p["src_centroid_lat"])))
    return out


@dataclass
class Phone:
    device_id: str
    token: str
    supervisor_id: int
    lon: float
    lat: float
    protocol: str = "native"
    t: float = 0.0  # epoch seconds of the last fix made

    def step(self, rng: random.Random) -> tuple[float, float]:
        # a walk of up to ~30 m per fix (about 3 m/s), staying near home
        self.lon += rng.uniform(-0.00025, 0.00025)
        self.lat += rng.uniform(-0.00025, 0.00025)
        return self.lon, self.lat


def make_fleet(n: int, prefix: str, with_users: bool = False) -> list[Phone]:
    """`n` supervisors over the 5 field OPDs and 13 kecamatan, on shift all day, each with a device.

    Bulk inserts through the ORM (the same models the admin uses); tokens are issued the real way.
    """
    from datetime import time as dtime

    from django.db import transaction

    from incidents.models import OPD
    from tracking.models import Device, Shift, Supervisor

    points = kecamatan_points()
    opds = {o.code: o for o in OPD.objects.filter(code__in=FIELD_OPDS)}
    rng = random.Random(n)
    phones: list[Phone] = []
    with transaction.atomic():
        sups = []
        for i in range(n):
            code, lon, lat = points[i % len(points)]
            sups.append(
                Supervisor(name=f"{prefix} {i}", opd=opds[FIELD_OPDS[i % len(FIELD_OPDS)]], kecamatan_codes=[code])
            )
        Supervisor.objects.bulk_create(sups, batch_size=2000)
        Shift.objects.bulk_create(
            [Shift(supervisor=s, weekday=wd, start=dtime(0), end=dtime(0)) for s in sups for wd in range(7)],
            batch_size=5000,
        )
        devices, tokens = [], []
        for i, s in enumerate(sups):
            d = Device(supervisor=s, device_id=f"{prefix}-{i}")
            tokens.append(d.issue_token())
            devices.append(d)
        Device.objects.bulk_create(devices, batch_size=2000)
    protocols = ["native", "osmand", "owntracks"]
    for i, (s, d, tok) in enumerate(zip(sups, devices, tokens, strict=True)):
        _, lon, lat = points[i % len(points)]
        phones.append(
            Phone(
                device_id=d.device_id,
                token=tok,
                supervisor_id=s.pk,
                lon=lon + rng.uniform(-0.002, 0.002),
                lat=lat + rng.uniform(-0.002, 0.002),
                protocol=protocols[i % 3],
            )
        )
    return phones


def make_users(role: str, n: int, prefix: str) -> list:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    User = get_user_model()
    group = Group.objects.get(name=role)
    users = []
    for i in range(n):
        u = User.objects.create_user(f"{prefix}-{i}-{uuid.uuid4().hex[:6]}")  # unusable password: sessions only
        u.groups.add(group)
        users.append(u)
    return users


def session_for(user) -> str:
    """A signed-in session made server-side (as a login would), so no password crosses the wire."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    s = SessionStore()
    s[SESSION_KEY] = str(user.pk)
    s[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    s[HASH_SESSION_KEY] = user.get_session_auth_hash()
    s.create()
    return s.session_key


class SessionClient:
    """requests with a Django session cookie and the CSRF pair DRF wants for unsafe methods."""

    def __init__(self, base: str, session_key: str | None):
        self.base = base
        self.http = requests.Session()
        self.csrf = secrets.token_hex(16)  # 32 characters: Django accepts the unmasked secret
        cookie = f"csrftoken={self.csrf}"
        if session_key:
            cookie += f"; sessionid={session_key}"
        self.headers = {"Cookie": cookie, "X-CSRFToken": self.csrf, "Referer": base + "/"}


# --- requests and books ---------------------------------------------------------------------------
def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def ping_request(phone: Phone, fixes: list[tuple[float, float, float]]) -> dict:
    """The HTTP request a phone of `phone.protocol` sends for `fixes` [(epoch s, lon, lat)].

    OsmAnd and OwnTracks carry one fix per request (as those apps do); a buffered native phone
    sends them as one batch.
    """
    if phone.protocol == "osmand" and len(fixes) == 1:
        t, lon, lat = fixes[0]
        return {
            "method": "GET",
            "path": "/tracking/osmand/",
            "params": {
                "id": phone.device_id,
                "token": phone.token,
                "lat": f"{lat:.7f}",
                "lon": f"{lon:.7f}",
                "timestamp": str(int(t)),
                "accuracy": "8",
                "speed": "2.0",
            },
        }
    if phone.protocol == "owntracks" and len(fixes) == 1:
        t, lon, lat = fixes[0]
        auth = base64.b64encode(f"{phone.device_id}:{phone.token}".encode()).decode()
        return {
            "method": "POST",
            "path": "/tracking/owntracks/",
            "headers": {"Authorization": f"Basic {auth}"},
            "json": {"_type": "location", "lat": lat, "lon": lon, "tst": int(t), "acc": 8, "vel": 7},
        }
    return {
        "method": "POST",
        "path": "/api/tracking/pings/",
        "headers": {"Authorization": f"Bearer {phone.token}", "X-Device-Id": phone.device_id},
        "json": {
            "pings": [
                {"time": iso(t), "lat": lat, "lon": lon, "accuracy": 8, "speed": 2.0, "heading": 90}
                for t, lon, lat in fixes
            ]
        },
    }


@dataclass
class Books:
    """What the server accepted (2xx), to be found in the database afterwards, and the figures."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    accepted_pings: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))  # device -> epoch s
    unsure_pings: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))  # gave up, unknown
    dropped_pings: int = 0
    reports: dict[str, str] = field(default_factory=dict)  # idempotency key -> public id
    reports_unsure: set[str] = field(default_factory=set)
    retries: Counter = field(default_factory=Counter)

    def note(self, kind: str, status: int | str, seconds: float | None) -> None:
        with self.lock:
            self.statuses[kind][status] += 1
            if seconds is not None:
                self.latency[kind].append(seconds)

    def figures(self) -> list[str]:
        lines = [f"{'kind':<16}{'requests':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}  answers"]
        for kind in sorted(self.statuses):
            lat = sorted(self.latency.get(kind) or [0.0])

            def p(q: float, lat=lat) -> float:
                return 1000 * lat[min(len(lat) - 1, int(q * len(lat)))]

            answers = ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses[kind].items(), key=lambda kv: str(kv[0])))
            total = sum(self.statuses[kind].values())
            pcts = f"{p(0.5):>9.0f}{p(0.95):>9.0f}{p(0.99):>9.0f}{1000 * lat[-1]:>9.0f}"
            lines.append(f"{kind:<16}{total:>9}{pcts}  {answers}")
        return lines


def send_pings(
    http: requests.Session,
    base: str,
    phone: Phone,
    fixes: list[tuple[float, float, float]],
    books: Books,
    kind: str,
    deadline: float,
    timeout: float = 30,
) -> bool:
    """Send like a phone: retry on 503/429/connection errors (honouring Retry-After) until `deadline`.

    Accepted fixes go into the books; on giving up they are 'unsure' (maybe stored, maybe not).
    """
    req = ping_request(phone, fixes)
    attempt = 0
    while True:
        attempt += 1
        t0 = time.perf_counter()
        try:
            r = http.request(
                req["method"],
                base + req["path"],
                params=req.get("params"),
                json=req.get("json"),
                headers=req.get("headers"),
                timeout=timeout,
            )
            status: int | str = r.status_code
        except requests.RequestException as exc:
            r, status = None, type(exc).__name__
        books.note(kind, status, time.perf_counter() - t0)
        if r is not None and 200 <= r.status_code < 300:
            bad = set()
            if "json" in r.headers.get("Content-Type", ""):
                body = r.json()
                if isinstance(body, dict):
                    bad = {p["index"] for p in body.get("dropped", []) + body.get("rejected", [])}
            with books.lock:
                books.dropped_pings += len(bad)
                for i, (t, _, _) in enumerate(fixes):
                    if i not in bad:
                        books.accepted_pings[phone.device_id].add(int(t))
                        books.unsure_pings[phone.device_id].discard(int(t))
            return True
        retriable = r is None or r.status_code in (429, 502, 503, 504)
        if not retriable or time.monotonic() > deadline:
            with books.lock:
                for t, _, _ in fixes:
                    books.unsure_pings[phone.device_id].add(int(t))
            return False
        with books.lock:
            books.retries[kind] += 1
        wait = float(r.headers.get("Retry-After", 1)) if r is not None else 0.5
        time.sleep(min(wait, 5) * (0.5 + random.random()))


def file_report(
    client: SessionClient, books: Books, kind: str, deadline: float, rng: random.Random, marker: str
) -> bool:
    """A citizen's report with an Idempotency-Key, retried (same key) on 503/connection errors."""
    _, lon, lat = rng.choice(kecamatan_points())
    key = uuid.uuid4().hex
    body = {
        "category": rng.choice(CATEGORIES),
        "description": f"{marker} laporan warga {key[:8]}",
        "lat": lat + rng.uniform(-0.003, 0.003),
        "lon": lon + rng.uniform(-0.003, 0.003),
    }
    headers = {**client.headers, "Idempotency-Key": key}
    while True:
        t0 = time.perf_counter()
        try:
            r = client.http.post(client.base + "/api/reports/", json=body, headers=headers, timeout=60)
            status: int | str = r.status_code
        except requests.RequestException as exc:
            r, status = None, type(exc).__name__
        books.note(kind, status, time.perf_counter() - t0)
        if r is not None and r.status_code in (200, 201):
            with books.lock:
                books.reports[key] = r.json()["id"]
                books.reports_unsure.discard(key)
            return True
        if (r is not None and r.status_code not in (429, 502, 503, 504)) or time.monotonic() > deadline:
            with books.lock:
                books.reports_unsure.add(key)
            return False
        with books.lock:
            books.retries[kind] += 1
        time.sleep(float(r.headers.get("Retry-After", 1)) if r is not None else 0.5)


def audit(books: Books, marker: str) -> tuple[bool, list[str]]:
    """Every accepted ping and report is in the database, once; counts must match exactly."""
    from django.db import connection

    from incidents.models import Report

    out: list[str] = []
    ok = True
    devices = sorted(set(books.accepted_pings) | set(books.unsure_pings))
    stored: dict[str, set[int]] = defaultdict(set)
    with connection.cursor() as cur:
        for i in range(0, len(devices), 2000):
            chunk = devices[i : i + 2000]
            cur.execute(
                "SELECT d.device_id, floor(extract(epoch FROM p.device_time))::bigint, count(*) "
                "FROM tracking_ping p JOIN tracking_device d ON d.id = p.device_id "
                "WHERE d.device_id = ANY(%s) GROUP BY 1, 2",
                [chunk],
            )
            for dev, t, n in cur.fetchall():
                if n > 1:
                    ok = False
                    out.append(f"DOUBLE: {dev} at {t} stored {n} times")
                stored[dev].add(int(t))
    accepted = sum(len(v) for v in books.accepted_pings.values())
    missing = sum(len(books.accepted_pings[d] - stored[d]) for d in books.accepted_pings)
    extra = sum(len(stored[d] - books.accepted_pings[d] - books.unsure_pings[d]) for d in stored)
    unsure = sum(len(v) for v in books.unsure_pings.values())
    unsure_stored = sum(len(books.unsure_pings[d] & stored[d]) for d in books.unsure_pings)
    total_stored = sum(len(v) for v in stored.values())
    out.append(
        f"pings: accepted (2xx) {accepted}, in the database {total_stored - unsure_stored} of them"
        f" -> missing {missing}, unexpected {extra}; gave up on {unsure} (of which stored {unsure_stored});"
        f" dropped by filters {books.dropped_pings}"
    )
    ok = ok and missing == 0 and extra == 0
    keys = list(books.reports)
    found = Report.objects.filter(public_id__in=list(books.reports.values())).count()
    ours = Report.objects.filter(description__startswith=marker)
    total = ours.count()
    by_key = ours.filter(idempotency_key__in=keys).count() if hasattr(Report, "idempotency_key") else found
    unsure_found = ours.filter(idempotency_key__in=list(books.reports_unsure)).count() if books.reports_unsure else 0
    out.append(
        f"reports: accepted (2xx) {len(keys)}, in the database {found} (by key {by_key}); all of this run's"
        f" {total} (gave up on {len(books.reports_unsure)}, of which stored {unsure_found})"
    )
    ok = ok and found == len(keys) and total == len(keys) + unsure_found
    return ok, out


# --- a small WebSocket client (RFC 6455, text frames) for the console -----------------------------
class ConsoleSocket(threading.Thread):
    """One operator's console: connects to /ws/console/, counts events, reconnects with ?since=."""

    def __init__(self, port: int, session_key: str, stop: threading.Event, name: str):
        super().__init__(daemon=True, name=name)
        self.port, self.session_key, self.stop_event = port, session_key, stop
        self.events = 0
        self.hellos = 0
        self.resyncs = 0
        self.reconnects = 0
        self.refused: Counter = Counter()
        self.seq = 0
        self.seqs: set[int] = set()
        self.first_seq: int | None = None
        self.connected = threading.Event()
        self.last_connect = 0.0

    def _connect(self) -> socket.socket:
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        key = base64.b64encode(os.urandom(16)).decode()
        path = "/ws/console/" + (f"?since={self.seq}" if self.seq else "")
        s.sendall(
            (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Origin: http://127.0.0.1:{self.port}\r\nCookie: sessionid={self.session_key}\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(4096)
            if not chunk:
                raise ConnectionError("closed during handshake")
            head += chunk
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status:
            raise ConnectionError(status.decode(errors="replace"))
        self._buf = head.split(b"\r\n\r\n", 1)[1]
        s.settimeout(1.0)
        return s

    def _read(self, s: socket.socket, n: int) -> bytes:
        while len(self._buf) < n:
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                if self.stop_event.is_set():
                    raise ConnectionAbortedError("stopping") from None
                continue
            if not chunk:
                raise ConnectionError("closed")
            self._buf += chunk
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def _frame(self, s: socket.socket) -> tuple[int, bytes]:
        b0, b1 = self._read(s, 2)
        n = b1 & 0x7F
        if n == 126:
            n = int.from_bytes(self._read(s, 2), "big")
        elif n == 127:
            n = int.from_bytes(self._read(s, 8), "big")
        return b0 & 0x0F, self._read(s, n)

    @staticmethod
    def _send(s: socket.socket, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        head = bytes([0x80 | opcode, 0x80 | len(payload)])  # control frames are short (< 126)
        s.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def run(self) -> None:
        first = True
        while not self.stop_event.is_set():
            try:
                s = self._connect()
            except OSError as exc:
                self.refused[str(exc)[:60]] += 1
                self.connected.clear()
                time.sleep(0.5)
                continue
            if not first:
                self.reconnects += 1
            first = False
            self.connected.set()
            self.last_connect = time.monotonic()
            try:
                while True:
                    op, data = self._frame(s)
                    if op == 8:  # close
                        raise ConnectionError(f"closed by server {int.from_bytes(data[:2], 'big') if data else ''}")
                    if op == 9:  # ping: answer pong (Daphne closes sockets that do not)
                        self._send(s, 0xA, data)
                        continue
                    if op != 1:
                        continue
                    msg = json.loads(data)
                    if msg.get("type") == "event":
                        self.events += 1
                        self.seqs.add(int(msg.get("seq", 0)))
                        self.seq = max(self.seq, int(msg.get("seq", 0)))
                    elif msg.get("type") == "hello":
                        self.hellos += 1
                        if self.first_seq is None:
                            self.first_seq = int(msg.get("seq", 0))
                        self.seq = max(self.seq, int(msg.get("seq", 0)))
                    elif msg.get("type") == "resync":
                        self.resyncs += 1
                        self.seq = int(msg.get("seq", 0))
            except (OSError, ValueError) as exc:
                self.connected.clear()
                if not isinstance(exc, ConnectionAbortedError):
                    self.refused[str(exc)[:60]] += 1
            finally:
                s.close()
            time.sleep(0.3)


def now() -> float:
    return time.time()


def wib_now() -> str:
    return (datetime.now(UTC) + timedelta(hours=7)).strftime("%Y-%m-%d %H:%M WIB")


# --- a throwaway PostgreSQL cluster (restarted by `make faults`, never the shared one) ----------
class Cluster:
    """A PostgreSQL cluster of its own under var/ (or beside the project's when run as root),
    listening on a unix socket only, so restarting it disturbs nobody else."""

    def __init__(self, name: str = "faults-pg"):
        self.bin = pg_bin()
        self.root = ROOT / "var" / name
        self.as_root = os.geteuid() == 0
        if self.as_root:  # PostgreSQL refuses root: the cluster belongs to `postgres`, somewhere it can reach
            tag = hashlib.md5(str(ROOT).encode()).hexdigest()[:10]
            self.root = Path("/var/lib/postgresql") / f"geoapp-{name}-{tag}"
        self.data = self.root / "data"
        self.sock = self.root / "run"

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = list(argv)
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, cwd="/", check=check, capture_output=True, text=True)

    def create(self) -> None:
        self.destroy()
        self.sock.mkdir(parents=True, exist_ok=True)
        if self.as_root:
            subprocess.run(["chown", "-R", "postgres:postgres", str(self.root)], check=True)
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        with open(self.data / "postgresql.conf", "a") as f:
            f.write(
                f"listen_addresses = ''\nunix_socket_directories = '{self.sock}'\nmax_connections = 100\n"
                "fsync = off\nshared_buffers = 64MB\n"
            )
        self.start()
        psql = [str(self.bin / "psql"), "-h", str(self.sock), "-U", "postgres", "-qAt", "-v", "ON_ERROR_STOP=1"]
        self._run(*psql, "-d", "postgres", "-c", "create role geoapp login superuser")
        self._run(*psql, "-d", "postgres", "-c", "create database faults owner geoapp")
        self._run(*psql, "-d", "faults", "-c", "create extension postgis")

    def pg_ctl(self, *args: str) -> float:
        t0 = time.monotonic()
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "pg.log"), "-w", *args)
        return time.monotonic() - t0

    def start(self) -> float:
        return self.pg_ctl("start")

    def restart(self) -> float:
        return self.pg_ctl("restart", "-m", "fast")

    def stop(self) -> None:
        if self.data.exists():
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop", check=False)

    def destroy(self) -> None:
        self.stop()
        if self.root.exists():
            subprocess.run(["rm", "-rf", str(self.root)], check=True)

    def url(self, db: str = "faults") -> str:
        return socket_url(str(self.sock), db)
