"""`python manage.py run_worker`: the background worker `make run` starts beside the web server (core/worker.py)."""

from __future__ import annotations

import signal

from django.core.management.base import BaseCommand

from core import settings as cs
from core import worker


class Command(BaseCommand):
    help = "Announce committed changes, run due timers (escalations) and the apps' sweeps until stopped."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="run what is due and one sweep, then exit")
        parser.add_argument("--no-sweep", action="store_true", help="only run timers")
        parser.add_argument("--poll", type=float, default=None, help="seconds between polls when idle")

    def handle(self, *args, **opts):
        stopped = []

        def stop(signum, frame):
            stopped.append(signum)

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        poll = opts["poll"] if opts["poll"] is not None else cs.worker_poll_s()
        worker.run(poll=poll, once=opts["once"], sweeping=not opts["no_sweep"], stopping=lambda: bool(stopped))
