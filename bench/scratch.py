"""A scratch database for a benchmark: created on the project's PostgreSQL server, Django pointed
at it, dropped afterwards (unless kept). Shared by the benches so none touches the real data."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import geoapp.settings as project_settings


def admin_conn():
    """An autocommit connection to the server's `postgres` database (for CREATE/DROP DATABASE)."""
    import psycopg

    db = project_settings.DATABASES["default"]
    return psycopg.connect(
        host=db.get("HOST") or None, port=db.get("PORT") or None, user=db.get("USER") or None,
        password=db.get("PASSWORD") or None, dbname="postgres", autocommit=True,
    )  # fmt: skip


@contextlib.contextmanager
def scratch_database(name: str, *, keep: bool = False, **overrides) -> Iterator[None]:
    """Create `name` afresh, set Django up on it (with settings `overrides`), drop it at the end."""
    with admin_conn() as c:
        c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        c.execute(f"CREATE DATABASE {name}")
    project_settings.DATABASES["default"]["NAME"] = name
    project_settings.DEBUG = False
    project_settings.ALLOWED_HOSTS = ["*"]
    for key, value in overrides.items():
        setattr(project_settings, key, value)
    import django

    django.setup()
    try:
        yield
    finally:
        from django.db import connections

        connections.close_all()
        if not keep:
            with admin_conn() as c:
                c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def ms(values: list[float], q: float) -> float:
    """The q-quantile of durations in seconds, in milliseconds."""
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000
