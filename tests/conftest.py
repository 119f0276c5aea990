"""Test set-up: real PostGIS (the project-local cluster or DATABASE_URL), real boundaries."""

from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "kota_tangerang"
KECAMATAN_FILE = FIXTURES / "kota_tangerang_kecamatan.geojson"
KELURAHAN_FILE = FIXTURES / "kota_tangerang_kelurahan.geojson"


def ensure_city() -> None:
    """Load the real Kota Tangerang boundaries when the database has none (idempotent)."""
    from kecamatan_boundaries.bootstrap import load_city_boundaries

    load_city_boundaries(log=lambda msg: None)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    from django.conf import settings
    from django.db import connection

    # pytest-django makes the test database only when a collected test asks for it; the browser
    # tests alone do not (tests/console/conftest.py makes it then). Never load into another one.
    if connection.settings_dict["NAME"] == settings.DATABASES["default"]["TEST"]["NAME"]:
        # Django makes its connection pool on first use and keeps it when the test runner renames
        # the database: one made earlier would still point at the real one.
        connection.close_pool()
        with django_db_blocker.unblock():
            ensure_city()
    yield
    # Before pytest-django drops the test database (PostgreSQL refuses while any session is in
    # it, and the database was left behind with a warning): end what other threads left open (a
    # server thread's connection that was never returned), then close the connection pools.
    from django.db import connections

    with django_db_blocker.unblock(), connections["default"].cursor() as cur:
        cur.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    for conn in connections.all():
        conn.close()
        close_pool = getattr(conn, "close_pool", None)
        if close_pool is not None:
            close_pool()


@pytest.fixture
def city(db):
    """The real 13 kecamatan and 104 kelurahan, current."""
    ensure_city()
    from kecamatan_boundaries.models import Kecamatan

    return {k.code: k for k in Kecamatan.objects.current()}


@pytest.fixture(autouse=True)
def _fresh_partition_memory():
    """Tests that run on-commit callbacks inside a rolled-back test transaction leave tracking's
    per-process memory of created ping partitions ahead of the database; start each test clean."""
    from tracking import partitions

    partitions.forget()
    yield


@pytest.fixture(autouse=True)
def _cache_of_the_test_process(request, settings):
    """Rate limits count in a cache of the test's own process (cleared by the tests that rely on
    it), not in production's database cache, whose table outlives a test's transaction; tests
    marked `shared_cache` (tests/security/test_rate_limit_shared.py) get the database cache."""
    if request.node.get_closest_marker("shared_cache") is None:
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


@pytest.fixture(autouse=True, scope="session")
def _relay_inline():
    """Receivers of committed changes run after commit in the test's process (the `make run`
    default); tests of the worker's relay switch it with the `settings` fixture."""
    from django.conf import settings

    settings.GEOAPP_RELAY = "inline"
    yield
