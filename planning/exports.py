"""Files for QGIS and Excel: GeoJSON, GeoPackage, zipped Shapefile, CSV, XLSX, and the two maps.

Every format is built from the same `stats.Stats` (and density grid), so a number in the XLSX is
the number in the Shapefile. Exports only carry aggregates: no report row, no description, no
reporter's name, phone, e-mail or account ever reaches a file (the SQL never selects them).

Layers (GeoPackage layers, GeoJSON/Shapefile/CSV by `level`): kecamatan, kelurahan, density grid.
Shapefile field names are limited to 10 characters: `SHP_FIELDS` maps them, and the zip carries
a fields.txt with the mapping next to the .shp/.shx/.dbf/.prj/.cpg.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely
from django.conf import settings
from django.utils import timezone

from .filters import PlanningError, ReportFilter
from .grids import GridCell, GridSpec, density_grid
from .heatmaps import check_metric, interactive_map, static_map
from .queries import area_geometries
from .stats import METRICS, Stats, compute

# pyogrio logs "Created N records" at INFO for every layer it writes; that is noise in a command's output.
logging.getLogger("pyogrio._io").setLevel(logging.WARNING)

FORMATS = {
    "html": ("text/html; charset=utf-8", "html"),
    "png": ("image/png", "png"),
    "geojson": ("application/geo+json", "geojson"),
    "gpkg": ("application/geopackage+sqlite3", "gpkg"),
    "shp": ("application/zip", "zip"),
    "csv": ("text/csv; charset=utf-8", "csv"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
}
LEVELS = ("kecamatan", "kelurahan", "grid")

# column -> Shapefile field name (<= 10 characters)
SHP_FIELDS = {
    "code": "code",
    "name": "name",
    "kecamatan_code": "kec_code",
    "area_km2": "area_km2",
    "per_km2": "per_km2",
    "reports": "reports",
    "share_pct": "share_pct",
    "previous": "previous",
    "change": "change",
    "change_pct": "change_pct",
    "dispatched": "dispatched",
    "dispatch_median_min": "disp_med",
    "dispatch_p90_min": "disp_p90",
    "dispatch_over_target_pct": "disp_over",
    "resolved": "resolved",
    "resolve_median_min": "res_med",
    "resolve_p90_min": "res_p90",
    "resolve_over_target_pct": "res_over",
    "key": "cell",
    "lon": "lon",
    "lat": "lat",
}

FIELD_NOTES = {
    "code": "Kemendagri code of the area",
    "name": "area name",
    "kecamatan_code": "code of the kecamatan the kelurahan lies in",
    "area_km2": "area in km² (UTM 48S)",
    "per_km2": "reports per km²",
    "reports": "reports created in the period matching the filters",
    "share_pct": "reports / all matching reports in the city, %",
    "previous": "reports in the previous period of the same length",
    "change": "reports - previous",
    "change_pct": "(reports - previous) / previous, % (empty when previous = 0)",
    "dispatched": "reports with a dispatch time",
    "dispatch_median_min": "median minutes from report to dispatch",
    "dispatch_p90_min": "90th percentile minutes from report to dispatch",
    "dispatch_over_target_pct": "dispatched later than the category's target, % of dispatched",
    "resolved": "reports with a resolved time",
    "resolve_median_min": "median minutes from report to resolved",
    "resolve_p90_min": "90th percentile minutes from report to resolved",
    "resolve_over_target_pct": "resolved later than the category's target, % of resolved",
    "key": "grid cell id (shape:a:b in UTM 48S cell units)",
    "lon": "cell centre longitude (WGS 84)",
    "lat": "cell centre latitude (WGS 84)",
}


class UnknownFormat(PlanningError):
    """A `format` not in FORMATS (400)."""

    def __init__(self, value: str):
        super().__init__(f"Unknown format {value!r}; use one of: {', '.join(FORMATS)}.", field="format")


class UnknownLevel(PlanningError):
    """A `level` not in LEVELS (400)."""

    def __init__(self, value: str):
        super().__init__(f"Unknown level {value!r}; use one of: {', '.join(LEVELS)}.", field="level")


def check_format(fmt: str | None) -> str:
    """The export format, lower case; UnknownFormat when it is not one of FORMATS."""
    fmt = (fmt or "").strip().lower()
    if fmt not in FORMATS:
        raise UnknownFormat(fmt)
    return fmt


def check_level(level: str | None) -> str:
    """The layer of a one-layer format (default kecamatan); UnknownLevel when it is not one of LEVELS."""
    level = (level or "kecamatan").strip().lower()
    if level not in LEVELS:
        raise UnknownLevel(level)
    return level


@dataclass
class ExportFile:
    """A finished file, with the name and type a download gives it."""

    content: bytes
    filename: str
    content_type: str


@dataclass
class Layer:
    """One map layer as rows and geometries, whatever format writes it."""

    name: str
    columns: list[str]
    rows: list[dict]
    geometries: list[shapely.Geometry | None]


def _area_layer(stats: Stats, level: str) -> Layer:
    rows = stats.kecamatan if level == "kecamatan" else stats.kelurahan
    wkb = area_geometries(level, [r["code"] for r in rows])
    columns = list(rows[0].keys()) if rows else ["code", "name", "area_km2", "per_km2", *METRICS]
    geoms = [shapely.from_wkb(wkb[r["code"]]) if r["code"] in wkb else None for r in rows]
    return Layer(level, columns, rows, geoms)


def _grid_layer(cells: list[GridCell]) -> Layer:
    rows = [
        {"key": c.key, "lon": round(c.lon, 6), "lat": round(c.lat, 6), "reports": c.reports, "per_km2": c.per_km2}
        for c in cells
    ]
    return Layer("density_grid", ["key", "lon", "lat", "reports", "per_km2"], rows, [c.geometry for c in cells])


def _layer(stats: Stats, cells: list[GridCell], level: str) -> Layer:
    return _grid_layer(cells) if level == "grid" else _area_layer(stats, level)


def _metadata(stats: Stats, grid: GridSpec) -> dict:
    return {
        "title": f"Laporan warga Kota Tangerang · {stats.filters.describe()}",
        **{k: v for k, v in stats.as_dict().items() if k in ("period", "filters", "generated_at", "city")},
        "grid": {"kind": grid.kind, "cell_m": grid.cell_m},
        "source": "geoapp (Tangerang LIVE Room); aggregates only, no personal data",
    }


def _gdf(layer: Layer) -> gpd.GeoDataFrame:
    data = {c: [r.get(c) for r in layer.rows] for c in layer.columns}
    return gpd.GeoDataFrame(data, geometry=layer.geometries, crs=f"EPSG:{settings.STORAGE_SRID}")


def to_geojson(stats: Stats, cells: list[GridCell], grid: GridSpec, level: str) -> bytes:
    """One layer as a FeatureCollection, with the period, filters and city totals as `metadata`."""
    layer = _layer(stats, cells, level)
    features = [
        {"type": "Feature", "geometry": shapely.geometry.mapping(g) if g is not None else None, "properties": row}
        for row, g in zip(layer.rows, layer.geometries, strict=True)
    ]
    doc = {"type": "FeatureCollection", "name": layer.name, "metadata": _metadata(stats, grid), "features": features}
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def to_gpkg(stats: Stats, cells: list[GridCell], grid: GridSpec) -> bytes:
    """One GeoPackage with three layers (kecamatan, kelurahan, density_grid) and plain tables."""
    with tempfile.TemporaryDirectory(prefix="planning_") as tmp:
        path = Path(tmp) / "export.gpkg"
        for layer in (_area_layer(stats, "kecamatan"), _area_layer(stats, "kelurahan"), _grid_layer(cells)):
            gdf = _gdf(layer)
            gdf.to_file(
                path, layer=layer.name, driver="GPKG", engine="pyogrio", promote_to_multi=layer.name != "density_grid"
            )
        for name in ("category", "opd", "hour_of_day", "day_of_week", "kecamatan_category"):
            rows = stats.breakdowns()[name]
            pyogrio.write_dataframe(pd.DataFrame(rows), path, layer=name, driver="GPKG")
        return path.read_bytes()


def to_shapefile_zip(stats: Stats, cells: list[GridCell], grid: GridSpec, level: str) -> bytes:
    """One layer as a zipped Shapefile, with fields.txt (the 10-character names) and metadata.json."""
    layer = _layer(stats, cells, level)
    gdf = _gdf(layer).rename(columns={c: SHP_FIELDS.get(c, c[:10]) for c in layer.columns})
    with tempfile.TemporaryDirectory(prefix="planning_") as tmp:
        base = Path(tmp) / layer.name
        gdf.to_file(f"{base}.shp", driver="ESRI Shapefile", engine="pyogrio", encoding="UTF-8")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for ext in ("shp", "shx", "dbf", "prj", "cpg"):
                file = base.with_suffix(f".{ext}")
                if file.exists():
                    zf.write(file, file.name)
            notes = [f"{SHP_FIELDS.get(c, c[:10])}\t{c}\t{FIELD_NOTES.get(c, '')}" for c in layer.columns]
            zf.writestr("fields.txt", "shapefile field\tcolumn\tmeaning\n" + "\n".join(notes) + "\n")
            zf.writestr("metadata.json", json.dumps(_metadata(stats, grid), ensure_ascii=False, indent=1))
        return buf.getvalue()


def to_csv(stats: Stats, cells: list[GridCell], level: str) -> bytes:
    """One layer's rows, without geometry (empty for no value)."""
    layer = _layer(stats, cells, level)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=layer.columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in layer.rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return buf.getvalue().encode("utf-8")


def to_xlsx(stats: Stats, cells: list[GridCell], grid: GridSpec) -> bytes:
    """A workbook with an `about` sheet, a sheet per breakdown, the density grid and field notes."""
    from openpyxl import Workbook  # noqa: PLC0415 - loaded when a workbook is written, not at every process start
    from openpyxl.styles import Font  # noqa: PLC0415 - loaded with the line above

    wb = Workbook()
    about = wb.active
    about.title = "about"
    meta = _metadata(stats, grid)
    about.append(["Laporan warga Kota Tangerang"])
    about["A1"].font = Font(bold=True, size=13)
    f = stats.filters
    for label, value in (
        ("from", f.date_from.isoformat()),
        ("to", f.date_to.isoformat()),
        ("days", f.days),
        ("previous period from", f.previous_from.isoformat()),
        ("timezone", meta["period"]["timezone"]),
        ("category", ", ".join(f.categories) or "all"),
        ("opd", ", ".join(f.opds) or "all"),
        ("status", ", ".join(f.statuses) or "all"),
        ("channel", ", ".join(f.channels) or "all"),
        ("kecamatan", ", ".join(f.kecamatan) or "all"),
        ("reports (city)", stats.city["reports"]),
        ("reports outside every kecamatan", stats.unplaced),
        ("density grid", grid.describe()),
        ("generated at (WIB)", timezone.localtime(stats.generated_at).strftime("%Y-%m-%d %H:%M")),
        ("note", "aggregates only; no reporter's personal data"),
    ):
        about.append([label, value])

    sheets = dict(stats.breakdowns())
    sheets["density_grid"] = _grid_layer(cells).rows
    for name, rows in sheets.items():
        ws = wb.create_sheet(name[:31])
        columns = (
            list(rows[0].keys())
            if rows
            else (["key", "lon", "lat", "reports", "per_km2"] if name == "density_grid" else ["code"])
        )
        ws.append(columns)
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for row in rows:
            ws.append([row.get(c) for c in columns])
        ws.freeze_panes = "A2"

    fields = wb.create_sheet("fields")
    fields.append(["column", "shapefile field", "meaning"])
    for column, note in FIELD_NOTES.items():
        fields.append([column, SHP_FIELDS.get(column, ""), note])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def build_export(
    fmt: str,
    f: ReportFilter,
    grid: GridSpec,
    *,
    level: str = "kecamatan",
    metric: str = "per_km2",
    html_assets: str = "inline",
    progress: Callable[[str], None] | None = None,
) -> ExportFile:
    """Compute the statistics and the density grid for `f` and write them as `fmt`.

    `progress(step)` is called after each of the STEPS steps (statistics, density grid, file).
    """
    fmt, level, metric = check_format(fmt), check_level(level), check_metric(metric)
    step = progress or (lambda _s: None)
    stats = compute(f)
    step("statistics")
    cells = density_grid(f, grid)
    step("density grid")
    if fmt == "html":
        content = interactive_map(stats, cells, grid, metric=metric, assets=html_assets).encode("utf-8")
    elif fmt == "png":
        content = static_map(stats, cells, grid, metric=metric)
    elif fmt == "geojson":
        content = to_geojson(stats, cells, grid, level)
    elif fmt == "gpkg":
        content = to_gpkg(stats, cells, grid)
    elif fmt == "shp":
        content = to_shapefile_zip(stats, cells, grid, level)
    elif fmt == "csv":
        content = to_csv(stats, cells, level)
    else:
        content = to_xlsx(stats, cells, grid)
    step("file")
    content_type, ext = FORMATS[fmt]
    part = "" if fmt in ("html", "png", "gpkg", "xlsx") else f"_{level}"
    filename = f"laporan{part}_{f.slug()}.{ext}"
    return ExportFile(content, filename, content_type)


STEPS = 3  # progress callbacks per build_export
