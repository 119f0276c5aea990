"""Decoders: what each phone app sends -> `Fix` rows for the one pipeline, and device auth.

- native      POST /api/tracking/pings/  one ping or {"pings": [...]} (any order, up to TRACKING_MAX_BATCH)
- OsmAnd      /tracking/osmand/          query string or form (Traccar Client <= 8, OsmAnd's online
                                         tracking) or Traccar Client 9's JSON body
- OwnTracks   POST /tracking/owntracks/  HTTP mode JSON, `_type` location or transition

A decoder never raises for one bad ping inside a batch: it returns a `Problem(index, reason)`
in its place so the good ones are still stored. It raises `MalformedPing` only when the whole
request is unusable.
"""

from __future__ import annotations

import base64
import binascii
import math
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import repeat
from operator import attrgetter, itemgetter
from typing import Any, NamedTuple

import msgspec
import numpy as np
from rest_framework import status

from core.api import DomainError

from . import settings as ts
from .models import Device

KNOT_MS = 0.514444  # m/s per knot
KMH_MS = 1 / 3.6  # m/s per km/h


class TrackingError(DomainError):
    """Base for refused pings."""


class MalformedPing(TrackingError):
    status_code = status.HTTP_400_BAD_REQUEST


class MissingCredentials(TrackingError):
    status_code = status.HTTP_401_UNAUTHORIZED


class BadToken(TrackingError):
    status_code = status.HTTP_401_UNAUTHORIZED


class RevokedDevice(TrackingError):
    status_code = status.HTTP_403_FORBIDDEN


class UnknownDevice(TrackingError):
    status_code = status.HTTP_404_NOT_FOUND


class BatchTooLarge(TrackingError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE


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
    # filled by the pipeline's enrich stage
    kecamatan_code: str | None = None
    geofence_ids: tuple[int, ...] = ()
    in_area: bool = False


class Problem(NamedTuple):
    index: int
    reason: str


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_US = timedelta(microseconds=1)
OPTIONAL = ("accuracy", "speed", "heading", "altitude", "battery")
COLUMNS = ("index", "time_us", "lat", "lon", *OPTIONAL, "mock")


def to_us(moment: datetime) -> int:
    """Microseconds since the Unix epoch (UTC): exact, and cheap to compare and sort in numpy."""
    return (moment - EPOCH) // ONE_US


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=int(us))


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


# --- field parsing --------------------------------------------------------------------------
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


def _fix(index: int, build) -> Fix | Problem:
    try:
        return build()
    except ValueError as exc:
        return Problem(index, str(exc))


# --- native -----------------------------------------------------------------------------------
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
    return (str(device_id) if device_id not in (None, "") else None), _native_columns(pings)


def _native_one(i: int, p: Any) -> Fix | Problem:
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

    return _fix(i, build)


_PLAIN_NUMBERS = {int, float, type(None)}


def _time_us(value: Any) -> int:
    if type(value) is str and len(value) > 10 and value[4] == "-":  # the common case: ISO 8601
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
        if moment is not None:
            return to_us(moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC))
    return to_us(parse_time(value))


_ISO_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]  # in "YYYY-MM-DDTHH:MM:SS"
_ISO_MARKS = {4: ord("-"), 7: ord("-"), 10: ord("T"), 13: ord(":"), 16: ord(":")}
_ISO_SAFE_US = (to_us(datetime(1, 1, 2, tzinfo=UTC)), to_us(datetime(9999, 12, 30, tzinfo=UTC)))


def _iso_times_us(values: list[Any]) -> np.ndarray | None:
    """A phone's batch of ISO 8601 times in one numpy conversion, or None to read them one by one.

    Only for the shape phones send: every value a string of the same length,
    "YYYY-MM-DDTHH:MM:SS", optional 1-6 fraction digits, and the same suffix on every value
    ("Z", "+HH:MM"/"-HH:MM" or none = UTC). numpy refuses out-of-range fields (month 13,
    February 30, hour 24) as `datetime.fromisoformat` does; then the batch goes value by value
    and the bad ones are named. ~0.1 ms instead of ~1.5 ms per 1000.
    """
    n = len(values)
    if not n or type(values[0]) is not str or set(map(type, values)) != {str}:
        return None
    first = values[0]
    width = len(first)
    if width < 19 or set(map(len, values)) != {width}:
        return None
    if first[-1] == "Z":
        core, offset_us = width - 1, 0
    elif width >= 25 and first[-6] in "+-" and first[-3] == ":" and (first[-5:-3] + first[-2:]).isdigit():
        hours, minutes = int(first[-5:-3]), int(first[-2:])
        if hours > 23 or minutes > 59:
            return None
        core = width - 6
        offset_us = (1 if first[-6] == "+" else -1) * (hours * 3600 + minutes * 60) * 1_000_000
    else:
        core, offset_us = width, 0
    if core != 19 and not 21 <= core <= 26:  # fraction: 1-6 digits
        return None
    try:
        raw = np.array(values, dtype=f"S{width}")
    except UnicodeEncodeError:
        return None
    chars = raw.view(np.uint8).reshape(n, width)
    digits = [*_ISO_DIGITS, *range(20, core)]
    if (
        ((chars[:, digits] - ord("0")) > 9).any()  # uint8: below "0" wraps around
        or (chars[:, list(_ISO_MARKS)] != np.array(list(_ISO_MARKS.values()), dtype=np.uint8)).any()
        or (core > 19 and (chars[:, 19] != ord(".")).any())
        or (chars[:, core:] != chars[0, core:]).any()
    ):
        return None
    try:
        us = raw.astype(f"S{core}").astype("datetime64[us]").astype(np.int64) - offset_us
    except ValueError:
        return None
    if us.min() < _ISO_SAFE_US[0] or us.max() > _ISO_SAFE_US[1]:  # year 1 or 9999: to datetime's limits
        return None
    return us


def _times(values: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    fast = _iso_times_us(values)
    if fast is not None:
        return fast, np.zeros(len(values), dtype=bool)
    out = [0] * len(values)
    bad = np.zeros(len(values), dtype=bool)
    for i, value in enumerate(values):
        try:
            out[i] = _time_us(value)
        except (ValueError, OverflowError):
            bad[i] = True
    return np.array(out, dtype=np.int64), bad


def _numbers(values: list[Any], name: str, required: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A column of numbers: JSON numbers/null in one numpy conversion; anything else one by one."""
    kinds = set(map(type, values))
    if kinds <= _PLAIN_NUMBERS:
        try:
            arr = np.array(values, dtype=float)  # None -> NaN
        except OverflowError:
            arr = None
        if arr is not None:
            if type(None) in kinds:
                missing = np.fromiter((v is None for v in values), dtype=bool, count=len(values))
            else:
                missing = np.zeros(len(values), dtype=bool)
            bad = ~np.isfinite(arr) & ~missing
            return arr, (bad | missing) if required else bad
    arr = np.full(len(values), math.nan)
    bad = np.zeros(len(values), dtype=bool)
    for i, value in enumerate(values):
        try:
            x = number(value, name, required=required)
        except ValueError:
            bad[i] = True
            continue
        if x is not None:
            arr[i] = x
    return arr, bad


def _flags(values: list[Any]) -> np.ndarray:
    kinds = set(map(type, values))
    if kinds <= {bool, type(None)}:
        return np.array(values, dtype=bool) if bool in kinds else np.zeros(len(values), dtype=bool)  # None = False
    return np.fromiter((flag(v) for v in values), dtype=bool, count=len(values))


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


def _native_columns(pings: list[Any]) -> FixBatch:
    n = len(pings)
    if set(map(type, pings)) == {dict}:
        is_obj, rows = np.ones(n, dtype=bool), pings
    else:
        is_obj = np.fromiter((type(p) is dict for p in pings), dtype=bool, count=n)
        rows = [p if type(p) is dict else {} for p in pings]
    raw = _fields(rows)
    time_us, bad = _times(raw["time"])
    bad |= ~is_obj
    cols: dict[str, np.ndarray] = {}
    for name in ("lat", "lon", *OPTIONAL):
        cols[name], wrong = _numbers(raw[name], name, required=name in ("lat", "lon"))
        bad |= wrong
    mock = _flags(raw["mock"])
    good = ~bad
    batch = FixBatch(
        index=np.arange(n, dtype=np.int64)[good],
        time_us=time_us[good],
        **{name: arr[good] for name, arr in cols.items()},
        mock=mock[good],
    )
    if not bad.any():
        return batch
    slow = [_native_one(int(i), pings[i]) for i in np.nonzero(bad)[0]]
    return batch.concat(FixBatch.from_items(slow))


class _TypedPing(msgspec.Struct, gc=False):
    """A native ping whose every field has the type the column readers take in one pass.

    Untracked by the garbage collector (it holds only numbers, strings and None): a batch's
    thousand of them no longer set collections off nor survive into older generations."""

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
    time_us, bad = _times(times)
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
            mock=_flags(list(map(attrgetter("mock"), pings))),
        ),
    )


# --- OsmAnd / Traccar Client ----------------------------------------------------------------
def decode_osmand(params: Mapping[str, Any], body: Any = None) -> tuple[str | None, list[Fix | Problem]]:
    """Query/form parameters as OsmAnd and Traccar Client send them, or Traccar Client's JSON body."""
    if isinstance(body, dict) and "location" in body:
        return _decode_traccar_json(body)
    device_id = params.get("id") or params.get("deviceid")

    def build() -> Fix:
        lat, lon = params.get("lat"), params.get("lon")
        if (lat is None or lon is None) and params.get("location"):
            parts = str(params["location"]).split(",")
            if len(parts) != 2:
                raise ValueError("location must be 'lat,lon'")
            lat, lon = parts
        speed_knots = number(params.get("speed"), "speed")
        accuracy = number(params.get("accuracy"), "accuracy")
        if accuracy is None:
            accuracy = number(params.get("hdop"), "hdop")
        battery = number(params.get("batt", params.get("battery")), "batt")
        return Fix(
            index=0,
            time=parse_time(params.get("timestamp")),
            lat=number(lat, "lat", required=True),
            lon=number(lon, "lon", required=True),
            accuracy=accuracy,
            speed=None if speed_knots is None else speed_knots * KNOT_MS,
            heading=number(params.get("bearing", params.get("heading")), "bearing"),
            altitude=number(params.get("altitude"), "altitude"),
            battery=battery,
            mock=flag(params.get("mock")),
        )

    return (str(device_id) if device_id else None), [_fix(0, build)]


def _known(value: float | None) -> float | None:
    """Traccar Client 9 (transistorsoft) sends -1 for an unknown speed or heading."""
    return None if value is None or value < 0 else value


def _decode_traccar_json(body: dict) -> tuple[str | None, list[Fix | Problem]]:
    device_id = body.get("device_id")
    locations = body["location"] if isinstance(body["location"], list) else [body["location"]]

    def one(i: int, loc: Any) -> Fix | Problem:
        if not isinstance(loc, dict) or not isinstance(loc.get("coords"), dict):
            return Problem(i, "location must be an object with coords")

        def build() -> Fix:
            c = loc["coords"]
            battery = loc.get("battery") if isinstance(loc.get("battery"), dict) else {}
            level = number(battery.get("level"), "battery.level")
            speed = number(c.get("speed"), "speed")
            return Fix(
                index=i,
                time=parse_time(loc.get("timestamp")),
                lat=number(c.get("latitude"), "latitude", required=True),
                lon=number(c.get("longitude"), "longitude", required=True),
                accuracy=number(c.get("accuracy"), "accuracy"),
                speed=_known(speed),
                heading=_known(number(c.get("heading"), "heading")),
                altitude=number(c.get("altitude"), "altitude"),
                battery=None if level is None or level < 0 else level * 100,
                mock=flag(loc.get("mock")),
            )

        return _fix(i, build)

    return (str(device_id) if device_id else None), [one(i, loc) for i, loc in enumerate(locations)]


# --- OwnTracks ----------------------------------------------------------------------------------
OWNTRACKS_FIX_TYPES = {"location", "transition"}


def decode_owntracks(body: Any) -> list[Fix | Problem]:
    """One OwnTracks message; types other than location/transition carry no fix (empty list)."""
    if not isinstance(body, dict) or not isinstance(body.get("_type"), str):
        raise MalformedPing('an OwnTracks message is a JSON object with "_type"')
    if body["_type"] not in OWNTRACKS_FIX_TYPES:
        return []

    def build() -> Fix:
        vel = number(body.get("vel"), "vel")
        return Fix(
            index=0,
            time=parse_time(body.get("tst")),
            lat=number(body.get("lat"), "lat", required=True),
            lon=number(body.get("lon"), "lon", required=True),
            accuracy=number(body.get("acc"), "acc"),
            speed=None if vel is None else vel * KMH_MS,
            heading=number(body.get("cog"), "cog"),
            altitude=number(body.get("alt"), "alt"),
            battery=number(body.get("batt"), "batt"),
            mock=flag(body.get("mock")),
        )

    return [_fix(0, build)]


def owntracks_identity(request) -> tuple[str | None, str | None]:
    """(device id, token): device from X-Limit-D / ?d= (else the user), token = Basic password."""
    user, password = basic_auth(request)
    user = request.headers.get("X-Limit-U") or request.GET.get("u") or user
    device = request.headers.get("X-Limit-D") or request.GET.get("d")
    return (device or user), password


# --- auth ------------------------------------------------------------------------------------------
def basic_auth(request) -> tuple[str | None, str | None]:
    header = request.META.get("HTTP_AUTHORIZATION", "")  # not request.headers: it copies all of META
    if not header.lower().startswith("basic "):
        return None, None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise MalformedPing("the Basic Authorization header is not valid base64 'user:password'") from exc
    user, sep, password = decoded.partition(":")
    if not sep:
        raise MalformedPing("the Basic Authorization header is not 'user:password'")
    return user, password


def bearer_token(request) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


class _AuthCache:
    """Devices that authenticated recently, per process, so a phone's next ping skips the lookup.

    Only ever used to *accept*: a refusal is decided on a fresh read. It is safe because the
    pipeline re-reads the device row under its lock in the same transaction as the write
    (revocation, token change, inactive supervisor), so a revoked phone is refused at once;
    saves and deletes of devices and supervisors in this process also clear it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._devices: dict[str, tuple[float, Device]] = {}

    def get(self, device_id: str) -> Device | None:
        ttl = ts.auth_cache_s()
        with self._lock:
            hit = self._devices.get(device_id)
        if hit is None or ttl <= 0 or time.monotonic() - hit[0] > ttl:
            return None
        return hit[1]

    def put(self, device: Device) -> None:
        if ts.auth_cache_s() <= 0:
            return
        with self._lock:
            if len(self._devices) > 10_000:
                self._devices.clear()
            self._devices[device.device_id] = (time.monotonic(), device)

    def invalidate(self, sender=None, instance=None, **kwargs) -> None:
        with self._lock:
            if isinstance(instance, Device):
                self._devices.pop(instance.device_id, None)
            else:
                self._devices.clear()


auth_cache = _AuthCache()


def _accepts(device: Device, token: str | None, require_token: bool) -> bool:
    return (not require_token or device.check_token(token)) and not device.revoked and device.supervisor.active


def authenticate(device_id: str | None, token: str | None, *, require_token: bool = True) -> Device:
    """The device a ping claims to come from, or the protocol's refusal (404/401/403).

    The token is checked once per request (a SHA-256 compare), against a cached device when
    this phone authenticated within TRACKING_AUTH_CACHE_S; the pipeline confirms under lock.
    """
    if not device_id:
        raise MissingCredentials("no device id: send the id the device was registered with")
    cached = auth_cache.get(device_id)
    if cached is not None and _accepts(cached, token, require_token):
        cached.verified_hash = cached.token_hash if require_token else None
        return cached
    device = Device.objects.select_related("supervisor").filter(device_id=device_id).first()
    if device is None:
        raise UnknownDevice(f"unknown device {device_id!r}: register it first")
    if require_token:
        if not token:
            raise MissingCredentials(f"device {device_id!r}: a token is required")
        if not device.check_token(token):
            raise BadToken(f"device {device_id!r}: wrong token")
    if device.revoked:
        raise RevokedDevice(f"device {device_id!r} was revoked on {device.revoked_at:%Y-%m-%d %H:%M} UTC")
    if not device.supervisor.active:
        raise RevokedDevice(f"device {device_id!r}: its supervisor is no longer active")
    device.verified_hash = device.token_hash if require_token else None
    auth_cache.put(device)
    return device
