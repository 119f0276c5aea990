"""Handing committed changes to the worker, so the other apps' receivers do not run in the request.

Why: a phone's upload or a citizen's report is done once it is stored; what the other apps do
about it (the console's live push, dispatch, on-site detection) used to run in the same request
after commit and cost most of its time. A sender calls `send(topic, key, data, inline=...)`
inside the transaction that makes the change. With settings.GEOAPP_RELAY:

  "worker"  one row in `geoapp_pendingsignal` and a NOTIFY, in the sender's transaction: the
            change and its announcement commit together (nothing rolled back is announced;
            nothing committed goes unannounced, even if the process dies right after commit).
            The worker (`run_worker`) wakes on the NOTIFY, claims rows with SKIP LOCKED and
            hands each to its topic's deliverer, which sends the usual Django signal: receivers
            are unchanged. A topic that coalesces (a supervisor's position) delivers once for all
            the rows of a key pending at that moment (the map shows the newest position anyway).
            Needs a channel layer every process shares (REDIS_URL): the worker pushes to consoles
            connected to the web processes.
  "inline"  `inline` runs after commit in the sender's process, as Django signals usually do.
            The default without REDIS_URL (`make run` with the in-memory layer) and in tests.

A deliverer that raises is logged and its row dropped, as a failing receiver was before (the
worker's sweeps catch up on dispatch); a lost database connection rolls the claim back, so the
row is delivered after the reconnect.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction

log = logging.getLogger("geoapp.relay")
CHANNEL = "geoapp_relay"
MODES = ("worker", "inline")

Deliver = Callable[[str, list[dict]], None]


@dataclass(frozen=True)
class Topic:
    name: str
    deliver: Deliver
    coalesce: bool


TOPICS: dict[str, Topic] = {}


def topic(name: str, *, coalesce: bool = False) -> Callable[[Deliver], Deliver]:
    """Register the function that announces rows of `name` (called with the key and the rows' data)."""

    def register(fn: Deliver) -> Deliver:
        TOPICS[name] = Topic(name, fn, coalesce)
        return fn

    return register


def mode() -> str:
    value = getattr(settings, "GEOAPP_RELAY", "inline")
    if value not in MODES:
        raise ValueError(f"GEOAPP_RELAY must be one of {', '.join(MODES)}, not {value!r}")
    return value


SEND_SQL = (
    "WITH row AS (INSERT INTO geoapp_pendingsignal (topic, key, data, at) VALUES (%s, %s, %s::jsonb, now()) "
    "RETURNING topic) SELECT pg_notify(%s, topic) FROM row"
)


def send(name: str, key: Any, data: dict | None, inline: Callable[[], None]) -> None:
    """Announce a change of the current transaction: to the worker, or `inline` after commit."""
    if mode() == "inline":
        transaction.on_commit(inline)
        return
    if name not in TOPICS:
        raise LookupError(f"no deliverer registered for relay topic {name!r}")
    with connection.cursor() as cur:
        cur.execute(SEND_SQL, [name, str(key), json.dumps(data or {}), CHANNEL])


CLAIM_SQL = "SELECT id, topic, key FROM geoapp_pendingsignal ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"
TAKE_ONE_SQL = "DELETE FROM geoapp_pendingsignal WHERE id = %s RETURNING data"
TAKE_KEY_SQL = """
DELETE FROM geoapp_pendingsignal WHERE id IN (
  SELECT id FROM geoapp_pendingsignal WHERE topic = %s AND key = %s ORDER BY id FOR UPDATE SKIP LOCKED
) RETURNING id, data
"""


def _json(value: Any) -> dict:
    return json.loads(value) if isinstance(value, str | bytes) else value  # Django loads jsonb as text


def deliver_next() -> bool:
    """Claim the oldest pending change (with its key's siblings when the topic coalesces) and announce it.

    One transaction: the rows are deleted only if the delivery's transaction commits. Returns
    False when nothing was pending.
    """
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(CLAIM_SQL)
        row = cur.fetchone()
        if row is None:
            return False
        pk, name, key = row
        found = TOPICS.get(name)
        if found is not None and found.coalesce:
            cur.execute(TAKE_KEY_SQL, [name, key])
            data = [_json(d) for _, d in sorted(cur.fetchall(), key=lambda r: r[0])]
        else:
            cur.execute(TAKE_ONE_SQL, [pk])
            data = [_json(r[0]) for r in cur.fetchall()]
        if found is None:
            log.error("pending change %s: no deliverer for topic %r; dropped", pk, name)
            return True
        try:
            with transaction.atomic():
                found.deliver(key, data)
        except (OperationalError, InterfaceError):
            raise  # the connection is gone: the claim rolls back and the row is delivered later
        except Exception:  # noqa: BLE001 - a failing deliverer must not block the queue behind it
            log.exception("announcing %s %s failed; dropped (the sweeps catch up)", name, key)
    return True


def drain(limit: int = 200) -> int:
    """Deliver pending changes, oldest first, until none is left (or `limit`). Returns how many."""
    n = 0
    while n < limit and deliver_next():
        n += 1
    return n


def pending() -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM geoapp_pendingsignal")
        return cur.fetchone()[0]


class Waiter:
    """Sleeps until a sender's NOTIFY arrives or `timeout` passes, on a LISTEN connection of its own.

    A database restart only costs a reconnect: the caller drains by polling meanwhile.
    """

    def __init__(self) -> None:
        self.conn: psycopg.Connection | None = None

    def _connect(self) -> psycopg.Connection:
        params = connection.get_connection_params()
        params.pop("cursor_factory", None)
        conn = psycopg.connect(**params, autocommit=True)
        conn.execute(f"LISTEN {CHANNEL}")
        return conn

    def wait(self, timeout: float) -> bool:
        """True when woken by a notification, False on timeout (or a lost LISTEN connection)."""
        try:
            if self.conn is None or self.conn.closed:
                self.conn = self._connect()
            woke = False
            for _ in self.conn.notifies(timeout=timeout, stop_after=1):
                woke = True
            if woke:  # take the burst that came with it, without waiting
                for _ in self.conn.notifies(timeout=0):
                    pass
            return woke
        except (psycopg.OperationalError, OSError) as exc:
            log.warning("relay LISTEN connection lost (%s); polling until it is back", exc)
            self.close()
            return False

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except psycopg.Error:
                pass
            self.conn = None
