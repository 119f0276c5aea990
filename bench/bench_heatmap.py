"""Planners' statistics and exports over a year of reports, against a geopandas baseline, in one run.

Builds a separate database `bench_heatmap` on the same server (dropped at the end unless --keep),
migrates it, loads the real boundaries and the categories, and generates reports with SQL
`generate_series`/`ST_GeneratePoints` (points inside each kelurahan, spread over a year, with
times to dispatch and resolve). Then it measures, on the whole year:

  ours       planning.stats.compute (GROUPING SETS on the kecamatan stored at intake) and
             planning.grids.density_grid (hex bins in SQL), then every export format end to end
  baseline   load the points into geopandas, sjoin them to the kecamatan polygons, group by
             kecamatan for count, median and p90 minutes to dispatch and resolve

    .venv/bin/python bench/bench_heatmap.py                 # 100,000 reports (a few minutes)
    .venv/bin/python bench/bench_heatmap.py --reports 1000000   # a million reports
"""

import argparse
import os
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geoapp.settings")

BENCH_DB = "bench_heatmap"


def admin_connect(settings_dict: dict):
    import psycopg

    return psycopg.connect(
        dbname=settings_dict["NAME"],
        user=settings_dict.get("USER") or None,
        password=settings_dict.get("PASSWORD") or None,
        host=settings_dict.get("HOST") or None,
        port=settings_dict.get("PORT") or None,
        autocommit=True,
    )


def recreate_database(settings_dict: dict) -> None:
    with admin_connect(settings_dict) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")
        conn.execute(f"CREATE DATABASE {BENCH_DB}")


def drop_database(settings_dict: dict) -> None:
    with admin_connect(settings_dict) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")


def generate_reports(cur, n: int, year: int, seed: float) -> int:
    """n reports (about) inside the current kelurahan, weighted by area x a random factor, over `year`."""
    cur.execute("SELECT setseed(%s)", [seed])
    # fill any NOT NULL column without a default that this script does not set (other apps add columns)
    cur.execute(
        """SELECT column_name, data_type FROM information_schema.columns
           WHERE table_name = 'incidents_report' AND is_nullable = 'NO' AND column_default IS NULL"""
    )
    fillers = {
        "text": "''",
        "character varying": "''",
        "jsonb": "'{}'::jsonb",
        "integer": "0",
        "smallint": "0",
        "bigint": "0",
        "boolean": "false",
        "double precision": "0",
        "timestamp with time zone": "now()",
    }
    ours = {
        "id", "public_id", "category_id", "opd_id", "location", "kecamatan_id", "kelurahan_id", "status", "priority",
        "channel", "created_at", "updated_at", "routed_at", "dispatched_at", "resolved_at",
    }  # fmt: skip
    extra = {}
    for name, dtype in cur.fetchall():
        if name not in ours:
            if dtype not in fillers:
                raise SystemExit(f"incidents_report.{name} ({dtype}) needs a value; teach bench_heatmap.py")
            extra[name] = fillers[dtype]
    extra_cols = "".join(f", {c}" for c in extra)
    extra_vals = "".join(f", {v}" for v in extra.values())
    cur.execute(
        f"""
        WITH kel AS (
            SELECT k.id, k.kecamatan_id, k.geom, k.area_km2 * (0.2 + random() * 2.0) AS w
            FROM kecamatan_boundaries_kelurahan k
            JOIN kecamatan_boundaries_generation g ON g.id = k.generation_id AND g.active
        ),
        quota AS (SELECT id, kecamatan_id, geom, greatest(1, round(%s * w / sum(w) OVER ()))::int AS n FROM kel),
        pts AS (SELECT id, kecamatan_id, (ST_Dump(ST_GeneratePoints(geom, n))).geom AS location FROM quota),
        cats AS (SELECT array_agg(id ORDER BY id) AS ids FROM incidents_category),
        base AS (
            SELECT p.*, row_number() OVER () AS g,
                   cats.ids[1 + floor(random() * array_length(cats.ids, 1))::int] AS category_id,
                   make_timestamptz(%s, 1, 1, 0, 0, 0, 'Asia/Jakarta') + random() * interval '365 days' AS created_at,
                   random() AS r_dispatch, random() AS r_resolve, random() AS r_channel
            FROM pts p, cats
        ),
        timed AS (
            SELECT b.*, c.opd_id,
                   CASE WHEN r_dispatch < 0.9 THEN created_at + (-ln(1 - random()) * 20) * interval '1 minute' END
                       AS dispatched_at
            FROM base b JOIN incidents_category c ON c.id = b.category_id
        ),
        done AS (
            SELECT t.*, CASE WHEN dispatched_at IS NOT NULL AND r_resolve < 0.75
                        THEN dispatched_at + (-ln(1 - random()) * 600) * interval '1 minute' END AS resolved_at
            FROM timed t
        )
        INSERT INTO incidents_report (
            public_id, category_id, opd_id, location, kecamatan_id, kelurahan_id, status, priority, channel,
            created_at, updated_at, routed_at, dispatched_at, resolved_at{extra_cols})
        SELECT 'BENCH' || g, category_id, opd_id, location, kecamatan_id, id,
               CASE WHEN resolved_at IS NOT NULL THEN 'resolved' WHEN dispatched_at IS NOT NULL THEN 'dispatched'
                    ELSE 'routed' END,
               3, (ARRAY['app', 'web', 'twitter', 'facebook', 'open311', 'operator'])[1 + floor(r_channel * 6)::int],
               created_at, created_at, created_at, dispatched_at, resolved_at{extra_vals}
        FROM done
        """,
        [n, year],
    )
    count = cur.rowcount
    cur.execute("ANALYZE incidents_report")
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", type=int, default=100_000, help="reports to generate (e.g. 1000000)")
    parser.add_argument("--year", type=int, default=2024)
    parser.add_argument("--formats", default="html,png,geojson,gpkg,shp,csv,xlsx")
    parser.add_argument("--cell-m", type=float, default=500.0, help="hex cell size in metres")
    parser.add_argument("--keep", action="store_true", help=f"keep the {BENCH_DB} database afterwards")
    args = parser.parse_args()

    from django.conf import settings

    main_db = dict(settings.DATABASES["default"])
    recreate_database(main_db)
    settings.DATABASES["default"]["NAME"] = BENCH_DB  # before any connection is opened
    import django

    django.setup()
    try:
        run(args)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            drop_database(main_db)
            print(f"dropped database {BENCH_DB}")


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def run(args) -> None:
    import numpy as np
    from django.core.management import call_command
    from django.db import connection
    from tqdm import tqdm

    from incidents.bootstrap import bootstrap as incidents_bootstrap
    from kecamatan_boundaries.bootstrap import load_city_boundaries
    from planning.exports import build_export
    from planning.filters import parse_filters
    from planning.grids import GridSpec, density_grid
    from planning.queries import analytic_cursor
    from planning.stats import aggregate_sql, compute

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0)
    load_city_boundaries(log=lambda m: None)
    incidents_bootstrap(log=lambda m: None)
    print(f"set-up of {BENCH_DB} (migrate, boundaries, categories): {time.perf_counter() - t0:.1f} s")

    with connection.cursor() as cur:
        n, t_gen = timed(lambda: generate_reports(cur, args.reports, args.year, 0.42))
    print(f"generated {n:,} reports over {args.year} with generate_series/ST_GeneratePoints in {t_gen:.1f} s")

    f = parse_filters({"from": date(args.year, 1, 1).isoformat(), "to": date(args.year, 12, 31).isoformat()})
    grid = GridSpec("hex", args.cell_m)
    rows = []

    def kecamatan_only():
        sql, params = aggregate_sql(f, sets=("city", "kecamatan"))
        with analytic_cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    _, t_kec = timed(kecamatan_only)
    rows.append(("ours: per-kecamatan aggregation in SQL (count, median, p90)", t_kec))
    stats, t_stats = timed(lambda: compute(f))
    rows.append(("ours: every breakdown in one pass (planning.stats.compute)", t_stats))
    cells, t_grid = timed(lambda: density_grid(f, grid))
    rows.append((f"ours: density grid in SQL ({len(cells):,} hex cells of {args.cell_m:g} m)", t_grid))
    assert stats.city["reports"] == n, (stats.city["reports"], n)

    formats = [x for x in args.formats.split(",") if x]
    sizes = {}
    for fmt in tqdm(formats, desc="exports", unit="format"):
        out, t = timed(lambda fmt=fmt: build_export(fmt, f, grid))
        sizes[fmt] = len(out.content)
        rows.append((f"ours: export {fmt} end to end ({len(out.content) / 1024:,.0f} KiB)", t))

    # --- baseline: geopandas sjoin ---------------------------------------------------------------
    import geopandas as gpd
    import pandas as pd
    import shapely

    def baseline():
        with connection.cursor() as cur:
            cur.execute(
                """SELECT ST_X(location), ST_Y(location),
                          extract(epoch FROM dispatched_at - created_at) / 60.0,
                          extract(epoch FROM resolved_at - created_at) / 60.0
                   FROM incidents_report WHERE created_at >= %s AND created_at < %s""",
                [f.start, f.end],
            )
            data = np.array(cur.fetchall(), dtype=float)
            cur.execute(
                """SELECT k.code, ST_AsBinary(k.geom) FROM kecamatan_boundaries_kecamatan k
                   JOIN kecamatan_boundaries_generation g ON g.id = k.generation_id AND g.active"""
            )
            kec = cur.fetchall()
        points = gpd.GeoDataFrame(
            {"dispatch": data[:, 2], "resolve": data[:, 3]},
            geometry=gpd.points_from_xy(data[:, 0], data[:, 1]),
            crs=4326,
        )
        polygons = gpd.GeoDataFrame(
            {"code": [c for c, _ in kec]}, geometry=[shapely.from_wkb(bytes(w)) for _, w in kec], crs=4326
        )
        joined = gpd.sjoin(points, polygons, predicate="within", how="inner")
        grouped = joined.groupby("code")
        return pd.DataFrame(
            {
                "reports": grouped.size(),
                "dispatch_median": grouped["dispatch"].median(),
                "dispatch_p90": grouped["dispatch"].quantile(0.9),
                "resolve_median": grouped["resolve"].median(),
            }
        )

    base, t_base = timed(baseline)
    rows.append(("baseline: geopandas load + sjoin + groupby per kecamatan", t_base))

    print(f"\n{n:,} reports in {f.describe()}; rates are reports/s")
    width = max(len(r[0]) for r in rows)
    for label, secs in rows:
        print(f"  {label:<{width}}  {secs:8.2f} s  {n / secs:>14,.0f} reports/s")
    print(
        f"  per-kecamatan: ours is {t_base / t_kec:.1f}x the baseline's speed (all breakdowns: {t_base / t_stats:.1f}x)"
    )

    ours = {r["code"]: r["reports"] for r in stats.kecamatan}
    theirs = base["reports"].to_dict()
    differ = {
        c: (ours.get(c, 0), int(theirs.get(c, 0)))
        for c in set(ours) | set(theirs)
        if ours.get(c, 0) != theirs.get(c, 0)
    }
    print(
        f"  per-kecamatan counts: ours {sum(ours.values()):,}, baseline {int(sum(theirs.values())):,}; "
        f"{len(differ)} kecamatan differ"
        + (" (points on shared edges or in overlaps: sjoin counts them twice or never)" if differ else "")
    )


if __name__ == "__main__":
    main()
