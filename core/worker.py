"""The background worker's loop: announce committed changes, run due timers, sweep now and then.

`python manage.py run_worker` runs it beside the web server. Each pass hands the outbox's rows to
their topics (relay.py, woken by PostgreSQL's NOTIFY), runs due jobs (jobs.py) and, every
WORKER_SWEEP_S, the sweeps the apps registered (tracking's presence edges first, then
dispatch's reports waiting for a supervisor: the apps register in INSTALLED_APPS order). No extra
service: PostgreSQL is the queue. A lost database connection (a restart) is logged, the
connection dropped, and the loop carries on after a back-off; a job interrupted half-way was
rolled back and runs again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.db import DatabaseError, InterfaceError, OperationalError, close_old_connections, connection

from . import jobs, relay
from . import settings as cs

log = logging.getLogger("core.worker")

Sweep = Callable[[], dict[str, Any]]
SWEEPS: dict[str, Sweep] = {}


def register_sweep(name: str, fn: Sweep) -> None:
    """Run `fn` at every sweep (after those registered before it); it returns counts to log."""
    SWEEPS[name] = fn


def sweep() -> dict[str, Any]:
    """The time-driven checks, in the order the apps registered them."""
    result: dict[str, Any] = {}
    for fn in SWEEPS.values():
        result.update(fn())
    return result


def run(*, poll: float, once: bool = False, sweeping: bool = True, stopping: Callable[[], bool]) -> None:
    """Work until `stopping()` (or after one pass with `once`)."""
    log.info("worker started (poll %.1f s, sweep every %s s, relay %s)", poll, cs.worker_sweep_s(), relay.mode())
    last_sweep = 0.0
    backoff = 1.0
    waiter = relay.Waiter()
    while not stopping():
        try:
            ran = relay.drain(limit=200)
            ran += jobs.run_due(limit=50)
            if sweeping and time.monotonic() - last_sweep >= cs.worker_sweep_s():
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
        if once:
            break
        if not ran:
            close_old_connections()
            waiter.wait(poll)  # a sender's NOTIFY ends the wait early
    waiter.close()
    log.info("worker stopped")
