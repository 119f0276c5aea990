"""Load a boundary file for GIS staff: a dry run that prints a table unless --commit is given."""

from django.core.management.base import BaseCommand, CommandError, OutputWrapper
from tqdm import tqdm

from kecamatan_boundaries.files import BoundaryFileError
from kecamatan_boundaries.loaders import load_boundaries
from kecamatan_boundaries.reading import LoadOptions, result_table


class _ProgressStream:
    """The command's stderr as tqdm writes to it: no newline added, no error colour."""

    def __init__(self, wrapper: OutputWrapper):
        self.wrapper = wrapper

    def write(self, text: str) -> None:
        self.wrapper.write(text, style_func=lambda s: s, ending="")

    def flush(self) -> None:
        self.wrapper.flush()


class Command(BaseCommand):
    help = (
        "Load kecamatan or kelurahan boundaries from a .shp, a zipped shapefile, a .gpkg or a .geojson. "
        "Without --commit nothing is written; with it, a new generation is written and activated."
    )

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--level", required=True, choices=["kecamatan", "kelurahan"])
        parser.add_argument("--name-field")
        parser.add_argument("--code-field")
        parser.add_argument("--parent-field", help="kelurahan only: the kecamatan code or name field")
        parser.add_argument("--layer", help="GeoPackage layer, or shapefile name inside a zip")
        parser.add_argument("--srid", type=int, help="the file's EPSG code when it carries no CRS")
        parser.add_argument("--encoding", help="attribute encoding, e.g. latin1")
        parser.add_argument("--description", default="")
        parser.add_argument("--commit", action="store_true", help="write and activate (default: dry run)")

    def handle(self, *args, **opts):
        options = LoadOptions(
            level=opts["level"],
            name_field=opts["name_field"],
            code_field=opts["code_field"],
            parent_field=opts["parent_field"],
            layer=opts["layer"],
            srid=opts["srid"],
            encoding=opts["encoding"],
            commit=opts["commit"],
            description=opts["description"],
            loaded_by="load_boundaries command",
        )
        bar = None

        def progress(done: int, total: int) -> None:
            nonlocal bar
            if bar is None:
                bar = tqdm(total=total, desc="checking features", unit="feature", file=_ProgressStream(self.stderr))
            bar.update(done - bar.n)

        try:
            result = load_boundaries(opts["path"], options, progress=progress)
        except BoundaryFileError as exc:
            raise CommandError(exc.message) from exc
        finally:
            if bar is not None:
                bar.close()

        for message in result.messages:
            self.stdout.write(message)
        header = ("name", "code", "area km²", "vertices", "repairs")
        rows = [header, *result_table(result)]
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        for row in rows:
            self.stdout.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
        total_area = sum(r.area_km2 for r in result.rows)
        self.stdout.write(
            f"{len(result.rows)} {result.level} features, {total_area:.2f} km², {len(result.repaired)} repaired"
        )
        if result.generation is None:
            self.stdout.write(self.style.WARNING("dry run: nothing written; add --commit to write and activate"))
        else:
            self.stdout.write(self.style.SUCCESS(f"written and activated as generation {result.generation.pk}"))
