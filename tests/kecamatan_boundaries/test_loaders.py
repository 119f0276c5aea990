"""Loading boundary files as a new generation: zipped UTM shapefiles with BIG field names,
GeoPackages, GeoJSON; kelurahan linked to their kecamatan; atomic activation and switching back."""

import io
import json

import geopandas as gpd
import pytest
import shapely
from django.core.management import call_command

from kecamatan_boundaries import loaders
from kecamatan_boundaries.files import BoundaryFileError
from kecamatan_boundaries.loaders import activate_generation, load_boundaries
from kecamatan_boundaries.models import Generation, Kecamatan, Kelurahan
from kecamatan_boundaries.reading import LoadOptions, read_boundaries
from tests.conftest import KECAMATAN_FILE, KELURAHAN_FILE

from .samples import big_kecamatan_zip, kecamatan_gdf

pytestmark = pytest.mark.django_db


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
    first = Generation.objects.get(level="kecamatan", active=True)
    load_boundaries(big_kecamatan_zip(tmp_path), LoadOptions(level="kecamatan", commit=True))
    assert Kecamatan.objects.current().get(code="36.71.05").name == "CIPONDOH"
    activate_generation(first)
    assert Kecamatan.objects.current().get(code="36.71.05").name == "Cipondoh"
    assert Generation.objects.filter(level="kecamatan", active=True).count() == 1
