"""A fleet of simulated supervisors' phones driving the real ingestion endpoints over HTTP.

Used for the live demo (`make run` + `python manage.py simulate_fleet`), load tests and the
benchmarks. Each simulated phone walks or rides inside its kecamatan (bouncing off the
boundary), and by its index behaves as one of:

- normal    pings every interval;
- wanderer  drifts out of its area after a while (out_of_area on the map);
- silent    stops sending for a spell (stale, then offline);
- bufferer  goes offline for a spell, keeps its fixes, then uploads them as one native batch in
            shuffled order with the original times (late, out-of-order pings).

Phones use the three protocols in turn: native, OsmAnd (as Traccar Client sends it), OwnTracks.
`fast=True` replays `duration_s` of simulated time as fast as the server answers, with the
clock starting `duration_s` ago so no fix is in the future.
"""

from __future__ import annotations

import base64
import math
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as dtime

import requests
import shapely
from django.db import transaction
from tqdm import tqdm

from incidents.models import OPD
from kecamatan_boundaries.lookup import kecamatan_index

from .areas import kecamatan_metric
from .models import Device, Shift, Supervisor

FIELD_OPDS = ["dishub", "dbmsda", "dkp", "satpolpp", "bpbd"]
PROTOCOLS = ["native", "osmand", "owntracks"]
BEHAVIOURS = {7: "wanderer", 8: "silent", 9: "bufferer"}
M_PER_DEG_LAT = 110_574.0  # metres per degree of latitude near the equator (movement only, not measuring)


@dataclass
class SimOptions:
    supervisors: int = 300
    base_url: str = "http://127.0.0.1:8000"
    duration_s: float = 0  # 0 = until interrupted (real time only)
    interval_s: float = 10
    fast: bool = False
    threads: int = 8
    prefix: str = "sim"
    seed: int = 1
    progress: bool = True


@dataclass
class SimStats:
    sent: int = 0
    stored: int = 0
    duplicates: int = 0
    refused: int = 0
    errors: list[str] = field(default_factory=list)
    by_protocol: dict[str, int] = field(default_factory=dict)
    device_ids: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, protocol: str, sent: int, stored: int, duplicates: int = 0, error: str | None = None) -> None:
        with self.lock:
            self.sent += sent
            self.stored += stored
            self.duplicates += duplicates
            self.by_protocol[protocol] = self.by_protocol.get(protocol, 0) + sent
            if error:
                self.refused += sent
                if len(self.errors) < 50:
                    self.errors.append(error)


@dataclass
class Phone:
    index: int
    device_id: str
    token: str
    protocol: str
    behaviour: str
    area: shapely.Polygon  # EPSG:4326
    lon: float
    lat: float
    heading: float
    speed: float  # m/s
    buffer: list[dict] = field(default_factory=list)

    def move(self, seconds: float, rng: random.Random, wander: bool) -> None:
        for _ in range(8):
            heading = self.heading if wander else self.heading + rng.uniform(-25, 25)
            d = self.speed * seconds
            dlat = d * math.cos(math.radians(heading)) / M_PER_DEG_LAT
            dlon = d * math.sin(math.radians(heading)) / (M_PER_DEG_LAT * math.cos(math.radians(self.lat)))
            lon, lat = self.lon + dlon, self.lat + dlat
            if wander or self.area.covers(shapely.Point(lon, lat)):
                self.lon, self.lat, self.heading = lon, lat, heading % 360
                return
            self.heading = rng.uniform(0, 360)  # bounce off the boundary


def _random_point_in(poly, rng: random.Random) -> tuple[float, float]:
    minx, miny, maxx, maxy = poly.bounds
    for _ in range(1000):
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if poly.covers(shapely.Point(x, y)):
            return x, y
    p = poly.representative_point()
    return p.x, p.y


def setup_fleet(n: int, prefix: str = "sim", seed: int = 1) -> list[Phone]:
    """Create (or reuse) N supervisors across the field OPDs and 13 kecamatan, each with a phone
    (a fresh token every run) and an all-day shift every day."""
    rng = random.Random(seed)
    index = kecamatan_index.get()
    polys = {a.code: g for a, g in zip(index.areas, index.geoms, strict=True)}
    codes = sorted(polys)
    kecamatan_metric.get()  # warm the caches before the clock starts
    phones = []
    with transaction.atomic():
        opds = {
            code: OPD.objects.get_or_create(code=code, defaults={"name": code.upper(), "is_field_agency": True})[0]
            for code in FIELD_OPDS
        }
        for i in range(n):
            code = codes[i % len(codes)]
            name = f"{prefix}-{i:04d}"
            sup, created = Supervisor.objects.get_or_create(
                name=name, defaults={"opd": opds[FIELD_OPDS[i % len(FIELD_OPDS)]], "kecamatan_codes": [code]}
            )
            if created:
                Shift.objects.bulk_create(
                    Shift(supervisor=sup, weekday=d, start=dtime(0), end=dtime(0)) for d in range(7)
                )
            device, _ = Device.objects.get_or_create(device_id=name, defaults={"supervisor": sup})
            token = device.issue_token()
            device.revoked_at = None
            device.save(update_fields=["token_hash", "revoked_at"])
            poly = polys[sup.kecamatan_codes[0]] if sup.kecamatan_codes else polys[code]
            lon, lat = _random_point_in(poly, rng)
            phones.append(
                Phone(
                    index=i,
                    device_id=name,
                    token=token,
                    protocol=PROTOCOLS[i % len(PROTOCOLS)],
                    behaviour=BEHAVIOURS.get(i % 10, "normal"),
                    area=poly,
                    lon=lon,
                    lat=lat,
                    heading=rng.uniform(0, 360),
                    speed=rng.choice([1.4, 4.0, 8.0]),  # walking, cycling, motorbike in traffic
                )
            )
    return phones


class Sender:
    """HTTP for one phone's fix, in the phone's protocol, exactly as the real app would send it."""

    def __init__(self, base_url: str):
        self.base = base_url.rstrip("/")
        self.local = threading.local()

    @property
    def session(self) -> requests.Session:
        if not hasattr(self.local, "s"):
            self.local.s = requests.Session()
        return self.local.s

    def send(self, phone: Phone, fix: dict, stats: SimStats) -> None:
        t: datetime = fix["time"]
        try:
            if phone.protocol == "osmand":
                r = self.session.post(
                    f"{self.base}/tracking/osmand/",
                    params={
                        "id": phone.device_id,
                        "token": phone.token,
                        "timestamp": int(t.timestamp()),
                        "lat": f"{fix['lat']:.7f}",
                        "lon": f"{fix['lon']:.7f}",
                        "speed": f"{fix['speed'] / 0.514444:.1f}",
                        "bearing": f"{fix['heading']:.1f}",
                        "altitude": "20.0",
                        "accuracy": f"{fix['accuracy']:.1f}",
                        "batt": "80.0",
                    },  # fmt: skip
                    timeout=30,
                )
                stored = r.json().get("stored", 0) if r.ok else 0
            elif phone.protocol == "owntracks":
                auth = base64.b64encode(f"{phone.device_id}:{phone.token}".encode()).decode()
                r = self.session.post(
                    f"{self.base}/tracking/owntracks/",
                    json={
                        "_type": "location",
                        "tst": int(t.timestamp()),
                        "lat": fix["lat"],
                        "lon": fix["lon"],
                        "acc": round(fix["accuracy"]),
                        "vel": round(fix["speed"] * 3.6),
                        "batt": 80,
                        "tid": "sm",
                        "t": "u",
                        "conn": "m",
                    },  # fmt: skip
                    headers={
                        "Authorization": f"Basic {auth}",
                        "X-Limit-U": phone.device_id,
                        "X-Limit-D": phone.device_id,
                    },
                    timeout=30,
                )
                stored = 1 if r.ok else 0
            else:
                r = self.session.post(
                    f"{self.base}/api/tracking/pings/",
                    json=_native(fix),
                    headers={"Authorization": f"Bearer {phone.token}", "X-Device-Id": phone.device_id},
                    timeout=30,
                )
                stored = r.json().get("stored", 0) if r.ok else 0
            stats.add(
                phone.protocol, 1, stored, error=None if r.ok else f"{phone.device_id}: {r.status_code} {r.text[:200]}"
            )
        except requests.RequestException as exc:
            stats.add(phone.protocol, 1, 0, error=f"{phone.device_id}: {exc}")

    def upload_buffer(self, phone: Phone, stats: SimStats, rng: random.Random) -> None:
        """A phone back online uploads what it buffered: one native batch, shuffled, original times."""
        batch, phone.buffer = phone.buffer, []
        rng.shuffle(batch)
        for start in range(0, len(batch), 1000):
            chunk = batch[start : start + 1000]
            try:
                r = self.session.post(
                    f"{self.base}/api/tracking/pings/",
                    json={"pings": [_native(f) for f in chunk]},
                    headers={"Authorization": f"Bearer {phone.token}", "X-Device-Id": phone.device_id},
                    timeout=60,
                )
                body = r.json() if r.ok else {}
                stats.add("native-batch", len(chunk), body.get("stored", 0), body.get("duplicates", 0),
                          error=None if r.ok else f"{phone.device_id}: {r.status_code} {r.text[:200]}")  # fmt: skip
            except requests.RequestException as exc:
                stats.add("native-batch", len(chunk), 0, error=f"{phone.device_id}: {exc}")


def _native(fix: dict) -> dict:
    return {
        "time": fix["time"].isoformat(),
        "lat": fix["lat"],
        "lon": fix["lon"],
        "accuracy": fix["accuracy"],
        "speed": fix["speed"],
        "heading": fix["heading"],
        "battery": 80,
    }


def _offline(tick: int, period: int) -> bool:
    return period // 4 <= tick % period < period // 2


def run(phones: list[Phone], opts: SimOptions) -> SimStats:
    """Drive the phones tick by tick until the duration is over (or Ctrl-C in real time)."""
    rng = random.Random(opts.seed)
    sender = Sender(opts.base_url)
    stats = SimStats(device_ids=[p.device_id for p in phones])
    ticks = int(opts.duration_s // opts.interval_s) + 1 if opts.duration_s else None
    period = max(8, min(90, ticks or 90))  # ticks per silent/offline cycle
    clock = datetime.now(UTC) - timedelta(seconds=opts.duration_s) if opts.fast else datetime.now(UTC)
    bar = tqdm(total=ticks, unit="tick", disable=not opts.progress)
    tick = 0
    with ThreadPoolExecutor(max_workers=opts.threads) as pool:
        try:
            while ticks is None or tick < ticks:
                began = time.monotonic()
                if not opts.fast:
                    clock = datetime.now(UTC)
                jobs = []
                for phone in phones:
                    wander = phone.behaviour == "wanderer" and tick >= period // 3
                    phone.move(opts.interval_s, rng, wander)
                    fix = {
                        "time": clock.replace(microsecond=0),
                        "lat": phone.lat,
                        "lon": phone.lon,
                        "accuracy": rng.uniform(4, 25),
                        "speed": phone.speed,
                        "heading": phone.heading,
                    }
                    off = _offline(tick, period)
                    if phone.behaviour == "silent" and off:
                        continue
                    if phone.behaviour == "bufferer":
                        if off:
                            phone.buffer.append(fix)
                            continue
                        if phone.buffer:
                            phone.buffer.append(fix)
                            jobs.append(pool.submit(sender.upload_buffer, phone, stats, random.Random(rng.random())))
                            continue
                    jobs.append(pool.submit(sender.send, phone, fix, stats))
                for j in jobs:
                    j.result()
                tick += 1
                bar.update(1)
                bar.set_postfix(sent=stats.sent, stored=stats.stored, refused=stats.refused)
                if opts.fast:
                    clock += timedelta(seconds=opts.interval_s)
                else:
                    time.sleep(max(0.0, opts.interval_s - (time.monotonic() - began)))
        except KeyboardInterrupt:
            pass
        finally:
            for phone in phones:  # never lose what a phone buffered
                if phone.buffer:
                    sender.upload_buffer(phone, stats, rng)
            bar.close()
    return stats
