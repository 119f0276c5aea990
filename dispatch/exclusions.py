"""Why a supervisor was not chosen: a reason code with its facts as data, turned into text only where people read it.

The dispatcher decides on `Excluded(reason, detail)` and never on text. A decision stores each
candidate's exclusion in its candidates JSON as `"excluded": <the code>` with
`"excluded_detail": {...}`; a suggestion outside the rule carries `"outside_rule"` and
`"outside_rule_detail"` the same way. `describe` renders one in the active language (gettext,
Indonesian in locale/id): the API adds it as `excluded_text` / `outside_rule_text` (`with_text`),
the console shows it to operators.

A stored value that is not a code is an English sentence (how older decisions hold the reason):
`read` hands it back as the string it is, and `describe` shows it unchanged. No migration is
needed, and no row breaks a reader.

`Decision.reason` and `DispatchState.reason` are English sentences kept for the audit trail:
`summary_label` and `describe(..., translate=False)` give the English for them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext, gettext_noop


class Exclusion(enum.StrEnum):
    """Why a supervisor is not offered the report (or is only a suggestion outside the rule)."""

    OFF_SHIFT = "off_shift"  # tracking's presence states, with tracking's reason as detail
    OFFLINE = "offline"
    STALE = "stale"
    OUT_OF_AREA = "out_of_area"
    NOT_ON_DUTY = "not_on_duty"  # a presence state without a code of its own here
    MOCK_LOCATION = "mock_location"
    DECLINED = "declined"  # this report, before
    EXPIRED = "expired"  # did not acknowledge this report in time, before
    TAKEN_OFF = "taken_off"  # taken off this report by an operator
    AT_CAP = "at_cap"
    AT_CAP_WHEN_OFFERED = "at_cap_when_offered"  # the cap checked again under the row lock
    NO_POSITION = "no_position"  # assigned to the kecamatan, never sent a fix
    OUTSIDE_KECAMATAN = "outside_kecamatan"  # assigned to the kecamatan, latest position elsewhere
    OTHER_KECAMATAN = "other_kecamatan"  # a suggestion: on duty in another kecamatan


@dataclass(frozen=True)
class Excluded:
    reason: Exclusion
    detail: dict[str, Any] = field(default_factory=dict)


# --- the facts, as the dispatcher finds them -------------------------------------------------------
_PRESENCE = {str(x): x for x in (Exclusion.OFF_SHIFT, Exclusion.OFFLINE, Exclusion.STALE, Exclusion.OUT_OF_AREA)}


def not_on_duty(state: str, presence_reason: str) -> Excluded:
    """Tracking's presence says this supervisor is not on duty (its reason a person can check)."""
    reason = _PRESENCE.get(state)
    if reason is None:
        return Excluded(Exclusion.NOT_ON_DUTY, {"state": state, "presence_reason": presence_reason})
    return Excluded(reason, {"presence_reason": presence_reason})


def mock_location(since: datetime) -> Excluded:
    return Excluded(Exclusion.MOCK_LOCATION, {"since": since.isoformat()})


def tried(reason: Exclusion, at: datetime | None = None) -> Excluded:
    """This report went to the supervisor before and came back (declined, expired, taken off), at `at`."""
    return Excluded(reason, {"at": at.isoformat()} if at is not None else {})


def at_cap(workload: int, cap: int, *, when_offered: bool = False) -> Excluded:
    reason = Exclusion.AT_CAP_WHEN_OFFERED if when_offered else Exclusion.AT_CAP
    return Excluded(reason, {"workload": workload, "cap": cap})


def no_position() -> Excluded:
    return Excluded(Exclusion.NO_POSITION)


def outside_kecamatan(kecamatan_name: str, position_kecamatan_code: str) -> Excluded:
    """Assigned here, latest position in another kecamatan (code) or outside the city ("")."""
    return Excluded(Exclusion.OUTSIDE_KECAMATAN, {"kecamatan": kecamatan_name, "where": position_kecamatan_code})


def other_kecamatan(kecamatan_code: str) -> Excluded:
    return Excluded(Exclusion.OTHER_KECAMATAN, {"where": kecamatan_code})


# --- stored form ----------------------------------------------------------------------------------
def stored(excluded: Excluded | None) -> tuple[str | None, dict[str, Any]]:
    """(code, detail) as the candidates JSON keeps them; (None, {}) for an eligible candidate."""
    if excluded is None:
        return None, {}
    return excluded.reason.value, dict(excluded.detail)


def read(value: str | None, detail: Mapping[str, Any] | None = None) -> Excluded | str | None:
    """A stored exclusion back: an `Excluded` for a code, the text itself for a sentence of an older decision."""
    if not value:
        return None
    try:
        reason = Exclusion(value)
    except ValueError:
        return value
    return Excluded(reason, dict(detail or {}))


def excluded_of(row: Mapping[str, Any]) -> Excluded | str | None:
    """A stored candidate's exclusion."""
    return read(row.get("excluded"), row.get("excluded_detail"))


def outside_rule_of(row: Mapping[str, Any]) -> Excluded | str | None:
    """Why a stored suggestion is outside the rule."""
    return read(row.get("outside_rule"), row.get("outside_rule_detail"))


# --- text, at the edge -------------------------------------------------------------------------------
_TEXT = {
    Exclusion.OFF_SHIFT: gettext_noop("off shift: %(presence_reason)s"),
    Exclusion.OFFLINE: gettext_noop("offline: %(presence_reason)s"),
    Exclusion.STALE: gettext_noop("stale position: %(presence_reason)s"),
    Exclusion.OUT_OF_AREA: gettext_noop("outside own assigned area: %(presence_reason)s"),
    Exclusion.NOT_ON_DUTY: gettext_noop("%(state)s: %(presence_reason)s"),
    Exclusion.MOCK_LOCATION: gettext_noop("phone sending mock locations since %(since)s"),
    Exclusion.DECLINED: gettext_noop("declined this report"),
    Exclusion.EXPIRED: gettext_noop("did not acknowledge this report in time"),
    Exclusion.TAKEN_OFF: gettext_noop("taken off this report by an operator"),
    Exclusion.AT_CAP: gettext_noop("at the cap: %(workload)s open orders (max %(cap)s)"),
    Exclusion.AT_CAP_WHEN_OFFERED: gettext_noop("at the cap when offered: %(workload)s open orders (max %(cap)s)"),
    Exclusion.NO_POSITION: gettext_noop("no position received yet"),
    Exclusion.OUTSIDE_KECAMATAN: gettext_noop("latest position is outside kecamatan %(kecamatan)s (%(where)s)"),
    Exclusion.OTHER_KECAMATAN: gettext_noop("in another kecamatan (%(where)s)"),
}
_TEXT_AT = {  # the same, when the detail has the time it happened
    Exclusion.DECLINED: gettext_noop("declined this report at %(at)s"),
    Exclusion.EXPIRED: gettext_noop("did not acknowledge this report in time at %(at)s"),
    Exclusion.TAKEN_OFF: gettext_noop("taken off this report by an operator at %(at)s"),
}
_OUTSIDE_THE_CITY = gettext_noop("outside the city")

# English, for the counts in a decision's stored reason ("... can take it (2 stale position, 1 at the cap)")
_SUMMARY = {
    Exclusion.OFF_SHIFT: "off shift",
    Exclusion.OFFLINE: "offline",
    Exclusion.STALE: "stale position",
    Exclusion.OUT_OF_AREA: "outside own assigned area",
    Exclusion.MOCK_LOCATION: "phone sending mock locations",
    Exclusion.DECLINED: "declined this report",
    Exclusion.EXPIRED: "did not acknowledge this report in time",
    Exclusion.TAKEN_OFF: "taken off this report by an operator",
    Exclusion.AT_CAP: "at the cap",
    Exclusion.AT_CAP_WHEN_OFFERED: "at the cap when offered",
    Exclusion.NO_POSITION: "no position received yet",
    Exclusion.OUTSIDE_KECAMATAN: "latest position is outside the kecamatan",
    Exclusion.OTHER_KECAMATAN: "in another kecamatan",
}


def summary_label(excluded: Excluded) -> str:
    """A short English label of the reason, the same for every candidate excluded for it."""
    if excluded.reason == Exclusion.NOT_ON_DUTY:
        return str(excluded.detail.get("state", "not on duty"))
    return _SUMMARY[excluded.reason]


def _clock(value: Any) -> str:
    """HH:MM in the current time zone (WIB) of a stored ISO time."""
    when = parse_datetime(value) if isinstance(value, str) else None
    return f"{timezone.localtime(when):%H:%M}" if when is not None else "?"


def describe(excluded: Excluded | str | None, *, translate: bool = True) -> str:
    """The exclusion as a sentence, in the active language ("" for none; an older decision's text as stored)."""
    if excluded is None:
        return ""
    if isinstance(excluded, str):
        return excluded
    tr = gettext if translate else str
    detail = excluded.detail
    template = _TEXT_AT.get(excluded.reason) if "at" in detail else None
    params: dict[str, Any] = {
        "presence_reason": detail.get("presence_reason", ""),
        "state": detail.get("state", ""),
        "workload": detail.get("workload", "?"),
        "cap": detail.get("cap", "?"),
        "kecamatan": detail.get("kecamatan", "?"),
        "where": detail.get("where") or tr(_OUTSIDE_THE_CITY),
        "at": _clock(detail.get("at")),
        "since": _clock(detail.get("since")),
    }
    return tr(template or _TEXT[excluded.reason]) % params


def with_text(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored candidate or suggestion with its reasons rendered: `excluded_text`, `outside_rule_text`."""
    out = dict(row)
    if "excluded" in row:
        out["excluded_text"] = describe(excluded_of(row)) or None
    if "outside_rule" in row:
        out["outside_rule_text"] = describe(outside_rule_of(row)) or None
    return out
