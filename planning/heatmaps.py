"""Maps for planners: the point-density grid (binned in SQL), an interactive folium map, a static PNG.

Why bins: a year of reports is a million points; shipping them to a browser or a PNG is slow and
says less than counts per cell. PostGIS projects each report to UTM 48S (metres) and bins it into
a hexagon (pointy-top, `cell_m` from centre to corner) or a square (`cell_m` side); only the
occupied cells come back, each with its count. Cell polygons are then drawn in Python.

The interactive map loads nothing from a CDN: folium's default Leaflet/jQuery/Bootstrap links are
replaced by our own copies (served from /static/vendor/ when the page is served by the app, or
inlined for a downloaded HTML file that must open offline). Base-map tiles are optional
(PLANNING_TILES_URL; "" = none).
"""

from __future__ import annotations

import base64
import html
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path

import shapely
from django.conf import settings
from django.contrib.staticfiles import finders
from django.templatetags.static import static
from django.utils import timezone

from core.projection import to_storage_transformer

from . import settings as app_settings
from .filters import PlanningError, ReportFilter
from .stats import REPORT_TABLE, Stats, analytic_cursor, area_geometries, where_clause

GRID_KINDS = ("hex", "square")
SQRT3 = math.sqrt(3.0)

# Colour classes of the choropleth (ColorBrewer YlOrRd, 5 classes); zero and "no data" apart.
CLASS_COLOURS = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")
ZERO_COLOUR = "#f2f2f2"
NO_DATA_COLOUR = "#bdbdbd"

METRIC_LABELS = {
    "per_km2": "Laporan per km² / reports per km²",
    "reports": "Jumlah laporan / reports",
    "share_pct": "Bagian kota (%) / share of city (%)",
    "change_pct": "Perubahan vs periode sebelumnya (%) / change (%)",
    "dispatch_median_min": "Median menit ke penugasan / median minutes to dispatch",
    "resolve_median_min": "Median menit ke selesai / median minutes to resolve",
    "dispatch_over_target_pct": "Penugasan melewati target (%) / dispatched over target (%)",
    "resolve_over_target_pct": "Selesai melewati target (%) / resolved over target (%)",
}


class BadGrid(PlanningError):
    pass


class AssetsMissing(PlanningError):
    status_code = 503


@dataclass(frozen=True)
class GridSpec:
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


# --- colour classes ---------------------------------------------------------------------------
@dataclass
class Classes:
    """Equal-interval classes from the smallest (or 0) to the largest value."""

    edges: list[float]

    def colour(self, value: float | None) -> str:
        if value is None:
            return NO_DATA_COLOUR
        if value == 0 and self.edges[0] >= 0:
            return ZERO_COLOUR
        for i in range(len(self.edges) - 1):
            if value <= self.edges[i + 1]:
                return CLASS_COLOURS[min(i, len(CLASS_COLOURS) - 1)]
        return CLASS_COLOURS[-1]

    def legend(self) -> list[tuple[str, str]]:
        """(colour, label) rows for a legend."""
        rows = []
        if self.edges[0] >= 0:
            rows.append((ZERO_COLOUR, "0"))
        if len(self.edges) > 1:
            for i in range(len(self.edges) - 1):
                lo, hi = self.edges[i], self.edges[i + 1]
                rows.append((CLASS_COLOURS[i], f"{_fmt(lo)} – {_fmt(hi)}"))
        rows.append((NO_DATA_COLOUR, "tidak ada data / no data"))
        return rows


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.3g}"


def classes_for(values: list[float | None]) -> Classes:
    real = [v for v in values if v is not None]
    if not real or max(real) == min(real) == 0:
        return Classes([0.0])
    lo, hi = min(0.0, min(real)), max(real)
    if hi == lo:
        hi = lo + 1
    step = (hi - lo) / len(CLASS_COLOURS)
    return Classes([lo + i * step for i in range(len(CLASS_COLOURS) + 1)])


def check_metric(metric: str | None) -> str:
    metric = (metric or "per_km2").strip()
    if metric not in METRIC_LABELS:
        raise PlanningError(f"Unknown metric {metric!r}; use one of: {', '.join(METRIC_LABELS)}.", field="metric")
    return metric


# --- interactive map (folium) ------------------------------------------------------------------
# folium's asset names -> our vendored files (None = not needed by anything we draw).
LOCAL_JS = {
    "leaflet": "vendor/leaflet/leaflet.js",
    "leaflet-heat.js": "vendor/leaflet.heat/leaflet-heat.js",
    "jquery": None,
    "bootstrap": None,
    "awesome_markers": None,
}
LOCAL_CSS = {
    "leaflet_css": "vendor/leaflet/leaflet.css",
    "bootstrap_css": None,
    "glyphicons_css": None,
    "awesome_markers_font_css": None,
    "awesome_markers_css": None,
    "awesome_rotate_css": None,
}


def _walk(element):
    yield element
    for child in element._children.values():
        yield from _walk(child)


def _local_assets(fmap, mode: str) -> None:
    """Strip folium's CDN links from every element and load our own copies instead, in order."""
    css, js = [], []
    for element in _walk(fmap):
        for attr, table, found in (("default_css", LOCAL_CSS, css), ("default_js", LOCAL_JS, js)):
            for name, _url in getattr(element, attr, ()):
                if name not in table:
                    raise RuntimeError(f"folium wants {name!r} from a CDN; map it in planning.heatmaps")
                if table[name] and table[name] not in found:
                    found.append(table[name])
            if hasattr(element, attr):
                setattr(element, attr, [])  # instance attribute: this element links nothing
    from branca.element import Element

    header = fmap.get_root().header
    for i, path in enumerate(css):
        header.add_child(Element(_css_tag(path, mode)), name=f"geoapp_css_{i}")
    for i, path in enumerate(js):
        header.add_child(Element(_js_tag(path, mode)), name=f"geoapp_js_{i}")


def _static_file(path: str) -> Path:
    found = finders.find(path)
    if not found:
        raise AssetsMissing(f"Front-end file {path} is missing; run `bash scripts/ensure_assets.sh`.")
    return Path(found)


def _js_tag(path: str, mode: str) -> str:
    if mode == "inline":
        code = _static_file(path).read_text(encoding="utf-8").replace("</script", "<\\/script")
        return f"<script>{code}</script>"
    return f'<script src="{html.escape(static(path))}"></script>'


def _css_tag(path: str, mode: str) -> str:
    if mode == "inline":
        file = _static_file(path)
        text = file.read_text(encoding="utf-8")

        def data_uri(match: re.Match) -> str:
            image = file.parent / match.group(1)
            if not image.is_file():
                return match.group(0)
            return f"url(data:image/png;base64,{base64.b64encode(image.read_bytes()).decode()})"

        text = re.sub(r"url\((images/[\w.-]+\.png)\)", data_uri, text)
        return f"<style>{text}</style>"
    return f'<link rel="stylesheet" href="{html.escape(static(path))}"/>'


def _legend_element(title: str, subtitle: str, classes: Classes, grid: GridSpec):
    from branca.element import MacroElement, Template

    rows = "".join(
        f'<div><span style="display:inline-block;width:14px;height:14px;background:{colour};'
        f'border:1px solid #777;margin-right:6px;vertical-align:middle"></span>{html.escape(label)}</div>'
        for colour, label in classes.legend()
    )
    body = (
        '<div id="planning-legend" style="position:fixed;bottom:24px;left:12px;z-index:9999;background:#fff;'
        'padding:8px 10px;border:1px solid #999;border-radius:4px;font:12px/1.4 sans-serif;max-width:320px">'
        f"<b>{html.escape(title)}</b><br><span>{html.escape(subtitle)}</span>{rows}"
        f"<div style='margin-top:4px;color:#555'>Grid kepadatan: {html.escape(grid.describe())}</div></div>"
    )
    legend = MacroElement()
    legend._template = Template("{% macro html(this, kwargs) %}" + body + "{% endmacro %}")
    return legend


def _display(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def _area_features(rows: list[dict], geometries: dict[str, bytes], metric: str, classes: Classes) -> dict:
    features = []
    for row in rows:
        wkb = geometries.get(row["code"])
        if wkb is None:
            continue
        props = {k: _display(v) for k, v in row.items()}
        props["_fill"] = classes.colour(row.get(metric))
        features.append(
            {"type": "Feature", "geometry": shapely.geometry.mapping(shapely.from_wkb(wkb)), "properties": props}
        )
    return {"type": "FeatureCollection", "features": features}


TOOLTIP_FIELDS = [
    ("name", "Wilayah"),
    ("code", "Kode"),
    ("reports", "Laporan"),
    ("per_km2", "Per km²"),
    ("share_pct", "Bagian kota (%)"),
    ("previous", "Periode sebelumnya"),
    ("change_pct", "Perubahan (%)"),
    ("dispatch_median_min", "Median ke penugasan (menit)"),
    ("dispatch_p90_min", "P90 ke penugasan (menit)"),
    ("dispatch_over_target_pct", "Penugasan > target (%)"),
    ("resolve_median_min", "Median ke selesai (menit)"),
    ("resolve_p90_min", "P90 ke selesai (menit)"),
    ("resolve_over_target_pct", "Selesai > target (%)"),
]

CHOROPLETH_NAME = "Choropleth per kecamatan"
KELURAHAN_LAYER_NAME = "Choropleth per kelurahan"
HEATMAP_NAME = "Heatmap kepadatan titik"
GRID_LAYER_NAME = "Grid kepadatan"


def interactive_map(
    stats: Stats, cells: list[GridCell], grid: GridSpec, *, metric: str = "per_km2", assets: str = "static"
) -> str:
    """The folium map as one HTML document. assets="static" links /static/vendor/; "inline" embeds them."""
    import folium
    from folium.plugins import HeatMap

    metric = check_metric(metric)
    kec_geoms = area_geometries("kecamatan", [r["code"] for r in stats.kecamatan])
    kel_geoms = area_geometries("kelurahan", [r["code"] for r in stats.kelurahan])
    bounds = shapely.union_all([shapely.from_wkb(w) for w in kec_geoms.values()]).bounds if kec_geoms else None

    fmap = folium.Map(location=[-6.18, 106.63], zoom_start=12, tiles=None, control_scale=True)
    if app_settings.tiles_url():
        folium.TileLayer(
            tiles=app_settings.tiles_url(), attr=app_settings.tiles_attribution(), name="Peta dasar / base map"
        ).add_to(fmap)

    kec_classes = classes_for([r.get(metric) for r in stats.kecamatan])
    fields, aliases = zip(*TOOLTIP_FIELDS, strict=True)

    def style(feature):
        return {"fillColor": feature["properties"]["_fill"], "color": "#444", "weight": 1.2, "fillOpacity": 0.7}

    folium.GeoJson(
        _area_features(stats.kecamatan, kec_geoms, metric, kec_classes),
        name=CHOROPLETH_NAME,
        style_function=style,
        highlight_function=lambda f: {"weight": 3, "color": "#000"},
        tooltip=folium.GeoJsonTooltip(fields=list(fields), aliases=list(aliases), sticky=True),
    ).add_to(fmap)

    kel_classes = classes_for([r.get(metric) for r in stats.kelurahan])
    folium.GeoJson(
        _area_features(stats.kelurahan, kel_geoms, metric, kel_classes),
        name=KELURAHAN_LAYER_NAME,
        show=False,
        style_function=style,
        highlight_function=lambda f: {"weight": 3, "color": "#000"},
        tooltip=folium.GeoJsonTooltip(
            fields=["name", "code", "kecamatan_code", *fields[2:]],
            aliases=["Kelurahan", "Kode", "Kecamatan", *aliases[2:]],
            sticky=True,
        ),
    ).add_to(fmap)

    peak = max((c.reports for c in cells), default=0)
    heat = [[round(c.lat, 6), round(c.lon, 6), round(c.reports / peak, 4)] for c in cells] if peak else []
    HeatMap(heat, name=HEATMAP_NAME, radius=22, blur=18, min_opacity=0.25, max_zoom=14).add_to(fmap)

    grid_classes = classes_for([float(c.reports) for c in cells])
    folium.GeoJson(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "geometry": shapely.geometry.mapping(c.geometry),
                    "properties": {
                        "reports": c.reports,
                        "per_km2": c.per_km2,
                        "_fill": grid_classes.colour(float(c.reports)),
                    },
                }
                for c in cells
            ],
        },
        name=f"{GRID_LAYER_NAME} ({grid.describe()})",
        show=False,
        style_function=lambda f: {
            "fillColor": f["properties"]["_fill"],
            "color": "#666",
            "weight": 0.4,
            "fillOpacity": 0.6,
        },
        tooltip=folium.GeoJsonTooltip(fields=["reports", "per_km2"], aliases=["Laporan", "Per km²"]) if cells else None,
    ).add_to(fmap)

    folium.LayerControl(collapsed=False).add_to(fmap)
    fmap.get_root().add_child(
        _legend_element(METRIC_LABELS[metric], stats.filters.describe(), kec_classes, grid), name="planning_legend"
    )
    if bounds:
        fmap.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    fmap.get_root().title = f"Peta laporan {stats.filters.describe()}"
    _local_assets(fmap, assets)
    return fmap.get_root().render()


# --- static map (matplotlib) ------------------------------------------------------------------
def static_map(stats: Stats, cells: list[GridCell], grid: GridSpec, *, metric: str = "per_km2") -> bytes:
    """A PNG for reports and slides: the choropleth beside the density grid, drawn in UTM 48S."""
    import geopandas as gpd
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    metric = check_metric(metric)
    geoms = area_geometries("kecamatan", [r["code"] for r in stats.kecamatan])
    rows = [r for r in stats.kecamatan if r["code"] in geoms]
    classes = classes_for([r.get(metric) for r in rows])
    areas = gpd.GeoDataFrame(
        {
            "name": [r["name"] for r in rows],
            "reports": [r["reports"] for r in rows],
            "colour": [classes.colour(r.get(metric)) for r in rows],
        },
        geometry=[shapely.from_wkb(geoms[r["code"]]) for r in rows],
        crs=settings.STORAGE_SRID,
    ).to_crs(settings.METRIC_SRID)

    fig, (left, right) = plt.subplots(1, 2, figsize=(16, 8), layout="constrained")
    fig.suptitle(f"Laporan warga Kota Tangerang · {stats.filters.describe()}", fontsize=13)
    if len(areas):
        areas.plot(ax=left, color=areas["colour"], edgecolor="#444", linewidth=0.8)
        for _, a in areas.iterrows():
            p = a.geometry.representative_point()
            left.annotate(f"{a['name']}\n{a['reports']:,}", (p.x, p.y), ha="center", va="center", fontsize=7)
    left.set_title(METRIC_LABELS[metric], fontsize=10)
    left.legend(
        handles=[Patch(facecolor=c, edgecolor="#777", label=lbl) for c, lbl in classes.legend()],
        loc="lower left",
        fontsize=7,
        title_fontsize=8,
        title="kelas",
    )

    if len(areas):
        areas.boundary.plot(ax=right, color="#444", linewidth=0.6)
    if cells:
        grid_gdf = gpd.GeoDataFrame(
            {"reports": [c.reports for c in cells]}, geometry=[c.geometry for c in cells], crs=settings.STORAGE_SRID
        ).to_crs(settings.METRIC_SRID)
        grid_gdf.plot(
            ax=right,
            column="reports",
            cmap="YlOrRd",
            alpha=0.85,
            legend=True,
            legend_kwds={"label": "laporan per sel", "shrink": 0.6},
        )
    else:
        right.text(0.5, 0.5, "tidak ada laporan / no reports", transform=right.transAxes, ha="center")
    right.set_title(f"Kepadatan titik ({grid.describe()})", fontsize=10)
    if len(areas):  # both panels show the city (a stray report far outside does not zoom out the map)
        x0, y0, x1, y1 = areas.total_bounds
        pad = 0.03 * max(x1 - x0, y1 - y0)
        for ax in (left, right):
            ax.set_xlim(x0 - pad, x1 + pad)
            ax.set_ylim(y0 - pad, y1 + pad)

    total = stats.city["reports"]
    fig.text(
        0.01,
        0.01,
        f"{total:,} laporan · grid dihitung di PostGIS (UTM 48S) · "
        f"dibuat {timezone.localtime(stats.generated_at):%Y-%m-%d %H:%M} WIB",
        fontsize=8,
        color="#555",
    )
    for ax in (left, right):
        ax.set_axis_off()
        ax.set_aspect("equal")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=app_settings.png_dpi())
    plt.close(fig)
    return buf.getvalue()
