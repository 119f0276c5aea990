"""The filters: small predicates, each switched by a setting, that drop a fix with a reason.

Before the lock, over whole columns, in Traccar's order (a fix is dropped for the first it fails):
invalid coordinates, zero coordinates, a future time (beyond TRACKING_CLOCK_SKEW_S), older than
the retention (always: no partition would hold it), poor accuracy. Then the batch is put in
device-time order (a phone uploading what it buffered offline sends any order), a time twice in
it being a duplicate. Under the lock, against the history read there (history.py): an impossible
speed from the previous accepted fix, and fixes already stored (duplicates: a resent batch).

Mock fixes are kept and flagged (TRACKING_FILTER_MOCK; off: the flag is cleared): they never move
the latest position nor count for attendance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from .. import partitions
from .. import settings as ts
from ..areas import to_metric
from ..fixes import FixBatch, Problem, to_us
from .upload import Drop, Upload


@dataclass(frozen=True)
class FilterConfig:
    """The per-fix filters' settings, read once per request (not once per fix)."""

    invalid: bool
    zero: bool
    future_after: datetime | None
    oldest: datetime
    max_accuracy: float | None
    keep_mock_flag: bool

    @classmethod
    def load(cls, now: datetime) -> FilterConfig:
        return cls(
            invalid=ts.filter_invalid(),
            zero=ts.filter_zero(),
            future_after=now + timedelta(seconds=ts.clock_skew_s()) if ts.filter_future() else None,
            oldest=partitions.oldest_accepted(now),
            max_accuracy=ts.max_accuracy_m() if ts.filter_accuracy() else None,
            keep_mock_flag=ts.filter_mock(),
        )


# --- per fix, before the lock: each a mask of the bad fixes, or None when switched off ----------
def invalid(b: FixBatch, cfg: FilterConfig) -> np.ndarray | None:
    return ~((b.lat >= -90) & (b.lat <= 90) & (b.lon >= -180) & (b.lon <= 180)) if cfg.invalid else None


def zero(b: FixBatch, cfg: FilterConfig) -> np.ndarray | None:
    return (b.lat == 0) & (b.lon == 0) if cfg.zero else None


def future(b: FixBatch, cfg: FilterConfig) -> np.ndarray | None:
    return b.time_us > to_us(cfg.future_after) if cfg.future_after is not None else None


def too_old(b: FixBatch, cfg: FilterConfig) -> np.ndarray:
    return b.time_us < to_us(cfg.oldest)


def poor_accuracy(b: FixBatch, cfg: FilterConfig) -> np.ndarray | None:
    return b.accuracy > cfg.max_accuracy if cfg.max_accuracy is not None else None  # NaN (unknown) passes


PREDICATES: list[tuple[Drop, Callable[[FixBatch, FilterConfig], np.ndarray | None]]] = [
    (Drop.INVALID, invalid),
    (Drop.ZERO, zero),
    (Drop.FUTURE, future),
    (Drop.TOO_OLD, too_old),
    (Drop.ACCURACY, poor_accuracy),
]


def per_fix(upload: Upload) -> None:
    """The predicates in order; the fixes left are taken once, at the end (one copy, not five)."""
    cfg = FilterConfig.load(upload.received_at)
    batch = upload.fixes
    keep = np.ones(len(batch), dtype=bool)
    for reason, predicate in PREDICATES:
        bad = predicate(batch, cfg)
        if bad is None:
            continue
        hit = keep & bad
        if hit.any():
            upload.dropped.extend(Problem(i, reason) for i in batch.index[hit].tolist())
            keep &= ~bad
    kept = batch if keep.all() and cfg.keep_mock_flag else batch.take(np.nonzero(keep)[0])  # a copy to change
    if not cfg.keep_mock_flag:
        kept.mock[:] = False
    upload.fixes = kept


def in_time_order(upload: Upload) -> None:
    """Sorted by (device time, request index); a time twice in the batch is a duplicate (the first
    in request order is kept). The speed filter and the latest-position walk need the order."""
    kept = upload.fixes
    t = kept.time_us
    if (t[1:] > t[:-1]).all():  # a phone's usual batch: already in time order, no time twice
        return
    kept = kept.take(np.lexsort((kept.index, kept.time_us)))
    repeat = np.zeros(len(kept), dtype=bool)
    repeat[1:] = kept.time_us[1:] == kept.time_us[:-1]
    upload.fixes = kept
    upload.drop(repeat, Drop.DUPLICATE)


# --- under the lock, against the history -----------------------------------------------------------
def impossible_speed(upload: Upload) -> None:
    """TRACKING_MAX_SPEED_KMH from the previous accepted fix (the stored one before the batch first)."""
    if ts.filter_speed() and len(upload.fixes):
        upload.drop(speed_drops(upload.fixes, upload.previous, ts.max_speed_kmh() / 3.6), Drop.SPEED)


def speed_drops(fixes: FixBatch, prev: tuple[int, float, float] | None, limit: float) -> np.ndarray:
    """Mask of fixes implying a speed above `limit` (m/s) from the previous accepted fix.

    Walks in device time from the stored fix just before the batch; mock fixes are neither
    judged nor used as the previous fix. Vectorised: when no step between neighbours is too
    fast, nothing is dropped; only then is the sequential walk needed (a drop changes what
    the next fix is compared with).
    """
    drop = np.zeros(len(fixes), dtype=bool)
    real = np.nonzero(~fixes.mock)[0]
    if not len(real):
        return drop
    t, lons, lats = fixes.time_us[real], fixes.lon[real], fixes.lat[real]
    if prev is not None:
        t = np.concatenate([[prev[0]], t])
        lons = np.concatenate([[prev[1]], lons])
        lats = np.concatenate([[prev[2]], lats])
    step_s = np.diff(t) / 1e6
    # First a bound no projection is needed for: a step is at most |dlat| + |dlon| (radians) of
    # the equator's radius, and UTM stretches by under 0.2 % across its zone (1 % allowed). When
    # no step can be too fast by it (a phone walking or driving), the batch is done.
    bound_m = np.radians(np.abs(np.diff(lats)) + np.abs(np.diff(lons))) * (6_378_137 * 1.01)
    if not ((step_s > 0) & (bound_m > limit * step_s)).any():
        return drop
    xs, ys = to_metric(lons, lats)
    step_m = np.hypot(np.diff(xs), np.diff(ys))
    if not ((step_s > 0) & (step_m > limit * step_s)).any():
        return drop
    offset = 1 if prev is not None else 0
    last = 0 if prev is not None else None  # index into t/xs of the previous accepted fix
    for j in range(len(real)):
        k = j + offset
        if last is not None:
            dt = (t[k] - t[last]) / 1e6
            if dt > 0 and float(np.hypot(xs[k] - xs[last], ys[k] - ys[last])) / dt > limit:
                drop[real[j]] = True
                continue
        last = k
    return drop


def already_stored(upload: Upload) -> None:
    """Fixes whose device time this device has stored: a resent ping is accepted, stored once."""
    if len(upload.fixes):
        upload.drop(np.isin(upload.fixes.time_us, upload.stored_before), Drop.DUPLICATE)
