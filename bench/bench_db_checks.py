"""What Django's backend does per request on a connection it reuses, in process, in a scratch database.

core.db is Django's PostGIS backend with its per-request work as Django does it: a connection taken
from the pool has PostGIS's geometry types registered again and is checked first (psycopg_pool's
check: an empty query), and a persistent connection (DB_POOL_MAX=0, the ingestion service) is
checked at a request's first query (SELECT 1). Each is timed here, wall and CPU per call, beside
the smallest statement a request runs (a one-row SELECT by primary key), the baseline: an upload
runs a handful of statements and takes ~7-30 ms (bench/bench_tracking.py's (b), (c)).
  .venv/bin/python bench/bench_db_checks.py [--calls 3000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geoapp.settings")

from bench.scratch import scratch_database

BENCH_DB = os.environ.get("BENCH_DB_CHECKS_DB", "bench_db_checks")


def per_call(fn, calls: int) -> tuple[float, float]:
    """(wall, CPU) microseconds per call, after a warm-up."""
    for _ in range(calls // 10):
        fn()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - wall) / calls * 1e6, (time.process_time() - cpu) / calls * 1e6


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calls", type=int, default=3000)
    args = p.parse_args()
    with scratch_database(BENCH_DB):
        from django.db import connection
        from psycopg_pool import ConnectionPool

        with connection.cursor() as cur:
            cur.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            cur.execute("CREATE TABLE bench_one (id int PRIMARY KEY, v text)")
            cur.execute("INSERT INTO bench_one VALUES (1, 'x')")
        raw = connection.connection

        def baseline() -> None:
            with connection.cursor() as cur:
                cur.execute("SELECT v FROM bench_one WHERE id = %s", [1])
                cur.fetchone()

        rows = {
            "baseline: a one-row SELECT by key": baseline,
            "PostGIS types registered again (pool)": lambda: connection.register_geometry_adapters(raw),
            "the pool's check (empty query)": lambda: ConnectionPool.check_connection(raw),
            "the persistent check (SELECT 1)": connection.is_usable,
        }
        print(f"bench_db_checks: {args.calls} calls each, PostgreSQL {connection.pg_version}")
        for label, fn in rows.items():
            wall, cpu = per_call(fn, args.calls)
            print(f"  {label:<40} wall {wall:6.1f} us   CPU {cpu:6.1f} us (this process)")


if __name__ == "__main__":
    main()
