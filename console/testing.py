"""Helpers for running the ASGI app in a forked Daphne test server (tests/console, bench/bench_console.py)."""

from __future__ import annotations

import os

from django.conf import settings
from django.db import connections

CHROMIUM = "/usr/bin/chromium"  # Debian's chromium package (scripts/ensure_system.sh)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def make_asgi_application():
    """The project's ASGI app with static files served (module-level: picklable for multiprocessing)."""
    from channels.routing import get_default_application  # noqa: PLC0415 - reads the project's routing: Django set up first
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: PLC0415 - the same

    return ASGIStaticFilesHandler(get_default_application())


def point_at_test_database() -> None:
    """In the server process: use the test database pytest-django made (its TEST NAME)."""
    if os.environ.get("CONSOLE_TEST_MEDIA_ROOT"):
        settings.MEDIA_ROOT = os.environ["CONSOLE_TEST_MEDIA_ROOT"]

    name = settings.DATABASES["default"]["TEST"]["NAME"]
    settings.DATABASES["default"]["NAME"] = name
    connections["default"].settings_dict["NAME"] = name
