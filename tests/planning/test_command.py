"""`manage.py export_heatmap`: the files it writes, and the reasons it gives for bad input."""

import io

import geopandas as gpd
import pytest
from django.core.management import CommandError, call_command
from openpyxl import load_workbook

from .conftest import expected

pytestmark = pytest.mark.django_db


def test_writes_each_file_with_the_counts(scenario, tmp_path, capsys):
    want = expected(
        [s for s in scenario["specs"] if s.category == "banjir"], lambda s: s.kecamatan, targets=scenario["targets"]
    )
    want = {c: v["reports"] for c, v in want.items() if c and v["reports"]}
    out = tmp_path / "banjir.gpkg"
    call_command(
        "export_heatmap",
        "--from", "2024-03-01", "--to", "2024-03-31", "--category", "banjir",
        "--format", "gpkg", "--out", str(out),
    )  # fmt: skip
    frame = gpd.read_file(out, layer="kecamatan")
    assert {c: int(n) for c, n in zip(frame["code"], frame["reports"], strict=True) if n} == want
    captured = capsys.readouterr()
    assert "3/3" in captured.err  # the tqdm progress bar ran to the end
    assert str(out) in captured.out

    call_command(
        "export_heatmap",
        "--from", "2024-03-01", "--to", "2024-03-31", "--opd", "bpbd", "--format", "xlsx", "--out", str(tmp_path),
        stdout=io.StringIO(), stderr=io.StringIO(),
    )  # fmt: skip
    written = list(tmp_path.glob("*.xlsx"))
    assert [p.name for p in written] == ["laporan_2024-03-01_2024-03-31_bpbd.xlsx"]
    wb = load_workbook(written[0])
    header = [c.value for c in wb["opd"][1]]
    rows = [dict(zip(header, [c.value for c in r], strict=True)) for r in wb["opd"].iter_rows(min_row=2)]
    assert [r["code"] for r in rows] == ["bpbd"]
    assert rows[0]["reports"] == sum(
        1 for s in scenario["specs"] if s.opd == "bpbd" and s.created.year == 2024 and s.created.month == 3
    )


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--format", "kml"], "Unknown format 'kml'"),
        (["--format", "csv", "--from", "2024-04-01"], "ends (2024-03-31) before it starts (2024-04-01)"),
        (["--format", "csv", "--category", "tsunami"], "Unknown category 'tsunami'"),
        (["--format", "csv", "--opd", "dinas-x"], "Unknown opd 'dinas-x'"),
        (["--format", "csv", "--level", "provinsi"], "Unknown level 'provinsi'"),
        (["--format", "png", "--grid", "triangle"], "Unknown grid 'triangle'"),
        (["--format", "png", "--cell-m", "1"], "between 50 and 20000"),
    ],
)
def test_bad_input_is_a_command_error_with_the_reason(refdata, tmp_path, args, words):
    base = {"--from": "2024-03-01", "--to": "2024-03-31", "--out": str(tmp_path / "x.out")}
    for i in range(0, len(args), 2):
        base[args[i]] = args[i + 1]
    argv = [v for kv in base.items() for v in kv]
    with pytest.raises(CommandError) as exc:
        call_command("export_heatmap", *argv, stdout=io.StringIO(), stderr=io.StringIO())
    assert words in str(exc.value)
    assert not (tmp_path / "x.out").exists()


def test_does_not_overwrite_without_force(refdata, tmp_path):
    out = tmp_path / "map.csv"
    out.write_text("keep me")
    argv = ["--from", "2024-03-01", "--to", "2024-03-31", "--format", "csv", "--out", str(out)]
    with pytest.raises(CommandError, match="--force"):
        call_command("export_heatmap", *argv, stdout=io.StringIO(), stderr=io.StringIO())
    assert out.read_text() == "keep me"
    call_command("export_heatmap", *argv, "--force", stdout=io.StringIO(), stderr=io.StringIO())
    assert out.read_text().startswith("code,name,area_km2")
