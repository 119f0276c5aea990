"""Open311 GeoReport v2 on top of intake: services from categories, requests from reports.

Our statuses map to the spec's two (open/closed) with `status_notes` saying which of ours it is.
Errors use the spec's shape, `[{"code": 400, "description": "..."}]` (or <errors> in XML), with 400
for bad input (our 422 "outside the city" included: the spec knows only 400), 403 for a bad
api_key and 404 for an unknown service_code or request.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from xml.etree import ElementTree as ET

from django.contrib.gis.geos import Point
from django.db.models import QuerySet
from django.http import QueryDict
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from . import settings as app_settings
from .intake import ReportInput, submit_report
from .models import OPEN_STATUSES, Category, Channel, Open311Client, Report, Status

SPEC_URL = "http://wiki.open311.org/GeoReport_v2"
FORMATS = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}


@dataclass
class Open311Error(Exception):
    """An answer in the spec's error shape: `code` is the HTTP status, `description` its text."""

    code: int
    description: str


# --- rendering -----------------------------------------------------------------------------------


def iso(dt: datetime | None) -> str | None:
    """ISO 8601 with the WIB offset, as the spec asks (timezone always included)."""
    return timezone.localtime(dt).isoformat(timespec="seconds") if dt else None


def _xml_value(parent: ET.Element, key: str, value: object) -> None:
    el = ET.SubElement(parent, key)
    if isinstance(value, bool):
        el.text = "true" if value else "false"
    elif isinstance(value, list):
        singular = {"formats": "format", "values": "value", "attributes": "attribute", "endpoints": "endpoint"}.get(key)
        if singular is None:  # keywords are a comma-separated list in XML
            el.text = ",".join(str(v) for v in value)
        for item in value if singular else []:
            if isinstance(item, dict):
                _xml_dict(ET.SubElement(el, singular), item)
            else:
                ET.SubElement(el, singular).text = str(item)
    elif isinstance(value, dict):
        _xml_dict(el, value)
    elif value is not None:
        el.text = str(value)


def _xml_dict(el: ET.Element, data: dict) -> None:
    for key, value in data.items():
        _xml_value(el, key, value)


def to_xml(root: str, item: str | None, data: list[dict] | dict) -> bytes:
    """<root><item>...</item>...</root> for lists, <root>...</root> for one object."""
    top = ET.Element(root)
    if isinstance(data, list):
        for row in data:
            _xml_dict(ET.SubElement(top, item), row)
    else:
        _xml_dict(top, data)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(top, encoding="utf-8")


def errors_xml(errors: list[dict]) -> bytes:
    """<errors><error><code/><description/></error>...</errors>, the spec's error body in XML."""
    return to_xml("errors", "error", errors)


# --- discovery and services ----------------------------------------------------------------------


def discovery(base_url: str) -> dict:
    """The spec's discovery document: who to contact, how to get a key, the one production endpoint."""
    return {
        "changeset": iso(_last_change()),
        "contact": app_settings.open311_contact(),
        "key_service": app_settings.open311_key_service(),
        "endpoints": [
            {
                "specification": SPEC_URL,
                "url": base_url,
                "changeset": iso(_last_change()),
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }


def _last_change() -> datetime:
    return datetime(2026, 11, 30, tzinfo=timezone.get_fixed_timezone(7 * 60))


def service(category: Category) -> dict:
    """A category as an Open311 service (its code is the service_code)."""
    return {
        "service_code": category.code,
        "service_name": category.name_id,
        "description": f"{category.name_en}. Ditangani / handled by {category.opd.name}.",
        "metadata": bool(category.attributes),
        "type": "realtime",
        "keywords": list(category.keywords),
        "group": category.group,
    }


def services() -> list[dict]:
    """The active categories, as the spec's service list."""
    return [service(c) for c in Category.objects.filter(active=True).select_related("opd")]


def category_for(code: str | None) -> Category:
    """The active category of a service_code; the spec's 404 when there is none."""
    category = Category.objects.select_related("opd").filter(code=code or "", active=True).first()
    if category is None:
        raise Open311Error(404, f"service_code {code!r} not found" if code else "service_code is required")
    return category


def service_definition(code: str) -> dict:
    """The category's extra questions as the spec's attributes (404 when it has none: metadata false)."""
    category = category_for(code)
    if not category.attributes:
        raise Open311Error(404, f"service_code {code!r} has no service definition (metadata is false)")
    attributes = []
    for order, attr in enumerate(category.attributes, start=1):
        row = {
            "variable": True,
            "code": attr["code"],
            "datatype": attr.get("datatype", "string"),
            "required": bool(attr.get("required")),
            "datatype_description": attr.get("datatype_description", ""),
            "order": order,
            "description": attr.get("description", ""),
        }
        if attr.get("values"):
            row["values"] = [{"key": v["key"], "name": v["name"]} for v in attr["values"]]
        attributes.append(row)
    return {"service_code": category.code, "attributes": attributes}


# --- requests ----------------------------------------------------------------------------------------


def authenticate(api_key: str | None) -> Open311Client:
    """The active client with this api_key; the spec's 403 otherwise."""
    client = Open311Client.objects.filter(api_key=api_key or "", active=True).first() if api_key else None
    if client is None:
        raise Open311Error(403, "api_key is missing or not valid")
    return client


def _coordinate(params: Mapping[str, str], name: str, limit: float) -> float | None:
    raw = params.get(name)
    if raw in (None, ""):
        return None
    try:
        value = float(raw)
    except ValueError as exc:
        raise Open311Error(400, f"{name} must be a number, not {raw!r}") from exc
    if not math.isfinite(value) or abs(value) > limit:
        raise Open311Error(400, f"{name} must be a finite number between -{limit:g} and {limit:g}")
    return value


def _attributes(category: Category, params: QueryDict) -> dict:
    answers: dict = {}
    for key in params:
        if key.startswith("attribute[") and "]" in key:
            code = key[len("attribute[") : key.index("]")]
            values = params.getlist(key)
            answers[code] = values if key.endswith("[]") else values[-1]
    defined = {a["code"]: a for a in category.attributes}
    for code, attr in defined.items():
        value = answers.get(code)
        if attr.get("required") and value in (None, "", []):
            raise Open311Error(400, f"attribute[{code}] is required for {category.code}")
        if value in (None, "", []):
            continue
        if attr.get("datatype") == "number":
            try:
                number = float(value)
            except (TypeError, ValueError) as exc:
                raise Open311Error(400, f"attribute[{code}] must be a number") from exc
            if not math.isfinite(number):
                raise Open311Error(400, f"attribute[{code}] must be a finite number")
        if attr.get("values"):
            keys = {v["key"] for v in attr["values"]}
            given = value if isinstance(value, list) else [value]
            wrong = [v for v in given if v not in keys]
            if wrong:
                raise Open311Error(400, f"attribute[{code}] must be one of {sorted(keys)}")
    return {k: v for k, v in answers.items() if k in defined}


def _media_url(raw: str | None) -> list[str]:
    if not raw:
        return []
    if not raw.startswith(("http://", "https://")) or len(raw) > 1000:
        raise Open311Error(400, "media_url must be an http(s) URL")
    return [raw]


def post_request(params: QueryDict, client: Open311Client) -> Report:
    """Make a report from a form-encoded Open311 POST (after `authenticate`)."""
    category = category_for(params.get("service_code"))
    lat, lon = _coordinate(params, "lat", 90), _coordinate(params, "long", 180)
    if (lat is None) != (lon is None):
        raise Open311Error(400, "send both lat and long")
    address = params.get("address_string", "") or ""
    if lat is None:
        raise Open311Error(400, "lat and long are required (address_string alone cannot be placed)")
    name = " ".join(p for p in (params.get("first_name", ""), params.get("last_name", "")) if p).strip()
    result = submit_report(
        ReportInput(
            category=category,
            description=params.get("description", "") or "",
            location=Point(lon, lat, srid=4326),
            address=address,
            channel=Channel.OPEN311,
            attributes=_attributes(category, params),
            reporter_name=name,
            reporter_phone=params.get("phone", "") or "",
            reporter_email=params.get("email", "") or "",
            client_ref=f"open311:{client.pk}",
            media_urls=_media_url(params.get("media_url")),
            actor_label=f"open311 {client.name}",
        )
    )
    return result.report


def request_row(report: Report) -> dict:
    """A report as the spec's service request (open/closed, with our status in status_notes)."""
    media = next((m for m in report.media.all()), None)
    media_url = (media.url or (media.file.url if media.file else "")) if media else ""
    expected = None
    if report.is_open:
        expected = report.created_at + timedelta(minutes=report.category.target_resolve_minutes)
    return {
        "service_request_id": report.public_id,
        "status": "open" if report.status in OPEN_STATUSES else "closed",
        "status_notes": status_notes(report),
        "service_name": report.category.name_id,
        "service_code": report.category.code,
        "description": report.description,
        "agency_responsible": report.opd.full_name or report.opd.name,
        "service_notice": "",
        "requested_datetime": iso(report.created_at),
        "updated_datetime": iso(report.updated_at),
        "expected_datetime": iso(expected),
        "address": report.address,
        "address_id": "",
        "zipcode": "",
        "lat": report.location.y,
        "long": report.location.x,
        "media_url": media_url,
    }


def status_notes(report: Report) -> str:
    """Our status and its label (with the original or the referral), then the latest public note."""
    note = report.events.filter(public=True).exclude(note="").values_list("note", flat=True).last()
    label = f"{report.status}: {report.get_status_display()}"
    if report.status == Status.DUPLICATE and report.duplicate_of_id:
        label += f" ({report.duplicate_of.public_id})"
    if report.status == Status.REFERRED and report.referred_to:
        label += f" ({report.referred_to})"
    return f"{label}. {note}" if note else label


def _date_param(params: Mapping[str, str], name: str) -> datetime | None:
    raw = params.get(name)
    if not raw:
        return None
    value = parse_datetime(raw.replace(" ", "+"))  # a '+' offset often arrives as a space
    if value is None:
        raise Open311Error(400, f"{name} must be a W3C/ISO 8601 date-time with timezone, not {raw!r}")
    if timezone.is_naive(value):
        raise Open311Error(400, f"{name} must include a timezone (Z or +07:00)")
    return value


def find_requests(params: Mapping[str, str]) -> QuerySet[Report]:
    """GET requests: by id (ignores other filters), else by service_code/status/dates in the default window."""
    qs = Report.objects.select_related("category", "opd", "duplicate_of").prefetch_related("media")
    ids = [i.strip() for i in (params.get("service_request_id") or "").split(",") if i.strip()]
    if ids:
        return qs.filter(public_id__in=ids)
    start, end = _date_param(params, "start_date"), _date_param(params, "end_date")
    if start and end and start > end:
        raise Open311Error(400, "start_date is after end_date")
    if start is None and end is None:
        start = timezone.now() - timedelta(days=app_settings.open311_default_days())
    if start:
        qs = qs.filter(created_at__gte=start)
    if end:
        qs = qs.filter(created_at__lte=end)
    codes = [c.strip() for c in (params.get("service_code") or "").split(",") if c.strip()]
    if codes:
        qs = qs.filter(category__code__in=codes)
    status = (params.get("status") or "").strip().lower()
    if status:
        wanted = {s.strip() for s in status.split(",")}
        if not wanted <= {"open", "closed"}:
            raise Open311Error(400, "status must be open or closed")
        if wanted == {"open"}:
            qs = qs.filter(status__in=OPEN_STATUSES)
        elif wanted == {"closed"}:
            qs = qs.exclude(status__in=OPEN_STATUSES)
    return qs.order_by("-created_at")[: app_settings.open311_max_requests()]
