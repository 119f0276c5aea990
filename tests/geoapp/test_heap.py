"""The web entry points freeze what they load, so a full garbage collection in a serving process
walks only what requests created (without it: ~100-150 ms pauses every ~150 uploads)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import gc, os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geoapp.settings")
import {module}
frozen = gc.get_freeze_count()
gc.collect()
print(frozen, len(gc.get_objects()))
"""


def _probe(module: str) -> tuple[int, int]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module)], cwd=ROOT, capture_output=True, text=True, check=True
    )
    frozen, tracked = map(int, out.stdout.split()[-2:])
    return frozen, tracked


def test_the_asgi_and_wsgi_entry_points_leave_the_collector_only_what_came_after_loading():
    for module in ("geoapp.asgi", "geoapp.wsgi"):
        frozen, tracked = _probe(module)
        assert frozen > 50_000, (module, frozen)  # Django, the apps, every view module
        assert tracked < frozen / 10, (module, tracked, frozen)  # what a full pass still walks
