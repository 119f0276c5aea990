"""Simulated supervisors' phones pinging the real endpoints (live demo, load tests, benchmarks)."""

from django.core.management.base import BaseCommand, CommandError

from tracking.simulator import SimOptions, run, setup_fleet


class Command(BaseCommand):
    help = "Create N simulated supervisors with phones and drive them through the HTTP ingestion endpoints."

    def add_arguments(self, parser):
        parser.add_argument("--supervisors", "-n", type=int, default=300, help="how many phones (default 300)")
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="where the app runs")
        parser.add_argument("--duration", type=float, default=0, help="seconds of simulated time (0 = until Ctrl-C)")
        parser.add_argument("--interval", type=float, default=10, help="seconds between a phone's fixes")
        parser.add_argument("--fast", action="store_true", help="replay --duration as fast as the server answers")
        parser.add_argument("--threads", type=int, default=8, help="concurrent HTTP clients")
        parser.add_argument("--prefix", default="sim", help="name prefix of the simulated supervisors/devices")
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args, **opts):
        if opts["supervisors"] < 1 or opts["interval"] <= 0:
            raise CommandError("--supervisors must be >= 1 and --interval > 0")
        if opts["fast"] and not opts["duration"]:
            raise CommandError("--fast needs --duration")
        phones = setup_fleet(opts["supervisors"], prefix=opts["prefix"], seed=opts["seed"])
        self.stderr.write(f"{len(phones)} phones -> {opts['url']}")
        stats = run(
            phones,
            SimOptions(
                supervisors=opts["supervisors"],
                base_url=opts["url"],
                duration_s=opts["duration"],
                interval_s=opts["interval"],
                fast=opts["fast"],
                threads=opts["threads"],
                prefix=opts["prefix"],
                seed=opts["seed"],
                progress=opts["verbosity"] > 0,
            ),
        )
        self.stdout.write(
            f"sent {stats.sent} fixes, stored {stats.stored}, duplicates {stats.duplicates}, refused {stats.refused}"
            f" ({', '.join(f'{k}: {v}' for k, v in sorted(stats.by_protocol.items()))})"
        )
        for err in stats.errors[:10]:
            self.stderr.write(err)
        if stats.refused:
            raise CommandError(f"{stats.refused} fixes were refused")
