"""Reading one field of a ping, as every protocol needs it: a time, a number, a flag.

Each raises `ValueError` naming the field; `fix_or_problem` turns that into the ping's `Problem`,
so one bad ping never refuses the rest of a batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ..fixes import Fix, Problem


def parse_time(value: Any) -> datetime:
    """Seconds or milliseconds since the epoch (number or digits), or ISO 8601 (naive = UTC)."""
    if isinstance(value, bool) or value is None or value == "":
        raise ValueError("timestamp is missing")
    if isinstance(value, int | float) or (isinstance(value, str) and _is_number(value)):
        seconds = float(value)
        if not math.isfinite(seconds):
            raise ValueError(f"timestamp {value!r} is not a time")
        if seconds > 1e11:  # milliseconds (1e11 s is the year 5138)
            seconds /= 1000
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise ValueError(f"timestamp {value!r} is out of range") from exc
    if isinstance(value, str):
        text = value.strip().replace(" ", "T", 1) if " " in value.strip() else value.strip()
        try:
            moment = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"timestamp {value!r} is neither epoch seconds/milliseconds nor ISO 8601") from exc
        try:
            return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        except OverflowError as exc:  # 0001-01-01T00:00+07:00 is before year 1 in UTC
            raise ValueError(f"timestamp {value!r} is out of range") from exc
    raise ValueError(f"timestamp {value!r} is neither epoch seconds/milliseconds nor ISO 8601")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def number(value: Any, name: str, *, required: bool = False) -> float | None:
    if value is None or value == "":
        if required:
            raise ValueError(f"{name} is missing")
        return None
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, not {value!r}")
    try:
        result = float(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(f"{name} must be a number, not {value!r}") from exc
    if not math.isfinite(result):
        raise ValueError(f"{name} must be a finite number, not {value!r}")
    return result


def flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def fix_or_problem(index: int, build: Callable[[], Fix]) -> Fix | Problem:
    """The fix `build` reads, or the ping's problem (the first bad field, named)."""
    try:
        return build()
    except ValueError as exc:
        return Problem(index, str(exc))
