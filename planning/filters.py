"""The planners' question, parsed once: a period of whole days (WIB) and optional filters.

The web page, the API and `export_heatmap` all hand their raw values to `parse_filters`, so a bad
period or an unknown category is refused with the same message everywhere (a 400 or a
CommandError). Dates are inclusive: `from=2024-01-01 to=2024-12-31` is the whole of 2024, from
00:00 WIB on 1 January to 00:00 WIB on 1 January 2025 (exclusive).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.utils import timezone

from core.api import DomainError
from incidents.models import OPD, Category, Channel, Status
from kecamatan_boundaries.models import Kecamatan

from . import settings as app_settings


class PlanningError(DomainError):
    """A planning request that cannot be answered as asked (400)."""


class BadPeriod(PlanningError):
    pass


class UnknownFilterValue(PlanningError):
    def __init__(self, name: str, values: list[str], hint: str):
        shown = ", ".join(repr(v) for v in values)
        super().__init__(f"Unknown {name} {shown}; {hint}.", field=name)


FILTER_KEYS = ("category", "opd", "status", "channel", "kecamatan")


@dataclass(frozen=True)
class ReportFilter:
    """Which reports a statistic covers. Lists are empty when not filtered."""

    date_from: date
    date_to: date  # inclusive
    categories: tuple[str, ...] = ()
    opds: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    kecamatan: tuple[str, ...] = ()  # codes; every generation with the code matches
    category_ids: tuple[int, ...] = field(default=(), compare=False)
    opd_ids: tuple[int, ...] = field(default=(), compare=False)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(app_settings.timezone_name())

    @property
    def start(self) -> datetime:
        return datetime.combine(self.date_from, time.min, tzinfo=self.tz)

    @property
    def end(self) -> datetime:
        """Exclusive end: midnight WIB after `date_to`."""
        return datetime.combine(self.date_to + timedelta(days=1), time.min, tzinfo=self.tz)

    @property
    def days(self) -> int:
        return (self.date_to - self.date_from).days + 1

    @property
    def previous_from(self) -> date:
        """First day of the previous period of the same length (it ends the day before `date_from`)."""
        return self.date_from - timedelta(days=self.days)

    @property
    def previous_start(self) -> datetime:
        return datetime.combine(self.previous_from, time.min, tzinfo=self.tz)

    def query_params(self) -> dict[str, str]:
        """The filter as query parameters (for links to the map and the downloads)."""
        params = {"from": self.date_from.isoformat(), "to": self.date_to.isoformat()}
        for key, values in (
            ("category", self.categories),
            ("opd", self.opds),
            ("status", self.statuses),
            ("channel", self.channels),
            ("kecamatan", self.kecamatan),
        ):
            if values:
                params[key] = ",".join(values)
        return params

    def querystring(self) -> str:
        return urlencode(self.query_params())

    def describe(self) -> str:
        """One line for map titles and file metadata."""
        parts = [f"{self.date_from:%d %b %Y} – {self.date_to:%d %b %Y}"]
        for label, values in (
            ("kategori", self.categories),
            ("OPD", self.opds),
            ("status", self.statuses),
            ("kanal", self.channels),
            ("kecamatan", self.kecamatan),
        ):
            if values:
                parts.append(f"{label}: {', '.join(values)}")
        return " · ".join(parts)

    def slug(self) -> str:
        """A file-name friendly summary, e.g. 2024-01-01_2024-12-31_banjir."""
        parts = [self.date_from.isoformat(), self.date_to.isoformat(), *self.categories, *self.opds]
        return "_".join(parts)


def _values(params: Mapping, key: str) -> list[str]:
    """Repeated keys and comma-separated values both work: ?category=a&category=b or ?category=a,b."""
    if hasattr(params, "getlist"):
        raw = params.getlist(key)
    else:
        raw = params.get(key)
        if raw is None:
            raw = []
        elif isinstance(raw, str):
            raw = [raw]
    out: list[str] = []
    for item in raw:
        if item is None:
            continue
        for part in str(item).split(","):
            part = part.strip()
            if part and part not in out:
                out.append(part)
    return out


def _one(params: Mapping, key: str) -> str:
    values = _values(params, key)
    if len(values) > 1:
        raise BadPeriod(f"Give one `{key}` date, not {len(values)}.", field=key)
    return values[0] if values else ""


def _date(value: str, key: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadPeriod(f"`{key}` must be a date like 2024-01-31, not {value!r}.", field=key) from None


def parse_period(date_from: str, date_to: str) -> tuple[date, date]:
    """Both dates, or the last PLANNING_DEFAULT_DAYS days up to today (WIB) when both are empty."""
    today = timezone.localdate()
    if not date_from and not date_to:
        return today - timedelta(days=app_settings.default_days() - 1), today
    if not date_from:
        raise BadPeriod("`from` is missing: give the first day of the period, e.g. from=2024-01-01.", field="from")
    if not date_to:
        raise BadPeriod("`to` is missing: give the last day of the period, e.g. to=2024-12-31.", field="to")
    start, end = _date(date_from, "from"), _date(date_to, "to")
    if end < start:
        raise BadPeriod(f"The period ends ({end}) before it starts ({start}).", field="to")
    days = (end - start).days + 1
    if days > app_settings.max_days():
        raise BadPeriod(f"The period has {days} days; at most {app_settings.max_days()} are allowed.", field="to")
    return start, end


def parse_filters(params: Mapping) -> ReportFilter:
    """Validate raw values (a QueryDict, a dict of strings or lists) into a ReportFilter."""
    date_from, date_to = parse_period(_one(params, "from"), _one(params, "to"))

    categories = _values(params, "category")
    found_categories = {c.code: c.id for c in Category.objects.filter(code__in=categories)}
    missing = [c for c in categories if c not in found_categories]
    if missing:
        raise UnknownFilterValue("category", missing, "use category codes from GET /api/categories/")

    opds = [o.lower() for o in _values(params, "opd")]
    found_opds = {o.code: o.id for o in OPD.objects.filter(code__in=opds)}
    missing = [o for o in opds if o not in found_opds]
    if missing:
        known = ", ".join(OPD.objects.order_by("code").values_list("code", flat=True))
        raise UnknownFilterValue("opd", missing, f"known OPD codes: {known}")

    statuses = _values(params, "status")
    missing = [s for s in statuses if s not in Status.values]
    if missing:
        raise UnknownFilterValue("status", missing, f"known statuses: {', '.join(Status.values)}")

    channels = _values(params, "channel")
    missing = [c for c in channels if c not in Channel.values]
    if missing:
        raise UnknownFilterValue("channel", missing, f"known channels: {', '.join(Channel.values)}")

    kecamatan_codes: list[str] = []
    wanted = _values(params, "kecamatan")
    missing = []
    for value in wanted:
        code = Kecamatan.objects.named(value).values_list("code", flat=True).first()
        if code is None:
            missing.append(value)
        elif code not in kecamatan_codes:
            kecamatan_codes.append(code)
    if missing:
        raise UnknownFilterValue("kecamatan", missing, "use a kecamatan code (e.g. 36.71.01) or name")

    return ReportFilter(
        date_from=date_from,
        date_to=date_to,
        categories=tuple(categories),
        opds=tuple(opds),
        statuses=tuple(statuses),
        channels=tuple(channels),
        kecamatan=tuple(kecamatan_codes),
        category_ids=tuple(found_categories[c] for c in categories),
        opd_ids=tuple(found_opds[o] for o in opds),
    )
