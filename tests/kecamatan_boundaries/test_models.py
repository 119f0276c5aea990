"""The boundaries' questions on their managers, across generations, and a point's place."""

import pytest
from django.contrib.gis.geos import Point

from kecamatan_boundaries.loaders import load_boundaries
from kecamatan_boundaries.models import Kecamatan
from kecamatan_boundaries.places import PointOutsideCity, place_at
from kecamatan_boundaries.reading import LoadOptions

from .samples import kecamatan_gdf

pytestmark = pytest.mark.django_db


@pytest.fixture
def newer_without_cipondoh(tmp_path, city):
    """A newer generation of the kecamatan in capitals, without Cipondoh (36.71.05)."""
    gdf = kecamatan_gdf()
    gdf["name"] = gdf["name"].str.upper()
    path = tmp_path / "kecamatan.geojson"
    gdf[gdf["code"] != "36.71.05"].to_file(path, driver="GeoJSON", engine="pyogrio")
    load_boundaries(path, LoadOptions(level="kecamatan", commit=True))
    return city


def test_newest_with_codes_prefers_the_current_polygon_else_the_newest_older_one(newer_without_cipondoh):
    old = newer_without_cipondoh
    rows = {k.code: k for k in Kecamatan.objects.newest_with_codes(["36.71.05", "36.71.01", "99.99"])}
    assert set(rows) == {"36.71.05", "36.71.01"}
    assert rows["36.71.05"].pk == old["36.71.05"].pk and not rows["36.71.05"].generation.active
    assert rows["36.71.01"].generation.active and rows["36.71.01"].name == old["36.71.01"].name.upper()


def test_named_matches_a_code_or_a_name_in_any_case_current_first(newer_without_cipondoh):
    assert Kecamatan.objects.named("tangerang").first().generation.active
    assert Kecamatan.objects.named("36.71.01").first().generation.active
    assert Kecamatan.objects.named("CIPONDOH").first().code == "36.71.05"  # only an older generation has it
    assert not Kecamatan.objects.named("Jakarta Pusat").exists()


def test_point_inside_each_area_lies_in_it(city):
    for k in Kecamatan.objects.current().with_point_inside():
        assert Kecamatan.objects.at(k.point_inside).code == k.code


def test_place_at_answers_both_levels_or_outside_the_city(city):
    cipondoh = Kecamatan.objects.current().get(code="36.71.05")
    inside = cipondoh.geom.point_on_surface
    place = place_at(inside)
    assert place.kecamatan.code == "36.71.05" and place.kelurahan.kecamatan_code == "36.71.05"
    with pytest.raises(PointOutsideCity) as err:
        place_at(Point(106.8456, -6.2088, srid=4326))
    assert err.value.status_code == 404
    assert err.value.message == "The point (lat -6.2088, lon 106.8456) is outside Kota Tangerang."
