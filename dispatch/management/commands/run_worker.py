"""`python manage.py run_worker`: the background worker `make run` starts beside the web server.

It announces committed changes handed to it through geoapp.relay (GEOAPP_RELAY=worker: new
positions, presence changes and report changes go to dispatch and the consoles from here, woken
by PostgreSQL's NOTIFY), runs due timers from the `dispatch_job` table (acknowledgement timeouts
-> escalation) and, every DISPATCH_WORKER_SWEEP_S, the sweeps: tracking's presence (phones going
quiet, shifts starting and ending) and reports waiting for a supervisor. No extra service:
PostgreSQL is the queue. A lost database connection (a restart) is logged, the connection dropped, and the loop
carries on after a short back-off; a job interrupted half-way was rolled back and runs again.
"""

from __future__ import annotations

import logging
import signal
import time

from django.core.management.base import BaseCommand
from django.db import DatabaseError, InterfaceError, OperationalError, close_old_connections, connection

from dispatch import jobs
from dispatch import settings as ds
from dispatch.receivers import sweep_awaiting
from geoapp import relay

log = logging.getLogger("dispatch.worker")


def sweep() -> dict:
    """The time-driven checks: presence edges first (they may bring someone on duty), then waiting reports."""
    from tracking import presence  # noqa: PLC0415

    changed = presence.sweep()
    return {"presence_changed": changed, **sweep_awaiting()}


class Command(BaseCommand):
    help = "Run dispatch timers (escalations) and the presence / awaiting-report sweeps until stopped."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="run what is due and one sweep, then exit")
        parser.add_argument("--no-sweep", action="store_true", help="only run timers")
        parser.add_argument("--poll", type=float, default=None, help="seconds between polls when idle")

    def handle(self, *args, **opts):
        self.stopping = False
        poll = opts["poll"] if opts["poll"] is not None else ds.worker_poll_s()

        def stop(signum, frame):
            self.stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        log.info("worker started (poll %.1f s, sweep every %s s, relay %s)", poll, ds.worker_sweep_s(), relay.mode())
        last_sweep = 0.0
        backoff = 1.0
        waiter = relay.Waiter()
        while not self.stopping:
            try:
                ran = relay.drain(limit=200)
                ran += jobs.run_due(limit=50)
                if not opts["no_sweep"] and time.monotonic() - last_sweep >= ds.worker_sweep_s():
                    result = sweep()
                    last_sweep = time.monotonic()
                    if any(result.values()):
                        log.info("sweep: %s", result)
                backoff = 1.0
            except (OperationalError, InterfaceError) as exc:
                log.warning("database unavailable (%s); retrying in %.0f s", exc, backoff)
                connection.close()
                time.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            except DatabaseError:
                log.exception("worker loop failed; carrying on")
                connection.close()
                time.sleep(backoff)
                continue
            if opts["once"]:
                break
            if not ran:
                close_old_connections()
                waiter.wait(poll)  # a sender's NOTIFY ends the wait early
        waiter.close()
        log.info("worker stopped")
