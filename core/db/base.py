"""Django's PostGIS backend, minus two costs its connection pool adds to every request.

With a pool (settings.DB_POOL_MAX), Django takes a connection from the pool at a request's first
query and gives it back at the end. Taking it cost ~0.35 ms of CPU in a phone's upload
(bench/bench_tracking.py; ~3 % of a 1000-ping upload, more of a small request):

- PostGIS's backend registers its geometry types on the connection again each time. They stay
  registered on the psycopg connection the pool keeps, so once per connection is enough.
- The health check (CONN_HEALTH_CHECKS) sends an empty query, a round trip, before handing a
  connection out. A connection given back less than DB_POOL_CHECK_AFTER_S ago (default 1 s)
  is handed out unchecked: under load that is nearly every one, and HikariCP (Java's usual pool)
  skips its check in the same way (500 ms). A connection that broke within that second (a
  database restart) fails its request with OperationalError, which the middleware answers 503
  with Retry-After, and the pool replaces it; a quiet connection is checked as before.
"""

from __future__ import annotations

import os
import weakref
from time import monotonic

from django.conf import settings
from django.contrib.gis.db.backends.postgis.base import DatabaseWrapper as PostGISDatabaseWrapper
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import request_finished
from django.db.backends.base.base import NO_DB_ALIAS

_given_back: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # psycopg connection -> monotonic()
_registered: weakref.WeakSet = weakref.WeakSet()  # psycopg connections with the geometry types


def _note_given_back(conn) -> None:
    """The pool's `reset` callback: runs when a connection comes back to the pool."""
    _given_back[conn] = monotonic()


def _check_unless_recent(conn) -> None:
    """The pool's `check` callback: psycopg_pool's own check, for connections idle a while."""
    from psycopg_pool import ConnectionPool

    given_back = _given_back.get(conn)
    if given_back is not None and monotonic() - given_back < settings.DB_POOL_CHECK_AFTER_S:
        return
    ConnectionPool.check_connection(conn)


_inherited_pools: list = []  # a forked child's copies of its parent's pools, never used nor closed


def _forget_parents_pools() -> None:
    """In a forked child (a test server, the bench's server processes): the parent's pools hold
    the parent's sockets and their threads did not survive the fork. The child makes its own;
    the parent's are kept referenced, so that no finalizer closes a connection the parent uses."""
    _inherited_pools.extend(PostGISDatabaseWrapper._connection_pools.values())
    PostGISDatabaseWrapper._connection_pools.clear()


os.register_at_fork(after_in_child=_forget_parents_pools)


class DatabaseWrapper(PostGISDatabaseWrapper):
    def register_geometry_adapters(self, pg_connection, clear_caches=False):
        if not clear_caches and pg_connection in _registered:
            return
        super().register_geometry_adapters(pg_connection, clear_caches)
        _registered.add(pg_connection)

    @property
    def pool(self):
        """Django's pool (django.db.backends.postgresql.base), with the two callbacks above."""
        pool_options = self.settings_dict["OPTIONS"].get("pool")
        if self.alias == NO_DB_ALIAS or not pool_options:
            return None
        if self.alias not in self._connection_pools:
            if self.settings_dict.get("CONN_MAX_AGE", 0) != 0:
                raise ImproperlyConfigured("Pooling doesn't support persistent connections.")
            from psycopg_pool import ConnectionPool

            connect_kwargs = self.get_connection_params()
            connect_kwargs["autocommit"] = True  # as Django's: it sets autocommit itself later
            checks = self.settings_dict["CONN_HEALTH_CHECKS"]
            pool = ConnectionPool(
                kwargs=connect_kwargs,
                open=False,
                configure=self._configure_connection,
                check=_check_unless_recent if checks else None,
                reset=_note_given_back if checks else None,
                **({} if pool_options is True else pool_options),
            )
            self._connection_pools.setdefault(self.alias, pool)
        return self._connection_pools[self.alias]

    # Without a pool (DB_POOL_MAX=0: a persistent connection per thread, as the ingestion service
    # runs), Django's health check sends `SELECT 1` at each request's first query. The same rule
    # as the pool's above: a connection whose last request ended less than DB_POOL_CHECK_AFTER_S
    # ago is used unchecked; one that broke meanwhile fails its request with a 503 to retry, and
    # Django closes it at the end of that request (errors_occurred), so the next one reconnects.
    _last_request_ended: float | None = None

    def close_if_health_check_failed(self):
        ended = self._last_request_ended
        if (
            self.connection is not None
            and not self.health_check_done
            and ended is not None
            and monotonic() - ended < settings.DB_POOL_CHECK_AFTER_S
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def close(self):
        super().close()
        self._last_request_ended = None

    def note_request_ended(self) -> None:
        if self.connection is not None:
            self._last_request_ended = monotonic()


def _note_request_ended(**kwargs) -> None:
    """After Django's own request_finished handler (which closes what is unusable or too old)."""
    from django.db import connections

    for conn in connections.all(initialized_only=True):
        if isinstance(conn, DatabaseWrapper):
            conn.note_request_ended()


request_finished.connect(_note_request_ended, dispatch_uid="core.db.note_request_ended")
