"""OsmAnd protocol: OsmAnd's online tracking and Traccar Client, at /tracking/osmand/.

Three shapes reach the one endpoint, one position each (Traccar Client 9 may send a list):
- query string, GET or POST with an empty body (Traccar Client <= 8):
  `?id=<device>&timestamp=<epoch s>&lat=..&lon=..&speed=<knots>&bearing=..&altitude=..&accuracy=..&batt=..`
- the same as a form body, or OsmAnd's URL template (`timestamp` in milliseconds, `hdop` for accuracy);
- Traccar Client 9's JSON body (transistorsoft): `{"location": {"coords": {...}, "battery": {...}},
  "device_id": ...}`, -1 for an unknown speed or heading, battery level 0-1.
The token comes in the server URL (`?token=`), or as Bearer/Basic (views.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..fixes import Fix, Problem
from .fields import fix_or_problem, flag, number, parse_time

KNOT_MS = 0.514444  # m/s per knot


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

    return (str(device_id) if device_id else None), [fix_or_problem(0, build)]


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

        return fix_or_problem(i, build)

    return (str(device_id) if device_id else None), [one(i, loc) for i, loc in enumerate(locations)]
