"""How a web process is set up for serving, once its application is loaded (the WSGI and ASGI
entry points call `settle()`; so do the benchmarks' servers).

The garbage collector: a full (generation 2) collection walks every tracked object in the
process. A web process holds ~200,000 of them once Django, the apps and the URL patterns are
loaded, and an upload's churn sets one off every ~150 requests: ~100-150 ms in which the process
answers nothing (bench/bench_tracking.py's p99). What is loaded at start lives as long as the
process, so it is moved out of the collector's sight once (`gc.freeze`); full passes then walk
only what came later: 1-3 ms.

The GIL's switch interval: Daphne runs each request's Django code on a thread of its own, so
under load dozens of threads take turns on the GIL. A thread whose database call has returned
waits for the GIL up to the switch interval (5 ms by default), and an upload makes ~10 such
calls. At 0.5 ms, short load runs (loadtest/run_load.py, 2,000 buffering devices + 300 phones,
two runs each way) gave batches p50 26-30 ms against 41-45 ms, p95 100-186 ms against 208-531 ms.
GEOAPP_GIL_SWITCH_MS sets it (0 leaves Python's default).
"""

from __future__ import annotations

import gc
import shutil
import sys
from pathlib import Path

from django.conf import settings
from django.urls import get_resolver


def switch_interval_s() -> float | None:
    """The GIL switch interval for web processes, in seconds (None: Python's default)."""
    ms = settings.GEOAPP_GIL_SWITCH_MS
    return ms / 1000 if ms > 0 else None


def settle() -> int:
    """Set the switch interval, load the URL patterns (and with them every view module), then
    freeze what is loaded. Returns how many objects were frozen."""
    if (interval := switch_interval_s()) is not None:
        sys.setswitchinterval(interval)
    get_resolver().url_patterns  # noqa: B018 - imports the views
    gc.collect()  # what is garbage now should not be frozen
    gc.freeze()
    return gc.get_freeze_count()


# --- the ingestion service --------------------------------------------------------------------
# The phones' uploads (the native batch, OsmAnd, OwnTracks) are served by a WSGI process of their
# own (deploy/geoapp-ingest.service), nginx routing their URLs to it. Django's ASGI handler reads
# a request body in chunks into a spooled file and hops to a thread for a sync view: for a
# 1000-ping upload that is ~3 ms more CPU per request than WSGI (measured on one machine, per
# request in the server process: Daphne 11.3 ms, Granian's ASGI 10.8, Granian's WSGI 8.0, the
# standard library's wsgiref 8.3). Uploads need no WebSocket, so they do not pay for one.
INGEST_URLS = ("/api/tracking/pings/", "/tracking/osmand/", "/tracking/owntracks/")


# The ingestion service's environment beside the site's (/etc/geoapp/geoapp.env): a persistent
# connection per thread instead of a pool. A thread runs one upload at a time and keeps its
# connection; taking one from the pool and giving it back cost ~0.35 ms of an upload
# (bench/bench_tracking.py, two services alternating in one run). Django checks it (CONN_HEALTH_CHECKS)
# at each request's first query.
INGEST_ENV = {"DB_POOL_MAX": "0"}


def ingest_argv(port: int, workers: int = 2, threads: int = 2, host: str = "127.0.0.1") -> list[str]:
    """The ingestion service's command line: Granian serving geoapp.wsgi, `workers` processes of
    `threads` threads each (a thread waiting on PostgreSQL leaves the process to another)."""
    granian = Path(sys.executable).with_name("granian")
    return [
        str(granian if granian.exists() else shutil.which("granian") or "granian"),
        "--interface", "wsgi", "--host", host, "--port", str(port),
        "--workers", str(workers), "--blocking-threads", str(threads),
        "--no-ws", "--no-access-log", "--log-level", "warning", "--respawn-failed-workers",
        "geoapp.wsgi:application",
    ]  # fmt: skip
