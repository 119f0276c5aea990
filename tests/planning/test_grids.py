"""The density grid binned in SQL: each cell holds exactly the reports whose points lie in its polygon."""

import pytest
import shapely
from pyproj import Transformer

from planning.filters import parse_filters
from planning.grids import BadGrid, GridSpec, density_grid, parse_grid

from .conftest import in_period, kelurahan_points

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("kind", "cell_m"), [("hex", 500.0), ("hex", 1200.0), ("square", 700.0)])
def test_cells_hold_the_points_inside_them(scenario, kind, cell_m):
    f = parse_filters({"from": "2024-03-01", "to": "2024-03-31"})
    cells = density_grid(f, GridSpec(kind, cell_m))
    points = {p["code"]: shapely.Point(p["lon"], p["lat"]) for p in kelurahan_points()}
    jakarta = shapely.Point(106.8456, -6.2088)
    reports = [points[s.kelurahan] if s.kelurahan else jakarta for s in scenario["specs"] if in_period(s)]

    tree = shapely.STRtree([c.geometry for c in cells])
    got = [0] * len(cells)
    for point in reports:
        hits = [i for i in tree.query(point) if cells[i].geometry.covers(point)]
        assert len(hits) == 1, "every report lies in exactly one returned cell"
        got[hits[0]] += 1
    assert got == [c.reports for c in cells]
    # cells do not overlap and have the promised size (area measured in UTM 48S)
    to_utm = Transformer.from_crs(4326, 32748, always_xy=True)
    metric = shapely.transform([c.geometry for c in cells[:3]], to_utm.transform, interleaved=False)
    for poly in metric:
        assert poly.area / 1e6 == pytest.approx(GridSpec(kind, cell_m).cell_area_km2, rel=0.001)


def test_grid_options_are_checked():
    assert parse_grid("square", "250") == GridSpec("square", 250.0)
    with pytest.raises(BadGrid):
        parse_grid("triangle", None)
    with pytest.raises(BadGrid):
        parse_grid("hex", "nan")
    with pytest.raises(BadGrid):
        parse_grid("hex", "10")
