"""Enrichment in process (areas.py): kecamatan by the boundary index's rule, the grid over them."""

import numpy as np
import pytest
import shapely

pytestmark = pytest.mark.django_db


def test_kecamatan_codes_follow_the_boundary_index_rule(city):
    from kecamatan_boundaries.lookup import kecamatan_index
    from tracking.areas import kecamatan_codes

    index = kecamatan_index.get()
    minx, miny, maxx, maxy = shapely.total_bounds(index.geoms)
    rng = np.random.default_rng(4)
    lons = rng.uniform(minx - 0.01, maxx + 0.01, 3000)
    lats = rng.uniform(miny - 0.01, maxy + 0.01, 3000)
    # vertices (on shared borders) and points just beside them (gaps, slivers)
    verts = np.concatenate([shapely.get_coordinates(g)[::7] for g in index.geoms])
    lons = np.concatenate([lons, verts[:, 0], verts[:, 0] + 0.0003])
    lats = np.concatenate([lats, verts[:, 1], verts[:, 1] - 0.0003])
    # points on the in-process grid's cell edges and corners (tracking.areas._Grid), all over the city
    cell = 0.001
    gx, gy = np.meshgrid(np.arange(minx, maxx, cell * 7), np.arange(miny, maxy, cell * 5))
    lons = np.concatenate([lons, gx.ravel(), gx.ravel() + cell / 2, (gx + cell * 3).ravel()])
    lats = np.concatenate([lats, gy.ravel(), gy.ravel(), (gy + cell / 2).ravel()])
    want = [a.code if a else None for a in index.locate_many(lons, lats)]
    assert kecamatan_codes.locate(lons, lats) == want
    assert None in want and len(set(want)) == 14  # outside the city too


def test_the_grid_over_a_province_stays_small_and_answers_by_the_same_rule():
    """Boundaries spanning degrees (a province loaded instead of a city) get larger cells, never
    more than MAX_CELLS; points answered by the grid are in the polygon it names, and in no other."""
    from shapely.geometry import Polygon as ShapelyPolygon

    from tracking.areas import _Grid

    west = ShapelyPolygon([(104, -8), (106.5, -8), (106.2, -5), (104, -5)])
    east = ShapelyPolygon([(106.5, -8), (109, -8), (109, -5), (106.2, -5)])  # shares an edge with west
    geoms = np.array([west, east], dtype=object)
    grid = _Grid(geoms)
    assert grid.nx * grid.ny <= _Grid.MAX_CELLS * 1.05 and grid.cell > _Grid.CELL_DEG
    rng = np.random.default_rng(8)
    lons, lats = rng.uniform(103.5, 109.5, 20_000), rng.uniform(-8.5, -4.5, 20_000)
    answered, candidates = grid.lookup(lons, lats)
    inside = shapely.intersects_xy(west, lons, lats) | shapely.intersects_xy(east, lons, lats)
    assert (answered[inside] >= 0).mean() > 0.95 and (answered[~inside] < 0).all()
    for i, geom in enumerate(geoms):
        mine = answered == i
        assert shapely.intersects_xy(geom, lons[mine], lats[mine]).all()
        assert not shapely.intersects_xy(geoms[1 - i], lons[mine], lats[mine]).any()
    assert candidates == [0, 1]  # points near the shared edge: both polygons are asked
