"""Judge presence for every supervisor and record the changes that come from time passing.

A phone going quiet or a shift ending changes presence without any ping arriving; this turns
those into events and `presence_changed` signals. Run it every 30 s (`--every 30`) beside the app.
"""

import time

from django.core.management.base import BaseCommand

from tracking import presence


class Command(BaseCommand):
    help = "Record time-driven presence changes (stale, offline, shift start/end)."

    def add_arguments(self, parser):
        parser.add_argument("--every", type=float, default=0, help="repeat every N seconds (0 = once)")

    def handle(self, *args, **opts):
        while True:
            changed = presence.sweep()
            self.stdout.write(f"{changed} presence change(s)")
            if opts["every"] <= 0:
                return
            time.sleep(opts["every"])
