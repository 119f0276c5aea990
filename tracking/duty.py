"""On duty or not, and why: the presence rule, from a position, a shift and a moment.

One rule, used by the map, the dispatcher (`Supervisor.objects.on_duty()`), the pipeline and the
sweeper that turns time-driven changes (a phone going quiet, a shift ending) into events:

1. off_shift   - no shift (weekly or one-off, in WIB) covers `at`;
2. offline     - no fix ever, or the last one is older than TRACKING_OFFLINE_AFTER_S;
3. stale       - the last fix is older than TRACKING_PRESENCE_WINDOW_S (default 5 min);
4. out_of_area - leaving is confirmed: TRACKING_AREA_EXIT_PINGS consecutive outside fixes, or
                 outside for TRACKING_AREA_EXIT_DWELL_S (one bad fix never flips it);
5. on_duty     - otherwise.

Edges are inclusive on the fresh side: a fix exactly `window` seconds old is still fresh; a
shift covers [start, end). Only non-mock fixes count (LatestPosition never holds a mock fix).

This module reads no database and imports no model, so models.py can apply it too; the shifts
come from `Shift.objects.windows(...)`, the recording of changes is presence.py.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from django.core.exceptions import ObjectDoesNotExist

from . import settings as ts

WIB = ZoneInfo("Asia/Jakarta")


class Position(Protocol):
    """What the rule reads of a latest position (models.LatestPosition)."""

    device_time: datetime
    last_mock_at: datetime | None
    in_area: bool
    outside_since: datetime | None
    outside_count: int
    area_confirmed_out: bool
    kecamatan_code: str


class State(enum.StrEnum):
    ON_DUTY = "on_duty"
    OUT_OF_AREA = "out_of_area"
    STALE = "stale"
    OFFLINE = "offline"
    OFF_SHIFT = "off_shift"


def wib_date(at: datetime) -> date:
    return at.astimezone(WIB).date()


def window_td() -> timedelta:
    return timedelta(seconds=ts.presence_window_s())


def skew_td() -> timedelta:
    return timedelta(seconds=ts.clock_skew_s())


@dataclass(frozen=True)
class ShiftWindow:
    """One concrete shift: aware start/end (end may be the next WIB day) and its WIB date."""

    date: date
    start: datetime
    end: datetime

    @property
    def minutes(self) -> float:
        return (self.end - self.start).total_seconds() / 60

    def covers(self, at: datetime) -> bool:
        return self.start <= at < self.end

    def label(self) -> str:
        return f"{self.start.astimezone(WIB):%H:%M}-{self.end.astimezone(WIB):%H:%M} WIB"


def _window(day: date, start: time, end: time) -> ShiftWindow:
    begins = datetime.combine(day, start, WIB)
    ends = datetime.combine(day if end > start else day + timedelta(days=1), end, WIB)
    return ShiftWindow(day, begins, ends)


def windows_from(
    weekly: Iterable[tuple[int, time, time]],
    overrides: Iterable[tuple[date, bool, time | None, time | None]],
    first: date,
    last: date,
) -> list[ShiftWindow]:
    """One supervisor's shifts from rows (weekday, start, end) and (date, off, start, end)."""
    by_weekday: dict[int, list[tuple[time, time]]] = defaultdict(list)
    for weekday, start, end in weekly:
        by_weekday[weekday].append((start, end))
    by_date: dict[date, list[tuple[time, time]]] = {}
    for day, off, start, end in overrides:
        if first <= day <= last:
            by_date.setdefault(day, [])
            if not off:
                by_date[day].append((start, end))
    windows: list[ShiftWindow] = []
    day = first
    while day <= last:
        rows = by_date[day] if day in by_date else by_weekday[day.weekday()]
        windows.extend(_window(day, start, end) for start, end in rows)
        day += timedelta(days=1)
    windows.sort(key=lambda w: w.start)
    return windows


def shift_at(windows: list[ShiftWindow], at: datetime) -> ShiftWindow | None:
    return next((w for w in windows if w.covers(at)), None)


@dataclass(frozen=True)
class Presence:
    supervisor_id: int
    state: State
    reason: str
    at: datetime
    last_fix_age_s: float | None
    shift: ShiftWindow | None

    def as_dict(self) -> dict:
        return {
            "state": str(self.state),
            "reason": self.reason,
            "last_fix_age_s": None if self.last_fix_age_s is None else round(self.last_fix_age_s, 1),
            "shift": None
            if self.shift is None
            else {"date": self.shift.date.isoformat(), "start": self.shift.start, "end": self.shift.end},
        }


def _ago(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def evaluate(supervisor_id: int, latest: Position | None, shift: ShiftWindow | None, at: datetime) -> Presence:
    """The presence of one supervisor at `at`, with the reason a person can check."""
    age = None if latest is None else (at - latest.device_time).total_seconds()

    def result(state: State, reason: str) -> Presence:
        return Presence(supervisor_id, state, reason, at, age, shift)

    local = at.astimezone(WIB)
    if shift is None:
        return result(State.OFF_SHIFT, f"no shift at {local:%a %H:%M} WIB")
    if latest is None:
        return result(State.OFFLINE, "no fix ever received")
    mock_note = ""
    if latest.last_mock_at and latest.last_mock_at > latest.device_time:
        mock_note = "; newer mock locations were ignored"
    if age > ts.offline_after_s():
        return result(
            State.OFFLINE, f"last fix {_ago(age)} ago (offline after {_ago(ts.offline_after_s())}){mock_note}"
        )
    if age > ts.presence_window_s():
        return result(State.STALE, f"last fix {_ago(age)} ago (fresh within {_ago(ts.presence_window_s())}){mock_note}")
    if not latest.in_area:
        dwell = (at - latest.outside_since).total_seconds() if latest.outside_since else 0
        if latest.area_confirmed_out or dwell >= ts.area_exit_dwell_s():
            since = latest.outside_since.astimezone(WIB) if latest.outside_since else local
            where = f" (in kecamatan {latest.kecamatan_code})" if latest.kecamatan_code else " (outside the city)"
            return result(
                State.OUT_OF_AREA,
                f"outside the assigned area since {since:%H:%M} WIB{where}, {latest.outside_count} fixes",
            )
    return result(State.ON_DUTY, f"in shift {shift.label()}, fix {_ago(age)} ago inside the assigned area")


def latest_of(supervisor: Any) -> Position | None:
    """A supervisor's latest position, None before their first fix (select_related it to save a query)."""
    try:
        return supervisor.latest_position
    except ObjectDoesNotExist:
        return None


def presence_of(
    supervisors: Iterable[Any], windows: Mapping[int, list[ShiftWindow]], at: datetime
) -> dict[int, Presence]:
    """Presence of each supervisor at `at`, given their shift windows around it."""
    return {s.pk: evaluate(s.pk, latest_of(s), shift_at(windows[s.pk], at), at) for s in supervisors}
