"""geoapp's database backend (core/db/base.py), Django's PostGIS backend: a pooled connection that
broke after it was given back is replaced before use, however recently it was given back; a
persistent connection without a pool (DB_POOL_MAX=0, the ingestion service) is checked at each
request's first query the same way; geometry parameters work on every request through the pool;
and a forked child makes its own pool, leaving its parent's connections alone."""

from __future__ import annotations

import copy
import os

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


def test_a_connection_given_back_a_moment_ago_is_checked_and_replaced_when_broken(one_connection_pool):
    pid = _given_back_and_killed(one_connection_pool)
    conn = one_connection_pool.getconn()  # the check found it broken: a new one instead
    assert conn.info.backend_pid != pid
    assert conn.execute("SELECT 1").fetchone() == (1,)
    one_connection_pool.putconn(conn)


def test_a_healthy_pooled_connection_is_handed_out_again(one_connection_pool):
    conn = one_connection_pool.getconn()
    pid = conn.info.backend_pid
    one_connection_pool.putconn(conn)
    conn = one_connection_pool.getconn()
    assert conn.info.backend_pid == pid and conn.execute("SELECT 1").fetchone() == (1,)
    one_connection_pool.putconn(conn)


def test_geometry_parameters_work_on_every_request_through_the_pool(one_connection_pool):
    from django.contrib.gis.db.backends.postgis.adapter import PostGISAdapter
    from django.contrib.gis.geos import Point

    wrapper = backend.DatabaseWrapper(copy.deepcopy(connection.settings_dict), alias="pool_check_test")
    pids = set()
    for _ in range(3):  # three requests, each taking the pool's one connection and giving it back
        wrapper.ensure_connection()
        with wrapper.cursor() as cur:
            cur.execute("SELECT ST_AsText(%s), pg_backend_pid()", [PostGISAdapter(Point(106.6, -6.2, srid=4326))])
            text, pid = cur.fetchone()
            assert text == "POINT(106.6 -6.2)"
            pids.add(pid)
        wrapper.close()
    assert len(pids) == 1  # the same pooled connection each time


def test_the_tests_talk_to_the_test_database(settings):
    """Through the pool, not only by the settings' name: a pool made before the test runner renamed
    the database kept pointing at the real one (the browser tests run alone did)."""
    with connection.cursor() as cur:
        cur.execute("SELECT current_database()")
        assert cur.fetchone()[0] == settings.DATABASES["default"]["TEST"]["NAME"] == connection.settings_dict["NAME"]


def test_a_forked_child_makes_its_own_pool_and_leaves_the_parents_connections_alone(one_connection_pool):
    parent = one_connection_pool.getconn()
    parent_pid = parent.info.backend_pid
    one_connection_pool.putconn(parent)  # idle in the pool when the child is forked
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child: answer its connection's backend pid, then leave without pytest's teardown
        code = 1
        try:
            settings_dict = copy.deepcopy(connection.settings_dict)
            settings_dict["OPTIONS"]["pool"] = {"min_size": 1, "max_size": 1, "timeout": 10}
            pool = backend.DatabaseWrapper(settings_dict, alias="pool_check_test").pool
            assert pool is not one_connection_pool
            pool.open(wait=True, timeout=10)
            conn = pool.getconn()
            os.write(write, str(conn.execute("SELECT pg_backend_pid()").fetchone()[0]).encode())
            pool.putconn(conn)
            pool.close()
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read) as answer:
        child_pid = answer.read()
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert child_pid and int(child_pid) != parent_pid
    conn = one_connection_pool.getconn()  # the parent's connection, untouched by the child
    assert conn.info.backend_pid == parent_pid and conn.execute("SELECT 1").fetchone() == (1,)
    one_connection_pool.putconn(conn)


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
        wrapper.close_if_unusable_or_obsolete()  # request_finished


def test_a_persistent_connection_is_kept_between_requests(persistent_connection):
    first = _request(persistent_connection)
    assert _request(persistent_connection) == first


def test_a_persistent_connection_broken_between_requests_is_checked_and_replaced(persistent_connection):
    first = _request(persistent_connection)
    _kill(first)
    again = _request(persistent_connection)  # checked first: replaced, the request succeeds
    assert again not in (-1, first)
