"""Point lookups on the real Kota Tangerang boundaries, in PostGIS and in process.

Known points, slivers and overlaps are derived here from the fixture files with shapely (in UTM
48S metres), independently of the code under test.
"""

import json

import numpy as np
import pytest
import shapely
from django.contrib.gis.geos import Point
from pyproj import Transformer
from shapely.ops import unary_union

from kecamatan_boundaries.lookup import BoundaryIndex
from kecamatan_boundaries.models import Kecamatan, Kelurahan
from tests.conftest import KECAMATAN_FILE, KELURAHAN_FILE

pytestmark = pytest.mark.django_db

TO_UTM = Transformer.from_crs(4326, 32748, always_xy=True).transform
TO_WGS = Transformer.from_crs(32748, 4326, always_xy=True).transform


def transform(func, geom):
    return shapely.transform(geom, lambda c: np.column_stack(func(c[:, 0], c[:, 1])))


def features(path):
    return json.loads(path.read_text())["features"]


def utm_shapes():
    return {
        f["properties"]["code"]: transform(TO_UTM, shapely.geometry.shape(f["geometry"]))
        for f in features(KECAMATAN_FILE)
    }


def test_known_point_in_every_kecamatan_and_kelurahan(city):
    index = BoundaryIndex.for_model(Kecamatan)
    for f in features(KECAMATAN_FILE):
        p = f["properties"]
        point = Point(p["src_centroid_lng"], p["src_centroid_lat"], srid=4326)
        assert Kecamatan.objects.at(point).code == p["code"], p["name"]
        assert index.locate(point.x, point.y).code == p["code"]
    for f in features(KELURAHAN_FILE):
        p = f["properties"]
        # The source centroid can sit in a neighbour's overlap; the representative point cannot.
        rp = shapely.geometry.shape(f["geometry"]).representative_point()
        found = Kelurahan.objects.at(Point(rp.x, rp.y, srid=4326))
        assert found.code == p["code"] and found.kecamatan.code == p["kecamatan_code"], p["name"]


def test_point_in_a_sliver_gets_the_nearest_kecamatan(city):
    shapes = utm_shapes()
    union = unary_union(list(shapes.values()))
    gaps = sorted(
        (shapely.Polygon(ring) for poly in getattr(union, "geoms", [union]) for ring in poly.interiors),
        key=lambda g: -g.area,
    )
    assert gaps, "the real data has sliver gaps between kecamatan"
    gap = gaps[0]
    inside_gap = gap.representative_point()
    assert not any(s.covers(inside_gap) for s in shapes.values())
    distances = {code: s.distance(inside_gap) for code, s in shapes.items()}
    nearest = min(distances, key=lambda c: (distances[c], c))
    assert distances[nearest] < 50
    lon, lat = TO_WGS(inside_gap.x, inside_gap.y)

    assert Kecamatan.objects.containing(Point(lon, lat, srid=4326)).count() == 0
    assert Kecamatan.objects.at(Point(lon, lat, srid=4326)).code == nearest
    assert BoundaryIndex.for_model(Kecamatan).locate(lon, lat).code == nearest


def test_point_in_an_overlap_gets_one_deterministic_answer(city):
    shapes = utm_shapes()
    overlaps = []
    codes = sorted(shapes)
    for i, a in enumerate(codes):
        for b in codes[i + 1 :]:
            inter = shapes[a].intersection(shapes[b])
            if inter.area > 0:
                overlaps.append((inter.area, a, b, inter))
    area, a, b, inter = max(overlaps)
    point = inter.representative_point()
    lon, lat = TO_WGS(point.x, point.y)
    p = Point(lon, lat, srid=4326)

    assert sorted(k.code for k in Kecamatan.objects.containing(p)) == [a, b]
    answers = {Kecamatan.objects.at(p).code for _ in range(5)}
    assert answers == {min(a, b)}
    assert BoundaryIndex.for_model(Kecamatan).locate(lon, lat).code == min(a, b)


def test_points_outside_the_city_get_none(city):
    shapes = utm_shapes()
    union = unary_union(list(shapes.values()))
    outside = [
        (106.8456, -6.2088),  # Monas, Jakarta
        (106.4500, -6.2000),  # Kabupaten Tangerang, west
        (106.6500, -5.9000),  # Java Sea
    ]
    # Just beyond the 50 m gap tolerance: points 80 m outside the city's outer edge.
    ring = union.buffer(80).exterior
    for fraction in (0.0, 0.25, 0.5, 0.75):
        candidate = ring.interpolate(fraction, normalized=True)
        assert 75 < union.distance(candidate) < 85
        outside.append(TO_WGS(candidate.x, candidate.y))
    index = BoundaryIndex.for_model(Kecamatan)
    for lon, lat in outside:
        assert Kecamatan.objects.at(Point(lon, lat, srid=4326)) is None, (lon, lat)
        assert index.locate(lon, lat) is None


def test_in_process_index_agrees_with_postgis_on_random_points(city):
    index = BoundaryIndex.for_model(Kecamatan)
    rng = np.random.default_rng(7)
    lons = rng.uniform(106.55, 106.75, 300)
    lats = rng.uniform(-6.26, -6.10, 300)
    many = index.locate_many(lons, lats)
    for lon, lat, area in zip(lons, lats, many, strict=True):
        db = Kecamatan.objects.at(Point(float(lon), float(lat), srid=4326))
        assert (db.code if db else None) == (area.code if area else None), (lon, lat)


def test_point_just_outside_the_city_edge_within_tolerance_gets_the_nearest(city):
    shapes = utm_shapes()
    union = unary_union(list(shapes.values()))
    ring = union.buffer(30).exterior
    index = BoundaryIndex.for_model(Kecamatan)
    for fraction in (0.1, 0.4, 0.7):
        candidate = ring.interpolate(fraction, normalized=True)
        distances = {code: s.distance(candidate) for code, s in shapes.items()}
        nearest = min(distances, key=lambda c: (distances[c], c))
        lon, lat = TO_WGS(candidate.x, candidate.y)
        assert Kecamatan.objects.at(Point(lon, lat, srid=4326)).code == nearest
        assert index.locate(lon, lat).code == nearest
