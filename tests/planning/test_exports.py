"""Every format opens in the tools planners use and carries exactly the numbers of the reports."""

import csv
import io
import json
import re
import sqlite3
import zipfile
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
from django.contrib.staticfiles import finders
from openpyxl import load_workbook
from PIL import Image

from planning.exports import FORMATS, UnknownFormat, UnknownLevel, build_export
from planning.filters import parse_filters
from planning.grids import GridSpec
from planning.heatmaps import CHOROPLETH_NAME, HEATMAP_NAME

from .conftest import PERIOD, SECRET_EMAIL, SECRET_HANDLE, SECRET_NAME, SECRET_PHONE, expected, in_period

pytestmark = pytest.mark.django_db
GRID = GridSpec("hex", 500.0)
SECRETS = (SECRET_PHONE, SECRET_EMAIL, SECRET_NAME, SECRET_HANDLE, "laporan uji")


def period_filter(**extra):
    return parse_filters({"from": PERIOD[0].isoformat(), "to": PERIOD[1].isoformat(), **extra})


def want_kecamatan(scenario) -> dict[str, int]:
    want = expected(scenario["specs"], lambda s: s.kecamatan, targets=scenario["targets"])
    return {code: v["reports"] for code, v in want.items() if code and v["reports"]}


def counts(frame, code="code", reports="reports") -> dict[str, int]:
    return {str(c): int(n) for c, n in zip(frame[code], frame[reports], strict=True) if int(n)}


def all_text(content: bytes) -> str:
    """Every byte of a file, and of each member when it is a zip (xlsx, shapefile)."""
    parts = [content]
    if content[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(content)) as zf:
            parts += [zf.read(n) for n in zf.namelist()]
    return b"\n".join(parts).decode("utf-8", errors="replace")


def test_geojson_holds_the_counts(scenario, tmp_path):
    out = build_export("geojson", period_filter(), GRID)
    assert out.filename.endswith(".geojson") and out.content_type == FORMATS["geojson"][0]
    path = tmp_path / out.filename
    path.write_bytes(out.content)
    frame = gpd.read_file(path)
    assert len(frame) == 13 and frame.crs.to_epsg() == 4326
    assert counts(frame) == want_kecamatan(scenario)
    assert json.loads(out.content)["metadata"]["city"]["unplaced"] == 1

    kel = gpd.read_file(io.BytesIO(build_export("geojson", period_filter(), GRID, level="kelurahan").content))
    want = expected(scenario["specs"], lambda s: s.kelurahan, targets=scenario["targets"])
    assert len(kel) == 104
    assert counts(kel) == {c: v["reports"] for c, v in want.items() if c and v["reports"]}


def test_geopackage_has_every_layer(scenario, tmp_path):
    out = build_export("gpkg", period_filter(), GRID)
    path = tmp_path / out.filename
    path.write_bytes(out.content)
    layers = {name for name, _ in pyogrio.list_layers(path)}
    assert {"kecamatan", "kelurahan", "density_grid", "category", "opd", "hour_of_day", "day_of_week"} <= layers
    kec = gpd.read_file(path, layer="kecamatan")
    assert counts(kec) == want_kecamatan(scenario)
    assert kec.crs.to_epsg() == 4326
    grid = gpd.read_file(path, layer="density_grid")
    in_period_total = sum(1 for s in scenario["specs"] if in_period(s))
    assert grid["reports"].sum() == in_period_total  # every report of the period lies in one cell
    cats = pyogrio.read_dataframe(path, layer="category")
    want = expected(scenario["specs"], lambda s: s.category, targets=scenario["targets"])
    assert counts(cats) == {c: v["reports"] for c, v in want.items() if v["reports"]}


def test_zipped_shapefile_has_prj_and_short_fields(scenario, tmp_path):
    out = build_export("shp", period_filter(), GRID)
    path = tmp_path / out.filename
    path.write_bytes(out.content)
    names = zipfile.ZipFile(path).namelist()
    for ext in ("shp", "shx", "dbf", "prj", "cpg"):
        assert f"kecamatan.{ext}" in names
    assert "fields.txt" in names
    frame = gpd.read_file(f"zip://{path}!kecamatan.shp")
    assert frame.crs.to_epsg() == 4326
    assert all(len(c) <= 10 for c in frame.columns)
    assert counts(frame) == want_kecamatan(scenario)
    assert "disp_med" in frame.columns and "res_over" in frame.columns


def test_csv_and_xlsx_hold_the_same_numbers(scenario):
    out = build_export("csv", period_filter(), GRID)
    rows = list(csv.DictReader(io.StringIO(out.content.decode("utf-8"))))
    assert len(rows) == 13
    assert {r["code"]: int(r["reports"]) for r in rows if int(r["reports"])} == want_kecamatan(scenario)

    out = build_export("xlsx", period_filter(), GRID)
    wb = load_workbook(io.BytesIO(out.content), read_only=True)
    assert {"about", "kecamatan", "kelurahan", "category", "opd", "hour_of_day", "day_of_week", "density_grid"} <= set(
        wb.sheetnames
    )

    def sheet(name):
        values = list(wb[name].iter_rows(values_only=True))
        return [dict(zip(values[0], r, strict=True)) for r in values[1:]]

    kec = sheet("kecamatan")
    assert {r["code"]: r["reports"] for r in kec if r["reports"]} == want_kecamatan(scenario)
    csv_by_code = {r["code"]: r for r in rows}
    for r in kec:  # the same numbers in both files
        for column, value in r.items():
            if column in ("code", "name"):
                continue
            in_csv = csv_by_code[r["code"]][column]
            assert (None if in_csv == "" else float(in_csv)) == (None if value is None else float(value)), column
    want = expected(scenario["specs"], lambda s: s.created.hour, targets=scenario["targets"])
    assert {r["hour"]: r["reports"] for r in sheet("hour_of_day") if r["reports"]} == {
        h: v["reports"] for h, v in want.items() if v["reports"]
    }
    want = expected(scenario["specs"], lambda s: s.opd, targets=scenario["targets"])
    assert {r["code"]: r["reports"] for r in sheet("opd") if r["reports"]} == {
        o: v["reports"] for o, v in want.items() if v["reports"]
    }


def test_html_map_has_choropleth_and_heatmap_and_no_cdn(scenario):
    out = build_export("html", period_filter(), GRID)
    html = out.content.decode("utf-8")
    assert CHOROPLETH_NAME in html and HEATMAP_NAME in html
    assert "L.heatLayer(" in html and "L.geoJson(" in html and "L.control.layers(" in html
    assert "planning-legend" in html and "Laporan per km²" in html
    # tooltips carry the numbers, e.g. the busiest kecamatan's count
    busiest = max(want_kecamatan(scenario).items(), key=lambda kv: kv[1])
    assert f'"code": "{busiest[0]}"' in html and f'"reports": "{busiest[1]}"' in html
    # Leaflet and leaflet.heat are inlined as they are (their code only holds links to their home pages)
    for vendored in ("vendor/leaflet/leaflet.js", "vendor/leaflet.heat/leaflet-heat.js"):
        code = Path(finders.find(vendored)).read_text()
        assert code in html
        html = html.replace(code, "")
    assert_no_cdn(html)
    assert not re.findall(r"<(?:script|link)[^>]+(?:src|href)=", html), "a downloaded map has everything inlined"


CDN_HOSTS = ("jsdelivr", "cdnjs", "unpkg", "code.jquery", "bootstrapcdn", "googleapis", "cloudflare", "fontawesome")


def assert_no_cdn(html: str) -> None:
    """Nothing is loaded from another host: no CDN names, no absolute src/href/url() anywhere."""
    low = html.lower()
    for host in CDN_HOSTS:
        assert host not in low, host
    assert not re.findall(r"(?:src|href)\s*=\s*[\"']?(?:https?:)?//", low)
    assert not re.findall(r"url\(\s*[\"']?(?:https?:)?//", low)
    assert not re.findall(r"@import", low)


def test_png_opens(scenario):
    out = build_export("png", period_filter(), GRID)
    image = Image.open(io.BytesIO(out.content))
    assert image.format == "PNG" and image.width > 1000 and image.height > 500


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_no_export_holds_a_reporters_contact(scenario, fmt, tmp_path):
    for level in ("kecamatan", "kelurahan", "grid") if fmt in ("geojson", "shp", "csv") else ("kecamatan",):
        out = build_export(fmt, period_filter(), GRID, level=level)
        text = all_text(out.content)
        if fmt == "gpkg":
            path = tmp_path / "x.gpkg"
            path.write_bytes(out.content)
            with sqlite3.connect(path) as db:
                tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
                text += "".join(str(db.execute(f'SELECT * FROM "{t}"').fetchall()) for t in tables)
        for secret in SECRETS:
            assert secret not in text, (fmt, level, secret)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_empty_period_gives_valid_files_full_of_zeros(refdata, fmt, tmp_path):
    f = parse_filters({"from": "2020-01-01", "to": "2020-01-31"})
    out = build_export(fmt, f, GRID)
    path = tmp_path / out.filename
    path.write_bytes(out.content)
    if fmt in ("geojson", "gpkg"):
        frame = gpd.read_file(path, layer="kecamatan") if fmt == "gpkg" else gpd.read_file(path)
        assert len(frame) == 13 and frame["reports"].sum() == 0
    elif fmt == "shp":
        frame = gpd.read_file(f"zip://{path}!kecamatan.shp")
        assert len(frame) == 13 and frame["reports"].sum() == 0
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(out.content.decode())))
        assert len(rows) == 13 and all(r["reports"] == "0" for r in rows)
    elif fmt == "xlsx":
        wb = load_workbook(path)
        assert [r[0].value for r in wb["kecamatan"].iter_rows(min_row=2)] and all(
            r for r in wb["kecamatan"].iter_rows(min_row=2)
        )
        header = [c.value for c in wb["kecamatan"][1]]
        col = header.index("reports")
        assert all(row[col].value == 0 for row in wb["kecamatan"].iter_rows(min_row=2))
        assert wb["density_grid"].max_row == 1  # header only
    elif fmt == "html":
        html = out.content.decode()
        assert CHOROPLETH_NAME in html and HEATMAP_NAME in html
    else:
        assert Image.open(path).format == "PNG"


def test_unknown_format_and_level(refdata):
    with pytest.raises(UnknownFormat) as exc:
        build_export("kml", period_filter(), GRID)
    assert "geojson" in exc.value.message
    with pytest.raises(UnknownLevel):
        build_export("csv", period_filter(), GRID, level="provinsi")
