"""geoapp's database backend (core/db/base.py): a pooled connection given back moments ago is handed
out without the health check's round trip, an idle one is checked, and PostGIS's geometry types are
registered once per connection, not at every request. The same rule for a persistent connection
without a pool (DB_POOL_MAX=0, the ingestion service): busy within the last moment, unchecked."""

from __future__ import annotations

import copy

import psycopg
import pytest
from django.db import connection

from core.db import base as backend

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


@pytest.fixture
def persistent_connection():
    """A connection of its own to the test database as DB_POOL_MAX=0 makes them: no pool, kept
    between requests (CONN_MAX_AGE), health-checked."""
    settings_dict = copy.deepcopy(connection.settings_dict)
    settings_dict["OPTIONS"].pop("pool", None)
    settings_dict.update(CONN_MAX_AGE=60, CONN_HEALTH_CHECKS=True)
    wrapper = backend.DatabaseWrapper(settings_dict, alias="persistent_check_test")
    yield wrapper
    wrapper.close()


def _request(wrapper) -> int:
    """One request's database work as Django's handler frames it: the backend pid it ran on."""
    from django.db import OperationalError

    wrapper.close_if_unusable_or_obsolete()  # request_started
    try:
        with wrapper.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            return cur.fetchone()[0]
    except OperationalError:
        return -1  # the middleware answers 503, the phone resends
    finally:
        wrapper.close_if_unusable_or_obsolete()  # request_finished, then geoapp's own handler
        wrapper.note_request_ended()


def test_a_persistent_connection_busy_a_moment_ago_is_not_checked(persistent_connection, settings):
    settings.DB_POOL_CHECK_AFTER_S = 3600
    first = _request(persistent_connection)
    assert _request(persistent_connection) == first  # kept between requests
    _kill(first)
    assert _request(persistent_connection) == -1  # used unchecked: this request fails (503) ...
    again = _request(persistent_connection)  # ... and Django closed it: the next one reconnects
    assert again not in (-1, first)


def test_an_idle_persistent_connection_is_checked_and_replaced_when_broken(persistent_connection, settings):
    settings.DB_POOL_CHECK_AFTER_S = 0
    first = _request(persistent_connection)
    _kill(first)
    again = _request(persistent_connection)  # checked first: replaced, the request succeeds
    assert again not in (-1, first)


def test_the_end_of_a_request_is_noted_on_the_connection(persistent_connection, monkeypatch):
    """geoapp's request_finished handler stamps every open connection of geoapp's backend."""
    from django.core.signals import request_finished
    from django.db import connections

    persistent_connection.ensure_connection()
    monkeypatch.setattr(connections, "all", lambda initialized_only=False: [persistent_connection])
    request_finished.send(sender=None)
    assert persistent_connection._last_request_ended is not None
