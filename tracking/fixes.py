"""Decoded positions as the pipeline takes them: one `Fix`, or a batch of them as columns.

Every protocol decodes into these (protocols/), the pipeline (ingest/) filters and stores them.
Times travel as integer microseconds since the Unix epoch (UTC): exact, and cheap to compare and
sort in numpy.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple

import numpy as np


@dataclass
class Fix:
    """One decoded position, units normalised (metres, m/s, degrees, percent, aware UTC time)."""

    index: int
    time: datetime
    lat: float
    lon: float
    accuracy: float | None = None
    speed: float | None = None
    heading: float | None = None
    altitude: float | None = None
    battery: float | None = None
    mock: bool = False


class Problem(NamedTuple):
    """A ping of the request (by its index) that was not stored, and why."""

    index: int
    reason: str


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_US = timedelta(microseconds=1)
DAY_US = 86_400_000_000
OPTIONAL = ("accuracy", "speed", "heading", "altitude", "battery")
COLUMNS = ("index", "time_us", "lat", "lon", *OPTIONAL, "mock")


def to_us(moment: datetime) -> int:
    """Microseconds since the Unix epoch (UTC)."""
    return (moment - EPOCH) // ONE_US


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=int(us))


def utc_day(us: int) -> date:
    """The UTC day of a time in µs since the epoch (the day its history partition holds)."""
    return date(1970, 1, 1) + timedelta(days=int(us // DAY_US))


@dataclass
class FixBatch:
    """Decoded fixes as columns (numpy arrays), so the pipeline filters, sorts, enriches and stores a
    batch of 1000 without a Python object per fix. Unknown optional values are NaN.

    `problems` are the request's unreadable pings (by index), carried along for the answer.
    """

    index: np.ndarray  # int64: position of the fix in the request
    time_us: np.ndarray  # int64: GPS time, microseconds since the Unix epoch
    lat: np.ndarray  # float64 degrees
    lon: np.ndarray
    accuracy: np.ndarray  # float64 metres, NaN = unknown
    speed: np.ndarray  # m/s
    heading: np.ndarray  # degrees
    altitude: np.ndarray  # metres
    battery: np.ndarray  # percent
    mock: np.ndarray  # bool
    problems: list[Problem] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.index)

    @classmethod
    def from_items(cls, items: Iterable[Fix | Problem]) -> FixBatch:
        """The single-ping decoders' `Fix` rows as columns."""
        fixes: list[Fix] = []
        problems: list[Problem] = []
        for item in items:
            (problems if isinstance(item, Problem) else fixes).append(item)

        def col(name: str) -> np.ndarray:
            return np.array([math.nan if getattr(f, name) is None else getattr(f, name) for f in fixes], dtype=float)

        return cls(
            index=np.array([f.index for f in fixes], dtype=np.int64),
            time_us=np.array([to_us(f.time) for f in fixes], dtype=np.int64),
            lat=col("lat"),
            lon=col("lon"),
            **{name: col(name) for name in OPTIONAL},
            mock=np.array([bool(f.mock) for f in fixes], dtype=bool),
            problems=problems,
        )

    def take(self, which: np.ndarray) -> FixBatch:
        """The fixes selected by a boolean mask or an index array (in that order)."""
        return FixBatch(*(getattr(self, name)[which] for name in COLUMNS), problems=self.problems)

    def concat(self, other: FixBatch) -> FixBatch:
        return FixBatch(
            *(np.concatenate([getattr(self, n), getattr(other, n)]) for n in COLUMNS),
            problems=self.problems + other.problems,
        )
