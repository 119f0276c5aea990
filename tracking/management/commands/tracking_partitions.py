"""Ping history maintenance: create daily partitions ahead, drop those past retention. Run daily (cron)."""

from django.core.management.base import BaseCommand

from tracking import partitions
from tracking import settings as ts


class Command(BaseCommand):
    help = "Create ping-history partitions ahead and drop those older than TRACKING_RETENTION_DAYS."

    def add_arguments(self, parser):
        parser.add_argument("--ahead", type=int, help=f"days ahead (default {ts.partitions_ahead_days()})")
        parser.add_argument("--retention", type=int, help=f"days kept (default {ts.retention_days()})")
        parser.add_argument("--no-drop", action="store_true", help="only create, never drop")

    def handle(self, *args, **opts):
        created = partitions.ensure_ahead(ahead_days=opts["ahead"])
        self.stdout.write(f"created {created} partition(s)")
        if not opts["no_drop"]:
            dropped = partitions.drop_older_than(opts["retention"])
            self.stdout.write(f"dropped {len(dropped)} partition(s): {', '.join(dropped) or '-'}")
