"""Maternity room booking (kamar bersalin): the nearest facility with a free room, held until an operator decides.

A report of a maternity category (DISPATCH_MATERNITY_CATEGORIES) is routed to Dinkes like any
other; besides that, the nearest active facility with a free maternity room (geodesic metres,
KNN on the facility GiST index) is proposed and one room is held there: `free_rooms` drops by
one in an atomic conditional UPDATE, so two reports can never take the same last room. The
operator confirms (the report is dispatched to that facility) or releases (the room is given
back and the next nearest facility, not yet tried for this report, can be proposed).
"""

from __future__ import annotations

from django.contrib.gis.geos import Point
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from incidents import lifecycle
from incidents.models import EventKind, Report, ReportEvent, Status

from . import settings as ds
from .errors import BookingError, NoFreeRoom, RoomInputError
from .models import Facility, RoomHold
from .state import move_report


def is_maternity(report: Report) -> bool:
    return report.category.code in ds.maternity_categories()


def nearest_with_free_room(point: Point, exclude: list[int] | None = None, limit: int = 5) -> list[tuple[int, float]]:
    """(facility id, geodesic metres) of active facilities with a free room, nearest first."""
    sql = (
        "SELECT id, ST_Distance(location::geography, p.pt::geography) FROM dispatch_facility, "
        "(SELECT ST_SetSRID(ST_MakePoint(%s, %s), 4326) AS pt) p "
        "WHERE active AND free_rooms > 0 AND NOT (id = ANY(%s)) ORDER BY location <-> p.pt LIMIT %s"
    )
    with connection.cursor() as cur:
        cur.execute(sql, [point.x, point.y, list(exclude or []), limit * 4])
        rows = [(fid, float(d)) for fid, d in cur.fetchall()]
    return sorted(rows, key=lambda r: (r[1], r[0]))[:limit]


def propose(report: Report | int, *, actor: str = "dispatcher") -> RoomHold:
    """Hold a room at the nearest facility with one free (skipping facilities already released for it)."""
    with transaction.atomic():
        pk = report.pk if isinstance(report, Report) else report
        report = Report.objects.select_for_update().get(pk=pk)
        active = RoomHold.objects.filter(report=report, state__in=[RoomHold.State.HELD, RoomHold.State.CONFIRMED])
        if existing := active.select_related("facility").first():
            return existing
        if not report.is_open:
            raise BookingError(f"Report {report.public_id} is {report.status}; no room is booked for it.")
        tried = list(RoomHold.objects.filter(report=report).values_list("facility_id", flat=True))
        for facility_id, distance in nearest_with_free_room(report.location, exclude=tried):
            taken = Facility.objects.filter(pk=facility_id, free_rooms__gt=0).update(free_rooms=F("free_rooms") - 1)
            if not taken:  # the last room went to someone else a moment ago: try the next
                continue
            hold = RoomHold.objects.create(facility_id=facility_id, report=report, distance_m=distance)
            ReportEvent.objects.create(
                report=report,
                kind=EventKind.NOTE,
                actor_label=actor,
                note=f"kamar bersalin ditahan di {hold.facility.name} ({distance / 1000:.1f} km)",
                public=False,
                data={"room_hold": hold.pk, "facility": hold.facility.code},
            )
            return hold
        raise NoFreeRoom(
            "No facility has a free maternity room now"
            + (" (besides those already released for this report)" if tried else "")
            + "; Dinkes is notified."
        )


def _locked_hold(hold_id: int) -> RoomHold:
    hold = RoomHold.objects.select_for_update().select_related("facility", "report").filter(pk=hold_id).first()
    if hold is None:
        raise RoomInputError(f"No room hold {hold_id}.")
    return hold


def confirm(hold_id: int, *, actor: str) -> RoomHold:
    """The operator confirms the booking: the room stays taken and the report is dispatched to the facility."""
    with transaction.atomic():
        hold = _locked_hold(hold_id)
        if hold.state == RoomHold.State.CONFIRMED:
            return hold
        if hold.state != RoomHold.State.HELD:
            raise BookingError(f"The hold at {hold.facility.name} was {hold.state}; propose again.")
        hold.state, hold.decided_at, hold.decided_by = RoomHold.State.CONFIRMED, timezone.now(), actor
        hold.save(update_fields=["state", "decided_at", "decided_by"])
        if hold.report.status in (Status.ROUTED, Status.AWAITING_SUPERVISOR, Status.REOPENED):
            move_report(
                hold.report,
                Status.DISPATCHED,
                actor_label=actor,
                note=f"kamar bersalin dipesan di {hold.facility.name}",
                data={"room_hold": hold.pk, "facility": hold.facility.code},
            )
        else:
            lifecycle.add_note(
                hold.report, f"kamar bersalin dipesan di {hold.facility.name}", actor_label=actor, public=True
            )
    return hold


def release(hold_id: int, *, actor: str, note: str = "") -> RoomHold:
    """Give the room back (the family chose elsewhere, the operator wants another facility)."""
    with transaction.atomic():
        hold = _locked_hold(hold_id)
        if hold.state == RoomHold.State.RELEASED:
            return hold
        Facility.objects.filter(pk=hold.facility_id, free_rooms__lt=F("maternity_rooms")).update(
            free_rooms=F("free_rooms") + 1
        )
        hold.state, hold.decided_at, hold.decided_by, hold.note = RoomHold.State.RELEASED, timezone.now(), actor, note
        hold.save(update_fields=["state", "decided_at", "decided_by", "note"])
        ReportEvent.objects.create(
            report=hold.report,
            kind=EventKind.NOTE,
            actor_label=actor,
            note=f"kamar di {hold.facility.name} dilepas" + (f": {note}" if note else ""),
            public=False,
            data={"room_hold": hold.pk},
        )
    return hold


def set_free_rooms(facility: Facility, free_rooms: int, *, actor: str, maternity_rooms: int | None = None) -> Facility:
    """Facility staff report how many rooms are free now (rooms held by the LIVE Room are already taken off)."""
    total = facility.maternity_rooms if maternity_rooms is None else maternity_rooms
    if total < 0 or free_rooms < 0:
        raise RoomInputError("Room counts cannot be negative.", field="free_rooms")
    if free_rooms > total:
        raise RoomInputError(f"{free_rooms} free rooms but only {total} maternity rooms.", field="free_rooms")
    Facility.objects.filter(pk=facility.pk).update(
        free_rooms=free_rooms, maternity_rooms=total, rooms_updated_at=timezone.now(), rooms_updated_by=actor[:120]
    )
    facility.refresh_from_db()
    return facility
