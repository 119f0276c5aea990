"""Statistics per kecamatan, kelurahan, category, OPD, hour of day and day of week, in one SQL pass.

Why this shape: a report keeps the kecamatan and kelurahan it was filed in (foreign keys stored at
intake), so counting "where" is a GROUP BY on those keys, never a spatial join; statistics stay
true after the boundaries move. Rows are keyed by the area's *code*, so reports filed under an
older boundary generation count towards the current polygon with the same code.

One query scans the current and the previous period together (the previous period has the same
number of days and ends the day before `from`) and aggregates every breakdown with GROUPING SETS:
counts, median and p90 minutes from report to dispatch and to resolved (percentile_cont, i.e.
linear interpolation), and how many were dispatched/resolved later than their category's target.

Definitions (the same in every export):
  reports                   reports created in the period that match the filters
  share_pct                 reports / all matching reports in the city (reports outside every
                            kecamatan are in the city total but in no kecamatan row), in %
  per_km2                   reports / area in km² (measured in UTM 48S)
  previous                  reports in the previous period of the same length
  change_pct                (reports - previous) / previous, in %; empty when previous = 0
  dispatch_median_min/p90   minutes from report to dispatch, over the reports dispatched
  dispatch_over_target_pct  of the reports dispatched, the share dispatched later than their
                            category's target (Category.target_dispatch_minutes), in %
  resolve_*                 the same from report to resolved (Category.target_resolve_minutes)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from incidents.models import OPD, Category
from kecamatan_boundaries.models import Kecamatan, Kelurahan

from . import settings as app_settings
from .filters import ReportFilter

REPORT_TABLE = "incidents_report"
METRICS = (
    "reports",
    "share_pct",
    "previous",
    "change",
    "change_pct",
    "dispatched",
    "dispatch_median_min",
    "dispatch_p90_min",
    "dispatch_over_target_pct",
    "resolved",
    "resolve_median_min",
    "resolve_p90_min",
    "resolve_over_target_pct",
)
WEEKDAYS = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")  # ISO 1..7 (Monday first)


@contextmanager
def analytic_cursor() -> Iterator:
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


# Grouping sets, in the order of the GROUPING() bit mask below (kec, kel, cat, opd, hour, dow):
_SETS = {
    "city": "()",
    "kecamatan": "(kec)",
    "kelurahan": "(kel)",
    "category": "(cat)",
    "opd": "(opd)",
    "hour": "(hour)",
    "weekday": "(dow)",
    "kecamatan_category": "(kec, cat)",
}

_COLUMNS = ("kec", "kel", "cat", "opd", "hour", "dow")

_AGGREGATES = """
    count(*) FILTER (WHERE cur) AS reports,
    count(*) FILTER (WHERE NOT cur) AS previous,
    count(dispatch_min) FILTER (WHERE cur) AS dispatched,
    percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY dispatch_min) FILTER (WHERE cur) AS dispatch_pct,
    count(*) FILTER (WHERE cur AND dispatch_min > target_dispatch) AS dispatch_over,
    count(resolve_min) FILTER (WHERE cur) AS resolved,
    percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY resolve_min) FILTER (WHERE cur) AS resolve_pct,
    count(*) FILTER (WHERE cur AND resolve_min > target_resolve) AS resolve_over
"""


def _aggregate_sql(f: ReportFilter, sets: Iterable[str] = tuple(_SETS)) -> tuple[str, list]:
    """The one-pass aggregation; `sets` picks breakdowns (the benchmark times the kecamatan one alone)."""
    where, params = where_clause(f, since=f.previous_start)
    tz = app_settings.timezone_name()
    sets = list(sets)
    used = {c for name in sets for c in _SETS[name].strip("()").replace(" ", "").split(",") if c}
    # g is decoded by _MASKS only when every breakdown is asked for (as compute() does)
    grouping = f"GROUPING({', '.join(_COLUMNS)})" if used == set(_COLUMNS) else "0"
    sql = f"""
    WITH r AS (
        SELECT
            k.code AS kec,
            kl.code AS kel,
            r.category_id AS cat,
            r.opd_id AS opd,
            date_part('hour', r.created_at AT TIME ZONE %s)::int AS hour,
            date_part('isodow', r.created_at AT TIME ZONE %s)::int AS dow,
            r.created_at >= %s AS cur,
            -- date_part gives float8 (extract gives numeric, much slower to sort)
            date_part('epoch', r.dispatched_at - r.created_at) / 60.0 AS dispatch_min,
            date_part('epoch', r.resolved_at - r.created_at) / 60.0 AS resolve_min,
            c.target_dispatch_minutes AS target_dispatch,
            c.target_resolve_minutes AS target_resolve
        FROM {REPORT_TABLE} r
        JOIN {Category._meta.db_table} c ON c.id = r.category_id
        LEFT JOIN {Kecamatan._meta.db_table} k ON k.id = r.kecamatan_id
        LEFT JOIN {Kelurahan._meta.db_table} kl ON kl.id = r.kelurahan_id
        WHERE {where}
    )
    SELECT {grouping} AS g, {", ".join(c if c in used else f"NULL AS {c}" for c in _COLUMNS)}, {_AGGREGATES}
    FROM r
    GROUP BY GROUPING SETS ({", ".join(_SETS[name] for name in sets)})
    """
    return sql, [tz, tz, f.start, *params]


# GROUPING(kec, kel, cat, opd, hour, dow): bit set = column NOT grouped; 6 columns -> mask of 6 bits.
def _mask(*grouped: str) -> int:
    return sum(1 << (len(_COLUMNS) - 1 - i) for i, c in enumerate(_COLUMNS) if c not in grouped)


_MASKS = {
    _mask(): "city",
    _mask("kec"): "kecamatan",
    _mask("kel"): "kelurahan",
    _mask("cat"): "category",
    _mask("opd"): "opd",
    _mask("hour"): "hour",
    _mask("dow"): "weekday",
    _mask("kec", "cat"): "kecamatan_category",
}


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(float(value), digits)


def _metrics(raw: dict | None, city_total: int) -> dict:
    """Finished numbers from one aggregate row (zeros when the group had no reports)."""
    raw = raw or {}
    dispatch_pct = raw.get("dispatch_pct") or [None, None]
    resolve_pct = raw.get("resolve_pct") or [None, None]
    reports = int(raw.get("reports") or 0)
    previous = int(raw.get("previous") or 0)
    dispatched = int(raw.get("dispatched") or 0)
    resolved = int(raw.get("resolved") or 0)
    return {
        "reports": reports,
        "share_pct": _round(100.0 * reports / city_total) if city_total else 0.0,
        "previous": previous,
        "change": reports - previous,
        "change_pct": _round(100.0 * (reports - previous) / previous) if previous else None,
        "dispatched": dispatched,
        "dispatch_median_min": _round(dispatch_pct[0]),
        "dispatch_p90_min": _round(dispatch_pct[1]),
        "dispatch_over_target_pct": _round(100.0 * raw["dispatch_over"] / dispatched) if dispatched else None,
        "resolved": resolved,
        "resolve_median_min": _round(resolve_pct[0]),
        "resolve_p90_min": _round(resolve_pct[1]),
        "resolve_over_target_pct": _round(100.0 * raw["resolve_over"] / resolved) if resolved else None,
    }


@dataclass
class Stats:
    """Every breakdown of one ReportFilter; rows are plain dicts (JSON-ready)."""

    filters: ReportFilter
    generated_at: datetime
    city: dict
    unplaced: int  # reports in the period outside every kecamatan
    kecamatan: list[dict] = field(default_factory=list)
    kelurahan: list[dict] = field(default_factory=list)
    category: list[dict] = field(default_factory=list)
    opd: list[dict] = field(default_factory=list)
    hour: list[dict] = field(default_factory=list)
    weekday: list[dict] = field(default_factory=list)
    kecamatan_category: list[dict] = field(default_factory=list)

    def breakdowns(self) -> dict[str, list[dict]]:
        """Name -> rows, in the order of the XLSX sheets."""
        return {
            "kecamatan": self.kecamatan,
            "kelurahan": self.kelurahan,
            "category": self.category,
            "opd": self.opd,
            "hour_of_day": self.hour,
            "day_of_week": self.weekday,
            "kecamatan_category": self.kecamatan_category,
        }

    def as_dict(self) -> dict:
        f = self.filters
        return {
            "period": {
                "from": f.date_from.isoformat(),
                "to": f.date_to.isoformat(),
                "days": f.days,
                "start": f.start.isoformat(),
                "end": f.end.isoformat(),
                "previous_from": f.previous_from.isoformat(),
                "timezone": app_settings.timezone_name(),
            },
            "filters": {
                "category": list(f.categories),
                "opd": list(f.opds),
                "status": list(f.statuses),
                "channel": list(f.channels),
                "kecamatan": list(f.kecamatan),
            },
            "generated_at": self.generated_at.isoformat(),
            "city": {**self.city, "unplaced": self.unplaced},
            **self.breakdowns(),
        }


def _areas(model, codes: Iterable[str], extra_fields: tuple[str, ...] = ()) -> list[dict]:
    """Current areas plus, for codes only found on older generations, their newest row."""
    fields = ("id", "code", "name", "area_km2", *extra_fields)
    rows = {r["code"]: r for r in model.objects.current().order_by("code").values(*fields)}
    missing = set(codes) - set(rows) - {None}
    if missing:
        for r in model.objects.filter(code__in=missing).order_by("code", "-id").values(*fields):
            rows.setdefault(r["code"], r)
    return [rows[c] for c in sorted(rows)]


def compute(f: ReportFilter) -> Stats:
    """All breakdowns for `f`, with a zero row for every area, category, OPD, hour and weekday."""
    sql, params = _aggregate_sql(f)
    groups: dict[str, dict] = {name: {} for name in _SETS}
    with analytic_cursor() as cur:
        cur.execute(sql, params)
        columns = [c[0] for c in cur.description]
        for values in cur.fetchall():
            row = dict(zip(columns, values, strict=True))
            name = _MASKS[row["g"]]
            key = {
                "city": None,
                "kecamatan": row["kec"],
                "kelurahan": row["kel"],
                "category": row["cat"],
                "opd": row["opd"],
                "hour": row["hour"],
                "weekday": row["dow"],
                "kecamatan_category": (row["kec"], row["cat"]),
            }[name]
            groups[name][key] = row

    city_raw = groups["city"].get(None)
    total = int(city_raw["reports"]) if city_raw else 0
    city = _metrics(city_raw, total)
    unplaced_raw = groups["kecamatan"].get(None)
    unplaced = int(unplaced_raw["reports"]) if unplaced_raw else 0

    kecamatan_rows = []
    kec_areas = _areas(Kecamatan, groups["kecamatan"].keys())
    if f.kecamatan:
        kec_areas = [a for a in kec_areas if a["code"] in f.kecamatan]
    for area in kec_areas:
        m = _metrics(groups["kecamatan"].get(area["code"]), total)
        per_km2 = _round(m["reports"] / area["area_km2"], 3) if area["area_km2"] else None
        kecamatan_rows.append(
            {
                "code": area["code"],
                "name": area["name"],
                "area_km2": _round(area["area_km2"], 3),
                "per_km2": per_km2,
                **m,
            }
        )

    kelurahan_rows = []
    kel_areas = _areas(Kelurahan, groups["kelurahan"].keys(), ("kecamatan_code",))
    if f.kecamatan:
        kel_areas = [a for a in kel_areas if a["kecamatan_code"] in f.kecamatan]
    for area in kel_areas:
        m = _metrics(groups["kelurahan"].get(area["code"]), total)
        per_km2 = _round(m["reports"] / area["area_km2"], 3) if area["area_km2"] else None
        kelurahan_rows.append(
            {
                "code": area["code"],
                "name": area["name"],
                "kecamatan_code": area["kecamatan_code"],
                "area_km2": _round(area["area_km2"], 3),
                "per_km2": per_km2,
                **m,
            }
        )

    categories = Category.objects.select_related("opd").order_by("sort_order", "code")
    if f.category_ids:
        categories = categories.filter(id__in=f.category_ids)
    elif f.opd_ids:
        categories = categories.filter(opd_id__in=f.opd_ids)
    wanted_categories = {c.id: c for c in categories}
    seen = set(groups["category"]) - set(wanted_categories) - {None}
    wanted_categories.update({c.id: c for c in Category.objects.select_related("opd").filter(id__in=seen)})
    category_rows = [
        {
            "code": c.code,
            "name": c.name_id,
            "opd": c.opd.code,
            "target_dispatch_min": c.target_dispatch_minutes,
            "target_resolve_min": c.target_resolve_minutes,
            **_metrics(groups["category"].get(c.id), total),
        }
        for c in wanted_categories.values()
    ]

    opds = OPD.objects.order_by("code")
    if f.opd_ids:
        opds = opds.filter(id__in=f.opd_ids)
    wanted_opds = {o.id: o for o in opds}
    seen = set(groups["opd"]) - set(wanted_opds) - {None}
    wanted_opds.update({o.id: o for o in OPD.objects.filter(id__in=seen)})
    opd_rows = [
        {"code": o.code, "name": o.name, **_metrics(groups["opd"].get(o.id), total)} for o in wanted_opds.values()
    ]

    hour_rows = [{"hour": h, **_metrics(groups["hour"].get(h), total)} for h in range(24)]
    weekday_rows = [
        {"isodow": d, "day": WEEKDAYS[d - 1], **_metrics(groups["weekday"].get(d), total)} for d in range(1, 8)
    ]

    pivot = []
    for area in kec_areas:
        row = {"code": area["code"], "name": area["name"]}
        for c in wanted_categories.values():
            raw = groups["kecamatan_category"].get((area["code"], c.id))
            row[c.code] = int(raw["reports"]) if raw else 0
        row["total"] = sum(v for k, v in row.items() if k not in ("code", "name"))
        pivot.append(row)

    return Stats(
        filters=f,
        generated_at=timezone.now(),
        city=city,
        unplaced=unplaced,
        kecamatan=kecamatan_rows,
        kelurahan=kelurahan_rows,
        category=category_rows,
        opd=opd_rows,
        hour=hour_rows,
        weekday=weekday_rows,
        kecamatan_category=pivot,
    )


def area_geometries(level: str, codes: Iterable[str]) -> dict[str, bytes]:
    """WKB (EPSG:4326) of the areas with these codes: the current polygon, else the newest older one."""
    model = {"kecamatan": Kecamatan, "kelurahan": Kelurahan}[level]
    table = model._meta.db_table
    codes = list(codes)
    sql = f"""
        SELECT DISTINCT ON (a.code) a.code, ST_AsBinary(a.geom)
        FROM {table} a JOIN kecamatan_boundaries_generation g ON g.id = a.generation_id
        WHERE a.code = ANY(%s)
        ORDER BY a.code, g.active DESC, a.id DESC
    """
    with connection.cursor() as cur:
        cur.execute(sql, [codes])
        return {code: bytes(wkb) for code, wkb in cur.fetchall()}
