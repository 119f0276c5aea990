"""The one ingestion pipeline for every protocol: decode -> filter -> enrich -> store -> events -> presence.

Views decode (protocols/) and authenticate (auth.py), then call `ingest(device, items, source)`;
the console's field app, the simulator, the benchmarks and tests reach the same path. As in
Traccar's handler chain, the stages below run in order on one `Upload` (upload.py); each passes
the fixes on or drops some with a reason (`Drop`). Reasons are counted per day and device
(`DropCount`) and answered to the caller by the fix's index in the request.

Order matters: a batch may come in any order (a phone uploading what it buffered offline), so
fixes are sorted by device time before the speed filter and the latest-position walk. History
takes every accepted fix; the latest position only moves forward.

Cost (a batch of 1000 is one phone's buffer; see bench/bench_tracking.py): the fixes travel as
numpy columns (`FixBatch`), never as 1000 Python objects; the whole request is a handful of
statements whatever its size, those on small tables prepared (core/prepared.py: planned once
per connection): the lock, the history read (none for the usual upload), one COPY, the latest
position with its announcement, the events and drop counters in one statement each, presence
only when it changed. The round trips are not pipelined (psycopg's pipeline mode) and no Python
runs while the COPY is in flight: both make the single-stream bench faster and the server under
load much slower (requests hold their connection and the supervisor's lock longer while threads
wait for the GIL): `make loadtest` decides such changes, not the bench alone.
Signals (`position_updated`, `presence_changed`) go out once per batch, after commit, with the
final position, so the receivers of other apps run once per batch, never per fix.

A phone's usual upload (a batch in the common shape, newer than anything stored) and every other
request run the same stages; they part at one seam each: decoding (protocols/native.py:
`decode_native_json` straight from the bytes, else `decode_native`) and the history read
(history.py: from the latest position, else from the history).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from ..fixes import Fix, FixBatch, Problem
from ..models import Device
from . import enrich, events, filters, history, latest, lock, presence, store
from .upload import REFUSING_REASONS, Upload

log = logging.getLogger("tracking.pipeline")

Stage = Callable[[Upload], None]

# Outside the transaction: nothing here needs the supervisor's lock, and the DDL must not hold it.
BEFORE_LOCK: list[Stage] = [
    filters.per_fix,  # invalid, zero, future, older than retention, poor accuracy: each switched by a setting
    filters.in_time_order,  # sorted by device time; a time twice in the batch is a duplicate
    store.ensure_partitions,  # the history partitions of the batch's days
]
# In one transaction under the supervisor's lock; run again through the staging table after a conflict.
UNDER_LOCK: list[Stage] = [
    lock.lock,  # the supervisor and their latest position locked; the device's right to send re-checked
    history.read,  # the stored fix before the batch and its times already stored (none asked for the usual upload)
    filters.impossible_speed,  # too fast from the previous accepted fix
    filters.already_stored,  # duplicates of stored fixes
    enrich.enrich,  # kecamatan, geofences, inside the assigned area
    store.copy_rows,  # one binary COPY into the history
    store.count_drops,  # the drop counters per day, device and reason
    latest.advance,  # the latest position walked forward, its announcement queued
    events.record,  # entering and leaving kecamatan and geofences
    presence.judge,  # presence, recorded only when it changed
]


@dataclass
class IngestResult:
    stored: list[int] = field(default_factory=list)  # request indexes stored now
    duplicates: list[int] = field(default_factory=list)  # already stored before (or twice in the batch)
    mock: list[int] = field(default_factory=list)  # stored, flagged mock (never counts for attendance)
    dropped: list[Problem] = field(default_factory=list)  # filtered out, with the reason
    rejected: list[Problem] = field(default_factory=list)  # could not be decoded

    @property
    def accepted(self) -> int:
        return len(self.stored) + len(self.duplicates)

    @property
    def refused(self) -> list[Problem]:
        """Problems that are bad input (for single-ping protocols: a 400)."""
        return self.rejected + [p for p in self.dropped if p.reason in REFUSING_REASONS]

    def as_dict(self) -> dict:
        return {
            "stored": len(self.stored),
            "duplicates": len(self.duplicates),
            "mock": len(self.mock),
            "dropped": [{"index": p.index, "reason": p.reason} for p in sorted(self.dropped)],
            "rejected": [{"index": p.index, "reason": p.reason} for p in sorted(self.rejected)],
        }

    @classmethod
    def of(cls, upload: Upload) -> IngestResult:
        """What happened to each ping of the request: after the store, `upload.fixes` are the stored ones."""
        stored = upload.fixes
        return cls(
            stored=stored.index.tolist(),
            duplicates=upload.duplicates,
            mock=stored.index[stored.mock].tolist(),
            dropped=upload.dropped,
            rejected=upload.rejected,
        )


def run(stages: list[Stage], upload: Upload) -> Upload:
    for stage in stages:
        stage(upload)
    return upload


def ingest(
    device: Device, items: FixBatch | list[Fix | Problem], source: str, received_at: datetime | None = None
) -> IngestResult:
    """Filter, enrich and store decoded fixes of one device; update position, events and presence."""
    upload = run(BEFORE_LOCK, Upload.start(device, items, source, received_at or timezone.now()))
    try:
        with transaction.atomic():
            done = run(UNDER_LOCK, upload.attempt(staged=False))
    except IntegrityError:
        # Someone wrote one of these keys without the lock: store through ON CONFLICT instead (store.py).
        log.warning("device %s: conflict on direct COPY; retrying through the staging table", device.device_id)
        with transaction.atomic():
            done = run(UNDER_LOCK, upload.attempt(staged=True))
    result = IngestResult.of(done)
    if result.dropped or result.rejected:
        log.info(
            "device %s: %s",
            device.device_id,
            ", ".join(f"#{p.index} {p.reason}" for p in sorted(result.dropped + result.rejected)[:20]),
        )
    return result
