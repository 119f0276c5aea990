"""What flows through the pipeline's stages: one device's `Upload`, and why a fix leaves it (`Drop`).

Each stage (pipeline.py) reads what it needs from the upload, adds what it found, and passes the
fixes on: `fixes` holds those still going (in device-time order from `filters.in_time_order` on,
stored ones only after `store.copy_rows`); a stage that drops some calls `drop(mask, reason)`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time

import numpy as np

from ..areas import AssignedArea, Enriched
from ..fixes import Fix, FixBatch, Problem
from ..models import Device, LatestPosition


class Drop(enum.StrEnum):
    """Why a decoded fix is not stored: the value is the reason the API answers, word for word."""

    INVALID = "invalid coordinates"
    ZERO = "zero coordinates"
    FUTURE = "future timestamp"
    TOO_OLD = "older than retention"
    ACCURACY = "poor accuracy"
    SPEED = "impossible speed"
    DUPLICATE = "duplicate"  # answered as accepted: the fix is stored once already


# Reasons that mean the fix itself is bad input (a single-ping protocol answers 400); the others
# are quality drops the phone cannot fix by resending (answered 200).
REFUSING_REASONS = frozenset({Drop.INVALID, Drop.ZERO, Drop.FUTURE, Drop.TOO_OLD})


@dataclass
class Locked:
    """What one batch needs of its supervisor, read under their lock (lock.py)."""

    supervisor_id: int
    presence_state: str
    area: AssignedArea
    latest: LatestPosition | None
    weekly: list[tuple[int, time, time]]
    overrides: list[tuple[date, bool, time | None, time | None]]


Event = tuple[int, str, dict]  # (row in the stored fixes, event kind, event fields)


@dataclass
class Upload:
    """One device's decoded request on its way through the stages."""

    device: Device
    source: str
    received_at: datetime
    fixes: FixBatch  # the fixes still going on
    rejected: list[Problem]  # pings that could not be decoded
    dropped: list[Problem] = field(default_factory=list)  # filtered out, with the reason
    duplicates: list[int] = field(default_factory=list)  # request indexes stored before (or twice in the batch)
    staged: bool = False  # store through the staging table (the retry after a conflict)
    locked: Locked | None = None
    previous: tuple[int, float, float] | None = None  # the stored non-mock fix before the batch (µs, lon, lat)
    stored_before: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))  # µs
    enriched: Enriched = field(default_factory=lambda: Enriched([], [], []))  # row by row with `fixes`
    latest: LatestPosition | None = None  # the position after this upload
    events: list[Event] = field(default_factory=list)

    @classmethod
    def start(cls, device: Device, items: FixBatch | list[Fix | Problem], source: str, received_at: datetime) -> Upload:
        """The decoded request: the batch decoders' columns as they are, single-ping rows as columns."""
        batch = items if isinstance(items, FixBatch) else FixBatch.from_items(items)
        return cls(device, source, received_at, batch, rejected=list(batch.problems))

    def drop(self, mask: np.ndarray, reason: Drop) -> None:
        """Take the fixes where `mask` is true out of the upload, for `reason`."""
        if not mask.any():
            return
        indexes = self.fixes.index[mask].tolist()
        if reason is Drop.DUPLICATE:
            self.duplicates.extend(indexes)
        else:
            self.dropped.extend(Problem(i, reason) for i in indexes)
        self.fixes = self.fixes.take(~mask)

    def attempt(self, staged: bool) -> Upload:
        """A copy for one transaction: what a rolled-back attempt found is not kept."""
        return replace(self, staged=staged, dropped=list(self.dropped), duplicates=list(self.duplicates), events=[])
