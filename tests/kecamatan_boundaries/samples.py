"""Boundary files as GIS staff receive them, built from the real Kota Tangerang fixtures."""

import io
import zipfile
from pathlib import Path

import geopandas as gpd
import pytest
from django.core.management import CommandError, call_command

from kecamatan_boundaries.models import Generation, Kecamatan, Kelurahan
from tests.conftest import KECAMATAN_FILE


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


def write_zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def assert_refused_by_the_command(cases: list[tuple[str, list[str], str]]) -> None:
    """Each (path, extra options, message) fails `load_boundaries --commit` naming the problem, and
    nothing at all is written."""
    before = Generation.objects.count(), Kecamatan.objects.count(), Kelurahan.objects.count()
    for path, extra, message in cases:
        with pytest.raises(CommandError) as err:
            call_command("load_boundaries", path, "--level", "kecamatan", "--commit", *extra, stdout=io.StringIO())
        assert message in str(err.value), (path, str(err.value))
    assert (Generation.objects.count(), Kecamatan.objects.count(), Kelurahan.objects.count()) == before
