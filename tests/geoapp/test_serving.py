"""The web entry points set a process up for serving (core/serving.py): what they loaded is
frozen, so a full garbage collection walks only what requests created (without it: ~100-150 ms
pauses every ~150 uploads), and the GIL changes hands every 0.5 ms (threads waiting on the
database come back sooner under load)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import gc, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geoapp.settings")
import {module}
frozen = gc.get_freeze_count()
gc.collect()
print(frozen, len(gc.get_objects()), sys.getswitchinterval())
"""


def _probe(module: str, **env: str) -> tuple[int, int, float]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
    )
    frozen, tracked, interval = out.stdout.split()[-3:]
    return int(frozen), int(tracked), float(interval)


def test_the_asgi_and_wsgi_entry_points_leave_the_collector_only_what_came_after_loading():
    for module in ("geoapp.asgi", "geoapp.wsgi"):
        frozen, tracked, interval = _probe(module)
        assert frozen > 50_000, (module, frozen)  # Django, the apps, every view module
        assert tracked < frozen / 10, (module, tracked, frozen)  # what a full pass still walks
        assert interval == 0.0005, (module, interval)


def test_the_switch_interval_is_a_setting():
    assert _probe("geoapp.asgi", GEOAPP_GIL_SWITCH_MS="2")[2] == 0.002
    assert _probe("geoapp.asgi", GEOAPP_GIL_SWITCH_MS="0")[2] == 0.005  # Python's default


def test_a_switch_interval_that_is_not_a_number_is_refused_by_name():
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(module="geoapp.asgi")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "GEOAPP_GIL_SWITCH_MS": "fast"},
    )
    assert out.returncode != 0
    assert "GEOAPP_GIL_SWITCH_MS must be a number of milliseconds, not 'fast'" in out.stderr
