"""Export the planners' statistics for a period as a map or file.

python manage.py export_heatmap --from 2024-01-01 --to 2024-12-31 [--category banjir] [--opd bpbd]
    [--kecamatan 36.71.01] [--status resolved] [--channel app] --format html|png|geojson|gpkg|shp|csv|xlsx
    --out PATH [--level kecamatan|kelurahan|grid] [--grid hex|square] [--cell-m 500] [--metric per_km2]
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from planning.exports import FORMATS, LEVELS, STEPS, build_export, check_format
from planning.filters import PlanningError, parse_filters
from planning.grids import GRID_KINDS, parse_grid
from planning.heatmaps import METRIC_LABELS


class Command(BaseCommand):
    help = "Export report statistics per kecamatan (maps, GIS files, spreadsheets) for a period."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="date_from", required=True, help="first day, e.g. 2024-01-01 (WIB)")
        parser.add_argument("--to", dest="date_to", required=True, help="last day, inclusive, e.g. 2024-12-31")
        parser.add_argument("--category", action="append", default=[], help="category code (repeat or comma-separate)")
        parser.add_argument("--opd", action="append", default=[], help="OPD code, e.g. dishub")
        parser.add_argument("--kecamatan", action="append", default=[], help="kecamatan code or name")
        parser.add_argument("--status", action="append", default=[], help="report status")
        parser.add_argument("--channel", action="append", default=[], help="intake channel")
        parser.add_argument("--format", dest="fmt", required=True, help=" | ".join(FORMATS))
        parser.add_argument("--out", required=True, help="file to write (a directory gets the default file name)")
        parser.add_argument("--level", default="kecamatan", help=f"geojson/shp/csv layer: {' | '.join(LEVELS)}")
        parser.add_argument("--grid", default=None, help=f"density cells: {' | '.join(GRID_KINDS)}")
        parser.add_argument("--cell-m", dest="cell_m", default=None, help="density cell size in metres")
        parser.add_argument("--metric", default="per_km2", help=f"map colour: {' | '.join(METRIC_LABELS)}")
        parser.add_argument("--force", action="store_true", help="overwrite an existing file")

    def handle(self, *args, **opts) -> None:
        params = {
            "from": opts["date_from"],
            "to": opts["date_to"],
            "category": opts["category"],
            "opd": opts["opd"],
            "kecamatan": opts["kecamatan"],
            "status": opts["status"],
            "channel": opts["channel"],
        }
        try:
            fmt = check_format(opts["fmt"])
            f = parse_filters(params)
            grid = parse_grid(opts["grid"], opts["cell_m"])
        except PlanningError as exc:
            raise CommandError(exc.message) from exc

        out = Path(opts["out"])
        if not out.parent.exists():
            raise CommandError(f"The folder {out.parent} does not exist.")
        with tqdm(total=STEPS, desc=f"export {fmt}", unit="step", disable=opts["verbosity"] == 0) as bar:

            def progress(step: str) -> None:
                bar.set_postfix_str(step)
                bar.update(1)

            try:
                result = build_export(fmt, f, grid, level=opts["level"], metric=opts["metric"], progress=progress)
            except PlanningError as exc:
                raise CommandError(exc.message) from exc
        if out.is_dir():
            out = out / result.filename
        if out.exists() and not opts["force"]:
            raise CommandError(f"{out} exists; pass --force to overwrite it.")
        out.write_bytes(result.content)
        if opts["verbosity"]:
            self.stdout.write(f"{out} ({len(result.content):,} bytes): {f.describe()}")
