"""Loading boundary files as GIS staff receive them: zipped UTM shapefiles with BIG field names,
GeoPackages, GeoJSON; reprojection, repair, atomic activation, and every bad input."""

import io
import json
import zipfile
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely
from django.core.management import CommandError, call_command
from shapely.geometry import MultiPolygon, Polygon

from kecamatan_boundaries import loaders
from kecamatan_boundaries.loaders import BoundaryFileError, LoadOptions, load_boundaries, read_boundaries
from kecamatan_boundaries.models import Generation, Kecamatan, Kelurahan
from tests.conftest import KECAMATAN_FILE, KELURAHAN_FILE

pytestmark = pytest.mark.django_db


def kecamatan_gdf() -> gpd.GeoDataFrame:
    return gpd.read_file(KECAMATAN_FILE)


def big_kecamatan_zip(tmp_path: Path, *, with_prj: bool = True, drop: str | None = None) -> Path:
    """The fixture kecamatan as BIG would ship them: UTM 48S, NAMOBJ/KDCPUM, zipped in folders."""
    gdf = kecamatan_gdf()
    big = gpd.GeoDataFrame(
        {"NAMOBJ": gdf["name"].str.upper(), "KDCPUM": gdf["code"], "WADMKK": "Kota Tangerang"},
        geometry=gdf.geometry,
        crs=gdf.crs,
    ).to_crs(32748)
    folder = tmp_path / "shp"
    folder.mkdir()
    big.to_file(folder / "ADMINISTRASIKECAMATAN_AR_25K.shp", engine="pyogrio")
    archive = tmp_path / "batas_kecamatan.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(folder.iterdir()):
            if f.suffix.lower() == ".prj" and not with_prj:
                continue
            if drop and f.suffix.lower() == drop:
                continue
            zf.write(f, f"BATAS WILAYAH/Kota Tangerang/{f.name}")
    return archive


def test_zipped_utm_shapefile_with_big_fields_is_reprojected_and_activated(tmp_path, city):
    old = Generation.objects.get(level="kecamatan", active=True)
    result = load_boundaries(big_kecamatan_zip(tmp_path), LoadOptions(level="kecamatan", commit=True))

    assert result.fields["name"] == "NAMOBJ" and result.fields["code"] == "KDCPUM"
    assert any("reprojected from EPSG:32748" in m for m in result.messages)
    assert Generation.objects.get(level="kecamatan", active=True) == result.generation
    assert Kecamatan.objects.current().count() == 13
    # The old generation stays, with its rows, for reports filed under it.
    old.refresh_from_db()
    assert not old.active and Kecamatan.objects.filter(generation=old).count() == 13

    # Reprojection round trip: same place and area as the original 4326 data, to centimetres.
    original = {f["properties"]["code"]: f for f in json.loads(KECAMATAN_FILE.read_text())["features"]}
    for k in Kecamatan.objects.current():
        src = shapely.geometry.shape(original[k.code]["geometry"])
        loaded = shapely.from_wkt(k.geom.wkt)
        assert k.name == original[k.code]["properties"]["name"].upper()
        assert abs(k.area_km2 - original[k.code]["properties"]["area_km2"]) < 0.001
        assert shapely.hausdorff_distance(src, loaded) < 1e-6  # degrees: well under 1 m


def test_command_dry_run_prints_table_and_writes_nothing(tmp_path, city, capsys):
    before = Generation.objects.count()
    out = io.StringIO()
    call_command("load_boundaries", str(big_kecamatan_zip(tmp_path)), "--level", "kecamatan", stdout=out)
    text = out.getvalue()
    assert "fields used: name=NAMOBJ, code=KDCPUM" in text
    assert "CIPONDOH" in text and "36.71.05" in text and "17.69" in text
    assert "dry run: nothing written" in text
    assert Generation.objects.count() == before


def test_geopackage_layer_with_gadm_fields(tmp_path, city):
    gdf = gpd.read_file(KELURAHAN_FILE)
    gadm = gpd.GeoDataFrame(
        {"NAME_4": gdf["name"], "GID_4": gdf["code"], "GID_3": gdf["kecamatan_code"]},
        geometry=gdf.geometry,
        crs=4326,
    )
    gpkg = tmp_path / "idn_adm4.gpkg"
    gadm.to_file(gpkg, layer="gadm41_IDN_4", engine="pyogrio")
    kgdf = kecamatan_gdf()[["name", "code", "geometry"]]
    kgdf.to_file(gpkg, layer="kecamatan", engine="pyogrio")

    with pytest.raises(BoundaryFileError, match="several layers"):
        read_boundaries(gpkg, LoadOptions(level="kelurahan"))

    result = load_boundaries(gpkg, LoadOptions(level="kelurahan", layer="gadm41_IDN_4", commit=True))
    assert result.fields == {"name": "NAME_4", "code": "GID_4", "parent": "GID_3"}
    assert Kelurahan.objects.current().count() == 104
    cipondoh = Kelurahan.objects.current().filter(kecamatan_code="36.71.05")
    assert cipondoh.count() == 10
    assert all(k.kecamatan.code == "36.71.05" and k.kecamatan.generation.active for k in cipondoh)


def test_geojson_kelurahan_without_parent_field_are_placed_spatially(tmp_path, city):
    data = json.loads(KELURAHAN_FILE.read_text())
    for f in data["features"]:
        f["properties"] = {"nama": f["properties"]["name"], "kode": f["properties"]["code_nodot"]}
    path = tmp_path / "kelurahan.geojson"
    path.write_text(json.dumps(data))
    result = load_boundaries(path, LoadOptions(level="kelurahan", commit=True))
    assert result.fields["parent"] is None
    k = Kelurahan.objects.current().get(code="36.71.01.1001")  # 10-digit code normalised
    assert k.name == "Sukarasa" and k.kecamatan.code == "36.71.01"


def test_invalid_geometry_is_repaired_and_reported(tmp_path, db):
    bowtie = Polygon([(106.60, -6.20), (106.62, -6.18), (106.62, -6.20), (106.60, -6.18), (106.60, -6.20)])
    square = Polygon([(106.63, -6.20), (106.64, -6.20), (106.64, -6.19), (106.63, -6.19)])
    gdf = gpd.GeoDataFrame(
        {"name": ["Bowtie", "Square"], "code": ["99.01", "99.02"]}, geometry=[bowtie, square], crs=4326
    )
    path = tmp_path / "bad.geojson"
    gdf.to_file(path, driver="GeoJSON", engine="pyogrio")

    result = load_boundaries(path, LoadOptions(level="kecamatan", commit=True))
    repaired = {r.code: r for r in result.repaired}
    assert list(repaired) == ["99.01"]
    assert "Self-intersection" in repaired["99.01"].repairs[0]
    assert any("repaired Bowtie" in m for m in result.messages)
    stored = Kecamatan.objects.current().get(code="99.01")
    assert stored.geom.valid and stored.geom.geom_type == "MultiPolygon" and len(stored.geom) == 2
    assert Kecamatan.objects.current().get(code="99.02").geom.geom_type == "MultiPolygon"


def test_failed_activation_leaves_previous_generation_current(tmp_path, city, monkeypatch):
    previous = Generation.objects.get(level="kecamatan", active=True)
    generations = Generation.objects.count()
    rows = Kecamatan.objects.count()

    def boom(generation):
        raise RuntimeError("disk full while activating")

    monkeypatch.setattr(loaders, "activate_generation", boom)
    with pytest.raises(RuntimeError):
        load_boundaries(big_kecamatan_zip(tmp_path), LoadOptions(level="kecamatan", commit=True))
    assert Generation.objects.get(level="kecamatan", active=True) == previous
    assert Generation.objects.count() == generations and Kecamatan.objects.count() == rows


def test_activating_an_older_generation_switches_back(tmp_path, city):
    from kecamatan_boundaries.loaders import activate_generation

    first = Generation.objects.get(level="kecamatan", active=True)
    load_boundaries(big_kecamatan_zip(tmp_path), LoadOptions(level="kecamatan", commit=True))
    assert Kecamatan.objects.current().get(code="36.71.05").name == "CIPONDOH"
    activate_generation(first)
    assert Kecamatan.objects.current().get(code="36.71.05").name == "Cipondoh"
    assert Generation.objects.filter(level="kecamatan", active=True).count() == 1


# --- bad input: a named problem, non-zero exit, nothing written ------------------------------


def write_zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def bad_inputs(tmp_path: Path) -> list[tuple[str, list[str], str]]:
    gdf = kecamatan_gdf()
    cases = []

    for sub in ("a", "b", "c"):
        (tmp_path / sub).mkdir()
    cases.append((str(big_kecamatan_zip(tmp_path / "a", drop=".dbf")), [], "no .dbf"))
    cases.append((str(big_kecamatan_zip(tmp_path / "b", drop=".shx")), [], "no .shx"))
    cases.append((str(write_zip(tmp_path / "empty.zip", {"readme.txt": b"nothing here"})), [], "holds no shapefile"))
    cases.append((str(write_zip(tmp_path / "evil.zip", {"../../etc/evil.shp": b"x"})), [], "points outside its folder"))
    big = tmp_path / "bomb.zip"
    with zipfile.ZipFile(big, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("bomb/a.shp", b"\0" * (3 * 1024 * 1024))
    cases.append((str(big), [], "past the cap"))
    empty = tmp_path / "empty.geojson"
    empty.write_bytes(b"")
    cases.append((str(empty), [], "is empty"))
    corrupt = tmp_path / "corrupt.gpkg"
    corrupt.write_bytes(b"SQLite format 3\0" + b"garbage" * 100)
    cases.append((str(corrupt), [], "cannot read"))
    points = tmp_path / "points.geojson"
    gpd.GeoDataFrame({"name": ["a"], "code": ["1"]}, geometry=[shapely.Point(106.6, -6.2)], crs=4326).to_file(
        points, driver="GeoJSON", engine="pyogrio"
    )
    cases.append((str(points), [], "Point geometries"))
    lines = tmp_path / "lines.geojson"
    gpd.GeoDataFrame(
        {"name": ["a"], "code": ["1"]}, geometry=[shapely.LineString([(106.6, -6.2), (106.7, -6.1)])], crs=4326
    ).to_file(lines, driver="GeoJSON", engine="pyogrio")
    cases.append((str(lines), [], "LineString geometries"))
    cases.append((str(big_kecamatan_zip(tmp_path / "c", with_prj=False)), [], "--srid"))
    cases.append((str(KECAMATAN_FILE), ["--name-field", "NAMA_KEC"], "name field 'NAMA_KEC' does not exist"))
    dup = tmp_path / "dup.geojson"
    d = gdf.copy()
    d.loc[1, "code"] = d.loc[0, "code"]
    d.to_file(dup, driver="GeoJSON", engine="pyogrio")
    cases.append((str(dup), [], "duplicate codes"))
    gpkg = tmp_path / "one.gpkg"
    gdf.to_file(gpkg, layer="kecamatan", engine="pyogrio")
    cases.append((str(gpkg), ["--layer", "kelurahan"], "layer 'kelurahan' does not exist"))
    cases.append((str(tmp_path / "missing.geojson"), [], "does not exist"))
    txt = tmp_path / "boundaries.csv"
    txt.write_text("a,b\n")
    cases.append((str(txt), [], "unsupported file type"))
    return cases


def test_every_bad_input_is_refused_by_the_command_with_a_named_problem(tmp_path, city, settings):
    settings.BOUNDARIES_MAX_UNZIPPED_BYTES = 2 * 1024 * 1024
    generations, kec, kel = Generation.objects.count(), Kecamatan.objects.count(), Kelurahan.objects.count()
    for path, extra, message in bad_inputs(tmp_path):
        with pytest.raises(CommandError) as err:
            call_command("load_boundaries", path, "--level", "kecamatan", "--commit", *extra, stdout=io.StringIO())
        assert message in str(err.value), (path, str(err.value))
    assert (Generation.objects.count(), Kecamatan.objects.count(), Kelurahan.objects.count()) == (generations, kec, kel)
    assert not (tmp_path.parent.parent / "etc" / "evil.shp").exists()


def test_zip_entry_lying_about_its_size_is_stopped_at_the_cap(tmp_path, settings, db):
    settings.BOUNDARIES_MAX_UNZIPPED_BYTES = 1024 * 1024
    path = write_zip(tmp_path / "liar.zip", {"x/a.shp": b"\0" * (4 * 1024 * 1024)})
    raw = bytearray(path.read_bytes())
    # Rewrite the declared uncompressed size (local header and central directory) to 10 bytes.
    for sig, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        i = raw.find(sig)
        raw[i + offset : i + offset + 4] = (10).to_bytes(4, "little")
    path.write_bytes(bytes(raw))
    with pytest.raises(BoundaryFileError, match="(past the cap|corrupt)"):
        read_boundaries(path, LoadOptions(level="kecamatan"))


def test_srid_option_reads_a_shapefile_without_prj(tmp_path, db):
    archive = big_kecamatan_zip(tmp_path, with_prj=False)
    result = read_boundaries(archive, LoadOptions(level="kecamatan", srid=32748))
    assert len(result.rows) == 13
    centroid = MultiPolygon(result.rows[0].geom).centroid
    assert 106.5 < centroid.x < 106.8 and -6.3 < centroid.y < -6.0


def test_pyogrio_can_read_every_layer_written_by_tests(tmp_path):
    """Guard for the fixtures above: GDAL here writes and lists GeoPackage layers."""
    gpkg = tmp_path / "t.gpkg"
    kecamatan_gdf().to_file(gpkg, layer="x", engine="pyogrio")
    assert [row[0] for row in pyogrio.list_layers(gpkg)] == ["x"]
