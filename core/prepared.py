"""Server-side prepared statements for the few statements every ping upload runs.

Django binds parameters on the client (psycopg's `ClientCursor`): each statement reaches
PostgreSQL as new text to parse and plan. For ingestion's short, fixed statements the planning
costs as much as the work (the lock statement: ~0.5 of its ~1 ms, measured with
bench/bench_tracking.py), and an upload runs four or five of them. Here they run on a cursor of
the same connection and transaction that binds on the server and prepares each statement once
per connection: psycopg keeps the prepared names per connection and the pool keeps the
connections, so later uploads only send the parameters. This needs psycopg's `prepare_threshold`
set (settings.py does, unless DB_PREPARE=0): Django leaves it None, and with None psycopg prepares
nothing, `prepare=True` included (a test asks PostgreSQL what it prepared).

Only for statements on small tables: on the partitioned ping history a prepared statement ends
up with a generic plan, which locks every partition on each run (PostgreSQL 15) where a plan for
the given times touches one or two, and concurrent uploads queue on the lock manager.

Errors come out as Django's (`IntegrityError`, `OperationalError`, ...), as from
`connection.cursor()`, so the 503 middleware and the ingestion's retry see them. Statements
here must be written for server-side binding: a parameter whose type PostgreSQL cannot infer
needs a cast (`%s::int4[]`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from django.db import connection


@contextmanager
def cursor() -> Iterator[PreparedCursor]:
    """A prepared-statement cursor on Django's connection, inside its current transaction."""
    connection.ensure_connection()
    connection.validate_no_broken_transaction()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as raw:
        yield PreparedCursor(raw)


class PreparedCursor:
    """`execute` prepares the statement on its first run on this connection; the rest is psycopg's."""

    def __init__(self, raw: psycopg.Cursor):
        self._raw = raw

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> PreparedCursor:
        with connection.wrap_database_errors:
            self._raw.execute(sql, params, prepare=True)
        return self

    def fetchone(self) -> tuple | None:
        return self._raw.fetchone()

    def fetchall(self) -> list[tuple]:
        return self._raw.fetchall()

    @property
    def rowcount(self) -> int:
        return self._raw.rowcount
