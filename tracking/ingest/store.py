"""Store: the batch into the partitioned history with one binary COPY, and the drop counters.

Under the lock the history read (history.py) is exact, so the direct COPY cannot meet a
duplicate. Should anything else have written the same key (a restore, a manual fix), the
transaction fails on the primary key and the pipeline runs it again with `staged`: the COPY goes
into a temporary staging table, then INSERT ... ON CONFLICT DO NOTHING RETURNING tells which
rows were new (measured: staging + INSERT costs ~1.5-2x a direct COPY in the database, so only
the retry pays it). The stream itself is built by copy.py.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

import numpy as np
from django.db import connection
from django.utils import timezone

from core import prepared

from .. import partitions
from ..fixes import DAY_US, to_us, utc_day
from .copy import copy_payload
from .upload import Drop, Upload


def ensure_partitions(upload: Upload) -> None:
    """The history partitions of the batch's UTC days, created when missing (DDL: outside the batch's
    transaction, so the locks it takes on the history are released at once)."""
    fixes = upload.fixes
    if not len(fixes):
        return
    first, last = utc_day(fixes.time_us[0]), utc_day(fixes.time_us[-1])  # sorted by time
    days = {first} if first == last else {utc_day(us) for us in np.unique(fixes.time_us // DAY_US) * DAY_US}
    partitions.ensure_days(days)


def copy_rows(upload: Upload) -> None:
    """The new fixes into the history; on the staged retry, the rows the history had are duplicates."""
    new = upload.fixes
    if not len(new):
        return
    locked = upload.locked
    columns, payload = copy_payload(
        upload.device, locked.supervisor_id, new, upload.enriched, upload.source, upload.received_at
    )
    first, last = utc_day(new.time_us[0]), utc_day(new.time_us[-1])  # sorted by time
    inserted = write(columns, payload, upload.staged, first if first == last else None)
    if inserted is not None and len(inserted) < len(new):  # staged: conflicts are duplicates
        got = np.isin(new.time_us, np.fromiter(inserted, dtype=np.int64, count=len(inserted)))
        upload.enriched = upload.enriched.take(got)
        upload.drop(~got, Drop.DUPLICATE)


def write(columns: str, payload: bytes, staged: bool, day: date | None = None) -> set[int] | None:
    """COPY the rows into the history. Direct: returns None (every row is new, checked under lock).

    A batch within one UTC `day` goes straight into that day's partition (`ensure_partitions` made
    sure it exists): PostgreSQL then skips routing each row through the parent, ~0.3 ms of an upload's
    ~7 ms in the database (measured with /proc's schedstat of the backend). Across midnight, the
    parent routes.

    Staged (the retry after an unexpected conflict): COPY into a temporary table, then
    INSERT ... ON CONFLICT DO NOTHING RETURNING; returns the device times (µs) actually inserted.
    COPY is psycopg's own cursor method: wrapped here so that its errors come out as Django's (a
    restart mid-COPY is an OperationalError: 503 and a retry, not a 500; a key conflict an
    IntegrityError: the staged retry).
    """
    with connection.cursor() as cur, connection.wrap_database_errors:
        if staged:
            cur.execute(
                "CREATE TEMP TABLE IF NOT EXISTS tracking_ping_staging (LIKE tracking_ping INCLUDING DEFAULTS) "
                "ON COMMIT DELETE ROWS"
            )
            cur.execute("TRUNCATE tracking_ping_staging")
        if staged:
            target = "tracking_ping_staging"
        else:  # a batch within one UTC day (the usual upload) straight into its partition
            target = partitions.table_name(day) if day is not None else "tracking_ping"
        with cur.copy(f"COPY {target} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(payload)
        if not staged:
            return None
        cur.execute(
            f"INSERT INTO tracking_ping ({columns}) SELECT {columns} FROM tracking_ping_staging "
            "ON CONFLICT (device_id, device_time) DO NOTHING RETURNING device_time"
        )
        return {to_us(row[0]) for row in cur.fetchall()}


def count_drops(upload: Upload) -> None:
    """Add this upload's drops to the per-day counters (`DropCount`) in one statement (none when
    nothing was dropped): bounded, a counter per day, device and reason, not a log."""
    reasons = Counter(p.reason for p in upload.dropped)
    if upload.duplicates:
        reasons[Drop.DUPLICATE] += len(upload.duplicates)
    if not reasons:
        return
    with prepared.cursor() as cur:
        cur.execute(
            "INSERT INTO tracking_dropcount (day, device_id, reason, count) "
            "SELECT %s, %s, u.reason, u.n FROM unnest(%s::text[], %s::int[]) AS u(reason, n) "
            "ON CONFLICT (day, device_id, reason) DO UPDATE SET count = tracking_dropcount.count + EXCLUDED.count",
            [timezone.localdate(upload.received_at), upload.device.pk, list(map(str, reasons)), list(reasons.values())],
        )
