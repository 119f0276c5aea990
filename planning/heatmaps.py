"""Maps for planners: an interactive folium map and a static PNG, coloured by one metric.

Both draw the same things from the same `stats.Stats` and density grid (`grids.py`): the
kecamatan choropleth (kelurahan as a second layer), the density of report points, and a legend of
equal-interval colour classes. The interactive map loads nothing from a CDN (`assets.py`);
base-map tiles are optional (PLANNING_TILES_URL; "" = none).
"""

from __future__ import annotations

import functools
import html
import io
from dataclasses import dataclass

import geopandas as gpd
import shapely
from django.conf import settings
from django.utils import timezone

from . import settings as app_settings
from .assets import check_no_links_out, css_tag, js_tag, take_assets
from .filters import PlanningError
from .grids import GridCell, GridSpec
from .queries import area_geometries
from .stats import Stats

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


# --- colour classes ---------------------------------------------------------------------------
@dataclass
class Classes:
    """Equal-interval classes from the smallest (or 0) to the largest value."""

    edges: list[float]

    def colour(self, value: float | None) -> str:
        """The fill of a value; zero and "no data" have colours of their own."""
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
    """Five classes from 0 (or a negative minimum: change_pct) to the largest value."""
    real = [v for v in values if v is not None]
    if not real or max(real) == min(real) == 0:
        return Classes([0.0])
    lo, hi = min(0.0, min(real)), max(real)
    if hi == lo:
        hi = lo + 1
    step = (hi - lo) / len(CLASS_COLOURS)
    return Classes([lo + i * step for i in range(len(CLASS_COLOURS) + 1)])


def check_metric(metric: str | None) -> str:
    """The metric the choropleth colours (default per_km2); PlanningError when it is not one of METRIC_LABELS."""
    metric = (metric or "per_km2").strip()
    if metric not in METRIC_LABELS:
        raise PlanningError(f"Unknown metric {metric!r}; use one of: {', '.join(METRIC_LABELS)}.", field="metric")
    return metric


# --- the interactive map (folium) --------------------------------------------------------------
@functools.cache
def _legend_element() -> type:
    """The legend's element class, made on first use (branca comes with folium, loaded when a map is
    drawn). branca's way to a custom element: a MacroElement subclass with its own template, whose
    html macro lands in the page after the map."""
    from branca.element import MacroElement, Template  # noqa: PLC0415 - comes with folium, loaded when a map is drawn

    class Legend(MacroElement):
        _template = Template("{% macro html(this, kwargs) %}{{ this.body }}{% endmacro %}")

        def __init__(self, body: str):
            super().__init__()
            self.body = body

    return Legend


def _legend_html(title: str, subtitle: str, classes: Classes, grid: GridSpec) -> str:
    rows = "".join(
        f'<div><span style="display:inline-block;width:14px;height:14px;background:{colour};'
        f'border:1px solid #777;margin-right:6px;vertical-align:middle"></span>{html.escape(label)}</div>'
        for colour, label in classes.legend()
    )
    return (
        '<div id="planning-legend" style="position:fixed;bottom:24px;left:12px;z-index:9999;background:#fff;'
        'padding:8px 10px;border:1px solid #999;border-radius:4px;font:12px/1.4 sans-serif;max-width:320px">'
        f"<b>{html.escape(title)}</b><br><span>{html.escape(subtitle)}</span>{rows}"
        f"<div style='margin-top:4px;color:#555'>Grid kepadatan: {html.escape(grid.describe())}</div></div>"
    )


def _display(value: object) -> str:
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
    """The folium map as one HTML document. assets="static" links /static/vendor/; "inline" embeds them
    (a downloaded file that opens offline)."""
    import folium  # noqa: PLC0415 - ~1 s to import: loaded when a map is drawn, not at every process start
    from folium.plugins import HeatMap  # noqa: PLC0415 - loaded with the line above

    metric = check_metric(metric)
    kec_geoms = area_geometries("kecamatan", [r["code"] for r in stats.kecamatan])
    kel_geoms = area_geometries("kelurahan", [r["code"] for r in stats.kelurahan])
    bounds = shapely.union_all([shapely.from_wkb(w) for w in kec_geoms.values()]).bounds if kec_geoms else None

    fmap = folium.Map(location=[-6.18, 106.63], zoom_start=12, tiles=None, control_scale=True)
    layers: list = []  # every element added to the map, for take_assets
    if app_settings.tiles_url():
        layers.append(
            folium.TileLayer(
                tiles=app_settings.tiles_url(), attr=app_settings.tiles_attribution(), name="Peta dasar / base map"
            )
        )

    kec_classes = classes_for([r.get(metric) for r in stats.kecamatan])
    fields, aliases = zip(*TOOLTIP_FIELDS, strict=True)

    def style(feature):
        return {"fillColor": feature["properties"]["_fill"], "color": "#444", "weight": 1.2, "fillOpacity": 0.7}

    kec_tooltip = folium.GeoJsonTooltip(fields=list(fields), aliases=list(aliases), sticky=True)
    layers.append(
        folium.GeoJson(
            _area_features(stats.kecamatan, kec_geoms, metric, kec_classes),
            name=CHOROPLETH_NAME,
            style_function=style,
            highlight_function=lambda f: {"weight": 3, "color": "#000"},
            tooltip=kec_tooltip,
        )
    )

    kel_classes = classes_for([r.get(metric) for r in stats.kelurahan])
    kel_tooltip = folium.GeoJsonTooltip(
        fields=["name", "code", "kecamatan_code", *fields[2:]],
        aliases=["Kelurahan", "Kode", "Kecamatan", *aliases[2:]],
        sticky=True,
    )
    layers.append(
        folium.GeoJson(
            _area_features(stats.kelurahan, kel_geoms, metric, kel_classes),
            name=KELURAHAN_LAYER_NAME,
            show=False,
            style_function=style,
            highlight_function=lambda f: {"weight": 3, "color": "#000"},
            tooltip=kel_tooltip,
        )
    )

    peak = max((c.reports for c in cells), default=0)
    heat = [[round(c.lat, 6), round(c.lon, 6), round(c.reports / peak, 4)] for c in cells] if peak else []
    layers.append(HeatMap(heat, name=HEATMAP_NAME, radius=22, blur=18, min_opacity=0.25, max_zoom=14))

    grid_classes = classes_for([float(c.reports) for c in cells])
    grid_tooltip = (
        folium.GeoJsonTooltip(fields=["reports", "per_km2"], aliases=["Laporan", "Per km²"]) if cells else None
    )
    layers.append(
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
            tooltip=grid_tooltip,
        )
    )
    layers.append(folium.LayerControl(collapsed=False))
    for layer in layers:
        layer.add_to(fmap)

    page = fmap.get_root()
    legend = _legend_html(METRIC_LABELS[metric], stats.filters.describe(), kec_classes, grid)
    page.add_child(_legend_element()(legend), name="planning_legend")
    if bounds:
        fmap.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    page.title = f"Peta laporan {stats.filters.describe()}"
    css, js = take_assets([fmap, *layers, kec_tooltip, kel_tooltip, grid_tooltip])
    for i, path in enumerate(css):
        page.header.add_child(folium.Element(css_tag(path, assets)), name=f"geoapp_css_{i}")
    for i, path in enumerate(js):
        page.header.add_child(folium.Element(js_tag(path, assets)), name=f"geoapp_js_{i}")
    rendered = page.render()
    check_no_links_out(rendered)
    return rendered


# --- the static map (matplotlib) -----------------------------------------------------------------
def static_map(stats: Stats, cells: list[GridCell], grid: GridSpec, *, metric: str = "per_km2") -> bytes:
    """A PNG for reports and slides: the choropleth beside the density grid, drawn in UTM 48S."""
    import matplotlib  # noqa: PLC0415 - loaded when a PNG is drawn; the Agg backend is chosen before pyplot is imported

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415 - loaded with the line above
    from matplotlib.patches import Patch  # noqa: PLC0415 - loaded with the line above

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
