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
import os
import sys

from django.core.exceptions import ImproperlyConfigured


def switch_interval_s() -> float | None:
    """The GIL switch interval for web processes, in seconds (None: Python's default)."""
    raw = os.environ.get("GEOAPP_GIL_SWITCH_MS", "0.5")
    try:
        ms = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"GEOAPP_GIL_SWITCH_MS must be a number of milliseconds, not {raw!r}") from None
    return ms / 1000 if ms > 0 else None


def settle() -> int:
    """Set the switch interval, load the URL patterns (and with them every view module), then
    freeze what is loaded. Returns how many objects were frozen."""
    from django.urls import get_resolver

    if (interval := switch_interval_s()) is not None:
        sys.setswitchinterval(interval)
    get_resolver().url_patterns  # noqa: B018 - imports the views
    gc.collect()  # what is garbage now should not be frozen
    gc.freeze()
    return gc.get_freeze_count()
