"""Daily partitions of the ping history: created ahead, created on demand, dropped by retention.

The SQL functions live in migration 0002; this module is what commands, bootstrap and the
pipeline call. Created partitions are remembered per process so the hot path asks the
database only for days it has not seen.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from django.db import connection, transaction

from . import settings as ts

_known: set[date] = set()


def utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def table_name(day: date) -> str:
    """The partition holding one UTC day (as migration 0002's tracking_ensure_partition names it)."""
    return f"tracking_ping_p{day:%Y%m%d}"


def ensure_days(days: Iterable[date]) -> int:
    """Make sure a partition exists for each UTC day; returns how many were created."""
    missing = sorted(set(days) - _known)
    created = 0
    if not missing:
        return 0
    with connection.cursor() as cur:
        for day in missing:
            cur.execute("SELECT tracking_ensure_partition(%s)", [day])
            created += bool(cur.fetchone()[0])
    # Remember only once committed: a rolled-back transaction takes its CREATE TABLE with it.
    transaction.on_commit(lambda: _known.update(missing))
    return created


def ensure_ahead(today: date | None = None, ahead_days: int | None = None, behind_days: int = 1) -> int:
    """Partitions from yesterday to `ahead_days` after today (so midnight never waits on DDL)."""
    today = today or datetime.now(UTC).date()
    ahead = ts.partitions_ahead_days() if ahead_days is None else ahead_days
    with connection.cursor() as cur:
        cur.execute(
            "SELECT tracking_ensure_partitions(%s, %s)",
            [today - timedelta(days=behind_days), today + timedelta(days=ahead)],
        )
        return cur.fetchone()[0]


def drop_older_than(retention_days: int | None = None, today: date | None = None) -> list[str]:
    """Drop partitions wholly older than the retention; returns the dropped table names."""
    today = today or datetime.now(UTC).date()
    days = ts.retention_days() if retention_days is None else retention_days
    cutoff = today - timedelta(days=days)
    with connection.cursor() as cur:
        cur.execute("SELECT tracking_drop_partitions_before(%s)", [cutoff])
        dropped = [row[0] for row in cur.fetchall()]
    forget()
    return dropped


def existing() -> list[str]:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'tracking_ping'::regclass ORDER BY c.relname"
        )
        return [r[0] for r in cur.fetchall()]


def forget() -> None:
    """Drop the per-process memory of created partitions (after retention, or a test flush)."""
    _known.clear()


def oldest_accepted(now: datetime) -> datetime:
    """Pings older than the retention would land in a partition about to be dropped: refuse them."""
    return now - timedelta(days=ts.retention_days())
