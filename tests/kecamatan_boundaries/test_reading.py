"""Reading boundary files: coordinate systems, field names, codes, repairs, and bad contents."""

import geopandas as gpd
import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon

from kecamatan_boundaries.loaders import load_boundaries
from kecamatan_boundaries.models import Kecamatan
from kecamatan_boundaries.reading import LoadOptions, read_boundaries
from tests.conftest import KECAMATAN_FILE

from .samples import assert_refused_by_the_command, big_kecamatan_zip, kecamatan_gdf

pytestmark = pytest.mark.django_db


def bad_contents(tmp_path) -> list[tuple[str, list[str], str]]:
    cases = []
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
    (tmp_path / "c").mkdir()
    cases.append((str(big_kecamatan_zip(tmp_path / "c", with_prj=False)), [], "--srid"))
    cases.append((str(KECAMATAN_FILE), ["--name-field", "NAMA_KEC"], "name field 'NAMA_KEC' does not exist"))
    dup = tmp_path / "dup.geojson"
    d = kecamatan_gdf()
    d.loc[1, "code"] = d.loc[0, "code"]
    d.to_file(dup, driver="GeoJSON", engine="pyogrio")
    cases.append((str(dup), [], "duplicate codes"))
    return cases


def test_every_bad_content_is_refused_by_the_command_with_a_named_problem(tmp_path, city):
    assert_refused_by_the_command(bad_contents(tmp_path))


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


def test_srid_option_reads_a_shapefile_without_prj(tmp_path, db):
    archive = big_kecamatan_zip(tmp_path, with_prj=False)
    result = read_boundaries(archive, LoadOptions(level="kecamatan", srid=32748))
    assert len(result.rows) == 13
    centroid = MultiPolygon(result.rows[0].geom).centroid
    assert 106.5 < centroid.x < 106.8 and -6.3 < centroid.y < -6.0
