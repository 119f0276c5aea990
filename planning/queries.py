"""The SQL both the statistics and the density grid run on: which reports, and how the query runs.

`where_clause` is the one translation of a `ReportFilter` into SQL, so the grid's cells and the
statistics' rows count the same reports; `analytic_cursor` sets up the transaction a large
aggregation needs. `area_geometries` gives the polygons the maps and files draw.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime

from django.contrib.gis.db.models.functions import AsWKB
from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper

from kecamatan_boundaries.models import Kecamatan, Kelurahan

from . import settings as app_settings
from .filters import ReportFilter

REPORT_TABLE = "incidents_report"
AREA_MODELS = {"kecamatan": Kecamatan, "kelurahan": Kelurahan}


@contextmanager
def analytic_cursor() -> Iterator[CursorWrapper]:
    """A cursor for one aggregation query, with PostgreSQL's JIT off for the transaction.

    PostGIS declares its functions expensive, so the planner's cost for a scan of a year of
    reports crosses jit_above_cost and PostgreSQL spends ~1.2 s compiling the query (measured with
    EXPLAIN ANALYZE in bench_heatmap) to save milliseconds of arithmetic. Its sorts (one per
    breakdown, plus the percentiles) get PLANNING_WORK_MEM instead of spilling to disk.
    """
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET LOCAL jit = off")
        cur.execute("SELECT set_config('work_mem', %s, true)", [app_settings.work_mem()])
        yield cur


def where_clause(f: ReportFilter, alias: str = "r", *, since: datetime | None = None) -> tuple[str, list]:
    """SQL condition and parameters selecting the filtered reports from `since` (default: the period start)."""
    sql = [f"{alias}.created_at >= %s", f"{alias}.created_at < %s"]
    params: list = [since or f.start, f.end]
    if f.category_ids:
        sql.append(f"{alias}.category_id = ANY(%s)")
        params.append(list(f.category_ids))
    if f.opd_ids:
        sql.append(f"{alias}.opd_id = ANY(%s)")
        params.append(list(f.opd_ids))
    if f.statuses:
        sql.append(f"{alias}.status = ANY(%s)")
        params.append(list(f.statuses))
    if f.channels:
        sql.append(f"{alias}.channel = ANY(%s)")
        params.append(list(f.channels))
    if f.kecamatan:
        sql.append(f"{alias}.kecamatan_id IN (SELECT id FROM {Kecamatan._meta.db_table} WHERE code = ANY(%s))")
        params.append(list(f.kecamatan))
    return " AND ".join(sql), params


def area_geometries(level: str, codes: Iterable[str]) -> dict[str, bytes]:
    """WKB (EPSG:4326) of the areas with these codes: the current polygon, else the newest older one."""
    rows = AREA_MODELS[level].objects.newest_with_codes(codes).annotate(wkb=AsWKB("geom"))
    return {code: bytes(wkb) for code, wkb in rows.values_list("code", "wkb")}
