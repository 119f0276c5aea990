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
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from rest_framework import status

from geoapp.api import DomainError

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
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
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
    except (TypeError, ValueError) as exc:
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
def decode_native(body: Any) -> tuple[str | None, list[Fix | Problem]]:
    """`{"device_id"?, "pings": [...]}`, a bare list, or one ping object. Returns (device_id, items)."""
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

    def one(i: int, p: Any) -> Fix | Problem:
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

    return (str(device_id) if device_id not in (None, "") else None), [one(i, p) for i, p in enumerate(pings)]


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
    if not isinstance(body, dict) or "_type" not in body:
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
    header = request.headers.get("Authorization", "")
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
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


def authenticate(device_id: str | None, token: str | None, *, require_token: bool = True) -> Device:
    """The device a ping claims to come from, or the protocol's refusal (404/401/403)."""
    if not device_id:
        raise MissingCredentials("no device id: send the id the device was registered with")
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
    return device
