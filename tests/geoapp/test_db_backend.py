"""geoapp's database backend (geoapp/db/base.py): a pooled connection given back moments ago is handed
out without the health check's round trip, an idle one is checked, and PostGIS's geometry types are
registered once per connection, not at every request."""

from __future__ import annotations

import copy

import psycopg
import pytest
from django.db import connection

from geoapp.db import base as backend

pytestmark = pytest.mark.django_db


@pytest.fixture
def one_connection_pool():
    """A pool of its own holding one connection to the test database (the test's own connection
    stays out of it), closed afterwards."""
    settings_dict = copy.deepcopy(connection.settings_dict)
    settings_dict["OPTIONS"]["pool"] = {"min_size": 1, "max_size": 1, "timeout": 10}
    wrapper = backend.DatabaseWrapper(settings_dict, alias="pool_check_test")
    pool = wrapper.pool
    pool.open(wait=True)
    yield pool
    wrapper.close_pool()


def _kill(pid: int) -> None:
    """End a backend from another session, as a database restart would."""
    with connection.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])


def _given_back_and_killed(pool) -> int:
    conn = pool.getconn()
    pid = conn.info.backend_pid
    pool.putconn(conn)
    _kill(pid)
    return pid


def test_a_connection_given_back_a_moment_ago_is_not_checked(one_connection_pool, settings):
    settings.DB_POOL_CHECK_AFTER_S = 3600
    pid = _given_back_and_killed(one_connection_pool)
    conn = one_connection_pool.getconn()  # handed out at once: the broken one, unchecked
    assert conn.info.backend_pid == pid
    with pytest.raises(psycopg.OperationalError):
        conn.execute("SELECT 1")
    one_connection_pool.putconn(conn)  # the pool drops it and opens another
    conn = one_connection_pool.getconn()
    assert conn.execute("SELECT 1").fetchone() == (1,) and conn.info.backend_pid != pid
    one_connection_pool.putconn(conn)


def test_an_idle_connection_is_checked_and_replaced_when_broken(one_connection_pool, settings):
    settings.DB_POOL_CHECK_AFTER_S = 0
    pid = _given_back_and_killed(one_connection_pool)
    conn = one_connection_pool.getconn()  # the check found it broken: a new one instead
    assert conn.info.backend_pid != pid
    assert conn.execute("SELECT 1").fetchone() == (1,)
    one_connection_pool.putconn(conn)


def test_geometry_types_are_registered_once_per_connection(one_connection_pool, monkeypatch):
    from django.contrib.gis.db.backends.postgis.adapter import PostGISAdapter
    from django.contrib.gis.db.backends.postgis.base import DatabaseWrapper as PostGIS
    from django.contrib.gis.geos import Point

    calls = []
    original = PostGIS.register_geometry_adapters
    monkeypatch.setattr(PostGIS, "register_geometry_adapters", lambda *a, **k: calls.append(1) or original(*a, **k))
    wrapper = backend.DatabaseWrapper(copy.deepcopy(connection.settings_dict), alias="pool_check_test")
    for _ in range(3):  # three requests, each taking the pool's one connection and giving it back
        wrapper.ensure_connection()
        with wrapper.cursor() as cur:
            cur.execute("SELECT ST_AsText(%s)", [PostGISAdapter(Point(106.6, -6.2, srid=4326))])  # the dumper
            assert cur.fetchone() == ("POINT(106.6 -6.2)",)
        wrapper.close()
    assert len(calls) == 1


def test_a_bad_check_interval_stops_the_process_naming_it(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from geoapp.settings import env_seconds

    monkeypatch.setenv("DB_POOL_CHECK_AFTER_S", "soon")
    with pytest.raises(ImproperlyConfigured, match="DB_POOL_CHECK_AFTER_S must be a number of seconds"):
        env_seconds("DB_POOL_CHECK_AFTER_S", "1")
    monkeypatch.setenv("DB_POOL_CHECK_AFTER_S", "-1")
    with pytest.raises(ImproperlyConfigured, match="not '-1'"):
        env_seconds("DB_POOL_CHECK_AFTER_S", "1")
    monkeypatch.setenv("DB_POOL_CHECK_AFTER_S", "0.5")
    assert env_seconds("DB_POOL_CHECK_AFTER_S", "1") == 0.5


def test_the_tests_talk_to_the_test_database(settings):
    """Through the pool, not only by the settings' name: a pool made before the test runner renamed
    the database kept pointing at the real one (the browser tests run alone did)."""
    with connection.cursor() as cur:
        cur.execute("SELECT current_database()")
        assert cur.fetchone()[0] == settings.DATABASES["default"]["TEST"]["NAME"] == connection.settings_dict["NAME"]
