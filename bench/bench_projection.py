"""What a thread pays for the metric projection (core/projection.py) on its first use, no database.

pyproj builds a PROJ object per thread on the thread's first transform; under Daphne each request's
sync code runs on a new thread, under Granian (the ingestion service) threads are reused. For each
of the projection's uses (tracking.areas.to_metric on a 1000-fix upload, a kecamatan lookup that
falls in a gap between polygons, a heatmap of 400 hexagons), the median time on a new thread and on
a reused one:
  baseline  Transformer.from_crs(..., always_xy=True), pyproj's default: the new thread's object
            searches proj.db for the operation
  ours      core.projection: the same operation made from its pipeline string
Then the users themselves (tracking.areas, kecamatan_boundaries.lookup) with core.projection.
Rounds alternate between the two, so a busy machine slows both alike.
  .venv/bin/python bench/bench_projection.py [--calls 40] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geoapp.settings")

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
import shapely  # noqa: E402
from pyproj import Transformer  # noqa: E402

from core.projection import pipeline_transformer  # noqa: E402

KECAMATAN_FILE = ROOT / "fixtures" / "kota_tangerang" / "kota_tangerang_kecamatan.geojson"


def on_new_thread(job) -> float:
    took = []

    def run() -> None:
        start = time.perf_counter()
        job()
        took.append(time.perf_counter() - start)

    t = threading.Thread(target=run)
    t.start()
    t.join()
    return took[0]


def on_reused_thread(pool: ThreadPoolExecutor, job) -> float:
    def run() -> float:
        start = time.perf_counter()
        job()
        return time.perf_counter() - start

    return pool.submit(run).result()


def uses(to_metric: Transformer, to_storage: Transformer) -> dict:
    """The call shapes of the projection's users, on the given transformers."""
    rng = np.random.default_rng(1)
    lons, lats = rng.uniform(106.58, 106.72, 1000), rng.uniform(-6.28, -6.12, 1000)
    s = 500.0
    centres = [(665_000 + s * math.sqrt(3) * (i % 20), 9_310_000 + s * 1.5 * (i // 20)) for i in range(400)]  # UTM 48S
    hexes = [
        shapely.Polygon([(cx + s * math.cos(math.radians(30 + 60 * i)), cy + s * math.sin(math.radians(30 + 60 * i)))
                         for i in range(6)])
        for cx, cy in centres
    ]  # fmt: skip

    def heatmap() -> None:
        shapely.transform(hexes, to_storage.transform, interleaved=False)
        to_storage.transform([c[0] for c in centres], [c[1] for c in centres])

    return {
        "to_metric, 1000 fixes": lambda: to_metric.transform(lons, lats),
        "lookup in a gap, one point": lambda: to_metric.transform(106.6, -6.2),
        "heatmap, 400 hexagons": heatmap,
    }


def the_users() -> dict:
    from kecamatan_boundaries.lookup import Area, BoundaryIndex
    from tracking.areas import to_metric

    features = json.loads(KECAMATAN_FILE.read_text())["features"]
    geoms = [shapely.geometry.shape(f["geometry"]) for f in features]
    index = BoundaryIndex([Area(i, str(i), str(i)) for i in range(len(geoms))], geoms)
    city = shapely.union_all(geoms)
    corner = shapely.Point(city.exterior.coords[0])
    gap = corner.buffer(0.0002).difference(city).representative_point()  # ~20 m outside: metric fallback
    assert index.locate(gap.x, gap.y) is not None
    rng = np.random.default_rng(2)
    lons, lats = rng.uniform(106.58, 106.72, 1000), rng.uniform(-6.28, -6.12, 1000)
    return {
        "tracking.areas.to_metric, 1000 fixes": lambda: to_metric(lons, lats),
        "BoundaryIndex.locate, in a gap": lambda: index.locate(gap.x, gap.y),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calls", type=int, default=40, help="calls per use and round")
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()

    def from_crs(a: int, b: int) -> Transformer:
        return Transformer.from_crs(a, b, always_xy=True)

    kinds = {"baseline from_crs": from_crs, "ours (core.projection)": pipeline_transformer}
    times: dict[tuple[str, str], tuple[list, list]] = {}
    pool = ThreadPoolExecutor(1)
    for _ in range(args.rounds):
        for kind, make in kinds.items():
            for use, job in uses(make(4326, 32748), make(32748, 4326)).items():
                new, reused = times.setdefault((use, kind), ([], []))
                for _ in range(args.calls):
                    new.append(on_new_thread(job))
                    reused.append(on_reused_thread(pool, job))
    print(f"bench_projection: median of {args.rounds} x {args.calls} calls; new thread / reused thread")
    for (use, kind), (new, reused) in times.items():
        print(f"  {use:<28} {kind:<24} {statistics.median(new) * 1e3:7.3f} / {statistics.median(reused) * 1e3:7.3f} ms")
    for use, job in the_users().items():
        job()
        new = [on_new_thread(job) for _ in range(args.calls * args.rounds)]
        reused = [on_reused_thread(pool, job) for _ in range(args.calls * args.rounds)]
        print(f"  {use:<53} {statistics.median(new) * 1e3:7.3f} / {statistics.median(reused) * 1e3:7.3f} ms")
    pool.shutdown()


if __name__ == "__main__":
    main()
