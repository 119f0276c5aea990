"""Keeping the garbage collector's full passes short in the web processes.

A full (generation 2) collection walks every tracked object in the process. A web process holds
~200,000 of them once Django, the apps and the URL patterns are loaded, and an upload's churn
(a batch allocates thousands of short-lived objects) sets one off every ~150 requests: ~100-150 ms
in which the process answers nothing, seen as the ping benchmark's p99 (bench/bench_tracking.py).
What is loaded at start lives as long as the process, so it is moved out of the collector's
sight once (`gc.freeze`); full passes then walk only what came later.
"""

from __future__ import annotations

import gc


def settle() -> int:
    """Load the URL patterns (and with them every view module), then freeze what is loaded.
    Returns how many objects were frozen. Called by the WSGI and ASGI entry points."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imports the views
    gc.collect()  # what is garbage now should not be frozen
    gc.freeze()
    return gc.get_freeze_count()
