"""OwnTracks in HTTP mode, at /tracking/owntracks/: one JSON message per request.

`_type` "location" (and "transition", entering or leaving a region) carries a fix; any other type
(lwt, waypoint, card ...) is answered 200 and stores nothing. The device is named by the
X-Limit-D header (or `?d=`), else the user; the token is Basic auth's password. Speed `vel` is km/h.
"""

from __future__ import annotations

from typing import Any

from ..auth import basic_auth
from ..errors import MalformedPing
from ..fixes import Fix, Problem
from .fields import fix_or_problem, flag, number, parse_time

KMH_MS = 1 / 3.6  # m/s per km/h
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

    return [fix_or_problem(0, build)]


def owntracks_identity(request) -> tuple[str | None, str | None]:
    """(device id, token): device from X-Limit-D / ?d= (else the user), token = Basic password."""
    user, password = basic_auth(request)
    user = request.headers.get("X-Limit-U") or request.GET.get("u") or user
    device = request.headers.get("X-Limit-D") or request.GET.get("d")
    return (device or user), password
