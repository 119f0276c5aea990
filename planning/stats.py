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

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from incidents.models import OPD, Category
from kecamatan_boundaries.models import Boundary, Kecamatan, Kelurahan

from . import settings as app_settings
from .filters import ReportFilter
from .queries import REPORT_TABLE, analytic_cursor, where_clause

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


def aggregate_sql(f: ReportFilter, sets: Iterable[str] = tuple(_SETS)) -> tuple[str, list]:
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


def _areas(model: type[Boundary], codes: Iterable[str], extra_fields: tuple[str, ...] = ()) -> list[dict]:
    """Current areas plus, for codes only found on older generations, their newest row."""
    fields = ("id", "code", "name", "area_km2", *extra_fields)
    rows = {r["code"]: r for r in model.objects.current().order_by("code").values(*fields)}
    missing = set(codes) - set(rows) - {None}
    if missing:
        for r in model.objects.newest_with_codes(missing).values(*fields):
            rows.setdefault(r["code"], r)
    return [rows[c] for c in sorted(rows)]


def compute(f: ReportFilter) -> Stats:
    """All breakdowns for `f`, with a zero row for every area, category, OPD, hour and weekday."""
    groups = _groups(f)
    city_raw = groups["city"].get(None)
    total = int(city_raw["reports"]) if city_raw else 0
    unplaced_raw = groups["kecamatan"].get(None)

    kec_areas = _areas(Kecamatan, groups["kecamatan"].keys())
    if f.kecamatan:
        kec_areas = [a for a in kec_areas if a["code"] in f.kecamatan]
    kel_areas = _areas(Kelurahan, groups["kelurahan"].keys(), ("kecamatan_code",))
    if f.kecamatan:
        kel_areas = [a for a in kel_areas if a["kecamatan_code"] in f.kecamatan]
    categories = _categories(f, groups["category"])
    opds = _opds(f, groups["opd"])

    return Stats(
        filters=f,
        generated_at=timezone.now(),
        city=_metrics(city_raw, total),
        unplaced=int(unplaced_raw["reports"]) if unplaced_raw else 0,
        kecamatan=_area_rows(kec_areas, groups["kecamatan"], total),
        kelurahan=_area_rows(kel_areas, groups["kelurahan"], total, ("kecamatan_code",)),
        category=[
            {
                "code": c.code,
                "name": c.name_id,
                "opd": c.opd.code,
                "target_dispatch_min": c.target_dispatch_minutes,
                "target_resolve_min": c.target_resolve_minutes,
                **_metrics(groups["category"].get(c.id), total),
            }
            for c in categories
        ],
        opd=[{"code": o.code, "name": o.name, **_metrics(groups["opd"].get(o.id), total)} for o in opds],
        hour=[{"hour": h, **_metrics(groups["hour"].get(h), total)} for h in range(24)],
        weekday=[
            {"isodow": d, "day": WEEKDAYS[d - 1], **_metrics(groups["weekday"].get(d), total)} for d in range(1, 8)
        ],
        kecamatan_category=_pivot(kec_areas, categories, groups["kecamatan_category"]),
    )


def _groups(f: ReportFilter) -> dict[str, dict]:
    """The aggregate rows of every breakdown, keyed by the group's value (None for the city)."""
    sql, params = aggregate_sql(f)
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
    return groups


def _area_rows(areas: list[dict], raw: dict, total: int, extra_fields: tuple[str, ...] = ()) -> list[dict]:
    rows = []
    for area in areas:
        m = _metrics(raw.get(area["code"]), total)
        per_km2 = _round(m["reports"] / area["area_km2"], 3) if area["area_km2"] else None
        rows.append(
            {
                "code": area["code"],
                "name": area["name"],
                **{k: area[k] for k in extra_fields},
                "area_km2": _round(area["area_km2"], 3),
                "per_km2": per_km2,
                **m,
            }
        )
    return rows


def _categories(f: ReportFilter, raw: dict) -> list[Category]:
    """The categories the filter asks for (all, or those of its OPDs), plus any that have reports."""
    categories = Category.objects.select_related("opd").order_by("sort_order", "code")
    if f.category_ids:
        categories = categories.filter(id__in=f.category_ids)
    elif f.opd_ids:
        categories = categories.filter(opd_id__in=f.opd_ids)
    wanted = {c.id: c for c in categories}
    seen = set(raw) - set(wanted) - {None}
    wanted.update({c.id: c for c in Category.objects.select_related("opd").filter(id__in=seen)})
    return list(wanted.values())


def _opds(f: ReportFilter, raw: dict) -> list[OPD]:
    """The OPDs the filter asks for (all when none), plus any that have reports."""
    opds = OPD.objects.order_by("code")
    if f.opd_ids:
        opds = opds.filter(id__in=f.opd_ids)
    wanted = {o.id: o for o in opds}
    seen = set(raw) - set(wanted) - {None}
    wanted.update({o.id: o for o in OPD.objects.filter(id__in=seen)})
    return list(wanted.values())


def _pivot(areas: list[dict], categories: list[Category], raw: dict) -> list[dict]:
    """Per kecamatan: one count per category code, and the total."""
    pivot = []
    for area in areas:
        row = {"code": area["code"], "name": area["name"]}
        for c in categories:
            found = raw.get((area["code"], c.id))
            row[c.code] = int(found["reports"]) if found else 0
        row["total"] = sum(v for k, v in row.items() if k not in ("code", "name"))
        pivot.append(row)
    return pivot
