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
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from typing import Any

import psycopg
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction

from core import prepared

log = logging.getLogger("core.relay")
CHANNEL = "geoapp_relay"
MODES = ("worker", "inline")

Deliver = Callable[[str, list[dict]], None]
Prepare = Callable[[list[str]], None]


@dataclass(frozen=True)
class Topic:
    name: str
    deliver: Deliver
    coalesce: bool
    prepare: Prepare | None = None


TOPICS: dict[str, Topic] = {}


def topic(name: str, *, coalesce: bool = False, prepare: Prepare | None = None) -> Callable[[Deliver], Deliver]:
    """Register the function that announces rows of `name` (called with the key and the rows' data).

    `prepare`, if given, is called once per claimed batch with every key of the topic in it (and
    of the other topics given the same function), before the first delivery: deliverers that read
    one row per key can read them all in one query there (the worker's time per delivery is what
    keeps the live map behind under load)."""

    def register(fn: Deliver) -> Deliver:
        TOPICS[name] = Topic(name, fn, coalesce, prepare)
        return fn

    return register


def mode() -> str:
    value = getattr(settings, "GEOAPP_RELAY", "inline")
    if value not in MODES:
        raise ValueError(f"GEOAPP_RELAY must be one of {', '.join(MODES)}, not {value!r}")
    return value


# The relay's row and its NOTIFY; {rows} is what the row is queued for (nothing: once).
QUEUE_SQL = (
    "row AS (INSERT INTO geoapp_pendingsignal (topic, key, data, at) "
    "SELECT %(relay_topic)s, %(relay_key)s, %(relay_data)s::jsonb, now() {rows} RETURNING topic) "
    "SELECT pg_notify(%(relay_channel)s, topic) FROM row"
)
SEND_SQL = "WITH " + QUEUE_SQL.format(rows="")


def _queued(name: str, key: Any, data: dict | None) -> dict[str, Any]:
    """QUEUE_SQL's parameters, for a topic the worker can deliver."""
    if name not in TOPICS:
        raise LookupError(f"no deliverer registered for relay topic {name!r}")
    return {"relay_topic": name, "relay_key": str(key), "relay_data": json.dumps(data or {}), "relay_channel": CHANNEL}


def send(name: str, key: Any, data: dict | None, inline: Callable[[], None]) -> None:
    """Announce a change of the current transaction: to the worker, or `inline` after commit."""
    if mode() == "inline":
        transaction.on_commit(inline)
        return
    with prepared.cursor() as cur:
        cur.execute(SEND_SQL, _queued(name, key, data))


def send_if(
    statement: str, params: dict[str, Any], name: str, key: Any, data: dict | None, inline: Callable[[], None]
) -> bool:
    """`statement` (an UPDATE ... RETURNING of at most one row), then `send`'s announcement if it
    changed a row: in one prepared round trip instead of two (a phone's upload makes ~7). False
    when it changed nothing: nothing is announced, and the caller decides what to do."""
    if mode() == "inline":
        with prepared.cursor() as cur:
            changed = cur.execute(statement, params).rowcount > 0
        if changed:
            transaction.on_commit(inline)
        return changed
    sql = f"WITH changed AS ({statement}), " + QUEUE_SQL.format(rows="FROM changed LIMIT 1")
    with prepared.cursor() as cur:
        return cur.execute(sql, {**params, **_queued(name, key, data)}).rowcount > 0


CLAIM_SQL = """
DELETE FROM geoapp_pendingsignal WHERE id IN (
  SELECT id FROM geoapp_pendingsignal ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED
) RETURNING id, topic, key, data
"""
# Context managers entered around each batch (outside its transaction): a receiver app can gather
# what the batch's deliveries produce and act once after the commit (the console pushes a burst
# of live events as one message). Registered by the apps in ready().
BATCH_SCOPES: list[Callable[[], AbstractContextManager]] = []


def _json(value: Any) -> dict:
    return json.loads(value) if isinstance(value, str | bytes) else value  # Django loads jsonb as text


def _deliveries(rows: list[tuple]) -> list[tuple[Topic | None, str, str, list[dict]]]:
    """Rows in id order -> deliveries; a coalescing topic's rows of one key become one, at its first row."""
    out: list[tuple[Topic | None, str, str, list[dict]]] = []
    seen: dict[tuple[str, str], int] = {}
    for _pk, name, key, data in sorted(rows, key=lambda r: r[0]):
        found = TOPICS.get(name)
        if found is not None and found.coalesce:
            if (name, key) in seen:
                out[seen[name, key]][3].append(_json(data))
                continue
            seen[name, key] = len(out)
        out.append((found, name, key, [_json(data)]))
    return out


def deliver_batch(limit: int = 50) -> int:
    """Claim up to `limit` pending changes (oldest first, skipping rows another worker holds) and announce them.

    One transaction: the rows are deleted only if it commits, so a lost connection leaves them
    for the next run. Each delivery runs in a savepoint of its own. Returns how many rows it took.
    """
    with ExitStack() as scopes:
        for scope in BATCH_SCOPES:
            scopes.enter_context(scope())
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(CLAIM_SQL, [limit])
            rows = cur.fetchall()
            deliveries = _deliveries(rows)
            _prepare(deliveries)
            for found, name, key, data in deliveries:
                if found is None:
                    log.error("pending %s %s: no deliverer for the topic; dropped", name, key)
                    continue
                try:
                    with transaction.atomic():
                        found.deliver(key, data)
                except (OperationalError, InterfaceError):
                    raise  # the connection is gone: the claim rolls back and the rows are delivered later
                except Exception:
                    log.exception("announcing %s %s failed; dropped (the sweeps catch up)", name, key)
    return len(rows)


def _prepare(deliveries: list[tuple[Topic | None, str, str, list[dict]]]) -> None:
    """Each `prepare` once, with the keys of every topic that shares it in this batch. One that
    fails is logged and left out: its deliverers then read row by row, as without it."""
    keys: dict[Prepare, list[str]] = {}
    for found, _name, key, _data in deliveries:
        if found is not None and found.prepare is not None:
            keys.setdefault(found.prepare, []).append(key)
    for prepare, its_keys in keys.items():
        try:
            with transaction.atomic():
                prepare(sorted(set(its_keys)))
        except (OperationalError, InterfaceError):
            raise  # the connection is gone: the claim rolls back
        except Exception:
            log.exception("preparing %d keys failed; delivering row by row", len(its_keys))


def drain(limit: int = 500, batch: int = 50) -> int:
    """Announce pending changes, oldest first, until none is left (or about `limit`). Returns how many rows."""
    n = 0
    while n < limit:
        took = deliver_batch(min(batch, limit - n))
        if not took:
            break
        n += took
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
