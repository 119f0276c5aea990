"""The native protocol: the app's own JSON at POST /api/tracking/pings/, one ping or a batch.

Bodies: `{"device_id"?, "pings": [ping, ...]}` (up to TRACKING_MAX_BATCH, in any order), a bare
list of pings, or one ping object. A ping: `{"time": ISO 8601 or epoch s/ms ("timestamp" as
well), "lat", "lon", "accuracy"? m, "speed"? m/s, "heading"? degrees, "altitude"? m, "battery"?
percent, "mock"? bool}`.

Three readers, one answer:
- `read_ping`: one ping field by field, the reference; it names the first bad field.
- `read_columns`: a batch of parsed JSON column by column (columns.py); only the pings that fail
  a check go through `read_ping`. This is `decode_native`, the general path.
- `decode_native_json`: the batch path. A phone's batch straight from its bytes into typed records
  (msgspec, no dict per ping), answering only when the result is sure to equal `decode_native` of
  the parsed JSON, else None: the caller then takes the general path, which names the problems.
  NativeBatchParser and the view's usual upload (views.py) ask it first: this is the one seam
  between the two paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import repeat
from operator import attrgetter, itemgetter
from typing import Any

import msgspec
import numpy as np

from .. import settings as ts
from ..errors import BatchTooLarge, MalformedPing
from ..fixes import OPTIONAL, Fix, FixBatch, Problem
from .columns import flags, numbers, times_us
from .fields import fix_or_problem, flag, number, parse_time


def decode_native(body: Any) -> tuple[str | None, FixBatch]:
    """`{"device_id"?, "pings": [...]}`, a bare list, or one ping object. Returns (device_id, fixes).

    A batch is read column by column (one pass per field, numpy for the numbers); only the pings
    that fail a check go through the per-ping reader, which names the first bad field exactly
    as a single ping would.
    """
    if isinstance(body, DecodedBatch):  # read by NativeBatchParser
        return body.device_id, body.fixes
    device_id = None
    if isinstance(body, dict) and "pings" in body:
        device_id = body.get("device_id")
        pings = body["pings"]
        if not isinstance(pings, list):
            raise MalformedPing('"pings" must be a list of pings')
    elif isinstance(body, list):
        pings = body
    elif isinstance(body, dict):
        device_id = body.get("device_id")
        pings = [body]
    else:
        raise MalformedPing('the body must be a ping object, a list of pings or {"pings": [...]}')
    if not pings:
        raise MalformedPing("no pings in the request")
    if len(pings) > ts.max_batch():
        raise BatchTooLarge(f"{len(pings)} pings in one request; send at most {ts.max_batch()} per batch")
    return (str(device_id) if device_id not in (None, "") else None), read_columns(pings)


def read_ping(i: int, p: Any) -> Fix | Problem:
    """One native ping, field by field: the reference reader (and the slow path for bad pings)."""
    if not isinstance(p, dict):
        return Problem(i, "a ping must be an object")

    def build() -> Fix:
        return Fix(
            index=i,
            time=parse_time(p.get("time", p.get("timestamp"))),
            lat=number(p.get("lat"), "lat", required=True),
            lon=number(p.get("lon"), "lon", required=True),
            accuracy=number(p.get("accuracy"), "accuracy"),
            speed=number(p.get("speed"), "speed"),
            heading=number(p.get("heading"), "heading"),
            altitude=number(p.get("altitude"), "altitude"),
            battery=number(p.get("battery"), "battery"),
            mock=flag(p.get("mock")),
        )

    return fix_or_problem(i, build)


NATIVE_FIELDS = ("lat", "lon", *OPTIONAL, "mock")


def _fields(rows: list[dict]) -> dict[str, list[Any]]:
    """Each field's values as a list (None where missing), "time" falling back to "timestamp".

    A phone's batch has the same fields in every ping: then each field present in the first
    ping is read from all pings with one C-level map(itemgetter) (a KeyError = not uniform), after
    checking that no ping has a field the first one lacks; otherwise one .get per field and ping.
    """
    if rows:
        first = rows[0]
        time_key = "time" if "time" in first else "timestamp"
        wanted = (time_key, *NATIVE_FIELDS)
        present = [k for k in wanted if k in first]
        absent = [k for k in wanted if k not in first] + (["time"] if time_key == "timestamp" else [])
        if not any(any(map(dict.__contains__, rows, repeat(k))) for k in absent):
            try:
                columns = {k: list(map(itemgetter(k), rows)) for k in present}
            except KeyError:
                columns = None
            if columns is not None:
                columns["time"] = columns.pop(time_key, None)
                none = [None] * len(rows)
                return {k: columns.get(k) or none for k in ("time", *NATIVE_FIELDS)}
    out = {"time": [p.get("time", p.get("timestamp")) for p in rows]}
    out.update({k: [p.get(k) for p in rows] for k in NATIVE_FIELDS})
    return out


def read_columns(pings: list[Any]) -> FixBatch:
    """A list of native pings as columns; the pings that fail a check are read again by `read_ping`,
    which names their first bad field."""
    n = len(pings)
    if set(map(type, pings)) == {dict}:
        is_obj, rows = np.ones(n, dtype=bool), pings
    else:
        is_obj = np.fromiter((type(p) is dict for p in pings), dtype=bool, count=n)
        rows = [p if type(p) is dict else {} for p in pings]
    raw = _fields(rows)
    time_us, bad = times_us(raw["time"])
    bad |= ~is_obj
    cols: dict[str, np.ndarray] = {}
    for name in ("lat", "lon", *OPTIONAL):
        cols[name], wrong = numbers(raw[name], name, required=name in ("lat", "lon"))
        bad |= wrong
    mock = flags(raw["mock"])
    good = ~bad
    batch = FixBatch(
        index=np.arange(n, dtype=np.int64)[good],
        time_us=time_us[good],
        **{name: arr[good] for name, arr in cols.items()},
        mock=mock[good],
    )
    if not bad.any():
        return batch
    slow = [read_ping(int(i), pings[i]) for i in np.nonzero(bad)[0]]
    return batch.concat(FixBatch.from_items(slow))


class _TypedPing(msgspec.Struct, gc=False):
    """A native ping whose every field has the type the column readers take in one pass.

    Untracked by the garbage collector (it holds only numbers, strings and None): a batch's
    thousand of them neither set collections off nor survive into older generations."""

    time: str | int | float | None | msgspec.UnsetType = msgspec.UNSET
    timestamp: str | int | float | None | msgspec.UnsetType = msgspec.UNSET
    lat: float | None = None
    lon: float | None = None
    accuracy: float | None = None
    speed: float | None = None
    heading: float | None = None
    altitude: float | None = None
    battery: float | None = None
    mock: bool | None = None


class _TypedBatch(msgspec.Struct, gc=False):
    pings: list[_TypedPing]
    device_id: str | int | None = None


_typed_batch = msgspec.json.Decoder(_TypedBatch)

NAN = float("nan")


class _PlainPing(msgspec.Struct, gc=False):
    """The shape nearly every phone sends: an ISO 8601 "time", both coordinates, any optional
    value either a number or absent (NaN, as null becomes), mock true/false or absent. Fields of
    one type decode in ~0.38 ms per 1000 pings against ~0.67 ms for `_TypedPing`'s unions; a
    ping of any other shape (a null, a numeric time, "timestamp") fails here and the batch is
    read again with `_TypedPing`."""

    time: str
    lat: float
    lon: float
    accuracy: float = NAN
    speed: float = NAN
    heading: float = NAN
    altitude: float = NAN
    battery: float = NAN
    mock: bool = False


class _PlainBatch(msgspec.Struct, gc=False):
    pings: list[_PlainPing]
    device_id: str | int | None = None


_plain_batch = msgspec.json.Decoder(_PlainBatch)


@dataclass
class DecodedBatch:
    """A native batch read straight from its JSON bytes (`decode_native_json`)."""

    device_id: str | None
    fixes: FixBatch


def decode_native_json(raw: bytes) -> DecodedBatch | None:
    """`{"device_id"?, "pings": [...]}` from UTF-8 JSON bytes into columns without a dict per ping,
    or None when the body is anything else (the caller then reads it the general way).

    msgspec reads the body into typed records (~3x faster than JSON into dicts, then columns).
    It answers only when the result is sure to equal `decode_native` of the parsed JSON: every
    value of the type the column readers take as is (numbers for the coordinates and optional
    values, a string or number for the time, true/false for mock, JSON ints kept exact), and
    every ping good. A refused body, a number given as a string, a bad time, a missing
    coordinate, an empty or too large batch: None, and the general path names the problems.
    """
    try:
        batch = _plain_batch.decode(raw)
    except msgspec.ValidationError:  # another shape of ping (or of body): the unions say
        try:
            batch = _typed_batch.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return None
    except msgspec.DecodeError:
        return None
    pings = batch.pings
    n = len(pings)
    if not n or n > ts.max_batch():
        return None
    times = list(map(attrgetter("time"), pings))
    # "timestamp" instead (as the general path: p.get("time", p.get("timestamp")))
    if type(batch) is _TypedBatch and msgspec.UNSET in times:
        times = [p.timestamp if t is msgspec.UNSET else t for p, t in zip(pings, times, strict=True)]
        if msgspec.UNSET in times:  # neither: the general path names it
            return None
    time_us, bad = times_us(times)
    if bad.any():
        return None
    # Typed as float or null: null -> NaN is the only NaN (JSON has none), nothing is infinite.
    cols = {name: np.array(list(map(attrgetter(name), pings)), dtype=float) for name in ("lat", "lon", *OPTIONAL)}
    if np.isnan(cols["lat"]).any() or np.isnan(cols["lon"]).any():  # a missing coordinate
        return None
    device_id = batch.device_id
    return DecodedBatch(
        str(device_id) if device_id not in (None, "") else None,
        FixBatch(
            index=np.arange(n, dtype=np.int64),
            time_us=time_us,
            **cols,
            mock=flags(list(map(attrgetter("mock"), pings))),
        ),
    )
