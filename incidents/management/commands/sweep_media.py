"""`python manage.py sweep_media`: remove stored photos and videos that no report refers to."""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from incidents.media import sweep_orphans


class Command(BaseCommand):
    help = (
        "Remove photos, videos and thumbnails in the media storage that no report refers to (left by "
        "intakes whose transaction rolled back after the files were written). Only files older than "
        "--older-than-hours go, so intakes in progress keep theirs."
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than-hours", type=float, default=24.0, help="only files older than this (24)")
        parser.add_argument("--dry-run", action="store_true", help="list what would go, remove nothing")

    def handle(self, *args, **opts):
        hours = opts["older_than_hours"]
        if not hours >= 1:  # also refuses NaN
            raise CommandError(f"--older-than-hours must be at least 1 (an intake may still be writing), not {hours}")
        with tqdm(desc="media files", unit=" files", disable=opts["verbosity"] < 1) as bar:
            result = sweep_orphans(timedelta(hours=hours), dry_run=opts["dry_run"], progress=bar.update)
        verb = "would remove" if opts["dry_run"] else "removed"
        if opts["dry_run"] or opts["verbosity"] > 1:
            for name in result.removed:
                self.stdout.write(f"  {name}")
        self.stdout.write(
            f"{verb} {len(result.removed)} unreferenced files; kept {result.referenced} in use and "
            f"{result.too_recent} younger than {hours:g} h"
        )
