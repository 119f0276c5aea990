"""Kecamatan lookup rate for random points in Kota Tangerang's bounding box, three ways in one run.

(a) PostGIS: one join of a points table against the kecamatan polygons, as stored and
    ST_Subdivide'd (both shown);
(b) in process: shapely 2 prepared polygons behind an STRtree (kecamatan_boundaries.lookup);
(c) the naive baseline: every polygon tested for every point, in a Python loop.

    .venv/bin/python bench/bench_lookup.py [--points 1000000] [--naive-points 100000]

The naive loop runs on a sample (--naive-points) because at ~1 µs x 13 polygons per point it
would take minutes on the full million; its rate is points/s like the others.
"""

import argparse
import io
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geoapp.settings")

import django

django.setup()

import shapely  # noqa: E402
from django.db import connection  # noqa: E402

from kecamatan_boundaries.bootstrap import load_city_boundaries  # noqa: E402
from kecamatan_boundaries.lookup import BoundaryIndex  # noqa: E402
from kecamatan_boundaries.models import Kecamatan  # noqa: E402

BBOX = (106.5515, -6.2561, 106.7486, -6.0971)  # Kota Tangerang, lon/lat


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--naive-points", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    load_city_boundaries(log=lambda m: None)
    rng = np.random.default_rng(args.seed)
    lons = rng.uniform(BBOX[0], BBOX[2], args.points)
    lats = rng.uniform(BBOX[1], BBOX[3], args.points)
    n = args.points
    print(f"{n:,} random points in Kota Tangerang's bounding box; 13 current kecamatan")

    results = {}
    with connection.cursor() as cur:
        cur.execute("CREATE TEMP TABLE bench_pts (id int, geom geometry(Point, 4326))")
        buf = io.StringIO()
        for i, (x, y) in enumerate(zip(lons, lats, strict=True)):
            buf.write(f"{i}\tSRID=4326;POINT({x:.7f} {y:.7f})\n")
        buf.seek(0)
        start = time.perf_counter()
        with cur.cursor.copy("COPY bench_pts FROM STDIN") as copy:  # psycopg 3 cursor under Django's
            copy.write(buf.getvalue())
        t_load = time.perf_counter() - start
        cur.execute("ANALYZE bench_pts")
        cur.execute(
            "CREATE TEMP TABLE bench_kec AS SELECT k.id, k.code, k.geom FROM kecamatan_boundaries_kecamatan k "
            "JOIN kecamatan_boundaries_generation g ON g.id = k.generation_id AND g.active"
        )
        cur.execute("CREATE INDEX ON bench_kec USING gist (geom)")
        cur.execute("CREATE TEMP TABLE bench_kec_sub AS SELECT id, code, ST_Subdivide(geom, 64) AS geom FROM bench_kec")
        cur.execute("CREATE INDEX ON bench_kec_sub USING gist (geom)")
        cur.execute("ANALYZE bench_kec; ANALYZE bench_kec_sub")
        cur.execute("SELECT count(*) FROM bench_kec_sub")
        pieces = cur.fetchone()[0]
        for label, table in (
            ("(a) PostGIS join, polygons as stored", "bench_kec"),
            (f"(a) PostGIS join, ST_Subdivide'd ({pieces} pieces)", "bench_kec_sub"),
        ):
            sql = (
                f"SELECT count(*) FROM (SELECT DISTINCT ON (p.id) p.id, k.code FROM bench_pts p "
                f"JOIN {table} k ON ST_Covers(k.geom, p.geom) ORDER BY p.id, k.code) s"
            )
            (_, t) = timed(lambda sql=sql: cur.execute(sql))
            inside = cur.fetchone()[0]
            results[label] = (n / t, t, inside)
    print(f"   (loading the points with COPY: {t_load:.1f} s, not counted)")

    index, t_build = timed(lambda: BoundaryIndex.for_model(Kecamatan))
    found, t = timed(lambda: index.locate_many(lons, lats))
    results["(b) in process, prepared + STRtree (with 50 m gap rule)"] = (n / t, t, sum(a is not None for a in found))
    index_strict = BoundaryIndex(index.areas, list(index.geoms), gap_tolerance_m=0)
    found, t = timed(lambda: index_strict.locate_many(lons, lats))
    results["(b) in process, prepared + STRtree (covers only)"] = (n / t, t, sum(a is not None for a in found))

    polys = [shapely.from_wkb(shapely.to_wkb(g)) for g in index.geoms]  # fresh, unprepared copies
    m = min(args.naive_points, n)

    def naive():
        hits = 0
        for x, y in zip(lons[:m], lats[:m], strict=True):
            p = shapely.Point(x, y)
            for poly in polys:
                if poly.covers(p):
                    hits += 1
                    break
        return hits

    hits, t = timed(naive)
    results[f"(c) naive: every polygon for every point ({m:,} points)"] = (m / t, t, hits * n / m)

    baseline = results[f"(c) naive: every polygon for every point ({m:,} points)"][0]
    print(f"{'method':<66} {'points/s':>12} {'seconds':>9} {'inside':>9} {'vs naive':>9}")
    for label, (rate, t, inside) in results.items():
        print(f"{label:<66} {rate:>12,.0f} {t:>9.2f} {inside:>9,.0f} {rate / baseline:>8.1f}x")
    print(f"(index build: {t_build * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
