"""Device authentication: who a ping claims to come from, checked against the device's token.

The credentials come from HTTP headers (`basic_auth`, `bearer_token`) or from the protocol (an
OsmAnd `?token=`); `authenticate` answers the device or the refusal (404 unknown, 401 missing or
wrong token, 403 revoked); `session_device` is the field app's browser, vouched for by the
supervisor's session instead of a token. The pipeline checks the device again under its lock (ingest/lock.py),
so a device cached here as accepted is refused at once when it is revoked elsewhere.
"""

from __future__ import annotations

import base64
import binascii
import threading
import time

from django.utils.translation import gettext
from rest_framework import status

from core.roles import SUPERVISOR, has_role

from . import settings as ts
from .errors import MalformedPing, TrackingError
from .models import Device, Supervisor


class MissingCredentials(TrackingError):
    status_code = status.HTTP_401_UNAUTHORIZED


class BadToken(TrackingError):
    status_code = status.HTTP_401_UNAUTHORIZED


class RevokedDevice(TrackingError):
    status_code = status.HTTP_403_FORBIDDEN


class UnknownDevice(TrackingError):
    status_code = status.HTTP_404_NOT_FOUND


def basic_auth(request) -> tuple[str | None, str | None]:
    """(user, password) of a Basic Authorization header, (None, None) without one."""
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


class AuthCache:
    """Devices that authenticated recently, per process, so a phone's next ping skips the lookup.

    Only ever used to *accept*: a refusal is decided on a fresh read. It is safe because the
    pipeline re-reads the device row under its lock in the same transaction as the write
    (revocation, token change, inactive supervisor), so a revoked phone is refused at once;
    saves and deletes of devices and supervisors in this process also clear it (apps.py).
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
        """A receiver of post_save/post_delete: forget that device (any other instance: all)."""
        with self._lock:
            if isinstance(instance, Device):
                self._devices.pop(instance.device_id, None)
            else:
                self._devices.clear()


auth_cache = AuthCache()


def _accepts(device: Device, token: str | None, require_token: bool) -> bool:
    return (not require_token or device.check_token(token)) and not device.revoked and device.supervisor.active


def authenticate(device_id: str | None, token: str | None, *, require_token: bool = True) -> Device:
    """The device a ping claims to come from, or the protocol's refusal (404/401/403).

    The token is checked once per request (a SHA-256 compare), against a cached device when
    this phone authenticated within TRACKING_AUTH_CACHE_S; the pipeline confirms under lock:
    `verified_hash` is the token hash checked here, compared with the row read under the lock.
    """
    if not device_id:
        raise MissingCredentials("no device id: send the id the device was registered with")
    _require_text(device_id, "device_id")
    _require_text(token, "token")
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


def _require_text(value: str | None, field: str) -> None:
    """A lone UTF-16 surrogate (JSON's "\\ud800") is no text the database can compare: bad input (400)."""
    if value is None:
        return
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedPing(f"{field} is not valid text (it holds a lone UTF-16 surrogate)", field=field) from None


def session_device(user) -> Device | None:
    """The signed-in supervisor's browser as a device (`web-<supervisor id>`, made on first use), or None
    when the user is not an active supervisor. The browser needs no token: the session vouches for it."""
    if not (has_role(user, SUPERVISOR) or user.is_superuser):
        return None
    sup = Supervisor.objects.filter(user=user, active=True).first()
    if sup is None:
        return None
    device, _created = Device.objects.select_related("supervisor").get_or_create(
        device_id=f"web-{sup.pk}", defaults={"supervisor": sup, "label": "field web app"}
    )
    if device.supervisor_id != sup.pk or device.revoked:
        raise RevokedDevice(gettext("This phone's access was revoked; ask the LIVE Room."))
    return device
