"""Opening boundary files safely: the accepted types, sidecars, and hostile or broken zips."""

import pyogrio
import pytest

from kecamatan_boundaries.files import BoundaryFileError
from kecamatan_boundaries.reading import LoadOptions, read_boundaries

from .samples import assert_refused_by_the_command, big_kecamatan_zip, kecamatan_gdf, write_zip

pytestmark = pytest.mark.django_db


def bad_files(tmp_path) -> list[tuple[str, list[str], str]]:
    cases = []
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
    cases.append((str(big_kecamatan_zip(tmp_path / "a", drop=".dbf")), [], "no .dbf"))
    cases.append((str(big_kecamatan_zip(tmp_path / "b", drop=".shx")), [], "no .shx"))
    cases.append((str(write_zip(tmp_path / "empty.zip", {"readme.txt": b"nothing here"})), [], "holds no shapefile"))
    cases.append((str(write_zip(tmp_path / "evil.zip", {"../../etc/evil.shp": b"x"})), [], "points outside its folder"))
    write_zip(tmp_path / "bomb.zip", {"bomb/a.shp": b"\0" * (3 * 1024 * 1024)})
    cases.append((str(tmp_path / "bomb.zip"), [], "past the cap"))
    empty = tmp_path / "empty.geojson"
    empty.write_bytes(b"")
    cases.append((str(empty), [], "is empty"))
    corrupt = tmp_path / "corrupt.gpkg"
    corrupt.write_bytes(b"SQLite format 3\0" + b"garbage" * 100)
    cases.append((str(corrupt), [], "cannot read"))
    gpkg = tmp_path / "one.gpkg"
    kecamatan_gdf().to_file(gpkg, layer="kecamatan", engine="pyogrio")
    cases.append((str(gpkg), ["--layer", "kelurahan"], "layer 'kelurahan' does not exist"))
    cases.append((str(tmp_path / "missing.geojson"), [], "does not exist"))
    txt = tmp_path / "boundaries.csv"
    txt.write_text("a,b\n")
    cases.append((str(txt), [], "unsupported file type"))
    return cases


def test_every_bad_file_is_refused_by_the_command_with_a_named_problem(tmp_path, city, settings):
    settings.BOUNDARIES_MAX_UNZIPPED_BYTES = 2 * 1024 * 1024
    assert_refused_by_the_command(bad_files(tmp_path))
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


def test_pyogrio_can_read_every_layer_written_by_tests(tmp_path):
    """Guard for the fixtures above: GDAL here writes and lists GeoPackage layers."""
    gpkg = tmp_path / "t.gpkg"
    kecamatan_gdf().to_file(gpkg, layer="x", engine="pyogrio")
    assert [row[0] for row in pyogrio.list_layers(gpkg)] == ["x"]
