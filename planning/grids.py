"""The point-density grid for planners: reports binned into metric cells by PostGIS.

Why bins: a year of reports is a million points; shipping them to a browser or a PNG is slow and
says less than counts per cell. PostGIS projects each report to UTM 48S (metres) and bins it into
a hexagon (pointy-top, `cell_m` from centre to corner) or a square (`cell_m` side); only the
occupied cells come back, each with its count. Cell polygons are then drawn in Python.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import shapely
from django.conf import settings

from core.projection import to_storage_transformer

from . import settings as app_settings
from .filters import PlanningError, ReportFilter
from .queries import REPORT_TABLE, analytic_cursor, where_clause

GRID_KINDS = ("hex", "square")
SQRT3 = math.sqrt(3.0)


class BadGrid(PlanningError):
    """A grid shape or cell size a request may not ask for (400)."""


@dataclass(frozen=True)
class GridSpec:
    """The cells' shape and size; `cell_m` is hexagon centre to corner, or square side, in metres."""

    kind: str = "hex"
    cell_m: float = 500.0

    @property
    def cell_area_km2(self) -> float:
        if self.kind == "hex":
            return 1.5 * SQRT3 * self.cell_m**2 / 1e6
        return self.cell_m**2 / 1e6

    def describe(self) -> str:
        shape = "heksagon" if self.kind == "hex" else "persegi"
        return f"{shape} {self.cell_m:g} m"


def parse_grid(kind: str | None, cell_m: str | float | None) -> GridSpec:
    """A GridSpec from raw values; defaults from PLANNING_GRID_KIND / PLANNING_GRID_CELL_M."""
    kind = (kind or app_settings.grid_kind()).strip().lower()
    if kind not in GRID_KINDS:
        raise BadGrid(f"Unknown grid {kind!r}; use one of: {', '.join(GRID_KINDS)}.", field="grid")
    if cell_m in (None, ""):
        size = float(app_settings.grid_cell_m())
    else:
        try:
            size = float(cell_m)
        except (TypeError, ValueError):
            raise BadGrid(f"`cell_m` must be a number of metres, not {cell_m!r}.", field="cell_m") from None
    lo = app_settings.grid_min_cell_m()
    if not math.isfinite(size) or size < lo or size > 20_000:
        raise BadGrid(f"`cell_m` must be between {lo:g} and 20000 metres, not {cell_m}.", field="cell_m")
    return GridSpec(kind, size)


@dataclass
class GridCell:
    """One occupied cell: its count, its density and its polygon."""

    key: str  # "hex:q:r" or "square:ix:iy"
    lon: float  # centre, EPSG:4326
    lat: float
    reports: int
    per_km2: float
    geometry: shapely.Polygon  # EPSG:4326


def density_grid(f: ReportFilter, grid: GridSpec) -> list[GridCell]:
    """Reports of the period binned into metric cells by PostGIS; only occupied cells are returned."""
    where, params = where_clause(f)
    s = float(grid.cell_m)
    metric = int(settings.METRIC_SRID)
    if grid.kind == "square":
        binning = "floor(x / %s)::bigint AS a, floor(y / %s)::bigint AS b"
        bin_params = [s, s]
        source = "p"
    else:
        # axial hex coordinates, rounded in cube space (the largest rounding error is recomputed)
        binning = """
            CASE WHEN dq > dy AND dq > dr THEN -ry - rr ELSE rq END AS a,
            CASE WHEN dq > dy AND dq > dr THEN rr WHEN dy > dr THEN rr ELSE -rq - ry END AS b
        """
        source = """(
            SELECT rq, ry, rr, abs(rq - q) AS dq, abs(ry - (-q - r)) AS dy, abs(rr - r) AS dr FROM (
                SELECT q, r, round(q) AS rq, round(-q - r) AS ry, round(r) AS rr FROM (
                    SELECT (sqrt(3.0) / 3.0 * x - y / 3.0) / %s AS q, (2.0 / 3.0 * y) / %s AS r FROM p OFFSET 0
                ) axial
            ) rounded
        ) cube"""
        bin_params = [s, s]
    sql = f"""
        WITH p AS (
            SELECT ST_X(g) AS x, ST_Y(g) AS y
            -- OFFSET 0 keeps the planner from inlining ST_Transform into every use of x and y below
            FROM (SELECT ST_Transform(r.location, {metric}) AS g FROM {REPORT_TABLE} r WHERE {where} OFFSET 0) t
        )
        SELECT a, b, count(*) FROM (SELECT {binning} FROM {source}) cells GROUP BY a, b ORDER BY a, b
    """
    with analytic_cursor() as cur:
        cur.execute(sql, [*params, *bin_params])
        rows = cur.fetchall()
    return _cells(rows, grid)


def _cells(rows: list[tuple[int, int, int]], grid: GridSpec) -> list[GridCell]:
    if not rows:
        return []
    s = grid.cell_m
    to_wgs84 = to_storage_transformer()  # cheap in a new thread (core/projection.py)
    polygons, centres, keys, counts = [], [], [], []
    for a, b, n in rows:
        a, b = int(a), int(b)
        if grid.kind == "hex":
            cx, cy = s * SQRT3 * (a + b / 2.0), s * 1.5 * b
            ring = [
                (cx + s * math.cos(math.radians(30 + 60 * i)), cy + s * math.sin(math.radians(30 + 60 * i)))
                for i in range(6)
            ]
        else:
            cx, cy = (a + 0.5) * s, (b + 0.5) * s
            ring = [(a * s, b * s), ((a + 1) * s, b * s), ((a + 1) * s, (b + 1) * s), (a * s, (b + 1) * s)]
        polygons.append(shapely.Polygon(ring))
        centres.append((cx, cy))
        keys.append(f"{grid.kind}:{a}:{b}")
        counts.append(int(n))
    polygons = shapely.transform(polygons, to_wgs84.transform, interleaved=False)
    lons, lats = to_wgs84.transform([c[0] for c in centres], [c[1] for c in centres])
    area = grid.cell_area_km2
    return [
        GridCell(key, float(lon), float(lat), n, round(n / area, 3), poly)
        for key, lon, lat, n, poly in zip(keys, lons, lats, counts, polygons, strict=True)
    ]
