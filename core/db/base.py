"""Django's PostGIS backend, safe to fork: a forked child makes its own connection pools.

Django keeps the pools of its PostgreSQL backend (settings.DB_POOL_MAX, `OPTIONS["pool"]`) in a
class attribute, one per database alias, shared by the whole process. A child forked after a pool
was made (a test server: tests/console's Daphne, bench/bench_console.py's) would take its parent's
pooled connections, whose sockets the parent still uses, from a pool whose threads did not survive
the fork. So the child forgets the parent's pools and makes its own on first use; the parent's are
kept referenced, so that no finalizer in the child closes a connection the parent uses.

This reads `_connection_pools`, a private attribute of Django's backend: Django has no public way
to drop a pool without closing its connections, and closing them from the child would end the
parent's sessions (closing them in the parent before each fork would be the fork sites' business).
Everything else is Django's, through its settings: the pool's health check (CONN_HEALTH_CHECKS,
psycopg_pool's `check_connection` before each connection is handed out), and without a pool
(DB_POOL_MAX=0) a persistent connection per thread checked at each request's first query.
"""

from __future__ import annotations

import os

from django.contrib.gis.db.backends.postgis.base import DatabaseWrapper as PostGISDatabaseWrapper

_inherited_pools: list = []  # a forked child's copies of its parent's pools, never used nor closed


def _forget_parents_pools() -> None:
    _inherited_pools.extend(PostGISDatabaseWrapper._connection_pools.values())
    PostGISDatabaseWrapper._connection_pools.clear()


os.register_at_fork(after_in_child=_forget_parents_pools)


class DatabaseWrapper(PostGISDatabaseWrapper):
    """Django's PostGIS DatabaseWrapper; this module makes a forked child forget its parent's pools."""
